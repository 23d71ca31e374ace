import Base
import CSystem
import QMICore
import LinkConfig
import DHCPClient

/// `qcm dhcp -i IFACE`: the DHCP client alone, like `udhcpc -i IFACE`.
enum DHCPCommand {
    static let usage = """
        Usage: qcm dhcp -i IFACE [--script PATH] [-q] [--timeout SEC] [--dns MODE] [--resolv-conf FILE]
                        [--run-dir DIR] [--metric N] [-v] [-f FILE]
          Runs qcm's RFC 2131 client on IFACE (an 802.3 link brought up by other means) and
          applies the lease over rtnetlink, or hands it to a udhcpc-style script.
          Keeps renewing until SIGINT/SIGTERM, then sends RELEASE and removes the configuration.
          -q               exit once bound (the configuration stays, as with udhcpc -q)
          --timeout SEC    with -q: give up (exit 1) without a lease after SEC seconds
          --run-dir DIR    where the resolv.conf backup and the record of the configuration
                           are kept while it runs (default /run/qcm)
        Exit status: 0 done, 1 no lease (-q --timeout), 2 usage, 8 interface or link error.
        """

    static func run(_ args: [String]) -> Int32 {
        var iface: String?
        var script: String?
        var quit = false
        var timeout: Int64?
        var dns = DNSMode.auto
        var resolv = "/etc/resolv.conf"
        var runDir = "/run/qcm"
        var metric: UInt32 = 0
        let log = Logger()
        var a = Args(args)
        do throws(UsageError) {
            while let w = a.next() {
                switch Word(w) {
                case "-i", "--interface": iface = try a.value(w)
                case "--script", "-s": script = try a.value(w)
                case "-q", "--quit": quit = true
                case "--timeout", "-T": timeout = Int64(try a.number(w, 1...86400)) * 1000
                case "--dns":
                    let v = try a.value(w)
                    guard let m = DNSMode.parse(v) else { throw UsageError(message: "--dns: '\(v)' is not one of auto, resolvconf, file, none") }
                    dns = m
                case "--resolv-conf": resolv = try a.value(w)
                case "--run-dir": runDir = try a.value(w)
                case "--metric": metric = UInt32(try a.number(w, 0...0x7fff_ffff))
                case "-v", "--verbose": log.verbose = true
                case "-f", "--log-file":
                    let f = try a.value(w)
                    if let err = log.openFile(f) { throw UsageError(message: err) }
                case "-h", "--help":
                    Out.line(usage)
                    return ExitCode.ok
                default: throw Args.unknown(w)
                }
            }
        } catch {
            Out.error("qcm dhcp: \(error.message)")
            Out.error(usage)
            return ExitCode.usage
        }
        guard let dev = iface else {
            Out.error("qcm dhcp: -i IFACE is required")
            Out.error(usage)
            return ExitCode.usage
        }
        let setup: LinkSetup
        let client: DHCPClient
        let loop = EventLoop()
        do throws(LinkError) {
            setup = try LinkSetup(interface: dev, metric: metric, dnsMode: dns, resolvConf: resolv, runDir: runDir,
                                  scriptPath: script, log: log, loop: loop)
            try setup.up()
        } catch {
            log.log(error.description)
            return ExitCode.link
        }
        do throws(DHCPError) {
            client = try DHCPClient(interface: dev)
        } catch {
            log.log(error.description)
            return ExitCode.link
        }
        var signals: [Int32] = [SIGINT, SIGTERM]
        let sfd = csys_signalfd(&signals, 2)
        var code: Int32?
        var bound = false
        let driver = DHCPDriver(client: client, loop: loop)
        client.onLog = { log.debug($0) }
        driver.onError = { log.log($0) }
        client.onEvent = { e in
            switch e {
            case .bound(let l), .renewed(_, let l):
                log.log("lease \(l.summary)")
                var renew = false
                if case .renewed = e { renew = true }
                do throws(LinkError) {
                    try setup.apply(Plans.fromLease(l, interface: dev, metric: metric, defaultRoute: true), leaseSeconds: l.leaseSeconds, renew: renew)
                } catch {
                    log.log(error.description)
                    code = ExitCode.link
                    loop.stop()
                    return
                }
                bound = true
                if quit {
                    code = ExitCode.ok
                    loop.stop()
                }
            case .expired(let l):
                log.log("lease of \(IPAddress(ipv4: l.address).text) expired")
                setup.deconfigure()
                bound = false
            case .nak(let m):
                log.log("NAK" + (m.map { ": \($0)" } ?? ""))
                if let s = setup.script { _ = try? s.run(event: "nak", variables: [("interface", dev), ("message", m ?? "")]) }
            case .leaseFailed(let n):
                log.log("no lease after \(n) DISCOVERs")
                if let s = setup.script { _ = try? s.run(event: "leasefail", variables: [("interface", dev)]) }
            }
        }
        loop.watch(sfd) { _ in
            var info = signalfd_siginfo()
            _ = read(sfd, &info, MemoryLayout<signalfd_siginfo>.size)
            code = ExitCode.ok
            loop.stop()
        }
        if let t = timeout, quit {
            loop.after(t) {
                if !bound {
                    log.log("no lease on \(dev) within \(t / 1000) s")
                    code = ExitCode.failure
                    loop.stop()
                }
            }
        }
        do throws(DHCPError) { try driver.start() } catch {
            log.log(error.description)
            return ExitCode.link
        }
        while code == nil { loop.run() }
        if !(quit && code == ExitCode.ok) {
            driver.stop(release: bound)
            setup.deconfigure()
        }
        return code ?? ExitCode.failure
    }
}
