import CSystem

/// LinkConfig failures, each one sentence an integrator can act on.
public enum LinkError: Error, Equatable {
    case noSuchInterface(String)
    /// The kernel refused a request: operation, errno, and the extended-ack message when given.
    case kernel(operation: String, errno: Int32, message: String?)
    case system(operation: String, errno: Int32)
    case invalid(String)
    case script(String)
    case dns(String)

    public var description: String {
        switch self {
        case let .noSuchInterface(n):
            return "network interface '\(n)' does not exist"
        case let .kernel(op, e, msg):
            var s = "\(op): kernel said \(Errno.name(e)) (\(Errno.text(e)))"
            if let m = msg, !m.isEmpty { s += ": \(m)" }
            return s
        case let .system(op, e):
            return "\(op): \(Errno.name(e)) (\(Errno.text(e)))"
        case let .invalid(s), let .script(s), let .dns(s):
            return s
        }
    }

    public var errno: Int32? {
        switch self {
        case let .kernel(_, e, _), let .system(_, e): return e
        default: return nil
        }
    }
}

public enum Errno {
    public static func name(_ e: Int32) -> String {
        switch e {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case ENXIO: return "ENXIO"
        case EBADF: return "EBADF"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case ENODEV: return "ENODEV"
        case EINVAL: return "EINVAL"
        case ENOSPC: return "ENOSPC"
        case ERANGE: return "ERANGE"
        case ENOBUFS: return "ENOBUFS"
        case EOPNOTSUPP: return "EOPNOTSUPP"
        case EAFNOSUPPORT: return "EAFNOSUPPORT"
        case EADDRINUSE: return "EADDRINUSE"
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL"
        case ENETDOWN: return "ENETDOWN"
        case ENETUNREACH: return "ENETUNREACH"
        case EHOSTUNREACH: return "EHOSTUNREACH"
        case ETIMEDOUT: return "ETIMEDOUT"
        case ENOEXEC: return "ENOEXEC"
        default: return "errno \(e)"
        }
    }

    public static func text(_ e: Int32) -> String {
        guard let p = strerror(e) else { return "unknown error" }
        return String(cString: p)
    }
}
