import XCTest
import Base
@testable import MBIMCore
import MBIMMessages

final class CodecTests: XCTestCase {
    typealias C = MBIMCatalogue

    func testConnectSetIsLaidOutAsMbimcliSendsIt() {
        // mbimcli --connect="apn=internet,ip-type=ipv4v6,auth=pap,username=u,password=p": 84 bytes.
        let b = C.Connect.set.encode([.number(0), .number(1), .text("internet"), .text("u"), .text("p"), .number(0), .number(1),
                                      .number(3), .uuid(.contextInternet)])
        XCTAssertEqual(b.count, 84)
        let r = Reader(b)
        XCTAssertEqual(r.u32(8), 60); XCTAssertEqual(r.u32(12), 16)      // AccessString {60, 16}
        XCTAssertEqual(r.u32(16), 76); XCTAssertEqual(r.u32(20), 2)      // UserName {76, 2}
        XCTAssertEqual(r.u32(24), 80); XCTAssertEqual(r.u32(28), 2)      // Password {80, 2}
        XCTAssertEqual(Array(b[44..<48]), [0x7e, 0x5e, 0x2a, 0x7e], "UUIDs go out in printed order")
        guard case .success(let v) = C.Connect.set.decode(b) else { return XCTFail() }
        let set = MBIM.Connect.Set(values: v)
        XCTAssertEqual(set.accessString, "internet")
        XCTAssertEqual(set.password, "p")
        XCTAssertTrue(C.Connect.set.describe(v).contains("Password='***'"))
    }

    func testIPConfigurationRoundTrip() {
        let a = IPAddress("10.0.0.2")!, g = IPAddress("10.0.0.1")!, d = IPAddress("8.8.8.8")!
        let b = C.IPConfiguration.layout.encode([.number(0), .number(15), .number(0), .number(0), .addresses([MBIMAddress(prefix: 24, address: a)]),
                                                 .number(0), .addresses([]), .addresses([MBIMAddress(g)]), .addresses([]), .number(0),
                                                 .addresses([MBIMAddress(d)]), .number(0),
                                                 .addresses([]), .number(1500), .number(0)])
        XCTAssertEqual(Reader(b).u32(16), 60, "first address right after the 60-byte fixed part")
        XCTAssertEqual(Reader(b).u32(28), 68)
        XCTAssertEqual(Reader(b).u32(40), 72)
        guard case .success(let v) = C.IPConfiguration.layout.decode(b) else { return XCTFail() }
        let ip = MBIM.IPConfiguration.Response(values: v)
        XCTAssertEqual(ip.ipv4Address.first?.address.text, "10.0.0.2")
        XCTAssertEqual(ip.ipv4Address.first?.prefix, 24)
        XCTAssertEqual(ip.ipv4Gateway?.text, "10.0.0.1")
        XCTAssertEqual(ip.ipv4DNSServer.map { $0.text }, ["8.8.8.8"])
        XCTAssertEqual(ip.ipv4MTU, 1500)
    }

    func testSignalAndPacketStatistics() {
        XCTAssertEqual(C.SignalState.dBm(0), -113)
        XCTAssertEqual(C.SignalState.dBm(20), -73)
        XCTAssertEqual(C.SignalState.dBm(31), -51)
        XCTAssertNil(C.SignalState.dBm(99), "unknown")
        XCTAssertNil(C.SignalState.dBm(32), "out of range is no value either")
        XCTAssertEqual(C.SignalState.set.encode([.number(0), .number(2), .number(0xffff_ffff)]),
                       [0, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
        // Two u32, four u64, two u32: 48 bytes, little-endian, no padding.
        let b = C.PacketStatistics.response.encode([.number(1), .number(2), .number(0x1_0000_0003), .number(4), .number(5), .number(6),
                                                    .number(7), .number(8)])
        XCTAssertEqual(b.count, 48)
        XCTAssertEqual(Array(b[8..<16]), [3, 0, 0, 0, 1, 0, 0, 0])
        XCTAssertEqual(Reader(b).u32(44), 8)
        guard case .success(let v) = C.PacketStatistics.response.decode(b) else { return XCTFail() }
        let stats = MBIM.PacketStatistics.Response(values: v)
        XCTAssertEqual(stats.inOctets, 0x1_0000_0003)
        XCTAssertEqual(stats.outPackets, 6)
        XCTAssertEqual(stats.outDiscards, 8)
        XCTAssertNotNil(C.find(.basicConnect, C.PacketStatistics.cid), "in the catalogue: the trace names it")
    }

    func testHostileBuffersAreRefusedNotTrusted() {
        // A string pointing outside the buffer, an odd UTF-16 size, counts larger than the data.
        var b = C.Register.response.encode([.number(0), .number(3), .number(1), .number(0x20), .number(1), .text("46001"), .text("X"), .text(nil), .number(0)])
        b[28] = 0xf0                                                                    // ProviderName offset far away
        guard case .failure(let e) = C.Register.response.decode(b) else { return XCTFail("accepted") }
        XCTAssertTrue(e.description.contains("ProviderName"), e.description)
        var odd = C.Register.response.encode([.number(0), .number(3), .number(1), .number(0x20), .number(1), .text("46001"), .text(nil), .text(nil), .number(0)])
        odd[24] = 9
        guard case .failure = C.Register.response.decode(odd) else { return XCTFail("odd UTF-16 size accepted") }
        var many = C.IPConfiguration.layout.encode([.number(0), .number(1), .number(0), .number(0), .addresses([MBIMAddress(prefix: 24, address: IPAddress("10.0.0.2")!)])])
        many[12] = 200                                                                  // 200 addresses claimed
        guard case .failure = C.IPConfiguration.layout.decode(many) else { return XCTFail("count beyond the buffer accepted") }
        XCTAssertEqual(MBIMText.string([0x41, 0, 0x0a, 0, 0x1b, 0]), "A\\x0a\\x1b", "control characters never come out raw")
        // C1 controls (CSI U+009B) and bidi overrides (U+202E) neither: the rule QMI's strings follow.
        XCTAssertEqual(MBIMText.string([0x45, 0, 0x9b, 0, 0x32, 0, 0x2e, 0x20, 0x78, 0]), "E\\x9b2\\u{202e}x")
        guard case .failure = C.DeviceCaps.response.decode([1, 2, 3]) else { return XCTFail("short buffer accepted") }
    }

    func testFramingFragmentsAndErrors() {
        let big = [UInt8](repeating: 0x55, count: 9000)
        var m = MBIMMessage.command(.basicConnect, 12, set: true, big, tid: 7)
        let frags = m.encode(maxTransfer: 4096)
        XCTAssertEqual(frags.count, 3)
        XCTAssertTrue(frags.allSatisfy { $0.count <= 4096 })
        var payload: [UInt8] = []
        for (i, f) in frags.enumerated() {
            guard case .success(let x) = MBIMMessage.fragment(f) else { return XCTFail() }
            XCTAssertEqual(x.current, UInt32(i)); XCTAssertEqual(x.total, 3); XCTAssertEqual(x.transactionID, 7)
            payload += x.payload
        }
        guard case .success(let whole) = MBIMMessage.assemble(kind: .command, transactionID: 7, payload: payload) else { return XCTFail() }
        XCTAssertEqual(whole.buffer, big)
        XCTAssertTrue(whole.isSet)
        m.buffer = []
        let small = m.encode()[0]
        XCTAssertEqual(small.count, 48)
        guard case .success = MBIMMessage.decode(small) else { return XCTFail() }
        // Lengths that lie, unknown types, fragment numbers that cannot be.
        var lying = small
        lying[44] = 200                                                                 // InformationBufferLength 200 in a 48-byte message
        guard case .failure(let e1) = MBIMMessage.decode(lying) else { return XCTFail() }
        XCTAssertTrue(e1.description.contains("exceeds"), e1.description)
        var type = small
        type[0] = 9
        guard case .failure = MBIMMessage.decode(type) else { return XCTFail() }
        var frag = small
        frag[16] = 5                                                                    // fragment 5 of 1
        guard case .failure = MBIMMessage.decode(frag) else { return XCTFail() }
        XCTAssertEqual(MBIMTrace.describe(MBIMMessage(kind: .functionError, transactionID: 3, value: 5)), "MBIM FUNCTION_ERROR tid 3 Error=NotOpened")
        var unknown = MBIMMessage.command(MBIMUUID([UInt8](repeating: 0xab, count: 16)), 99, set: false, [1, 2, 3, 4])
        unknown.transactionID = 4
        XCTAssertTrue(MBIMTrace.describe(unknown).contains("abababab-abab-abab-abab-abababababab CID 99 query"), MBIMTrace.describe(unknown))
    }
}

final class MBIMFuzzTests: XCTestCase {
    /// Random and mutated messages never trap (the engine's input is the modem's).
    func testArbitraryBytesNeverTrap() {
        var state: UInt64 = 42
        func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        let seeds: [[UInt8]] = MBIMCatalogue.all.compactMap { e in
            e.response.map { MBIMMessage.command(e.service, e.cid, set: false, $0.encode([]), tid: 1).encode()[0] }
        }
        for i in 0..<20_000 {
            var b: [UInt8]
            if i % 2 == 0, let s = seeds.randomElement() {
                b = s
                for _ in 0..<(1 + Int(next() % 6)) where !b.isEmpty { b[Int(next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: next()) }
            } else {
                b = (0..<Int(next() % 160)).map { _ in UInt8(truncatingIfNeeded: next()) }
            }
            MBIMFuzz.one(b)
        }
    }
}
