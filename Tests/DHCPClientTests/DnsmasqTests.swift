import Foundation
import XCTest
import Base
import CSystem
@testable import DHCPClient
import LinkConfig
import TestSupport

final class DnsmasqTests: XCTestCase {
    var events: [DHCPMachine.Event] = []

    override func tearDown() { lab = nil }

    override func setUpWithError() throws {
        guard isRoot else { throw XCTSkip("needs root: network namespaces, veth, AF_PACKET and dnsmasq") }
        guard which("dnsmasq") else { throw XCTSkip("dnsmasq is not installed (Debian: dnsmasq-base; scripts/test installs it)") }
        events = []
    }

    var lab: DHCPLab!

    /// Runs the client (which reopens its packet socket as it goes) inside the client namespace.
    func drive(_ c: DHCPClient, seconds: Double, until: () -> Bool) {
        let end = Date().addingTimeInterval(seconds)
        lab.client.inside {
            while !until() && Date() < end { try? c.step(maxWaitMs: 200) }
        }
    }

    func start(_ c: DHCPClient, previous: Lease? = nil) throws {
        try lab.client.inside { try c.start(previous: previous) }
    }

    func bound(_ c: DHCPClient) -> Lease? {
        for e in events { if case .bound(let l) = e { return l } }
        return nil
    }

    func testLeaseObtainedAndApplied() throws {
        lab = try DHCPLab()
        let c = try lab.client.inside { try DHCPClient(interface: "usb0", hostname: "qcm-test") }
        c.onEvent = { self.events.append($0) }
        try start(c)
        drive(c, seconds: 20) { bound(c) != nil }
        let l = try XCTUnwrap(bound(c), "no lease from dnsmasq: \(events)")
        XCTAssertTrue((0x0a4d_0032...0x0a4d_003c).contains(l.address), ipText(l.address))
        XCTAssertEqual(l.prefix, 24)
        XCTAssertEqual(l.routers, [0x0a4d_0001])
        XCTAssertEqual(l.dns, [0x0a4d_0001])
        XCTAssertEqual(l.mtu, 1400)
        XCTAssertEqual(l.domain, "lab.example")
        XCTAssertEqual(l.leaseSeconds, 120)
        XCTAssertNil(c.fd, "bound: the packet socket is closed, nothing to wake up for")
        // Applied with LinkConfig, read back with ip -j.
        let nl = try lab.client.inside { try Netlink() }
        let m = LinkManager(netlink: nl)
        try m.apply(LinkPlan(interface: "usb0",
                             ipv4: .init(address: IPAddress(ipv4: l.address), prefix: l.prefix,
                                         gateway: IPAddress(ipv4: l.routers[0]), routeViaGateway: true),
                             mtu: l.mtu.map(UInt32.init)))
        XCTAssertEqual(ipAddresses(lab.client.name, "usb0"), ["\(ipText(l.address))/24"])
        XCTAssertEqual(ipDefaultRoutes(lab.client.name, "-4"), ["usb0 via 10.77.0.1 metric 0"])
        XCTAssertEqual(shell(["ip", "netns", "exec", lab.client.name, "ping", "-c", "1", "-W", "2", "10.77.0.1"]).status, 0,
                       "the leased address works")
        try m.undo()
        XCTAssertTrue(lab.leases.contains(ipText(l.address)), lab.leases)
    }

    func testRenewAtT1() throws {
        lab = try DHCPLab(extra: ["--dhcp-option=58,3", "--dhcp-option=59,5"])
        let c = try lab.client.inside { try DHCPClient(interface: "usb0", hostname: "qcm-test") }
        c.onEvent = { self.events.append($0) }
        try start(c)
        drive(c, seconds: 20) { bound(c) != nil }
        let l = try XCTUnwrap(bound(c))
        XCTAssertEqual(l.renewSeconds, 3)
        XCTAssertEqual(l.rebindSeconds, 5)
        drive(c, seconds: 15) { events.contains { if case .renewed = $0 { return true }; return false } }
        guard case let .renewed(old, new)? = events.last else { return XCTFail("\(events)") }
        XCTAssertEqual(old.address, new.address)
        XCTAssertGreaterThan(new.obtainedAt, old.obtainedAt)
        XCTAssertEqual(c.state, .bound)
    }

    func testNakOnAForeignAddressThenFreshLease() throws {
        lab = try DHCPLab()
        let c = try lab.client.inside { try DHCPClient(interface: "usb0", hostname: "qcm-test") }
        c.onEvent = { self.events.append($0) }
        let stale = Lease(address: 0x0a63_0005, mask: 0xffff_ff00, routers: [], dns: [], domain: nil, mtu: nil,
                          leaseSeconds: 3600, renewSeconds: 1800, rebindSeconds: 3000, server: 0x0a63_0001,
                          serverMAC: [], obtainedAt: csys_monotonic_ms())
        try start(c, previous: stale)
        drive(c, seconds: 25) { bound(c) != nil }
        XCTAssertTrue(events.contains { if case .nak = $0 { return true }; return false }, "\(events)")
        XCTAssertTrue((0x0a4d_0032...0x0a4d_003c).contains(try XCTUnwrap(bound(c)).address))
    }

    func testReleaseIsSeenByTheServer() throws {
        lab = try DHCPLab()
        let c = try lab.client.inside { try DHCPClient(interface: "usb0", hostname: "qcm-test") }
        c.onEvent = { self.events.append($0) }
        try start(c)
        drive(c, seconds: 20) { bound(c) != nil }
        let l = try XCTUnwrap(bound(c))
        let macText = c.socket.mac.map { String(format: "%02x", $0) }.joined(separator: ":")
        XCTAssertTrue(lab.leases.contains(macText), lab.leases)
        try lab.client.inside { try c.release() }
        let end = Date().addingTimeInterval(5)
        while lab.leases.contains(macText) && Date() < end { usleep(50_000) }
        XCTAssertFalse(lab.leases.contains(ipText(l.address)), "dnsmasq dropped the lease: \(lab.leases)")
        XCTAssertEqual(c.state, .released)
    }

    /// dnsmasq's shortest lease is 2 minutes, so this test takes that long.
    func testServerGoneRebindThenExpiry() throws {
        lab = try DHCPLab(extra: ["--dhcp-option=58,3", "--dhcp-option=59,6"])
        let c = try lab.client.inside { try DHCPClient(interface: "usb0", hostname: "qcm-test") }
        c.onEvent = { self.events.append($0) }
        try start(c)
        drive(c, seconds: 20) { bound(c) != nil }
        let l = try XCTUnwrap(bound(c))
        lab.stopServer()
        var seen: [DHCPMachine.State] = []
        drive(c, seconds: 150) {
            if seen.last != c.state { seen.append(c.state) }
            return events.contains { if case .expired = $0 { return true }; return false }
        }
        XCTAssertEqual(Array(seen.prefix(3)), [.bound, .renewing, .rebinding], "\(seen)")
        guard case .expired(let gone)? = events.first(where: { if case .expired = $0 { return true }; return false }) else {
            return XCTFail("no expiry: \(events)")
        }
        XCTAssertEqual(gone.address, l.address)
        XCTAssertEqual(c.state, .selecting, "after expiry the client starts over")
        XCTAssertNotNil(c.fd)
    }
}
