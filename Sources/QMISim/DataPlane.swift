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
///
/// Quectel's drivers present Ethernet-type netdevs (`Link encap:Ethernet`, NOARP) even in
/// raw-IP mode; here they are TAP devices, and the driver's header is stripped and added as
/// the drivers do. Built with bridge support (`bridgeSupport`), each of them has the
/// bridge mode attributes `bridge_mode` and `bridge_ipv4` (FIFOs, like link_state), and
/// then the driver's bridge rules apply to its frames: it learns the LAN host's MAC from a
/// DHCP broadcast, answers ARP for the call's /22 with the modem's MAC while bridge_ipv4
/// holds an address, forwards only the learned host's frames (so a host address on the
/// netdev carries nothing: the drop says so), and sends what comes back to that host. The
/// modem's DHCP server leases the LAN host the call's address.
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
        /// qmi_wwan_q's. The parent is ARPHRD_NONE (a TUN here), the children Ethernet.
        case pcieMHI(mode: Int)
        /// Quectel's GobiNet (usb0): qmap_mode 0 carries plain IP on usb0 in the modem's link
        /// layer (raw IP, or 802.3 frames whose DHCP the modem answers), 1 mux 0x81 on usb0,
        /// N children usb0.1..N (`qmi-sim --gobinet --veth` is a veth stand-in with dnsmasq).
        case gobiNet(mode: Int)
        /// The upstream kernel's mhi_net (mhi_hwip0, FakeHardware.writeWWAN): a raw-IP netdev
        /// without attributes. IP packets go to the modem as they are; anything else is
        /// QMAP for rmnet links on top (mhi_net does not demultiplex).
        case mhiNet

        var name: String {
            switch self {
            case .qmiWWAN: return "qmi_wwan"
            case .qmiWWANQ: return "qmi_wwan_q"
            case .pcieMHI: return "pcie_mhi"
            case .gobiNet: return "GobiNet"
            case .mhiNet: return "mhi_net"
            }
        }

        /// qmap_mode (0 for upstream qmi_wwan).
        var mode: Int {
            switch self {
            case .qmiWWAN, .mhiNet: return 0
            case .qmiWWANQ(let m), .pcieMHI(let m), .gobiNet(let m): return m
            }
        }
    }

    /// The MAC the Quectel drivers give the modem's side (default_modem_addr, ec20_mac).
    public static let modemMAC: [UInt8] = [0x02, 0x50, 0xf3, 0x00, 0x00, 0x00]

    /// One netdev's bridge mode, as the driver keeps it.
    public struct Bridge: Equatable {
        /// bridge_mode (the driver's store parses it in base 0).
        public var mode: UInt32 = 0
        /// bridge_ipv4 (parsed in base 16), the LAN host's address; 0: none.
        public var ipv4: UInt32 = 0
        /// The LAN host's MAC, learned from its DHCP broadcast.
        public var hostMAC: [UInt8]?

        public init(mode: UInt32 = 0, ipv4: UInt32 = 0, hostMAC: [UInt8]? = nil) {
            self.mode = mode
            self.ipv4 = ipv4
            self.hostMAC = hostMAC
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
    /// The driver was built with bridge support: its Ethernet-type netdevs have bridge_mode
    /// and bridge_ipv4.
    let bridgeSupport: Bool
    /// Bridge mode per netdev that has the attributes.
    public private(set) var bridges: [String: Bridge] = [:]
    /// Every store to a bridge attribute, in order: "wwan0 bridge_mode 1",
    /// "wwan0 bridge_ipv4 0xa5a0171".
    public private(set) var bridgeWrites: [String] = []
    /// Ethernet-type netdevs (TAP devices), with their MAC.
    var macs: [String: [UInt8]] = [:]
    /// The modem's DHCP server, per bridged netdev.
    var dhcpServers: [String: EthernetPlane] = [:]
    /// ARP requests the driver answered for LAN hosts, per netdev.
    public private(set) var arpAnswered: [String: Int] = [:]

    /// Sets up the data path of `driver` under `root` (whose sysfs tree FakeHardware wrote
    /// with the same driver) and attaches it to `sim`.
    @discardableResult
    public static func attach(to sim: QMISimulator, root: String, driver: Driver, parent: String = "wwan0",
                              namespace: String? = nil, networking: Bool, driverQMAP: WDA.AggregationProtocol = .qmap,
                              qmapSize: UInt32 = 4096, initialLinkState: UInt32 = 1, bridgeSupport: Bool = true) throws -> DataPlane {
        try sim.locked {
            let d = DataPlane(sim: sim, root: root, driver: driver, parent: parent, namespace: namespace, networking: networking,
                              driverQMAP: driverQMAP, qmapSize: qmapSize, initialLinkState: initialLinkState,
                              bridgeSupport: bridgeSupport && driver != .qmiWWAN)
            try d.start()
            sim.dataPlane = d
            return d
        }
    }

    init(sim: QMISimulator, root: String, driver: Driver, parent: String, namespace: String?, networking: Bool,
         driverQMAP: WDA.AggregationProtocol, qmapSize: UInt32, initialLinkState: UInt32, bridgeSupport: Bool) {
        self.sim = sim
        self.bridgeSupport = bridgeSupport
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
        }
        // pcie_mhi's parent is ARPHRD_NONE, upstream qmi_wwan's raw-IP netdev too; the other
        // netdevs of Quectel's drivers are Ethernet-type.
        let parentIsEthernet: Bool
        switch driver {
        case .qmiWWAN, .pcieMHI, .mhiNet: parentIsEthernet = false
        case .qmiWWANQ, .gobiNet: parentIsEthernet = true
        }
        try attributes(parent, ethernet: parentIsEthernet)
        if networking { try addDevice(parent, ethernet: parentIsEthernet) }
        switch driver {
        case .qmiWWAN:
            try fifo(sysNet + "/\(parent)/qmi/add_mux") { [unowned self] v in self.addMux(v) }
            try fifo(sysNet + "/\(parent)/qmi/del_mux") { [unowned self] v in self.delMux(v) }
        case .qmiWWANQ(let mode), .gobiNet(let mode):
            let separator = driver == .gobiNet(mode: mode) ? "." : "_"
            if mode >= 1 { try fifo(sysNet + "/\(parent)/link_state") { [unowned self] v in self.setLinkState(v, mode: mode) } }
            if mode == 1 {
                muxOf[parent] = 0x81
            } else if mode > 1 {
                for n in 1...mode { try addChild(parent + separator + "\(n)", mux: UInt8(0x80 + n)) }
            }
        case .pcieMHI(let mode):
            try fifo(sysNet + "/\(parent)/link_state") { [unowned self] v in self.setLinkState(v, mode: mode) }
            for n in 1...max(1, mode) { try addChild(parent + ".\(n)", mux: UInt8(0x80 + n)) }
        case .mhiNet:
            break       // no attributes; rmnet links would be the kernel's (none on this one)
        }
    }

    /// One of the Quectel drivers' mux links, made when the driver loads (Ethernet-type).
    func addChild(_ name: String, mux: UInt8) throws {
        try FileManager.default.createDirectory(atPath: sysNet + "/" + name, withIntermediateDirectories: true)
        try attributes(name, ethernet: true)
        if networking { try addDevice(name, ethernet: true) }
        muxOf[name] = mux
    }

    /// A netdev's `type` (ARPHRD), and with bridge support its bridge_mode and bridge_ipv4
    /// (the drivers put them on every netdev; on one that is not Ethernet-type the store of
    /// bridge_mode is ignored).
    func attributes(_ name: String, ethernet: Bool) throws {
        let dir = sysNet + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "\(ethernet ? 1 : 65534)\n".write(toFile: dir + "/type", atomically: true, encoding: .utf8)
        guard bridgeSupport else { return }
        bridges[name] = Bridge()
        try fifoWords(dir + "/bridge_mode") { [unowned self] w in self.storeBridgeMode(name, w, ethernet: ethernet) }
        try fifoWords(dir + "/bridge_ipv4") { [unowned self] w in self.storeBridgeIPv4(name, w) }
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

    func addDevice(_ name: String, ethernet: Bool = false) throws {
        let tun = try inNamespace { try TunDevice(name: name, ethernet: ethernet) }
        if driver == .mhiNet && name == parent {
            // mhi_net's default MTU (0x4000), not a TUN's 1500.
            FakeHardware.run(["ip"] + (namespace.map { ["-n", ($0 as NSString).lastPathComponent] } ?? []) + ["link", "set", name, "mtu", "16384"])
        }
        if ethernet {
            // NOARP, as the drivers make it: the host sends to its own MAC and never ARPs.
            let r = inNamespace { FakeHardware.run(["ip", "link", "set", "dev", name, "arp", "off"]) }
            if r.status != 0 { note("\(name): ip link set arp off: \(r.output)") }
            macs[name] = inNamespace { DataPlane.macAddress(name) } ?? []
            tun.onPacket = { [unowned self, unowned tun] f in self.sim.withState { _ in self.receivedFrame(f, on: tun) } }
        } else {
            tun.onPacket = { [unowned self, unowned tun] p in self.sim.withState { _ in self.received(p, on: tun) } }
        }
        tun.serve(on: sim.loop)
        devices[name] = tun
    }

    /// The MAC of a netdev of the calling thread's namespace (or of namespace `ns`).
    public static func macAddress(inNamespace ns: String? = nil, _ name: String) -> [UInt8]? {
        let r = FakeHardware.run(["ip"] + (ns.map { ["-n", $0] } ?? []) + ["-j", "link", "show", "dev", name])
        guard r.status == 0, let data = r.output.data(using: .utf8),
              let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]],
              let text = list.first?["address"] as? String else { return nil }
        let bytes = text.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        return bytes.count == 6 ? bytes : nil
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

    /// A FIFO whose writes are handed on word by word (a store per write: qcm ends each
    /// value with a newline, as echo does).
    func fifoWords(_ path: String, _ handle: @escaping (String) -> Void) throws {
        _ = unlink(path)
        guard mkfifo(path, 0o644) == 0 else { throw QMIError.system(operation: "mkfifo \(path)", errno: csys_errno()) }
        let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw QMIError.system(operation: "open \(path)", errno: csys_errno()) }
        let watch = sim.loop.watch(fd) { [unowned self] _ in
            var buf = [UInt8](repeating: 0, count: 512)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            self.sim.withState { _ in
                for word in String(decoding: buf[0..<n], as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\0" }) {
                    handle(String(word))
                }
            }
        }
        fifos.append((path, fd, watch))
    }

    // MARK: bridge mode

    /// The kernel's simple_strtoul: digits of `base` up to the first other character
    /// (base 0: "0x" hex, a leading 0 octal, else decimal); what does not parse is 0.
    static func strtoul(_ s: String, base: Int) -> UInt32 {
        var t = Substring(s)
        var b = base
        if (b == 0 || b == 16), t.hasPrefix("0x") || t.hasPrefix("0X") { t = t.dropFirst(2); b = 16 }
        else if b == 0, t.hasPrefix("0"), t.count > 1 { t = t.dropFirst(); b = 8 }
        else if b == 0 { b = 10 }
        var v: UInt64 = 0
        for c in t {
            guard let d = c.hexDigitValue, d < b else { break }
            v = (v &* UInt64(b) &+ UInt64(d)) & 0xffff_ffff
        }
        return UInt32(v)
    }

    func storeBridgeMode(_ dev: String, _ word: String, ethernet: Bool) {
        bridgeWrites.append("\(dev) bridge_mode \(word)")
        guard ethernet else { return note("\(dev): bridge_mode \(word) ignored: \(dev) is not ARPHRD_ETHER (\(driver.name) takes it only on Ethernet-type netdevs)") }
        let v = DataPlane.strtoul(word, base: 0)
        if bridges[dev]?.mode != v { sim.log("net \(dev): bridge_mode change to 0x\(String(v, radix: 16))") }
        bridges[dev]?.mode = v
    }

    func storeBridgeIPv4(_ dev: String, _ word: String) {
        bridgeWrites.append("\(dev) bridge_ipv4 \(word)")
        let v = DataPlane.strtoul(word, base: 16)
        bridges[dev]?.ipv4 = v
        sim.log("\(dev): bridge_ipv4 \(Text.ipv4(v))")
    }

    /// What bridge_ipv4 shows (a dotted quad), for tests.
    public func bridgeIPv4(_ dev: String) -> String? { bridges[dev].map { Text.ipv4($0.ipv4) } }

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

    /// A packet the host sent on a raw-IP netdev (TUN).
    func received(_ p: [UInt8], on tun: TunDevice) {
        if driver == .mhiNet, let first = p.first, first >> 4 != 4 && first >> 4 != 6 {
            // What rmnet sends down mhi_net: a QMAP frame. Not decoded here (no kernel this
            // simulator was built on has rmnet to send one); said, so a test sees it.
            return note("\(tun.name): a QMAP frame (mux 0x\(Text.hex(p.count > 1 ? p[1] : 0))) from an rmnet link: the simulator does not carry QMAP on mhi_net")
        }
        ip(p, on: tun) { tun.write($0) }
    }

    // MARK: Ethernet-type netdevs (TAP): the driver's header, bridge mode

    /// A frame the host sent on one of the drivers' Ethernet-type netdevs.
    func receivedFrame(_ f: [UInt8], on tun: TunDevice) {
        let dev = tun.name
        guard f.count >= 14 else { return note("\(dev): dropped a \(f.count)-byte frame: shorter than an Ethernet header") }
        let src = Array(f[6..<12])
        let type = UInt16(f[12]) << 8 | UInt16(f[13])
        let payload = Array(f[14...])
        if let b = bridges[dev], b.mode != 0 {
            return bridged(payload, type: type, from: src, frame: f, on: tun, b)
        }
        switch type {
        case 0x0800, 0x86dd:
            if type == 0x0800, framesReachTheModem(on: dev), DataPlane.isDHCP(payload) {
                // 802.3 on both sides: the modem's own DHCP server leases the call's address.
                return dhcp(f, on: dev, host: src) { frame in tun.write(src + Array(frame[6...])) }
            }
            // The driver strips the header (or, in 802.3 mode, the modem ignores it); what comes
            // back gets one addressed to the netdev.
            ip(payload, on: tun) { reply in tun.write(src + DataPlane.modemMAC + [f[12], f[13]] + reply) }
        case 0x0806:
            note("\(dev): dropped an ARP frame: \(driver.name) makes \(dev) NOARP and sends no ARP to the modem")
        default:
            note("\(dev): dropped a frame of ethertype 0x\(Text.hex(type, 4)): \(driver.name) carries IPv4 and IPv6 only")
        }
    }

    /// GobiNet without QMAP follows the modem's link layer: when the modem runs 802.3 (WDA),
    /// the driver hands it whole Ethernet frames, and the modem answers DHCP on the link, as
    /// quectel-CM's GobiNet log shows (udhcpc on usb0, no data format set).
    func framesReachTheModem(on dev: String) -> Bool {
        guard case .gobiNet(let mode) = driver, mode == 0, muxOf[dev] == nil else { return false }
        return sim.linkProtocol == .`8023`
    }

    /// A frame on a netdev in bridge mode: the driver's bridge rules.
    func bridged(_ payload: [UInt8], type: UInt16, from src: [UInt8], frame f: [UInt8], on tun: TunDevice, _ b: Bridge) {
        let dev = tun.name
        if case .gobiNet = driver, sim.linkProtocol != .rawIp {
            return note("\(dev): dropped a frame: GobiNet applies bridge mode only in raw-IP mode, and the modem runs 802.3")
        }
        if type == 0x0806 {
            return bridgeARP(payload, on: tun, b)
        }
        // A DHCP broadcast (from 0.0.0.0 to 255.255.255.255) teaches the driver the LAN host's MAC.
        if type == 0x0800, payload.count >= 20, payload[9] == 17, payload[12..<16].allSatisfy({ $0 == 0 }),
           payload[16..<20].allSatisfy({ $0 == 0xff }) {
            if bridges[dev]?.hostMAC != src { sim.log("\(dev) PC Mac Address: \(Text.hexBytes(src, separator: ":"))") }
            bridges[dev]?.hostMAC = src
        }
        guard let host = bridges[dev]?.hostMAC, host == src else {
            var why = "\(dev): dropped a frame from \(Text.hexBytes(src, separator: ":")): in bridge mode \(driver.name) forwards only the LAN host's frames ("
                + (bridges[dev]?.hostMAC.map { "learned MAC \(Text.hexBytes($0, separator: ":"))" } ?? "no LAN host learned yet: it is learned from its DHCP request") + ")"
            if src == macs[dev] ?? [], type == 0x0800, payload.count >= 20 {
                let source = Text.ipv4(UInt32(payload[12]) << 24 | UInt32(payload[13]) << 16 | UInt32(payload[14]) << 8 | UInt32(payload[15]))
                why += "; it comes from \(dev) itself, from the host address \(source) configured on it: in bridge mode the address is the LAN host's"
            }
            return note(why)
        }
        guard type == 0x0800 || type == 0x86dd else {
            return note("\(dev): dropped a frame of ethertype 0x\(Text.hex(type, 4)) from the LAN host: \(driver.name) carries IPv4 and IPv6 only")
        }
        let back = { (reply: [UInt8], ethertype: [UInt8]) in tun.write(host + DataPlane.modemMAC + ethertype + reply) }
        if type == 0x0800, DataPlane.isDHCP(payload) {
            return dhcp(f, on: dev, host: host) { frame in tun.write(host + Array(frame[6...])) }
        }
        ip(payload, on: tun) { reply in back(reply, [f[12], f[13]]) }
    }

    /// The driver answers a LAN host's ARP request for an address in the call's /22 (other
    /// than its own) with the modem's MAC, while bridge_ipv4 holds the call's address.
    func bridgeARP(_ a: [UInt8], on tun: TunDevice, _ b: Bridge) {
        let dev = tun.name
        guard a.count >= 28, a[0] == 0, a[1] == 1, a[2] == 0x08, a[3] == 0x00, a[4] == 6, a[5] == 4 else {
            return note("\(dev): dropped an ARP frame that is not Ethernet/IPv4")
        }
        let op = UInt16(a[6]) << 8 | UInt16(a[7])
        let sha = Array(a[8..<14]), sip = Array(a[14..<18]), tip = Array(a[24..<28])
        let ip = [UInt8(b.ipv4 >> 24), UInt8(b.ipv4 >> 16 & 0xff), UInt8(b.ipv4 >> 8 & 0xff), UInt8(b.ipv4 & 0xff)]
        let what = "ARP \(op == 1 ? "request" : "op \(op)") for \(tip.map { "\($0)" }.joined(separator: ".")) from \(sip.map { "\($0)" }.joined(separator: "."))"
        guard op == 1 else { return note("\(dev): \(what): the driver answers requests only") }
        guard b.ipv4 != 0 else { return note("\(dev): \(what) not answered: bridge_ipv4 is 0") }
        guard tip[0] == ip[0], tip[1] == ip[1], tip[2] & 0xfc == ip[2] & 0xfc, tip[3] != ip[3] else {
            return note("\(dev): \(what) not answered: the driver answers for the /22 of \(Text.ipv4(b.ipv4)) only, not for it")
        }
        var r = sha + DataPlane.modemMAC + [0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2]
        r += DataPlane.modemMAC + tip + sha + sip
        arpAnswered[dev, default: 0] += 1
        tun.write(r)
    }

    static func isDHCP(_ p: [UInt8]) -> Bool {
        guard p.count >= 28, p[9] == 17 else { return false }
        let ihl = Int(p[0] & 0x0f) * 4
        guard p.count >= ihl + 8 else { return false }
        return p[ihl + 2] == 0 && p[ihl + 3] == 67
    }

    /// The modem's DHCP server for the LAN host of a bridged netdev: it leases the address
    /// of the call on the netdev's mux while the call is up, if the data path would carry it.
    func dhcp(_ frame: [UInt8], on dev: String, host: [UInt8], send: ([UInt8]) -> Void) {
        if let why = pathProblem(on: dev, v4: true) { return note("\(dev): dropped a DHCP request: \(why)") }
        let server: EthernetPlane
        if let s = dhcpServers[dev] { server = s } else {
            guard let s = try? EthernetPlane(name: dev, moduleMAC: DataPlane.modemMAC, natRouter: false, tap: nil) else { return }
            s.onLog = { [unowned self] in self.sim.log($0) }
            dhcpServers[dev] = s
            server = s
        }
        let mux = muxOf[dev]
        if let call = sim.calls.first(where: { $0.mux == mux && $0.family == 4 }) {
            let a = sim.config.addressing(profile: call.profile)
            if server.addressing?.address != a.ipv4Address {
                server.callUp(address: a.ipv4Address, prefix: sim.config.ipv4Prefix, gateway: a.ipv4Gateway, dns: sim.config.ipv4DNS,
                              mtu: sim.config.mtu)
            }
        } else if server.isUp {
            server.callDown()
        }
        let before = server.drops.count
        let replies = server.locked { server.handle(frame) }
        if replies.isEmpty, server.drops.count > before, let why = server.drops.last { note("\(dev): modem's DHCP server: \(why)") }
        for r in replies { send(r) }
    }

    /// An IP packet the driver hands to the modem: echo requests to a call's gateway are
    /// answered through `reply` (without a link-layer header) when the path carries them.
    func ip(_ p: [UInt8], on tun: TunDevice, reply: ([UInt8]) -> Void) {
        if DataPlane.isRouterSolicitation(p) { return routerSolicited(on: tun) }
        guard let echo = Echo(p) else { return }
        switch verdict(echo, on: tun.name) {
        case .success(let gateway):
            guard let r = TunDevice.echoReply(p, ipv4: echo.v4 ? gateway.v4 : 0, ipv6: echo.v4 ? [] : gateway.v6) else {
                return note("\(tun.name): nothing answers at \(echo.destination)")
            }
            count(p, r, on: tun.name, v4: echo.v4)
            reply(r)
        case .failure(let why):
            note("\(tun.name): dropped a ping to \(echo.destination): \(why.text)")
        }
    }

    func count(_ p: [UInt8], _ reply: [UInt8], on dev: String, v4: Bool) {
        answered[dev, default: 0] += 1
        if let call = sim.calls.first(where: { $0.mux == muxOf[dev] && $0.family == (v4 ? 4 : 6) }) {
            var c = sim.traffic[call.handle] ?? (0, 0, 0, 0)
            c.txBytes += UInt64(p.count); c.txPackets &+= 1
            c.rxBytes += UInt64(reply.count); c.rxPackets &+= 1
            sim.traffic[call.handle] = c
        }
    }

    struct Why: Error { let text: String }

    /// Whether the driver and the modem's data format would carry a packet of this family on
    /// `dev` at all (nil: they would), whatever call it belongs to.
    func pathProblem(on dev: String, v4: Bool) -> String? {
        if case .failure(let why) = pathVerdict(on: dev) { return why.text }
        return nil
    }

    /// Whether the modem and the driver would carry this echo request, and the gateway of
    /// the call it belongs to.
    func verdict(_ e: Echo, on dev: String) -> Result<(v4: UInt32, v6: [UInt8]), Why> {
        if case .failure(let why) = pathVerdict(on: dev) { return .failure(why) }
        let mux = muxOf[dev]
        let family: UInt64 = e.v4 ? 4 : 6
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

    /// What the driver and the modem's data format do with traffic on `dev`.
    func pathVerdict(on dev: String) -> Result<Void, Why> {
        let mux = muxOf[dev]

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
        case .qmiWWANQ(let mode), .pcieMHI(let mode), .gobiNet(let mode):
            let name = driver.name
            if mode == 0 && driver != .pcieMHI(mode: 0) {
                // No QMAP: the netdev carries plain raw IP.
                break
            }
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
        guard sim.linkProtocol == .rawIp || framesReachTheModem(on: dev) else {
            return .failure(Why(text: "the modem's link layer is 802.3 (WDA), and the driver sends raw IP"))
        }
        let expected: WDA.AggregationProtocol
        switch (mux, driver) {
        case (nil, _): expected = .disabled
        case (_, .qmiWWAN): expected = .qmap
        case (_, .qmiWWANQ), (_, .pcieMHI), (_, .gobiNet), (_, .mhiNet): expected = driverQMAP
        }
        guard sim.dlAggregation == expected && sim.ulAggregation == expected else {
            let has = sim.dlAggregation == .disabled ? "no aggregation" : "\(sim.dlAggregation.name) aggregation"
            let wants = expected == .disabled ? "plain IP" : "\(expected.name) frames"
            return .failure(Why(text: "the modem runs \(has) (WDA) and \(dev) carries \(wants)"))
        }
        return .success(())
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
