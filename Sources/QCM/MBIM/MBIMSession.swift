#if QCM_MBIM
import Base
import CSystem
import LinkConfig
import MBIMCore
import MBIMMessages
import QMICore

/// What each MBIM request is for, so its answer finds the step that asked.
enum MBIMStep: Equatable {
    case proxyConfig, open, close, caps, services, ready, radio, pinQuery, pinEnter
    case register, packetQuery, attach, connect, ipConfig, disconnect
    case signalSet, signal, statistics(query: Int)
}

/// What only MBIM says: the answers to requests, and indications.
enum MBIMEvent {
    /// The answer to `.sendMBIM` (a *_DONE, or a failure).
    case answer(MBIMStep, Result<MBIMMessage, MBIMError>)
    case indication(MBIMMessage)
}

/// The dial of a module in MBIM mode (cdc_mbim), as a state machine without I/O like
/// QMISession: OPEN (retried) → device caps and services → radio on → SIM (PIN with the
/// same rules as QMI) → registration → packet service attach → CONNECT → IP configuration →
/// the link → connected (MBIMCalls.swift); a CONNECT indication that the session ended →
/// redial; SIGINT/SIGTERM → link removed, CONNECT deactivate, CLOSE. What every protocol
/// does alike is SessionCore's. One session per qcm: 0 on cdc_mbim (a second would need its
/// VLAN links, which qcm does not make yet); over the upstream WWAN subsystem (mhi_wwan_mbim)
/// session 0 on the default link, or the session -m names on a link of kind "wwan" made
/// before the dial and removed at the end; over Quectel's pcie_mhi (/dev/mhi_MBIM) the
/// session the driver maps to the child rmnet_mhi0.N the plan chose, the parent rmnet_mhi0
/// brought up before the dial, and the driver told through link_state while the session is
/// up (MBIMCalls.swift).
final class MBIMSession: SessionCore, SessionMachine {
    /// The steps of setting the session up.
    enum Setup {
        /// OPEN sent (attempt n).
        case opening(attempt: Int)
        /// The facts asked, these still unanswered.
        case inquiring([MBIMStep])
        /// The SIM's PIN state asked, or the PIN entered.
        case sim
        /// The session's wwan link is being made (`.dataLinkReady`).
        case linking
        /// pcie_mhi's parent netdev (rmnet_mhi0) is being brought up (`.parentReady`).
        case parent
    }

    var setup: Setup?
    /// The data path: cdc_mbim's netdev, or the WWAN link of the session (its netdev filled
    /// in once made).
    var plan: DataPlan
    var call: Call { calls[0] }
    /// A CONNECT set is out (teardown waits for it) / the session is up on the modem.
    var dialing = false
    var sessionUp = false
    /// A PACKET_SERVICE query or attach is out (a registration indication must not send another).
    var packetServiceAsked = false
    /// Field status: the data classes registration reported (0: not registered), the newest
    /// RSSI (dBm).
    var dataClasses: UInt32 = 0
    var rssi: Int?

    static let maxOpenAttempts = 5
    /// The MBIM session id: 0, or over the WWAN subsystem the one -m names, or over pcie_mhi
    /// the one the driver maps to the plan's child.
    var session: UInt32 { UInt32(plan.link(call.pdn)?.mux ?? 0) }
    /// MBIM over Quectel's pcie_mhi, with the driver's qmap_mode.
    var mhiMode: Int? {
        if case .mhiMBIM(let mode) = plan.kind { return mode }
        return nil
    }

    init(_ config: SessionConfig) {
        plan = config.plan
        super.init(config, calls: [Call(config.options.pdns[0])])
    }

    /// The session's own wwan link once made, or pcie_mhi's child that carries it; else the
    /// modem's netdev (cdc_mbim's, or the WWAN device's default link).
    override func netdev(_ pdn: Int) -> String? {
        if plan.kind == .wwan || mhiMode != nil { return plan.link(pdn)?.netdev }
        return config.netdev
    }

    // MARK: events

    func handle(_ event: Event, now: Int64) -> [Action] {
        handling(now) {
            switch event {
            case .start:
                status(nil, .apn, call.options.apn)
                open()
            case .channelOpened: channelOpened()
            case .channelOpenFailed(let e):
                channelOpenFailed(e, name: "MBIM channel \(config.channel)")
            case .channelClosed(let e): channelClosed(e)
            case .timer(let t): timer(t)
            case let .linkApplied(_, result): linkApplied(result)
            case let .dataLinkReady(_, result): wwanLinkReady(result)
            case .parentReady(let error): mhiParentReady(error)
            case .dataPathChanged(let why): fail(ExitCode.noModem, why)
            case .bridgeSet: break                  // bridge mode is refused before an MBIM or AT session starts
            case .stop(let signal): stop(signal: signal)
            case .stopPDN: stop(signal: "qcm -k")
            case .statusQuery(let token): statusQuery(token)
            // cdc_mbim's and the WWAN links' netdevs are raw IP (cdc_mbim's and pcie_mhi's
            // children behind a fake Ethernet header): no raw_ip switch, no DHCP.
            case .rawIPSwitched, .dhcp: break
            }
        }
    }

    func handle(_ event: MBIMEvent, now: Int64) -> [Action] {
        handling(now) {
            switch event {
            case let .answer(step, result): answer(step, result)
            case .indication(let m): indication(m)
            }
        }
    }

    // MARK: requests

    func send(_ step: MBIMStep, _ m: MBIMMessage, timeout: Int64? = nil) {
        emit(.sendMBIM(step, m, timeoutMs: timeout ?? config.timeouts.request))
    }

    func command(_ step: MBIMStep, _ cid: UInt32, set: Bool = false, _ buffer: [UInt8] = [], timeout: Int64? = nil) {
        send(step, .command(.basicConnect, cid, set: set, buffer), timeout: timeout)
    }

    /// The request's failure in words: its MBIM status by name, or what went wrong.
    static func why(_ r: Result<MBIMMessage, MBIMError>) -> String {
        if case .failure(let e) = r { return e.description }
        return "no error"
    }

    /// The typed answer — of a refusal too, when it carries its fields.
    func decoded<B: MBIMTypedBuffer>(_ type: B.Type, _ r: Result<MBIMMessage, MBIMError>) -> B? {
        let buffer: [UInt8]
        switch r {
        case .success(let m): buffer = m.buffer
        case .failure(.status(_, let b)) where !b.isEmpty: buffer = b
        case .failure: return nil
        }
        do throws(MBIMError) {
            return try B(decoding: buffer)
        } catch {
            log("ignored the modem's answer: \(error.description)")
            return nil
        }
    }

    /// Every answer, to the part of the session that asked.
    func answer(_ step: MBIMStep, _ r: Result<MBIMMessage, MBIMError>) {
        switch step {
        case .proxyConfig: proxyConfigured(r)
        case .open: opened(r)
        case .caps, .services, .ready, .radio: factAnswered(step, r)
        case .pinQuery: pinQueried(r)
        case .pinEnter: pinEntered(r)
        case .register:
            if let v = decoded(MBIM.RegisterState.Response.self, r) { registration(v) }
        case .packetQuery, .attach: packetService(step, r)
        case .connect: connectAnswered(r)
        case .ipConfig: ipConfigured(r)
        case .disconnect, .close: teardownAnswered(step)
        case .signalSet:
            if case .failure(let e) = r { log("the modem keeps its own signal reporting (SIGNAL_STATE set: \(e.description))") }
        case .signal:
            if case .success = r, let v = decoded(MBIM.SignalState.Response.self, r) { signal(v) }
        case .statistics(let token): statistics(token, r)
        }
    }

    func timer(_ t: Timer) {
        guard fired(t) else { return }
        switch t {
        case .reopen: open()
        case .registrationPoll: pollRegistration()
        case .redial: redialDue()
        case .teardownLimit: teardownLimitReached()
        // QMI's and AT's own timers: an MBIM session never arms them.
        case .qmi: break
        #if QCM_AT
        case .at: break
        #endif
        }
    }

    // MARK: what SessionCore leaves to the protocol

    override var teardownDescription: String { "ending the session and closing the device" }

    /// CONNECT deactivate when the session is up, then CLOSE (MBIMCalls.swift) — after the
    /// answer of a CONNECT in flight, when there is one.
    override func startTeardown(_ t: Teardown) {
        setup = nil
        if !dialing { teardownNext() }
    }

    // MARK: opening

    func channelOpened() {
        guard isOpening else { return }
        setState(nil, "initializing")
        beginSetup()
        if config.proxy == .libmbim {
            // libmbim's proxy: say which device first; it answers OPEN itself. (Quectel's
            // answers OPEN itself too, and has nothing to be told: its device is its own.)
            setup = .opening(attempt: 0)
            typealias P = MBIM.ProxyControl.Configuration
            let body = P.Set(devicePath: config.device, timeout: 30).encode()
            send(.proxyConfig, .command(P.service, P.cid, set: true, body), timeout: config.timeouts.sync)
        } else {
            sendOpen(attempt: 1)
        }
    }

    func proxyConfigured(_ r: Result<MBIMMessage, MBIMError>) {
        guard case .opening = setup else { return }
        if case .failure(let e) = r { return setupFailed("mbim-proxy did not take \(config.device): \(e.description)") }
        sendOpen(attempt: 1)
    }

    func sendOpen(attempt: Int) {
        setup = .opening(attempt: attempt)
        send(.open, MBIMMessage(kind: .open, transactionID: 0, value: 4096), timeout: min(3000, config.timeouts.sync))
    }

    func opened(_ r: Result<MBIMMessage, MBIMError>) {
        guard case .opening(let attempt) = setup else { return }
        switch r {
        case .success:
            log("MBIM device opened")
            inquire()
        case .failure(.timeout) where attempt < MBIMSession.maxOpenAttempts:
            log("no answer to MBIM OPEN (attempt \(attempt) of \(MBIMSession.maxOpenAttempts)); trying again")
            sendOpen(attempt: attempt + 1)
        case .failure(let e):
            setupFailed("the modem does not open its MBIM function on \(config.channel): \(e.description). Is another program (ModemManager, mbim-proxy) using it, or is the modem still booting?")
        }
    }

    func channelClosed(_ e: ChannelError) {
        switch lifecycle {
        case .stopping: finishTeardown(channelGone: true)
        case .done, .idle, .waitingForDevice: return
        case .opening, .settingUp, .ready:
            log("MBIM channel lost: \(e.description)")
            deconfigure(call, release: false)
            sessionUp = false
            dialing = false
            setup = nil
            if call.phase != .failed { call.phase = .setup }
            cancelAllTimers()
            scheduleReopen("waiting for the modem to come back")
        }
    }

    // MARK: facts, SIM

    func inquire() {
        setup = .inquiring([.caps, .services, .ready, .radio])
        command(.caps, MBIM.DeviceCaps.cid)
        command(.services, MBIM.DeviceServices.cid)
        command(.ready, MBIM.SubscriberReadyStatus.cid)
        command(.radio, MBIM.RadioState.cid, set: true, MBIM.RadioState.Set(radioState: .on).encode())
    }

    func factAnswered(_ step: MBIMStep, _ r: Result<MBIMMessage, MBIMError>) {
        switch step {
        case .caps:
            if let caps = decoded(MBIM.DeviceCaps.Response.self, r) {
                log("MBIM device: \(caps.hardwareInfo ?? "?"), firmware \(caps.firmwareInfo ?? "?"), data classes \(caps.dataClass.name)")
                status(nil, .revision, caps.firmwareInfo)
                status(nil, .imei, caps.deviceID.flatMap(Network.identifier))
            }
        case .services:
            if let v = decoded(MBIM.DeviceServices.Response.self, r), v.deviceServices.contains(where: { $0.service == .qmi }) {
                log("the modem offers QMI over MBIM; qcm dials with MBIM alone")
            }
        case .ready:
            readyStatus(r)
            if case .sim = setup { return factsDone() }      // asked again after the PIN
        default:
            if case .failure(let e) = r { log("radio on: \(e.description)") }
        }
        guard case .inquiring(var waiting) = setup, let i = waiting.firstIndex(of: step) else { return }
        waiting.remove(at: i)
        setup = .inquiring(waiting)
        if waiting.isEmpty { factsDone() }
    }

    func readyStatus(_ r: Result<MBIMMessage, MBIMError>) {
        guard let v = decoded(MBIM.SubscriberReadyStatus.Response.self, r) else { return }
        switch v.readyState {
        case .initialized:
            sim = .ready
            updateField([(.imsi, v.subscriberID.flatMap(Network.identifier)), (.iccid, v.simICCID.flatMap(Network.identifier))])
        case .simNotInserted: sim = .absent
        case .deviceLocked: sim = .pinRequired(retriesLeft: nil)
        case .badSim: sim = .pukBlocked
        default: sim = .unknown
        }
        log("requestGetSIMStatus SIMStatus: \(sim.logName) (\(v.readyState.name))")
    }

    func factsDone() {
        if case .pinRequired(nil) = sim {
            setup = .sim
            return command(.pinQuery, MBIM.Pin.cid)
        }
        switch simDecision {
        case .proceed: linkThenReady()
        case .fail(let why): fail(ExitCode.sim, why)
        case .verify(let pin):
            setup = .sim
            pinVerified = true
            log("verifying the SIM PIN (***)")
            command(.pinEnter, MBIM.Pin.cid, set: true, MBIM.Pin.Set(pinType: .pin1, pinOperation: .enter, pin: pin).encode())
        }
    }

    func pinQueried(_ r: Result<MBIMMessage, MBIMError>) {
        guard let v = decoded(MBIM.Pin.Response.self, r) else { return fail(ExitCode.sim, "the SIM is locked and its PIN state cannot be read: \(MBIMSession.why(r))") }
        if v.pinType == .puk1 { sim = .pukBlocked }
        else if v.pinState == .locked { sim = .pinRequired(retriesLeft: Int(v.remainingAttempts)) }
        else { sim = .ready }
        factsDone()
    }

    func pinEntered(_ r: Result<MBIMMessage, MBIMError>) {
        if case .failure(let e) = r {
            let left = decoded(MBIM.Pin.Response.self, r).map { " (\($0.remainingAttempts) attempts left)" } ?? ""
            return fail(ExitCode.sim, "PIN verification failed: \(e.description)\(left); not retrying")
        }
        log("SIM PIN verified")
        command(.ready, MBIM.SubscriberReadyStatus.cid)
    }

    // MARK: the session's wwan link

    /// A session other than 0 over the WWAN subsystem gets its link first (a kernel that
    /// cannot make it stops qcm before anything is asked of the network); over pcie_mhi the
    /// parent goes up first (the children send through it); then the dial.
    func linkThenReady() {
        if mhiMode != nil { return parentThenReady() }
        guard plan.kind == .wwan, let link = plan.link(call.pdn), link.netdev == nil else { return ready() }
        if options.noLink {
            log("--no-link: make session \(session)'s link yourself: ip link add \(plan.parent ?? "wwan0").\(session) parentdev \(plan.wwanDevice ?? "wwan0") type wwan linkid \(session)")
            return ready()
        }
        setup = .linking
        emit(.createDataLink(pdn: call.pdn, mux: UInt8(truncatingIfNeeded: session), flags: 0))
    }

    func wwanLinkReady(_ r: Result<String, LinkError>) {
        guard case .linking = setup else { return }
        switch r {
        case .success(let dev):
            if let k = plan.links.firstIndex(where: { $0.pdn == call.pdn }) { plan.links[k].netdev = dev }
            log("MBIM session \(session): \(dev) carries it (wwan link id \(session) of \(plan.wwanDevice ?? "the WWAN device"))")
            status(call.pdn, .interface, dev)
            ready()
        case .failure(let e):
            fail(e.isPermissionDenied ? ExitCode.permission : ExitCode.link, "cannot create the wwan link for MBIM session \(session): \(e.description)")
        }
    }

    // MARK: pcie_mhi

    /// pcie_mhi sends every child's packets through rmnet_mhi0: it goes up before the dial
    /// (put back down at the end when qcm raised it and no other qcm uses it), as
    /// quectel-CM's `ifconfig rmnet_mhi0 up`.
    func parentThenReady() {
        if options.noLink {
            log("--no-link: bring \(plan.parent ?? "rmnet_mhi0") up and configure \(plan.link(call.pdn)?.netdev ?? "its child") yourself")
            return ready()
        }
        setup = .parent
        emit(.prepareParent(mtu: nil))
    }

    func mhiParentReady(_ e: LinkError?) {
        guard case .parent = setup else { return }
        if let e {
            return fail(e.isPermissionDenied ? ExitCode.permission : ExitCode.link,
                        "cannot bring up \(plan.parent ?? "rmnet_mhi0"), through which pcie_mhi sends MBIM session \(session): \(e.description)")
        }
        log("MBIM session \(session): \(netdev(call.pdn) ?? "?") carries it (pcie_mhi's mapping with qmap_mode \(mhiMode ?? 1))")
        ready()
    }

    /// pcie_mhi keeps a child's carrier off, and its traffic with it, until link_state says
    /// the call on it is up: N (1 with qmap_mode 1) when the session is activated, 0x80+N
    /// (0) when it ends — as quectel-CM writes it.
    func setLinkState(up: Bool) {
        guard let mode = mhiMode, let child = plan.link(call.pdn)?.child else { return }
        let mux = UInt8(truncatingIfNeeded: 0x80 + child)      // link_state names child N as QMAP's mux 0x80+N
        if options.noLink {
            let value = DataLinks.linkStateValue(mux: mux, up: up, qmapMode: mode)
            return log("--no-link: tell pcie_mhi yourself: echo \(value) > \(options.sysRoot)/class/net/\(plan.parent ?? "rmnet_mhi0")/link_state")
        }
        emit(.setLinkState(pdn: call.pdn, mux: mux, up: up))
    }

    override func linkDown(_ c: Call) { setLinkState(up: false) }
}
#endif
