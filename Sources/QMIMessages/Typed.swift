import Base
import QMICore

// What the generated message types in Messages.generated.swift (this module) stand on. Each catalogue
// message gets a namespace (`WDS.StartNetwork`) with a struct per section (`Request`,
// `Response`, `Indication`) wrapping a QMIMessage: one property per TLV, read and written
// through the catalogue's own codec, so a wrong TLV name or type is a compile error and the
// catalogue stays the only definition of every field.

/// A generated request, response or indication: the message it wraps, and the first value
/// a setter could not encode (a string longer than its length prefix allows, ...).
public protocol QMITypedMessage {
    var message: QMIMessage { get }
    var problem: QMIError? { get }
}

extension QMITypedMessage {
    /// The message, or the reason it cannot be sent.
    public func checked() throws(QMIError) -> QMIMessage {
        if let p = problem { throw p }
        return message
    }

    /// The result TLV of a response (nil for requests and indications).
    public var result: QMIResult? { message.result }
}

/// A named value of a QMI enumeration table, kept as its raw number so a value the table
/// does not know survives (`WDS.ConnectionStatus(rawValue: 9)`).
public protocol QMIEnumValue: Equatable {
    associatedtype Raw: FixedWidthInteger
    var rawValue: Raw { get }
    init(rawValue: Raw)
    /// The table in `QMIEnums.text` that names the values.
    static var table: QMIEnum { get }
}

extension QMIEnumValue {
    /// The table's name for the value ("connected"; "unknown" when it has none).
    public var name: String { Self.table.describe(Int64(rawValue)) }
    init(_ v: QMIValue) { self.init(rawValue: Raw(truncatingIfNeeded: v.int ?? Int64(bitPattern: v.uint ?? 0))) }
    var qmiValue: QMIValue { Raw.isSigned ? .int(Int64(rawValue)) : .uint(UInt64(truncatingIfNeeded: rawValue)) }
}

extension QMIService: QMIEnumValue {
    public typealias Raw = UInt8
    public init(rawValue: UInt8) { self.init(rawValue) }
    public static var table: QMIEnum { QMIEnums.service }
}

/// Conversions between decoded values and the Swift types of generated properties.
/// A value of another shape converts to zero, never traps.
extension QMIValue {
    var u8: UInt8 { UInt8(truncatingIfNeeded: uint ?? UInt64(bitPattern: int ?? 0)) }
    var u16: UInt16 { UInt16(truncatingIfNeeded: uint ?? UInt64(bitPattern: int ?? 0)) }
    var u32: UInt32 { UInt32(truncatingIfNeeded: uint ?? UInt64(bitPattern: int ?? 0)) }
    var u64: UInt64 { uint ?? UInt64(bitPattern: int ?? 0) }
    var i8: Int8 { Int8(truncatingIfNeeded: int ?? 0) }
    var i16: Int16 { Int16(truncatingIfNeeded: int ?? 0) }
    var i32: Int32 { Int32(truncatingIfNeeded: int ?? 0) }
    var f32: Float { Float(bitPattern: u32) }
    var flag: Bool { bool ?? false }
    var text: String { string ?? "" }
    var data: [UInt8] { if case let .bytes(b) = self { return b }; return [] }
    var address4: UInt32 { ipv4 ?? 0 }
    var address6: [UInt8] { ipv6 ?? [UInt8](repeating: 0, count: 16) }
    var list: [QMIValue] { elements ?? [] }
    func field(_ i: Int) -> QMIValue { self[i] ?? .uint(0) }

    /// Replaces field `i` of a structure (nothing happens to other values).
    mutating func setField(_ i: Int, _ v: QMIValue) {
        guard case var .structure(fields) = self, i >= 0, i < fields.count else { return }
        fields[i] = v
        self = .structure(fields)
    }
}

extension QMIResult {
    /// The result code by name (`.noEffect`, `.callFailed` …).
    public var protocolError: QMIProtocolError { QMIProtocolError(rawValue: error) }
}
