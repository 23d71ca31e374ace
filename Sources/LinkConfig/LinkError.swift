import Base
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
            var s = "\(op): kernel said \(Errno(e).description)"
            if let m = msg, !m.isEmpty { s += ": \(m)" }
            return s
        case let .system(op, e):
            return "\(op): \(Errno(e).description)"
        case let .invalid(s), let .script(s), let .dns(s):
            return s
        }
    }

    public static func system(_ e: SystemError) -> LinkError { .system(operation: e.operation, errno: e.errno.code) }

    /// The kernel or the system refused for want of privileges (EPERM, EACCES).
    public var isPermissionDenied: Bool { errno.map { Errno($0).isPermissionDenied } ?? false }

    public var errno: Int32? {
        switch self {
        case let .kernel(_, e, _), let .system(_, e): return e
        default: return nil
        }
    }
}

