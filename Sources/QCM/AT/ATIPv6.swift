#if QCM_AT
import Base
import ATMessages
import LinkConfig

/// What the module's Router Advertisement on its Ethernet link offers the host.
struct RouterOffer {
    /// The /64 to form an address in (bits past 64 zero).
    var prefix: IPAddress
    /// The module's link-local address: the next hop of the default route.
    var router: IPAddress
    /// The host's link-local address on the link: its interface identifier (the last 64
    /// bits) completes the address, as the kernel's own SLAAC would.
    var linkLocal: IPAddress
    var dns: [IPAddress]

    var address: IPAddress { IPAddress(Array(prefix.bytes[0..<8]) + Array(linkLocal.bytes[8..<16])) ?? prefix }
}

extension RouterOffer {
    /// What `ra`, sent from `from`, offers a host whose link-local address is `linkLocal`; nil
    /// when it offers nothing to take. RFC 4861: a router advertises from its link-local
    /// address, with a router lifetime above 0. A prefix hosts could not use as their own
    /// (link-local, multicast, ::, not a /64, expired) is not taken; nor are DNS servers that
    /// are no usable unicast addresses.
    init?(_ ra: RouterAdvertisement, from: IPAddress, linkLocal: IPAddress) {
        guard ra.routerLifetime > 0, from.family == .ipv6, from.isLinkLocalOrMulticast, !from.isMulticast,
              let p = ra.prefixes.first(where: { $0.autonomous && $0.length == 64 && $0.valid > 0
                  && $0.prefix.isUsableUnicast && !$0.prefix.isLinkLocalOrMulticast }) else { return nil }
        self.init(prefix: p.prefix, router: from, linkLocal: linkLocal, dns: ra.dns.filter { $0.family == .ipv6 && $0.isUsableUnicast })
    }
}

/// The call's IPv6 on an AT module's link.
enum IPv6State: Equatable {
    /// Not asked for, or not yet.
    case none
    /// Waiting for the module's RA.
    case waiting
    case formed(LinkPlan.Address, dns: [IPAddress])
    /// Asked for, not to be had on this call (IPv4 goes on alone).
    case unavailable
}

/// IPv6 on an AT module (UNISOC, ASR). Its netdev is an Ethernet link, and the module is the
/// IPv6 router on it: the network grants the module a /64 (its own address, in +CGPADDR or
/// +QNETDEVSTATUS, is one address in it), and the module advertises the /64 on usb0. qcm
/// listens for that RA, forms the host's address in the /64 from the link-local interface
/// identifier (the address the kernel's SLAAC would form), and configures it itself, with the
/// default route via the module's link-local address and the DNS servers of the RA (or of the
/// module's report), as it configures every other path: the kernel takes no address or route
/// from RAs beside qcm's. No DAD is needed: the only other node on the link is the module,
/// whose address qcm knows.
extension ATSession {
    static let routerWaitMs: Int64 = 10_000

    var wantsIPv4: Bool { call.options.families.contains(.ipv4) }
    var wantsIPv6: Bool { call.options.families.contains(.ipv6) }

    /// The module's IPv6 from +QNETDEVSTATUS's dotted form: after the six IPv4 fields come the
    /// IPv6 address, three empty fields and two DNS servers (RG500U/RM500U).
    func moduleReported(_ d: AT.DataStatus.Answer?) {
        if let v6 = ATSession.dottedIPv6(d) { moduleIPv6 = v6 }
        let fields = d?.more.map { Text.split($0, on: 44).map { Text.trimmed($0) } } ?? []
        moduleIPv6DNS = fields.dropFirst(4).prefix(2).compactMap { IPAddress($0) }.filter { $0.family == .ipv6 && $0.isUsableUnicast }
    }

    /// The module's IPv6 address in +QNETDEVSTATUS's dotted form (RG801H's hex form has none).
    static func dottedIPv6(_ d: AT.DataStatus.Answer?) -> IPAddress? {
        guard let more = d?.more, let first = Text.split(more, on: 44).first else { return nil }
        return IPAddress(Text.trimmed(first)).flatMap { $0.family == .ipv6 && $0.isUsableUnicast ? $0 : nil }
    }

    /// +CGPADDR: an address per family the context has.
    static func addresses(_ a: AT.ContextAddress.Answer?) -> (ipv4: IPAddress?, ipv6: IPAddress?) {
        let all = [a?.address, a?.address2].compactMap { $0 }.compactMap { IPAddress(Text.trimmed($0)) }.filter { $0.isUsableUnicast }
        return (all.first { $0.family == .ipv4 }, all.first { $0.family == .ipv6 })
    }

    /// The link's IPv4 part is configured (or there is none): the IPv6 part next, else connected.
    func ipv4Configured(_ plan: LinkPlan?) {
        ipv4Plan = plan
        if wantsIPv6 && ipv6 == .none {
            ipv6 = .waiting
            log("IPv6: waiting for the module's router advertisement on \(netdevName(call.pdn))"
                + (moduleIPv6.map { " (the module's address: \($0.text))" } ?? ""))
            emit(.watchRouter(pdn: call.pdn))
            arm(.at(.routerAdvertisement), ATSession.routerWaitMs)
            return
        }
        connected(call, plan)
        afterConnected()
    }

    func routerAdvertised(_ r: Result<RouterOffer, LinkError>) {
        guard isReady, call.phase == .configuring, ipv6 == .waiting, let dev = netdev(call.pdn) else { return }
        let o: RouterOffer
        switch r {
        case .failure(let e): return ipv6Unavailable(e.description)
        case .success(let offer): o = offer
        }
        cancel(.at(.routerAdvertisement))
        let address = o.address
        if let m = moduleIPv6 {
            if address == m { return ipv6Unavailable("the address formed in \(o.prefix.text)/64 would be the module's own (\(m.text))") }
            if m.prefix64 != o.prefix {
                log("IPv6: the module advertises \(o.prefix.text)/64, while its own address \(m.text) is in another /64: qcm takes the advertised one, as a host's SLAAC would")
            }
        }
        let dns = o.dns.isEmpty ? moduleIPv6DNS : o.dns
        ipv6 = .formed(.init(address: address, prefix: 64, gateway: o.router, routeViaGateway: true), dns: dns)
        log("IPv6: the module advertises \(o.prefix.text)/64 (router \(o.router.text)): \(address.text)/64")
        emit(.applyLink(pdn: call.pdn, withIPv6(ipv4Plan ?? LinkPlan(interface: dev, metric: options.metric, defaultRoute: call.options.defaultRoute)),
                        leaseSeconds: nil, renew: false))
    }

    /// The call goes on without IPv6 when it has IPv4; an IPv6-only call fails (the module
    /// left clean, the link too).
    func ipv6Unavailable(_ why: String) {
        guard call.phase == .configuring, ipv6 == .waiting else { return }
        cancel(.at(.routerAdvertisement))
        ipv6 = .unavailable
        if wantsIPv4 {
            log("IPv6: \(why); connected with IPv4 only")
            connected(call, ipv4Plan)
            return afterConnected()
        }
        emit(.deconfigureLink(pdn: call.pdn, release: false))
        dialFailedAndClean("no IPv6 on \(netdevName(call.pdn)): \(why)")
    }

    /// `plan` with the call's IPv6 (when formed) added.
    func withIPv6(_ plan: LinkPlan) -> LinkPlan {
        guard case let .formed(a, dns) = ipv6 else { return plan }
        plan.ipv6 = a
        plan.dns += dns.filter { d in !plan.dns.contains(d) }
        // RFC 7278 with --ipv6-lan: the /64 to the LAN, and the module's neighbour
        // solicitations for the LAN's hosts answered on usb0.
        _ = Plans.extendToLAN(plan, call.options)
        plan.ipv6LAN?.answersNeighbours = true
        return plan
    }

    /// A new call starts without IPv6.
    func forgetIPv6() {
        ipv6 = .none
        ipv4Plan = nil
        moduleIPv6 = nil
        moduleIPv6DNS = []
        cancel(.at(.routerAdvertisement))
    }
}
#endif
