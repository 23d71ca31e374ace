/// The catalogue's notation. The whole catalogue is one constant text (`QMICatalogue.text`),
/// parsed into `QMIMessageSpec`s when it is first used, so the binary carries it as
/// read-only data rather than as start-up code. Each line that starts in column 0 begins
/// a block; the block runs until the next such line.
///
///     message  := SERVICE HEXID name "=" TRACENAME ["(indication only)"]
///                 { ("request:" | "response:" | "indication:") tlvs }     on indented lines
///     fragment := "$" NAME "=" text          a shared TLV list, type or field list
///
/// A message without a "request:" section still has a request (with no TLVs) unless it is
/// marked "(indication only)"; "indication:" with nothing after it declares an indication
/// without TLVs. TLV lists:
///
///     tlvs  := item { (";" | new line) item }
///     item  := HEX name ":" ["secret"] type      one TLV: "18 Password: secret string"
///            | "$" fragment                      the TLVs of a shared fragment
///     type  := u8 | u16 | u32 | u64 | i8 | i16 | i32 | f32 | bool | ipv4 | ipv6 | bytes | bytes8
///            | string | string8 | string16 | fixed N | raw N
///            | (enum8 | enum16 | enum32 | senum8 | senum32 | flags8 | flags16 | flags32 | flags64) ENUM
///            | array8 type | array16 type
///            | "{" field { "," field } "}"         structure, fields in wire order
///            | "$" fragment                      a shared type
///     field := name ":" type | "$" fragment      (the fields of a shared fragment)
///
/// "f32" is an IEEE-754 single (libqmi's gfloat). "fixed N" is text in N bytes
/// (NUL-padded); "raw N" is N bytes that are not text (a BCD PLMN, a 3-byte TAC), with no
/// count on the wire. "senum8"/"senum32" are signed enums (a table value of -1 is the byte
/// 0xFF / the word 0xFFFFFFFF).
/// ENUM is the name of a table in `QMIEnums` (`wdsIpFamily`). Names run up to the colon.
/// A TLV list ends at the next "request:", "response:" or "indication:" line.
import Base
public enum QMISchema {
    /// The type keywords, numbered for `SchemaParser.type()`.
    static let typeWords = QMIEnum("schemaTypes", """
        0=u8 1=u16 2=u32 3=u64 4=i8 5=i16 6=i32 7=bool 8=ipv4 9=ipv6 10=bytes 11=bytes8
        12=string 13=string8 14=string16 15=fixed 16=array8 17=array16 18=raw 19=senum32
        20=enum8 21=enum16 22=enum32 23=senum8 24=flags8 25=flags16 26=flags32 27=flags64
        28=f32
        """)
    static let primitives: [QMIType] = [.u8, .u16, .u32, .u64, .i8, .i16, .i32, .boolean, .ipv4, .ipv6, .bytes, .bytes8,
                                        .string, .string8, .string16]
    static let sections = QMIEnum("schemaSections", "0=request 1=response 2=indication")

    /// Parses a TLV list; `problem` describes the first error (nil when the text is valid).
    /// Fragments ("$name") come from the catalogue text.
    public static func tlvs(_ text: StaticString) -> (tlvs: [TLVSpec], problem: String?) {
        QMICatalogue.text.withUTF8Buffer { library in
            text.withUTF8Buffer { buffer in
                var p = SchemaParser(buffer, library: library)
                let list = p.tlvList()
                return (list, p.problem)
            }
        }
    }

    /// Every message block of a catalogue text; fragments come from the same text.
    static func messages(_ all: UnsafeBufferPointer<UInt8>) -> [QMIMessageSpec] {
        var specs: [QMIMessageSpec] = []
        var p = SchemaParser(all, library: all)
        while p.nextMessageBlock() {
            specs.append(p.message())
        }
        return specs
    }
}

/// Reads the notation from `text[i..<end]`; a fragment is parsed by narrowing that window
/// to the fragment's body in `library` and restoring it afterwards.
struct SchemaParser {
    private var text: UnsafeBufferPointer<UInt8>
    private let library: UnsafeBufferPointer<UInt8>
    private var i = 0
    private var end: Int
    private var depth = 0
    private(set) var problem: String?

    init(_ text: UnsafeBufferPointer<UInt8>, library: UnsafeBufferPointer<UInt8>) {
        self.text = text
        self.library = library
        self.end = text.count
    }

    private var peek: UInt8 { i < end ? text[i] : 0 }

    private mutating func skipBlanks(newlines: Bool) {
        while i < end, text[i] == 0x20 || (newlines && text[i] == 0x0a) { i += 1 }
    }

    /// Records the first problem, with the text that follows it, and stops the parse.
    private mutating func fail(_ what: String) {
        if problem == nil {
            let stop = min(i + 24, end)
            let near = String(decoding: UnsafeBufferPointer(rebasing: text[min(i, stop)..<stop]), as: UTF8.self)
            problem = near.isEmpty ? "\(what) at the end" : "\(what) at \"\(near)\""
        }
        i = end
    }

    private mutating func word() -> String {
        let start = i
        while i < end, Text.isWordByte(text[i]) { i += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: text[start..<i]), as: UTF8.self)
    }

    /// A field, TLV or message name: everything up to `stop` (':' or '='), trimmed.
    private mutating func name(until stop: UInt8 = 0x3a) -> String {
        let start = i
        while i < end, text[i] != stop, text[i] != 0x0a, text[i] != 0x2c, text[i] != 0x3b, text[i] != 0x7b, text[i] != 0x7d {
            i += 1
        }
        var last = i
        while last > start, text[last - 1] == 0x20 { last -= 1 }
        if peek != stop || last == start {
            fail(last == start ? "expected a name" : stop == 0x3a ? "expected ':' after a name" : "expected '=' after the name")
            return ""
        }
        i += 1
        return String(decoding: UnsafeBufferPointer(rebasing: text[start..<last]), as: UTF8.self)
    }

    /// Moves to the next block that starts in column 0 with neither '$' nor a space and
    /// narrows the window to it.
    mutating func nextMessageBlock() -> Bool {
        var at = i
        while at < text.count {
            let stop = SchemaParser.blockEnd(text, from: at)
            if text[at] != 0x24, text[at] != 0x20, text[at] != 0x0a {
                i = at
                end = stop
                problem = nil
                return true
            }
            at = stop + 1
        }
        return false
    }

    /// "wds 0020 Start Network = QMIWDS_START_NETWORK_INTERFACE [(indication only)]", then
    /// its sections; leaves the window's end as the next search start.
    mutating func message() -> QMIMessageSpec {
        var start = i
        let service = QMIService.named(word())
        if service == nil { i = start; fail("unknown service") }
        skipBlanks(newlines: false)
        start = i
        let id = Text.parseInt(word(), hex: true).flatMap { UInt16(exactly: $0) }
        if id == nil { i = start; fail("expected a message id (hex)") }
        skipBlanks(newlines: false)
        let n = name(until: 0x3d)
        skipBlanks(newlines: false)
        let trace = word()
        if trace.isEmpty { fail("expected a trace name after '='") }
        skipBlanks(newlines: false)
        let indicationOnly = SchemaParser.matches("(indication only)", in: text, at: i, end: end)
        if indicationOnly { i += 17 }
        skipBlanks(newlines: false)
        if peek != 0x0a, i < end { fail("unexpected text") }

        var lists: [[TLVSpec]?] = [nil, nil, nil]
        while true {
            skipBlanks(newlines: true)
            if i >= end { break }
            guard let kind = section() else {
                fail("expected 'request:', 'response:' or 'indication:'")
                break
            }
            if lists[kind] != nil { fail("a second '\(QMISchema.sections.name(of: Int64(kind)) ?? ""):'") }
            lists[kind] = tlvList()
        }
        let next = end
        end = text.count
        i = next
        return QMIMessageSpec(service: service ?? QMIService(0xff), id: id ?? 0, name: n, traceName: trace,
                              request: lists[0] ?? [], response: lists[1] ?? [], indication: lists[2],
                              hasRequest: !indicationOnly, schemaProblem: problem)
    }

    /// "request:", "response:" or "indication:" at the current position: consumes it.
    private mutating func section() -> Int? {
        let start = i
        let w = word()
        if peek == 0x3a, let k = QMISchema.sections.value(named: w) {
            i += 1
            return Int(k)
        }
        i = start
        return nil
    }

    mutating func tlvList() -> [TLVSpec] {
        var out: [TLVSpec] = []
        while problem == nil {
            skipBlanks(newlines: true)
            if peek == 0x3b { i += 1; continue }
            if i >= end { break }
            if peek == 0x24 {
                if let body = fragment() { out += withFragment(body) { $0.tlvList() } }
            } else {
                let start = i
                if section() != nil {
                    i = start
                    break
                }
                guard i + 2 < end, let hi = Text.hexValue(text[i]), let lo = Text.hexValue(text[i + 1]), text[i + 2] == 0x20 else {
                    fail("expected a TLV id (two hex digits)")
                    break
                }
                i += 3
                skipBlanks(newlines: false)
                let n = name()
                skipBlanks(newlines: false)
                let secret = SchemaParser.matches("secret ", in: text, at: i, end: end)
                if secret { i += 7 }
                let t = type()
                out.append(TLVSpec(hi << 4 | lo, n, t, secret: secret))
            }
            skipBlanks(newlines: false)
            if i < end, peek != 0x3b, peek != 0x0a { fail("expected ';' or a new line") }
        }
        return out
    }

    /// Fields up to the closing brace (`closed`), or to the end of a fragment.
    mutating func fieldList(closed: Bool) -> [QMIField] {
        var out: [QMIField] = []
        while problem == nil {
            skipBlanks(newlines: true)
            if closed, peek == 0x7d { i += 1; break }
            if i >= end {
                if closed { fail("missing '}'") }
                break
            }
            if peek == 0x24 {
                if let body = fragment() { out += withFragment(body) { $0.fieldList(closed: false) } }
            } else {
                let n = name()
                out.append(QMIField(n, type()))
            }
            skipBlanks(newlines: true)
            if peek == 0x2c { i += 1 } else if i < end, !(closed && peek == 0x7d) { fail("expected ',' or '}'") }
        }
        return out
    }

    /// Whether `word` is at `at` in `text` (before `end`).
    static func matches(_ word: StaticString, in text: UnsafeBufferPointer<UInt8>, at: Int, end: Int) -> Bool {
        word.withUTF8Buffer { w in
            at + w.count <= end && UnsafeBufferPointer(rebasing: text[at..<at + w.count]).elementsEqual(w)
        }
    }

    mutating func type() -> QMIType {
        skipBlanks(newlines: true)
        if peek == 0x7b {
            i += 1
            return .structure(fieldList(closed: true))
        }
        if peek == 0x24 {
            guard let body = fragment() else { return .bytes }
            return withFragment(body) { $0.type() }
        }
        let w = word()
        guard let code = QMISchema.typeWords.value(named: w) else {
            fail(w.isEmpty ? "expected a type" : "unknown type '\(w)'")
            return .bytes
        }
        if code < 15 { return QMISchema.primitives[Int(code)] }
        skipBlanks(newlines: false)
        switch code {
        case 15, 18:
            guard let length = Text.parseInt(word()), length > 0, length <= 255 else {
                fail("expected a length after '\(w)'")
                return .bytes
            }
            return code == 15 ? .fixedString(Int(length)) : .fixedBytes(Int(length))
        case 16: return .array8(type())
        case 17: return .array16(type())
        case 28: return .f32
        default:
            let n = word()
            guard let table = QMIEnums.named(n) else {
                fail(n.isEmpty ? "expected an enum name after '\(w)'" : "unknown enum '\(n)'")
                return .bytes
            }
            let width: QMIWidth = code == 19 ? .w32 : code & 3 == 1 ? .w16 : code & 3 == 2 ? .w32 : code == 27 ? .w64 : .w8
            if code >= 24 { return .flags(width, table) }
            return .enumeration(width, table, signed: code == 23 || code == 19)
        }
    }

    /// "$name": the body of the fragment's "$name = body" block in `library`.
    private mutating func fragment() -> Range<Int>? {
        i += 1
        let n = word()
        if depth < 8, let body = SchemaParser.locate(n, in: library) { return body }
        fail(depth < 8 ? "unknown fragment '$\(n)'" : "fragments nested too deeply")
        return nil
    }

    /// Parses `body` of `library` with `parse`, then returns to the text after "$name".
    private mutating func withFragment<T>(_ body: Range<Int>, _ parse: (inout SchemaParser) -> T) -> T {
        let saved = (text, i, end)
        text = library
        i = body.lowerBound
        end = body.upperBound
        depth += 1
        let result = parse(&self)
        depth -= 1
        text = saved.0
        end = saved.2
        i = problem == nil ? saved.1 : end
        return result
    }

    /// The body of the "$name = body" block in the catalogue text.
    static func locate(_ name: String, in all: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        if name.isEmpty { return nil }
        var i = 0
        while i < all.count {
            let end = blockEnd(all, from: i)
            if all[i] == 0x24 {
                var j = i + 1
                while j < end, Text.isWordByte(all[j]) { j += 1 }
                if UnsafeBufferPointer(rebasing: all[i + 1..<j]).elementsEqual(name.utf8) {
                    while j < end, all[j] == 0x20 || all[j] == 0x3d { j += 1 }
                    return j..<end
                }
            }
            i = end + 1
        }
        return nil
    }

    /// Where the block that starts at `start` ends: at the next line that begins in column 0.
    static func blockEnd(_ all: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        while i < all.count, !(all[i] == 0x0a && i + 1 < all.count && all[i + 1] != 0x20 && all[i + 1] != 0x0a) { i += 1 }
        return i
    }
}
