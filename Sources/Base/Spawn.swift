import CSystem

/// Child processes with an explicit argv and environment — never through a shell — by
/// posix_spawn, with a clean signal mask. Used for resolvconf, udhcpc-style script hooks,
/// the simulator `qcm --simulate` starts, and the test tools.
public enum Spawn {
    public struct Outcome {
        /// Exit status, or 128+signal.
        public let status: Int32
        /// stdout and stderr together (at most 64 KB).
        public let output: String
        /// The deadline passed and the process was killed.
        public let timedOut: Bool
    }

    /// Starts `path` with `args` (argv[0] is `path`). Descriptors -1 keep the parent's.
    /// `ownGroup` puts the child in a process group of its own (a terminal's Ctrl-C does
    /// not reach it); `dieWithParent` makes the kernel SIGTERM it when qcm dies, even by
    /// SIGKILL (PR_SET_PDEATHSIG).
    public static func start(_ path: String, _ args: [String], environment: [String], stdin: Int32 = -1,
                             stdout: Int32 = -1, stderr: Int32 = -1, ownGroup: Bool = false,
                             dieWithParent: Bool = false) throws(SystemError) -> pid_t {
        var cargs = ([path] + args).map { strdup($0) }
        cargs.append(nil)
        var cenv = environment.map { strdup($0) }
        cenv.append(nil)
        defer {
            for p in cargs { free(p) }
            for p in cenv { free(p) }
        }
        var pid: pid_t = 0
        var flags: Int32 = 0
        if ownGroup { flags |= Int32(CSYS_SPAWN_OWN_GROUP) }
        if dieWithParent { flags |= Int32(CSYS_SPAWN_DIE_WITH_PARENT) }
        let rc = cargs.withUnsafeMutableBufferPointer { a in
            cenv.withUnsafeMutableBufferPointer { e in
                csys_spawn(path, a.baseAddress, e.baseAddress, stdin, stdout, stderr, flags, &pid)
            }
        }
        guard rc == 0 else { throw SystemError("run \(path)") }
        return pid
    }

    /// Exit status (128+signal when killed), blocking.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && csys_errno() == EINTR {}
        return exitStatus(status)
    }

    static func exitStatus(_ status: Int32) -> Int32 {
        csys_wait_status_exited(status) != 0 ? csys_wait_status_code(status) : 128 + csys_wait_status_signal(status)
    }

    /// Runs to completion (bounded by `timeoutMs`, then SIGKILL) and returns the exit
    /// status and the combined output; `input` is written to its stdin.
    public static func run(_ path: String, _ args: [String], environment: [String], input: [UInt8]? = nil,
                           timeoutMs: Int64 = 30_000) throws(SystemError) -> Outcome {
        var inPipe: [Int32] = [-1, -1]
        var outPipe: [Int32] = [-1, -1]
        guard csys_pipe_cloexec(&outPipe) == 0 else { throw SystemError("pipe") }
        if input != nil, csys_pipe_cloexec(&inPipe) != 0 {
            let e = Errno.current
            _ = close(outPipe[0]); _ = close(outPipe[1])
            throw SystemError("pipe", e)
        }
        defer {
            for fd in inPipe + outPipe where fd >= 0 { _ = close(fd) }
        }
        let pid = try start(path, args, environment: environment, stdin: inPipe[0], stdout: outPipe[1], stderr: outPipe[1])
        _ = close(outPipe[1]); outPipe[1] = -1
        if inPipe[0] >= 0 { _ = close(inPipe[0]); inPipe[0] = -1 }
        if let input {
            var off = 0
            while off < input.count {
                let n = input.withUnsafeBytes { write(inPipe[1], $0.baseAddress! + off, $0.count - off) }
                if n <= 0 { break }
                off += n
            }
            _ = close(inPipe[1]); inPipe[1] = -1
        }
        // Collect output until EOF or the deadline, then reap.
        _ = csys_set_nonblocking(outPipe[0])
        var output: [UInt8] = []
        let deadline = csys_monotonic_ms() + timeoutMs
        var buf = [UInt8](repeating: 0, count: 4096)
        var status: Int32 = 0
        var reaped = false
        while true {
            var p = pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0)
            let left = deadline - csys_monotonic_ms()
            if left <= 0 {
                _ = kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return Outcome(status: exitStatus(status), output: String(decoding: output, as: UTF8.self), timedOut: true)
            }
            _ = poll(&p, 1, Int32(min(left, 1000)))
            let n = buf.withUnsafeMutableBytes { read(outPipe[0], $0.baseAddress, $0.count) }
            if n > 0 {
                if output.count < 65536 { output += buf[0..<n] }
                continue
            }
            if n == 0 { break }
            if waitpid(pid, &status, WNOHANG) == pid { reaped = true; break }
        }
        if !reaped { _ = waitpid(pid, &status, 0) }
        return Outcome(status: exitStatus(status), output: String(decoding: output, as: UTF8.self), timedOut: false)
    }

    /// The current environment as NAME=VALUE strings.
    public static var currentEnvironment: [String] {
        var out: [String] = []
        guard let env = csys_environ() else { return out }
        var i = 0
        while let p = env[i] {
            out.append(String(cString: p))
            i += 1
        }
        return out
    }

    /// First executable regular file named `name` in the usual system directories.
    public static func find(_ name: String) -> String? {
        if name.begins(with: "/") { return isExecutableFile(name) ? name : nil }
        for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let p = dir + "/" + name
            if isExecutableFile(p) { return p }
        }
        return nil
    }

    public static func isExecutableFile(_ p: String) -> Bool {
        csys_file_kind(p) == Int32(CSYS_FILE) && csys_is_executable(p) != 0
    }
}
