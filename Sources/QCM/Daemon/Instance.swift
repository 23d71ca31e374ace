import Base
import CSystem
import QMICore

/// What a running qcm leaves in its run directory: a lock per control channel and PDN (so a
/// second instance on the same modem is refused), a pid file, and a status file that
/// `qcm status` and `qcm -k` read — named after the channel, so two modems served by two
/// qcm keep apart.
///
/// The run directory may be shared with other users (`--run-dir /tmp/x`), so nothing in
/// it is trusted blindly: the directory must be ours (or root's) and not writable by
/// others unless it is sticky; files are created through fresh temporary names and renamed
/// into place (a planted symlink is replaced, never followed); the lock file is opened
/// without following symlinks and must be a regular file owned by us.
///
/// What every local user may read (state, addresses, operator, signal) is in the status file
/// (0644); the subscriber and device identifiers (IMSI, ICCID, IMEI) are in a second file
/// beside it that only qcm's user (root, normally) may read (0600).
final class Instance {
    let runDir: String
    let pdn: Int
    /// The channel as the file names show it: /dev/cdc-wdm0 → "cdc-wdm0".
    let channelKey: String
    var lockFD: Int32 = -1
    var lockPath: String?
    var muxLockFD: Int32 = -1
    var muxLockPath: String?
    let pidFile: String
    var statusPath: String { Instance.statusPath(runDir: runDir, channelKey: channelKey, pdn: pdn) }
    var privatePath: String { Instance.privatePath(statusPath) }
    var fields: [(StatusKey, String)] = []

    /// The keys kept from other users: what identifies the subscriber and the device.
    static func isPrivate(_ key: StatusKey) -> Bool { StatusKey.identifiers.contains(key) }
    static func isPrivate(_ name: String) -> Bool { isPrivate(StatusKey(name)) }

    init(runDir: String, channel: String, pdn: Int, pidFile: String?) {
        self.runDir = runDir
        self.pdn = pdn
        channelKey = Instance.key(channel)
        self.pidFile = pidFile ?? runDir + "/qcm-\(channelKey)-pdn\(pdn).pid"
    }

    static func statusPath(runDir: String, channelKey: String, pdn: Int) -> String {
        runDir + "/qcm-\(channelKey)-pdn\(pdn).status"
    }

    /// qcm-cdc-wdm0-pdn1.status → qcm-cdc-wdm0-pdn1.private
    static func privatePath(_ statusPath: String) -> String {
        String(decoding: statusPath.utf8.dropLast(7), as: UTF8.self) + ".private"
    }

    enum Failure: Error {
        case held(String)
        /// The run directory or a file in it cannot be used safely (exit 9).
        case system(String)
    }

    /// Creates the run directory (0755) when missing and checks it can be trusted.
    static func prepare(runDir: String) throws(Failure) {
        if Files.info(runDir) == nil, mkdir(runDir, 0o755) != 0, csys_errno() != EEXIST {
            throw .system("cannot create run directory \(runDir): \(Errno.current.description)")
        }
        guard let info = Files.info(runDir) else {
            throw .system("cannot use run directory \(runDir): \(Errno.current.description)")
        }
        let me = UInt32(getuid())
        guard info.kind == .directory else {
            throw .system("run directory \(runDir) is not a directory (\(info.kind == .symlink ? "a symlink" : "something else")); refusing to use it")
        }
        guard info.owner == me || info.owner == 0 else {
            throw .system("run directory \(runDir) belongs to uid \(info.owner); refusing to use it (choose one of your own with --run-dir)")
        }
        if info.writableByOthers && !(info.sticky && info.owner == me) {
            throw .system("run directory \(runDir) is writable by other users; refusing to use it (chmod go-w \(runDir), or choose another with --run-dir)")
        }
    }

    /// A channel as file names in the run directory show it: its last path component in
    /// letters, digits and `-_.` (/dev/cdc-wdm0 → cdc-wdm0, @qmi-proxy → qmi-proxy).
    static func key(_ channel: String) -> String {
        let clean = Files.basename(channel).utf8.map { c -> UInt8 in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46 ? c : 95
        }
        return String(decoding: clean, as: UTF8.self)
    }

    /// The lock name for a channel: /dev/cdc-wdm0 → cdc-wdm0.lock, @qmi-proxy → qmi-proxy.lock.
    static func lockName(_ channel: String) -> String { key(channel) + ".lock" }

    /// One qcm per QMI channel and PDN. A crashed holder's lock disappears with it.
    func lock(channel: String) throws(Failure) {
        try Instance.prepare(runDir: runDir)
        let path = runDir + "/" + Instance.lockName(channel) + (pdn == 1 ? "" : ".pdn\(pdn)")
        guard let fd = try Instance.takeLock(path) else {
            throw .held("another qcm (pid \(Instance.holder(path))) is already using \(channel) for PDN \(pdn); stop it first (qcm -k \(pdn))")
        }
        lockFD = fd
        lockPath = path
        set(.lock, path)
        writeFile(pidFile, "\(getpid())\n")
    }

    /// One PDN per QMAP mux id on a channel: two qcm with different PDNs but the same mux
    /// (`-m`) would bind both calls to one data link.
    /// `session`: `mux` is an MBIM session id (MBIM over the WWAN subsystem), one qcm each.
    func lockMux(channel: String, mux: UInt8, session: Bool = false) throws(Failure) {
        let path = runDir + "/" + Instance.lockName(channel) + (session ? ".session\(mux)" : ".mux" + Text.hex(mux))
        guard let fd = try Instance.takeLock(path) else {
            if session {
                throw .held("another qcm (pid \(Instance.holder(path))) dials MBIM session \(mux) on \(channel); give this one another session with -m N")
            }
            throw .held("another qcm (pid \(Instance.holder(path))) uses QMAP mux 0x\(Text.hex(mux)) on \(channel); give PDN \(pdn) another one with -m N")
        }
        muxLockFD = fd
        muxLockPath = path
    }

    /// One qcm at all through `proxy` (quectel-atc-proxy's socket), whatever its PDN: that
    /// proxy hands every line the module sends to every client, so two qcm would take each
    /// other's answers for their own. (It has no QMAP mux: its lock takes the mux lock's place.)
    func lockSole(proxy: String) throws(Failure) {
        let path = runDir + "/" + Instance.lockName(proxy) + ".sole"
        guard let fd = try Instance.takeLock(path) else {
            throw .held("another qcm (pid \(Instance.holder(path))) dials through \(proxy), which hands every answer to every client: one qcm at a time through it")
        }
        muxLockFD = fd
        muxLockPath = path
    }

    /// Opens and locks `path` (created without following symlinks, and only used when it is
    /// a regular file of ours) and writes our pid into it; nil when another process holds it.
    ///
    /// The lock file is 0600: no other user can open it, so none can hold a lock on it to keep
    /// qcm from starting, and `qcm status` tells who holds it from /proc/locks, without
    /// opening it (`lockHeld`). And the usual discipline of lock files that are removed when
    /// released: after the flock, the path must still name the file that was locked — a
    /// holder that released it meanwhile unlinked it, and the lock then belongs to whoever
    /// creates the next one — else again. `open` is the open(2) to use (tests interpose).
    static func takeLock(_ path: String, open: (String) -> Int32 = { csys_open($0, O_RDWR | O_CREAT | O_NOFOLLOW, 0o600) })
        throws(Failure) -> Int32? {
        for _ in 0..<8 {
            let fd = open(path)
            guard fd >= 0 else { throw .system("cannot open lock file \(path): \(Errno.current.description)") }
            guard let info = Files.info(fd: fd), info.kind == .file, info.owner == UInt32(getuid()) || info.owner == 0 else {
                _ = close(fd)
                throw .system("lock file \(path) is not a regular file owned by qcm's user; refusing to use it")
            }
            if info.mode & 0o077 != 0 { _ = fchmod(fd, 0o600) }       // made by an older qcm
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                _ = close(fd)
                return nil
            }
            guard isLock(fd, at: path) else {
                _ = close(fd)             // released and removed while we waited: lock the new one
                continue
            }
            _ = ftruncate(fd, 0)
            let text = Array("\(getpid())\n".utf8)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            return fd
        }
        throw .system("lock file \(path) keeps being replaced while qcm locks it; refusing to use it")
    }

    /// `fd` is the file `path` names now (not one that was unlinked since it was opened).
    static func isLock(_ fd: Int32, at path: String) -> Bool {
        guard let held = Files.info(fd: fd), let now = Files.info(path) else { return false }
        return now.isSameFile(as: held)
    }

    /// The pid written in a held lock file, for the message ("?" when unreadable).
    static func holder(_ path: String) -> String {
        let fd = csys_open(path, O_RDONLY | O_NOFOLLOW, 0)
        guard fd >= 0 else { return "?" }
        defer { _ = close(fd) }
        return pidIn(fd: fd).map { "\($0)" } ?? "?"
    }

    static func pidIn(fd: Int32) -> Int32? {
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
        guard n > 0, let v = Text.parseInt(Text.trimmed(String(decoding: buf[0..<n], as: UTF8.self))), v > 0, v < Int64(Int32.max) else {
            return nil
        }
        return Int32(v)
    }

    func set(_ key: StatusKey, _ value: String?) {
        fields.removeAll { $0.0 == key }
        if let v = value { fields.append((key, v)) }
    }

    func get(_ key: StatusKey) -> String? { fields.first { $0.0 == key }?.1 }

    /// Rewritten atomically on every state change: the status file for every local user, the
    /// identifiers for qcm's user only. Values from the modem or the network (a firmware
    /// revision, a call-end reason) cannot add lines: control characters are escaped.
    func save() {
        guard lockFD >= 0 else { return }
        writeFile(statusPath, record([], identifiers: false))
        let ids = Instance.lines(fields.filter { Instance.isPrivate($0.0) })
        guard !ids.equals(savedIdentifiers) else { return }
        savedIdentifiers = ids
        if ids.isEmpty {
            Files.remove(privatePath)
        } else {
            _ = try? Files.writeAtomically(privatePath, Array(ids.utf8), mode: 0o600)
        }
    }

    /// What the private file holds now (rewritten only when the identifiers change).
    private var savedIdentifiers = ""

    /// The status record (the status file's text), with `extras` appended; the identifiers
    /// only when `identifiers` (the asker is root or qcm's user).
    func record(_ extras: [StatusValue], identifiers: Bool) -> String {
        "pid=\(getpid())\npdn=\(pdn)\nupdated=\(csys_realtime_ms() / 1000)\n"
            + Instance.lines((fields + extras.map { ($0.key, $0.value) }).filter { identifiers || !Instance.isPrivate($0.0) })
    }

    static func lines(_ pairs: [(StatusKey, String)]) -> String {
        var text = ""
        for (k, v) in pairs { text += "\(k.name)=\(Instance.escape(v))\n" }
        return text
    }

    func writeFile(_ path: String, _ text: String) {
        _ = try? Files.writeAtomically(path, Array(text.utf8))
    }

    /// Everything goes, the lock last: it is unlinked while still held (whoever waits for it
    /// re-checks the path after locking, `takeLock`), then closed.
    func release() {
        Files.remove(statusPath)
        Files.remove(privatePath)
        Files.remove(pidFile)
        if let p = lockPath, lockFD >= 0 { Files.remove(p) }
        if let p = muxLockPath, muxLockFD >= 0 { Files.remove(p) }
        if lockFD >= 0 { _ = close(lockFD) }
        if muxLockFD >= 0 { _ = close(muxLockFD) }
        lockFD = -1
        muxLockFD = -1
    }

    // MARK: reading other instances

    struct Status {
        let path: String
        let values: [(String, String)]
        func value(_ k: StatusKey) -> String? { values.first { $0.0.equals(k.name) }?.1 }
        var pid: Int32? {
            guard let v = value(.pid).flatMap({ Text.parseInt($0) }), v > 0, v < Int64(Int32.max) else { return nil }
            return Int32(v)
        }
        /// The run directory the file is in.
        var runDir: String { String(decoding: Array(path.utf8.prefix(max(0, path.utf8.count - Files.basename(path).utf8.count - 1))), as: UTF8.self) }

        /// The pid is a running qcm that holds the lock the file names: not a stale file,
        /// and not an unrelated process that happens to have the pid now. A file that names
        /// no lock, or a lock outside its run directory, is not believed. (Only root and qcm's
        /// user can open the lock file, so its holder is one of theirs.)
        var liveness: Liveness {
            guard let p = pid, Instance.running(p), let lock = value(.lock), Instance.isLockName(lock, in: runDir) else { return .stale }
            if Instance.isQCM(p) == false { return .stale }
            switch Instance.lockHeld(lock, by: p) {
            case .some(true): return .running
            case .some(false): return .stale
            case .none: return .hidden
            }
        }
        var alive: Bool { liveness == .running }

        /// A connection to the status socket this status names: only where a qcm of that pid
        /// would make it, and only when that very process listens there (SO_PEERCRED).
        func connectSocket() -> Int32? {
            guard let p = pid, let path = value(.socket), path.equals(StatusServer.path(runDir: runDir, pid: p)) else { return nil }
            let fd = csys_unix_connect(path)
            guard fd >= 0 else { return nil }
            guard Peer(fd: fd)?.pid == p else {
                _ = close(fd)
                return nil
            }
            return fd
        }

    }

    enum Liveness: Equatable {
        case running, stale
        /// This user cannot tell (/proc/locks cannot be read).
        case hidden
    }

    /// Alive and not a zombie waiting for its parent to reap it.
    static func running(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || csys_errno() == EPERM else { return false }
        guard let stat = Files.readSmall("/proc/\(pid)/stat", limit: 512), let close = stat.lastIndex(of: 41) else { return true }
        return !(close + 2 < stat.count && stat[close + 2] == 90)   // "Z"
    }

    /// /proc/PID/exe is the same program as this one (an upgraded binary counts too). Another
    /// user's process (root's qcm, for `qcm status` run by a user) hides its exe: then its
    /// name (/proc/PID/comm) is compared. nil when /proc shows neither (hidepid).
    static func isQCM(_ pid: Int32) -> Bool? {
        func name(_ p: String) -> String {
            let b = Files.basename(p)
            return b.ends(with: " (deleted)") ? String(decoding: b.utf8.dropLast(10), as: UTF8.self) : b
        }
        let mine = name(Files.readlink("/proc/self/exe") ?? "qcm")
        if let theirs = Files.readlink("/proc/\(pid)/exe") { return name(theirs).equals(mine) }
        guard let comm = Files.readSmall("/proc/\(pid)/comm", limit: 64) else { return nil }
        // comm is the name cut to 15 bytes.
        let short = String(decoding: Array(mine.utf8.prefix(15)), as: UTF8.self)
        return Text.trimmed(String(decoding: comm, as: UTF8.self)).equals(short)
    }

    /// Process `pid` holds the lock on `path`: /proc/locks, which every user may read, lists
    /// each flock with its holder's pid and the file's inode — so nothing is opened or taken
    /// (a `qcm status` never stands in the way of a qcm starting). nil when /proc/locks
    /// cannot be read.
    static func lockHeld(_ path: String, by pid: Int32) -> Bool? {
        guard let info = Files.info(path), info.kind == .file else { return false }
        guard let table = Files.readSmall("/proc/locks", limit: 1 << 20) else { return nil }
        return ProcLocks.holds(Files.lines(table), pid: pid, inode: info.inode)
    }

    /// `path` is a lock file a qcm of `runDir` makes: RUNDIR/CHANNEL.lock or .lock.pdnN.
    static func isLockName(_ path: String, in runDir: String) -> Bool {
        let name = Files.basename(path)
        guard path.equals(runDir + "/" + name), key(name).equals(name) else { return false }
        return name.ends(with: ".lock") || Text.split(name, on: 46).dropLast().last?.equals("lock") == true
    }

    /// Every status file in the run directory, the identifiers merged in where this user may
    /// read them. Only files of root or of this user are believed: in a shared run directory
    /// (sticky, like /tmp) another user could plant one.
    static func statuses(runDir: String) -> [Status] {
        var names: [String] = []
        for n in Files.list(runDir) ?? [] where n.begins(with: "qcm-") && n.ends(with: ".status") {
            names.insert(n, at: names.firstIndex { n.precedes($0) } ?? names.count)   // kept in order
        }
        let me = UInt32(getuid())
        return names.compactMap { n in
            let path = runDir + "/" + n
            guard let info = Files.info(path), info.kind == .file, info.owner == 0 || info.owner == me,
                  let bytes = Files.readSmall(path, limit: 65536) else { return nil }
            var values = parseRecord(Files.lines(bytes))
            if let ids = Files.readSmall(privatePath(path), limit: 4096) {
                values += parseRecord(Files.lines(ids)).filter { isPrivate($0.0) }
            }
            return Status(path: path, values: values)
        }
    }

    /// `key=value` lines of a status record. Whatever a record holds is shown without
    /// control characters: it cannot draw on a terminal (qcm escapes them when writing).
    static func parseRecord(_ lines: [String]) -> [(String, String)] {
        var values: [(String, String)] = []
        for line in lines {
            let u = Array(line.utf8)
            guard let eq = u.firstIndex(of: 61) else { continue }
            values.append((Text.shown(String(decoding: u[..<eq], as: UTF8.self)), Text.shown(String(decoding: u[(eq + 1)...], as: UTF8.self))))
        }
        return values
    }

    /// A value as a status record holds it: as it may be shown (`Text.shown`: an operator
    /// called "Telefónica" stays so, control characters and bidi overrides become escapes),
    /// so no value can add a line or reorder one.
    static func escape(_ v: String) -> String { Text.shown(v) }
}

/// `qcm -k PDN`: stop the instance serving that PDN and wait for its clean teardown. Only
/// a process that is qcm and holds the lock its status file names is signalled: a stale
/// file whose pid now belongs to another program is reported, never acted on. Where two
/// modems each have a qcm serving that PDN, `-i IFACE` or `--device PATH` says which.
enum KillCommand {
    static func run(pdn: Int, runDir: String, interface: String?, device: String?, log: Logger) -> Int32 {
        let all = Instance.statuses(runDir: runDir)
        let mine = all.filter { s in
            s.value(.pdn)?.equals("\(pdn)") == true
                && (interface.map { i in s.value(.interface).map { belongs($0, to: i) } == true } ?? true)
                && (device.map { d in s.value(.channel)?.equals(d) == true } ?? true)
        }
        let running = mine.filter { $0.liveness == .running }
        guard running.count <= 1 else {
            log.log("several qcm serve PDN \(pdn): " + running.map { describe($0) }.joined(separator: ", ")
                    + "; choose one with -i IFACE or --device PATH")
            return ExitCode.usage
        }
        guard let s = running.first, let pid = s.pid else {
            if let hidden = mine.first(where: { $0.liveness == .hidden }), let pid = hidden.pid {
                log.log("cannot tell whether pid \(pid) (\(hidden.path)) is a qcm: /proc hides other users' processes; run qcm -k as root")
                return ExitCode.permission
            }
            if let stale = mine.first, let pid = stale.pid {
                log.log("\(stale.path) names pid \(pid), which is not a running qcm holding its lock: stale, not signalling it")
            } else {
                log.log("no running qcm serves PDN \(pdn)\(interface.map { " on \($0)" } ?? "")\(device.map { " on \($0)" } ?? "") (looked in \(runDir))")
            }
            return ExitCode.failure
        }
        // A qcm serving several PDNs stops only this one (SIGUSR1 carrying the PDN).
        let shared = all.filter { $0.pid == pid && $0.alive }.count > 1
        log.log("stopping qcm pid \(pid) (PDN \(pdn)\(shared ? "; its other PDNs go on" : ""))")
        guard (shared ? csys_sigqueue(pid, SIGUSR1, Int32(pdn)) : kill(pid, SIGTERM)) == 0 else {
            let e = Errno.current
            log.log("cannot signal qcm pid \(pid): \(e.description)" + (e.code == EPERM ? " (it runs as another user: run qcm -k as root)" : ""))
            return ExitCode.permission
        }
        let deadline = csys_monotonic_ms() + 15_000
        while csys_monotonic_ms() < deadline {
            if !Instance.running(pid) || (shared && !Files.exists(s.path)) {
                log.log(shared ? "PDN \(pdn) of qcm pid \(pid) stopped" : "qcm pid \(pid) stopped")
                return ExitCode.ok
            }
            csys_sleep_ms(50)
        }
        log.log("qcm pid \(pid) did not stop within 15 s")
        return ExitCode.failure
    }

    /// The netdev `netdev` is `interface` or one of its QMAP links (wwan0_1, wwan0.1).
    static func belongs(_ netdev: String, to interface: String) -> Bool {
        netdev.equals(interface) || netdev.begins(with: interface + "_") || netdev.begins(with: interface + ".")
    }

    /// "pid 812 on /dev/cdc-wdm0 (wwan0)"
    static func describe(_ s: Instance.Status) -> String {
        "pid \(s.pid.map { "\($0)" } ?? "?") on \(s.value(.channel) ?? "?")" + (s.value(.interface).map { " (\($0))" } ?? "")
    }
}

/// /proc/locks: one line per lock, "ID: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE START END".
enum ProcLocks {
    /// A flock (write) held by `pid` on the file with `inode`.
    static func holds(_ lines: [String], pid: Int32, inode: UInt64) -> Bool {
        for line in lines {
            let f = Text.split(line, on: 32).filter { !$0.isEmpty }
            guard f.count >= 6, f[1].equals("FLOCK"), f[3].equals("WRITE"), let p = Text.parseInt(f[4]), p == Int64(pid) else { continue }
            let dev = Text.split(f[5], on: 58)
            if dev.count == 3, let ino = Text.parseInt(dev[2]), ino >= 0, UInt64(ino) == inode { return true }
        }
        return false
    }
}
