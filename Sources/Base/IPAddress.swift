import CSystem

public enum Family: UInt8, Equatable {
    case ipv4 = 2
    case ipv6 = 10
    public var addressLength: Int { self == .ipv4 ? 4 : 16 }
    public var maxPrefix: Int { self == .ipv4 ? 32 : 128 }
    /// "IPv4" / "IPv6".
    public var label: String { self == .ipv4 ? "IPv4" : "IPv6" }
}

/// An IPv4 or IPv6 address in network byte order. Its text form comes from libc's
/// inet_ntop (RFC 5952 for IPv6) and is parsed by inet_pton: the one place qcm turns
/// addresses into text and back.
public struct IPAddress: Equatable, Hashable {
    public let bytes: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public init(ipv4 v: UInt32) { bytes = [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    public init?(_ text: String) {
        guard let b = IPAddress.parse(text, length: 4) ?? IPAddress.parse(text, length: 16) else { return nil }
        self.init(b)
    }

    public var family: Family { bytes.count == 4 ? .ipv4 : .ipv6 }

    public var ipv4: UInt32? {
        guard bytes.count == 4 else { return nil }
        return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
    }

    public var text: String {
        var out = [CChar](repeating: 0, count: 46)
        guard csys_address_text(bytes, Int32(bytes.count), &out) == 0 else { return "?" }
        return String(cString: out)
    }

    /// 0.0.0.0 or ::.
    /// The /64 an IPv6 address is in (its last 64 bits zero); an IPv4 address as it is.
    public var prefix64: IPAddress {
        guard bytes.count == 16 else { return self }
        return IPAddress(Array(bytes[0..<8]) + [UInt8](repeating: 0, count: 8)) ?? self
    }

    public var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }
    public var isLoopback: Bool {
        family == .ipv4 ? bytes[0] == 127 : bytes.dropLast().allSatisfy { $0 == 0 } && bytes[15] == 1
    }
    public var isMulticast: Bool { family == .ipv4 ? bytes[0] >= 224 && bytes[0] <= 239 : bytes[0] == 0xff }
    /// IPv6 fe80::/10 or IPv4 169.254.0.0/16, or any multicast: what the kernel keeps on an
    /// interface for itself.
    public var isLinkLocalOrMulticast: Bool {
        if isMulticast { return true }
        return family == .ipv4 ? bytes[0] == 169 && bytes[1] == 254 : bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80
    }
    /// 255.255.255.255 (IPv4 only).
    public var isBroadcast: Bool { family == .ipv4 && bytes.allSatisfy { $0 == 0xff } }
    /// 240.0.0.0/4 (reserved, IPv4 only).
    public var isReserved: Bool { family == .ipv4 && bytes[0] >= 240 }

    /// What a host may use as its own address, a router or a DNS server: not 0.0.0.0/::,
    /// loopback, multicast, broadcast or reserved; for IPv4 also not in 0.0.0.0/8.
    public var isUsableUnicast: Bool {
        if isUnspecified || isLoopback || isMulticast || isBroadcast || isReserved { return false }
        if family == .ipv4 && bytes[0] == 0 { return false }
        return true
    }

    /// Whether `other` lies in this address's /`prefix` network.
    public func sameNetwork(_ other: IPAddress, prefix: Int) -> Bool {
        guard other.family == family, prefix >= 0, prefix <= family.maxPrefix else { return false }
        var left = prefix
        for i in 0..<bytes.count {
            if left <= 0 { return true }
            let mask: UInt8 = left >= 8 ? 0xff : ~(UInt8(0xff) >> UInt8(left))
            if bytes[i] & mask != other.bytes[i] & mask { return false }
            left -= 8
        }
        return true
    }

    static func parse(_ s: String, length: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: length)
        return csys_address_parse(s, Int32(length), &out) == 1 ? out : nil
    }

    /// Prefix length of a contiguous netmask (255.255.255.252 → 30); nil when not contiguous.
    public static func prefix(ofMask m: UInt32) -> Int? {
        let p = (~m).leadingZeroBitCount
        let expected: UInt32 = p == 0 ? 0 : ~UInt32(0) << UInt32(32 - p)
        return expected == m ? p : nil
    }

    /// The netmask of a prefix length (30 → 255.255.255.252).
    public static func mask(ofPrefix p: Int) -> UInt32 {
        p <= 0 ? 0 : p >= 32 ? ~UInt32(0) : ~UInt32(0) << UInt32(32 - p)
    }
}

/// The Internet checksum (RFC 1071) over `bytes`: IPv4 headers, UDP, ICMP.
public func internetChecksum(_ b: ArraySlice<UInt8>) -> UInt16 {
    var sum: UInt32 = 0
    var i = b.startIndex
    while i + 1 < b.endIndex {
        sum &+= UInt32(b[i]) << 8 | UInt32(b[i + 1])
        i += 2
    }
    if i < b.endIndex { sum &+= UInt32(b[i]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}
