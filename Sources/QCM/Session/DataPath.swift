import Base
import QMICore
import QMIMessages
import USBDiscovery

/// `--data-path`: how traffic should leave the modem.
enum DataPathChoice: Equatable {
    case auto, rawIP, qmap, qmimux, rmnet

    static func parse(_ s: String) -> DataPathChoice? {
        switch Word(s) {
        case "auto": return .auto
        case "raw-ip", "rawip": return .rawIP
        case "qmap": return .qmap
        case "qmimux", "add_mux": return .qmimux
        case "rmnet": return .rmnet
        default: return nil
        }
    }
}

/// What the driver offers, as discovery read it from sysfs.
struct DriverFacts {
    var driver: String?
    /// The modem's netdev (the QMAP parent).
    var netdev: String?
    /// Every netdev of the modem: the parent, and qmi_wwan_q's or pcie_mhi's children.
    var netdevs: [String] = []
    /// qmi_wwan_q / pcie_mhi qmap_mode (0: plain raw-IP; 1: mux 0x81; N: children 1..N).
    var qmapMode: Int?
    var qmapSize: Int?
    /// Upstream qmi_wwan: qmi/add_mux (qmimuxN links), qmi/pass_through (rmnet).
    var addMux = false
    var passThrough = false
    var pcie = false
    var interfaceNumber: Int?
    var productID: UInt16 = 0
    /// The upstream kernel's mhi_net on the IP_HW0 channel (mhi_hwipN): raw-IP as it is, QMAP
    /// handed through to rmnet links made on it (mhi_net does not demultiplex itself).
    var mhiNet = false
    /// An MBIM dial over the upstream WWAN subsystem: the data channel carries MBIM sessions
    /// (IP_HW0_MBIM), the netdev is the WWAN device's default link (session 0).
    var mbimWWAN = false
    /// The WWAN device ("wwan0") and whether links of kind "wwan" can be made on it
    /// (mhi_wwan_mbim registered its link operations): one per MBIM session other than 0.
    var wwanDevice: String?
    var wwanLinks = false
    /// Netdevs with the bridge mode attributes (bridge_mode and bridge_ipv4).
    var bridgeNetdevs: [String] = []
    /// The netdevs' ARPHRD types (/sys/class/net/NAME/type), where readable.
    var netdevTypes: [(name: String, type: Int)] = []
    /// The driver's bridge_mode module parameter, where it has a bridge_ipv4 parameter too.
    var bridgeModuleParameter: Int?
    /// An MBIM dial over Quectel's pcie_mhi loaded with mhi_mbim_enabled=1 (/dev/mhi_MBIM):
    /// the driver's children rmnet_mhi0.N carry MBIM sessions, mapped by its qmap_mode.
    var mhiMBIM = false
}

extension DriverFacts {
    /// What discovery read, plus every netdev that could be one of the parent's children
    /// (qmi_wwan_q's wwan0_1, pcie_mhi's rmnet_mhi0.1).
    init(_ modem: Modem, netdev: String?, sysRoot: String) {
        let all = Files.list(sysRoot + "/class/net") ?? []
        self.init(driver: modem.driver, netdev: netdev, netdevs: all.filter { n in netdev.map { n.begins(with: $0) } ?? false },
                  qmapMode: modem.qmapMode, qmapSize: modem.qmapSize, addMux: modem.addMux, passThrough: modem.passThrough,
                  pcie: modem.bus.equals("pcie"), interfaceNumber: modem.interfaceNumber, productID: modem.productID)
        if let w = modem.wwan {
            mhiNet = w.dataChannel?.equals("IP_HW0") == true && w.dataDriver?.equals("mhi_net") == true
            mbimWWAN = modem.mode == .mbim && w.carriesMBIM
            wwanDevice = w.device
            wwanLinks = w.makesLinks
        }
        mhiMBIM = modem.mode == .mbim && modem.isPCIeMHI
        readBridge(sysRoot: sysRoot)
    }

    /// What the driver offers for bridge mode: the attributes on each netdev (only their
    /// presence: reading them is not needed), the netdevs' types, the module parameters.
    mutating func readBridge(sysRoot: String) {
        for n in netdevs {
            let dir = sysRoot + "/class/net/" + n
            if Files.existsOrLinks(dir + "/bridge_mode") && Files.existsOrLinks(dir + "/bridge_ipv4") { bridgeNetdevs.append(n) }
            if let t = Files.readSmall(dir + "/type", limit: 32), let v = Text.parseInt(Text.trimmed(String(decoding: t, as: UTF8.self))) {
                netdevTypes.append((n, Int(v)))
            }
        }
        if let d = driver, Files.exists(sysRoot + "/module/\(d)/parameters/bridge_ipv4"),
           let m = Files.readSmall(sysRoot + "/module/\(d)/parameters/bridge_mode", limit: 32) {
            bridgeModuleParameter = Text.parseInt(Text.trimmed(String(decoding: m, as: UTF8.self))).map { Int($0) } ?? 0
        }
    }
}

/// The data path for this run: QMAP or not, how the modem is told, and each PDN's mux and
/// netdev. Decided once, from the driver and the command line; everything the decision
/// rests on is in the facts, so the rules are unit-tested without hardware.
struct DataPlan {
    enum Kind: Equatable {
        /// The modem's netdev carries one PDN, no QMAP.
        case rawIP
        /// Quectel's qmi_wwan_q / pcie_mhi add and strip the QMAP header themselves (qmap_mode).
        case quectel(mode: Int)
        /// Upstream qmi_wwan: a qmimuxN link per mux, created by writing qmi/add_mux.
        case qmimux
        /// rmnet links over rtnetlink on a parent that hands QMAP frames through.
        case rmnet
        /// MBIM over the upstream WWAN subsystem: session 0 on the WWAN device's default link
        /// (wwan0), any other session on a link of kind "wwan" qcm makes (mhi_wwan_mbim).
        /// Each link's `mux` is then its MBIM session id.
        case wwan
        /// MBIM over Quectel's pcie_mhi (mhi_mbim_enabled=1) with qmap_mode `mode`: the
        /// driver frames each session itself (NTB16, the session in the NDP's signature) and
        /// maps it to one of its children (`mhiMBIMSession`). The link's `mux` is the MBIM
        /// session id, its `child` the N of rmnet_mhi0.N, which link_state names.
        case mhiMBIM(mode: Int)
    }

    struct Link: Equatable {
        let pdn: Int
        /// The QMAP mux id (nil on plain raw-IP); with `.wwan`, the MBIM session id.
        let mux: UInt8?
        /// The netdev that carries the PDN (nil until qcm creates it: qmimux, rmnet).
        var netdev: String?
        /// `.mhiMBIM`: the child's number N (rmnet_mhi0.N), the value link_state takes for it.
        var child: Int? = nil

        static func == (a: Link, b: Link) -> Bool {
            a.pdn == b.pdn && a.mux == b.mux && (a.netdev ?? "").equals(b.netdev ?? "") && (a.netdev == nil) == (b.netdev == nil)
                && a.child == b.child
        }
    }

    let kind: Kind
    let parent: String?
    var links: [Link]
    /// Aggregation protocols to ask the modem for, best first.
    let versions: [WDA.AggregationProtocol]
    let downlinkMaxSize: UInt32
    let endpointType: QMIDataEndpointType
    let endpointInterface: UInt32
    /// `.wwan`: the WWAN device the links are made on (IFLA_PARENT_DEV_NAME).
    var wwanDevice: String? = nil

    var usesQMAP: Bool {
        switch kind {
        case .rawIP, .wwan, .mhiMBIM: return false
        case .quectel, .qmimux, .rmnet: return true
        }
    }

    /// Each link carries an MBIM session (its `mux` is the session id): one qcm per session.
    var carriesMBIMSessions: Bool {
        switch kind {
        case .wwan, .mhiMBIM: return true
        default: return false
        }
    }

    func link(_ pdn: Int) -> Link? { links.first { $0.pdn == pdn } }

    /// How traffic is carried, in a few words (`qcm list`).
    var kindName: String {
        switch kind {
        case .rawIP: return "raw-IP"
        case .quectel(let mode): return "QMAP by the driver (qmap_mode \(mode))"
        case .qmimux: return "QMAP through qmimux links"
        case .rmnet: return "QMAP through rmnet links"
        case .wwan: return "MBIM sessions on wwan links"
        case .mhiMBIM(let mode): return "MBIM sessions on pcie_mhi's children (qmap_mode \(mode))"
        }
    }

    /// One line for the log.
    var summary: String {
        switch kind {
        case .rawIP: return "raw-IP on \(parent ?? "the modem's netdev")"
        case .quectel(let mode):
            return "QMAP by the driver (qmap_mode \(mode)): " + links.map { "mux 0x\(Text.hex($0.mux ?? 0)) on \($0.netdev ?? "?")" }.joined(separator: ", ")
        case .qmimux: return "QMAP through qmimux links on \(parent ?? "?"): " + links.map { "mux 0x\(Text.hex($0.mux ?? 0))" }.joined(separator: ", ")
        case .rmnet: return "QMAP through rmnet links on \(parent ?? "?"): " + links.map { "mux 0x\(Text.hex($0.mux ?? 0))" }.joined(separator: ", ")
        case .wwan:
            return links.map { l in
                "MBIM session \(l.mux ?? 0) on " + (l.netdev ?? "a wwan link of \(wwanDevice ?? "the WWAN device") (link id \(l.mux ?? 0))")
            }.joined(separator: ", ")
        case .mhiMBIM(let mode):
            return links.map { "MBIM session \($0.mux ?? 0) on \($0.netdev ?? "?")" }.joined(separator: ", ") + " (pcie_mhi, qmap_mode \(mode))"
        }
    }

    struct Failure: Error { let message: String }

    /// SDX55 products (RM500Q, RM520N) speak QMAPv5; the others QMAP (v1).
    static func quectelVersion(_ f: DriverFacts) -> WDA.AggregationProtocol {
        f.productID == 0x0800 || f.productID == 0x0801 || (f.pcie && (f.productID == 0x0306 || f.productID == 0x0308)) ? .qmapv5 : .qmap
    }

    static func decide(_ f: DriverFacts, pdns: [PDNOptions], choice: DataPathChoice) throws(Failure) -> DataPlan {
        if f.mbimWWAN { return try decideMBIM(f, pdns: pdns, choice: choice) }
        if f.mhiMBIM { return try decideMHIMBIM(f, pdns: pdns, choice: choice) }
        let driver = f.driver ?? "the driver"
        let quectelQMAP = (f.qmapMode ?? 0) >= 1
        let wantsMux = pdns.count > 1 || pdns.contains { $0.muxIndex != nil }
        let kind: Kind
        switch choice {
        case .rawIP:
            if quectelQMAP {
                throw Failure(message: "\(driver) runs QMAP (qmap_mode \(f.qmapMode ?? 0)): plain raw-IP would carry no traffic; use --data-path qmap, or load the driver with qmap_mode=0")
            }
            kind = .rawIP
        case .qmap:
            guard quectelQMAP else { throw Failure(message: "--data-path qmap needs qmi_wwan_q or pcie_mhi with qmap_mode 1 or more; \(driver) has \(f.qmapMode.map { "qmap_mode \($0)" } ?? "no qmap_mode")") }
            kind = .quectel(mode: f.qmapMode ?? 1)
        case .qmimux:
            guard f.addMux else { throw Failure(message: "--data-path qmimux needs upstream qmi_wwan's qmi/add_mux, which \(driver) does not offer") }
            kind = .qmimux
        case .rmnet:
            guard f.passThrough || f.mhiNet else { throw Failure(message: "--data-path rmnet needs qmi_wwan's qmi/pass_through (Linux 5.12+) or mhi_net, which \(driver) is not") }
            kind = .rmnet
        case .auto:
            if quectelQMAP {
                kind = .quectel(mode: f.qmapMode ?? 1)
            } else if wantsMux {
                // mhi_net, like qmi_wwan's pass_through, hands QMAP to rmnet links; one PDN
                // needs none (raw-IP, what ModemManager does too unless asked to multiplex).
                if f.addMux { kind = .qmimux } else if f.passThrough || f.mhiNet { kind = .rmnet } else {
                    throw Failure(message: (pdns.count > 1 ? "several PDNs in one qcm need" : "-m needs") + " QMAP muxing, which \(driver) does not offer (no qmap_mode, qmi/add_mux or qmi/pass_through); load Quectel's qmi_wwan_q with qmap_mode=N, or use upstream qmi_wwan")
                }
            } else {
                kind = .rawIP
            }
        }
        if kind == .rawIP && pdns.count > 1 {
            throw Failure(message: "plain raw-IP carries one PDN; several PDNs need QMAP (--data-path qmap, qmimux or rmnet)")
        }

        var links: [Link] = []
        for p in pdns {
            guard kind != .rawIP else {
                links.append(Link(pdn: p.pdn, mux: nil, netdev: f.netdev))
                continue
            }
            // quectel-CM's rule: mux 0x80 + N, N from -m or else the profile number.
            let n = p.muxIndex ?? p.pdn
            let mux = UInt8(0x80 + n)
            if links.contains(where: { $0.mux == mux }) {
                throw Failure(message: "PDN \(p.pdn) and another PDN would both use mux 0x\(Text.hex(mux)): give each its own -m N")
            }
            var netdev: String?
            if case .quectel(let mode) = kind {
                guard n <= mode else {
                    throw Failure(message: "PDN \(p.pdn) would use mux 0x\(Text.hex(mux)), but \(driver) runs qmap_mode \(mode) (muxes 0x81-0x\(Text.hex(0x80 + mode))): give -m 1..\(mode), or load the driver with qmap_mode=\(n)")
                }
                netdev = quectelChild(f, n, mode: mode)
                guard netdev != nil else {
                    throw Failure(message: "\(driver) with qmap_mode \(mode) should have created \(f.netdev ?? "wwan0")_\(n) (or .\(n)) for mux 0x\(Text.hex(mux)), but there is no such interface")
                }
            }
            links.append(Link(pdn: p.pdn, mux: mux, netdev: netdev))
        }

        let versions: [WDA.AggregationProtocol]
        let size: UInt32
        switch kind {
        case .rawIP: versions = [.disabled]; size = 0
        case .quectel:
            versions = [quectelVersion(f)]
            size = UInt32(f.qmapSize ?? (versions[0] == .qmapv5 ? 31 * 1024 : 4096))
        case .qmimux: versions = [.qmap]; size = 16384              // qmimux decodes QMAP (v1) only
        case .rmnet: versions = [.qmapv5, .qmapv4, .qmap]; size = 16384
        case .wwan, .mhiMBIM: versions = [.disabled]; size = 0
        }
        return DataPlan(kind: kind, parent: f.netdev, links: links, versions: versions, downlinkMaxSize: size,
                        endpointType: f.pcie ? .pcie : .hsusb, endpointInterface: UInt32(f.interfaceNumber ?? 4))
    }

    /// MBIM over the WWAN subsystem: one session per qcm, 0 on the default link unless -m N
    /// asks for session N, which gets a link of its own.
    static func decideMBIM(_ f: DriverFacts, pdns: [PDNOptions], choice: DataPathChoice) throws(Failure) -> DataPlan {
        guard choice == .auto else {
            throw Failure(message: "--data-path chooses how QMI data is carried; over MBIM, \(f.netdev ?? "the default link") carries session 0 and -m N puts session N on a wwan link")
        }
        guard pdns.count == 1, let p = pdns.first else {
            throw Failure(message: "one qcm dials one MBIM session: run a qcm per PDN (-m N for session N), all through mbim-proxy (-p mbim-proxy)")
        }
        let session = p.muxIndex ?? 0
        if session != 0 && !f.wwanLinks {
            throw Failure(message: "MBIM session \(session) needs a wwan link, which only mhi_wwan_mbim makes (\(f.driver ?? "no driver") is bound to the data channel): dial session 0, without -m")
        }
        let link = Link(pdn: p.pdn, mux: UInt8(session), netdev: session == 0 ? f.netdev : nil)
        return DataPlan(kind: .wwan, parent: f.netdev, links: [link], versions: [.disabled], downlinkMaxSize: 0,
                        endpointType: .pcie, endpointInterface: UInt32(f.interfaceNumber ?? 4), wwanDevice: f.wwanDevice)
    }

    /// pcie_mhi's first MBIM session id (`mbim_mux_id`): 112 on SDX7x (17cb:0309), whose
    /// sessions are 112-126; 0 on every other module.
    static func mbimSessionBase(_ f: DriverFacts) -> Int { f.pcie && f.productID == 0x0309 ? 112 : 0 }

    /// The MBIM session pcie_mhi carries on its child N (rmnet_mhi0.N), as the driver maps
    /// them: with qmap_mode 1 the only child carries the first session (0, or 112 on SDX7x);
    /// with qmap_mode > 1 child N carries session N (112 + N on SDX7x).
    static func mhiMBIMSession(child n: Int, mode: Int, base: Int) -> Int { base + (mode > 1 ? n : 0) }

    /// MBIM over Quectel's pcie_mhi: one session per qcm, on the child the driver maps it to.
    /// With qmap_mode 1 that is rmnet_mhi0.1 and the first session, whatever -n says (as
    /// quectel-CM does); with qmap_mode N > 1 the child X of -m X, else of -n X, and its
    /// session X. Everything that cannot carry traffic is refused here, before the modem is
    /// touched: qmap_mode 0 (no child), a child outside the driver's, one that does not exist.
    static func decideMHIMBIM(_ f: DriverFacts, pdns: [PDNOptions], choice: DataPathChoice) throws(Failure) -> DataPlan {
        let parent = f.netdev ?? "rmnet_mhi0"
        guard choice == .auto else {
            throw Failure(message: "--data-path chooses how QMI data is carried; over MBIM pcie_mhi carries each session on the child its qmap_mode maps it to (\(parent).N)")
        }
        if let dot = parent.utf8.lastIndex(of: 46), parent.utf8[parent.utf8.index(after: dot)...].allSatisfy({ $0 >= 48 && $0 <= 57 }),
           parent.utf8.index(after: dot) != parent.utf8.endIndex {
            let base = String(decoding: parent.utf8[..<dot], as: UTF8.self)
            throw Failure(message: "-i \(parent) is one of pcie_mhi's children: name its parent (-i \(base), or no -i) and choose the session's child with -n N (or -m N)")
        }
        guard pdns.count == 1, let p = pdns.first else {
            throw Failure(message: "one qcm dials one MBIM session: run a qcm per PDN (-n N for the session on \(parent).N), sharing the MBIM channel through a proxy (-p mbim-proxy), as quectel-CM does through quectel-mbim-proxy")
        }
        guard let mode = f.qmapMode else {
            throw Failure(message: "pcie_mhi shows no qmap_mode (\(parent)/qmap_mode, /sys/module/pcie_mhi/parameters/qmap_mode): which child carries which MBIM session cannot be told")
        }
        guard mode >= 1 else {
            throw Failure(message: "pcie_mhi runs qmap_mode 0, and with mhi_mbim_enabled it then makes no \(parent).N to carry an MBIM session: load it with qmap_mode=1 (its default) or more")
        }
        let base = mbimSessionBase(f)
        let n: Int
        if mode == 1 {
            if let m = p.muxIndex, m != 1 {
                throw Failure(message: "-m \(m): pcie_mhi with qmap_mode 1 has \(parent).1 alone, carrying MBIM session \(base); dial without -m, or load the driver with qmap_mode=\(m)")
            }
            n = 1
        } else {
            n = p.muxIndex ?? p.pdn
            guard n >= 1 && n <= mode else {
                throw Failure(message: "PDN \(p.pdn) would use \(parent).\(n) (MBIM session \(mhiMBIMSession(child: n, mode: mode, base: base))), but pcie_mhi runs qmap_mode \(mode) (\(parent).1-\(parent).\(mode)): give -n or -m 1..\(mode), or load the driver with qmap_mode=\(n)")
            }
        }
        let session = mhiMBIMSession(child: n, mode: mode, base: base)
        let child = parent + ".\(n)"
        guard session <= 255 else { throw Failure(message: "MBIM session \(session) is out of range") }
        guard f.netdevs.contains(where: { $0.equals(child) }) else {
            throw Failure(message: "pcie_mhi with qmap_mode \(mode) should have made \(child) for MBIM session \(session), but there is no such interface")
        }
        let link = Link(pdn: p.pdn, mux: UInt8(session), netdev: child, child: n)
        return DataPlan(kind: .mhiMBIM(mode: mode), parent: parent, links: [link], versions: [.disabled], downlinkMaxSize: 0,
                        endpointType: .pcie, endpointInterface: UInt32(f.interfaceNumber ?? 4))
    }

    /// qmi_wwan_q names its children wwan0_N (older versions and GobiNet wwan0.N, pcie_mhi
    /// rmnet_mhi0.N); with qmap_mode 1 the parent itself carries mux 0x81 unless a child exists.
    static func quectelChild(_ f: DriverFacts, _ n: Int, mode: Int) -> String? {
        guard let parent = f.netdev else { return nil }
        for name in [parent + "_\(n)", parent + ".\(n)"] where f.netdevs.contains(where: { $0.equals(name) }) { return name }
        return mode == 1 && n == 1 ? parent : nil
    }
}
