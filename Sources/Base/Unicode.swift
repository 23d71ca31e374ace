/// Unicode the daemon needs without the stdlib's Unicode tables: reading and building UTF-8,
/// reading UTF-16LE (operator names from QMI and MBIM arrive so), and the one rule for what
/// text from outside may show.
extension Text {
    /// Characters text from outside (a modem, a network, a file) never shows as they are:
    /// C0 and C1 controls and DEL (they add lines, move the cursor, drive a terminal), and the
    /// invisible format characters that reorder or hide what follows — the bidi marks,
    /// embeddings, overrides and isolates (U+061C, U+200E/F, U+202A–E, U+2066–9) and the line
    /// and paragraph separators (U+2028/9).
    public static func isUnsafeToShow(_ v: UInt32) -> Bool {
        v < 0x20 || (v >= 0x7f && v <= 0x9f) || v == 0x061c || v == 0x200e || v == 0x200f
            || (v >= 0x2028 && v <= 0x202e) || (v >= 0x2066 && v <= 0x2069)
    }

    /// Appends scalar `v` as UTF-8, or, when it is unsafe to show, as an escape: \xNN below
    /// U+0100, \u{XXXX} above.
    public static func appendShown(_ v: UInt32, to out: inout [UInt8]) {
        guard isUnsafeToShow(v) else { return appendUTF8(v, to: &out) }
        out += v < 0x100 ? Array("\\x\(hex(UInt8(v)))".utf8) : Array("\\u{\(hex(UInt16(v), 4))}".utf8)
    }

    /// `s` as it may be shown: every scalar `isUnsafeToShow` escapes. The one sanitiser of
    /// strings from every protocol (QMI, MBIM, AT) before they reach a log, a trace or a status.
    public static func shown(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { isUnsafeToShow($0.value) }) else { return s }
        var out: [UInt8] = []
        for u in s.unicodeScalars { appendShown(u.value, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The multi-byte UTF-8 sequence starting at `b[i]` (a lead byte of 0x80 or more): its
    /// scalar and length, or nil when it is cut short, overlong, a surrogate or beyond
    /// U+10FFFF.
    public static func utf8Scalar(_ b: [UInt8], at i: Int) -> (value: UInt32, length: Int)? {
        let c = b[i]
        let n: Int, minimum: UInt32
        var v: UInt32
        if c & 0xe0 == 0xc0 { n = 1; v = UInt32(c & 0x1f); minimum = 0x80 }
        else if c & 0xf0 == 0xe0 { n = 2; v = UInt32(c & 0x0f); minimum = 0x800 }
        else if c & 0xf8 == 0xf0 { n = 3; v = UInt32(c & 0x07); minimum = 0x10000 }
        else { return nil }
        guard i + n < b.count else { return nil }
        for k in 1...n {
            let d = b[i + k]
            guard d & 0xc0 == 0x80 else { return nil }
            v = v << 6 | UInt32(d & 0x3f)
        }
        if v < minimum || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) { return nil }
        return (v, n + 1)
    }

    /// Appends scalar `v` as UTF-8.
    public static func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0x80..<0x800: out += [UInt8(0xc0 | v >> 6), UInt8(0x80 | v & 0x3f)]
        case 0x800..<0x10000: out += [UInt8(0xe0 | v >> 12), UInt8(0x80 | v >> 6 & 0x3f), UInt8(0x80 | v & 0x3f)]
        default: out += [UInt8(0xf0 | v >> 18), UInt8(0x80 | v >> 12 & 0x3f), UInt8(0x80 | v >> 6 & 0x3f), UInt8(0x80 | v & 0x3f)]
        }
    }

    /// The scalars of UTF-16LE bytes (a trailing odd byte is ignored): surrogate pairs are
    /// joined; an unpaired surrogate is nil, for the caller to refuse or replace.
    public static func utf16LEScalars(_ b: [UInt8]) -> [UInt32?] {
        var out: [UInt32?] = []
        var i = 0
        while i + 1 < b.count {
            let u = UInt32(b[i]) | UInt32(b[i + 1]) << 8
            i += 2
            if u >= 0xd800 && u <= 0xdbff, i + 1 < b.count {
                let low = UInt32(b[i]) | UInt32(b[i + 1]) << 8
                if low >= 0xdc00 && low <= 0xdfff {
                    i += 2
                    out.append(0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00))
                    continue
                }
            }
            out.append(u >= 0xd800 && u <= 0xdfff ? nil : u)
        }
        return out
    }
}
