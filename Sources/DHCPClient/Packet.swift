import Base
import CSystem

/// RFC 2131/2132 message codec. `parse` never traps: a malformed packet is an error the
/// caller logs and drops.
public enum DHCPError: Error, Equatable {
    case malformed(String)
    case system(operation: String, errno: Int32)
    case noInterface(String)
    case notEthernet(String)

    public var description: String {
        switch self {
        case let .malformed(s): return "malformed DHCP packet: \(s)"
        case let .system(op, e): return "\(op): \(Errno(e).description)"
        case let .noInterface(n): return "network interface '\(n)' does not exist"
        case let .notEthernet(n):
            return "\(n) has no Ethernet (802.3) header: DHCP needs one. Raw-IP links get their address from QMI (the default)"
        }
    }
}

public enum DHCPMessageType: UInt8 {
    case discover = 1, offer, request, decline, ack, nak, release, inform
    public var name: String {
        switch self {
        case .discover: return "DISCOVER"
        case .offer: return "OFFER"
        case .request: return "REQUEST"
        case .decline: return "DECLINE"
        case .ack: return "ACK"
        case .nak: return "NAK"
        case .release: return "RELEASE"
        case .inform: return "INFORM"
        }
    }
}

public enum DHCPOption {
    public static let pad: UInt8 = 0, subnetMask: UInt8 = 1, router: UInt8 = 3, dns: UInt8 = 6, hostName: UInt8 = 12
    public static let domainName: UInt8 = 15, mtu: UInt8 = 26, broadcast: UInt8 = 28, requestedIP: UInt8 = 50
    public static let leaseTime: UInt8 = 51, messageType: UInt8 = 53, serverID: UInt8 = 54, parameterList: UInt8 = 55
    public static let message: UInt8 = 56, maxSize: UInt8 = 57, renewalTime: UInt8 = 58, rebindingTime: UInt8 = 59
    public static let clientID: UInt8 = 61, end: UInt8 = 255
}

/// A BOOTP/DHCP message. A class: each packet is built (or parsed) once and then only
/// handed around, through the machine's outputs and the socket.
public final class DHCPPacket: Equatable {
    public static let magic: [UInt8] = [99, 130, 83, 99]

    public var op: UInt8 = 1
    public var xid: UInt32 = 0
    public var secs: UInt16 = 0
    public var broadcast = false
    public var ciaddr: UInt32 = 0
    public var yiaddr: UInt32 = 0
    public var siaddr: UInt32 = 0
    public var giaddr: UInt32 = 0
    public var chaddr: [UInt8] = [0, 0, 0, 0, 0, 0]
    /// Options in order (type, value); pad and end are not stored.
    public var options: [(UInt8, [UInt8])] = []

    public init() {}

    public static func == (a: DHCPPacket, b: DHCPPacket) -> Bool {
        a.op == b.op && a.xid == b.xid && a.secs == b.secs && a.broadcast == b.broadcast && a.ciaddr == b.ciaddr
            && a.yiaddr == b.yiaddr && a.siaddr == b.siaddr && a.giaddr == b.giaddr && a.chaddr == b.chaddr
            && a.options.count == b.options.count && zip(a.options, b.options).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public func option(_ t: UInt8) -> [UInt8]? {
        for (k, v) in options where k == t { return v }
        return nil
    }

    public func set(_ t: UInt8, _ v: [UInt8]) {
        options.removeAll { $0.0 == t }
        options.append((t, v))
    }

    public var messageType: DHCPMessageType? { option(DHCPOption.messageType).flatMap { $0.count == 1 ? DHCPMessageType(rawValue: $0[0]) : nil } }

    public func address(_ t: UInt8) -> UInt32? {
        guard let v = option(t), v.count >= 4 else { return nil }
        return be32(v, 0)
    }

    public func addresses(_ t: UInt8) -> [UInt32] {
        guard let v = option(t), v.count >= 4 else { return [] }
        return stride(from: 0, to: v.count - 3, by: 4).map { be32(v, $0) }
    }

    public func seconds(_ t: UInt8) -> UInt32? {
        guard let v = option(t), v.count == 4 else { return nil }
        return be32(v, 0)
    }

    public func encode() -> [UInt8] {
        var b: [UInt8] = [op, 1, 6, 0]
        put32(&b, xid)
        b += [UInt8(secs >> 8), UInt8(secs & 0xff), broadcast ? 0x80 : 0, 0]
        for a in [ciaddr, yiaddr, siaddr, giaddr] { put32(&b, a) }
        b += chaddr.prefix(16)
        b += [UInt8](repeating: 0, count: 16 - min(16, chaddr.count))
        b += [UInt8](repeating: 0, count: 64 + 128)          // sname, file
        b += DHCPPacket.magic
        for (t, v) in options {
            var rest = v[...]
            repeat {                                          // RFC 3396: long options split
                let chunk = rest.prefix(255)
                b += [t, UInt8(chunk.count)] + chunk
                rest = rest.dropFirst(chunk.count)
            } while !rest.isEmpty
        }
        b.append(DHCPOption.end)
        while b.count < 300 { b.append(0) }                   // BOOTP minimum
        return b
    }

    public static func parse(_ b: [UInt8]) throws(DHCPError) -> DHCPPacket {
        guard b.count >= 240 else { throw .malformed("\(b.count) bytes, a DHCP message has at least 240") }
        guard b[1] == 1, b[2] == 6 else { throw .malformed("hardware type \(b[1])/length \(b[2]) is not Ethernet") }
        guard Array(b[236..<240]) == magic else { throw .malformed("bad magic cookie") }
        let p = DHCPPacket()
        p.op = b[0]
        p.xid = be32(b, 4)
        p.secs = UInt16(b[8]) << 8 | UInt16(b[9])
        p.broadcast = b[10] & 0x80 != 0
        p.ciaddr = be32(b, 12)
        p.yiaddr = be32(b, 16)
        p.siaddr = be32(b, 20)
        p.giaddr = be32(b, 24)
        p.chaddr = Array(b[28..<34])
        var i = 240
        var sawEnd = false
        while i < b.count {
            let t = b[i]
            if t == DHCPOption.pad { i += 1; continue }
            if t == DHCPOption.end { sawEnd = true; break }
            guard i + 1 < b.count else { throw .malformed("option \(t) has no length byte") }
            let n = Int(b[i + 1])
            guard i + 2 + n <= b.count else { throw .malformed("option \(t) claims \(n) bytes, only \(b.count - i - 2) left") }
            let v = Array(b[(i + 2)..<(i + 2 + n)])
            if let k = p.options.firstIndex(where: { $0.0 == t }) { p.options[k].1 += v } else { p.options.append((t, v)) }
            i += 2 + n
        }
        guard sawEnd else { throw .malformed("no end option") }
        guard p.messageType != nil else { throw .malformed("no (valid) message type option") }
        return p
    }
}

@inline(__always) func be32(_ b: [UInt8], _ o: Int) -> UInt32 {
    UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
}

@inline(__always) func put32(_ b: inout [UInt8], _ v: UInt32) {
    b += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
}

func ipText(_ v: UInt32) -> String { IPAddress(ipv4: v).text }
