import Base
import XCTest
@testable import DHCPClient

let mac: [UInt8] = [0x02, 0x50, 0xf4, 0x00, 0x00, 0x01]

/// A BOOTREPLY as a server builds it, assembled field by field from RFC 2131/2132.
func reply(_ type: UInt8, xid: UInt32 = 0x1234_5678, yiaddr: [UInt8] = [10, 77, 0, 50], chaddr: [UInt8] = mac,
           extra: [UInt8] = []) -> [UInt8] {
    var b: [UInt8] = [2, 1, 6, 0, UInt8(xid >> 24), UInt8(xid >> 16 & 0xff), UInt8(xid >> 8 & 0xff), UInt8(xid & 0xff),
                      0, 0, 0, 0]
    b += [0, 0, 0, 0] + yiaddr + [10, 77, 0, 1] + [0, 0, 0, 0]
    b += chaddr + [UInt8](repeating: 0, count: 10) + [UInt8](repeating: 0, count: 192)
    b += [99, 130, 83, 99]
    b += [53, 1, type, 54, 4, 10, 77, 0, 1, 51, 4, 0, 0, 0x0e, 0x10, 1, 4, 255, 255, 255, 0,
          3, 4, 10, 77, 0, 1, 6, 8, 10, 77, 0, 1, 8, 8, 8, 8, 15, 7] + Array("example".utf8) + [26, 2, 0x05, 0xdc]
    b += extra
    b.append(255)
    return b
}

final class PacketTests: XCTestCase {
    func testDiscoverBytes() {
        let m = DHCPMachine(mac: mac) { 0x1234_5678 }
        guard case .broadcast(let p)? = m.start(now: 0).first else { return XCTFail() }
        let b = p.encode()
        XCTAssertEqual(b.count, 300)
        XCTAssertEqual(Array(b[0..<12]), [1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0])   // op htype hlen hops xid secs flags
        XCTAssertEqual(Array(b[12..<28]), [UInt8](repeating: 0, count: 16))                   // ci/yi/si/giaddr
        XCTAssertEqual(Array(b[28..<34]), mac)
        XCTAssertEqual(Array(b[236..<240]), [99, 130, 83, 99])
        XCTAssertEqual(Array(b[240..<258]), [53, 1, 1,                                         // DISCOVER
                                             61, 7, 1] + mac + [                               // client id
                                             57, 2, 0x05, 0xdc,                                // max size 1500
                                             55, 12])                                          // parameter list
        XCTAssertEqual(Array(b[258..<270]), [1, 3, 6, 12, 15, 26, 28, 42, 51, 54, 58, 59])
        XCTAssertEqual(b[270], 255)
        XCTAssertEqual(try DHCPPacket.parse(b), p)
    }

    func testParseOffer() throws {
        let p = try DHCPPacket.parse(reply(2))
        XCTAssertEqual(p.op, 2)
        XCTAssertEqual(p.messageType, .offer)
        XCTAssertEqual(p.yiaddr, 0x0a4d_0032)
        XCTAssertEqual(p.address(DHCPOption.serverID), 0x0a4d_0001)
        XCTAssertEqual(p.seconds(DHCPOption.leaseTime), 3600)
        XCTAssertEqual(p.addresses(DHCPOption.dns), [0x0a4d_0001, 0x0808_0808])
        XCTAssertEqual(p.option(DHCPOption.domainName), Array("example".utf8))
    }

    func testFrameRoundTripAndChecksums() throws {
        let payload = reply(5)
        let f = DHCPFrame.build(payload: payload, srcMAC: [2, 0, 0, 0, 0, 9], dstMAC: mac, srcIP: 0x0a4d_0001, dstIP: 0x0a4d_0032,
                                srcPort: 67, dstPort: 68)
        XCTAssertEqual(Array(f[12..<14]), [0x08, 0x00])
        XCTAssertEqual(internetChecksum(f[14..<34]), 0, "IPv4 header checksum verifies")
        var pseudo: [UInt8] = [10, 77, 0, 1, 10, 77, 0, 50, 0, 17, UInt8((f.count - 34) >> 8), UInt8((f.count - 34) & 0xff)]
        pseudo += f[34...]
        XCTAssertEqual(internetChecksum(pseudo[...]), 0, "UDP checksum verifies")
        let r = try DHCPFrame.parse(f)
        XCTAssertEqual(r.packet.messageType, .ack)
        XCTAssertEqual(r.srcMAC, [2, 0, 0, 0, 0, 9])
        XCTAssertEqual(r.srcIP, 0x0a4d_0001)
    }

    func testMalformedInputIsRejectedNotTrapped() {
        func err(_ b: [UInt8]) -> String? {
            do { _ = try DHCPPacket.parse(b); return nil } catch { return error.description }
        }
        XCTAssertEqual(err([1, 2, 3]), "malformed DHCP packet: 3 bytes, a DHCP message has at least 240")
        var bad = reply(2); bad[236] = 0
        XCTAssertEqual(err(bad), "malformed DHCP packet: bad magic cookie")
        var noEnd = reply(2); noEnd.removeLast()
        XCTAssertEqual(err(noEnd), "malformed DHCP packet: no end option")
        XCTAssertEqual(err(Array(reply(2).prefix(242))), "malformed DHCP packet: option 53 claims 1 bytes, only 0 left")
        XCTAssertEqual(err(Array(reply(2).prefix(249)) + [51, 200, 1, 2]),                   // overlong option
                       "malformed DHCP packet: option 51 claims 200 bytes, only 2 left")
        XCTAssertEqual(err(Array(reply(2).prefix(249)) + [51]), "malformed DHCP packet: option 51 has no length byte")
        var noType = reply(2); noType[240] = 12                                              // message type becomes hostname
        XCTAssertEqual(err(noType), "malformed DHCP packet: no (valid) message type option")
        var ether = DHCPFrame.build(payload: reply(2), srcMAC: mac, dstMAC: mac, srcIP: 1, dstIP: 2, srcPort: 67, dstPort: 68)
        ether[24] ^= 0xff
        XCTAssertThrowsError(try DHCPFrame.parse(ether)) { e in
            XCTAssertEqual((e as? DHCPError)?.description, "malformed DHCP packet: bad IPv4 header checksum")
        }
        let toServer = DHCPFrame.build(payload: reply(2), srcMAC: mac, dstMAC: mac, srcIP: 1, dstIP: 2, srcPort: 68, dstPort: 67)
        XCTAssertThrowsError(try DHCPFrame.parse(toServer))
    }

    func testHundredThousandMutatedPacketsNeverTrap() {
        var rng = UInt64(0xdc0)
        func next() -> UInt64 { rng &+= 0x9E37_79B9_7F4A_7C15; var z = rng; z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; return z ^ (z >> 27) }
        let seeds = [reply(2), reply(5), reply(6, extra: [56, 4] + Array("nope".utf8))]
        let machine = DHCPMachine(mac: mac) { 0x1234_5678 }
        _ = machine.start(now: 0)
        var parsed = 0
        for i in 0..<100_000 {
            var b = seeds[i % seeds.count]
            for _ in 0..<(1 + Int(next() % 4)) {
                switch next() % 4 {
                case 0: b[Int(next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: next())
                case 1: b = Array(b.prefix(Int(next() % UInt64(b.count + 1))))
                case 2: if b.count > 241 { b[240 + Int(next() % UInt64(b.count - 240))] = UInt8(truncatingIfNeeded: next()) }
                default: b += (0..<Int(next() % 8)).map { _ in UInt8(truncatingIfNeeded: next()) }
                }
                if b.isEmpty { b = [0] }
            }
            if let p = try? DHCPPacket.parse(b) {
                parsed += 1
                _ = machine.receive(DHCPFrame.Received(packet: p, srcMAC: mac, srcIP: 1), now: 0)
                _ = p.encode()
            }
            let f = DHCPFrame.build(payload: b, srcMAC: mac, dstMAC: mac, srcIP: 1, dstIP: 2, srcPort: 67, dstPort: 68)
            var g = f
            g[Int(next() % UInt64(g.count))] = UInt8(truncatingIfNeeded: next())
            _ = try? DHCPFrame.parse(g)
        }
        XCTAssertGreaterThan(parsed, 1000, "the mutations still reach the option parser")
    }
}
