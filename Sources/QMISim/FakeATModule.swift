import Foundation
import Base
import QMICore

/// Sysfs trees of Quectel's UNISOC and ASR modules, which have no QMI. They are dialed with
/// AT commands on a ttyUSB port of the `option` driver and carry data over a USB Ethernet
/// function (cdc_ether, cdc_ncm or rndis_host). The layout follows what quectel-CM walks
/// (device.c: qmidevice_detect, atdevice_detect) and what the kernel shows for a real EC200U.
extension FakeHardware {
    /// The USB Ethernet drivers of these modules.
    public static let atNetDrivers = ["cdc_ether", "cdc_ncm", "rndis_host"]

    /// The interface number of the AT port for a product, from quectel-CM's table
    /// (device.c ~341-369). Nil for a product it does not know: it then finds no AT port.
    public static func atInterface(product: String, netDriver: String) -> Int? {
        switch product.lowercased() {
        case "0901", "0902", "8101": return 2                  // EC200U, EC200D, RG801H
        case "0900": return 4                                  // RG500U
        case "6026", "6005", "6002", "6001": return 3          // EC200T, EC200A, EC200S, EC100Y
        case "6007": return netDriver == "rndis_host" ? 5 : 3  // EG915Q/EG800Q
        default: return nil
        }
    }

    /// The tty of the AT port in the tree `writeATModule` writes, such as "ttyUSB0" (EC200U).
    /// Nil when the product has no AT port in quectel-CM's table, or when the port is not
    /// bound. The AT responder creates ROOT/dev/<name>.
    public static func atPort(product: String, netDriver: String, atPortBound: Bool = true) -> String? {
        guard atPortBound, let n = atInterface(product: product, netDriver: netDriver) else { return nil }
        return "ttyUSB\(n - firstSerialInterface)"
    }

    /// The AT node of a UNISOC module on PCIe (quectel-CM's atdevice_detect opens /dev/stty_nr31).
    public static let unisocPCIeATPort = "stty_nr31"

    /// Interfaces 0 and 1 are the network function; the vendor-specific serial ports follow.
    static let firstSerialInterface = 2

    /// The model a product id names (for the `product` attribute).
    static func atModel(_ product: String) -> String {
        switch product.lowercased() {
        case "0901": return "EC200U"
        case "0902": return "EC200D"
        case "8101": return "RG801H"
        case "0900": return "RG500U"
        case "6026": return "EC200T"
        case "6005": return "EC200A"
        case "6002": return "EC200S"
        case "6001": return "EC100Y"
        case "6007": return "EG915Q"
        default: return "Quectel module"
        }
    }

    /// Writes `<root>/sys` for a UNISOC/ASR module 2c7c:`product` at usb 1-1.2 and creates
    /// `<root>/dev`:
    /// - interface 0 is the network function's control interface, bound to `netDriver`:
    ///   ECM 02/06/00 (cdc_ether), NCM 02/0d/00 (cdc_ncm) or RNDIS e0/01/03 (rndis_host). It
    ///   owns the netdev (`1-1.2:1.0/net/<netdev>`), as usbnet makes it. Interface 1 is the
    ///   data interface, 0a/00/00 (NCM: 0a/00/01), which the same driver claims;
    /// - interfaces 2 and up are vendor-specific serial ports (ff/00/00) bound to `option`,
    ///   each with its tty the way usb-serial shows it (`1-1.2:1.N/ttyUSBk/tty/ttyUSBk`),
    ///   numbered in order from ttyUSB0. The AT port sits on the interface of quectel-CM's
    ///   table (see `atPort`). There are 7 interfaces, enough for the AT port (9 on an EC200U,
    ///   as the real one has);
    /// - `sys/class/net/<netdev>` (a directory with a `device` link to interface 0),
    ///   `sys/class/tty` and `sys/bus/usb-serial` links, the drivers' directories and
    ///   `sys/module/<netDriver>/version`.
    /// `atPortBound` false: option has no entry for the product (0x8101 and 0x0902 are not in
    /// mainline option.c). Then no serial interface has a driver or a tty, the AT port included.
    public static func writeATModule(root: String, product: String = "0901", netDriver: String = "cdc_ether",
                                     netdev: String = "usb0", atPortBound: Bool = true) throws {
        guard atNetDrivers.contains(netDriver) else {
            throw QMIError.invalidArgument("'\(netDriver)' is not a USB Ethernet driver of AT modules (\(atNetDrivers.joined(separator: ", ")))")
        }
        let t = Tree(root: root)
        let busPath = "platform/sim/usb1/1-1/1-1.2"
        let dev = "sys/devices/" + busPath
        let at = atInterface(product: product, netDriver: netDriver)
        let count = product.lowercased() == "0901" ? 9 : max(7, (at ?? 0) + 3)

        try t.dir("dev")
        try t.file(dev + "/idVendor", "2c7c")
        try t.file(dev + "/idProduct", product.lowercased())
        try t.file(dev + "/busnum", "1")
        try t.file(dev + "/devnum", "3")
        try t.file(dev + "/manufacturer", "Quectel")
        try t.file(dev + "/product", atModel(product))
        try t.file(dev + "/bNumInterfaces", String(format: "%2d", count))
        try t.link("sys/bus/usb/devices/1-1.2", "../../../devices/" + busPath)
        try t.dir("sys/bus/usb/drivers/option")
        try t.dir("sys/bus/usb/drivers/\(netDriver)")
        try t.dir("sys/bus/usb-serial/drivers/option1")
        try t.file("sys/module/\(netDriver)/version", "qmi-sim")

        let control = netDriver == "rndis_host" ? "e0/01/03" : netDriver == "cdc_ncm" ? "02/0d/00" : "02/06/00"
        let data = netDriver == "cdc_ncm" ? "0a/00/01" : "0a/00/00"
        var tty = 0
        for n in 0..<count {
            let name = "1-1.2:1.\(n)"
            let i = dev + "/" + name
            let serial = n >= firstSerialInterface
            let triple = n == 0 ? control : n == 1 ? data : "ff/00/00"
            let parts = triple.split(separator: "/").map(String.init)
            try t.file(i + "/bInterfaceNumber", String(format: "%02x", n))
            try t.file(i + "/bInterfaceClass", parts[0])
            try t.file(i + "/bInterfaceSubClass", parts[1])
            try t.file(i + "/bInterfaceProtocol", parts[2])
            try t.link("sys/bus/usb/devices/" + name, "../../../devices/\(busPath)/\(name)")
            if serial && !atPortBound { continue }
            try t.link(i + "/driver", "../../../../../../../bus/usb/drivers/\(serial ? "option" : netDriver)")
            guard serial else { continue }
            let port = "ttyUSB\(tty)"
            try t.file(i + "/\(port)/tty/\(port)/uevent", "MAJOR=188\nMINOR=\(tty)\nDEVNAME=\(port)")
            try t.file(i + "/\(port)/tty/\(port)/dev", "188:\(tty)")
            try t.link(i + "/\(port)/driver", "../../../../../../../../bus/usb-serial/drivers/option1")
            try t.link("sys/bus/usb-serial/devices/" + port, "../../../devices/\(busPath)/\(name)/\(port)")
            try t.link("sys/class/tty/" + port, "../../devices/\(busPath)/\(name)/\(port)/tty/\(port)")
            tty += 1
        }
        try t.dir(dev + "/1-1.2:1.0/net/" + netdev)
        try t.dir("sys/class/net/" + netdev)
        try t.link("sys/class/net/\(netdev)/device", "../../../devices/\(busPath)/1-1.2:1.0")
    }

    /// Writes what quectel-CM's atdevice_detect looks for on a UNISOC module on PCIe:
    /// `sys/class/net/sipa_dummy0` and the data netdevs `pcie0`… (one per context: DHCP runs
    /// on pcie<cid-1>), and creates `<root>/dev`. The AT node is `unisocPCIeATPort`; the AT
    /// responder creates it.
    public static func writeUNISOCPCIe(root: String, contexts: Int = 1) throws {
        let t = Tree(root: root)
        try t.dir("dev")
        try t.dir("sys/class/net/sipa_dummy0")
        for n in 0..<max(1, contexts) { try t.dir("sys/class/net/pcie\(n)") }
    }

    /// Files, directories and symlinks under a root, parents made as needed.
    struct Tree {
        let root: String
        let fm = FileManager.default

        func file(_ p: String, _ s: String) throws {
            let full = root + "/" + p
            try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try (s + "\n").write(toFile: full, atomically: true, encoding: .utf8)
        }

        func dir(_ p: String) throws { try fm.createDirectory(atPath: root + "/" + p, withIntermediateDirectories: true) }

        func link(_ p: String, _ target: String) throws {
            let full = root + "/" + p
            try? fm.removeItem(atPath: full)
            try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: full, withDestinationPath: target)
        }
    }
}
