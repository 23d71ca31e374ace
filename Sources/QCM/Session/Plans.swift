import Base
import DHCPClient
import LinkConfig
import QMICore
import QMIMessages

/// Link plans from what the modem or the DHCP server said. Pure functions: every address,
/// prefix and server is checked before it can reach the kernel or resolv.conf.
enum Plans {
    /// From WDS runtime settings (raw-IP links, or -d on 802.3 links).
    static func fromRuntime(ipv4: WDS.GetRuntimeSettings.Response?, ipv6: WDS.GetRuntimeSettings.Response?,
                            interface: String, metric: UInt32, ethernet: Bool, defaultRoute: Bool) -> LinkPlan {
        let plan = LinkPlan(interface: interface, metric: metric, defaultRoute: defaultRoute)
        var dns: [IPAddress] = []
        var domains: [String] = []
        if let r = ipv4, let a = r.ipv4Address, IPAddress(ipv4: a).isUsableUnicast {
            let prefix = r.ipv4SubnetMask.flatMap { $0 == 0 ? nil : IPAddress.prefix(ofMask: $0) } ?? 30
            let gw = r.ipv4Gateway.map { IPAddress(ipv4: $0) }.flatMap { $0.isUsableUnicast ? $0 : nil }
            plan.ipv4 = .init(address: IPAddress(ipv4: a), prefix: prefix, gateway: gw, routeViaGateway: ethernet && gw != nil)
            for d in [r.ipv4PrimaryDNS, r.ipv4SecondaryDNS] {
                if let v = d, IPAddress(ipv4: v).isUsableUnicast { dns.append(IPAddress(ipv4: v)) }
            }
            if let mtu = r.mtu, mtu >= 576, mtu <= 65535 { plan.mtu = mtu }
            domains += r.domainNames ?? []
        }
        if let r = ipv6, let a = r.ipv6Address, let ip = IPAddress(a.address), ip.isUsableUnicast {
            let prefix = Int(a.prefixLength)
            let gw = r.ipv6Gateway.flatMap { IPAddress($0.address) }.flatMap { $0.isUsableUnicast ? $0 : nil }
            plan.ipv6 = .init(address: ip, prefix: prefix == 0 || prefix > 128 ? 64 : prefix, gateway: gw, routeViaGateway: false)
            for d in [r.ipv6PrimaryDNS, r.ipv6SecondaryDNS] {
                if let b = d, let v = IPAddress(b), v.isUsableUnicast { dns.append(v) }
            }
            if plan.mtu == nil, let mtu = r.mtu, mtu >= 1280, mtu <= 65535 { plan.mtu = mtu }
            domains += r.domainNames ?? []
        }
        plan.dns = DNSManager.usable(dns)
        plan.domain = domains.first { DNSName.isValid($0) }
        return plan
    }

    /// From a DHCP lease (already checked by the DHCP machine).
    static func fromLease(_ l: Lease, interface: String, metric: UInt32, defaultRoute: Bool) -> LinkPlan {
        LinkPlan(interface: interface,
                 ipv4: .init(address: IPAddress(ipv4: l.address), prefix: l.prefix,
                             gateway: l.routers.first.map { IPAddress(ipv4: $0) }, routeViaGateway: !l.routers.isEmpty),
                 dns: l.dns.map { IPAddress(ipv4: $0) }, domain: l.domain, mtu: l.mtu.map { UInt32($0) }, metric: metric,
                 defaultRoute: defaultRoute)
    }

    /// RFC 7278, with --ipv6-lan: the /64 of the call's IPv6 address goes to the LAN and the
    /// mobile interface keeps the address alone (a /128). A network that granted less than a
    /// /64 leaves nothing to extend (hosts form addresses from /64s only): the message says so
    /// and the plan stays as it was.
    static func extendToLAN(_ plan: LinkPlan, _ o: PDNOptions) -> String? {
        guard let lan = o.ipv6LAN, var v6 = plan.ipv6 else { return nil }
        guard v6.prefix <= 64 else {
            return "the network granted \(v6.address.text)/\(v6.prefix), narrower than a /64: hosts on \(lan) cannot form addresses from it (SLAAC needs a /64); IPv6 stays on \(plan.interface)"
        }
        plan.ipv6LAN = LinkPlan.LAN(interface: lan, prefix: v6.address.prefix64, advertise: o.ipv6LANAdvertise)
        v6.prefix = 128
        plan.ipv6 = v6
        return nil
    }

    /// "10.90.1.113/30 gw 10.90.1.114, dns 211.138.180.2 211.138.180.3, mtu 1500".
    static func describe(_ p: LinkPlan) -> String {
        var parts: [String] = []
        if let a = p.ipv4 { parts.append("\(a.address.text)/\(a.prefix)" + (a.gateway.map { " gw \($0.text)" } ?? "")) }
        if let a = p.ipv6 { parts.append("\(a.address.text)/\(a.prefix)") }
        if let l = p.ipv6LAN { parts.append("\(l.prefixText) to \(l.interface)") }
        if !p.dns.isEmpty { parts.append("dns " + p.dns.map { $0.text }.joined(separator: " ")) }
        if let m = p.mtu { parts.append("mtu \(m)") }
        return parts.joined(separator: ", ")
    }
}
