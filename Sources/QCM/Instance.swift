import Base
import CSystem
import QMICore

/// What a running qcm leaves in its run directory: a lock per QMI channel and PDN (so a
/// second instance on the same modem is refused), a pid file, and a status file that
/// `qcm status` and `qcm -k` read.
///
/// The run directory may be shared with other users (`--run-dir /tmp/x`), so nothing in
/// it is trusted blindly: the directory must be ours (or root's) and not writable by
/// others unless it is sticky; files are created through fresh temporary names and renamed
/// into place (a planted symlink is replaced, never followed); the lock file is opened
/// without following symlinks and must be a regular file owned by us.
final class Instance {
    let runDir: String
    let pdn: Int
    var lockFD: Int32 = -1
    var lockPath: String?
    var muxLockFD: Int32 = -1
    var muxLockPath: String?
    let pidFile: String
    var statusPath: String { runDir + "/qcm-pdn\(pdn).status" }
    var fields: [(String, String)] = []

    init(runDir: String, pdn: Int, pidFile: String?) {
        self.runDir = runDir
        self.pdn = pdn
        self.pidFile = pidFile ?? runDir + "/qcm-pdn\(pdn).pid"
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

    /// The lock name for a channel: /dev/cdc-wdm0 → cdc-wdm0.lock, @qmi-proxy → qmi-proxy.lock.
    static func lockName(_ channel: String) -> String {
        let clean = Files.basename(channel).utf8.map { c -> UInt8 in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46 ? c : 95
        }
        return String(decoding: clean, as: UTF8.self) + ".lock"
    }

    /// One qcm per QMI channel and PDN. A crashed holder's lock disappears with it (flock).
    func lock(channel: String) throws(Failure) {
        try Instance.prepare(runDir: runDir)
        let path = runDir + "/" + Instance.lockName(channel) + (pdn == 1 ? "" : ".pdn\(pdn)")
        guard let fd = try Instance.takeLock(path) else {
            throw .held("another qcm (pid \(Instance.holder(path))) is already using \(channel) for PDN \(pdn); stop it first (qcm -k \(pdn))")
        }
        lockFD = fd
        lockPath = path
        set("lock", path)
        writeFile(pidFile, "\(getpid())\n")
    }

    /// One PDN per QMAP mux id on a channel: two qcm with different PDNs but the same mux
    /// (`-m`) would bind both calls to one data link.
    func lockMux(channel: String, mux: UInt8) throws(Failure) {
        let path = runDir + "/" + Instance.lockName(channel) + ".mux" + Text.hex(mux)
        guard let fd = try Instance.takeLock(path) else {
            throw .held("another qcm (pid \(Instance.holder(path))) uses QMAP mux 0x\(Text.hex(mux)) on \(channel); give PDN \(pdn) another one with -m N")
        }
        muxLockFD = fd
        muxLockPath = path
    }

    /// Opens and flocks `path` (created without following symlinks, and only used when it is
    /// a regular file of ours) and writes our pid into it; nil when another process holds it.
    static func takeLock(_ path: String) throws(Failure) -> Int32? {
        let fd = csys_open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .system("cannot open lock file \(path): \(Errno.current.description)") }
        guard let info = Files.info(fd: fd), info.kind == .file, info.owner == UInt32(getuid()) || info.owner == 0 else {
            _ = close(fd)
            throw .system("lock file \(path) is not a regular file owned by qcm's user; refusing to use it")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            _ = close(fd)
            return nil
        }
        _ = ftruncate(fd, 0)
        let text = Array("\(getpid())\n".utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
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

    func set(_ key: String, _ value: String?) {
        fields.removeAll { $0.0.equals(key) }
        if let v = value { fields.append((key, v)) }
    }

    func get(_ key: String) -> String? { fields.first { $0.0.equals(key) }?.1 }

    /// Rewritten atomically on every state change. Values from the modem or the network
    /// (a firmware revision, a call-end reason) cannot add lines: control characters are
    /// escaped.
    func save() {
        guard lockFD >= 0 else { return }
        writeFile(statusPath, record([]))
    }

    /// The status record (the status file's text), with `extras` appended.
    func record(_ extras: [(String, String)]) -> String {
        var text = "pid=\(getpid())\npdn=\(pdn)\nupdated=\(csys_realtime_ms() / 1000)\n"
        for (k, v) in fields + extras { text += "\(k)=\(Instance.escape(v))\n" }
        return text
    }

    func writeFile(_ path: String, _ text: String) {
        _ = try? Files.writeAtomically(path, Array(text.utf8))
    }

    func release() {
        Files.remove(statusPath)
        Files.remove(pidFile)
        if let p = lockPath { Files.remove(p) }
        if let p = muxLockPath { Files.remove(p) }
        if lockFD >= 0 { _ = close(lockFD) }
        if muxLockFD >= 0 { _ = close(muxLockFD) }
        lockFD = -1
        muxLockFD = -1
    }

    // MARK: reading other instances

    struct Status {
        let path: String
        let values: [(String, String)]
        func value(_ k: String) -> String? { values.first { $0.0.equals(k) }?.1 }
        var pid: Int32? {
            guard let v = value("pid").flatMap({ Text.parseInt($0) }), v > 0, v < Int64(Int32.max) else { return nil }
            return Int32(v)
        }
        /// The pid is a running qcm that holds the lock the file names: not a stale file,
        /// and not an unrelated process that happens to have the pid now.
        var alive: Bool {
            guard let p = pid, Instance.running(p), Instance.isQCM(p) else { return false }
            guard let lock = value("lock") else { return true }   // written by a qcm without lock info
            return Instance.lockHeld(lock, by: p)
        }
    }

    /// Alive and not a zombie waiting for its parent to reap it.
    static func running(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || csys_errno() == EPERM else { return false }
        guard let stat = Files.readSmall("/proc/\(pid)/stat", limit: 512), let close = stat.lastIndex(of: 41) else { return true }
        return !(close + 2 < stat.count && stat[close + 2] == 90)   // "Z"
    }

    /// /proc/PID/exe is the same program as this one (an upgraded binary counts too).
    static func isQCM(_ pid: Int32) -> Bool {
        guard let theirs = Files.readlink("/proc/\(pid)/exe") else { return false }
        let mine = Files.readlink("/proc/self/exe") ?? "qcm"
        func name(_ p: String) -> String {
            let b = Files.basename(p)
            return b.ends(with: " (deleted)") ? String(decoding: b.utf8.dropLast(10), as: UTF8.self) : b
        }
        return name(theirs).equals(name(mine))
    }

    /// Someone holds an flock on `path` and the file names `pid`.
    static func lockHeld(_ path: String, by pid: Int32) -> Bool {
        let fd = csys_open(path, O_RDONLY | O_NOFOLLOW, 0)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return false
        }
        return pidIn(fd: fd) == pid
    }

    static func statuses(runDir: String) -> [Status] {
        var names: [String] = []
        for n in Files.list(runDir) ?? [] where n.begins(with: "qcm-pdn") && n.ends(with: ".status") {
            names.insert(n, at: names.firstIndex { n.precedes($0) } ?? names.count)   // kept in order
        }
        return names.compactMap { n in
            let path = runDir + "/" + n
            guard let bytes = Files.readSmall(path, limit: 65536) else { return nil }
            return Status(path: path, values: parseRecord(Files.lines(bytes)))
        }
    }

    /// `key=value` lines of a status record. Whatever a record holds is shown without
    /// control characters: it cannot draw on a terminal (qcm escapes them when writing).
    static func parseRecord(_ lines: [String]) -> [(String, String)] {
        var values: [(String, String)] = []
        for line in lines {
            let u = Array(line.utf8)
            guard let eq = u.firstIndex(of: 61) else { continue }
            values.append((Text.withoutControls(String(decoding: u[..<eq], as: UTF8.self)),
                           Text.withoutControls(String(decoding: u[(eq + 1)...], as: UTF8.self))))
        }
        return values
    }

    /// A value as a status record holds it: printable UTF-8 as it is (an operator called
    /// "Telefónica" stays so), everything else — control characters, broken UTF-8, the
    /// backslash itself — as \xNN-style escapes, so no value can add a line.
    static func escape(_ v: String) -> String {
        let b = Array(v.utf8)
        if !b.contains(where: { $0 < 0x20 || $0 == 0x7f || $0 == 92 }) && QMIStrings.printableUTF8(b) { return v }
        return Text.printable(b)
    }
}

/// `qcm -k PDN`: stop the instance serving that PDN and wait for its clean teardown. Only
/// a process that is qcm and holds the lock its status file names is signalled: a stale
/// file whose pid now belongs to another program is reported, never acted on.
enum KillCommand {
    static func run(pdn: Int, runDir: String, log: Logger) -> Int32 {
        let mine = Instance.statuses(runDir: runDir).filter { $0.value("pdn")?.equals("\(pdn)") == true }
        guard let s = mine.first(where: { $0.alive }), let pid = s.pid else {
            if let stale = mine.first, let pid = stale.pid {
                log.log("\(stale.path) names pid \(pid), which is not a running qcm holding its lock: stale, not signalling it")
            } else {
                log.log("no running qcm serves PDN \(pdn) (looked in \(runDir))")
            }
            return ExitCode.failure
        }
        // A qcm serving several PDNs stops only this one (SIGUSR1 carrying the PDN).
        let shared = Instance.statuses(runDir: runDir).filter { $0.pid == pid && $0.alive }.count > 1
        log.log("stopping qcm pid \(pid) (PDN \(pdn)\(shared ? "; its other PDNs go on" : ""))")
        guard (shared ? csys_sigqueue(pid, SIGUSR1, Int32(pdn)) : kill(pid, SIGTERM)) == 0 else {
            log.log("cannot signal pid \(pid): \(Errno.current.description)")
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
}
