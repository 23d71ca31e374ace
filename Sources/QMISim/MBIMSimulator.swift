import Foundation
import Base
import CSystem
import MBIMCore

/// A simulated Quectel module in MBIM mode (cdc_mbim): the MBIM control channel on a socket
/// file (what qcm opens in place of /dev/cdc-wdm0) and, optionally, libmbim's
/// `@mbim-proxy` protocol so `mbimcli -p` talks to it; Basic Connect with radio, SIM and
/// PIN, registration, packet service, CONNECT sessions and their IP configuration; faults;
/// and, as root, the netdev as a TAP device with cdc_mbim's fake Ethernet header that
/// answers pings to the session's gateway while the session is up.
///
/// Every message is read and answered through MBIMCore's layouts: the simulator and qcm
/// share one definition of each. Runs on its own thread; public methods are thread-safe.
public final class MBIMSimulator {
    public struct Config {
        public var deviceID = "867394041355693"
        public var firmware = "RM500QGLABR11A06M4G"
        public var hardware = "RM500Q-GL"
        public var imsi = "460011234567890"
        public var iccid = "89860117851101539010"
        public var provider = (id: "46001", name: "CHN-UNICOM")
        public enum SIM { case ready, pinRequired, absent }
        public var sim = SIM.ready
        public var pin = "1234"
        public var pinAttempts: UInt32 = 3
        public var neverRegister = false
        public var roaming = false
        /// OPEN is never answered (a modem still booting, or a wedged one).
        public var neverOpen = false
        /// CIDs of Basic Connect that are never answered.
        public var noAnswer: Set<UInt32> = []
        /// CONNECT activate is refused with this status and network error...
        public var rejectConnect: (status: UInt32, nwError: UInt32)?
        /// ...this many times (-1: always).
        public var rejectTimes = -1
        public var ipv4 = (address: "10.90.1.113", prefix: 30, gateway: "10.90.1.114", dns: ["211.138.180.2", "211.138.180.3"])
        public var ipv6 = (address: "2409:8930:463:3daa:7c8e:429a:c902:c6cc", prefix: 64, gateway: "2409:8930:463:3daa:7c8e:429a:c902:c6cd",
                           dns: ["2409:8030:2000::1"])
        public var mtu: UInt32 = 1500
        /// The coded RSSI (MBIM: -113 dBm + 2 dB a step; 20 is -73 dBm).
        public var rssi: UInt32 = 20
        /// REGISTER_STATE's available data classes (0x20 LTE; 0x04 UMTS, 0x02 EDGE, 0x40 5G NSA).
        public var dataClasses: UInt32 = 0x20
        public var latencyMs: Int64 = 5
        public init() {}
    }

    final class Client {
        let id: Int
        let fd: Int32
        var watch = 0
        let viaProxy: Bool
        var configured = false
        var input: [UInt8] = []
        var output: [UInt8] = []
        init(id: Int, fd: Int32, viaProxy: Bool) {
            self.id = id
            self.fd = fd
            self.viaProxy = viaProxy
        }
    }

    public var config: Config
    let loop = EventLoop()
    let lock = NSRecursiveLock()
    var thread: Thread?
    var running = false
    var listeners: [(fd: Int32, watch: Int, path: String, proxy: Bool)] = []
    var clients: [Client] = []
    var nextClient = 1
    public var onLog: ((String) -> Void)?

    // Modem state
    public private(set) var opened = false
    var radioOn = false
    var simState: Config.SIM
    var pinAttemptsLeft: UInt32
    var registered = false
    var attached = false
    /// Active sessions: id → IP type.
    public private(set) var sessions: [UInt32: UInt32] = [:]
    var rejected = 0
    /// Every request received, by name ("basic-connect CONNECT set", "OPEN").
    public private(set) var requests: [String] = []

    // Signal: what SIGNAL_STATE set asked for (until then the defaults: every step of RSSI
    // change is reported), and the RSSI last reported.
    var signalInterval: UInt32 = MBIMCatalogue.SignalState.unspecified
    var rssiThreshold: UInt32 = MBIMCatalogue.SignalState.unspecified
    var errorRateThreshold: UInt32 = MBIMCatalogue.SignalState.unspecified
    var rssiReported: UInt32
    /// SIGNAL_STATE indications sent.
    var signalIndicationsSent = 0
    public var signalIndications: Int { locked { signalIndicationsSent } }

    // Data path
    var tap: TunDevice?
    public private(set) var echoesAnswered = 0
    /// PACKET_STATISTICS since the function was opened: IP packets the host sent on the
    /// session (out) or that could not go anywhere (out discards: no session, not IPv4),
    /// and the answers it got (in).
    var counters = (inOctets: UInt64(0), inPackets: UInt64(0), outOctets: UInt64(0), outPackets: UInt64(0), outDiscards: UInt32(0))

    public init(config: Config = Config()) {
        self.config = config
        simState = config.sim
        pinAttemptsLeft = config.pinAttempts
        rssiReported = config.rssi
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func log(_ s: String) { onLog?("mbim: " + s) }

    /// No session up and the device closed: what a clean client leaves behind.
    public var isClean: Bool { locked { sessions.isEmpty && !opened } }
    public var sessionCount: Int { locked { sessions.count } }
    public var requestNames: [String] { locked { requests } }

    // MARK: lifecycle

    /// Listens on a socket file (the device node) or `@mbim-proxy` (`proxy`: libmbim's proxy
    /// protocol). Call before `start`.
    public func listen(_ path: String, proxy: Bool = false) throws {
        try locked {
            if !path.hasPrefix("@") { _ = unlink(path) }
            let fd = csys_unix_listen(path, 8)
            guard fd >= 0 else { throw NSError(domain: "mbim-sim", code: Int(csys_errno()), userInfo: [NSLocalizedDescriptionKey: "listen on \(path)"]) }
            let w = loop.watch(fd) { [unowned self] _ in self.locked { self.accept(fd, proxy: proxy) } }
            listeners.append((fd, w, path, proxy))
            log("listening on \(path)\(proxy ? " (mbim-proxy protocol)" : "")")
        }
    }

    /// The netdev as a TAP device (in the calling thread's network namespace) with NOARP,
    /// like cdc_mbim's.
    public func makeNetdev(_ name: String, namespace: String? = nil) throws {
        let t = try TunDevice(name: name, ethernet: true)
        t.onPacket = { [unowned self] frame in self.locked { self.frame(frame) } }
        t.serve(on: loop)
        tap = t
        let ip = namespace.map { ["ip", "-n", $0] } ?? ["ip"]
        _ = FakeHardware.run(ip + ["link", "set", name, "arp", "off"])
    }

    public func start() {
        running = true
        let t = Thread { [unowned self] in
            while self.locked({ self.running }) { self.loop.runOnce(maxWaitMs: 50) }
        }
        t.name = "mbim-sim"
        thread = t
        t.start()
    }

    public func shutdown() {
        locked { running = false }
        if let t = thread {
            while t.isExecuting && !t.isFinished { usleep(1000) }
            thread = nil
        }
        locked {
            for c in clients { drop(c) }
            for l in listeners {
                loop.unwatch(l.watch)
                _ = close(l.fd)
                if !l.path.hasPrefix("@") { _ = unlink(l.path) }
            }
            listeners.removeAll()
            tap?.close()
            tap = nil
        }
    }

    // MARK: faults

    /// The network ends session `id` (a CONNECT indication: deactivated, regular deactivation).
    public func dropSession(_ id: UInt32 = 0) {
        locked {
            guard sessions.removeValue(forKey: id) != nil else { return }
            log("network drops session \(id)")
            indicate(MBIMCatalogue.Connect.cid, MBIMCatalogue.Connect.state.encode(
                [.number(UInt64(id)), .number(UInt64(MBIMCatalogue.Connect.deactivated)), .number(0), .number(0),
                 .uuid(.contextInternet), .number(36)]))
        }
    }

    /// The function resets: every session gone, the device closed; the next command on
    /// any channel gets FUNCTION_ERROR NOT_OPENED, as after a suspend.
    public func reset() {
        locked {
            log("modem reset")
            sessions.removeAll()
            opened = false
            radioOn = false
            registered = false
            attached = false
        }
    }

    /// The network offers other data classes (a new RAT): a REGISTER_STATE indication.
    public func changeDataClasses(_ classes: UInt32) {
        locked {
            config.dataClasses = classes
            guard opened, registered else { return }
            indicate(MBIMCatalogue.Register.cid, registerState)
        }
    }

    /// What the host asked for with SIGNAL_STATE set (or the defaults).
    public var signalReporting: (interval: UInt32, rssiThreshold: UInt32, errorRateThreshold: UInt32) {
        locked { (signalInterval, rssiThreshold, errorRateThreshold) }
    }

    /// The signal changes: a SIGNAL_STATE indication when it moved by the threshold the
    /// host set (0: never; by default, by any step) and the function is open.
    public func setSignal(rssi coded: UInt32) {
        locked {
            config.rssi = coded
            let moved = coded > rssiReported ? coded - rssiReported : rssiReported - coded
            let step = rssiThreshold == MBIMCatalogue.SignalState.unspecified ? 1 : rssiThreshold
            guard opened, step > 0, moved >= step else { return }
            rssiReported = coded
            signalIndicationsSent += 1
            log("signal now \(coded) (coded RSSI)")
            indicate(MBIMCatalogue.SignalState.cid, signalState)
        }
    }

    // MARK: connections

    func accept(_ lfd: Int32, proxy: Bool) {
        while true {
            let fd = csys_accept(lfd)
            if fd < 0 { return }
            let c = Client(id: nextClient, fd: fd, viaProxy: proxy)
            nextClient += 1
            c.watch = loop.watch(fd) { [unowned self, unowned c] ev in self.locked { self.event(c, ev) } }
            clients.append(c)
        }
    }

    func drop(_ c: Client) {
        guard let i = clients.firstIndex(where: { $0 === c }) else { return }
        clients.remove(at: i)
        loop.unwatch(c.watch)
        _ = close(c.fd)
    }

    func event(_ c: Client, _ ev: Int16) {
        if ev & Int16(POLLOUT) != 0 { flush(c) }
        guard ev & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return }
        var buf = [UInt8](repeating: 0, count: 16384)
        let n = buf.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
        if n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR) { return }
        guard n > 0 else { return drop(c) }
        c.input += buf[0..<n]
        while c.input.count >= 12 {
            let length = Int(UInt32(c.input[4]) | UInt32(c.input[5]) << 8 | UInt32(c.input[6]) << 16 | UInt32(c.input[7]) << 24)
            guard length >= 12 && length <= 65536 else { return drop(c) }
            guard c.input.count >= length else { return }
            let bytes = Array(c.input[..<length])
            c.input.removeFirst(length)
            received(bytes, from: c)
        }
    }

    func send(_ m: MBIMMessage, to c: Client) {
        let delay = config.latencyMs
        loop.after(delay) { [unowned self] in
            self.locked {
                guard self.clients.contains(where: { $0 === c }) else { return }
                for f in m.encode(maxTransfer: 4096) { c.output += f }
                self.flush(c)
            }
        }
    }

    func flush(_ c: Client) {
        guard Files.sendPending(c.fd, &c.output) else { return drop(c) }
        loop.setEvents(c.watch, Int16(POLLIN) | (c.output.isEmpty ? 0 : Int16(POLLOUT)))
    }

    func indicate(_ cid: UInt32, _ buffer: [UInt8]) {
        var m = MBIMMessage(kind: .indicateStatus, transactionID: 0)
        m.service = .basicConnect
        m.cid = cid
        m.buffer = buffer
        for c in clients where !c.viaProxy || c.configured { send(m, to: c) }
    }

    // MARK: requests

    func received(_ bytes: [UInt8], from c: Client) {
        let m: MBIMMessage
        switch MBIMMessage.decode(bytes) {
        case .success(let x): m = x
        case .failure(let e):
            log("client \(c.id): \(e.description)")
            var err = MBIMMessage(kind: .functionError, transactionID: UInt32(bytes.count >= 12 ? UInt32(bytes[8]) | UInt32(bytes[9]) << 8 | UInt32(bytes[10]) << 16 | UInt32(bytes[11]) << 24 : 0))
            err.value = 3       // LENGTH_MISMATCH
            return send(err, to: c)
        }
        requests.append(MBIMTrace.name(m))
        func done(_ kind: MBIMMessage.Kind, _ status: UInt32 = 0) { send(MBIMMessage(kind: kind, transactionID: m.transactionID, value: status), to: c) }
        switch m.kind {
        case .open:
            if config.neverOpen { return log("not answering OPEN (fault)") }
            if !opened { counters = (0, 0, 0, 0, 0) }     // counted from when the function opens
            opened = true
            done(.openDone)
        case .close:
            if !c.viaProxy {
                opened = false
                sessions.removeAll()        // closing the function deactivates its contexts
            }
            done(.closeDone)
        case .command:
            if c.viaProxy && m.service == .proxyControl && m.cid == MBIMCatalogue.ProxyConfiguration.cid {
                c.configured = true
                opened = true
                var r = MBIMMessage(kind: .commandDone, transactionID: m.transactionID)
                r.service = m.service
                r.cid = m.cid
                return send(r, to: c)
            }
            guard opened else {
                var e = MBIMMessage(kind: .functionError, transactionID: m.transactionID)
                e.value = 5     // NOT_OPENED
                return send(e, to: c)
            }
            if m.service == .basicConnect && config.noAnswer.contains(m.cid) { return log("not answering \(MBIMTrace.name(m)) (fault)") }
            let (status, buffer) = command(m)
            var r = MBIMMessage(kind: .commandDone, transactionID: m.transactionID, value: status)
            r.service = m.service
            r.cid = m.cid
            r.buffer = buffer
            send(r, to: c)
        default:
            log("client \(c.id): ignored \(m.kind.name)")
        }
    }

    /// A COMMAND's status and information buffer.
    func command(_ m: MBIMMessage) -> (UInt32, [UInt8]) {
        typealias C = MBIMCatalogue
        let noDevice: (UInt32, [UInt8]) = (9, [])        // NO_DEVICE_SUPPORT
        guard m.service == .basicConnect else { return noDevice }
        func values(_ layout: MBIMLayout) -> [MBIMValue]? { try? layout.decode(m.buffer).get() }
        switch m.cid {
        case C.DeviceCaps.cid:
            return (0, C.DeviceCaps.response.encode([
                .number(1), .number(1), .number(1), .number(2), .number(0x3c), .number(3), .number(1), .number(1),
                .text(nil), .text(config.deviceID), .text(config.firmware), .text(config.hardware)]))
        case C.DeviceServices.cid:
            return (0, C.DeviceServices.response.encode([.number(0), .number(0), .services([
                MBIMDeviceService(service: .basicConnect, cids: [1, 2, 3, 4, 9, 10, 11, 12, 15, 16, 20]), MBIMDeviceService(service: .qmi, cids: [1])])]))
        case C.Radio.cid:
            if m.isSet, let v = values(C.Radio.set) {
                radioOn = v[0].u32 == 1
                log("radio \(radioOn ? "on" : "off")")
                if radioOn { registerSoon() } else { registered = false; attached = false; sessions.removeAll() }
            }
            return (0, C.Radio.response.encode([.number(1), .number(radioOn ? 1 : 0)]))
        case C.SubscriberReady.cid:
            let state: UInt32 = simState == .absent ? C.SubscriberReady.notInserted : simState == .pinRequired ? C.SubscriberReady.deviceLocked
                : C.SubscriberReady.initialized
            let ready = simState == .ready
            return (0, C.SubscriberReady.response.encode([.number(UInt64(state)), .text(ready ? config.imsi : nil),
                                                           .text(simState == .absent ? nil : config.iccid), .number(0), .number(0), .texts([])]))
        case C.Pin.cid:
            if m.isSet, let v = values(C.Pin.set) {
                guard simState == .pinRequired else { return (6, []) }                     // PIN_DISABLED
                guard pinAttemptsLeft > 0 else { return (2, pinState) }
                if v[2].text == config.pin {
                    simState = .ready
                    pinAttemptsLeft = config.pinAttempts
                    log("PIN accepted")
                    if radioOn { registerSoon() }
                    return (0, pinState)
                }
                pinAttemptsLeft -= 1
                return (2, pinState)                                                        // FAILURE
            }
            return (0, pinState)
        case C.Register.cid:
            return (0, registerState)
        case C.PacketService.cid:
            if m.isSet, let v = values(C.PacketService.set) {
                guard registered else { return (7, packetState) }                            // NOT_REGISTERED
                attached = v[0].u32 == C.PacketService.attach
                indicate(C.PacketService.cid, packetState)
            }
            return (0, packetState)
        case C.SignalState.cid:
            if m.isSet {
                guard let v = values(C.SignalState.set) else { return (21, []) }          // INVALID_PARAMETERS
                signalInterval = v[0].u32
                rssiThreshold = v[1].u32
                errorRateThreshold = v[2].u32
                log("signal reports: interval \(signalInterval) s, RSSI threshold \(rssiThreshold)")
            }
            rssiReported = config.rssi
            return (0, signalState)
        case C.PacketStatistics.cid:
            guard !m.isSet else { return noDevice }                                        // query only
            return (0, C.PacketStatistics.response.encode([
                .number(0), .number(0), .number(counters.inOctets), .number(counters.inPackets),
                .number(counters.outOctets), .number(counters.outPackets), .number(0), .number(UInt64(counters.outDiscards))]))
        case C.Connect.cid:
            if m.isSet, let v = values(C.Connect.set) {
                let id = v[0].u32
                if v[1].u32 == C.Connect.deactivate {
                    guard sessions.removeValue(forKey: id) != nil else { return (16, connectState(id)) }   // CONTEXT_NOT_ACTIVATED
                    log("session \(id) deactivated")
                    return (0, connectState(id))
                }
                guard registered else { return (7, connectState(id)) }
                guard attached else { return (12, connectState(id)) }                       // PACKET_SERVICE_DETACHED
                if let r = config.rejectConnect, config.rejectTimes < 0 || rejected < config.rejectTimes {
                    rejected += 1
                    log("refusing CONNECT (fault)")
                    return (r.status, connectState(id, nwError: r.nwError))
                }
                if v[2].text == "auth.example" && (v[3].text != "user" || v[4].text != "pass") {
                    return (19, connectState(id, nwError: 29))                               // INVALID_USER_NAME_PWD
                }
                let type = v[7].u32 == 0 ? C.Connect.ipv4 : v[7].u32
                sessions[id] = type
                log("session \(id) up (\(MBIMNames.ipType.describe(type)), APN '\(v[2].text ?? "")')")
                return (0, connectState(id))
            }
            let id = values(C.Connect.state).map { $0[0].u32 } ?? (m.buffer.count >= 4 ? UInt32(m.buffer[0]) : 0)
            return (0, connectState(id))
        case C.IPConfiguration.cid:
            let id = m.buffer.count >= 4 ? UInt32(m.buffer[0]) | UInt32(m.buffer[1]) << 8 : 0
            guard let type = sessions[id] else { return (16, []) }
            return (0, ipConfiguration(id, type))
        default:
            return noDevice
        }
    }

    var pinState: [UInt8] {
        MBIMCatalogue.Pin.response.encode([.number(UInt64(MBIMCatalogue.Pin.pin1)),
                                           .number(simState == .pinRequired ? 1 : 0), .number(UInt64(pinAttemptsLeft))])
    }

    var registerState: [UInt8] {
        let state: UInt32 = registered ? (config.roaming ? MBIMCatalogue.Register.roaming : MBIMCatalogue.Register.home) : 2
        return MBIMCatalogue.Register.response.encode([
            .number(0), .number(UInt64(state)), .number(1), .number(UInt64(config.dataClasses)), .number(1),
            .text(registered ? config.provider.id : nil), .text(registered ? config.provider.name : nil), .text(nil), .number(0)])
    }

    var signalState: [UInt8] {
        MBIMCatalogue.SignalState.response.encode([.number(UInt64(config.rssi)), .number(99), .number(UInt64(signalInterval)),
                                                   .number(UInt64(rssiThreshold)), .number(UInt64(errorRateThreshold))])
    }

    var packetState: [UInt8] {
        MBIMCatalogue.PacketService.response.encode([.number(0), .number(attached ? 2 : 4), .number(0x20), .number(50_000_000), .number(150_000_000)])
    }

    func connectState(_ id: UInt32, nwError: UInt32 = 0) -> [UInt8] {
        let up = sessions[id] != nil
        return MBIMCatalogue.Connect.state.encode([.number(UInt64(id)), .number(UInt64(up ? MBIMCatalogue.Connect.activated : MBIMCatalogue.Connect.deactivated)),
                                                   .number(0), .number(UInt64(sessions[id] ?? 0)), .uuid(.contextInternet), .number(UInt64(nwError))])
    }

    func ipConfiguration(_ id: UInt32, _ type: UInt32) -> [UInt8] {
        typealias C = MBIMCatalogue.IPConfiguration
        let v4 = type != MBIMCatalogue.Connect.ipv6, v6 = type != MBIMCatalogue.Connect.ipv4
        let all = C.address | C.gateway | C.dns | C.mtu
        func addr(_ s: String) -> IPAddress { IPAddress(s) ?? IPAddress(ipv4: 0) }
        return C.layout.encode([
            .number(UInt64(id)), .number(UInt64(v4 ? all : 0)), .number(UInt64(v6 ? all : 0)),
            .number(0), .addresses(v4 ? [MBIMAddress(prefix: config.ipv4.prefix, address: addr(config.ipv4.address))] : []),
            .number(0), .addresses(v6 ? [MBIMAddress(prefix: config.ipv6.prefix, address: addr(config.ipv6.address))] : []),
            .addresses(v4 ? [MBIMAddress(addr(config.ipv4.gateway))] : []), .addresses(v6 ? [MBIMAddress(addr(config.ipv6.gateway))] : []),
            .number(0), .addresses(v4 ? config.ipv4.dns.map { MBIMAddress(addr($0)) } : []),
            .number(0), .addresses(v6 ? config.ipv6.dns.map { MBIMAddress(addr($0)) } : []),
            .number(UInt64(v4 ? config.mtu : 0)), .number(UInt64(v6 ? config.mtu : 0)),
        ])
    }

    func registerSoon() {
        guard radioOn, simState == .ready, !config.neverRegister, !registered else { return }
        loop.after(20) { [unowned self] in
            self.locked {
                guard self.radioOn, self.simState == .ready, !self.registered else { return }
                self.registered = true
                self.log("registered")
                self.indicate(MBIMCatalogue.Register.cid, self.registerState)
            }
        }
    }

    // MARK: data path

    /// cdc_mbim's netdev: Ethernet frames with a fake header; only IP. Echo requests to the
    /// session's IPv4 gateway from its address are answered while session 0 is up.
    func frame(_ f: [UInt8]) {
        guard f.count > 14, let tap = tap else { return }
        // Session 0 carries IPv4 only: anything else the host sends is discarded.
        guard f[12] == 0x08, f[13] == 0x00, sessions[0] != nil else { return counters.outDiscards &+= 1 }
        let ip = Array(f[14...])
        counters.outOctets += UInt64(ip.count); counters.outPackets += 1
        guard let src = IPAddress(config.ipv4.address), ip.count >= 20, Array(ip[12..<16]) == src.bytes,
              let gw = IPAddress(config.ipv4.gateway),
              let reply = TunDevice.echoReply(ip, ipv4: UInt32(gw.bytes[0]) << 24 | UInt32(gw.bytes[1]) << 16 | UInt32(gw.bytes[2]) << 8 | UInt32(gw.bytes[3]),
                                              ipv6: []) else { return }
        echoesAnswered += 1
        counters.inOctets += UInt64(reply.count); counters.inPackets += 1
        tap.write(Array(f[6..<12]) + [0, 0, 0, 0, 0, 0] + [0x08, 0x00] + reply)
    }
}
