import Base

/// QMI strings whose coding the message does not say — operator names above all: libqmi's
/// generic reader (qmi_message_tlv_read_string) takes printable UTF-8 as it is, else tries
/// GSM 03.38 7-bit packed, else UCS-2 little-endian. qcm reads every string TLV the same
/// way, so `Iv:L\x06` in a Serving System indication reads "Iliad". Nothing here needs the
/// Unicode tables: UTF-8 is checked and built byte by byte.
public enum QMIStrings {
    /// The text of a string TLV (trailing NULs dropped), as it may be shown: what is unsafe
    /// to show (controls, bidi overrides) escaped by `Text.shown`. Bytes none of the three
    /// codings explain come back with each byte outside printable ASCII as \xNN.
    public static func decode(_ raw: [UInt8]) -> String {
        var b = raw
        while b.last == 0 { b.removeLast() }
        if b.isEmpty { return "" }
        if printableUTF8(b) { return Text.shown(String(decoding: b, as: UTF8.self)) }
        // The other codings get every byte (a UCS-2 name ends in a NUL byte of its own).
        if let s = gsm7(raw) { return Text.shown(s) }
        if let s = ucs2LE(raw) { return Text.shown(s) }
        var out: [UInt8] = []
        for c in b {
            if c >= 0x20 && c < 0x7f && c != 0x5c { out.append(c) } else { out += Array("\\x\(Text.hex(c))".utf8) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Valid UTF-8 (no overlong forms, no surrogates) whose characters are all printable:
    /// no C0 or C1 controls and no DEL, except tab, line feed and carriage return.
    public static func printableUTF8(_ b: [UInt8]) -> Bool {
        var i = 0
        while i < b.count {
            let c = b[i]
            if c < 0x80 {
                if (c < 0x20 && c != 9 && c != 10 && c != 13) || c == 0x7f { return false }
                i += 1
                continue
            }
            guard let s = Text.utf8Scalar(b, at: i), s.value > 0x9f else { return false }     // C1 controls are not printable
            i += s.length
        }
        return true
    }

    /// A name whose coding a `nasPlmnEncodingScheme` field gives (NAS Operator PLMN Name,
    /// NITZ Information): 0 GSM 7-bit packed, 1 UCS-2LE; nil for another coding or bytes
    /// that are not in it (libqmi's qmi_nas_read_string_from_plmn_encoded_array).
    public static func plmnName(encoding: UInt64, _ b: [UInt8]) -> String? {
        switch encoding {
        case 0: return gsm7(b)
        case 1: return ucs2LE(b)
        default: return nil
        }
    }

    /// A name whose coding a `nasNetworkDescriptionEncoding` field gives (NAS Get PLMN Name,
    /// Home Network 3GPP2): 0 unspecified and 1 ASCII must be valid UTF-8 throughout (an
    /// embedded NUL is not), 4 UCS-2LE, 9 GSM 7-bit packed; nil otherwise.
    public static func networkDescription(encoding: UInt64, _ b: [UInt8]) -> String? {
        switch encoding {
        case 0, 1: return validUTF8Prefix(b) == b.count ? String(decoding: b, as: UTF8.self) : nil
        case 4: return ucs2LE(b)
        case 9: return gsm7(b)
        default: return nil
        }
    }

    /// How many leading bytes of a fixed-size string field are its text, as libqmi's
    /// fixed-size reader takes them: the valid UTF-8 before the first NUL or the first byte
    /// that does not continue valid UTF-8 (`32 34 FF` is "24").
    public static func validUTF8Prefix(_ b: [UInt8]) -> Int {
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 0 { return i }
            if c < 0x80 { i += 1; continue }
            guard let s = Text.utf8Scalar(b, at: i) else { return i }
            i += s.length
        }
        return i
    }

    /// GSM 03.38 default alphabet, by septet (0x1B, the escape, maps to nothing).
    static let gsm7Table: [UInt16] = [
        0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
        0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3, 0x0398, 0x039E, 0x0000, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
        0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
        0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
        0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, 0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
        0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
        0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, 0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
        0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077, 0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
    ]

    /// The GSM 03.38 extension table (after ESC), as libqmi has it.
    static func gsm7Extension(_ septet: UInt8) -> UInt32? {
        switch septet {
        case 0x0a: return 0x0c
        case 0x14: return 0x5e
        case 0x28: return 0x7b
        case 0x29: return 0x7d
        case 0x2f: return 0x5c
        case 0x3c: return 0x5b
        case 0x3d: return 0x7e
        case 0x3e: return 0x5d
        case 0x40: return 0x7c
        case 0x65: return 0x20ac
        default: return nil
        }
    }

    /// GSM 7-bit packed (TS 23.038: septet i starts at bit 7i, bits LSB first). Trailing
    /// '@' septets are the last octet's padding; a trailing ESC ends the text; an escape to a
    /// character the extension table lacks makes it not GSM 7-bit (nil).
    public static func gsm7(_ b: [UInt8]) -> String? {
        let count = b.count * 8 / 7
        var septets: [UInt8] = []
        septets.reserveCapacity(count)
        for i in 0..<count {
            let bit = 7 * i, byte = bit / 8, shift = bit % 8
            var v = UInt16(b[byte]) >> UInt16(shift)
            if shift > 1 && byte + 1 < b.count { v |= UInt16(b[byte + 1]) << UInt16(8 - shift) }
            septets.append(UInt8(v & 0x7f))
        }
        while septets.last == 0 { septets.removeLast() }
        var out: [UInt8] = []
        var i = 0
        while i < septets.count {
            let s = septets[i]
            if s == 0x1b {
                guard i + 1 < septets.count else { break }
                guard let c = gsm7Extension(septets[i + 1]) else { return nil }
                Text.appendUTF8(c, to: &out)
                i += 2
                continue
            }
            Text.appendUTF8(UInt32(gsm7Table[Int(s)]), to: &out)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// UCS-2 little-endian (UTF-16LE really: surrogate pairs accepted, lone ones refused).
    public static func ucs2LE(_ b: [UInt8]) -> String? {
        guard b.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for scalar in Text.utf16LEScalars(b) {
            guard let v = scalar else { return nil }
            Text.appendUTF8(v, to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
