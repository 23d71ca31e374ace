import Foundation
import XCTest
import Base
import CSystem
import QMISim
import TestSupport
import LinkConfig
@testable import QCM

/// IPv6 on an AT module's Ethernet link (UNISOC, ASR): the simulated module advertises the
/// call's /64 on the real TAP usb0 only while an IPv4v6 or IPv6 call is up, answers Neighbour
/// Solicitations for its addresses, and answers pings only from sources inside the /64.
final class ATIPv6Tests: XCTestCase {
    let prefix = "2408:841e:52f0:a2f4:"
    let moduleAddress = "2408:841e:52f0:a2f4:178f:7578:4e3d:7937"
    let remote = "2001:db8:ffff::1"

    func globalIPv6(_ rig: DaemonRig) -> [String] { ipAddresses(rig.ns!.name, "usb0").filter { $0.contains(":") } }

    /// Dual stack on UNISOC (EC200U) and IPv6 alone on ASR (EC200A): the address formed in the
    /// advertised /64 from the link-local interface identifier, the default route via the
    /// module's link-local address, the RA's DNS servers; pings to the module's address and
    /// beyond; after SIGTERM no address and no route are left, and the module is clean.
    func testDualStackAndIPv6AloneOverUsb0() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and a TAP usb0") }
        for (product, args) in [(ATSimConfig.Product.ec200u, ["-4", "-6"]), (.ec200a, ["-6"])] {
            let rig = try DaemonRig(netns: true, at: ATSimConfig.quick(product))
            let ns = rig.ns!.name
            rig.start(["-s", "cmnet", "-v"] + args)
            XCTAssertTrue(rig.waitLog("] connected"), rig.log)
            XCTAssertTrue(rig.log.contains("IPv6: the module advertises \(prefix):/64 (router fe80::"), rig.log)
            let v6 = globalIPv6(rig)
            XCTAssertEqual(v6.count, 1, "\(v6)\n\(rig.log)")
            XCTAssertTrue(v6.first?.hasPrefix(prefix) == true && v6.first?.hasSuffix("/64") == true, "\(v6)")
            XCTAssertEqual(rig.statusValue("ipv6"), v6.first)
            XCTAssertTrue(rig.log.contains("2408:8888:0:8888::8"), "the RA's DNS server: \(rig.log)")
            let routes = ipDefaultRoutes(ns, "-6")
            XCTAssertEqual(routes.count, 1, "\(routes)")
            XCTAssertTrue(routes.first?.hasPrefix("usb0 via fe80::") == true, "\(routes)")
            for target in [moduleAddress, remote] {
                let p = rig.ping(target, from: "usb0")
                XCTAssertEqual(p.status, 0, "\(target): \(p.output)\n\(rig.log)")
            }
            if args.contains("-4") {
                XCTAssertEqual(rig.ping("10.25.16.65", from: "usb0").status, 0, "IPv4 beside it")
                XCTAssertEqual(rig.ethernet?.offers, 1)
            } else {
                XCTAssertEqual(ipAddresses(ns, "usb0").filter { !$0.contains(":") }, [], "an IPv6 call: no IPv4")
                XCTAssertEqual(rig.ethernet?.offers, 0, "no DHCP for an IPv6 call")
                XCTAssertTrue(rig.atSim?.transcript.commands.contains("AT+CGPADDR=1") == true)
            }
            rig.signal(SIGTERM)
            XCTAssertEqual(rig.waitExit(), 0, rig.log)
            XCTAssertEqual(ipAddresses(ns, "usb0"), [], "nothing left on usb0")
            XCTAssertEqual(ipDefaultRoutes(ns, "-6"), [])
        }
    }

    /// An IPv4-only call brings no IPv6 (the module advertises nothing); an IPv6 call whose
    /// module never advertises fails cleanly, naming what was missing; a dual-stack call then
    /// goes on with IPv4.
    func testNoRouterAdvertisement() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and a TAP usb0") }
        let v4 = try DaemonRig(netns: true, at: ATSimConfig.quick(.ec200u))
        v4.start(["-s", "cmnet"])
        XCTAssertTrue(v4.waitLog("] connected"), v4.log)
        XCTAssertEqual(globalIPv6(v4), [])
        XCTAssertEqual(v4.ethernet?.routerAdvertisements, 0)
        v4.signal(SIGTERM)
        XCTAssertEqual(v4.waitExit(), 0, v4.log)

        let v6 = try DaemonRig(netns: true, at: ATSimConfig.quick(.ec200u))
        v6.ethernet?.advertisesIPv6 = false
        v6.start(["-s", "cmnet", "-6", "--max-retries", "1"])
        XCTAssertEqual(v6.waitExit(timeout: 30), 6, v6.log)
        XCTAssertTrue(v6.log.contains("no IPv6 on usb0: the module sent no router advertisement on usb0 in 10 s"), v6.log)
        XCTAssertTrue(v6.atSim?.isClean == true, "the call is stopped: \(v6.atSim?.transcript.commands ?? [])")
        XCTAssertEqual(ipAddresses(v6.ns!.name, "usb0"), [])

        let both = try DaemonRig(netns: true, at: ATSimConfig.quick(.ec200u))
        both.ethernet?.advertisesIPv6 = false
        both.start(["-s", "cmnet", "-4", "-6"])
        XCTAssertTrue(both.waitLog("] connected", timeout: 20), both.log)
        XCTAssertTrue(both.log.contains("IPv6: the module sent no router advertisement on usb0 in 10 s; connected with IPv4 only"), both.log)
        XCTAssertEqual(ipAddresses(both.ns!.name, "usb0"), ["10.25.16.79/27"])
        both.signal(SIGTERM)
        XCTAssertEqual(both.waitExit(), 0, both.log)
    }

    /// What qcm takes from an RA on the module's link, and what it refuses: only a router's
    /// (link-local sender, router lifetime above 0), only a usable /64 with A=1, only usable
    /// DNS servers. The address completes the /64 with the link-local interface identifier.
    func testWhatAnAdvertisementOffers() {
        let router = IPAddress("fe80::e5b:8fff:fe27:9a64")!, mine = IPAddress("fe80::11:22ff:fe33:4455")!
        func ra(_ prefix: String = "2408:841e:52f0:a2f4::", length: Int = 64, autonomous: Bool = true, valid: UInt32 = 86400,
                lifetime: UInt16 = 1800, dns: [String] = ["2408:8888::8"]) -> RouterAdvertisement {
            RouterAdvertisement(routerLifetime: lifetime,
                                prefixes: [AdvertisedPrefix(prefix: IPAddress(prefix)!, length: length, autonomous: autonomous, valid: valid, preferred: valid)],
                                dns: dns.compactMap { IPAddress($0) })
        }
        let offer = RouterOffer(ra(dns: ["2408:8888::8", "ff02::1", "::", "10.0.0.1"]), from: router, linkLocal: mine)
        XCTAssertEqual(offer?.address, IPAddress("2408:841e:52f0:a2f4:11:22ff:fe33:4455"))
        XCTAssertEqual(offer?.router, router)
        XCTAssertEqual(offer?.dns, [IPAddress("2408:8888::8")!], "only usable IPv6 servers")

        XCTAssertNil(RouterOffer(ra(), from: IPAddress("2408:841e:52f0:a2f4::1")!, linkLocal: mine), "a global sender: not a router's RA")
        XCTAssertNil(RouterOffer(ra(), from: IPAddress("ff02::1")!, linkLocal: mine), "a multicast sender")
        XCTAssertNil(RouterOffer(ra(lifetime: 0), from: router, linkLocal: mine), "not a default router")
        XCTAssertNil(RouterOffer(ra(length: 48), from: router, linkLocal: mine), "no SLAAC from a /48")
        XCTAssertNil(RouterOffer(ra(autonomous: false), from: router, linkLocal: mine), "not for autonomous addresses")
        XCTAssertNil(RouterOffer(ra(valid: 0), from: router, linkLocal: mine), "withdrawn")
        for bad in ["fe80::", "ff02::", "::"] {
            XCTAssertNil(RouterOffer(ra(bad), from: router, linkLocal: mine), "\(bad)/64 is no prefix for a host's own address")
        }
    }
}
