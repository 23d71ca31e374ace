import Base
import ATCore

// What the generated AT views in Messages.generated.swift (this module) stand on. Every
// command of the catalogue (ATCore/Catalogue.swift) gets a struct (`AT.DataCall`) with one
// property per parameter and, when it has an answer, a nested `Answer` with one property per
// field; every unsolicited line one under `AT.Unsolicited`, every layout one of its own. A
// property reads and writes its field by the field's position in the definition, so a wrong
// name or type is a compile error and the catalogue stays the only definition of every field.

/// The typed views of AT commands, answers and unsolicited lines.
public enum AT {
    /// The lines a module sends on its own.
    public enum Unsolicited {}
}

/// A generated command: its parameters' values, in order.
public protocol ATTypedCommand {
    static var definition: ATCommand { get }
    var values: [ATValue] { get }
    init(values: [ATValue])
}

extension ATTypedCommand {
    /// The command line, "AT+QNETDEVCTL=1,1,1"; throws when a string cannot be carried
    /// (a '"' in an APN).
    public func line() throws(ATError) -> String { try Self.definition.line(values) }

    /// The parameters of a command line the module received ("1,1,1"), for the simulator.
    public init(parameters: String) throws(ATError) {
        self.init(values: try Self.definition.parameters.decode(parameters))
    }

    /// "cid=1 op=1", secrets as ****.
    public var description: String { Self.definition.parameters.describe(values) }
}

/// A generated line: an answer's information line, an unsolicited line, or a layout.
public protocol ATTypedLine {
    static var syntax: ATSyntax { get }
    /// "+CPIN" ("" for a line with no prefix, like AT+CIMI's IMSI).
    static var prefix: String { get }
    var values: [ATValue] { get }
    init(values: [ATValue])
}

extension ATTypedLine {
    /// Reads "+PREFIX: fields" (the prefix may be missing); throws `.malformed` when the
    /// fields do not have the definition's shape.
    public init(decoding line: String) throws(ATError) {
        let (prefix, body) = ATText.split(line)
        if let p = prefix, !Self.prefix.isEmpty, !p.equals(Self.prefix) {
            throw .malformed("'\(Text.shown(line))' is not a \(Self.prefix) line")
        }
        self.init(values: try Self.syntax.decode(prefix == nil || Self.prefix.isEmpty ? line : body))
    }

    /// The line as a module writes it ("+CPIN: READY"), for the simulator.
    public func line() throws(ATError) -> String {
        let body = try Self.syntax.encode(values)
        return Self.prefix.isEmpty ? body : Self.prefix + ": " + body
    }

    /// "stat=1 area=0xDE10", secrets as ****.
    public var description: String { Self.syntax.describe(values) }
}

// The conversions the generated properties use: one shared, non-generic copy each.
extension Array where Element == ATValue {
    func at(_ i: Int) -> ATValue { i >= 0 && i < count ? self[i] : .absent }

    /// Sets field `i`, filling any missing fields before it as absent.
    mutating func put(_ i: Int, _ v: ATValue) {
        while count <= i { append(.absent) }
        self[i] = v
    }

    func number(_ i: Int) -> Int64? { at(i).number }
    func text(_ i: Int) -> String? { at(i).text }
    func address(_ i: Int) -> IPAddress? { number(i).map { IPAddress(ipv4: UInt32(truncatingIfNeeded: $0)) } }
}

extension ATValue {
    static func number(_ n: Int64?) -> ATValue { n.map { .number($0) } ?? .absent }
    static func text(_ t: String?) -> ATValue { t.map { .text($0) } ?? .absent }
    static func address(_ a: IPAddress?) -> ATValue { a.flatMap { $0.ipv4 }.map { .number(Int64($0)) } ?? .absent }
}
