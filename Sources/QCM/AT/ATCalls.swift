#if QCM_AT
import Base
import ATCore
import ATMessages
import LinkConfig

/// The AT session's call: registration from the module's reports, the call started in the
/// module's dialect, the address by DHCP from the module (or, with -d, as the module reports
/// it), the module's reports of the call ending, redial, and the call stopped — on SIGTERM, and
/// after every failure, so the module is left as qcm found it.
extension ATSession {
    func ready() {
        setup = nil
        becameReady()
        call.phase = .waitingForNetwork
        setState(nil, "waiting for network registration")
        askRegistration()
        send(.operatorFormat, AT.SelectOperator(mode: 3, format: 0))
        send(.currentOperator, AT.CurrentOperator())
    }

    // MARK: registration

    /// The packet domains' registration (+CGREG, +CEREG, +C5GREG; a module without one
    /// refuses it). Asked at setup, and every 30 s only while unregistered: reports do the rest.
    func askRegistration() {
        guard isReady else { return }
        send(.registration, AT.RegistrationGPRS())
        send(.registration, AT.RegistrationEPS())
        send(.registration, AT.Registration5GS())
    }

    func registrationAnswered(_ r: Result<ATReply, ATError>) {
        guard case .success(let reply) = r, let l = reply.lines.first else { return }
        if let a = try? AT.RegistrationGPRS.Answer(decoding: l) { registration(.gprs, a.stat, a.area, a.cell, a.act) }
        else if let a = try? AT.RegistrationEPS.Answer(decoding: l) { registration(.eps, a.stat, a.area, a.cell, a.act) }
        else if let a = try? AT.Registration5GS.Answer(decoding: l) { registration(.fiveGS, a.stat, a.area, a.cell, a.act) }
    }

    func registrationReport(_ u: ATUnsolicited, _ line: String) {
        if u === ATCatalogue.gprsRegistration, let a = try? AT.Unsolicited.GPRSRegistration(decoding: line) {
            registration(.gprs, a.stat, a.area, a.cell, a.act)
        } else if u === ATCatalogue.epsRegistration, let a = try? AT.Unsolicited.EPSRegistration(decoding: line) {
            registration(.eps, a.stat, a.area, a.cell, a.act)
        } else if u === ATCatalogue.fiveGSRegistration, let a = try? AT.Unsolicited.FiveGSRegistration(decoding: line) {
            registration(.fiveGS, a.stat, a.area, a.cell, a.act)
        }
    }

    /// One domain's registration (27.007 <stat>: 1 home, 5 roaming) and where: registered
    /// when any packet domain is; the newest registered domain gives the cell and technology.
    func registration(_ domain: Domain, _ s: Int64, _ area: Int64?, _ cell: Int64?, _ technology: Int64?) {
        stat[domain] = s
        let was = registered
        let home = stat.values.contains(1), roaming = stat.values.contains(5)
        registered = home || roaming
        if s == 1 || s == 5 {
            if let t = technology { act = t }
            var pairs: [(StatusKey, String?)] = [(.rat, ATSession.rat(act))]
            if let c = cell { pairs.append((.cellID, "\(c)")) }
            if let a = area { pairs.append((domain == .gprs ? .lac : .tac, "\(a)")) }
            updateField(pairs)
        }
        let state: Int64 = registered ? (home ? 1 : 5) : s
        updateField([(.registration, ATSession.registrationName(state)), (.roaming, registered ? (roaming && !home ? "yes" : "no") : nil)])
        if registered != was { log("requestRegistrationState2 \(ATSession.registrationName(state))" + (act.map { ", AcT \($0)" } ?? "")) }
        guard isReady, call.phase == .waitingForNetwork else { return }
        if registered {
            cancel(.registrationPoll)
            dial()
        } else if !isArmed(.registrationPoll) {
            setState(call, "waiting for network registration")
            arm(.registrationPoll, 30_000)
        }
    }

    static func registrationName(_ stat: Int64) -> String {
        switch stat {
        case 0: return "not-registered"
        case 1, 5: return "registered"
        case 2: return "searching"
        case 3: return "registration-denied"
        case 8: return "emergency-only"
        default: return "unknown"
        }
    }

    /// 27.007 AcT as `qcm status` names RATs.
    static func rat(_ act: Int64?) -> String? {
        switch act {
        case 0, 1, 3, 8: return "gsm"
        case 2, 4, 5, 6: return "umts"
        case 7, 9, 10: return "lte"
        case 11, 12, 13: return "5gnr"
        default: return nil
        }
    }

    // MARK: the call

    func dial() {
        guard isReady else { return }
        cancel(.redial(pdn: call.pdn))
        call.phase = .dialing
        setState(call, "dialing")
        reportSeen = false
        upPolls = 0
        if dialect == .unisoc {
            send(.startCall, AT.DataCall(cid: cid, op: 1, urc: 1))
        } else {
            send(.contextStates, AT.ContextStates())
        }
    }

    /// ASR: the context active (activated here when it was not), then the NIC's call.
    func startNIC() {
        send(.startCall, AT.DataCallASR(op: 1, cid: cid, urc: 1))
    }

    func callAnswered(_ step: ATStep, _ r: Result<ATReply, ATError>) {
        guard isReady else { return }
        switch step {
        case .contextStates:
            guard call.phase == .dialing else { return }
            if case .success(let reply) = r,
               reply.lines.compactMap({ try? AT.ContextStates.Answer(decoding: $0) }).contains(where: { $0.cid == cid && $0.state == 1 }) {
                return startNIC()
            }
            send(.activate, AT.ActivateContext(state: 1, cid: cid))
        case .activate:
            guard call.phase == .dialing else { return }
            guard case .success = r else { return dialFailedAndClean("AT+CGACT=1,\(cid): \(ATSession.why(r))") }
            contextActivated = true
            startNIC()
        case .startCall:
            guard call.phase == .dialing else { return }
            guard case .success = r else { return dialFailedAndClean("AT+QNETDEVCTL: \(ATSession.why(r))") }
            callActive = true
            // The report may have come before the OK.
            if reportSeen { askCallState() } else { arm(.at(.callUp), 1000) }
        case .callStatus:
            callStateAnswered(r)
        case .contextAddress:
            guard call.phase == .dialing else { return }
            let a = ATSession.addresses(ATSession.line(AT.ContextAddress.Answer.self, r))
            callUp((a.ipv4 ?? a.ipv6)?.text ?? "no address reported", data: nil, ipv6: a.ipv6)
        default:
            break
        }
    }

    func askCallState() {
        if dialect == .unisoc {
            send(.callStatus, AT.DataStatus(cid: cid))
        } else {
            send(.callStatus, AT.DataCallStates())
        }
    }

    /// Whether the call is up: UNISOC's +QNETDEVSTATUS has its addresses (ERROR while it is
    /// down); ASR's +QNETDEVCTL? lists the cid with state 1.
    func callStateAnswered(_ r: Result<ATReply, ATError>) {
        let data = dialect == .unisoc ? ATSession.line(AT.DataStatus.Answer.self, r) : nil
        // An IPv6 context has zeros in the IPv4 fields, and its address after them.
        var up = data?.address.map { !$0.isUnspecified } ?? false
        if !up, data != nil { up = ATSession.dottedIPv6(data) != nil }
        if dialect == .asr, case .success(let reply) = r {
            up = reply.lines.compactMap { try? AT.DataCallStates.Answer(decoding: $0) }.contains { $0.cid == cid && $0.op != 0 && $0.state == 1 }
        }
        if case .failure(.timeout) = r { return }           // counted; three in a row and the module is taken for gone
        switch call.phase {
        case .dialing:
            if up {
                if dialect == .unisoc {
                    let v6 = ATSession.dottedIPv6(data)
                    return callUp((data?.address.flatMap { $0.isUnspecified ? nil : $0 } ?? v6)?.text ?? "?", data: data, ipv6: v6)
                }
                return send(.contextAddress, AT.ContextAddress(cid: cid))
            }
            upPolls += 1
            guard upPolls < ATSession.maxUpPolls else {
                return dialFailedAndClean("the data call of context \(cid) did not come up in \(ATSession.maxUpPolls) s")
            }
            arm(.at(.callUp), 1000)
        case .configuring, .connected:
            if !up { return callDropped("the module says the data call of context \(cid) is down") }
            if !reportSeen { arm(.at(.callCheck), config.timeouts.atCallCheck) }
        default:
            break
        }
    }

    /// The call is up on the module: the link next.
    func callUp(_ address: String, data: AT.DataStatus.Answer?, ipv6 v6: IPAddress?) {
        cancel(.at(.callUp))
        log("requestSetupDataCall: the data call of context \(cid) is up (the module's address: \(address))")
        call.phase = .configuring
        forgetIPv6()
        moduleIPv6 = v6
        moduleReported(data)
        guard !options.noLink, let dev = config.netdev else {
            if config.netdev == nil && !options.noLink { log("no network interface known for this module: link configuration skipped (use -i IFACE)") }
            connected(call, nil)
            return afterConnected()
        }
        if !wantsIPv4 { return ipv4Configured(nil) }
        if options.noDHCP, let d = data {
            return emit(.applyLink(pdn: call.pdn, Plans.fromDataStatus(d, interface: dev, metric: options.metric, defaultRoute: call.options.defaultRoute),
                                   leaseSeconds: nil, renew: false))
        }
        log("DHCP on \(dev) (the module's DHCP server)")
        emit(.startDHCP(pdn: call.pdn))
    }

    func linkApplied(_ r: Result<LinkPlan, LinkError>) {
        guard isReady else { return }
        switch r {
        case .success(let plan):
            if call.phase == .configuring {
                if ipv6 == .waiting { return ipv4Plan = plan }     // a renewal while the RA is awaited
                if case .formed = ipv6 {
                    connected(call, plan)
                    return afterConnected()
                }
                ipv4Configured(plan)
            } else if call.phase == .connected {
                call.plan = plan
                statusAddresses(call, plan)
            }
        case .failure(let e):
            linkFailed(call.pdn, e)
        }
    }

    /// Connected: the signal and cell read once (later only when `qcm status` asks); a
    /// module that never reported its call is asked every 30 s whether it is still up.
    func afterConnected() {
        send(.signal(query: nil), AT.SignalQuality())
        send(.servingCell(query: nil), AT.ServingCell(kind: "servingcell"))
        if !reportSeen {
            log("the module did not report its call coming up: qcm asks it every \(config.timeouts.atCallCheck / 1000) s whether the call is still up")
            arm(.at(.callCheck), config.timeouts.atCallCheck)
        }
    }

    /// +QNETDEVSTATUS (UNISOC: cid, state; ASR: state) and +CGEV: the call went up or down.
    func callReport(_ u: ATUnsolicited, _ line: String) {
        var up: Bool?
        if u === ATCatalogue.dataCallChanged, let r = try? AT.Unsolicited.DataCallChanged(decoding: line), r.cid == cid {
            up = r.state == 1
        } else if u === ATCatalogue.dataCallChangedASR, let r = try? AT.Unsolicited.DataCallChangedASR(decoding: line) {
            up = r.state == 1
        } else if u === ATCatalogue.packetEvent, let r = try? AT.Unsolicited.PacketEvent(decoding: line) {
            up = ATSession.packetEventEnds(r.event, cid: cid) ? false : nil
        }
        guard let isUp = up, isReady else { return }
        reportSeen = true
        if isUp {
            if call.phase == .dialing && callActive {
                cancel(.at(.callUp))
                askCallState()
            }
        } else if call.phase == .dialing && callActive {
            dialFailedAndClean("the module reports that the data call of context \(cid) did not come up (\(Text.shown(line)))")
        } else if call.phase == .configuring || call.phase == .connected {
            callDropped("the module reports the data call of context \(cid) down (\(Text.shown(line)))")
        }
    }

    /// +CGEV: NW DEACT / ME DEACT / PDN DEACT of this cid (a number in the report that is not
    /// the cid: another context's), or a detach.
    static func packetEventEnds(_ event: String, cid: Int64) -> Bool {
        if event.begins(with: "NW DETACH") || event.begins(with: "ME DETACH") { return true }
        guard event.begins(with: "NW DEACT") || event.begins(with: "ME DEACT") || event.begins(with: "PDN DEACT") else { return false }
        let words = Text.words(Text.split(event, on: 44).last ?? "")
        if let last = words.last, let n = Text.parseInt(last) { return n == cid }
        return true
    }

    // MARK: ends

    /// The call went away: the link goes, what is left of it on the module is stopped, redial.
    func callDropped(_ why: String) {
        cancel(.at(.callUp))
        cancel(.at(.callCheck))
        let delay = callEnded(call, why)
        stopCall(teardown: nil)
        scheduleRedial(call, after: delay)
    }

    /// A dial that failed leaves nothing up on the module.
    func dialFailedAndClean(_ why: String) {
        cancel(.at(.callUp))
        stopCall(teardown: nil)
        dialFailed(call, why)
    }

    /// The module serves DHCP only while its call is up: no lease means no call.
    func noLeaseFromModule(_ c: Call, attempts: Int) {
        guard c.phase == .configuring else { return log("no DHCP lease after \(attempts) DISCOVERs; still trying") }
        emit(.deconfigureLink(pdn: c.pdn, release: false))
        dialFailedAndClean("the module's DHCP server gave no lease on \(netdevName(c.pdn)) (\(attempts) DISCOVERs)")
    }

    func redialDue() {
        guard isReady, call.phase == .redialWait else { return }
        call.phase = .waitingForNetwork
        if registered { return dial() }
        setState(call, "waiting for network registration")
        askRegistration()
    }

    /// Stops the call on the module (UNISOC: AT+QNETDEVCTL=<cid>,0,0; ASR: AT+QNETDEVCTL=0,<cid>,0,
    /// then the context qcm activated); in a teardown, its end waits for the answers.
    func stopCall(teardown t: Teardown?) {
        var sent = 0
        if let d = dialect, callActive || call.phase == .dialing {
            if t != nil { log("requestDeactivateDefaultPDP: context \(cid)") }
            if d == .unisoc { send(.stopCall, AT.DataCall(cid: cid, op: 0, urc: 0)) } else { send(.stopCall, AT.DataCallASR(op: 0, cid: cid, urc: 0)) }
            sent += 1
        }
        if dialect == .asr && contextActivated {
            send(.deactivate, AT.ActivateContext(state: 0, cid: cid))
            sent += 1
        }
        callActive = false
        contextActivated = false
        guard let t else { return }
        t.callsStopped = true
        t.stopsOutstanding = sent
        if sent == 0 { finishTeardown(channelGone: false) }
    }

    func stopAnswered(_ step: ATStep, _ r: Result<ATReply, ATError>) {
        guard let t = teardown else { return }
        // A refusal means there was nothing to stop; no answer at all is what to warn about.
        if case .failure(let e) = r, e.unanswered { t.problems.append(step == .stopCall ? "AT+QNETDEVCTL" : "AT+CGACT") }
        t.stopsOutstanding -= 1
        if t.stopsOutstanding <= 0 { finishTeardown(channelGone: false) }
    }
}

extension Plans {
    /// -d on a UNISOC module: the addresses AT+QNETDEVSTATUS reports, checked like QMI's.
    static func fromDataStatus(_ d: AT.DataStatus.Answer, interface: String, metric: UInt32, defaultRoute: Bool) -> LinkPlan {
        let plan = LinkPlan(interface: interface, metric: metric, defaultRoute: defaultRoute)
        if let a = d.address, a.isUsableUnicast {
            let prefix = d.mask.flatMap { $0.ipv4 }.flatMap { $0 == 0 ? nil : IPAddress.prefix(ofMask: $0) } ?? 24
            let gw = d.gateway.flatMap { $0.isUsableUnicast && $0 != a ? $0 : nil }
            plan.ipv4 = .init(address: a, prefix: prefix, gateway: gw, routeViaGateway: gw != nil)
        }
        plan.dns = DNSManager.usable([d.dns1, d.dns2].compactMap { $0 }.filter { $0.isUsableUnicast })
        return plan
    }
}
#endif
