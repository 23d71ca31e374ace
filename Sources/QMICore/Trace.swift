/// Human-readable renderings of QMI frames: the quectel-CM `-v` style that support
/// teams know, and a fully decoded form with every TLV named (used by `qcm decode`
/// and added under the quectel lines in qcm's own `-v` trace).
import Base
public enum QMITrace {
    /// quectel-CM's decoded line, e.g.
    /// `TransactionId: 01 QMICTLType: 0027 QMICTL_SYNC_REQ Length: 0000`
    /// followed by the TLVs as `{02, 0004, 00 00 00 00 }`.
    public static func quectelLine(_ m: QMIMessage) -> String {
        let name = traceName(m)
        let length = m.tlvs.reduce(0) { $0 + 3 + $1.value.count }
        var s: String
        if m.isControl {
            s = "TransactionId: \(Text.hex(m.transactionID, 2)) QMICTLType: \(Text.hex(m.messageID, 4)) \(name) Length: \(Text.hex(length, 4))"
        } else {
            s = "TransactionId: \(Text.hex(m.transactionID, 4)) Type: \(Text.hex(m.messageID, 4)) \(name) Length: \(Text.hex(length, 4))"
        }
        for t in m.tlvs {
            s += " {\(Text.hex(t.type)), \(Text.hex(t.value.count, 4)), "
            for b in t.value { s += Text.hex(b) + " " }
            s += "}"
        }
        return s
    }

    /// quectel-CM's name for a message: `QMIWDS_START_NETWORK_INTERFACE_REQ`.
    public static func traceName(_ m: QMIMessage) -> String {
        if let spec = m.spec { return spec.traceName + m.kind.traceSuffix }
        return "\(m.service.tracePrefix)UNKNOWN_\(Text.hex(m.messageID, 4))\(m.kind.traceSuffix)"
    }

    /// One header line plus one line per TLV (nested fields indented).
    public static func describe(_ m: QMIMessage, indent: String = "  ") -> [String] {
        let spec = m.spec
        var head = "\(m.service.name) "
        head += spec.map { "\($0.name) \(m.kind.word)" } ?? "message 0x\(Text.hex(m.messageID, 4)) \(m.kind.word)"
        head += " (\(traceName(m))) tid=\(m.transactionID) client=\(m.clientID)"
        head += " service=0x\(Text.hex(m.service.rawValue)) msg=0x\(Text.hex(m.messageID, 4))"
        var lines = [head]
        for t in m.tlvs {
            lines += describeTLV(t, spec: spec?.tlv(type: t.type, kind: m.kind), indent: indent)
        }
        return lines
    }

    public static func describeTLV(_ t: TLV, spec: TLVSpec?, indent: String) -> [String] {
        let tag = "\(indent)[0x\(Text.hex(t.type))]"
        guard let spec else {
            return ["\(tag) unknown TLV (\(t.value.count) bytes): \(Text.hexBytes(t.value))"]
        }
        var trailing = 0
        let value: QMIValue
        do {
            value = try QMICodec.decodeTLV(spec, t.value, trailing: &trailing)
        } catch {
            return ["\(tag) \(spec.name): undecodable (\(error.description)); raw: \(Text.hexBytes(t.value))"]
        }
        var lines: [String]
        if spec.type == 0x02, let f = value.fields, f.count == 2, let st = f[0].uint, let er = f[1].uint {
            lines = ["\(tag) \(spec.name): \(QMIResult(status: UInt16(truncatingIfNeeded: st), error: UInt16(truncatingIfNeeded: er)).description)"]
        } else if spec.name.equals("Verbose Call End Reason"), let f = value.fields, f.count == 2,
                  let ty = f[0].uint, let re = f[1].int {
            lines = ["\(tag) \(spec.name): \(CallEndReason.verboseName(type: UInt16(truncatingIfNeeded: ty), reason: Int16(truncatingIfNeeded: re)))"]
        } else {
            lines = render(name: spec.name, type: spec.value, value: value, prefix: tag)
        }
        if trailing > 0 { lines.append("\(indent)    (+\(trailing) trailing byte(s) not in the definition)") }
        return lines
    }

    static func render(name: String, type: QMIType, value: QMIValue, prefix: String) -> [String] {
        let pad = "    "
        switch (type, value) {
        case let (.structure(fields), .structure(values)):
            var lines = ["\(prefix) \(name):"]
            // Names whose coding an earlier field of the structure gives (operator names) are
            // shown as text too.
            var coding: (plmn: Bool, value: UInt64)?
            for (f, v) in zip(fields, values) {
                if case let .enumeration(_, e, _) = f.type, let c = v.uint {
                    if e.name.equals("nasPlmnEncodingScheme") { coding = (true, c) }
                    if e.name.equals("nasNetworkDescriptionEncoding") { coding = (false, c) }
                }
                if case .bytes8 = f.type, let cd = coding, case let .bytes(b) = v, !b.isEmpty,
                   let text = cd.plmn ? QMIStrings.plmnName(encoding: cd.value, b) : QMIStrings.networkDescription(encoding: cd.value, b) {
                    lines.append("\(indentOf(prefix) + pad) \(f.name): \"\(Text.printable(Array(text.utf8)))\" (\(Text.hexBytes(b)))")
                    continue
                }
                lines += render(name: f.name, type: f.type, value: v, prefix: indentOf(prefix) + pad)
            }
            return lines
        case let (.array8(el), .array(values)), let (.array16(el), .array(values)):
            if values.isEmpty { return ["\(prefix) \(name): (empty)"] }
            if case .structure = el {
                var lines = ["\(prefix) \(name): \(values.count) element(s)"]
                for (i, v) in values.enumerated() {
                    lines += render(name: "[\(i)]", type: el, value: v, prefix: indentOf(prefix) + pad)
                }
                return lines
            }
            return ["\(prefix) \(name): [" + values.map { scalar(el, $0) }.joined(separator: ", ") + "]"]
        default:
            return ["\(prefix) \(name): \(scalar(type, value))"]
        }
    }

    static func indentOf(_ s: String) -> String {
        var n = 0
        for c in s.utf8 { if c == 32 { n += 1 } else { break } }
        return String(repeating: " ", count: n)
    }

    /// One value on one line.
    public static func scalar(_ type: QMIType, _ value: QMIValue) -> String {
        switch (type, value) {
        case let (.enumeration(_, e, _), v):
            let n = v.int ?? 0
            return "\(e.describe(n)) (\(n))"
        case let (.flags(_, e), v):
            let n = v.int ?? 0
            return "\(e.describe(n)) (0x\(Text.hex(UInt64(n), 2)))"
        case let (.f32, .uint(bits)): return Text.decimal(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case let (_, .uint(u)): return "\(u)"
        case let (_, .int(i)): return "\(i)"
        case let (_, .bool(b)): return b ? "yes" : "no"
        case let (_, .string(s)): return "\"\(Text.printable(Array(s.utf8)))\""
        case let (_, .bytes(b)): return b.isEmpty ? "(none)" : Text.hexBytes(b)
        case let (_, .ipv4(a)): return Text.ipv4(a)
        case let (_, .ipv6(b)): return Text.ipv6(b)
        case let (.structure(fields), .structure(values)):
            return "{" + zip(fields, values).map { "\($0.name): \(scalar($0.type, $1))" }.joined(separator: ", ") + "}"
        case let (.array8(el), .array(values)), let (.array16(el), .array(values)):
            return "[" + values.map { scalar(el, $0) }.joined(separator: ", ") + "]"
        default: return "?"
        }
    }

    /// A copy of the message whose secret TLVs (passwords, PINs) have their text replaced
    /// by '*' of the same length, so a masked frame still decodes.
    public static func masked(_ m: QMIMessage) -> QMIMessage {
        guard let spec = m.spec else { return m }
        var out = m
        for (i, t) in m.tlvs.enumerated() {
            guard let ts = spec.tlv(type: t.type, kind: m.kind), ts.secret else { continue }
            if let v = try? QMICodec.decodeTLV(ts, t.value), let enc = try? QMICodec.encodeTLV(ts, maskStrings(v)) {
                out.tlvs[i] = enc
            } else {
                out.tlvs[i] = TLV(t.type, [UInt8](repeating: 0x2a, count: t.value.count))
            }
        }
        return out
    }

    static func maskStrings(_ v: QMIValue) -> QMIValue {
        switch v {
        case let .string(s): return .string(String(repeating: "*", count: s.utf8.count))
        case let .structure(f): return .structure(f.map(maskStrings))
        case let .array(a): return .array(a.map(maskStrings))
        default: return v
        }
    }
}
