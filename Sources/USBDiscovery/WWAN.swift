import Base

/// A port of the kernel's WWAN subsystem (class `wwan`, wwan_core): /dev/wwan0qmi0 is
/// ("wwan0qmi0", "QMI").
public struct WWANPort {
    public let name: String
    /// The port's `type` attribute: AT, MBIM, QMI, QCDM, FIREHOSE, ...
    public let type: String
    /// Its character device under the dev root.
    public let node: String
}

/// What the upstream kernel shows of a PCIe modem driven by mhi_pci_generic: the MHI
/// controller (`mhi0`) and its channels (`mhi0_QMI`, `mhi0_IP_HW0`, ...), the WWAN device
/// (`wwan0`) that mhi_wwan_ctrl's ports and mhi_wwan_mbim's links hang from, and the data
/// channel with the driver bound to it.
public final class WWANInfo {
    /// The MHI controller device ("mhi0").
    public let controller: String
    /// The PCI device ("0000:01:00.0") and its driver ("mhi-pci-generic").
    public var pciAddress: String?
    public var pciDriver: String?
    /// The WWAN device ("wwan0"); nil while no WWAN driver has made one.
    public var device: String?
    public var ports: [WWANPort] = []
    /// The controller's channels ("QMI", "IP_HW0" ...) and the driver bound to each (nil: none).
    public var channels: [(name: String, driver: String?)] = []
    /// The data channel: "IP_HW0" (mhi_net: raw-IP or QMAP, the modem_qcom_v1 channel set)
    /// or "IP_HW0_MBIM" (mhi_wwan_mbim: MBIM sessions, Quectel's em1xx set); nil when the
    /// modem shows neither.
    public var dataChannel: String?
    public var dataDriver: String?

    init(controller: String) { self.controller = controller }

    /// The first port of `type` ("QMI", "MBIM", "AT").
    public func port(_ type: String) -> WWANPort? { ports.first { $0.type.equals(type) } }

    /// The channel exists; `driver` is the driver bound to it (nil: none).
    func channel(_ name: String) -> (exists: Bool, driver: String?) {
        for c in channels where c.name.equals(name) { return (true, c.driver) }
        return (false, nil)
    }

    /// The data channel carries MBIM sessions (IP_HW0_MBIM): its netdev belongs to an MBIM dial.
    public var carriesMBIM: Bool { dataChannel?.equals("IP_HW0_MBIM") == true }
    /// mhi_wwan_mbim registered link operations on the WWAN device: a link of kind "wwan"
    /// can be made for each MBIM session other than the default link's.
    public var makesLinks: Bool { dataDriver?.equals("mhi_wwan_mbim") == true }

    /// "wwan0qmi0 (QMI), wwan0mbim0 (MBIM)".
    public var portList: String { ports.isEmpty ? "none" : ports.map { "\($0.name) (\($0.type))" }.joined(separator: ", ") }
}

extension Discovery {
    /// The PCI vendors whose modems qcm looks for on the MHI bus: Quectel's own, and
    /// Qualcomm's generic ids that the RM500Q (17cb:0306) and other Quectel modules use.
    static let wwanVendors: [UInt16] = [0x1eac, 0x17cb]

    /// "mhi0", "mhi12": an MHI controller as the upstream MHI core names it (its channels
    /// are "mhi0_QMI" ...; Quectel's pcie_mhi names them "0306_00.01.00_QMI0").
    static func isMHIController(_ name: String) -> Bool {
        let u = Array(name.utf8)
        return u.count > 3 && name.begins(with: "mhi") && u[3...].allSatisfy(Sysfs.isDigit)
    }

    /// PCIe modules on the upstream kernel (mhi_pci_generic): found from the MHI bus's
    /// controllers, each with its PCI ids, channels and their drivers, WWAN device and
    /// ports, and the data channel's netdev — so that whatever is missing is named, with
    /// the module that makes it.
    static func scanWWAN(_ o: DiscoveryOptions, _ looked: inout [String]) -> [Modem] {
        let root = o.sysRoot + "/bus/mhi/devices"
        guard let entries = Sysfs.list(root) else { return [] }
        var modems: [Modem] = []
        var others: [String] = []
        for c in entries where isMHIController(c) {
            let path = root + "/" + c
            let pci = path + "/.."      // the controller's parent: the PCI function
            guard let vendor = Sysfs.hex(pci + "/vendor"), vendor <= 0xffff else {
                others.append("\(c) (no readable PCI vendor id)")
                continue
            }
            let product = Sysfs.hex(pci + "/device") ?? 0
            guard wwanVendors.contains(UInt16(vendor)) else {
                others.append("\(c) (PCI \(QuectelModels.hex4(UInt16(vendor))):\(QuectelModels.hex4(UInt16(truncatingIfNeeded: product))), not a Quectel or Qualcomm id)")
                continue
            }
            modems.append(readWWAN(c, path: path, root: root, entries: entries, vendor: UInt16(vendor),
                                   product: UInt16(truncatingIfNeeded: product), o))
        }
        var note = "\(root) (\(modems.count) PCIe module(s) on the upstream MHI driver"
        if !others.isEmpty { note += "; ignored: " + others.joined(separator: ", ") }
        looked.append(note + ")")
        return modems
    }

    static func readWWAN(_ c: String, path: String, root: String, entries: [String], vendor: UInt16, product: UInt16,
                         _ o: DiscoveryOptions) -> Modem {
        let info = WWANInfo(controller: c)
        // "../../../devices/pci0000:00/0000:00:1c.0/0000:01:00.0/mhi0": the PCI address is
        // the component before the controller's.
        if let target = Sysfs.readlink(path) {
            let parts = target.utf8.split(separator: 47).map { String(decoding: $0, as: UTF8.self) }
            if parts.count >= 2 { info.pciAddress = parts[parts.count - 2] }
        }
        info.pciDriver = Sysfs.readlink(path + "/../driver").map(Sysfs.basename)
        let prefix = c + "_"
        for e in entries where e.begins(with: prefix) {
            let name = String(decoding: e.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
            info.channels.append((name, Sysfs.readlink(root + "/" + e + "/driver").map(Sysfs.basename)))
        }
        // The WWAN device: <controller>/wwan/wwanN (a class device in its glue directory),
        // its ports the children with a `type`.
        var devicePath: String?
        if let d = Sysfs.list(path + "/wwan")?.first(where: { $0.begins(with: "wwan") }) {
            info.device = d
            devicePath = path + "/wwan/" + d
            for p in Sysfs.list(devicePath!) ?? [] {
                guard let type = Sysfs.read(devicePath! + "/" + p + "/type", limit: 64) else { continue }
                info.ports.append(WWANPort(name: p, type: type, node: o.devRoot + "/" + p))
            }
        }
        // The data channel and its netdev: mhi_net's mhi_hwipN under IP_HW0; for
        // IP_HW0_MBIM, mhi_wwan_mbim's links under the WWAN device (or, before Linux 5.14,
        // mhi_net's netdev under the channel).
        var net: [String] = []
        if info.channel("IP_HW0_MBIM").exists {
            info.dataChannel = "IP_HW0_MBIM"
            info.dataDriver = info.channel("IP_HW0_MBIM").driver
            if info.dataDriver != nil {
                net = devicePath.flatMap { Sysfs.list($0 + "/net") } ?? []
                if net.isEmpty { net = Sysfs.list(root + "/" + c + "_IP_HW0_MBIM/net") ?? [] }
            }
        } else if info.channel("IP_HW0").exists {
            info.dataChannel = "IP_HW0"
            info.dataDriver = info.channel("IP_HW0").driver
            net = Sysfs.list(root + "/" + c + "_IP_HW0/net") ?? []
        }
        let mode: ModemMode
        if let d = info.dataChannel {
            mode = d.equals("IP_HW0") ? .qmi : .mbim
        } else {
            mode = info.channel("QMI").exists ? .qmi : info.channel("MBIM").exists ? .mbim : .unknown
        }
        let m = Modem(bus: "pcie", sysfsName: info.pciAddress ?? c, sysfsPath: path, vendorID: vendor, productID: product,
                      busNumber: nil, deviceNumber: nil, model: QuectelModels.pciName(vendor: vendor, device: product), mode: mode,
                      interface: info.dataChannel.map { prefix + $0 }, driver: info.dataDriver,
                      driverVersion: info.dataDriver.flatMap { Sysfs.read(o.sysRoot + "/module/\($0)/version") },
                      controlDevice: nil, netInterfaces: net, rawIP: nil, qmapMode: nil, addMux: false, warnings: [])
        m.wwan = info
        if let p = info.port(mode == .mbim ? "MBIM" : "QMI"), mode == .qmi || mode == .mbim {
            m.controlDevice = p.node
            if !Sysfs.exists(p.node) { m.warnings.append(missingNode(p.node, uevent: devicePath.map { $0 + "/" + p.name + "/uevent" })) }
        }
        m.warnings += wwanProblems(m, info)
        return m
    }

    /// What keeps a WWAN modem from being dialed, each with the module that would fix it.
    static func wwanProblems(_ m: Modem, _ w: WWANInfo) -> [String] {
        var out: [String] = []
        let c = w.controller
        if m.mode == .unknown {
            let names = w.channels.map { $0.name }
            out.append("\(c) has no QMI, MBIM or data channel (channels: \(names.isEmpty ? "none" : names.joined(separator: ", "))): the modem is still booting, or in download (EDL) mode")
            return out
        }
        let type = m.mode == .mbim ? "MBIM" : "QMI"
        if m.controlDevice == nil {
            let ch = w.channel(type)
            if !ch.exists {
                out.append("\(c) has no \(type) channel")
            } else if let d = ch.driver {
                out.append("\(d) is bound to \(c)_\(type) but made no \(type) port" + (w.device.map { " under \($0)" } ?? " (no WWAN device)"))
            } else {
                out.append("no driver is bound to \(c)_\(type): load mhi_wwan_ctrl (modprobe mhi_wwan_ctrl), which makes /dev/wwanN\(type == "MBIM" ? "mbim" : "qmi")0")
            }
        }
        if m.netInterfaces.isEmpty {
            let data = w.dataChannel ?? (m.mode == .mbim ? "IP_HW0_MBIM" : "IP_HW0")
            let want = data.equals("IP_HW0") ? "mhi_net" : "mhi_wwan_mbim"
            if w.dataChannel == nil {
                out.append("\(c) has no \(data) data channel")
            } else if let d = w.dataDriver {
                out.append("\(d) is bound to \(c)_\(data) but made no netdev")
            } else {
                out.append("no driver is bound to \(c)_\(data): load \(want) (modprobe \(want)), which makes " + (want.equals("mhi_net") ? "mhi_hwip0" : "the wwan0 netdev"))
            }
        }
        return out
    }

    /// Why `device`, a port of a WWAN modem, is not the one qcm dials it over; nil when it is.
    static func wrongPort(_ m: Modem, _ device: String) -> String? {
        guard let w = m.wwan, let p = w.ports.first(where: { names($0.node, device) }) else { return nil }
        if let c = m.controlDevice, names(c, device) { return nil }
        let use = m.controlDevice.map { "dial it over \($0) (\(m.mode.name))" } ?? "it has no port qcm dials"
        if p.type.equals("MBIM") && m.mode == .qmi {
            return "\(p.node) is the MBIM port of \(m.model) \(m.idString), but its data channel IP_HW0 is bound to \(w.dataDriver ?? "no driver")"
                + " (\(m.netInterface ?? "no netdev")), which carries QMI's raw-IP or QMAP, not MBIM sessions (mhi_wwan_mbim binds only IP_HW0_MBIM, which this modem's channel set lacks): " + use
        }
        return "\(p.node) is the \(p.type) port of \(m.model) \(m.idString); qcm does not dial over it: " + use
    }
}
