import Base
import QMICore
import QMIMessages

/// How far the recovery has gone while the modem does not answer: requests that timed out
/// since it last answered one, and the next step to take.
struct Recovery {
    enum Step { case sync, reopen, radioCycle, reset }

    private var timeoutsSinceAnswer = 0
    private var lastTimeout = ""
    private var next = 0

    /// Requests went unanswered since the last answer: the modem may have stopped answering.
    var modemSilent: Bool { timeoutsSinceAnswer > 0 }

    /// An answer came (or a request timed out). What `qcm status` asks is no measure of the
    /// modem's health: only the session's own requests count (a user cannot make qcm reset
    /// the modem).
    mutating func note(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        if case .failure(.timeout(let what, _)) = result, !r.asksForUser {
            timeoutsSinceAnswer += 1
            lastTimeout = what
        } else if case .success = result {
            timeoutsSinceAnswer = 0
        }
    }

    /// The step to take now, one further each time: CTL Sync (only where qcm may sync),
    /// reopening the channel, the radio off and on, a modem reset; then from the start.
    mutating func take(canSync: Bool) -> (step: Step, reason: String) {
        let n = !canSync && next == 0 ? 1 : next
        next = n >= 3 ? 0 : n + 1
        timeoutsSinceAnswer = 0
        let step: Step = n == 0 ? .sync : n == 1 ? .reopen : n == 2 ? .radioCycle : .reset
        return (step, "the modem stopped answering (\(lastTimeout) timed out)")
    }

    /// A call came up: the modem is fine, the next recovery starts from the first step.
    mutating func reset() { next = 0 }
}

/// Keeping the session: modem resets, revoked client ids, the channel lost and reopened,
/// and the escalating recovery when the modem stops answering.
extension QMISession {
    /// CTL Sync indication: the modem reset and dropped every client id.
    func modemReset() {
        switch lifecycle {
        case .idle, .stopping, .done: return
        default: break
        }
        log("modem reset: every QMI client id was dropped")
        restartSession("after a modem reset")
    }

    /// The modem (or qmi-proxy) took one of our client ids away: allocate it again. A call
    /// that ran on a revoked WDS client is gone with it and is redialed.
    func clientRevoked(_ service: QMIService, _ cid: UInt8) {
        guard clients.remove(service, cid) else { return }
        log("the modem revoked QMI client\(service.name) \(cid); allocating a new one")
        if service == .wds {
            for c in calls {
                guard let f = c.family(ofClient: cid) else { continue }
                c.wds.removeValue(forKey: f)
                if c.phase == .connected || c.phase == .configuring {
                    c.handles.removeValue(forKey: f)
                    callDropped(c, "the \(f.label) call went with its client", stop: true)
                }
            }
            return
        }
        var r = CTL.AllocateClientID.Request()
        r.service = service
        send(.allocate(service, for: .session), r)
    }

    /// Every client id and call is gone on the modem side: start again from Sync.
    func restartSession(_ why: String) {
        forgetSession()
        beginSetup()
        setup = .syncing
        setState(nil, "initializing: \(why)")
        arm(.qmi(.resync), 1000)
    }

    func resync() {
        guard stage == .syncing else { return }
        if canSync { sync() } else { allocateAll() }
    }

    func forgetSession() {
        for c in calls {
            deconfigure(c, release: false)
            c.forget()
        }
        answerQueriesNow()
        clients.removeAll()
        setup = nil
        registered = false
        recheckInFlight = false
        cancelAllTimers()
    }

    func channelClosed(_ e: ChannelError) {
        switch lifecycle {
        case .stopping:
            return finishTeardown(channelGone: true)
        case .done, .idle, .waitingForDevice:
            return
        case .opening, .settingUp, .ready:
            log("QMI channel lost: \(e.description)")
            dropSession()
            scheduleReopen("waiting for the modem to come back")
        }
    }

    /// The modem stopped answering (requests time out): each time, one step further —
    /// CTL Sync (direct channel only), reopening the channel, the radio off and on, a modem
    /// reset — bounded by the redial backoff, logged with the reason.
    func recover() {
        let (step, reason) = recovery.take(canSync: canSync)
        switch step {
        case .sync:
            log("\(reason): resynchronising the QMI channel (CTL Sync)")
            forgetSession()
            beginSetup()
            setState(nil, "recovering: CTL Sync")
            sync()
        case .reopen:
            log("\(reason): reopening the QMI channel")
            dropSession()
            open()
        case .radioCycle:
            log("\(reason): turning the radio off and on (DMS Set Operating Mode low-power, then online)")
            setMode(.lowPower)
        case .reset:
            log("\(reason): resetting the modem (DMS Set Operating Mode reset)")
            setMode(.reset)
        }
    }

    func setMode(_ mode: DMS.OperatingMode) {
        guard let d = clients.dms else { return recover() }
        var r = DMS.SetOperatingMode.Request(clientID: d)
        r.mode = mode
        send(.radio(mode), r)
    }

    func radioAnswered(_ mode: DMS.OperatingMode, _ result: Result<QMIMessage, QMIError>) {
        guard isReady else { return }
        if case .failure = result {
            // DMS does not answer either: go on to the next step.
            return recover()
        }
        switch mode {
        case .lowPower:
            setMode(.online)
        case .online:
            // The radio is back: dial once the modem says it is registered again (the
            // serving-system indication may already have come).
            for c in calls where c.phase == .redialWait { waitForNetwork(c) }
        default:
            // Reset: the modem reboots; its channel closes and comes back (channelClosed).
            setState(nil, "resetting the modem")
        }
    }
}
