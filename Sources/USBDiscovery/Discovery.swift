/// Finds Quectel modems from sysfs: which USB (or PCIe/MHI) device is the modem, which
/// interface carries QMI, its /dev node, its network interface(s) and driver — and says
/// precisely what is wrong when nothing usable is found. The UNISOC/ASR modules that have no
/// QMI are found too: their AT port (a ttyUSBn of the option driver, or UNISOC PCIe's
/// /dev/stty_nr31) and their ECM/NCM/RNDIS (or pcieN) netdev.
import Base
public struct DiscoveryOptions {
    /// Root of the sysfs tree ("/sys"; a fixture directory in tests, or qmi-sim's fake tree).
    public var sysRoot: String
    /// Where device nodes live ("/dev").
    public var devRoot: String
    /// Where to look for a running ModemManager ("/proc").
    public var procRoot: String

    public init(sysRoot: String = "/sys", devRoot: String = "/dev", procRoot: String = "/proc") {
        self.sysRoot = sysRoot
        self.devRoot = devRoot
        self.procRoot = procRoot
    }
}

/// How qcm controls a modem: QMI, MBIM, or AT commands on a tty.
public enum ControlProtocol: Equatable {
    case qmi
    case mbim
    case at

    /// "qmi", "mbim", "at" (qcm list --json).
    public var name: String {
        switch self {
        case .qmi: return "qmi"
        case .mbim: return "mbim"
        case .at: return "at"
        }
    }
}

public enum ModemMode: Equatable {
    case qmi
    case mbim
    case ecm
    case ncm
    case rndis
    /// UNISOC PCIe modules: the pcieN netdevs beside sipa_dummy0 (UNISOC's SIPA driver),
    /// controlled by AT commands on /dev/stty_nr31.
    case sipa
    /// A QMI-capable interface with no driver bound to it.
    case noDriver
    case unknown

    public var name: String {
        switch self {
        case .qmi: return "QMI"
        case .mbim: return "MBIM"
        case .ecm: return "ECM"
        case .ncm: return "NCM"
        case .rndis: return "RNDIS"
        case .sipa: return "SIPA"
        case .noDriver: return "no driver"
        case .unknown: return "unknown"
        }
    }
}

/// A class: scan results, errors and the daemon share one record per modem instead of
/// copying seventeen fields around.
public final class Modem {
    /// "usb" or "pcie".
    public var bus: String
    /// sysfs name: "2-1.2" (USB) or "0306_00.01.00" (MHI).
    public var sysfsName: String
    public var sysfsPath: String
    public var vendorID: UInt16
    public var productID: UInt16
    public var busNumber: Int?
    public var deviceNumber: Int?
    public var model: String
    public var mode: ModemMode
    /// The interface carrying QMI (or MBIM/ECM...), e.g. "2-1.2:1.4".
    public var interface: String?
    public var driver: String?
    public var driverVersion: String?
    /// QMI channel node as seen under the dev root, e.g. "/dev/cdc-wdm0".
    public var controlDevice: String?
    public var netInterfaces: [String]
    /// From qmi_wwan's qmi/raw_ip; nil when the driver does not say.
    public var rawIP: Bool?
    /// qmi_wwan_q / GobiNet / pcie_mhi qmap_mode (0 none, 1 aggregation, >1 muxing).
    public var qmapMode: Int?
    /// qmi_wwan offers qmi/add_mux (QMAP muxing through qmimuxN).
    public var addMux: Bool
    /// qmi_wwan offers qmi/pass_through (QMAP frames handed to rmnet; Linux 5.12+).
    public var passThrough = false
    /// qmi_wwan_q / pcie_mhi: the QMAP aggregation buffer (qmap_size), in bytes.
    public var qmapSize: Int?
    /// The USB interface number of the QMI interface (the endpoint WDA and Bind Mux name).
    public var interfaceNumber: Int?
    /// Problems found while reading this device (unreadable attributes, missing nodes).
    public var warnings: [String]
    /// A module qcm dials with AT commands: a UNISOC/ASR module (QuectelModels.atInterfaces)
    /// whose network function is ECM, NCM or RNDIS, or a UNISOC PCIe module. Set even when
    /// the AT port is missing, so that the error says what to do.
    public var speaksAT = false
    /// The AT port as seen under the dev root: "/dev/ttyUSB2" (option), "/dev/ttyACM0"
    /// (cdc-acm), "/dev/stty_nr31" (UNISOC PCIe); nil when the AT interface has no tty.
    public var atPort: String?
    /// `atPort` exists under the dev root (when it does not, a warning says how to make it).
    public var atPortExists = false
    /// The USB interface number of the AT port, from QuectelModels.atInterfaces.
    public var atInterfaceNumber: Int?
    /// That interface's sysfs name, e.g. "1-1.2:1.2"; nil when the device has no such interface.
    public var atInterface: String?
    /// The driver bound to that interface ("option"); nil when none is.
    public var atInterfaceDriver: String?
    /// A PCIe module on the upstream kernel's MHI and WWAN drivers (mhi_pci_generic): its
    /// controller, channels, WWAN device and ports. nil for USB modules and pcie_mhi.
    public var wwan: WWANInfo?
    /// Quectel's pcie_mhi: the children it made for its qmap_mode, rmnet_mhi0.1 …
    /// rmnet_mhi0.N (each carries one QMAP mux, or with mhi_mbim_enabled one MBIM session);
    /// empty for every other driver.
    public var qmapChildren: [String] = []

    public init(bus: String, sysfsName: String, sysfsPath: String, vendorID: UInt16, productID: UInt16,
                busNumber: Int?, deviceNumber: Int?, model: String, mode: ModemMode, interface: String?,
                driver: String?, driverVersion: String?, controlDevice: String?, netInterfaces: [String],
                rawIP: Bool?, qmapMode: Int?, addMux: Bool, warnings: [String]) {
        self.bus = bus
        self.sysfsName = sysfsName
        self.sysfsPath = sysfsPath
        self.vendorID = vendorID
        self.productID = productID
        self.busNumber = busNumber
        self.deviceNumber = deviceNumber
        self.model = model
        self.mode = mode
        self.interface = interface
        self.driver = driver
        self.driverVersion = driverVersion
        self.controlDevice = controlDevice
        self.netInterfaces = netInterfaces
        self.rawIP = rawIP
        self.qmapMode = qmapMode
        self.addMux = addMux
        self.warnings = warnings
    }

    /// qcm can dial it: it has the control channel (QMI/MBIM node or AT port) and a netdev.
    public var usable: Bool {
        switch control {
        case .qmi?, .mbim?: return controlDevice != nil && !netInterfaces.isEmpty
        case .at?: return atPort != nil && !netInterfaces.isEmpty
        case nil: return false
        }
    }
    /// An MBIM function with cdc_mbim bound, an upstream WWAN modem whose data channel
    /// carries MBIM sessions, or a PCIe module on Quectel's pcie_mhi loaded with
    /// mhi_mbim_enabled=1 (its MBIM channel, /dev/mhi_MBIM): qcm dials it over MBIM.
    public var speaksMBIM: Bool { mode == .mbim && (driver?.equals("cdc_mbim") == true || wwan != nil || isPCIeMHI) }
    /// A PCIe module on Quectel's pcie_mhi (rmnet_mhi0, /dev/mhi_QMI0 or /dev/mhi_MBIM).
    public var isPCIeMHI: Bool { wwan == nil && bus.equals("pcie") && driver?.equals("pcie_mhi") == true }
    /// How qcm would control it; nil when it cannot (another mode, no driver).
    public var control: ControlProtocol? {
        if mode == .qmi { return .qmi }
        if speaksMBIM { return .mbim }
        if speaksAT { return .at }
        return nil
    }
    public var netInterface: String? { netInterfaces.first }

    public var idString: String { "\(QuectelModels.hex4(vendorID)):\(QuectelModels.hex4(productID))" }

    /// One line: "EC25/EC20 R2.x (EC2x/EG2x) 2c7c:0125 at usb 2-1.2: QMI, driver qmi_wwan, /dev/cdc-wdm0, wwan0",
    /// "EC200U 2c7c:0901 at usb 1-1.2: NCM, driver cdc_ncm, AT port /dev/ttyUSB0, usb0".
    /// A UNISOC PCIe module has no ids to show (vendor 0).
    public var summary: String {
        var s = model + (vendorID == 0 ? "" : " " + idString) + " at \(bus) \(sysfsName): \(mode.name)"
        if let d = driver { s += ", driver \(d)" }
        if let c = controlDevice { s += ", \(c)" }
        if let a = atPort { s += ", AT port \(a)" }
        if !netInterfaces.isEmpty { s += ", " + netInterfaces.joined(separator: "/") }
        return s
    }
}

public struct ScanResult {
    public var modems: [Modem]
    /// The places looked at, for "nothing found" messages.
    public var looked: [String]
    public var modemManagerRunning: Bool
}

public enum DiscoveryError: Error {
    case noModem(looked: [String], modemManager: Bool)
    case notQMI(Modem, modemManager: Bool)
    case ambiguous([Modem])
    case noSuchInterface(String, [Modem])
    case noSuchDevice(String, [Modem])
    case notUsable(Modem)
    /// A module qcm dials with AT commands whose AT interface has no tty (or is not there).
    case noATPort(Modem)
    /// --device names a port of an upstream WWAN modem that qcm does not dial over (its AT
    /// port, or the MBIM port of a modem whose data channel is mhi_net's): why, and which to use.
    case wrongPort(String)

    public var description: String {
        switch self {
        case let .noModem(looked, mm):
            var s = "no Quectel modem found. Looked at: " + looked.joined(separator: "; ") + "."
            s += "\nUsual causes: the modem is not powered or not enumerated (check lsusb and dmesg);"
            s += " the QMI driver is not loaded (modprobe qmi_wwan, or build Quectel's qmi_wwan_q/GobiNet);"
            s += " the modem is in MBIM/ECM/RNDIS mode (AT+QCFG=\"usbnet\",0 switches it to QMI, then reset it);"
            s += " a PCIe module needs the upstream mhi_pci_generic with mhi_wwan_ctrl and mhi_net or mhi_wwan_mbim, or Quectel's pcie_mhi."
            if mm { s += "\nModemManager is running and may hold the modem: stop it (systemctl stop ModemManager)." }
            return s
        case let .notQMI(m, mm):
            var s = "\(m.model) \(m.idString) at \(m.bus) \(m.sysfsName) "
            if m.wwan != nil {
                // An upstream WWAN modem with neither a QMI nor an MBIM function to dial.
                return s + "cannot be dialed: " + m.warnings.joined(separator: "; ")
                    + (mm ? ". ModemManager is running and may have claimed the modem: stop it (systemctl stop ModemManager)." : "")
            }
            if m.isPCIeMHI {
                // pcie_mhi's IP_HW0 channel with its netdev, but no control channel node.
                return s + "has no control channel: pcie_mhi made neither /dev/mhi_QMI0 nor /dev/mhi_MBIM (mhi_uci_q under \(m.sysfsName)_QMI0 or _MBIM); the module may still be booting"
                    + (mm ? ". ModemManager is running and may have claimed the modem: stop it (systemctl stop ModemManager)." : "")
            }
            switch m.mode {
            case .noDriver:
                s += "has a QMI interface (\(m.interface ?? "?")) but no driver is bound to it:"
                s += " load qmi_wwan (modprobe qmi_wwan) or Quectel's qmi_wwan_q/GobiNet driver."
            case .unknown:
                s += "exposes no QMI interface qcm recognises (interfaces present but none bound to qmi_wwan, qmi_wwan_q or GobiNet)."
            case .mbim:
                s += "works in MBIM mode but cdc_mbim is not bound to it (driver \(m.driver ?? "none")): load it (modprobe cdc_mbim)."
            default:
                // ECM/NCM/RNDIS of a module qcm does not dial by AT (a Qualcomm one, or an unknown id).
                s += "works in \(m.mode.name) mode (driver \(m.driver ?? "none")). "
                if QuectelModels.isKnown(vendor: m.vendorID, product: m.productID) {
                    s += "qcm speaks QMI and MBIM to this module:"
                } else {
                    s += "qcm does not know product id \(m.idString), so not its AT port either;"
                    s += " it dials with AT commands only the modules that have no QMI (\(QuectelModels.atModules))"
                    s += " and speaks QMI and MBIM to the others:"
                }
                s += " send AT+QCFG=\"usbnet\",0 (QMI) or 2 (MBIM) on the modem's AT port and reset it."
                s += " Naming its tty with --device /dev/ttyUSBn is not enough: qcm does not dial this module with AT commands."
            }
            if mm { s += " ModemManager is running and may have claimed the modem: stop it (systemctl stop ModemManager)." }
            return s
        case let .ambiguous(ms):
            return "several modems found; choose one with -i IFACE or --device PATH:\n" + ms.map { "  " + $0.summary }.joined(separator: "\n")
        case let .noSuchInterface(i, ms):
            return "no modem owns network interface '\(i)'" + found(ms)
        case let .noSuchDevice(d, ms):
            return "no modem has the QMI/MBIM channel or AT port '\(d)'" + found(ms)
        case let .notUsable(m):
            var missing: [String] = []
            if m.wwan != nil {
                let type = m.mode == .mbim ? "MBIM" : "QMI"
                if m.controlDevice == nil { missing.append("no \(type) port (/dev/wwanN\(type == "MBIM" ? "mbim" : "qmi")0)") }
                if m.netInterfaces.isEmpty { missing.append("no network interface") }
            } else if m.speaksAT {
                if m.atPort == nil { missing.append("no AT port") }
                if m.netInterfaces.isEmpty { missing.append("no network interface: " + Discovery.netdevMissing(m)) }
            } else {
                if m.controlDevice == nil { missing.append("no QMI channel (cdc-wdm/qcqmi node) under \(m.interface ?? m.sysfsName)") }
                if m.netInterfaces.isEmpty { missing.append("no network interface") }
            }
            return "\(m.summary): " + missing.joined(separator: " and ") + (m.warnings.isEmpty ? "" : " (" + m.warnings.joined(separator: "; ") + ")")
        case let .wrongPort(why):
            return why
        case let .noATPort(m):
            var s = "\(m.summary): " + Discovery.atPortMissing(m)
            if m.netInterfaces.isEmpty { s += ". It has no network interface either: " + Discovery.netdevMissing(m) }
            let others = m.warnings.filter { !$0.equals(Discovery.atPortMissing(m)) }
            return s + (others.isEmpty ? "" : " (" + others.joined(separator: "; ") + ")")
        }
    }

    private func found(_ ms: [Modem]) -> String {
        ms.isEmpty ? "; no modem was found at all" : "; found:\n" + ms.map { "  " + $0.summary }.joined(separator: "\n")
    }
}

public enum Discovery {
    static let qmiDrivers = ["qmi_wwan", "qmi_wwan_q", "GobiNet"]

    public static func scan(_ o: DiscoveryOptions = DiscoveryOptions()) -> ScanResult {
        var looked: [String] = []
        var modems = scanUSB(o, &looked)
        let wwan = scanWWAN(o, &looked)
        let mhi = scanMHI(o, &looked, upstream: !wwan.isEmpty)
        modems += wwan + mhi
        if mhi.isEmpty && wwan.isEmpty { modems += scanUNISOCPCIe(o, &looked) }
        return ScanResult(modems: modems, looked: looked,
                          modemManagerRunning: Sysfs.processRunning(named: "ModemManager", procRoot: o.procRoot))
    }

    /// Picks the modem to dial: by network interface (-i), by QMI/MBIM channel or AT port
    /// (--device, the full path or its last component), or the only usable one.
    public static func select(_ r: ScanResult, interface: String? = nil, device: String? = nil) throws(DiscoveryError) -> Modem {
        if let iface = interface {
            guard let m = r.modems.first(where: { owns($0, iface) }) else { throw .noSuchInterface(iface, r.modems) }
            return try usable(m, r)
        }
        if let dev = device {
            if let why = r.modems.lazy.compactMap({ wrongPort($0, dev) }).first { throw .wrongPort(why) }
            guard let m = r.modems.first(where: { names($0.controlDevice, dev) || names($0.atPort, dev) }) else {
                // A tty given for the one module in ECM/NCM/RNDIS mode that qcm does not dial by
                // AT: say why (notQMI), not just "no such device".
                let other = r.modems.filter { $0.control == nil && ($0.mode == .ecm || $0.mode == .ncm || $0.mode == .rndis) }
                if other.count == 1 && Sysfs.basename(dev).begins(with: "tty") { throw .notQMI(other[0], modemManager: r.modemManagerRunning) }
                throw .noSuchDevice(dev, r.modems)
            }
            return try usable(m, r)
        }
        let good = r.modems.filter { $0.usable }
        if good.count == 1 { return good[0] }
        if good.count > 1 { throw .ambiguous(good) }
        if let m = r.modems.first { return try usable(m, r) }
        throw .noModem(looked: r.looked, modemManager: r.modemManagerRunning)
    }

    static func usable(_ m: Modem, _ r: ScanResult) throws(DiscoveryError) -> Modem {
        if m.control == nil { throw .notQMI(m, modemManager: r.modemManagerRunning) }
        if m.speaksAT && m.atPort == nil { throw .noATPort(m) }
        if !m.usable { throw .notUsable(m) }
        return m
    }

    /// `node` ("/dev/cdc-wdm0", "/dev/ttyUSB2") is what --device names, in full or by its last component.
    static func names(_ node: String?, _ device: String) -> Bool {
        guard let n = node else { return false }
        return n.equals(device) || Sysfs.basename(n).equals(Sysfs.basename(device))
    }

    /// wwan0 owns wwan0, and its QMAP children wwan0.1 / wwan0_1 / qmimux0.
    static func owns(_ m: Modem, _ iface: String) -> Bool {
        for n in m.netInterfaces {
            if n.equals(iface) || iface.begins(with: n + ".") || iface.begins(with: n + "_") { return true }
        }
        return m.addMux && iface.begins(with: "qmimux")
    }

    // MARK: USB

    final class Interface {
        let name: String
        let path: String
        let number: Int?
        let cls: Int?, sub: Int?, proto: Int?
        var driver: String?
        var control: String?
        var net: [String] = []
        var controlUevent: String?

        init(name: String, path: String, number: Int?, cls: Int?, sub: Int?, proto: Int?) {
            self.name = name
            self.path = path
            self.number = number
            self.cls = cls
            self.sub = sub
            self.proto = proto
        }
    }

    static func scanUSB(_ o: DiscoveryOptions, _ looked: inout [String]) -> [Modem] {
        let root = o.sysRoot + "/bus/usb/devices"
        guard let entries = Sysfs.list(root) else {
            looked.append("\(root) (missing: is sysfs mounted?)")
            return []
        }
        var modems: [Modem] = []
        var devices = 0
        var unreadable: [String] = []
        for e in entries where !e.utf8.contains(58) && !e.begins(with: "usb") {   // no ":"
            let path = root + "/" + e
            guard Sysfs.exists(path + "/idVendor") else { continue }
            devices += 1
            guard let vendor = Sysfs.hex(path + "/idVendor"), vendor <= 0xffff else {
                unreadable.append("\(e)/idVendor")
                continue
            }
            let product = Sysfs.hex(path + "/idProduct")
            guard vendor == 0x2c7c || (vendor == 0x05c6 && product == 0x9215) else { continue }
            let m = Modem(bus: "usb", sysfsName: e, sysfsPath: path, vendorID: UInt16(vendor),
                          productID: UInt16(truncatingIfNeeded: product ?? 0), busNumber: Sysfs.decimal(path + "/busnum"),
                          deviceNumber: Sysfs.decimal(path + "/devnum"), model: "", mode: .unknown, interface: nil,
                          driver: nil, driverVersion: nil, controlDevice: nil, netInterfaces: [], rawIP: nil,
                          qmapMode: nil, addMux: false, warnings: [])
            if product == nil {
                m.warnings.append("\(path)/idProduct is unreadable or not hex")
            }
            m.model = QuectelModels.name(vendor: m.vendorID, product: m.productID)
            let interfaces = entries.filter { $0.begins(with: e + ":") }.map { readInterface(root + "/" + $0, name: $0, m) }
            classify(m, interfaces, o)
            modems.append(m)
        }
        var note = "\(root) (\(devices) USB device(s), \(modems.count) Quectel"
        if !unreadable.isEmpty { note += "; unreadable: " + unreadable.joined(separator: ", ") }
        looked.append(note + ")")
        return modems
    }

    static func readInterface(_ path: String, name: String, _ m: Modem) -> Interface {
        let i = Interface(name: name, path: path, number: Sysfs.hex(path + "/bInterfaceNumber"),
                          cls: Sysfs.hex(path + "/bInterfaceClass"), sub: Sysfs.hex(path + "/bInterfaceSubClass"),
                          proto: Sysfs.hex(path + "/bInterfaceProtocol"))
        if Sysfs.exists(path + "/bInterfaceClass") && i.cls == nil {
            m.warnings.append("\(name)/bInterfaceClass is unreadable or not hex")
        }
        if let link = Sysfs.readlink(path + "/driver") { i.driver = Sysfs.basename(link) }
        for sub in ["usbmisc", "GobiQMI", "usb"] {
            if let kids = Sysfs.list(path + "/" + sub), let first = kids.first(where: { isControlNode($0) }) {
                i.control = first
                i.controlUevent = path + "/" + sub + "/" + first + "/uevent"
                break
            }
        }
        i.net = Sysfs.list(path + "/net") ?? []
        // Old kernels (2.6.x) flatten children into "net:usb0" and "GobiQMI:qcqmi0" entries.
        for entry in Sysfs.list(path) ?? [] {
            if entry.begins(with: "net:") { i.net.append(String(decoding: entry.utf8.dropFirst(4), as: UTF8.self)) }
            if i.control == nil, entry.begins(with: "GobiQMI:") || entry.begins(with: "usbmisc:"),
               let colon = entry.utf8.firstIndex(of: 58) {
                i.control = String(decoding: entry.utf8[entry.utf8.index(after: colon)...], as: UTF8.self)
            }
        }
        return i
    }

    static func isControlNode(_ n: String) -> Bool {
        n.begins(with: "cdc-wdm") || n.begins(with: "qcqmi") || n.begins(with: "mhi_")
    }

    static func classify(_ m: Modem, _ interfaces: [Interface], _ o: DiscoveryOptions) {
        // 1. A QMI driver bound to an interface.
        var chosen = interfaces.first { i in i.driver.map { d in qmiDrivers.contains { $0.equals(d) } } ?? false }
        var mode = ModemMode.qmi
        if chosen == nil {
            // 2. Other network functions.
            for i in interfaces {
                guard let d = i.driver else { continue }
                if d.equals("cdc_mbim") { mode = .mbim } else if d.equals("cdc_ether") { mode = .ecm }
                else if d.equals("cdc_ncm") { mode = .ncm } else if d.equals("rndis_host") { mode = .rndis } else { continue }
                chosen = i
                break
            }
        }
        if chosen == nil {
            // 3. Driverless interfaces: a vendor-specific ff/ff/ff function that is not a
            //    serial port (option binds those) is the QMI one; 02/0e is MBIM.
            if let i = interfaces.first(where: { $0.driver == nil && $0.cls == 0xff && $0.sub == 0xff && $0.proto == 0xff && ($0.number ?? 0) >= 4 }) {
                chosen = i
                mode = .noDriver
            } else if let i = interfaces.first(where: { $0.driver == nil && $0.cls == 0x02 && $0.sub == 0x0e }) {
                chosen = i
                mode = .mbim
            } else if let i = interfaces.first(where: { $0.driver == nil && netFunction($0) != nil }), let f = netFunction(i) {
                chosen = i
                mode = f
            } else {
                mode = .unknown
            }
        }
        m.mode = mode
        guard let i = chosen else { return }
        m.interface = i.name
        m.interfaceNumber = i.number
        m.driver = i.driver
        if let d = i.driver {
            m.driverVersion = Sysfs.read(o.sysRoot + "/module/\(d)/version")
        } else if mode != .noDriver && mode != .unknown {
            m.warnings.append("\(i.name)/driver link is missing")
        }
        // Net devices: the chosen interface's, else any interface's (MBIM data interface).
        m.netInterfaces = i.net.isEmpty ? interfaces.flatMap { $0.net } : i.net
        if let c = i.control ?? interfaces.compactMap({ $0.control }).first {
            let node = o.devRoot + "/" + c
            m.controlDevice = node
            if !Sysfs.exists(node) { m.warnings.append(missingNode(node, uevent: i.controlUevent)) }
        }
        if let d = i.driver, let n = m.netInterfaces.first {
            readNetAttributes(m, net: n, driver: d, o)
        }
        if mode == .ecm || mode == .ncm || mode == .rndis { findATPort(m, interfaces, o) }
    }

    /// A CDC network function by its class triple, for an interface no driver is bound to:
    /// 02/06 ECM (cdc_ether), 02/0d NCM (cdc_ncm), and the triples rndis_host binds: e0/01/03,
    /// 02/02/ff and ef/04/01 (quectel-CM knows only e0/01/03).
    static func netFunction(_ i: Interface) -> ModemMode? {
        switch (i.cls, i.sub, i.proto) {
        case (0x02?, 0x06?, _): return .ecm
        case (0x02?, 0x0d?, _): return .ncm
        case (0xe0?, 0x01?, 0x03?), (0x02?, 0x02?, 0xff?), (0xef?, 0x04?, 0x01?): return .rndis
        default: return nil
        }
    }

    /// "/dev/cdc-wdm0 does not exist (udev not running? create it: mknod /dev/cdc-wdm0 c 180 176)".
    static func missingNode(_ node: String, uevent: String?) -> String {
        var w = "\(node) does not exist"
        if let ue = uevent, let text = Sysfs.read(ue), let mj = field(text, "MAJOR"), let mn = field(text, "MINOR") {
            w += " (udev not running? create it: mknod \(node) c \(mj) \(mn))"
        }
        return w
    }

    // MARK: AT port (UNISOC/ASR modules in ECM/NCM/RNDIS mode)

    /// The tty of the interface QuectelModels.atInterfaces names, as quectel-CM finds it.
    static func findATPort(_ m: Modem, _ interfaces: [Interface], _ o: DiscoveryOptions) {
        guard let n = QuectelModels.atInterface(vendor: m.vendorID, product: m.productID, rndis: m.mode == .rndis) else { return }
        m.speaksAT = true
        m.atInterfaceNumber = n
        guard let i = interfaces.first(where: { $0.number == n }) else {
            m.warnings.append(atPortMissing(m))
            return
        }
        m.atInterface = i.name
        m.atInterfaceDriver = i.driver
        guard let tty = ttyChild(i.path) else {
            m.warnings.append(atPortMissing(m))
            return
        }
        let node = o.devRoot + "/" + tty.name
        m.atPort = node
        m.atPortExists = Sysfs.exists(node)
        if !m.atPortExists { m.warnings.append(missingNode(node, uevent: tty.uevent)) }
    }

    /// The first `tty*` child of an interface: usb-serial's `<intf>/ttyUSBn` (its class device,
    /// with the uevent, is `ttyUSBn/tty/ttyUSBn`), cdc-acm's `<intf>/tty/ttyACMn`, or 2.6's flat
    /// `<intf>/tty:ttyACMn`.
    static func ttyChild(_ path: String) -> (name: String, uevent: String)? {
        for e in Sysfs.list(path) ?? [] where e.begins(with: "tty") {
            if e.equals("tty") {
                guard let k = Sysfs.list(path + "/tty")?.first(where: { $0.begins(with: "tty") }) else { continue }
                return (k, path + "/tty/" + k + "/uevent")
            }
            if e.begins(with: "tty:") { return (String(decoding: e.utf8.dropFirst(4), as: UTF8.self), path + "/" + e + "/uevent") }
            return (e, path + "/" + e + "/tty/" + e + "/uevent")
        }
        return nil
    }

    /// Why a module dialed by AT has no AT port, and what to do (a warning, and `noATPort`).
    static func atPortMissing(_ m: Modem) -> String {
        let n = m.atInterfaceNumber.map { "\($0)" } ?? "?"
        guard let i = m.atInterface else {
            return "its AT port should be USB interface \(n) (quectel-CM's number for \(m.idString) in \(m.mode.name) mode), which \(m.sysfsName) does not have"
        }
        var s = "its AT port, USB interface \(n) (\(i)), has no tty: "
        if let d = m.atInterfaceDriver {
            s += d.equals("option") ? "option is bound to it but made no ttyUSB" : "\(d) is bound to it, not option"
        } else {
            s += "the option driver is not bound to it"
        }
        s += ". Mainline option.c lacks 2c7c:0902 and 2c7c:8101 (and older kernels the newer ids);"
        s += " give option the id: modprobe option; echo 2c7c \(QuectelModels.hex4(m.productID)) ff > /sys/bus/usb-serial/drivers/option1/new_id"
        return s
    }

    /// Why a module dialed by AT has no netdev.
    static func netdevMissing(_ m: Modem) -> String {
        if m.mode == .sipa {
            return "\(m.sysfsName) and \(m.atPort ?? "its AT port") are there but no pcieN netdev is beside \(m.sysfsPath)"
        }
        let driver = m.mode == .ecm ? "cdc_ether" : m.mode == .ncm ? "cdc_ncm" : "rndis_host"
        guard let d = m.driver else {
            return "no driver is bound to its \(m.mode.name) function (\(m.interface ?? m.sysfsName)): load \(driver) (modprobe \(driver))"
        }
        return "\(d) is bound to \(m.interface ?? m.sysfsName) but it made no netdev"
    }

    static func field(_ uevent: String, _ key: String) -> String? {
        let k = key + "="
        for line in uevent.utf8.split(separator: 10) where line.starts(with: k.utf8) {
            return String(decoding: line.dropFirst(k.utf8.count), as: UTF8.self)
        }
        return nil
    }

    static func readNetAttributes(_ m: Modem, net: String, driver: String, _ o: DiscoveryOptions) {
        let base = o.sysRoot + "/class/net/" + net
        if let raw = Sysfs.read(base + "/qmi/raw_ip") {
            let u = Array(raw.utf8)
            if u.count == 1 && (u[0] == 89 || u[0] == 121 || u[0] == 49) { m.rawIP = true }            // Y y 1
            else if u.count == 1 && (u[0] == 78 || u[0] == 110 || u[0] == 48) { m.rawIP = false }     // N n 0
            else { m.warnings.append("\(base)/qmi/raw_ip holds '\(raw)', expected Y or N") }
        }
        m.addMux = Sysfs.exists(base + "/qmi/add_mux")
        m.passThrough = Sysfs.exists(base + "/qmi/pass_through")
        m.qmapSize = Sysfs.decimal(base + "/qmap_size")
        for p in [base + "/qmap_mode", o.sysRoot + "/module/\(driver)/parameters/qmap_mode"] {
            if Sysfs.exists(p) {
                if let v = Sysfs.decimal(p) { m.qmapMode = v } else { m.warnings.append("\(p) is not a number") }
                break
            }
        }
    }

    // MARK: PCIe (MHI)

    /// Quectel PCIe modules under Quectel's pcie_mhi driver: the IP_HW0 channel carries the
    /// netdev (rmnet_mhi0), the QMI0 channel the control node (/dev/mhi_QMI0) — or, with the
    /// driver loaded with mhi_mbim_enabled=1, the MBIM channel (/dev/mhi_MBIM: the driver
    /// then configures MBIM and no QMI channel, and its children carry MBIM sessions).
    /// The upstream MHI core's channels ("mhi0_IP_HW0") are scanWWAN's, not this driver's.
    static func scanMHI(_ o: DiscoveryOptions, _ looked: inout [String], upstream: Bool = false) -> [Modem] {
        var modems: [Modem] = []
        for bus in ["mhi_q", "mhi"] {
            let root = o.sysRoot + "/bus/\(bus)/devices"
            guard let entries = Sysfs.list(root) else { continue }
            if !(bus.equals("mhi") && upstream) { looked.append(root) }
            for e in entries where e.ends(with: "_IP_HW0") {
                let prefix = String(decoding: e.utf8.dropLast("_IP_HW0".utf8.count), as: UTF8.self)
                if isMHIController(prefix) { continue }
                let net = Sysfs.list(root + "/" + e + "/net") ?? []
                guard !net.isEmpty else { continue }
                var control: String?
                var uevent: String?
                for ch in ["_QMI0", "_MBIM"] {
                    let dir = root + "/" + prefix + ch + "/mhi_uci_q"
                    if let kids = Sysfs.list(dir), let k = kids.first {
                        control = k
                        uevent = dir + "/" + k + "/uevent"
                        break
                    }
                }
                let driver = "pcie_mhi"
                let m = Modem(bus: "pcie", sysfsName: prefix, sysfsPath: root + "/" + e, vendorID: 0x17cb,
                              productID: UInt16(truncatingIfNeeded: Sysfs.parse(String(decoding: prefix.utf8.prefix(4), as: UTF8.self), base: 16) ?? 0),
                              busNumber: nil, deviceNumber: nil, model: "PCIe (MHI) module \(prefix)",
                              mode: control.map { $0.ends(with: "MBIM") ? .mbim : .qmi } ?? .unknown, interface: e,
                              driver: driver, driverVersion: Sysfs.read(o.sysRoot + "/module/\(driver)/version"),
                              controlDevice: control.map { o.devRoot + "/" + $0 }, netInterfaces: net, rawIP: nil,
                              qmapMode: nil, addMux: false, warnings: [])
                if let node = m.controlDevice, !Sysfs.exists(node) { m.warnings.append(missingNode(node, uevent: uevent)) }
                readMHINet(m, o)
                modems.append(m)
            }
        }
        // quectel-CM's fallback: the netdev and node exist without an MHI bus listing.
        if modems.isEmpty && !upstream && Sysfs.exists(o.sysRoot + "/class/net/rmnet_mhi0") {
            for (node, mode) in [("mhi_QMI0", ModemMode.qmi), ("mhi_MBIM", .mbim)] where Sysfs.exists(o.devRoot + "/" + node) {
                let m = Modem(bus: "pcie", sysfsName: "rmnet_mhi0", sysfsPath: o.sysRoot + "/class/net/rmnet_mhi0",
                              vendorID: 0x17cb, productID: 0, busNumber: nil, deviceNumber: nil, model: "PCIe (MHI) module",
                              mode: mode, interface: nil, driver: "pcie_mhi",
                              driverVersion: Sysfs.read(o.sysRoot + "/module/pcie_mhi/version"),
                              controlDevice: o.devRoot + "/" + node, netInterfaces: ["rmnet_mhi0"], rawIP: nil,
                              qmapMode: nil, addMux: false, warnings: [])
                readMHINet(m, o)
                modems.append(m)
                break
            }
        }
        if modems.isEmpty && !upstream { looked.append("\(o.sysRoot)/bus/mhi_q and \(o.sysRoot)/bus/mhi (no PCIe module)") }
        return modems
    }

    /// pcie_mhi's qmap_mode and qmap_size, and the children it made for them
    /// (rmnet_mhi0.1 … rmnet_mhi0.N); in MBIM mode what the driver lacks to carry a session.
    static func readMHINet(_ m: Modem, _ o: DiscoveryOptions) {
        guard let parent = m.netInterface else { return }
        readNetAttributes(m, net: parent, driver: "pcie_mhi", o)
        m.qmapChildren = (Sysfs.list(o.sysRoot + "/class/net") ?? []).filter { n in
            n.begins(with: parent + ".") && n.utf8.count > parent.utf8.count + 1 && n.utf8.dropFirst(parent.utf8.count + 1).allSatisfy(Sysfs.isDigit)
        }
        guard m.mode == .mbim, let mode = m.qmapMode else { return }
        if mode == 0 {
            m.warnings.append("pcie_mhi runs qmap_mode 0, which with mhi_mbim_enabled makes no \(parent).N to carry an MBIM session: load it with qmap_mode=1 (its default) or more")
            return
        }
        let missing = (1...min(mode, 16)).map { "\(parent).\($0)" }.filter { c in !m.qmapChildren.contains { $0.equals(c) } }
        if !missing.isEmpty {
            m.warnings.append("pcie_mhi runs qmap_mode \(mode) but " + missing.joined(separator: ", ") + (missing.count == 1 ? " is" : " are") + " missing")
        }
    }

    // MARK: PCIe (UNISOC)

    /// UNISOC PCIe modules, found as quectel-CM's atdevice_detect finds them: /sys/class/net/
    /// sipa_dummy0 and /dev/stty_nr31 both exist. AT commands go to /dev/stty_nr31; each PDN's
    /// data goes over its own pcieN netdev (quectel-CM runs DHCP on pcie<cid-1>).
    /// sipa_dummy0 is not among the netdevs: it is the SIPA driver's receive (NAPI) device,
    /// carries no address and no one runs DHCP on it, so listing it first would make it the
    /// netdev qcm configures. It is the modem's sysfs name instead.
    static func scanUNISOCPCIe(_ o: DiscoveryOptions, _ looked: inout [String]) -> [Modem] {
        let dummy = o.sysRoot + "/class/net/sipa_dummy0"
        let tty = o.devRoot + "/stty_nr31"
        let hasDummy = Sysfs.exists(dummy), hasTTY = Sysfs.exists(tty)
        guard hasDummy && hasTTY else {
            if hasDummy { looked.append("\(dummy) (a UNISOC PCIe module, but \(tty) does not exist)") }
            if hasTTY { looked.append("\(tty) (a UNISOC PCIe AT port, but \(dummy) does not exist)") }
            return []
        }
        let net = (Sysfs.list(o.sysRoot + "/class/net") ?? []).filter { n in
            n.begins(with: "pcie") && n.utf8.count > 4 && n.utf8.dropFirst(4).allSatisfy(Sysfs.isDigit)
        }
        let driver = Sysfs.readlink(o.sysRoot + "/class/net/" + (net.first ?? "sipa_dummy0") + "/device/driver").map(Sysfs.basename)
        let m = Modem(bus: "pcie", sysfsName: "sipa_dummy0", sysfsPath: dummy, vendorID: 0, productID: 0,
                      busNumber: nil, deviceNumber: nil, model: "UNISOC PCIe module", mode: .sipa, interface: nil,
                      driver: driver, driverVersion: driver.flatMap { Sysfs.read(o.sysRoot + "/module/\($0)/version") },
                      controlDevice: nil, netInterfaces: net, rawIP: nil, qmapMode: nil, addMux: false, warnings: [])
        m.speaksAT = true
        m.atPort = tty
        m.atPortExists = true
        return [m]
    }
}
