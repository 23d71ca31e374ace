/// Finds QMI frames in free text: quectel-CM `-v` logs (`01 0b 00 ...`, possibly
/// several frames flattened onto one line), qmicli `--verbose` dumps
/// (`data   = 01:0B:00:...`) and bare hex (`010b0000...`).
///
/// A candidate is a run of at least 12 hex bytes (the smallest QMUX frame) that is not
/// inside a `{..}` TLV dump and not a qmicli `value =` TLV dump. Runs starting with
/// 0x01 are split into frames by their QMUX length; runs that do not fit are reported
/// as broken, never fatal.
import Base
public enum HexScan {
    public enum Found: Equatable {
        case frame([UInt8])
        case broken(bytes: [UInt8], reason: String)
        /// A run that is not QMI (with `others`): an MBIM message, perhaps.
        case other([UInt8])
    }

    /// `others`: runs that do not start like a QMUX frame are handed back as `.other`
    /// (qcm decode tries them as MBIM) instead of being skipped.
    public static func scan(line: String, others: Bool = false) -> [Found] {
        var found: [Found] = []
        var run: [UInt8] = []
        var inBraces = false
        var runTruncated = false
        // The two words before this one, to recognise qmicli's "value = ..." TLV dumps.
        var before1: ArraySlice<UInt8> = []
        var before2: ArraySlice<UInt8> = []

        func flush() {
            defer { run.removeAll(keepingCapacity: true); runTruncated = false }
            guard run.count >= 12 || (runTruncated && run.first == QMIMessage.marker) else { return }
            if others && run.first != QMIMessage.marker {
                found.append(.other(run))
                return
            }
            found += split(run, truncatedBySource: runTruncated)
        }

        let text = Array(line.utf8)
        var i = 0
        while i < text.count {
            if Text.isSpace(text[i]) { i += 1; continue }
            let start = i
            while i < text.count, !Text.isSpace(text[i]) { i += 1 }
            let u = text[start..<i]
            defer { before2 = before1; before1 = u }
            if u.first == 123 { inBraces = true }            // '{'
            if inBraces {
                flush()
                if u.last == 125 { inBraces = false }        // '}'
                continue
            }
            // The common case, one byte of a quectel-CM hex line: no allocation.
            if u.count == 2, let h = Text.hexValue(u[u.startIndex]), let l = Text.hexValue(u[u.startIndex + 1]) {
                if isValueDump(before1, before2) { flush() } else { run.append(h << 4 | l) }
                continue
            }
            if let bytes = hexToken(Array(u)) {
                if isValueDump(before1, before2) { flush() } else {
                    // A single-byte token continues a run; a joined token (01:0b:.. or 010b..)
                    // is a run of its own.
                    if bytes.count > 1 { flush() }
                    run += bytes.bytes
                    if bytes.truncated { runTruncated = true }
                    if bytes.count > 1 { flush() }
                }
            } else {
                flush()
            }
        }
        flush()
        return found
    }

    /// qmicli prints each TLV as "value = 01:02:...": those bytes are not a frame.
    static func isValueDump(_ before1: ArraySlice<UInt8>, _ before2: ArraySlice<UInt8>) -> Bool {
        before1.elementsEqual("=".utf8) && before2.elementsEqual("value".utf8)
    }

    struct Token { var bytes: [UInt8]; var truncated: Bool; var count: Int { bytes.count } }

    /// "0b" → [0x0b]; "01:0B:00" → bytes; "010b00..." (even, ≥ 24 digits) → bytes.
    /// qmicli marks cut-off dumps with a trailing "...".
    static func hexToken(_ u: [UInt8]) -> Token? {
        var chars = u
        var truncated = false
        if chars.count > 3 && chars.suffix(3).allSatisfy({ $0 == 46 }) {
            chars.removeLast(3)
            truncated = true
        }
        if chars.count == 2 {
            guard let h = Text.hexValue(chars[0]), let l = Text.hexValue(chars[1]) else { return nil }
            return Token(bytes: [h << 4 | l], truncated: truncated)
        }
        if chars.contains(58) {                                       // ':'
            var out: [UInt8] = []
            var i = 0
            while i < chars.count {
                guard i + 1 < chars.count, let h = Text.hexValue(chars[i]), let l = Text.hexValue(chars[i + 1]) else { return nil }
                out.append(h << 4 | l)
                i += 2
                if i < chars.count {
                    guard chars[i] == 58 else { return nil }
                    i += 1
                    if i == chars.count { return nil }
                }
            }
            return out.count >= 2 ? Token(bytes: out, truncated: truncated) : nil
        }
        if chars.count >= 24 && chars.count % 2 == 0 {
            var out: [UInt8] = []
            var i = 0
            while i < chars.count {
                guard let h = Text.hexValue(chars[i]), let l = Text.hexValue(chars[i + 1]) else { return nil }
                out.append(h << 4 | l)
                i += 2
            }
            return Token(bytes: out, truncated: truncated)
        }
        return nil
    }

    /// Cuts a run into frames by their QMUX lengths. Linear: each frame is copied once.
    static func split(_ run: [UInt8], truncatedBySource: Bool) -> [Found] {
        var out: [Found] = []
        var i = 0
        guard run.first == QMIMessage.marker else { return [] }  // hex that is not QMI: ignore
        while i < run.count {
            let left = run.count - i
            guard run[i] == QMIMessage.marker else {
                out.append(.broken(bytes: Array(run[i...]), reason: "\(left) byte(s) after the last frame do not start with 0x01"))
                break
            }
            guard left >= 3 else {
                out.append(.broken(bytes: Array(run[i...]), reason: "\(left) byte(s) are too short for a QMUX header"))
                break
            }
            let length = Int(run[i + 1]) | Int(run[i + 2]) << 8
            if length + 1 > left {
                let why = truncatedBySource ? "the dump was cut off by the tool that printed it" : "the QMUX length says \(length + 1) byte(s), only \(left) present"
                out.append(.broken(bytes: Array(run[i...]), reason: why))
                break
            }
            if length < 11 {
                out.append(.broken(bytes: Array(run[i...]), reason: "QMUX length \(length) is too small for a QMI message"))
                break
            }
            out.append(.frame(Array(run[i...(i + length)])))
            i += length + 1
        }
        return out
    }
}
