import Base
import CSystem

/// The running qcm's status socket, `RUNDIR/qcm-PID.sock`. `qcm status` asks it for what
/// only the modem knows at that moment (packet counters, RF band), so nothing is polled or
/// rewritten periodically; `qcm status --watch` stays connected and is sent the status
/// again each time it changes.
///
/// Protocol: the client sends one line, `status` or `watch`. Each answer is the status
/// records of this qcm's PDNs in the status files' own format (`key=value` lines, values
/// escaped), one blank line after each record, and a line holding `.` at the end. A client
/// the server has no room for is sent `busy` and closed.
///
/// Who asks is known (SO_PEERCRED): the subscriber and device identifiers (IMSI, ICCID,
/// IMEI) go to root and qcm's own user only. Nothing a client does can block or grow the
/// daemon, nor keep root from asking: sockets are non-blocking; a request longer than 64
/// bytes, an unknown request, a client that does not ask within 2 s, or one that lets 256 KB
/// of answers pile up is disconnected; of the 8 places, other users share 6 and have at most
/// 2 each; and the modem is asked at most once per 2 s whoever asks — a `status` within that
/// time gets the last answer, and while a query is out, further ones wait for it.
final class StatusServer {
    final class Client {
        let fd: Int32
        /// Root or qcm's user (they see the identifiers, and have places kept for them).
        let trusted: Bool
        let uid: UInt32?
        var watch = 0
        var input: [UInt8] = []
        var output: [UInt8] = []
        var watching = false
        var waitingForQuery = false
        var deadline: Int?
        init(fd: Int32, peer: Peer?) {
            self.fd = fd
            trusted = peer?.isTrusted ?? false
            uid = peer?.uid
        }
    }

    let path: String
    let loop: EventLoop
    private(set) var fd: Int32 = -1
    private var listenWatch = 0
    private var clients: [Client] = []
    private var nextToken = 1
    private var queryToken: Int?
    /// The last modem query's answer and when it came (answers within `cacheMs` reuse it).
    private var lastAnswer: (at: Int64, extras: [StatusValue])?
    /// Starts a modem query (`.statusQuery(token)` to the machine).
    var onQuery: (Int) -> Void = { _ in }
    /// The status records of every PDN, with `extras` (pdn nil: every record) added, the
    /// identifiers only when `identifiers`.
    var records: (_ extras: [StatusValue], _ identifiers: Bool) -> String = { _, _ in "" }

    static let maxClients = 8
    /// Places only root and qcm's user may take, and how many one other user may hold.
    static let reservedForTrusted = 2
    static let perUser = 2
    static let maxRequest = 64
    static let maxPending = 256 * 1024
    /// How long an answer from the modem is reused.
    static let cacheMs: Int64 = 2000

    /// The socket of qcm `pid` in `runDir`.
    static func path(runDir: String, pid: Int32) -> String { runDir + "/qcm-\(pid).sock" }

    /// Why `runDir` cannot hold a status socket (nil: it can): a socket path must fit in
    /// sun_path, and a name cut short would be another socket.
    static func longestPathProblem(runDir: String) -> String? {
        let longest = path(runDir: runDir, pid: 4_194_304)        // the largest pid Linux gives
        guard longest.utf8.count > Int(CSYS_UNIX_PATH_MAX) else { return nil }
        return "\(runDir) is too long for the status socket in it (\(longest.utf8.count) bytes with the socket's name, at most \(CSYS_UNIX_PATH_MAX)): choose a shorter directory"
    }

    init(path: String, loop: EventLoop) {
        self.path = path
        self.loop = loop
    }

    /// Listens; a file left at `path` (a killed qcm's socket, or anything else) is replaced.
    func start() -> String? {
        _ = unlink(path)
        fd = csys_unix_listen(path, 8)
        guard fd >= 0 else { return "cannot create status socket \(path): \(Errno.current.description)" }
        // Connecting needs write permission: anyone who may read the status files may ask.
        _ = chmod(path, 0o666)
        listenWatch = loop.watch(fd) { _ in self.accept() }
        return nil
    }

    func stop() {
        for c in clients { drop(c) }
        if fd >= 0 {
            loop.unwatch(listenWatch)
            _ = close(fd)
            _ = unlink(path)
        }
        fd = -1
    }

    private func accept() {
        while true {
            let cfd = csys_accept(fd)
            if cfd < 0 { return }
            let c = Client(fd: cfd, peer: Peer(fd: cfd))
            guard hasRoom(for: c) else {
                var busy = Array("busy\n".utf8)
                _ = Files.sendPending(cfd, &busy)
                _ = close(cfd)
                continue
            }
            c.watch = loop.watch(cfd) { revents in self.event(c, revents) }
            c.deadline = loop.after(2000) {
                c.deadline = nil
                if !c.watching && !c.waitingForQuery { self.drop(c) }
            }
            clients.append(c)
        }
    }

    private func hasRoom(for c: Client) -> Bool {
        StatusServer.admits(trusted: c.trusted, uid: c.uid, among: clients.map { ($0.trusted, $0.uid) })
    }

    /// Whether a client (root or qcm's user: `trusted`; else its `uid`) gets a place beside
    /// `clients`: root and qcm's user may take every place; other users all but the reserved
    /// ones, and a few each.
    static func admits(trusted: Bool, uid: UInt32?, among clients: [(trusted: Bool, uid: UInt32?)]) -> Bool {
        guard clients.count < maxClients else { return false }
        if trusted { return true }
        let others = clients.filter { !$0.trusted }
        return others.count < maxClients - reservedForTrusted && others.filter({ $0.uid == uid }).count < perUser
    }

    private func drop(_ c: Client) {
        guard let i = clients.firstIndex(where: { $0 === c }) else { return }
        clients.remove(at: i)
        loop.unwatch(c.watch)
        if let t = c.deadline { loop.cancel(t) }
        _ = close(c.fd)
    }

    private func event(_ c: Client, _ revents: Int16) {
        if revents & Int16(POLLOUT) != 0 { flush(c) }
        guard revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = buf.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
        if n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR) { return }
        guard n > 0 else { return drop(c) }
        guard !c.watching else { return }               // a watcher has nothing more to say
        c.input += buf[0..<n]
        guard let nl = c.input.firstIndex(of: 10) else {
            if c.input.count > StatusServer.maxRequest { drop(c) }
            return
        }
        let request = Text.trimmed(String(decoding: c.input[..<nl], as: UTF8.self))
        c.input.removeAll()
        switch Word(request) {
        case "status":
            if let last = lastAnswer, loop.now - last.at < StatusServer.cacheMs {
                return send(c, records(last.extras, c.trusted))
            }
            c.waitingForQuery = true
            if queryToken == nil {
                let token = nextToken
                nextToken += 1
                queryToken = token
                onQuery(token)
            }
        case "watch":
            c.watching = true
            send(c, records([], c.trusted))
        default:
            drop(c)
        }
    }

    /// The machine's answer to query `token`: every client waiting for it gets it and goes.
    func answer(_ token: Int, _ extras: [StatusValue]) {
        guard token == queryToken else { return }
        queryToken = nil
        lastAnswer = (loop.now, extras)
        for c in clients where c.waitingForQuery {
            c.waitingForQuery = false
            send(c, records(extras, c.trusted))
        }
    }

    /// The status changed: watchers get it again.
    func changed() {
        for c in clients where c.watching { send(c, records([], c.trusted)) }
    }

    private func send(_ c: Client, _ text: String) {
        c.output += Array((text + ".\n").utf8)
        guard c.output.count <= StatusServer.maxPending else { return drop(c) }
        flush(c)
    }

    private func flush(_ c: Client) {
        guard Files.sendPending(c.fd, &c.output) else { return drop(c) }
        if c.output.isEmpty && !c.watching && !c.waitingForQuery { return drop(c) }
        loop.setEvents(c.watch, Int16(POLLIN) | (c.output.isEmpty ? 0 : Int16(POLLOUT)))
    }
}
