import CSystem

/// Small text helpers that stay clear of the Unicode tables (Embedded Swift links
/// them only when String case mapping or Character properties are used).
public enum Text {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lower-case hex, zero-padded to `width` digits: `hex(0x1a, 4)` → "001a".
    @inline(__always)
    public static func hex<T: BinaryInteger>(_ v: T, _ width: Int = 2) -> String {
        hex64(UInt64(truncatingIfNeeded: v), width)
    }

    /// The one body behind `hex` (a generic body would be compiled once per integer type).
    static func hex64(_ value: UInt64, _ width: Int) -> String {
        var n = value
        var out: [UInt8] = []
        while n > 0 || out.count < width {
            out.append(hexDigits[Int(n & 0xf)])
            n >>= 4
        }
        return String(decoding: out.reversed(), as: UTF8.self)
    }

    /// "01 0b 00" style dump (quectel-CM -v).
    public static func hexBytes(_ bytes: [UInt8], separator: String = " ") -> String {
        let sep = Array(separator.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * (2 + sep.count))
        for (i, b) in bytes.enumerated() {
            if i > 0 { out += sep }
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decimal<T: BinaryInteger>(_ v: T, width: Int) -> String {
        var s = String(v)
        while s.utf8.count < width { s = "0" + s }
        return s
    }

    /// A float as decimal text with at most two decimals: "-110.5", "3", "1.25e12" (a value
    /// of a billion or more gets an exponent), "nan", "inf". Embedded Swift prints no floats,
    /// and this needs no libm.
    public static func decimal(_ f: Float) -> String {
        if f.isNaN { return "nan" }
        if f.isInfinite { return f < 0 ? "-inf" : "inf" }
        var m = Double(f < 0 ? -f : f)
        var exponent = 0
        if m >= 1e9 {
            while m >= 10 { m /= 10; exponent += 1 }
        }
        let hundredths = UInt64(m * 100 + 0.5)
        var s = (f < 0 && hundredths != 0 ? "-" : "") + String(hundredths / 100)
        let fraction = hundredths % 100
        if fraction != 0 { s += fraction % 10 == 0 ? ".\(fraction / 10)" : fraction < 10 ? ".0\(fraction)" : ".\(fraction)" }
        if exponent > 0 { s += "e\(exponent)" }
        return s
    }

    public static func lowercasedASCII(_ s: String) -> String {
        String(decoding: s.utf8.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    public static func uppercasedASCII(_ s: String) -> String {
        String(decoding: s.utf8.map { ($0 >= 97 && $0 <= 122) ? $0 - 32 : $0 }, as: UTF8.self)
    }

    public static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        lowercasedASCII(a).equals(lowercasedASCII(b))
    }

    public static func trimmed(_ s: String) -> String {
        let u = Array(s.utf8)
        var lo = 0, hi = u.count
        while lo < hi, isSpace(u[lo]) { lo += 1 }
        while hi > lo, isSpace(u[hi - 1]) { hi -= 1 }
        return String(decoding: u[lo..<hi], as: UTF8.self)
    }

    @inline(__always) public static func isSpace(_ c: UInt8) -> Bool {
        c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12
    }

    /// Letters, digits and '_'.
    @inline(__always) public static func isWordByte(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95
    }

    public static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }

    /// Parses "0x1f", "1f" (hex when `hex` is true) or decimal; nil when not a number.
    public static func parseInt(_ s: String, hex: Bool = false) -> Int64? {
        var u = Array(s.utf8)
        var negative = false
        if u.first == 45 { negative = true; u.removeFirst() }
        var base: Int64 = hex ? 16 : 10
        if u.count > 2, u[0] == 48, u[1] == 120 || u[1] == 88 { base = 16; u.removeFirst(2) }
        if u.isEmpty || u.count > 18 { return nil }
        var v: Int64 = 0
        for c in u {
            guard let d = hexValue(c), Int64(d) < base else { return nil }
            v = v * base + Int64(d)
        }
        return negative ? -v : v
    }

    /// Splits on ASCII whitespace, dropping empty pieces.
    public static func words(_ s: String) -> [String] {
        var out: [String] = []
        var cur: [UInt8] = []
        for c in s.utf8 {
            if isSpace(c) {
                if !cur.isEmpty { out.append(String(decoding: cur, as: UTF8.self)); cur.removeAll(keepingCapacity: true) }
            } else {
                cur.append(c)
            }
        }
        if !cur.isEmpty { out.append(String(decoding: cur, as: UTF8.self)) }
        return out
    }

    /// Splits on one ASCII byte, keeping empty pieces.
    public static func split(_ s: String, on sep: UInt8) -> [String] {
        var out: [String] = []
        var cur: [UInt8] = []
        for c in s.utf8 {
            if c == sep { out.append(String(decoding: cur, as: UTF8.self)); cur.removeAll(keepingCapacity: true) } else { cur.append(c) }
        }
        out.append(String(decoding: cur, as: UTF8.self))
        return out
    }

    /// Printable form of bytes a modem called a string: non-printable bytes become \xNN.
    public static func printable(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        for b in bytes {
            if b >= 32 && b < 127 && b != 92 { out.append(b) } else if b == 92 { out += [92, 92] } else {
                out += [92, 120, hexDigits[Int(b >> 4)], hexDigits[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// JSON string literal with escapes.
    public static func jsonString(_ s: String) -> String {
        var out: [UInt8] = [34]
        for b in s.utf8 {
            switch b {
            case 34: out += [92, 34]
            case 92: out += [92, 92]
            case 10: out += [92, 110]
            case 13: out += [92, 114]
            case 9: out += [92, 116]
            case 0..<32: out += Array("\\u00".utf8) + [hexDigits[Int(b >> 4)], hexDigits[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(34)
        return String(decoding: out, as: UTF8.self)
    }

    public static func ipv4(_ v: UInt32) -> String { IPAddress(ipv4: v).text }

    /// RFC 5952 text form of a 16-byte IPv6 address.
    public static func ipv6(_ b: [UInt8]) -> String { IPAddress(b)?.text ?? "<bad ipv6>" }

    public static func parseIPv4(_ s: String) -> UInt32? { IPAddress.parse(s, length: 4).flatMap { IPAddress($0)?.ipv4 } }

    public static func parseIPv6(_ s: String) -> [UInt8]? { IPAddress.parse(s, length: 16) }

    /// Pads with spaces on the right to `width` (ASCII widths).
    public static func pad(_ s: String, _ width: Int) -> String {
        var r = s
        var n = s.utf8.count
        while n < width { r += " "; n += 1 }
        return r
    }
}

/// Byte-wise string comparison. Everything qcm compares (its own option words, interface
/// names, paths, sysfs attributes, QMI field names) is bytes to the kernel and ASCII in
/// practice; the standard library's `==`, `<`, `hasPrefix` and `hasSuffix` implement Unicode
/// canonical equivalence and would link about 45 KB of normalization tables and code into
/// the Embedded binary. The daemon modules use these instead (`scripts/build-embedded`
/// checks that no Unicode table is linked).
extension String {
    @inline(__always) public func equals(_ other: String) -> Bool { utf8.elementsEqual(other.utf8) }

    public func begins(with prefix: String) -> Bool { utf8.starts(with: prefix.utf8) }

    public func ends(with suffix: String) -> Bool {
        let n = utf8.count, k = suffix.utf8.count
        return n >= k && utf8.dropFirst(n - k).elementsEqual(suffix.utf8)
    }

    /// Byte order, for sorting.
    public func precedes(_ other: String) -> Bool { utf8.lexicographicallyPrecedes(other.utf8) }
}

/// A word compared byte for byte in a `switch`: `switch Word(arg) { case "-s", "--apn": ... }`.
public struct Word: ExpressibleByStringLiteral {
    public let text: String
    public init(_ text: String) { self.text = text }
    public init(stringLiteral text: String) { self.text = text }
    public static func ~= (pattern: Word, value: Word) -> Bool { pattern.text.equals(value.text) }
}

extension String {
    /// Splits on a multi-byte ASCII separator (no Foundation).
    public func components(_ sep: String) -> [String] {
        let s = Array(self.utf8), p = Array(sep.utf8)
        guard !p.isEmpty else { return [self] }
        var out: [String] = []
        var start = 0, i = 0
        while i + p.count <= s.count {
            if Array(s[i..<(i + p.count)]) == p {
                out.append(String(decoding: s[start..<i], as: UTF8.self))
                i += p.count
                start = i
            } else { i += 1 }
        }
        out.append(String(decoding: s[start...], as: UTF8.self))
        return out
    }
}

/// Domain names from the network (DHCP option 15, QMI) before they reach a file, a
/// script's environment or the log: RFC 1035 labels of letters, digits and hyphens, up to
/// 63 bytes each and 253 in all (underscores tolerated, as resolvers do; a final dot allowed).
public enum DNSName {
    public static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 253, u.first != 46, u.first != 45 else { return false }
        var label = 0
        for c in u {
            if c == 46 {                                       // '.'
                if label == 0 { return false }
                label = 0
                continue
            }
            guard (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 else { return false }
            label += 1
            if label > 63 { return false }
        }
        return true
    }
}
