import Base
import CSystem
import DHCPClient
import LinkConfig
import QMICore
#if QCM_MBIM
import MBIMCore
#endif
#if QCM_AT
import ATCore
#endif

/// The I/O around a session machine (QMISession, MBIMSession): it opens the control channel
/// and runs its engine, arms timers on the event loop, configures links over rtnetlink (or a
/// script), runs DHCP, writes the status files and speaks to systemd. Every outcome goes back
/// to the machine as an event; nothing here decides anything.
final class Runner {
    /// The machine, by protocol: protocol events go to the one that speaks it.
    enum Session {
        case qmi(QMISession)
        #if QCM_MBIM
        case mbim(MBIMSession)
        #endif
        #if QCM_AT
        case at(ATSession)
        #endif

        var machine: any SessionMachine {
            switch self {
            case .qmi(let s): return s
            #if QCM_MBIM
            case .mbim(let s): return s
            #endif
            #if QCM_AT
            case .at(let s): return s
            #endif
            }
        }
    }

    let session: Session
    var machine: any SessionMachine { session.machine }
    let loop: EventLoop
    let log: Logger
    let notify: SystemdNotify
    let o: Options
    /// Status files, one per PDN.
    let instances: SmallMap<Int, Instance>
    var channelPath: String
    /// What discovery finds when the modem comes back: its channel, and what the driver
    /// offers now (a driver reloaded with another qmap_mode changes the data path).
    struct Found {
        let channel: String
        let facts: DriverFacts
    }

    /// Looks for the modem again after it went away (nil: the channel is fixed, --device).
    let rediscover: (() -> Found?)?

    var engine: QMIEngine?
    #if QCM_MBIM
    var mbim: MBIMEngine?
    #endif
    #if QCM_AT
    var at: ATEngine?
    #endif
    var timers = SmallMap<Timer, Int>()
    var links = SmallMap<Int, LinkSetup>()
    var dhcp = SmallMap<Int, DHCPDriver>()
    /// QMAP links made under the parent (qmimux, rmnet), created when first needed.
    var qmapLinks: DataLinks?
    /// `qcm status` asking this qcm (nil: no run directory to put the socket in).
    var statusServer: StatusServer?
    /// The last state line and the field status' short form, for systemd's STATUS.
    var stateLine = "starting"
    var fieldShort: String?
    private(set) var exitCode: Int32?

    /// What the machine is fed: events every protocol shares, or one protocol's own.
    enum Input {
        case event(Event)
        case qmi(QMIEvent)
        #if QCM_MBIM
        case mbim(MBIMEvent)
        #endif
        #if QCM_AT
        case at(ATEvent)
        #endif
    }

    /// Inputs raised while actions run are queued and handled in order, never re-entrantly.
    private var queue: [Input] = []
    private var draining = false

    init(session: Session, loop: EventLoop, log: Logger, notify: SystemdNotify, instances: SmallMap<Int, Instance>,
         rediscover: (() -> Found?)?) {
        self.session = session
        let machine = session.machine
        self.loop = loop
        self.log = log
        self.notify = notify
        o = machine.config.options
        self.instances = instances
        channelPath = machine.config.device
        self.rediscover = rediscover
    }

    var stateText: String { instances.values.first?.get(.state) ?? "starting" }

    /// Status sockets of qcm that were killed (-9) — ours only, and only sockets.
    func removeStaleSockets() {
        for name in Files.list(o.runDir) ?? [] where name.begins(with: "qcm-") && name.ends(with: ".sock") {
            let digits = String(decoding: Array(name.utf8.dropFirst(4).dropLast(5)), as: UTF8.self)
            guard let pid = Text.parseInt(digits), pid > 0, pid < Int64(Int32.max), !Instance.running(Int32(pid)) else { continue }
            let path = o.runDir + "/" + name
            guard let info = Files.info(path), info.kind == .socket, info.owner == UInt32(getuid()) else { continue }
            Files.remove(path)
        }
    }

    func start() {
        removeStaleSockets()
        let server = StatusServer(path: StatusServer.path(runDir: o.runDir, pid: getpid()), loop: loop)
        if let problem = server.start() {
            log.log("warning: \(problem): qcm status shows the status files only")
        } else {
            server.onQuery = { token in self.feed(.statusQuery(token)) }
            server.records = { extras, identifiers in
                var text = ""
                for (pdn, i) in self.instances.pairs where i.lockFD >= 0 {
                    text += i.record(extras.filter { $0.pdn == nil || $0.pdn == pdn }, identifiers: identifiers) + "\n"
                }
                return text
            }
            statusServer = server
        }
        for (pdn, i) in instances.pairs {
            i.set(.interface, machine.netdev(pdn))
            i.set(.channel, machine.config.channel)
            if statusServer != nil { i.set(.socket, server.path) }
        }
        feed(.start)
    }

    /// Status files rewritten, watchers told, systemd's STATUS refreshed.
    func statusChanged() {
        for i in instances.values { i.save() }
        statusServer?.changed()
        notify.status(stateLine + (fieldShort.map { "; " + $0 } ?? ""))
    }

    /// Hands an event to the machine and carries out what it answers.
    func feed(_ e: Event) { feed(.event(e)) }

    func feed(_ input: Input) {
        queue.append(input)
        guard !draining else { return }
        draining = true
        while !queue.isEmpty {
            for a in handle(queue.removeFirst()) { perform(a) }
        }
        draining = false
    }

    /// The machine's answer to one input; a protocol's event reaches only that protocol's machine.
    private func handle(_ input: Input) -> [Action] {
        let now = loop.now
        switch (input, session) {
        case (.event(let e), _): return machine.handle(e, now: now)
        case (.qmi(let e), .qmi(let s)): return s.handle(e, now: now)
        #if QCM_MBIM
        case (.mbim(let e), .mbim(let s)): return s.handle(e, now: now)
        #endif
        #if QCM_AT
        case (.at(let e), .at(let s)): return s.handle(e, now: now)
        #endif
        default: return []                  // an engine of another protocol: none runs
        }
    }

    func perform(_ a: Action) {
        switch a {
        case .openChannel: openChannel()
        case .closeChannel: closeChannel()
        case let .sendQMI(r, m, timeout): send(r, m, timeout)
        #if QCM_MBIM
        case let .sendMBIM(step, m, timeout): sendMBIM(step, m, timeout)
        #endif
        #if QCM_AT
        case let .sendAT(step, command, line, timeout): sendAT(step, command, line, timeout)
        case .watchRouter(let pdn): watchRouter(pdn)
        #endif
        case let .arm(t, ms):
            if let old = timers[t] { loop.cancel(old) }
            timers[t] = loop.after(ms) {
                self.timers.removeValue(forKey: t)
                self.feed(.timer(t))
            }
        case .cancel(let t):
            if let id = timers.removeValue(forKey: t) { loop.cancel(id) }
        case .switchRawIP:
            let path = o.sysRoot + "/class/net/\(machine.config.netdev ?? "")/qmi/raw_ip"
            feed(.rawIPSwitched((try? Files.writeAttribute(path, "Y")) != nil))
        case let .applyLink(pdn, plan, lease, renew): applyLink(pdn, plan, lease, renew)
        case .startDHCP(let pdn): startDHCP(pdn)
        case let .deconfigureLink(pdn, release):
            dhcp[pdn]?.stop(release: release)
            dhcp.removeValue(forKey: pdn)
            links[pdn]?.deconfigure()
        case .prepareParent(let mtu): prepareParent(mtu)
        case let .createDataLink(pdn, mux, flags): createDataLink(pdn, mux, flags)
        case let .setLinkState(pdn, mux, up): setLinkState(pdn, mux, up)
        case let .setBridge(pdn, on, ipv4): setBridge(pdn, on, ipv4)
        case .removeDataLinks(let pdn): removeDataLinks(pdn)
        case .pdnStopped(let pdn):
            instances[pdn]?.release()
            log.log("PDN \(pdn) stopped")
        case .log(let s): log.log(s)
        case let .state(pdn, text):
            for (p, i) in instances.pairs where pdn == nil || pdn == p { i.set(.state, text) }
            stateLine = text
            statusChanged()
        case .fieldChanged(let short):
            fieldShort = short
            statusChanged()
        case let .statusReply(token, extras):
            statusServer?.answer(token, extras)
        case let .status(pdn, key, value):
            for (p, i) in instances.pairs where pdn == nil || pdn == p { i.set(key, value) }
        case let .connected(pdn, summary):
            if let i = instances[pdn] {
                i.set(.connectedSince, "\(csys_realtime_ms() / 1000)")
                i.set(.dnsWarning, links[pdn]?.manager?.dnsProblem)
                i.save()
            }
            notify.ready(summary)
        case .exit(let code):
            statusServer?.stop()
            statusServer = nil
            notify.stopping()
            exitCode = code
            loop.stop()
        }
    }

    // MARK: the channel

    func openChannel() {
        if machine.initializedOnce, let find = rediscover {
            guard let found = find() else { return feed(.channelOpenFailed(.notFound("the modem"))) }
            channelPath = found.channel
            let now: String
            do throws(DataPlan.Failure) {
                let plan = try DataPlan.decide(found.facts, pdns: o.pdns, choice: o.dataPath)
                guard plan.kind != machine.plan.kind else { return openChannel(at: channelPath) }
                now = plan.kindName
            } catch {
                now = error.message
            }
            return feed(.dataPathChanged("the driver changed while qcm ran (\(machine.plan.kindName) before, now \(now)): restart qcm for the new data path"))
        }
        openChannel(at: channelPath)
    }

    func openChannel(at device: String) {
        let proxy = machine.config.proxy
        let path = proxy.flatMap { $0.socket(device: device) } ?? device
        #if QCM_MBIM
        if machine.config.mbim { return openMBIM(path) }
        #endif
        #if QCM_AT
        if machine.config.at { return openAT(device) }
        #endif
        let channel: any QMITransport
        do throws(QMIError) {
            channel = proxy == .quectel(.qmi) ? try QMITransports.openQuectelProxy(device: device) : try QMITransports.open(path)
        } catch {
            return feed(.channelOpenFailed(ChannelError(error)))
        }
        log.log("QMI channel \(path) open (\(channel.summary))")
        let e = QMIEngine(channel: channel, loop: loop)
        e.onFrame = { bytes, m, sent in self.log.frame(bytes, m, sent: sent) }
        e.onIgnored = { self.log.log($0) }
        e.onDiscarded = { self.feed(.qmi(.frameDiscarded)) }
        e.onSlow = { name, ms in self.log.log("waiting \(ms / 1000) s for \(name) …") }
        e.onClose = { err in
            guard self.engine === e else { return }
            self.engine = nil
            self.feed(.channelClosed(ChannelError(err)))
        }
        for s in [QMIService.ctl, .wds, .nas, .dms, .uim] { e.subscribe(service: s) { m in self.feed(.qmi(.indication(m))) } }
        engine = e
        feed(.channelOpened)
    }

    func closeChannel() {
        #if QCM_AT
        if let a = at {
            at = nil
            a.onClose = nil
            a.close()
        }
        #endif
        #if QCM_MBIM
        if let m = mbim {
            mbim = nil
            m.onClose = nil
            m.close()
        }
        #endif
        guard let e = engine else { return }
        engine = nil
        e.onClose = nil
        e.close()
    }

    func send(_ r: Request, _ m: QMIMessage, _ timeout: Int64) {
        guard let e = engine else {
            _ = loop.after(0) { self.feed(.qmi(.response(r, .failure(.closed)))) }
            return
        }
        e.send(m, timeoutMs: timeout) { result in
            // The answer of a channel closed since (the session was dropped) is stale.
            guard self.engine === e else { return }
            self.feed(.qmi(.response(r, result)))
        }
    }

    // MARK: the link

    func link(_ pdn: Int) throws(LinkError) -> LinkSetup {
        if let l = links[pdn] { return l }
        guard let dev = machine.netdev(pdn) else { throw .invalid("no network interface known for PDN \(pdn)") }
        let l = try LinkSetup(interface: dev, metric: o.metric, dnsMode: pdnManagesDNS(pdn) ? o.dns : .none,
                              resolvConf: o.resolvConf, runDir: o.runDir,
                              scriptPath: o.script, log: log, loop: loop)
        // The netdev is this qcm's, unless another running qcm configures it too.
        let me = getpid()
        l.manager?.exclusive = !Instance.statuses(runDir: o.runDir).contains {
            $0.pid != me && $0.value(.interface)?.equals(dev) == true && $0.alive
        }
        links[pdn] = l
        return l
    }

    /// Only the PDN with the default route hands its DNS servers to the system.
    func pdnManagesDNS(_ pdn: Int) -> Bool { o.pdns.first { $0.pdn == pdn }?.defaultRoute ?? false }

    func applyLink(_ pdn: Int, _ plan: LinkPlan, _ leaseSeconds: UInt32?, _ renew: Bool) {
        do throws(LinkError) {
            try link(pdn).apply(plan, leaseSeconds: leaseSeconds, renew: renew)
            feed(.linkApplied(pdn: pdn, .success(plan)))
        } catch {
            feed(.linkApplied(pdn: pdn, .failure(error)))
        }
    }

    func startDHCP(_ pdn: Int) {
        let setup: LinkSetup
        do throws(LinkError) {
            setup = try link(pdn)
            try setup.up()
        } catch {
            return feed(.linkApplied(pdn: pdn, .failure(error)))
        }
        let client: DHCPClient
        do { client = try DHCPClient(interface: setup.interface) } catch {
            return feed(.linkApplied(pdn: pdn, .failure(.invalid("DHCP on \(setup.interface): \(error.description)"))))
        }
        client.onLog = { self.log.debug("DHCP: \($0)") }
        let driver = DHCPDriver(client: client, loop: loop)
        driver.onError = { self.log.log("DHCP: \($0)") }
        client.onEvent = { e in self.feed(.dhcp(pdn: pdn, e)) }
        dhcp[pdn] = driver
        do { try driver.start() } catch { log.log("DHCP: \(error.description)") }
    }
}

#if QCM_MBIM
extension Runner {
    func openMBIM(_ path: String) {
        let channel: MBIMChannel
        do throws(MBIMError) {
            channel = machine.config.proxy == .quectel(.mbim) ? try MBIMChannel.openQuectelProxy() : try MBIMChannel.open(path)
        } catch {
            if case let .system(op, e) = error { return feed(.channelOpenFailed(.system(operation: op, errno: e))) }
            if case .untrustedPeer(let why) = error { return feed(.channelOpenFailed(.untrustedPeer(why))) }
            return feed(.channelOpenFailed(.gone(error.description)))
        }
        log.log("MBIM channel \(path) open (fd \(channel.fd)\(channel.onePerRead ? ", one message per read" : ""))")
        let e = MBIMEngine(channel: channel, loop: loop)
        e.onFrame = { bytes, m, sent in
            guard self.log.verbose else { return }
            self.log.log(Text.hexBytes(MBIMTrace.masked(bytes, m)))
            if let m { self.log.log((sent ? "-> " : "<- ") + MBIMTrace.describe(m)) }
        }
        e.onIgnored = { self.log.log($0) }
        e.onIndication = { m in self.feed(.mbim(.indication(m))) }
        e.onClose = { err in
            guard self.mbim === e else { return }
            self.mbim = nil
            self.feed(.channelClosed(.gone(err.description)))
        }
        mbim = e
        feed(.channelOpened)
    }

    func sendMBIM(_ step: MBIMStep, _ m: MBIMMessage, _ timeout: Int64) {
        guard let e = mbim else {
            _ = loop.after(0) { self.feed(.mbim(.answer(step, .failure(.closed)))) }
            return
        }
        e.send(m, timeoutMs: timeout) { result in
            guard self.mbim === e else { return }
            self.feed(.mbim(.answer(step, result)))
        }
    }
}
#endif
