import Base

// Every AT command qcm sends, every answer and unsolicited line it reads, defined once as
// data: the dialer builds its command lines and reads its answers through these (by the
// typed views generated from them, ATMessages), the simulator parses what it receives and
// writes what it answers with them, the trace masks secrets by them and `qcm decode` names
// fields by them. Sources: 3GPP TS 27.007 and V.250; Quectel's own commands as the UNISOC
// and ASR modules answer them (quectel-CM 1.6.8 atc.c and real captures).

/// How a command is written after "AT".
public enum ATForm: Equatable {
    /// A V.250 basic command with its number glued on: ATE0.
    case basic
    /// AT+CIMI
    case action
    /// AT+CPIN?
    case read
    /// AT+QNETDEVSTATUS=?
    case test
    /// AT+QNETDEVCTL=1,1,1
    case set
}

/// What comes back before the final result.
public enum ATAnswerKind: Equatable {
    case none
    /// One information line "+NAME: fields".
    case line
    /// Any number of them (one per context, per cell ...).
    case lines
    /// One line without a prefix: AT+CIMI's IMSI, AT+CGMR's revision.
    case bare
}

/// One command form and its answer. A class: the catalogue's entries are shared, not copied.
public final class ATCommand {
    /// The name of its typed view (`AT.EnterPin`), and how logs and `qcm decode` name it.
    public let name: String
    /// What it is for, in a few words.
    public let about: String
    /// "+CPIN", or the letter of a basic command ("E"); "" for plain AT.
    public let command: String
    public let form: ATForm
    public let parameters: ATSyntax
    public let answerKind: ATAnswerKind
    public let answer: ATSyntax
    /// How long the module may take, from its manual (a command without one: 5 s).
    public let timeoutMs: Int64

    init(_ name: String, _ about: String, _ command: String, _ form: ATForm, parameters: [ATField] = [],
         answer: ATAnswerKind = .none, _ fields: [ATField] = [], timeoutMs: Int64 = 5_000) {
        self.name = name
        self.about = about
        self.command = command
        self.form = form
        self.parameters = ATSyntax(parameters)
        answerKind = answer
        self.answer = ATSyntax(fields)
        self.timeoutMs = timeoutMs
    }

    /// The command line (without the CR): "AT+QNETDEVCTL=1,1,1".
    public func line(_ values: [ATValue]) throws(ATError) -> String {
        switch form {
        case .basic: return "AT" + command + (try parameters.encode(values))
        case .action: return "AT" + command
        case .read: return "AT" + command + "?"
        case .test: return "AT" + command + "=?"
        case .set: return "AT" + command + "=" + (try parameters.encode(values))
        }
    }

    /// The information lines' prefix: "+CPIN".
    public var prefix: String { command }
}

/// A line the module sends on its own (a URC): registration changes, the data call going up
/// or down, the SIM, the module restarting.
public final class ATUnsolicited {
    public let name: String
    public let about: String
    /// "+CEREG", or the whole line for the ones without fields ("RDY").
    public let prefix: String
    public let fields: ATSyntax
    public var hasFields: Bool { !fields.fields.isEmpty }

    init(_ name: String, _ about: String, _ prefix: String, _ fields: [ATField] = []) {
        self.name = name
        self.about = about
        self.prefix = prefix
        self.fields = ATSyntax(fields)
    }
}

/// A line inside an answer whose layout depends on its first fields (AT+QENG's serving
/// cell, one layout per radio technology).
public final class ATLayout {
    public let name: String
    public let about: String
    /// The prefix of its lines: "+QENG".
    public let prefix: String
    public let fields: ATSyntax

    init(_ name: String, _ about: String, _ fields: [ATField], prefix: String = "+QENG") {
        self.name = name
        self.about = about
        self.prefix = prefix
        self.fields = ATSyntax(fields)
    }
}

public enum ATCatalogue {
    typealias F = ATField

    // MARK: the channel

    public static let attention = ATCommand("Attention", "is anyone there", "", .action, timeoutMs: 1_000)
    public static let echo = ATCommand("Echo", "echo commands back (1) or not (0)", "E", .basic, parameters: [.number("on")])
    public static let errorFormat = ATCommand("ErrorFormat", "+CME ERROR as a number (1)", "+CMEE", .set, parameters: [.number("mode")])
    /// V.250 ATQ and ATV: quectel-CM's handshake is the chain ATE0Q0V1.
    public static let resultCodes = ATCommand("ResultCodes", "send result codes (0) or keep quiet (1)", "Q", .basic, parameters: [.number("quiet")])
    public static let verbose = ATCommand("Verbose", "result codes as words (1) or digits (0)", "V", .basic, parameters: [.number("words")])

    // MARK: identity and the SIM

    public static let revision = ATCommand("Revision", "firmware revision", "+CGMR", .action, answer: .bare, [F("revision", .rest)])
    public static let imei = ATCommand("IMEI", "the module's IMEI", "+CGSN", .action, answer: .bare, [F("imei", .rest)])
    public static let imsi = ATCommand("IMSI", "the SIM's IMSI", "+CIMI", .action, answer: .bare, [F("imsi", .rest)])
    public static let iccid = ATCommand("ICCID", "the SIM's ICCID", "+QCCID", .action, answer: .line, [.word("iccid")])
    public static let pinState = ATCommand("PinState", "what the SIM waits for", "+CPIN", .read, answer: .line, [F("code", .rest)])
    public static let enterPin = ATCommand("EnterPin", "enter the PIN (or the PUK and a new PIN)", "+CPIN", .set,
                                           parameters: [.secret("pin"), F("newPin", .text, optional: true, secret: true)])
    public static let pinCounters = ATCommand("PinCounters", "PIN and PUK attempts left", "+QPINC", .set,
                                              parameters: [.text("facility")], answer: .line,
                                              [.text("facility"), .number("pinCounter"), .number("pukCounter")])
    public static let radio = ATCommand("Radio", "the radio's state (1 on, 0 or 4 off)", "+CFUN", .read, answer: .line, [.number("fun")])
    public static let setRadio = ATCommand("SetRadio", "turn the radio on (1)", "+CFUN", .set, parameters: [.number("fun")],
                                           timeoutMs: 15_000)
    /// AT+CFUN=1,1: the module restarts (USB goes away and comes back); a changed "NAT" or
    /// "usbnet" setting takes effect only then.
    public static let restart = ATCommand("Restart", "restart the module (1,1): its ports go away and come back", "+CFUN", .set,
                                          parameters: [.number("fun"), .number("reset")], timeoutMs: 15_000)

    // MARK: the module's settings

    public static let setting = ATCommand("Setting", "read (or write) a Quectel setting: \"usbnet\", \"NAT\"", "+QCFG", .set,
                                          parameters: [.text("name"), F("value", .number, optional: true)],
                                          answer: .line, [.text("name"), F("value", .number, optional: true)])
    /// UNISOC answers it with the cid range; ASR modules have no +QNETDEVSTATUS and refuse it.
    public static let dataStatusRange = ATCommand("DataStatusRange", "the contexts +QNETDEVSTATUS reports (UNISOC only)",
                                                  "+QNETDEVSTATUS", .test, answer: .line, [F("range", .rest)])

    // MARK: registration

    public static let registrationReportsCS = reports("CS", "+CREG")
    public static let registrationReportsGPRS = reports("GPRS", "+CGREG")
    public static let registrationReportsEPS = reports("EPS", "+CEREG")
    public static let registrationReports5GS = reports("5GS", "+C5GREG")

    static func reports(_ domain: String, _ command: String) -> ATCommand {
        ATCommand("RegistrationReports" + domain, "\(domain) registration changes reported with the cell (2)", command, .set,
                  parameters: [.number("mode")])
    }

    static let location: [ATField] = [F("area", .quotedHex, optional: true), F("cell", .quotedHex, optional: true),
                                       F("act", .number, optional: true)]
    public static let registrationCS = ATCommand("RegistrationCS", "circuit-switched registration", "+CREG", .read, answer: .line,
                                                 [.number("mode"), .number("stat")] + location)
    public static let registrationGPRS = ATCommand("RegistrationGPRS", "GPRS registration", "+CGREG", .read, answer: .line,
                                                   [.number("mode"), .number("stat")] + location + [F("rac", .quotedHex, optional: true)])
    public static let registrationEPS = ATCommand("RegistrationEPS", "LTE (EPS) registration", "+CEREG", .read, answer: .line,
                                                  [.number("mode"), .number("stat")] + location + [F("more", .rest, optional: true)])
    public static let registration5GS = ATCommand("Registration5GS", "5G (5GS) registration", "+C5GREG", .read, answer: .line,
                                                  [.number("mode"), .number("stat")] + location + [F("more", .rest, optional: true)])
    public static let selectOperator = ATCommand("SelectOperator", "operator selection; 3,0: names in long form", "+COPS", .set,
                                                 parameters: [.number("mode"), F("format", .number, optional: true)])
    public static let currentOperator = ATCommand("CurrentOperator", "the operator and access technology", "+COPS", .read, answer: .line,
                                                  [.number("mode"), F("format", .number, optional: true), F("name", .text, optional: true),
                                                   F("act", .number, optional: true)])
    public static let packetEvents = ATCommand("PacketEvents", "+CGEV reports of the network ending contexts (2,1)", "+CGEREP", .set,
                                               parameters: [.number("mode"), F("buffer", .number, optional: true)])

    // MARK: signal and cell

    public static let signalQuality = ATCommand("SignalQuality", "RSSI (0-31, 99 unknown) and bit error rate", "+CSQ", .action,
                                                answer: .line, [.number("rssi"), .number("ber")])
    public static let servingCell = ATCommand("ServingCell", "the serving cell and its signal (\"servingcell\")", "+QENG", .set,
                                              parameters: [.text("kind")], answer: .lines, [.text("first"), F("more", .rest, optional: true)],
                                              timeoutMs: 5_000)
    /// The lines of AT+QENG="servingcell", by radio (fields a module leaves out or writes "-" are absent).
    public static let servingLTE = ATLayout("ServingLTE", "an LTE serving cell", [
        .text("kind"), .text("state"), .text("rat"), F("duplex", .text, optional: true), F("mcc", .word, optional: true),
        F("mnc", .word, optional: true), F("cell", .hex, optional: true), F("pci", .number, optional: true),
        F("earfcn", .number, optional: true), F("band", .number, optional: true), F("ulBandwidth", .number, optional: true),
        F("dlBandwidth", .number, optional: true), F("tac", .hex, optional: true), F("rsrp", .number, optional: true),
        F("rsrq", .number, optional: true), F("rssi", .number, optional: true), F("sinr", .number, optional: true),
        F("cqi", .number, optional: true), F("txPower", .number, optional: true), F("srxlev", .number, optional: true),
    ])
    public static let servingNR = ATLayout("ServingNR", "a 5G standalone serving cell", [
        .text("kind"), .text("state"), .text("rat"), F("duplex", .text, optional: true), F("mcc", .word, optional: true),
        F("mnc", .word, optional: true), F("cell", .hex, optional: true), F("pci", .number, optional: true),
        F("tac", .hex, optional: true), F("arfcn", .number, optional: true), F("band", .number, optional: true),
        F("bandwidth", .number, optional: true), F("rsrp", .number, optional: true), F("rsrq", .number, optional: true),
        F("sinr", .number, optional: true), F("scs", .number, optional: true), F("srxlev", .number, optional: true),
    ])
    /// EN-DC (5G NSA): "servingcell" with the state only, then an LTE and an NR5G-NSA line.
    public static let servingState = ATLayout("ServingState", "the state line of a 5G NSA serving cell",
                                              [.text("kind"), .text("state")])
    public static let anchorLTE = ATLayout("AnchorLTE", "the LTE anchor of a 5G NSA cell", [
        .text("rat"), F("duplex", .text, optional: true), F("mcc", .word, optional: true), F("mnc", .word, optional: true),
        F("cell", .hex, optional: true), F("pci", .number, optional: true), F("earfcn", .number, optional: true),
        F("band", .number, optional: true), F("ulBandwidth", .number, optional: true), F("dlBandwidth", .number, optional: true),
        F("tac", .hex, optional: true), F("rsrp", .number, optional: true), F("rsrq", .number, optional: true),
        F("rssi", .number, optional: true), F("sinr", .number, optional: true), F("more", .rest, optional: true),
    ])
    public static let secondaryNR = ATLayout("SecondaryNR", "the NR leg of a 5G NSA cell (RSRP, SINR, RSRQ in that order)", [
        .text("rat"), F("mcc", .word, optional: true), F("mnc", .word, optional: true), F("pci", .number, optional: true),
        F("rsrp", .number, optional: true), F("sinr", .number, optional: true), F("rsrq", .number, optional: true),
        F("arfcn", .number, optional: true), F("band", .number, optional: true), F("more", .rest, optional: true),
    ])

    // MARK: the profile and the data call

    static let profileFields: [ATField] = [.number("type"), .text("apn"), .text("user"), .secret("password"), .number("auth")]
    public static let profile = ATCommand("Profile", "a context's type (1 IPv4, 2 IPv6, 3 both), APN, user, password, auth",
                                          "+QICSGP", .set, parameters: [.number("cid")], answer: .line,
                                          profileFields + [F("more", .rest, optional: true)])
    /// RG801H answers with the cid in front, and three fields more: `1,1,"cment","","",0,,0,`.
    public static let profileWithCid = ATLayout("ProfileWithCid", "RG801H's +QICSGP answer (the cid first)",
                                                [.number("cid")] + profileFields + [F("more", .rest, optional: true)], prefix: "+QICSGP")
    public static let setProfile = ATCommand("SetProfile", "store a context's type, APN, user, password and auth (0 none, 1 PAP, 2 CHAP, 3 either)",
                                             "+QICSGP", .set, parameters: [.number("cid")] + profileFields)
    public static let dataCall = ATCommand("DataCall", "start (1) or stop (0) the USB NIC's data call: cid first (UNISOC)",
                                           "+QNETDEVCTL", .set, parameters: [.number("cid"), .number("op"), F("urc", .number, optional: true)],
                                           timeoutMs: 10_000)
    public static let dataCallASR = ATCommand("DataCallASR", "start (1) or stop (0) the USB NIC's data call: op first (ASR)",
                                              "+QNETDEVCTL", .set, parameters: [.number("op"), .number("cid"), F("urc", .number, optional: true)],
                                              timeoutMs: 10_000)
    /// RG801H: `(1-11),(0,1),(0,1)` (cid first); quectel-CM asks it and ignores the answer.
    public static let dataCallRange = ATCommand("DataCallRange", "the parameters +QNETDEVCTL takes, in the module's order", "+QNETDEVCTL", .test,
                                                answer: .line, [F("ranges", .rest)])
    public static let dataCallStates = ATCommand("DataCallStates", "the USB NIC's data calls (ASR): op, cid, urc, state", "+QNETDEVCTL", .read,
                                                 answer: .lines, [.number("op"), .number("cid"), F("urc", .number, optional: true),
                                                                  F("state", .number, optional: true)])
    /// UNISOC: the call's IPv4 settings (hex, least significant byte first, on RG801H; dotted
    /// with IPv6 fields after them on RG500U); ERROR while the call is down.
    public static let dataStatus = ATCommand("DataStatus", "the data call's addresses (UNISOC)", "+QNETDEVSTATUS", .set,
                                             parameters: [.number("cid")], answer: .line, [
                                                .ipv4("address"), F("mask", .ipv4, optional: true), F("gateway", .ipv4, optional: true),
                                                F("dhcpServer", .ipv4, optional: true), F("dns1", .ipv4, optional: true),
                                                F("dns2", .ipv4, optional: true), F("more", .rest, optional: true),
                                             ])
    public static let activateContext = ATCommand("ActivateContext", "activate (1) or deactivate (0) a PDP context", "+CGACT", .set,
                                                  parameters: [.number("state"), .number("cid")], timeoutMs: 150_000)
    public static let contextStates = ATCommand("ContextStates", "which PDP contexts are active", "+CGACT", .read, answer: .lines,
                                                [.number("cid"), .number("state")])
    public static let contextAddress = ATCommand("ContextAddress", "a context's addresses", "+CGPADDR", .set,
                                                 parameters: [.number("cid")], answer: .line,
                                                 [.number("cid"), F("address", .text, optional: true), F("address2", .text, optional: true)])

    public static let all: [ATCommand] = [
        attention, echo, errorFormat, resultCodes, verbose, revision, imei, imsi, iccid, pinState, enterPin, pinCounters, radio, setRadio,
        restart, setting, dataStatusRange, registrationReportsCS, registrationReportsGPRS, registrationReportsEPS, registrationReports5GS,
        registrationCS, registrationGPRS, registrationEPS, registration5GS, selectOperator, currentOperator, packetEvents,
        signalQuality, servingCell, profile, setProfile, dataCall, dataCallASR, dataCallRange, dataCallStates, dataStatus,
        activateContext, contextStates, contextAddress,
    ]

    public static let layouts: [ATLayout] = [servingLTE, servingNR, servingState, anchorLTE, secondaryNR, profileWithCid]

    // MARK: unsolicited lines

    static let stat: [ATField] = [.number("stat")]
    public static let csRegistration = ATUnsolicited("CSRegistration", "circuit-switched registration changed", "+CREG", stat + location)
    public static let gprsRegistration = ATUnsolicited("GPRSRegistration", "GPRS registration changed", "+CGREG",
                                            stat + location + [F("rac", .quotedHex, optional: true)])
    public static let epsRegistration = ATUnsolicited("EPSRegistration", "LTE registration changed", "+CEREG", stat + location + [F("more", .rest, optional: true)])
    public static let fiveGSRegistration = ATUnsolicited("FiveGSRegistration", "5G registration changed", "+C5GREG", stat + location + [F("more", .rest, optional: true)])
    /// UNISOC: `+QNETDEVSTATUS: 1,1,"IPV4"` (cid, state, IP type; RG500U adds a code).
    public static let dataCallChanged = ATUnsolicited("DataCallChanged", "the data call of a cid went up (1) or down (0) (UNISOC)",
                                                      "+QNETDEVSTATUS", [.number("cid"), .number("state"), F("ipType", .text, optional: true),
                                                                         F("code", .number, optional: true)])
    /// ASR: `+QNETDEVSTATUS: 1` (the state alone).
    public static let dataCallChangedASR = ATUnsolicited("DataCallChangedASR", "the data call went up (1) or down (0) (ASR)",
                                                         "+QNETDEVSTATUS", [.number("state")])
    public static let packetEvent = ATUnsolicited("PacketEvent", "the network or the module ended a context (NW DEACT, PDN DEACT ...)",
                                                  "+CGEV", [F("event", .rest)])
    public static let pinChanged = ATUnsolicited("PinChanged", "the SIM's state changed", "+CPIN", [F("code", .rest)])
    public static let radioChanged = ATUnsolicited("RadioChanged", "the radio's state changed", "+CFUN", [.number("fun")])
    public static let simChanged = ATUnsolicited("SimChanged", "the SIM was inserted (1) or removed (0)", "+QUSIM", [.number("state")])
    public static let indication = ATUnsolicited("Indication", "a Quectel indication (SMS ready, PB done ...)", "+QIND", [F("what", .rest)])
    public static let moduleReady = ATUnsolicited("ModuleReady", "the module (re)started", "RDY")
    public static let poweredDown = ATUnsolicited("PoweredDown", "the module is powering down", "POWERED DOWN")

    public static let unsolicited: [ATUnsolicited] = [
        csRegistration, gprsRegistration, epsRegistration, fiveGSRegistration, dataCallChanged, dataCallChangedASR, packetEvent, pinChanged, radioChanged, simChanged,
        indication, moduleReady, poweredDown,
    ]

    // MARK: finding definitions

    /// A command line taken apart: "AT+QNETDEVCTL=1,1,1" → ("+QNETDEVCTL", .set, "1,1,1");
    /// "ATE0" → ("E", .basic, "0"); nil when it does not start with AT.
    public static func parse(commandLine: String) -> (command: String, form: ATForm, parameters: String)? {
        let u = Array(commandLine.utf8)
        guard u.count >= 2, u[0] | 0x20 == 97, u[1] | 0x20 == 116 else { return nil }       // "AT", any case
        let rest = Array(u[2...])
        if rest.isEmpty { return ("", .action, "") }
        if rest[0] != 43 && rest[0] != 36 {                                                   // basic: a letter and digits
            let letter = String(decoding: [rest[0] & ~0x20], as: UTF8.self)
            return (letter, .basic, String(decoding: rest[1...], as: UTF8.self))
        }
        var end = 0
        while end < rest.count && rest[end] != 61 && rest[end] != 63 { end += 1 }             // '=' '?'
        let name = Text.uppercasedASCII(String(decoding: rest[..<end], as: UTF8.self))
        let tail = Array(rest[end...])
        if tail.isEmpty { return (name, .action, "") }
        if tail == [63] { return (name, .read, "") }
        if tail == [61, 63] { return (name, .test, "") }
        if tail[0] == 61 { return (name, .set, String(decoding: tail[1...], as: UTF8.self)) }
        return nil
    }

    /// The definitions a command line can be: those of its name and form whose parameters fit
    /// (AT+QICSGP=1 is a profile query, AT+QICSGP=1,1,"apn",... a profile; both dialects'
    /// AT+QNETDEVCTL fit the same line).
    public static func commands(for commandLine: String) -> [ATCommand] {
        guard let p = parse(commandLine: commandLine) else { return [] }
        let tokens = ATText.fields(p.parameters)
        return all.filter { c in
            c.command.equals(p.command) && c.form == p.form && (c.form != .set && c.form != .basic || c.parameters.fits(tokens))
        }
    }

    /// The unsolicited definition `line` is, if any (a prefix can have several shapes).
    public static func unsolicited(_ line: String) -> ATUnsolicited? {
        let (prefix, body) = ATText.split(line)
        guard let p = prefix else { return unsolicited.first { !$0.hasFields && $0.prefix.equals(line) } }
        let tokens = ATText.fields(body)
        return unsolicited.first { $0.hasFields && $0.prefix.equals(p) && $0.fields.fits(tokens) }
    }

    /// A command line with its secrets as ****, for the trace.
    public static func masked(commandLine: String) -> String {
        guard let c = commands(for: commandLine).first(where: { $0.parameters.fields.contains { $0.secret } }),
              let p = parse(commandLine: commandLine) else { return commandLine }
        let u = Array(commandLine.utf8)
        let head = String(decoding: u[..<(u.count - p.parameters.utf8.count)], as: UTF8.self)
        return head + c.parameters.masked(p.parameters)
    }
}
