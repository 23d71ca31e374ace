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

    init(interface: String, metric: UInt32, dnsMode: DNSMode, resolvConf: String, dnsBackup: String?, scriptPath: String?,
         log: Logger) throws(LinkError) {
        self.interface = interface
        self.metric = metric
        self.log = log
        if let p = scriptPath {
            script = try ScriptHook(path: p)
        } else {
            let nl = try Netlink()
            let dns = dnsMode == .none ? nil : DNSManager(mode: dnsMode, interface: interface, resolvConf: resolvConf, backupPath: dnsBackup)
            let m = LinkManager(netlink: nl, dns: dns)
            m.log = { log.log($0) }
            m.dns?.log = { log.log($0) }
            manager = m
        }
    }

    /// Where the original resolv.conf is kept while qcm runs: the run directory when it
    /// can be used safely, else memory only.
    static func dnsBackup(runDir: String) -> String? {
        do throws(Instance.Failure) { try Instance.prepare(runDir: runDir) } catch { return nil }
        return runDir + "/resolv.conf.backup"
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
    }

    /// Removes what was configured; errors are logged, never fatal here.
    func deconfigure() {
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

    func plan(ipv4: QMIMessage?, ipv6: QMIMessage?, ethernet: Bool) -> LinkPlan {
        let plan = LinkPlan(interface: interface, metric: metric)
        var dns: [IPAddress] = []
        if let r = ipv4, let addr = try? r.value("IPv4 Address")?.ipv4 {
            let mask = (try? r.value("IPv4 Subnet Mask")?.ipv4) ?? nil
            let prefix = mask.flatMap { LinkPlan.prefix(ofMask: $0) } ?? 30
            let gw = (try? r.value("IPv4 Gateway")?.ipv4) ?? nil
            plan.ipv4 = .init(address: IPAddress(ipv4: addr), prefix: prefix, gateway: gw.map { IPAddress(ipv4: $0) },
                              routeViaGateway: ethernet && gw != nil)
            for name in ["IPv4 Primary DNS", "IPv4 Secondary DNS"] {
                if let d = (try? r.value(name)?.ipv4) ?? nil, d != 0 { dns.append(IPAddress(ipv4: d)) }
            }
            if let mtu = (try? r.value("MTU")?.uint) ?? nil, mtu >= 576, mtu <= 65535 { plan.mtu = UInt32(mtu) }
        }
        if let r = ipv6, let a = (try? r.value("IPv6 Address")) ?? nil, let bytes = a[0]?.ipv6, let ip = IPAddress(bytes) {
            let prefix = Int(a[1]?.uint ?? 64)
            let gw = ((try? r.value("IPv6 Gateway")) ?? nil)?[0]?.ipv6.flatMap { IPAddress($0) }
            plan.ipv6 = .init(address: ip, prefix: prefix == 0 || prefix > 128 ? 64 : prefix, gateway: gw, routeViaGateway: false)
            for name in ["IPv6 Primary DNS", "IPv6 Secondary DNS"] {
                if let d = ((try? r.value(name)) ?? nil)?.ipv6.flatMap({ IPAddress($0) }) { dns.append(d) }
            }
            if plan.mtu == nil, let mtu = (try? r.value("MTU")?.uint) ?? nil, mtu >= 1280, mtu <= 65535 { plan.mtu = UInt32(mtu) }
        }
        plan.dns = dns
        return plan
    }

    func plan(lease l: Lease) -> LinkPlan {
        LinkPlan(interface: interface,
                 ipv4: .init(address: IPAddress(ipv4: l.address), prefix: l.prefix,
                             gateway: l.routers.first.map { IPAddress(ipv4: $0) }, routeViaGateway: !l.routers.isEmpty),
                 dns: l.dns.map { IPAddress(ipv4: $0) }, domain: l.domain, mtu: l.mtu.map { UInt32($0) }, metric: metric)
    }

    static func describe(_ p: LinkPlan) -> String {
        var parts: [String] = []
        if let a = p.ipv4 { parts.append("\(a.address.text)/\(a.prefix)" + (a.gateway.map { " gw \($0.text)" } ?? "")) }
        if let a = p.ipv6 { parts.append("\(a.address.text)/\(a.prefix)") }
        if !p.dns.isEmpty { parts.append("dns " + p.dns.map { $0.text }.joined(separator: " ")) }
        if let m = p.mtu { parts.append("mtu \(m)") }
        return parts.joined(separator: ", ")
    }
}
