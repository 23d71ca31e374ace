/// A lease as the client holds it. Times are CLOCK_MONOTONIC milliseconds. Immutable, and a
/// class: the machine, its events and the daemon share one lease.
import Base
public final class Lease: Equatable {
    public let address: UInt32
    public let mask: UInt32
    public let routers: [UInt32]
    public let dns: [UInt32]
    public let domain: String?
    public let mtu: UInt16?
    public let leaseSeconds: UInt32
    public let renewSeconds: UInt32
    public let rebindSeconds: UInt32
    public let server: UInt32
    public let serverMAC: [UInt8]
    public let obtainedAt: Int64

    public init(address: UInt32, mask: UInt32, routers: [UInt32], dns: [UInt32], domain: String?, mtu: UInt16?,
                leaseSeconds: UInt32, renewSeconds: UInt32, rebindSeconds: UInt32, server: UInt32, serverMAC: [UInt8],
                obtainedAt: Int64) {
        self.address = address
        self.mask = mask
        self.routers = routers
        self.dns = dns
        self.domain = domain
        self.mtu = mtu
        self.leaseSeconds = leaseSeconds
        self.renewSeconds = renewSeconds
        self.rebindSeconds = rebindSeconds
        self.server = server
        self.serverMAC = serverMAC
        self.obtainedAt = obtainedAt
    }

    public static func == (a: Lease, b: Lease) -> Bool {
        a.address == b.address
            && a.mask == b.mask
            && a.routers == b.routers
            && a.dns == b.dns
            && a.domain == b.domain
            && a.mtu == b.mtu
            && a.leaseSeconds == b.leaseSeconds
            && a.renewSeconds == b.renewSeconds
            && a.rebindSeconds == b.rebindSeconds
            && a.server == b.server
            && a.serverMAC == b.serverMAC
            && a.obtainedAt == b.obtainedAt
    }

    public var renewAt: Int64 { obtainedAt + Int64(renewSeconds) * 1000 }
    public var rebindAt: Int64 { obtainedAt + Int64(rebindSeconds) * 1000 }
    public var expiresAt: Int64 { obtainedAt + Int64(leaseSeconds) * 1000 }

    /// Prefix length of the subnet mask (its leading one bits).
    public var prefix: Int { (~mask).leadingZeroBitCount }

    public var summary: String {
        "\(ipText(address))/\(prefix) from \(ipText(server))" + (routers.first.map { ", router \(ipText($0))" } ?? "")
            + ", lease \(leaseSeconds) s"
    }
}

/// The RFC 2131 client state machine, without I/O: feed it received packets and timeouts,
/// it answers with packets to send, events, and the next deadline. Deterministic given
/// its clock inputs and random source, which makes every timer testable.
public final class DHCPMachine {
    /// `waiting`: INIT after a NAK or a DECLINE, pausing before the next DISCOVER (a server
    /// that refuses every REQUEST does not get thousands of them a second).
    public enum State: Equatable { case idle, waiting, selecting, requesting, rebooting, bound, renewing, rebinding, released }

    public enum Event: Equatable {
        case bound(Lease)
        case renewed(old: Lease, new: Lease)
        case expired(Lease)
        case nak(String?)
        /// No lease after this many DISCOVERs (the client keeps trying).
        case leaseFailed(attempts: Int)
    }

    public enum Output: Equatable {
        case broadcast(DHCPPacket)
        case unicast(DHCPPacket, mac: [UInt8], ip: UInt32)
        case event(Event)
        case log(String)
    }

    public let mac: [UInt8]
    public var hostname: String?
    let random: () -> UInt32
    public private(set) var state: State = .idle
    public private(set) var lease: Lease?
    public private(set) var deadline: Int64?
    public private(set) var xid: UInt32 = 0
    var attempts = 0
    var discovers = 0
    var offered: (packet: DHCPPacket, mac: [UInt8])?
    var startedAt: Int64 = 0
    var requestedFrom: (address: UInt32, server: UInt32)?

    public init(mac: [UInt8], hostname: String? = nil, random: @escaping () -> UInt32) {
        self.mac = mac
        self.hostname = hostname
        self.random = random
    }

    /// The client needs its packet socket in every state but bound (and idle/waiting/released),
    /// so a bound client sleeps without waking for other traffic.
    public var listening: Bool { state != .bound && state != .idle && state != .waiting && state != .released }

    /// The shortest lease qcm accepts (udhcpc and dhcpcd do the same): a server offering
    /// 1 s would otherwise have the client renew continuously.
    public static let minimumLeaseSeconds: UInt32 = 60
    /// The pause after a NAK before starting over (busybox udhcpc waits about 3 s).
    public static let pauseAfterNAKMs: Int64 = 3000
    /// The pause after declining an unusable address (RFC 2131 3.1.5: at least 10 s).
    public static let pauseAfterDeclineMs: Int64 = 10_000

    /// RFC 2131 4.1: 4 s, doubling to 64 s, randomized by ±1 s.
    func backoff(_ attempt: Int) -> Int64 {
        let base = Int64(4000) << Int64(min(attempt, 4))
        return base + Int64(random() % 2001) - 1000
    }

    // MARK: entry points

    public func start(now: Int64, previous: Lease? = nil) -> [Output] {
        startedAt = now
        if let p = previous, p.expiresAt > now {
            state = .rebooting
            lease = nil
            requestedFrom = (p.address, 0)
            newTransaction()
            var out: [Output] = [.log("INIT-REBOOT: asking again for \(ipText(p.address))")]
            out.append(.broadcast(request(requested: p.address, server: nil, ciaddr: 0, now: now)))
            deadline = now + backoff(0)
            return out
        }
        return discover(now: now)
    }

    public func receive(_ r: DHCPFrame.Received, now: Int64) -> [Output] {
        let p = r.packet
        guard p.xid == xid, p.chaddr == mac, let type = p.messageType else { return [] }
        switch (state, type) {
        case (.selecting, .offer):
            guard p.yiaddr != 0, let server = p.address(DHCPOption.serverID) else {
                return [.log("ignored an OFFER without an address or server id")]
            }
            offered = (p, r.srcMAC)
            state = .requesting
            attempts = 0
            requestedFrom = (p.yiaddr, server)
            deadline = now + backoff(0)
            return [.log("OFFER of \(ipText(p.yiaddr)) from \(ipText(server))"),
                    .broadcast(request(requested: p.yiaddr, server: server, ciaddr: 0, now: now))]
        case (.requesting, .ack), (.rebooting, .ack), (.renewing, .ack), (.rebinding, .ack):
            guard p.yiaddr != 0, let secs = p.seconds(DHCPOption.leaseTime), secs > 0 else {
                return [.log("ignored an ACK without an address or lease time")]
            }
            guard IPAddress(ipv4: p.yiaddr).isUsableUnicast else {
                // 0.0.0.0/8, loopback, multicast, broadcast: not an address to put on a link.
                let had = lease
                lease = nil
                var out: [Output] = [.log("declining \(ipText(p.yiaddr)): not a usable unicast address")]
                out.append(.broadcast(decline(p.yiaddr, server: p.address(DHCPOption.serverID), now: now)))
                if let l = had { out.append(.event(.expired(l))) }
                return out + pause(DHCPMachine.pauseAfterDeclineMs, now: now)
            }
            var notes: [String] = []
            let new = makeLease(p, srcMAC: r.srcMAC, srcIP: r.srcIP, seconds: secs, now: now, notes: &notes)
            let old = lease
            lease = new
            let wasRenewal = state == .renewing || state == .rebinding
            state = .bound
            attempts = 0
            deadline = new.renewAt
            let logs = notes.map { Output.log($0) }
            if wasRenewal, let old { return logs + [.event(.renewed(old: old, new: new))] }
            return logs + [.event(.bound(new))]
        case (.requesting, .nak), (.rebooting, .nak), (.renewing, .nak), (.rebinding, .nak):
            if state == .requesting, let server = p.address(DHCPOption.serverID), server != requestedFrom?.server { return [] }
            let msg = p.option(DHCPOption.message).map { Text.printable($0) }
            var out: [Output] = [.event(.nak(msg))]
            if let l = lease { out.append(.event(.expired(l))) }
            lease = nil
            return out + pause(DHCPMachine.pauseAfterNAKMs, now: now)
        default:
            return []
        }
    }

    /// Call when `now >= deadline`.
    public func timeout(now: Int64) -> [Output] {
        guard let d = deadline, now >= d else { return [] }
        switch state {
        case .idle, .released:
            deadline = nil
            return []
        case .waiting:
            return discover(now: now)
        case .selecting:
            attempts += 1
            discovers += 1
            var out: [Output] = []
            if discovers == 3 { out.append(.event(.leaseFailed(attempts: discovers))) }
            out.append(.broadcast(discoverPacket(now: now)))
            deadline = now + backoff(attempts)
            return out
        case .requesting:
            attempts += 1
            guard attempts < 4, let (a, s) = requestedFrom else { return [.log("no ACK: starting over")] + discover(now: now) }
            deadline = now + backoff(attempts)
            return [.broadcast(request(requested: a, server: s, ciaddr: 0, now: now))]
        case .rebooting:
            attempts += 1
            guard attempts < 2, let (a, _) = requestedFrom else { return [.log("no answer to INIT-REBOOT: starting over")] + discover(now: now) }
            deadline = now + backoff(attempts)
            return [.broadcast(request(requested: a, server: nil, ciaddr: 0, now: now))]
        case .bound:
            guard let l = lease else { return discover(now: now) }
            state = .renewing
            newTransaction()
            return renewStep(l, now: now)
        case .renewing:
            guard let l = lease else { return discover(now: now) }
            if now >= l.rebindAt {
                state = .rebinding
                newTransaction()
            }
            return renewStep(l, now: now)
        case .rebinding:
            guard let l = lease else { return discover(now: now) }
            if now >= l.expiresAt {
                lease = nil
                return [.event(.expired(l))] + discover(now: now)
            }
            return renewStep(l, now: now)
        }
    }

    /// RELEASE to the server (unicast); the machine goes quiet.
    public func release(now: Int64) -> [Output] {
        defer {
            state = .released
            lease = nil
            deadline = nil
        }
        guard let l = lease, !l.serverMAC.isEmpty else { return [] }
        newTransaction()
        let p = base(.release, now: now)
        p.ciaddr = l.address
        p.set(DHCPOption.serverID, be(l.server))
        return [.unicast(p, mac: l.serverMAC, ip: l.server)]
    }

    // MARK: steps

    /// INIT, waiting `ms` before the next DISCOVER.
    func pause(_ ms: Int64, now: Int64) -> [Output] {
        state = .waiting
        offered = nil
        deadline = now + ms
        return [.log("starting over in \(ms / 1000) s")]
    }

    func discover(now: Int64) -> [Output] {
        state = .selecting
        newTransaction()
        attempts = 0
        discovers = 1
        offered = nil
        deadline = now + backoff(0)
        return [.broadcast(discoverPacket(now: now))]
    }

    /// RENEWING unicasts to the server until T2, REBINDING broadcasts until expiry;
    /// retransmissions wait half the time left, at least 60 s, never past the next phase.
    func renewStep(_ l: Lease, now: Int64) -> [Output] {
        let limit = state == .renewing ? l.rebindAt : l.expiresAt
        let left = max(0, limit - now)
        deadline = now + min(max(left / 2, 60_000), left)
        let p = base(.request, now: now)
        p.ciaddr = l.address
        if state == .renewing, !l.serverMAC.isEmpty {
            return [.unicast(p, mac: l.serverMAC, ip: l.server)]
        }
        return [.broadcast(p)]
    }

    func newTransaction() { xid = random() }

    func base(_ t: DHCPMessageType, now: Int64) -> DHCPPacket {
        let p = DHCPPacket()
        p.xid = xid
        p.secs = UInt16(min(0xffff, max(0, (now - startedAt) / 1000)))
        p.chaddr = mac
        p.set(DHCPOption.messageType, [t.rawValue])
        p.set(DHCPOption.clientID, [1] + mac)
        if t != .release && t != .decline {
            p.set(DHCPOption.maxSize, [0x05, 0xdc])
            p.set(DHCPOption.parameterList, [1, 3, 6, 12, 15, 26, 28, 42, 51, 54, 58, 59])
            if let h = hostname, !h.isEmpty { p.set(DHCPOption.hostName, Array(h.utf8.prefix(63))) }
        }
        return p
    }

    func discoverPacket(now: Int64) -> DHCPPacket { base(.discover, now: now) }

    /// DECLINE (RFC 2131 4.4.1): the address offered is refused.
    func decline(_ address: UInt32, server: UInt32?, now: Int64) -> DHCPPacket {
        let p = base(.decline, now: now)
        p.set(DHCPOption.requestedIP, be(address))
        if let s = server { p.set(DHCPOption.serverID, be(s)) }
        return p
    }

    func request(requested: UInt32, server: UInt32?, ciaddr: UInt32, now: Int64) -> DHCPPacket {
        let p = base(.request, now: now)
        p.ciaddr = ciaddr
        p.set(DHCPOption.requestedIP, be(requested))
        if let s = server { p.set(DHCPOption.serverID, be(s)) }
        return p
    }

    func be(_ v: UInt32) -> [UInt8] {
        var b: [UInt8] = []
        put32(&b, v)
        return b
    }

    /// The lease as qcm will use it. Whatever the server sent is checked first; what is
    /// unusable is left out and said in `notes`: a lease time under a minute is raised to one,
    /// a missing or non-contiguous mask (0.0.0.0 included) means /32 with the router on-link,
    /// routers and DNS servers must be usable unicast addresses (at most three DNS servers:
    /// glibc reads no more), and the domain must be a valid DNS name.
    func makeLease(_ p: DHCPPacket, srcMAC: [UInt8], srcIP: UInt32, seconds offered: UInt32, now: Int64,
                   notes: inout [String]) -> Lease {
        var seconds = offered
        if seconds < DHCPMachine.minimumLeaseSeconds {
            notes.append("lease time \(offered) s raised to \(DHCPMachine.minimumLeaseSeconds) s")
            seconds = DHCPMachine.minimumLeaseSeconds
        }
        var t1 = p.seconds(DHCPOption.renewalTime) ?? seconds / 2
        var t2 = p.seconds(DHCPOption.rebindingTime) ?? UInt32(UInt64(seconds) * 7 / 8)
        if t2 >= seconds || t2 == 0 { t2 = UInt32(UInt64(seconds) * 7 / 8) }
        if t1 >= t2 || t1 == 0 { t1 = min(seconds / 2, t2 > 0 ? t2 - 1 : 0) }
        var mask: UInt32 = 0xffff_ffff
        if let m = p.address(DHCPOption.subnetMask) {
            if m != 0, IPAddress.prefix(ofMask: m) != nil { mask = m } else {
                notes.append("ignored subnet mask \(ipText(m)): using /32 with the router on-link")
            }
        }
        var mtu: UInt16?
        if let m = p.option(DHCPOption.mtu), m.count == 2 {
            let v = UInt16(m[0]) << 8 | UInt16(m[1])
            if v >= 576 { mtu = v } else { notes.append("ignored MTU \(v) (below 576)") }
        }
        var domain: String?
        if let v = p.option(DHCPOption.domainName) {
            var bytes = v
            while bytes.last == 0 { bytes.removeLast() }
            let d = String(decoding: bytes, as: UTF8.self)
            if DNSName.isValid(d) { domain = d } else { notes.append("ignored domain name \"\(Text.printable(bytes))\": not a valid DNS name") }
        }
        func usable(_ list: [UInt32], _ what: String, max: Int) -> [UInt32] {
            var out: [UInt32] = []
            for a in list {
                if !IPAddress(ipv4: a).isUsableUnicast { notes.append("ignored \(what) \(ipText(a)): not a usable unicast address"); continue }
                if out.count == max { notes.append("ignored \(what)s after the first \(max)"); break }
                out.append(a)
            }
            return out
        }
        let routers = usable(p.addresses(DHCPOption.router), "router", max: 8)
        let dns = usable(p.addresses(DHCPOption.dns), "DNS server", max: 3)
        var server = p.address(DHCPOption.serverID) ?? srcIP
        if !IPAddress(ipv4: server).isUsableUnicast { server = srcIP }
        return Lease(address: p.yiaddr, mask: mask, routers: routers, dns: dns,
                     domain: domain, mtu: mtu, leaseSeconds: seconds, renewSeconds: t1, rebindSeconds: t2,
                     server: server, serverMAC: srcMAC, obtainedAt: now)
    }
}
