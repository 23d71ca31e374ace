import CSystem

/// An errno value with its name and message: `ENOENT (No such file or directory)`. Every
/// module renders system errors through this one type, so a log line reads the same
/// whether it came from rtnetlink, a file or the QMI channel.
public struct Errno: Error, Equatable {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// errno as the last failing call left it.
    public static var current: Errno { Errno(csys_errno()) }

    /// EPERM or EACCES: not allowed to this user (root or a capability would be).
    public var isPermissionDenied: Bool { code == EPERM || code == EACCES }

    /// The symbolic name ("EBUSY"); "errno N" for values without one here.
    public var name: String {
        switch code {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case ENXIO: return "ENXIO"
        case E2BIG: return "E2BIG"
        case ENOEXEC: return "ENOEXEC"
        case EBADF: return "EBADF"
        case ECHILD: return "ECHILD"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EFAULT: return "EFAULT"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case EXDEV: return "EXDEV"
        case ENODEV: return "ENODEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENFILE: return "ENFILE"
        case EMFILE: return "EMFILE"
        case ENOTTY: return "ENOTTY"
        case ETXTBSY: return "ETXTBSY"
        case EFBIG: return "EFBIG"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case EPIPE: return "EPIPE"
        case ERANGE: return "ERANGE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ELOOP: return "ELOOP"
        case EOVERFLOW: return "EOVERFLOW"
        case EPROTO: return "EPROTO"
        case EBADR: return "EBADR"
        case EBADRQC: return "EBADRQC"
        case ENOBUFS: return "ENOBUFS"
        case EOPNOTSUPP: return "EOPNOTSUPP"
        case EAFNOSUPPORT: return "EAFNOSUPPORT"
        case EADDRINUSE: return "EADDRINUSE"
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL"
        case ENETDOWN: return "ENETDOWN"
        case ENETUNREACH: return "ENETUNREACH"
        case ECONNRESET: return "ECONNRESET"
        case ENOTCONN: return "ENOTCONN"
        case ESHUTDOWN: return "ESHUTDOWN"
        case ETOOMANYREFS: return "ETOOMANYREFS"
        case ETIMEDOUT: return "ETIMEDOUT"
        case ECONNREFUSED: return "ECONNREFUSED"
        case EHOSTUNREACH: return "EHOSTUNREACH"
        default: return "errno \(code)"
        }
    }

    /// strerror(3)'s text.
    public var message: String {
        guard let p = strerror(code) else { return "unknown error" }
        return String(cString: p)
    }

    public var description: String { "\(name) (\(message))" }
}

/// A failed system call: what was being done, and the errno it failed with.
public struct SystemError: Error, Equatable {
    public let operation: String
    public let errno: Errno

    public init(_ operation: String, _ errno: Errno = .current) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(operation): \(errno.description)" }
}
