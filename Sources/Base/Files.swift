import CSystem

/// What is at a path, as lstat(2) or stat(2) sees it.
public enum FileKind: Equatable {
    case none, file, directory, socket, charDevice, symlink, fifo, other

    init(_ csys: Int32) {
        switch csys {
        case Int32(CSYS_FILE): self = .file
        case Int32(CSYS_DIR): self = .directory
        case Int32(CSYS_SOCKET): self = .socket
        case Int32(CSYS_CHARDEV): self = .charDevice
        case Int32(CSYS_SYMLINK): self = .symlink
        case Int32(CSYS_FIFO): self = .fifo
        case Int32(CSYS_NONE): self = .none
        default: self = .other
        }
    }
}

/// The facts about a file that decide whether qcm may trust it.
public struct FileInfo: Equatable {
    public let kind: FileKind
    /// Permission bits, with setuid/setgid/sticky (07777).
    public let mode: UInt32
    public let owner: UInt32
    public let size: Int64
    /// Which file it is: two paths (or a path and a descriptor) are the same file when both match.
    public let device: UInt64
    public let inode: UInt64

    init(_ i: csys_file_info) {
        kind = FileKind(i.kind)
        mode = UInt32(i.mode)
        owner = UInt32(i.uid)
        size = Int64(i.size)
        device = UInt64(i.dev)
        inode = UInt64(i.ino)
    }

    public func isSameFile(as other: FileInfo) -> Bool { device == other.device && inode == other.inode }

    public var writableByOthers: Bool { mode & 0o022 != 0 }
    public var sticky: Bool { mode & 0o1000 != 0 }
}

/// Whole-file reads and writes through CSystem (no Foundation in the daemon), done so that
/// a file planted by someone else cannot redirect them: writes go through fresh temporary
/// files (O_EXCL) renamed into place, in-place rewrites refuse symlinks, and reads of
/// attribute files take regular files only (a FIFO cannot hang qcm).
public enum Files {
    public static func read(_ path: String, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        let fd = csys_open(path, O_RDONLY, 0)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { _ = close(fd) }
        return try readAll(fd: fd, name: path, limit: limit)
    }

    public static func readAll(fd: Int32, name: String, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { CSystem.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if csys_errno() == EINTR { continue }
                throw SystemError("read \(name)")
            }
            if n == 0 { break }
            out += buf[0..<n]
            if out.count > limit { throw SystemError("read \(name): larger than \(limit) bytes", Errno(EFBIG)) }
        }
        return out
    }

    /// A small regular file (a sysfs attribute, a /proc entry, a status file), at most
    /// `limit` bytes; nil when absent, unreadable, or not a regular file. Never blocks.
    public static func readSmall(_ path: String, limit: Int = 4096) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: limit)
        let n = buf.withUnsafeMutableBytes { csys_read_file(path, $0.baseAddress, $0.count) }
        return n < 0 ? nil : Array(buf[0..<n])
    }

    /// Replaces `path` with `bytes` atomically (a fresh temporary file beside it, renamed
    /// over it). A symlink at `path` is replaced, not followed. Fails with EBUSY or EXDEV
    /// where `path` is a mount point (a container's bind-mounted resolv.conf).
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: Int32 = 0o644) throws(SystemError) {
        let rc = bytes.withUnsafeBytes { csys_write_file_atomic(path, $0.baseAddress, $0.count, mode) }
        if rc != 0 { throw SystemError("write \(path)") }
    }

    /// Rewrites an existing regular file in place; refuses symlinks (ELOOP) and anything
    /// that is not a regular file.
    public static func writeInPlace(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        let rc = bytes.withUnsafeBytes { csys_write_file_in_place(path, $0.baseAddress, $0.count) }
        if rc != 0 { throw SystemError("rewrite \(path) in place") }
    }

    /// Writes to an existing attribute file (sysfs): `echo VALUE > path` without a shell.
    public static func writeAttribute(_ path: String, _ text: String) throws(SystemError) {
        let b = Array(text.utf8)
        let rc = b.withUnsafeBytes { csys_write_attribute(path, $0.baseAddress, $0.count) }
        if rc != 0 { throw SystemError("write '\(text)' to \(path)") }
    }

    public static func remove(_ path: String) { _ = unlink(path) }

    /// Sends as much of `pending` as the (non-blocking) socket takes now, without SIGPIPE,
    /// and removes what went out. False when the socket failed or the peer is gone; a full
    /// socket (EAGAIN) or a signal (EINTR) leaves the rest for the next POLLOUT.
    public static func sendPending(_ fd: Int32, _ pending: inout [UInt8]) -> Bool {
        while !pending.isEmpty {
            let n = pending.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                pending.removeFirst(n)
                continue
            }
            return n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR)
        }
        return true
    }

    /// lstat(2): the path itself, symlinks not followed; nil when absent.
    public static func info(_ path: String) -> FileInfo? {
        var i = csys_file_info()
        return csys_lstat_info(path, &i) == 0 ? FileInfo(i) : nil
    }

    /// fstat(2) of an open descriptor.
    public static func info(fd: Int32) -> FileInfo? {
        var i = csys_file_info()
        return csys_fstat_info(fd, &i) == 0 ? FileInfo(i) : nil
    }

    /// What the path leads to, symlinks followed (stat(2)).
    public static func kind(_ path: String) -> FileKind { FileKind(csys_file_kind(path)) }

    public static func exists(_ path: String) -> Bool { csys_file_kind(path) != Int32(CSYS_NONE) }

    /// The path exists, even as a dangling symlink.
    public static func existsOrLinks(_ path: String) -> Bool { exists(path) || csys_is_symlink(path) != 0 }

    public static func isSymlink(_ path: String) -> Bool { csys_is_symlink(path) != 0 }

    public static func readlink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = buf.withUnsafeMutableBufferPointer { CSystem.readlink(path, $0.baseAddress!, 4096) }
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The last path component: "/dev/cdc-wdm0" → "cdc-wdm0".
    public static func basename(_ path: String) -> String {
        var u = Array(path.utf8)
        while u.count > 1 && u.last == 47 { u.removeLast() }
        if let i = u.lastIndex(of: 47) { return String(decoding: u[(i + 1)...], as: UTF8.self) }
        return String(decoding: u, as: UTF8.self)
    }

    /// Entries of a directory (without "." and ".."), in readdir order; nil when it cannot be read.
    public static func list(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var out: [String] = []
        while let ent = readdir(dir) {
            let name = String(cString: csys_dirent_name(ent))
            if !name.equals(".") && !name.equals("..") { out.append(name) }
        }
        return out
    }

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

extension Files {
    /// Removes `path` and everything below it without following symlinks (a link is
    /// removed, never what it points to). Best effort; returns whether `path` is gone.
    @discardableResult
    public static func removeTree(_ path: String, depth: Int = 0) -> Bool {
        guard let info = info(path) else { return true }
        if info.kind == .directory && depth < 32 {
            for name in list(path) ?? [] { removeTree(path + "/" + name, depth: depth + 1) }
            return rmdir(path) == 0
        }
        return unlink(path) == 0
    }
}
