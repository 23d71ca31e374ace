import Base
import CSystem

/// The AT port: a serial port (the `option` driver's ttyUSBn, cdc-acm's ttyACMn, UNISOC
/// PCIe's stty_nr31; the simulator's pty) set raw, cut into lines. A line ends at CR or LF
/// (modules frame answers as CR LF text CR LF; blank lines are dropped). What a real port can
/// bring is survived: a line longer than `maxLine` is dropped whole, control bytes (NULs from
/// a module booting, line noise) are dropped from the line they are in, and each is said once.
///
/// Or Quectel's quectel-atc-proxy (`openQuectelProxy`), a Unix stream socket: the proxy takes
/// each read(2) of it as one command line, appends the CR itself and hands back every line it
/// reads from the module as `line CR LF`. So through it a command is written without its CR,
/// and only when the proxy has read the one before.
public final class ATChannel {
    let port: Port
    public var path: String { port.path }
    public var fd: Int32 { port.fd }
    /// Through quectel-atc-proxy: command lines without CR, one per read of the proxy.
    public var viaProxy: Bool { port.onePerRead }
    private var partial: [UInt8] = []
    /// In a line that grew past `maxLine`: the rest of it is dropped up to its end.
    private var overlong = false
    private var controlBytes = 0
    var onLine: ((String) -> Void)?
    var onJunk: ((String) -> Void)?
    var onClose: ((ATError) -> Void)?

    /// Longer than any answer qcm reads (RG500U's +QNETDEVSTATUS with IPv6 is about 260 bytes).
    public static let maxLine = 4096

    init(path: String, fd: Int32, viaProxy: Bool = false) {
        port = Port(path: path, fd: fd, kind: .stream, readSize: 4096)
        port.onePerRead = viaProxy
    }

    /// Opens `path` as an AT port: it must be a terminal owned by root or by qcm's user (a
    /// PIN goes through it), and it is set raw at 115200 baud.
    public static func open(_ path: String) throws(ATError) -> ATChannel {
        let fd = csys_open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0)
        guard fd >= 0 else {
            let e = csys_errno()
            throw e == ENOENT || e == ENODEV || e == ENXIO ? .deviceGone("\(path): \(Errno(e).description)") : .system(operation: "open \(path)", errno: e)
        }
        var info = csys_file_info()
        guard csys_fstat_info(fd, &info) == 0 else {
            let e = csys_errno()
            _ = CSystem.close(fd)
            throw .system(operation: "fstat \(path)", errno: e)
        }
        guard info.kind == Int32(CSYS_CHARDEV) else {
            _ = CSystem.close(fd)
            throw .invalid("\(path) is not a serial port (not a character device)")
        }
        let me = UInt32(getuid())
        guard info.uid == 0 || info.uid == me else {
            _ = CSystem.close(fd)
            throw .invalid("\(path) belongs to uid \(info.uid), neither root nor qcm's user: nothing is sent to it (no PIN, no password)")
        }
        guard csys_tty_raw(fd) == 0 else {
            let e = csys_errno()
            _ = CSystem.close(fd)
            throw e == ENOTTY ? .invalid("\(path) is not a terminal, so not an AT port") : .system(operation: "set up \(path)", errno: e)
        }
        return ATChannel(path: path, fd: fd)
    }

    /// Quectel's quectel-atc-proxy serving the AT port `device`: `@quectel-atc-proxyN`, N the
    /// port name's last character. Root or qcm's user must listen there (a PIN goes through it).
    public static func openQuectelProxy(device: String) throws(ATError) -> ATChannel {
        guard let name = QuectelProxy.atc.socket(forDevice: device) else {
            throw .invalid("\(device): no quectel-atc-proxy is named after it (its name must end in a printable character)")
        }
        let fd: Int32
        switch Peer.connect(name, "abstract socket \(name)") {
        case .failed(let e): throw .system(operation: "connect to \(name)", errno: e)
        case .untrusted(let why): throw .untrustedPeer(why)
        case .trusted(let f): fd = f
        }
        return adoptingProxySocket(fd: fd, name: name)
    }

    /// The proxy's side of an already-connected socket (a socketpair, in tests).
    public static func adoptingProxySocket(fd: Int32, name: String) -> ATChannel {
        _ = csys_set_nonblocking(fd)
        return ATChannel(path: name, fd: fd, viaProxy: true)
    }

    func start(on loop: EventLoop) {
        port.onBytes = { bytes in self.take(bytes) }
        port.onFailure = { f in self.onClose?(ATError(f)) }
        port.start(on: loop)   // the handlers' cycles are broken by close()
    }

    public func close() {
        port.close()
        onLine = nil
        onJunk = nil
        onClose = nil
    }

    /// Sends one command line, ended by CR, in one write when the port takes it (some USB
    /// hosts lose a lone CR written on its own). Through the proxy: without the CR (it adds
    /// one), written when it has read the line before.
    func send(_ line: String) throws(ATError) {
        do throws(PortFailure) { try port.send(Array(line.utf8) + (viaProxy ? [] : [13])) } catch { throw ATError(error) }
    }

    /// Bytes in; whole lines out to `onLine`.
    func take(_ bytes: ArraySlice<UInt8>) {
        for b in bytes {
            guard port.isOpen else { return }               // closed by a line's handler
            if b == 13 || b == 10 {
                endLine()
            } else if overlong {
                continue
            } else if b < 32 && b != 9 || b == 127 {
                controlBytes += 1
            } else {
                partial.append(b)
                if partial.count > ATChannel.maxLine {
                    onJunk?("ignored a line longer than \(ATChannel.maxLine) bytes from \(path)")
                    partial.removeAll()
                    overlong = true
                }
            }
        }
    }

    private func endLine() {
        if controlBytes > 0 {
            onJunk?("dropped \(controlBytes) control byte(s) from a line from \(path)")
            controlBytes = 0
        }
        overlong = false
        guard !partial.isEmpty else { return }
        let line = String(decoding: partial, as: UTF8.self)
        partial.removeAll(keepingCapacity: true)
        onLine?(line)
    }
}

extension ATError {
    init(_ f: PortFailure) {
        switch f {
        case .closed: self = .closed
        case .gone(let why): self = .deviceGone(why)
        case let .system(operation, errno): self = .system(operation: operation, errno: errno)
        }
    }
}
