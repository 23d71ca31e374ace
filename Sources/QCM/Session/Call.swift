import Base
import LinkConfig
import QMICore
import QMIMessages

/// One PDN's data call: its state, link and redial schedule, whatever the protocol; and for
/// QMI its WDS clients (one per IP family), packet data handles and what the dial learnt.
/// The decisions about it are the session's (QMISession, MBIMSession) and SessionCore's.
final class Call {
    enum Phase: Equatable {
        /// The session is being set up.
        case setup
        case waitingForNetwork
        case dialing
        /// Call up; runtime settings and the link are on their way.
        case configuring
        case connected
        case redialWait
        /// Gave up (--max-retries) while other PDNs go on.
        case failed
        /// Stopped by `qcm -k N` while other PDNs go on.
        case stopped
    }

    let options: PDNOptions
    var pdn: Int { options.pdn }
    var phase = Phase.setup
    var plan: LinkPlan?
    var connectedAt: Int64?
    /// When the network last ended this call after it had come up.
    var droppedAt: Int64?
    /// Failed dials in a row (for --max-retries).
    var failures = 0
    /// Position in the redial schedule: the next redial that backs off waits 2^(n-1) s (at most 60 s).
    var backoff = 1

    // QMI: the WDS side of the call.
    /// The profile Start Network names: the PDN's, or the one Create Profile made for it.
    var profile: Int
    /// IP family → WDS client id.
    var wds = SmallMap<Family, UInt8>()
    /// IP family → packet data handle of the call that is up.
    var handles = SmallMap<Family, UInt32>()
    // Facts read during setup.
    var profileSettings: WDS.GetProfileSettings.Response?
    var profileMissing = false
    /// Families whose call was already up at start (a qcm killed with -9 left it).
    var staleFamilies: [Family] = []
    // The dial in progress.
    var started = SmallMap<Family, UInt32>()
    var dialErrors: [String] = []
    var settings = SmallMap<Family, WDS.GetRuntimeSettings.Response>()
    var settingsProblem: String?
    /// Bridge mode: the address in the driver's bridge_ipv4 (or being written there).
    var bridgeAddress: UInt32?
    /// The bridge the netdev is a port of, as the Runner found it.
    var bridgeMaster: String?

    init(_ options: PDNOptions) {
        self.options = options
        profile = options.pdn
    }

    /// Neither given up nor stopped: the session still serves it.
    var isActive: Bool { phase != .failed && phase != .stopped }

    /// The delay of the redial after the network ended the call (which had come up): at
    /// once — the network usually takes the next call — unless the call was up for less than
    /// `stableMs` and had dropped within `stableMs` before: a network that drops every call
    /// is then redialed with the backoff (1, 2, 4 … 60 s), not in a tight loop.
    func redialDelayAfterDrop(now: Int64, stableMs: Int64) -> Int64 {
        let wasStable = connectedAt.map { now - $0 >= stableMs } ?? false
        let droppedRecently = droppedAt.map { now - $0 < stableMs } ?? false
        droppedAt = now
        guard !wasStable && droppedRecently else {
            backoff = 1                   // a dial that fails after this one waits 1 s, 2 s …
            return 0
        }
        return nextRedialDelayMs()
    }

    /// The delay of the next redial, advancing the schedule.
    func nextRedialDelayMs() -> Int64 {
        let delay = min(Int64(1000) << Int64(min(backoff - 1, 10)), 60_000)
        backoff += 1
        return delay
    }

    var clientIDs: [UInt8] { wds.values }

    /// The family a WDS client id belongs to, when it is one of this call's.
    func family(ofClient cid: UInt8) -> Family? {
        for (f, c) in wds.pairs where c == cid { return f }
        return nil
    }

    /// The modem-side state of the call is gone (reset, channel lost, client revoked).
    func forget() {
        wds.removeAll()
        handles.removeAll()
        started.removeAll()
        settings.removeAll()
        plan = nil
        connectedAt = nil
        if isActive { phase = .setup }
    }
}
