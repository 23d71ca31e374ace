import Base
import CSystem
import DHCPClient
import LinkConfig

/// What every session machine (QMISession, MBIMSession) shares: the actions one event
/// produces, the clock and the armed timers; the lifecycle — opening, setting up, ready,
/// waiting for a modem that went away, stopping, done — with its rules for failing, for the
/// reopen backoff and for the second stop signal; the SIM and registration; what each call
/// does alike (connected, deconfigured, redialed, given up); field status and `qcm status`.
///
/// A protocol's machine subclasses it, handles its own setup steps and requests, and
/// overrides the few hooks the lifecycle needs (`dropSession`, `startTeardown`, `linkDown`).
class SessionCore {
    let config: SessionConfig
    var options: Options { config.options }
    /// Every PDN's call.
    let calls: [Call]

    init(_ config: SessionConfig, calls: [Call]) {
        self.config = config
        self.calls = calls
    }

    // MARK: the actions of one event

    private var out: [Action] = []
    private(set) var now: Int64 = 0

    /// Runs `body` for one event at `now`; returns the actions it produced, in order.
    func handling(_ now: Int64, _ body: () -> Void) -> [Action] {
        self.now = now
        out = []
        body()
        let actions = out
        out = []
        return actions
    }

    func emit(_ a: Action) { out.append(a) }
    func log(_ s: String) { emit(.log(s)) }
    func setState(_ call: Call?, _ text: String) { emit(.state(pdn: call?.pdn, text)) }
    func status(_ pdn: Int?, _ key: StatusKey, _ value: String?) { emit(.status(pdn: pdn, key, value)) }

    // MARK: timers

    private var armed: [Timer] = []

    func arm(_ t: Timer, _ ms: Int64) {
        cancel(t)
        armed.append(t)
        emit(.arm(t, ms: ms))
    }

    func cancel(_ t: Timer) {
        guard armed.contains(t) else { return }
        armed.removeAll { $0 == t }
        emit(.cancel(t))
    }

    func cancelAllTimers() {
        for t in armed { emit(.cancel(t)) }
        armed.removeAll()
    }

    func isArmed(_ t: Timer) -> Bool { armed.contains(t) }

    /// A timer went off: true when it was still armed (one cancelled meanwhile may arrive).
    func fired(_ t: Timer) -> Bool {
        guard armed.contains(t) else { return false }
        armed.removeAll { $0 == t }
        return true
    }

    // MARK: the lifecycle

    enum Lifecycle {
        case idle
        /// The Runner was asked to open the channel.
        case opening
        /// The protocol's own steps (the subclass keeps which one).
        case settingUp
        /// Set up: each call goes its own way.
        case ready
        /// The modem went away; the channel is reopened after a backoff.
        case waitingForDevice
        case stopping(Teardown)
        case done
    }

    private(set) var lifecycle = Lifecycle.idle
    /// Set up once: later failures wait for the modem instead of exiting.
    private(set) var initializedOnce = false
    private var reopenDelayMs: Int64 = 1000

    var isOpening: Bool { if case .opening = lifecycle { return true }; return false }
    var isSettingUp: Bool { if case .settingUp = lifecycle { return true }; return false }
    var isReady: Bool { if case .ready = lifecycle { return true }; return false }
    var teardown: Teardown? { if case .stopping(let t) = lifecycle { return t }; return nil }
    var isStoppingOrDone: Bool {
        switch lifecycle {
        case .stopping, .done: return true
        default: return false
        }
    }
    /// The channel is open (requests can go out).
    var channelUp: Bool {
        switch lifecycle {
        case .idle, .opening, .waitingForDevice, .done: return false
        case .settingUp, .ready, .stopping: return true
        }
    }

    func open() {
        lifecycle = .opening
        emit(.openChannel)
    }

    func beginSetup() { lifecycle = .settingUp }

    /// Set up: from now on a lost modem is waited for.
    func becameReady() {
        lifecycle = .ready
        initializedOnce = true
        reopenDelayMs = 1000
    }

    /// The modem went away (or cannot be used now): wait, then open the channel again, 1 s
    /// after the first loss, doubling up to 10 s.
    func scheduleReopen(_ why: String) {
        lifecycle = .waitingForDevice
        registered = false
        answerQueriesNow()
        setState(nil, "modem gone, waiting for it: \(why)")
        let delay = reopenDelayMs
        reopenDelayMs = min(reopenDelayMs * 2, 10_000)
        arm(.reopen, delay)
    }

    /// What the protocol drops with a lost session (client ids, the channel): the hook of
    /// `setupFailed`.
    func dropSession() { emit(.closeChannel) }

    /// A setup step failed: fatal the first time; later the modem is waited for.
    func setupFailed(_ message: String, code: Int32 = ExitCode.notResponding) {
        guard initializedOnce else { return fail(code, message) }
        log(message)
        dropSession()
        scheduleReopen(message)
    }

    /// The channel did not open: fatal before the first setup, else waited out — except a
    /// socket served by someone qcm does not trust, which is never retried.
    func channelOpenFailed(_ e: ChannelError, name: String) {
        guard isOpening else { return }
        if initializedOnce && !e.isUntrustedPeer { return scheduleReopen("cannot open \(config.channel): \(e.description)") }
        let hint = config.proxy.map { "is \($0.name) running? it starts with: \($0.startHint(device: config.device))" }
        let f = SessionCore.openFailure(e, channel: name, proxyHint: hint)
        fail(f.code, f.message)
    }

    /// Fatal: log, leave the modem clean (calls stopped, ids released), exit with `code`.
    func fail(_ code: Int32, _ message: String) {
        log(message)
        status(nil, .lastError, message)
        finish(code)
    }

    // MARK: stopping

    private var stopRequestedAt: Int64?

    /// SIGINT/SIGTERM: the first begins the clean teardown; one more than 500 ms later gives
    /// it up (the links are still removed, exit 1); duplicates within 500 ms (a terminal's
    /// Ctrl-C reaching a whole process group, timeout(1) forwarding) count as one.
    func stop(signal: String) {
        if let first = stopRequestedAt {
            guard now - first > 500 else { return }
            log("second \(signal): giving up the clean teardown")
            lifecycle = .done
            for c in calls { emit(.deconfigureLink(pdn: c.pdn, release: false)) }
            resetBridges()
            emit(.closeChannel)
            emit(.exit(ExitCode.failure))
            return
        }
        stopRequestedAt = now
        log("\(signal): stopping")
        finish(ExitCode.ok)
    }

    /// Stop the calls, release what the session holds, remove the link configuration,
    /// exit. Bounded: a modem that no longer answers cannot keep qcm from exiting.
    func finish(_ code: Int32) {
        guard !isStoppingOrDone else { return }
        let wasUp = channelUp
        let t = Teardown(exitCode: code)
        lifecycle = .stopping(t)
        cancelAllTimers()
        setState(nil, "stopping")
        for c in calls { deconfigure(c, release: true) }
        guard wasUp else { return finishTeardown(channelGone: true) }
        arm(.teardownLimit, config.timeouts.teardownLimit)
        startTeardown(t)
    }

    /// The protocol's teardown (stop the calls, release, close); it ends in `finishTeardown`.
    func startTeardown(_ t: Teardown) { finishTeardown(channelGone: false) }

    /// What the modem is asked to confirm in a teardown, for the warning when it does not.
    var teardownDescription: String { "stopping the call" }

    /// The teardown took longer than it may.
    func teardownLimitReached() {
        guard let t = teardown else { return }
        log("the modem did not confirm the teardown in time")
        t.problems.append("teardown")
        finishTeardown(channelGone: false)
    }

    func finishTeardown(channelGone: Bool) {
        guard let t = teardown else { return }
        lifecycle = .done
        cancelAllTimers()
        var code = t.exitCode
        if !t.problems.isEmpty && !channelGone {
            log("warning: the modem did not confirm \(teardownDescription) (\(t.problems[0]))")
            if code == ExitCode.ok { code = ExitCode.notResponding }
        }
        resetBridges()
        emit(.removeDataLinks(pdn: nil))
        emit(.closeChannel)
        emit(.exit(code))
    }

    // MARK: bridge mode

    /// PDNs whose netdev qcm put in bridge mode: turned off again when qcm exits, whatever
    /// the reason (resetBridges, in Bridge.swift).
    var bridgesOn: [Int] = []


    // MARK: SIM and registration

    var sim = SIM.unknown
    /// A PIN was verified in this session (never twice).
    var pinVerified = false
    var registered = false

    /// What the SIM needs, with the PIN of the command line.
    var simDecision: SIM.Decision { sim.decide(pin: options.pin, verified: pinVerified) }

    // MARK: calls

    func call(_ pdn: Int) -> Call? { calls.first { $0.pdn == pdn } }

    /// "PDN 2: " in front of a call's log lines when qcm serves several.
    func tag(_ c: Call) -> String { calls.count > 1 ? "PDN \(c.pdn): " : "" }

    func connected(_ c: Call, _ plan: LinkPlan?) {
        c.plan = plan
        c.phase = .connected
        c.failures = 0
        c.connectedAt = now
        let bridged = bridgeSummary(c)
        if let b = bridged {
            status(c.pdn, .bridge, b)
        } else if let p = plan {
            statusAddresses(c, p)
        }
        let detail = bridged.map { "bridge mode: " + $0 } ?? plan.map { Plans.describe($0) }
        let summary = "connected" + (detail.map { " (\($0))" } ?? "")
        log(tag(c) + summary)
        setState(c, "connected" + (detail.map { ": \($0)" } ?? ""))
        emit(.connected(pdn: c.pdn, summary: summary))
    }

    func statusAddresses(_ c: Call, _ p: LinkPlan) {
        status(c.pdn, .ipv4, p.ipv4.map { "\($0.address.text)/\($0.prefix)" })
        status(c.pdn, .ipv6, p.ipv6.map { "\($0.address.text)/\($0.prefix)" })
        status(c.pdn, .ipv6Prefix, p.ipv6LAN?.prefixText)
        status(c.pdn, .ipv6LAN, p.ipv6LAN?.interface)
        status(c.pdn, .dns, p.dns.isEmpty ? nil : p.dns.map { $0.text }.joined(separator: " "))
    }

    /// The call's link goes (its addresses, routes, DNS; `release`: a DHCP lease is released).
    func deconfigure(_ c: Call, release: Bool) {
        if c.plan != nil || c.phase == .connected || c.phase == .configuring {
            emit(.deconfigureLink(pdn: c.pdn, release: release))
            linkDown(c)
        }
        if c.bridgeAddress != nil, let t = config.bridge(c.pdn) {
            // The driver stops answering for the address: the next call may bring another.
            c.bridgeAddress = nil
            c.bridgeMaster = nil
            if options.noLink {
                log("--no-link: clear the LAN host's address yourself: " + t.commands(sysRoot: options.sysRoot, on: true, address: 0).last!)
            } else {
                emit(.setBridge(pdn: c.pdn, on: true, ipv4: 0))
            }
        }
        c.plan = nil
        for k in StatusKey.link { status(c.pdn, k, nil) }
    }

    /// The driver hears the call's mux is down (qmi_wwan_q's link_state): QMI's hook.
    func linkDown(_ c: Call) {}

    /// The link could not be configured: fatal (exit 9 for want of privileges, else 8).
    func linkFailed(_ pdn: Int, _ e: LinkError) {
        var message = "link configuration failed: \(e.description)"
        if e.isPermissionDenied { message += " (qcm needs root or CAP_NET_ADMIN to configure \(netdevName(pdn)))" }
        fail(e.isPermissionDenied ? ExitCode.permission : ExitCode.link, message)
    }

    /// The netdev that carries PDN's traffic (QMI overrides: a QMAP PDN has a link of its own).
    func netdev(_ pdn: Int) -> String? { config.netdev }

    /// The netdev of `pdn` for messages.
    func netdevName(_ pdn: Int) -> String { netdev(pdn) ?? "the interface" }

    /// What the DHCP client says about PDN's link (an 802.3 link, or an AT module's usb0): a
    /// lease is applied, an expired one removed.
    func dhcp(_ pdn: Int, _ e: DHCPMachine.Event) {
        guard let c = call(pdn), let dev = netdev(pdn), !isStoppingOrDone else { return }
        switch e {
        case .bound(let lease), .renewed(_, let lease):
            log("DHCP lease \(lease.summary)")
            var renew = false
            if case .renewed = e { renew = true }
            emit(.applyLink(pdn: pdn, leasePlan(c, lease, interface: dev), leaseSeconds: lease.leaseSeconds, renew: renew))
        case .expired(let lease):
            log("DHCP lease of \(IPAddress(ipv4: lease.address).text) expired")
            emit(.deconfigureLink(pdn: pdn, release: false))
            leaseExpired(c)
        case .nak(let msg):
            log("DHCP NAK" + (msg.map { ": \($0)" } ?? ""))
        case .leaseFailed(let n):
            noLease(c, attempts: n)
        }
    }

    /// The plan of a DHCP lease (IPv4); QMI adds the call's IPv6 from the modem.
    func leasePlan(_ c: Call, _ lease: Lease, interface: String) -> LinkPlan {
        Plans.fromLease(lease, interface: interface, metric: options.metric, defaultRoute: c.options.defaultRoute)
    }

    /// No DHCP lease after `attempts` DISCOVERs: the client keeps trying (QMI's 802.3 link);
    /// the AT session, whose module serves DHCP only while its call is up, checks the call.
    func noLease(_ c: Call, attempts: Int) {
        log("no DHCP lease after \(attempts) DISCOVERs; still trying")
    }

    /// The lease ran out without a renewal: the AT session takes the call for gone.
    func leaseExpired(_ c: Call) {}

    /// A dial failed: redial with the backoff, or give up after --max-retries — qcm, or only
    /// this PDN while others go on.
    func dialFailed(_ c: Call, _ why: String) {
        log(tag(c) + "requestSetupDataCall failed: \(why)")
        status(c.pdn, .lastEndReason, why)
        c.failures += 1
        let limit = options.maxRetries
        guard limit == 0 || c.failures < limit else {
            let message = "giving up after \(c.failures) failed dial(s) (--max-retries \(limit)): \(why)"
            if calls.filter({ $0.phase != .failed && $0 !== c }).isEmpty { return fail(ExitCode.callFailed, message) }
            log("PDN \(c.pdn): " + message)
            c.phase = .failed
            setState(c, "gave up: \(why)")
            return
        }
        scheduleRedial(c, after: c.nextRedialDelayMs())
    }

    /// The network ended the call (or it became unusable): the reason logged and shown, the
    /// link removed; returns the delay of the redial (`Call.redialDelayAfterDrop`).
    func callEnded(_ c: Call, _ why: String) -> Int64 {
        log(why)
        let delay = c.redialDelayAfterDrop(now: now, stableMs: Int64(options.stableAfterSeconds) * 1000)
        c.connectedAt = nil
        status(c.pdn, .lastEndReason, why)
        deconfigure(c, release: false)
        return delay
    }

    func scheduleRedial(_ c: Call, after delay: Int64) {
        c.phase = .redialWait
        setState(c, "reconnecting: next attempt in \(delay / 1000) s")
        log(delay == 0 ? "redialing at once" : "redialing in \(delay) ms")
        arm(.redial(pdn: c.pdn), delay)
    }

    // MARK: field status and `qcm status`

    /// What the modem says about the network (registration, operator, signal ...).
    private(set) var field = FieldStatus()

    /// Field status changes: each changed key to the status, and one `.fieldChanged` so the
    /// status files, `qcm status --watch` and the systemd STATUS line follow.
    func updateField(_ pairs: [(StatusKey, String?)]) {
        var changed = false
        for (k, v) in pairs where field.set(k, v) {
            status(nil, k, v)
            changed = true
        }
        if changed { emit(.fieldChanged(field.short)) }
    }

    /// `qcm status` queries waiting for the modem.
    private(set) var queries: [StatusQuery] = []

    /// Query `token` waits for `requests` answers from the modem.
    func queryStarted(_ token: Int, requests: Int) {
        guard requests > 0 else { return emit(.statusReply(token, [])) }
        queries.append(StatusQuery(token: token, waiting: requests, results: []))
    }

    /// One more of query `token`'s requests is answered (with `results`); when it was the
    /// last, the query's answer goes out.
    func queryAnswered(_ token: Int, _ results: [StatusValue]) {
        guard let i = queries.firstIndex(where: { $0.token == token }) else { return }
        queries[i].results += results
        queries[i].waiting -= 1
        if queries[i].waiting == 0 {
            let q = queries.remove(at: i)
            emit(.statusReply(q.token, q.results))
        }
    }

    /// The session is gone (channel closed or reopened, the modem reset): every `qcm status`
    /// waiting for the modem is answered now with what came so far — its requests died with
    /// the session and would never be answered.
    func answerQueriesNow() {
        for q in queries { emit(.statusReply(q.token, q.results)) }
        queries.removeAll()
    }
}
