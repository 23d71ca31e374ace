import Base
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

    static func line(_ s: String) {
        if buffering {
            pending += s.utf8
            pending.append(10)
            if pending.count >= 1 << 16 { flush() }
        } else {
            write(1, s + "\n")
        }
    }

    /// Batch standard output (commands that print many lines, such as `qcm decode`):
    /// one write(2) per 64 KB instead of one per line. `flush()` before exiting.
    nonisolated(unsafe) static var buffering = false
    nonisolated(unsafe) static var pending: [UInt8] = []

    static func flush() {
        guard !pending.isEmpty else { return }
        write(1, String(decoding: pending, as: UTF8.self))
        pending.removeAll(keepingCapacity: true)
    }

    static func error(_ s: String) { write(2, s + "\n") }
}
