import Foundation
import XCTest
import Base
import CSystem
import DHCPClient
@testable import QMISim

/// The module's side of the USB Ethernet link, frame by frame and without a TAP (no root):
/// what it answers while the call is up, what it leaves unanswered and why. Its DHCP server
/// is also run against qcm's own client state machine.
final class EthernetPlaneTests: XCTestCase {
    let host: [UInt8] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]
    let other: [UInt8] = [0x02, 0x66, 0x77, 0x88, 0x99, 0xaa]
    let module = EthernetPlane.defaultMAC
    // The RG801H capture: 10.25.16.79/27, gateway 10.25.16.65, DNS 211.138.180.2 and .3.
    let address: UInt32 = 0x0a19_104f, gateway: UInt32 = 0x0a19_1041
    let dns: [UInt32] = [0xd38a_b402, 0xd38a_b403]

    func plane(nat: Bool = false, up: Bool = true) throws -> EthernetPlane {
        let p = try EthernetPlane(name: "usb0", moduleMAC: module, natRouter: nat, tap: nil)
        if up { p.callUp(address: address, prefix: 27, gateway: gateway, dns: dns, mtu: 1400, leaseSeconds: 600) }
        return p
    }

    // MARK: frames a host sends

    func dhcp(_ type: DHCPMessageType, from mac: [UInt8]? = nil, xid: UInt32 = 7, requested: UInt32? = nil, server: UInt32? = nil,
              ciaddr: UInt32 = 0, broadcastFlag: Bool = false, toMAC: [UInt8]? = nil, toIP: UInt32 = 0xffff_ffff) -> [UInt8] {
        let p = DHCPPacket()
        p.xid = xid
        p.chaddr = mac ?? host
        p.ciaddr = ciaddr
        p.broadcast = broadcastFlag
        p.set(DHCPOption.messageType, [type.rawValue])
        if let r = requested { p.set(DHCPOption.requestedIP, bigEndian(r)) }
        if let s = server { p.set(DHCPOption.serverID, bigEndian(s)) }
        return DHCPFrame.build(payload: p.encode(), srcMAC: mac ?? host, dstMAC: toMAC ?? DHCPFrame.broadcastMAC, srcIP: ciaddr, dstIP: toIP)
    }

    func arp(op: UInt8 = 1, sender: UInt32, target: UInt32, to dst: [UInt8] = DHCPFrame.broadcastMAC) -> [UInt8] {
        dst + host + [0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, op] + host + bigEndian(sender) + [0, 0, 0, 0, 0, 0] + bigEndian(target)
    }

    func ping(from source: UInt32, to destination: UInt32, toMAC: [UInt8]? = nil) -> [UInt8] {
        var icmp: [UInt8] = [8, 0, 0, 0, 0x12, 0x34, 0, 1] + Array("qmi-sim".utf8)
        let c = internetChecksum(icmp[...])
        icmp[2] = UInt8(c >> 8); icmp[3] = UInt8(c & 0xff)
        let total = 20 + icmp.count
        var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), 0, 1, 0x40, 0, 64, 1, 0, 0]
        ip += bigEndian(source) + bigEndian(destination)
        let h = internetChecksum(ip[...])
        ip[10] = UInt8(h >> 8); ip[11] = UInt8(h & 0xff)
        return (toMAC ?? module) + host + [0x08, 0x00] + ip + icmp
    }

    /// The one DHCP reply to `frame`, unwrapped as the client reads it.
    func reply(_ p: EthernetPlane, _ frame: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> (DHCPFrame.Received, [UInt8]) {
        let out = p.handle(frame)
        XCTAssertEqual(out.count, 1, "drops: \(p.drops)", file: file, line: line)
        let f = try XCTUnwrap(out.first, file: file, line: line)
        return (try DHCPFrame.parse(f), f)
    }

    // MARK: tests

    func testDownAnswersNothing() throws {
        let p = try plane(up: false)
        XCTAssertEqual(p.handle(dhcp(.discover)), [])
        XCTAssertEqual(p.handle(arp(sender: address, target: gateway)), [])
        XCTAssertEqual(p.handle(ping(from: address, to: gateway)), [])
        XCTAssertEqual(p.drops.count, 3)
        XCTAssertEqual(p.drops.first, "DHCP DISCOVER (sender 02:11:22:33:44:55): the call is down, and nothing on the module answers")
        XCTAssertEqual(p.offers, 0)
        XCTAssertFalse(p.isUp)
        XCTAssertFalse(p.carrierFollowsCall, "no TAP: no carrier to set")
    }

    func testDiscoverRequestAckReleaseWithTheCarrierAddress() throws {
        let p = try plane()
        let (offer, offerFrame) = try reply(p, dhcp(.discover))
        XCTAssertEqual(offer.packet.messageType, .offer)
        XCTAssertEqual(offer.packet.yiaddr, address)
        XCTAssertEqual(offer.packet.address(DHCPOption.serverID), gateway)
        XCTAssertEqual(offer.packet.address(DHCPOption.subnetMask), 0xffff_ffe0)
        XCTAssertEqual(offer.packet.addresses(DHCPOption.router), [gateway])
        XCTAssertEqual(offer.packet.addresses(DHCPOption.dns), dns)
        XCTAssertEqual(offer.packet.option(DHCPOption.mtu), [0x05, 0x78])
        XCTAssertEqual(offer.packet.seconds(DHCPOption.leaseTime), 600)
        XCTAssertEqual(offer.srcMAC, module)
        XCTAssertEqual(offer.srcIP, gateway)
        // No broadcast flag: unicast to the offered address at the client's MAC.
        XCTAssertEqual(Array(offerFrame[0..<6]), host)
        XCTAssertEqual(Array(offerFrame[30..<34]), bigEndian(address))

        let (ack, _) = try reply(p, dhcp(.request, xid: 8, requested: address, server: gateway))
        XCTAssertEqual(ack.packet.messageType, .ack)
        XCTAssertEqual(ack.packet.xid, 8)
        XCTAssertEqual(p.lease?.mac, host)
        XCTAssertEqual(p.lease?.address, address)

        // Renewal: unicast from the leased address to the server, at the module's MAC.
        let (renewed, renewedFrame) = try reply(p, dhcp(.request, xid: 9, ciaddr: address, toMAC: module, toIP: gateway))
        XCTAssertEqual(renewed.packet.messageType, .ack)
        XCTAssertEqual(renewed.packet.ciaddr, address)
        XCTAssertEqual(Array(renewedFrame[30..<34]), bigEndian(address), "to ciaddr")

        XCTAssertEqual(p.handle(dhcp(.release, xid: 10, server: gateway, ciaddr: address, toMAC: module, toIP: gateway)), [])
        XCTAssertNil(p.lease)
        XCTAssertEqual([p.offers, p.acks, p.naks, p.releases], [1, 2, 0, 1])
        XCTAssertEqual(p.drops, [])
    }

    func testBroadcastFlagAndNaks() throws {
        let p = try plane()
        let (_, offer) = try reply(p, dhcp(.discover, broadcastFlag: true))
        XCTAssertEqual(Array(offer[0..<6]), DHCPFrame.broadcastMAC)
        XCTAssertEqual(Array(offer[30..<34]), [255, 255, 255, 255])

        // Another address, INIT-REBOOT style: NAK, always broadcast.
        let (nak, nakFrame) = try reply(p, dhcp(.request, requested: 0x0a00_0005))
        XCTAssertEqual(nak.packet.messageType, .nak)
        XCTAssertEqual(nak.packet.yiaddr, 0)
        XCTAssertEqual(Array(nakFrame[0..<6]), DHCPFrame.broadcastMAC)
        XCTAssertEqual(nak.packet.option(DHCPOption.message).map { String(decoding: $0, as: UTF8.self) },
                       "requested 10.0.0.5; the module leases 10.25.16.79")
        XCTAssertNil(p.lease)

        // The one address is leased: a second host is NAKed, and its DISCOVER goes unanswered.
        _ = try reply(p, dhcp(.request, requested: address, server: gateway))
        XCTAssertEqual(try reply(p, dhcp(.request, from: other, requested: address)).0.packet.messageType, .nak)
        XCTAssertEqual(p.handle(dhcp(.discover, from: other)), [])
        XCTAssertEqual(p.drops.last, "DHCP DISCOVER from 02:66:77:88:99:aa: the module's one address is leased to 02:11:22:33:44:55")
        XCTAssertEqual(p.naks, 2)
        // Once that lease has ended, the second host gets it.
        let now = csys_monotonic_ms()
        p.clock = { now + 601_000 }
        XCTAssertEqual(try reply(p, dhcp(.discover, from: other)).0.packet.yiaddr, address)

        // A REQUEST for another server's offer: the host chose that one; silence.
        XCTAssertEqual(p.handle(dhcp(.request, requested: 0x0a00_0005, server: 0x0a00_0001)), [])
        XCTAssertEqual(p.drops.last, "DHCP REQUEST from 02:11:22:33:44:55: the host chose server 10.0.0.1, not 10.25.16.65")
    }

    func testRouterModeHandsOutTheModulesLAN() throws {
        let p = try plane(nat: true)
        let (offer, _) = try reply(p, dhcp(.discover))
        XCTAssertEqual(Text.ipv4(offer.packet.yiaddr), "192.168.42.2")
        XCTAssertEqual(offer.packet.address(DHCPOption.subnetMask), 0xffff_ff00)
        XCTAssertEqual(offer.packet.addresses(DHCPOption.router).map(Text.ipv4), ["192.168.42.1"])
        XCTAssertEqual(offer.packet.addresses(DHCPOption.dns).map(Text.ipv4), ["192.168.42.1"])
        XCTAssertEqual(offer.packet.address(DHCPOption.serverID).map(Text.ipv4), "192.168.42.1")
        // The gateway is the module's LAN address; the carrier's answers nothing.
        XCTAssertEqual(p.handle(arp(sender: EthernetPlane.natHost, target: EthernetPlane.natGateway)).count, 1)
        XCTAssertEqual(p.handle(ping(from: EthernetPlane.natHost, to: EthernetPlane.natGateway)).count, 1)
        XCTAssertEqual(p.handle(ping(from: address, to: gateway)), [])
        // Back to NAT 0: the carrier address again.
        p.natRouter = false
        XCTAssertEqual(try reply(p, dhcp(.discover)).0.packet.yiaddr, address)
    }

    func testArpAndPingOnlyForTheGatewayFromTheLeasedAddress() throws {
        let p = try plane()
        let answer = try XCTUnwrap(p.handle(arp(sender: address, target: gateway)).first)
        XCTAssertEqual(Array(answer[0..<6]), host)
        XCTAssertEqual(Array(answer[6..<12]), module)
        XCTAssertEqual(Array(answer[20..<22]), [0, 2], "an ARP reply")
        XCTAssertEqual(Array(answer[22..<28]), module, "the gateway is at the module's MAC")
        XCTAssertEqual(Array(answer[28..<32]), bigEndian(gateway))
        XCTAssertEqual(p.handle(arp(sender: 0x0a19_1050, target: gateway)), [])
        XCTAssertEqual(p.drops.last, "ARP request for 10.25.16.65 from 10.25.16.80: the sender is not 10.25.16.79, the address the module leases")
        XCTAssertEqual(p.handle(arp(sender: address, target: 0x0a19_1042)), [])
        XCTAssertEqual(p.handle(arp(op: 2, sender: address, target: gateway)), [])

        let echo = try XCTUnwrap(p.handle(ping(from: address, to: gateway)).first)
        XCTAssertEqual(Array(echo[0..<12]), host + module)
        XCTAssertEqual(echo[34], 0, "an echo reply")
        XCTAssertEqual(Array(echo[26..<34]), bigEndian(gateway) + bigEndian(address))
        XCTAssertEqual(internetChecksum(echo[14..<34]), 0)
        XCTAssertEqual(internetChecksum(echo[34...]), 0)
        XCTAssertEqual(p.echoesAnswered, 1)
        XCTAssertEqual(p.arpReplies, 1)

        XCTAssertEqual(p.handle(ping(from: 0x0a19_1050, to: gateway)), [])
        XCTAssertEqual(p.drops.last, "ping to 10.25.16.65 from 10.25.16.80: its source is not 10.25.16.79, the address the module leases: the module drops it")
        XCTAssertEqual(p.handle(ping(from: address, to: 0x0808_0808)), [])
        XCTAssertEqual(p.drops.last, "ping to 8.8.8.8 from 10.25.16.79: only the gateway 10.25.16.65 answers (nothing behind it is simulated)")
        XCTAssertEqual(p.handle(ping(from: address, to: gateway, toMAC: DHCPFrame.broadcastMAC)), [])
        XCTAssertEqual(p.handle(ping(from: address, to: gateway, toMAC: other)), [])
        XCTAssertEqual(p.drops.last, "ping to 10.25.16.65 from 10.25.16.79: sent to 02:66:77:88:99:aa, not to the module's 0c:5b:8f:27:9a:64")
        XCTAssertEqual(p.echoesAnswered, 1)

        p.callDown()
        XCTAssertEqual(p.handle(ping(from: address, to: gateway)), [])
        XCTAssertEqual(p.drops.last, "ping to 10.25.16.65 from 10.25.16.79 (sender 02:11:22:33:44:55): the call is down, and nothing on the module answers")
    }

    /// Damaged frames are dropped with a reason, never trapped on: truncations, bit flips and
    /// random bytes.
    func testMalformedFramesNeverTrap() throws {
        let p = try plane()
        XCTAssertEqual(p.handle([]), [])
        XCTAssertEqual(p.drops.last, "a 0-byte frame: shorter than an Ethernet header")
        var bad = ping(from: address, to: gateway)
        bad[17] = 200
        XCTAssertEqual(p.handle(bad), [])
        XCTAssertEqual(p.drops.last, "IPv4 length 200 does not fit a 49-byte frame")
        bad = ping(from: address, to: gateway)
        bad[24] ^= 1
        XCTAssertEqual(p.handle(bad), [])
        XCTAssertEqual(p.drops.last, "IPv4 header checksum is wrong")
        XCTAssertEqual(p.handle(Array(dhcp(.discover).prefix(60))), [])
        XCTAssertEqual(p.handle(module + host + [0x86, 0xdd] + [UInt8](repeating: 0, count: 40)), [])
        XCTAssertEqual(p.drops.last, "IPv6 in a 54-byte frame: too short for ICMPv6")

        var rng = SystemRandomNumberGenerator()
        let seeds = [dhcp(.discover), dhcp(.request, requested: address, server: gateway), arp(sender: address, target: gateway),
                     ping(from: address, to: gateway)]
        for _ in 0..<3000 {
            var f = seeds.randomElement(using: &rng)!
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: f = Array(f.prefix(Int.random(in: 0...f.count, using: &rng)))
            case 1: for _ in 0..<Int.random(in: 1...4, using: &rng) { f[Int.random(in: 0..<f.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            default: f = (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            _ = p.handle(f)
        }
        XCTAssertEqual(p.drops.count, 50, "bounded")
    }

    /// qcm's DHCP client state machine against the module's server: DISCOVER to bound, a
    /// renewal at T1, the release.
    func testQcmsClientMachineGetsRenewsAndReleasesTheLease() throws {
        let p = try plane()
        var xid: UInt32 = 1
        let m = DHCPMachine(mac: host) { xid &+= 1; return xid }
        var now: Int64 = 1000
        var events: [DHCPMachine.Event] = []
        func run(_ outputs: [DHCPMachine.Output]) throws {
            var pending = outputs
            while !pending.isEmpty {
                let o = pending.removeFirst()
                switch o {
                case let .broadcast(q):
                    for r in p.handle(DHCPFrame.build(payload: q.encode(), srcMAC: host, dstMAC: DHCPFrame.broadcastMAC, srcIP: q.ciaddr, dstIP: 0xffff_ffff)) {
                        pending += m.receive(try DHCPFrame.parse(r), now: now)
                    }
                case let .unicast(q, mac, ip):
                    for r in p.handle(DHCPFrame.build(payload: q.encode(), srcMAC: host, dstMAC: mac, srcIP: q.ciaddr, dstIP: ip)) {
                        pending += m.receive(try DHCPFrame.parse(r), now: now)
                    }
                case let .event(e): events.append(e)
                case .log: break
                }
            }
        }
        try run(m.start(now: now))
        guard case .bound(let lease)? = events.last else { return XCTFail("\(events) \(p.drops)") }
        XCTAssertEqual(lease.address, address)
        XCTAssertEqual(lease.prefix, 27)
        XCTAssertEqual(lease.routers, [gateway])
        XCTAssertEqual(lease.dns, dns)
        XCTAssertEqual(lease.mtu, 1400)
        XCTAssertEqual(lease.serverMAC, module)
        now = lease.renewAt
        try run(m.timeout(now: now))
        guard case .renewed? = events.last else { return XCTFail("\(events) \(p.drops)") }
        XCTAssertEqual(m.state, .bound)
        try run(m.release(now: now))
        XCTAssertNil(p.lease)
        XCTAssertEqual([p.offers, p.acks, p.releases], [1, 2, 1])
        XCTAssertEqual(p.drops, [])
    }

    func testRefusesAMulticastModuleMAC() {
        XCTAssertThrowsError(try EthernetPlane(name: "usb0", moduleMAC: [0x01, 0, 0x5e, 0, 0, 1], natRouter: false, tap: nil))
    }
}
