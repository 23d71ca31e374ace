import Foundation
import Base
import CSystem
import QMICore

/// What makes the simulator look like a real board to qcm: a sysfs tree USBDiscovery
/// finds as an EC25 on qmi_wwan, the QMI "device node" (the simulator's socket), and —
/// as root — the network interface itself.
public enum FakeHardware {
    /// Where the simulator listens for a fake tree rooted at `root` (GobiNet: its qcqmi node;
    /// pcie_mhi: the QMI0 channel's node).
    /// The upstream WWAN layout: "mhi_net" (QMI) serves /dev/wwan0qmi0, "mhi_wwan_mbim" (MBIM)
    /// /dev/wwan0mbim0.
    public static func socketPath(root: String, driver: String = "qmi_wwan") -> String {
        switch driver {
        case "GobiNet": return root + "/dev/qcqmi0"
        case "pcie_mhi": return root + "/dev/mhi_QMI0"
        case "pcie_mhi_mbim": return root + "/dev/mhi_MBIM"
        case "mhi_net": return root + "/dev/wwan0qmi0"
        case "mhi_wwan_mbim": return root + "/dev/wwan0mbim0"
        default: return root + "/dev/cdc-wdm0"
        }
    }

    /// What the simulator made under its root, so that on exit it removes exactly that and
    /// nothing that was there before: `sys` and `dev` when it created them (else only its
    /// socket), the root itself only when it created it too.
    public struct Made {
        public let root: String
        let madeRoot: Bool, madeSys: Bool, madeDev: Bool

        /// Notes what exists under `root` before the simulator writes anything there.
        public init(root: String) {
            self.root = root
            madeRoot = !Files.existsOrLinks(root)
            madeSys = !Files.existsOrLinks(root + "/sys")
            madeDev = !Files.existsOrLinks(root + "/dev")
        }

        public func remove(socket: String?) {
            if madeSys { Files.removeTree(root + "/sys") }
            if madeDev { Files.removeTree(root + "/dev") } else if let s = socket, Files.info(s)?.kind == .socket { Files.remove(s) }
            if madeRoot { Files.removeTree(root) }
        }
    }

    /// Writes `<root>/sys` (EC25 2c7c:0125 at usb 1-1.2, QMI on interface 1-1.2:1.4 with
    /// usbmisc/cdc-wdm0 (GobiQMI/qcqmi0 for GobiNet) and net/<netdev>, driver qmi_wwan)
    /// and creates `<root>/dev`. Only qmi_wwan has the qmi/raw_ip switch.
    /// `driver` "cdc_mbim": the module in MBIM mode (RM500Q 2c7c:0800 by default then).
    /// `qmapMode` (qmi_wwan_q): the driver's qmap_mode and qmap_size attributes instead of
    /// qmi_wwan's qmi/ directory. The attributes a client writes to (add_mux, del_mux,
    /// link_state, bridge_mode, bridge_ipv4) and each netdev's `type` are made by DataPlane,
    /// which serves them.
    /// `driver` "pcie_mhi": a PCIe module (RM500Q: `product` 0306) on Quectel's pcie_mhi
    /// instead of USB: the MHI bus's IP_HW0 channel with the netdev (rmnet_mhi0), the QMI0
    /// channel's node mhi_QMI0, qmap_mode (the driver's default is 1) and qmap_size.
    /// With `mbim` (pcie_mhi loaded with mhi_mbim_enabled=1) the driver configures the MBIM
    /// channel instead of QMI0 (its node mhi_MBIM), and the children rmnet_mhi0.1..N it
    /// made at load for qmap_mode N are in class/net (Ethernet, type 1; the parent is
    /// ARPHRD_NONE); MHIMBIMPlane serves link_state and, as root, the netdevs.
    public static func writeSysfs(root: String, netdev: String = "wwan0", rawIP: Bool = true,
                                  product: String = "0125", driver: String = "qmi_wwan", qmapMode: Int? = nil,
                                  qmapSize: Int = 4096, mbim: Bool = false) throws {
        let fm = FileManager.default
        let dev = "sys/devices/platform/sim/usb1/1-1/1-1.2"
        func file(_ p: String, _ s: String) throws {
            let full = root + "/" + p
            try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try (s + "\n").write(toFile: full, atomically: true, encoding: .utf8)
        }
        func dir(_ p: String) throws { try fm.createDirectory(atPath: root + "/" + p, withIntermediateDirectories: true) }
        if driver == "pcie_mhi" {
            try dir("dev")
            try dir("sys/bus/mhi_q/devices/\(product)_00.01.00_IP_HW0/net/\(netdev)")
            let channel = mbim ? "MBIM" : "QMI0"
            try file("sys/bus/mhi_q/devices/\(product)_00.01.00_\(channel)/mhi_uci_q/mhi_\(channel)/uevent",
                     "MAJOR=243\nMINOR=\(mbim ? 1 : 0)\nDEVNAME=mhi_\(channel)")
            try file("sys/class/net/\(netdev)/qmap_mode", "\(qmapMode ?? 1)")
            try file("sys/class/net/\(netdev)/qmap_size", "\(qmapSize)")
            try file("sys/module/pcie_mhi/parameters/qmap_mode", "\(qmapMode ?? 1)")
            try file("sys/module/pcie_mhi/parameters/mhi_mbim_enabled", mbim ? "1" : "0")
            try file("sys/module/pcie_mhi/version", "qmi-sim")
            if mbim {
                try file("sys/class/net/\(netdev)/type", "65534")
                for n in 0..<(qmapMode ?? 1) { try file("sys/class/net/\(netdev).\(n + 1)/type", "1") }   // none for qmap_mode 0
            }
            return
        }
        func link(_ p: String, _ target: String) throws {
            let full = root + "/" + p
            try? fm.removeItem(atPath: full)
            try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: full, withDestinationPath: target)
        }
        try dir("dev")
        try file(dev + "/idVendor", "2c7c")
        try file(dev + "/idProduct", product)
        try file(dev + "/busnum", "1")
        try file(dev + "/devnum", "3")
        try file(dev + "/manufacturer", "Quectel")
        try file(dev + "/product", "EC25-E")
        try file(dev + "/bNumInterfaces", " 5")
        try link("sys/bus/usb/devices/1-1.2", "../../../devices/platform/sim/usb1/1-1/1-1.2")
        try dir("sys/bus/usb/drivers/option")
        try dir("sys/bus/usb/drivers/\(driver)")
        for n in 0...4 {
            let i = "\(dev)/1-1.2:1.\(n)"
            try file(i + "/bInterfaceNumber", "0\(n)")
            // cdc_mbim: interface 4 is the MBIM control function (CDC 02/0e/00).
            let mbim = driver == "cdc_mbim" && n == 4
            try file(i + "/bInterfaceClass", mbim ? "02" : "ff")
            try file(i + "/bInterfaceSubClass", mbim ? "0e" : n == 4 ? "ff" : "00")
            try file(i + "/bInterfaceProtocol", n == 4 && !mbim ? "ff" : "00")
            try link(i + "/driver", "../../../../../../../bus/usb/drivers/\(n == 4 ? driver : "option")")
            try link("sys/bus/usb/devices/1-1.2:1.\(n)", "../../../devices/platform/sim/usb1/1-1/1-1.2/1-1.2:1.\(n)")
        }
        let qmi = "\(dev)/1-1.2:1.4"
        if driver == "GobiNet" {
            try file(qmi + "/GobiQMI/qcqmi0/uevent", "MAJOR=234\nMINOR=0\nDEVNAME=qcqmi0")
        } else {
            try file(qmi + "/usbmisc/cdc-wdm0/uevent", "MAJOR=180\nMINOR=176\nDEVNAME=cdc-wdm0")
        }
        try dir(qmi + "/net/" + netdev)
        if driver == "qmi_wwan" {
            try file("sys/class/net/\(netdev)/qmi/raw_ip", rawIP ? "Y" : "N")
            try file("sys/class/net/\(netdev)/qmi/pass_through", "N")
        } else if let mode = qmapMode {
            try file("sys/class/net/\(netdev)/qmap_mode", "\(mode)")
            try file("sys/class/net/\(netdev)/qmap_size", "\(qmapSize)")
            try file("sys/module/\(driver)/parameters/qmap_mode", "\(mode)")
        } else {
            try dir("sys/class/net/\(netdev)")
        }
        try file("sys/module/\(driver)/version", "qmi-sim")
    }

    /// The PCI function of `writeWWAN`'s modem, under `sys/devices`.
    public static let wwanPCI = "sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0"

    /// Writes `<root>/sys` as the upstream kernel lays out a PCIe module on mhi_pci_generic,
    /// and creates `<root>/dev`:
    /// - the PCI function 0000:01:00.0 (`vendor`:`product`, driver mhi-pci-generic) and its
    ///   MHI controller mhi0 on the MHI bus (/sys/bus/mhi/devices/mhi0), whose channels
    ///   mhi0_<CHAN> each have their driver;
    /// - the WWAN device mhi0/wwan/wwan0 (/sys/class/wwan/wwan0) with mhi_wwan_ctrl's ports
    ///   wwan0<type>0, each with `type` and a uevent (MAJOR/MINOR for mknod);
    /// - QMI (`mbim` false, the modem_qcom_v1 channel set of an SDX55 such as the RM500Q,
    ///   17cb:0306): ports qmi, mbim and qcdm; IP_HW0 bound to mhi_net, whose netdev
    ///   `netdev` (mhi_hwip0) is under mhi0_IP_HW0/net;
    /// - MBIM (`mbim` true, Quectel's em1xx channel set of an RM520N, 1eac:1004): ports mbim,
    ///   at and qcdm; IP_HW0_MBIM bound to mhi_wwan_mbim, whose default link `netdev` (wwan0,
    ///   session 0) is under the WWAN device's net/.
    /// `controlDriver` false leaves the QMI/MBIM channel without mhi_wwan_ctrl (no port);
    /// `dataDriver` false leaves the data channel without its driver (no netdev).
    public static func writeWWAN(root: String, mbim: Bool = false, vendor: String? = nil, product: String? = nil,
                                 netdev: String? = nil, controlDriver: Bool = true, dataDriver: Bool = true) throws {
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
        let pci = wwanPCI
        let devices = "devices/pci0000:00/0000:00:1c.0/0000:01:00.0"      // as seen from sys/
        try dir("dev")
        try file(pci + "/vendor", "0x" + (vendor ?? (mbim ? "1eac" : "17cb")))
        try file(pci + "/device", "0x" + (product ?? (mbim ? "1004" : "0306")))
        try file(pci + "/class", "0xff0000")
        try dir("sys/bus/pci/drivers/mhi-pci-generic")
        try link(pci + "/driver", "../../../../bus/pci/drivers/mhi-pci-generic")
        try link("sys/bus/pci/devices/0000:01:00.0", "../../../" + devices)
        let ctrl = pci + "/mhi0"
        try dir(ctrl)
        try link("sys/bus/mhi/devices/mhi0", "../../../\(devices)/mhi0")
        let ctrlDriver: String? = controlDriver ? "mhi_wwan_ctrl" : nil
        let data = mbim ? "IP_HW0_MBIM" : "IP_HW0"
        let dataDriverName = mbim ? "mhi_wwan_mbim" : "mhi_net"
        let channels: [(String, String?)] = mbim
            ? [("NMEA", nil), ("DIAG", "mhi_wwan_ctrl"), ("MBIM", ctrlDriver), ("DUN", "mhi_wwan_ctrl"), (data, dataDriver ? dataDriverName : nil)]
            : [("DIAG", "mhi_wwan_ctrl"), ("MBIM", "mhi_wwan_ctrl"), ("QMI", ctrlDriver), ("IPCR", "qcom_mhi_qrtr"), (data, dataDriver ? dataDriverName : nil)]
        for (ch, driver) in channels {
            let path = ctrl + "/mhi0_" + ch
            try dir(path)
            if let d = driver {
                try dir("sys/bus/mhi/drivers/" + d)
                try link(path + "/driver", "../../../../../../bus/mhi/drivers/" + d)
                try dir("sys/module/" + d)
            }
            try link("sys/bus/mhi/devices/mhi0_" + ch, "../../../\(devices)/mhi0/mhi0_" + ch)
        }
        // The WWAN device and mhi_wwan_ctrl's ports (DIAG → QCDM, DUN → AT).
        let wwan = ctrl + "/wwan/wwan0"
        try file(wwan + "/index", "0")
        try link("sys/class/wwan/wwan0", "../../\(devices)/mhi0/wwan/wwan0")
        var ports: [(String, String)] = mbim ? [("at", "AT"), ("qcdm", "QCDM")] : [("mbim", "MBIM"), ("qcdm", "QCDM")]
        if controlDriver { ports.insert(mbim ? ("mbim", "MBIM") : ("qmi", "QMI"), at: 0) }
        for (minor, (suffix, type)) in ports.enumerated() {
            let name = "wwan0\(suffix)0"
            try file(wwan + "/\(name)/type", type)
            try file(wwan + "/\(name)/uevent", "MAJOR=237\nMINOR=\(minor)\nDEVNAME=\(name)")
            try link("sys/class/wwan/" + name, "../../\(devices)/mhi0/wwan/wwan0/" + name)
        }
        try dir("sys/module/wwan")
        try dir("sys/module/mhi_pci_generic")
        guard dataDriver else { return }
        // The data netdev: mhi_net's under its channel; mhi_wwan_mbim's under the WWAN device.
        let name = netdev ?? (mbim ? "wwan0" : "mhi_hwip0")
        let parentDir = mbim ? wwan : ctrl + "/mhi0_" + data
        try file(parentDir + "/net/\(name)/type", "519")          // ARPHRD_RAWIP
        try link(parentDir + "/net/\(name)/device", mbim ? "../../../wwan0" : "../../../mhi0_" + data)
        try link("sys/class/net/" + name, "../../\(devices)/mhi0/" + (mbim ? "wwan/wwan0" : "mhi0_" + data) + "/net/" + name)
    }

    // MARK: network namespaces and links (root; these shell out to ip(8): the simulator is
    // a test tool, not the daemon)

    @discardableResult
    public static func run(_ args: [String], quiet: Bool = false) -> (status: Int32, output: String) {
        Subprocess.run(args)
    }

    /// Moves the calling thread into network namespace `name`, creating it when needed.
    /// Returns whether it was created here.
    public static func enterNamespace(_ name: String) throws -> Bool {
        var created = false
        let path = "/run/netns/" + name
        if !FileManager.default.fileExists(atPath: path) {
            let r = run(["ip", "netns", "add", name])
            guard r.status == 0 else { throw QMIError.invalidArgument("ip netns add \(name) failed: \(r.output)") }
            created = true
        }
        let fd = csys_open(path, O_RDONLY, 0)
        guard fd >= 0 else { throw QMIError.system(operation: "open \(path)", errno: csys_errno()) }
        defer { close(fd) }
        guard csys_setns_net(fd) == 0 else { throw QMIError.system(operation: "setns \(name)", errno: csys_errno()) }
        _ = run(["ip", "link", "set", "lo", "up"])
        return created
    }
}

/// A TUN device standing in for the modem's raw-IP netdev. The simulator holds its file
/// descriptor and answers ICMP/ICMPv6 echo requests sent to the gateway addresses, so
/// `ping -I wwan0 <gateway>` proves the data path end to end.
public final class TunDevice {
    public let name: String
    public private(set) var fd: Int32
    var watch = 0
    var loop: EventLoop?
    public var ipv4Gateway: UInt32 = 0
    public var ipv6Gateway: [UInt8] = []
    public private(set) var echoesAnswered = 0
    /// Takes every packet instead of the built-in gateway echo (DataPlane).
    public var onPacket: (([UInt8]) -> Void)?

    /// `ethernet`: a TAP device (Ethernet frames), for netdevs like cdc_mbim's.
    public init(name: String, ethernet: Bool = false) throws {
        self.name = name
        fd = csys_tun_open(name, Int32((ethernet ? IFF_TAP : IFF_TUN) | IFF_NO_PI))
        guard fd >= 0 else { throw QMIError.system(operation: "create TUN device \(name)", errno: csys_errno()) }
        _ = csys_set_nonblocking(fd)
    }

    /// Takes over an already-open TUN file descriptor.
    public init(adopting fd: Int32, name: String) {
        self.name = name
        self.fd = fd
        _ = csys_set_nonblocking(fd)
    }

    deinit { close() }

    public func close() {
        if let l = loop { l.unwatch(watch) }
        loop = nil
        if fd >= 0 { _ = CSystem.close(fd) }
        fd = -1
    }

    public func serve(on loop: EventLoop) {
        self.loop = loop
        watch = loop.watch(fd) { [unowned self] _ in self.drain() }
    }

    func drain() {
        var buf = [UInt8](repeating: 0, count: 65536)
        while fd >= 0 {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            if let handle = onPacket {
                handle(Array(buf[0..<n]))
                continue
            }
            if let reply = TunDevice.echoReply(Array(buf[0..<n]), ipv4: ipv4Gateway, ipv6: ipv6Gateway) {
                echoesAnswered += 1
                write(reply)
            }
        }
    }

    public func write(_ packet: [UInt8]) {
        guard fd >= 0 else { return }
        _ = packet.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
    }

    /// The echo reply for an IPv4 ICMP or IPv6 ICMPv6 echo request addressed to a gateway.
    public static func echoReply(_ p: [UInt8], ipv4: UInt32, ipv6: [UInt8]) -> [UInt8]? {
        guard let first = p.first else { return nil }
        if first >> 4 == 4 {
            let ihl = Int(first & 0x0f) * 4
            guard p.count >= ihl + 8, ihl >= 20, p[9] == 1, p[ihl] == 8 else { return nil }
            let dst = UInt32(p[16]) << 24 | UInt32(p[17]) << 16 | UInt32(p[18]) << 8 | UInt32(p[19])
            guard dst == ipv4 else { return nil }
            var r = p
            for i in 0..<4 { r[12 + i] = p[16 + i]; r[16 + i] = p[12 + i] }
            r[8] = 64
            r[10] = 0; r[11] = 0
            let hc = internetChecksum(r[0..<ihl])
            r[10] = UInt8(hc >> 8); r[11] = UInt8(hc & 0xff)
            r[ihl] = 0
            r[ihl + 2] = 0; r[ihl + 3] = 0
            let cc = internetChecksum(r[ihl...])
            r[ihl + 2] = UInt8(cc >> 8); r[ihl + 3] = UInt8(cc & 0xff)
            return r
        }
        if first >> 4 == 6 {
            guard p.count >= 48, p[6] == 58, p[40] == 128, ipv6.count == 16, Array(p[24..<40]) == ipv6 else { return nil }
            var r = p
            for i in 0..<16 { r[8 + i] = p[24 + i]; r[24 + i] = p[8 + i] }
            r[7] = 64
            r[40] = 129
            r[42] = 0; r[43] = 0
            var pseudo = Array(r[8..<40])
            let len = p.count - 40
            pseudo += [UInt8(len >> 24 & 0xff), UInt8(len >> 16 & 0xff), UInt8(len >> 8 & 0xff), UInt8(len & 0xff), 0, 0, 0, 58]
            let c = internetChecksum((pseudo + r[40...])[...])
            r[42] = UInt8(c >> 8); r[43] = UInt8(c & 0xff)
            return r
        }
        return nil
    }
}

/// 802.3 mode: a veth pair whose near end (`name`) stands in for the modem's Ethernet-mode
/// netdev; the far end lives in its own namespace with the gateway address and dnsmasq
/// handing out the call's address, the way the modem's DHCP server would.
public final class VethLink {
    public let name: String
    public let farNamespace: String
    var dnsmasq: pid_t?
    public let leaseFile: String

    public init(name: String, config: SimConfig, leaseSeconds: Int = 7200) throws {
        self.name = name
        farNamespace = "qsim-far-\(getpid())-\(name)"
        leaseFile = NSTemporaryDirectory() + "\(farNamespace).leases"
        let far = "\(name)-far"
        func sh(_ a: [String]) throws {
            let r = FakeHardware.run(a)
            guard r.status == 0 else { throw QMIError.invalidArgument("\(a.joined(separator: " ")) failed: \(r.output)") }
        }
        try sh(["ip", "netns", "add", farNamespace])
        try sh(["ip", "link", "add", name, "type", "veth", "peer", "name", far, "netns", farNamespace])
        let gw = Text.ipv4(config.ipv4Gateway)
        try sh(["ip", "-n", farNamespace, "addr", "add", "\(gw)/\(config.ipv4Prefix)", "dev", far])
        try sh(["ip", "-n", farNamespace, "link", "set", far, "up"])
        try sh(["ip", "-n", farNamespace, "link", "set", "lo", "up"])
        let ip = Text.ipv4(config.ipv4Address)
        let mask = Text.ipv4(config.ipv4Prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - config.ipv4Prefix))
        let args = ["ip", "netns", "exec", farNamespace, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
                    "--port=0", "--interface=\(far)", "--bind-interfaces", "--dhcp-authoritative", "--no-ping",
                    "--dhcp-range=\(ip),\(ip),\(mask),\(leaseSeconds)", "--dhcp-option=3,\(gw)",
                    "--dhcp-option=6," + config.ipv4DNS.map(Text.ipv4).joined(separator: ","),
                    "--dhcp-option=26,\(config.mtu)", "--dhcp-leasefile=\(leaseFile)", "--pid-file="]
        guard let pid = Subprocess.start(args, outputFD: Subprocess.devNull) else {
            throw QMIError.invalidArgument("cannot start dnsmasq (Debian: dnsmasq-base)")
        }
        dnsmasq = pid
    }

    deinit { remove() }

    public func remove() {
        if let p = dnsmasq { Subprocess.stop(p) }
        dnsmasq = nil
        FakeHardware.run(["ip", "link", "del", name])
        FakeHardware.run(["ip", "netns", "del", farNamespace])
        try? FileManager.default.removeItem(atPath: leaseFile)
    }
}
