import Base
import CSystem

/// Applies a LinkPlan over rtnetlink and undoes exactly what it did: addresses and routes
/// that were already there are left alone, re-applying the same plan changes nothing, and
/// a changed plan (a renewed lease with a new address) moves cleanly.
public final class LinkManager {
    public let netlink: Netlink
    public var dns: DNSManager?
    public var log: ((String) -> Void)?

    /// What apply() changed, to undo. A class: apply() updates the one record in place.
    final class Applied {
        let index: Int32
        let name: String
        var addresses: [AddressInfo] = []
        var routes: [RouteInfo] = []
        var originalMTU: UInt32?
        var broughtUp = false
        var dnsServers: [IPAddress] = []
        var dnsDomain: String?
        /// The IPv6 settings (/proc/sys/net/ipv6/conf/IF/KEY) changed, with their values before.
        var settings: [(path: String, original: String)] = []

        init(index: Int32, name: String) {
            self.index = index
            self.name = name
        }
    }
    var applied: Applied?

    /// Where what was applied is recorded while qcm runs (the run directory), so the qcm
    /// started after one that was killed (-9) can remove it. nil: no record.
    public var recordPath: String?
    /// The interface is this qcm's alone while it runs: global addresses and routes others
    /// left on it (an earlier quectel-CM, a script, a test by hand) are removed before the
    /// plan goes on — beside qcm's own they would break source-address selection. False
    /// where another running qcm shares the interface: then they are only warned about.
    public var exclusive = true
    /// What others left was looked at (once: after that, what is on the interface beside
    /// qcm's own is the administrator's doing, while qcm runs).
    private var leftoversChecked = false

    public init(netlink: Netlink, dns: DNSManager? = nil, recordPath: String? = nil) {
        self.netlink = netlink
        self.dns = dns
        self.recordPath = recordPath
    }

    public var isApplied: Bool { applied != nil }

    public func apply(_ plan: LinkPlan) throws(LinkError) {
        try plan.validate()
        let index = try netlink.index(of: plan.interface)
        if let old = applied, !old.name.equals(plan.interface) || old.index != index {
            // Another interface (or the link was recreated): start over.
            try undo()
        }
        var adopted: [AddressInfo] = []
        if !leftoversChecked {
            leftoversChecked = true
            adopted = removeLeftovers(index: index, name: plan.interface, plan: plan)
        }
        let a = applied ?? Applied(index: index, name: plan.interface)
        applied = a
        a.addresses += adopted
        defer { record(a) }
        let name = plan.interface
        guard let link = try netlink.link(index) else { throw .noSuchInterface(name) }

        // MTU first: some drivers refuse addresses larger packets would need otherwise.
        if let mtu = plan.mtu, link.mtu != mtu {
            try netlink.setLink(index, name: name, mtu: mtu)
            if a.originalMTU == nil { a.originalMTU = link.mtu }
            log?("\(name): mtu \(link.mtu) -> \(mtu)")
        }
        if !link.isUp {
            try netlink.setLink(index, name: name, up: true)
            a.broughtUp = true
            log?("\(name): link up")
        }

        // IPv6 from the modem: the kernel keeps its link-local address and still reads the
        // network's Router Advertisements (their MTU and hop limit; also where forwarding is on,
        // accept_ra 2), but takes neither a default route nor an address from them: qcm's come
        // from the modem, and the kernel's would sit beside them (a second default route, a
        // second address in the /64).
        if let v6 = plan.ipv6 {
            try setting(a, name, "accept_ra", "2")
            try setting(a, name, "accept_ra_defrtr", "0")
            try setting(a, name, "accept_ra_pinfo", "0")
            takeOverFromRA(index: index, name: name, prefix: v6.address.prefix64)
        }

        // Addresses.
        let wanted = [plan.ipv4, plan.ipv6].compactMap { $0 }
        let everywhere = try netlink.addresses()
        for old in a.addresses where !wanted.contains(where: { $0.address == old.address && $0.prefix == old.prefix }) {
            try removeRoutes(a, using: old.address.family)
            try? netlink.deleteAddress(index, name: name, old.address, prefix: old.prefix)
            a.addresses.removeAll { $0 == old }
            log?("\(name): removed \(old.address.text)/\(old.prefix)")
        }
        for w in wanted {
            if let elsewhere = everywhere.first(where: { $0.address == w.address && $0.index != index }) {
                let other = (try? netlink.link(elsewhere.index))??.name ?? "interface \(elsewhere.index)"
                throw .invalid("\(w.address.text) is already assigned to \(other); refusing to put it on \(name) too")
            }
            if everywhere.contains(where: { $0.index == index && $0.address == w.address && $0.prefix == w.prefix }) { continue }
            try netlink.addAddress(index, name: name, w.address, prefix: w.prefix)
            a.addresses.append(AddressInfo(index: index, address: w.address, prefix: w.prefix))
            log?("\(name): added \(w.address.text)/\(w.prefix)")
        }

        // Default routes (IPv6 metric 0 is the kernel's 1024).
        var wantedRoutes: [RouteInfo] = []
        if plan.defaultRoute {
            for w in wanted {
                let fam = w.address.family
                let metric = fam == .ipv6 && plan.metric == 0 ? 1024 : plan.metric
                let gateway = w.routeViaGateway ? w.gateway : nil
                if let g = gateway, fam == .ipv4, !w.address.sameNetwork(g, prefix: w.prefix) {
                    // A router outside the subnet (a /32 lease, a server's odd choice): the kernel
                    // refuses a route via it (ENETUNREACH) until it is reachable on the link.
                    wantedRoutes.append(RouteInfo(family: fam, destination: g, prefix: 32, gateway: nil, outputIndex: index,
                                                  metric: metric, table: RT.tableMain, proto: RT.protoQCM))
                }
                wantedRoutes.append(RouteInfo(family: fam, destination: nil, prefix: 0, gateway: gateway, outputIndex: index,
                                              metric: metric, table: RT.tableMain, proto: RT.protoQCM))
            }
        }
        if let lan = plan.ipv6LAN, plan.ipv6 != nil {
            wantedRoutes.append(try lanRoute(a, lan, mobile: name, metric: plan.metric))
        }
        for old in a.routes.reversed() where !wantedRoutes.contains(where: { same($0, old) }) {
            try? netlink.deleteRoute(old, name: name)
            a.routes.removeAll { same($0, old) }
        }
        for r in wantedRoutes where !a.routes.contains(where: { same($0, r) }) {
            if !r.isDefault {
                try netlink.addRoute(r, name: name, replace: true)
                a.routes.append(r)
                let via = r.outputIndex == index ? name : plan.ipv6LAN?.interface ?? name
                log?("\(via): route to \(r.destination?.text ?? "?")/\(r.prefix)")
                continue
            }
            let existing = try netlink.routes(r.family).filter { $0.isDefault && $0.metric == r.metric }
            if existing.contains(where: { $0.outputIndex == index && $0.gateway == r.gateway }) { continue }

            do throws(LinkError) {
                try netlink.addRoute(r, name: name)
            } catch {
                if error.errno == EEXIST, let other = existing.first {
                    let dev = (try? netlink.link(other.outputIndex ?? 0))??.name ?? "another interface"
                    throw .invalid("a default route with metric \(r.metric) already exists via \(dev); qcm leaves it alone: choose another metric with --metric N")
                }
                throw error
            }
            a.routes.append(r)
            log?("\(name): default route\(r.gateway.map { " via \($0.text)" } ?? "") metric \(r.metric)")
        }

        // DNS: a failure is a warning, never a reason to drop a working link.
        var sameDomain = a.dnsDomain == nil && plan.domain == nil
        if let x = a.dnsDomain, let y = plan.domain { sameDomain = x.equals(y) }
        if let d = dns, a.dnsServers != plan.dns || !sameDomain {
            do throws(LinkError) {
                if plan.dns.isEmpty {
                    try d.revert()
                } else {
                    try d.apply(servers: plan.dns, domain: plan.domain)
                }
                dnsProblem = nil
            } catch {
                dnsProblem = error.description
                log?("warning: DNS not configured: \(error.description)")
            }
            a.dnsServers = plan.dns
            a.dnsDomain = plan.domain
        }
    }

    // MARK: IPv6 settings and the LAN

    /// What the kernel made from the network's RAs before qcm took IPv6 over (the link came up
    /// while the call was being set up): its default route (qcm adds its own) and the addresses
    /// it formed (qcm puts the modem's). An address formed from another prefix than the call's
    /// would be worse than a duplicate: the kernel may pick it as the source, and the network
    /// drops what does not come from the call's /64. Link-local and permanent addresses (set by
    /// hand or by qcm) are not touched.
    func takeOverFromRA(index: Int32, name: String, prefix: IPAddress) {
        for r in (try? netlink.routes(.ipv6)) ?? [] where r.outputIndex == index && (r.proto == RT.protoRA || r.expires) {
            guard (try? netlink.deleteRoute(r, name: name)) != nil else { continue }
            if r.isDefault {
                log?("\(name): the default route the network's router advertisement made\(r.gateway.map { " (via \($0.text))" } ?? "") is replaced by qcm's")
            } else {
                // An on-link prefix (L=1, as an AT module's RA has): qcm routes the /64 itself.
                log?("\(name): removed the route to \(r.destination?.text ?? "?")/\(r.prefix) the router advertisement made (qcm routes the call's /64 itself)")
            }
        }
        for ad in (try? netlink.addresses(index: index)) ?? [] where !ad.linkScope && !ad.permanent && ad.address.family == .ipv6 {
            if (try? netlink.deleteAddress(index, name: name, ad.address, prefix: ad.prefix)) != nil {
                let whose = ad.address.prefix64 == prefix ? "qcm puts the call's address itself" : "not the call's /64, so the network would drop what leaves from it"
                log?("\(name): removed \(ad.address.text)/\(ad.prefix), formed by the kernel from the network's router advertisement (\(whose))")
            }
        }
    }

    /// /proc/sys/net/ipv6/conf/IF/KEY, for an interface name that cannot step out of it.
    static func conf(_ interface: String, _ key: String) -> String? {
        let u = Array(interface.utf8)
        guard !u.isEmpty, u.count < 16, !u.contains(47), !interface.equals("."), !interface.equals("..") else { return nil }
        return "/proc/sys/net/ipv6/conf/\(interface)/\(key)"
    }

    /// Sets an IPv6 setting of `interface` (recording its value before, once, to put back).
    func setting(_ a: Applied, _ interface: String, _ key: String, _ value: String) throws(LinkError) {
        guard let path = LinkManager.conf(interface, key) else { throw .invalid("'\(interface)' is not an interface name") }
        guard let now = Files.readSmall(path, limit: 64).map({ Text.trimmed(String(decoding: $0, as: UTF8.self)) }) else {
            throw .system(operation: "read \(path)", errno: csys_errno())
        }
        if now.equals(value) { return }
        do throws(SystemError) { try Files.writeAttribute(path, value) } catch { throw .system(error) }
        if !a.settings.contains(where: { $0.path.equals(path) }) { a.settings.append((path, now)) }
        log?("\(interface): net.ipv6.conf.\(interface).\(key) = \(value)")
    }

    /// RFC 7278: the /64 routed to the LAN, and forwarding between the two interfaces — per
    /// interface (force_forwarding, Linux 6.17+), or, on older kernels, where the machine
    /// already forwards (qcm does not turn forwarding on for every interface).
    func lanRoute(_ a: Applied, _ lan: LinkPlan.LAN, mobile: String, metric: UInt32) throws(LinkError) -> RouteInfo {
        let lanIndex = try netlink.index(of: lan.interface)
        guard lanIndex != a.index else { throw .invalid("--ipv6-lan \(lan.interface) is the mobile interface itself") }
        if let p = LinkManager.conf(lan.interface, "force_forwarding"), Files.exists(p) {
            try setting(a, lan.interface, "force_forwarding", "1")
            try setting(a, mobile, "force_forwarding", "1")
        } else {
            let all = Files.readSmall("/proc/sys/net/ipv6/conf/all/forwarding", limit: 16).map { Text.trimmed(String(decoding: $0, as: UTF8.self)) }
            guard all?.equals("1") == true else {
                throw .invalid("IPv6 forwarding is off (net.ipv6.conf.all.forwarding = 0) and this kernel has no per-interface force_forwarding (Linux 6.17+): turn forwarding on to extend the /64 to \(lan.interface)")
            }
        }
        return RouteInfo(family: .ipv6, destination: lan.prefix, prefix: 64, gateway: nil, outputIndex: lanIndex,
                         metric: metric == 0 ? 1024 : metric, table: RT.tableMain, proto: RT.protoQCM)
    }

    /// Why the last DNS change failed (shown in `qcm status`); nil when it worked.
    public private(set) var dnsProblem: String?

    func same(_ x: RouteInfo, _ y: RouteInfo) -> Bool {
        x.family == y.family && x.destination == y.destination && x.prefix == y.prefix && x.gateway == y.gateway
            && x.outputIndex == y.outputIndex && x.metric == y.metric
    }

    private func removeRoutes(_ a: Applied, using family: Family) throws(LinkError) {
        for r in a.routes.reversed() where r.family == family {
            try? netlink.deleteRoute(r, name: a.name)
        }
        a.routes.removeAll { $0.family == family }
    }

    // MARK: what a killed qcm left

    /// Before the first plan goes on: addresses and routes a previous qcm put on this
    /// interface and did not live to remove — marked with qcm's protocol (routes always;
    /// addresses on Linux 6.3+), or named in the record it kept in the run directory — and,
    /// the interface being qcm's alone (`exclusive`), what others configured there, each
    /// removal logged; the kernel's own (link-local addresses, the routes that come with an
    /// address, what the network's Router Advertisements made) stays. So the interface ends
    /// with exactly the new configuration. Where another running qcm configures the interface
    /// too, nothing is removed that could be its: others' addresses are only warned about
    /// (traffic may leave with them as its source).
    /// Returns the leftovers the new plan wants too: they are this qcm's to remove now.
    func removeLeftovers(index: Int32, name: String, plan: LinkPlan) -> [AddressInfo] {
        let recorded = recordPath.map { LinkRecord.read($0, interface: name) } ?? []
        let wanted = [plan.ipv4, plan.ipv6].compactMap { $0 }
        var adopted: [AddressInfo] = []
        // Routes first: the kernel drops an interface's IPv4 routes with its last address.
        for family in [Family.ipv4, .ipv6] {
            for r in (try? netlink.routes(family)) ?? [] where r.outputIndex == index {
                let why: String
                if r.proto == RT.protoQCM && exclusive {
                    why = "left by a qcm that was killed"
                } else if exclusive && r.proto != RT.protoKernel && r.proto != RT.protoRA && !(r.destination?.isLinkLocalOrMulticast ?? false) {
                    why = "which qcm did not add: the interface is qcm's while it runs"
                } else {
                    continue
                }
                if (try? netlink.deleteRoute(r, name: name)) != nil {
                    log?("\(name): removed \(r.isDefault ? "default route" : "route to \(r.destination?.text ?? "?")/\(r.prefix)")\(r.gateway.map { " via \($0.text)" } ?? ""), \(why)")
                }
            }
        }
        guard let present = try? netlink.addresses(index: index) else { return [] }
        for ad in present where !ad.linkScope {
            let recordedHere = recorded.contains { $0.address == ad.address && $0.prefix == ad.prefix }
            let ours = recordedHere || ad.proto == RT.protoQCM && exclusive
            if wanted.contains(where: { $0.address == ad.address && $0.prefix == ad.prefix }) {
                if ours { adopted.append(AddressInfo(index: index, address: ad.address, prefix: ad.prefix)) }
                continue
            }
            if ours {
                if (try? netlink.deleteAddress(index, name: name, ad.address, prefix: ad.prefix)) != nil {
                    log?("\(name): removed \(ad.address.text)/\(ad.prefix), left by a qcm that was killed")
                }
            } else if exclusive && ad.permanent {
                if (try? netlink.deleteAddress(index, name: name, ad.address, prefix: ad.prefix)) != nil {
                    log?("\(name): removed \(ad.address.text)/\(ad.prefix), which qcm did not add: the interface is qcm's while it runs")
                }
            } else if !ad.permanent, let v6 = plan.ipv6, ad.address.prefix64 == v6.address.prefix64 {
                continue            // formed from the network's RA: taken over with the IPv6 settings
            } else {
                log?("warning: \(name) also carries \(ad.address.text)/\(ad.prefix), not added by qcm: traffic may leave with that source address")
            }
        }
        return adopted
    }

    func record(_ a: Applied) {
        guard let path = recordPath else { return }
        var text = "qcm-link 1\ninterface \(a.name)\n"
        for ad in a.addresses { text += "address \(ad.address.text)/\(ad.prefix)\n" }
        _ = try? Files.writeAtomically(path, Array(text.utf8))
    }

    /// Removes the routes, addresses and DNS qcm added, restores the MTU and the link's
    /// down state. Keeps going after a failure and reports the first one.
    public func undo() throws(LinkError) {
        guard let a = applied else { return }
        applied = nil
        defer { if let p = recordPath { Files.remove(p) } }
        var first: LinkError?
        func note(_ e: LinkError) {
            // Already gone (the interface vanished with the modem, or someone else removed it): fine.
            if let n = e.errno, n == ENODEV || n == ESRCH || n == ENOENT || n == EADDRNOTAVAIL { return }
            if case .noSuchInterface = e { return }
            if first == nil { first = e }
        }
        for r in a.routes.reversed() {
            do throws(LinkError) { try netlink.deleteRoute(r, name: a.name) } catch { note(error) }
        }
        for ad in a.addresses {
            do throws(LinkError) { try netlink.deleteAddress(a.index, name: a.name, ad.address, prefix: ad.prefix) } catch { note(error) }
        }
        for s in a.settings.reversed() {
            do throws(SystemError) { try Files.writeAttribute(s.path, s.original) } catch { note(.system(error)) }
        }
        if let mtu = a.originalMTU {
            do throws(LinkError) { try netlink.setLink(a.index, name: a.name, mtu: mtu) } catch { note(error) }
        }
        if a.broughtUp {
            do throws(LinkError) { try netlink.setLink(a.index, name: a.name, up: false) } catch { note(error) }
        }
        if let d = dns, !a.dnsServers.isEmpty {
            do throws(LinkError) { try d.revert() } catch { note(error) }
        }
        log?("\(a.name): configuration removed")
        if let e = first { throw e }
    }
}

/// The record of what a qcm applied to an interface: `qcm-link 1`, `interface NAME`, then
/// `address ADDR/PREFIX` lines. Read only when it is a regular file owned by root or by us,
/// and only what parses as an address of that interface is believed.
enum LinkRecord {
    static func read(_ path: String, interface: String) -> [AddressInfo] {
        guard let info = Files.info(path), info.kind == .file, info.owner == 0 || info.owner == UInt32(getuid()),
              let bytes = Files.readSmall(path, limit: 8192) else { return [] }
        let lines = Files.lines(bytes)
        guard lines.count >= 2, lines[0].equals("qcm-link 1"), lines[1].equals("interface " + interface) else { return [] }
        var out: [AddressInfo] = []
        for l in lines.dropFirst(2) where l.begins(with: "address ") {
            let parts = Text.split(String(decoding: l.utf8.dropFirst(8), as: UTF8.self), on: 47)
            guard parts.count == 2, let ip = IPAddress(parts[0]), let p = Text.parseInt(parts[1]),
                  p >= 1, p <= Int64(ip.family.maxPrefix) else { continue }
            out.append(AddressInfo(index: 0, address: ip, prefix: Int(p)))
        }
        return out
    }
}
