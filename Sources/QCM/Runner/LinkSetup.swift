import Base
import QMICore
import LinkConfig
import DHCPClient

/// Turns QMI runtime settings or a DHCP lease into a LinkPlan and puts it on the link:
/// over rtnetlink (LinkManager), or through a udhcpc-style script.
final class LinkSetup {
    let interface: String
    let log: Logger
    var manager: LinkManager?
    var script: ScriptHook?
    var scriptBound = false
    var metric: UInt32
    let loop: EventLoop
    /// RFC 7278: the Router Advertisements qcm sends on the LAN its /64 is extended to.
    var advertiser: RouterAdvertiser?
    /// The network's Router Advertisements on the mobile link, read to say what qcm does not take.
    var watcher: NetworkRAWatcher?
    /// RFC 7278 behind an AT module: the module's Neighbour Solicitations for the LAN's hosts answered.
    var proxy: NeighbourProxy?

    /// `runDir`: where the DNS backup and the record of what was applied are kept (nil, or
    /// a directory that cannot be used safely: memory only).
    init(interface: String, metric: UInt32, dnsMode: DNSMode, resolvConf: String, runDir: String?, scriptPath: String?,
         log: Logger, loop: EventLoop) throws(LinkError) {
        self.interface = interface
        self.metric = metric
        self.log = log
        self.loop = loop
        if let p = scriptPath {
            script = try ScriptHook(path: p)
        } else {
            let nl = try Netlink()
            let dir = runDir.flatMap { LinkSetup.usable($0) }
            let dns = dnsMode == .none ? nil : DNSManager(mode: dnsMode, interface: interface, resolvConf: resolvConf,
                                                          backupPath: dir.map { $0 + "/resolv.conf.backup" })
            let m = LinkManager(netlink: nl, dns: dns, recordPath: dir.map { $0 + "/link-\(interface).state" })
            m.log = { log.log($0) }
            m.dns?.log = { log.log($0) }
            manager = m
        }
    }

    /// The run directory when it can be used safely.
    static func usable(_ runDir: String) -> String? {
        do throws(Instance.Failure) { try Instance.prepare(runDir: runDir) } catch { return nil }
        return runDir
    }

    /// Brings the link up before DHCP (LinkManager does it as part of a plan otherwise).
    func up() throws(LinkError) {
        guard let m = manager else {
            _ = try script?.run(event: "deconfig", variables: [("interface", interface)])
            return
        }
        let idx = try m.netlink.index(of: interface)
        if let l = try m.netlink.link(idx), !l.isUp { try m.netlink.setLink(idx, name: interface, up: true) }
    }

    func apply(_ plan: LinkPlan, leaseSeconds: UInt32? = nil, renew: Bool = false) throws(LinkError) {
        if let s = script {
            let out = try s.run(event: renew ? "renew" : "bound", variables: plan.scriptEnvironment(leaseSeconds: leaseSeconds))
            for l in Files.lines(Array(out.utf8)) where !l.isEmpty { log.log(l) }
            scriptBound = true
            return
        }
        try manager?.apply(plan)
        followIPv6(plan)
    }

    /// IPv6 beside the plan: the network's RAs watched on the mobile link, and on a LAN the
    /// /64 is extended to, qcm's own RAs (unless another daemon sends them).
    func followIPv6(_ plan: LinkPlan) {
        guard let m = manager, let v6 = plan.ipv6 else { return }
        let mine = plan.ipv6LAN?.prefix ?? v6.address.prefix64
        if watcher == nil, let index = try? m.netlink.index(of: interface) {
            do throws(LinkError) {
                let w = try NetworkRAWatcher(interface: interface, index: index, expected: mine, loop: loop)
                w.log = { [log] in log.log($0) }
                watcher = w
            } catch {
                log.log("warning: the network's router advertisements on \(interface) are not watched: \(error.description)")
            }
        }
        watcher?.expected = mine
        if let lan = plan.ipv6LAN, lan.answersNeighbours, proxy?.prefix != lan.prefix {
            proxy?.close()
            proxy = nil
            do throws(LinkError) {
                let index = try m.netlink.index(of: interface)
                guard let ll = try m.netlink.addresses(.ipv6, index: index).first(where: { $0.linkScope })?.address else {
                    throw .invalid("\(interface) has no IPv6 link-local address")
                }
                let p = try NeighbourProxy(interface: interface, index: index, linkLocal: ll, prefix: lan.prefix, own: [v6.address], loop: loop)
                p.log = { [log] in log.log($0) }
                proxy = p
            } catch {
                log.log("warning: \(interface): the module's neighbour solicitations for \(lan.prefixText) are not answered, so the LAN's hosts get no IPv6 traffic back: \(error.description)")
            }
        }
        guard let lan = plan.ipv6LAN, lan.advertise else { return }
        if advertiser == nil {
            do throws(LinkError) {
                let a = try RouterAdvertiser(interface: lan.interface, index: try m.netlink.index(of: lan.interface), sourceMAC: nil, loop: loop)
                a.log = { [log] in log.log($0) }
                advertiser = a
                log.log("\(lan.interface): advertising \(lan.prefixText) (RFC 7278)")
            } catch {
                return log.log("warning: no router advertisements on \(lan.interface): \(error.description)")
            }
        }
        advertiser?.advertise(RAMachine.Grant(prefix: lan.prefix, dns: plan.dns.filter { $0.family == .ipv6 },
                                              domains: plan.domain.map { [$0] } ?? [], mtu: plan.mtu))
    }

    /// Removes what was configured; errors are logged, never fatal here. The LAN's prefix is
    /// deprecated at once (the advertiser keeps answering with that until a new call).
    func deconfigure() {
        advertiser?.withdraw()
        watcher?.close()
        watcher = nil
        proxy?.close()
        proxy = nil
        if let s = script {
            guard scriptBound else { return }
            scriptBound = false
            do throws(LinkError) {
                _ = try s.run(event: "deconfig", variables: [("interface", interface)])
            } catch { log.log("deconfig: \(error.description)") }
            return
        }
        do throws(LinkError) { try manager?.undo() } catch { log.log("removing the link configuration: \(error.description)") }
    }
}
