import Base
import CSystem
import QMICore
import USBDiscovery

/// `qcm [options]`: find the modem, take its lock, run the Manager on the event loop
/// until a signal (or a fatal error) ends it.
enum Daemon {
    static func run(_ opts: Options) -> Int32 {
        let o = opts   // a class: the simulation adjusts the paths in place
        let log = Logger()
        log.verbose = o.verbose
        if let f = o.logFile, let err = log.openFile(f) {
            Out.error("qcm: \(err)")
            return ExitCode.usage
        }
        log.log("qcm \(CLI.version) (QMI connection manager, quectel-CM compatible)")
        if let k = o.killPDN { return KillCommand.run(pdn: k, runDir: o.runDir, log: log) }
        log.log("profile[\(o.pdn)] = \(o.apn ?? "(from the modem)")/\(o.user ?? "")/\(o.password == nil ? "" : "***")/\(o.auth.map { Options.authName($0) } ?? "-"), pincode = \(o.pin == nil ? "(none)" : "***")")

        var sim: Simulation?
        if o.simulate {
            do throws(Simulation.Failure) {
                sim = try Simulation.start(o, log: log)
            } catch {
                log.log(error.message)
                return ExitCode.failure
            }
            if o.dns.equals("auto") { o.dns = "none" }   // the host's resolv.conf is not the simulation's
            o.sysRoot = sim!.sysRoot
            o.devRoot = sim!.devRoot
            if o.runDir.equals("/run/qcm") && getuid() != 0 { o.runDir = sim!.root + "/run" }
            if !sim!.networking {
                o.noLink = true
                log.log("--simulate without root: the QMI dial runs, link configuration is skipped")
            }
        }
        defer { sim?.stop() }
        return dial(o, log: log, sim: sim)
    }

    static func dial(_ o: Options, log: Logger, sim: Simulation?) -> Int32 {
        // Which modem, which channel, which netdev.
        let discovery = DiscoveryOptions(sysRoot: o.sysRoot, devRoot: o.devRoot)
        var channel: String
        var netdev = o.interface
        var name = "QMI device"
        var rawIP: Bool?
        var driver: String?
        if let d = o.device, o.interface == nil, !Files.exists(o.sysRoot + "/bus/usb/devices") || Discovery.scan(discovery).modems.isEmpty {
            channel = d                      // an explicit channel with no sysfs to match it against
        } else {
            let result = Discovery.scan(discovery)
            let modem: Modem
            do throws(DiscoveryError) {
                modem = try Discovery.select(result, interface: o.interface, device: o.device)
            } catch {
                log.log(error.description)
                return ExitCode.noModem
            }
            log.log("Find \(modem.sysfsPath) idVendor=0x\(QuectelModels.hex4(modem.vendorID)) idProduct=0x\(QuectelModels.hex4(modem.productID))"
                    + (modem.busNumber.map { ", bus=0x\(Text.hex($0, 3)), dev=0x\(Text.hex(modem.deviceNumber ?? 0, 3))" } ?? ""))
            channel = modem.controlDevice ?? ""
            if netdev == nil { netdev = modem.netInterface }
            log.log("Auto find qmichannel = \(channel)")
            log.log("Auto find usbnet_adapter = \(netdev ?? "?")")
            log.log("netcard driver = \(modem.driver ?? "?"), driver version = \(modem.driverVersion ?? "unknown")")
            for w in modem.warnings { log.log("warning: \(w)") }
            name = "\(modem.model) \(modem.idString)"
            rawIP = modem.rawIP
            driver = modem.driver
        }
        if let d = o.device { channel = d }

        // One qcm per channel and PDN.
        let instance = Instance(runDir: o.runDir, pdn: o.pdn, pidFile: o.pidFile)
        do throws(Instance.Failure) {
            try instance.lock(channel: o.proxy.map { "@" + $0 + "-" + channel } ?? channel)
        } catch {
            switch error {
            case .held(let m): log.log(m); return ExitCode.locked
            case .system(let m): log.log(m); return ExitCode.permission
            }
        }
        defer { instance.release() }

        let loop = EventLoop()
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
        let sfd = csys_signalfd(&signals, 3)
        _ = csys_ignore_sigpipe()
        let notify = SystemdNotify()
        let interfaceForRediscovery = netdev
        let rediscover: (() -> (channel: String, netdev: String?)?)? = o.device != nil ? nil : {
            guard let m = try? Discovery.select(Discovery.scan(discovery), interface: interfaceForRediscovery), let c = m.controlDevice else { return nil }
            return (c, m.netInterface)
        }
        let manager = Manager(options: o, log: log, loop: loop, notify: notify, instance: instance, channel: channel,
                              netdev: netdev, modemName: name, rawIP: rawIP, driver: driver, sysRoot: o.sysRoot,
                              rediscover: rediscover)
        loop.watch(sfd) { _ in
            var info = signalfd_siginfo()
            while read(sfd, &info, MemoryLayout<signalfd_siginfo>.size) > 0 {
                switch Int32(info.ssi_signo) {
                case SIGHUP:
                    log.reopen()
                    log.log("SIGHUP: log file reopened; state: \(manager.state.text)")
                case SIGINT: manager.stop(signal: "SIGINT")
                default: manager.stop(signal: "SIGTERM")
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
        manager.start()
        while manager.exitCode == nil { loop.run() }
        _ = close(sfd)
        log.log("qcm exit \(manager.exitCode ?? 1)")
        return manager.exitCode ?? ExitCode.failure
    }
}
