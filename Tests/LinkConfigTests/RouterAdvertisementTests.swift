import XCTest
import Base
@testable import LinkConfig

/// Router Advertisements: the bytes, qcm's timers (RFC 4861), and what qcm says about the
/// network's.
final class RouterAdvertisementTests: XCTestCase {
    let prefix = IPAddress("2409:8930:463:3daa::")!
    let dns = IPAddress("2409:8030:2000::1")!

    func testEncodeDecodeRoundTrip() throws {
        let ra = RouterAdvertisement(routerLifetime: 1800, prefixes: [AdvertisedPrefix(prefix: prefix, valid: 3600, preferred: 1800)],
                                     mtu: 1500, dns: [dns], domains: ["example.net"], dnsLifetime: 1800)
        let bytes = ra.encode()
        XCTAssertEqual(bytes[0], 134)
        XCTAssertEqual(bytes.count % 8, 0, "options are whole 8-byte units")
        let back = try XCTUnwrap(RouterAdvertisement.decode(bytes))
        XCTAssertEqual(back.routerLifetime, 1800)
        XCTAssertEqual(back.prefixes, ra.prefixes)
        XCTAssertEqual(back.mtu, 1500)
        XCTAssertEqual(back.dns, [dns])
        // Prefix Information: length 64, L and A set.
        let pio = try XCTUnwrap((16..<bytes.count).first { bytes[$0] == 3 && bytes[$0 + 1] == 4 })
        XCTAssertEqual(bytes[pio + 2], 64)
        XCTAssertEqual(bytes[pio + 3], 0xc0)
        // Cut short or with a zero-length option: not an RA.
        XCTAssertNil(RouterAdvertisement.decode(Array(bytes.prefix(20))))
        var zero = bytes
        zero[17] = 0
        XCTAssertNil(RouterAdvertisement.decode(zero))
        XCTAssertNil(RouterAdvertisement.decode([133, 0, 0, 0, 0, 0, 0, 0]))
    }

    func sends(_ out: [RAMachine.Output]) -> [RouterAdvertisement] {
        out.compactMap { if case .send(let ra) = $0 { return ra }; return nil }
    }

    /// A new prefix: an RA at once, then the initial ones 16 s apart, then every 200-600 s.
    func testTimers() {
        var r: UInt32 = 0
        let m = RAMachine(sourceMAC: nil) { r &+= 7919; return r }
        let first = sends(m.advertise(RAMachine.Grant(prefix: prefix, dns: [dns], mtu: 1500), now: 0))
        XCTAssertEqual(first.count, 1)
        XCTAssertEqual(first[0].routerLifetime, RAMachine.routerLifetime)
        XCTAssertEqual(first[0].prefixes.first?.preferred, RAMachine.preferredLifetime)
        XCTAssertEqual(m.deadline, 2_000)
        var now: Int64 = 2_000
        _ = m.timeout(now: now)
        XCTAssertEqual(m.deadline, 10_000)
        now = 10_000
        _ = m.timeout(now: now)
        let d = m.deadline ?? 0
        XCTAssertTrue(d >= now + RAMachine.minIntervalMs && d <= now + RAMachine.maxIntervalMs, "\(d - now)")
        // The same grant again changes nothing.
        XCTAssertTrue(m.advertise(RAMachine.Grant(prefix: prefix, dns: [dns], mtu: 1500), now: now + 10).isEmpty)
        // A solicitation: answered within half a second, not within 3 s of the last RA.
        m.solicited(now: now + 1000)
        XCTAssertEqual(m.deadline, now + RAMachine.minBetweenMs)
        m.solicited(now: now + 10_000)
        XCTAssertLessThanOrEqual(m.deadline ?? 0, now + RAMachine.minBetweenMs)
    }

    /// The call ends: deprecated at once, router lifetime 0; a redial's new prefix: the old one
    /// stays in the next RAs, deprecated.
    func testWithdrawAndNewPrefix() {
        let m = RAMachine(sourceMAC: nil) { 0 }
        _ = m.advertise(RAMachine.Grant(prefix: prefix), now: 0)
        let gone = sends(m.withdraw(now: 1000))
        XCTAssertEqual(gone.first?.routerLifetime, 0)
        XCTAssertEqual(gone.first?.prefixes, [AdvertisedPrefix(prefix: prefix, valid: 0, preferred: 0)])
        let next = IPAddress("2409:8930:463:3dab::")!
        let moved = sends(m.advertise(RAMachine.Grant(prefix: next), now: 2000))
        XCTAssertEqual(moved.first?.routerLifetime, RAMachine.routerLifetime)
        XCTAssertEqual(moved.first?.prefixes.map { $0.prefix }, [next, prefix])
        XCTAssertEqual(moved.first?.prefixes.last?.preferred, 0)
        for t in 1...4 { _ = m.timeout(now: 2000 + Int64(t) * 10_000) }
        XCTAssertEqual(m.current.prefixes.map { $0.prefix }, [next], "the old prefix is left out after a few RAs")
    }

    /// The network's RA, checked against the modem's /64: one message per kind of problem.
    func testNetworkAdvertisementProblems() {
        func problems(_ ra: RouterAdvertisement) -> [String] {
            NetworkRAWatcher.problems(ra, expected: prefix, interface: "wwan0").map { $0.0 }
        }
        let good = RouterAdvertisement(routerLifetime: 9000, prefixes: [AdvertisedPrefix(prefix: prefix, onLink: false, valid: .max, preferred: .max)], mtu: 1500)
        XCTAssertEqual(problems(good), [])
        var other = good
        other.prefixes[0].prefix = IPAddress("2001:db8:2::")!
        XCTAssertEqual(problems(other), ["prefix"])
        var long = good
        long.prefixes[0].length = 96
        XCTAssertEqual(problems(long), ["length"])
        var dead = good
        dead.prefixes[0].valid = 0
        XCTAssertEqual(problems(dead), ["withdrawn"])
        var small = good
        small.mtu = 1000
        XCTAssertEqual(problems(small), ["mtu"])
        XCTAssertTrue(NetworkRAWatcher.problems(other, expected: prefix, interface: "wwan0")[0].1.contains("2001:db8:2::/64"))
    }
}
