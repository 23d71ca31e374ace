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
    public let path: String
    public private(set) var fd: Int32
    /// Through quectel-atc-proxy: command lines without CR, one per read of the proxy.
    public internal(set) var viaProxy = false
    private var paceTimer: Int?
    private var paceDelay: Int64 = 0
    private var partial: [UInt8] = []
    /// In a line that grew past `maxLine`: the rest of it is dropped up to its end.
    private var overlong = false
    private var controlBytes = 0
    private var outbox: [UInt8] = []
    private var loop: EventLoop?
    private var watchID = 0
    var onLine: ((String) -> Void)?
    var onJunk: ((String) -> Void)?
    var onClose: ((ATError) -> Void)?

    /// Longer than any answer qcm reads (RG500U's +QNETDEVSTATUS with IPv6 is about 260 bytes).
    public static let maxLine = 4096
    /// Reads of 4 KB per wake-up at most: a port that never stops sending cannot keep the
    /// loop from its timers and signals.
    static let readsPerWakeup = 8

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
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
        _ = csys_set_nonblocking(fd)
        let c = ATChannel(path: name, fd: fd)
        c.viaProxy = true
        return c
    }

    /// The proxy's side of an already-connected socket (a socketpair, in tests).
    public static func adoptingProxySocket(fd: Int32, name: String) -> ATChannel {
        _ = csys_set_nonblocking(fd)
        let c = ATChannel(path: name, fd: fd)
        c.viaProxy = true
        return c
    }

    func start(on loop: EventLoop) {
        self.loop = loop
        watchID = loop.watch(fd) { revents in self.events(revents) }   // cycle broken by close()
        if !outbox.isEmpty { pump() }
    }

    public func close() {
        if let l = loop {
            l.unwatch(watchID)
            if let t = paceTimer { l.cancel(t) }
        }
        paceTimer = nil
        loop = nil
        if fd >= 0 { _ = CSystem.close(fd) }
        fd = -1
        onLine = nil
        onJunk = nil
        onClose = nil
    }

    /// Sends one command line, ended by CR, in one write when the port takes it (some USB
    /// hosts lose a lone CR written on its own). Through the proxy: without the CR (it adds
    /// one), written alone.
    func send(_ line: String) throws(ATError) {
        guard fd >= 0 else { throw .closed }
        if viaProxy {
            lines.append(Array(line.utf8))
            return try pumpLines()
        }
        outbox += Array(line.utf8) + [13]
        try flush()
    }

    /// Command lines for the proxy, each written when it has read the one before.
    private var lines: [[UInt8]] = []

    private func pumpLines() throws(ATError) {
        guard paceTimer == nil else { return }
        while !lines.isEmpty && outbox.isEmpty {
            if QuectelProxy.peerHasUnread(fd) {
                if let l = loop {
                    paceDelay = QuectelProxy.unreadPollMs(after: paceDelay)
                    paceTimer = l.after(paceDelay) { self.pump() }
                }
                return
            }
            paceDelay = 0
            outbox = lines.removeFirst()
            try flush()
        }
    }

    private func pump() {
        paceTimer = nil
        guard fd >= 0 else { return }
        do throws(ATError) {
            try flush()
            try pumpLines()
        } catch {
            fail(error)
        }
    }

    private func flush() throws(ATError) {
        while !outbox.isEmpty {
            let n = outbox.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = csys_errno()
                if e == EAGAIN || e == EINTR { break }
                throw e == ENODEV || e == EIO || e == EPIPE ? .deviceGone("write to \(path): \(Errno(e).description)")
                    : .system(operation: "write to \(path)", errno: e)
            }
            outbox.removeFirst(n)
        }
        loop?.setEvents(watchID, Int16(POLLIN) | (outbox.isEmpty ? 0 : Int16(POLLOUT)))
    }

    private func fail(_ e: ATError) {
        let c = onClose
        close()
        c?(e)
    }

    private func events(_ revents: Int16) {
        if revents & Int16(POLLOUT) != 0 {
            do throws(ATError) {
                try flush()
                if viaProxy { try pumpLines() }
            } catch {
                return fail(error)
            }
        }
        guard revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        var reads = 0
        while fd >= 0 && reads < ATChannel.readsPerWakeup {
            reads += 1
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = csys_errno()
                if e == EAGAIN || e == EINTR { return }
                return fail(.deviceGone("read from \(path): \(Errno(e).description)"))
            }
            if n == 0 { return fail(.deviceGone("\(path) hung up")) }
            take(buf[0..<n])
        }
    }

    /// Bytes in; whole lines out to `onLine`.
    func take(_ bytes: ArraySlice<UInt8>) {
        for b in bytes {
            guard fd >= 0 else { return }                   // closed by a line's handler
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
