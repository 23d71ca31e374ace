import Base
import ATCore

/// The two ways Quectel's modules without QMI start a data call (at-facts §6.1): UNISOC
/// (RG801H, RG500U, EC200U) takes `AT+QNETDEVCTL=<cid>,<op>,<urc>` and answers
/// `AT+QNETDEVSTATUS=?`; ASR (EC200T, EC200A, EG915Q) takes `<op>,<cid>,<urc>` after
/// `AT+CGACT=1,<cid>` and has no +QNETDEVSTATUS command.
public enum ATDialect: Equatable {
    case unisoc
    case asr
}

/// Everything about a simulated UNISOC or ASR module's AT port that a test can change.
public struct ATSimConfig {
    /// A product the simulator knows: its USB product id, dialect and the quirks its
    /// firmware shows in captures.
    public struct Product: Equatable {
        public let id: UInt16
        public let name: String
        public let dialect: ATDialect
        /// AT+CGMR. RG801H and EC200U are from captures; the others are stand-ins in the
        /// same pattern (no capture of them was read).
        public let revision: String
        /// Has 5G (AT+C5GREG exists; registers on NR5G-SA by default).
        public let fiveG: Bool

        public static let rg801h = Product(id: 0x8101, name: "RG801H", dialect: .unisoc, revision: "RG801HEAAAR03A01M8G", fiveG: true)
        public static let rg500u = Product(id: 0x0900, name: "RG500U", dialect: .unisoc, revision: "RG500UCNAAR03A01M2G_01.001.01.001", fiveG: true)
        public static let ec200u = Product(id: 0x0901, name: "EC200U", dialect: .unisoc, revision: "EC200UCNAAR03A02M08", fiveG: false)
        public static let ec200t = Product(id: 0x6026, name: "EC200T", dialect: .asr, revision: "EC200TCNDAR02A07M10", fiveG: false)
        public static let ec200a = Product(id: 0x6005, name: "EC200A", dialect: .asr, revision: "EC200ACNDAR01A01M16", fiveG: false)
        /// EG915Q/EG800Q share 0x6007, always ASR.
        public static let eg915q = Product(id: 0x6007, name: "EG915Q", dialect: .asr, revision: "EG915QEUAAR03A01M08", fiveG: false)

        public static let all: [Product] = [rg801h, rg500u, ec200u, ec200t, ec200a, eg915q]
        public static func find(id: UInt16) -> Product? { all.first { $0.id == id } }
    }

    public enum SIM: Equatable {
        case ready
        /// The PIN is needed (`pinAttempts` left).
        case pin
        /// The PUK and a new PIN are needed.
        case puk
        case absent
    }

    /// The radio access technology the module registers on.
    public enum RAT: Equatable {
        /// LTE: +CEREG, AcT 7.
        case lte
        /// 5G standalone: +C5GREG, AcT 11 (RG801H reads back 12 in +COPS).
        case nr5gSA
    }

    public struct Profile: Equatable {
        /// 1 IPv4, 2 IPv6, 3 IPv4v6.
        public var type: Int
        public var apn: String
        public var user: String
        public var password: String
        /// 0 none, 1 PAP, 2 CHAP, 3 PAP or CHAP.
        public var auth: Int
        public init(type: Int = 1, apn: String = "", user: String = "", password: String = "", auth: Int = 0) {
            self.type = type
            self.apn = apn
            self.user = user
            self.password = password
            self.auth = auth
        }
    }

    // Identity
    public var productID: UInt16
    /// Must be the product's own when the product is known (`check()`).
    public var dialect: ATDialect
    public var revision: String
    public var imei = "867394041355693"
    public var imsi = "460028563800461"
    public var iccid = "89860117851101539010"
    /// AT+QCFG="usbnet": 1 ECM, 3 RNDIS, 5 NCM.
    public var usbnet = 5
    /// AT+QCFG="NAT" (0 NIC mode, 1 router); a value set by AT+QCFG="NAT",n only after AT+CFUN=1,1.
    public var nat = 0

    // The channel
    /// ATE1 at power-up (modules echo by default).
    public var echo = true
    /// AT+CMEE at power-up (27.007 default 1 on Quectel: numeric).
    public var cmee = 1
    /// Delay before every answer.
    public var latencyMs: Int64 = 30
    /// Per-command latency, by catalogue name ("ActivateContext").
    public var latencyFor: [String: Int64] = [:]
    /// A command line longer than this gets ERROR.
    public var lineBuffer = 512

    // SIM
    public var sim = SIM.ready
    public var pin = "1234"
    public var puk = "12345678"
    public var pinAttempts = 3
    public var pukAttempts = 10
    /// After the right PIN, SIM-dependent commands get +CME ERROR: 14 (SIM busy) this long.
    public var simInitMs: Int64 = 200

    // Radio and network
    /// AT+CFUN at power-up: 1 on, 0 or 4 off.
    public var cfun = 1
    public var rat: RAT
    public var registrationDelayMs: Int64 = 0
    /// Registration never completes (+CEREG stat 2, searching).
    public var neverRegister = false
    /// Registered roaming (stat 5).
    public var roaming = false
    public var operatorLong = "CHINA MOBILE"
    public var operatorShort = "CMCC"
    public var plmn = "46000"
    public var mcc = "460"
    public var mnc = "00"
    /// LTE tracking area and cell (+CEREG), NR ones (+C5GREG, 3-byte TAC, 36-bit cell).
    public var tac: Int64 = 0xDE10
    public var cell: Int64 = 0x5A29C0B
    public var nrTAC: Int64 = 0x46550B
    public var nrCell: Int64 = 0x170C23000
    /// +CSQ's rssi while registered on LTE.
    public var csq: Int64 = 20
    public var rsrp: Int64 = -82
    public var rsrq: Int64 = -4
    public var sinr: Int64 = 16

    // Profiles and the data call
    /// Profile of cid 1 (others start empty).
    public var profile1 = Profile(type: 1, apn: "cmnet")
    /// APNs the network accepts (case-insensitive); nil: any.
    public var acceptedAPNs: [String]?
    /// UNISOC: from AT+QNETDEVCTL's OK to the call up.
    public var callSetupMs: Int64 = 300
    public var ipv4Address: UInt32 = 0x0a19_104f        // 10.25.16.79
    public var ipv4Prefix = 27
    public var ipv4Gateway: UInt32 = 0x0a19_1041        // 10.25.16.65
    public var ipv4DNS: [UInt32] = [0xd38a_b402, 0xd38a_b403]   // 211.138.180.2, .3
    /// The dotted +QNETDEVSTATUS (not RG801H) and +CGPADDR carry these for IPv4v6 profiles.
    public var ipv6Address = "2408:841e:52f0:a2f4:178f:7578:4e3d:7937"
    public var ipv6DNS = ["2408:8888:0000:8888:0000:0000:0000:0008", "2408:8899:0000:8899:0000:0000:0000:0008"]

    // Faults
    /// Calls are refused with this +CME ERROR code (ASR: by AT+CGACT; UNISOC: the call
    /// never comes up, a +QNETDEVSTATUS state 0 report follows).
    public var rejectCall: Int?
    /// How many attempts are refused (-1: all).
    public var rejectTimes = -1
    /// The network ends each call this long after it came up.
    public var dropAfterMs: Int64?
    /// The module never sends an unsolicited line.
    public var noURCs = false
    /// Junk lines, NULs and (once) a 64 KB line before answers.
    public var garbage = false
    public var garbageSeed: UInt64 = 0x5eed
    /// This many registration reports in one burst when registration completes.
    public var urcStorm = 0
    /// The module stops answering anything this long after start.
    public var hangAfterMs: Int64?
    public var answerErrorToEverything = false
    /// The module restarts on its own this long after start (the port goes away for `rebootMs`).
    public var resetAfterMs: Int64?
    /// The port disappears this long after start...
    public var goneAfterMs: Int64?
    /// ...and comes back this much later (nil: never).
    public var backAfterMs: Int64?
    /// AT+CFUN=1,1 and `resetAfterMs`: how long the port is gone.
    public var rebootMs: Int64 = 1_000
    /// After the port comes back, RDY this much later.
    public var readyDelayMs: Int64 = 100

    public init(product: Product = .ec200u) {
        productID = product.id
        dialect = product.dialect
        revision = product.revision
        rat = product.fiveG ? .nr5gSA : .lte
    }

    public var product: Product? { Product.find(id: productID) }
    public var isRG801H: Bool { productID == Product.rg801h.id }
    public var isRG500U: Bool { productID == Product.rg500u.id }
    public var fiveG: Bool { product?.fiveG ?? (rat == .nr5gSA) }

    /// The cids the module takes: 1-11 UNISOC (1-8 on RG500U, as RM500U's test answer), 1-15 ASR.
    public var maxCid: Int { dialect == .asr ? 15 : isRG500U ? 8 : 11 }

    /// A known product with the other dialect is a mistake in the test, not a module.
    public func check() throws(ATError) {
        if let p = product, p.dialect != dialect {
            throw .invalid("product 0x\(Text.hex(p.id, 4)) (\(p.name)) is \(p.dialect == .asr ? "ASR" : "UNISOC"), not \(dialect == .asr ? "ASR" : "UNISOC")")
        }
        guard rat == .lte || fiveG else { throw .invalid("\(product?.name ?? "this product") has no 5G") }
    }

    /// The addresses of a call on `cid`: cid 1 the configured ones, cid N the same moved N-1
    /// up in the third byte.
    public func addressing(cid: Int) -> (address: UInt32, gateway: UInt32) {
        let n = UInt32(max(0, min(cid - 1, 200))) << 8
        return (ipv4Address &+ n, ipv4Gateway &+ n)
    }
}
