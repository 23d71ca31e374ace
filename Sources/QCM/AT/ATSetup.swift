#if QCM_AT
import Base
import ATCore
import ATMessages

/// Setting an AT module up, one command at a time: what it is, how it dials, its SIM, and
/// the profile the call will use. What a module may lack (5G registration reports on an LTE
/// module, the NAT setting) is noted and passed; what the dial cannot do without ends the
/// setup with its own message.
extension ATSession {
    func setupAnswered(_ step: ATStep, _ r: Result<ATReply, ATError>) {
        guard isSettingUp else {
            if step == .enterPin || step == .setProfile, case .failure(let e) = r { log("\(step): \(e.description)") }
            return
        }
        switch step {
        case .handshake: handshakeAnswered(r)
        case .echoOff:
            if case .failure(let e) = r { log("the module keeps echoing commands (ATE0: \(e.description)); qcm tells the echoes apart") }
        case .errorFormat:
            if case .failure(let e) = r { log("the module keeps its error format (AT+CMEE=1: \(e.description))") }
        case .revision:
            // The last line: a module that talks over its answers puts the revision last.
            if case .success(let reply) = r, let rev = reply.lines.last.flatMap({ try? AT.Revision.Answer(decoding: $0) })?.revision {
                log("BaseBandVersion: \(Text.shown(rev))")
                status(nil, .revision, Network.operatorName(rev))
            }
        case .imei:
            status(nil, .imei, ATSession.identifier(r))
            askDialect()
        case .dialect: dialectAnswered(r)
        case .nat:
            if let a = ATSession.line(AT.Setting.Answer.self, r), let v = a.value {
                log("AT+QCFG=\"NAT\": \(v)" + (v == 0 ? " (the board gets the network's address)" : " (the module routes: the board gets a private address from it)"))
            }
            turnOnReports()
        case .reports: reportsAnswered()
        case .radio, .radioOn: radioAnswered(step, r)
        case .pinState, .pinCounters, .enterPin: simAnswered(step, r)
        case .iccid:
            if let a = ATSession.line(AT.ICCID.Answer.self, r) { updateField([(.iccid, Network.identifier(a.iccid))]) }
        case .imsi:
            if let imsi = ATSession.identifier(r) { updateField([(.imsi, imsi)]) }
            findStaleCall()
        case .staleCall, .staleContexts: staleCallAnswered(step, r)
        case .profile: profileAnswered(r)
        case .setProfile:
            guard case .success = r else {
                return fail(ExitCode.callFailed, "the module did not take the profile of context \(cid): \(ATSession.why(r))")
            }
            log("profile of context \(cid) set")
            ready()
        default: break
        }
    }

    // MARK: handshake, identity, dialect

    /// AT until the module answers — anything final counts (UNISOC answers some forms with
    /// COMMAND NOT SUPPORT); then echo off and numeric errors, whatever it says to those.
    func handshake(attempt: Int) {
        setup = .handshake(attempt: attempt)
        send(.handshake, AT.Attention())
    }

    func handshakeAnswered(_ r: Result<ATReply, ATError>) {
        guard case .handshake(let attempt) = setup else { return }
        if case .failure(let e) = r, e.unanswered {
            guard attempt < ATSession.maxHandshakes else {
                return setupFailed("no answer to AT on \(config.channel) (\(attempt) tries): is it the module's AT port, and is no other program (ModemManager, a terminal) using it?")
            }
            return handshake(attempt: attempt + 1)
        }
        setup = .configuring
        send(.echoOff, AT.Echo(on: 0))
        send(.errorFormat, AT.ErrorFormat(mode: 1))
        send(.revision, AT.Revision())
        send(.imei, AT.IMEI())
    }

    /// UNISOC modules answer AT+QNETDEVSTATUS=?, ASR ones refuse it; EG915Q/EG800Q (0x6007)
    /// are ASR whatever they answer (quectel-CM's rule).
    func askDialect() {
        setup = .dialect
        if config.productID == 0x6007 {
            return dialectFound(.asr, "EG915Q/EG800Q (0x6007)")
        }
        send(.dialect, AT.DataStatusRange())
    }

    func dialectAnswered(_ r: Result<ATReply, ATError>) {
        switch r {
        case .success: dialectFound(.unisoc, "AT+QNETDEVSTATUS=? answered")
        case .failure(.refused(let f)): dialectFound(.asr, "AT+QNETDEVSTATUS=? refused: \(f.description)")
        case .failure(let e): setupFailed("the module did not answer AT+QNETDEVSTATUS=? (\(e.description))")
        }
    }

    func dialectFound(_ d: ATDialect, _ why: String) {
        dialect = d
        log("AT dialect: \(d.name) (\(why))")
        if d == .asr && options.noDHCP && !options.noLink {
            return fail(ExitCode.usage, "-d (no DHCP) needs the module's netmask and gateway, which ASR modules do not report (AT+CGPADDR gives the address alone): leave DHCP on")
        }
        setup = .nat
        send(.nat, AT.Setting(name: "NAT"))
    }

    /// Registration changes reported with the cell, for every domain the module has (an LTE
    /// module refuses +C5GREG), and contexts the network ends (+CGEV): the module wakes qcm,
    /// qcm never polls it for these.
    func turnOnReports() {
        setup = .reports(left: 5)
        send(.reports, AT.RegistrationReportsCS(mode: 2))
        send(.reports, AT.RegistrationReportsGPRS(mode: 2))
        send(.reports, AT.RegistrationReportsEPS(mode: 2))
        send(.reports, AT.RegistrationReports5GS(mode: 2))
        send(.reports, AT.PacketEvents(mode: 2, buffer: 1))
    }

    func reportsAnswered() {
        guard case .reports(let left) = setup else { return }
        if left > 1 { return setup = .reports(left: left - 1) }
        setup = .radio
        send(.radio, AT.Radio())
    }

    func radioAnswered(_ step: ATStep, _ r: Result<ATReply, ATError>) {
        if step == .radio, let a = ATSession.line(AT.Radio.Answer.self, r), a.fun != 1 {
            log("the radio is off (AT+CFUN: \(a.fun)): turning it on")
            return send(.radioOn, AT.SetRadio(fun: 1))
        }
        if step == .radioOn, case .failure(let e) = r { log("radio on: \(e.description)") }
        askSIM()
    }

    // MARK: the SIM

    func askSIM() {
        guard isSettingUp else { return }
        if case .sim = setup {} else { setup = .sim(busy: 0) }
        send(.pinState, AT.PinState())
    }

    func simAnswered(_ step: ATStep, _ r: Result<ATReply, ATError>) {
        guard case .sim(let busy) = setup else { return }
        switch step {
        case .pinState:
            if let code = ATSession.line(AT.PinState.Answer.self, r)?.code {
                sim = code.equals("READY") ? .ready : code.equals("SIM PIN") ? .pinRequired(retriesLeft: nil)
                    : code.equals("SIM PUK") ? .pukBlocked : code.equals("NOT READY") ? .unknown : .unknown
                if code.equals("NOT READY") { return simBusy(busy, "+CPIN: NOT READY") }
                log("requestGetSIMStatus SIMStatus: \(sim.logName) (+CPIN: \(Text.shown(code)))")
            } else if case .failure(.refused(let f)) = r {
                if f == .error || f == .notSupported {
                    return setupFailed("the module refuses AT+CPIN? (\(f.description)): \(config.channel) is not a port qcm can dial on, or the module is not ready")
                }
                switch f.cme ?? ATSession.cme(verbose: f) {
                case 10: sim = .absent
                case 14: return simBusy(busy, f.description)
                case 11: sim = .pinRequired(retriesLeft: nil)
                case 12: sim = .pukBlocked
                default: sim = .unknown
                }
                log("requestGetSIMStatus SIMStatus: \(sim.logName) (\(f.description))")
            } else if case .failure(let e) = r {
                return setupFailed("the module did not say what its SIM needs (AT+CPIN?: \(e.description))")
            }
            if case .pinRequired(nil) = sim { return send(.pinCounters, AT.PinCounters(facility: "SC")) }
            simDecided()
        case .pinCounters:
            // Without the count (a module without AT+QPINC) the PIN is tried once: a wrong
            // one is never tried again.
            if let a = ATSession.line(AT.PinCounters.Answer.self, r) { sim = .pinRequired(retriesLeft: Int(a.pinCounter)) }
            simDecided()
        default:
            if case .failure(let e) = r {
                return fail(ExitCode.sim, "PIN verification failed: \(e.description); not retrying")
            }
            log("SIM PIN verified")
            setup = .sim(busy: 0)
            arm(.at(.simAgain), 1000)            // or at once on +CPIN: READY
        }
    }

    /// The number of a verbose +CME ERROR (a module that ignored AT+CMEE=1), for the SIM's states.
    static func cme(verbose f: ATFinal) -> Int? {
        guard case .cmeText(let t) = f else { return nil }
        let l = Text.lowercasedASCII(t)
        for (n, name) in ATErrorNames.cmeTable where n >= 10 && n <= 14 && l.equals(Text.lowercasedASCII(name)) { return n }
        return nil
    }

    func simBusy(_ busy: Int, _ why: String) {
        guard busy < 10 else { return setupFailed("the SIM is still busy after 10 s (\(why))") }
        setup = .sim(busy: busy + 1)
        arm(.at(.simAgain), 1000)
    }

    func simDecided() {
        switch simDecision {
        case .proceed:
            setup = .simIdentity
            send(.iccid, AT.ICCID())
            send(.imsi, AT.IMSI())
        case .fail(let why):
            fail(ExitCode.sim, why)
        case .verify(let pin):
            pinVerified = true
            log("verifying the SIM PIN (***)")
            send(.enterPin, AT.EnterPin(pin: pin))
        }
    }

    // MARK: a call left up, the profile

    /// A qcm killed with -9 leaves its call up, and the module refuses to redefine an active
    /// context: the call is stopped first.
    func findStaleCall() {
        setup = .staleCall
        if dialect == .unisoc {
            send(.staleCall, AT.DataStatus(cid: cid))
        } else {
            send(.staleCall, AT.DataCallStates())
        }
    }

    func staleCallAnswered(_ step: ATStep, _ r: Result<ATReply, ATError>) {
        guard case .success(let reply) = r else {
            if step == .staleCall, dialect == .asr { return send(.staleContexts, AT.ContextStates()) }
            return askProfile()
        }
        switch step {
        case .staleCall:
            let up: Bool
            if dialect == .unisoc {
                up = ATSession.line(AT.DataStatus.Answer.self, r)?.address.map { !$0.isUnspecified } ?? false
            } else {
                up = reply.lines.compactMap { try? AT.DataCallStates.Answer(decoding: $0) }
                    .contains { $0.cid == cid && $0.op != 0 && ($0.state ?? 1) != 0 }
            }
            if up {
                log("a data call on context \(cid) was up (left by a qcm killed with -9?): stopping it")
                if dialect == .unisoc { send(.stopCall, AT.DataCall(cid: cid, op: 0, urc: 0)) } else { send(.stopCall, AT.DataCallASR(op: 0, cid: cid, urc: 0)) }
            }
            if dialect == .asr { return send(.staleContexts, AT.ContextStates()) }
            askProfile()
        default:
            let active = reply.lines.compactMap { try? AT.ContextStates.Answer(decoding: $0) }.contains { $0.cid == cid && $0.state == 1 }
            if active {
                log("context \(cid) was active: deactivating it")
                send(.deactivate, AT.ActivateContext(state: 0, cid: cid))
            }
            askProfile()
        }
    }

    func askProfile() {
        setup = .profile
        send(.profile, AT.Profile(cid: cid))
    }

    /// The profile the call should use, from -s and -4/-6: type 1 IPv4, 2 IPv6, 3 both.
    var wantedProfile: AT.SetProfile? {
        let o = call.options
        guard let apn = o.apn else { return nil }
        let type: Int64 = o.families.contains(.ipv4) && o.families.contains(.ipv6) ? 3 : o.families.contains(.ipv6) ? 2 : 1
        let auth = Int64(o.auth ?? (o.password == nil ? 0 : 2))
        return AT.SetProfile(cid: cid, type: type, apn: apn, user: o.user ?? "", password: o.password ?? "", auth: auth)
    }

    func profileAnswered(_ r: Result<ATReply, ATError>) {
        // RG801H writes the cid first; everyone else the type.
        let stored: AT.SetProfile?
        if case .success(let reply) = r, let l = reply.lines.first {
            if let p = try? AT.Profile.Answer(decoding: l) {
                stored = AT.SetProfile(cid: cid, type: p.type, apn: p.apn, user: p.user, password: p.password, auth: p.auth)
            } else if let p = try? AT.ProfileWithCid(decoding: l) {
                stored = AT.SetProfile(cid: cid, type: p.type, apn: p.apn, user: p.user, password: p.password, auth: p.auth)
            } else {
                stored = nil
            }
        } else {
            stored = nil
        }
        if let s = stored {
            log("requestGetProfile[\(cid)] \(Text.shown(s.apn))/\(Text.shown(s.user))/\(s.password.isEmpty ? "" : "***")/\(s.auth)")
        }
        guard let want = wantedProfile else {
            if stored == nil { log("the module did not say its profile for context \(cid) (\(ATSession.why(r))); dialing with it as it is") }
            return ready()
        }
        if let s = stored, s.values == want.values { return ready() }
        log("requestSetProfile[\(cid)] \(Text.shown(want.apn))/\(Text.shown(want.user))/\(want.password.isEmpty ? "" : "***")/\(want.auth)")
        send(.setProfile, want)
    }
}
#endif
