import Base

/// Bringing a call up by APN name or by APN type (`-a 1|2`, `-y TYPE`), quectel-CM 1.6.7+'s
/// options. Where each goes depends on the modem:
///
/// - SDX35 modules (USB product 0316, quectel-CM's "X35") take them in WDS Start Network:
///   TLV 0x3C "bring up by APN name" (1), TLV 0x3D "bring up by APN type" (quectel-CM sends
///   2, its -a value, and so does qcm), TLV 0x38 the APN type (a 32-bit enum: 1 internet,
///   2 IMS); a call brought up by name or type names no profile (no TLV 0x31).
/// - Other QMI modems know none of these Start Network TLVs (libqmi defines none of them,
///   quectel-CM sends them only to 0316). There `-y` goes into the profile, as its APN Type
///   Mask (TLV 0xDD: internet is the "default" bit, IMS the "ims" bit), where the modem's
///   profile has one (Get Profile Settings reports it); `-a 1` is what Start Network always
///   does with `-s` (it names the APN), and `-a 2` cannot be done.
/// - MBIM: CONNECT's ContextType is the APN type (Internet or IMS); `-a` changes nothing.
/// - AT modules: no APN type in the dialects qcm speaks (refused).
enum APNTypeRules {
    /// The SDX35 product (quectel-CM: "X35").
    static let sdx35: UInt16 = 0x0316

    static func takesTypeInStartNetwork(_ productID: UInt16?) -> Bool { productID == sdx35 }

    /// What a QMI modem cannot do of what the command line asks (exit 3), nil when it can.
    static func problem(_ pdns: [PDNOptions], productID: UInt16?) -> String? {
        guard !takesTypeInStartNetwork(productID) else { return nil }
        for p in pdns where p.bringUp == .byType {
            let which = pdns.count > 1 ? " (PDN \(p.pdn))" : ""
            let id = productID.map { "2c7c:" + Text.hex($0, 4) } ?? "this modem"
            return "-a 2\(which): bringing a call up by APN type is a feature of SDX35 modules (2c7c:0316, Start Network TLV 0x3D); \(id) is dialed by profile: give the profile of that APN type with -n N (with -y, qcm writes the type into the profile where the modem keeps one)"
        }
        return nil
    }

    /// The profile's APN Type Mask for `-y` (nil: -y 0 or none, the profile's is left alone).
    static func mask(_ apnType: UInt8?) -> UInt64? {
        switch apnType {
        case 1?: return 1          // default (internet)
        case 2?: return 2          // ims
        default: return nil
        }
    }
}
