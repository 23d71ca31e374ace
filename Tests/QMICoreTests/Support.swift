import Base
import Foundation
import XCTest
@testable import QMICore

func fixture(_ name: String) -> String {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    return dir.appendingPathComponent(name).path
}

func hex(_ s: String) -> [UInt8] {
    s.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// Deterministic PRNG (SplitMix64) so randomized tests replay exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A representative value for any catalogue type (used for round trips).
func sampleValue(_ t: QMIType, _ rng: inout SplitMix64) -> QMIValue {
    switch t {
    case .u8: return .uint(UInt64.random(in: 0...0xff, using: &rng))
    case .u16: return .uint(UInt64.random(in: 0...0xffff, using: &rng))
    case .u32: return .uint(UInt64.random(in: 0...0xffff_ffff, using: &rng))
    case .u64: return .uint(rng.next())
    case .i8: return .int(Int64.random(in: -128...127, using: &rng))
    case .i16: return .int(Int64.random(in: -32768...32767, using: &rng))
    case .i32: return .int(Int64(Int32.random(in: .min ... .max, using: &rng)))
    case .f32: return .uint(UInt64(UInt32.random(in: 0 ... .max, using: &rng)))
    case .boolean: return .bool(Bool.random(using: &rng))
    case let .enumeration(width, e, signed):
        let bits = Int64(width.rawValue * 8)
        let fits: (Int64) -> Bool = { v in
            if bits == 64 { return true }
            return signed ? (v >= -(1 << (bits - 1)) && v < (1 << (bits - 1))) : (v >= 0 && v < (1 << bits))
        }
        let v = e.cases.filter { fits($0.0) }.randomElement(using: &rng)!.0
        return signed ? .int(v) : .uint(UInt64(v))
    case let .flags(_, e):
        return .uint(UInt64(bitPattern: e.cases.map { $0.0 }.reduce(0, |) & 0xff))
    case .string, .string8, .string16: return .string(["3gnet", "cmnet", "", "internet.example", "héllo"].randomElement(using: &rng)!)
    case let .fixedString(n): return .string(String("460001".prefix(n)))
    case let .fixedBytes(n): return .bytes((0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
    case .ipv4: return .ipv4(UInt32.random(in: 0 ... .max, using: &rng))
    case .ipv6: return .ipv6((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) })
    case .bytes, .bytes8: return .bytes((0..<Int.random(in: 0...6, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
    case let .structure(fields): return .structure(fields.map { sampleValue($0.type, &rng) })
    case let .array8(el), let .array16(el):
        return .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in sampleValue(el, &rng) })
    }
}
