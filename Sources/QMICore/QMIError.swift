/// Every failure QMICore reports. Each case renders as one precise sentence
/// (`description`), the kind of line a board integrator can act on.
public enum QMIError: Error, Equatable {
    // Framing and codec
    case truncated(what: String, needed: Int, available: Int)
    case badMarker(UInt8)
    case frameTooShort(Int)
    case lengthMismatch(declared: Int, actual: Int)
    case sduLengthMismatch(declared: Int, actual: Int)
    case tlvOverrun(type: UInt8, declared: Int, available: Int)
    case badValue(tlv: String, reason: String)
    case unknownTLV(message: String, name: String)
    case missingTLV(message: String, name: String)
    // Transactions
    case timeout(message: String, afterMs: Int64)
    case deviceGone(String)
    case protocolError(message: String, code: UInt16)
    case closed
    // System
    case system(operation: String, errno: Int32)
    case notFound(String)
    case invalidArgument(String)
    /// The process behind a socket is neither root nor qcm's user (`Peer.problem`).
    case untrustedPeer(String)

    public var description: String {
        switch self {
        case let .truncated(what, needed, available):
            return "truncated frame: \(what) needs \(needed) byte(s), \(available) left"
        case let .badMarker(b):
            return "not a QMUX frame: first byte is 0x\(Text.hex(b)), expected 0x01"
        case let .frameTooShort(n):
            return "frame too short: \(n) byte(s), a QMUX frame has at least 12"
        case let .lengthMismatch(declared, actual):
            return "QMUX length field says \(declared) byte(s) but the frame carries \(actual)"
        case let .sduLengthMismatch(declared, actual):
            return "message length field says \(declared) byte(s) of TLVs but \(actual) follow"
        case let .tlvOverrun(type, declared, available):
            return "TLV 0x\(Text.hex(type)) declares \(declared) byte(s) but only \(available) remain"
        case let .badValue(tlv, reason):
            return "bad value in \(tlv): \(reason)"
        case let .unknownTLV(message, name):
            return "\(message) has no TLV named '\(name)'"
        case let .missingTLV(message, name):
            return "\(message) response lacks the mandatory '\(name)' TLV"
        case let .timeout(message, ms):
            return "\(message): no response from the modem within \(ms) ms"
        case let .deviceGone(why):
            return "QMI device gone: \(why)"
        case let .protocolError(message, code):
            return "\(message) failed: \(QMIErrorCode.name(code)) (0x\(Text.hex(code, 4)))"
        case .closed:
            return "QMI channel closed"
        case let .system(op, e):
            return "\(op): \(Errno(e).description)"
        case let .notFound(what):
            return "\(what) not found"
        case let .invalidArgument(what), let .untrustedPeer(what):
            return what
        }
    }

    public init(_ t: Truncated) { self = .truncated(what: t.what, needed: t.needed, available: t.available) }

    public init(_ e: SystemError) { self = .system(operation: e.operation, errno: e.errno.code) }

    /// Someone other than root or qcm's user listens on the socket: never retried.
    public var isUntrustedPeer: Bool {
        if case .untrustedPeer = self { return true }
        return false
    }

    /// QMI protocol error code for `.protocolError`, nil otherwise.
    public var qmiCode: UInt16? {
        if case let .protocolError(_, code) = self { return code }
        return nil
    }
}

import Base
