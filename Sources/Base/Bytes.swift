/// A read past the end of the bytes: what was being read, how much it needed, what was left.
public struct Truncated: Error, Equatable {
    public let what: String
    public let needed: Int
    public let available: Int
}

/// Bounds-checked little-endian reading and writing: everything that parses bytes from a
/// modem goes through `ByteReader`, which throws instead of trapping.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        let e = min(end ?? bytes.count, bytes.count)
        self.end = max(e, 0)
        self.offset = min(max(start, 0), self.end)
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    @inline(__always)
    mutating func need(_ n: Int, _ what: String) throws(Truncated) {
        if n < 0 || remaining < n {
            throw Truncated(what: what, needed: n, available: remaining)
        }
    }

    public mutating func u8(_ what: String = "byte") throws(Truncated) -> UInt8 {
        try need(1, what)
        let v = bytes[offset]
        offset += 1
        return v
    }

    public mutating func u16(_ what: String = "16-bit value") throws(Truncated) -> UInt16 {
        try need(2, what)
        let v = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
        offset += 2
        return v
    }

    public mutating func u32(_ what: String = "32-bit value") throws(Truncated) -> UInt32 {
        try need(4, what)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    public mutating func u64(_ what: String = "64-bit value") throws(Truncated) -> UInt64 {
        try need(8, what)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    public mutating func take(_ n: Int, _ what: String = "bytes") throws(Truncated) -> [UInt8] {
        try need(n, what)
        let v = Array(bytes[offset..<(offset + n)])
        offset += n
        return v
    }

    public mutating func rest() -> [UInt8] {
        let v = Array(bytes[offset..<end])
        offset = end
        return v
    }
}

public struct ByteWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }
    public mutating func u32(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
    public mutating func u64(_ v: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
    public mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    /// Network byte order, for IP protocols.
    public mutating func u16be(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    public mutating func u32be(_ v: UInt32) {
        for i in (0..<4).reversed() { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }

    /// Overwrites a little-endian u16 already written at `index` (length fields).
    public mutating func patchU16(at index: Int, _ v: UInt16) {
        bytes[index] = UInt8(truncatingIfNeeded: v)
        bytes[index + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
}
