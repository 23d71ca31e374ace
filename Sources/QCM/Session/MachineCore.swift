import Base
import CSystem
import QMICore

/// What both connection machines (QMI's QMISession, MBIMSession) share: the actions
/// collected while one event is handled, the clock, the armed timers, and the rule for a
/// second stop signal.
class MachineCore {
    /// Actions collected while handling one event.
    var out: [Action] = []
    var now: Int64 = 0
    var armed: [Timer] = []
    var stopRequestedAt: Int64?
    /// What the modem says about the network (registration, operator, signal ...).
    var field = FieldStatus()
    /// `qcm status` queries waiting for the modem.
    var queries: [StatusQuery] = []

    func log(_ s: String) { out.append(.log(s)) }

    /// Field status changes: each changed key to the status, and one `.fieldChanged` so the
    /// status files, `qcm status --watch` and the systemd STATUS line follow.
    func updateField(_ pairs: [(String, String?)]) {
        var changed = false
        for (k, v) in pairs where field.set(k, v) {
            out.append(.status(pdn: nil, k, v))
            changed = true
        }
        if changed { out.append(.fieldChanged(field.short)) }
    }

    /// The control channel did not open: the message and exit code. A permission problem is
    /// named as one (exit 9); through a proxy, the message says how to start it.
    func openFailure(_ e: QMIError, channel: String, proxy: String?) -> (code: Int32, message: String) {
        if case .untrustedPeer(let why) = e {
            return (ExitCode.permission, "cannot use the \(channel): \(why). Nothing was sent to it: no PIN, no password")
        }
        var message = "cannot open the \(channel): \(e.description)"
        if let p = proxy { message += " (is \(p) running? it starts with: /usr/libexec/\(p))" }
        if case let .system(_, errno) = e, errno == EACCES || errno == EPERM {
            return (ExitCode.permission, message + " (qcm needs read and write access to it: run as root, or as a user of its group)")
        }
        return (ExitCode.notResponding, message)
    }

    /// The session is gone (channel closed or reopened, the modem reset): every `qcm status`
    /// waiting for the modem is answered now with what came so far — its requests died with
    /// the session and would never be answered.
    func answerQueriesNow() {
        for q in queries { out.append(.statusReply(q.token, q.results)) }
        queries.removeAll()
    }

    /// One more of query `token`'s requests is answered (with `results`); when it was the
    /// last, the query's answer goes out.
    func queryAnswered(_ token: Int, _ results: [(Int?, String, String)]) {
        guard let i = queries.firstIndex(where: { $0.token == token }) else { return }
        queries[i].results += results
        queries[i].waiting -= 1
        if queries[i].waiting == 0 {
            let q = queries.remove(at: i)
            out.append(.statusReply(q.token, q.results))
        }
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

    /// A timer went off: true when it was still armed (one cancelled meanwhile may arrive).
    func fired(_ t: Timer) -> Bool {
        guard armed.contains(t) else { return false }
        armed.removeAll { $0 == t }
        return true
    }

    enum StopDecision { case begin, ignore, abandon }

    /// SIGINT/SIGTERM: the first begins the clean teardown; one more than 500 ms later gives
    /// it up; duplicates within 500 ms (a terminal's Ctrl-C reaching a whole process group,
    /// timeout(1) forwarding) count as one.
    func stopSignal(_ signal: String) -> StopDecision {
        if let first = stopRequestedAt {
            guard now - first > 500 else { return .ignore }
            log("second \(signal): giving up the clean teardown")
            return .abandon
        }
        stopRequestedAt = now
        log("\(signal): stopping")
        return .begin
    }

    /// The actions of a teardown given up: the links of `pdns` removed, the channel closed,
    /// exit 1.
    func abandonTeardown(_ pdns: [Int]) {
        for p in pdns { out.append(.deconfigureLink(pdn: p, release: false)) }
        out.append(.closeChannel)
        out.append(.exit(ExitCode.failure))
    }
}
