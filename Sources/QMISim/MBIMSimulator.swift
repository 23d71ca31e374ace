import Foundation
import Base
import CSystem
import MBIMCore
import MBIMMessages

/// A simulated Quectel module in MBIM mode (cdc_mbim): the MBIM control channel on a socket
/// file (what qcm opens in place of /dev/cdc-wdm0) and, optionally, libmbim's
/// `@mbim-proxy` protocol so `mbimcli -p` talks to it; Basic Connect with radio, SIM and
/// PIN, registration, packet service, CONNECT sessions and their IP configuration; faults;
/// and, as root, the netdev as a TAP device with cdc_mbim's fake Ethernet header that
/// answers pings to the session's gateway while the session is up — or the netdevs of
/// mhi_wwan_mbim (`makeNetdev(rawIP:)`) or of Quectel's pcie_mhi in MBIM mode
/// (`attachPCIe`, MHIMBIMPlane).
///
/// Every message is read and answered through the typed views of MBIMCore's layouts
/// (MBIMMessages): the simulator and qcm share one definition of each. Runs on its own
/// thread; public methods are thread-safe.
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
        /// The address beyond the network that answers IPv6 pings (the gateway answers too).
        public var ipv6Remote: [UInt8] = Text.parseIPv6("2001:db8:ffff::1")!
        /// The network's Router Advertisement for session 0's /64, when its IPv6 side comes up
        /// and on every Router Solicitation, as a PGW sends it.
        public var sendsRouterAdvertisements = true
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
        /// An in-process client (`connectLocal`): what the modem sends goes here.
        var sink: (([UInt8]) -> Void)?
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
    /// quectel-mbim-proxy in front of the modem (`serveQuectelProxy`).
    var quectelProxies: [QuectelMBIMProxy] = []
    public var onLog: ((String) -> Void)?

    // Modem state
    public private(set) var opened = false
    var radioOn = false
    var simState: Config.SIM
    var pinAttemptsLeft: UInt32
    var registered = false
    var attached = false
    /// Active sessions: id → IP type.
    public private(set) var sessions: [UInt32: MBIM.IPType] = [:]
    /// Each active session's context type (the APN type: Internet or IMS).
    var contextTypes: [UInt32: MBIMUUID] = [:]

    /// The context type session `id` was activated with (nil: not active).
    public func contextType(session id: UInt32 = 0) -> MBIMUUID? { locked { contextTypes[id] } }
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
    /// The netdev is a raw-IP link of the upstream WWAN subsystem (mhi_wwan_mbim's default
    /// link, session 0), not cdc_mbim's fake Ethernet.
    var rawIP = false
    /// Router Advertisements sent on the netdev, and the host's Router Solicitations (each
    /// answered by one).
    public internal(set) var advertisements = 0, routerSolicitations = 0
    public internal(set) var echoesAnswered = 0
    /// Quectel's pcie_mhi in MBIM mode: its netdevs, link_state and session mapping.
    public internal(set) var pcie: MHIMBIMPlane?
    /// Why packets the host sent were dropped, newest last.
    public private(set) var drops: [String] = []
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
    /// The ids of the sessions up, in order.
    public var activeSessions: [UInt32] { locked { sessions.keys.sorted() } }
    /// Why packets the host sent were dropped (thread-safe).
    public var dropReasons: [String] { locked { drops } }
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
    /// `rawIP`: instead a TUN device, the way mhi_wwan_mbim's default link (wwan0) is a
    /// raw-IP netdev carrying MBIM session 0.
    public func makeNetdev(_ name: String, namespace: String? = nil, rawIP: Bool = false) throws {
        let t = try TunDevice(name: name, ethernet: !rawIP)
        self.rawIP = rawIP
        t.onPacket = { [unowned self] frame in self.locked { rawIP ? self.packet(frame) : self.frame(frame) } }
        t.serve(on: loop)
        tap = t
        if !rawIP {
            let ip = namespace.map { ["ip", "-n", $0] } ?? ["ip"]
            _ = FakeHardware.run(ip + ["link", "set", name, "arp", "off"])
        }
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
            for p in quectelProxies { p.stop() }
            quectelProxies.removeAll()
            for c in clients { drop(c) }
            for l in listeners {
                loop.unwatch(l.watch)
                _ = close(l.fd)
                if !l.path.hasPrefix("@") { _ = unlink(l.path) }
            }
            listeners.removeAll()
            tap?.close()
            tap = nil
            pcie?.close()
            pcie = nil
        }
    }

    // MARK: faults

    /// The network ends session `id` (a CONNECT indication: deactivated, regular deactivation).
    public func dropSession(_ id: UInt32 = 0) {
        locked {
            guard sessions.removeValue(forKey: id) != nil else { return }
            contextTypes.removeValue(forKey: id)
            log("network drops session \(id)")
            indicate(MBIM.Connect.cid, MBIM.Connect.Response(sessionID: id, activationState: .deactivated, contextType: .contextInternet,
                                                             nwError: .regularDeactivation).encode())
        }
    }

    /// The function resets: every session gone, the device closed; the next command on
    /// any channel gets FUNCTION_ERROR NOT_OPENED, as after a suspend.
    public func reset() {
        locked {
            log("modem reset")
            sessions.removeAll(); contextTypes.removeAll()
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
            indicate(MBIM.RegisterState.cid, registerState)
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
            indicate(MBIM.SignalState.cid, signalState)
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
        c.sink = nil
        guard c.fd >= 0 else { return }
        loop.unwatch(c.watch)
        _ = close(c.fd)
    }

    /// A client in the same process (Quectel's proxy opening the device): each `send` is one
    /// write to the device — the modem takes one message from it, and what follows that
    /// message's MessageLength in the same write is lost; what the modem sends comes to
    /// `received`, one message (fragment) a call.
    public final class LocalClient {
        let client: Client
        unowned let sim: MBIMSimulator
        public var received: ([UInt8]) -> Void = { _ in }
        init(_ client: Client, _ sim: MBIMSimulator) {
            self.client = client
            self.sim = sim
        }

        public func send(_ bytes: [UInt8]) {
            sim.locked {
                guard sim.clients.contains(where: { $0 === client }) else { return }
                sim.write(bytes, from: client)
            }
        }

        public func close() { sim.locked { sim.drop(client) } }
    }

    public func connectLocal() -> LocalClient {
        locked {
            let c = Client(id: nextClient, fd: -1, viaProxy: false)
            nextClient += 1
            let l = LocalClient(c, self)
            c.sink = { [unowned l] bytes in l.received(bytes) }
            clients.append(c)
            return l
        }
    }

    /// One write to the device from an in-process client.
    func write(_ bytes: [UInt8], from c: Client) {
        guard bytes.count >= 12 else { return log("client \(c.id): a write of \(bytes.count) bytes, shorter than a header: ignored") }
        let length = Int(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24)
        guard length >= 12 && length <= bytes.count else {
            return log("client \(c.id): a write of \(bytes.count) bytes whose MessageLength says \(length): ignored")
        }
        if length < bytes.count { log("client \(c.id): \(bytes.count - length) bytes after the message in the same write: lost") }
        received(Array(bytes[..<length]), from: c)
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
                if let sink = c.sink {
                    for f in m.encode(maxTransfer: 4096) { sink(f) }
                    return
                }
                for f in m.encode(maxTransfer: 4096) { c.output += f }
                self.flush(c)
            }
        }
    }

    func flush(_ c: Client) {
        guard c.fd >= 0 else { return }
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
            var header = ByteReader(bytes, from: 8)
            let tid = (try? header.u32()) ?? 0
            return send(MBIMMessage(kind: .functionError, transactionID: tid, value: MBIM.ProtocolError.lengthMismatch.rawValue), to: c)
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
                sessions.removeAll(); contextTypes.removeAll()        // closing the function deactivates its contexts
            }
            done(.closeDone)
        case .command:
            if c.viaProxy && m.service == MBIM.ProxyControl.Configuration.service && m.cid == MBIM.ProxyControl.Configuration.cid {
                c.configured = true
                opened = true
                var r = MBIMMessage(kind: .commandDone, transactionID: m.transactionID)
                r.service = m.service
                r.cid = m.cid
                return send(r, to: c)
            }
            guard opened else {
                return send(MBIMMessage(kind: .functionError, transactionID: m.transactionID, value: MBIM.ProtocolError.notOpened.rawValue), to: c)
            }
            if m.service == .basicConnect && config.noAnswer.contains(m.cid) { return log("not answering \(MBIMTrace.name(m)) (fault)") }
            let (status, buffer) = command(m)
            var r = MBIMMessage(kind: .commandDone, transactionID: m.transactionID, value: status.rawValue)
            r.service = m.service
            r.cid = m.cid
            r.buffer = buffer
            send(r, to: c)
        default:
            log("client \(c.id): ignored \(m.kind.name)")
        }
    }

    /// A COMMAND's status and information buffer.
    func command(_ m: MBIMMessage) -> (MBIM.Status, [UInt8]) {
        guard m.service == .basicConnect else { return (.noDeviceSupport, []) }
        /// The COMMAND's buffer read as `type`; nil when it does not hold that layout.
        func body<B: MBIMTypedBuffer>(_ type: B.Type) -> B? { try? B(decoding: m.buffer) }
        /// A query shorter than its layout: the session id it starts with.
        var leadingSessionID: UInt32 {
            var r = ByteReader(m.buffer)
            return (try? r.u32()) ?? 0
        }
        switch m.cid {
        case MBIM.DeviceCaps.cid:
            return (.success, MBIM.DeviceCaps.Response(
                deviceType: .embedded, cellularClass: .gsm, voiceClass: 1, simClass: 2, dataClass: [.umts, .hsdpa, .hsupa, .lte],
                smsCaps: 3, controlCaps: 1, maxSessions: 1, deviceID: config.deviceID, firmwareInfo: config.firmware,
                hardwareInfo: config.hardware).encode())
        case MBIM.DeviceServices.cid:
            return (.success, MBIM.DeviceServices.Response(deviceServices: [
                MBIMDeviceService(service: .basicConnect, cids: [1, 2, 3, 4, 9, 10, 11, 12, 15, 16, 20]),
                MBIMDeviceService(service: .qmi, cids: [1])]).encode())
        case MBIM.RadioState.cid:
            if m.isSet, let set = body(MBIM.RadioState.Set.self) {
                radioOn = set.radioState == .on
                log("radio \(radioOn ? "on" : "off")")
                if radioOn { registerSoon() } else { registered = false; attached = false; sessions.removeAll(); contextTypes.removeAll() }
            }
            return (.success, MBIM.RadioState.Response(hwRadioState: .on, swRadioState: radioOn ? .on : .off).encode())
        case MBIM.SubscriberReadyStatus.cid:
            let state: MBIM.ReadyState = simState == .absent ? .simNotInserted : simState == .pinRequired ? .deviceLocked : .initialized
            return (.success, MBIM.SubscriberReadyStatus.Response(readyState: state, subscriberID: simState == .ready ? config.imsi : nil,
                                                                 simICCID: simState == .absent ? nil : config.iccid).encode())
        case MBIM.Pin.cid:
            if m.isSet, let set = body(MBIM.Pin.Set.self) {
                guard simState == .pinRequired else { return (.pinDisabled, []) }
                guard pinAttemptsLeft > 0 else { return (.failure, pinState) }
                if set.pin == config.pin {
                    simState = .ready
                    pinAttemptsLeft = config.pinAttempts
                    log("PIN accepted")
                    if radioOn { registerSoon() }
                    return (.success, pinState)
                }
                pinAttemptsLeft -= 1
                return (.failure, pinState)
            }
            return (.success, pinState)
        case MBIM.RegisterState.cid:
            return (.success, registerState)
        case MBIM.PacketService.cid:
            if m.isSet, let set = body(MBIM.PacketService.Set.self) {
                guard registered else { return (.notRegistered, packetState) }
                attached = set.packetServiceAction == .attach
                indicate(MBIM.PacketService.cid, packetState)
            }
            return (.success, packetState)
        case MBIM.SignalState.cid:
            if m.isSet {
                guard let set = body(MBIM.SignalState.Set.self) else { return (.invalidParameters, []) }
                signalInterval = set.signalStrengthInterval
                rssiThreshold = set.rssiThreshold
                errorRateThreshold = set.errorRateThreshold
                log("signal reports: interval \(signalInterval) s, RSSI threshold \(rssiThreshold)")
            }
            rssiReported = config.rssi
            return (.success, signalState)
        case MBIM.PacketStatistics.cid:
            guard !m.isSet else { return (.noDeviceSupport, []) }                          // query only
            return (.success, MBIM.PacketStatistics.Response(
                inOctets: counters.inOctets, inPackets: counters.inPackets, outOctets: counters.outOctets,
                outPackets: counters.outPackets, outDiscards: counters.outDiscards).encode())
        case MBIM.Connect.cid:
            if m.isSet, let set = body(MBIM.Connect.Set.self) {
                let id = set.sessionID
                if set.activationCommand == .deactivate {
                    guard sessions.removeValue(forKey: id) != nil else { return (.contextNotActivated, connectState(id)) }
                    contextTypes.removeValue(forKey: id)
                    log("session \(id) deactivated")
                    return (.success, connectState(id))
                }
                guard registered else { return (.notRegistered, connectState(id)) }
                guard attached else { return (.packetServiceDetached, connectState(id)) }
                if let r = config.rejectConnect, config.rejectTimes < 0 || rejected < config.rejectTimes {
                    rejected += 1
                    log("refusing CONNECT (fault)")
                    return (MBIM.Status(rawValue: r.status), connectState(id, nwError: MBIM.NwError(rawValue: r.nwError)))
                }
                if set.accessString == "auth.example" && (set.userName != "user" || set.password != "pass") {
                    return (.invalidUserNamePwd, connectState(id, nwError: .userAuthenticationFailed))
                }
                // The context type is the APN type; this modem provisions Internet and IMS.
                guard set.contextType == .contextInternet || set.contextType == .contextIMS else {
                    log("refusing CONNECT: context type \(set.contextType.name) is neither Internet nor IMS")
                    return (.invalidParameters, connectState(id))
                }
                let type = set.ipType == .defaultValue ? .ipv4 : set.ipType
                sessions[id] = type
                contextTypes[id] = set.contextType
                log("session \(id) up (\(type.name), APN '\(set.accessString ?? "")', context \(set.contextType.name))")
                if let p = pcie { p.advertise(session: id) } else if id == 0 { advertiseIPv6() }
                return (.success, connectState(id))
            }
            return (.success, connectState(body(MBIM.Connect.Query.self)?.sessionID ?? leadingSessionID))
        case MBIM.IPConfiguration.cid:
            let id = body(MBIM.IPConfiguration.Query.self)?.sessionID ?? leadingSessionID
            guard let type = sessions[id] else { return (.contextNotActivated, []) }
            return (.success, ipConfiguration(id, type))
        default:
            return (.noDeviceSupport, [])
        }
    }

    var pinState: [UInt8] {
        MBIM.Pin.Response(pinType: .pin1, pinState: simState == .pinRequired ? .locked : .unlocked, remainingAttempts: pinAttemptsLeft).encode()
    }

    var registerState: [UInt8] {
        MBIM.RegisterState.Response(
            registerState: registered ? (config.roaming ? .roaming : .home) : .searching, registerMode: 1,
            availableDataClasses: MBIM.DataClass(rawValue: config.dataClasses), currentCellularClass: .gsm,
            providerID: registered ? config.provider.id : nil, providerName: registered ? config.provider.name : nil).encode()
    }

    var signalState: [UInt8] {
        MBIM.SignalState.Response(rssi: config.rssi, errorRate: 99, signalStrengthInterval: signalInterval, rssiThreshold: rssiThreshold,
                                  errorRateThreshold: errorRateThreshold).encode()
    }

    var packetState: [UInt8] {
        MBIM.PacketService.Response(packetServiceState: attached ? .attached : .detached, highestAvailableDataClass: .lte,
                                    uplinkSpeed: 50_000_000, downlinkSpeed: 150_000_000).encode()
    }

    func connectState(_ id: UInt32, nwError: MBIM.NwError = .noneValue) -> [UInt8] {
        MBIM.Connect.Response(sessionID: id, activationState: sessions[id] != nil ? .activated : .deactivated,
                              ipType: sessions[id] ?? .defaultValue, contextType: contextTypes[id] ?? .contextInternet, nwError: nwError).encode()
    }

    func ipConfiguration(_ id: UInt32, _ type: MBIM.IPType) -> [UInt8] {
        let v4 = type != .ipv6, v6 = type != .ipv4
        let all: MBIM.IPAvailable = [.address, .gateway, .dns, .mtu]
        func addr(_ s: String) -> IPAddress { IPAddress(s) ?? IPAddress(ipv4: 0) }
        return MBIM.IPConfiguration.Response(
            sessionID: id, ipv4ConfigurationAvailable: v4 ? all : [], ipv6ConfigurationAvailable: v6 ? all : [],
            ipv4Address: v4 ? [MBIMAddress(prefix: config.ipv4.prefix, address: addr(config.ipv4.address))] : [],
            ipv6Address: v6 ? [MBIMAddress(prefix: config.ipv6.prefix, address: addr(config.ipv6.address))] : [],
            ipv4Gateway: v4 ? addr(config.ipv4.gateway) : nil, ipv6Gateway: v6 ? addr(config.ipv6.gateway) : nil,
            ipv4DNSServer: v4 ? config.ipv4.dns.map(addr) : [], ipv6DNSServer: v6 ? config.ipv6.dns.map(addr) : [],
            ipv4MTU: v4 ? config.mtu : 0, ipv6MTU: v6 ? config.mtu : 0).encode()
    }

    func registerSoon() {
        guard radioOn, simState == .ready, !config.neverRegister, !registered else { return }
        loop.after(20) { [unowned self] in
            self.locked {
                guard self.radioOn, self.simState == .ready, !self.registered else { return }
                self.registered = true
                self.log("registered")
                self.indicate(MBIM.RegisterState.cid, self.registerState)
            }
        }
    }

    // MARK: data path

    /// cdc_mbim's netdev: Ethernet frames with a fake header; only IP. While session 0 is up,
    /// echo requests to its IPv4 gateway from its address are answered, and on its IPv6 side
    /// what `ipv6(_:)` answers.
    func frame(_ f: [UInt8]) {
        guard f.count > 14, let tap = tap else { return }
        let v4 = f[12] == 0x08 && f[13] == 0x00, v6 = f[12] == 0x86 && f[13] == 0xdd
        // What session 0 does not carry (or anything while it is down) is discarded.
        guard let type = sessions[0], v4 || (v6 && type != .ipv4) else { return counters.outDiscards &+= 1 }
        let ip = Array(f[14...])
        counters.outOctets += UInt64(ip.count); counters.outPackets += 1
        let reply: [UInt8]?
        if v6 {
            reply = ipv6(ip)
        } else if let src = IPAddress(config.ipv4.address), ip.count >= 20, Array(ip[12..<16]) == src.bytes {
            reply = ipv4EchoReply(ip)
        } else {
            reply = nil
        }
        guard let r = reply else { return }
        answered(r)
        tap.write(Array(f[6..<12]) + [0, 0, 0, 0, 0, 0] + Array(f[12..<14]) + r)
    }

    /// An IPv6 packet from the host on session 0: a Router Solicitation gets the network's RA;
    /// an echo request the network's answer (from the gateway or the remote, for a source in the
    /// session's /64; a link-local source to a global address or one outside the /64 dropped,
    /// as on QMI's paths); anything else goes nowhere.
    func ipv6(_ ip: [UInt8]) -> [UInt8]? {
        if DataPlane.isRouterSolicitation(ip) {
            routerSolicitations += 1
            advertiseIPv6()
            return nil
        }
        guard let e = DataPlane.Echo(ip), !e.v4, let own = Text.parseIPv6(config.ipv6.address),
              let gateway = Text.parseIPv6(config.ipv6.gateway) else { return nil }
        switch DataPlane.ipv6Verdict(e, own: own, gateway: gateway, remote: config.ipv6Remote) {
        case .success(let answerAs): return TunDevice.echoReply(ip, ipv4: 0, ipv6: answerAs)
        case .failure(let why):
            drop(why.text)
            return nil
        }
    }

    /// The network's Router Advertisement for session 0's /64 on the netdev (through
    /// cdc_mbim's fake Ethernet header, or raw on mhi_wwan_mbim's link).
    func advertiseIPv6() {
        guard config.sendsRouterAdvertisements, let tap = tap, let type = sessions[0], type != .ipv4,
              let prefix = IPAddress(config.ipv6.address)?.prefix64.bytes else { return }
        let ra = DataPlane.routerAdvertisement(prefix: prefix, length: 64, lifetime: 0xffff_ffff, mtu: config.mtu)
        tap.write(rawIP ? ra : [0x33, 0x33, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x86, 0xdd] + ra)
        advertisements += 1
        log("sent the network's router advertisement for \(Text.ipv6(prefix))/64")
    }

    func drop(_ why: String) {
        counters.outDiscards &+= 1
        drops.append(why)
        if drops.count > 50 { drops.removeFirst() }
        log("data path: " + why)
    }

    /// mhi_wwan_mbim's default link: raw IP packets of session 0 (link id 0). Echo requests to
    /// the session's gateway from its own address are answered while session 0 is up; a
    /// client that put its call on another session has nothing on this link.
    func packet(_ ip: [UInt8]) {
        guard let tap = tap, let first = ip.first, first >> 4 == 4 || first >> 4 == 6 else { return }
        guard let type = sessions[0] else {
            let up = sessions.keys.sorted().map(String.init).joined(separator: ", ")
            return drop("\(tap.name) carries session 0 (the default link), which is not up" + (up.isEmpty ? "" : " (sessions up: \(up))"))
        }
        let v4 = first >> 4 == 4
        guard v4 ? type != .ipv6 : type != .ipv4 else { return drop("session 0 is \(type.name): an IPv\(v4 ? 4 : 6) packet has nowhere to go") }
        counters.outOctets += UInt64(ip.count); counters.outPackets += 1
        let reply: [UInt8]?
        if v4 {
            guard let src = IPAddress(config.ipv4.address), ip.count >= 20, Array(ip[12..<16]) == src.bytes else {
                return drop("a packet whose source is not the session's address \(config.ipv4.address): the network drops it")
            }
            reply = ipv4EchoReply(ip)
        } else {
            reply = ipv6(ip)
        }
        guard let r = reply else { return }
        answered(r)
        tap.write(r)
    }

    /// The gateway's answer to an IPv4 echo request (nil: not an echo to the gateway).
    func ipv4EchoReply(_ ip: [UInt8]) -> [UInt8]? {
        guard let gateway = IPAddress(config.ipv4.gateway)?.ipv4 else { return nil }
        return TunDevice.echoReply(ip, ipv4: gateway, ipv6: [])
    }

    func answered(_ reply: [UInt8]) {
        echoesAnswered += 1
        counters.inOctets += UInt64(reply.count); counters.inPackets += 1
    }
}

private extension MBIM.Status {
    /// Status 0 (the table's "None"): the command succeeded.
    static var success: MBIM.Status { .noneValue }
}
