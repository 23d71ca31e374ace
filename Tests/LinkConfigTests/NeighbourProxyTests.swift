import Foundation
import XCTest
import Base
@testable import LinkConfig

/// What qcm answers for the LAN behind an AT module (RFC 7278 over an Ethernet link): the
/// module's Neighbour Solicitations for addresses of the /64 other than qcm's own, and nothing
/// else; malformed frames never trap.
final class NeighbourProxyTests: XCTestCase {
    let board: [UInt8] = [0x02, 0xbb, 0, 0, 0, 1]
    let module: [UInt8] = [0x0c, 0x5b, 0x8f, 0x27, 0x9a, 0x64]
    let boardLinkLocal = IPAddress("fe80::bb:ff:fe00:1")!
    let moduleLinkLocal = IPAddress("fe80::e5b:8fff:fe27:9a64")!
    let prefix = IPAddress("2408:841e:52f0:a2f4::")!
    let own = IPAddress("2408:841e:52f0:a2f4:bb:ff:fe00:1")!
    let lanHost = IPAddress("2408:841e:52f0:a2f4::77")!

    func solicitation(for target: IPAddress, from source: IPAddress? = nil, hops: UInt8 = 255, option: Bool = true) -> [UInt8] {
        let src = source ?? moduleLinkLocal
        var icmp: [UInt8] = [135, 0, 0, 0, 0, 0, 0, 0] + target.bytes + (option ? [1, 1] + module : [])
        let group: [UInt8] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff] + Array(target.bytes[13..<16])
        var pseudo = src.bytes + group + [0, 0, 0, UInt8(icmp.count), 0, 0, 0, 58]
        pseudo += icmp
        let c = internetChecksum(pseudo[...])
        icmp[2] = UInt8(c >> 8); icmp[3] = UInt8(c & 0xff)
        return [0x33, 0x33] + Array(group[12..<16]) + module + [0x86, 0xdd]
            + [0x60, 0, 0, 0, 0, UInt8(icmp.count), 58, hops] + src.bytes + group + icmp
    }

    func answer(_ f: [UInt8]) -> [UInt8]? {
        NeighbourProxy.answer(f, mac: board, linkLocal: boardLinkLocal, prefix: prefix, own: [own])
    }

    func testAnswersForTheLANsAddressesWithTheBoardsMAC() throws {
        let na = try XCTUnwrap(answer(solicitation(for: lanHost)))
        XCTAssertEqual(Array(na[0..<6]), module, "to the asker")
        XCTAssertEqual(Array(na[6..<12]), board)
        XCTAssertEqual(na[14 + 7], 255)
        XCTAssertEqual(Array(na[(14 + 8)..<(14 + 24)]), boardLinkLocal.bytes)
        XCTAssertEqual(Array(na[(14 + 24)..<(14 + 40)]), moduleLinkLocal.bytes)
        XCTAssertEqual(na[14 + 40], 136)
        XCTAssertEqual(na[14 + 44], 0xc0, "router and solicited, not override (a proxy's answer)")
        XCTAssertEqual(Array(na[(14 + 48)..<(14 + 64)]), lanHost.bytes)
        XCTAssertEqual(Array(na[(14 + 64)..<(14 + 72)]), [2, 1] + board, "the board's MAC as the target's")
        // The checksum over the pseudo-header comes out zero.
        let icmp = Array(na[(14 + 40)...])
        let pseudo = Array(na[(14 + 8)..<(14 + 40)]) + [0, 0, 0, UInt8(icmp.count), 0, 0, 0, 58] + icmp
        XCTAssertEqual(internetChecksum(pseudo[...]), 0)
        XCTAssertNotNil(answer(solicitation(for: lanHost, option: false)), "without the option: the frame's sender")
    }

    func testLeavesAloneWhatIsNotItsToAnswer() {
        XCTAssertNil(answer(solicitation(for: own)), "the kernel answers for qcm's own address")
        XCTAssertNil(answer(solicitation(for: IPAddress("2408:841e:52f0:ffff::77")!)), "outside the /64")
        XCTAssertNil(answer(solicitation(for: moduleLinkLocal)), "link-local: not the LAN's")
        XCTAssertNil(answer(solicitation(for: lanHost, from: IPAddress("::")!)), "a duplicate address check")
        XCTAssertNil(answer(solicitation(for: lanHost, hops: 64)), "not from the link (hop limit below 255)")
        var own = solicitation(for: lanHost)
        own.replaceSubrange(6..<12, with: board)
        XCTAssertNil(answer(own), "the board's own solicitation, seen going out")
    }

    func testMalformedFramesNeverTrap() {
        let good = solicitation(for: lanHost)
        for n in 0..<good.count { _ = answer(Array(good[0..<n])) }
        var long = good
        long[19] = 0xff
        XCTAssertNil(answer(long), "a payload length past the frame")
        var zeroOption = good
        zeroOption[14 + 64 + 1] = 0
        XCTAssertNil(answer(zeroOption), "an option of length 0")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var f = good
            f[Int.random(in: 12..<f.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = answer(f)
        }
    }
}
