import CSystem

/// Why a Port stopped carrying bytes.
public enum PortFailure: Error {
    /// A message was sent on a closed port.
    case closed
    /// The device or the peer went away: unplugged, reset, the proxy or the simulator gone.
    case gone(String)
    /// Any other failed call.
    case system(operation: String, errno: Int32)

    /// errno of a failed read or write: the device going away, or something else.
    public static func of(_ e: Int32, _ operation: String) -> PortFailure {
        if e == ENODEV || e == EIO || e == ECONNRESET || e == EPIPE || e == ENOTCONN || e == ESHUTDOWN || e == EPROTO || e == ENXIO {
            return .gone("\(operation): \(Errno(e).description)")
        }
        return .system(operation: operation, errno: e)
    }
}

/// A non-blocking descriptor on the event loop that writes whole messages and hands on the
/// bytes it reads: the one I/O path under the QMI, MBIM and AT channels, which each cut their
/// own messages out of what arrives.
///
/// Writes that would block are queued and finished when poll(2) says the descriptor takes
/// more. Where the peer takes each read(2) as one message (Quectel's proxies: `onePerRead`),
/// a message is written only once the peer has read everything before it; until then a
/// timer looks again (1 ms, doubling to 64 ms). Reads stop after a few per wake-up, so a
/// peer that never stops sending cannot keep the loop from its timers and signals.
public final class Port {
    public enum Kind {
        /// A Unix stream socket or a terminal: bytes both ways, partial writes continued.
        case stream
        /// A message device (cdc-wdm, mhi): each read(2) brings one message, each write(2)
        /// takes a message whole or not at all.
        case messageDevice
    }

    public let path: String
    public private(set) var fd: Int32
    public let kind: Kind
    /// The peer reads one message per read(2) (Quectel's proxies).
    public var onePerRead = false
    /// What arrived, in the order it arrived.
    public var onBytes: ((ArraySlice<UInt8>) -> Void)?
    /// The port failed and is closed (said once).
    public var onFailure: ((PortFailure) -> Void)?

    private let readSize: Int
    private var outbox: [[UInt8]] = []
    /// How much of the first queued message is written.
    private var outOffset = 0
    /// Waiting for the peer to read our last message before writing the next.
    private var paceTimer: Int?
    private var paceDelay: Int64 = 0
    private var loop: EventLoop?
    private var watchID = 0

    static let readsPerWakeup = 8

    public init(path: String, fd: Int32, kind: Kind, readSize: Int) {
        self.path = path
        self.fd = fd
        self.kind = kind
        self.readSize = readSize
    }

    deinit { close() }

    public var isOpen: Bool { fd >= 0 }
    public var hasPendingOutput: Bool { !outbox.isEmpty }

    public func start(on loop: EventLoop) {
        self.loop = loop
        watchID = loop.watch(fd) { revents in self.events(revents) }   // cycle broken by close()
        if !outbox.isEmpty { pump() }
    }

    /// Stops watching and closes the descriptor (idempotent); what was queued is dropped.
    public func close() {
        if let l = loop {
            l.unwatch(watchID)
            if let t = paceTimer { l.cancel(t) }
        }
        paceTimer = nil
        loop = nil
        if fd >= 0 { _ = CSystem.close(fd) }
        fd = -1
        outbox.removeAll()
        outOffset = 0
        onBytes = nil
        onFailure = nil
    }

    /// Queues one message and writes what may go now.
    public func send(_ message: [UInt8]) throws(PortFailure) {
        guard fd >= 0 else { throw .closed }
        outbox.append(message)
        guard paceTimer == nil else { return }
        try flush()
        updateWriteInterest()
    }

    /// Writes queued messages; returns with some still queued when the descriptor would
    /// block, or when the peer has not read the last message yet.
    private func flush() throws(PortFailure) {
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
            let n = first.withUnsafeBytes { write(fd, $0.baseAddress! + outOffset, $0.count - outOffset) }
            if n < 0 {
                let e = csys_errno()
                if e == EAGAIN || e == EINTR || e == EBUSY { return }
                throw .of(e, "write to \(path)")
            }
            if kind == .messageDevice && n != first.count {
                throw .system(operation: "short write to \(path)", errno: EIO)
            }
            outOffset += n
            if outOffset >= first.count {
                outbox.removeFirst()
                outOffset = 0
            }
        }
    }

    /// The pacing timer fired (or the loop started with messages queued).
    private func pump() {
        paceTimer = nil
        guard fd >= 0 else { return }
        do throws(PortFailure) { try flush() } catch { return fail(error) }
        updateWriteInterest()
    }

    /// POLLOUT only while a write would block, not while the peer has yet to read.
    private func updateWriteInterest() {
        loop?.setEvents(watchID, Int16(POLLIN) | (outbox.isEmpty || paceTimer != nil ? 0 : Int16(POLLOUT)))
    }

    private func fail(_ f: PortFailure) {
        let tell = onFailure
        close()
        tell?(f)
    }

    private func events(_ revents: Int16) {
        if revents & Int16(POLLOUT) != 0 && paceTimer == nil {
            do throws(PortFailure) { try flush() } catch { return fail(error) }
            updateWriteInterest()
        }
        guard revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return }
        var buf = [UInt8](repeating: 0, count: readSize)
        var reads = 0
        while fd >= 0 && reads < Port.readsPerWakeup {
            reads += 1
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = csys_errno()
                guard e == EAGAIN || e == EINTR else { return fail(.of(e, "read from \(path)")) }
                // Nothing to read, yet poll(2) woke us: a hang-up, which it would report forever.
                if revents & Int16(POLLHUP | POLLERR) != 0 && revents & Int16(POLLIN) == 0 {
                    fail(.gone("\(path) hung up"))
                }
                return
            }
            if n == 0 { return fail(.gone("\(path) closed by the other end")) }
            onBytes?(buf[0..<n])
            if kind == .messageDevice { return }   // one message per read: poll again
        }
    }
}
