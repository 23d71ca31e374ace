import Foundation
import Base
import CSystem
import ATCore
import ATMessages

/// A simulated UNISOC or ASR Quectel module's AT port (EC200U, RG801H, RG500U, EC200T,
/// EC200A, EG915Q ...) on a pseudo-terminal: the client opens the slave (or `devPath`, a
/// symlink to it) as it opens /dev/ttyUSB2; the simulator reads and writes the master.
///
/// It behaves as the module does where the facts say how (at-facts.md): one command at a
/// time, echo on by default, answers framed CR LF, the dialect's parameter order, the
/// SIM's PIN and PUK, registration and its reports, profiles, the data call and its
/// reports. It enforces what the hardware enforces: a client that gets a detail wrong
/// fails here as on a board. Every command line is taken apart by the AT catalogue
/// (ATCore) and every answer written through the typed views (ATMessages).
///
/// Runs on a Base `EventLoop`: the caller's (a test driving the simulator and an ATEngine
/// on one loop) or its own thread (`startThread`); every public method and state property
/// takes the simulator's lock, so tests may read state from their own thread (`config` and
/// the closures are set before `listen`).
public final class ATSimulator {
    public var config: ATSimConfig
    public let transcript = ATTranscript()
    public let loop: EventLoop
    let lock = NSRecursiveLock()
    var thread: Thread?
    var threadRunning = false
    var startMs: Int64 = 0

    /// Diagnostics (faults firing, the port going away), for logs.
    public var onLog: ((String) -> Void)?
    /// The data plane: a call came up on `cid` (what the module's DHCP server hands out
    /// while it is up). Called on the simulator's loop, under its lock.
    public var onCallUp: ((_ cid: Int, _ address: UInt32, _ prefix: Int, _ gateway: UInt32, _ dns: [UInt32]) -> Void)?
    /// The call on `cid` ended (by the client, the network, a reset or the port going away).
    public var onCallDown: ((_ cid: Int) -> Void)?
    /// The call on `cid` has IPv6 (an IPv4v6 or IPv6 profile): the module's address in the
    /// /64 the network granted, and the network's IPv6 DNS servers. After `onCallUp` when the
    /// call has IPv4 too; alone for an IPv6 profile.
    public var onIPv6CallUp: ((_ cid: Int, _ address: [UInt8], _ dns: [[UInt8]]) -> Void)?

    // MARK: the port
    var master: Int32 = -1
    /// The simulator's own descriptor of the slave: keeps the master from seeing a hang-up
    /// whenever the client closes, and holds the raw termios.
    var slave: Int32 = -1
    var watchID = 0
    public internal(set) var slavePath: String?
    /// Where the symlink to the slave is (`listen(devPath:)`), and whether it is ours now.
    var devPath: String?
    var linkMade = false
    var outbox: [UInt8] = []
    static let outboxLimit = 1 << 20
    var input: [UInt8] = []
    var inputOverflow = false
    /// A command is running: what arrives meanwhile is dropped.
    var busy = false
    /// Bumped at every power cycle: timers of the module's previous life do nothing.
    var epoch = 0
    var timers: Set<Int> = []
    var faultTimers: [Int] = []
    var gone = false
    var hung = false
    var rng: UInt64 = 1
    var sentLongLine = false
    /// While a command runs: the reports it causes, sent after its answer.
    var held: [String]?
    /// quectel-atc-proxy in front of the port (`serveQuectelProxy`).
    var quectelProxies: [QuectelATCProxy] = []

    // MARK: the module's state (power-up values in `powerUp`)
    var echo = true
    var cmee = 1
    var quiet = false
    var verbose = true
    var sim = ATSimConfig.SIM.ready
    var simBlocked = false
    var currentPin = ""
    var pinLeft = 3
    var pukLeft = 10
    var simBusyUntil: Int64 = 0
    var pinEnabled = false
    var cfun = 1
    /// 0 not searching, 1 home, 2 searching, 5 roaming.
    var regStat = 0
    var registrationTimer: Int?
    /// The network is there (a test takes it away with `setRegistration(false)`).
    var coverage = true
    /// AT+COPS=2.
    var deregistered = false
    var stormDone = false
    enum Domain: Int { case cs, gprs, eps, fiveGS }
    var reportMode: [Domain: Int] = [:]
    var copsFormat = 0
    var cgerep = 0
    var profiles: [Int: ATSimConfig.Profile] = [:]
    struct Context {
        var active = false
        /// UNISOC: the call is up; ASR: the NIC is up on this context.
        var up = false
        var urc = false
        var setupTimer: Int?
        var dropTimer: Int?
    }
    var contexts: [Int: Context] = [:]
    /// ASR: the USB NIC's binding, as AT+QNETDEVCTL? shows it.
    var nic = (op: 0, cid: 0, urc: 0)
    var rejected = 0
    var nat = 0
    var savedNat = 0
    var usbnet = 5
    var savedUsbnet = 5

    public init(config: ATSimConfig = ATSimConfig(), loop: EventLoop = EventLoop()) {
        self.config = config
        self.loop = loop
        rng = config.garbageSeed | 1
        nat = config.nat
        savedNat = config.nat
        usbnet = config.usbnet
        savedUsbnet = config.usbnet
        sim = config.sim
        pinEnabled = config.sim == .pin || config.sim == .puk
        currentPin = config.pin
        pinLeft = config.sim == .puk ? 0 : config.pinAttempts
        pukLeft = config.pukAttempts
        profiles[1] = config.profile1
    }

    deinit { shutdownNow() }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    var now: Int64 { loop.now - startMs }

    func log(_ s: String) {
        transcript.record(now, .event, s)
        onLog?(s)
    }

    /// A timer of the module's current life (a power cycle voids it).
    @discardableResult
    func after(_ ms: Int64, _ body: @escaping () -> Void) -> Int {
        let life = epoch
        var id = 0
        id = loop.after(ms) { [weak self] in
            guard let self else { return }
            self.locked {
                self.timers.remove(id)
                if self.epoch == life { body() }
            }
        }
        timers.insert(id)
        return id
    }

    func cancel(_ id: Int?) {
        guard let id else { return }
        loop.cancel(id)
        timers.remove(id)
    }

    // MARK: lifecycle

    /// Opens the pty and, with `devPath`, a symlink there to its slave (nothing already at
    /// `devPath` is replaced). Returns the slave's path. The module is powered up with it.
    @discardableResult
    public func listen(devPath: String? = nil) throws -> String {
        try locked {
            try config.check()
            guard master < 0 else { throw ATError.invalid("the simulator is already listening on \(slavePath ?? "?")") }
            if startMs == 0 {
                startMs = loop.now
                if startMs == 0 { startMs = 1 }
            }
            self.devPath = devPath
            try openPort()
            powerUp()
            armFaults()
            return slavePath ?? ""
        }
    }

    func armFaults() {
        if let ms = config.hangAfterMs { faultTimers.append(loop.after(ms) { [weak self] in self?.hang() }) }
        if let ms = config.resetAfterMs { faultTimers.append(loop.after(ms) { [weak self] in self?.restart() }) }
        if let ms = config.goneAfterMs {
            faultTimers.append(loop.after(ms) { [weak self] in
                guard let self else { return }
                self.disappear(backAfterMs: self.config.backAfterMs)
            })
        }
    }

    /// Runs the simulator on its own thread with its own loop (for a client in another
    /// process). Call before `listen`.
    public func startThread() {
        let ready = DispatchSemaphore(value: 0)
        threadRunning = true
        let t = Thread { [unowned self] in
            ready.signal()
            // The loop runs under the lock (an EventLoop is not thread-safe); the short wait
            // and the pause let other threads' calls in.
            while self.locked({ self.threadRunning }) {
                self.locked { self.loop.runOnce(maxWaitMs: 5) }
                usleep(200)
            }
        }
        t.name = "at-sim"
        thread = t
        t.start()
        ready.wait()
    }

    /// Stops: the port closed, the symlink removed, the thread stopped, no timer left.
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
        powerDown(reason: nil)
        closePort()
        for t in faultTimers { loop.cancel(t) }
        faultTimers.removeAll()
    }

    /// The module boots: the channel's and the network's state as at power-up; what is
    /// saved (profiles, NAT, usbnet, the SIM's counters) stays.
    func powerUp() {
        echo = config.echo
        cmee = config.cmee
        quiet = false
        verbose = true
        nat = savedNat
        usbnet = savedUsbnet
        if sim != .absent && !simBlocked { sim = !pinEnabled ? .ready : pinLeft == 0 ? .puk : .pin }
        simBusyUntil = 0
        cfun = config.cfun
        regStat = 0
        deregistered = false
        reportMode = [:]
        copsFormat = 0
        cgerep = 0
        contexts = [:]
        nic = (0, 0, 0)
        updateRegistration()
    }

    /// The module stops: its calls end (the data plane told), its timers are void.
    func powerDown(reason: String?) {
        epoch += 1
        for id in timers { loop.cancel(id) }
        timers.removeAll()
        registrationTimer = nil
        for cid in contexts.keys.sorted() where contexts[cid]?.up == true { onCallDown?(cid) }
        contexts = [:]
        regStat = 0
        if let r = reason { log(r) }
    }

    // MARK: public state, for tests

    /// The call on `cid` is up (UNISOC: the data call; ASR: the USB NIC on that context).
    public func callActive(_ cid: Int) -> Bool { locked { contexts[cid]?.up == true } }
    public func contextActive(_ cid: Int) -> Bool { locked { contexts[cid]?.active == true } }
    public var activeContexts: [Int] { locked { contexts.keys.filter { contexts[$0]!.active || contexts[$0]!.up }.sorted() } }
    /// No call up, no context active, none being set up: what a client leaves behind when it
    /// stopped right.
    public var isClean: Bool { locked { contexts.values.allSatisfy { !$0.active && !$0.up && $0.setupTimer == nil } } }
    public var isRegistered: Bool { locked { regStat == 1 || regStat == 5 } }
    /// AT+QCFG="NAT" in effect (a value set since the last restart is not): 0 the module
    /// hands out the carrier's address, 1 it runs a private LAN (router).
    public var natRouter: Int { locked { nat } }
    public var usbnetMode: Int { locked { usbnet } }
    public var simState: ATSimConfig.SIM { locked { sim } }
    public var simIsBlocked: Bool { locked { simBlocked } }
    public var pinAttemptsLeft: Int { locked { pinLeft } }
    public var pukAttemptsLeft: Int { locked { pukLeft } }
    public var echoOn: Bool { locked { echo } }
    public var errorFormat: Int { locked { cmee } }
    public var radio: Int { locked { cfun } }
    public func profile(_ cid: Int) -> ATSimConfig.Profile? { locked { profiles[cid] } }
    public var isGone: Bool { locked { gone } }
    public var isHung: Bool { locked { hung } }
    public var elapsedMs: Int64 { locked { now } }

    /// Runs `body` under the simulator's lock (a consistent snapshot from another thread).
    public func withState<T>(_ body: (ATSimulator) -> T) -> T { locked { body(self) } }
}
