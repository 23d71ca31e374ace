import Base
import MBIMCore

// What the generated MBIM views in Messages.generated.swift (this module) stand on. Each
// catalogue entry (MBIMCore/Catalogue.swift) gets a namespace (`MBIM.Connect`) with its CID
// and a struct per layout (`Query`, `Set`, `Response`) wrapping the layout's values: one
// property per field, read and written by the field's position in the layout, so a wrong
// field name or type is a compile error and the layout stays the only definition of every
// field. Every value table (`MBIMNames.activationState`) gets a type with a constant per
// value (`MBIM.ActivationState.activated`).

/// The typed views of MBIM information buffers (Basic Connect, libmbim's proxy control).
public enum MBIM {}

/// A generated information buffer: the values of its layout, in field order (what
/// `MBIMLayout.encode` takes and `decode` gives). Count fields are in `values` but have no
/// property: the encoder takes them from the list they count.
public protocol MBIMTypedBuffer {
    static var layout: MBIMLayout { get }
    var values: [MBIMValue] { get }
    init(values: [MBIMValue])
}

extension MBIMTypedBuffer {
    /// The information buffer `buffer` read by the layout: every offset, size and count is
    /// checked against it, and a buffer that does not hold the layout is `.malformed`.
    public init(decoding buffer: [UInt8]) throws(MBIMError) {
        switch Self.layout.decode(buffer) {
        case .success(let v): self.init(values: v)
        case .failure(let e): throw e
        }
    }

    /// The information buffer, as the layout lays it out.
    public func encode() -> [UInt8] { Self.layout.encode(values) }

    /// "SessionId=0 ActivationState=activated ...", secrets as '***' (the trace's form).
    public var description: String { Self.layout.describe(values) }
}

/// A value of an MBIM value table, kept as its number so a value the table does not know
/// survives (`MBIM.ActivationState(rawValue: 9)`). Flag tables are also OptionSets.
public protocol MBIMEnumValue: Equatable {
    var rawValue: UInt32 { get }
    init(rawValue: UInt32)
    /// The table in MBIMCore that names the values.
    static var table: MBIMNames.Table { get }
}

extension MBIMEnumValue {
    /// The table's name for the value ("activated"; the number when it has none); for
    /// flags the names of the bits set ("gprs, edge, lte"; "none" for no bits).
    public var name: String { Self.table.describe(rawValue) }
}

// The conversions the generated properties use: one shared, non-generic copy each.
extension Array where Element == MBIMValue {
    /// Field `i` (a missing one reads as zero, so a short list never traps).
    func at(_ i: Int) -> MBIMValue { i >= 0 && i < count ? self[i] : .number(0) }

    /// Sets field `i`, filling any missing fields before it with zero.
    mutating func put(_ i: Int, _ v: MBIMValue) {
        while count <= i { append(.number(0)) }
        self[i] = v
    }
}

extension MBIMValue {
    /// One bare address (a gateway), or none.
    var address: IPAddress? { addresses.first?.address }
    /// Bare addresses (DNS servers).
    var addressList: [IPAddress] { addresses.map { $0.address } }

    static func address(_ a: IPAddress?) -> MBIMValue { .addresses(a.map { [MBIMAddress($0)] } ?? []) }
    static func addressList(_ list: [IPAddress]) -> MBIMValue { .addresses(list.map { MBIMAddress($0) }) }
}
