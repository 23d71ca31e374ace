import Base
import Foundation
@testable import USBDiscovery

/// Builds sysfs-like trees in a temporary directory: files, directories and symlinks laid
/// out like the real ones (devices live under /sys/devices, /sys/bus/usb/devices holds
/// symlinks to them, drivers are symlinks into /sys/bus/usb/drivers).
final class FixtureTree {
    let root: String
    var sys: String { root + "/sys" }
    var dev: String { root + "/dev" }
    var proc: String { root + "/proc" }
    let fm = FileManager.default

    init() {
        root = NSTemporaryDirectory() + "qcm-sysfs-" + UUID().uuidString
        try! fm.createDirectory(atPath: root + "/sys/bus/usb/devices", withIntermediateDirectories: true)
        try! fm.createDirectory(atPath: root + "/dev", withIntermediateDirectories: true)
        try! fm.createDirectory(atPath: root + "/proc", withIntermediateDirectories: true)
    }

    deinit { try? fm.removeItem(atPath: root) }

    var options: DiscoveryOptions { DiscoveryOptions(sysRoot: sys, devRoot: dev, procRoot: proc) }

    func file(_ path: String, _ content: String) {
        let full = root + "/" + path
        try! fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! (content + "\n").write(toFile: full, atomically: false, encoding: .utf8)
    }

    func dir(_ path: String) { try! fm.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true) }

    func link(_ path: String, to target: String) {
        let full = root + "/" + path
        try! fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! fm.createSymbolicLink(atPath: full, withDestinationPath: target)
    }

    /// A USB device with its interfaces, as the kernel lays it out.
    /// `interfaces`: (number, class/sub/proto, driver or nil, children like "usbmisc/cdc-wdm0", "net/wwan0").
    func usbDevice(_ name: String, vendor: String = "2c7c", product: String, busnum: Int = 2, devnum: Int = 3,
                   interfaces: [(Int, String, String?, [String])]) {
        let devPath = "sys/devices/platform/soc/usb\(busnum)/\(name)"
        file(devPath + "/idVendor", vendor)
        file(devPath + "/idProduct", product)
        file(devPath + "/busnum", "\(busnum)")
        file(devPath + "/devnum", "\(devnum)")
        file(devPath + "/bNumInterfaces", " \(interfaces.count)")
        link("sys/bus/usb/devices/\(name)", to: "../../../devices/platform/soc/usb\(busnum)/\(name)")
        for (n, csp, driver, children) in interfaces {
            let iname = "\(name):1.\(n)"
            let ipath = devPath + "/" + iname
            let parts = csp.split(separator: "/").map(String.init)
            file(ipath + "/bInterfaceNumber", String(format: "%02x", n))
            file(ipath + "/bInterfaceClass", parts[0])
            file(ipath + "/bInterfaceSubClass", parts[1])
            file(ipath + "/bInterfaceProtocol", parts[2])
            if let d = driver {
                dir("sys/bus/usb/drivers/\(d)")
                link(ipath + "/driver", to: "../../../../../../bus/usb/drivers/\(d)")
            }
            for c in children {
                dir(ipath + "/" + c)
                if c.hasPrefix("usbmisc/") || c.hasPrefix("GobiQMI/") {
                    file(ipath + "/" + c + "/uevent", "MAJOR=180\nMINOR=176\nDEVNAME=\((c as NSString).lastPathComponent)")
                }
                // A tty class device: usb-serial's ttyUSBn/tty/ttyUSBn, cdc-acm's tty/ttyACMn.
                let last = (c as NSString).lastPathComponent
                if c.hasPrefix("tty") && c.contains("/tty") && last.hasPrefix("tty") {
                    let major = last.hasPrefix("ttyACM") ? 166 : 188
                    let minor = Int(last.drop { !$0.isNumber }) ?? 0
                    file(ipath + "/" + c + "/uevent", "MAJOR=\(major)\nMINOR=\(minor)\nDEVNAME=\(last)")
                }
            }
            link("sys/bus/usb/devices/\(iname)", to: "../../../devices/platform/soc/usb\(busnum)/\(name)/\(iname)")
        }
    }

    /// A UNISOC/ASR module in ECM/NCM/RNDIS mode, laid out like a real EC200U: the network
    /// function on interfaces 0-1 (`net` is its class triple, `netdev` the name the kernel or
    /// udev gave it, under interface 0), then vendor-specific serial interfaces `serial`, each
    /// with the option driver and its ttyUSBn numbered from `firstTTY` (`ttys: false`: no
    /// driver bound, no tty). Device nodes are made in dev/ unless `nodes` is false.
    func atModule(_ name: String, product: String, net: String = "02/0d/00", netDriver: String? = "cdc_ncm",
                  netdev: String? = "usb0", serial: ClosedRange<Int> = 2...8, ttys: Bool = true, firstTTY: Int = 0,
                  nodes: Bool = true, busnum: Int = 1, devnum: Int = 2) {
        var ifs: [(Int, String, String?, [String])] = [(0, net, netDriver, netdev.map { ["net/" + $0] } ?? []),
                                                       (1, "0a/00/00", netDriver, [])]
        for n in serial {
            let tty = "ttyUSB\(firstTTY + n - serial.lowerBound)"
            ifs.append((n, "ff/00/00", ttys ? "option" : nil, ttys ? [tty + "/tty/" + tty] : []))
            if ttys && nodes { file("dev/" + tty, "") }
        }
        usbDevice(name, product: product, busnum: busnum, devnum: devnum, interfaces: ifs)
    }

    /// A PCIe module on the upstream kernel (mhi_pci_generic), laid out as Linux does it: the
    /// PCI function under sys/devices with `vendor`/`device` and its driver, the MHI
    /// controller `controller` (a symlink on /sys/bus/mhi/devices) and its channels
    /// `<controller>_<CHAN>` each with the driver given (nil: none bound), the WWAN device
    /// `<controller>/wwan/<wwan>` with its ports (name, type) — a port's node made in dev/
    /// unless `nodes` is false — and the netdevs: `net` under the data channel
    /// (`<controller>_IP_HW0/net`, mhi_net), `wwanNet` under the WWAN device (mhi_wwan_mbim).
    func wwanModem(pci: String = "0000:01:00.0", vendor: String = "0x17cb", device: String = "0x0306",
                   controller: String = "mhi0", wwan: String? = "wwan0", channels: [(String, String?)],
                   ports: [(String, String)], net: [String] = [], netChannel: String = "IP_HW0", wwanNet: [String] = [],
                   nodes: Bool = true) {
        let devices = "devices/pci0000:00/0000:00:1c.0/\(pci)"
        let path = "sys/" + devices
        file(path + "/vendor", vendor)
        file(path + "/device", device)
        dir("sys/bus/pci/drivers/mhi-pci-generic")
        link(path + "/driver", to: "../../../../bus/pci/drivers/mhi-pci-generic")
        let ctrl = path + "/" + controller
        dir(ctrl)
        link("sys/bus/mhi/devices/\(controller)", to: "../../../\(devices)/\(controller)")
        for (ch, driver) in channels {
            let c = ctrl + "/\(controller)_\(ch)"
            dir(c)
            if let d = driver {
                dir("sys/bus/mhi/drivers/\(d)")
                link(c + "/driver", to: "../../../../../../bus/mhi/drivers/\(d)")
            }
            link("sys/bus/mhi/devices/\(controller)_\(ch)", to: "../../../\(devices)/\(controller)/\(controller)_\(ch)")
        }
        for n in net { dir(ctrl + "/\(controller)_\(netChannel)/net/\(n)") }
        guard let w = wwan else { return }
        let wdev = ctrl + "/wwan/" + w
        file(wdev + "/index", String(w.dropFirst(4)))
        link("sys/class/wwan/\(w)", to: "../../\(devices)/\(controller)/wwan/\(w)")
        for (minor, (name, type)) in ports.enumerated() {
            file(wdev + "/\(name)/type", type)
            file(wdev + "/\(name)/uevent", "MAJOR=237\nMINOR=\(minor)\nDEVNAME=\(name)")
            link("sys/class/wwan/\(name)", to: "../../\(devices)/\(controller)/wwan/\(w)/\(name)")
            if nodes { file("dev/" + name, "") }
        }
        for n in wwanNet { dir(wdev + "/net/" + n) }
    }

    /// Quectel's usual layout: interfaces 0-3 serial (option), 4 the network function.
    func quectel(_ name: String, product: String = "0125", driver: String?, control: String?, net: String?,
                 busnum: Int = 2, devnum: Int = 3, netClass: String = "ff/ff/ff") {
        var ifs: [(Int, String, String?, [String])] = (0..<4).map { ($0, "ff/00/00", "option", ["ttyUSB\($0)"]) }
        var kids: [String] = []
        if let c = control { kids.append((c.hasPrefix("qcqmi") ? "GobiQMI/" : "usbmisc/") + c) }
        if let n = net { kids.append("net/" + n) }
        ifs.append((4, netClass, driver, kids))
        usbDevice(name, product: product, busnum: busnum, devnum: devnum, interfaces: ifs)
        if let c = control { file("dev/" + c, "") }
    }
}
