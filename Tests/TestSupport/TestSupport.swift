import Foundation
import Base
import CSystem
@_exported import QMISim

/// Helpers shared by the test targets: subprocesses, network namespaces, built products.

/// Runs a program, returning its exit status and combined output.
@discardableResult
public func shell(_ args: [String], timeout: TimeInterval = 30) -> (status: Int32, output: String) {
    Subprocess.run(args, timeoutMs: Int64(timeout * 1000))
}

public var isRoot: Bool { getuid() == 0 }

public func which(_ tool: String) -> Bool { shell(["sh", "-c", "command -v \(tool)"]).status == 0 }

/// A network namespace made for one test; `enter` moves the calling thread into it.
public final class TestNamespace {
    public let name: String
    private var saved: Int32 = -1

    public init(_ prefix: String) throws {
        name = "\(prefix)-\(getpid())-\(Int.random(in: 1000...9999))"
        let r = shell(["ip", "netns", "add", name])
        guard r.status == 0 else { throw NSError(domain: "netns", code: 1, userInfo: [NSLocalizedDescriptionKey: r.output]) }
        shell(["ip", "-n", name, "link", "set", "lo", "up"])
    }

    deinit { shell(["ip", "netns", "del", name]) }

    /// Runs `body` with the calling thread inside the namespace (sockets and links created
    /// meanwhile belong to it).
    public func inside<T>(_ body: () throws -> T) rethrows -> T {
        let me = open("/proc/thread-self/ns/net", O_RDONLY)
        let target = open("/run/netns/\(name)", O_RDONLY)
        precondition(me >= 0 && target >= 0)
        precondition(csys_setns_net(target) == 0)
        defer {
            _ = csys_setns_net(me)
            close(me)
            close(target)
        }
        return try body()
    }
}

/// A flag shared with a helper thread.
public final class Flag: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var v = false
    public var value: Bool {
        get { lock.lock(); defer { lock.unlock() }; return v }
        set { lock.lock(); v = newValue; lock.unlock() }
    }
}

/// A product built next to the test bundle (swift build --build-tests builds them all).
public func productPath(_ name: String) -> String {
    let bundle = Bundle(for: Flag.self).bundleURL
    for dir in [bundle, bundle.deletingLastPathComponent()] {
        let p = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return bundle.appendingPathComponent(name).path

}

/// The address/route state of a namespace as `ip -j` reports it (parsed, not scraped).
public func ipJSON(_ ns: String, _ args: [String]) -> [[String: Any]] {
    let r = shell(["ip", "-n", ns, "-j"] + args)
    guard r.status == 0, let data = r.output.data(using: .utf8),
          let v = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
    return v
}

/// "addr/prefix" strings of an interface, from `ip -j addr`.
public func ipAddresses(_ ns: String, _ dev: String) -> [String] {
    ipJSON(ns, ["addr", "show", "dev", dev]).flatMap { link -> [String] in
        ((link["addr_info"] as? [[String: Any]]) ?? []).compactMap { a in
            guard let l = a["local"] as? String, let p = a["prefixlen"] as? Int, (a["scope"] as? String) != "link" else { return nil }
            return "\(l)/\(p)"
        }
    }
}

/// Default routes of a family ("-4" / "-6") as "dev via metric" strings, from `ip -j route`.
public func ipDefaultRoutes(_ ns: String, _ family: String) -> [String] {
    shell(["ip", "-n", ns, "-j", family, "route", "show", "default"]).output.data(using: .utf8)
        .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [[String: Any]] }?
        .map { r in "\(r["dev"] ?? "?") via \(r["gateway"] ?? "-") metric \(r["metric"] ?? 0)" } ?? []
}

/// Two network namespaces joined by a veth pair; dnsmasq serves on the far side. The
/// client runs on a real AF_PACKET socket in the near namespace.
public final class DHCPLab {
    public let server: TestNamespace
    public let client: TestNamespace
    public let leaseFile: String
    var dnsmasq: pid_t?

    /// `usb0` in the client namespace; `srv0` (10.77.0.1/24, dnsmasq unless `dnsmasq` is
    /// false) in the server namespace.
    public init(extra: [String] = [], dnsmasq: Bool = true) throws {
        server = try TestNamespace("qcm-dhcps")
        client = try TestNamespace("qcm-dhcpc")
        leaseFile = NSTemporaryDirectory() + "qcm-dnsmasq-\(UUID().uuidString).leases"
        try check(shell(["ip", "-n", client.name, "link", "add", "usb0", "type", "veth", "peer", "name", "srv0", "netns", server.name]).status)
        try check(shell(["ip", "-n", server.name, "addr", "add", "10.77.0.1/24", "dev", "srv0"]).status)
        try check(shell(["ip", "-n", server.name, "link", "set", "srv0", "up"]).status)
        try check(shell(["ip", "-n", client.name, "link", "set", "usb0", "up"]).status)
        if dnsmasq { try startServer(extra) }
    }

    public func startServer(_ extra: [String] = []) throws {
        let args = ["ip", "netns", "exec", server.name, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                    "--interface=srv0", "--bind-interfaces", "--dhcp-authoritative", "--no-ping",
                    "--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,2m",
                    "--dhcp-option=3,10.77.0.1", "--dhcp-option=6,10.77.0.1", "--dhcp-option=26,1400",
                    "--dhcp-option=15,lab.example", "--dhcp-leasefile=\(leaseFile)", "--pid-file="] + extra
        dnsmasq = Subprocess.start(args, outputFD: Subprocess.devNull)
        if dnsmasq == nil { throw NSError(domain: "dnsmasq", code: 1, userInfo: [NSLocalizedDescriptionKey: "dnsmasq did not start"]) }
        usleep(300_000)   // let it bind
    }

    public func stopServer() {
        if let p = dnsmasq { Subprocess.stop(p) }
        dnsmasq = nil
    }

    deinit {
        stopServer()
        try? FileManager.default.removeItem(atPath: leaseFile)
    }


    public var leases: String { (try? String(contentsOfFile: leaseFile, encoding: .utf8)) ?? "" }
}


func check(_ status: Int32) throws {
    if status != 0 { throw NSError(domain: "ip", code: Int(status), userInfo: [NSLocalizedDescriptionKey: "ip(8) failed"]) }
}
