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
/// socket file, or `@name` for an abstract socket such as libqmi's `@qmi-proxy`), on a Port
/// (non-blocking; writes that would block are queued), cut into frames.
public final class QMIChannel: QMITransport {
    let port: Port
    public var path: String { port.path }
    public var fd: Int32 { port.fd }
    public var isSocket: Bool { port.kind == .stream }
    /// The peer reads one frame per read(2) (Quectel's proxies): a frame is written only when
    /// the peer has read everything before it.
    public internal(set) var onePerRead: Bool {
        get { port.onePerRead }
        set { port.onePerRead = newValue }
    }
    private var reader = FrameReader()

    init(path: String, fd: Int32, isSocket: Bool) {
        port = Port(path: path, fd: fd, kind: isSocket ? .stream : .messageDevice, readSize: 16384)
    }

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

    public var isOpen: Bool { port.isOpen }
    public var hasPendingOutput: Bool { port.hasPendingOutput }

    public func start(on loop: EventLoop, deliver: @escaping (TransportEvent) -> Void) {
        port.onBytes = { bytes in
            self.reader.append(Array(bytes))
            while self.port.isOpen, let item = self.reader.next() {
                switch item {
                case .garbage(let junk): deliver(.garbage(junk))
                case let .malformed(bytes, error): deliver(.malformed(bytes, error))
                case .frame(let frame): deliver(.frame(frame))
                }
            }
        }
        port.onFailure = { f in deliver(.closed(QMIError(f))) }
        port.start(on: loop)   // the handlers' cycles are broken by close()
    }

    public func close() { port.close() }

    /// Queues a frame and writes as much as the device takes now.
    public func send(_ frame: [UInt8]) throws(QMIError) {
        do throws(PortFailure) { try port.send(frame) } catch { throw QMIError(error) }
    }
}

extension QMIError {
    init(_ f: PortFailure) {
        switch f {
        case .closed: self = .closed
        case .gone(let why): self = .deviceGone(why)
        case let .system(operation, errno): self = .system(operation: operation, errno: errno)
        }
    }

    /// errno of a failed read/write: the device going away, or something else.
    static func classify(_ e: Int32, _ op: String) -> QMIError { QMIError(PortFailure.of(e, op)) }
}
