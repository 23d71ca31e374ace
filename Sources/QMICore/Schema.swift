/// The schema language of the message catalogue: each QMI message is declared once,
/// as data, and the encoder, the decoder, the simulator and the trace printer all read
/// that one declaration (the idea of libqmi's data/qmi-service-*.json).
import Base

public struct QMIService: Equatable, Hashable {
    public let rawValue: UInt8
    public init(_ raw: UInt8) { rawValue = raw }

    public static let ctl = QMIService(0x00)
    public static let wds = QMIService(0x01)
    public static let dms = QMIService(0x02)
    public static let nas = QMIService(0x03)
    public static let qos = QMIService(0x04)
    public static let wms = QMIService(0x05)
    public static let pds = QMIService(0x06)
    public static let voice = QMIService(0x09)
    public static let uim = QMIService(0x0b)
    public static let pbm = QMIService(0x0c)
    public static let loc = QMIService(0x10)
    public static let wda = QMIService(0x1a)
    public static let coex = QMIService(0x22)
    public static let pdc = QMIService(0x24)
    public static let dsd = QMIService(0x2a)

    /// Upper-case service name ("WDS"), or the number for services qcm has no name for.
    public var name: String {
        guard let n = QMIEnums.service.name(of: Int64(rawValue)) else { return "0x\(Text.hex(rawValue))" }
        return Text.uppercasedASCII(n)
    }

    /// The prefix quectel-CM's trace uses for the service's message names.
    public var tracePrefix: String {
        switch self {
        case .ctl: return "QMICTL_"
        case .wds: return "QMIWDS_"
        case .dms: return "QMIDMS_"
        case .nas: return "QMINAS_"
        case .uim: return "QMIUIM_"
        case .wda: return "QMIWDS_ADMIN_"
        case .qos: return "QMI_QOS_"
        case .wms: return "QMIWMS_"
        default: return "QMI_\(name)_"
        }
    }

    public static func named(_ s: String) -> QMIService? {
        if let v = QMIEnums.service.value(named: Text.lowercasedASCII(s)) { return QMIService(UInt8(truncatingIfNeeded: v)) }
        if let v = Text.parseInt(s), v >= 0, v <= 255 { return QMIService(UInt8(v)) }
        return nil
    }
}

/// A named set of integer values (enumeration or bit flags).
public struct QMIEnum {
    public let name: String
    /// The cases as "value=name" entries separated by spaces or new lines, when given
    /// directly (the schema parser's keyword tables). The QMI tables leave this empty: their
    /// entries are under `name` in `QMIEnums.text`, constant data read on lookup.
    let entries: StaticString
    /// Where the table's entries are in `QMIEnums.text`, found once when the table is made
    /// (lookups then read only their own entries), and whether it is a flags table.
    let located: (range: Range<Int>, flags: Bool)?

    public init(_ name: String, _ entries: StaticString = "") {
        self.name = name
        self.entries = entries
        located = entries.utf8CodeUnitCount > 0 ? nil : QMIEnums.text.withUTF8Buffer { QMIEnum.locate(name, in: $0) }
    }

    /// Where "name:" or "name (flags):" is in `all`: the entries' range and whether they are flags.
    static func locate(_ name: String, in all: UnsafeBufferPointer<UInt8>) -> (Range<Int>, Bool)? {
        var i = 0
        while i < all.count {
            let end = SchemaParser.blockEnd(all, from: i)
            var j = i
            while j < end, Text.isWordByte(all[j]) { j += 1 }
            if j > i, UnsafeBufferPointer(rebasing: all[i..<j]).elementsEqual(name.utf8) {
                let flags = SchemaParser.matches(" (flags)", in: all, at: j, end: end)
                if flags { j += 8 }
                if j < end, all[j] == 0x3a { return (j + 1..<end, flags) }
            }
            i = end + 1
        }
        return nil
    }

    /// Runs `body` with the entries and whether they are flags; nil when there is no such table.
    func withEntries<T>(_ body: (UnsafeBufferPointer<UInt8>, Bool) -> T) -> T? {
        if entries.utf8CodeUnitCount > 0 { return entries.withUTF8Buffer { body($0, false) } }
        guard let (range, flags) = located else { return nil }
        return QMIEnums.text.withUTF8Buffer { all -> T? in body(UnsafeBufferPointer(rebasing: all[range]), flags) }
    }

    public var isFlags: Bool { withEntries { $1 } ?? false }

    /// Calls `match` for each case in order until it returns a value.
    func first<T>(_ match: (Int64, UnsafeBufferPointer<UInt8>) -> T?) -> T? {
        let found: T?? = withEntries { (b: UnsafeBufferPointer<UInt8>, _) -> T? in
            var i = 0
            while i < b.count {
                if b[i] == 0x20 || b[i] == 0x0a { i += 1; continue }
                let negative = b[i] == 0x2d
                if negative { i += 1 }
                var v: Int64 = 0
                while i < b.count, b[i] != 0x3d { v = v &* 10 &+ Int64(b[i] &- 0x30); i += 1 }
                i += 1
                let start = min(i, b.count)
                while i < b.count, b[i] != 0x20, b[i] != 0x0a { i += 1 }
                if let r = match(negative ? -v : v, UnsafeBufferPointer(rebasing: b[start..<i])) { return r }
            }
            return nil
        }
        return found ?? nil
    }

    /// Every case, in table order.
    public var cases: [(Int64, String)] {
        var all: [(Int64, String)] = []
        let _: Bool? = first { k, n in all.append((k, String(decoding: n, as: UTF8.self))); return nil }
        return all
    }

    public func name(of v: Int64) -> String? {
        first { k, n in k == v ? String(decoding: n, as: UTF8.self) : nil }
    }

    public func value(named n: String) -> Int64? {
        first { k, nm in nm.elementsEqual(n.utf8) ? k : nil }
    }

    /// "pap|chap" for flags, "registered" for enums, the number when unknown.
    public func describe(_ v: Int64) -> String {
        if isFlags {
            if v == 0, let z = name(of: 0) { return z }
            var text = ""
            var rest = v
            let _: Bool? = first { k, n in
                if k != 0 && v & k == k {
                    if !text.isEmpty { text += "|" }
                    text += String(decoding: n, as: UTF8.self)
                    rest &= ~k
                }
                return nil
            }
            if rest != 0 { text += (text.isEmpty ? "" : "|") + "0x" + Text.hex(UInt64(bitPattern: rest)) }
            return text.isEmpty ? "none" : text
        }
        return name(of: v) ?? "unknown"
    }
}

public enum QMIWidth: Int { case w8 = 1, w16 = 2, w32 = 4, w64 = 8 }

/// How a value is laid out on the wire.
public indirect enum QMIType {
    case u8, u16, u32, u64
    case i8, i16, i32
    /// IEEE-754 single precision, little-endian (libqmi's gfloat); carried as its bits.
    case f32
    case boolean
    /// Integer of the given width, unsigned unless `signed`, named by the table.
    case enumeration(QMIWidth, QMIEnum, signed: Bool)
    case flags(QMIWidth, QMIEnum)
    /// String filling the rest of the TLV (only valid as a whole TLV value or last field).
    case string
    /// String prefixed by its length in one byte / two bytes.
    case string8
    case string16
    case fixedString(Int)
    /// Exactly this many bytes that are not text (a BCD PLMN, a 3-byte TAC), no count on the wire.
    case fixedBytes(Int)
    /// IPv4 address stored as a little-endian u32.
    case ipv4
    /// IPv6 address, 16 bytes in network order.
    case ipv6
    /// Raw bytes filling the rest.
    case bytes
    /// Raw bytes prefixed by a one-byte count.
    case bytes8
    case structure([QMIField])
    /// Array prefixed by a one-byte / two-byte element count.
    case array8(QMIType)
    case array16(QMIType)

    public static func enum8(_ e: QMIEnum) -> QMIType { .enumeration(.w8, e, signed: false) }
    public static func enum16(_ e: QMIEnum) -> QMIType { .enumeration(.w16, e, signed: false) }
    public static func enum32(_ e: QMIEnum) -> QMIType { .enumeration(.w32, e, signed: false) }
    public static func senum8(_ e: QMIEnum) -> QMIType { .enumeration(.w8, e, signed: true) }
}

/// Definitions (fields, TLVs, messages) are immutable classes: handing one around copies a
/// reference instead of every field (4.6 KB less code in the Embedded binary).
public final class QMIField {
    public let name: String
    public let type: QMIType
    public init(_ name: String, _ type: QMIType) {
        self.name = name
        self.type = type
    }
}

public final class TLVSpec {
    public let type: UInt8
    public let name: String
    public let value: QMIType
    /// Passwords and PINs: masked in every log and trace.
    public let secret: Bool
    public init(_ type: UInt8, _ name: String, _ value: QMIType, secret: Bool = false) {
        self.type = type
        self.name = name
        self.value = value
        self.secret = secret
    }
}

public final class QMIMessageSpec {
    public let service: QMIService
    public let id: UInt16
    /// Human name, e.g. "Start Network".
    public let name: String
    /// quectel-CM's name without the _REQ/_RESP/_IND suffix, e.g. "QMIWDS_START_NETWORK_INTERFACE".
    public let traceName: String
    public let request: [TLVSpec]
    /// Response TLVs; the result TLV 0x02 is implied for every response.
    public let response: [TLVSpec]
    /// Indication TLVs when this id is also an indication, else nil.
    public let indication: [TLVSpec]?
    public let hasRequest: Bool
    /// The first error in this definition's text in the catalogue, nil when it is well
    /// formed (the catalogue tests assert that for every message).
    public let schemaProblem: String?

    init(service: QMIService, id: UInt16, name: String, traceName: String, request: [TLVSpec], response: [TLVSpec],
         indication: [TLVSpec]?, hasRequest: Bool, schemaProblem: String?) {
        self.service = service
        self.id = id
        self.name = name
        self.traceName = traceName
        self.request = request
        self.response = response
        self.indication = indication
        self.hasRequest = hasRequest
        self.schemaProblem = schemaProblem
    }

    public var fullName: String { "\(service.name) \(name)" }

    public func tlvs(for kind: QMIKind) -> [TLVSpec] {
        switch kind {
        case .request: return request
        case .response: return [QMIResult.tlvSpec] + response
        case .indication: return indication ?? []
        }
    }

    public func tlv(named name: String, kind: QMIKind) -> TLVSpec? {
        tlvs(for: kind).first { $0.name.equals(name) }
    }

    public func tlv(type: UInt8, kind: QMIKind) -> TLVSpec? {
        tlvs(for: kind).first { $0.type == type }
    }
}

/// A decoded (or to-be-encoded) value. Structures are positional, in field order.
public indirect enum QMIValue: Equatable {
    case uint(UInt64)
    case int(Int64)
    case bool(Bool)
    case string(String)
    case bytes([UInt8])
    /// Host-order IPv4 address: 10.0.0.1 is 0x0A000001.
    case ipv4(UInt32)
    case ipv6([UInt8])
    case structure([QMIValue])
    case array([QMIValue])

    public var uint: UInt64? {
        switch self {
        case let .uint(v): return v
        case let .int(v): return v >= 0 ? UInt64(v) : nil
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
    public var int: Int64? {
        switch self {
        case let .int(v): return v
        case let .uint(v): return v <= UInt64(Int64.max) ? Int64(v) : nil
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
    public var string: String? { if case let .string(s) = self { return s }; return nil }
    public var bool: Bool? {
        switch self {
        case let .bool(b): return b
        case let .uint(v): return v != 0
        default: return nil
        }
    }
    public var ipv4: UInt32? { if case let .ipv4(v) = self { return v }; return nil }
    public var ipv6: [UInt8]? { if case let .ipv6(v) = self { return v }; return nil }
    public var fields: [QMIValue]? { if case let .structure(f) = self { return f }; return nil }
    public var elements: [QMIValue]? { if case let .array(a) = self { return a }; return nil }
    public subscript(_ i: Int) -> QMIValue? {
        switch self {
        case let .structure(f): return i >= 0 && i < f.count ? f[i] : nil
        case let .array(a): return i >= 0 && i < a.count ? a[i] : nil
        default: return nil
        }
    }
}

/// The result TLV (0x02) every response carries.
public struct QMIResult: Equatable {
    public let status: UInt16
    public let error: UInt16
    public init(status: UInt16, error: UInt16) {
        self.status = status
        self.error = error
    }
    public var ok: Bool { status == 0 && error == 0 }
    public static let success = QMIResult(status: 0, error: 0)
    public static func failure(_ code: UInt16) -> QMIResult { QMIResult(status: 1, error: code) }

    static let tlvSpec = TLVSpec(0x02, "Result", .structure([
        QMIField("Status", .enum16(QMIEnums.resultStatus)),
        QMIField("Error", .enum16(QMIEnums.protocolError)),
    ]))

    public var tlv: TLV {
        var w = ByteWriter(capacity: 4)
        w.u16(status)
        w.u16(error)
        return TLV(0x02, w.bytes)
    }

    public var description: String {
        ok ? "SUCCESS" : "FAILURE \(QMIErrorCode.name(error)) (0x\(Text.hex(error, 4)))"
    }
}
