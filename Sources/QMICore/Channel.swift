import Base
import CSystem

/// The QMI control channel: a cdc-wdm/qcqmi/mhi character device, or a Unix stream
/// socket (the simulator's socket file, or `@name` for an abstract socket such as
/// libqmi's `@qmi-proxy`). Non-blocking; writes that would block are queued.
public final class QMIChannel {
    public let path: String
    public private(set) var fd: Int32
    public let isSocket: Bool
    private var outbox: [[UInt8]] = []
    private var outOffset = 0

    init(path: String, fd: Int32, isSocket: Bool) {
        self.path = path
        self.fd = fd
        self.isSocket = isSocket
    }

    deinit { close() }

    public static func open(_ path: String) throws(QMIError) -> QMIChannel {
        if path.begins(with: "@") {
            let fd = csys_unix_connect(path)
            guard fd >= 0 else { throw .system(operation: "connect to abstract socket \(path)", errno: csys_errno()) }
            _ = csys_set_nonblocking(fd)
            return QMIChannel(path: path, fd: fd, isSocket: true)
        }
        switch csys_file_kind(path) {
        case Int32(CSYS_NONE):
            throw .system(operation: "open \(path)", errno: csys_errno())
        case Int32(CSYS_SOCKET):
            let fd = csys_unix_connect(path)
            guard fd >= 0 else { throw .system(operation: "connect to \(path)", errno: csys_errno()) }
            _ = csys_set_nonblocking(fd)
            return QMIChannel(path: path, fd: fd, isSocket: true)
        case Int32(CSYS_DIR):
            throw .invalidArgument("\(path) is a directory, not a QMI device")
        default:
            let fd = csys_open(path, O_RDWR | O_NONBLOCK | O_NOCTTY, 0)
            guard fd >= 0 else { throw .system(operation: "open \(path)", errno: csys_errno()) }
            return QMIChannel(path: path, fd: fd, isSocket: false)
        }
    }

    public var isOpen: Bool { fd >= 0 }
    public var hasPendingOutput: Bool { !outbox.isEmpty }

    public func close() {
        if fd >= 0 { _ = CSystem.close(fd) }
        fd = -1
        outbox.removeAll()
    }

    /// Queues a frame and writes as much as the device takes now.
    public func send(_ frame: [UInt8]) throws(QMIError) {
        guard fd >= 0 else { throw .closed }
        outbox.append(frame)
        try flush()
    }

    /// Writes queued frames; returns with data still queued when the device would block.
    public func flush() throws(QMIError) {
        while let first = outbox.first {
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

    func classify(_ e: Int32, _ op: String) -> QMIError {
        if e == ENODEV || e == EIO || e == ECONNRESET || e == EPIPE || e == ENOTCONN || e == ESHUTDOWN || e == EPROTO {
            return .deviceGone("\(op): \(Errno(e).description)")
        }
        return .system(operation: op, errno: e)
    }
}
