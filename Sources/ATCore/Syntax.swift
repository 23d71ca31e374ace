import Base

// The shape of an AT line (3GPP TS 27.007 and V.250): a command `AT+NAME=1,"text"` and an
// information line `+NAME: 1,"text"` are lists of fields, numbers bare and strings in double
// quotes. A field's kind says how it is written and read; a syntax is the fields of one line
// in order. Commands and answers in the catalogue (Catalogue.swift) are built from these, and
// the dialer, the simulator, the trace and `qcm decode` all read lines through them.

/// How one field is written on the line.
public enum ATKind: Equatable {
    /// A decimal number, written bare; "-" or nothing means none (QENG's invalid fields).
    case number
    /// A string in double quotes (a bare word is read as one too).
    case text
    /// A bare word: READY, an ICCID, a revision, a range "(1-11)".
    case word
    /// Hexadecimal digits in quotes (the location area and cell of +CREG); read bare too.
    case quotedHex
    /// Hexadecimal digits, bare (QENG's cell id); read quoted too.
    case hex
    /// An IPv4 address: dotted ("10.25.16.79"), or eight hex digits holding its bytes least
    /// significant first ("4F10190A"), as UNISOC's +QNETDEVSTATUS writes it. Read as its number.
    case ipv4
    /// The rest of the line, commas and all (+CGEV: NW DEACT IP,"10.1.1.1",1).
    case rest
}

/// One field of a line.
public struct ATField {
    public let name: String
    public let kind: ATKind
    /// May be missing or empty (trailing fields a module leaves out, QENG's "-").
    public let optional: Bool
    /// A PIN or password: the trace and `qcm decode` show it as ****.
    public let secret: Bool

    public init(_ name: String, _ kind: ATKind, optional: Bool = false, secret: Bool = false) {
        self.name = name
        self.kind = kind
        self.optional = optional
        self.secret = secret
    }

    public static func number(_ n: String) -> ATField { ATField(n, .number) }
    public static func text(_ n: String) -> ATField { ATField(n, .text) }
    public static func word(_ n: String) -> ATField { ATField(n, .word) }
    public static func ipv4(_ n: String) -> ATField { ATField(n, .ipv4) }
    /// A PIN or password, in quotes.
    public static func secret(_ n: String) -> ATField { ATField(n, .text, secret: true) }

    /// The same field, allowed to be missing.
    public var optionalField: ATField { ATField(name, kind, optional: true, secret: secret) }
}

/// A field's value: numbers (hex fields and IPv4 addresses too) as numbers, the rest as text.
public enum ATValue: Equatable {
    case number(Int64)
    case text(String)
    case absent

    public var number: Int64? {
        if case .number(let n) = self { return n }
        return nil
    }

    public var text: String? {
        if case .text(let t) = self { return t }
        return nil
    }

    /// Byte for byte (String's own == would bring the Unicode tables into the daemon).
    public static func == (a: ATValue, b: ATValue) -> Bool {
        switch (a, b) {
        case let (.number(x), .number(y)): return x == y
        case let (.text(x), .text(y)): return x.equals(y)
        case (.absent, .absent): return true
        default: return false
        }
    }
}

/// A field as it stands on the line: its text without the quotes, and whether it had them.
public struct ATToken: Equatable {
    public let text: String
    public let quoted: Bool
    public init(text: String, quoted: Bool) {
        self.text = text
        self.quoted = quoted
    }

    public static func == (a: ATToken, b: ATToken) -> Bool { a.quoted == b.quoted && a.text.equals(b.text) }
}

/// Taking lines apart.
public enum ATText {
    /// "+CEREG: 2,1" → ("+CEREG", "2,1"); "+CME ERROR: 3" → ("+CME ERROR", "3"); a line with
    /// no "+NAME:" in front → (nil, the line).
    /// Some modules write no space after the colon (`+QNETDEVSTATUS:1,1,"IPV4"`).
    public static func split(_ line: String) -> (prefix: String?, body: String) {
        let u = Array(line.utf8)
        guard let first = u.first, first == 43 || first == 36 else { return (nil, line) }      // + or $
        guard let colon = u.firstIndex(of: 58), u[1..<colon].allSatisfy({ $0 >= 32 && $0 != 44 && $0 != 34 }) else { return (nil, line) }
        var start = colon + 1
        while start < u.count && u[start] == 32 { start += 1 }
        return (String(decoding: u[..<colon], as: UTF8.self), String(decoding: u[start...], as: UTF8.self))
    }

    /// The comma-separated fields of `body`: a quoted field runs to its closing quote (commas
    /// inside are its own), a bare one to the next comma, spaces around it dropped.
    public static func fields(_ body: String) -> [ATToken] {
        let u = Array(body.utf8)
        var out: [ATToken] = []
        var i = 0
        while true {
            while i < u.count && u[i] == 32 { i += 1 }
            if i < u.count && u[i] == 34 {
                let start = i + 1
                var end = start
                while end < u.count && u[end] != 34 { end += 1 }
                out.append(ATToken(text: String(decoding: u[start..<end], as: UTF8.self), quoted: true))
                i = end + 1
                while i < u.count && u[i] != 44 { i += 1 }          // anything after the quote, to the comma
            } else {
                let start = i
                while i < u.count && u[i] != 44 { i += 1 }
                var end = i
                while end > start && u[end - 1] == 32 { end -= 1 }
                out.append(ATToken(text: String(decoding: u[start..<end], as: UTF8.self), quoted: false))
            }
            guard i < u.count else { return out }
            i += 1                                                   // the comma
        }
    }

    /// Where field `index` starts in `body` (for a `.rest` field): the byte offset.
    static func offset(ofField index: Int, in body: String) -> Int {
        let u = Array(body.utf8)
        var field = 0, i = 0, quoted = false
        while i < u.count && field < index {
            if u[i] == 34 { quoted.toggle() } else if u[i] == 44 && !quoted { field += 1 }
            i += 1
        }
        while i < u.count && u[i] == 32 { i += 1 }
        return i
    }

    /// A string an AT command can carry in quotes: printable ASCII without the quote itself.
    /// (27.007 strings have no escape for it; a CR or ";" inside quotes would end the command
    /// or start another.)
    public static func isCarriable(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 >= 32 && $0 < 127 && $0 != 34 }
    }

    /// Eight hex digits of an IPv4 address's bytes least significant first (UNISOC):
    /// "4F10190A" → 10.25.16.79.
    public static func ipv4(hexLE t: String) -> UInt32? {
        guard t.utf8.count == 8, let v = Text.parseInt(t, hex: true) else { return nil }
        let n = UInt32(truncatingIfNeeded: v)
        return n.byteSwapped
    }

    /// The same in the other direction: 10.25.16.79 → "4F10190A".
    public static func hexLE(_ v: UInt32) -> String { Text.uppercasedASCII(Text.hex(v.byteSwapped, 8)) }
}

/// The fields of one line, in order.
public final class ATSyntax {
    public let fields: [ATField]

    public init(_ fields: [ATField]) { self.fields = fields }

    /// How many fields a line must have at least (up to the last one not optional).
    public var required: Int { (fields.lastIndex { !$0.optional }).map { $0 + 1 } ?? 0 }

    /// Whether a line's fields have this syntax's shape: not too few, not too many (a `.rest`
    /// field takes any number), and every number where a number belongs. Two syntaxes with
    /// one prefix (an answer and an unsolicited line) are told apart this way.
    public func fits(_ tokens: [ATToken]) -> Bool {
        let restAt = fields.firstIndex { $0.kind == .rest }
        if tokens.count < required { return false }
        if restAt == nil && tokens.count > fields.count {
            // One empty trailing field (a line ending in a comma) is allowed.
            guard tokens.count == fields.count + 1, tokens.last?.text.isEmpty == true else { return false }
        }
        for (i, t) in tokens.enumerated() where i < fields.count {
            let f = fields[i]
            if f.kind == .rest { return true }
            if !ATSyntax.reads(t, as: f) { return false }
        }
        return true
    }

    static func reads(_ t: ATToken, as f: ATField) -> Bool {
        if t.text.isEmpty || (!t.quoted && t.text.equals("-")) { return f.optional || f.kind == .text || f.kind == .word }
        switch f.kind {
        case .number: return !t.quoted && Text.parseInt(t.text) != nil
        case .quotedHex, .hex: return Text.parseInt(t.text, hex: true) != nil
        case .ipv4: return Text.parseIPv4(t.text) != nil || ATText.ipv4(hexLE: t.text) != nil
        case .text, .word, .rest: return true
        }
    }

    /// The values of `body` ("2,1,\"DE10\""), one per field; fields the line leaves out are
    /// `.absent`. Throws when the line does not have this shape.
    public func decode(_ body: String) throws(ATError) -> [ATValue] {
        let tokens = ATText.fields(body)
        guard fits(tokens) else { throw .malformed("'\(Text.shown(body))' does not have the fields \(names)") }
        var out: [ATValue] = []
        for (i, f) in fields.enumerated() {
            if f.kind == .rest {
                let at = ATText.offset(ofField: i, in: body)
                let u = Array(body.utf8)
                out.append(at < u.count ? .text(String(decoding: u[at...], as: UTF8.self)) : .absent)
                break
            }
            guard i < tokens.count else { out.append(.absent); continue }
            out.append(ATSyntax.value(tokens[i], f.kind))
        }
        return out
    }

    static func value(_ t: ATToken, _ kind: ATKind) -> ATValue {
        if t.text.isEmpty && kind != .text { return .absent }
        if !t.quoted && t.text.equals("-") { return .absent }
        switch kind {
        case .number: return Text.parseInt(t.text).map { .number($0) } ?? .absent
        case .quotedHex, .hex: return Text.parseInt(t.text, hex: true).map { .number($0) } ?? .absent
        case .ipv4:
            if let v = Text.parseIPv4(t.text) ?? ATText.ipv4(hexLE: t.text) { return .number(Int64(v)) }
            return .absent
        case .text, .word, .rest: return .text(t.text)
        }
    }

    /// The line's fields from `values` ("1,\"cmnet\",\"\""): trailing absent fields are left
    /// out. Throws when a string cannot be carried in quotes.
    public func encode(_ values: [ATValue]) throws(ATError) -> String {
        var parts: [String] = []
        for (i, f) in fields.enumerated() {
            let v = i < values.count ? values[i] : .absent
            parts.append(try ATSyntax.write(v, f))
        }
        while let last = parts.last, last.isEmpty, parts.count > required { parts.removeLast() }
        return parts.joined(separator: ",")
    }

    static func write(_ v: ATValue, _ f: ATField) throws(ATError) -> String {
        switch (v, f.kind) {
        case (.absent, .text): return f.optional ? "" : "\"\""
        case (.absent, _): return ""
        case (.number(let n), .quotedHex): return "\"" + Text.uppercasedASCII(Text.hex(n, 1)) + "\""
        case (.number(let n), .hex): return Text.uppercasedASCII(Text.hex(n, 1))
        case (.number(let n), .ipv4): return Text.ipv4(UInt32(truncatingIfNeeded: n))
        case (.number(let n), _): return "\(n)"
        case (.text(let t), .text):
            guard ATText.isCarriable(t) else {
                throw .invalidParameter("\(f.name) '\(Text.shown(t))' cannot be sent in an AT command (only printable ASCII without '\"')")
            }
            return "\"" + t + "\""
        case (.text(let t), _):
            guard t.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) else { throw .invalidParameter("\(f.name) '\(Text.shown(t))' is not printable ASCII") }
            return t
        }
    }

    /// `body` with every secret field shown as "****" (the rest as it came).
    public func masked(_ body: String) -> String {
        guard fields.contains(where: { $0.secret }) else { return body }
        var parts: [String] = []
        for (i, t) in ATText.fields(body).enumerated() {
            let secret = i < fields.count && fields[i].secret && !t.text.isEmpty
            let text = secret ? "****" : t.text
            parts.append(t.quoted ? "\"" + text + "\"" : text)
        }
        return parts.joined(separator: ",")
    }

    /// "name=value …" of `values`, secrets as ****, for `qcm decode` and notes.
    public func describe(_ values: [ATValue]) -> String {
        var parts: [String] = []
        for (i, f) in fields.enumerated() where i < values.count {
            switch values[i] {
            case .absent: continue
            case .number(let n):
                parts.append(f.name + "=" + (f.secret ? "****" : f.kind == .ipv4 ? Text.ipv4(UInt32(truncatingIfNeeded: n))
                                             : f.kind == .hex || f.kind == .quotedHex ? "0x" + Text.uppercasedASCII(Text.hex(n, 1)) : "\(n)"))
            case .text(let t):
                parts.append(f.name + "=" + (f.secret && !t.isEmpty ? "****" : "'" + Text.shown(t) + "'"))
            }
        }
        return parts.joined(separator: " ")
    }

    var names: String { fields.map { $0.optional ? "[\($0.name)]" : $0.name }.joined(separator: ",") }
}
