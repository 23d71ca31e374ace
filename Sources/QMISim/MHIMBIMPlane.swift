import Foundation
import Base
import CSystem
import MBIMCore
import MBIMMessages

/// The host side of an MBIM modem on Quectel's pcie_mhi loaded with `mhi_mbim_enabled=1`,
/// the way the driver presents it (mhi_netdev_quectel.c): the parent `rmnet_mhi0`
/// (ARPHRD_NONE; a TUN stands in) and, for qmap_mode N, its children `rmnet_mhi0.1` …
/// `rmnet_mhi0.N`, Ethernet-typed netdevs with NOARP (TAP devices with ARP off and the
/// driver's addresses 02:50:f4:00:00:0N), each carrying the one MBIM session the driver maps
/// to it; and the driver's `link_state` attribute on the parent (a FIFO, so that every write
/// reaches the simulator the way it reaches the driver's store()).
///
/// The driver's mapping: with qmap_mode 1, rmnet_mhi0.1 carries session `sessionBase` (0;
/// 112 on SDX7x, 17cb:0309); with qmap_mode N > 1, rmnet_mhi0.X carries session
/// `sessionBase` + X. Answers to a session go to its child only.
///
/// Only ICMP echo requests to the session's gateway are answered, and only when everything a
/// board needs is in place: the parent is up (the driver sends through it), link_state has
/// the child's bit (until then the driver keeps the child's carrier off), the child's session
/// is up on the modem, and the packet comes from the session's address. Otherwise the packet
/// is dropped and the MBIM simulator's `drops` says which rule it broke — what a board would
/// only show as silence. Runs on the MBIM simulator's loop and lock.
public final class MHIMBIMPlane {
    unowned let sim: MBIMSimulator
    public let parent: String
    public let qmapMode: Int
    /// The driver's `mbim_mux_id`: 0, or 112 on SDX7x.
    public let sessionBase: UInt32
    let sysNet: String
    /// /run/netns/NAME the netdevs are made in; nil: the calling thread's namespace.
    let namespace: String?
    let networking: Bool

    var devices: [String: TunDevice] = [:]
    var state: UInt32 = 0
    var fifo: (path: String, fd: Int32, watch: Int)?
    /// A socket of the namespace, to read the parent's flags.
    var ctl: Int32 = -1
    var answeredCount: [String: Int] = [:]

    /// The driver's link_state: one bit per child (bit N-1 for rmnet_mhi0.N); with
    /// qmap_mode 1, 0 or 1.
    public var linkState: UInt32 { sim.locked { state } }
    /// Echo requests answered, per child.
    public var answered: [String: Int] { sim.locked { answeredCount } }
    /// The MAC address the driver gives the modem's side of every frame it hands up.
    static let modemMAC: [UInt8] = [0x02, 0x50, 0xf3, 0, 0, 0]

    /// The child the driver carries `session` on, if any.
    public func child(ofSession session: UInt32) -> String? {
        guard session >= sessionBase else { return nil }
        let n = qmapMode > 1 ? Int(session - sessionBase) : (session == sessionBase ? 1 : 0)
        return n >= 1 && n <= qmapMode ? "\(parent).\(n)" : nil
    }

    /// The session the driver carries on child `n` (rmnet_mhi0.n).
    public func session(ofChild n: Int) -> UInt32 { sessionBase + (qmapMode > 1 ? UInt32(n) : 0) }

    init(sim: MBIMSimulator, root: String, parent: String, qmapMode: Int, sessionBase: UInt32, namespace: String?, networking: Bool) {
        self.sim = sim
        self.parent = parent
        self.qmapMode = qmapMode
        self.sessionBase = sessionBase
        sysNet = root + "/sys/class/net"
        self.namespace = namespace.map { $0.hasPrefix("/") ? $0 : "/run/netns/" + $0 }
        self.networking = networking
    }

    func start() throws {
        try fifo(sysNet + "/\(parent)/link_state")
        guard networking else { return }
        ctl = inNamespace { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let parentTun = try inNamespace { try TunDevice(name: parent) }
        parentTun.onPacket = { [unowned self] p in self.sim.locked { self.onParent(p) } }
        parentTun.serve(on: sim.loop)
        devices[parent] = parentTun
        for n in stride(from: 1, through: qmapMode, by: 1) {          // qmap_mode 0: the driver makes no child
            let name = "\(parent).\(n)"
            let tap = try inNamespace { try TunDevice(name: name, ethernet: true) }
            let ip = ["ip"] + (namespace.map { ["-n", ($0 as NSString).lastPathComponent] } ?? [])
            FakeHardware.run(ip + ["link", "set", name, "arp", "off", "address", String(format: "02:50:f4:00:00:%02x", n)])
            tap.onPacket = { [unowned self, unowned tap] f in self.sim.locked { self.onChild(f, n: n, tap: tap) } }
            tap.serve(on: sim.loop)
            devices[name] = tap
        }
    }

    /// Closes the netdevs and the FIFO.
    func close() {
        for d in devices.values { d.close() }
        devices.removeAll()
        if let f = fifo {
            sim.loop.unwatch(f.watch)
            _ = CSystem.close(f.fd)
            _ = unlink(f.path)
        }
        fifo = nil
        if ctl >= 0 { _ = CSystem.close(ctl) }
        ctl = -1
    }

    func inNamespace<T>(_ body: () throws -> T) rethrows -> T {
        guard let ns = namespace else { return try body() }
        let me = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let target = open(ns, O_RDONLY | O_CLOEXEC)
        defer {
            if me >= 0 { _ = csys_setns_net(me); _ = CSystem.close(me) }
            if target >= 0 { _ = CSystem.close(target) }
        }
        guard me >= 0, target >= 0, csys_setns_net(target) == 0 else { return try body() }
        return try body()
    }

    // MARK: link_state

    func fifo(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = unlink(path)
        guard mkfifo(path, 0o644) == 0 else { throw NSError(domain: "mhi-mbim", code: Int(csys_errno()), userInfo: [NSLocalizedDescriptionKey: "mkfifo \(path)"]) }
        // Read-write: the FIFO never reports end of file, and writers never find it readerless.
        let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw NSError(domain: "mhi-mbim", code: Int(csys_errno()), userInfo: [NSLocalizedDescriptionKey: "open \(path)"]) }
        let watch = sim.loop.watch(fd) { [unowned self] _ in
            var buf = [UInt8](repeating: 0, count: 512)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            self.sim.locked {
                // One value per write, as the driver's store() parses it (simple_strtoul, base 0).
                for word in String(decoding: buf[0..<n], as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\0" }) {
                    if let v = Text.parseInt(String(word)) { self.setLinkState(v) } else { self.sim.log("link_state: '\(word)' is not a number, ignored") }
                }
            }
        }
        fifo = (path, fd, watch)
    }

    /// pcie_mhi's link_state store: with qmap_mode > 1, N (1..qmap_mode) sets child N's bit
    /// and 0x80+N clears it, anything else is ignored; with qmap_mode 1 any non-zero value
    /// means up.
    func setLinkState(_ v: Int64) {
        let old = state
        if qmapMode > 1 {
            let bit = UInt32(1) << UInt32(max(0, (v & 0xf) - 1))
            if v > 0 && v <= Int64(qmapMode) { state |= bit }
            else if v > 0x80 && v <= 0x80 + Int64(qmapMode) { state &= ~bit }
            else { return sim.log("link_state \(v): no child of qmap_mode \(qmapMode), ignored") }
        } else {
            state = v != 0 ? 1 : 0
        }
        sim.log("\(parent): link_state 0x\(String(old, radix: 16)) -> 0x\(String(state, radix: 16))")
    }

    // MARK: packets

    func parentUp() -> Bool? {
        var flags: UInt32 = 0, mtu: UInt32 = 0
        guard ctl >= 0, csys_if_flags_mtu(ctl, parent, &flags, &mtu) == 0 else { return nil }
        return flags & UInt32(IFF_UP) != 0
    }

    /// The parent sends too (on the first session), but the driver hands every answer to a
    /// child: a host that configured the call on the parent hears nothing.
    func onParent(_ p: [UInt8]) {
        guard let first = p.first, first >> 4 == 4 || first >> 4 == 6, isEchoRequest(p) else { return }
        sim.drop("\(parent): dropped a ping: pcie_mhi hands every MBIM session's packets to its children (\(parent).N), never to \(parent); configure the call on the child that carries its session")
    }

    func isEchoRequest(_ ip: [UInt8]) -> Bool {
        guard let first = ip.first else { return false }
        if first >> 4 == 4 {
            let ihl = Int(first & 0x0f) * 4
            return ihl >= 20 && ip.count >= ihl + 8 && ip[9] == 1 && ip[ihl] == 8
        }
        return ip.count >= 48 && ip[6] == 58 && ip[40] == 128
    }

    /// The network's Router Advertisement for session `id`'s /64 on the child that carries
    /// it, as the driver hands it up (from the modem's MAC, to all nodes): when an IPv6
    /// session comes up and when the host solicits one there.
    func advertise(session id: UInt32) {
        guard sim.config.sendsRouterAdvertisements, let t = sim.sessions[id], t != .ipv4, let name = child(ofSession: id),
              let tap = devices[name], let prefix = IPAddress(sim.config.ipv6.address)?.prefix64.bytes else { return }
        let ra = DataPlane.routerAdvertisement(prefix: prefix, length: 64, lifetime: 0xffff_ffff, mtu: sim.config.mtu)
        tap.write([0x33, 0x33, 0, 0, 0, 1] + MHIMBIMPlane.modemMAC + [0x86, 0xdd] + ra)
        sim.advertisements += 1
        sim.log("\(name): sent the network's router advertisement for \(Text.ipv6(prefix))/64")
    }

    /// A frame the host sent on child `n`: the driver strips the Ethernet header and sends
    /// the IP packet on the child's session; the modem answers echo requests to the session's
    /// gateway from its address, and Router Solicitations with the network's RA.
    func onChild(_ f: [UInt8], n: Int, tap: TunDevice) {
        guard f.count > 14 else { return }
        let type = UInt16(f[12]) << 8 | UInt16(f[13])
        guard type == 0x0800 || type == 0x86dd else { return }         // ARP never leaves (NOARP), nor reaches the modem
        let ip = Array(f[14...])
        if DataPlane.isRouterSolicitation(ip), state & (qmapMode > 1 ? UInt32(1) << UInt32(n - 1) : 1) != 0 {
            sim.routerSolicitations += 1
            return advertise(session: session(ofChild: n))
        }
        guard isEchoRequest(ip) else { return }
        let name = tap.name
        let v4 = ip[0] >> 4 == 4
        if parentUp() == false {
            return sim.drop("\(name): dropped a ping: \(parent), through which pcie_mhi sends, is down")
        }
        let bit: UInt32 = qmapMode > 1 ? UInt32(1) << UInt32(n - 1) : 1
        guard state & bit != 0 else {
            return sim.drop("\(name): dropped a ping: pcie_mhi keeps \(name)'s carrier off, link_state 0x\(String(state, radix: 16)) lacks it (a board would not even send)")
        }
        let session = self.session(ofChild: n)
        guard let t = sim.sessions[session] else {
            let up = sim.sessions.keys.sorted().map(String.init).joined(separator: ", ")
            return sim.drop("\(name): dropped a ping: \(name) carries MBIM session \(session), which is not up" + (up.isEmpty ? "" : " (sessions up: \(up))"))
        }
        guard v4 ? t != .ipv6 : t != .ipv4 else {
            return sim.drop("\(name): dropped a ping: session \(session) is \(t.name), an IPv\(v4 ? 4 : 6) packet has nowhere to go")
        }
        sim.counters.outOctets += UInt64(ip.count); sim.counters.outPackets += 1
        let reply: [UInt8]?
        if v4 {
            guard let src = IPAddress(sim.config.ipv4.address), Array(ip[12..<16]) == src.bytes else {
                return sim.drop("\(name): dropped a ping: its source is not \(sim.config.ipv4.address), the address of session \(session): the network drops it")
            }
            reply = sim.ipv4EchoReply(ip)
        } else {
            // The network routes the session's /64, as on every other path.
            guard let e = DataPlane.Echo(ip), let own = Text.parseIPv6(sim.config.ipv6.address),
                  let gateway = Text.parseIPv6(sim.config.ipv6.gateway) else { return }
            switch DataPlane.ipv6Verdict(e, own: own, gateway: gateway, remote: sim.config.ipv6Remote) {
            case .success(let answerAs): reply = TunDevice.echoReply(ip, ipv4: 0, ipv6: answerAs)
            case .failure(let why): return sim.drop("\(name): dropped a ping: " + why.text)
            }
        }
        guard let reply else {
            return sim.drop("\(name): dropped a ping: nothing answers there (the session's gateway is \(v4 ? sim.config.ipv4.gateway : sim.config.ipv6.gateway))")
        }
        sim.echoesAnswered += 1
        answeredCount[name, default: 0] += 1
        sim.counters.inOctets += UInt64(reply.count); sim.counters.inPackets += 1
        // As the driver builds it: to the child's own address, from the modem's.
        tap.write(Array(f[6..<12]) + MHIMBIMPlane.modemMAC + [f[12], f[13]] + reply)
    }
}

extension MBIMSimulator {
    /// Serves the data path of Quectel's pcie_mhi with mhi_mbim_enabled=1 under `root`
    /// (whose tree FakeHardware.writeSysfs wrote with `mbim: true`): link_state, and with
    /// `networking` the parent and its children in `namespace` (a name or /run/netns path;
    /// nil: the calling thread's). Call before `start`.
    @discardableResult
    public func attachPCIe(root: String, parent: String = "rmnet_mhi0", qmapMode: Int, sessionBase: UInt32 = 0,
                           namespace: String? = nil, networking: Bool) throws -> MHIMBIMPlane {
        try locked {
            let p = MHIMBIMPlane(sim: self, root: root, parent: parent, qmapMode: qmapMode, sessionBase: sessionBase,
                                 namespace: namespace, networking: networking)
            do { try p.start() } catch {
                p.close()
                throw error
            }
            pcie = p
            return p
        }
    }
}
