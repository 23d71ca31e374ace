import Foundation
import Base
import CSystem
import QMICore
import QMIMessages

/// A simulated Quectel modem speaking QMI over Unix stream sockets: a socket file (what
/// qcm opens in place of /dev/cdc-wdm0) and, optionally, libqmi's `@qmi-proxy` abstract
/// socket so `qmicli -p` talks to it. Stateful services, switchable faults, and a
/// transcript of every frame.
///
/// Runs on a QMICore `EventLoop`: either the caller's (tests that drive the simulator
/// and a client on one loop) or its own thread (`startThread`), in which case every
/// public method is safe to call from other threads.
public final class QMISimulator {
    public var config: SimConfig
    public let transcript = Transcript()
    public private(set) var loop: EventLoop
    let lock = NSRecursiveLock()
    var startMs: Int64 = 0
    var thread: Thread?
    var threadRunning = false
    /// Diagnostics (connections, faults firing), for qmi-sim -v.
    public var onLog: ((String) -> Void)?

    final class Connection {
        let id: Int
        var fd: Int32
        var watch = 0
        var reader = FrameReader()
        let viaProxy: Bool
        var proxyOpened = false
        var outbox: [UInt8] = []
        /// A GobiNet service file (`listenGobiNet`): messages without the QMUX header, one per
        /// packet, bound by the ioctl stand-in to one service and client id.
        let gobiNet: Bool
        var bound: (service: UInt8, cid: UInt8)?
        var packets: [[UInt8]] = []
        /// An in-process client (`connectLocal`): what the modem sends goes here, not to a socket.
        var sink: (([UInt8]) -> Void)?
        /// An in-process client told that the modem closed its channel (the device went away).
        var onClosed: (() -> Void)?
        /// Frames can still be sent to it.
        var isOpen: Bool { fd >= 0 || sink != nil }
        init(id: Int, fd: Int32, viaProxy: Bool, gobiNet: Bool = false) {
            self.id = id
            self.fd = fd
            self.viaProxy = viaProxy
            self.gobiNet = gobiNet
        }
    }

    struct Listener {
        let fd: Int32
        let watch: Int
        let path: String
        let proxy: Bool
        let gobiNet: Bool
    }

    var connections: [Connection] = []
    /// Quectel's quectel-qmi-proxy in front of the modem (`serveQuectelProxy`).
    var quectelProxies: [QuectelQMIProxy] = []
    var listeners: [Listener] = []
    var listenSpecs: [(path: String, proxy: Bool, gobiNet: Bool)] = []
    var nextConnection = 1
    var faultTimers: [Int] = []
    public internal(set) var gone = false

    // CTL
    var allocated: [UInt8: Set<UInt8>] = [:]          // service → client ids
    var owners: [UInt32: Int] = [:]                     // (service, cid) → connection

    // SIM
    var simState: SimConfig.SIMState
    var pinRetriesLeft: Int
    var pukRetriesLeft: Int

    // NAS / DMS
    var registered = false
    var operatingMode = DMS.OperatingMode.online
    var registrationTimer: Int?

    // WDA
    var linkProtocol: WDA.LinkLayerProtocol
    public internal(set) var ulAggregation = WDA.AggregationProtocol.disabled
    public internal(set) var dlAggregation = WDA.AggregationProtocol.disabled
    /// The downlink aggregate size granted (WDA), what the host's receive buffer must hold.
    var dlMaxSize: UInt32 = 4096
    /// The host side of the data path (netdevs, driver attributes), when simulated.
    public internal(set) var dataPlane: DataPlane?

    // WDS
    struct Call: Equatable {
        let handle: UInt32
        let cid: UInt8
        let family: UInt64
        let apn: String
        let connection: Int
        let profile: Int
        /// The mux id its WDS client was bound to (Bind Mux Data Port), if any.
        let mux: UInt8?
        /// Which of the network's successive IPv6 prefixes it has (SimConfig.ipv6PrefixRotates).
        var generation = 0
    }
    /// IPv6 calls started so far (the generation of the next prefix, when prefixes rotate).
    var ipv6Calls = 0
    var profiles: [SimConfig.Profile]
    var calls: [Call] = []
    var ipFamily: [UInt8: UInt64] = [:]
    /// WDS client → mux id (Bind Mux Data Port).
    var muxBindings: [UInt8: UInt8?] = [:]

    // NAS reporting, per NAS client: indications registered for, signal thresholds set.
    var nasRegistrations: [UInt8: (signal: Bool, systemInfo: Bool)] = [:]
    var rsrpThresholds: [UInt8: [Int16]] = [:]
    /// Traffic per call (packet data handle): bytes and packets each way.
    var traffic: [UInt32: (txBytes: UInt64, rxBytes: UInt64, txPackets: UInt32, rxPackets: UInt32)] = [:]

    // Faults switched at run time
    /// Services that stopped answering; a modem reset brings them back.
    var hungServices: Set<UInt8> = []
    /// Packet service indications are lost (the network ends calls silently).
    var silentDrops = false
    var startAttempts = 0
    var rejectedCalls = 0
    var nextHandle: UInt32 = 0x8724_5bd0
    var callTimers: [UInt32: Int] = [:]

    public init(config: SimConfig = SimConfig(), loop: EventLoop = EventLoop()) {
        self.config = config
        self.loop = loop
        simState = config.sim
        pinRetriesLeft = config.pinRetries
        pukRetriesLeft = config.pukRetries
        linkProtocol = WDA.LinkLayerProtocol(rawValue: UInt32(truncatingIfNeeded: config.linkProtocol))
        profiles = config.profiles
    }

    deinit { shutdownNow() }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func log(_ s: String) { onLog?(s) }

    var now: Int64 { loop.now - startMs }

    // MARK: lifecycle

    /// Listens on a socket file (`/path`) or abstract name (`@name`); `proxy` selects
    /// libqmi's qmi-proxy protocol (the client opens with CTL Internal Proxy Open).
    public func listen(_ path: String, proxy: Bool = false) throws {
        try locked {
            if startMs == 0 { begin() }
            listenSpecs.append((path, proxy, false))
            try openListener(path, proxy: proxy)
        }
    }

    /// Stands in for GobiNet's `/dev/qcqmiN` at `path`: a SOCK_SEQPACKET socket (message
    /// boundaries kept, like the device) where each connection is one service file (see
    /// `GobiNetFiles` for the ioctl stand-in).
    public func listenGobiNet(_ path: String) throws {
        try locked {
            if startMs == 0 { begin() }
            listenSpecs.append((path, false, true))
            try openListener(path, proxy: false, gobiNet: true)
        }
    }

    func openListener(_ path: String, proxy: Bool, gobiNet: Bool = false) throws {
        if !path.hasPrefix("@") { _ = unlink(path) }
        let fd = gobiNet ? csys_unix_listen_seqpacket(path, 16) : csys_unix_listen(path, 16)
        guard fd >= 0 else { throw QMIError.system(operation: "listen on \(path)", errno: csys_errno()) }
        let w = loop.watch(fd) { [unowned self] _ in self.locked { self.acceptAll(fd, proxy: proxy, gobiNet: gobiNet) } }
        listeners.append(Listener(fd: fd, watch: w, path: path, proxy: proxy, gobiNet: gobiNet))
        log("listening on \(path)\(proxy ? " (qmi-proxy protocol)" : gobiNet ? " (GobiNet qcqmi)" : "")")
    }

    func begin() {
        startMs = loop.now
        if startMs == 0 { startMs = 1 }
        scheduleRegistration()
        if let ms = config.resetAfterMs {
            faultTimers.append(loop.after(ms) { [unowned self] in self.locked { self.resetModem() } })
        }
        if let ms = config.goneAfterMs {
            faultTimers.append(loop.after(ms) { [unowned self] in self.locked { self.disappear(backAfterMs: self.config.backAfterMs) } })
        }
    }

    /// Runs the simulator on its own thread with its own loop (for tests that run qcm as
    /// a separate process). Call before `listen`.
    public func startThread() {
        let ready = DispatchSemaphore(value: 0)
        threadRunning = true
        let t = Thread { [unowned self] in
            ready.signal()
            while self.locked({ self.threadRunning }) {
                self.loop.runOnce(maxWaitMs: 50)
            }
        }
        t.name = "qmi-sim"
        thread = t
        t.start()
        ready.wait()
    }

    /// Stops serving: closes every socket, removes socket files, stops the thread.
    public func shutdown() {
        locked { threadRunning = false }
        if let t = thread {
            while t.isExecuting && !t.isFinished { usleep(1000) }
            thread = nil
        }
        locked { shutdownNow() }
    }

    func shutdownNow() {
        for p in quectelProxies { p.stop() }
        quectelProxies.removeAll()
        for c in connections { closeConnection(c, why: nil) }
        for l in listeners {
            loop.unwatch(l.watch)
            _ = close(l.fd)
            if !l.path.hasPrefix("@") { _ = unlink(l.path) }
        }
        listeners.removeAll()
        for t in faultTimers { loop.cancel(t) }
        faultTimers.removeAll()
        if let t = registrationTimer { loop.cancel(t) }
        for (_, t) in callTimers { loop.cancel(t) }
        callTimers.removeAll()
    }

    // MARK: connections

    func acceptAll(_ lfd: Int32, proxy: Bool, gobiNet: Bool = false) {
        while true {
            let fd = csys_accept(lfd)
            if fd < 0 { return }
            addConnection(fd, proxy: proxy, gobiNet: gobiNet)
        }
    }

    func addConnection(_ fd: Int32, proxy: Bool, gobiNet: Bool = false) {
        _ = csys_set_nonblocking(fd)
        let c = Connection(id: nextConnection, fd: fd, viaProxy: proxy, gobiNet: gobiNet)
        nextConnection += 1
        c.watch = loop.watch(fd) { [unowned self, unowned c] ev in self.locked { self.onEvent(c, ev) } }
        connections.append(c)
        log("connection \(c.id) opened\(proxy ? " via qmi-proxy" : "")")
    }

    func onEvent(_ c: Connection, _ ev: Int16) {
        if ev & Int16(POLLOUT) != 0 { if c.gobiNet { flushPackets(c) } else { flush(c) } }
        guard ev & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return }
        if c.gobiNet { return gobiNetReadable(c) }
        var buf = [UInt8](repeating: 0, count: 16384)
        while c.fd >= 0 {
            let n = buf.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                c.reader.append(Array(buf[0..<n]))
                while c.fd >= 0, let item = c.reader.next() {
                    if case let .frame(f) = item { received(f, on: c) } else { log("connection \(c.id): skipped non-QMUX bytes") }
                }
                continue
            }
            if n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR) { return }
            closeConnection(c, why: "closed by the client")
            return
        }
    }

    /// The client went away. Like a real modem behind cdc-wdm, client ids it did not
    /// release stay allocated (and their calls stay up) until a CTL Sync.
    func closeConnection(_ c: Connection, why: String?) {
        guard c.isOpen else { return }
        c.sink = nil
        if let closed = c.onClosed {
            c.onClosed = nil
            closed()
        }
        // Closing a GobiNet service file releases its client id (the driver does it).
        if let b = c.bound, !gone, allocated[b.service]?.contains(b.cid) == true { release(service: b.service, cid: b.cid) }
        if c.fd >= 0 {
            loop.unwatch(c.watch)
            _ = close(c.fd)
            c.fd = -1
        }
        connections.removeAll { $0 === c }
        if let why { log("connection \(c.id) \(why)") }
    }

    func send(_ m: QMIMessage, to c: Connection) {
        send(bytes: m.encode(), message: m, to: c)
    }

    func send(bytes: [UInt8], message: QMIMessage?, to c: Connection) {
        guard c.isOpen else { return }
        transcript.record(.init(timeMs: now, connection: c.id, incoming: false, bytes: bytes, message: message))
        if let sink = c.sink { return sink(bytes) }
        if c.gobiNet {
            // The driver strips the QMUX header; cut-short frames lose what they lack.
            c.packets.append(Array(bytes.dropFirst(min(QMIMessage.qmuxHeaderSize, bytes.count))))
            return flushPackets(c)
        }
        c.outbox += bytes
        flush(c)
    }

    func flush(_ c: Connection) {
        guard c.fd >= 0 else { return }
        guard Files.sendPending(c.fd, &c.outbox) else { return closeConnection(c, why: "write failed") }
        loop.setEvents(c.watch, Int16(POLLIN) | (c.outbox.isEmpty ? 0 : Int16(POLLOUT)))
    }

    func received(_ frame: [UInt8], on c: Connection) {
        let m = try? QMIMessage.decode(frame)
        transcript.record(.init(timeMs: now, connection: c.id, incoming: true, bytes: frame, message: m))
        guard let req = m, req.kind == .request else {
            log("connection \(c.id): ignored \(m == nil ? "malformed frame" : "non-request")")
            return
        }
        if c.viaProxy && !c.proxyOpened {
            // libqmi's proxy protocol: nothing but Internal Proxy Open first.
            guard req.service == .ctl && req.messageID == CTL.InternalProxyOpen.spec.id else {
                log("connection \(c.id): request before qmi-proxy open; closing")
                closeConnection(c, why: "broke the qmi-proxy protocol")
                return
            }
        }
        let key = SimConfig.key(req.service, req.messageID)
        if config.neverAnswer.contains(key) || hungServices.contains(req.service.rawValue) {
            log("not answering \(req.displayName) (fault)")
            return
        }
        let response = handle(req, on: c)
        let delay = config.latencyFor[key] ?? config.latencyMs
        loop.after(delay) { [unowned self] in
            self.locked {
                guard c.isOpen, !self.gone else { return }
                if self.config.malformedFor.contains(key) {
                    var bytes = response.encode()
                    if bytes.count > 12 { bytes[11] = bytes[11] &+ 7 }   // SDU length no longer matches
                    self.send(bytes: bytes, message: nil, to: c)
                    return
                }
                if self.config.truncatedFor.contains(key) {
                    // Cut short: the QMUX length promises more than comes.
                    let bytes = response.encode()
                    self.send(bytes: Array(bytes.prefix(max(7, bytes.count / 2))), message: nil, to: c)
                    return
                }
                var r = response
                if self.config.wrongTIDFor.contains(key) { r.transactionID = r.transactionID &+ 0x40 }
                self.send(r, to: c)
            }
        }
    }

    /// Sends an indication to the connection that owns (service, cid); 0xff reaches every client of the service.
    func indicate(_ m: QMIMessage) {
        if m.clientID == 0xff || m.service == .ctl {
            // GobiNet hands CTL indications to the driver only, and a service's broadcasts to
            // that service's files.
            for c in connections where !c.gobiNet || (m.service != .ctl && c.bound?.service == m.service.rawValue) { send(m, to: c) }
            return
        }
        guard let id = owners[SimConfig.key(m.service, UInt16(m.clientID))],
              let c = connections.first(where: { $0.id == id }) else { return }
        send(m, to: c)
    }

    // MARK: in-process clients

    /// A client without a socket, for the machine tests: the session machine's requests are
    /// handled as if they came over the channel, and what the modem sends (answers,
    /// indications) is handed to `received` — the same modem model qcm dials end to end,
    /// on the test's own clock (`loop.clock`).
    public final class LocalClient {
        let connection: Connection
        weak var simulator: QMISimulator?
        /// Frames from the modem, in order.
        public var received: ([UInt8]) -> Void = { _ in }
        /// The modem closed the channel (the device went away); not called for `close()`.
        public var closed: () -> Void {
            get { connection.onClosed ?? {} }
            set { connection.onClosed = newValue }
        }

        init(_ connection: Connection, _ simulator: QMISimulator) {
            self.connection = connection
            self.simulator = simulator
        }

        /// A frame to the modem.
        public func send(_ frame: [UInt8]) {
            guard let s = simulator else { return }
            s.locked { if connection.isOpen { s.received(frame, on: connection) } }
        }

        /// The channel closes, as when the client's process exits.
        public func close() {
            connection.onClosed = nil
            simulator?.locked { simulator?.closeConnection(connection, why: "closed by the client") }
        }
    }

    /// Opens an in-process channel (`proxy`: speaking libqmi's proxy protocol). The modem
    /// powers up with the first one, as with the first listener.
    public func connectLocal(proxy: Bool = false) -> LocalClient {
        locked {
            if startMs == 0 { begin() }
            let c = Connection(id: nextConnection, fd: -1, viaProxy: proxy)
            nextConnection += 1
            let client = LocalClient(c, self)
            c.sink = { [unowned client] bytes in client.received(bytes) }
            connections.append(c)
            log("connection \(c.id) opened in process\(proxy ? " via qmi-proxy" : "")")
            return client
        }
    }

    /// Runs what is due on the simulator's loop now (answers, indications, fault timers),
    /// without waiting: for a loop the caller drives, on an injected clock. True when
    /// anything ran.
    @discardableResult
    public func runDue() -> Bool {
        locked { loop.runDueTimers() > 0 }
    }

    /// How long until the simulator's next timer (nil: none armed).
    public var nextTimerIn: Int64? { locked { loop.nextDeadline.map { $0 - loop.now } } }

    // MARK: public state, for tests

    /// Client ids currently allocated, per service.
    public var allocatedClients: [UInt8: Set<UInt8>] { locked { allocated.filter { !$0.value.isEmpty } } }
    public var allocatedClientCount: Int { locked { allocated.values.reduce(0) { $0 + $1.count } } }
    public var activeCalls: Int { locked { calls.count } }
    public var activeCallFamilies: [UInt64] { locked { calls.map { $0.family } } }
    public var connectionCount: Int { locked { connections.count } }
    public var currentLinkProtocol: UInt64 { locked { UInt64(linkProtocol.rawValue) } }
    public var isRegistered: Bool { locked { registered } }
    public var profile1: SimConfig.Profile { locked { profiles[0] } }
    public func profile(_ index: Int) -> SimConfig.Profile? { locked { index >= 1 && index <= profiles.count ? profiles[index - 1] : nil } }
    public var pinRetries: Int { locked { pinRetriesLeft } }
    /// No client id allocated and no call up: what a clean client leaves behind.
    public var isClean: Bool { locked { allocated.values.allSatisfy { $0.isEmpty } && calls.isEmpty } }
    public var elapsedMs: Int64 { locked { now } }

    /// Runs `body` under the simulator's lock (consistent snapshots from another thread).
    public func withState<T>(_ body: (QMISimulator) -> T) -> T { locked { body(self) } }
}

// MARK: GobiNet service files

extension QMISimulator {
    /// One packet: first the ioctl stand-in (request number and service, two LE u32), then
    /// QMI messages without the QMUX header.
    func gobiNetReadable(_ c: Connection) {
        var buf = [UInt8](repeating: 0, count: 8192)
        while c.fd >= 0 {
            let n = buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR) { return }
            guard n > 0 else { return closeConnection(c, why: "closed by the client") }
            let packet = Array(buf[0..<n])
            guard let b = c.bound else {
                gobiNetBind(c, packet)
                continue
            }
            received(QMIMessage.qmuxFrame(service: b.service, clientID: b.cid, fromModem: false, sdu: packet), on: c)
        }
    }

    func gobiNetBind(_ c: Connection, _ packet: [UInt8]) {
        var ioctl = ByteReader(packet)
        let request = try? ioctl.u32(), argument = try? ioctl.u32()
        var rc: Int32 = 0
        let service = UInt8(truncatingIfNeeded: argument ?? 0)
        if packet.count != 8 || request != GobiNetFiles.getServiceFile {
            rc = -EBADRQC                                  // an ioctl the driver does not know
        } else if service == 0 {
            rc = -EINVAL                                   // CTL is the driver's
        } else if config.gobiNetRefuses.contains(service) {
            rc = -EFAULT                                   // the modem refused the service
        } else {
            switch allocateClient(service, owner: c) {
            case .success(let cid):
                c.bound = (service, cid)
                log("connection \(c.id): GobiNet service file for \(QMIService(service).name), client \(cid)")
            case .failure: rc = -EFAULT
            }
        }
        var answer = ByteWriter(capacity: 4)
        answer.u32(UInt32(bitPattern: rc))
        c.packets.append(answer.bytes)
        flushPackets(c)
    }

    func flushPackets(_ c: Connection) {
        while let p = c.packets.first, c.fd >= 0 {
            let n = p.withUnsafeBytes { CSystem.send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if csys_errno() == EAGAIN || csys_errno() == EINTR { break }
                return closeConnection(c, why: "write failed")
            }
            c.packets.removeFirst()
        }
        if c.fd >= 0 { loop.setEvents(c.watch, Int16(POLLIN) | (c.packets.isEmpty ? 0 : Int16(POLLOUT))) }
    }
}
