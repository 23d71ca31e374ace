import Base
import CSystem
import DHCPClient
import LinkConfig
import QMICore
import QMIMessages

/// The data calls of a QMI modem as a state machine without I/O: open the QMI channel,
/// sync, allocate clients, check the SIM, set the data format and profiles, wait for
/// registration, start the network per PDN and IP family, configure the link — then keep
/// every call up across drops, modem resets, lost frames and the device going away, and
/// tear everything down cleanly on SIGINT/SIGTERM.
///
/// Events come in through `handle(_:now:)` (Event, QMIEvent) and actions go out
/// (Machine.swift); the Runner does the I/O. What every protocol does alike is SessionCore's.
/// The files of this folder are the session's parts: setting it up (QMISetup), the data
/// path (QMIDataPath), each PDN's call (QMICalls), keeping the session (QMIRecovery),
/// field status (QMIField), the teardown (QMITeardown).
final class QMISession: SessionCore, SessionMachine {
    /// The steps of setting the session up, each with what it waits for.
    enum Setup {
        case proxyOpening
        case syncing
        case allocating(Step)
        case inquiring(Step)
        case verifyingPIN
        case switchingRawIP(wantRawIP: Bool)
        case preparing(Preparation)

        var stage: Stage {
            switch self {
            case .proxyOpening: return .proxyOpening
            case .syncing: return .syncing
            case .allocating: return .allocating
            case .inquiring: return .inquiring
            case .verifyingPIN: return .verifyingPIN
            case .switchingRawIP: return .switchingRawIP
            case .preparing: return .preparing
            }
        }

        var step: Step? {
            switch self {
            case .allocating(let s), .inquiring(let s): return s
            case .preparing(let p): return p.step
            default: return nil
            }
        }
    }

    enum Stage: Equatable { case proxyOpening, syncing, allocating, inquiring, verifyingPIN, switchingRawIP, preparing }

    /// The setup step the session is at (while the lifecycle is `.settingUp`).
    var setup: Setup?
    /// The data path as the session uses it (netdevs of created links filled in).
    var plan: DataPlan
    /// Every client id the session holds, released at the end.
    var clients = ClientTable()
    /// The escalation when the modem stops answering.
    var recovery = Recovery()
    /// The data format is 802.3 (DHCP on the link) rather than raw-IP.
    var ethernet = false
    /// A lost frame made qcm ask the calls' state; the answer is awaited.
    var recheckInFlight = false

    init(_ config: SessionConfig) {
        plan = config.plan
        super.init(config, calls: config.options.pdns.map { Call($0) })
    }

    /// CTL Sync drops every client id on the modem: only on a channel of our own.
    var canSync: Bool { !config.viaProxy && !config.driverOwnsCTL }

    var stage: Stage? { isSettingUp ? setup?.stage : nil }

    /// The netdev that carries PDN's traffic.
    override func netdev(_ pdn: Int) -> String? { plan.link(pdn)?.netdev ?? (plan.usesQMAP ? nil : config.netdev) }

    // MARK: what SessionCore leaves to the protocol


    /// A setup step failed: fatal the first time; later the modem is waited for — or, when
    /// requests went unanswered, the next step of the recovery is taken.
    override func setupFailed(_ message: String, code: Int32 = ExitCode.notResponding) {
        if initializedOnce && recovery.modemSilent {
            log(message)
            return recover()
        }
        super.setupFailed(message, code: code)
    }

    /// The client ids and calls are gone with the channel.
    override func dropSession() {
        forgetSession()
        emit(.closeChannel)
    }

    override func linkDown(_ c: Call) { setLinkState(c, up: false) }

    /// On an 802.3 link DHCP gives IPv4; the call's IPv6 comes from the modem as on raw-IP.
    override func leasePlan(_ c: Call, _ lease: Lease, interface: String) -> LinkPlan {
        let plan = super.leasePlan(c, lease, interface: interface)
        if let v6 = c.settings[.ipv6] {
            let fromModem = Plans.fromRuntime(ipv4: nil, ipv6: v6, interface: interface, metric: options.metric, ethernet: true,
                                              defaultRoute: c.options.defaultRoute)
            plan.ipv6 = fromModem.ipv6
            plan.dns += fromModem.dns.filter { d in !plan.dns.contains(d) }
            if let why = Plans.extendToLAN(plan, c.options) { log(why) }
        }
        return plan
    }

    override func connected(_ c: Call, _ plan: LinkPlan?) {
        super.connected(c, plan)
        recovery.reset()
    }

    override var teardownDescription: String { "stopping the call or releasing the client ids" }

    /// Stop Network for the calls up, then every client id released (QMITeardown.swift).
    override func startTeardown(_ t: Teardown) {
        setup = nil
        if dialInFlight {
            // Wait for the Start Network answer so a call coming up now is stopped too.
            arm(.qmi(.dialWait), 1000)
        } else {
            stopCalls(t)
        }
    }

    // MARK: events

    func handle(_ event: Event, now: Int64) -> [Action] {
        handling(now) {
            switch event {
            case .start: start()
            case .channelOpened: channelOpened()
            case .channelOpenFailed(let e):
                channelOpenFailed(e, name: "QMI channel \(config.channel)")
            case .channelClosed(let e): channelClosed(e)
            case .timer(let t): timer(t)
            case .rawIPSwitched(let ok): rawIPSwitched(ok)
            case let .linkApplied(pdn, result): linkApplied(pdn, result)
            case let .dhcp(pdn, e): dhcp(pdn, e)
            case .parentReady(let error): parentReady(error)
            case let .dataLinkReady(pdn, result): dataLinkReady(pdn, result)
            case .dataPathChanged(let why): fail(ExitCode.noModem, why)
            case let .bridgeSet(pdn, result): bridgeSet(pdn, result)
            case .stop(let signal): stop(signal: signal)
            case .stopPDN(let pdn): stopPDN(pdn)
            case .statusQuery(let token): statusQuery(token)
            }
        }
    }

    func handle(_ event: QMIEvent, now: Int64) -> [Action] {
        handling(now) {
            switch event {
            case let .response(r, result): response(r, result)
            case .indication(let m): indication(m)
            case .frameDiscarded: frameDiscarded()
            }
        }
    }

    // MARK: requests

    func send(_ r: Request, _ m: some QMITypedMessage, timeout: Int64? = nil) {
        if let p = m.problem {
            // A value the catalogue cannot encode: the request fails here, like a bad answer would.
            response(r, .failure(p))
            return
        }
        emit(.sendQMI(r, m.message, timeoutMs: timeout ?? config.timeouts.request))
    }

    /// A request the current setup step waits for.
    func expect(_ r: Request) { setup?.step?.expect(r) }

    /// Marks `r` answered; true when it belonged to the current setup step.
    func answered(_ r: Request) -> Bool { isSettingUp && (setup?.step?.answered(r) ?? false) }

    /// The text of a failed request: its error, or the modem's result code.
    func failure(_ result: Result<QMIMessage, QMIError>) -> String {
        switch result {
        case .failure(let e): return e.description
        case .success(let m): return m.result?.description ?? "no result in the response"
        }
    }

    /// Every answer, to the part of the session that asked.
    func response(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        recovery.note(r, result)
        switch r {
        case .proxyOpen: proxyOpened(result)
        case .sync: synced(result)
        case let .allocate(service, use): allocated(service, for: use, result)
        case .release: releaseAnswered(result)
        case .revision, .ids, .cardStatus, .pinStatus, .servingSystem, .packetStatus, .readProfile:
            factAnswered(r, result)
        case .verifyPIN: pinVerified(result)
        case .dataFormat: dataFormatAnswered(result)
        case let .bindMux(pdn, family):
            if let c = call(pdn) { muxBound(c, family: family, result) }
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
        case .stop: stopAnswered(result)
        case let .runtimeSettings(pdn, family):
            if let c = call(pdn) { settingsArrived(c, family: family, result) }
        case let .recheck(pdn, family):
            if let c = call(pdn) { rechecked(c, family: family, result) }
        case .radio(let mode): radioAnswered(mode, result)
        case .configSignal, .registerIndications, .signalInfo, .systemInfo, .imsi, .iccid:
            fieldAnswered(r, result)
        case .packetStats, .rfBand:
            statusAnswered(r, result)
        }
    }

    /// What the modem says unasked.
    func indication(_ m: QMIMessage) {
        switch m.service {
        case .wds where m.messageID == WDS.GetPacketServiceStatus.id:
            packetServiceIndication(m)
        case .nas where m.messageID == NAS.GetServingSystem.id:
            let ind = NAS.GetServingSystem.Indication(m)
            servingSystem(ind.servingSystem, plmn: ind.currentPLMN, caps: ind.dataServiceCapability, roaming: ind.roamingIndicator,
                          isResponse: false)
            if let ss = ind.servingSystem {
                fieldFromServingSystem(ss, plmn: ind.currentPLMN, roaming: ind.roamingIndicator, lac: ind.lac3GPP, cid: ind.cid3GPP, tac: ind.lteTAC)
            }
        case .nas where m.messageID == NAS.SignalInfo.id:
            signalIndication(m)
        case .nas where m.messageID == NAS.SystemInfo.id:
            systemInfoIndication(m)
        case .ctl where m.messageID == CTL.Sync.id:
            modemReset()
        case .ctl where m.messageID == CTL.RevokeClientID.id:
            guard !isStoppingOrDone, let revoked = CTL.RevokeClientID.Indication(m).revoked else { return }
            clientRevoked(revoked.service, revoked.clientID)
        default:
            break
        }
    }

    // MARK: timers

    func timer(_ t: Timer) {
        guard fired(t) else { return }
        switch t {
        case .reopen: open()
        case .qmi(.resync): resync()
        case .registrationPoll: pollRegistration()
        case .redial(let pdn): redialDue(pdn)
        case .teardownLimit: teardownLimitReached()
        case .qmi(.dialWait): dialWaitOver()
        #if QCM_AT
        // The AT session's own timers: a QMI session never arms them.
        case .at: break
        #endif
        }
    }
}

/// The requests a setup step waits for, and what went wrong in it.
final class Step {
    private var pending: [Request] = []
    private(set) var problems: [String] = []

    func expect(_ r: Request) { pending.append(r) }

    /// Marks `r` answered; true when the step was waiting for it.
    func answered(_ r: Request) -> Bool {
        guard let i = pending.firstIndex(of: r) else { return false }
        pending.remove(at: i)
        return true
    }

    func isWaiting(for r: Request) -> Bool { pending.contains(r) }
    var isDone: Bool { pending.isEmpty }
    func problem(_ why: String) { problems.append(why) }
}

/// The QMI client ids the session holds: the session's own (DMS, NAS, UIM, WDA), and the
/// WDS clients of the calls (also kept by each Call, per IP family) — all released at the end.
struct ClientTable {
    private var held: [(service: QMIService, cid: UInt8)] = []
    private(set) var dms: UInt8?, nas: UInt8?, uim: UInt8?, wda: UInt8?

    var all: [(service: QMIService, cid: UInt8)] { held }
    var isEmpty: Bool { held.isEmpty }

    mutating func add(_ service: QMIService, _ cid: UInt8) {
        held.append((service, cid))
        switch service {
        case .dms: dms = cid
        case .nas: nas = cid
        case .uim: uim = cid
        case .wda: wda = cid
        default: break
        }
    }

    /// Forgets `cid` of `service`; false when the session did not hold it.
    @discardableResult
    mutating func remove(_ service: QMIService, _ cid: UInt8) -> Bool {
        guard let i = held.firstIndex(where: { $0.service == service && $0.cid == cid }) else { return false }
        held.remove(at: i)
        switch service {
        case .dms where dms == cid: dms = nil
        case .nas where nas == cid: nas = nil
        case .uim where uim == cid: uim = nil
        case .wda where wda == cid: wda = nil
        default: break
        }
        return true
    }

    mutating func removeAll() { self = ClientTable() }
}
