import Foundation
import XCTest
import Base
import DHCPClient
import LinkConfig
@testable import QMICore
import QMIMessages
import QMISim
@testable import QCM

/// QMISession driven event by event on the test's clock, against the modem model qcm is
/// dialed against end to end — QMISim, in process, without a socket (its loop runs on the
/// same clock). The harness does the Runner's part: requests go to the modem with
/// transaction ids and come back as responses (or time out), indications are handed on,
/// timers are kept, and what the Runner would report (a link applied, a parent ready, a
/// QMAP link made) is fed back. Tests read the session's actions, state and requests.
final class QMIHarness {
    let session: QMISession
    let sim: QMISimulator
    var now: Int64 = 0

    /// Requests the modem has not answered yet.
    struct Pending {
        let request: Request
        let message: QMIMessage
        let deadline: Int64
    }
    private(set) var pending: [Pending] = []
    /// Every request sent, in order.
    private(set) var sent: [QMIMessage] = []
    var sentNames: [String] { sent.map { $0.displayName } }
    /// Every action the session produced, in order.
    var actions: [Action] = []
    private(set) var timers: [(timer: QCM.Timer, due: Int64)] = []
    private(set) var exitCode: Int32?
    /// The channel: open (in process), or asked for.
    private var client: QMISimulator.LocalClient?
    private var opening = false
    private var inbox: [[UInt8]] = []
    private var nextTID: UInt16 = 1
    /// What the Runner would report back, queued.
    private var runnerEvents: [Event] = []
    /// The Runner's result of applying a link plan (default: applied).
    var linkResult: (LinkPlan) -> Result<LinkPlan, LinkError> = { .success($0) }
    /// The Runner's result of writing a bridge's attributes (default: written, the netdev a
    /// port of br0).
    var bridgeResult: (Int, Bool, UInt32) -> Result<String?, LinkError> = { _, _, _ in .success("br0") }

    init(_ args: [String] = [], viaProxy: Bool = false, proxy: Proxy? = nil, rawIP: Bool? = true, switchable: Bool = false,
         driver: String = "qmi_wwan", netdev: String? = "wwan0", noLink: Bool = true, facts: DriverFacts? = nil,
         productID: UInt16? = nil, _ configure: (inout SimConfig) -> Void = { _ in }) throws {
        let o = try Options.parse(args + (noLink ? ["--no-link"] : []))
        let f = facts ?? DriverFacts(driver: driver, netdev: netdev, netdevs: netdev.map { [$0] } ?? [], addMux: true)
        let plan = try DataPlan.decide(f, pdns: o.pdns, choice: o.dataPath)
        let p = proxy ?? (viaProxy ? .libqmi : nil)
        var config = SessionConfig(
            options: o, channel: p?.socket(device: "/dev/cdc-wdm0") ?? "/dev/cdc-wdm0", device: "/dev/cdc-wdm0", proxy: p,
            netdev: netdev, rawIP: rawIP, rawIPSwitchable: switchable, driver: f.driver, timeouts: SessionConfig.Timeouts(),
            plan: plan)
        config.bridges = try BridgePlan.decide(f, plan, pdns: o.pdns)
        config.productID = productID
        session = QMISession(config)
        var c = SimConfig()
        c.latencyMs = 0
        configure(&c)
        let loop = EventLoop()
        sim = QMISimulator(config: c, loop: loop)
        self.viaProxy = p == .libqmi
        loop.clock = { [unowned self] in self.now + self.modemAhead }
    }

    private let viaProxy: Bool
    /// How far the modem's clock runs ahead of the session's: the modem's own few-millisecond
    /// delays (an indication right after its response) pass without the session's time moving.
    private var modemAhead: Int64 = 0

    // MARK: feeding

    @discardableResult
    func feed(_ e: Event) -> [Action] { perform(session.handle(e, now: now)) }

    @discardableResult
    func feed(_ e: QMIEvent) -> [Action] { perform(session.handle(e, now: now)) }

    private func perform(_ list: [Action]) -> [Action] {
        actions += list
        for a in list {
            switch a {
            case let .sendQMI(r, m, timeout): send(r, m, timeout)
            case let .arm(t, ms):
                timers.removeAll { $0.timer == t }
                timers.append((t, now + ms))
            case .cancel(let t): timers.removeAll { $0.timer == t }
            case .exit(let code): exitCode = code
            case .openChannel: opening = true
            case .closeChannel:
                client?.close()
                client = nil
                pending.removeAll()
                inbox.removeAll()
            case .prepareParent: runnerEvents.append(.parentReady(nil))
            case let .createDataLink(pdn, mux, _): runnerEvents.append(.dataLinkReady(pdn: pdn, .success("qmimux\(Int(mux) - 0x81)")))
            case let .applyLink(pdn, plan, _, _): runnerEvents.append(.linkApplied(pdn: pdn, linkResult(plan)))
            case let .setBridge(pdn, on, ipv4): runnerEvents.append(.bridgeSet(pdn: pdn, bridgeResult(pdn, on, ipv4)))
            default: break
            }
        }
        return list
    }

    private func send(_ r: Request, _ m: QMIMessage, _ timeout: Int64) {
        var msg = m
        msg.transactionID = m.service == .ctl ? nextTID & 0xff : nextTID
        nextTID = nextTID == 0xff ? 1 : nextTID + 1
        sent.append(msg)
        pending.append(Pending(request: r, message: msg, deadline: now + timeout))
        client?.send(msg.encode())
    }

    /// A frame from the modem: the answer to a pending request, or an indication.
    private func deliver(_ frame: [UInt8]) {
        guard let m = try? QMIMessage.decode(frame) else {
            feed(.frameDiscarded)
            return
        }
        if m.kind == .response, let i = pending.firstIndex(where: {
            $0.message.service == m.service && $0.message.clientID == m.clientID && $0.message.transactionID == m.transactionID
        }) {
            let p = pending.remove(at: i)
            feed(.response(p.request, .success(m)))
        } else if m.kind == .indication {
            feed(.indication(m))
        }
    }

    // MARK: running

    /// Everything that follows now: the channel opened, the modem's answers and indications
    /// handed on, the Runner's reports fed back — until nothing more happens.
    func settle(limit: Int = 1000) {
        for _ in 0..<limit {
            if opening {
                opening = false
                let c = sim.connectLocal(proxy: viaProxy)
                c.received = { [unowned self] bytes in self.inbox.append(bytes) }
                client = c
                feed(.channelOpened)
                continue
            }
            if !runnerEvents.isEmpty {
                feed(runnerEvents.removeFirst())
                continue
            }
            if !inbox.isEmpty {
                deliver(inbox.removeFirst())
                continue
            }
            if sim.runDue() { continue }
            // What the modem does a few milliseconds on (an indication after its answer).
            guard let next = sim.nextTimerIn, next <= 10 else { return }
            modemAhead += next
        }
        XCTFail("the session and the modem did not settle")
    }

    /// Start, open the channel and settle: with a healthy modem the call comes up.
    func connect() {
        feed(.start)
        settle()
    }

    /// Lets time pass to `ms`: the session's timers and the requests' timeouts (as the
    /// engine reports them) fire on the way, the modem's too.
    func advance(to ms: Int64) {
        while true {
            let dueTimer = timers.filter { $0.due <= ms }.min { $0.due < $1.due }
            let dueRequest = pending.filter { $0.deadline <= ms }.min { $0.deadline < $1.deadline }
            guard dueTimer != nil || dueRequest != nil else { break }
            if let t = dueTimer, t.due <= dueRequest?.deadline ?? Int64.max {
                now = max(now, t.due)
                timers.removeAll { $0.timer == t.timer }
                feed(.timer(t.timer))
            } else if let p = dueRequest {
                now = max(now, p.deadline)
                pending.removeAll { $0.message.transactionID == p.message.transactionID && $0.message.service == p.message.service }
                feed(.response(p.request, .failure(.timeout(message: p.message.displayName, afterMs: 0))))
            }
            settle()
        }
        now = max(now, ms)
        settle()
    }

    /// Fires `t` now (without waiting for it).
    func fire(_ t: QCM.Timer) {
        timers.removeAll { $0.timer == t }
        feed(.timer(t))
        settle()
    }

    /// How long until `t` fires (nil: not armed).
    func delay(of t: QCM.Timer) -> Int64? { timers.first { $0.timer == t }.map { $0.due - now } }

    // MARK: what the session did

    /// The log lines, for the few tests that pin the quectel-CM lines users grep for.
    var log: [String] { actions.compactMap { if case .log(let s) = $0 { return s }; return nil } }
    var states: [String] { actions.compactMap { if case let .state(_, s) = $0 { return s }; return nil } }
    var phases: [Call.Phase] { session.calls.map { $0.phase } }
    var pendingNames: [String] { pending.map { $0.message.displayName } }

    /// Whether an action the session produced matches.
    func did(_ match: (Action) -> Bool) -> Bool { actions.contains(where: match) }

    /// The status values the session set for `key` (nil: removed), in order.
    func statusValues(_ key: StatusKey) -> [String?] {
        actions.compactMap { if case let .status(_, k, v) = $0, k == key { return v }; return nil }
    }

    /// The reason the session gave up with (its last_error).
    var lastError: String? { statusValues(.lastError).last ?? nil }
    var lastEndReason: String? { statusValues(.lastEndReason).last ?? nil }

    /// Answers a pending request itself (the modem is bypassed): with `result`. Nothing else
    /// runs meanwhile (`settle` does).
    func answer(_ matching: (Request) -> Bool, _ result: (QMIMessage) -> Result<QMIMessage, QMIError>) {
        guard let i = pending.firstIndex(where: { matching($0.request) }) else { return XCTFail("no such request pending: \(pendingNames)") }
        let p = pending.remove(at: i)
        feed(.response(p.request, result(p.message)))
    }
}
