import Base
import CSystem

/// `-u FILE` (quectel-CM's): the modem's USB traffic, as the kernel's usbmon text interface
/// shows it (`/sys/kernel/debug/usb/usbmon/<bus>u`, the "1u" format), copied into FILE while
/// qcm runs — only the lines of the modem's own device (`Bo:1:003:2`: bus 1, device 3), each
/// with qcm's log timestamp in front, so a capture and a `-v` log line up.
///
/// The text file cannot be polled (usbmon gives it no poll method: poll(2) always says
/// readable, and a non-blocking read says EAGAIN when nothing happened), so the poll loop
/// reads it on a timer, every `intervalMs`, until it has nothing more — no thread. A source
/// that can be polled (a FIFO standing in for it) is watched instead. Where the capture
/// cannot run (not a USB modem, debugfs not mounted, usbmon not loaded, not root), qcm says
/// why once and goes on without it.
final class UsbmonCapture {
    /// Why a capture cannot run.
    struct Unavailable: Error {
        let reason: String
    }

    static let intervalMs: Int64 = 100
    /// Read at most this much per wake-up, so a busy bus cannot keep qcm from its timers.
    static let readBudget = 256 * 1024
    /// A line longer than this (no usbmon line is) is cut.
    static let maxLine = 8 * 1024

    let source: String
    let file: String
    private(set) var bus: Int
    private(set) var device: Int
    private let loop: EventLoop
    private let log: Logger
    private var input: Int32 = -1
    private var output: Int32 = -1
    private var watchID: Int?
    private var timerID: Int?
    private var partial: [UInt8] = []
    private(set) var linesWritten = 0
    private(set) var linesSeen = 0

    /// The usbmon text file of USB bus `bus` under `debugRoot` (`/sys/kernel/debug`), or why
    /// there is none. `moduleRoot` is sysfs's `/sys/module`, to tell "not loaded" apart.
    static func source(debugRoot: String, moduleRoot: String, bus: Int?) throws(Unavailable) -> String {
        guard let bus else {
            throw Unavailable(reason: "the modem is not on USB (usbmon records USB traffic only)")
        }
        let usb = debugRoot + "/usb"
        if !Files.exists(usb) {
            if let info = Files.info(debugRoot), info.kind == .directory, Files.list(debugRoot) == nil {
                throw Unavailable(reason: "\(debugRoot) cannot be read (\(Errno.current.description)): debugfs is root's")
            }
            throw Unavailable(reason: "debugfs is not mounted at \(debugRoot) (mount -t debugfs none \(debugRoot))")
        }
        let dir = usb + "/usbmon"
        if !Files.exists(dir) {
            let loaded = Files.exists(moduleRoot + "/usbmon")
            throw Unavailable(reason: loaded ? "\(dir) does not exist although usbmon is loaded"
                                             : "usbmon is not loaded (modprobe usbmon)")
        }
        let path = dir + "/\(bus)u"
        guard Files.exists(path) else { throw Unavailable(reason: "usbmon has no text file for bus \(bus) (\(path))") }
        return path
    }

    init(source: String, file: String, bus: Int, device: Int, loop: EventLoop, log: Logger) {
        self.source = source
        self.file = file
        self.bus = bus
        self.device = device
        self.loop = loop
        self.log = log
    }

    /// Opens the source, then creates FILE — owner-only, never through a symlink, only a
    /// regular file of qcm's user (emptied, as quectel-CM's is) — and starts copying.
    func start() throws(Unavailable) {
        input = csys_open(source, O_RDONLY | O_NONBLOCK, 0)
        guard input >= 0 else { throw Unavailable(reason: "cannot open \(source): \(Errno.current.description)") }
        let fd = csys_open(file, O_WRONLY | O_CREAT | O_NOFOLLOW | O_APPEND, 0o600)
        guard fd >= 0 else {
            let e = Errno.current
            stop()
            throw Unavailable(reason: "cannot create \(file): \(e.code == ELOOP ? "it is a symlink, and qcm does not follow one" : e.description)")
        }
        output = fd
        guard let info = Files.info(fd: fd), info.kind == .file, info.owner == UInt32(geteuid()) else {
            stop()
            throw Unavailable(reason: "\(file) is not a regular file of qcm's user: refusing to write the capture there")
        }
        if fchmod(fd, 0o600) != 0 || ftruncate(fd, 0) != 0 {
            let e = Errno.current
            stop()
            throw Unavailable(reason: "cannot prepare \(file): \(e.description)")
        }
        // A FIFO (a stand-in) can be polled; usbmon's own file cannot: it is read on a timer.
        if Files.info(fd: input)?.kind == .fifo {
            watchID = loop.watch(input) { _ in self.drain() }
        } else {
            tick()
        }
    }

    private func tick() {
        drain()
        guard input >= 0 else { return }
        timerID = loop.after(UsbmonCapture.intervalMs) {   // the cycle ends with stop()
            self.timerID = nil
            self.tick()
        }
    }

    /// The modem came back under another device number (a reset re-enumerates it).
    func retarget(bus: Int?, device: Int?) {
        guard let b = bus, let d = device, b == self.bus, d != self.device else { return }
        log.log("usbmon: the modem is device \(d) of bus \(b) now (was \(self.device))")
        self.device = d
    }

    /// Reads what the source has now, keeps the modem's lines.
    func drain() {
        var budget = UsbmonCapture.readBudget
        var buffer = [UInt8](repeating: 0, count: 4096)
        while input >= 0 && budget > 0 {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 && Errno.current.code == EINTR { continue }
            if n == 0, let w = watchID {
                // A FIFO whose writer went away would report POLLHUP forever: read it on the
                // timer from now on, as usbmon's own file.
                loop.unwatch(w)
                watchID = nil
                tick()
                break
            }
            if n <= 0 { break }          // EAGAIN: nothing now; 0: the end of a stand-in file, for now
            budget -= n
            take(buffer[0..<n])
        }
    }

    private func take(_ bytes: ArraySlice<UInt8>) {
        var out: [UInt8] = []
        for b in bytes {
            if b == 10 {
                keep(partial, into: &out)
                partial.removeAll(keepingCapacity: true)
            } else if partial.count < UsbmonCapture.maxLine {
                partial.append(b)
            }
        }
        guard !out.isEmpty, output >= 0 else { return }
        let ok = out.withUnsafeBytes { p -> Bool in
            var done = 0
            while done < p.count {
                let w = write(output, p.baseAddress! + done, p.count - done)
                if w < 0 && Errno.current.code == EINTR { continue }
                if w <= 0 { return false }
                done += w
            }
            return true
        }
        if !ok {
            log.log("usbmon: writing \(file) failed (\(Errno.current.description)); the capture stops, qcm goes on")
            stop()
        }
    }

    private func keep(_ line: [UInt8], into out: inout [UInt8]) {
        guard !line.isEmpty else { return }
        linesSeen += 1
        guard UsbmonCapture.isOfDevice(line, bus: bus, device: device) else { return }
        linesWritten += 1
        out += Array((Logger.timestamp() + " ").utf8) + line + [10]
    }

    /// Whether a usbmon text line ("ffff8d3c3f2a8600 3575914555 S Bo:1:003:2 -115 31 = …")
    /// is of USB device `device` on bus `bus`: its fourth word, the address, is
    /// TYPE:BUS:DEVICE:ENDPOINT.
    static func isOfDevice(_ line: [UInt8], bus: Int, device: Int) -> Bool {
        var words: [ArraySlice<UInt8>] = []
        var start: Int?
        for (i, c) in line.enumerated() {
            if c == 32 || c == 9 {
                if let s = start { words.append(line[s..<i]); start = nil }
                if words.count == 4 { break }
            } else if start == nil {
                start = i
            }
        }
        if words.count < 4, let s = start { words.append(line[s...]) }
        guard words.count >= 4 else { return false }
        let parts = words[3].split(separator: 58, omittingEmptySubsequences: false)
        guard parts.count == 4, let b = number(parts[1]), let d = number(parts[2]) else { return false }
        return b == bus && d == device
    }

    static func number(_ s: ArraySlice<UInt8>) -> Int? {
        guard !s.isEmpty, s.count <= 6, s.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return s.reduce(0) { $0 * 10 + Int($1 - 48) }
    }

    /// Stops reading and closes both files.
    func stop() {
        if let w = watchID { loop.unwatch(w) }
        if let t = timerID { loop.cancel(t) }
        watchID = nil
        timerID = nil
        if input >= 0 { _ = close(input) }
        if output >= 0 { _ = close(output) }
        input = -1
        output = -1
    }
}
