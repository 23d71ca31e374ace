import CSystem

/// Whole-file reads and writes through CSystem (no Foundation in the daemon).
public enum Files {
    public static func read(_ path: String, limit: Int = 64 << 20) throws(QMIError) -> [UInt8] {
        let fd = csys_open(path, O_RDONLY, 0)
        guard fd >= 0 else { throw .system(operation: "open \(path)", errno: csys_errno()) }
        defer { _ = close(fd) }
        return try readAll(fd: fd, name: path, limit: limit)
    }

    public static func readAll(fd: Int32, name: String, limit: Int = 64 << 20) throws(QMIError) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { CSystem.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if csys_errno() == EINTR { continue }
                throw .system(operation: "read \(name)", errno: csys_errno())
            }
            if n == 0 { break }
            out += buf[0..<n]
            if out.count > limit { throw .invalidArgument("\(name) is larger than \(limit) bytes") }
        }
        return out
    }

    /// Writes `bytes` to a temporary file next to `path`, then renames it over `path`.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: Int32 = 0o644) throws(QMIError) {
        let rc = bytes.withUnsafeBytes { csys_write_file_atomic(path, $0.baseAddress, $0.count, mode) }
        if rc != 0 { throw .system(operation: "write \(path)", errno: csys_errno()) }
    }

    public static func exists(_ path: String) -> Bool { csys_file_kind(path) != Int32(CSYS_NONE) }

    /// Splits bytes into lines (LF, CRLF tolerated), as Strings repaired from bad UTF-8.
    public static func lines(_ bytes: [UInt8]) -> [String] {
        var out: [String] = []
        var start = 0
        for i in 0..<bytes.count where bytes[i] == 10 {
            var end = i
            if end > start && bytes[end - 1] == 13 { end -= 1 }
            out.append(String(decoding: bytes[start..<end], as: UTF8.self))
            start = i + 1
        }
        if start < bytes.count {
            var end = bytes.count
            if bytes[end - 1] == 13 { end -= 1 }
            out.append(String(decoding: bytes[start..<end], as: UTF8.self))
        }
        return out
    }
}
