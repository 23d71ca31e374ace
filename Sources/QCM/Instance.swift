import CSystem
import QMICore

/// What a running qcm leaves in its run directory: a lock per QMI channel (so a second
/// instance on the same modem is refused), a pid file, and a status file that `qcm status`
/// and `qcm -k` read.
final class Instance {
    let runDir: String
    let pdn: Int
    var lockFD: Int32 = -1
    var lockPath: String?
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
        case system(String)
    }

    func prepareDir() throws(Failure) {
        if csys_file_kind(runDir) == Int32(CSYS_DIR) { return }
        if mkdir(runDir, 0o755) != 0 && csys_errno() != EEXIST {
            throw .system("cannot create run directory \(runDir): \(SystemError.string(csys_errno()))")
        }
    }

    /// The lock name for a channel: /dev/cdc-wdm0 → cdc-wdm0.lock, @qmi-proxy → qmi-proxy.lock.
    static func lockName(_ channel: String) -> String {
        var base = Array(channel.utf8)
        if let i = base.lastIndex(of: 47) { base = Array(base[(i + 1)...]) }
        let clean = base.map { c -> UInt8 in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46 ? c : 95
        }
        return String(decoding: clean, as: UTF8.self) + ".lock"
    }

    /// One qcm per QMI channel and PDN. A crashed holder's lock disappears with it (flock).
    func lock(channel: String) throws(Failure) {
        try prepareDir()
        let path = runDir + "/" + Instance.lockName(channel) + (pdn == 1 ? "" : ".pdn\(pdn)")
        let fd = csys_open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw .system("cannot open lock file \(path): \(SystemError.string(csys_errno()))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
            _ = close(fd)
            let pid = n > 0 ? Text.trimmed(String(decoding: buf[0..<n], as: UTF8.self)) : "?"
            throw .held("another qcm (pid \(pid)) is already using \(channel) for PDN \(pdn); stop it first (qcm -k \(pdn))")
        }
        _ = ftruncate(fd, 0)
        let text = Array("\(getpid())\n".utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        lockFD = fd
        lockPath = path
        writeFile(pidFile, "\(getpid())\n")
    }

    func set(_ key: String, _ value: String?) {
        fields.removeAll { $0.0.equals(key) }
        if let v = value { fields.append((key, v)) }
    }

    func get(_ key: String) -> String? { fields.first { $0.0.equals(key) }?.1 }

    /// Rewritten atomically on every state change.
    func save() {
        guard lockFD >= 0 else { return }
        var text = "pid=\(getpid())\npdn=\(pdn)\nupdated=\(csys_realtime_ms() / 1000)\n"
        for (k, v) in fields { text += "\(k)=\(v)\n" }
        writeFile(statusPath, text)
    }

    func writeFile(_ path: String, _ text: String) {
        let b = Array(text.utf8)
        _ = b.withUnsafeBytes { csys_write_file_atomic(path, $0.baseAddress, $0.count, 0o644) }
    }

    func release() {
        _ = unlink(statusPath)
        _ = unlink(pidFile)
        if let p = lockPath { _ = unlink(p) }
        if lockFD >= 0 { _ = close(lockFD) }
        lockFD = -1
    }

    // MARK: reading other instances

    struct Status {
        let path: String
        let values: [(String, String)]
        func value(_ k: String) -> String? { values.first { $0.0.equals(k) }?.1 }
        var pid: Int32? { value("pid").flatMap { Text.parseInt($0) }.map { Int32(truncatingIfNeeded: $0) } }
        var alive: Bool { pid.map { Instance.running($0) } ?? false }
    }

    /// Alive and not a zombie waiting for its parent to reap it.
    static func running(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || csys_errno() == EPERM else { return false }
        guard let stat = try? Files.read("/proc/\(pid)/stat", limit: 512), let close = stat.lastIndex(of: 41) else { return true }
        return !(close + 2 < stat.count && stat[close + 2] == 90)   // "Z"
    }

    static func statuses(runDir: String) -> [Status] {
        guard let dir = opendir(runDir) else { return [] }
        var names: [String] = []
        while let e = readdir(dir) {
            let n = String(cString: csys_dirent_name(e))
            if n.begins(with: "qcm-pdn") && n.ends(with: ".status") {
                names.insert(n, at: names.firstIndex { n.precedes($0) } ?? names.count)   // kept in order
            }
        }
        closedir(dir)
        return names.compactMap { n in
            let path = runDir + "/" + n
            guard let bytes = try? Files.read(path, limit: 65536) else { return nil }
            var values: [(String, String)] = []
            for line in Files.lines(bytes) {
                let u = Array(line.utf8)
                guard let eq = u.firstIndex(of: 61) else { continue }
                values.append((String(decoding: u[..<eq], as: UTF8.self), String(decoding: u[(eq + 1)...], as: UTF8.self)))
            }
            return Status(path: path, values: values)
        }
    }
}

/// `qcm status [--json] [--run-dir DIR]`.
enum StatusCommand {
    static let usage = """
        Usage: qcm status [--json] [--run-dir DIR]
          The state of every running qcm: state, modem, APN, addresses, uptime and the last
          call-end reason. Exit status 0 when at least one instance runs, 3 when none.
        """

    static func run(_ args: [String]) -> Int32 {
        var json = false
        var runDir = "/run/qcm"
        var i = 0
        while i < args.count {
            switch Word(args[i]) {
            case "--json": json = true
            case "--run-dir":
                guard i + 1 < args.count else { Out.error("qcm status: --run-dir needs a directory"); return ExitCode.usage }
                runDir = args[i + 1]
                i += 1
            case "-h", "--help": Out.line(usage); return ExitCode.ok
            default:
                Out.error("qcm status: unknown option '\(args[i])'")
                Out.error(usage)
                return ExitCode.usage
            }
            i += 1
        }
        let all = Instance.statuses(runDir: runDir)
        let now = csys_realtime_ms() / 1000
        var objects: [String] = []
        for s in all {
            let alive = s.alive
            let since = s.value("connected_since").flatMap { Text.parseInt($0) }
            let uptime = since.map { max(0, now - $0) }
            if json {
                var o = JSONObject()
                o.add("pid", s.pid.map { Int($0) })
                o.add("running", alive)
                for key in ["state", "pdn", "modem", "revision", "channel", "interface", "apn", "ipv4", "ipv6", "dns", "last_end_reason"] {
                    o.add(key, s.value(key))
                }
                o.add("uptime_seconds", alive ? uptime : nil)
                objects.append(o.text)
            } else {
                var line = "qcm pid \(s.pid.map { "\($0)" } ?? "?") PDN \(s.value("pdn") ?? "?"): "
                line += alive ? (s.value("state") ?? "unknown") : "not running (stale status file \(s.path))"
                Out.line(line)
                guard alive else { continue }
                for (label, key) in [("modem", "modem"), ("revision", "revision"), ("channel", "channel"), ("interface", "interface"),
                                     ("apn", "apn"), ("ipv4", "ipv4"), ("ipv6", "ipv6"), ("dns", "dns"), ("last end", "last_end_reason")] {
                    if let v = s.value(key), !v.isEmpty { Out.line("  " + Text.pad(label + ":", 11) + v) }
                }
                if let u = uptime { Out.line("  uptime:    \(u / 3600)h\(Text.decimal(u / 60 % 60, width: 2))m\(Text.decimal(u % 60, width: 2))s") }
            }
        }
        if json { Out.line("[" + objects.joined(separator: ",\n ") + "]") }
        if !all.contains(where: { $0.alive }) {
            if !json { Out.error("qcm: no running qcm found in \(runDir)") }
            return ExitCode.noModem
        }
        return ExitCode.ok
    }
}

/// `qcm -k PDN`: stop the instance serving that PDN and wait for its clean teardown.
enum KillCommand {
    static func run(pdn: Int, runDir: String, log: Logger) -> Int32 {
        guard let s = Instance.statuses(runDir: runDir).first(where: { $0.value("pdn")?.equals("\(pdn)") == true && $0.alive }), let pid = s.pid else {
            log.log("no running qcm serves PDN \(pdn) (looked in \(runDir))")
            return ExitCode.failure
        }
        log.log("stopping qcm pid \(pid) (PDN \(pdn))")
        guard kill(pid, SIGTERM) == 0 else {
            log.log("cannot signal pid \(pid): \(SystemError.string(csys_errno()))")
            return ExitCode.permission
        }
        let deadline = csys_monotonic_ms() + 15_000
        while csys_monotonic_ms() < deadline {
            if !Instance.running(pid) {
                log.log("qcm pid \(pid) stopped")
                return ExitCode.ok
            }
            csys_sleep_ms(50)
        }
        log.log("qcm pid \(pid) did not stop within 15 s")
        return ExitCode.failure
    }
}
