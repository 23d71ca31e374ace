import Base
import QMICore
import USBDiscovery

/// `qcm list [--json] [--sysfs-root DIR] [--dev-root DIR]`: what discovery finds.
enum ListCommand {
    static let usage = """
        Usage: qcm list [--json] [--sysfs-root DIR] [--dev-root DIR]
          Lists the Quectel modems found in sysfs, one entry per modem, with the QMI
          channel (or the AT port of a module dialed by AT commands), network
          interface(s) and driver qcm would use; PCIe modules on the upstream kernel's
          WWAN subsystem (mhi_pci_generic) with their WWAN device and ports, and on
          Quectel's pcie_mhi with its children and, in MBIM mode, the session each carries.
          --json            machine-readable output (an array of objects)
          --sysfs-root DIR  read DIR instead of /sys (a copy of a board's sysfs, or qmi-sim's)
          --dev-root DIR    look for device nodes in DIR instead of /dev
        Exit status: 0 when at least one modem was found, 3 when none, 2 on a usage error.
        """

    static func run(_ args: [String]) -> Int32 {
        var json = false
        var options = DiscoveryOptions()
        var a = Args(args)
        do throws(UsageError) {
            while let w = a.next() {
                switch Word(w) {
                case "--json": json = true
                case "--sysfs-root": options.sysRoot = try a.value(w, "a directory")
                case "--dev-root": options.devRoot = try a.value(w, "a directory")
                case "-h", "--help":
                    Out.line(usage)
                    return ExitCode.ok
                default: throw Args.unknown(w)
                }
            }
        } catch {
            Out.error("qcm list: \(error.message)")
            Out.error(usage)
            return ExitCode.usage
        }
        let result = Discovery.scan(options)
        if json {
            Out.line("[" + result.modems.map { jsonObject($0, sysRoot: options.sysRoot) }.joined(separator: ",\n ") + "]")
        } else {
            for (n, m) in result.modems.enumerated() { Out.line(text(m, index: n + 1, sysRoot: options.sysRoot)) }
        }
        if result.modems.isEmpty {
            Out.error("qcm: " + DiscoveryError.noModem(looked: result.looked, modemManager: result.modemManagerRunning).description)
            return ExitCode.noModem
        }
        return ExitCode.ok
    }

    static func text(_ m: Modem, index: Int, sysRoot: String) -> String {
        var lines = ["Modem \(index): \(m.model)" + (m.vendorID == 0 ? "" : " (\(m.idString))") + " at \(m.bus) \(m.sysfsName)"
            + (m.busNumber.map { b in " (bus \(Text.decimal(b, width: 3)) device \(Text.decimal(m.deviceNumber ?? 0, width: 3)))" } ?? "")]
        if m.speaksAT {
            var missing: [String] = []
            if m.atPort == nil { missing.append("no AT port") }
            if m.netInterfaces.isEmpty { missing.append("no netdev") }
            lines.append("  mode:       \(m.mode.name), control by AT commands" + (missing.isEmpty ? "" : " (incomplete: " + missing.joined(separator: ", ") + ")"))
        } else {
            lines.append("  mode:       \(m.mode.name)" + (m.usable ? "" : m.mode == .qmi || m.wwan != nil || m.isPCIeMHI ? " (incomplete, see warnings)" : " (qcm needs QMI)"))
        }
        lines.append("  driver:     \(m.driver ?? "none")" + (m.driverVersion.map { " \($0)" } ?? ""))
        if let w = m.wwan {
            lines.append("  wwan:       \(w.device ?? "no WWAN device"), MHI controller \(w.controller), PCI driver \(w.pciDriver ?? "none")")
            lines.append("  ports:      " + w.portList)
        }
        if let i = m.interface { lines.append("  interface:  \(i)") }
        if m.speaksAT {
            lines.append("  AT port:    \(m.atPort ?? "none")" + (m.atInterface.map { " (interface \($0))" } ?? ""))
        } else {
            lines.append("  channel:    \(m.controlDevice ?? "none")")
        }
        var net = m.netInterfaces.isEmpty ? "none" : m.netInterfaces.joined(separator: ", ")
        var extras: [String] = []
        if let r = m.rawIP { extras.append("raw-ip: " + (r ? "yes" : "no")) }
        if let q = m.qmapMode { extras.append("qmap_mode: \(q)") }
        if m.addMux { extras.append("qmi/add_mux") }
        if m.passThrough { extras.append("qmi/pass_through") }
        if !extras.isEmpty { net += " (" + extras.joined(separator: ", ") + ")" }
        lines.append("  netdev:     \(net)")
        if !m.qmapChildren.isEmpty { lines.append("  children:   " + m.qmapChildren.joined(separator: ", ")) }
        if m.usable && m.control == .mbim && m.isPCIeMHI {
            lines.append("  data path:  " + mhiDataPath(m, sysRoot: sysRoot))
        } else if m.usable && m.control == .mbim, let w = m.wwan {
            // MBIM over the WWAN subsystem: a session per qcm, 0 on the default link.
            lines.append("  data path:  MBIM session 0 on \(m.netInterface ?? "?"); "
                         + (w.makesLinks ? "-m N: session N on a wwan link \(m.netInterface ?? "wwan0").N" : "no other session (\(m.driver ?? "the driver") makes no wwan links)"))
        } else if m.usable && !m.speaksAT {     // the data-path choice is QMI's; an AT module's netdev is Ethernet with DHCP
            let (one, several) = dataPaths(m, sysRoot: sysRoot)
            lines.append("  data path:  one PDN: \(one); several PDNs: \(several)")
            lines.append("  bridge:     " + bridgeText(m, sysRoot: sysRoot))
        }
        for w in m.warnings { lines.append("  warning:    \(w)") }
        return lines.joined(separator: "\n")
    }

    /// MBIM over pcie_mhi: the session each of the driver's children carries (for --json),
    /// as DataPlan maps them; nil when the driver shows no qmap_mode or runs 0.
    static func mhiSessions(_ m: Modem, sysRoot: String) -> [(netdev: String, session: Int)]? {
        guard let mode = m.qmapMode, mode >= 1, let parent = m.netInterface else { return nil }
        let base = DataPlan.mbimSessionBase(DriverFacts(m, netdev: parent, sysRoot: sysRoot))
        return (1...min(mode, 16)).compactMap { n in
            let name = parent + ".\(n)"
            guard m.qmapChildren.contains(where: { $0.equals(name) }) else { return nil }
            return (name, DataPlan.mhiMBIMSession(child: n, mode: mode, base: base))
        }
    }

    /// MBIM over pcie_mhi in a line: what a qcm without -n/-m dials, and how -n picks the rest.
    static func mhiDataPath(_ m: Modem, sysRoot: String) -> String {
        let facts = DriverFacts(m, netdev: m.netInterface, sysRoot: sysRoot)
        let plan: DataPlan
        do throws(DataPlan.Failure) {
            plan = try DataPlan.decide(facts, pdns: (try? Options.parse([]).pdns) ?? [], choice: .auto)
        } catch {
            return "not possible (\(error.message))"
        }
        guard case .mhiMBIM(let mode) = plan.kind, let l = plan.links.first else { return plan.kindName }
        let parent = m.netInterface ?? "rmnet_mhi0"
        if mode == 1 {
            return "MBIM session \(l.mux ?? 0) on \(l.netdev ?? "?") (qmap_mode 1: the only session pcie_mhi carries)"
        }
        let base = DataPlan.mbimSessionBase(facts)
        return "MBIM session \(base == 0 ? "" : "\(base)+")N on \(parent).N for -n N (1-\(mode)), one session per qcm"
            + (base == 0 ? "" : " (SDX7x: sessions from \(base))")
    }

    /// What qcm would use for one PDN and for several (`--data-path auto`).
    static func dataPaths(_ m: Modem, sysRoot: String) -> (one: String, several: String) {
        let facts = DriverFacts(m, netdev: m.netInterface, sysRoot: sysRoot)
        func describe(_ args: [String]) -> String {
            guard let pdns = try? Options.parse(args).pdns else { return "?" }
            do throws(DataPlan.Failure) { return try DataPlan.decide(facts, pdns: pdns, choice: .auto).kindName } catch {
                return "not possible (\(error.message))"
            }
        }
        return (describe([]), describe(["-n", "1", "-n", "2"]))
    }

    /// Where -b can hand the address to a LAN host: the netdevs with bridge_mode and
    /// bridge_ipv4, or why none can.
    static func bridgeNetdevs(_ m: Modem, sysRoot: String) -> (netdevs: [String], moduleParameter: Int?) {
        let f = DriverFacts(m, netdev: m.netInterface, sysRoot: sysRoot)
        return (f.bridgeNetdevs.filter { n in !f.netdevTypes.contains { $0.name.equals(n) && $0.type != 1 } }, f.bridgeModuleParameter)
    }

    static func bridgeText(_ m: Modem, sysRoot: String) -> String {
        let b = bridgeNetdevs(m, sysRoot: sysRoot)
        if !b.netdevs.isEmpty { return "-b possible on " + b.netdevs.joined(separator: ", ") + " (bridge_mode, bridge_ipv4)" }
        if let p = b.moduleParameter { return "-b through the module parameters (bridge_mode=\(p))" }
        return "none (\(m.driver ?? "the driver") has no bridge_mode or bridge_ipv4)"
    }

    static func jsonObject(_ m: Modem, sysRoot: String) -> String {
        var o = JSONObject()
        o.add("bus", m.bus)
        o.add("sysfs_name", m.sysfsName)
        o.add("sysfs_path", m.sysfsPath)
        o.add("vendor_id", QuectelModels.hex4(m.vendorID))
        o.add("product_id", QuectelModels.hex4(m.productID))
        o.add("busnum", m.busNumber)
        o.add("devnum", m.deviceNumber)
        o.add("model", m.model)
        o.add("mode", m.mode.name)
        o.add("usable", m.usable)
        o.add("control", m.control?.name)
        o.add("interface", m.interface)
        o.add("driver", m.driver)
        o.add("driver_version", m.driverVersion)
        o.add("channel", m.controlDevice)
        o.add("at_port", m.atPort)
        o.add("at_interface", m.atInterface)
        o.add("net", m.netInterfaces)
        o.add("raw_ip", m.rawIP)
        o.add("qmap_mode", m.qmapMode)
        o.add("add_mux", m.addMux)
        o.add("pass_through", m.passThrough)
        if !m.qmapChildren.isEmpty { o.add("qmap_children", m.qmapChildren) }
        if let w = m.wwan {
            o.add("wwan_device", w.device)
            o.add("mhi_controller", w.controller)
            o.add("pci_driver", w.pciDriver)
            o.add("data_channel", w.dataChannel)
            o.addRaw("wwan_ports", "[" + w.ports.map { p in
                var j = JSONObject()
                j.add("name", p.name)
                j.add("type", p.type)
                j.add("node", p.node)
                return j.text
            }.joined(separator: ", ") + "]")
            o.add("wwan_links", w.makesLinks)
        }
        if m.usable && m.control == .mbim && m.isPCIeMHI {
            // What a qcm without -n/-m dials; each child's session.
            let facts = DriverFacts(m, netdev: m.netInterface, sysRoot: sysRoot)
            if let plan = try? DataPlan.decide(facts, pdns: (try? Options.parse([]).pdns) ?? [], choice: .auto) { o.add("data_path", plan.summary) }
            if let sessions = mhiSessions(m, sysRoot: sysRoot) {
                o.addRaw("mbim_sessions", "[" + sessions.map { s in
                    var j = JSONObject()
                    j.add("netdev", s.netdev)
                    j.add("session", s.session)
                    return j.text
                }.joined(separator: ", ") + "]")
            }
        } else if m.usable && m.control == .mbim && m.wwan != nil {
            o.add("data_path", "MBIM session 0 on \(m.netInterface ?? "?")")
        } else if m.usable && !m.speaksAT {
            let (one, several) = dataPaths(m, sysRoot: sysRoot)
            o.add("data_path", one)
            o.add("data_path_several_pdns", several)
            o.add("bridge_netdevs", bridgeNetdevs(m, sysRoot: sysRoot).netdevs)
        }
        o.add("warnings", m.warnings)
        return o.text
    }
}
