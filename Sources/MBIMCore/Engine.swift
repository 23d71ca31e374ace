import Base
import CSystem

/// The MBIM control channel: cdc_mbim's cdc-wdm node (one message per read), the
/// simulator's socket file, libmbim's `@mbim-proxy` (a byte stream of messages), or Quectel's
/// `@quectel-mbim-proxy` (`openQuectelProxy`: a stream whose every read(2) on the proxy's side
/// must hold one message). Messages are cut out by their MessageLength; one that claims less
/// than a header or more than 64 KB means the stream is out of step, and what is buffered is
/// dropped.
public final class MBIMChannel {
    let port: Port
    public var path: String { port.path }
    public var fd: Int32 { port.fd }
    /// The peer reads one message per read(2) (quectel-mbim-proxy): a message is written only
    /// when the peer has read everything before it.
    public internal(set) var onePerRead: Bool {
        get { port.onePerRead }
        set { port.onePerRead = newValue }
    }
    private var pending: [UInt8] = []
    var onMessage: (([UInt8]) -> Void)?
    var onJunk: ((String) -> Void)?
    var onClose: ((MBIMError) -> Void)?

    static let maxMessage = 65536

    init(path: String, fd: Int32, isSocket: Bool) {
        port = Port(path: path, fd: fd, kind: isSocket ? .stream : .messageDevice, readSize: 16384)
    }

    public static func open(_ path: String) throws(MBIMError) -> MBIMChannel {
        if path.begins(with: "@") || csys_file_kind(path) == Int32(CSYS_SOCKET) {
            // libmbim's proxy, or the simulator: root's or ours, or nothing is sent to it.
            return try connect(path, path.begins(with: "@") ? "abstract socket \(path)" : path)
        }
        let fd = csys_open(path, O_RDWR | O_NONBLOCK | O_NOCTTY, 0)
        guard fd >= 0 else { throw .system(operation: "open \(path)", errno: csys_errno()) }
        return MBIMChannel(path: path, fd: fd, isSocket: false)
    }

    /// Quectel's quectel-mbim-proxy (`@quectel-mbim-proxy`, one name for any device). No
    /// handshake: it answers OPEN and CLOSE itself (the device stays open, its sessions up)
    /// and hands every other message to the modem with the client's slot in the top byte of
    /// the transaction id, so a client's transaction ids must fit in 24 bits (MBIMEngine's
    /// do). Each message is written when the proxy has read the one before: it takes every
    /// read(2) as one message.
    public static func openQuectelProxy() throws(MBIMError) -> MBIMChannel {
        let name = QuectelProxy.mbim.socket(forDevice: "") ?? "@quectel-mbim-proxy"
        let c = try connect(name, "abstract socket \(name)")
        c.onePerRead = true
        return c
    }

    /// A socket is used only when root or qcm's user listens there.
    static func connect(_ path: String, _ what: String) throws(MBIMError) -> MBIMChannel {
        switch Peer.connect(path, what) {
        case .failed(let e): throw .system(operation: "connect to \(path)", errno: e)
        case .untrusted(let why): throw .untrustedPeer(why)
        case .trusted(let fd):
            _ = csys_set_nonblocking(fd)
            return MBIMChannel(path: path, fd: fd, isSocket: true)
        }
    }

    func start(on loop: EventLoop) {
        port.onBytes = { bytes in
            self.pending += bytes
            self.cut()
        }
        port.onFailure = { f in self.onClose?(MBIMError(f)) }
        port.start(on: loop)   // the handlers' cycles are broken by close()
    }

    public func close() {
        port.close()
        onMessage = nil
        onJunk = nil
        onClose = nil
    }

    /// Queues one message (or fragment) and writes what may go now.
    func send(_ bytes: [UInt8]) throws(MBIMError) {
        do throws(PortFailure) { try port.send(bytes) } catch { throw MBIMError(error) }
    }

    /// Whole messages out of `pending`.
    private func cut() {
        while pending.count >= 12 && port.isOpen {
            let length = Int(Reader(pending).u32(4))
            guard length >= 12 && length <= MBIMChannel.maxMessage else {
                onJunk?("MBIM stream out of step (a MessageLength of \(length)): \(pending.count) bytes dropped")
                pending.removeAll()
                return
            }
            guard pending.count >= length else { return }
            let message = Array(pending[..<length])
            pending.removeFirst(length)
            onMessage?(message)
        }
    }
}

extension MBIMError {
    init(_ f: PortFailure) {
        switch f {
        case .closed: self = .closed
        case .gone(let why): self = .deviceGone(why)
        case let .system(operation, errno): self = .system(operation: operation, errno: errno)
        }
    }
}

/// Matches responses to requests by transaction id (MBIM has nothing else to match on),
/// reassembles fragments, times requests out and hands indications on. On the event loop,
/// no threads.
public final class MBIMEngine {
    public typealias Completion = (Result<MBIMMessage, MBIMError>) -> Void

    final class Pending {
        let tid: UInt32
        let name: String
        let completion: Completion
        var timer = 0
        init(tid: UInt32, name: String, completion: @escaping Completion) {
            self.tid = tid
            self.name = name
            self.completion = completion
        }
    }

    public let channel: MBIMChannel
    let loop: EventLoop
    private var pending: [Pending] = []
    /// Transaction ids run from 1 to 0xFFFFFF and wrap: quectel-mbim-proxy puts its client's
    /// slot in the top byte (ORed in), so an id must leave it clear.
    private var nextTID: UInt32 = 1
    /// For tests of the wrap.
    func setNextTransactionID(_ t: UInt32) { nextTID = t }
    /// A message being reassembled from its fragments (a class: the payload grows in place).
    final class Reassembly {
        let kind: MBIMMessage.Kind
        let tid: UInt32
        let total: UInt32
        var next: UInt32 = 1
        var payload: [UInt8]
        init(_ f: MBIMMessage.Fragment) {
            kind = f.kind
            tid = f.transactionID
            total = f.total
            payload = f.payload
        }
    }
    private var collecting: Reassembly?
    public var maxTransfer = 4096
    /// The largest message qcm reassembles, and the most fragments it takes for one: far
    /// more than any Basic Connect answer needs, and a bound on what a peer can make qcm hold.
    public static let maxMessage = 65536
    public static let maxFragments: UInt32 = 32
    public private(set) var closedError: MBIMError?

    /// Every message sent or received (bytes, decoded when whole), for the -v trace.
    public var onFrame: ((_ bytes: [UInt8], _ message: MBIMMessage?, _ sent: Bool) -> Void)?
    public var onIndication: ((MBIMMessage) -> Void)?
    /// Something ignored, as a log line.
    public var onIgnored: ((String) -> Void)?
    public var onClose: ((MBIMError) -> Void)?

    public init(channel: MBIMChannel, loop: EventLoop) {
        self.channel = channel
        self.loop = loop
        channel.onMessage = { bytes in self.received(bytes) }
        channel.onJunk = { why in self.ignored(why) }
        channel.onClose = { e in self.shutdown(e) }
        channel.start(on: loop)
    }

    public var isClosed: Bool { closedError != nil }

    /// Sends `m` (its transaction id is set here) and calls `completion` once: with the
    /// matching *_DONE, or a failure (FUNCTION_ERROR, a non-zero status, timeout, closed).
    public func send(_ message: MBIMMessage, timeoutMs: Int64, _ completion: @escaping Completion) {
        if let e = closedError {
            loop.after(0) { completion(.failure(e)) }
            return
        }
        var m = message
        m.transactionID = nextTID
        nextTID = nextTID >= 0x00ff_ffff ? 1 : nextTID + 1
        let name = MBIMTrace.name(m)
        let p = Pending(tid: m.transactionID, name: name, completion: completion)
        pending.append(p)
        p.timer = loop.after(timeoutMs) {
            guard let i = self.pending.firstIndex(where: { $0 === p }) else { return }
            self.pending.remove(at: i)
            p.completion(.failure(.timeout("\(name) (transaction \(p.tid))")))
        }
        let fragments = m.encode(maxTransfer: maxTransfer)
        for f in fragments { onFrame?(f, fragments.count == 1 ? m : nil, true) }
        do throws(MBIMError) {
            for f in fragments { try channel.send(f) }
        } catch {
            shutdown(error)
        }
    }

    public func close() { shutdown(.closed) }

    private func shutdown(_ e: MBIMError) {
        guard closedError == nil else { return }
        closedError = e
        channel.close()
        let failed = pending
        pending.removeAll()
        for p in failed {
            loop.cancel(p.timer)
            p.completion(.failure(e))
        }
        onClose?(e)
    }

    /// Notices of ignored input in a row (since the last valid message): the first few are
    /// logged, then one line says the rest is not — a peer that sends nothing but garbage
    /// cannot fill the log.
    private var notices = 0
    static let maxNotices = 16

    private func ignored(_ why: String) {
        notices += 1
        if notices <= MBIMEngine.maxNotices { onIgnored?(why) }
        if notices == MBIMEngine.maxNotices { onIgnored?("more ignored MBIM input is not logged until a valid message arrives") }
    }

    private func received(_ bytes: [UInt8]) {
        let f: MBIMMessage.Fragment
        switch MBIMMessage.fragment(bytes) {
        case .failure(let e):
            onFrame?(bytes, nil, false)
            ignored("ignored: \(e.description)")
            return
        case .success(let x): f = x
        }
        var payload = f.payload
        if f.total > 1 {
            onFrame?(bytes, nil, false)
            guard f.total <= MBIMEngine.maxFragments else {
                collecting = nil
                ignored("ignored MBIM fragment \(f.current) of \(f.total) (transaction \(f.transactionID)): more than \(MBIMEngine.maxFragments) fragments announced")
                return
            }
            if f.current == 0 {
                collecting = Reassembly(f)
                return
            }
            guard let c = collecting, c.tid == f.transactionID, c.kind == f.kind, c.total == f.total, c.next == f.current else {
                collecting = nil
                ignored("ignored MBIM fragment \(f.current) of \(f.total) (transaction \(f.transactionID)): out of sequence, the message is lost")
                return
            }
            guard c.payload.count + f.payload.count <= MBIMEngine.maxMessage else {
                collecting = nil
                ignored("ignored MBIM message of transaction \(f.transactionID): its fragments exceed \(MBIMEngine.maxMessage) bytes")
                return
            }
            c.payload += f.payload
            c.next += 1
            guard c.next == c.total else { return }
            collecting = nil
            payload = c.payload
        }
        let m: MBIMMessage
        switch MBIMMessage.assemble(kind: f.kind, transactionID: f.transactionID, payload: payload) {
        case .failure(let e):
            onFrame?(bytes, nil, false)
            ignored("ignored: \(e.description)")
            return
        case .success(let x): m = x
        }
        notices = 0
        if f.total == 1 { onFrame?(bytes, m, false) }
        switch m.kind {
        case .indicateStatus:
            onIndication?(m)
        case .openDone, .closeDone, .commandDone, .functionError:
            guard let i = pending.firstIndex(where: { $0.tid == m.transactionID }) else {
                ignored("ignored \(m.kind.name) with transaction \(m.transactionID) that matches no request")
                return
            }
            let p = pending.remove(at: i)
            loop.cancel(p.timer)
            if m.kind == .functionError { return p.completion(.failure(.protocolError(m.value))) }
            if m.status != 0 { return p.completion(.failure(.status(m.status, m.buffer))) }
            p.completion(.success(m))
        default:
            ignored("ignored \(m.kind.name) from the modem side")
        }
    }
}

/// The -v trace of MBIM: the message's hex (passwords and PINs replaced by '*'), and a
/// decoded line: type, transaction, service, CID, and every field by name.
public enum MBIMTrace {
    public static func name(_ m: MBIMMessage) -> String {
        guard m.carriesBuffer else { return m.kind.name }
        let cid = MBIMCatalogue.find(m.service, m.cid)?.name ?? "CID \(m.cid)"
        let how = m.kind == .command ? (m.isSet ? " set" : " query") : m.kind == .indicateStatus ? " indication" : ""
        return "\(m.service.name) \(cid)\(how)"
    }

    public static func describe(_ m: MBIMMessage) -> String {
        var s = "MBIM \(m.kind.name) tid \(m.transactionID)"
        switch m.kind {
        case .open: return s + " MaxControlTransfer=\(m.value)"
        case .openDone, .closeDone: return s + " Status=\(MBIMNames.status(m.value))"
        case .functionError, .hostError: return s + " Error=\(MBIMNames.protocolError(m.value))"
        case .close: return s
        default: break
        }
        s += " " + name(m)
        if m.kind == .commandDone { s += " Status=\(MBIMNames.status(m.value))" }
        guard !m.buffer.isEmpty else { return s }
        guard let layout = layout(m) else { return s + " (\(m.buffer.count) bytes)" }
        switch layout.decode(m.buffer) {
        case .success(let values): return s + ": " + layout.describe(values)
        case .failure(let e): return s + ": " + e.description
        }
    }

    public static func layout(_ m: MBIMMessage) -> MBIMLayout? {
        guard let e = MBIMCatalogue.find(m.service, m.cid) else { return nil }
        switch m.kind {
        case .command: return m.isSet ? e.set : e.query
        default: return e.response
        }
    }

    /// The message's bytes with secret strings (passwords, PINs) overwritten by '*'.
    public static func masked(_ bytes: [UInt8], _ m: MBIMMessage?) -> [UInt8] {
        guard let m, m.kind == .command, m.isSet, let layout = layout(m), bytes.count == 48 + m.buffer.count else { return bytes }
        var out = bytes
        var o = 0
        let r = Reader(m.buffer)
        for f in layout.fields {
            if case .secret = f {
                let at = Int(r.u32(o)), size = Int(r.u32(o + 4))
                if size > 0 && r.has(at, size) {
                    for k in stride(from: 0, to: size - 1, by: 2) { out[48 + at + k] = 0x2a; out[48 + at + k + 1] = 0 }
                }
            }
            switch f {
            case .strings, .services: return out           // nothing secret follows in these layouts
            default: o += f.fixedSize
            }
        }
        return out
    }
}
