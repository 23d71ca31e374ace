/// Encoding and decoding of TLV values according to their `QMIType`.
import Base
public enum QMICodec {
    public static func decode(_ type: QMIType, _ r: inout ByteReader, isLast: Bool = true) throws(Truncated) -> QMIValue {
        switch type {
        case .u8: return .uint(UInt64(try r.u8()))
        case .u16: return .uint(UInt64(try r.u16()))
        case .u32, .f32: return .uint(UInt64(try r.u32()))
        case .u64: return .uint(try r.u64())
        case .i8: return .int(Int64(Int8(bitPattern: try r.u8())))
        case .i16: return .int(Int64(Int16(bitPattern: try r.u16())))
        case .i32: return .int(Int64(Int32(bitPattern: try r.u32())))
        case .boolean: return .bool(try r.u8() != 0)
        case let .enumeration(width, _, signed):
            let raw = try readInt(width, &r)
            if signed { return .int(signExtend(raw, width)) }
            return .uint(raw)
        case let .flags(width, _):
            return .uint(try readInt(width, &r))
        case .string:
            return .string(QMIStrings.decode(r.rest()))
        case .string8:
            let n = Int(try r.u8("string length"))
            return .string(QMIStrings.decode(try r.take(n, "string")))
        case .string16:
            let n = Int(try r.u16("string length"))
            return .string(QMIStrings.decode(try r.take(n, "string")))
        case let .fixedString(n):
            // As libqmi reads it: the valid UTF-8 before the first NUL or invalid byte ("24"
            // from `32 34 FF`, a 2-digit MNC padded with 0xFF).
            let b = try r.take(n, "fixed-size string")
            return .string(text(Array(b[0..<QMIStrings.validUTF8Prefix(b)])))
        case let .fixedBytes(n):
            return .bytes(try r.take(n, "fixed-size bytes"))
        case .ipv4:
            return .ipv4(try r.u32("IPv4 address"))
        case .ipv6:
            return .ipv6(try r.take(16, "IPv6 address"))
        case .bytes:
            return .bytes(r.rest())
        case .bytes8:
            let n = Int(try r.u8("byte count"))
            return .bytes(try r.take(n, "bytes"))
        case let .structure(fields):
            var out: [QMIValue] = []
            out.reserveCapacity(fields.count)
            for (i, f) in fields.enumerated() {
                out.append(try decode(f.type, &r, isLast: isLast && i == fields.count - 1))
            }
            return .structure(out)
        case let .array8(element):
            let n = Int(try r.u8("array count"))
            return .array(try decodeElements(element, n, &r))
        case let .array16(element):
            let n = Int(try r.u16("array count"))
            return .array(try decodeElements(element, n, &r))
        }
    }

    static func decodeElements(_ element: QMIType, _ n: Int, _ r: inout ByteReader) throws(Truncated) -> [QMIValue] {
        var out: [QMIValue] = []
        out.reserveCapacity(min(n, r.remaining))
        for _ in 0..<n { out.append(try decode(element, &r, isLast: false)) }
        return out
    }

    static func readInt(_ w: QMIWidth, _ r: inout ByteReader) throws(Truncated) -> UInt64 {
        switch w {
        case .w8: return UInt64(try r.u8())
        case .w16: return UInt64(try r.u16())
        case .w32: return UInt64(try r.u32())
        case .w64: return try r.u64()
        }
    }

    static func signExtend(_ v: UInt64, _ w: QMIWidth) -> Int64 {
        switch w {
        case .w8: return Int64(Int8(truncatingIfNeeded: v))
        case .w16: return Int64(Int16(truncatingIfNeeded: v))
        case .w32: return Int64(Int32(truncatingIfNeeded: v))
        case .w64: return Int64(bitPattern: v)
        }
    }

    /// Strings from a modem are usually ASCII; invalid UTF-8 is repaired, never trapped on.
    static func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    /// Decodes a whole TLV value. Trailing bytes a newer firmware may add are tolerated
    /// and reported through `trailing`.
    public static func decodeTLV(_ spec: TLVSpec, _ bytes: [UInt8], trailing: inout Int) throws(QMIError) -> QMIValue {
        var r = ByteReader(bytes)
        let v: QMIValue
        do {
            v = try decode(spec.value, &r, isLast: true)
        } catch {
            throw .badValue(tlv: "TLV 0x\(Text.hex(spec.type)) '\(spec.name)'", reason: QMIError(error).description)
        }
        trailing = r.remaining
        return v
    }

    public static func decodeTLV(_ spec: TLVSpec, _ bytes: [UInt8]) throws(QMIError) -> QMIValue {
        var t = 0
        return try decodeTLV(spec, bytes, trailing: &t)
    }

    public static func encode(_ type: QMIType, _ value: QMIValue, into w: inout ByteWriter, field: String) throws(QMIError) {
        func bad(_ why: String) -> QMIError { .badValue(tlv: field, reason: why) }
        func unsigned(_ max: UInt64) throws(QMIError) -> UInt64 {
            if let u = value.uint, u <= max { return u }
            if let i = value.int, i < 0, UInt64(bitPattern: i) & ~max == ~max { return UInt64(bitPattern: i) & max }
            throw bad("expected an integer up to \(max)")
        }
        switch type {
        case .u8, .i8, .boolean: w.u8(UInt8(try unsigned(0xff)))
        case .u16, .i16: w.u16(UInt16(try unsigned(0xffff)))
        case .u32, .i32, .f32: w.u32(UInt32(try unsigned(0xffff_ffff)))
        case .u64: w.u64(try unsigned(UInt64.max))
        case let .enumeration(width, _, _), let .flags(width, _):
            switch width {
            case .w8: w.u8(UInt8(try unsigned(0xff)))
            case .w16: w.u16(UInt16(try unsigned(0xffff)))
            case .w32: w.u32(UInt32(try unsigned(0xffff_ffff)))
            case .w64: w.u64(try unsigned(UInt64.max))
            }
        case .string:
            guard let s = value.string else { throw bad("expected a string") }
            w.append(Array(s.utf8))
        case .string8:
            guard let s = value.string else { throw bad("expected a string") }
            let b = Array(s.utf8)
            guard b.count <= 0xff else { throw bad("string longer than 255 bytes") }
            w.u8(UInt8(b.count))
            w.append(b)
        case .string16:
            guard let s = value.string else { throw bad("expected a string") }
            let b = Array(s.utf8)
            guard b.count <= 0xffff else { throw bad("string too long") }
            w.u16(UInt16(b.count))
            w.append(b)
        case let .fixedString(n):
            guard let s = value.string else { throw bad("expected a string") }
            var b = Array(s.utf8)
            guard b.count <= n else { throw bad("string longer than \(n) bytes") }
            while b.count < n { b.append(0) }
            w.append(b)
        case let .fixedBytes(n):
            guard case let .bytes(b) = value, b.count == n else { throw bad("expected \(n) bytes") }
            w.append(b)
        case .ipv4:
            guard let v = value.ipv4 ?? value.uint.map({ UInt32(truncatingIfNeeded: $0) }) else { throw bad("expected an IPv4 address") }
            w.u32(v)
        case .ipv6:
            guard let b = value.ipv6, b.count == 16 else { throw bad("expected a 16-byte IPv6 address") }
            w.append(b)
        case .bytes:
            guard case let .bytes(b) = value else { throw bad("expected bytes") }
            w.append(b)
        case .bytes8:
            guard case let .bytes(b) = value, b.count <= 0xff else { throw bad("expected up to 255 bytes") }
            w.u8(UInt8(b.count))
            w.append(b)
        case let .structure(fields):
            guard let vs = value.fields, vs.count == fields.count else {
                throw bad("expected a structure of \(fields.count) field(s)")
            }
            for (f, v) in zip(fields, vs) { try encode(f.type, v, into: &w, field: field + "." + f.name) }
        case let .array8(element):
            guard let vs = value.elements, vs.count <= 0xff else { throw bad("expected an array of up to 255 elements") }
            w.u8(UInt8(vs.count))
            for v in vs { try encode(element, v, into: &w, field: field) }
        case let .array16(element):
            guard let vs = value.elements, vs.count <= 0xffff else { throw bad("expected an array") }
            w.u16(UInt16(vs.count))
            for v in vs { try encode(element, v, into: &w, field: field) }
        }
    }

    public static func encodeTLV(_ spec: TLVSpec, _ value: QMIValue) throws(QMIError) -> TLV {
        var w = ByteWriter()
        try encode(spec.value, value, into: &w, field: "'\(spec.name)'")
        return TLV(spec.type, w.bytes)
    }
}

extension QMIMessage {
    /// A request for a catalogue message; the engine assigns the transaction id.
    public static func request(_ spec: QMIMessageSpec, clientID: UInt8 = 0) -> QMIMessage {
        QMIMessage(service: spec.service, clientID: clientID, kind: .request, transactionID: 0, messageID: spec.id)
    }

    /// A response or indication built by a modem (the simulator) for a catalogue message.
    public static func reply(to request: QMIMessage, result: QMIResult = .success) -> QMIMessage {
        QMIMessage(service: request.service, clientID: request.clientID, kind: .response,
                   transactionID: request.transactionID, messageID: request.messageID, tlvs: [result.tlv])
    }

    public static func indication(_ spec: QMIMessageSpec, clientID: UInt8, transactionID: UInt16 = 0) -> QMIMessage {
        QMIMessage(service: spec.service, clientID: clientID, kind: .indication, transactionID: transactionID, messageID: spec.id)
    }

    func requireSpec() throws(QMIError) -> QMIMessageSpec {
        guard let s = spec else {
            throw .notFound("message 0x\(Text.hex(messageID, 4)) of service \(service.name) in the catalogue")
        }
        return s
    }

    /// Sets the named TLV (as declared in the catalogue for this message and kind).
    public mutating func set(_ name: String, _ value: QMIValue) throws(QMIError) {
        let s = try requireSpec()
        guard let t = s.tlv(named: name, kind: kind) else { throw .unknownTLV(message: s.fullName, name: name) }
        setTLV(try QMICodec.encodeTLV(t, value))
    }

    /// The named TLV decoded per the catalogue; nil when the modem did not send it.
    public func value(_ name: String) throws(QMIError) -> QMIValue? {
        let s = try requireSpec()
        guard let t = s.tlv(named: name, kind: kind) else { throw .unknownTLV(message: s.fullName, name: name) }
        guard let raw = tlv(t.type) else { return nil }
        return try QMICodec.decodeTLV(t, raw.value)
    }

    /// TLV `type` decoded per this message's catalogue definition; nil when absent,
    /// undecodable, or not in the catalogue (the trace shows why).
    public func decoded(_ type: UInt8) -> QMIValue? {
        guard let raw = tlv(type), let t = spec?.tlv(type: type, kind: kind) else { return nil }
        return try? QMICodec.decodeTLV(t, raw.value)
    }

    /// Sets TLV `type` to `value` (nil removes it), encoded per the catalogue. A value the
    /// definition cannot hold leaves the TLV out and is recorded in `problem` (first one wins).
    public mutating func encode(_ type: UInt8, _ value: QMIValue?, _ problem: inout QMIError?) {
        guard let v = value else {
            tlvs.removeAll { $0.type == type }
            return
        }
        do throws(QMIError) {
            guard let t = spec?.tlv(type: type, kind: kind) else {
                throw .notFound("TLV 0x\(Text.hex(type)) of \(displayName) \(kind.word)")
            }
            setTLV(try QMICodec.encodeTLV(t, v))
        } catch {
            if problem == nil { problem = error }
        }
    }

    /// Like `value`, but a missing TLV is an error.
    public func required(_ name: String) throws(QMIError) -> QMIValue {
        guard let v = try value(name) else { throw .missingTLV(message: spec?.fullName ?? "message", name: name) }
        return v
    }

    /// The result TLV of a response; nil for requests, indications, or when absent/short.
    public var result: QMIResult? {
        guard kind == .response, let t = tlv(0x02), t.value.count >= 4 else { return nil }
        var r = ByteReader(t.value)
        guard let s = try? r.u16(), let e = try? r.u16() else { return nil }
        return QMIResult(status: s, error: e)
    }

    public var displayName: String {
        spec?.fullName ?? "\(service.name) message 0x\(Text.hex(messageID, 4))"
    }

    /// Throws `.protocolError` when the response reports a failure (or lacks a result).
    public func check() throws(QMIError) {
        guard let r = result else { throw .missingTLV(message: displayName, name: "Result") }
        if !r.ok { throw .protocolError(message: displayName, code: r.error == 0 ? 0xffff : r.error) }
    }
}
