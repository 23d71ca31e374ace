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

    /// The modules with no QMI that qcm dials with AT commands (UNISOC and ASR platforms), and
    /// the USB interface of their AT port, as quectel-CM 1.6.8 has it (device.c,
    /// qmidevice_detect). `rndis` is the interface when the network function is RNDIS, where
    /// that moves the port (EG915Q/EG800Q); nil means it does not move.
    /// Mainline option.c binds all of these except 0x0902 and 0x8101.
    public static let atInterfaces: [(product: UInt16, interface: Int, rndis: Int?)] = [
        (0x0901, 2, nil),   // EC200U
        (0x0902, 2, nil),   // EC200D
        (0x8101, 2, nil),   // RG801H
        (0x0900, 4, nil),   // RG500U (the kernel calls 0x0900 RM500U-CN)
        (0x6026, 3, nil),   // EC200T
        (0x6005, 3, nil),   // EC200A
        (0x6002, 3, nil),   // EC200S
        (0x6001, 3, nil),   // EC100Y (the kernel calls 0x6001 EG912Y)
        (0x6007, 3, 5),     // EG915Q/EG800Q
    ]

    /// The interface number of the AT port of a module dialed by AT, nil for every other
    /// module (Qualcomm ones are dialed by QMI or MBIM).
    public static func atInterface(vendor: UInt16, product: UInt16, rndis: Bool) -> Int? {
        guard vendor == 0x2c7c else { return nil }
        for e in atInterfaces where e.product == product { return rndis ? e.rndis ?? e.interface : e.interface }
        return nil
    }

    /// "EC200U (0901), EC200D (0902), ...": the modules of `atInterfaces`, for messages.
    public static var atModules: String {
        atInterfaces.map { "\(name(vendor: 0x2c7c, product: $0.product)) (\(hex4($0.product)))" }.joined(separator: ", ")
    }

    /// The id is one of this table's (or the early EC20's Qualcomm id).
    public static func isKnown(vendor: UInt16, product: UInt16) -> Bool {
        if vendor == 0x05c6 { return product == 0x9215 }
        return vendor == 0x2c7c && table.contains { $0.0 == product }
    }

    public static func name(vendor: UInt16, product: UInt16) -> String {
        if vendor == 0x05c6 && product == 0x9215 { return "EC20 (Qualcomm id 05c6:9215)" }
        for (id, n) in table where id == product { return n }
        return "Quectel module 0x\(hex4(product))"
    }

    /// PCIe modules by PCI vendor:device, as the upstream mhi_pci_generic lists them
    /// (Quectel's 1eac ids; Qualcomm's generic 17cb ids, which the RM500Q uses as 17cb:0306).
    public static let pciTable: [(vendor: UInt16, device: UInt16, name: String)] = [
        (0x1eac, 0x1001, "EM120R-GL"),
        (0x1eac, 0x1002, "EM160R-GL"),
        (0x1eac, 0x1004, "RM520N-GL"),
        (0x1eac, 0x1007, "RM520N-GL (Lenovo)"),
        (0x1eac, 0x100d, "EM160R-GL"),
        (0x1eac, 0x2001, "EM120R-GL (FCCL)"),
        (0x17cb, 0x0304, "SDX24 module (EM120R-GL/EM160R-GL)"),
        (0x17cb, 0x0306, "SDX55 module (RM500Q/RM502Q)"),
        (0x17cb, 0x0308, "SDX65 module"),
        (0x17cb, 0x0309, "SDX75 module"),
    ]

    public static func pciName(vendor: UInt16, device: UInt16) -> String {
        for e in pciTable where e.vendor == vendor && e.device == device { return e.name }
        return "PCIe module"
    }

    public static func hex4(_ v: UInt16) -> String {
        let d = Array("0123456789abcdef".utf8)
        return String(decoding: [d[Int(v >> 12 & 15)], d[Int(v >> 8 & 15)], d[Int(v >> 4 & 15)], d[Int(v & 15)]], as: UTF8.self)
    }
}
