import Base
import CSystem

/// When and what qcm advertises on a LAN it extends the mobile /64 to (RFC 7278), as a
/// machine without I/O (like the DHCP client's): RFC 4861's router timers — a few RAs close
/// together when a prefix starts, then one every 200–600 s, an answer to each Router
/// Solicitation within half a second but never closer than 3 s to the last multicast RA — and
/// the end of a prefix: deprecated at once (preferred lifetime 0) when the call ends or a
/// redial brings another /64, with router lifetime 0 when there is none left to offer.
public final class RAMachine {
    public enum Output: Equatable {
        case send(RouterAdvertisement)
        case log(String)
    }

    /// What is advertised now.
    public struct Grant: Equatable {
        public var prefix: IPAddress
        public var dns: [IPAddress]
        public var domains: [String]
        public var mtu: UInt32?

        public init(prefix: IPAddress, dns: [IPAddress] = [], domains: [String] = [], mtu: UInt32? = nil) {
            self.prefix = prefix
            self.dns = dns
            self.domains = domains
            self.mtu = mtu
        }

        /// Byte for byte (String's own == would bring the Unicode tables into the daemon).
        public static func == (a: Grant, b: Grant) -> Bool {
            a.prefix == b.prefix && a.dns == b.dns && a.mtu == b.mtu && a.domains.count == b.domains.count
                && zip(a.domains, b.domains).allSatisfy { $0.equals($1) }
        }
    }

    // RFC 4861 §6.2.1 and §10, with lifetimes short enough that a board gone for good is
    // forgotten within the hour.
    public static let initialAdvertisements = 3
    /// The first RAs of a prefix 2 s and 8 s apart (RFC 4861 allows up to 16 s): a LAN whose
    /// link-local address was still being checked (DAD) when the first went out hears the next.
    public static let initialIntervalsMs: [Int64] = [2_000, 8_000]
    public static let minIntervalMs: Int64 = 200_000
    public static let maxIntervalMs: Int64 = 600_000
    public static let maxResponseDelayMs: Int64 = 500
    public static let minBetweenMs: Int64 = 3_000
    public static let routerLifetime: UInt16 = 1800
    public static let validLifetime: UInt32 = 3600
    public static let preferredLifetime: UInt32 = 1800
    /// How many RAs a withdrawn prefix stays in, deprecated.
    public static let deprecatedRepeats = 3

    public let sourceMAC: [UInt8]?
    let random: () -> UInt32
    public private(set) var grant: Grant?
    /// The prefix advertised last (kept through a withdrawal, to say when a redial moves it).
    private var lastPrefix: IPAddress?
    /// Prefixes no longer granted, still sent (deprecated) this many more times.
    private var withdrawn: [(prefix: IPAddress, left: Int)] = []
    private var initialLeft = 0
    private var lastMulticast: Int64?
    /// When the next RA goes out (nil: none due).
    public private(set) var deadline: Int64?

    public init(sourceMAC: [UInt8]?, random: @escaping () -> UInt32) {
        self.sourceMAC = sourceMAC
        self.random = random
    }

    /// Advertise `g` (a new call, or the same call's settings again): a new prefix replaces the
    /// old one, which is deprecated; the first RAs go out at once and close together.
    public func advertise(_ g: Grant, now: Int64) -> [Output] {
        var out: [Output] = []
        if let old = grant, old.prefix != g.prefix {
            withdrawn.append((old.prefix, RAMachine.deprecatedRepeats))
        }
        if let last = lastPrefix, last != g.prefix {
            out.append(.log("the LAN's prefix moves from \(last.text)/64 to \(g.prefix.text)/64: the old one is deprecated"))
        }
        lastPrefix = g.prefix
        let changed = grant != g
        grant = g
        if changed {
            initialLeft = RAMachine.initialAdvertisements
            out += sendNow(now)
        }
        return out
    }

    /// The call ended: the prefix is deprecated and qcm is no longer a default router; the
    /// RAs that say so go out now and twice more, then none until a new grant.
    public func withdraw(now: Int64) -> [Output] {
        guard let g = grant else { return [] }
        withdrawn.append((g.prefix, RAMachine.deprecatedRepeats))
        grant = nil
        initialLeft = RAMachine.deprecatedRepeats
        return sendNow(now)
    }

    /// A Router Solicitation came: answer within half a second (a random delay, so that hosts
    /// that ask together are answered once), but not within 3 s of the last RA.
    public func solicited(now: Int64) {
        guard grant != nil || !withdrawn.isEmpty else { return }
        var at = now + Int64(random() % UInt32(RAMachine.maxResponseDelayMs + 1))
        if let last = lastMulticast { at = max(at, last + RAMachine.minBetweenMs) }
        if deadline.map({ at < $0 }) ?? true { deadline = at }
    }

    /// The deadline came.
    public func timeout(now: Int64) -> [Output] {
        guard let d = deadline, now >= d else { return [] }
        return sendNow(now)
    }

    /// What is advertised now: the granted prefix, and the withdrawn ones deprecated.
    public var current: RouterAdvertisement {
        var ra = RouterAdvertisement(routerLifetime: grant == nil ? 0 : RAMachine.routerLifetime, sourceMAC: sourceMAC)
        if let g = grant {
            ra.prefixes.append(AdvertisedPrefix(prefix: g.prefix, valid: RAMachine.validLifetime, preferred: RAMachine.preferredLifetime))
            ra.mtu = g.mtu
            ra.dns = g.dns.filter { $0.family == .ipv6 }
            ra.domains = g.domains
            ra.dnsLifetime = UInt32(RAMachine.maxIntervalMs / 1000 * 3)
        }
        for w in withdrawn where w.prefix != grant?.prefix {
            // Preferred 0 deprecates at once; hosts keep the address until its valid lifetime,
            // which RFC 4862 §5.5.3 does not let a router shorten below two hours.
            ra.prefixes.append(AdvertisedPrefix(prefix: w.prefix, valid: 0, preferred: 0))
        }
        return ra
    }

    private func sendNow(_ now: Int64) -> [Output] {
        let ra = current
        lastMulticast = now
        for i in withdrawn.indices { withdrawn[i].left -= 1 }
        withdrawn.removeAll { $0.left < 0 }
        if initialLeft > 0 { initialLeft -= 1 }
        if grant == nil && withdrawn.isEmpty && initialLeft == 0 {
            deadline = nil
        } else if initialLeft > 0 {
            let step = RAMachine.initialAdvertisements - 1 - initialLeft
            deadline = now + RAMachine.initialIntervalsMs[max(0, min(step, RAMachine.initialIntervalsMs.count - 1))]
        } else {
            let spread = UInt32(RAMachine.maxIntervalMs - RAMachine.minIntervalMs)
            deadline = grant == nil ? nil : now + RAMachine.minIntervalMs + Int64(random() % spread)
        }
        return [.send(ra)]
    }
}

/// Sends a RAMachine's advertisements on a LAN interface and hears its Router Solicitations:
/// a raw ICMPv6 socket bound to the interface, on the event loop.
public final class RouterAdvertiser {
    public let interface: String
    let index: Int32
    let fd: Int32
    let machine: RAMachine
    let loop: EventLoop
    private var watch = 0
    private var timer: Int?
    public var log: ((String) -> Void)?
    public private(set) var sent = 0

    static let allNodes: [UInt8] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]

    public init(interface: String, index: Int32, sourceMAC: [UInt8]?, loop: EventLoop) throws(LinkError) {
        self.interface = interface
        self.index = index
        self.loop = loop
        let fd = csys_icmp6_socket(index, Int32(RouterAdvertisement.solicitationType), 1)
        guard fd >= 0 else { throw .system(operation: "ICMPv6 socket on \(interface)", errno: csys_errno()) }
        self.fd = fd
        machine = RAMachine(sourceMAC: sourceMAC) {
            var v: UInt32 = 0
            _ = withUnsafeMutableBytes(of: &v) { getrandom($0.baseAddress, 4, 0) }
            return v
        }
        watch = loop.watch(fd) { _ in self.readSolicitations() }   // cycle broken by close()
    }

    public func advertise(_ g: RAMachine.Grant) { run(machine.advertise(g, now: loop.now)) }

    /// The call ended: deprecated now (and twice more, 16 s apart, if qcm keeps running).
    public func withdraw() { run(machine.withdraw(now: loop.now)) }

    /// qcm exits: the final RA (router lifetime 0, the prefixes deprecated) goes out now.
    public func close() {
        if machine.grant != nil { run(machine.withdraw(now: loop.now)) }
        if let t = timer { loop.cancel(t) }
        timer = nil
        loop.unwatch(watch)
        _ = CSystem.close(fd)
    }

    private func run(_ outputs: [RAMachine.Output]) {
        for o in outputs {
            switch o {
            case .send(let ra):
                let bytes = ra.encode()
                let n = bytes.withUnsafeBytes { csys_icmp6_send(fd, index, RouterAdvertiser.allNodes, $0.baseAddress, $0.count) }
                if n < 0 { log?("RA on \(interface): \(Errno.current.description)") } else { sent += 1 }
            case .log(let s):
                log?(s)
            }
        }
        if let t = timer { loop.cancel(t) }
        timer = machine.deadline.map { d in loop.after(max(0, d - loop.now)) { self.timer = nil; self.run(self.machine.timeout(now: self.loop.now)) } }
    }

    /// Router Solicitations (only those with hop limit 255: RFC 4861 §6.1.1).
    private func readSolicitations() {
        var buf = [UInt8](repeating: 0, count: 1500)
        var source = [UInt8](repeating: 0, count: 16)
        var hops: Int32 = -1
        for _ in 0..<8 {
            let n = buf.withUnsafeMutableBytes { b in source.withUnsafeMutableBufferPointer { csys_icmp6_recv(fd, b.baseAddress, b.count, $0.baseAddress, &hops) } }
            if n < 0 { return }
            guard n >= 8, buf[0] == RouterAdvertisement.solicitationType, buf[1] == 0, hops == 255 else { continue }
            machine.solicited(now: loop.now)
        }
        run([])
    }
}

/// The network's Router Advertisements on the mobile link, read to say plainly what qcm does
/// not take from them (the kernel reads them too, for the MTU and hop limit only): a prefix
/// other than the modem's, one hosts cannot form addresses from, the modem's prefix withdrawn,
/// an MTU IPv6 does not allow. Each kind of problem is said once.
public final class NetworkRAWatcher {
    public let interface: String
    let fd: Int32
    let loop: EventLoop
    private var watch = 0
    /// The /64 of the modem's address.
    public var expected: IPAddress?
    public var log: ((String) -> Void)?
    /// Each RA as it comes, with its sender (on an AT module's Ethernet link, the module is
    /// the router, and its RA is where the host's IPv6 comes from).
    public var onAdvertisement: ((RouterAdvertisement, IPAddress) -> Void)?
    private var said: [String] = []
    public private(set) var received = 0

    public init(interface: String, index: Int32, expected: IPAddress?, loop: EventLoop) throws(LinkError) {
        self.interface = interface
        self.expected = expected
        self.loop = loop
        let fd = csys_icmp6_socket(index, Int32(RouterAdvertisement.type), 0)
        guard fd >= 0 else { throw .system(operation: "ICMPv6 socket on \(interface)", errno: csys_errno()) }
        self.fd = fd
        watch = loop.watch(fd) { _ in self.read() }   // cycle broken by close()
        // The kernel solicited the network's RA when the link came up, before this socket
        // listened: one Router Solicitation, so that qcm hears what the network advertises now.
        let solicitation: [UInt8] = [RouterAdvertisement.solicitationType, 0, 0, 0, 0, 0, 0, 0]
        let allRouters: [UInt8] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
        _ = solicitation.withUnsafeBytes { csys_icmp6_send(fd, index, allRouters, $0.baseAddress, $0.count) }
    }

    public func close() {
        loop.unwatch(watch)
        _ = CSystem.close(fd)
    }

    private func read() {
        var buf = [UInt8](repeating: 0, count: 1500)
        var source = [UInt8](repeating: 0, count: 16)
        var hops: Int32 = -1
        for _ in 0..<8 {
            let n = buf.withUnsafeMutableBytes { b in source.withUnsafeMutableBufferPointer { csys_icmp6_recv(fd, b.baseAddress, b.count, $0.baseAddress, &hops) } }
            if n < 0 { return }
            guard hops == 255, let ra = RouterAdvertisement.decode(Array(buf[0..<n])) else { continue }
            received += 1
            if let from = IPAddress(source) { onAdvertisement?(ra, from) }
            for (kind, text) in NetworkRAWatcher.problems(ra, expected: expected, interface: interface)
                where !said.contains(where: { $0.equals(kind) }) {
                said.append(kind)
                log?(text)
            }
        }
    }

    /// What in `ra` qcm does not take, as (kind, message).
    public static func problems(_ ra: RouterAdvertisement, expected: IPAddress?, interface: String) -> [(String, String)] {
        var out: [(String, String)] = []
        let mine = expected.map { "\($0.text)/64" } ?? "none"
        for p in ra.prefixes where p.autonomous || p.onLink {
            if p.length != 64 {
                out.append(("length", "the network's router advertisement on \(interface) offers \(p.text): not a /64, so no host can form an address from it; qcm uses the modem's address (\(mine)) and advertises nothing else"))
            } else if let e = expected, p.prefix != e {
                out.append(("prefix", "the network's router advertisement on \(interface) offers \(p.text), not the /64 of the modem's address (\(mine)): qcm uses the modem's and advertises nothing else"))
            } else if p.valid == 0 {
                out.append(("withdrawn", "the network's router advertisement on \(interface) gives \(p.text) a lifetime of 0: qcm keeps the modem's address while the call is up"))
            }
        }
        if let m = ra.mtu, m < 1280 {
            out.append(("mtu", "the network's router advertisement on \(interface) gives an MTU of \(m), below IPv6's minimum of 1280: ignored (the kernel ignores it too)"))
        }
        return out
    }
}
