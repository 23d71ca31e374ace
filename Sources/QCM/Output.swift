import CSystem

/// stdout/stderr through write(2): Embedded Swift has no FileHandle and print()
/// takes only static strings there.
enum Out {
    static func write(_ fd: Int32, _ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { CSystem.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if csys_errno() == EINTR { continue }
                return
            }
            off += n
        }
        bytes.removeAll()
    }

    static func line(_ s: String) { write(1, s + "\n") }
    static func error(_ s: String) { write(2, s + "\n") }
}
