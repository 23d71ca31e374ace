import Base
import CSystem

/// A small rtnetlink client: one NETLINK_ROUTE socket, requests with sequence numbers and
/// ACK requests, errors returned as errno names plus the kernel's extended-ack message.
public final class Netlink {
    public private(set) var fd: Int32
    private var seq: UInt32 = 1
    private var pid: UInt32 = 0

    /// Opens the socket in the calling thread's network namespace.
    public init() throws(LinkError) {
        fd = csys_netlink_open(Int32(NETLINK_ROUTE))
        guard fd >= 0 else { throw .system(operation: "open rtnetlink socket", errno: csys_errno()) }
        _ = csys_set_receive_timeout(fd, 5)
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { _ = CSystem.close(fd) }
        fd = -1
    }

    // MARK: message building

    struct Message {
        var bytes: [UInt8] = []

        init(type: UInt16, flags: UInt16) {
            append32(0)          // length, patched in `finished`
            append16(type)
            append16(flags)
            append32(0)          // sequence, set when sent
            append32(0)          // port id: the kernel fills ours in
        }

        mutating func append8(_ v: UInt8) { bytes.append(v) }
        /// Host byte order, as netlink wants.
        mutating func append16(_ v: UInt16) { withUnsafeBytes(of: v) { bytes += $0 } }
        mutating func append32(_ v: UInt32) { withUnsafeBytes(of: v) { bytes += $0 } }
        mutating func pad() { while bytes.count % 4 != 0 { bytes.append(0) } }

        mutating func attribute(_ type: UInt16, _ data: [UInt8]) {
            pad()
            append16(UInt16(4 + data.count))
            append16(type)
            bytes += data
            pad()
        }
        mutating func attribute32(_ type: UInt16, _ v: UInt32) { attribute(type, withUnsafeBytes(of: v) { Array($0) }) }
        mutating func attributeString(_ type: UInt16, _ s: String) { attribute(type, Array(s.utf8) + [0]) }

        func finished(seq: UInt32) -> [UInt8] {
            var b = bytes
            let len = UInt32(b.count)
            withUnsafeBytes(of: len) { for i in 0..<4 { b[i] = $0[i] } }
            withUnsafeBytes(of: seq) { for i in 0..<4 { b[8 + i] = $0[i] } }
            return b
        }
    }

    // MARK: message parsing

    struct Reader {
        let b: [UInt8]
        func u16(_ o: Int) -> UInt16? {
            guard o >= 0, o + 2 <= b.count else { return nil }
            var v: UInt16 = 0
            withUnsafeMutableBytes(of: &v) { $0[0] = b[o]; $0[1] = b[o + 1] }
            return v
        }
        func u32(_ o: Int) -> UInt32? {
            guard o >= 0, o + 4 <= b.count else { return nil }
            var v: UInt32 = 0
            withUnsafeMutableBytes(of: &v) { for i in 0..<4 { $0[i] = b[o + i] } }
            return v
        }
        func i32(_ o: Int) -> Int32? { u32(o).map { Int32(bitPattern: $0) } }
    }

    /// Attributes (type → payload) of a message body starting at `offset`.
    static func attributes(_ b: [UInt8], from offset: Int) -> [(UInt16, [UInt8])] {
        var out: [(UInt16, [UInt8])] = []
        let r = Reader(b: b)
        var o = offset
        while o + 4 <= b.count {
            guard let len = r.u16(o), let type = r.u16(o + 2), Int(len) >= 4, o + Int(len) <= b.count else { break }
            out.append((type & 0x3fff, Array(b[(o + 4)..<(o + Int(len))])))
            o += (Int(len) + 3) & ~3
        }
        return out
    }

    // MARK: transactions

    /// Sends a request with NLM_F_ACK and waits for its acknowledgement.
    func transact(_ m: Message, operation: String) throws(LinkError) {
        _ = try exchange(m, operation: operation, dump: false)
    }

    /// Sends a request with NLM_F_ACK and returns the messages that came before the ACK.
    func query(_ m: Message, operation: String) throws(LinkError) -> [[UInt8]] {
        try exchange(m, operation: operation, dump: false)
    }

    /// Sends a dump request and returns every message until NLMSG_DONE.
    func dump(_ m: Message, operation: String) throws(LinkError) -> [[UInt8]] {
        try exchange(m, operation: operation, dump: true)
    }

    private func exchange(_ m: Message, operation: String, dump: Bool) throws(LinkError) -> [[UInt8]] {
        guard fd >= 0 else { throw .system(operation: operation, errno: EBADF) }
        seq &+= 1
        let mySeq = seq
        let bytes = m.finished(seq: mySeq)
        let sent = bytes.withUnsafeBytes { csys_netlink_send(fd, $0.baseAddress, $0.count) }
        guard sent == bytes.count else { throw .system(operation: operation, errno: csys_errno()) }
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                let e = csys_errno()
                if e == EINTR { continue }
                throw .system(operation: operation + " (waiting for the kernel)", errno: e)
            }
            var o = 0
            let r = Reader(b: Array(buf[0..<n]))
            while o + 16 <= n {
                guard let len = r.u32(o), let type = r.u16(o + 4), let flags = r.u16(o + 6), let s = r.u32(o + 8),
                      Int(len) >= 16, o + Int(len) <= n else { break }
                let msg = Array(buf[o..<(o + Int(len))])
                o += (Int(len) + 3) & ~3
                guard s == mySeq else { continue }      // stale reply to an earlier, timed-out request
                switch Int32(type) {
                case NLMSG_ERROR:
                    let mr = Reader(b: msg)
                    let err = mr.i32(16) ?? -EIO
                    if err == 0 { if !dump { return out }; continue }
                    throw .kernel(operation: operation, errno: -err, message: Netlink.extAckMessage(msg, flags: flags))
                case NLMSG_DONE:
                    return out
                default:
                    out.append(msg)
                    if !dump && Int32(flags) & NLM_F_MULTI == 0 { continue }
                }
            }
        }
    }

    /// NLMSGERR_ATTR_MSG from an extended ack (after the echoed request header, which
    /// NETLINK_CAP_ACK trims to the header alone).
    static func extAckMessage(_ msg: [UInt8], flags: UInt16) -> String? {
        guard Int32(flags) & NLM_F_ACK_TLVS != 0 else { return nil }
        let r = Reader(b: msg)
        let echoedLen = Int32(flags) & NLM_F_CAPPED != 0 ? 16 : Int(r.u32(20) ?? 16)
        let start = 16 + 4 + ((echoedLen + 3) & ~3)
        for (t, v) in attributes(msg, from: start) where t == UInt16(NLMSGERR_ATTR_MSG.rawValue) {
            var s = v
            while s.last == 0 { s.removeLast() }
            return String(decoding: s, as: UTF8.self)
        }
        return nil
    }
}
