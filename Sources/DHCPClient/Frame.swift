/// Ethernet + IPv4 + UDP framing for the packet socket (DHCP runs before the link has an
/// address, so the client builds whole frames).
import Base
public enum DHCPFrame {
    public static let broadcastMAC: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]

    public static func build(payload: [UInt8], srcMAC: [UInt8], dstMAC: [UInt8], srcIP: UInt32, dstIP: UInt32,
                             srcPort: UInt16 = 68, dstPort: UInt16 = 67, ipID: UInt16 = 0) -> [UInt8] {
        var f = dstMAC + srcMAC + [0x08, 0x00]
        let udpLen = 8 + payload.count
        let total = 20 + udpLen
        var ip: [UInt8] = [0x45, 0x10, UInt8(total >> 8), UInt8(total & 0xff), UInt8(ipID >> 8), UInt8(ipID & 0xff),
                           0, 0, 64, 17, 0, 0]
        put32(&ip, srcIP)
        put32(&ip, dstIP)
        let c = internetChecksum(ip[...])
        ip[10] = UInt8(c >> 8)
        ip[11] = UInt8(c & 0xff)
        var udp: [UInt8] = [UInt8(srcPort >> 8), UInt8(srcPort & 0xff), UInt8(dstPort >> 8), UInt8(dstPort & 0xff),
                            UInt8(udpLen >> 8), UInt8(udpLen & 0xff), 0, 0] + payload
        var pseudo: [UInt8] = []
        put32(&pseudo, srcIP)
        put32(&pseudo, dstIP)
        pseudo += [0, 17, UInt8(udpLen >> 8), UInt8(udpLen & 0xff)]
        var uc = internetChecksum((pseudo + udp)[...])
        if uc == 0 { uc = 0xffff }
        udp[6] = UInt8(uc >> 8)
        udp[7] = UInt8(uc & 0xff)
        f += ip
        f += udp
        return f
    }

    public struct Received {
        public let packet: DHCPPacket
        public let srcMAC: [UInt8]
        public let srcIP: UInt32
    }

    /// Unwraps a received frame. Anything that is not a well-formed UDP datagram to port
    /// 68 carrying a DHCP reply is an error the caller drops.
    public static func parse(_ f: [UInt8]) throws(DHCPError) -> Received {
        guard f.count >= 14 + 20 + 8 else { throw .malformed("frame of \(f.count) bytes is too short") }
        guard f[12] == 0x08, f[13] == 0x00 else { throw .malformed("not IPv4") }
        let ihl = Int(f[14] & 0x0f) * 4
        guard f[14] >> 4 == 4, ihl >= 20, f.count >= 14 + ihl + 8 else { throw .malformed("bad IPv4 header") }
        let total = Int(f[16]) << 8 | Int(f[17])
        guard total >= ihl + 8, 14 + total <= f.count else { throw .malformed("IPv4 length \(total) does not fit the frame") }
        guard f[23] == 17 else { throw .malformed("not UDP") }
        guard internetChecksum(f[14..<(14 + ihl)]) == 0 else { throw .malformed("bad IPv4 header checksum") }
        let u = 14 + ihl
        let dport = UInt16(f[u + 2]) << 8 | UInt16(f[u + 3])
        guard dport == 68 else { throw .malformed("UDP port \(dport) is not the DHCP client port") }
        let ulen = Int(f[u + 4]) << 8 | Int(f[u + 5])
        guard ulen >= 8, u + ulen <= 14 + total else { throw .malformed("UDP length \(ulen) does not fit") }
        let p = try DHCPPacket.parse(Array(f[(u + 8)..<(u + ulen)]))
        guard p.op == 2 else { throw .malformed("not a BOOTREPLY") }
        return Received(packet: p, srcMAC: Array(f[6..<12]), srcIP: be32(f, 26))
    }
}
