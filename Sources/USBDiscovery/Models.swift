/// Quectel USB product ids (vendor 0x2c7c) and the modules that use them; ids not in
/// this table still work, they are just shown as "Quectel module 0x....".
import Base
public enum QuectelModels {
    public static let table: [(UInt16, String)] = [
        (0x0121, "EC21"),
        (0x0125, "EC25/EC20 R2.x (EC2x/EG2x)"),
        (0x0191, "EG91"),
        (0x0195, "EG95"),
        (0x0296, "BG96"),
        (0x0306, "EP06/EG06/EM06"),
        (0x0435, "AG35"),
        (0x0512, "EG12/EM12/EG18"),
        (0x0620, "EM160R/EG20"),
        (0x0800, "RM500Q/RM502Q/RG500Q"),
        (0x0801, "RM520N/RG520N"),
        (0x0900, "RG500U"),
        (0x0901, "EC200U"),
        (0x0902, "EC200D"),
        (0x6001, "EC100Y"),
        (0x6002, "EC200S"),
        (0x6005, "EC200A"),
        (0x6007, "EG915Q/EG800Q"),
        (0x6026, "EC200T"),
        (0x8101, "RG801H"),
    ]

    public static func name(vendor: UInt16, product: UInt16) -> String {
        if vendor == 0x05c6 && product == 0x9215 { return "EC20 (Qualcomm id 05c6:9215)" }
        for (id, n) in table where id == product { return n }
        return "Quectel module 0x\(hex4(product))"
    }

    public static func hex4(_ v: UInt16) -> String {
        let d = Array("0123456789abcdef".utf8)
        return String(decoding: [d[Int(v >> 12 & 15)], d[Int(v >> 8 & 15)], d[Int(v >> 4 & 15)], d[Int(v & 15)]], as: UTF8.self)
    }
}
