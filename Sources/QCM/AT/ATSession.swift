#if QCM_AT
import Base
import ATCore
import ATMessages
import LinkConfig
import DHCPClient

/// What each AT command is for, so its answer finds the step that asked.
enum ATStep: Equatable {
    // Setting up (ATSetup.swift).
    case handshake, echoOff, errorFormat, revision, imei, dialect, nat, reports, radio, radioOn
    case pinState, pinCounters, enterPin, iccid, imsi, staleCall, staleContexts, profile, setProfile
    // Registration and the call (ATCalls.swift).
    case registration, operatorFormat, currentOperator
    case contextStates, activate, startCall, callStatus, contextAddress, stopCall, deactivate
    // Field status, now and for `qcm status` (token) (ATField.swift).
    case signal(query: Int?), servingCell(query: Int?)
}

/// What only the AT session hears: the answers to its commands, and unsolicited lines.
enum ATEvent {
    /// The answer to `.sendAT` (the information lines on OK, or the failure).
    case answer(ATStep, Result<ATReply, ATError>)
    case unsolicited(ATUnsolicited, String)
    /// The module's Router Advertisement on its Ethernet link (after `.watchRouter`), or why
    /// none can be heard there.
    case routerAdvertised(Result<RouterOffer, LinkError>)
}

/// What only the AT session waits for.
enum ATTimer: Equatable {
    /// Ask again whether the call is up (after the start, when no report came).
    case callUp
    /// A module that sends no reports: ask whether the call is still up.
    case callCheck
    /// The SIM is busy (after a PIN, or while the module starts): ask again.
    case simAgain
    /// The module's Router Advertisement is overdue.
    case routerAdvertisement
}

/// How the module starts its data call: UNISOC (RG500U, RG801H, EC200U ...) with
/// `AT+QNETDEVCTL=<cid>,1,1` and reports its addresses with `AT+QNETDEVSTATUS=<cid>`; ASR
/// (EC200T/A/S, EC100Y, EG915Q ...) activates the context with `AT+CGACT=1,<cid>`, then
/// `AT+QNETDEVCTL=1,<cid>,1`, and has no +QNETDEVSTATUS query.
enum ATDialect: Equatable {
    case unisoc, asr
    var name: String { self == .unisoc ? "UNISOC" : "ASR" }
}

/// The dial of a module with no QMI (UNISOC and ASR chipsets: ECM, NCM or RNDIS data, AT
/// commands on a tty), as a state machine without I/O like QMISession: handshake (AT, echo
/// off, numeric errors) → identity → dialect → registration reports on → radio → SIM (PIN
/// with QMI's rules) → a call left up by a killed qcm stopped → the profile, set only when it
/// differs (ATSetup.swift) → registration → the call in the module's dialect → DHCP on the
/// module's netdev (or -d: the addresses the module reports) → connected; reports of the call
/// ending → redial; SIGINT/SIGTERM → DHCP release, the call stopped (ATCalls.swift). Field
/// status from the registration reports, and the signal and cell when `qcm status` asks
/// (ATField.swift): nothing is polled while the module reports.
final class ATSession: SessionCore, SessionMachine {
    /// The steps of setting up.
    enum Setup: Equatable {
        case handshake(attempt: Int)
        case configuring
        case identity
        case dialect
        case nat
        /// Registration (and packet event) reports being turned on: these answers still to come.
        case reports(left: Int)
        case radio
        /// The SIM asked (n: times it was busy).
        case sim(busy: Int)
        case simIdentity
        /// A call found up at start is being stopped.
        case staleCall
        case profile
    }

    var setup: Setup?
    var plan: DataPlan { config.plan }
    var call: Call { calls[0] }
    /// The context the call uses (the PDN number, -n).
    var cid: Int64 { Int64(call.pdn) }
    var dialect: ATDialect?
    /// The call is up on the module (started by qcm, or found so); ASR: the context qcm activated.
    var callActive = false
    var contextActivated = false
    /// The module reported the call coming up (it sends reports: no polling needed).
    var reportSeen = false
    /// Times the call's state was asked while waiting for it to come up.
    var upPolls = 0
    /// The call's IPv6 on the module's Ethernet link (ATIPv6.swift), and what the module
    /// reported of it.
    var ipv6 = IPv6State.none
    var moduleIPv6: IPAddress?
    var moduleIPv6DNS: [IPAddress] = []
    /// The link's IPv4 plan while the IPv6 part is awaited.
    var ipv4Plan: LinkPlan?
    /// Commands in a row that got no answer (three: the module is taken for gone).
    var silentCommands = 0
    /// The packet domains whose registration is reported (27.007 +CGREG, +CEREG, +C5GREG).
    enum Domain: Equatable { case gprs, eps, fiveGS }
    /// Registration state per domain, and the access technology.
    var stat = SmallMap<Domain, Int64>()
    var act: Int64?
    /// The newest RSSI from +CSQ (dBm), for the bars when the cell gives no RSRP.
    var rssi: Int?

    static let maxHandshakes = 3
    /// How long (1 s polls) the call may take to come up.
    static let maxUpPolls = 30

    init(_ config: SessionConfig) {
        super.init(config, calls: [Call(config.options.pdns[0])])
    }

    /// A renewed DHCP lease keeps the call's IPv6 (ATIPv6.swift).
    override func leasePlan(_ c: Call, _ lease: Lease, interface: String) -> LinkPlan {
        withIPv6(super.leasePlan(c, lease, interface: interface))
    }

    // MARK: events

    func handle(_ event: Event, now: Int64) -> [Action] {
        handling(now) {
            switch event {
            case .start:
                status(nil, .apn, call.options.apn)
                open()
            case .channelOpened: channelOpened()
            case .channelOpenFailed(let e): channelOpenFailed(e, name: config.viaProxy ? "AT channel \(config.channel)" : "AT port \(config.channel)")
            case .channelClosed(let e): channelClosed(e)
            case .timer(let t): timer(t)
            case let .linkApplied(_, result): linkApplied(result)
            case let .dhcp(pdn, e): dhcp(pdn, e)
            case .dataPathChanged(let why): fail(ExitCode.noModem, why)
            case .bridgeSet: break                  // bridge mode is refused before an MBIM or AT session starts
            case .stop(let signal): stop(signal: signal)
            case .stopPDN: stop(signal: "qcm -k")
            case .statusQuery(let token): statusQuery(token)
            // The module's netdev is plain Ethernet: no raw_ip switch, no QMAP links.
            case .rawIPSwitched, .parentReady, .dataLinkReady: break
            }
        }
    }

    func handle(_ event: ATEvent, now: Int64) -> [Action] {
        handling(now) {
            switch event {
            case let .answer(step, result): answer(step, result)
            case let .unsolicited(u, line): unsolicited(u, line)
            case .routerAdvertised(let r): routerAdvertised(r)
            }
        }
    }

    // MARK: commands

    /// Sends `command` for `step` (the catalogue's timeout, or the test cap). A value that
    /// cannot go into a command line (a '"' in an APN) ends qcm with a usage error.
    func send<C: ATTypedCommand>(_ step: ATStep, _ command: C) {
        let line: String
        do throws(ATError) { line = try command.line() } catch {
            return fail(ExitCode.usage, "cannot send \(C.definition.name) to the module: \(error.description)")
        }
        emit(.sendAT(step, C.definition, line, timeoutMs: min(C.definition.timeoutMs, config.timeouts.limit)))
    }

    /// Every answer, to the part of the session that asked.
    func answer(_ step: ATStep, _ r: Result<ATReply, ATError>) {
        if case .failure(.timeout) = r { silentCommands += 1 } else { silentCommands = 0 }
        switch step {
        case .handshake, .echoOff, .errorFormat, .revision, .imei, .dialect, .nat, .reports, .radio, .radioOn,
             .pinState, .pinCounters, .enterPin, .iccid, .imsi, .staleCall, .staleContexts, .profile, .setProfile:
            setupAnswered(step, r)
        case .registration: registrationAnswered(r)
        case .operatorFormat: break
        case .currentOperator: operatorAnswered(r)
        case .contextStates, .activate, .startCall, .callStatus, .contextAddress: callAnswered(step, r)
        case .stopCall, .deactivate: stopAnswered(step, r)
        case .signal(let q): signalAnswered(q, r)
        case .servingCell(let q): servingCellAnswered(q, r)
        }
        if silentCommands >= 3 && isReady { moduleLost("the module stopped answering (\(silentCommands) commands without an answer)") }
    }

    /// The typed information line of an answer (the first of its lines), or nil.
    static func line<L: ATTypedLine>(_ type: L.Type, _ r: Result<ATReply, ATError>) -> L? {
        guard case .success(let reply) = r, let first = reply.lines.first else { return nil }
        return try? L(decoding: first)
    }

    /// The IMEI or IMSI of a bare answer: its first line of digits (a line of junk before it
    /// is passed over).
    static func identifier(_ r: Result<ATReply, ATError>) -> String? {
        guard case .success(let reply) = r else { return nil }
        return reply.lines.lazy.map { ATText.split($0).body }.compactMap { Network.identifier(Text.trimmed($0)) }.first
    }

    /// The failure in words: the module's error by name, or what went wrong.
    static func why(_ r: Result<ATReply, ATError>) -> String {
        if case .failure(let e) = r { return e.description }
        return "no information in the answer"
    }

    func timer(_ t: Timer) {
        guard fired(t) else { return }
        switch t {
        case .reopen: open()
        case .registrationPoll: askRegistration()
        case .redial: redialDue()
        case .teardownLimit: teardownLimitReached()
        case .at(.callUp): askCallState()
        case .at(.callCheck): askCallState()
        case .at(.simAgain): askSIM()
        case .at(.routerAdvertisement): ipv6Unavailable("the module sent no router advertisement on \(netdevName(call.pdn)) in \(ATSession.routerWaitMs / 1000) s")
        // QMI's own timers: an AT session never arms them.
        case .qmi: break
        }
    }

    // MARK: what SessionCore leaves to the protocol

    override var teardownDescription: String { "stopping the data call" }

    override func startTeardown(_ t: Teardown) {
        setup = nil
        stopCall(teardown: t)
    }

    override func noLease(_ c: Call, attempts: Int) { noLeaseFromModule(c, attempts: attempts) }

    override func leaseExpired(_ c: Call) {
        guard c.phase == .connected else { return }
        callDropped("the module's DHCP server did not renew the lease: the call is taken for gone")
    }

    // MARK: the channel

    func channelOpened() {
        guard isOpening else { return }
        setState(nil, "initializing")
        beginSetup()
        handshake(attempt: 1)
    }

    func channelClosed(_ e: ChannelError) {
        switch lifecycle {
        case .stopping: finishTeardown(channelGone: true)
        case .done, .idle, .waitingForDevice: return
        case .opening, .settingUp, .ready: lost("AT port lost: \(e.description)", close: false)
        }
    }

    /// The module restarted or stopped answering: what qcm set up on it is gone; the port is
    /// opened again (a restarted module comes back with its port).
    func moduleLost(_ why: String) { lost(why, close: true) }

    private func lost(_ why: String, close: Bool) {
        log(why + (initializedOnce ? "; waiting for the module to come back" : ""))
        if !initializedOnce && !isReady { return fail(ExitCode.notResponding, why) }
        deconfigure(call, release: false)
        callActive = false
        contextActivated = false
        setup = nil
        if call.phase != .failed { call.phase = .setup }
        cancelAllTimers()
        if close { emit(.closeChannel) }
        scheduleReopen("waiting for the module to come back")
    }

    // MARK: unsolicited lines

    func unsolicited(_ u: ATUnsolicited, _ line: String) {
        typealias C = ATCatalogue
        if u === C.csRegistration || u === C.gprsRegistration || u === C.epsRegistration || u === C.fiveGSRegistration {
            registrationReport(u, line)
        } else if u === C.dataCallChanged || u === C.dataCallChangedASR || u === C.packetEvent {
            callReport(u, line)
        } else if u === C.pinChanged {
            if case .sim = setup, line.ends(with: "READY") {
                cancel(.at(.simAgain))
                askSIM()
            }
        } else if u === C.moduleReady || u === C.poweredDown {
            if isReady { moduleLost("the module restarted (\(line))") }
        }
    }
}
#endif
