import Base
import CSystem

/// What the engine sends QMI through. Whatever the transport, the engine sees whole QMUX
/// frames both ways, so transactions, timeouts, indications and the -v trace are the same.
///
/// - `QMIChannel`: a QMUX byte stream — cdc-wdm or mhi_QMI character devices, the
///   simulator's socket file, libqmi's `@qmi-proxy`, Quectel's `@quectel-qmi-proxyN` (one
///   frame per read: `QMITransports.openQuectelProxy`).
/// - `GobiNetChannel`: Quectel GobiNet's `/dev/qcqmiN`, one file per QMI service, client ids
///   allocated by the driver, messages without the QMUX header.
public protocol QMITransport: AnyObject {
    /// The path as given ("/dev/cdc-wdm0", "@qmi-proxy", "/dev/qcqmi0").
    var path: String { get }
    /// A few words for the log ("fd 8", "GobiNet service files").
    var summary: String { get }
    /// Whether CTL is the driver's (GobiNet): no CTL Sync, client ids come with service files.
    var driverOwnsCTL: Bool { get }
    /// Starts watching for input on `loop`; what arrives is handed to `deliver`.
    func start(on loop: EventLoop, deliver: @escaping (TransportEvent) -> Void)
    /// Sends one whole QMUX frame.
    func send(_ frame: [UInt8]) throws(QMIError)
    /// Stops watching and closes everything (idempotent).
    func close()
}

public enum TransportEvent {
    /// One whole QMUX frame (for GobiNet, with its header rebuilt).
    case frame([UInt8])
    /// Bytes that are not a QMUX frame, skipped.
    case garbage([UInt8])
    /// A frame that cannot be right (lengths that do not add up), skipped.
    case malformed([UInt8], QMIError)
    /// A message was lost in the transport (GobiNet: larger than the read buffer).
    case lost(String)
    /// The transport could not carry the request in this frame.
    case refused([UInt8], QMIError)
    /// The channel is gone.
    case closed(QMIError)
}

/// Opens the right transport for `path`: GobiNet's qcqmi nodes speak their own framing
/// (quectel-CM tells them by the same name prefix), everything else is a QMUX stream.
public enum QMITransports {
    public static func isGobiNet(_ path: String) -> Bool { Files.basename(path).begins(with: "qcqmi") }

    public static func open(_ path: String) throws(QMIError) -> any QMITransport {
        if isGobiNet(path) { return try GobiNetChannel.open(path) }
        return try QMIChannel.open(path)
    }

    /// Quectel's quectel-qmi-proxy serving `device`: `@quectel-qmi-proxyN`, N the device name's
    /// last character. No handshake (no Internal Proxy Open; the proxy refuses CTL Sync from
    /// clients), client ids allocated through it with CTL as on the device, QMUX frames as
    /// they are — but each read(2) of the proxy must hold exactly one frame, so frames are
    /// written one at a time, each when the proxy has read the one before.
    public static func openQuectelProxy(device: String) throws(QMIError) -> QMIChannel {
        guard let name = QuectelProxy.qmi.socket(forDevice: device) else {
            throw .invalidArgument("\(device): no quectel-qmi-proxy is named after it (its name must end in a printable character)")
        }
        let c = try QMIChannel.connect(name, "abstract socket \(name)")
        c.onePerRead = true
        return c
    }
}

/// A QMUX stream: a cdc-wdm/mhi character device, or a Unix stream socket (the simulator's
/// socket file, or `@name` for an abstract socket such as libqmi's `@qmi-proxy`).
/// Non-blocking; writes that would block are queued.
public final class QMIChannel: QMITransport {
    public let path: String
    public private(set) var fd: Int32
    public let isSocket: Bool
    /// The peer reads one frame per read(2) (Quectel's proxies): a frame is written only when
    /// the peer has read everything before it.
    public internal(set) var onePerRead = false
    /// Waiting for the peer to read our last frame before writing the next.
    private var paceTimer: Int?
    private var paceDelay: Int64 = 0
    private var outbox: [[UInt8]] = []
    private var outOffset = 0
    private var reader = FrameReader()
    private var loop: EventLoop?
    private var watchID = 0
    private var deliver: ((TransportEvent) -> Void)?

    init(path: String, fd: Int32, isSocket: Bool) {
        self.path = path
        self.fd = fd
        self.isSocket = isSocket
    }

    deinit { close() }

    public var summary: String { "fd \(fd)" + (onePerRead ? ", one frame per read" : "") }
    public var driverOwnsCTL: Bool { false }

    /// A stream over an already-open descriptor (a socketpair, in tests).
    public static func adopting(fd: Int32, name: String, isSocket: Bool = true) -> QMIChannel {
        _ = csys_set_nonblocking(fd)
        return QMIChannel(path: name, fd: fd, isSocket: isSocket)
    }

    public static func open(_ path: String) throws(QMIError) -> QMIChannel {
        if path.begins(with: "@") { return try connect(path, "abstract socket \(path)") }
        switch csys_file_kind(path) {
        case Int32(CSYS_NONE):
            throw .system(operation: "open \(path)", errno: csys_errno())
        case Int32(CSYS_SOCKET):
            return try connect(path, path)
        case Int32(CSYS_DIR):
            throw .invalidArgument("\(path) is a directory, not a QMI device")
        default:
            let fd = csys_open(path, O_RDWR | O_NONBLOCK | O_NOCTTY, 0)
            guard fd >= 0 else { throw .system(operation: "open \(path)", errno: csys_errno()) }
            return QMIChannel(path: path, fd: fd, isSocket: false)
        }
    }

    /// A socket (a proxy, the simulator) is used only when root or qcm's user listens there:
    /// nothing, not even the proxy's open request, goes to anyone else.
    static func connect(_ path: String, _ what: String) throws(QMIError) -> QMIChannel {
        switch Peer.connect(path, what) {
        case .failed(let e): throw .system(operation: "connect to \(what)", errno: e)
        case .untrusted(let why): throw .untrustedPeer(why)
        case .trusted(let fd):
            _ = csys_set_nonblocking(fd)
            return QMIChannel(path: path, fd: fd, isSocket: true)
        }
    }

    public var isOpen: Bool { fd >= 0 }
    public var hasPendingOutput: Bool { !outbox.isEmpty }

    public func start(on loop: EventLoop, deliver: @escaping (TransportEvent) -> Void) {
        self.loop = loop
        self.deliver = deliver
        watchID = loop.watch(fd) { revents in self.onEvents(revents) }   // cycle broken by close()
        if !outbox.isEmpty { pump() }
    }

    public func close() {
        if let l = loop {
            l.unwatch(watchID)
            if let t = paceTimer { l.cancel(t) }
        }
        paceTimer = nil
        loop = nil
        deliver = nil
        if fd >= 0 { _ = CSystem.close(fd) }
        fd = -1
        outbox.removeAll()
    }

    /// Queues a frame and writes as much as the device takes now.
    public func send(_ frame: [UInt8]) throws(QMIError) {
        guard fd >= 0 else { throw .closed }
        outbox.append(frame)
        guard paceTimer == nil else { return }
        try flush()
        updateWriteInterest()
    }

    /// Writes queued frames; returns with data still queued when the device would block, or
    /// (one frame per read) when the peer has not read the last frame yet — then a timer
    /// looks again shortly.
    public func flush() throws(QMIError) {
        while let first = outbox.first {
            if onePerRead && outOffset == 0 {
                if QuectelProxy.peerHasUnread(fd) {
                    if paceTimer == nil, let l = loop {
                        paceDelay = QuectelProxy.unreadPollMs(after: paceDelay)
                        paceTimer = l.after(paceDelay) { self.pump() }
                    }
                    return
                }
                paceDelay = 0
            }
            let n = first.withUnsafeBytes { buf in
                write(fd, buf.baseAddress! + outOffset, buf.count - outOffset)
            }
            if n < 0 {
                let e = csys_errno()
                if e == EAGAIN || e == EINTR || e == EBUSY { return }
                throw classify(e, "write to \(path)")
            }
            if !isSocket && n != first.count {
                // A character device takes a QMI message whole or not at all.
                throw .system(operation: "short write to \(path)", errno: EIO)
            }
            outOffset += n
            if outOffset >= first.count {
                outbox.removeFirst()
                outOffset = 0
            }
        }
    }

    /// The pacing timer fired (or the loop started with frames queued): write what may go now.
    private func pump() {
        paceTimer = nil
        guard fd >= 0 else { return }
        do throws(QMIError) { try flush() } catch { return fail(error) }
        updateWriteInterest()
    }

    /// POLLOUT only while a write would block; not while waiting for the peer to read.
    private func updateWriteInterest() {
        guard let l = loop else { return }
        l.setEvents(watchID, Int16(POLLIN) | (outbox.isEmpty || paceTimer != nil ? 0 : Int16(POLLOUT)))
    }

    /// The channel failed: stop watching, tell the engine once.
    private func fail(_ e: QMIError) {
        let d = deliver
        close()
        d?(.closed(e))
    }

    private func onEvents(_ revents: Int16) {
        if revents & Int16(POLLOUT) != 0 && paceTimer == nil {
            do throws(QMIError) { try flush() } catch { return fail(error) }
            updateWriteInterest()
        }
        if revents & Int16(POLLIN | POLLHUP | POLLERR) == 0 { return }
        // Drain what is there now, stopping at EAGAIN — or after a few reads, so that a peer
        // that never stops sending cannot keep the loop from its timers and signals.
        var reads = 0
        while fd >= 0 && reads < QMIChannel.readsPerWakeup {
            reads += 1
            let r: ReadResult
            do throws(QMIError) { r = try read() } catch { return fail(error) }
            switch r {
            case .wouldBlock:
                if revents & Int16(POLLHUP | POLLERR) != 0 && revents & Int16(POLLIN) == 0 {
                    fail(.deviceGone("\(path) hung up"))
                }
                return
            case .endOfFile:
                return fail(.deviceGone("\(path) closed by the other end"))
            case .data(let bytes):
                reader.append(bytes)
                while fd >= 0, let item = reader.next() {
                    switch item {
                    case .garbage(let junk): deliver?(.garbage(junk))
                    case let .malformed(bytes, error): deliver?(.malformed(bytes, error))
                    case .frame(let frame): deliver?(.frame(frame))
                    }
                }
                if !isSocket { return }   // cdc-wdm: one message per read; poll again
            }
        }
    }

    /// Reads of 16 KB per wake-up at most; poll(2) reports the rest at once.
    static let readsPerWakeup = 8

    public enum ReadResult {
        case data([UInt8])
        case wouldBlock
        case endOfFile
    }

    public func read() throws(QMIError) -> ReadResult {
        guard fd >= 0 else { throw .closed }
        var buf = [UInt8](repeating: 0, count: 16384)
        let n = buf.withUnsafeMutableBytes { CSystem.read(fd, $0.baseAddress, $0.count) }
        if n > 0 { return .data(Array(buf[0..<n])) }
        if n == 0 { return .endOfFile }
        let e = csys_errno()
        if e == EAGAIN || e == EINTR { return .wouldBlock }
        throw classify(e, "read from \(path)")
    }

    func classify(_ e: Int32, _ op: String) -> QMIError { QMIError.classify(e, op) }
}

extension QMIError {
    /// errno of a failed read/write: the device going away, or something else.
    static func classify(_ e: Int32, _ op: String) -> QMIError {
        if e == ENODEV || e == EIO || e == ECONNRESET || e == EPIPE || e == ENOTCONN || e == ESHUTDOWN || e == EPROTO || e == ENXIO {
            return .deviceGone("\(op): \(Errno(e).description)")
        }
        return .system(operation: op, errno: e)
    }
}
