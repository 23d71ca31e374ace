import CSystem

/// Runs a program with an explicit argv and environment — never through a shell — and
/// waits for it (bounded). Used for resolvconf and udhcpc-style script hooks.
enum Spawn {
    struct Outcome {
        let status: Int32       // exit status, or 128+signal
        let output: String
    }

    static func run(_ path: String, _ args: [String], environment: [String], input: [UInt8]? = nil,
                    timeoutMs: Int64 = 30_000) throws(LinkError) -> Outcome {
        var inPipe: [Int32] = [-1, -1]
        var outPipe: [Int32] = [-1, -1]
        guard csys_pipe_cloexec(&outPipe) == 0 else { throw .system(operation: "pipe", errno: csys_errno()) }
        if input != nil, csys_pipe_cloexec(&inPipe) != 0 {
            _ = close(outPipe[0]); _ = close(outPipe[1])
            throw .system(operation: "pipe", errno: csys_errno())
        }
        defer {
            for fd in inPipe + outPipe where fd >= 0 { _ = close(fd) }
        }
        var cargs = ([path] + args).map { strdup($0) }
        cargs.append(nil)
        var cenv = environment.map { strdup($0) }
        cenv.append(nil)
        defer {
            for p in cargs { free(p) }
            for p in cenv { free(p) }
        }
        var pid: pid_t = 0
        let rc = cargs.withUnsafeMutableBufferPointer { a in
            cenv.withUnsafeMutableBufferPointer { e in
                csys_spawn(path, a.baseAddress, e.baseAddress, inPipe[0], outPipe[1], outPipe[1], &pid)
            }
        }
        guard rc == 0 else { throw .system(operation: "run \(path)", errno: csys_errno()) }
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
                throw .script("\(path) did not finish within \(timeoutMs / 1000) s and was killed")
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
        let code = csys_wait_status_exited(status) != 0 ? csys_wait_status_code(status) : 128 + csys_wait_status_signal(status)
        return Outcome(status: code, output: String(decoding: output, as: UTF8.self))
    }

    /// The current environment as NAME=VALUE strings.
    static var currentEnvironment: [String] {
        var out: [String] = []
        guard let env = csys_environ() else { return out }
        var i = 0
        while let p = env[i] {
            out.append(String(cString: p))
            i += 1
        }
        return out
    }

    /// First executable named `name` in the usual system directories.
    static func find(_ name: String) -> String? {
        for dir in ["/sbin", "/usr/sbin", "/bin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let p = dir + "/" + name
            if csys_file_kind(p) == Int32(CSYS_FILE) && csys_is_executable(p) != 0 { return p }
        }
        return nil
    }
}

enum FileText {
    static func read(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: limit)
        let n = buf.withUnsafeMutableBytes { csys_read_file(path, $0.baseAddress, $0.count) }
        return n < 0 ? nil : Array(buf[0..<n])
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws(LinkError) {
        let rc = bytes.withUnsafeBytes { csys_write_file_atomic(path, $0.baseAddress, $0.count, 0o644) }
        if rc != 0 { throw .system(operation: "write \(path)", errno: csys_errno()) }
    }

    static func readlink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = buf.withUnsafeMutableBufferPointer { CSystem.readlink(path, $0.baseAddress!, 4096) }
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
