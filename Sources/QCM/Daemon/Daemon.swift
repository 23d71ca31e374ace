import Base
import LinkConfig
import CSystem
import QMICore
import USBDiscovery

/// `qcm [options]`: find the modem, take its lock, run the connection on the event loop
/// until a signal (or a fatal error) ends it.
enum Daemon {
    static func run(_ options: Options) -> Int32 {
        let log = Logger()
        log.verbose = options.verbose
        if let f = options.logFile, let err = log.openFile(f) {
            Out.error("qcm: \(err)")
            return ExitCode.usage
        }
        log.log("qcm \(CLI.version) (QMI connection manager, quectel-CM compatible)")
        if let k = options.killPDN {
            return KillCommand.run(pdn: k, runDir: options.runDir, interface: options.interface, device: options.device, log: log)
        }
        for p in options.pdns {
            log.log("profile[\(p.pdn)] = \(p.apn ?? "(from the modem)")/\(p.user ?? "")/\(p.password == nil ? "" : "***")/\(p.auth.map { Options.authName($0) } ?? "-"), pincode = \(options.pin == nil ? "(none)" : "***")")
        }
        var o = options
        var sim: Simulation?
        if o.simulate {
            do throws(Simulation.Failure) {
                sim = try Simulation.start(o, log: log)
            } catch {
                log.log(error.message)
                return ExitCode.failure
            }
            let s = sim!
            if !s.networking { log.log("--simulate without root: the QMI dial runs, link configuration is skipped") }
            o = o.simulated(sysRoot: s.sysRoot, devRoot: s.devRoot,
                            runDir: o.runDir.equals("/run/qcm") && getuid() != 0 ? s.root + "/run" : o.runDir,
                            dns: o.dns == .auto ? .none : o.dns,      // the host's resolv.conf is not the simulation's
                            noLink: o.noLink || !s.networking)
        }
        defer { sim?.stop() }
        return dial(o, log: log)
    }

    /// What discovery found: the channel, the netdev and what the driver says.
    struct Target {
        var channel: String
        var netdev: String?
        var name = "QMI device"
        var rawIP: Bool?
        var rawIPSwitchable = false
        var driver: String?
        /// What the driver offers for QMAP.
        var facts = DriverFacts()
        /// The module is in MBIM mode (cdc_mbim).
        var mbim = false
        /// The module is dialed with AT commands (UNISOC/ASR, no QMI): `channel` is its AT port.
        var at = false
        var productID: UInt16?
        /// Found in sysfs (false: a --device named without a tree to match it against, so
        /// what it speaks is what -p or its name says).
        var discovered = true
        /// The USB bus and device numbers (nil: not on USB), for -u.
        var busNumber: Int?
        var deviceNumber: Int?
    }

    /// A tty named with --device and no sysfs to say more: an AT port (ttyUSBn, ttyACMn,
    /// UNISOC PCIe's stty_nr31), not a QMI node.
    static func isATPortName(_ path: String) -> Bool {
        let name = Files.basename(path)
        return name.begins(with: "tty") || name.begins(with: "stty")
    }

    static func find(_ o: Options, log: Logger) -> Target? {
        let discovery = DiscoveryOptions(sysRoot: o.sysRoot, devRoot: o.devRoot)
        let sysfs = Files.exists(o.sysRoot + "/bus/usb/devices") || Files.exists(o.sysRoot + "/bus/mhi/devices")
        if let d = o.device, o.interface == nil, !sysfs || Discovery.scan(discovery).modems.isEmpty {
            // An explicit channel with no sysfs to match it against.
            return Target(channel: d, netdev: o.interface, at: o.proxy.map { $0.speaksAT } ?? isATPortName(d),
                          discovered: false)
        }
        let result = Discovery.scan(discovery)
        let modem: Modem
        do throws(DiscoveryError) {
            modem = try Discovery.select(result, interface: o.interface, device: o.device)
        } catch {
            log.log(error.description)
            return nil
        }
        log.log("Find \(modem.sysfsPath) idVendor=0x\(QuectelModels.hex4(modem.vendorID)) idProduct=0x\(QuectelModels.hex4(modem.productID))"
                + (modem.busNumber.map { ", bus=0x\(Text.hex($0, 3)), dev=0x\(Text.hex(modem.deviceNumber ?? 0, 3))" } ?? ""))
        if modem.control == .at {
            if result.modemManagerRunning {
                log.log("warning: ModemManager is running: it probes AT ports and may answer or send commands on \(modem.atPort ?? "the AT port") while qcm dials (systemctl stop ModemManager)")
            }
            var t = atTarget(modem, o, log: log)
            t.busNumber = modem.busNumber
            t.deviceNumber = modem.deviceNumber
            return t
        }
        var t = Target(channel: modem.controlDevice ?? "", netdev: o.interface ?? modem.netInterface)
        t.busNumber = modem.busNumber
        t.deviceNumber = modem.deviceNumber
        log.log("Auto find qmichannel = \(t.channel)")
        log.log("Auto find usbnet_adapter = \(t.netdev ?? "?")")
        log.log("netcard driver = \(modem.driver ?? "?"), driver version = \(modem.driverVersion ?? "unknown")")
        if let w = modem.wwan {
            log.log("upstream WWAN: \(w.device ?? "no WWAN device") on MHI controller \(w.controller) (PCI \(w.pciAddress ?? "?"), \(w.pciDriver ?? "no driver")), ports: \(w.portList)")
        }
        for w in modem.warnings { log.log("warning: \(w)") }
        t.name = "\(modem.model) \(modem.idString)"
        t.rawIP = modem.rawIP
        t.driver = modem.driver
        t.rawIPSwitchable = t.netdev.map { Files.exists(o.sysRoot + "/class/net/\($0)/qmi/raw_ip") } ?? false
        if let d = o.device { t.channel = d }
        t.facts = DriverFacts(modem, netdev: t.netdev, sysRoot: o.sysRoot)
        t.mbim = modem.speaksMBIM
        t.productID = modem.productID
        return t
    }

    /// A UNISOC/ASR module: its AT port, and the netdev of the PDN (UNISOC PCIe: pcie<cid-1>).
    static func atTarget(_ modem: Modem, _ o: Options, log: Logger) -> Target {
        var netdev = o.interface ?? modem.netInterface
        if o.interface == nil, modem.bus.equals("pcie"), let pdn = o.pdns.first?.pdn, pdn >= 1, pdn <= modem.netInterfaces.count {
            netdev = modem.netInterfaces[pdn - 1]
        }
        let t = Target(channel: o.device ?? modem.atPort ?? "", netdev: netdev, name: "\(modem.model) \(modem.idString)",
                       driver: modem.driver, at: true, productID: modem.productID)
        log.log("Auto find atchannel = \(t.channel)")
        log.log("Auto find usbnet_adapter = \(t.netdev ?? "?")")
        log.log("netcard driver = \(modem.driver ?? "?"), driver version = \(modem.driverVersion ?? "unknown")")
        log.log("Modem works in \(modem.mode.name) mode: dialing with AT commands")
        for w in modem.warnings { log.log("warning: \(w)") }
        return t
    }

    /// An --ipv6-lan interface that does not exist here, or is the modem's own.
    static func lanProblem(_ o: Options, netdev: String?) -> String? {
        for p in o.pdns {
            guard let lan = p.ipv6LAN else { continue }
            if let n = netdev, lan.equals(n) || lan.begins(with: n + ".") || lan.begins(with: n + "_") {
                return "--ipv6-lan \(lan) is the modem's own interface: name the LAN interface the /64 is extended to"
            }
            guard let nl = try? Netlink(), (try? nl.index(of: lan)) != nil else {
                return "--ipv6-lan \(lan): no such network interface"
            }
        }
        return nil
    }

    /// quectel-CM refuses to dial a module in MBIM mode without an APN (Quectel's modules may
    /// fail a CONNECT whose access string is empty): so does qcm, before the modem is touched —
    /// on cdc_mbim, pcie_mhi's MBIM channel and through a proxy. The upstream kernel's
    /// /dev/wwanNmbimM, which quectel-CM cannot dial, keeps the modem's default APN.
    static func mbimAPNProblem(_ o: Options, _ target: Target) -> String? {
        guard !target.facts.mbimWWAN, let p = o.pdns.first(where: { ($0.apn ?? "").isEmpty }) else { return nil }
        return "MBIM needs the APN" + (o.pdns.count > 1 ? " of PDN \(p.pdn)" : "")
            + ": give it with -s APN (Quectel's modules in MBIM mode may refuse a CONNECT without one; quectel-CM refuses too)"
    }

    /// What an AT module cannot do that the command line asks for.
    static func atProblem(_ o: Options) -> String? {
        if o.pdns.count > 1 || o.pdns.contains(where: { $0.muxIndex != nil }) {
            return "an AT module carries one data call per netdev here: dial one PDN (-n CID) per qcm"
        }
        if o.dataPath != .auto { return "--data-path chooses how QMI data is carried; an AT module's data is plain Ethernet" }
        if o.pdns.contains(where: { $0.bringUp != nil || $0.apnType != nil }) {
            return "-a and -y choose how a QMI or MBIM call is brought up; the AT commands of UNISOC and ASR modules (AT+QICSGP, AT+QNETDEVCTL, AT+CGACT) carry no APN type: drop them"
        }
        return nil
    }

    /// Why the proxy of -p cannot serve this module (exit 2), if it cannot: each carries one
    /// protocol, and none serves GobiNet's service files.
    static func proxyProblem(_ p: Proxy, _ target: Target) -> String? {
        if target.at && !p.speaksAT {
            return "-p \(p.name) carries QMI or MBIM; an AT module is dialed on its AT port, or through Quectel's proxy (-p quectel-atc-proxy)"
        }
        if !target.at && p.speaksAT {
            return "-p quectel-atc-proxy carries AT commands; \(target.name) is dialed with \(target.mbim ? "MBIM (-p quectel-mbim-proxy, -p mbim-proxy)" : "QMI (-p quectel-qmi-proxy, -p qmi-proxy)")"
        }
        if QMITransports.isGobiNet(target.channel) {
            return "GobiNet's \(target.channel) makes each open file a QMI client of its own, and no proxy serves it: dial without -p"
        }
        if target.discovered, case .quectel(let q) = p, q != .atc, (q == .mbim) != target.mbim {
            return "-p \(p.name) speaks \(q == .mbim ? "MBIM" : "QMI"), but \(target.name) is in \(target.mbim ? "MBIM" : "QMI") mode (-p quectel-\(target.mbim ? "mbim" : "qmi")-proxy)"
        }
        if p.socket(device: target.channel) == nil {
            return "-p \(p.name): the proxy is named after the last character of the device it serves, and '\(target.channel)' has none that can name it"
        }
        return nil
    }

    /// `-u FILE`: the modem's USB traffic from debugfs usbmon (under the sysfs root, so that
    /// a copy of a board's tree, or a test, can stand in for it). Where it cannot run, one
    /// line says why, and qcm goes on without it.
    static func startUsbmon(_ file: String, _ target: Target, _ o: Options, loop: EventLoop, log: Logger) -> UsbmonCapture? {
        do throws(UsbmonCapture.Unavailable) {
            let source = try UsbmonCapture.source(debugRoot: o.sysRoot + "/kernel/debug", moduleRoot: o.sysRoot + "/module",
                                                  bus: target.busNumber)
            let c = UsbmonCapture(source: source, file: file, bus: target.busNumber ?? 0, device: target.deviceNumber ?? 0,
                                  loop: loop, log: log)
            try c.start()
            log.log("usbmon: copying bus \(c.bus) device \(Text.decimal(c.device, width: 3))'s traffic from \(source) into \(file)")
            return c
        } catch {
            log.log("-u \(file): no USB capture: \(error.reason); qcm goes on without it")
            return nil
        }
    }

    static func dial(_ o: Options, log: Logger) -> Int32 {
        guard let target = find(o, log: log) else { return ExitCode.noModem }
        if let p = o.proxy, let problem = proxyProblem(p, target) {
            log.log(problem)
            return ExitCode.usage
        }
        let channel = o.proxy.flatMap { $0.socket(device: target.channel) } ?? target.channel
        if let p = o.proxy { log.log("through \(p.name) on \(channel)") }

        let mbim = o.proxy.map { $0.speaksMBIM } ?? target.mbim
        if mbim && o.pdns.count > 1 && !target.facts.mbimWWAN && !target.facts.mhiMBIM {
            log.log("several PDNs on a module in MBIM mode need cdc_mbim's VLAN links (wwan0.N), which qcm does not create yet; dial one PDN, or switch the module to QMI (AT+QCFG=\"usbnet\",0)")
            return ExitCode.noModem
        }
        if (mbim || target.at) && o.pdns.contains(where: { $0.bridge }) {
            log.log(BridgePlan.notQMI(driver: target.driver, mbim: mbim))
            return ExitCode.noModem
        }
        if mbim, let problem = mbimAPNProblem(o, target) {
            log.log(problem)
            return ExitCode.usage
        }
        if target.at, let problem = atProblem(o) {
            log.log(problem)
            return ExitCode.usage
        }
        if let problem = lanProblem(o, netdev: target.netdev) {
            log.log(problem)
            return ExitCode.usage
        }
        if !mbim && !target.at, let problem = APNTypeRules.problem(o.pdns, productID: target.productID) {
            log.log(problem)
            return ExitCode.noModem
        }
        let plan: DataPlan
        var bridges: [BridgeTarget] = []
        do throws(DataPlan.Failure) {
            plan = try DataPlan.decide(target.facts, pdns: o.pdns, choice: o.dataPath)
            if !mbim && !target.at { bridges = try BridgePlan.decide(target.facts, plan, pdns: o.pdns) }
        } catch {
            log.log(error.message)
            return ExitCode.noModem
        }
        if target.at {
            let f = o.pdns[0].families
            let how = (f.contains(.ipv4) ? [o.noDHCP ? "IPv4 as the module reports it" : "IPv4 by DHCP"] : [])
                + (f.contains(.ipv6) ? ["IPv6 from its router advertisement"] : [])
            log.log("data path: Ethernet (\(target.driver ?? "the module's netdev")), " + how.joined(separator: " and ") + " from the module")
        } else {
            log.log("data path: " + plan.summary)
        }

        // One qcm per channel and PDN, and per QMAP mux.
        var instances = SmallMap<Int, Instance>()
        defer { for i in instances.values { i.release() } }
        for p in o.pdns {
            let instance = Instance(runDir: o.runDir, channel: target.channel, pdn: p.pdn, pidFile: o.pdns.count == 1 ? o.pidFile : nil)
            do throws(Instance.Failure) {
                try instance.lock(channel: o.proxy.map { "@" + $0.name + "-" + target.channel } ?? target.channel)
            } catch {
                switch error {
                case .held(let m): log.log(m); return ExitCode.locked
                case .system(let m): log.log(m); return ExitCode.permission
                }
            }
            instance.set(.modem, target.name)
            instances[p.pdn] = instance
            if o.proxy == .quectel(.atc) {
                do throws(Instance.Failure) {
                    try instance.lockSole(proxy: channel)
                } catch {
                    switch error {
                    case .held(let m): log.log(m); return ExitCode.locked
                    case .system(let m): log.log(m); return ExitCode.permission
                    }
                }
            }
            if let mux = plan.link(p.pdn)?.mux {
                do throws(Instance.Failure) {
                    try instance.lockMux(channel: target.channel, mux: mux, session: plan.carriesMBIMSessions)
                } catch {
                    switch error {
                    case .held(let m): log.log(m); return ExitCode.locked
                    case .system(let m): log.log(m); return ExitCode.permission
                    }
                }
            }
        }

        var timeouts = SessionConfig.Timeouts()
        if let v = SystemdNotify.env("QCM_QMI_TIMEOUT_MS").flatMap({ Text.parseInt($0) }), v > 0 { timeouts = timeouts.capped(v) }
        if let v = SystemdNotify.env("QCM_AT_CHECK_MS").flatMap({ Text.parseInt($0) }), v >= 100 { timeouts.atCallCheck = v }
        var config = SessionConfig(
            options: o, channel: channel, device: target.channel, proxy: o.proxy, netdev: target.netdev,
            rawIP: target.rawIP, rawIPSwitchable: target.rawIPSwitchable, driver: target.driver, timeouts: timeouts,
            plan: plan)
        config.driverOwnsCTL = o.proxy == nil && QMITransports.isGobiNet(target.channel)
        config.productID = target.productID
        config.bridges = bridges
        let session: Runner.Session
        if target.at {
            #if QCM_AT
            config.at = true
            session = .at(ATSession(config))
            #else
            log.log("this qcm was built without AT commands (scripts/build-embedded --no-at): it cannot dial \(target.name)")
            return ExitCode.noModem
            #endif
        } else {
            #if QCM_MBIM
            config.mbim = mbim
            session = mbim ? .mbim(MBIMSession(config)) : .qmi(QMISession(config))
            if mbim { log.log("MBIM mode: dialing with MBIM Basic Connect") }
            #else
            if mbim {
                log.log("this qcm was built without MBIM (scripts/build-embedded --no-mbim): it cannot dial a module in MBIM mode")
                return ExitCode.noModem
            }
            session = .qmi(QMISession(config))
            #endif
        }

        let loop = EventLoop()
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGUSR1]
        let sfd = csys_signalfd(&signals, 4)
        _ = csys_ignore_sigpipe()
        let notify = SystemdNotify()
        let interface = target.netdev
        let capture = o.usbmonFile.flatMap { startUsbmon($0, target, o, loop: loop, log: log) }
        let rediscover: (() -> Runner.Found?)? = o.device != nil ? nil : {
            guard let m = try? Discovery.select(Discovery.scan(DiscoveryOptions(sysRoot: o.sysRoot, devRoot: o.devRoot)), interface: interface),
                  (m.control == .at) == target.at, let channel = target.at ? m.atPort : m.controlDevice else { return nil }
            capture?.retarget(bus: m.busNumber, device: m.deviceNumber)
            return Runner.Found(channel: channel, facts: target.at ? DriverFacts() : DriverFacts(m, netdev: interface, sysRoot: o.sysRoot))
        }
        let runner = Runner(session: session, loop: loop, log: log, notify: notify, instances: instances, rediscover: rediscover)
        loop.watch(sfd) { _ in
            var info = signalfd_siginfo()
            while read(sfd, &info, MemoryLayout<signalfd_siginfo>.size) > 0 {
                switch Int32(info.ssi_signo) {
                case SIGHUP:
                    log.reopen()
                    log.log("SIGHUP: log file reopened; state: \(runner.stateText)")
                case SIGINT: runner.feed(.stop(signal: "SIGINT"))
                case SIGUSR1: runner.feed(.stopPDN(Int(info.ssi_int)))      // qcm -k N of several PDNs
                default: runner.feed(.stop(signal: "SIGTERM"))
                }
            }
        }
        if let ms = notify.watchdogMs {
            func pet() {
                notify.watchdog()
                loop.after(ms) { pet() }
            }
            pet()
        }
        runner.start()
        while runner.exitCode == nil { loop.run() }
        _ = close(sfd)
        let code = runner.exitCode ?? ExitCode.failure
        if let c = capture {
            c.drain()
            c.stop()
            log.log("usbmon: \(c.linesWritten) line(s) of the modem's (of \(c.linesSeen) on bus \(c.bus)) written to \(c.file)")
        }
        log.log("qcm exit \(code)")
        return code
    }
}
