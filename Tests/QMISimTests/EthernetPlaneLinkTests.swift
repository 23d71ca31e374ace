import Foundation
import XCTest
import Base
import CSystem
import DHCPClient
@testable import QMISim
import TestSupport

/// The module's USB NIC as a real TAP device in a network namespace of the test's own: qcm's
/// DHCP client (a real AF_PACKET socket) and ping(8) on the host side see what a board sees.
/// They get a lease and answers only while the call is up.
final class EthernetPlaneLinkTests: XCTestCase {
    // The RG801H capture's call: 10.25.16.79/27, gateway 10.25.16.65.
    let address: UInt32 = 0x0a19_104f, gateway: UInt32 = 0x0a19_1041
    let dns: [UInt32] = [0xd38a_b402, 0xd38a_b403]

    /// A namespace with the plane's TAP `usb0` (up on the host side) and a thread that runs
    /// the plane's event loop.
    final class Bench {
        let ns: TestNamespace
        let plane: EthernetPlane
        let loop = EventLoop()
        let stopping = Flag()
        var thread: Thread?

        init(nat: Bool = false) throws {
            ns = try TestNamespace("qsim-eth")
            plane = try ns.inside { try EthernetPlane(name: "usb0", natRouter: nat) }
            plane.serve(on: loop)
            let t = Thread { [loop, stopping] in
                while !stopping.value { loop.runOnce(maxWaitMs: 50) }
            }
            t.start()
            thread = t
            shell(["ip", "-n", ns.name, "link", "set", "usb0", "up"])
        }

        deinit { finish() }

        /// Stops the loop's thread, then removes the TAP.
        func finish() {
            stopping.value = true
            while let t = thread, !t.isFinished { usleep(1000) }
            thread = nil
            plane.close()
        }

        /// Runs qcm's DHCP client on usb0 inside the namespace for at most `seconds`: the lease
        /// it got (nil: none) and the host's MAC.
        func dhcp(seconds: Double) throws -> (lease: Lease?, mac: [UInt8]) {
            let c = try ns.inside { try DHCPClient(interface: "usb0") }
            var got: Lease?
            c.onEvent = { if case .bound(let l) = $0 { got = l } }
            try ns.inside { try c.start() }
            let end = Date().addingTimeInterval(seconds)
            ns.inside { while got == nil && Date() < end { try? c.step(maxWaitMs: 100) } }
            c.socket.close()
            return (got, c.socket.mac)
        }

        func ping(_ to: String) -> Bool {
            shell(["ip", "netns", "exec", ns.name, "ping", "-c", "1", "-W", "1", "-I", "usb0", to]).status == 0
        }

        var noCarrier: Bool {
            ((ipJSON(ns.name, ["link", "show", "dev", "usb0"]).first?["flags"] as? [String]) ?? []).contains("NO-CARRIER")
        }
    }

    override func setUpWithError() throws {
        guard isRoot else { throw XCTSkip("needs root: a TAP device in a network namespace") }
        guard which("ping") else { throw XCTSkip("ping(8) is not installed (Debian: iputils-ping; scripts/test installs it)") }
    }

    func testLeaseAndPingOnlyWhileTheCallIsUp() throws {
        let b = try Bench()
        let p = b.plane
        if p.carrierFollowsCall {
            XCTAssertTrue(b.noCarrier, "the call is down: no carrier")
        } else {
            print("EthernetPlaneLinkTests: this kernel has no TUNSETCARRIER; the TAP keeps its carrier while the call is down")
        }
        XCTAssertNil(try b.dhcp(seconds: 3).lease, "no DHCP server while the call is down")
        XCTAssertEqual(p.offers, 0)

        p.callUp(address: address, prefix: 27, gateway: gateway, dns: dns, mtu: 1500, leaseSeconds: 3600)
        if p.carrierFollowsCall { XCTAssertFalse(b.noCarrier, "the call is up: carrier") }
        let (got, mac) = try b.dhcp(seconds: 10)
        let lease = try XCTUnwrap(got, "no lease; drops: \(p.drops)")
        XCTAssertEqual(lease.address, address)
        XCTAssertEqual(lease.prefix, 27)
        XCTAssertEqual(lease.routers, [gateway])
        XCTAssertEqual(lease.dns, dns)
        XCTAssertEqual(lease.mtu, 1500)
        XCTAssertEqual(lease.leaseSeconds, 3600)
        XCTAssertEqual(lease.serverMAC, EthernetPlane.defaultMAC)
        XCTAssertEqual(p.lease?.mac, mac)
        XCTAssertEqual(p.lease?.address, address)
        XCTAssertGreaterThanOrEqual(p.offers, 1)
        XCTAssertGreaterThanOrEqual(p.acks, 1)

        XCTAssertEqual(shell(["ip", "-n", b.ns.name, "addr", "add", "10.25.16.79/27", "dev", "usb0"]).status, 0)
        XCTAssertTrue(b.ping("10.25.16.65"), "drops: \(p.drops)")
        XCTAssertGreaterThanOrEqual(p.echoesAnswered, 1)
        XCTAssertGreaterThanOrEqual(p.arpReplies, 1, "the host found the gateway by ARP")

        p.callDown()
        let answered = p.echoesAnswered
        XCTAssertFalse(b.ping("10.25.16.65"), "the gateway went with the call")
        XCTAssertEqual(p.echoesAnswered, answered)
        XCTAssertNil(p.lease)
        if p.carrierFollowsCall {
            XCTAssertTrue(b.noCarrier)
        } else {
            XCTAssertTrue(p.drops.contains { $0.hasPrefix("ping to 10.25.16.65") && $0.hasSuffix("the call is down, and nothing on the module answers") }, "\(p.drops)")
        }
    }

    func testRouterModeLeasesTheModulesLAN() throws {
        let b = try Bench(nat: true)
        b.plane.callUp(address: address, prefix: 27, gateway: gateway, dns: dns)
        let lease = try XCTUnwrap(try b.dhcp(seconds: 10).lease, "no lease; drops: \(b.plane.drops)")
        XCTAssertEqual(Text.ipv4(lease.address), "192.168.42.2")
        XCTAssertEqual(lease.prefix, 24)
        XCTAssertEqual(lease.routers.map(Text.ipv4), ["192.168.42.1"])
        XCTAssertEqual(lease.dns.map(Text.ipv4), ["192.168.42.1"])
        XCTAssertEqual(shell(["ip", "-n", b.ns.name, "addr", "add", "192.168.42.2/24", "dev", "usb0"]).status, 0)
        XCTAssertTrue(b.ping("192.168.42.1"), "drops: \(b.plane.drops)")
    }

    func testCloseRemovesTheTAP() throws {
        let b = try Bench()
        XCTAssertEqual(shell(["ip", "-n", b.ns.name, "link", "show", "usb0"]).status, 0)
        b.finish()
        XCTAssertNotEqual(shell(["ip", "-n", b.ns.name, "link", "show", "usb0"]).status, 0, "the TAP is gone")
    }
}
