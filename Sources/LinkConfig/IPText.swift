/// Address text conversions for LinkConfig (kept local: LinkConfig depends on CSystem only).
enum IPText {
    static func parseIPv4(_ s: String) -> UInt32? {
        var v: UInt32 = 0, part: UInt32 = 0, digits = 0, dots = 0
        for c in s.utf8 {
            if c == 46 {
                guard digits > 0 else { return nil }
                v = v << 8 | part
                part = 0; digits = 0; dots += 1
            } else if c >= 48 && c <= 57 {
                part = part * 10 + UInt32(c - 48)
                digits += 1
                guard part <= 255, digits <= 3 else { return nil }
            } else { return nil }
        }
        guard dots == 3, digits > 0 else { return nil }
        return v << 8 | part
    }

    static func parseIPv6(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.contains(58) else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        var sawGap = false
        var i = 0
        if u.count >= 2 && u[0] == 58 && u[1] == 58 { sawGap = true; i = 2 }
        var cur: UInt32 = 0, n = 0
        func push() -> Bool {
            guard n > 0 && n <= 4 else { return false }
            if sawGap { tail.append(UInt16(cur)) } else { head.append(UInt16(cur)) }
            cur = 0; n = 0
            return true
        }
        while i < u.count {
            let c = u[i]
            if c == 58 {
                guard push() else { return nil }
                if i + 1 < u.count && u[i + 1] == 58 {
                    guard !sawGap else { return nil }
                    sawGap = true
                    i += 1
                }
            } else {
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 97...102: d = UInt32(c - 87)
                case 65...70: d = UInt32(c - 55)
                default: return nil
                }
                cur = cur << 4 | d
                n += 1
            }
            i += 1
        }
        if n > 0 { guard push() else { return nil } } else if !(u.last == 58 && sawGap && u.count >= 2 && u[u.count - 2] == 58) { return nil }
        let total = head.count + tail.count
        guard sawGap ? total <= 7 : total == 8 else { return nil }
        let groups = head + [UInt16](repeating: 0, count: 8 - total) + tail
        var out: [UInt8] = []
        for g in groups { out.append(UInt8(g >> 8)); out.append(UInt8(g & 0xff)) }
        return out
    }

    static func ipv6(_ b: [UInt8]) -> String {
        var groups: [UInt16] = []
        for i in 0..<8 { groups.append(UInt16(b[2 * i]) << 8 | UInt16(b[2 * i + 1])) }
        var best = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { best = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        let hex = Array("0123456789abcdef".utf8)
        func h(_ g: UInt16) -> String {
            var d: [UInt8] = []
            var v = g
            repeat { d.append(hex[Int(v & 15)]); v >>= 4 } while v > 0
            return String(decoding: d.reversed(), as: UTF8.self)
        }
        var s = ""
        i = 0
        while i < 8 {
            if i == best { s += "::"; i += bestLen; continue }
            if !s.isEmpty && !s.hasSuffix(":") { s += ":" }
            s += h(groups[i])
            i += 1
        }
        return s
    }

    /// Prefix length of a contiguous netmask (255.255.255.252 → 30); nil when not contiguous.
    static func prefix(ofMask m: UInt32) -> Int? {
        let p = (~m).leadingZeroBitCount == 32 ? 32 : m.nonzeroBitCount
        let expected: UInt32 = p == 0 ? 0 : ~UInt32(0) << UInt32(32 - p)
        return expected == m ? p : nil
    }
}
