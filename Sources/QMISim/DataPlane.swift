import Foundation
import Base
import CSystem
import QMICore
import QMIMessages

/// The host side of the simulated modem's data path, the way a driver presents it: the
/// netdevs (TUN devices standing in for wwan0, qmi_wwan_q's wwan0_N, qmi_wwan's qmimuxN),
/// the driver's sysfs attributes (add_mux, del_mux and link_state are FIFOs, so that every
/// write reaches the simulator the way it reaches the driver's store()), and the rules the
/// driver and the modem apply to each packet.
///
/// Only ICMP echo requests to a call's gateway are answered, and only when everything a
/// real board needs is in place: the modem's link layer and aggregation match what the
/// driver does with the netdev, a call is up on the netdev's mux, the driver was told
/// (link_state), the parent is up with a receive buffer the modem's aggregates fit, and the
/// packet comes from the call's own address. Otherwise the packet is dropped, and `drops`
/// says which rule it broke — what a board would only show as silence.
public final class DataPlane {
    public enum Driver: Equatable {
        /// Upstream qmi_wwan: qmi/raw_ip, qmi/add_mux and qmi/del_mux (qmimuxN links),
        /// qmi/pass_through.
        case qmiWWAN
        /// Quectel's qmi_wwan_q with qmap_mode N: children wwan0_1..N carry muxes
        /// 0x81..0x80+N; with qmap_mode 1 the parent itself carries 0x81.
        case qmiWWANQ(mode: Int)
        /// Quectel's pcie_mhi with qmap_mode N: children rmnet_mhi0.1..N carry muxes
        /// 0x81..0x80+N, also with qmap_mode 1 (the parent carries none); link_state as
        /// qmi_wwan_q's.
        case pcieMHI(mode: Int)
        /// The upstream kernel's mhi_net (mhi_hwip0, FakeHardware.writeWWAN): a raw-IP netdev
        /// without attributes. IP packets go to the modem as they are; anything else is
        /// QMAP for rmnet links on top (mhi_net does not demultiplex).
        case mhiNet

        var name: String {
            switch self {
            case .qmiWWAN: return "qmi_wwan"
            case .qmiWWANQ: return "qmi_wwan_q"
            case .pcieMHI: return "pcie_mhi"
            case .mhiNet: return "mhi_net"
            }
        }
    }

    unowned let sim: QMISimulator
    public let driver: Driver
    public let parent: String
    let sysNet: String
    /// The network namespace (/run/netns/NAME) the netdevs are made in; nil: the calling
    /// thread's.
    let namespace: String?
    /// False: no netdevs (not root), only the sysfs side.
    let networking: Bool
    /// The QMAP version qmi_wwan_q or pcie_mhi decodes (QMAP v1, or QMAPv5 for SDX55 products).
    let driverQMAP: WDA.AggregationProtocol
    let qmapSize: UInt32

    var devices: [String: TunDevice] = [:]
    /// netdev → the mux it carries; the parent of plain raw-IP is not in it.
    public private(set) var muxOf: [String: UInt8] = [:]
    /// qmi_wwan_q's link_state: one bit per mux (qmap_mode 1: 0 or 1).
    public private(set) var linkState: UInt32
    var fifos: [(path: String, fd: Int32, watch: Int)] = []
    /// A socket of the namespace, to read the netdevs' flags and MTU.
    var ctl: Int32 = -1
    /// Why packets were dropped, newest last.
    public private(set) var drops: [String] = []
    /// Echo requests answered, per netdev.
    public private(set) var answered: [String: Int] = [:]

    /// Sets up the data path of `driver` under `root` (whose sysfs tree FakeHardware wrote
    /// with the same driver) and attaches it to `sim`.
    @discardableResult
    public static func attach(to sim: QMISimulator, root: String, driver: Driver, parent: String = "wwan0",
                              namespace: String? = nil, networking: Bool, driverQMAP: WDA.AggregationProtocol = .qmap,
                              qmapSize: UInt32 = 4096, initialLinkState: UInt32 = 1) throws -> DataPlane {
        try sim.locked {
            let d = DataPlane(sim: sim, root: root, driver: driver, parent: parent, namespace: namespace, networking: networking,
                              driverQMAP: driverQMAP, qmapSize: qmapSize, initialLinkState: initialLinkState)
            try d.start()
            sim.dataPlane = d
            return d
        }
    }

    init(sim: QMISimulator, root: String, driver: Driver, parent: String, namespace: String?, networking: Bool,
         driverQMAP: WDA.AggregationProtocol, qmapSize: UInt32, initialLinkState: UInt32) {
        self.sim = sim
        self.driver = driver
        self.parent = parent
        sysNet = root + "/sys/class/net"
        self.namespace = namespace
        self.networking = networking
        self.driverQMAP = driverQMAP
        self.qmapSize = qmapSize
        linkState = initialLinkState
    }

    func start() throws {
        if networking {
            ctl = inNamespace { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
            try addDevice(parent)
        }
        switch driver {
        case .qmiWWAN:
            try fifo(sysNet + "/\(parent)/qmi/add_mux") { [unowned self] v in self.addMux(v) }
            try fifo(sysNet + "/\(parent)/qmi/del_mux") { [unowned self] v in self.delMux(v) }
        case .qmiWWANQ(let mode):
            try fifo(sysNet + "/\(parent)/link_state") { [unowned self] v in self.setLinkState(v, mode: mode) }
            if mode == 1 {
                muxOf[parent] = 0x81
            } else {
                for n in 1...max(1, mode) { try addChild(parent + "_\(n)", mux: UInt8(0x80 + n)) }
            }
        case .pcieMHI(let mode):
            try fifo(sysNet + "/\(parent)/link_state") { [unowned self] v in self.setLinkState(v, mode: mode) }
            for n in 1...max(1, mode) { try addChild(parent + ".\(n)", mux: UInt8(0x80 + n)) }
        case .mhiNet:
            break       // no attributes; rmnet links would be the kernel's (none on this one)
        }
    }

    /// One of the Quectel drivers' mux links, made when the driver loads.
    func addChild(_ name: String, mux: UInt8) throws {
        try FileManager.default.createDirectory(atPath: sysNet + "/" + name, withIntermediateDirectories: true)
        if networking { try addDevice(name) }
        muxOf[name] = mux
    }

    /// Removes the netdevs and FIFOs.
    public func detach() {
        sim.withState { _ in
            for d in devices.values { d.close() }
            devices.removeAll()
            for f in fifos {
                sim.loop.unwatch(f.watch)
                _ = close(f.fd)
                _ = unlink(f.path)
            }
            fifos.removeAll()
            if ctl >= 0 { _ = close(ctl) }
            ctl = -1
            if sim.dataPlane === self { sim.dataPlane = nil }
        }
    }

    func note(_ s: String) {
        drops.append(s)
        if drops.count > 50 { drops.removeFirst() }
        sim.log("data path: " + s)
    }

    // MARK: netdevs

    func inNamespace<T>(_ body: () throws -> T) rethrows -> T {
        guard let ns = namespace else { return try body() }
        let me = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let target = open(ns, O_RDONLY | O_CLOEXEC)
        defer {
            if me >= 0 { _ = csys_setns_net(me); close(me) }
            if target >= 0 { close(target) }
        }
        guard me >= 0, target >= 0, csys_setns_net(target) == 0 else { return try body() }
        return try body()
    }

    func addDevice(_ name: String) throws {
        let tun = try inNamespace { try TunDevice(name: name) }
        if driver == .mhiNet && name == parent {
            // mhi_net's default MTU (0x4000), not a TUN's 1500.
            FakeHardware.run(["ip"] + (namespace.map { ["-n", ($0 as NSString).lastPathComponent] } ?? []) + ["link", "set", name, "mtu", "16384"])
        }
        tun.onPacket = { [unowned self, unowned tun] p in self.sim.withState { _ in self.received(p, on: tun) } }
        tun.serve(on: sim.loop)
        devices[name] = tun
    }

    /// Flags and MTU of a netdev of the namespace.
    func linkInfo(_ name: String) -> (up: Bool, mtu: UInt32)? {
        var flags: UInt32 = 0, mtu: UInt32 = 0
        guard ctl >= 0, csys_if_flags_mtu(ctl, name, &flags, &mtu) == 0 else { return nil }
        return (flags & UInt32(IFF_UP) != 0, mtu)
    }

    // MARK: the driver's attributes

    func fifo(_ path: String, _ handle: @escaping (Int64) -> Void) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = unlink(path)
        guard mkfifo(path, 0o644) == 0 else { throw QMIError.system(operation: "mkfifo \(path)", errno: csys_errno()) }
        // Read-write: the FIFO never reports end of file, and writers never find it readerless.
        let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw QMIError.system(operation: "open \(path)", errno: csys_errno()) }
        let name = (path as NSString).lastPathComponent
        let watch = sim.loop.watch(fd) { [unowned self] _ in
            var buf = [UInt8](repeating: 0, count: 512)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            self.sim.withState { _ in
                // One value per write ("0x81\n", "129\n"), as the driver's store() parses it.
                for word in String(decoding: buf[0..<n], as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " }) {
                    if let v = Text.parseInt(String(word)) { handle(v) } else { self.note("\(name): '\(word)' is not a number (EINVAL)") }
                }
            }
        }
        fifos.append((path, fd, watch))
    }

    /// qmi_wwan's add_mux: a qmimuxN link for mux id `v` (1-254, once per parent).
    func addMux(_ v: Int64) {
        guard v >= 1 && v <= 254 else { return note("add_mux \(v): not a mux id (EINVAL)") }
        let mux = UInt8(v)
        guard !muxOf.values.contains(mux) else { return note("add_mux 0x\(Text.hex(mux)): mux_id already present (EINVAL)") }
        var i = 0
        while muxOf["qmimux\(i)"] != nil { i += 1 }
        let name = "qmimux\(i)"
        do {
            if networking { try addDevice(name) }
            try FileManager.default.createDirectory(atPath: sysNet + "/\(name)/qmap", withIntermediateDirectories: true)
            try ("0x" + Text.hex(mux) + "\n").write(toFile: sysNet + "/\(name)/qmap/mux_id", atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: sysNet + "/\(parent)/upper_\(name)")
            try FileManager.default.createSymbolicLink(atPath: sysNet + "/\(parent)/upper_\(name)", withDestinationPath: "../\(name)")
        } catch {
            return note("add_mux 0x\(Text.hex(mux)): \(error)")
        }
        muxOf[name] = mux
        sim.log("\(name) created for mux 0x\(Text.hex(mux))")
    }

    func delMux(_ v: Int64) {
        guard let (name, _) = muxOf.first(where: { Int64($0.value) == v }) else { return note("del_mux \(v): no such mux (EINVAL)") }
        devices.removeValue(forKey: name)?.close()
        try? FileManager.default.removeItem(atPath: sysNet + "/\(name)")
        try? FileManager.default.removeItem(atPath: sysNet + "/\(parent)/upper_\(name)")
        muxOf.removeValue(forKey: name)
        sim.log("\(name) removed")
    }

    /// qmi_wwan_q's link_state: mode 1 a switch; otherwise `n` sets mux 0x80+n's bit and
    /// `0x80|n` clears it; other values are ignored (the write still succeeds).
    func setLinkState(_ v: Int64, mode: Int) {
        let old = linkState
        if mode <= 1 {
            linkState = v != 0 ? 1 : 0
        } else {
            let offset = Int(v & 0x7f) - 1
            guard offset >= 0 && offset < mode else { return note("link_state \(v): no such mux, ignored") }
            if v & 0x80 != 0 { linkState &= ~(UInt32(1) << offset) } else { linkState |= UInt32(1) << offset }
        }
        sim.log("link_state 0x\(String(linkState, radix: 16)) (was 0x\(String(old, radix: 16)))")
    }

    func attribute(_ path: String) -> String? {
        (try? String(contentsOfFile: sysNet + "/" + path, encoding: .utf8)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    // MARK: packets

    func received(_ p: [UInt8], on tun: TunDevice) {
        if DataPlane.isRouterSolicitation(p) { return routerSolicited(on: tun) }
        if driver == .mhiNet, let first = p.first, first >> 4 != 4 && first >> 4 != 6 {
            // What rmnet sends down mhi_net: a QMAP frame. Not decoded here (no kernel this
            // simulator was built on has rmnet to send one); said, so a test sees it.
            return note("\(tun.name): a QMAP frame (mux 0x\(Text.hex(p.count > 1 ? p[1] : 0))) from an rmnet link: the simulator does not carry QMAP on mhi_net")
        }
        guard let echo = Echo(p) else { return }
        switch verdict(echo, on: tun.name) {
        case .success(let answerAs):
            guard let reply = TunDevice.echoReply(p, ipv4: echo.v4 ? answerAs.v4 : 0, ipv6: echo.v4 ? [] : answerAs.v6) else {
                return note("\(tun.name): nothing answers at \(echo.destination)")
            }
            answered[tun.name, default: 0] += 1
            if let call = sim.calls.first(where: { $0.mux == muxOf[tun.name] && $0.family == (echo.v4 ? 4 : 6) }) {
                var c = sim.traffic[call.handle] ?? (0, 0, 0, 0)
                c.txBytes += UInt64(p.count); c.txPackets &+= 1
                c.rxBytes += UInt64(reply.count); c.rxPackets &+= 1
                sim.traffic[call.handle] = c
            }
            tun.write(reply)
        case .failure(let why):
            note("\(tun.name): dropped a ping to \(echo.destination): \(why.text)")
        }
    }

    struct Why: Error { let text: String }

    /// Whether the modem and the driver would carry this echo request, and the gateway of
    /// the call it belongs to.
    func verdict(_ e: Echo, on dev: String) -> Result<(v4: UInt32, v6: [UInt8]), Why> {
        let mux = muxOf[dev]
        let family: UInt64 = e.v4 ? 4 : 6

        // What the driver does with it.
        switch driver {
        case .qmiWWAN:
            if mux == nil {
                guard muxOf.isEmpty else {
                    return .failure(Why(text: "qmi_wwan runs qmimux links, and a packet sent on \(parent) itself reaches the modem without a QMAP header"))
                }
                guard attribute("\(parent)/qmi/raw_ip") == "Y" else {
                    return .failure(Why(text: "qmi_wwan frames packets as 802.3 (qmi/raw_ip is N), while the modem expects raw IP"))
                }
            } else if let p = linkInfo(parent) {
                guard p.up else { return .failure(Why(text: "\(parent), which carries qmimux traffic, is down")) }
                guard p.mtu >= sim.dlMaxSize else {
                    return .failure(Why(text: "\(parent)'s MTU \(p.mtu) is smaller than the \(sim.dlMaxSize)-byte aggregates the modem sends: qmi_wwan's receive buffer overflows"))
                }
            }
        case .mhiNet:
            // mhi_net hands IP packets to the channel as they are: right only while the modem
            // runs neither QMAP nor 802.3 (checked below), whoever set up the modem.
            break
        case .qmiWWANQ(let mode), .pcieMHI(let mode):
            let name = driver.name
            guard let m = mux else { return .failure(Why(text: "with qmap_mode \(mode) \(name) carries traffic on its mux links, not on \(parent)")) }
            if let p = linkInfo(parent), !p.up { return .failure(Why(text: "\(parent), through which \(name) sends, is down")) }
            let bit = mode <= 1 ? UInt32(1) : UInt32(1) << (UInt32(m) - 0x81)
            guard linkState & bit != 0 else {
                return .failure(Why(text: "\(name) keeps mux 0x\(Text.hex(m)) off: link_state 0x\(String(linkState, radix: 16)) lacks it"))
            }
            guard sim.dlMaxSize <= qmapSize else {
                return .failure(Why(text: "the modem sends \(sim.dlMaxSize)-byte aggregates, larger than \(name)'s qmap_size \(qmapSize)"))
            }
        }

        // What the modem does with it.
        guard sim.linkProtocol == .rawIp else {
            return .failure(Why(text: "the modem's link layer is 802.3 (WDA), and the driver sends raw IP"))
        }
        let expected: WDA.AggregationProtocol
        switch (mux, driver) {
        case (nil, _): expected = .disabled
        case (_, .qmiWWAN): expected = .qmap
        case (_, .qmiWWANQ), (_, .pcieMHI), (_, .mhiNet): expected = driverQMAP
        }
        guard sim.dlAggregation == expected && sim.ulAggregation == expected else {
            let has = sim.dlAggregation == .disabled ? "no aggregation" : "\(sim.dlAggregation.name) aggregation"
            let wants = expected == .disabled ? "plain IP" : "\(expected.name) frames"
            return .failure(Why(text: "the modem runs \(has) (WDA) and \(dev) carries \(wants)"))
        }

        // The call.
        let calls = sim.calls.filter { $0.mux == mux && $0.family == family }
        let on = mux.map { "on mux 0x\(Text.hex($0))" } ?? "without a mux"
        guard let call = calls.first else { return .failure(Why(text: "no IPv\(family) call is up \(on)")) }
        let a = sim.config.addressing(profile: call.profile, generation: call.generation)
        if !e.v4 {
            // IPv6: the network routes the call's whole /64 to the UE.
            switch ipv6Verdict(e, own: a.ipv6Address, gateway: a.ipv6Gateway) {
            case .success(let answerAs): return .success((0, answerAs))
            case .failure(let why): return .failure(Why(text: why.text + " (\(on))"))
            }
        }
        guard e.source4 == a.ipv4Address else {
            return .failure(Why(text: "its source \(e.source) is not \(Text.ipv4(a.ipv4Address)), the address of the call \(on): the network drops it"))
        }
        return .success((a.ipv4Gateway, []))
    }

    /// An ICMP or ICMPv6 echo request.
    struct Echo {
        let v4: Bool
        let source4: UInt32, destination4: UInt32
        let source6: [UInt8], destination6: [UInt8]

        init?(_ p: [UInt8]) {
            guard let first = p.first else { return nil }
            if first >> 4 == 4 {
                let ihl = Int(first & 0x0f) * 4
                guard ihl >= 20, p.count >= ihl + 8, p[9] == 1, p[ihl] == 8 else { return nil }
                func u32(_ o: Int) -> UInt32 { UInt32(p[o]) << 24 | UInt32(p[o + 1]) << 16 | UInt32(p[o + 2]) << 8 | UInt32(p[o + 3]) }
                v4 = true
                source4 = u32(12)
                destination4 = u32(16)
                source6 = []
                destination6 = []
            } else if first >> 4 == 6 {
                guard p.count >= 48, p[6] == 58, p[40] == 128 else { return nil }
                v4 = false
                source4 = 0
                destination4 = 0
                source6 = Array(p[8..<24])
                destination6 = Array(p[24..<40])
            } else {
                return nil
            }
        }

        var source: String { v4 ? Text.ipv4(source4) : Text.ipv6(source6) }
        var destination: String { v4 ? Text.ipv4(destination4) : Text.ipv6(destination6) }
    }
}
