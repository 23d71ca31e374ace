import Base

/// Bridge mode (`-b`, quectel-CM's): Quectel's qmi_wwan_q, GobiNet and pcie_mhi, built with
/// bridge support (QUECTEL_BRIDGE_MODE, which needs CONFIG_BRIDGE), hand the call's one
/// IPv4 address to a single host on the LAN. The netdev is a port of a Linux bridge; the
/// driver learns the LAN host's MAC from its DHCP broadcast, answers its ARP for the call's
/// subnet, forwards only its frames to the modem, and the modem's DHCP server leases it the
/// call's address. qcm writes `bridge_mode` and, once the call is up, the address to
/// `bridge_ipv4`, and leaves the netdev without an address of its own (the host's frames
/// would be dropped by the driver anyway: their source MAC is not the learned one).
///
/// Which file takes what, per PDN, is decided once from what discovery read; the session
/// says when (`.setBridge`), the Runner writes.
struct BridgeTarget: Equatable {
    enum Attributes: Equatable {
        /// `/sys/class/net/NETDEV/bridge_mode` and `bridge_ipv4`: each netdev (each QMAP
        /// child) its own.
        case netdev
        /// The driver's module parameters (`/sys/module/DRIVER/parameters/`): `bridge_mode`
        /// is set when the driver loads and only read here; `bridge_ipv4` takes the address,
        /// with `:MUX` (decimal) after it when the driver runs several muxes — quectel-CM's
        /// form. Used only where the netdev has no attributes.
        case moduleParameters(driver: String, mux: UInt8?)
    }

    let pdn: Int
    let netdev: String
    let attributes: Attributes
    /// The PDN asked for bridge mode (-b). False: a PDN without -b whose netdev has the
    /// attributes: bridge mode is turned off there at start, as quectel-CM does (with it on,
    /// the driver would drop the host's own frames).
    let on: Bool

    /// The files, under `sysRoot`.
    func modePath(sysRoot: String) -> String { directory(sysRoot) + "/bridge_mode" }
    func ipv4Path(sysRoot: String) -> String { directory(sysRoot) + "/bridge_ipv4" }

    func directory(_ sysRoot: String) -> String {
        switch attributes {
        case .netdev: return sysRoot + "/class/net/" + netdev
        case .moduleParameters(let driver, _): return sysRoot + "/module/" + driver + "/parameters"
        }
    }

    /// Whether qcm writes bridge_mode (the module parameter is the driver's, set at load).
    var writesMode: Bool { attributes == .netdev }

    /// What bridge_ipv4 is given for `address` (0 clears it): quectel-CM's form, the address
    /// as one host-order number, first octet most significant, in lowercase hex without
    /// padding (10.33.132.128 → 0xa218480); the drivers parse it in base 16.
    func ipv4Text(_ address: UInt32) -> String {
        let text = "0x" + Text.hex(address, 1)
        if case .moduleParameters(_, let mux?) = attributes { return text + ":\(mux)" }
        return text
    }

    /// "echo 1 > …/bridge_mode" lines for --no-link, which leaves the writing to the user.
    func commands(sysRoot: String, on: Bool, address: UInt32) -> [String] {
        var out: [String] = []
        if writesMode { out.append("echo \(on ? 1 : 0) > \(modePath(sysRoot: sysRoot))") }
        out.append("echo \(ipv4Text(address)) > \(ipv4Path(sysRoot: sysRoot))")
        return out
    }
}

enum BridgePlan {
    /// The bridge targets of this run: one per PDN with -b (refused, with the reason, where
    /// the driver has no bridge mode), and one per other PDN whose netdev has the attributes
    /// (to turn a mode left on off). Pure: everything comes from the facts.
    static func decide(_ f: DriverFacts, _ plan: DataPlan, pdns: [PDNOptions]) throws(DataPlan.Failure) -> [BridgeTarget] {
        let driver = f.driver ?? "the driver"
        var targets: [BridgeTarget] = []
        for p in pdns {
            let netdev: String?
            switch plan.kind {
            case .rawIP: netdev = plan.parent
            case .quectel: netdev = plan.link(p.pdn)?.netdev
            case .qmimux, .rmnet, .wwan: netdev = nil      // links upstream drivers make: no bridge mode there
            case .mhiMBIM: netdev = nil                   // MBIM: refused before (BridgePlan.notQMI)
            }
            let attributes = netdev.map { n in f.bridgeNetdevs.contains { $0.equals(n) } } ?? false
            guard p.bridge else {
                if attributes, let n = netdev { targets.append(BridgeTarget(pdn: p.pdn, netdev: n, attributes: .netdev, on: false)) }
                continue
            }
            let which = pdns.count > 1 ? " (PDN \(p.pdn))" : ""
            guard let dev = netdev else {
                throw DataPlan.Failure(message: "-b\(which): \(driver)'s \(plan.kind == .qmimux ? "qmimux" : plan.kind == .wwan ? "wwan" : "rmnet") links have no bridge mode; bridge mode is a feature of Quectel's qmi_wwan_q, GobiNet and pcie_mhi drivers")
            }
            if attributes {
                if let type = f.netdevTypes.first(where: { $0.name.equals(dev) })?.type, type != 1 {
                    throw DataPlan.Failure(message: "-b\(which): \(dev) is not an Ethernet-type netdev (ARPHRD \(type)), and \(driver) takes bridge_mode only on those")
                }
                targets.append(BridgeTarget(pdn: p.pdn, netdev: dev, attributes: .netdev, on: true))
                continue
            }
            if let mode = f.bridgeModuleParameter {
                guard mode != 0 else {
                    throw DataPlan.Failure(message: "-b\(which): \(driver) takes bridge mode as a module parameter, and it was loaded with bridge_mode=0: load it with bridge_mode=1 (one bit per QMAP mux)")
                }
                var mux: UInt8?
                if case .quectel(let m) = plan.kind, m > 1 { mux = plan.link(p.pdn)?.mux }
                targets.append(BridgeTarget(pdn: p.pdn, netdev: dev, attributes: .moduleParameters(driver: driver, mux: mux), on: true))
                continue
            }
            throw DataPlan.Failure(message: noBridge(driver, netdev: dev, which: which))
        }
        return targets
    }

    /// Why a driver cannot bridge.
    static func noBridge(_ driver: String, netdev: String, which: String = "") -> String {
        switch Word(driver) {
        case "qmi_wwan_q", "GobiNet", "pcie_mhi":
            return "-b\(which): \(driver) has no bridge_mode or bridge_ipv4 on \(netdev): it was built without bridge support (Quectel's bridge mode needs a kernel with CONFIG_BRIDGE when the driver is built); rebuild it, or run without -b"
        case "qmi_wwan":
            return "-b\(which): upstream qmi_wwan has no bridge mode (no bridge_mode or bridge_ipv4 on \(netdev)); bridge mode is a feature of Quectel's qmi_wwan_q, GobiNet and pcie_mhi drivers"
        default:
            return "-b\(which): \(driver) has no bridge mode (no bridge_mode or bridge_ipv4 on \(netdev)); bridge mode is a feature of Quectel's qmi_wwan_q, GobiNet and pcie_mhi drivers"
        }
    }

    /// Modules that are not dialed with QMI (MBIM, AT commands): their drivers have no
    /// bridge mode, and quectel-CM's MBIM and AT paths write none either.
    static func notQMI(driver: String?, mbim: Bool) -> String {
        let d = driver ?? (mbim ? "cdc_mbim" : "the module's driver")
        if mbim {
            return "-b: the module is in MBIM mode, and \(d) has no bridge mode (quectel-CM's MBIM paths write none either); bridge mode needs the module in QMI mode (AT+QCFG=\"usbnet\",0) on Quectel's qmi_wwan_q, GobiNet or pcie_mhi"
        }
        return "-b: \(d) has no bridge mode (this module is dialed with AT commands); bridge mode is a feature of Quectel's qmi_wwan_q, GobiNet and pcie_mhi drivers"
    }
}

/// Bridge mode in the session: what qcm turned on is turned off again, whatever ends it.
extension SessionCore {
    /// Bridge mode off, and no address in bridge_ipv4, on every netdev qcm turned it on.
    func resetBridges() {
        for pdn in bridgesOn { emit(.setBridge(pdn: pdn, on: false, ipv4: 0)) }
        bridgesOn.removeAll()
    }

    /// PDN's netdev leaves bridge mode (`qcm -k N` of one PDN of several).
    func resetBridge(_ pdn: Int) {
        guard bridgesOn.contains(pdn) else { return }
        bridgesOn.removeAll { $0 == pdn }
        emit(.setBridge(pdn: pdn, on: false, ipv4: 0))
    }

    /// "10.90.1.113 to the LAN host through wwan0 (a port of br0)": the state line and
    /// `qcm status` of a bridged call.
    func bridgeSummary(_ c: Call) -> String? {
        guard let a = c.bridgeAddress, let t = config.bridge(c.pdn), t.on else { return nil }
        return "\(IPAddress(ipv4: a).text) handed to the LAN host through \(t.netdev)" + (c.bridgeMaster.map { " (a port of \($0))" } ?? "")
    }
}
