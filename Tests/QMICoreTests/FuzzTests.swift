import Base
import XCTest
@testable import QMICore
import QMIMessages

/// Deterministic randomized robustness: nothing a modem (or a pasted log) sends may trap.
final class FuzzTests: XCTestCase {
    func validFrames(_ rng: inout SplitMix64) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        for spec in QMICatalogue.all {
            for kind in [QMIKind.request, .response, .indication] {
                if kind == .indication && spec.indication == nil { continue }
                var m = QMIMessage(service: spec.service, clientID: 1, kind: kind, transactionID: 1, messageID: spec.id)
                for t in spec.tlvs(for: kind) { try m.set(t.name, sampleValue(t.value, &rng)) }
                out.append(m.encode())
            }
        }
        return out
    }

    func exercise(_ bytes: [UInt8]) {
        guard let m = try? QMIMessage.decode(bytes) else { return }
        _ = QMITrace.describe(m)
        _ = QMITrace.quectelLine(m)
        _ = QMITrace.masked(m).encode()
        _ = m.result
        if let spec = m.spec {
            for t in spec.tlvs(for: m.kind) { _ = try? m.value(t.name) }
        }
    }

    func testHundredThousandRandomAndMutatedFrames() throws {
        var rng = SplitMix64(seed: 0x5eed)
        let seeds = try validFrames(&rng)
        var decodedOK = 0
        for i in 0..<100_000 {
            var b: [UInt8]
            switch i % 4 {
            case 0: // pure noise
                b = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if !b.isEmpty && Bool.random(using: &rng) { b[0] = 1 }
            case 1: // noise with a consistent QMUX length
                let n = Int.random(in: 12...90, using: &rng)
                b = [1, UInt8((n - 1) & 0xff), UInt8((n - 1) >> 8)] + (3..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default: // mutated valid frame: flips, truncation, extension, length fiddling
                b = seeds.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    switch Int.random(in: 0...4, using: &rng) {
                    case 0: if !b.isEmpty { b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
                    case 1: b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
                    case 2: b += (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    case 3: if b.count > 13 { b[11] = UInt8.random(in: 0...255, using: &rng) }  // SDU length
                    default: if b.count > 15 { b[14] = UInt8.random(in: 0...255, using: &rng) } // a TLV length
                    }
                }
                // keep the QMUX length consistent half of the time so deeper layers get exercised
                if b.count >= 3 && Bool.random(using: &rng) {
                    b[1] = UInt8((b.count - 1) & 0xff)
                    b[2] = UInt8((b.count - 1) >> 8)
                }
            }
            if (try? QMIMessage.decode(b)) != nil { decodedOK += 1 }
            exercise(b)
            if i % 10 == 0 {
                _ = HexScan.scan(line: Text.hexBytes(b))
                _ = HexScan.scan(line: String(decoding: b, as: UTF8.self))
            }
        }
        // Sanity: the mutations must not be so destructive that nothing decodes.
        XCTAssertGreaterThan(decodedOK, 3_000)
    }

    func testFrameReaderOnRandomChunks() throws {
        var rng = SplitMix64(seed: 7)
        let seeds = try validFrames(&rng)
        var stream: [UInt8] = []
        var expected: [[UInt8]] = []
        for _ in 0..<500 {
            let f = seeds.randomElement(using: &rng)!
            stream += f
            expected.append(f)
        }
        var r = FrameReader()
        var got: [[UInt8]] = []
        var i = 0
        while i < stream.count {
            let n = min(Int.random(in: 1...300, using: &rng), stream.count - i)
            r.append(Array(stream[i..<(i + n)]))
            i += n
            while let item = r.next() {
                if case let .frame(f) = item { got.append(f) } else { XCTFail("garbage in a clean stream") }
            }
        }
        XCTAssertEqual(got, expected)
    }
}
