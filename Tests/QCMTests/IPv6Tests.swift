import Foundation
import XCTest
import Base
import CSystem
import QMISim
import TestSupport

/// IPv6 on the mobile link, and the call's /64 extended to a LAN (RFC 7278): qcm in one
/// namespace with the simulated modem's netdev (whose network sends a PGW's Router
/// Advertisement and routes the whole /64), a LAN host in another behind a veth pair, forming
/// its address from qcm's RAs with the kernel's own SLAAC.
final class IPv6Tests: XCTestCase {
    let remote = "2001:db8:ffff::1"

    func sh(_ args: [String]) {
        let r = shell(args)
        XCTAssertEqual(r.status, 0, "\(args.joined(separator: " ")): \(r.output)")
    }

    /// A LAN host in its own namespace, on a veth pair whose board end is `lan0` in `board`.
    func lanHost(_ board: String) throws -> TestNamespace {
        let host = try TestNamespace("qcm-lan")
        sh(["ip", "-n", board, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", host.name])
        sh(["ip", "-n", board, "link", "set", "lan0", "up"])
        sh(["ip", "-n", host.name, "link", "set", "eth0", "up"])
        // A board's LAN is up long before the modem dials: its link-local address is usable
        // (DAD done) by then.
        let end = Date().addingTimeInterval(5)
        while Date() < end && !shell(["ip", "-n", board, "-6", "addr", "show", "dev", "lan0", "scope", "link"]).output.contains("fe80") {
            usleep(100_000)
        }
        while Date() < end && shell(["ip", "-n", board, "-6", "addr", "show", "dev", "lan0", "scope", "link"]).output.contains("tentative") {
            usleep(100_000)
        }
        return host
    }

    /// The host's global IPv6 addresses (with their flags, e.g. "deprecated").
    func hostAddresses(_ host: TestNamespace) -> [String] {
        shell(["ip", "-n", host.name, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"]).output
            .split(separator: "\n").map { String($0) }
    }

    /// One ping from the LAN host to the remote, waiting up to 6 s for the answer (the first
    /// echo may wait for neighbour discovery on both sides, on a loaded machine).
    func pingFromLAN(_ host: TestNamespace) -> (status: Int32, output: String) {
        shell(["ip", "netns", "exec", host.name, "ping", "-c", "1", "-w", "6", remote])
    }

    /// SIGINT: qcm exits 0, and the LAN host sees its address in the prefix (`fragment`)
    /// deprecated within seconds.
    func interruptAndSeeDeprecated(_ rig: DaemonRig, _ host: TestNamespace, _ fragment: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        rig.signal(SIGINT)
        XCTAssertEqual(rig.waitExit(), 0, rig.log, file: file, line: line)
        XCTAssertTrue(waitHost(host, timeout: 5) { $0.contains { $0.contains(fragment) && $0.contains("deprecated") } },
                      "deprecated within seconds: \(hostAddresses(host))", file: file, line: line)
    }

    func waitHost(_ host: TestNamespace, timeout: Double = 15, _ cond: ([String]) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if cond(hostAddresses(host)) { return true }
            usleep(100_000)
        }
        return false
    }

    /// The network's RA comes before qcm configures the link (qmi_wwan_q qmap_mode 1, the 5G
    /// default, brings wwan0 up early): the kernel made a default route and an address from it.
    /// qcm takes over instead of failing the link, and IPv4 and IPv6 both work.
    func testAnEarlyRouterAdvertisementDoesNotBreakTheLink() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and TUN links") }
        let rig = try DaemonRig(netns: true, qmap: 1)
        rig.start(["-4", "-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertFalse(rig.log.contains("already exists"), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0)
        XCTAssertEqual(rig.ping("2409:8930:463:3daa:7c8e:429a:c902:c6cd").status, 0, "the IPv6 gateway")
        XCTAssertEqual(rig.ping(remote).status, 0, "beyond the network")
        let routes = shell(["ip", "-n", rig.ns!.name, "-6", "route", "show", "default"]).output
        XCTAssertFalse(routes.contains("proto ra"), "no default route from the RA: \(routes)")
        XCTAssertTrue(routes.contains("dev wwan0"), routes)
        let ll = shell(["ip", "-n", rig.ns!.name, "-6", "addr", "show", "dev", "wwan0", "scope", "link"]).output
        XCTAssertTrue(ll.contains("fe80::"), "link-local kept: \(ll)")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        let acceptRA = shell(["ip", "netns", "exec", rig.ns!.name, "cat", "/proc/sys/net/ipv6/conf/wwan0/accept_ra"]).output
        XCTAssertEqual(acceptRA.trimmingCharacters(in: .whitespacesAndNewlines), "1", "put back as it was")
    }

    /// GobiNet in raw-IP mode (an Ethernet-type usb0 whose header the driver strips): dual
    /// stack, the network's RA through the driver's header taken without a default route of it.
    func testDualStackOverGobiNet() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and a TAP usb0") }
        let rig = try DaemonRig(netns: true, driver: "GobiNet", netdev: "usb0")
        rig.start(["-4", "-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, rig.log)
        XCTAssertEqual(rig.ping("2409:8930:463:3daa:7c8e:429a:c902:c6cd").status, 0, "the IPv6 gateway")
        XCTAssertEqual(rig.ping(remote).status, 0, "beyond the network")
        let routes = shell(["ip", "-n", rig.ns!.name, "-6", "route", "show", "default"]).output
        XCTAssertFalse(routes.contains("proto ra"), "no default route from the RA: \(routes)")
        XCTAssertTrue(routes.contains("dev usb0"), routes)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    /// An IPv6-only call on plain raw-IP.
    func testIPv6Only() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and TUN links") }
        let rig = try DaemonRig(netns: true)
        rig.start(["-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0").filter { !$0.hasPrefix("fe80") }, ["2409:8930:463:3daa:7c8e:429a:c902:c6cc/64"])
        XCTAssertEqual(rig.ping(remote).status, 0)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    /// IPv6 through a QMAP mux link (upstream qmi_wwan's qmimux): the network routes the /64
    /// to it like to the plain netdev.
    func testIPv6ThroughAQmimuxLink() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and TUN links") }
        let rig = try DaemonRig(netns: true)
        rig.start(["-m", "1", "-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("qmimux0 carries mux 0x81"), rig.log)
        XCTAssertEqual(rig.ping(remote, from: "qmimux0").status, 0)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    /// RFC 7278: the LAN host forms an address in the call's /64 from qcm's RA and reaches the
    /// network through qcm; after SIGINT its address is deprecated at once.
    func testTheLANGetsTheCallsPrefix() throws {
        guard isRoot else { throw XCTSkip("needs root: network namespaces, TUN and veth links") }
        let rig = try DaemonRig(netns: true)
        let host = try lanHost(rig.ns!.name)
        rig.start(["-4", "-6", "--ipv6-lan", "lan0"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("lan0: advertising 2409:8930:463:3daa::/64 (RFC 7278)"), rig.log)
        XCTAssertTrue(waitHost(host) { $0.contains { $0.contains("2409:8930:463:3daa:") && !$0.contains("tentative") } }, "\(hostAddresses(host))\n\(rig.log)")
        XCTAssertEqual(rig.statusValue("ipv6_prefix"), "2409:8930:463:3daa::/64")
        XCTAssertEqual(rig.statusValue("ipv6_lan"), "lan0")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0").filter { !$0.hasPrefix("fe80") && $0.contains(":") },
                       ["2409:8930:463:3daa:7c8e:429a:c902:c6cc/128"], "the mobile side keeps the address alone")
        let ping = pingFromLAN(host)
        XCTAssertEqual(ping.status, 0, "the LAN host reaches the network through qcm: \(ping.output) \(rig.dataPlane?.drops ?? [])")
        interruptAndSeeDeprecated(rig, host, "3daa:")
        let routes = shell(["ip", "-n", host.name, "-6", "route", "show", "default"]).output
        XCTAssertFalse(routes.contains("lan0") || routes.contains("via fe80"), "no longer a default router: \(routes)")
    }

    /// RFC 7278 behind an AT module (EC200U, usb0 an Ethernet link with the module as its IPv6
    /// router): the module finds a LAN host's address by Neighbour Discovery on usb0 before it
    /// sends it anything, and qcm answers for the LAN (a proxy for the /64); the LAN host forms
    /// its address from qcm's RA on lan0 and pings the remote through the board.
    func testTheLANBehindAnATModule() throws {
        guard isRoot else { throw XCTSkip("needs root: network namespaces, a TAP usb0 and veth links") }
        let rig = try DaemonRig(netns: true, at: .quick(.ec200u))
        let host = try lanHost(rig.ns!.name)
        rig.start(["-s", "cmnet", "-4", "-6", "--ipv6-lan", "lan0"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("lan0: advertising 2408:841e:52f0:a2f4::/64 (RFC 7278)"), rig.log)
        XCTAssertEqual(rig.statusValue("ipv6_prefix"), "2408:841e:52f0:a2f4::/64")
        let mobile = ipAddresses(rig.ns!.name, "usb0").filter { $0.contains(":") }
        XCTAssertTrue(mobile.count == 1 && mobile[0].hasPrefix("2408:841e:52f0:a2f4:") && mobile[0].hasSuffix("/128"), "\(mobile)")
        XCTAssertTrue(waitHost(host) { $0.contains { $0.contains("2408:841e:52f0:a2f4:") && !$0.contains("tentative") } }, "\(hostAddresses(host))\n\(rig.log)")
        let ping = pingFromLAN(host)
        XCTAssertEqual(ping.status, 0, "the LAN host reaches the network through qcm: \(ping.output) \(rig.ethernet?.drops ?? [])\n\(rig.log)")
        XCTAssertTrue(rig.log.contains("usb0: answering the module's neighbour solicitations for 2408:841e:52f0:a2f4::/64"), rig.log)
        // The network ends the call: after the redial the LAN is served again.
        rig.atSim?.dropCalls()
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        let again = pingFromLAN(host)
        XCTAssertEqual(again.status, 0, "after the redial: \(again.output) \(rig.ethernet?.drops ?? [])\n\(rig.log)")
        interruptAndSeeDeprecated(rig, host, "a2f4:")
    }

    /// A redial that brings another /64: the LAN moves to it, the old one deprecated.
    func testTheLANMovesToANewPrefixAfterARedial() throws {
        guard isRoot else { throw XCTSkip("needs root: network namespaces, TUN and veth links") }
        let rig = try DaemonRig(netns: true) { $0.ipv6PrefixRotates = true }
        let host = try lanHost(rig.ns!.name)
        rig.start(["-6", "--ipv6-lan", "lan0"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(waitHost(host) { $0.contains { $0.contains("2409:8930:463:3daa:") && !$0.contains("tentative") } }, "\(hostAddresses(host))")
        rig.sim.dropCalls()
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        XCTAssertTrue(rig.log.contains("moves from 2409:8930:463:3daa::/64 to 2409:8930:463:3eaa::/64"), rig.log)
        XCTAssertTrue(waitHost(host) { a in
            a.contains { $0.contains("2409:8930:463:3eaa:") && !$0.contains("deprecated") && !$0.contains("tentative") }
                && a.contains { $0.contains("3daa:") && $0.contains("deprecated") }
        }, "\(hostAddresses(host))")
        XCTAssertEqual(pingFromLAN(host).status, 0)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    /// What the network's RA says that qcm does not take is said once; a prefix narrower than
    /// a /64 is not extended to the LAN; a LAN interface that does not exist or is the modem's
    /// own ends qcm at once (exit 2).
    func testBadInput() throws {
        guard isRoot else { throw XCTSkip("needs root: network namespaces, TUN and veth links") }
        let rig = try DaemonRig(netns: true) { c in
            c.raPrefix = Text.parseIPv6("2001:db8:2::")!
            c.raMTU = 1000
        }
        // What the kernel forms from that RA when it comes before qcm takes IPv6 over (a race on a
        // board; here made certain): an address outside the call's /64, with finite lifetimes as
        // SLAAC's. Left there, it would be the source of the ping below (its prefix is the closer
        // match) and the network would drop it.
        let early = shell(["ip", "netns", "exec", rig.ns!.name, "ip", "-6", "addr", "add", "2001:db8:2::99/64", "dev", "wwan0",
                           "valid_lft", "600", "preferred_lft", "600"])
        XCTAssertEqual(early.status, 0, early.output)
        rig.start(["-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("removed 2001:db8:2::99/64, formed by the kernel from the network's router advertisement (not the call's /64"), rig.log)
        XCTAssertTrue(rig.waitLog("offers 2001:db8:2::/64, not the /64 of the modem's address (2409:8930:463:3daa::/64)", timeout: 10), rig.log)
        XCTAssertTrue(rig.waitLog("an MTU of 1000, below IPv6's minimum of 1280"), rig.log)
        let stillWorks = rig.ping(remote)
        XCTAssertEqual(stillWorks.status, 0, "the modem's address still works: \(stillWorks.output)\n\(rig.log)")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)

        let narrow = try DaemonRig(netns: true) { $0.ipv6Prefix = 96 }
        let narrowHost = try lanHost(narrow.ns!.name)
        narrow.start(["-6", "--ipv6-lan", "lan0"])
        XCTAssertTrue(narrow.waitLog("] connected"), narrow.log)
        XCTAssertTrue(narrow.log.contains("narrower than a /64"), narrow.log)
        XCTAssertNil(narrow.statusValue("ipv6_prefix"))
        narrow.signal(SIGTERM)
        XCTAssertEqual(narrow.waitExit(), 0, narrow.log)
        withExtendedLifetime(narrowHost) {}

        for (lan, words) in [("nosuch0", "no such network interface"), ("wwan0", "is the modem's own interface")] {
            let r = try DaemonRig(netns: true)
            r.start(["-6", "--ipv6-lan", lan])
            XCTAssertEqual(r.waitExit(), 2, r.log)
            XCTAssertTrue(r.log.contains(words), r.log)
        }
        XCTAssertTrue(qcm(["-4", "--ipv6-lan", "lan0"]).output.contains("give the PDN -6"))
    }
}
