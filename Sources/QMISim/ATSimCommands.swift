import Base
import ATCore
import ATMessages

/// The commands: each received line is taken apart by the catalogue and handled by the
/// handler of the definition it fits; answers are written by the typed views.
extension ATSimulator {
    typealias Handler = (ATSimulator) -> (String, inout [String]) -> Final

    static let handlers: [ObjectIdentifier: Handler] = {
        var h: [ObjectIdentifier: Handler] = [:]
        func on(_ c: ATCommand, _ f: @escaping Handler) { h[ObjectIdentifier(c)] = f }
        on(ATCatalogue.attention) { $0.attentionCommand }
        on(ATCatalogue.echo) { $0.echoCommand }
        on(ATCatalogue.resultCodes) { $0.resultCodesCommand }
        on(ATCatalogue.verbose) { $0.verboseCommand }
        on(ATCatalogue.errorFormat) { $0.errorFormatCommand }
        on(ATCatalogue.revision) { $0.revisionCommand }
        on(ATCatalogue.imei) { $0.imeiCommand }
        on(ATCatalogue.imsi) { $0.imsiCommand }
        on(ATCatalogue.iccid) { $0.iccidCommand }
        on(ATCatalogue.pinState) { $0.pinStateCommand }
        on(ATCatalogue.enterPin) { $0.enterPinCommand }
        on(ATCatalogue.pinCounters) { $0.pinCountersCommand }
        on(ATCatalogue.radio) { $0.radioCommand }
        on(ATCatalogue.setRadio) { $0.setRadioCommand }
        on(ATCatalogue.restart) { $0.restartCommand }
        on(ATCatalogue.setting) { $0.settingCommand }
        on(ATCatalogue.dataStatusRange) { $0.dataStatusRangeCommand }
        on(ATCatalogue.registrationReportsCS) { s in { p, out in s.reportsCommand(.cs, p) } }
        on(ATCatalogue.registrationReportsGPRS) { s in { p, out in s.reportsCommand(.gprs, p) } }
        on(ATCatalogue.registrationReportsEPS) { s in { p, out in s.reportsCommand(.eps, p) } }
        on(ATCatalogue.registrationReports5GS) { s in { p, out in s.reportsCommand(.fiveGS, p) } }
        on(ATCatalogue.registrationCS) { s in { p, out in s.registrationCommand(.cs, &out) } }
        on(ATCatalogue.registrationGPRS) { s in { p, out in s.registrationCommand(.gprs, &out) } }
        on(ATCatalogue.registrationEPS) { s in { p, out in s.registrationCommand(.eps, &out) } }
        on(ATCatalogue.registration5GS) { s in { p, out in s.registrationCommand(.fiveGS, &out) } }
        on(ATCatalogue.selectOperator) { $0.selectOperatorCommand }
        on(ATCatalogue.currentOperator) { $0.currentOperatorCommand }
        on(ATCatalogue.packetEvents) { $0.packetEventsCommand }
        on(ATCatalogue.signalQuality) { $0.signalQualityCommand }
        on(ATCatalogue.servingCell) { $0.servingCellCommand }
        on(ATCatalogue.profile) { $0.profileCommand }
        on(ATCatalogue.setProfile) { $0.setProfileCommand }
        on(ATCatalogue.dataCall) { $0.dataCallCommand }
        on(ATCatalogue.dataCallASR) { $0.dataCallASRCommand }
        on(ATCatalogue.dataCallRange) { $0.dataCallRangeCommand }
        on(ATCatalogue.dataCallStates) { $0.dataCallStatesCommand }
        on(ATCatalogue.dataStatus) { $0.dataStatusCommand }
        on(ATCatalogue.activateContext) { $0.activateContextCommand }
        on(ATCatalogue.contextStates) { $0.contextStatesCommand }
        on(ATCatalogue.contextAddress) { $0.contextAddressCommand }
        return h
    }()

    /// One command line: its commands in order, the information lines of each, and one
    /// final result (the first error ends the line, as 27.007 says).
    func execute(_ bytes: [UInt8]) -> ([String], Final) {
        if config.answerErrorToEverything { return ([], .error) }
        guard let at = ATSimulator.attention(in: bytes), let pieces = ATSimulator.split(Array(bytes[(at + 2)...])) else {
            return ([], .error)
        }
        let basic = pieces.filter { !$0.begins(with: "+") && !$0.begins(with: "$") }.count
        if config.dialect == .unisoc && basic > 1 {
            // quectel-CM's ATE0Q0V1: RG801H answers COMMAND NOT SUPPORT, RM500U +CME ERROR: 4
            // (and its echo stays on).
            return ([], config.isRG801H ? .notSupported : .cme(4))
        }
        var lines: [String] = []
        for p in pieces.isEmpty ? [""] : pieces {
            let f = run("AT" + p, &lines)
            if f != .ok { return (lines, f) }
        }
        return (lines, .ok)
    }

    func run(_ command: String, _ out: inout [String]) -> Final {
        guard let p = ATCatalogue.parse(commandLine: command) else { return .error }
        let defs = ATCatalogue.commands(for: command)
        // Both dialects' AT+QNETDEVCTL fit the same line: the module reads it its own way.
        let other = config.dialect == .asr ? ATCatalogue.dataCall : ATCatalogue.dataCallASR
        guard let def = defs.first(where: { $0 !== other }) ?? defs.first else {
            // A command the module has, with parameters it cannot take; or one it has not.
            let known = ATCatalogue.all.contains { $0.command.equals(p.command) && $0.form == p.form }
            return known && p.form != .basic ? .cme(50) : .error
        }
        guard let h = ATSimulator.handlers[ObjectIdentifier(def)] else { return .error }
        return h(self)(p.parameters, &out)
    }

    /// Sends a typed unsolicited line (after the answer, when a command caused it).
    func urc(_ line: () throws(ATError) -> String) {
        var l: [String] = []
        put(line, &l)
        for x in l { unsolicited(x) }
    }

    /// Appends a typed line (a view's `line()` cannot fail for the values the simulator has).
    func put(_ line: () throws(ATError) -> String, _ out: inout [String]) {
        do throws(ATError) { out.append(try line()) } catch { log("could not write an answer: \(error.description)") }
    }

    // MARK: the channel

    func attentionCommand(_ p: String, _ out: inout [String]) -> Final { .ok }

    func echoCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.Echo(parameters: p), c.on == 0 || c.on == 1 else { return .error }
        echo = c.on == 1
        return .ok
    }

    func resultCodesCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.ResultCodes(parameters: p), c.quiet == 0 || c.quiet == 1 else { return .error }
        quiet = c.quiet == 1
        return .ok
    }

    func verboseCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.Verbose(parameters: p), c.words == 0 || c.words == 1 else { return .error }
        verbose = c.words == 1
        return .ok
    }

    func errorFormatCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.ErrorFormat(parameters: p), (0...2).contains(c.mode) else { return .cme(50) }
        cmee = Int(c.mode)
        return .ok
    }

    // MARK: identity and the SIM

    func revisionCommand(_ p: String, _ out: inout [String]) -> Final {
        put({ () throws(ATError) in try AT.Revision.Answer(revision: config.revision).line() }, &out)
        return .ok
    }

    func imeiCommand(_ p: String, _ out: inout [String]) -> Final {
        put({ () throws(ATError) in try AT.IMEI.Answer(imei: config.imei).line() }, &out)
        return .ok
    }

    func imsiCommand(_ p: String, _ out: inout [String]) -> Final {
        if let e = simError() { return .cme(e) }
        put({ () throws(ATError) in try AT.IMSI.Answer(imsi: config.imsi).line() }, &out)
        return .ok
    }

    func iccidCommand(_ p: String, _ out: inout [String]) -> Final {
        if let e = simError() { return .cme(e) }
        put({ () throws(ATError) in try AT.ICCID.Answer(iccid: config.iccid).line() }, &out)
        return .ok
    }

    /// What the SIM needs: 10 absent, 13 blocked (no PUK attempt left), 11 PIN, 12 PUK,
    /// 14 busy (just unlocked, still starting); nil when it can be used.
    func simError() -> Int? {
        if sim == .absent { return 10 }
        if simBlocked { return 13 }
        if sim == .pin { return 11 }
        if sim == .puk { return 12 }
        if now < simBusyUntil { return 14 }
        return nil
    }

    func pinStateCommand(_ p: String, _ out: inout [String]) -> Final {
        if sim == .absent { return .cme(10) }
        if simBlocked { return .cme(13) }
        let code = sim == .pin ? "SIM PIN" : sim == .puk ? "SIM PUK" : "READY"
        put({ () throws(ATError) in try AT.PinState.Answer(code: code).line() }, &out)
        return .ok
    }

    func enterPinCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.EnterPin(parameters: p) else { return .cme(50) }
        if sim == .absent { return .cme(10) }
        if simBlocked { return .cme(13) }
        switch sim {
        case .pin:
            guard c.pin == currentPin else {
                pinLeft = max(0, pinLeft - 1)
                if pinLeft == 0 { sim = .puk }
                log("wrong PIN, \(pinLeft) attempt(s) left")
                return .cme(16)
            }
            pinLeft = config.pinAttempts
        case .puk:
            guard let newPin = c.newPin, !newPin.isEmpty else { return .cme(12) }
            guard c.pin == config.puk else {
                pukLeft = max(0, pukLeft - 1)
                if pukLeft == 0 { simBlocked = true }
                log("wrong PUK, \(pukLeft) attempt(s) left")
                return .cme(16)
            }
            currentPin = newPin
            pinLeft = config.pinAttempts
            pukLeft = config.pukAttempts
        default:
            return .cme(3)                                  // no PIN wanted
        }
        sim = .ready
        simBusyUntil = now + config.simInitMs
        urc { () throws(ATError) in try AT.Unsolicited.PinChanged(code: "READY").line() }
        after(config.simInitMs) { self.updateRegistration() }
        return .ok
    }

    func pinCountersCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.PinCounters(parameters: p) else { return .cme(50) }
        let sc = Text.equalsIgnoringCase(c.facility, "SC")
        guard sc || Text.equalsIgnoringCase(c.facility, "P2") else { return .cme(50) }
        if sim == .absent { return .cme(10) }
        let (pin, puk) = sc ? (pinLeft, pukLeft) : (3, 10)
        put({ () throws(ATError) in try AT.PinCounters.Answer(facility: sc ? "SC" : "P2", pinCounter: Int64(pin), pukCounter: Int64(puk)).line() }, &out)
        return .ok
    }

    // MARK: the radio and the module's settings

    func radioCommand(_ p: String, _ out: inout [String]) -> Final {
        put({ () throws(ATError) in try AT.Radio.Answer(fun: Int64(cfun)).line() }, &out)
        return .ok
    }

    func setRadioCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.SetRadio(parameters: p), [0, 1, 4].contains(c.fun) else { return .cme(50) }
        cfun = Int(c.fun)
        if cfun != 1 {
            for cid in contexts.keys.sorted() { endCall(cid, byNetwork: false) }
        }
        updateRegistration()
        return .ok
    }

    func restartCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.Restart(parameters: p), c.fun == 1, c.reset == 1 else { return .cme(50) }
        after(50) { self.restart() }                         // OK first, then the port goes
        return .ok
    }

    /// AT+QCFG="usbnet" and "NAT": a value set is saved and answered from then on, but takes
    /// effect at the next restart (AT+CFUN=1,1).
    func settingCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.Setting(parameters: p) else { return .cme(50) }
        if Text.equalsIgnoringCase(c.name, "usbnet") {
            if let v = c.value {
                guard [1, 3, 5].contains(v) else { return .cme(50) }
                savedUsbnet = Int(v)
                return .ok
            }
            put({ () throws(ATError) in try AT.Setting.Answer(name: "usbnet", value: Int64(savedUsbnet)).line() }, &out)
            return .ok
        }
        if Text.equalsIgnoringCase(c.name, "nat") {
            if let v = c.value {
                guard (0...2).contains(v) else { return .cme(50) }
                savedNat = Int(v)
                return .ok
            }
            put({ () throws(ATError) in try AT.Setting.Answer(name: "nat", value: Int64(savedNat)).line() }, &out)   // lower case, as modules write it
            return .ok
        }
        return .cme(50)
    }

    // MARK: registration

    func reportsCommand(_ d: Domain, _ p: String) -> Final {
        if d == .fiveGS && !config.fiveG { return .error }                  // an LTE module has no +C5GREG
        let mode: Int64?
        switch d {
        case .cs: mode = (try? AT.RegistrationReportsCS(parameters: p))?.mode
        case .gprs: mode = (try? AT.RegistrationReportsGPRS(parameters: p))?.mode
        case .eps: mode = (try? AT.RegistrationReportsEPS(parameters: p))?.mode
        case .fiveGS: mode = (try? AT.RegistrationReports5GS(parameters: p))?.mode
        }
        guard let n = mode, (0...5).contains(n) else { return .cme(50) }
        reportMode[d] = Int(n)
        return .ok
    }

    var servingDomain: Domain { config.rat == .lte ? .eps : .fiveGS }

    /// A domain's state and, when registered, where: only the domain of the RAT the module
    /// is on registers (LTE: EPS; NR5G-SA: 5GS); the others read 0.
    func registration(_ d: Domain) -> (stat: Int64, area: Int64?, cell: Int64?, act: Int64?, more: String?) {
        let stat = d == servingDomain ? Int64(regStat) : 0
        guard stat == 1 || stat == 5 else { return (stat, nil, nil, nil, nil) }
        return d == .fiveGS ? (stat, config.nrTAC, config.nrCell, 11, "1,\"01\"") : (stat, config.tac, config.cell, 7, nil)
    }

    func registrationCommand(_ d: Domain, _ out: inout [String]) -> Final {
        if d == .fiveGS && !config.fiveG { return .error }
        let n = Int64(reportMode[d] ?? 0)
        var r = registration(d)
        if n < 2 { r = (r.stat, nil, nil, nil, nil) }
        switch d {
        case .cs: put({ () throws(ATError) in try AT.RegistrationCS.Answer(mode: n, stat: r.stat, area: r.area, cell: r.cell, act: r.act).line() }, &out)
        case .gprs: put({ () throws(ATError) in try AT.RegistrationGPRS.Answer(mode: n, stat: r.stat, area: r.area, cell: r.cell, act: r.act).line() }, &out)
        case .eps: put({ () throws(ATError) in try AT.RegistrationEPS.Answer(mode: n, stat: r.stat, area: r.area, cell: r.cell, act: r.act).line() }, &out)
        case .fiveGS:
            put({ () throws(ATError) in try AT.Registration5GS.Answer(mode: n, stat: r.stat, area: r.area, cell: r.cell, act: r.act, more: r.more).line() }, &out)
        }
        return .ok
    }

    /// The serving domain's report, to a client that asked for it (n ≥ 1); with the cell at n ≥ 2.
    func reportRegistration(cellShift: Int64 = 0) {
        let d = servingDomain
        let n = reportMode[d] ?? 0
        guard n >= 1 else { return }
        var r = registration(d)
        if n < 2 { r = (r.stat, nil, nil, nil, nil) }
        let cell = r.cell.map { $0 + cellShift }
        if d == .eps {
            urc { () throws(ATError) in try AT.Unsolicited.EPSRegistration(stat: r.stat, area: r.area, cell: cell, act: r.act).line() }
        } else {
            urc { () throws(ATError) in try AT.Unsolicited.FiveGSRegistration(stat: r.stat, area: r.area, cell: cell, act: r.act, more: r.more).line() }
        }
    }

    func selectOperatorCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.SelectOperator(parameters: p) else { return .cme(50) }
        switch c.mode {
        case 3:
            guard let f = c.format, (0...2).contains(f) else { return .cme(50) }
            copsFormat = Int(f)
        case 0:
            if let f = c.format, (0...2).contains(f) { copsFormat = Int(f) }
            deregistered = false
            updateRegistration()
        case 2:
            deregistered = true
            updateRegistration()
        default:
            return .cme(50)                                  // manual selection needs an operator
        }
        return .ok
    }

    func currentOperatorCommand(_ p: String, _ out: inout [String]) -> Final {
        let mode: Int64 = deregistered ? 2 : 0
        guard regStat == 1 || regStat == 5 else {
            put({ () throws(ATError) in try AT.CurrentOperator.Answer(mode: mode).line() }, &out)
            return .ok
        }
        let name = copsFormat == 0 ? config.operatorLong : copsFormat == 1 ? config.operatorShort : config.plmn
        // RG801H reads back 12 (NG-RAN) on SA where 27.007 and RM500U say 11.
        let act: Int64 = config.rat == .lte ? 7 : config.isRG801H ? 12 : 11
        put({ () throws(ATError) in try AT.CurrentOperator.Answer(mode: mode, format: Int64(copsFormat), name: name, act: act).line() }, &out)
        return .ok
    }

    func packetEventsCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.PacketEvents(parameters: p), (0...2).contains(c.mode), (c.buffer ?? 0) >= 0 && (c.buffer ?? 0) <= 1 else {
            return .cme(50)
        }
        cgerep = Int(c.mode)
        return .ok
    }

    /// +CSQ: 27.007's RSSI on LTE; 99,99 when not registered and on NR (CSQ is not for 5G).
    func signalQualityCommand(_ p: String, _ out: inout [String]) -> Final {
        let on = (regStat == 1 || regStat == 5) && config.rat == .lte
        put({ () throws(ATError) in try AT.SignalQuality.Answer(rssi: on ? config.csq : 99, ber: 99).line() }, &out)
        return .ok
    }

    func servingCellCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.ServingCell(parameters: p), Text.equalsIgnoringCase(c.kind, "servingcell") else { return .cme(50) }
        guard regStat == 1 || regStat == 5 else {
            put({ () throws(ATError) in try AT.ServingState(kind: "servingcell", state: "SEARCH").line() }, &out)
            return .ok
        }
        let state = contexts.values.contains { $0.up } ? "CONNECT" : "NOCONN"
        if config.rat == .lte {
            put({ () throws(ATError) in
                try AT.ServingLTE(kind: "servingcell", state: state, rat: "LTE", duplex: "FDD", mcc: config.mcc, mnc: config.mnc,
                                  cell: config.cell, pci: 123, earfcn: 1650, band: 3, ulBandwidth: 5, dlBandwidth: 5, tac: config.tac,
                                  rsrp: config.rsrp, rsrq: config.rsrq, rssi: -51, sinr: config.sinr).line()
            }, &out)
        } else {
            // RG801H writes "-" where it has no value (bandwidth, scs, srxlev).
            var nr = AT.ServingNR(kind: "servingcell", state: state, rat: "NR5G-SA", duplex: "TDD", mcc: config.mcc, mnc: config.mnc,
                                  cell: config.nrCell, pci: 901, tac: config.nrTAC, arfcn: 504990, band: 41, bandwidth: nil,
                                  rsrp: config.rsrp, rsrq: config.rsrq, sinr: config.sinr)
            for i in [11, 15, 16] { nr.values.put(i, .text("-")) }
            put({ () throws(ATError) in try nr.line() }, &out)
        }
        return .ok
    }

    // MARK: profiles

    func profileCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.Profile(parameters: p), (1...config.maxCid).contains(Int(c.cid)) else { return .cme(50) }
        let pr = profiles[Int(c.cid)] ?? ATSimConfig.Profile()
        if config.isRG801H {
            // RG801H: the cid first, three undocumented fields after (`1,1,"cment","","",0,,0,`).
            put({ () throws(ATError) in
                try AT.ProfileWithCid(cid: c.cid, type: Int64(pr.type), apn: pr.apn, user: pr.user, password: pr.password,
                                      auth: Int64(pr.auth), more: ",0,").line()
            }, &out)
        } else {
            put({ () throws(ATError) in
                try AT.Profile.Answer(type: Int64(pr.type), apn: pr.apn, user: pr.user, password: pr.password, auth: Int64(pr.auth)).line()
            }, &out)
        }
        return .ok
    }

    /// 27.007: an active context cannot be redefined (+CME ERROR: 3).
    func setProfileCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.SetProfile(parameters: p), (1...config.maxCid).contains(Int(c.cid)),
              (1...3).contains(c.type), (0...3).contains(c.auth) else { return .cme(50) }
        if let e = simError() { return .cme(e) }
        let cid = Int(c.cid)
        if let ctx = contexts[cid], ctx.active || ctx.up || ctx.setupTimer != nil { return .cme(3) }
        profiles[cid] = ATSimConfig.Profile(type: Int(c.type), apn: c.apn, user: c.user, password: c.password, auth: Int(c.auth))
        return .ok
    }
}

extension Array where Element == ATValue {
    mutating func put(_ i: Int, _ v: ATValue) {
        while count <= i { append(.absent) }
        self[i] = v
    }
}
