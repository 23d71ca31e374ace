import Base
import DHCPClient
import LinkConfig
import QMICore
#if QCM_MBIM
import MBIMCore
#endif
#if QCM_AT
import ATCore
#endif

// The vocabulary between the session machines (decisions, no I/O) and the Runner (the I/O:
// the control channel, timers, rtnetlink, DHCP, files, systemd). The Runner feeds events
// in; the machine answers with actions. Tests feed events with a fake clock and read the
// actions, without a process, a socket or a modem.
//
// Events every protocol shares are `Event`; what only one control protocol says has its own
// enum (`QMIEvent`, `MBIMEvent`), handled by that protocol's machine alone — so every switch
// over events is exhaustive, and nothing meant for one protocol is dropped by another.

/// A session's decisions, without I/O: QMI's (QMISession), MBIM's (MBIMSession) or AT's (ATSession). The
/// Runner feeds it events and carries out its actions.
protocol SessionMachine: AnyObject {
    var config: SessionConfig { get }
    /// The data path as the machine uses it (netdevs of created links filled in).
    var plan: DataPlan { get }
    /// Set up once: a later loss of the modem is waited out rather than fatal.
    var initializedOnce: Bool { get }
    /// The netdev that carries PDN's traffic.
    func netdev(_ pdn: Int) -> String?
    func handle(_ event: Event, now: Int64) -> [Action]
}

/// What happened, whatever the control protocol.
enum Event {
    case start
    /// The control channel is open (or could not be opened).
    case channelOpened
    case channelOpenFailed(ChannelError)
    /// The channel is gone (USB reset, modem reboot, proxy exit).
    case channelClosed(ChannelError)
    case timer(Timer)
    /// The result of `.switchRawIP`.
    case rawIPSwitched(Bool)
    /// The result of `.applyLink` / `.startDHCP`.
    case linkApplied(pdn: Int, Result<LinkPlan, LinkError>)
    case dhcp(pdn: Int, DHCPMachine.Event)
    /// The result of `.prepareParent` (nil: done).
    case parentReady(LinkError?)
    /// The result of `.createDataLink`: the netdev that carries the PDN.
    case dataLinkReady(pdn: Int, Result<String, LinkError>)
    /// The modem came back with a driver that offers another data path (qmap_mode changed).
    case dataPathChanged(String)
    /// The result of `.setBridge`: on success, the bridge the netdev is a port of (nil: none).
    case bridgeSet(pdn: Int, Result<String?, LinkError>)
    /// SIGINT/SIGTERM ("SIGINT" or "SIGTERM").
    case stop(signal: String)
    /// `qcm -k N` for one PDN of a qcm that serves several: stop that one only.
    case stopPDN(Int)
    /// `qcm status` asks the running qcm (`token` names the asker); answered by `.statusReply`.
    case statusQuery(Int)
}

/// Why a control channel could not be opened, or went.
enum ChannelError: Error, Equatable {
    case system(operation: String, errno: Int32)
    case gone(String)
    case notFound(String)
    /// The process behind the socket is neither root nor qcm's user (`Peer.problem`).
    case untrustedPeer(String)
    case invalid(String)

    var description: String {
        switch self {
        case let .system(op, e): return "\(op): \(Errno(e).description)"
        case .gone(let why): return "device gone: \(why)"
        case .notFound(let what): return "\(what) not found"
        case .untrustedPeer(let why), .invalid(let why): return why
        }
    }

    /// What QMICore reports, as a channel error.
    init(_ e: QMIError) {
        switch e {
        case let .system(op, errno): self = .system(operation: op, errno: errno)
        case .deviceGone(let why): self = .gone(why)
        case .notFound(let what): self = .notFound(what)
        case .untrustedPeer(let why): self = .untrustedPeer(why)
        default: self = .invalid(e.description)
        }
    }

    var isUntrustedPeer: Bool {
        if case .untrustedPeer = self { return true }
        return false
    }
}

/// What to do.
enum Action {
    case openChannel
    case closeChannel
    /// A QMI request; its answer comes back as `QMIEvent.response`.
    case sendQMI(Request, QMIMessage, timeoutMs: Int64)
    #if QCM_MBIM
    /// An MBIM request; its answer comes back as `MBIMEvent.answer`.
    case sendMBIM(MBIMStep, MBIMMessage, timeoutMs: Int64)
    #endif
    #if QCM_AT
    /// An AT command line (built from `command`); its answer comes back as `ATEvent.answer`.
    case sendAT(ATStep, ATCommand, String, timeoutMs: Int64)
    /// Listen for the module's Router Advertisements on PDN's Ethernet link (the link brought
    /// up); each usable one comes back as `ATEvent.routerAdvertised`.
    case watchRouter(pdn: Int)
    #endif
    case arm(Timer, ms: Int64)
    case cancel(Timer)
    /// Set qmi_wwan's raw_ip attribute to Y (the result comes back as `.rawIPSwitched`).
    case switchRawIP
    /// Configure PDN's link from runtime settings (the result comes back as `.linkApplied`).
    case applyLink(pdn: Int, LinkPlan, leaseSeconds: UInt32?, renew: Bool)
    /// Run DHCP on PDN's link (leases come back as `.dhcp`).
    case startDHCP(pdn: Int)
    /// Remove PDN's link configuration (`release`: send a DHCP RELEASE first).
    case deconfigureLink(pdn: Int, release: Bool)
    /// QMAP: bring the parent netdev up, its MTU raised to the aggregation size the modem
    /// granted (when given).
    case prepareParent(mtu: UInt32?)
    /// QMAP through qmimux or rmnet: create the link of PDN's mux; MBIM over the WWAN
    /// subsystem: the wwan link of PDN's session, `mux` (the netdev comes back as
    /// `.dataLinkReady`).
    case createDataLink(pdn: Int, mux: UInt8, flags: UInt32)
    /// qmi_wwan_q / pcie_mhi: tell the driver the call on `mux` is up or down (link_state).
    /// MBIM over pcie_mhi names its child N (rmnet_mhi0.N) as mux 0x80+N: link_state is
    /// per child, the value the same whether the child carries a QMAP mux or an MBIM session.
    case setLinkState(pdn: Int, mux: UInt8, up: Bool)
    /// Bridge mode (-b): PDN's netdev bridges (`on`) or not, and the address the driver hands
    /// to the LAN host (0: none). The result comes back as `.bridgeSet`.
    case setBridge(pdn: Int, on: Bool, ipv4: UInt32)
    /// Remove the data links qcm created (and the parent state it changed), for one PDN or all.
    case removeDataLinks(pdn: Int?)
    /// PDN is stopped while others go on: its status file and lock go.
    case pdnStopped(pdn: Int)
    /// Field status changed (its values went out as `.status`): save the status files, tell
    /// `qcm status --watch`, and refresh systemd's STATUS with this short form.
    case fieldChanged(String?)
    /// The answer to `.statusQuery`: values read from the modem now.
    case statusReply(Int, [StatusValue])
    case log(String)
    /// The state line of PDN (or of every PDN when nil): status file and systemd STATUS.
    case state(pdn: Int?, String)
    /// A field of PDN's status record (nil removes it).
    case status(pdn: Int?, StatusKey, String?)
    /// PDN is connected: its uptime starts, systemd hears READY=1.
    case connected(pdn: Int, summary: String)
    /// Leave with this exit code (the channel is closed by then).
    case exit(Int32)
}

enum Timer: Equatable {
    case reopen
    case registrationPoll
    case redial(pdn: Int)
    /// The longest a teardown may take.
    case teardownLimit
    /// What only a QMI session waits for.
    case qmi(QMITimer)
    #if QCM_AT
    /// What only an AT session waits for.
    case at(ATTimer)
    #endif
}

enum QMITimer: Equatable {
    /// CTL Sync again, after a modem reset.
    case resync
    /// How long a teardown waits for a Start Network in flight.
    case dialWait
}

/// Exit codes, documented in README.md ("Exit codes") and in --help.
enum ExitCode {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
    static let noModem: Int32 = 3
    static let sim: Int32 = 4
    static let notResponding: Int32 = 5
    static let callFailed: Int32 = 6
    static let locked: Int32 = 7
    static let link: Int32 = 8
    static let permission: Int32 = 9
}

/// What every session machine is set up with.
struct SessionConfig {
    let options: Options
    /// The channel as shown in the log and status ("/dev/cdc-wdm0", "@qmi-proxy",
    /// "@quectel-qmi-proxy0").
    let channel: String
    /// The modem's control device, which a proxy is asked to open (or is named after).
    let device: String
    /// `-p`: the proxy qcm talks through, if any.
    let proxy: Proxy?
    var viaProxy: Bool { proxy != nil }
    /// The driver owns QMI's CTL (GobiNet): no Sync, client ids come with its service files.
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
    /// The module is dialed with AT commands (no QMI: UNISOC, ASR): the session is an ATSession.
    var at = false
    /// The USB product id, when discovery read it (some AT modules need their own rules;
    /// SDX35 modules take the APN type in Start Network).
    var productID: UInt16?
    /// Bridge mode, per PDN whose netdev has it (BridgePlan).
    var bridges: [BridgeTarget] = []

    /// The bridge target of PDN (on or off).
    func bridge(_ pdn: Int) -> BridgeTarget? { bridges.first { $0.pdn == pdn } }

    struct Timeouts {
        var request: Int64 = 10_000
        var sync: Int64 = 5_000
        var startNetwork: Int64 = 60_000
        var teardown: Int64 = 1_000
        var teardownLimit: Int64 = 2_500
        /// What no request waits longer than (AT commands have their own timeouts).
        var limit: Int64 = .max
        /// An AT module that does not report its call is asked this often whether the call is
        /// still up (QCM_AT_CHECK_MS, for tests).
        var atCallCheck: Int64 = 30_000

        /// All of them at most `ms` (QCM_QMI_TIMEOUT_MS, for tests of a modem that stops answering).
        func capped(_ ms: Int64) -> Timeouts {
            Timeouts(request: min(request, ms), sync: min(sync, ms), startNetwork: min(startNetwork, ms),
                     teardown: min(teardown, ms), teardownLimit: teardownLimit, limit: ms, atCallCheck: atCallCheck)
        }
    }
}

extension SessionCore {
    /// The control channel did not open: the message and exit code. A permission problem or
    /// an untrusted peer is named as one (exit 9); through a proxy, the message says how to
    /// start it.
    static func openFailure(_ e: ChannelError, channel: String, proxyHint: String?) -> (code: Int32, message: String) {
        if case .untrustedPeer(let why) = e {
            return (ExitCode.permission, "cannot use the \(channel): \(why). Nothing was sent to it: no PIN, no password")
        }
        var message = "cannot open the \(channel): \(e.description)"
        if let h = proxyHint { message += " (\(h))" }
        if case let .system(_, errno) = e, Errno(errno).isPermissionDenied {
            return (ExitCode.permission, message + " (qcm needs read and write access to it: run as root, or as a user of its group)")
        }
        return (ExitCode.notResponding, message)
    }
}

/// A teardown in two rounds — stop the calls, then release what the session holds (QMI:
/// client ids; MBIM: the device) — with the exit code it ends with and what the modem did
/// not confirm.
final class Teardown {
    let exitCode: Int32
    var problems: [String] = []
    /// The requests that stop the calls went out.
    var callsStopped = false
    /// Of those, the ones still unanswered.
    var stopsOutstanding = 0
    /// The releases still unanswered (nil: not sent yet).
    var releasesOutstanding: Int?

    init(exitCode: Int32) { self.exitCode = exitCode }
}
