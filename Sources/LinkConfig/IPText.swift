import CSystem

/// Address text conversions (libc's inet_ntop/inet_pton through CSystem).
enum IPText {
    static func text(_ b: [UInt8]) -> String {
        var out = [CChar](repeating: 0, count: 46)
        guard csys_address_text(b, Int32(b.count), &out) == 0 else { return "?" }
        return String(cString: out)
    }

    static func parse(_ s: String, length: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: length)
        return csys_address_parse(s, Int32(length), &out) == 1 ? out : nil
    }

    /// Prefix length of a contiguous netmask (255.255.255.252 → 30); nil when not contiguous.
    static func prefix(ofMask m: UInt32) -> Int? {
        let p = (~m).leadingZeroBitCount
        let expected: UInt32 = p == 0 ? 0 : ~UInt32(0) << UInt32(32 - p)
        return expected == m ? p : nil
    }
}
