import Base

/// MBIM (USB-IF Mobile Broadband Interface Model 1.0) messages: a 12-byte header
/// {u32 type, u32 length, u32 transaction id}, little-endian, then the type's body. COMMAND,
/// COMMAND_DONE and INDICATE_STATUS carry a fragment header, a service UUID, a CID and an
/// information buffer; a message longer than the device's maximum control transfer travels
/// as fragments, each with the 12-byte header and the fragment header again.
public struct MBIMMessage {
    public enum Kind: UInt32 {
        case open = 1, close = 2, command = 3, hostError = 4
        case openDone = 0x8000_0001, closeDone = 0x8000_0002, commandDone = 0x8000_0003
        case functionError = 0x8000_0004, indicateStatus = 0x8000_0007

        public var name: String {
            switch self {
            case .open: return "OPEN"
            case .close: return "CLOSE"
            case .command: return "COMMAND"
            case .hostError: return "HOST_ERROR"
            case .openDone: return "OPEN_DONE"
            case .closeDone: return "CLOSE_DONE"
            case .commandDone: return "COMMAND_DONE"
            case .functionError: return "FUNCTION_ERROR"
            case .indicateStatus: return "INDICATE_STATUS"
            }
        }
    }

    public var kind: Kind
    public var transactionID: UInt32
    /// OPEN: MaxControlTransfer. *_DONE: Status. FUNCTION_ERROR / HOST_ERROR: error code.
    public var value: UInt32 = 0
    // COMMAND, COMMAND_DONE, INDICATE_STATUS:
    public var service: MBIMUUID = .none
    public var cid: UInt32 = 0
    /// COMMAND: set (true) or query.
    public var isSet = false
    public var buffer: [UInt8] = []

    public init(kind: Kind, transactionID: UInt32, value: UInt32 = 0) {
        self.kind = kind
        self.transactionID = transactionID
        self.value = value
    }

    public static func command(_ service: MBIMUUID, _ cid: UInt32, set: Bool, _ buffer: [UInt8] = [], tid: UInt32 = 0) -> MBIMMessage {
        var m = MBIMMessage(kind: .command, transactionID: tid)
        m.service = service
        m.cid = cid
        m.isSet = set
        m.buffer = buffer
        return m
    }

    /// COMMAND_DONE's status, OPEN_DONE's, CLOSE_DONE's (0 is success).
    public var status: UInt32 { value }
    var carriesBuffer: Bool { kind == .command || kind == .commandDone || kind == .indicateStatus }

    // MARK: encoding

    /// The message as fragments of at most `maxTransfer` bytes (one when it fits).
    public func encode(maxTransfer: Int = 4096) -> [[UInt8]] {
        var w = Writer()
        guard carriesBuffer else {
            w.u32(kind.rawValue)
            w.u32(kind == .close ? 12 : 16)
            w.u32(transactionID)
            if kind != .close { w.u32(value) }
            return [w.bytes]
        }
        // What follows the fragment header, split across fragments.
        var rest = Writer()
        rest.bytes += service.bytes
        rest.u32(cid)
        if kind == .command { rest.u32(isSet ? 1 : 0) } else if kind == .commandDone { rest.u32(value) }
        rest.u32(UInt32(buffer.count))
        rest.bytes += buffer
        let room = max(1, maxTransfer - 20)
        let total = max(1, (rest.bytes.count + room - 1) / room)
        var out: [[UInt8]] = []
        for i in 0..<total {
            let chunk = rest.bytes[(i * room)..<min(rest.bytes.count, (i + 1) * room)]
            var f = Writer()
            f.u32(kind.rawValue)
            f.u32(UInt32(20 + chunk.count))
            f.u32(transactionID)
            f.u32(UInt32(total))
            f.u32(UInt32(i))
            f.bytes += chunk
            out.append(f.bytes)
        }
        return out
    }

    // MARK: decoding

    /// One fragment (or whole message) as it came off the wire.
    public struct Fragment {
        public let kind: Kind
        public let transactionID: UInt32
        public let total: UInt32
        public let current: UInt32
        /// The bytes after the fragment header (COMMAND*/INDICATE), or after the 12-byte header.
        public let payload: [UInt8]
    }

    /// Reads the header of `bytes` (exactly one message's MessageLength bytes).
    public static func fragment(_ bytes: [UInt8]) -> Result<Fragment, MBIMError> {
        guard bytes.count >= 12 else { return .failure(.malformed("\(bytes.count) bytes, shorter than an MBIM header")) }
        let r = Reader(bytes)
        let type = r.u32(0), length = Int(r.u32(4)), tid = r.u32(8)
        guard let kind = Kind(rawValue: type) else { return .failure(.malformed("unknown message type 0x\(Text.hex(type, 8))")) }
        guard length == bytes.count else { return .failure(.malformed("MessageLength \(length) but \(bytes.count) bytes")) }
        switch kind {
        case .command, .commandDone, .indicateStatus:
            guard bytes.count >= 20 else { return .failure(.malformed("\(kind.name) of \(bytes.count) bytes has no fragment header")) }
            let total = r.u32(12), current = r.u32(16)
            guard total >= 1, current < total else {
                return .failure(.malformed("\(kind.name) fragment \(current) of \(total)"))
            }
            return .success(Fragment(kind: kind, transactionID: tid, total: total, current: current, payload: Array(bytes[20...])))
        case .close:
            return .success(Fragment(kind: kind, transactionID: tid, total: 1, current: 0, payload: []))
        default:
            guard bytes.count >= 16 else { return .failure(.malformed("\(kind.name) of \(bytes.count) bytes")) }
            return .success(Fragment(kind: kind, transactionID: tid, total: 1, current: 0, payload: Array(bytes[12..<16])))
        }
    }

    /// A whole message from its fragments' payloads put together.
    public static func assemble(kind: Kind, transactionID: UInt32, payload p: [UInt8]) -> Result<MBIMMessage, MBIMError> {
        var m = MBIMMessage(kind: kind, transactionID: transactionID)
        let r = Reader(p)
        guard m.carriesBuffer else {
            if p.count >= 4 { m.value = r.u32(0) }
            return .success(m)
        }
        let fixed = kind == .indicateStatus ? 24 : 28
        guard p.count >= fixed else { return .failure(.malformed("\(kind.name) of \(p.count + 20) bytes is cut short")) }
        m.service = MBIMUUID(Array(p[0..<16]))
        m.cid = r.u32(16)
        if kind == .command { m.isSet = r.u32(20) == 1 } else if kind == .commandDone { m.value = r.u32(20) }
        let length = Int(r.u32(fixed - 4))
        guard length <= p.count - fixed else {
            return .failure(.malformed("InformationBufferLength \(length) exceeds the \(p.count - fixed) bytes that follow"))
        }
        m.buffer = Array(p[fixed..<(fixed + length)])
        return .success(m)
    }

    /// A complete single-fragment message from bytes (`qcm decode`, tests).
    public static func decode(_ bytes: [UInt8]) -> Result<MBIMMessage, MBIMError> {
        switch fragment(bytes) {
        case .failure(let e): return .failure(e)
        case .success(let f):
            guard f.total == 1 else { return .failure(.malformed("fragment \(f.current) of \(f.total): not a whole message")) }
            return assemble(kind: f.kind, transactionID: f.transactionID, payload: f.payload)
        }
    }
}

public enum MBIMError: Error, Equatable {
    case malformed(String)
    case timeout(String)
    case closed
    case deviceGone(String)
    /// FUNCTION_ERROR from the device for this transaction.
    case protocolError(UInt32)
    /// A COMMAND_DONE / OPEN_DONE with a non-zero status, and the information buffer that
    /// came with it (a refused CONNECT still says the network's error).
    case status(UInt32, [UInt8])
    case system(operation: String, errno: Int32)
    /// The process behind the socket is neither root nor qcm's user (`Peer.problem`).
    case untrustedPeer(String)

    public var description: String {
        switch self {
        case .malformed(let s): return "malformed MBIM message: \(s)"
        case .timeout(let s): return "\(s): no answer from the modem"
        case .closed: return "MBIM channel closed"
        case .deviceGone(let s): return "MBIM device gone: \(s)"
        case .protocolError(let c): return "MBIM protocol error \(MBIMNames.protocolError(c)) (\(c))"
        case .status(let s, _): return "status \(MBIMNames.status(s)) (\(s))"
        case let .system(op, e): return "\(op): \(Errno(e).description)"
        case .untrustedPeer(let s): return s
        }
    }
}

/// 16-byte UUIDs, kept in the order they are printed — which is also the order on the wire.
public struct MBIMUUID: Equatable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes.count == 16 ? bytes : [UInt8](repeating: 0, count: 16) }

    init(_ text: StaticString) {
        var b: [UInt8] = []
        var hi: UInt8?
        text.withUTF8Buffer { buf in
            for c in buf {
                guard let v = Text.hexValue(c) else { continue }
                if let h = hi { b.append(h << 4 | v); hi = nil } else { hi = v }
            }
        }
        self.init(b)
    }

    public static let none = MBIMUUID([UInt8](repeating: 0, count: 16))
    public static let basicConnect = MBIMUUID("a289cc33-bcbb-8b4f-b6b0-133ec2aae6df")
    public static let proxyControl = MBIMUUID("838cf7fb-8d0d-4d7f-871e-d71dbefbb39b")
    public static let qmi = MBIMUUID("d1a30bc2-f97a-6e43-bf65-c7e24fb0f0d3")
    public static let basicConnectExtensions = MBIMUUID("3d01dcc5-fef5-4d05-0d3a-bef7058e9aaf")
    public static let contextInternet = MBIMUUID("7e5e2a7e-4e6f-7272-736b-656e7e5e2a7e")
    /// CONNECT's context type for IMS (libmbim's MBIM_CONTEXT_TYPE_IMS).
    public static let contextIMS = MBIMUUID("21610d01-3074-4bce-9425-b53a07d697d6")

    public var text: String {
        var out = ""
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out += "-" }
            out += Text.hex(b)
        }
        return out
    }

    public var name: String {
        if self == .basicConnect { return "basic-connect" }
        if self == .proxyControl { return "proxy-control" }
        if self == .qmi { return "qmi" }
        if self == .basicConnectExtensions { return "ms-basic-connect-extensions" }
        if self == .contextInternet { return "internet" }
        if self == .contextIMS { return "ims" }
        return text
    }
}

/// Little-endian writing and bounds-checked reading (out of range reads give 0).
struct Writer {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { bytes += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
    mutating func u64(_ v: UInt64) { u32(UInt32(v & 0xffff_ffff)); u32(UInt32(v >> 32)) }
}

struct Reader {
    let b: [UInt8]
    init(_ b: [UInt8]) { self.b = b }
    func has(_ o: Int, _ n: Int) -> Bool { o >= 0 && n >= 0 && o <= b.count && n <= b.count - o }
    func u32(_ o: Int) -> UInt32 {
        guard has(o, 4) else { return 0 }
        return UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }
    func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
}
