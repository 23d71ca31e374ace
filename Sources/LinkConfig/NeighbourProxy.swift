import Base
import CSystem

/// RFC 7278 behind a module that is itself an IPv6 router on an Ethernet link (an AT module's
/// usb0): the module sends to an address of the /64 only after Neighbour Discovery on usb0
/// found who holds it, and the LAN hosts that hold addresses in it are not on usb0. qcm answers
/// the module's Neighbour Solicitations for every address of the /64 except its own (the
/// kernel answers for that) with usb0's MAC — the proxy of RFC 4389, for one prefix — and the
/// kernel routes what then comes to the LAN. Solicitations from :: (duplicate address checks)
/// are not answered: the only checks on usb0 are the module's, for its own addresses.
///
/// A packet socket with a filter that passes only Neighbour Solicitations: the daemon wakes
/// for those alone.
public final class NeighbourProxy {
    public let interface: String
    public let prefix: IPAddress
    let index: Int32
    let mac: [UInt8]
    let linkLocal: IPAddress
    let own: [IPAddress]
    let fd: Int32
    let loop: EventLoop
    private var watch = 0
    public private(set) var answered = 0
    public var log: ((String) -> Void)?

    /// `prefix`: the /64 routed to the LAN; `own`: qcm's addresses on `interface`.
    public init(interface: String, index: Int32, linkLocal: IPAddress, prefix: IPAddress, own: [IPAddress],
                loop: EventLoop) throws(LinkError) {
        var hw = [UInt8](repeating: 0, count: 6)
        var type: Int32 = 0
        guard csys_if_hwaddr(interface, &hw, &type) == 0 else { throw .system(operation: "read the MAC address of \(interface)", errno: csys_errno()) }
        guard type == Int32(ARPHRD_ETHER) else { throw .invalid("\(interface) is not an Ethernet link: no neighbour discovery to answer on it") }
        // ldh [12]; jeq IPv6; ldb [20] (next header); jeq ICMPv6; ldb [54] (type); jeq 135
        let prog: [sock_filter] = [
            sock_filter(code: 0x28, jt: 0, jf: 0, k: 12),
            sock_filter(code: 0x15, jt: 0, jf: 5, k: 0x86dd),
            sock_filter(code: 0x30, jt: 0, jf: 0, k: 20),
            sock_filter(code: 0x15, jt: 0, jf: 3, k: 58),
            sock_filter(code: 0x30, jt: 0, jf: 0, k: 54),
            sock_filter(code: 0x15, jt: 0, jf: 1, k: 135),
            sock_filter(code: 0x06, jt: 0, jf: 0, k: 0xffff),
            sock_filter(code: 0x06, jt: 0, jf: 0, k: 0),
        ]
        let fd: Int32
        do throws(SystemError) { fd = try PacketSocket.open(index: index, ethertype: 0x86dd, filter: prog, interface: interface) } catch { throw .system(error) }
        self.interface = interface
        self.index = index
        self.mac = hw
        self.linkLocal = linkLocal
        self.prefix = prefix
        self.own = own
        self.fd = fd
        self.loop = loop
        watch = loop.watch(fd) { _ in self.read() }   // cycle broken by close()
    }

    public func close() {
        loop.unwatch(watch)
        _ = CSystem.close(fd)
    }

    private func read() {
        var buf = [UInt8](repeating: 0, count: 1514)
        for _ in 0..<8 {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { return }
            guard let reply = NeighbourProxy.answer(Array(buf[0..<n]), mac: mac, linkLocal: linkLocal, prefix: prefix, own: own) else { continue }
            let sent = reply.withUnsafeBytes { csys_packet_send(fd, index, Array(reply[0..<6]), 0x86dd, $0.baseAddress, $0.count) }
            if sent == reply.count {
                answered += 1
                if answered == 1 { log?("\(interface): answering the module's neighbour solicitations for \(prefix.text)/64 (the LAN's hosts)") }
            }
        }
    }

    /// The Neighbour Advertisement that answers `frame`, or nil when it is not a valid
    /// solicitation (RFC 4861 §7.1.1) for an address qcm answers for.
    public static func answer(_ frame: [UInt8], mac: [UInt8], linkLocal: IPAddress, prefix: IPAddress, own: [IPAddress]) -> [UInt8]? {
        guard frame.count >= 14 + 40 + 24, frame[12] == 0x86, frame[13] == 0xdd, Array(frame[6..<12]) != mac else { return nil }
        let length = Int(frame[18]) << 8 | Int(frame[19])
        guard frame[14] >> 4 == 6, frame[20] == 58, frame[21] == 255, length >= 24, 14 + 40 + length <= frame.count else { return nil }
        let ip = Array(frame[14..<(14 + 40 + length)])
        guard ip[40] == 135, ip[41] == 0 else { return nil }
        let source = Array(ip[8..<24]), target = Array(ip[48..<64])
        guard !source.allSatisfy({ $0 == 0 }), let t = IPAddress(target), t.prefix64 == prefix, !own.contains(t) else { return nil }
        // The asker's MAC: its source link-layer address option, else the frame's sender.
        var to = Array(frame[6..<12])
        var o = 64
        while o + 8 <= ip.count {
            let size = Int(ip[o + 1]) * 8
            guard size > 0, o + size <= ip.count else { return nil }
            if ip[o] == 1 && size == 8 { to = Array(ip[(o + 2)..<(o + 8)]) }
            o += size
        }
        // Router and solicited; not override, as a proxy's answer is (RFC 4861 §7.2.8).
        var icmp: [UInt8] = [136, 0, 0, 0, 0xc0, 0, 0, 0] + target + [2, 1] + mac
        var pseudo = linkLocal.bytes + source + [0, 0, 0, UInt8(icmp.count), 0, 0, 0, 58]
        pseudo += icmp
        let c = internetChecksum(pseudo[...])
        icmp[2] = UInt8(c >> 8)
        icmp[3] = UInt8(c & 0xff)
        return to + mac + [0x86, 0xdd] + [0x60, 0, 0, 0, 0, UInt8(icmp.count), 58, 255] + linkLocal.bytes + source + icmp
    }
}
