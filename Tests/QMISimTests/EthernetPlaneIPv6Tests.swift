import Foundation
import XCTest
import Base
import LinkConfig
@testable import QMISim

/// The module as IPv6 router of its Ethernet link, frame by frame without a TAP (no root):
/// its RA (read back with qcm's own RA decoder), its answers to Neighbour Solicitations, and
/// the network's rule on pings — only from inside the call's /64, never a link-local source
/// to a global address, nothing while the call has no IPv6.
final class EthernetPlaneIPv6Tests: XCTestCase {
    let host: [UInt8] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]
    let module = EthernetPlane.defaultMAC
    let moduleAddress = Text.parseIPv6("2408:841e:52f0:a2f4:178f:7578:4e3d:7937")!
    let hostAddress = Text.parseIPv6("2408:841e:52f0:a2f4::42")!
    let hostLinkLocal = Text.parseIPv6("fe80::11:22ff:fe33:4455")!
    let moduleLinkLocal = Text.parseIPv6("fe80::e5b:8fff:fe27:9a64")!
    let dns = [Text.parseIPv6("2408:8888::8")!]

    func plane() throws -> EthernetPlane {
        let p = try EthernetPlane(name: "usb0", moduleMAC: module, natRouter: false, tap: nil)
        p.ipv6Up(address: moduleAddress, dns: dns)
        return p
    }

    func frame(to mac: [UInt8], from source: [UInt8], to destination: [UInt8], icmp: [UInt8]) -> [UInt8] {
        mac + host + [0x86, 0xdd] + DataPlane.ipv6Packet(source: source, destination: destination, hopLimit: 255, icmp: icmp)
    }

    func solicitation(from source: [UInt8]) -> [UInt8] {
        frame(to: [0x33, 0x33, 0, 0, 0, 2], from: source, to: Text.parseIPv6("ff02::2")!, icmp: [133, 0, 0, 0, 0, 0, 0, 0])
    }

    func neighbour(_ target: [UInt8], from source: [UInt8], mac: [UInt8]? = nil) -> [UInt8] {
        frame(to: [0x33, 0x33, 0xff] + Array(target[13..<16]), from: source, to: [0xff, 0x02] + [UInt8](repeating: 0, count: 9) + [1, 0xff] + Array(target[13..<16]),
              icmp: [135, 0, 0, 0, 0, 0, 0, 0] + target + (mac.map { [1, 1] + $0 } ?? []))
    }

    func ping(from source: [UInt8], to destination: [UInt8]) -> [UInt8] {
        frame(to: module, from: source, to: destination, icmp: [128, 0, 0, 0, 0x12, 0x34, 0, 1] + Array("qmi-sim".utf8))
    }

    func testTheRouterAdvertisementOffersTheCallsSlash64() throws {
        let p = try plane()
        XCTAssertEqual(p.routerAdvertisements, 1, "one on call up")
        let out = p.handle(solicitation(from: hostLinkLocal))
        XCTAssertEqual(out.count, 1, "\(p.drops)")
        let f = try XCTUnwrap(out.first)
        XCTAssertEqual(Array(f[0..<6]), [0x33, 0x33, 0, 0, 0, 1], "to all nodes")
        XCTAssertEqual(Array(f[6..<12]), module)
        XCTAssertEqual(Array(f[14 + 8..<14 + 24]), moduleLinkLocal, "from the module's link-local address")
        XCTAssertEqual(f[14 + 7], 255, "hop limit 255, or hosts ignore it")
        let ra = try XCTUnwrap(RouterAdvertisement.decode(Array(f[(14 + 40)...])))
        XCTAssertGreaterThan(ra.routerLifetime, 0)
        XCTAssertEqual(ra.prefixes.count, 1)
        XCTAssertEqual(ra.prefixes.first?.prefix, IPAddress(moduleAddress)?.prefix64)
        XCTAssertEqual(ra.prefixes.first?.length, 64)
        XCTAssertEqual(ra.prefixes.first?.autonomous, true)
        XCTAssertEqual(ra.prefixes.first?.onLink, true, "an Ethernet link: the /64 is on it")
        XCTAssertEqual(ra.sourceMAC, module)
        XCTAssertEqual(ra.dns, dns.compactMap { IPAddress($0) })
        XCTAssertEqual(p.routerSolicitations, 1)
    }

    func testNeighbourSolicitationsForTheModulesAddressesOnly() throws {
        let p = try plane()
        for target in [moduleLinkLocal, moduleAddress] {
            let out = p.handle(neighbour(target, from: hostLinkLocal))
            XCTAssertEqual(out.count, 1, "\(p.drops)")
            let f = try XCTUnwrap(out.first)
            XCTAssertEqual(Array(f[0..<6]), host, "answered to the asker")
            XCTAssertEqual(f[14 + 40], 136)
            XCTAssertEqual(f[14 + 44] & 0x40, 0x40, "solicited")
            XCTAssertEqual(Array(f[(14 + 48)..<(14 + 64)]), target)
            XCTAssertEqual(Array(f[(14 + 66)..<(14 + 72)]), module, "the module's MAC in the target link-layer option")
        }
        XCTAssertEqual(p.handle(neighbour(hostAddress, from: hostLinkLocal)).count, 0)
        XCTAssertTrue(p.drops.last?.contains("not one of the module's addresses") == true, "\(p.drops)")
    }

    func advertisement(_ target: [UInt8], mac: [UInt8]) -> [UInt8] {
        frame(to: module, from: target, to: moduleLinkLocal, icmp: [136, 0, 0, 0, 0x60, 0, 0, 0] + target + [2, 1] + mac)
    }

    /// As a router does, the module sends a reply to an address only once Neighbour Discovery
    /// found its MAC: the reply waits for the answer to the module's solicitation, and goes to
    /// the MAC the answer named (a board that proxies for its LAN host names its own).
    func testRepliesWaitForNeighbourDiscovery() throws {
        let p = try plane()
        let lanHost = Text.parseIPv6("2408:841e:52f0:a2f4::77")!
        let asked = p.handle(ping(from: lanHost, to: p.ipv6Remote))
        XCTAssertEqual(asked.count, 1, "\(p.drops)")
        let ns = try XCTUnwrap(asked.first)
        XCTAssertEqual(Array(ns[0..<6]), [0x33, 0x33, 0xff, 0, 0, 0x77], "to the target's solicited-node group")
        XCTAssertEqual(ns[14 + 40], 135)
        XCTAssertEqual(Array(ns[(14 + 48)..<(14 + 64)]), lanHost)
        let board: [UInt8] = [0x02, 0xbb, 0, 0, 0, 1]
        let released = p.handle(advertisement(lanHost, mac: board))
        XCTAssertEqual(released.count, 1)
        XCTAssertEqual(released.first.map { Array($0[0..<6]) }, board)
        XCTAssertEqual(released.first?[14 + 40], 129)
        XCTAssertEqual(p.handle(ping(from: lanHost, to: p.ipv6Remote)).first?[14 + 40], 129, "known now: answered at once")
    }

    func testPingsOnlyFromInsideTheSlash64() throws {
        let p = try plane()
        let remote = p.ipv6Remote
        // The host resolved the module first: its solicitation carried its MAC.
        _ = p.handle(neighbour(moduleLinkLocal, from: hostAddress, mac: host))
        _ = p.handle(neighbour(moduleLinkLocal, from: hostLinkLocal, mac: host))
        for destination in [moduleAddress, remote] {
            let out = p.handle(ping(from: hostAddress, to: destination))
            XCTAssertEqual(out.count, 1, "\(p.drops)")
            XCTAssertEqual(out.first?[14 + 40], 129, "an echo reply")
            XCTAssertEqual(out.first.map { Array($0[(14 + 8)..<(14 + 24)]) }, destination)
        }
        XCTAssertEqual(p.handle(ping(from: hostLinkLocal, to: moduleLinkLocal)).count, 1, "link-local to link-local")

        XCTAssertEqual(p.handle(ping(from: Text.parseIPv6("2001:db8:9::1")!, to: remote)).count, 0)
        XCTAssertTrue(p.drops.last?.contains("outside the call's 2408:841e:52f0:a2f4::/64") == true, "\(p.drops)")
        XCTAssertEqual(p.handle(ping(from: hostLinkLocal, to: remote)).count, 0)
        XCTAssertTrue(p.drops.last?.contains("is link-local") == true, "\(p.drops)")
        XCTAssertEqual(p.handle(ping(from: hostAddress, to: Text.parseIPv6("2001:db8:ffff::2")!)).count, 0)
    }

    func testNothingWithoutAnIPv6CallAndMalformedFramesNeverTrap() throws {
        let p = try EthernetPlane(name: "usb0", moduleMAC: module, natRouter: false, tap: nil)
        p.callUp(address: 0x0a19_104f, prefix: 27, gateway: 0x0a19_1041, dns: [])
        XCTAssertEqual(p.handle(solicitation(from: hostLinkLocal)).count, 0, "an IPv4 call: the module advertises nothing")
        XCTAssertTrue(p.drops.last?.contains("the call has no IPv6") == true, "\(p.drops)")
        XCTAssertEqual(p.routerAdvertisements, 0)

        let q = try plane()
        q.callDown()
        XCTAssertEqual(q.handle(ping(from: hostAddress, to: moduleAddress)).count, 0, "the call is down")
        let good = ping(from: hostAddress, to: moduleAddress)
        let r = try plane()
        for n in 0..<good.count { _ = r.handle(Array(good[0..<n])) }
        var lying = good
        lying[18] = 0xff                                    // a payload length past the frame
        XCTAssertEqual(r.handle(lying).count, 0)
        XCTAssertEqual(r.handle(frame(to: module, from: hostAddress, to: moduleAddress, icmp: [135, 0, 0, 0, 0, 0, 0, 0])).count, 0,
                       "a neighbour solicitation without its target")
    }
}
