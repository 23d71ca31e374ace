import Base
import QMICore
import QMIMessages

/// Everything about the simulated modem that a test or `qmi-sim` flag can change.
public struct SimConfig {
    // Identity
    public var manufacturer = "Quectel"
    public var model = "EC25"
    public var revision = "EC25EFAR06A11M4G"
    public var imei = "867394041355693"
    public var iccid = "89860117851101539010"
    public var imsi = "460011234567890"

    // SIM card
    public enum SIMState: Equatable {
        case ready
        /// PIN required; `retries` attempts left before PUK.
        case pinRequired
        case pukBlocked
        case absent
    }
    public var sim: SIMState = .ready
    public var pin = "1234"
    public var pinRetries = 3
    public var pukRetries = 10

    // Network
    public var registrationDelayMs: Int64 = 0
    /// Registration never completes (stays "searching").
    public var neverRegister = false
    public var roaming = false
    public var mcc: UInt16 = 460
    public var mnc: UInt16 = 1
    public var operatorName = "CHN-UNICOM"
    /// How the Serving System PLMN description carries the name: as ASCII, GSM 7-bit packed
    /// or UCS-2LE (real modems send all three, without saying which).
    public enum NameEncoding { case ascii, gsm7, ucs2 }
    public var operatorEncoding = NameEncoding.ascii
    /// The serving cell: tracking area, cell id, LAC (3G), LTE band (nasActiveBand: 122 =
    /// eutran-3) and EARFCN.
    public var tac: UInt16 = 0x1a2b
    public var cellID: UInt32 = 0x0a3b_1c02
    public var band: UInt16 = 122
    public var earfcn: UInt32 = 1650
    /// 5G NR signal (EN-DC), when the modem reports it: RSRP dBm, SNR 0.1 dB, RSRQ dB.
    public var nr: (rsrp: Int16, snr: Int16, rsrq: Int16)?
    /// QMI radio interface: 8 = LTE, 12 = 5G NR.
    public var radioInterface: Int64 = 8
    public var rssi: Int64 = -65
    public var rsrq: Int64 = -9
    public var rsrp: Int64 = -95
    public var snr: Int64 = 120   // 0.1 dB units

    // Data
    /// WDA link layer protocol the modem starts in: 1 = 802.3, 2 = raw-IP.
    public var linkProtocol: UInt64 = 2
    public struct Profile: Equatable {
        public var apn: String
        public var username: String
        public var password: String
        public var auth: UInt64       // 0 none, 1 PAP, 2 CHAP, 3 PAP|CHAP
        public var pdpType: UInt64    // 0 IPv4, 2 IPv6, 3 IPv4v6
        /// The profile's APN Type Mask (TLV 0xDD: 1 default/internet, 2 IMS ...), reported and
        /// kept only when the modem's profiles carry one (`profilesCarryAPNType`).
        public var apnTypeMask: UInt64
        public init(apn: String = "", username: String = "", password: String = "", auth: UInt64 = 0, pdpType: UInt64 = 3,
                    apnTypeMask: UInt64 = 0) {
            self.apn = apn
            self.username = username
            self.password = password
            self.auth = auth
            self.pdpType = pdpType
            self.apnTypeMask = apnTypeMask
        }
    }
    /// The modem's profiles carry an APN type (Get Profile Settings reports TLV 0xDD, Modify
    /// and Create Profile keep it), as newer firmware does. Off: the EC25 of the captures.
    public var profilesCarryAPNType = false
    /// An SDX35 module (quectel-CM's "X35", USB product 0316): WDS Start Network takes the APN
    /// type (TLV 0x38) and brings a call up by APN name (0x3C) or APN type (0x3D) instead of
    /// by profile (0x31). Off, those TLVs are unknown to the modem and ignored, as QMI
    /// services ignore TLVs they do not know.
    public var apnTypeInStartNetwork = false
    /// Profiles 1...N (index 0 of the array is profile 1).
    public var profiles: [Profile] = [Profile(apn: "cmnet"), Profile(), Profile(), Profile()]
    public var ipv4Address: UInt32 = 0x0a5a_0171          // 10.90.1.113
    public var ipv4Prefix: Int = 30
    public var ipv4Gateway: UInt32 = 0x0a5a_0172          // 10.90.1.114
    public var ipv4DNS: [UInt32] = [0xd38a_b402, 0xd38a_b403]   // 211.138.180.2, .3
    public var ipv6Address: [UInt8] = Text.parseIPv6("2409:8930:463:3daa:7c8e:429a:c902:c6cc")!
    public var ipv6Prefix: Int = 64
    public var ipv6Gateway: [UInt8] = Text.parseIPv6("2409:8930:463:3daa:7c8e:429a:c902:c6cd")!
    public var ipv6DNS: [[UInt8]] = [Text.parseIPv6("2409:8030:2000::1")!, Text.parseIPv6("2409:8030:2000::2")!]
    /// An address beyond the network that answers pings (from any address of a call's /64).
    public var ipv6Remote: [UInt8] = Text.parseIPv6("2001:db8:ffff::1")!
    /// Each new IPv6 call gets the next /64 (the network hands out another prefix on a redial).
    public var ipv6PrefixRotates = false
    /// The network's Router Advertisement (what a PGW sends on the PDN): sent when an IPv6
    /// call comes up and to every Router Solicitation while it is up. The faults change what
    /// it says: another /64, a prefix length, the prefix's lifetimes, the MTU.
    public var sendsRouterAdvertisements = true
    public var raPrefix: [UInt8]?
    public var raPrefixLength = 64
    public var raPrefixLifetime: UInt32 = 0xffff_ffff
    public var raMTU: UInt32?
    public var mtu: UInt32 = 1500
    /// QMAP versions the modem speaks (EC25: QMAP v1; SDX55 modules also QMAPv5) and the
    /// largest downlink aggregate it sends.
    public var qmapVersions: [WDA.AggregationProtocol] = [.qmap]
    public var qmapMaxSize: UInt32 = 16384
    /// The modem's data endpoint (type 2 HSUSB, the QMI interface number), what Bind Mux
    /// Data Port must name.
    public var endpoint: (type: UInt32, interface: UInt32) = (2, 4)

    /// The addresses of a call on `profile`: profile 1 gets the configured ones, profile N
    /// the same shifted into its own /24 and IPv6 /64 (10.90.N.113, gateway 10.90.N.114).
    /// `generation` moves the IPv6 /64 on (a network that gives another prefix on a redial).
    public func addressing(profile: Int, generation: Int = 0) -> (ipv4Address: UInt32, ipv4Gateway: UInt32, ipv6Address: [UInt8], ipv6Gateway: [UInt8]) {
        let n = UInt32(max(0, min(profile - 1, 200)))
        var v6 = ipv6Address, g6 = ipv6Gateway
        if v6.count == 16 && g6.count == 16 {
            v6[7] = v6[7] &+ UInt8(n)
            g6[7] = g6[7] &+ UInt8(n)
            v6[6] = v6[6] &+ UInt8(truncatingIfNeeded: generation)
            g6[6] = g6[6] &+ UInt8(truncatingIfNeeded: generation)
        }
        return (ipv4Address &+ n << 8, ipv4Gateway &+ n << 8, v6, g6)
    }
    /// Calls survive the release of the client that started them (autoconnect-like), so a
    /// killed client leaves a call up that the next one must deal with.
    public var callsOutliveClients = false

    // CTL
    /// Client-id pool per service (real modems run out after a handful per service).
    public var clientIDsPerService = 16
    /// GobiNet: services whose service file the driver refuses (EFAULT: the modem said no).
    public var gobiNetRefuses: Set<UInt8> = []

    // Faults
    /// Delay before every response (a realistic 30 ms by default).
    public var latencyMs: Int64 = 30
    /// Per-message latency overrides, keyed by `SimConfig.key(service, messageID)`.
    public var latencyFor: [UInt32: Int64] = [:]
    /// Messages never answered.
    public var neverAnswer: Set<UInt32> = []
    /// Messages answered with a malformed frame (bad lengths) instead of the response.
    public var malformedFor: Set<UInt32> = []
    /// Messages answered with a transaction id that matches nothing (the real response
    /// never comes).
    public var wrongTIDFor: Set<UInt32> = []
    /// Messages answered with a truncated frame (its QMUX length promises more bytes).
    public var truncatedFor: Set<UInt32> = []
    /// Start Network is rejected with this call-end reason (and verbose reason).
    public var rejectCall: (reason: UInt16, verboseType: UInt16, verboseReason: Int16)?
    /// How many Start Network attempts are rejected (-1: all of them).
    public var rejectCallTimes = -1
    /// The network drops each call this long after it came up (a packet service indication).
    public var dropCallAfterMs: Int64?
    /// Reason reported when the network drops the call.
    public var dropReason: (reason: UInt16, verboseType: UInt16, verboseReason: Int16) = (1003, 6, 36)
    /// The modem resets (all client ids dropped, CTL Sync indication) this long after start.
    public var resetAfterMs: Int64?
    /// The device disappears (sockets closed) this long after start...
    public var goneAfterMs: Int64?
    /// ...and comes back this long after that (nil: never).
    public var backAfterMs: Int64?

    public init() {}

    public static func key(_ service: QMIService, _ id: UInt16) -> UInt32 { UInt32(service.rawValue) << 16 | UInt32(id) }
    public static func key(_ spec: QMIMessageSpec) -> UInt32 { key(spec.service, spec.id) }

    /// Parses "WDS:0x0020", "wds:32", "WDS Start Network" or "QMIWDS_START_NETWORK_INTERFACE".
    public static func parseMessage(_ s: String) -> UInt32? {
        if let spec = QMICatalogue.find(name: s) { return key(spec) }
        let parts = Text.split(s, on: 58)
        guard parts.count == 2, let svc = QMIService.named(parts[0]) else { return nil }
        if let id = Text.parseInt(parts[1]), id >= 0, id <= 0xffff { return key(svc, UInt16(id)) }
        for m in QMICatalogue.all where m.service == svc {
            if Text.equalsIgnoringCase(m.name.components(" ").joined(), parts[1]) || Text.equalsIgnoringCase(m.name, parts[1]) {
                return key(m)
            }
        }
        return nil
    }
}
