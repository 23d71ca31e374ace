import Foundation
import Base
import CSystem
import DHCPClient

/// A DHCP server that answers the way a broken or hostile one would (a 1 s lease, a
/// newline in the domain name, a mask of 0.0.0.0, a router outside the subnet, a hundred
/// DNS servers, a NAK for every REQUEST) — the things dnsmasq refuses to send. It is a
/// real server on a real UDP socket in the lab's server namespace; the client under test
/// talks to it over the veth exactly as it would to any other.
public final class HostileDHCPServer {
    public enum Reply {
        /// OFFER/ACK `address` with these options (type, value), after message type and server id.
        case lease(address: UInt32, options: [(UInt8, [UInt8])])
        case nak
    }

    let fd: Int32
    let serverIP: UInt32
    let answer: (DHCPPacket) -> Reply
    let stopFlag = Flag()
    var thread: Thread?
    let lock = NSLock()
    var seen: [(type: DHCPMessageType, at: Date)] = []

    /// Listens on port 67 of `device` inside `namespace`; `answer` decides each reply.
    public init(namespace: TestNamespace, device: String = "srv0", serverIP: UInt32 = 0x0a4d_0001,
                answer: @escaping (DHCPPacket) -> Reply) throws {
        self.serverIP = serverIP
        self.answer = answer
        fd = namespace.inside { socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0) }
        guard fd >= 0 else { throw NSError(domain: "dhcp", code: 1) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, 4)
        let name = Array(device.utf8CString)
        _ = name.withUnsafeBufferPointer { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0.baseAddress, socklen_t($0.count)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(67).bigEndian
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw NSError(domain: "dhcp", code: 2, userInfo: [NSLocalizedDescriptionKey: "bind :67 failed"]) }
        _ = csys_set_receive_timeout(fd, 1)
        let t = Thread { [self] in self.serve() }   // until stop(): call it when done
        thread = t
        t.start()
    }

    public func stop() {
        stopFlag.value = true
        if let t = thread {
            while !t.isFinished { usleep(10_000) }
            thread = nil
            close(fd)
        }
    }

    /// How many messages of `type` arrived so far.
    public func count(_ type: DHCPMessageType) -> Int {
        lock.lock(); defer { lock.unlock() }
        return seen.filter { $0.type == type }.count
    }

    func serve() {
        var buf = [UInt8](repeating: 0, count: 2048)
        while !stopFlag.value {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0, let p = try? DHCPPacket.parse(Array(buf[0..<n])), let type = p.messageType else { continue }
            lock.lock(); seen.append((type, Date())); lock.unlock()
            guard type == .discover || type == .request else { continue }
            let r = DHCPPacket()
            r.op = 2
            r.xid = p.xid
            r.chaddr = p.chaddr
            r.broadcast = true
            switch answer(p) {
            case .nak:
                guard type == .request else { continue }
                r.set(DHCPOption.messageType, [DHCPMessageType.nak.rawValue])
                r.set(DHCPOption.serverID, be(serverIP))
            case let .lease(address, options):
                r.yiaddr = address
                r.set(DHCPOption.messageType, [(type == .discover ? DHCPMessageType.offer : .ack).rawValue])
                r.set(DHCPOption.serverID, be(serverIP))
                // Appended raw, so an option may repeat (RFC 3396 long options).
                for (t, v) in options { r.options.append((t, v)) }
            }
            var to = sockaddr_in()
            to.sin_family = sa_family_t(AF_INET)
            to.sin_port = in_port_t(68).bigEndian
            to.sin_addr.s_addr = in_addr_t(0xffff_ffff)
            let bytes = r.encode()
            _ = bytes.withUnsafeBytes { b in
                withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
        }
    }

    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
}
