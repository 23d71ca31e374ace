/// A QMI TLV exactly as it was on the wire. Unknown TLVs are kept, never dropped.
import Base
public struct TLV: Equatable {
    public var type: UInt8
    public var value: [UInt8]
    public init(_ type: UInt8, _ value: [UInt8]) {
        self.type = type
        self.value = value
    }
}

public enum QMIKind: UInt8, Equatable {
    case request = 0, response = 1, indication = 2

    public var traceSuffix: String {
        switch self {
        case .request: return "_REQ"
        case .response: return "_RESP"
        case .indication: return "_IND"
        }
    }
    public var word: String {
        switch self {
        case .request: return "request"
        case .response: return "response"
        case .indication: return "indication"
        }
    }
}

/// One QMUX frame: the QMUX header (marker 0x01, length, control flags, service, client id)
/// plus the QMI SDU. CTL (service 0) uses a 1-byte transaction id and flags 0/1/2 for
/// request/response/indication; other services use a 2-byte transaction id and flags 0/2/4.
public struct QMIMessage: Equatable {
    public static let marker: UInt8 = 0x01
    public static let qmuxHeaderSize = 6
    public static let maxFrameSize = 0x10000

    public var service: QMIService
    public var clientID: UInt8
    public var kind: QMIKind
    /// QMUX control flags bit 7: set on frames the modem sends.
    public var fromModem: Bool
    public var transactionID: UInt16
    public var messageID: UInt16
    public var tlvs: [TLV]

    public init(service: QMIService, clientID: UInt8, kind: QMIKind, transactionID: UInt16,
                messageID: UInt16, tlvs: [TLV] = [], fromModem: Bool? = nil) {
        self.service = service
        self.clientID = clientID
        self.kind = kind
        self.transactionID = transactionID
        self.messageID = messageID
        self.tlvs = tlvs
        self.fromModem = fromModem ?? (kind != .request)
    }

    public var isControl: Bool { service == .ctl }

    public func tlv(_ type: UInt8) -> TLV? { tlvs.first { $0.type == type } }

    public mutating func setTLV(_ t: TLV) {
        if let i = tlvs.firstIndex(where: { $0.type == t.type }) { tlvs[i] = t } else { tlvs.append(t) }
    }

    /// The catalogue entry for this message, when known.
    public var spec: QMIMessageSpec? { QMICatalogue.find(service: service, id: messageID) }

    /// The whole QMUX frame: marker, length, control flags, service, client id, then the SDU.
    public func encode() -> [UInt8] {
        QMIMessage.qmuxFrame(service: service.rawValue, clientID: clientID, fromModem: fromModem, sdu: encodeSDU())
    }

    /// The QMUX header put in front of a service data unit: marker, length, control flags
    /// (bit 7: from the modem), service, client id. Also what a transport whose wire has no
    /// header (GobiNet) rebuilds, whether or not the SDU decodes.
    public static func qmuxFrame(service: UInt8, clientID: UInt8, fromModem: Bool, sdu: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: qmuxHeaderSize + sdu.count)
        w.u8(marker)
        w.u16(UInt16(truncatingIfNeeded: sdu.count + 5))
        w.u8(fromModem ? 0x80 : 0x00)
        w.u8(service)
        w.u8(clientID)
        w.append(sdu)
        return w.bytes
    }

    /// The service data unit alone — message header and TLVs, what GobiNet's qcqmi files
    /// carry: CTL has 1 byte of flags and a 1-byte transaction id, other services 1 byte of
    /// flags and a 2-byte one; then message id and TLV length.
    public func encodeSDU() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + tlvs.reduce(0) { $0 + 3 + $1.value.count })
        if isControl {
            w.u8(kind.rawValue)
            w.u8(UInt8(truncatingIfNeeded: transactionID))
        } else {
            w.u8(kind.rawValue << 1)
            w.u16(transactionID)
        }
        w.u16(messageID)
        let lengthAt = w.bytes.count
        w.u16(0)
        for t in tlvs {
            w.u8(t.type)
            w.u16(UInt16(truncatingIfNeeded: t.value.count))
            w.append(t.value)
        }
        w.patchU16(at: lengthAt, UInt16(truncatingIfNeeded: w.bytes.count - lengthAt - 2))
        return w.bytes
    }

    /// Decodes exactly one frame. Every length is checked against the bytes present;
    /// nothing a modem sends can make this trap.
    public static func decode(_ bytes: [UInt8]) throws(QMIError) -> QMIMessage {
        guard let first = bytes.first else { throw .frameTooShort(0) }
        guard first == marker else { throw .badMarker(first) }
        guard bytes.count >= 12 else { throw .frameTooShort(bytes.count) }
        let qmuxLength = Int(bytes[1]) | Int(bytes[2]) << 8
        guard qmuxLength == bytes.count - 1 else {
            throw .lengthMismatch(declared: qmuxLength, actual: bytes.count - 1)
        }
        return try decodeSDU(Array(bytes[6...]), service: QMIService(bytes[4]), clientID: bytes[5],
                             fromModem: bytes[3] & 0x80 != 0)
    }

    /// Decodes a service data unit (message header and TLVs) of `service` for `clientID`.
    public static func decodeSDU(_ b: [UInt8], service: QMIService, clientID: UInt8, fromModem: Bool) throws(QMIError) -> QMIMessage {
        let control = service == .ctl
        let headerSize = control ? 6 : 7
        guard b.count >= headerSize else { throw .frameTooShort(b.count + 6) }
        let kind: QMIKind
        let tid: UInt16
        if control {
            guard let k = QMIKind(rawValue: b[0] & 0x03), b[0] & 0x03 != 3 else {
                throw .badValue(tlv: "CTL header", reason: "unknown message flags 0x\(Text.hex(b[0]))")
            }
            kind = k
            tid = UInt16(b[1])
        } else {
            let k = (b[0] >> 1) & 0x03
            guard let kk = QMIKind(rawValue: k), k != 3 else {
                throw .badValue(tlv: "service header", reason: "unknown message flags 0x\(Text.hex(b[0]))")
            }
            kind = kk
            tid = UInt16(b[1]) | UInt16(b[2]) << 8
        }
        let at = headerSize - 4
        let messageID = UInt16(b[at]) | UInt16(b[at + 1]) << 8
        let sduLength = Int(b[at + 2]) | Int(b[at + 3]) << 8
        guard sduLength == b.count - headerSize else {
            throw .sduLengthMismatch(declared: sduLength, actual: b.count - headerSize)
        }
        var tlvs: [TLV] = []
        var i = headerSize
        while i < b.count {
            guard i + 3 <= b.count else { throw .truncated(what: "TLV header", needed: 3, available: b.count - i) }
            let t = b[i]
            let len = Int(b[i + 1]) | Int(b[i + 2]) << 8
            i += 3
            guard len <= b.count - i else { throw .tlvOverrun(type: t, declared: len, available: b.count - i) }
            tlvs.append(TLV(t, Array(b[i..<(i + len)])))
            i += len
        }
        return QMIMessage(service: service, clientID: clientID, kind: kind, transactionID: tid,
                          messageID: messageID, tlvs: tlvs, fromModem: fromModem)
    }
}

/// Reframes a byte stream by the QMUX length. A cdc-wdm read returns one message; a
/// socket may split a message over several reads or join several in one.
///
/// A frame that does not decode does not take the next one with it. A truncated frame
/// declares more bytes than it has, so its length swallows the start of the next frame —
/// or, when nothing follows for a while, keeps the reader waiting while a complete frame
/// sits behind it. So: a complete candidate that does not decode is cut at the first
/// marker inside it where a whole well-formed frame starts; and while a candidate is still
/// incomplete, a buffer that ends in whole well-formed frames after some marker is taken to
/// hold a truncated frame followed by those.
public struct FrameReader {
    private var buffer: [UInt8] = []
    public private(set) var discarded = 0

    public init() {}

    public var buffered: Int { buffer.count }

    public mutating func append(_ bytes: [UInt8]) { buffer.append(contentsOf: bytes) }

    public enum Item: Equatable {
        case frame([UInt8])
        /// Bytes skipped to resynchronise on the next 0x01 marker.
        case garbage([UInt8])
        /// A frame-shaped run of bytes that does not decode (the error says why).
        case malformed([UInt8], QMIError)
    }

    /// Next complete frame (or what was skipped); nil when more bytes are needed.
    public mutating func next() -> Item? {
        guard let first = buffer.first else { return nil }
        if first != QMIMessage.marker {
            return .garbage(drop(buffer.firstIndex(of: QMIMessage.marker) ?? buffer.count))
        }
        guard buffer.count >= 3 else { return nil }
        let length = Int(buffer[1]) | Int(buffer[2]) << 8
        if length < 11 { return .garbage(drop(1)) }         // cannot be a frame: drop the marker, resync
        guard buffer.count >= length + 1 else {
            // Still arriving — unless it was truncated and whole frames follow it.
            var j = 1
            while j < buffer.count {
                if buffer[j] == QMIMessage.marker, wholeFramesToEnd(from: j) {
                    let have = j
                    return .malformed(drop(j), .lengthMismatch(declared: length, actual: have - 1))
                }
                j += 1
            }
            return nil
        }
        let candidate = Array(buffer[0...length])
        do throws(QMIError) {
            _ = try QMIMessage.decode(candidate)
            buffer.removeFirst(length + 1)
            return .frame(candidate)
        } catch {
            var j = 1
            while j <= length, !(buffer[j] == QMIMessage.marker && wholeFrame(at: j) != nil) { j += 1 }
            return .malformed(drop(j), error)
        }
    }

    /// Removes the first `n` bytes, counted as discarded.
    private mutating func drop(_ n: Int) -> [UInt8] {
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        discarded += n
        return out
    }

    /// The end of a well-formed frame starting at `i`, when it is all there.
    private func wholeFrame(at i: Int) -> Int? {
        guard buffer.count - i >= 12, buffer[i] == QMIMessage.marker else { return nil }
        let end = i + 1 + (Int(buffer[i + 1]) | Int(buffer[i + 2]) << 8)
        guard end <= buffer.count, (try? QMIMessage.decode(Array(buffer[i..<end]))) != nil else { return nil }
        return end
    }

    /// From `i` to the end of the buffer there are only well-formed frames.
    private func wholeFramesToEnd(from i: Int) -> Bool {
        var at = i
        while at < buffer.count {
            guard let end = wholeFrame(at: at) else { return false }
            at = end
        }
        return true
    }
}
