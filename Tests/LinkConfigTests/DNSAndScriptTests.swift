import Foundation
import XCTest
import Base
import CSystem
@testable import LinkConfig
import TestSupport

final class DNSAndScriptTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "qcm-dns-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func read(_ p: String) -> String { (try? String(contentsOfFile: p, encoding: .utf8)) ?? "<absent>" }

    func writeScript(_ name: String, _ body: String, mode: Int = 0o755) -> String {
        let p = dir + "/" + name
        _ = FileManager.default.createFile(atPath: p, contents: Data(body.utf8), attributes: [.posixPermissions: mode])
        return p
    }

    func testResolvConfRewrittenAtomicallyAndRestored() throws {
        let rc = dir + "/resolv.conf"
        let backup = dir + "/run-resolv.backup"
        try "nameserver 127.0.0.53\nsearch lan\n".write(toFile: rc, atomically: true, encoding: .utf8)
        let d = DNSManager(mode: .file, interface: "wwan0", resolvConf: rc, backupPath: backup)
        try d.apply(servers: [IPAddress("211.138.180.2")!, IPAddress("2409:8030:2000::1")!], domain: "example.net")
        let text = read(rc)
        XCTAssertTrue(text.contains("nameserver 211.138.180.2\nnameserver 2409:8030:2000::1\n"), text)
        XCTAssertTrue(text.contains("search example.net"), text)
        XCTAssertTrue(read(backup).hasPrefix("qcm-dns-backup 1\npid \(getpid())\nfile \(rc)\ncontent\nnameserver 127.0.0.53\nsearch lan\n"), read(backup))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int, 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("qcm-") }, [],
                       "written via a temporary file renamed into place, none left")
        try d.apply(servers: [IPAddress("8.8.8.8")!], domain: nil)     // a renew
        XCTAssertTrue(read(backup).hasSuffix("content\nnameserver 127.0.0.53\nsearch lan\n"), "the backup keeps the original")
        try d.revert()
        XCTAssertEqual(read(rc), "nameserver 127.0.0.53\nsearch lan\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: backup))
    }

    func testSymlinkedResolvConfComesBackAsASymlink() throws {
        let target = dir + "/stub-resolv.conf"
        let rc = dir + "/resolv.conf"
        try "nameserver 127.0.0.53\n".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: rc, withDestinationPath: target)
        let d = DNSManager(mode: .file, interface: "wwan0", resolvConf: rc, backupPath: dir + "/backup")
        try d.apply(servers: [IPAddress("10.0.0.53")!], domain: nil)
        XCTAssertTrue(read(rc).contains("nameserver 10.0.0.53"))
        XCTAssertEqual(read(target), "nameserver 127.0.0.53\n", "the symlink target is not written through")
        try d.revert()
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: rc), target)
    }

    func testBackupFromACrashedRunIsTheOriginal() throws {
        let rc = dir + "/resolv.conf"
        let backup = dir + "/backup"
        try "nameserver 10.0.0.53 # written by a qcm that was killed\n".write(toFile: rc, atomically: true, encoding: .utf8)
        // pid 2^22+1 is above the default pid_max: no such process.
        try "qcm-dns-backup 1\npid 4194305\nfile \(rc)\ncontent\nnameserver 192.168.1.1\n".write(toFile: backup, atomically: true, encoding: .utf8)
        let d = DNSManager(mode: .file, interface: "wwan0", resolvConf: rc, backupPath: backup)
        try d.apply(servers: [IPAddress("8.8.4.4")!], domain: nil)
        try d.revert()
        XCTAssertEqual(read(rc), "nameserver 192.168.1.1\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: backup))
    }

    func testPlantedBackupIsNeverRestored() throws {
        // Someone plants a symlink (or a foreign-format file) where the backup goes, hoping
        // qcm "restores" a secret into resolv.conf.
        let rc = dir + "/resolv.conf"
        let backup = dir + "/backup"
        let secret = dir + "/secret"
        try "root:$6$hash\n".write(toFile: secret, atomically: true, encoding: .utf8)
        try "nameserver 192.0.2.1\n".write(toFile: rc, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: backup, withDestinationPath: secret)
        var lines: [String] = []
        let d = DNSManager(mode: .file, interface: "wwan0", resolvConf: rc, backupPath: backup)
        d.log = { lines.append($0) }
        try d.apply(servers: [IPAddress("8.8.4.4")!], domain: nil)
        XCTAssertTrue(lines.contains { $0.contains("ignoring \(backup): not a regular file") }, "\(lines)")
        XCTAssertEqual(read(secret), "root:$6$hash\n", "the symlink's target was not written")
        try d.revert()
        XCTAssertEqual(read(rc), "nameserver 192.0.2.1\n", "the real original came back, not the planted file")
        // A regular file in another format is not a backup either.
        try "root:$6$hash\n".write(toFile: backup, atomically: true, encoding: .utf8)
        let d2 = DNSManager(mode: .file, interface: "wwan0", resolvConf: rc, backupPath: backup)
        try d2.apply(servers: [IPAddress("8.8.4.4")!], domain: nil)
        try d2.revert()
        XCTAssertEqual(read(rc), "nameserver 192.0.2.1\n")
    }

    func testHostileDHCPValuesNeverReachResolvConf() throws {
        let rc = dir + "/resolv.conf"
        try "nameserver 192.0.2.1\n".write(toFile: rc, atomically: true, encoding: .utf8)
        let d = DNSManager(mode: .file, interface: "wwan0", resolvConf: rc, backupPath: nil)
        var servers = [IPAddress("0.0.0.0")!, IPAddress("127.0.0.1")!, IPAddress("224.0.0.1")!, IPAddress("255.255.255.255")!]
        servers += (1...100).map { IPAddress(ipv4: 0x0a00_0000 + UInt32($0)) }
        try d.apply(servers: servers, domain: "evil.example\nnameserver 6.6.6.6\noptions ndots:15")
        let text = read(rc)
        XCTAssertEqual(text.components(separatedBy: "\n").filter { $0.hasPrefix("nameserver") },
                       ["nameserver 10.0.0.1", "nameserver 10.0.0.2", "nameserver 10.0.0.3"], text)
        XCTAssertFalse(text.contains("search") || text.contains("6.6.6.6") || text.contains("options"), text)
        try d.revert()
        XCTAssertTrue(DNSName.isValid("lab.example"))
        XCTAssertTrue(DNSName.isValid("a-b.c_d.example."))
        XCTAssertFalse(DNSName.isValid("evil\nnameserver"))
        XCTAssertFalse(DNSName.isValid("a b"))
        XCTAssertFalse(DNSName.isValid(String(repeating: "a", count: 64) + ".example"))
        XCTAssertFalse(DNSName.isValid(".leading"))
        XCTAssertFalse(DNSName.isValid(""))
    }

    func testResolvconfToolGetsRecordAndStdin() throws {
        let log = dir + "/calls"
        let tool = writeScript("resolvconf", "#!/bin/sh\necho \"$*\" >> \(log)\ncat >> \(log)\n")
        let d = DNSManager(mode: .auto, interface: "wwan0", resolvConf: dir + "/resolv.conf", resolvconfTool: tool)
        XCTAssertEqual(d.effectiveMode, .resolvconf)
        try d.apply(servers: [IPAddress("211.138.180.2")!], domain: nil)
        try d.revert()
        let calls = read(log)
        XCTAssertTrue(calls.hasPrefix("-a wwan0.qcm\n# Generated by qcm"), calls)
        XCTAssertTrue(calls.contains("nameserver 211.138.180.2\n-d wwan0.qcm\n"), calls)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/resolv.conf"), "resolvconf mode does not touch the file")
    }

    func testNoneLeavesDNSAlone() throws {
        let rc = dir + "/resolv.conf"
        try "nameserver 1.1.1.1\n".write(toFile: rc, atomically: true, encoding: .utf8)
        let d = DNSManager(mode: .none, interface: "wwan0", resolvConf: rc)
        try d.apply(servers: [IPAddress("8.8.8.8")!], domain: nil)
        try d.revert()
        XCTAssertEqual(read(rc), "nameserver 1.1.1.1\n")
    }

    func testScriptHookGetsEnvironmentAndArgument() throws {
        let out = dir + "/env"
        let p = writeScript("hook", "#!/bin/sh\n{ echo \"event=$1\"; env | grep -E '^(interface|ip|subnet|mask|router|dns|domain|mtu|lease)=' | sort; } > \(out)\n")
        let hook = try ScriptHook(path: p)
        let plan = LinkPlan(interface: "usb0",
                            ipv4: .init(address: IPAddress("10.198.78.154")!, prefix: 30, gateway: IPAddress("10.198.78.153"), routeViaGateway: true),
                            dns: [IPAddress("211.138.180.2")!, IPAddress("211.138.180.3")!], domain: "lan", mtu: 1500)
        _ = try hook.run(event: "bound", variables: plan.scriptEnvironment(leaseSeconds: 7200))
        XCTAssertEqual(read(out), """
            event=bound
            dns=211.138.180.2 211.138.180.3
            domain=lan
            interface=usb0
            ip=10.198.78.154
            lease=7200
            mask=30
            mtu=1500
            router=10.198.78.153
            subnet=255.255.255.252

            """)
        // Hostile values stay data: nothing is interpreted by a shell.
        _ = try hook.run(event: "renew", variables: [("interface", "x; touch \(dir!)/pwned"), ("ip", "$(reboot)")])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/pwned"))
        XCTAssertTrue(read(out).contains("interface=x; touch"), read(out))
    }

    func testScriptHookFailuresArePrecise() throws {
        func message(_ p: String) -> String {
            do { _ = try ScriptHook(path: p); return "accepted" } catch { return error.description }
        }
        XCTAssertEqual(message(dir + "/missing"), "script \(dir!)/missing does not exist")
        XCTAssertEqual(message(dir), "script \(dir!) is a directory, not a script")
        let plain = writeScript("plain", "#!/bin/sh\nexit 0\n", mode: 0o644)
        XCTAssertEqual(message(plain), "script \(plain) is not executable (chmod +x \(plain))")
        let dos = writeScript("dos", "#!/bin/sh\r\necho hi\r\n")
        XCTAssertEqual(message(dos), "script \(dos) has DOS (CRLF) line endings, so the kernel looks for the interpreter '/bin/sh\\r'; convert it with dos2unix \(dos)")
        let noShebang = writeScript("nosb", "echo hi\n")
        XCTAssertEqual(message(noShebang), "script \(noShebang) does not start with #! (e.g. #!/bin/sh)")
        let failing = writeScript("fail", "#!/bin/sh\necho broken >&2\nexit 3\n")
        XCTAssertThrowsError(try ScriptHook(path: failing).run(event: "bound", variables: [])) { e in
            XCTAssertEqual((e as? LinkError)?.description, "script \(failing) bound failed with exit status 3: broken\n")
        }
    }

    /// scripts/default.script applies a lease with ip(8), inside a namespace.
    func testDefaultScriptConfiguresALink() throws {
        guard isRoot else { throw XCTSkip("needs root: network namespace") }
        let ns = try TestNamespace("qcm-script")
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "add", "usb0", "type", "veth", "peer", "name", "usb0p"]).status, 0)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/default.script").standardized.path
        let hook = try ScriptHook(path: script)
        let rc = dir + "/resolv.conf"
        let vars = LinkPlan(interface: "usb0",
                            ipv4: .init(address: IPAddress("10.198.78.154")!, prefix: 30, gateway: IPAddress("10.198.78.153"), routeViaGateway: true),
                            dns: [IPAddress("211.138.180.2")!], mtu: 1400).scriptEnvironment(leaseSeconds: 7200) + [("RESOLV_CONF", rc)]
        let out = try ns.inside { try hook.run(event: "bound", variables: vars) }
        XCTAssertTrue(out.contains("Adding DNS 211.138.180.2"), out)
        XCTAssertEqual(ipAddresses(ns.name, "usb0"), ["10.198.78.154/30"])
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-4"), ["usb0 via 10.198.78.153 metric 0"])
        XCTAssertEqual(read(rc), "nameserver 211.138.180.2\n")
        _ = try ns.inside { try hook.run(event: "deconfig", variables: [("interface", "usb0")]) }
        XCTAssertEqual(ipAddresses(ns.name, "usb0"), [])
    }
}
