import Base

// Router Advertisements (RFC 4861 §4.2) with Prefix Information, MTU, RDNSS and DNSSL (RFC
// 8106): what qcm sends on a LAN it extends the mobile /64 to (RFC 7278), and what it reads
// from the network on the mobile link to say when the network advertises something the modem
// did not grant.

/// One Prefix Information option.
public struct AdvertisedPrefix: Equatable {
    /// The prefix's address (bits past `length` zero).
    public var prefix: IPAddress
    public var length: Int
    /// L: hosts may reach addresses in it directly. A: hosts form their addresses from it.
    public var onLink: Bool
    public var autonomous: Bool
    public var valid: UInt32
    public var preferred: UInt32

    public init(prefix: IPAddress, length: Int = 64, onLink: Bool = true, autonomous: Bool = true, valid: UInt32, preferred: UInt32) {
        self.prefix = prefix
        self.length = length
        self.onLink = onLink
        self.autonomous = autonomous
        self.valid = valid
        self.preferred = preferred
    }

    /// "2409:8930:463:3daa::/64".
    public var text: String { "\(prefix.text)/\(length)" }
}

public struct RouterAdvertisement: Equatable {
    /// 0: not a default router (withdrawn).
    public var routerLifetime: UInt16
    public var prefixes: [AdvertisedPrefix] = []
    public var mtu: UInt32?
    public var dns: [IPAddress] = []
    public var domains: [String] = []
    /// Lifetime of the DNS servers and domains.
    public var dnsLifetime: UInt32 = 0
    /// The sender's link-layer address (Source Link-Layer Address option).
    public var sourceMAC: [UInt8]?

    /// Byte for byte (String's own == would bring the Unicode tables into the daemon).
    public static func == (a: RouterAdvertisement, b: RouterAdvertisement) -> Bool {
        a.routerLifetime == b.routerLifetime && a.prefixes == b.prefixes && a.mtu == b.mtu && a.dns == b.dns
            && a.dnsLifetime == b.dnsLifetime && a.sourceMAC == b.sourceMAC && a.domains.count == b.domains.count
            && zip(a.domains, b.domains).allSatisfy { $0.equals($1) }
    }

    public init(routerLifetime: UInt16, prefixes: [AdvertisedPrefix] = [], mtu: UInt32? = nil, dns: [IPAddress] = [],
                domains: [String] = [], dnsLifetime: UInt32 = 0, sourceMAC: [UInt8]? = nil) {
        self.routerLifetime = routerLifetime
        self.prefixes = prefixes
        self.mtu = mtu
        self.dns = dns
        self.domains = domains
        self.dnsLifetime = dnsLifetime
        self.sourceMAC = sourceMAC
    }

    static let type: UInt8 = 134
    static let solicitationType: UInt8 = 133

    /// The ICMPv6 message (its checksum left zero: the kernel fills it in for raw ICMPv6 sockets).
    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.u8(RouterAdvertisement.type)
        w.u8(0)                                   // code
        w.u16be(0)                                // checksum
        w.u8(64)                                  // current hop limit
        w.u8(0)                                   // M=0, O=0: no DHCPv6
        w.u16be(routerLifetime)
        w.u32be(0)                                // reachable time: unspecified
        w.u32be(0)                                // retransmission timer: unspecified
        if let mac = sourceMAC, mac.count == 6 {
            w.u8(1)
            w.u8(1)
            w.append(mac)
        }
        if let m = mtu {
            w.u8(5)
            w.u8(1)
            w.u16be(0)
            w.u32be(m)
        }
        for p in prefixes {
            w.u8(3)
            w.u8(4)
            w.u8(UInt8(p.length))
            w.u8((p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0))
            w.u32be(p.valid)
            w.u32be(p.preferred)
            w.u32be(0)                            // reserved
            w.append(p.prefix.bytes)
        }
        let servers = dns.filter { $0.family == .ipv6 }
        if !servers.isEmpty {
            w.u8(25)
            w.u8(UInt8(1 + 2 * servers.count))
            w.u16be(0)
            w.u32be(dnsLifetime)
            for s in servers { w.append(s.bytes) }
        }
        let names = RouterAdvertisement.encodeDomains(domains)
        if !names.isEmpty {
            var padded = names
            while (8 + padded.count) % 8 != 0 { padded.append(0) }
            w.u8(31)
            w.u8(UInt8((8 + padded.count) / 8))
            w.u16be(0)
            w.u32be(dnsLifetime)
            w.append(padded)
        }
        return w.bytes
    }

    /// DNS names as wire labels (RFC 1035 §3.1), names that are not valid left out.
    static func encodeDomains(_ domains: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for d in domains where DNSName.isValid(d) {
            for label in Text.split(d, on: 46) where !label.isEmpty {
                out.append(UInt8(label.utf8.count))
                out += Array(label.utf8)
            }
            out.append(0)
        }
        return out.count <= 240 ? out : []
    }

    /// Reads an RA (the network's, on the mobile link); nil when it is not one or is cut
    /// short. Options qcm does not use are skipped; a zero-length option ends the reading, as
    /// RFC 4861 says a host must.
    public static func decode(_ m: [UInt8]) -> RouterAdvertisement? {
        // Every read below is inside `m`: the header is checked first, each option's length
        // against what is left.
        func u16(_ i: Int) -> UInt16 { UInt16(m[i]) << 8 | UInt16(m[i + 1]) }
        func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) << 16 | UInt32(u16(i + 2)) }
        guard m.count >= 16, m[0] == type, m[1] == 0 else { return nil }
        var ra = RouterAdvertisement(routerLifetime: u16(6))
        var at = 16
        while at + 2 <= m.count {
            let kind = m[at], length = Int(m[at + 1]) * 8
            guard length > 0, at + length <= m.count else { return nil }
            switch kind {
            case 1 where length == 8: ra.sourceMAC = Array(m[(at + 2)..<(at + 8)])
            case 3 where length == 32:
                let flags = m[at + 3]
                if let p = IPAddress(Array(m[(at + 16)..<(at + 32)])) {
                    ra.prefixes.append(AdvertisedPrefix(prefix: p, length: Int(m[at + 2]), onLink: flags & 0x80 != 0,
                                                        autonomous: flags & 0x40 != 0, valid: u32(at + 4),
                                                        preferred: u32(at + 8)))
                }
            case 5 where length == 8: ra.mtu = u32(at + 4)
            case 25 where length >= 24:
                ra.dnsLifetime = u32(at + 4)
                var s = at + 8
                while s + 16 <= at + length {
                    if let a = IPAddress(Array(m[s..<(s + 16)])) { ra.dns.append(a) }
                    s += 16
                }
            default: break
            }
            at += length
        }
        return ra
    }
}
