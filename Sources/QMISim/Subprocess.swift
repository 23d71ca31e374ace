import CSystem

/// Child processes through posix_spawn and waitpid. Foundation's Process reaps children
/// from one shared thread that blocks on a long-lived child (dnsmasq), after which no
/// other Process ever finishes; this does not share that problem.
public enum Subprocess {
    /// Starts `args` (looked up in PATH when not absolute). Output goes to `outputFD`
    /// (-1: inherited, a pipe's write end, or /dev/null's descriptor).
    public static func start(_ args: [String], outputFD: Int32 = -1) -> pid_t? {
        guard let first = args.first, let path = resolve(first) else { return nil }
        var argv = args.map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let env = csys_environ()
        let rc = argv.withUnsafeMutableBufferPointer { a in
            csys_spawn(path, a.baseAddress, env.map { UnsafeMutablePointer(mutating: $0) }, -1, outputFD, outputFD, &pid)
        }
        return rc == 0 ? pid : nil
    }

    /// Exit status (128+signal when killed), blocking.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && csys_errno() == EINTR {}
        return csys_wait_status_exited(status) != 0 ? csys_wait_status_code(status) : 128 + csys_wait_status_signal(status)
    }

    public static func stop(_ pid: pid_t) {
        _ = kill(pid, SIGTERM)
        _ = wait(pid)
    }

    /// Runs to completion and returns the exit status and combined output.
    @discardableResult
    public static func run(_ args: [String], timeoutMs: Int64 = 30_000) -> (status: Int32, output: String) {
        var fds: [Int32] = [-1, -1]
        guard csys_pipe_cloexec(&fds) == 0 else { return (127, "pipe failed") }
        guard let pid = start(args, outputFD: fds[1]) else {
            _ = close(fds[0]); _ = close(fds[1])
            return (127, "cannot run \(args.first ?? "")")
        }
        _ = close(fds[1])
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        let deadline = csys_monotonic_ms() + timeoutMs
        while true {
            var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            let left = deadline - csys_monotonic_ms()
            if left <= 0 { _ = kill(pid, SIGKILL); break }
            if poll(&p, 1, Int32(min(left, 1000))) <= 0 { continue }
            let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        _ = close(fds[0])
        return (wait(pid), String(decoding: out, as: UTF8.self))
    }

    static func resolve(_ name: String) -> String? {
        if name.hasPrefix("/") { return name }
        for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let p = dir + "/" + name
            if csys_is_executable(p) != 0 && csys_file_kind(p) == Int32(CSYS_FILE) { return p }
        }
        return nil
    }

    public static var devNull: Int32 = csys_open("/dev/null", O_RDWR, 0)
}
