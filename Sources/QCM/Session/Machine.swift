import Base
import DHCPClient
import LinkConfig
import QMICore
#if QCM_MBIM
import MBIMCore
#endif

// The vocabulary between the connection's state machine (QMISession, Call — decisions, no
// I/O) and the Runner (the I/O: QMI channel, timers, rtnetlink, DHCP, files, systemd). The
// runner feeds events in; the machine answers with actions. Tests feed events with a fake
// clock and read the actions, without a process, a socket or a modem.

/// A connection's decisions, without I/O: the QMI session (QMISession) or the MBIM one
/// (MBIMSession). The Runner feeds it events and carries out its actions.
protocol CallMachine: AnyObject {
    var config: QMISession.Config { get }
    /// The data path as the machine uses it (netdevs of created links filled in).
    var plan: DataPlan { get }
    /// Set up once: a later loss of the modem is waited out rather than fatal.
    var initializedOnce: Bool { get }
    /// The netdev that carries PDN's traffic.
    func netdev(_ pdn: Int) -> String?
    func handle(_ event: Event, now: Int64) -> [Action]
}

/// What happened.
enum Event {
    case start
    /// The QMI channel is open (or could not be opened).
    case channelOpened
    case channelOpenFailed(QMIError)
    /// A request's answer (or its timeout, or the channel closing under it).
    case response(Request, Result<QMIMessage, QMIError>)
    case indication(QMIMessage)
    case timer(Timer)
    /// The channel is gone (USB reset, modem reboot, proxy exit).
    case channelClosed(QMIError)
    /// The channel delivered bytes that were not a valid frame (they were discarded): a
    /// message may have been lost with them.
    case frameDiscarded
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
    /// SIGINT/SIGTERM ("SIGINT" or "SIGTERM").
    case stop(signal: String)
    /// `qcm -k N` for one PDN of a qcm that serves several: stop that one only.
    case stopPDN(Int)
    /// `qcm status` asks the running qcm (`token` names the asker); answered by `.statusReply`.
    case statusQuery(Int)
    #if QCM_MBIM
    /// The answer to `.sendMBIM` (a *_DONE, or a failure).
    case mbimAnswer(MBIMStep, Result<MBIMMessage, MBIMError>)
    case mbimIndication(MBIMMessage)
    #endif
}

/// What to do.
enum Action {
    case openChannel
    case closeChannel
    case send(Request, QMIMessage, timeoutMs: Int64)
    #if QCM_MBIM
    case sendMBIM(MBIMStep, MBIMMessage, timeoutMs: Int64)
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
    /// QMAP through qmimux or rmnet: create the link of PDN's mux (the netdev comes back
    /// as `.dataLinkReady`).
    case createDataLink(pdn: Int, mux: UInt8, flags: UInt32)
    /// qmi_wwan_q / pcie_mhi: tell the driver the call on `mux` is up or down (link_state).
    case setLinkState(pdn: Int, mux: UInt8, up: Bool)
    /// Remove the data links qcm created (and the parent state it changed), for one PDN or all.
    case removeDataLinks(pdn: Int?)
    /// PDN is stopped while others go on: its status file and lock go.
    case pdnStopped(pdn: Int)
    /// Field status changed (its values went out as `.status`): save the status files, tell
    /// `qcm status --watch`, and refresh systemd's STATUS with this short form.
    case fieldChanged(String?)
    /// The answer to `.statusQuery`: values read from the modem now (PDN nil: the modem's).
    case statusReply(Int, [(Int?, String, String)])
    case log(String)
    /// The state line of PDN (or of every PDN when nil): status file and systemd STATUS.
    case state(pdn: Int?, String)
    /// A field of PDN's status file (nil removes it).
    case status(pdn: Int?, String, String?)
    /// PDN is connected: its uptime starts, systemd hears READY=1.
    case connected(pdn: Int, summary: String)
    /// Leave with this exit code (the channel is closed by then).
    case exit(Int32)
}

/// Every request the machine sends, named by what it is for, so its answer finds its way
/// back to the step that asked.
enum Request: Equatable {
    case proxyOpen
    case sync
    /// A client id for `service`: the session's own (pdn 0) or a PDN's WDS client for `family`.
    case allocate(QMIService, pdn: Int, family: UInt8)
    case release(QMIService, UInt8)
    case revision
    case ids
    case cardStatus
    case pinStatus
    case servingSystem
    case verifyPIN
    case dataFormat
    case radio(UInt8)
    case packetStatus(pdn: Int, family: UInt8)
    case readProfile(pdn: Int)
    case createProfile(pdn: Int)
    case modifyProfile(pdn: Int)
    case setIPFamily(pdn: Int, family: UInt8)
    /// Bind Mux Data Port: the PDN's WDS client for `family` to its QMAP mux.
    case bindMux(pdn: Int, family: UInt8)
    case stopStale(pdn: Int, family: UInt8)
    case start(pdn: Int, family: UInt8)
    case stop(pdn: Int, family: UInt8)
    case runtimeSettings(pdn: Int, family: UInt8)
    /// A PDN's call state asked again, after a frame was lost.
    case recheck(pdn: Int, family: UInt8)
    // Field status (ConnectionField.swift).
    case configSignal
    case registerIndications
    case signalInfo
    case systemInfo
    case imsi
    case iccid
    case packetStats(pdn: Int, query: Int)
    case rfBand(query: Int)

    /// Asked for `qcm status`, not for the session.
    var asksForUser: Bool {
        switch self {
        case .packetStats, .rfBand: return true
        default: return false
        }
    }
}

enum Timer: Equatable {
    case reopen
    case resync
    case registrationPoll
    case redial(pdn: Int)
    /// The longest a teardown may take.
    case teardownLimit
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
