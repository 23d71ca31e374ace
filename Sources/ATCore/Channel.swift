import Base
import CSystem

/// The AT port: a serial port (the `option` driver's ttyUSBn, cdc-acm's ttyACMn, UNISOC
/// PCIe's stty_nr31; the simulator's pty) set raw, cut into lines. A line ends at CR or LF
/// (modules frame answers as CR LF text CR LF; blank lines are dropped). What a real port can
/// bring is survived: a line longer than `maxLine` is dropped whole, control bytes (NULs from
/// a module booting, line noise) are dropped from the line they are in, and each is said once.
public final class ATChannel {
    public let path: String
    public private(set) var fd: Int32
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

    func start(on loop: EventLoop) {
        self.loop = loop
        watchID = loop.watch(fd) { revents in self.events(revents) }   // cycle broken by close()
    }

    public func close() {
        if let l = loop { l.unwatch(watchID) }
        loop = nil
        if fd >= 0 { _ = CSystem.close(fd) }
        fd = -1
        onLine = nil
        onJunk = nil
        onClose = nil
    }

    /// Sends one command line, ended by CR, in one write when the port takes it (some USB
    /// hosts lose a lone CR written on its own).
    func send(_ line: String) throws(ATError) {
        guard fd >= 0 else { throw .closed }
        outbox += Array(line.utf8) + [13]
        try flush()
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
            do throws(ATError) { try flush() } catch { return fail(error) }
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
