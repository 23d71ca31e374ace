import Foundation
import XCTest
import Base
import CSystem
import DHCPClient
import TestSupport

/// `qcm dhcp` against a DHCP server that sends what a broken or hostile one would, over a
/// real veth in network namespaces: nothing it sends reaches resolv.conf, the kernel or a
/// retransmission schedule unchecked.
final class HostileDHCPTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        guard isRoot else { throw XCTSkip("needs root: namespaces, veth, AF_PACKET") }
        dir = NSTemporaryDirectory() + "qcm-hostile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "nameserver 192.0.2.53\n".write(toFile: dir + "/resolv.conf", atomically: true, encoding: .utf8)
    }

    override func tearDown() { if let d = dir { try? FileManager.default.removeItem(atPath: d) } }

    static let address: UInt32 = 0x0a4d_0032          // 10.77.0.50

    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    /// Runs `qcm dhcp` in the lab's client namespace for at most `seconds`, returning its output.
    func runClient(_ lab: DHCPLab, quit: Bool = true, seconds: Int = 10) -> (status: Int32, output: String) {
        var args = ["ip", "netns", "exec", lab.client.name, productPath("qcm"), "dhcp", "-i", "usb0", "-v",
                    "--dns", "file", "--resolv-conf", dir + "/resolv.conf", "--run-dir", dir!]
        if quit { args += ["-q", "--timeout", "\(seconds)"] }
        return shell(quit ? args : ["timeout", "-s", "TERM", "\(seconds)"] + args, timeout: Double(seconds + 10))
    }

    var resolv: String { (try? String(contentsOfFile: dir + "/resolv.conf", encoding: .utf8)) ?? "" }

    func testShortLeaseIsRaisedAndNotRenewedInALoop() throws {
        let lab = try DHCPLab(dnsmasq: false)
        let server = try HostileDHCPServer(namespace: lab.server) { _ in
            .lease(address: Self.address, options: [(1, [255, 255, 255, 0]), (51, [0, 0, 0, 1])])
        }
        defer { server.stop() }
        let r = runClient(lab, quit: false, seconds: 5)
        XCTAssertTrue(r.output.contains("lease time 1 s raised to 60 s"), r.output)
        // One REQUEST to get the lease; no renewal within the first 30 s of a 60 s lease.
        XCTAssertEqual(server.count(.request), 1, r.output)
    }

    func testNAKForEveryRequestBacksOff() throws {
        let lab = try DHCPLab(dnsmasq: false)
        let server = try HostileDHCPServer(namespace: lab.server) { p in
            p.messageType == .discover ? .lease(address: Self.address, options: [(51, [0, 0, 14, 16])]) : .nak
        }
        defer { server.stop() }
        let r = runClient(lab, quit: false, seconds: 7)
        // DISCOVER, REQUEST, NAK, a 3 s pause, again: a handful in 7 s, not thousands.
        XCTAssertGreaterThanOrEqual(server.count(.request), 1, r.output)
        XCTAssertLessThanOrEqual(server.count(.request), 3, r.output)
        XCTAssertTrue(r.output.contains("starting over in 3 s"), r.output)
    }

    func testInjectedDomainAndHundredDNSServersNeverReachResolvConf() throws {
        let lab = try DHCPLab(dnsmasq: false)
        var dns1: [UInt8] = [], dns2: [UInt8] = []
        for i in 1...60 { dns1 += [10, 1, 0, UInt8(i)] }
        for i in 61...100 { dns2 += [10, 1, 0, UInt8(i)] }
        let options: [(UInt8, [UInt8])] = [(1, [255, 255, 255, 0]), (3, [10, 77, 0, 1]), (51, [0, 0, 14, 16]),
                                           (15, Array("lab.example\nnameserver 6.6.6.6\noptions ndots:9".utf8)),
                                           (6, dns1), (6, dns2)]
        let server = try HostileDHCPServer(namespace: lab.server) { _ in .lease(address: Self.address, options: options) }
        defer { server.stop() }
        let r = runClient(lab)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("ignored domain name \"lab.example\\x0anameserver 6.6.6.6"), r.output)
        let lines = resolv.components(separatedBy: "\n")
        XCTAssertEqual(lines.filter { $0.hasPrefix("nameserver") }, ["nameserver 10.1.0.1", "nameserver 10.1.0.2", "nameserver 10.1.0.3"], resolv)
        XCTAssertFalse(resolv.contains("6.6.6.6") || resolv.contains("options") || resolv.contains("search"), resolv)
    }

    func testRouterOutsideTheSubnetGetsAnOnLinkRoute() throws {
        let lab = try DHCPLab(dnsmasq: false)
        let server = try HostileDHCPServer(namespace: lab.server) { _ in
            .lease(address: Self.address, options: [(1, [255, 255, 255, 0]), (3, [192, 0, 2, 1]), (51, [0, 0, 14, 16])])
        }
        defer { server.stop() }
        let r = runClient(lab)
        XCTAssertEqual(r.status, 0, "not exit 8 (ENETUNREACH): \(r.output)")
        XCTAssertEqual(ipAddresses(lab.client.name, "usb0"), ["10.77.0.50/24"])
        XCTAssertEqual(ipDefaultRoutes(lab.client.name, "-4"), ["usb0 via 192.0.2.1 metric 0"])
        let routes = shell(["ip", "-n", lab.client.name, "-4", "route", "show", "192.0.2.1/32"]).output
        XCTAssertTrue(routes.contains("192.0.2.1 dev usb0"), routes)
    }

    func testZeroMaskAndUnusableRoutersAreRefused() throws {
        let lab = try DHCPLab(dnsmasq: false)
        let server = try HostileDHCPServer(namespace: lab.server) { _ in
            .lease(address: Self.address, options: [(1, [0, 0, 0, 0]), (3, [127, 0, 0, 1, 224, 0, 0, 1, 10, 77, 0, 1]),
                                                      (51, [0, 0, 14, 16]), (6, [0, 0, 0, 0, 10, 77, 0, 1])])
        }
        defer { server.stop() }
        let r = runClient(lab)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("ignored subnet mask 0.0.0.0: using /32 with the router on-link"), r.output)
        XCTAssertTrue(r.output.contains("ignored router 127.0.0.1"), r.output)
        XCTAssertEqual(ipAddresses(lab.client.name, "usb0"), ["10.77.0.50/32"], "a /32, not /0 logged and /1 applied")
        XCTAssertEqual(ipDefaultRoutes(lab.client.name, "-4"), ["usb0 via 10.77.0.1 metric 0"])
        XCTAssertEqual(resolv.components(separatedBy: "\n").filter { $0.hasPrefix("nameserver") }, ["nameserver 10.77.0.1"])
    }

    func testMulticastAddressIsDeclined() throws {
        let lab = try DHCPLab(dnsmasq: false)
        let server = try HostileDHCPServer(namespace: lab.server) { _ in
            .lease(address: 0xe000_0005, options: [(1, [255, 255, 255, 0]), (51, [0, 0, 14, 16])])
        }
        defer { server.stop() }
        let r = runClient(lab, seconds: 3)
        XCTAssertEqual(r.status, 1, "no lease: \(r.output)")
        XCTAssertTrue(r.output.contains("declining 224.0.0.5: not a usable unicast address"), r.output)
        XCTAssertEqual(server.count(.decline), 1)
        XCTAssertEqual(ipAddresses(lab.client.name, "usb0"), [])
    }
}
