import Base
import CSystem
import DHCPClient
import LinkConfig
import QMICore
import QMIMessages

/// The data-call lifecycle as a state machine without I/O: open the QMI channel, sync,
/// allocate clients, check the SIM, set the data format and profiles, wait for
/// registration, start the network per PDN and IP family, configure the link — then keep
/// every call up across drops, modem resets, lost frames and the device going away, and
/// tear everything down cleanly on SIGINT/SIGTERM.
///
/// Events come in through `handle(_:now:)` and actions go out (Machine.swift); the Runner
/// does the I/O. The session (channel, client ids, SIM, registration) is shared; each PDN
/// is a `Call` with its own WDS clients, handles, link and redial schedule.
final class Connection {
    struct Config {
        let options: Options
        /// The channel as shown in the log and status ("/dev/cdc-wdm0", "@qmi-proxy").
        let channel: String
        /// The modem's QMI device, which a qmi-proxy is asked to open.
        let device: String
        let viaProxy: Bool
        let netdev: String?
        /// What discovery read from qmi/raw_ip (nil: the driver does not say).
        let rawIP: Bool?
        /// qmi_wwan's qmi/raw_ip exists: the driver can be switched to raw-IP.
        let rawIPSwitchable: Bool
        let driver: String?
        let timeouts: Timeouts
    }

    struct Timeouts {
        var request: Int64 = 10_000
        var sync: Int64 = 5_000
        var startNetwork: Int64 = 60_000
        var teardown: Int64 = 1_000
        var teardownLimit: Int64 = 2_500

        /// All of them at most `ms` (QCM_QMI_TIMEOUT_MS, for tests of a modem that stops answering).
        func capped(_ ms: Int64) -> Timeouts {
            Timeouts(request: min(request, ms), sync: min(sync, ms), startNetwork: min(startNetwork, ms),
                     teardown: min(teardown, ms), teardownLimit: teardownLimit)
        }
    }

    enum Phase: Equatable {
        case idle, opening, proxyOpening, syncing, allocating, inquiring, verifyingPIN, switchingRawIP, preparing
        /// Set up: each call goes its own way.
        case ready
        case waitingForDevice
        case stopping
        case done
    }

    let config: Config
    var o: Options { config.options }
    let calls: [Call]

    private(set) var phase = Phase.idle
    /// Requests of the current setup step still unanswered.
    var pending: [Request] = []
    /// Problems met in the current setup step.
    var problems: [String] = []
    /// Every client id this session holds, released at the end.
    var clients: [(service: QMIService, cid: UInt8)] = []
    var dms: UInt8?, nas: UInt8?, uim: UInt8?, wda: UInt8?
    var sim = SIM.unknown
    var pinVerified = false
    var registered = false
    /// The session was set up once: later failures wait for the modem instead of exiting.
    var initializedOnce = false
    /// The data format is 802.3 (DHCP on the link) rather than raw-IP.
    var ethernet = false
    var wantRawIP = true
    var reopenDelayMs: Int64 = 1000
    var stopRequestedAt: Int64?
    var exitCode: Int32?
    var teardownProblems: [String] = []
    var armed: [Timer] = []
    var recheckInFlight = false

    /// Requests that timed out since the modem last answered one, and the last of them:
    /// the modem may have stopped answering.
    var timeoutsSinceAnswer = 0
    var lastTimeout = ""
    /// The next step of the escalating recovery (see `recover`).
    var recoveryStep = 0

    /// Actions collected while handling one event.
    private var out: [Action] = []
    private(set) var now: Int64 = 0

    init(_ config: Config) {
        self.config = config
        calls = config.options.pdns.map { Call($0) }
    }

    /// Feeds one event; returns what to do, in order.
    func handle(_ event: Event, now: Int64) -> [Action] {
        self.now = now
        out = []
        switch event {
        case .start: start()
        case .channelOpened: channelOpened()
        case .channelOpenFailed(let e): channelOpenFailed(e)
        case let .response(r, result): response(r, result)
        case .indication(let m): indication(m)
        case .timer(let t): timer(t)
        case .channelClosed(let e): channelClosed(e)
        case .frameDiscarded: frameDiscarded()
        case .rawIPSwitched(let ok): rawIPSwitched(ok)
        case let .linkApplied(pdn, result): linkApplied(pdn, result)
        case let .dhcp(pdn, e): dhcp(pdn, e)
        case .stop(let signal): stop(signal: signal)
        }
        return out
    }

    // MARK: helpers

    func log(_ s: String) { out.append(.log(s)) }

    func send(_ r: Request, _ m: some QMITypedMessage, timeout: Int64? = nil) {
        if let p = m.problem {
            // A value the catalogue cannot encode: the request fails here, like a bad answer would.
            response(r, .failure(p))
            return
        }
        out.append(.send(r, m.message, timeoutMs: timeout ?? config.timeouts.request))
    }

    func arm(_ t: Timer, _ ms: Int64) {
        cancel(t)
        armed.append(t)
        out.append(.arm(t, ms: ms))
    }

    func cancel(_ t: Timer) {
        guard armed.contains(t) else { return }
        armed.removeAll { $0 == t }
        out.append(.cancel(t))
    }

    func cancelAllTimers() {
        for t in armed { out.append(.cancel(t)) }
        armed.removeAll()
    }

    func call(_ pdn: Int) -> Call? { calls.first { $0.pdn == pdn } }

    func setState(_ call: Call?, _ text: String) { out.append(.state(pdn: call?.pdn, text)) }

    /// Waits for every request in `requests` (the current setup step).
    func expect(_ r: Request) { pending.append(r) }

    /// Marks `r` answered; true when it belonged to the current step.
    func answered(_ r: Request) -> Bool {
        guard let i = pending.firstIndex(of: r) else { return false }
        pending.remove(at: i)
        return true
    }

    /// Fatal: log, leave the modem clean (calls stopped, clients released), exit with `code`.
    func fail(_ code: Int32, _ message: String) {
        log(message)
        out.append(.status(pdn: nil, "last_error", message))
        finish(code)
    }

    // MARK: open, sync, clients

    func start() {
        setState(nil, "starting")
        for c in calls { out.append(.status(pdn: c.pdn, "apn", c.options.apn)) }
        open()
    }

    func open() {
        phase = .opening
        out.append(.openChannel)
    }

    func channelOpened() {
        guard phase == .opening else { return }
        setState(nil, "initializing")
        if config.viaProxy {
            phase = .proxyOpening
            var r = CTL.InternalProxyOpen.Request()
            r.devicePath = config.device
            send(.proxyOpen, r, timeout: config.timeouts.sync)
        } else {
            sync()
        }
    }

    func channelOpenFailed(_ e: QMIError) {
        guard phase == .opening else { return }
        if initializedOnce {
            scheduleReopen("cannot open \(config.channel): \(e.description)")
            return
        }
        var msg = "cannot open the QMI channel \(config.channel): \(e.description)"
        if config.viaProxy { msg += " (is qmi-proxy running? it starts with: /usr/libexec/qmi-proxy)" }
        var code = ExitCode.notResponding
        if case let .system(_, errno) = e, errno == EACCES || errno == EPERM {
            code = ExitCode.permission
            msg += " (qcm needs read and write access to it: run as root, or as a user of its group)"
        }
        fail(code, msg)
    }

    /// A setup step failed: fatal the first time; later the modem is waited for.
    func initFailed(_ message: String, code: Int32 = ExitCode.notResponding) {
        if initializedOnce {
            log(message)
            if timeoutsSinceAnswer > 0 { return recover(after: message) }
            dropSession()
            scheduleReopen(message)
        } else {
            fail(code, message)
        }
    }

    /// CTL Sync drops every client id on the modem: the ones a killed qcm left behind.
    /// Through qmi-proxy it would drop other programs' clients too, so it is not sent there.
    func sync() {
        phase = .syncing
        send(.sync, CTL.Sync.Request(), timeout: config.timeouts.sync)
    }

    func allocateAll() {
        phase = .allocating
        pending = []
        problems = []
        clients.removeAll()
        dms = nil; nas = nil; uim = nil; wda = nil
        for c in calls where c.phase != .failed {
            c.forget()
            for f in c.options.families { allocate(.wds, pdn: c.pdn, family: f) }
        }
        for s in [QMIService.dms, .nas, .uim, .wda] { allocate(s, pdn: 0, family: 0) }
    }

    func allocate(_ service: QMIService, pdn: Int, family: UInt8) {
        var r = CTL.AllocateClientID.Request()
        r.service = service
        let tag = Request.allocate(service, pdn: pdn, family: family)
        expect(tag)
        send(tag, r)
    }

    func allocated(_ service: QMIService, pdn: Int, family: UInt8, _ result: Result<QMIMessage, QMIError>) {
        let step = answered(.allocate(service, pdn: pdn, family: family))
        let r = result.map { CTL.AllocateClientID.Response($0) }
        guard case .success(let resp) = r, resp.result?.ok == true, let a = resp.allocation else {
            var why = "\(service.name): " + failure(result)
            if case .success(let m) = result, m.result?.error == QMIErrorCode.clientIdsExhausted {
                why += " (the modem ran out of client ids; they are normally freed by the CTL Sync qcm sends — power-cycle the modem)"
            }
            if service == .uim || service == .wda {
                log("no \(service.name) client (\(failure(result))); continuing without it")
            } else {
                problems.append(why)
            }
            if step { allocationsDone() }
            return
        }
        clients.append((service, a.clientID))
        log("Get client\(service.name) = \(a.clientID)")
        switch service {
        case .dms: dms = a.clientID
        case .nas: nas = a.clientID
        case .uim: uim = a.clientID
        case .wda: wda = a.clientID
        default: call(pdn)?.wds[family] = a.clientID
        }
        if step { allocationsDone() } else if phase == .ready, let c = call(pdn), c.phase == .redialWait || c.phase == .waitingForNetwork {
            // A client re-allocated after the modem revoked it: the call can be dialed again.
            log("client\(service.name) \(a.clientID) replaces the revoked one")
        }
    }

    func allocationsDone() {
        guard pending.isEmpty, phase == .allocating else { return }
        if !problems.isEmpty || dms == nil || nas == nil {
            return initFailed("cannot get QMI client ids: " + problems.joined(separator: "; "))
        }
        inquire()
    }

    /// The text of a failed request: its error, or the modem's result code.
    func failure(_ result: Result<QMIMessage, QMIError>) -> String {
        switch result {
        case .failure(let e): return e.description
        case .success(let m): return m.result?.description ?? "no result in the response"
        }
    }

    // MARK: facts

    /// Independent queries, all at once: revision, IMEI, SIM, registration, call state, profile.
    func inquire() {
        phase = .inquiring
        pending = []
        expect(.revision)
        send(.revision, DMS.GetRevision.Request(clientID: dms ?? 0))
        expect(.ids)
        send(.ids, DMS.GetIDs.Request(clientID: dms ?? 0))
        if let u = uim {
            expect(.cardStatus)
            send(.cardStatus, UIM.GetCardStatus.Request(clientID: u))
        } else {
            expect(.pinStatus)
            send(.pinStatus, DMS.UIMGetPINStatus.Request(clientID: dms ?? 0))
        }
        expect(.servingSystem)
        send(.servingSystem, NAS.GetServingSystem.Request(clientID: nas ?? 0))
        for c in calls where c.phase != .failed {
            c.staleFamilies = []
            c.profileSettings = nil
            c.profileMissing = false
            for (f, cid) in c.wds.pairs {
                expect(.packetStatus(pdn: c.pdn, family: f))
                send(.packetStatus(pdn: c.pdn, family: f), WDS.GetPacketServiceStatus.Request(clientID: cid))
            }
            if let cid = c.clientIDs.first {
                var r = WDS.GetProfileSettings.Request(clientID: cid)
                r.profileIdentifier = WDS.ProfileIdentifier(profileType: .`3gpp`, profileIndex: UInt8(c.profile))
                expect(.readProfile(pdn: c.pdn))
                send(.readProfile(pdn: c.pdn), r)
            }
        }
    }

    func factsDone() {
        guard pending.isEmpty, phase == .inquiring else { return }
        switch sim.decide(pin: o.pin, verified: pinVerified) {
        case .proceed: prepare()
        case .fail(let why): fail(ExitCode.sim, why)
        case .verify(let pin): verifyPIN(pin)
        }
    }

    func verifyPIN(_ pin: String) {
        phase = .verifyingPIN
        setState(nil, "verifying SIM PIN")
        pinVerified = true
        log("verifying the SIM PIN (***)")
        if let u = uim {
            var r = UIM.VerifyPIN.Request(clientID: u)
            r.session = UIM.VerifyPIN.Session(sessionType: .primaryGwProvisioning, applicationIdentifier: [])
            r.info = UIM.VerifyPIN.Info(pinID: .pin1, pin: pin)
            send(.verifyPIN, r)
        } else {
            var r = DMS.UIMVerifyPIN.Request(clientID: dms ?? 0)
            r.info = DMS.UIMVerifyPIN.Info(pinID: .pin, pin: pin)
            send(.verifyPIN, r)
        }
    }

    func pinVerified(_ result: Result<QMIMessage, QMIError>) {
        guard phase == .verifyingPIN else { return }
        switch result {
        case .failure(let e):
            fail(ExitCode.sim, "PIN verification failed: \(e.description)")
        case .success(let m):
            if let res = m.result, !res.ok {
                let left = uim != nil ? UIM.VerifyPIN.Response(m).retries?.verifyRetriesLeft
                                      : DMS.UIMVerifyPIN.Response(m).retries?.verifyRetriesLeft
                var msg = "wrong SIM PIN (\(QMIErrorCode.name(res.error)))"
                if let l = left { msg += ", \(l) attempt(s) left" }
                msg += "; qcm does not retry it"
                return fail(ExitCode.sim, msg)
            }
            log("SIM PIN accepted")
            sim = .ready
            prepare()
        }
    }

    // MARK: data format, profiles, stale calls

    func prepare() {
        // raw-IP where the driver does it; qmi_wwan in 802.3 mode is switched first.
        wantRawIP = config.rawIP ?? !(config.driver?.equals("GobiNet") ?? false)
        if config.rawIP == false && config.rawIPSwitchable {
            phase = .switchingRawIP
            out.append(.switchRawIP)
            return
        }
        sendPreparation()
    }

    func rawIPSwitched(_ ok: Bool) {
        guard phase == .switchingRawIP else { return }
        let dev = config.netdev ?? "the netdev"
        if ok {
            log("\(dev): switched the driver to raw-IP (\(o.sysRoot)/class/net/\(dev)/qmi/raw_ip = Y)")
            wantRawIP = true
        } else {
            log("\(dev): could not set \(o.sysRoot)/class/net/\(dev)/qmi/raw_ip (the link must be down); using 802.3")
            wantRawIP = false
        }
        sendPreparation()
    }

    func sendPreparation() {
        phase = .preparing
        pending = []
        ethernet = !wantRawIP
        if let w = wda {
            var r = WDA.SetDataFormat.Request(clientID: w)
            r.qosFormat = false
            r.linkLayerProtocol = wantRawIP ? .rawIp : .`8023`
            r.uplinkDataAggregationProtocol = .disabled
            r.downlinkDataAggregationProtocol = .disabled
            expect(.dataFormat)
            send(.dataFormat, r)
        }
        for c in calls where c.phase != .failed {
            prepareProfile(c)
            if let v6 = c.wds[6] {
                var r = WDS.SetIPFamily.Request(clientID: v6)
                r.preference = .ipv6
                expect(.setIPFamily(pdn: c.pdn, family: 6))
                send(.setIPFamily(pdn: c.pdn, family: 6), r)
            }
            // A call left up by an instance that was killed (-9): stop it, then dial afresh.
            for f in c.staleFamilies {
                guard let cid = c.wds[f] else { continue }
                log("a data call (IPv\(f)) is already up, probably left by a qcm that was killed; stopping it")
                var r = WDS.StopNetwork.Request(clientID: cid)
                r.packetDataHandle = 0xffff_ffff
                expect(.stopStale(pdn: c.pdn, family: f))
                send(.stopStale(pdn: c.pdn, family: f), r)
            }
        }
        preparationDone()
    }

    /// The profile: created when it does not exist, rewritten only when APN, user,
    /// password or authentication differ from what it holds.
    func prepareProfile(_ c: Call) {
        guard let apn = c.options.apn, let cid = c.clientIDs.first else { return }
        let user = c.options.user ?? "", password = c.options.password ?? ""
        let auth = c.options.effectiveAuth
        let line = "\(apn)/\(user)/\(password.isEmpty ? "" : "***")/\(auth)"
        if c.profileMissing {
            log("requestCreateProfile[\(c.profile)] \(line): profile \(c.profile) does not exist; creating it")
            var r = WDS.CreateProfile.Request(clientID: cid)
            r.profileType = .`3gpp`
            r.apnName = apn
            r.username = user
            r.password = password
            r.authentication = WDS.Authentication(rawValue: auth)
            expect(.createProfile(pdn: c.pdn))
            send(.createProfile(pdn: c.pdn), r)
            return
        }
        if let have = c.profileSettings, (have.apnName ?? "").equals(apn), (have.username ?? "").equals(user),
           (have.password ?? "").equals(password), (have.authentication?.rawValue ?? 0) == auth {
            return
        }
        log("requestSetProfile[\(c.profile)] \(line)")
        var r = WDS.ModifyProfile.Request(clientID: cid)
        r.profileIdentifier = WDS.ProfileIdentifier(profileType: .`3gpp`, profileIndex: UInt8(c.profile))
        r.apnName = apn
        r.username = user
        r.password = password
        r.authentication = WDS.Authentication(rawValue: auth)
        expect(.modifyProfile(pdn: c.pdn))
        send(.modifyProfile(pdn: c.pdn), r)
    }

    func preparationDone() {
        guard pending.isEmpty, phase == .preparing else { return }
        phase = .ready
        initializedOnce = true
        reopenDelayMs = 1000
        for c in calls where c.phase == .setup { waitForNetwork(c) }
    }

    // MARK: registration

    func waitForNetwork(_ c: Call) {
        if registered { return dial(c) }
        c.phase = .waitingForNetwork
        setState(c, "waiting for network registration")
        log("waiting for the modem to attach to the packet network")
        // The serving-system indication normally tells; a slow re-query covers modems that
        // do not send it (only while unregistered).
        if !armed.contains(.registrationPoll) { arm(.registrationPoll, 30_000) }
    }

    /// A serving-system response or indication: registered and attached for packet data?
    func servingSystem(_ ss: NAS.GetServingSystem.ServingSystem?, plmn: NAS.GetServingSystem.CurrentPLMN?, caps: [NAS.DataCapability]?,
                       roaming: NAS.RoamingIndicator?, isResponse: Bool) {
        guard let ss else { return }
        let ps = ss.psAttachState == .attached
        let was = registered
        registered = ss.registrationState == .registered && ps
        let cap = caps?.last.map { Text.uppercasedASCII($0.name) } ?? "NONE"
        if registered != was || isResponse {
            log("requestRegistrationState2 MCC: \(plmn?.mcc ?? 0), MNC: \(plmn?.mnc ?? 0), PS: \(ps ? "Attached" : "Detached"), DataCap: \(cap)"
                + (roaming == .on ? " (roaming)" : ""))
        }
        if registered && !was && phase == .ready {
            cancel(.registrationPoll)
            for c in calls where c.phase == .waitingForNetwork { dial(c) }
        }
        if !registered && was && calls.contains(where: { $0.phase == .connected }) {
            log("lost network registration; the call will follow")
        }
    }

    // MARK: dial

    func dial(_ c: Call) {
        cancel(.redial(pdn: c.pdn))
        // A client the modem revoked is allocated again first.
        let missing = c.options.families.filter { c.wds[$0] == nil }
        if !missing.isEmpty {
            c.phase = .redialWait
            for f in missing where !pending.contains(.allocate(.wds, pdn: c.pdn, family: f)) {
                var r = CTL.AllocateClientID.Request()
                r.service = .wds
                send(.allocate(.wds, pdn: c.pdn, family: f), r)
            }
            return
        }
        c.phase = .dialing
        setState(c, "dialing")
        c.started.removeAll()
        c.dialErrors = []
        for f in c.options.families {
            guard let cid = c.wds[f] else { continue }
            var r = WDS.StartNetwork.Request(clientID: cid)
            r.profileIndex3GPP = UInt8(c.profile)
            r.ipFamilyPreference = WDS.IpFamily(rawValue: f)
            if let apn = c.options.apn, !apn.isEmpty { r.apn = apn }
            if let a = c.options.auth { r.authenticationPreference = WDS.Authentication(rawValue: a) }
            if let u = c.options.user, !u.isEmpty { r.username = u }
            if let p = c.options.password, !p.isEmpty { r.password = p }
            send(.start(pdn: c.pdn, family: f), r, timeout: config.timeouts.startNetwork)
        }
    }

    var dialInFlight: Bool { calls.contains { $0.phase == .dialing } }

    func started(_ c: Call, family f: UInt8, _ result: Result<QMIMessage, QMIError>) {
        guard c.phase == .dialing || phase == .stopping else { return }
        switch result {
        case .failure(let e):
            c.dialErrors.append("IPv\(f): \(e.description)")
        case .success(let m):
            let r = WDS.StartNetwork.Response(m)
            let handle = r.packetDataHandle
            if let res = r.result, !res.ok {
                if res.error == QMIErrorCode.noEffect, let h = handle {
                    log("requestSetupDataCall IPv\(f): already connected (NoEffect)")
                    c.started[f] = h
                } else {
                    c.dialErrors.append("IPv\(f): \(QMIErrorCode.name(res.error))" + Connection.endReason(r.callEndReason, r.verboseCallEndReason))
                }
            } else if let h = handle {
                c.started[f] = h
                log("requestSetupDataCall WdsConnectionIPv\(f)Handle: 0x\(Text.hex(h, 8))")
            } else {
                c.dialErrors.append("IPv\(f): no packet data handle in the response")
            }
        }
        // Wait for every family.
        let answered = c.started.count + c.dialErrors.count
        guard answered >= c.options.families.filter({ c.wds[$0] != nil }).count else { return }
        c.handles = c.started
        if phase == .stopping {
            // SIGTERM arrived while the modem was bringing the call up: stop what came up.
            c.phase = .setup
            if teardownStarted {
                // Too late for the teardown's own round: stop it now, without waiting.
                for (fam, h) in c.handles.pairs { stopCall(c, family: fam, handle: h, timeout: config.timeouts.teardown) }
                c.handles.removeAll()
            } else if !dialInFlight {
                teardown()
            }
            return
        }
        if c.dialErrors.isEmpty {
            c.phase = .configuring
            requestSettings(c)
        } else {
            // Leave nothing half up: stop the families that did come up.
            for (fam, h) in c.handles.pairs { stopCall(c, family: fam, handle: h, timeout: config.timeouts.request) }
            c.handles.removeAll()
            dialFailed(c, c.dialErrors.joined(separator: "; "))
        }
    }

    static func endReason(_ reason: WDS.CallEndReason?, _ verbose: WDS.VerboseCallEndReason?) -> String {
        var parts: [String] = []
        if let r = reason { parts.append("call end reason " + CallEndReason.name(r.rawValue)) }
        if let v = verbose {
            parts.append("verbose " + CallEndReason.verboseName(type: v.type.rawValue, reason: v.reason))
        }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }

    func stopCall(_ c: Call, family: UInt8, handle: UInt32, timeout: Int64) {
        guard let cid = c.wds[family] else { return }
        var r = WDS.StopNetwork.Request(clientID: cid)
        r.packetDataHandle = handle
        send(.stop(pdn: c.pdn, family: family), r, timeout: timeout)
    }

    func dialFailed(_ c: Call, _ why: String) {
        log("requestSetupDataCall failed: \(why)")
        out.append(.status(pdn: c.pdn, "last_end_reason", why))
        c.failures += 1
        if o.maxRetries > 0 && c.failures >= o.maxRetries {
            let msg = "giving up after \(c.failures) failed dial(s) (--max-retries \(o.maxRetries)): \(why)"
            if calls.filter({ $0.phase != .failed && $0 !== c }).isEmpty { return fail(ExitCode.callFailed, msg) }
            log("PDN \(c.pdn): " + msg)
            c.phase = .failed
            setState(c, "gave up: \(why)")
            return
        }
        scheduleRedial(c)
    }

    func scheduleRedial(_ c: Call) {
        let delay = c.nextRedialDelayMs()
        c.phase = .redialWait
        setState(c, "reconnecting: next attempt in \(delay / 1000) s")
        log(delay == 0 ? "redialing at once" : "redialing in \(delay) ms")
        arm(.redial(pdn: c.pdn), delay)
    }

    // MARK: runtime settings and the link

    func requestSettings(_ c: Call) {
        setState(c, "configuring the link")
        c.settings.removeAll()
        c.settingsProblem = nil
        for (f, cid) in c.wds.pairs where c.handles[f] != nil {
            var r = WDS.GetRuntimeSettings.Request(clientID: cid)
            r.requestedSettings = [.dnsAddress, .ipAddress, .gatewayInfo, .mtu, .domainNameList, .ipFamily]
            send(.runtimeSettings(pdn: c.pdn, family: f), r)
        }
    }

    func settingsArrived(_ c: Call, family f: UInt8, _ result: Result<QMIMessage, QMIError>) {
        guard c.phase == .configuring else { return }
        switch result {
        case .failure(let e): c.settingsProblem = e.description
        case .success(let m):
            if let res = m.result, !res.ok { c.settingsProblem = "\(WDS.GetRuntimeSettings.spec.fullName) failed: \(res.description)" }
            else { c.settings[f] = WDS.GetRuntimeSettings.Response(m) }
        }
        let expected = c.handles.pairs.count
        guard c.settings.count + (c.settingsProblem == nil ? 0 : 1) >= expected || c.settingsProblem != nil else { return }
        if c.settings.count < expected && c.settingsProblem == nil { return }
        if let p = c.settingsProblem { return callDropped(c, "runtime settings: \(p)", stop: true) }
        configure(c)
    }

    func configure(_ c: Call) {
        guard !o.noLink else { return connected(c, nil) }
        guard let dev = config.netdev else {
            log("no network interface known for this modem: link configuration skipped (use -i IFACE)")
            return connected(c, nil)
        }
        if ethernet && !o.noDHCP && c.settings[4] != nil {
            log("DHCP on \(dev) (802.3 link)")
            out.append(.startDHCP(pdn: c.pdn))
            return
        }
        let plan = Plans.fromRuntime(ipv4: c.settings[4], ipv6: c.settings[6], interface: dev, metric: o.metric,
                                     ethernet: ethernet, defaultRoute: c.options.defaultRoute)
        out.append(.applyLink(pdn: c.pdn, plan, leaseSeconds: nil, renew: false))
    }

    func linkApplied(_ pdn: Int, _ result: Result<LinkPlan, LinkError>) {
        guard let c = call(pdn), phase != .stopping else { return }
        switch result {
        case .success(let plan):
            if c.phase == .connected {
                c.plan = plan
                statusAddresses(c, plan)
            } else if c.phase == .configuring {
                connected(c, plan)
            }
        case .failure(let e):
            var msg = "link configuration failed: \(e.description)"
            let denied = e.errno == EPERM || e.errno == EACCES
            if denied { msg += " (qcm needs root or CAP_NET_ADMIN to configure \(config.netdev ?? "the interface"))" }
            fail(denied ? ExitCode.permission : ExitCode.link, msg)
        }
    }

    func dhcp(_ pdn: Int, _ e: DHCPEvent) {
        guard let c = call(pdn), let dev = config.netdev, phase != .stopping else { return }
        switch e {
        case .bound(let lease), .renewed(_, let lease):
            log("DHCP lease \(lease.summary)")
            var renew = false
            if case .renewed = e { renew = true }
            out.append(.applyLink(pdn: pdn, Plans.fromLease(lease, interface: dev, metric: o.metric, defaultRoute: c.options.defaultRoute),
                                  leaseSeconds: lease.leaseSeconds, renew: renew))
        case .expired(let lease):
            log("DHCP lease of \(IPAddress(ipv4: lease.address).text) expired")
            out.append(.deconfigureLink(pdn: pdn, release: false))
        case .nak(let msg):
            log("DHCP NAK" + (msg.map { ": \($0)" } ?? ""))
        case .leaseFailed(let n):
            log("no DHCP lease after \(n) DISCOVERs; still trying")
        }
    }

    func connected(_ c: Call, _ plan: LinkPlan?) {
        c.plan = plan
        c.phase = .connected
        c.failures = 0
        c.connectedAt = now
        if o.stableAfterSeconds == 0 { c.backoff = 0 }
        recoveryStep = 0
        if let p = plan { statusAddresses(c, p) }
        let detail = plan.map { Plans.describe($0) }
        let summary = "connected" + (detail.map { " (\($0))" } ?? "")
        log(summary)
        setState(c, "connected" + (detail.map { ": \($0)" } ?? ""))
        out.append(.connected(pdn: c.pdn, summary: summary))
    }

    func statusAddresses(_ c: Call, _ p: LinkPlan) {
        out.append(.status(pdn: c.pdn, "ipv4", p.ipv4.map { "\($0.address.text)/\($0.prefix)" }))
        out.append(.status(pdn: c.pdn, "ipv6", p.ipv6.map { "\($0.address.text)/\($0.prefix)" }))
        out.append(.status(pdn: c.pdn, "dns", p.dns.map { $0.text }.joined(separator: " ")))
    }

    func deconfigure(_ c: Call, release: Bool) {
        if c.plan != nil || c.phase == .connected || c.phase == .configuring {
            out.append(.deconfigureLink(pdn: c.pdn, release: release))
        }
        c.plan = nil
        for k in ["connected_since", "ipv4", "ipv6", "dns"] { out.append(.status(pdn: c.pdn, k, nil)) }
    }

    // MARK: drops

    /// The call is gone: deconfigure, log the reason, redial — at once after a call that
    /// had been up long enough, then with backoff (a network that drops every call at once
    /// is not redialed in a tight loop).
    func callDropped(_ c: Call, _ why: String, stop: Bool) {
        log(why)
        if let t = c.connectedAt, now - t >= Int64(o.stableAfterSeconds) * 1000 { c.backoff = 0 }
        c.connectedAt = nil
        out.append(.status(pdn: c.pdn, "last_end_reason", why))
        deconfigure(c, release: false)
        if stop {
            for (f, h) in c.handles.pairs { stopCall(c, family: f, handle: h, timeout: config.timeouts.request) }
        }
        c.handles.removeAll()
        scheduleRedial(c)
    }

    /// A lost frame may have been the indication that a call ended: ask each connected call.
    func frameDiscarded() {
        guard phase == .ready, !recheckInFlight else { return }
        var asked = false
        for c in calls where c.phase == .connected {
            for (f, cid) in c.wds.pairs where c.handles[f] != nil {
                send(.recheck(pdn: c.pdn, family: f), WDS.GetPacketServiceStatus.Request(clientID: cid), timeout: 1000)
                asked = true
            }
        }
        if asked {
            recheckInFlight = true
            log("a frame from the modem was discarded: checking the call state")
        }
    }

    func rechecked(_ c: Call, family f: UInt8, _ result: Result<QMIMessage, QMIError>) {
        recheckInFlight = false
        guard c.phase == .connected, case .success(let m) = result else { return }
        let status = WDS.GetPacketServiceStatus.Response(m).connectionStatus
        if status != .connected {
            callDropped(c, "the IPv\(f) call is no longer up (a lost frame hid the network's indication)", stop: false)
        }
    }

    // MARK: responses

    func response(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        if case .failure(.timeout(let what, _)) = result {
            timeoutsSinceAnswer += 1
            lastTimeout = what
        } else if case .success = result {
            timeoutsSinceAnswer = 0
        }
        switch r {
        case .proxyOpen:
            guard phase == .proxyOpening else { return }
            if case .failure(let e) = result { return initFailed("qmi-proxy did not open \(config.device): \(e.description)") }
            if case .success(let m) = result, let res = m.result, !res.ok {
                return initFailed("qmi-proxy refused \(config.device): \(res.description)")
            }
            allocateAll()
        case .sync:
            guard phase == .syncing else { return }
            if case .failure(let e) = result {
                return initFailed("the modem does not answer on \(config.channel) (\(e.description)). Is another program (ModemManager, quectel-CM) using it, or is the modem still booting?")
            }
            allocateAll()
        case let .allocate(service, pdn, family):
            allocated(service, pdn: pdn, family: family, result)
        case .release:
            releaseAnswered(result)
        case .revision:
            if case .success(let m) = result, let rev = DMS.GetRevision.Response(m).revision {
                log("requestBaseBandVersion \(rev)")
                out.append(.status(pdn: nil, "revision", rev))
            }
            if answered(r) { factsDone() }
        case .ids:
            if case .success(let m) = result, let imei = DMS.GetIDs.Response(m).imei { out.append(.status(pdn: nil, "imei", imei)) }
            if answered(r) { factsDone() }
        case .cardStatus, .pinStatus:
            readSIM(r, result)
            if answered(r) { factsDone() }
        case .servingSystem:
            if case .success(let m) = result {
                let v = NAS.GetServingSystem.Response(m)
                servingSystem(v.servingSystem, plmn: v.currentPLMN, caps: v.dataServiceCapability, roaming: v.roamingIndicator, isResponse: true)
            }
            if answered(r) { factsDone() } else if phase == .ready && !registered { arm(.registrationPoll, 30_000) }
        case let .packetStatus(pdn, family):
            if let c = call(pdn), case .success(let m) = result {
                let up = WDS.GetPacketServiceStatus.Response(m).connectionStatus == .connected
                log("requestQueryDataCall IPv\(family)ConnectionStatus: \(up ? "CONNECTED" : "DISCONNECTED")")
                if up { c.staleFamilies.append(family) }
            }
            if answered(r) { factsDone() }
        case let .readProfile(pdn):
            if let c = call(pdn) { profileRead(c, result) }
            if answered(r) { factsDone() }
        case .verifyPIN:
            pinVerified(result)
        case .dataFormat:
            dataFormatSet(result)
            if answered(r) { preparationDone() }
        case let .createProfile(pdn):
            if let c = call(pdn) { profileCreated(c, result) }
            if answered(r) { preparationDone() }
        case .modifyProfile:
            if case .failure(let e) = result { log("requestSetProfile failed: \(e.description)") }
            else if case .success(let m) = result, let res = m.result, !res.ok { log("requestSetProfile failed: \(res.description)") }
            if answered(r) { preparationDone() }
        case .setIPFamily, .stopStale:
            if answered(r) { preparationDone() }
        case let .start(pdn, family):
            if let c = call(pdn) { started(c, family: family, result) }
        case .stop:
            stopAnswered(result)
        case let .runtimeSettings(pdn, family):
            if let c = call(pdn) { settingsArrived(c, family: family, result) }
        case let .recheck(pdn, family):
            if let c = call(pdn) { rechecked(c, family: family, result) }
        case .radio:
            radioAnswered(r, result)
        }
    }

    func readSIM(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result else {
            sim = .unknown
            log("requestGetSIMStatus: card status unavailable")
            return
        }
        sim = r == .cardStatus ? SIM.from(UIM.GetCardStatus.Response(m)) : SIM.from(DMS.UIMGetPINStatus.Response(m))
        if sim == .unknown && r == .cardStatus { log("requestGetSIMStatus: card status unavailable"); return }
        log("requestGetSIMStatus SIMStatus: \(sim.logName)")
    }

    func profileRead(_ c: Call, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result else {
            log("requestGetProfile[\(c.profile)]: profile \(c.profile) cannot be read")
            return
        }
        let r = WDS.GetProfileSettings.Response(m)
        if let res = r.result, !res.ok {
            // "Context not defined" (or an invalid number): the profile does not exist yet.
            let ext = r.extendedErrorCode
            if ext == .`3gppContextNotDefined` || ext == .invalidProfileNumber || res.error == QMIErrorCode.invalidProfile {
                c.profileMissing = true
                log("requestGetProfile[\(c.profile)]: profile \(c.profile) does not exist")
            } else {
                log("requestGetProfile[\(c.profile)]: profile \(c.profile) cannot be read")
            }
            return
        }
        c.profileSettings = r
        log("requestGetProfile[\(c.profile)] \(r.apnName ?? "")/\(r.username ?? "")/\((r.password ?? "").isEmpty ? "" : "***")/\(r.authentication?.rawValue ?? 0)")
    }

    func profileCreated(_ c: Call, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result, m.result?.ok == true, let id = WDS.CreateProfile.Response(m).profileIdentifier else {
            log("requestCreateProfile[\(c.profile)] failed: \(failure(result)); the dial will name profile \(c.profile) anyway")
            return
        }
        let made = Int(id.profileIndex)
        if made != c.profile {
            log("requestCreateProfile: the modem created profile \(made) (asked for \(c.profile)); dialing with profile \(made)")
            c.profile = made
        } else {
            log("requestCreateProfile: profile \(made) created")
        }
    }

    func dataFormatSet(_ result: Result<QMIMessage, QMIError>) {
        if case .success(let m) = result, m.result?.ok == true, let p = WDA.SetDataFormat.Response(m).linkLayerProtocol {
            ethernet = p == .`8023`
            log("requestSetEthMode: \(p == .rawIp ? "raw-IP" : "802.3")")
        } else {
            ethernet = !wantRawIP
            log("requestSetEthMode: the modem did not confirm the data format; assuming \(wantRawIP ? "raw-IP" : "802.3")")
        }
    }

    // MARK: indications

    func indication(_ m: QMIMessage) {
        switch m.service {
        case .wds where m.messageID == WDS.GetPacketServiceStatus.id:
            let ind = WDS.GetPacketServiceStatus.Indication(m)
            guard ind.connectionStatus?.status == .disconnected, phase == .ready,
                  let c = calls.first(where: { $0.family(ofClient: m.clientID) != nil }),
                  c.phase == .connected || c.phase == .configuring, !c.handles.isEmpty else { return }
            let family = ind.ipFamily?.rawValue ?? c.family(ofClient: m.clientID) ?? 4
            callDropped(c, "the network ended the IPv\(family) call" + Connection.endReason(ind.callEndReason, ind.verboseCallEndReason), stop: true)
        case .nas where m.messageID == NAS.GetServingSystem.id:
            let ind = NAS.GetServingSystem.Indication(m)
            servingSystem(ind.servingSystem, plmn: ind.currentPLMN, caps: ind.dataServiceCapability, roaming: ind.roamingIndicator,
                          isResponse: false)
        case .ctl where m.messageID == CTL.Sync.id:
            guard phase != .stopping && phase != .done && phase != .idle else { return }
            log("modem reset: every QMI client id was dropped")
            restartSession("after a modem reset")
        case .ctl where m.messageID == CTL.RevokeClientID.id:
            guard phase != .stopping && phase != .done, let revoked = CTL.RevokeClientID.Indication(m).revoked else { return }
            clientRevoked(revoked.service, revoked.clientID)
        default:
            break
        }
    }

    /// The modem (or qmi-proxy) took one of our client ids away: allocate it again. A call
    /// that ran on a revoked WDS client is gone with it and is redialed.
    func clientRevoked(_ service: QMIService, _ cid: UInt8) {
        guard let i = clients.firstIndex(where: { $0.service == service && $0.cid == cid }) else { return }
        clients.remove(at: i)
        log("the modem revoked QMI client\(service.name) \(cid); allocating a new one")
        if service == .wds {
            for c in calls {
                guard let f = c.family(ofClient: cid) else { continue }
                c.wds.removeValue(forKey: f)
                if c.phase == .connected || c.phase == .configuring {
                    c.handles.removeValue(forKey: f)
                    callDropped(c, "the IPv\(f) call went with its client", stop: true)
                }
            }
            return
        }
        switch service {
        case .dms: dms = nil
        case .nas: nas = nil
        case .uim: uim = nil
        case .wda: wda = nil
        default: break
        }
        var r = CTL.AllocateClientID.Request()
        r.service = service
        send(.allocate(service, pdn: 0, family: 0), r)
    }

    // MARK: losing and regaining the modem

    /// Every client id and call is gone on the modem side: start again from Sync.
    func restartSession(_ why: String) {
        forgetSession()
        phase = .syncing
        setState(nil, "initializing: \(why)")
        arm(.resync, 1000)
    }

    func forgetSession() {
        for c in calls {
            deconfigure(c, release: false)
            c.forget()
        }
        clients.removeAll()
        pending = []
        registered = false
        recheckInFlight = false
        cancelAllTimers()
    }

    func dropSession() {
        forgetSession()
        out.append(.closeChannel)
    }

    func channelClosed(_ e: QMIError) {
        switch phase {
        case .stopping:
            return finishTeardown(channelGone: true)
        case .done, .idle, .waitingForDevice:
            return
        default:
            log("QMI channel lost: \(e.description)")
            dropSession()
            scheduleReopen("waiting for the modem to come back")
        }
    }

    func scheduleReopen(_ why: String) {
        phase = .waitingForDevice
        setState(nil, "modem gone, waiting for it: \(why)")
        let delay = reopenDelayMs
        reopenDelayMs = min(reopenDelayMs * 2, 10_000)
        arm(.reopen, delay)
    }

    /// The modem stopped answering (requests time out): each time, one step further —
    /// CTL Sync (direct channel only), reopening the channel, the radio off and on, a modem
    /// reset — bounded by the redial backoff, logged with the reason.
    func recover(after why: String) {
        let step = config.viaProxy && recoveryStep == 0 ? 1 : recoveryStep
        recoveryStep = step >= 3 ? 0 : step + 1
        let reason = "the modem stopped answering (\(lastTimeout) timed out)"
        timeoutsSinceAnswer = 0
        switch step {
        case 0:
            log("\(reason): resynchronising the QMI channel (CTL Sync)")
            forgetSession()
            phase = .syncing
            setState(nil, "recovering: CTL Sync")
            sync()
        case 1:
            log("\(reason): reopening the QMI channel")
            dropSession()
            open()
        case 2:
            log("\(reason): turning the radio off and on (DMS Set Operating Mode low-power, then online)")
            setMode(.lowPower)
        default:
            log("\(reason): resetting the modem (DMS Set Operating Mode reset)")
            setMode(.reset)
        }
    }

    func setMode(_ mode: DMS.OperatingMode) {
        guard let d = dms else { return recover(after: "no DMS client") }
        var r = DMS.SetOperatingMode.Request(clientID: d)
        r.mode = mode
        send(.radio(mode.rawValue), r)
    }

    func radioAnswered(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        guard phase == .ready, case .radio(let mode) = r else { return }
        if case .failure = result {
            // DMS does not answer either: go on to the next step.
            return recover(after: "DMS Set Operating Mode")
        }
        switch mode {
        case DMS.OperatingMode.lowPower.rawValue:
            setMode(.online)
        case DMS.OperatingMode.online.rawValue:
            registered = false
            for c in calls where c.phase == .redialWait { waitForNetwork(c) }
        default:
            // Reset: the modem reboots; its channel closes and comes back (channelClosed).
            setState(nil, "resetting the modem")
        }
    }

    // MARK: timers

    func timer(_ t: Timer) {
        guard armed.contains(t) else { return }
        armed.removeAll { $0 == t }
        switch t {
        case .reopen:
            open()
        case .resync:
            guard phase == .syncing else { return }
            if config.viaProxy { allocateAll() } else { sync() }
        case .registrationPoll:
            guard phase == .ready, !registered, let n = nas else { return }
            send(.servingSystem, NAS.GetServingSystem.Request(clientID: n))
        case .redial(let pdn):
            guard let c = call(pdn), c.phase == .redialWait, phase == .ready else { return }
            if timeoutsSinceAnswer > 0 { return recover(after: "redial") }
            if registered { dial(c) } else { waitForNetwork(c) }
        case .teardownLimit:
            guard phase == .stopping else { return }
            log("the modem did not confirm the teardown in time")
            teardownProblems.append("teardown")
            finishTeardown(channelGone: false)
        case .dialWait:
            guard phase == .stopping else { return }
            teardown()
        }
    }

    // MARK: teardown

    /// SIGINT/SIGTERM: clean teardown. A second signal more than 500 ms later abandons the
    /// QMI part of it (the link configuration is still removed); duplicates within 500 ms
    /// (a terminal's Ctrl-C reaching a whole process group, timeout(1) forwarding) count as one.
    func stop(signal: String) {
        if let first = stopRequestedAt {
            guard now - first > 500 else { return }
            log("second \(signal): giving up the clean teardown")
            for c in calls { out.append(.deconfigureLink(pdn: c.pdn, release: false)) }
            phase = .done
            out.append(.closeChannel)
            out.append(.exit(ExitCode.failure))
            return
        }
        stopRequestedAt = now
        log("\(signal): stopping")
        finish(ExitCode.ok)
    }

    /// Stop the calls, release every client id, remove the link configuration, exit.
    /// Bounded: a modem that no longer answers cannot keep qcm from exiting.
    func finish(_ code: Int32) {
        guard phase != .stopping && phase != .done else { return }
        let channelUp = phase != .idle && phase != .opening && phase != .waitingForDevice
        phase = .stopping
        exitCode = code
        cancelAllTimers()
        setState(nil, "stopping")
        for c in calls { deconfigure(c, release: true) }
        guard channelUp else { return finishTeardown(channelGone: true) }
        arm(.teardownLimit, config.timeouts.teardownLimit)
        pending = []
        if dialInFlight {
            // Wait for the Start Network answer so a call coming up now is stopped too.
            arm(.dialWait, 1000)
        } else {
            teardown()
        }
    }

    func teardown() {
        cancel(.dialWait)
        teardownStarted = true
        stopsOutstanding = 0
        for c in calls {
            for (f, h) in c.handles.pairs {
                log("requestDeactivateDefaultPDP WdsConnectionIPv\(f)Handle")
                stopCall(c, family: f, handle: h, timeout: config.timeouts.teardown)
                stopsOutstanding += 1
            }
            c.handles.removeAll()
            c.phase = .setup
        }
        if stopsOutstanding == 0 { releaseClients() }
    }

    /// Whether the Stop Network requests of the teardown went out.
    var teardownStarted = false
    /// Stop Network requests of the teardown still unanswered.
    var stopsOutstanding = 0

    func stopAnswered(_ result: Result<QMIMessage, QMIError>) {
        guard phase == .stopping, stopsOutstanding > 0 else { return }
        if case .failure(let e) = result { teardownProblems.append(e.description) }
        stopsOutstanding -= 1
        if stopsOutstanding == 0 { releaseClients() }
    }

    func releaseClients() {
        let held = clients
        clients.removeAll()
        releasesOutstanding = held.count
        if held.isEmpty { return finishTeardown(channelGone: false) }
        for (s, cid) in held {
            var r = CTL.ReleaseClientID.Request()
            r.release = CTL.ReleaseClientID.Release(service: s, clientID: cid)
            send(.release(s, cid), r, timeout: config.timeouts.teardown)
        }
    }

    private var releasesOutstanding = 0

    func releaseAnswered(_ result: Result<QMIMessage, QMIError>) {
        guard phase == .stopping else { return }
        if case .failure(let e) = result { teardownProblems.append(e.description) }
        releasesOutstanding -= 1
        if releasesOutstanding <= 0 { finishTeardown(channelGone: false) }
    }

    func finishTeardown(channelGone: Bool) {
        guard phase == .stopping else { return }
        phase = .done
        cancelAllTimers()
        var code = exitCode ?? ExitCode.ok
        if !teardownProblems.isEmpty && !channelGone {
            log("warning: the modem did not confirm stopping the call or releasing the client ids (\(teardownProblems[0]))")
            if code == ExitCode.ok { code = ExitCode.notResponding }
        }
        out.append(.closeChannel)
        out.append(.exit(code))
    }
}

typealias DHCPEvent = DHCPMachine.Event
