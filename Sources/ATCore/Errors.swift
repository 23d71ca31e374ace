import Base

/// The line that ends a command's answer (V.250 final result codes, 27.007 +CME/+CMS errors,
/// and UNISOC's COMMAND NOT SUPPORT).
public enum ATFinal: Equatable {
    case ok
    case error
    /// +CME ERROR: n (numeric, AT+CMEE=1), or its text (AT+CMEE=2) as `cmeText`.
    case cme(Int)
    case cmeText(String)
    case cms(Int)
    case noCarrier
    case busy
    case noAnswer
    case noDialtone
    /// UNISOC's answer to a command it does not have.
    case notSupported

    /// The final result a line is, if it is one.
    public static func parse(_ line: String) -> ATFinal? {
        switch Word(line) {
        case "OK": return .ok
        case "ERROR": return .error
        case "NO CARRIER": return .noCarrier
        case "BUSY": return .busy
        case "NO ANSWER": return .noAnswer
        case "NO DIALTONE": return .noDialtone
        case "COMMAND NOT SUPPORT": return .notSupported
        default: break
        }
        let (prefix, body) = ATText.split(line)
        guard let p = prefix else { return nil }
        let n = Text.parseInt(Text.trimmed(body)).map { Int($0) }
        if p.equals("+CME ERROR") { return n.map { .cme($0) } ?? .cmeText(Text.trimmed(body)) }
        if p.equals("+CMS ERROR") { return .cms(n ?? -1) }
        return nil
    }

    public var isOK: Bool {
        if case .ok = self { return true }
        return false
    }

    /// Byte for byte (String's own == would bring the Unicode tables into the daemon).
    public static func == (a: ATFinal, b: ATFinal) -> Bool {
        switch (a, b) {
        case (.ok, .ok), (.error, .error), (.noCarrier, .noCarrier), (.busy, .busy), (.noAnswer, .noAnswer),
             (.noDialtone, .noDialtone), (.notSupported, .notSupported): return true
        case let (.cme(x), .cme(y)), let (.cms(x), .cms(y)): return x == y
        case let (.cmeText(x), .cmeText(y)): return x.equals(y)
        default: return false
        }
    }

    /// As the module wrote it, with the error's name: "+CME ERROR: 127 (missing or unknown APN)".
    public var description: String {
        switch self {
        case .ok: return "OK"
        case .error: return "ERROR"
        case .cme(let n): return "+CME ERROR: \(n)" + (ATErrorNames.cme(n).map { " (\($0))" } ?? "")
        case .cmeText(let t): return "+CME ERROR: \(Text.shown(t))"
        case .cms(let n): return "+CMS ERROR: \(n)" + (ATErrorNames.cms(n).map { " (\($0))" } ?? "")
        case .noCarrier: return "NO CARRIER"
        case .busy: return "BUSY"
        case .noAnswer: return "NO ANSWER"
        case .noDialtone: return "NO DIALTONE"
        case .notSupported: return "COMMAND NOT SUPPORT"
        }
    }

    /// The CME error number, when it is one.
    public var cme: Int? {
        if case .cme(let n) = self { return n }
        return nil
    }

    /// The CMS error number, when it is one.
    public var cms: Int? {
        if case .cms(let n) = self { return n }
        return nil
    }
}

/// What went wrong with a command or the channel.
public enum ATError: Error, Equatable {
    /// The module answered with an error (ERROR, +CME ERROR ...); the information lines
    /// before it, if any, are kept.
    case refused(ATFinal)
    /// No final result in time.
    case timeout
    /// The channel was closed by qcm.
    case closed
    /// The tty went away (module reset, unplugged).
    case deviceGone(String)
    case system(operation: String, errno: Int32)
    /// Not a serial port, or not a modem.
    case invalid(String)
    /// A line that does not have the fields its definition says.
    case malformed(String)
    /// A value that cannot go into a command (a quote in an APN).
    case invalidParameter(String)
    /// The process behind the proxy's socket is neither root nor qcm's user (`Peer.problem`).
    case untrustedPeer(String)

    public var description: String {
        switch self {
        case .refused(let f): return f.description
        case .timeout: return "no answer in time"
        case .closed: return "the AT channel is closed"
        case .deviceGone(let why): return "device gone: \(why)"
        case let .system(op, e): return "\(op): \(Errno(e).description)"
        case .invalid(let why), .malformed(let why), .invalidParameter(let why), .untrustedPeer(let why): return why
        }
    }

    public var final: ATFinal? {
        if case .refused(let f) = self { return f }
        return nil
    }

    /// No answer came, or the port closed under the command: the module did not answer.
    public var unanswered: Bool {
        switch self {
        case .timeout, .closed, .deviceGone: return true
        default: return false
        }
    }

    /// Byte for byte (String's own == would bring the Unicode tables into the daemon).
    public static func == (a: ATError, b: ATError) -> Bool {
        switch (a, b) {
        case let (.refused(x), .refused(y)): return x == y
        case (.timeout, .timeout), (.closed, .closed): return true
        case let (.system(o1, e1), .system(o2, e2)): return e1 == e2 && o1.equals(o2)
        case let (.deviceGone(x), .deviceGone(y)), let (.invalid(x), .invalid(y)), let (.malformed(x), .malformed(y)),
             let (.invalidParameter(x), .invalidParameter(y)): return x.equals(y)
        default: return false
        }
    }
}

/// The names of +CME and +CMS error numbers (27.007 §9.2, 27.005 §3.2.5), for logs and
/// `qcm decode`. The 1xx GPRS errors are the 24.008 cause plus 100.
public enum ATErrorNames {
    public static let cmeTable: [(Int, String)] = [
        (0, "phone failure"), (1, "no connection to phone"), (2, "phone-adaptor link reserved"),
        (3, "operation not allowed"), (4, "operation not supported"), (5, "PH-SIM PIN required"),
        (6, "PH-FSIM PIN required"), (7, "PH-FSIM PUK required"), (10, "SIM not inserted"),
        (11, "SIM PIN required"), (12, "SIM PUK required"), (13, "SIM failure"), (14, "SIM busy"),
        (15, "SIM wrong"), (16, "incorrect password"), (17, "SIM PIN2 required"), (18, "SIM PUK2 required"),
        (20, "memory full"), (21, "invalid index"), (22, "not found"), (23, "memory failure"),
        (24, "text string too long"), (25, "invalid characters in text string"), (26, "dial string too long"),
        (27, "invalid characters in dial string"), (30, "no network service"), (31, "network timeout"),
        (32, "network not allowed, emergency calls only"), (40, "network personalization PIN required"),
        (41, "network personalization PUK required"), (42, "network subset personalization PIN required"),
        (43, "network subset personalization PUK required"), (44, "service provider personalization PIN required"),
        (45, "service provider personalization PUK required"), (46, "corporate personalization PIN required"),
        (47, "corporate personalization PUK required"), (49, "EAP method not supported"), (50, "incorrect parameters"),
        (100, "unknown"), (102, "IMSI unknown in HLR"), (103, "illegal MS"), (104, "IMSI unknown in VLR"),
        (106, "illegal ME"), (107, "GPRS services not allowed"), (108, "GPRS and non-GPRS services not allowed"),
        (111, "PLMN not allowed"), (112, "location area not allowed"), (113, "roaming not allowed in this location area"),
        (115, "no suitable cells in location area"), (117, "network failure"), (122, "congestion"),
        (125, "not authorized for this CSG"), (126, "insufficient resources"), (127, "missing or unknown APN"),
        (128, "unknown PDP address or type"), (129, "user authentication failed"),
        (130, "activation rejected by the gateway"), (131, "activation rejected, unspecified"),
        (132, "service option not supported"), (133, "requested service option not subscribed"),
        (134, "service option temporarily out of order"), (140, "feature not supported"),
        (143, "unknown PDP context"), (148, "unspecified GPRS error"), (149, "PDP authentication failure"),
        (150, "invalid mobile class"), (171, "last PDN disconnection not allowed"),
        (177, "operator determined barring"), (178, "maximum number of PDP contexts reached"),
        (179, "requested APN not supported in current RAT and PLMN combination"),
    ]

    public static let cmsTable: [(Int, String)] = [
        (300, "ME failure"), (301, "SMS ME reserved"), (302, "operation not allowed"), (303, "operation not supported"),
        (304, "invalid PDU mode"), (305, "invalid text mode"), (310, "SIM not inserted"), (311, "SIM PIN necessary"),
        (312, "PH-SIM PIN necessary"), (313, "SIM failure"), (314, "SIM busy"), (315, "SIM wrong"),
        (316, "SIM PUK required"), (317, "SIM PIN2 required"), (318, "SIM PUK2 required"), (320, "memory failure"),
        (321, "invalid memory index"), (322, "memory full"), (330, "SMSC address unknown"), (331, "no network"),
        (332, "network timeout"), (340, "no +CNMA ack expected"), (500, "unknown"),
    ]

    public static func cme(_ n: Int) -> String? { cmeTable.first { $0.0 == n }?.1 }
    public static func cms(_ n: Int) -> String? { cmsTable.first { $0.0 == n }?.1 }
}
