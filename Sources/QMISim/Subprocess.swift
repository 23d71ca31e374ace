import Base
import CSystem

/// Child processes through posix_spawn and waitpid. Foundation's Process reaps children
/// from one shared thread that blocks on a long-lived child (dnsmasq), after which no
/// other Process ever finishes; this does not share that problem.
public enum Subprocess {
    /// Starts `args` (looked up in PATH when not absolute). Output goes to `outputFD`
    /// (-1: inherited, a pipe's write end, or /dev/null's descriptor).
    public static func start(_ args: [String], outputFD: Int32 = -1) -> pid_t? {
        guard let first = args.first, let path = Spawn.find(first) else { return nil }
        return try? Spawn.start(path, Array(args.dropFirst()), environment: Spawn.currentEnvironment, stdout: outputFD, stderr: outputFD)
    }

    /// Exit status (128+signal when killed), blocking.
    public static func wait(_ pid: pid_t) -> Int32 { Spawn.wait(pid) }

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

    public static var devNull: Int32 = csys_open("/dev/null", O_RDWR, 0)
}
