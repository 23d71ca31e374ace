import Foundation
import Base
import CSystem
import ATCore

/// quectel-CM 1.6.8's quectel-atc-proxy in front of the simulated AT module, behaving as the
/// program does (matrix-facts §3.4, read from quectel-atc-proxy.c and atchannel.c):
///
/// - It opens the AT port (`-d`, here the simulator's tty) as it is, without setting it up,
///   and runs its start-up: ATE0Q0V1 (up to 8 tries, 1 s each, then 1 s to drain), then
///   AT+QCFG="usbnet", AT+QNETDEVCTL=?, AT+CGREG=2, AT+CEREG=2, AT+C5GREG=2,
///   AT+QNETDEVSTATUS=? (an error: an "ASR style" module) and AT+QCFG="NAT" — set to 1 for
///   ASR style, 0 otherwise, with AT+CFUN=1,1 after, when it differs. A failed start-up is
///   tried again 2 s later, five times, then the proxy serves anyway. Only then does
///   `@quectel-atc-proxyN` (N the port name's last character) listen.
/// - Each read(2) of a client's socket (4096 bytes at most, up to the first NUL) is one
///   command line: written to the module with a CR appended, and waited for — 15 s at most —
///   while no client is read and none accepted.
/// - Every line from the module — echo, information, final result, report — goes to every
///   client as `line CR LF` (the program means to answer only the client that asked, but looks
///   it up with the wrong index; its own start-up answers reach no one). Blank lines are not
///   lines.
/// - A client that goes is forgotten. The port going away drops every client; the proxy opens
///   it again every 3 s, runs its start-up again, and serves again.
///
/// Runs on the simulator's loop, under its lock. Public members are thread-safe.
public final class QuectelATCProxy {
    unowned let sim: ATSimulator
    /// `@quectel-atc-proxyN`.
    public let name: String
    let devicePath: String
    var tty: Int32 = -1
    var ttyWatch = 0
    var input: [UInt8] = []
    var server: Int32 = -1
    var serverWatch = 0
    var bound = false
    var serving = false
    var stopped = false
    var retryTimer: Int?

    final class Client {
        let id: Int
        var fd: Int32
        var watch = 0
        var output: [UInt8] = []
        init(id: Int, fd: Int32) {
            self.id = id
            self.fd = fd
        }
    }

    var clients: [Client] = []
    var nextClient = 1

    /// What the waiting command takes as its answer's lines (atchannel's command types).
    enum Kind { case noResult, singleLine(String), multiLine(String) }

    final class Pending {
        let kind: Kind
        var lines: [String] = []
        var timer = 0
        let done: (_ final: String?, _ lines: [String]) -> Void
        init(kind: Kind, done: @escaping (String?, [String]) -> Void) {
            self.kind = kind
            self.done = done
        }
    }

    var pending: Pending?
    var initAttempts = 0
    var asrStyle = false
    var log: [String] = []
    var commands: [String] = []
    /// Every read from a client, as it came (qmi-sim's transcript).
    public var onClientInput: ((_ client: Int, _ bytes: [UInt8]) -> Void)?

    static let commandTimeoutMs: Int64 = 15_000
    static let handshakeTimeoutMs: Int64 = 1_000

    init(sim: ATSimulator, device: String) throws {
        self.sim = sim
        guard let n = QuectelProxy.atc.socket(forDevice: device) else { throw ATError.invalid("no proxy name for \(device)") }
        name = n
        devicePath = device
        server = csys_unix_stream_socket()
        guard server >= 0 else { throw ATError.system(operation: "socket for \(n)", errno: csys_errno()) }
    }

    func note(_ s: String) {
        log.append(s)
        sim.log("quectel-atc-proxy: " + s)
    }

    // MARK: the port

    func openPort() {
        retryTimer = nil
        guard !stopped else { return }
        let fd = csys_open(devicePath, O_RDWR | O_NONBLOCK | O_NOCTTY, 0)
        guard fd >= 0 else {
            note("Fail to access \(devicePath), errno: \(csys_errno()). continue")
            retryTimer = sim.loop.after(3000) { [weak self] in self?.sim.locked { self?.openPort() } }
            return
        }
        tty = fd
        input.removeAll()
        ttyWatch = sim.loop.watch(fd) { [unowned self] ev in self.sim.locked { self.ttyEvent(ev) } }
        note("Will use atc-dev='\(devicePath)', proxy='\(name.dropFirst())'")
        initAttempts = 0
        startUp()
    }

    func portLost() {
        note("the AT port is gone: every client dropped")
        if let p = pending {
            sim.loop.cancel(p.timer)
            pending = nil
        }
        sim.loop.unwatch(ttyWatch)
        _ = close(tty)
        tty = -1
        for c in clients { drop(c) }
        pause(serving: false)
        retryTimer = sim.loop.after(3000) { [weak self] in self?.sim.locked { self?.openPort() } }
    }

    func ttyEvent(_ ev: Int16) {
        guard tty >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { read(tty, $0.baseAddress, $0.count) }
        if n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR) { return }
        guard n > 0 else { return portLost() }
        for b in buf[0..<n] {
            if b == 13 || b == 10 {
                if !input.isEmpty {
                    let line = String(decoding: input, as: UTF8.self)
                    input.removeAll()
                    process(line)
                }
            } else {
                input.append(b)
                if input.count > 4096 { input.removeAll() }        // "Input line exceeded buffer"
            }
        }
    }

    static let successes = ["OK", "+QIND: \"FOTA\",\"END\",0", "CONNECT"]
    static func isSuccess(_ final: String?) -> Bool { final.map { f in successes.contains { f.hasPrefix($0) } } ?? false }
    static let errors = ["ERROR", "+CMS ERROR:", "+CME ERROR:", "NO CARRIER", "NO ANSWER", "NO DIALTONE", "COMMAND NOT SUPPORT"]

    /// One line from the module, as atchannel's processLine sees it in proxy mode.
    func process(_ line: String) {
        guard let p = pending else { return toClients(line) }
        if QuectelATCProxy.successes.contains(where: { line.hasPrefix($0) }) || QuectelATCProxy.errors.contains(where: { line.hasPrefix($0) }) {
            toClients(line)
            return finish(line)
        }
        switch p.kind {
        case .noResult: toClients(line)
        case .singleLine(let prefix):
            if p.lines.isEmpty && line.hasPrefix(prefix) { p.lines.append(line) } else { toClients(line) }
        case .multiLine(let prefix):
            if line.hasPrefix(prefix) { p.lines.append(line) } else { toClients(line) }
        }
    }

    /// Sends `line` with a CR and waits for its final result (nil: none in time).
    func command(_ line: String, _ kind: Kind, timeoutMs: Int64 = QuectelATCProxy.commandTimeoutMs,
                 _ done: @escaping (_ final: String?, _ lines: [String]) -> Void) {
        guard tty >= 0 else { return done(nil, []) }
        commands.append(line)
        let bytes = Array(line.utf8) + [13]
        _ = bytes.withUnsafeBytes { write(tty, $0.baseAddress, $0.count) }
        let p = Pending(kind: kind, done: done)
        pending = p
        pause(serving: true)
        p.timer = sim.loop.after(timeoutMs) { [weak self, unowned p] in
            self?.sim.locked {
                guard let self, self.pending === p else { return }
                self.note("AT command timed out: \(line)")
                self.finish(nil)
            }
        }
    }

    func finish(_ final: String?) {
        guard let p = pending else { return }
        pending = nil
        sim.loop.cancel(p.timer)
        pause(serving: false)
        p.done(final, p.lines)
    }

    // MARK: start-up

    func startUp() {
        handshake(try: 1)
    }

    func handshake(try n: Int) {
        command("ATE0Q0V1", .noResult, timeoutMs: QuectelATCProxy.handshakeTimeoutMs) { [unowned self] final, _ in
            if final != nil {
                self.sim.loop.after(QuectelATCProxy.handshakeTimeoutMs) { [weak self] in self?.sim.locked { self?.setUp() } }
            } else if n < 8 {
                self.handshake(try: n + 1)
            } else {
                self.note("handshake fail")
                self.startUpDone(ok: false)
            }
        }
    }

    func setUp() {
        guard tty >= 0 else { return }
        command("AT+QCFG=\"usbnet\"", .singleLine("+QCFG:")) { [unowned self] _, _ in
            self.command("AT+QNETDEVCTL=?", .multiLine("+QNETDEVCTL:")) { _, _ in
                self.command("AT+CGREG=2", .noResult) { _, _ in
                    self.command("AT+CEREG=2", .noResult) { _, _ in
                        self.command("AT+C5GREG=2", .noResult) { _, _ in self.probe() }
                    }
                }
            }
        }
    }

    func probe() {
        command("AT+QNETDEVSTATUS=?", .singleLine("+QNETDEVSTATUS:")) { [unowned self] final, lines in
            // A single-line command is answered right only with its line and OK.
            self.asrStyle = !QuectelATCProxy.isSuccess(final) || lines.isEmpty
            self.command("AT+QCFG=\"NAT\"", .singleLine("+QCFG:")) { final, lines in
                guard QuectelATCProxy.isSuccess(final), let line = lines.first else {
                    // An error answer is taken; none in time, or OK without the line (the
                    // program's "invalid response"), fails the start-up.
                    return self.startUpDone(ok: final != nil && !QuectelATCProxy.isSuccess(final))
                }
                let fields = line.split(separator: ":", maxSplits: 1).last?.split(separator: ",") ?? []
                let wanted = self.asrStyle ? 1 : 0
                guard fields.count >= 2, let old = Int(fields[1].trimmingCharacters(in: .whitespaces)), old != wanted else {
                    return self.startUpDone(ok: true)
                }
                self.command("AT+QCFG=\"NAT\",\(wanted)", .noResult) { final, _ in
                    guard QuectelATCProxy.isSuccess(final) else { return self.startUpDone(ok: true) }
                    self.command("at+cfun=1,1", .noResult) { _, _ in self.startUpDone(ok: true) }
                }
            }
        }
    }

    /// The start-up ended: serve, or try again in 2 s (five times, then serve anyway).
    func startUpDone(ok: Bool) {
        if !ok && initAttempts < 5 {
            initAttempts += 1
            note("fail to init proxy, try again in 2 seconds.")
            retryTimer = sim.loop.after(2000) { [weak self] in
                self?.sim.locked {
                    self?.retryTimer = nil
                    if self?.tty ?? -1 >= 0 { self?.startUp() }
                }
            }
            return
        }
        if !ok { note("has failed too much times, restart the modem and have a try...") }
        serve()
    }

    func serve() {
        if !bound {
            guard csys_unix_bind_listen(server, name, 1) == 0 else { return note("bind \(name) errno: \(csys_errno())") }
            bound = true
            serverWatch = sim.loop.watch(server) { [unowned self] _ in self.sim.locked { self.accept() } }
            note("local server: \(name.dropFirst())")
        }
        serving = true
        pause(serving: false)
    }

    /// While a command waits, nothing else is read and no one accepted (the program's loop is
    /// blocked in it); before the start-up ended, no one is accepted.
    func pause(serving busy: Bool) {
        let on = !busy && serving && tty >= 0
        if bound { sim.loop.setEvents(serverWatch, on ? Int16(POLLIN) : 0) }
        for c in clients where c.fd >= 0 {
            sim.loop.setEvents(c.watch, (on ? Int16(POLLIN) : 0) | (c.output.isEmpty ? 0 : Int16(POLLOUT)))
        }
    }

    // MARK: clients

    func accept() {
        while true {
            let fd = csys_accept(server)
            if fd < 0 { return }
            let c = Client(id: nextClient, fd: fd)
            nextClient += 1
            c.watch = sim.loop.watch(fd) { [unowned self, unowned c] ev in self.sim.locked { self.event(c, ev) } }
            clients.append(c)
            note("+++ ClientFd=\(fd)")
        }
    }

    func event(_ c: Client, _ ev: Int16) {
        guard c.fd >= 0 else { return }
        if ev & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return drop(c) }
        if ev & Int16(POLLOUT) != 0 { flush(c) }
        guard ev & Int16(POLLIN) != 0, pending == nil, serving else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
        if n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR) { return }
        guard n > 0 else { return drop(c) }
        let bytes = Array(buf[0..<n])
        onClientInput?(c.id, bytes)
        let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        command(text, .noResult) { _, _ in }
    }

    func toClients(_ line: String) {
        let bytes = Array((line + "\r\n").utf8)
        for c in clients where c.fd >= 0 {
            c.output += bytes
            flush(c)
        }
    }

    func flush(_ c: Client) {
        guard c.fd >= 0 else { return }
        guard Files.sendPending(c.fd, &c.output) else { return drop(c) }
        let reading = pending == nil && serving && tty >= 0
        sim.loop.setEvents(c.watch, (reading ? Int16(POLLIN) : 0) | (c.output.isEmpty ? 0 : Int16(POLLOUT)))
    }

    func drop(_ c: Client) {
        guard c.fd >= 0 else { return }
        note("--- ClientFd=\(c.fd)")
        sim.loop.unwatch(c.watch)
        _ = close(c.fd)
        c.fd = -1
        clients.removeAll { $0 === c }
    }

    func stop() {
        stopped = true
        if let t = retryTimer { sim.loop.cancel(t) }
        retryTimer = nil
        if let p = pending { sim.loop.cancel(p.timer) }
        pending = nil
        for c in clients { drop(c) }
        if bound { sim.loop.unwatch(serverWatch) }
        if server >= 0 { _ = close(server) }
        server = -1
        bound = false
        if tty >= 0 {
            sim.loop.unwatch(ttyWatch)
            _ = close(tty)
            tty = -1
        }
    }

    // MARK: for tests

    /// Listening and not busy with its start-up.
    public var isServing: Bool { sim.locked { serving && bound } }
    /// Every command line the proxy wrote to the module (its own and its clients').
    public var commandLines: [String] { sim.locked { commands } }
    public var clientCount: Int { sim.locked { clients.count } }
    public var isASRStyle: Bool { sim.locked { asrStyle } }
    public var lines: [String] { sim.locked { log } }
}

extension ATSimulator {
    /// quectel-atc-proxy in front of this module's AT port at `device` (the path a board's
    /// proxy is given with -d, e.g. ROOT/dev/ttyUSB2; `@quectel-atc-proxyN` from its last
    /// character): its socket is made in the calling thread's network namespace; it listens
    /// once its start-up on the port ended. Call after `listen`; stopped with the simulator.
    @discardableResult
    public func serveQuectelProxy(device: String) throws -> QuectelATCProxy {
        try locked {
            let p = try QuectelATCProxy(sim: self, device: device)
            quectelProxies.append(p)
            p.openPort()
            return p
        }
    }
}
