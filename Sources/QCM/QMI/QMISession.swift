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
final class QMISession: MachineCore, CallMachine {
    struct Config {
        let options: Options
        /// The channel as shown in the log and status ("/dev/cdc-wdm0", "@qmi-proxy").
        let channel: String
        /// The modem's QMI device, which a qmi-proxy is asked to open.
        let device: String
        let viaProxy: Bool
        /// The driver owns CTL (GobiNet): no Sync, client ids come with its service files.
        var driverOwnsCTL = false
        let netdev: String?
        /// What discovery read from qmi/raw_ip (nil: the driver does not say).
        let rawIP: Bool?
        /// qmi_wwan's qmi/raw_ip exists: the driver can be switched to raw-IP.
        let rawIPSwitchable: Bool
        let driver: String?
        let timeouts: Timeouts
        /// The data path: QMAP or not, and each PDN's mux and netdev.
        let plan: DataPlan
        /// The modem speaks MBIM (cdc_mbim): the session is an MBIMSession.
        var mbim = false
    }

    /// CTL Sync drops every client id on the modem: only on a channel of our own.
    var canSync: Bool { !config.viaProxy && !config.driverOwnsCTL }

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

    var phase = Phase.idle
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
    /// The data path as the session uses it (netdevs of created links filled in).
    var plan: DataPlan
    /// Which of `plan.versions` the data format negotiation is at.
    var versionTried = 0
    /// The aggregation the modem granted (QMAP paths).
    var granted: (version: WDA.AggregationProtocol, size: UInt32)?
    /// PDNs whose qmimux/rmnet link is being created (0: the parent being brought up).
    var linksPending: [Int] = []
    var exitCode: Int32?
    var teardownProblems: [String] = []
    var recheckInFlight = false

    /// Requests that timed out since the modem last answered one, and the last of them:
    /// the modem may have stopped answering.
    var timeoutsSinceAnswer = 0
    var lastTimeout = ""
    /// The next step of the escalating recovery (see `recover`).
    var recoveryStep = 0

    init(_ config: Config) {
        self.config = config
        plan = config.plan
        calls = config.options.pdns.map { Call($0) }
        super.init()
    }

    /// The netdev that carries PDN's traffic.
    func netdev(_ pdn: Int) -> String? { plan.link(pdn)?.netdev ?? (plan.usesQMAP ? nil : config.netdev) }

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
        case .parentReady(let error): parentReady(error)
        case let .dataLinkReady(pdn, result): dataLinkReady(pdn, result)
        case .dataPathChanged(let why): fail(ExitCode.noModem, why)
        case .stop(let signal): stop(signal: signal)
        case .stopPDN(let pdn): stopPDN(pdn)
        case .statusQuery(let token): statusQuery(token)
        #if QCM_MBIM
        case .mbimAnswer, .mbimIndication: break
        #endif
        }
        return out
    }

    // Teardown bookkeeping.

    /// Whether the Stop Network requests of the teardown went out.
    var teardownStarted = false
    /// Stop Network requests of the teardown still unanswered.
    var stopsOutstanding = 0
    var releasesOutstanding = 0

    // MARK: helpers

    func send(_ r: Request, _ m: some QMITypedMessage, timeout: Int64? = nil) {
        if let p = m.problem {
            // A value the catalogue cannot encode: the request fails here, like a bad answer would.
            response(r, .failure(p))
            return
        }
        out.append(.send(r, m.message, timeoutMs: timeout ?? config.timeouts.request))
    }

    func call(_ pdn: Int) -> Call? { calls.first { $0.pdn == pdn } }

    /// "PDN 2: " in front of a call's log lines when qcm serves several.
    func tag(_ c: Call) -> String { calls.count > 1 ? "PDN \(c.pdn): " : "" }

    func setState(_ call: Call?, _ text: String) { out.append(.state(pdn: call?.pdn, text)) }

    /// A request the current setup step waits for.
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
}

typealias DHCPEvent = DHCPMachine.Event
