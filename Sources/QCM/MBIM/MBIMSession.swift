#if QCM_MBIM
import Base
import CSystem
import LinkConfig
import MBIMCore
import QMICore

/// What each MBIM request is for, so its answer finds the step that asked.
enum MBIMStep: Equatable {
    case proxyConfig, open, close, caps, services, ready, radio, pinQuery, pinEnter
    case register, packetQuery, attach, connect, ipConfig, disconnect
    case signalSet, signal, statistics(query: Int)
}

/// The dial of a module in MBIM mode (cdc_mbim), as a state machine without I/O like
/// QMISession: OPEN (retried) → device caps and services → radio on → SIM (PIN with the
/// same rules as QMI) → registration → packet service attach → CONNECT → IP configuration →
/// the link → connected; a CONNECT indication that the session ended → redial with backoff;
/// SIGINT/SIGTERM → link removed, CONNECT deactivate, CLOSE. One session (0): a second
/// PDN would need cdc_mbim's VLAN links, which qcm does not make yet.
final class MBIMSession: MachineCore, CallMachine {
    enum Phase: Equatable { case idle, opening, inquiring, sim, ready, waitingForDevice, stopping, done }

    let config: QMISession.Config
    var o: Options { config.options }
    var plan: DataPlan { config.plan }
    let call: Call
    var phase = Phase.idle
    private(set) var initializedOnce = false
    var pending: [MBIMStep] = []
    var openAttempts = 0
    var sim = SIM.unknown
    var pinVerified = false
    var registered = false
    /// A CONNECT set is out (teardown waits for it) / the session is up on the modem.
    var dialing = false
    var sessionUp = false
    /// A PACKET_SERVICE query or attach is out (a registration indication must not send another).
    var packetServiceAsked = false
    /// Field status: the data classes registration reported (0: not registered), the newest
    /// RSSI (dBm).
    var dataClasses: UInt32 = 0
    var rssi: Int?
    var reopenDelayMs: Int64 = 1000
    var exitCode: Int32?

    static let maxOpenAttempts = 5
    let session: UInt32 = 0

    init(_ config: QMISession.Config) {
        self.config = config
        call = Call(config.options.pdns[0])
        super.init()
    }

    func netdev(_ pdn: Int) -> String? { config.netdev }

    func handle(_ event: Event, now: Int64) -> [Action] {
        self.now = now
        out = []
        switch event {
        case .start:
            out.append(.status(pdn: nil, "apn", call.options.apn))
            open()
        case .channelOpened: channelOpened()
        case .channelOpenFailed(let e): channelOpenFailed(e)
        case let .mbimAnswer(step, result): answer(step, result)
        case .mbimIndication(let m): indication(m)
        case .timer(let t): timer(t)
        case .channelClosed(let e): channelClosed(e)
        case let .linkApplied(_, result): linkApplied(result)
        case .stop(let signal): stop(signal)
        case .stopPDN: stop("qcm -k")
        case .statusQuery(let token): statusQuery(token)
        default: break
        }
        return out
    }

    // MARK: helpers

    func setState(_ s: String) { out.append(.state(pdn: nil, s)) }

    func send(_ step: MBIMStep, _ m: MBIMMessage, timeout: Int64? = nil) {
        out.append(.sendMBIM(step, m, timeoutMs: timeout ?? config.timeouts.request))
    }

    func command(_ step: MBIMStep, _ cid: UInt32, set: Bool = false, _ buffer: [UInt8] = [], timeout: Int64? = nil) {
        send(step, .command(.basicConnect, cid, set: set, buffer), timeout: timeout)
    }

    /// The request's failure in words: its MBIM status by name, or what went wrong.
    static func why(_ r: Result<MBIMMessage, MBIMError>) -> String {
        if case .failure(let e) = r { return e.description }
        return "no error"
    }

    /// The fields of an answer — of a refusal too, when it carries them.
    func values(_ layout: MBIMLayout, _ r: Result<MBIMMessage, MBIMError>) -> [MBIMValue]? {
        let buffer: [UInt8]
        switch r {
        case .success(let m): buffer = m.buffer
        case .failure(.status(_, let b)) where !b.isEmpty: buffer = b
        case .failure: return nil
        }
        switch layout.decode(buffer) {
        case .success(let v): return v
        case .failure(let e):
            log("ignored the modem's answer: \(e.description)")
            return nil
        }
    }

    func fail(_ code: Int32, _ message: String) {
        log(message)
        out.append(.status(pdn: nil, "last_error", message))
        finish(code)
    }

    // MARK: opening

    func open() {
        phase = .opening
        out.append(.openChannel)
    }

    func channelOpened() {
        guard phase == .opening else { return }
        setState("initializing")
        openAttempts = 0
        if config.viaProxy {
            // libmbim's proxy: say which device first; it answers OPEN itself.
            let body = MBIMCatalogue.ProxyConfiguration.set.encode([.text(config.device), .number(30)])
            send(.proxyConfig, .command(.proxyControl, MBIMCatalogue.ProxyConfiguration.cid, set: true, body), timeout: config.timeouts.sync)
        } else {
            sendOpen()
        }
    }

    func sendOpen() {
        openAttempts += 1
        send(.open, MBIMMessage(kind: .open, transactionID: 0, value: 4096), timeout: min(3000, config.timeouts.sync))
    }

    func channelOpenFailed(_ e: QMIError) {
        guard phase == .opening else { return }
        if initializedOnce, !e.isUntrustedPeer { return scheduleReopen("cannot open \(config.channel): \(e.description)") }
        let f = openFailure(e, channel: "MBIM channel \(config.channel)", proxy: config.viaProxy ? "mbim-proxy" : nil)
        fail(f.code, f.message)
    }

    func opened(_ r: Result<MBIMMessage, MBIMError>) {
        guard phase == .opening else { return }
        switch r {
        case .success:
            log("MBIM device opened")
            inquire()
        case .failure(.timeout) where openAttempts < MBIMSession.maxOpenAttempts:
            log("no answer to MBIM OPEN (attempt \(openAttempts) of \(MBIMSession.maxOpenAttempts)); trying again")
            sendOpen()
        case .failure(let e):
            initFailed("the modem does not open its MBIM function on \(config.channel): \(e.description). Is another program (ModemManager, mbim-proxy) using it, or is the modem still booting?")
        }
    }

    func initFailed(_ message: String, code: Int32 = ExitCode.notResponding) {
        if initializedOnce {
            log(message)
            out.append(.closeChannel)
            scheduleReopen("waiting for the modem")
        } else {
            fail(code, message)
        }
    }

    // MARK: facts, SIM

    func inquire() {
        phase = .inquiring
        pending = [.caps, .services, .ready, .radio]
        command(.caps, MBIMCatalogue.DeviceCaps.cid)
        command(.services, MBIMCatalogue.DeviceServices.cid)
        command(.ready, MBIMCatalogue.SubscriberReady.cid)
        command(.radio, MBIMCatalogue.Radio.cid, set: true, MBIMCatalogue.Radio.set.encode([.number(1)]))
    }

    func answered(_ step: MBIMStep) -> Bool {
        guard let i = pending.firstIndex(of: step) else { return false }
        pending.remove(at: i)
        return pending.isEmpty
    }

    func answer(_ step: MBIMStep, _ r: Result<MBIMMessage, MBIMError>) {
        switch step {
        case .proxyConfig:
            guard phase == .opening else { return }
            if case .failure(let e) = r { return initFailed("mbim-proxy did not take \(config.device): \(e.description)") }
            sendOpen()
        case .open:
            opened(r)
        case .caps:
            if let v = values(MBIMCatalogue.DeviceCaps.response, r) {
                typealias D = MBIMCatalogue.DeviceCaps
                log("MBIM device: \(v[D.hardware].text ?? "?"), firmware \(v[D.firmware].text ?? "?"), data classes \(MBIMNames.dataClass.describe(v[D.dataClass].u32))")
                out.append(.status(pdn: nil, "revision", v[D.firmware].text))
                out.append(.status(pdn: nil, "imei", v[D.deviceID].text.flatMap(QMISession.digits)))
            }
            if answered(.caps) { factsDone() }
        case .services:
            if let v = values(MBIMCatalogue.DeviceServices.response, r),
               v[MBIMCatalogue.DeviceServices.services].serviceList.contains(where: { $0.service == .qmi }) {
                log("the modem offers QMI over MBIM; qcm dials with MBIM alone")
            }
            if answered(.services) { factsDone() }
        case .ready:
            readyStatus(r)
            if answered(.ready) { factsDone() } else if phase == .sim { factsDone() }
        case .radio:
            if case .failure(let e) = r { log("radio on: \(e.description)") }
            if answered(.radio) { factsDone() }
        case .pinQuery:
            pinQueried(r)
        case .pinEnter:
            pinEntered(r)
        case .register:
            if let v = values(MBIMCatalogue.Register.response, r) { registration(v) }
        case .packetQuery, .attach:
            packetService(step, r)
        case .connect:
            connectAnswered(r)
        case .ipConfig:
            ipConfigured(r)
        case .disconnect, .close:
            teardownAnswered(step)
        case .signalSet:
            if case .failure(let e) = r { log("the modem keeps its own signal reporting (SIGNAL_STATE set: \(e.description))") }
        case .signal:
            if case .success = r, let v = values(MBIMCatalogue.SignalState.response, r) { signal(v) }
        case .statistics(let token):
            statistics(token, r)
        }
    }

    func readyStatus(_ r: Result<MBIMMessage, MBIMError>) {
        typealias S = MBIMCatalogue.SubscriberReady
        guard let v = values(S.response, r) else { return }
        switch v[S.readyState].u32 {
        case S.initialized:
            sim = .ready
            updateField([("imsi", v[S.subscriberID].text.flatMap(QMISession.digits)), ("iccid", v[S.iccid].text.flatMap(QMISession.digits))])
        case S.notInserted: sim = .absent
        case S.deviceLocked: sim = .pinRequired(retriesLeft: nil)
        case S.badSIM: sim = .pukBlocked
        default: sim = .unknown
        }
        log("requestGetSIMStatus SIMStatus: \(sim.logName) (\(MBIMNames.readyState.describe(v[S.readyState].u32)))")
    }

    func factsDone() {
        guard pending.isEmpty, phase == .inquiring || phase == .sim else { return }
        if case .pinRequired(nil) = sim {
            phase = .sim
            return command(.pinQuery, MBIMCatalogue.Pin.cid)
        }
        switch sim.decide(pin: o.pin, verified: pinVerified) {
        case .proceed: ready()
        case .fail(let why): fail(ExitCode.sim, why)
        case .verify(let pin):
            phase = .sim
            pinVerified = true
            log("verifying the SIM PIN (***)")
            command(.pinEnter, MBIMCatalogue.Pin.cid, set: true,
                    MBIMCatalogue.Pin.set.encode([.number(UInt64(MBIMCatalogue.Pin.pin1)), .number(0), .text(pin), .text(nil)]))
        }
    }

    func pinQueried(_ r: Result<MBIMMessage, MBIMError>) {
        typealias P = MBIMCatalogue.Pin
        guard let v = values(P.response, r) else { return fail(ExitCode.sim, "the SIM is locked and its PIN state cannot be read: \(MBIMSession.why(r))") }
        let type = v[P.pinType].u32, left = Int(v[P.remaining].u32)
        if type == P.puk1 { sim = .pukBlocked }
        else if v[P.pinState].u32 == P.locked { sim = .pinRequired(retriesLeft: left) }
        else { sim = .ready }
        factsDone()
    }

    func pinEntered(_ r: Result<MBIMMessage, MBIMError>) {
        if case .failure(let e) = r {
            let left = values(MBIMCatalogue.Pin.response, r).map { " (\($0[MBIMCatalogue.Pin.remaining].u32) attempts left)" } ?? ""
            return fail(ExitCode.sim, "PIN verification failed: \(e.description)\(left); not retrying")
        }
        log("SIM PIN verified")
        pending = [.ready]
        command(.ready, MBIMCatalogue.SubscriberReady.cid)
    }

    // MARK: registration, packet service, dial

    func ready() {
        phase = .ready
        initializedOnce = true
        reopenDelayMs = 1000
        call.phase = .waitingForNetwork
        packetServiceAsked = false
        setState("waiting for network registration")
        command(.register, MBIMCatalogue.Register.cid)
        watchSignal()
    }

    func registration(_ v: [MBIMValue]) {
        typealias R = MBIMCatalogue.Register
        let state = v[R.state].u32
        let was = registered
        registered = state == R.home || state == R.roaming || state == R.partner
        if registered != was || !registered {
            log("requestRegistrationState2 \(MBIMNames.registerState.describe(state)), provider \(v[R.providerName].text ?? "?") (\(v[R.providerID].text ?? "?")), data classes \(MBIMNames.dataClass.describe(v[R.dataClasses].u32))"
                + (v[R.nwError].u32 != 0 ? ", network error \(MBIMNames.nwError.describe(v[R.nwError].u32))" : ""))
        }
        dataClasses = registered ? v[R.dataClasses].u32 : 0
        updateField([("registration", MBIMNames.registerState.describe(state)),
                     ("operator", v[R.providerName].text.flatMap(Network.operatorName)),
                     ("mcc_mnc", v[R.providerID].text.flatMap(QMISession.digits)), ("rat", MBIMSession.rat(dataClasses))]
                    + signalFields())
        guard phase == .ready else { return }
        if registered && call.phase == .waitingForNetwork && !packetServiceAsked {
            cancel(.registrationPoll)
            packetServiceAsked = true
            command(.packetQuery, MBIMCatalogue.PacketService.cid)
        } else if !registered {
            arm(.registrationPoll, 30_000)
        }
    }

    /// The newest technology of an MBIM data-class mask, as `qcm status` names RATs.
    static func rat(_ classes: UInt32) -> String? {
        if classes & 0xc0 != 0 { return "5gnr" }
        if classes & 0x20 != 0 { return "lte" }
        if classes & 0x1c != 0 { return "umts" }
        if classes & 0x03 != 0 { return "gsm" }
        return nil
    }

    func packetService(_ step: MBIMStep, _ r: Result<MBIMMessage, MBIMError>) {
        packetServiceAsked = step == .packetQuery      // an attach follows a query; nothing follows an attach
        guard phase == .ready, call.phase == .waitingForNetwork else { return }
        typealias P = MBIMCatalogue.PacketService
        guard let v = values(P.response, r) else { return dialFailed("packet service \(step == .attach ? "attach" : "query"): \(MBIMSession.why(r))") }
        if v[P.state].u32 == P.attached { return dial() }
        guard step == .packetQuery else { return dialFailed("packet service not attached (\(MBIMNames.packetServiceState.describe(v[P.state].u32)))") }
        log("attaching the packet service")
        command(.attach, P.cid, set: true, P.set.encode([.number(UInt64(P.attach))]), timeout: config.timeouts.startNetwork)
    }

    func dial() {
        cancel(.redial(pdn: call.pdn))
        call.phase = .dialing
        setState("dialing")
        dialing = true
        typealias C = MBIMCatalogue.Connect
        let f = call.options.families
        let ipType = f.contains(4) && f.contains(6) ? C.ipv4v6 : f.contains(6) ? C.ipv6 : C.ipv4
        // The APN, user and password of -s (a profile is a QMI notion: MBIM has none here).
        let auth: UInt64 = call.options.auth.map { UInt64($0 == 3 ? 2 : $0) } ?? (call.options.password == nil ? 0 : 2)
        let body = C.set.encode([.number(UInt64(session)), .number(UInt64(C.activate)), .text(call.options.apn ?? ""),
                                 .text(call.options.user), .text(call.options.password), .number(0), .number(auth),
                                 .number(UInt64(ipType)), .uuid(.contextInternet)])
        command(.connect, C.cid, set: true, body, timeout: config.timeouts.startNetwork)
    }

    func connectAnswered(_ r: Result<MBIMMessage, MBIMError>) {
        dialing = false
        typealias C = MBIMCatalogue.Connect
        if phase == .stopping { return teardown() }
        guard phase == .ready, call.phase == .dialing else { return }
        let v = values(C.state, r)
        guard case .success = r, let state = v?[C.activationState].u32, state == C.activated else {
            let nw = v.map { $0[C.nwError].u32 } ?? 0
            return dialFailed("CONNECT: \(MBIMSession.why(r))" + (nw != 0 ? ", network error \(MBIMNames.nwError.describe(nw)) (\(nw))" : ""))
        }
        sessionUp = true
        log("requestSetupDataCall MBIM session \(session) activated (\(MBIMNames.ipType.describe(v?[C.ipType].u32 ?? 0)))")
        call.phase = .configuring
        let query = MBIMCatalogue.IPConfiguration.layout.encode([.number(UInt64(session))])
        command(.ipConfig, MBIMCatalogue.IPConfiguration.cid, query)
    }

    func ipConfigured(_ r: Result<MBIMMessage, MBIMError>) {
        guard phase == .ready, call.phase == .configuring else { return }
        guard let v = values(MBIMCatalogue.IPConfiguration.layout, r) else {
            return callDropped("no IP configuration from the modem: \(MBIMSession.why(r))", disconnect: true)
        }
        let plan = Plans.fromMBIM(v, interface: config.netdev ?? "wwan0", metric: o.metric, defaultRoute: call.options.defaultRoute)
        guard plan.ipv4 != nil || plan.ipv6 != nil else { return callDropped("the modem gave the session no usable address", disconnect: true) }
        call.plan = plan
        guard !o.noLink, config.netdev != nil else {
            if config.netdev == nil && !o.noLink { log("no network interface known for this modem: link configuration skipped (use -i IFACE)") }
            return connected()
        }
        out.append(.applyLink(pdn: call.pdn, plan, leaseSeconds: nil, renew: false))
    }

    func linkApplied(_ r: Result<LinkPlan, LinkError>) {
        guard phase == .ready, call.phase == .configuring else { return }
        switch r {
        case .success: connected()
        case .failure(let e):
            let denied = e.errno == EPERM || e.errno == EACCES
            fail(denied ? ExitCode.permission : ExitCode.link, "link configuration failed: \(e.description)"
                 + (denied ? " (qcm needs root or CAP_NET_ADMIN to configure \(config.netdev ?? "the interface"))" : ""))
        }
    }

    func connected() {
        call.phase = .connected
        call.failures = 0
        call.connectedAt = now
        let detail = call.plan.map { Plans.describe($0) }
        let summary = "connected" + (detail.map { " (\($0))" } ?? "")
        log(summary)
        if let p = call.plan {
            out.append(.status(pdn: call.pdn, "ipv4", p.ipv4.map { "\($0.address.text)/\($0.prefix)" }))
            out.append(.status(pdn: call.pdn, "ipv6", p.ipv6.map { "\($0.address.text)/\($0.prefix)" }))
            out.append(.status(pdn: call.pdn, "dns", p.dns.isEmpty ? nil : p.dns.map { $0.text }.joined(separator: " ")))
        }
        setState("connected" + (detail.map { ": \($0)" } ?? ""))
        out.append(.connected(pdn: call.pdn, summary: summary))
    }

    func deconfigure() {
        if call.plan != nil || call.phase == .connected || call.phase == .configuring {
            out.append(.deconfigureLink(pdn: call.pdn, release: false))
        }
        call.plan = nil
        for k in ["connected_since", "ipv4", "ipv6", "dns"] { out.append(.status(pdn: call.pdn, k, nil)) }
    }

    /// The session is gone (or unusable): the link goes, the redial is scheduled.
    func callDropped(_ why: String, disconnect: Bool) {
        log(why)
        out.append(.status(pdn: call.pdn, "last_end_reason", why))
        deconfigure()
        if disconnect && sessionUp {
            sessionUp = false
            command(.disconnect, MBIMCatalogue.Connect.cid, set: true, deactivateBody, timeout: config.timeouts.teardown)
        }
        sessionUp = false
        let delay = call.redialDelayAfterDrop(now: now, stableMs: Int64(o.stableAfterSeconds) * 1000)
        call.connectedAt = nil
        scheduleRedial(after: delay)
    }

    func dialFailed(_ why: String) {
        log("requestSetupDataCall failed: \(why)")
        out.append(.status(pdn: call.pdn, "last_end_reason", why))
        call.failures += 1
        if o.maxRetries > 0 && call.failures >= o.maxRetries {
            return fail(ExitCode.callFailed, "giving up after \(call.failures) failed dial(s) (--max-retries \(o.maxRetries)): \(why)")
        }
        scheduleRedial(after: call.nextRedialDelayMs())
    }

    func scheduleRedial(after delay: Int64) {
        call.phase = .redialWait
        setState(delay == 0 ? "reconnecting" : "reconnecting: next attempt in \(delay / 1000) s")
        arm(.redial(pdn: call.pdn), delay)
    }

    var deactivateBody: [UInt8] {
        MBIMCatalogue.Connect.set.encode([.number(UInt64(session)), .number(UInt64(MBIMCatalogue.Connect.deactivate)), .text(nil), .text(nil),
                                          .text(nil), .number(0), .number(0), .number(0), .uuid(.contextInternet)])
    }

    // MARK: indications, timers, losing the modem

    func indication(_ m: MBIMMessage) {
        guard m.service == .basicConnect, phase == .ready else { return }
        typealias C = MBIMCatalogue.Connect
        switch m.cid {
        case C.cid:
            guard case .success(let v) = C.state.decode(m.buffer), v[C.sessionID].u32 == session,
                  v[C.activationState].u32 != C.activated, call.phase == .connected || call.phase == .configuring else { return }
            let nw = v[C.nwError].u32
            callDropped("the network ended the session" + (nw != 0 ? " (network error \(MBIMNames.nwError.describe(nw)), \(nw))" : ""), disconnect: false)
        case MBIMCatalogue.Register.cid:
            if case .success(let v) = MBIMCatalogue.Register.response.decode(m.buffer) { registration(v) }
        case MBIMCatalogue.SignalState.cid:
            if case .success(let v) = MBIMCatalogue.SignalState.response.decode(m.buffer) { signal(v) }
        default:
            break
        }
    }

    func timer(_ t: Timer) {
        guard fired(t) else { return }
        switch t {
        case .reopen: open()
        case .registrationPoll:
            guard phase == .ready, !registered else { return }
            command(.register, MBIMCatalogue.Register.cid)
        case .redial:
            guard phase == .ready, call.phase == .redialWait else { return }
            call.phase = .waitingForNetwork
            if registered {
                packetServiceAsked = true
                command(.packetQuery, MBIMCatalogue.PacketService.cid)
            } else {
                setState("waiting for network registration")
                command(.register, MBIMCatalogue.Register.cid)
            }
        case .teardownLimit:
            guard phase == .stopping else { return }
            log("warning: the modem did not confirm ending the session and closing; leaving anyway")
            if exitCode == ExitCode.ok { exitCode = ExitCode.notResponding }
            finishTeardown()
        default:
            break
        }
    }

    func channelClosed(_ e: QMIError) {
        switch phase {
        case .stopping: finishTeardown()
        case .done, .idle, .waitingForDevice: return
        default:
            log("MBIM channel lost: \(e.description)")
            deconfigure()
            sessionUp = false
            dialing = false
            if call.phase != .failed { call.phase = .setup }
            cancelAllTimers()
            scheduleReopen("waiting for the modem to come back")
        }
    }

    func scheduleReopen(_ why: String) {
        phase = .waitingForDevice
        registered = false
        answerQueriesNow()
        setState("modem gone, waiting for it: \(why)")
        let delay = reopenDelayMs
        reopenDelayMs = min(reopenDelayMs * 2, 10_000)
        arm(.reopen, delay)
    }

    // MARK: teardown

    func stop(_ signal: String) {
        switch stopSignal(signal) {
        case .ignore: return
        case .begin: finish(ExitCode.ok)
        case .abandon:
            phase = .done
            abandonTeardown([call.pdn])
        }
    }

    func finish(_ code: Int32) {
        guard phase != .stopping && phase != .done else { return }
        let channelUp = phase != .idle && phase != .opening && phase != .waitingForDevice
        phase = .stopping
        exitCode = code
        cancelAllTimers()
        setState("stopping")
        deconfigure()
        guard channelUp else { return finishTeardown() }
        arm(.teardownLimit, config.timeouts.teardownLimit)
        if !dialing { teardown() }      // else: the CONNECT answer comes first, then this
    }

    func teardown() {
        if sessionUp {
            log("requestDeactivateDefaultPDP MBIM session \(session)")
            command(.disconnect, MBIMCatalogue.Connect.cid, set: true, deactivateBody, timeout: config.timeouts.teardown)
        } else {
            send(.close, MBIMMessage(kind: .close, transactionID: 0), timeout: config.timeouts.teardown)
        }
    }

    func teardownAnswered(_ step: MBIMStep) {
        guard phase == .stopping else { return }
        if step == .disconnect {
            sessionUp = false
            return send(.close, MBIMMessage(kind: .close, transactionID: 0), timeout: config.timeouts.teardown)
        }
        finishTeardown()
    }

    func finishTeardown() {
        guard phase != .done else { return }
        phase = .done
        cancelAllTimers()
        out.append(.closeChannel)
        out.append(.exit(exitCode ?? ExitCode.ok))
    }
}

extension Plans {
    /// From an MBIM IP_CONFIGURATION: the first address of each family, its gateway, DNS
    /// servers and MTU — each only where its availability bit says so, and checked like QMI's.
    static func fromMBIM(_ v: [MBIMValue], interface: String, metric: UInt32, defaultRoute: Bool) -> LinkPlan {
        typealias I = MBIMCatalogue.IPConfiguration
        let plan = LinkPlan(interface: interface, metric: metric, defaultRoute: defaultRoute)
        var dns: [IPAddress] = []
        let v4 = v[I.v4Available].u32, v6 = v[I.v6Available].u32
        if v4 & I.address != 0, let a = v[I.v4Address].addresses.first, a.address.isUsableUnicast, a.prefix >= 1 && a.prefix <= 32 {
            let gw = v4 & I.gateway != 0 ? v[I.v4Gateway].addresses.first.map { $0.address }.flatMap { $0.isUsableUnicast ? $0 : nil } : nil
            plan.ipv4 = .init(address: a.address, prefix: a.prefix, gateway: gw, routeViaGateway: false)
        }
        if v6 & I.address != 0, let a = v[I.v6Address].addresses.first, a.address.isUsableUnicast, a.prefix >= 1 && a.prefix <= 128 {
            let gw = v6 & I.gateway != 0 ? v[I.v6Gateway].addresses.first.map { $0.address }.flatMap { $0.isUsableUnicast ? $0 : nil } : nil
            plan.ipv6 = .init(address: a.address, prefix: a.prefix, gateway: gw, routeViaGateway: false)
        }
        if v4 & I.dns != 0 { dns += v[I.v4DNS].addresses.map { $0.address }.filter { $0.isUsableUnicast } }
        if v6 & I.dns != 0 { dns += v[I.v6DNS].addresses.map { $0.address }.filter { $0.isUsableUnicast } }
        let mtu = v4 & I.mtu != 0 ? v[I.v4MTU].u32 : v6 & I.mtu != 0 ? v[I.v6MTU].u32 : 0
        if mtu >= 576 && mtu <= 65535 { plan.mtu = mtu }
        plan.dns = DNSManager.usable(dns)
        return plan
    }
}

// MARK: field status

extension MBIMSession {
    /// Once ready: the modem is to report an RSSI change of 2 coded steps (4 dB), and
    /// nothing by time or error rate, so an idle connection costs no wake-ups; then the first
    /// value is read. Packet counters are read only when `qcm status` asks.
    func watchSignal() {
        typealias S = MBIMCatalogue.SignalState
        command(.signalSet, S.cid, set: true, S.set.encode([.number(0), .number(2), .number(UInt64(S.unspecified))]))
        command(.signal, S.cid)
    }

    func signal(_ v: [MBIMValue]) {
        rssi = MBIMCatalogue.SignalState.dBm(v[MBIMCatalogue.SignalState.rssi].u32)
        updateField(signalFields())
    }

    /// MBIM 1.0 has one RSSI, for the RAT the modem is on: it fills that RAT's key of the
    /// ones QMI modems fill and the bars. LTE, and 5G NSA (whose anchor is LTE), as LTE;
    /// 5G standalone has no key (QMI reports it by RSRP).
    func signalFields() -> [(String, String?)] {
        let key = dataClasses & 0x60 != 0 ? "lte_rssi_dbm" : dataClasses & 0x1c != 0 ? "wcdma_rssi_dbm"
            : dataClasses & 0x03 != 0 ? "gsm_rssi_dbm" : ""
        let shown = rssi.map { "\($0)" }
        return [("signal_bars", Signal.bars(rsrp: nil, rssi: rssi).map { "\($0)" })]
            + ["lte_rssi_dbm", "wcdma_rssi_dbm", "gsm_rssi_dbm"].map { k in (k, key.equals(k) ? shown : nil) }
    }

    /// `qcm status` asking: the counters of the session, read now (2 s at most).
    func statusQuery(_ token: Int) {
        guard phase == .ready, call.phase == .connected else { return out.append(.statusReply(token, [])) }
        queries.append(StatusQuery(token: token, waiting: 1, results: []))
        command(.statistics(query: token), MBIMCatalogue.PacketStatistics.cid, timeout: 2000)
    }

    func statistics(_ token: Int, _ r: Result<MBIMMessage, MBIMError>) {
        typealias P = MBIMCatalogue.PacketStatistics
        guard case .success = r, let v = values(P.response, r) else { return queryAnswered(token, []) }
        let counters = [("tx_bytes", P.outOctets), ("rx_bytes", P.inOctets), ("tx_packets", P.outPackets),
                        ("rx_packets", P.inPackets), ("tx_dropped", P.outDiscards), ("rx_dropped", P.inDiscards)]
        queryAnswered(token, counters.map { (call.pdn, $0.0, "\(v[$0.1].number)") })
    }
}
#endif
