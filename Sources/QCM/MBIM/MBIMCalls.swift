#if QCM_MBIM
import Base
import LinkConfig
import MBIMCore

/// The MBIM session's call: registration, packet service attach, CONNECT, IP configuration,
/// the link, the network ending the session, and the teardown.
extension MBIMSession {
    func ready() {
        setup = nil
        becameReady()
        call.phase = .waitingForNetwork
        packetServiceAsked = false
        setState(nil, "waiting for network registration")
        command(.register, MBIMCatalogue.Register.cid)
        watchSignal()
    }

    func registration(_ v: [MBIMValue]) {
        typealias R = MBIMCatalogue.Register
        let state = v[R.state].u32
        let was = registered
        registered = state == R.home || state == R.roaming || state == R.partner
        if registered != was || !registered {
            log("requestRegistrationState2 \(MBIMNames.registerState.describe(state)), provider \(v[R.providerName].text ?? "?") (\(v[R.providerID].text ?? "?")), data classes \(MBIMNames.dataClass.describe(v[R.dataClasses].u32))"
                + (v[R.nwError].u32 != 0 ? ", network error \(MBIMNames.nwError.describe(v[R.nwError].u32))" : ""))
        }
        dataClasses = registered ? v[R.dataClasses].u32 : 0
        updateField([(.registration, MBIMNames.registerState.describe(state)),
                     (.operatorName, v[R.providerName].text.flatMap(Network.operatorName)),
                     (.mccMnc, v[R.providerID].text.flatMap(Network.identifier)), (.rat, MBIMSession.rat(dataClasses))]
                    + signalFields())
        guard isReady else { return }
        if registered && call.phase == .waitingForNetwork && !packetServiceAsked {
            cancel(.registrationPoll)
            packetServiceAsked = true
            command(.packetQuery, MBIMCatalogue.PacketService.cid)
        } else if !registered {
            arm(.registrationPoll, 30_000)
        }
    }

    func pollRegistration() {
        guard isReady, !registered else { return }
        command(.register, MBIMCatalogue.Register.cid)
    }

    /// The newest technology of an MBIM data-class mask, as `qcm status` names RATs.
    static func rat(_ classes: UInt32) -> String? {
        if classes & 0xc0 != 0 { return "5gnr" }
        if classes & 0x20 != 0 { return "lte" }
        if classes & 0x1c != 0 { return "umts" }
        if classes & 0x03 != 0 { return "gsm" }
        return nil
    }

    func packetService(_ step: MBIMStep, _ r: Result<MBIMMessage, MBIMError>) {
        packetServiceAsked = step == .packetQuery      // an attach follows a query; nothing follows an attach
        guard isReady, call.phase == .waitingForNetwork else { return }
        typealias P = MBIMCatalogue.PacketService
        guard let v = values(P.response, r) else { return dialFailed(call, "packet service \(step == .attach ? "attach" : "query"): \(MBIMSession.why(r))") }
        if v[P.state].u32 == P.attached { return dial() }
        guard step == .packetQuery else { return dialFailed(call, "packet service not attached (\(MBIMNames.packetServiceState.describe(v[P.state].u32)))") }
        log("attaching the packet service")
        command(.attach, P.cid, set: true, P.set.encode([.number(UInt64(P.attach))]), timeout: config.timeouts.startNetwork)
    }

    func redialDue() {
        guard isReady, call.phase == .redialWait else { return }
        call.phase = .waitingForNetwork
        if registered {
            packetServiceAsked = true
            command(.packetQuery, MBIMCatalogue.PacketService.cid)
        } else {
            setState(nil, "waiting for network registration")
            command(.register, MBIMCatalogue.Register.cid)
        }
    }

    // MARK: the call

    func dial() {
        cancel(.redial(pdn: call.pdn))
        call.phase = .dialing
        setState(nil, "dialing")
        dialing = true
        typealias C = MBIMCatalogue.Connect
        let f = call.options.families
        let ipType = f.contains(.ipv4) && f.contains(.ipv6) ? C.ipv4v6 : f.contains(.ipv6) ? C.ipv6 : C.ipv4
        // The APN, user and password of -s (a profile is a QMI notion: MBIM has none here).
        let auth: UInt64 = call.options.auth.map { UInt64($0 == 3 ? 2 : $0) } ?? (call.options.password == nil ? 0 : 2)
        let body = C.set.encode([.number(UInt64(session)), .number(UInt64(C.activate)), .text(call.options.apn ?? ""),
                                 .text(call.options.user), .text(call.options.password), .number(0), .number(auth),
                                 .number(UInt64(ipType)), .uuid(.contextInternet)])
        command(.connect, C.cid, set: true, body, timeout: config.timeouts.startNetwork)
    }

    func connectAnswered(_ r: Result<MBIMMessage, MBIMError>) {
        dialing = false
        typealias C = MBIMCatalogue.Connect
        if teardown != nil { return teardownNext() }
        guard isReady, call.phase == .dialing else { return }
        let v = values(C.state, r)
        guard case .success = r, let state = v?[C.activationState].u32, state == C.activated else {
            let nw = v.map { $0[C.nwError].u32 } ?? 0
            return dialFailed(call, "CONNECT: \(MBIMSession.why(r))" + (nw != 0 ? ", network error \(MBIMNames.nwError.describe(nw)) (\(nw))" : ""))
        }
        sessionUp = true
        log("requestSetupDataCall MBIM session \(session) activated (\(MBIMNames.ipType.describe(v?[C.ipType].u32 ?? 0)))")
        call.phase = .configuring
        let query = MBIMCatalogue.IPConfiguration.layout.encode([.number(UInt64(session))])
        command(.ipConfig, MBIMCatalogue.IPConfiguration.cid, query)
    }

    func ipConfigured(_ r: Result<MBIMMessage, MBIMError>) {
        guard isReady, call.phase == .configuring else { return }
        guard let v = values(MBIMCatalogue.IPConfiguration.layout, r) else {
            return callDropped("no IP configuration from the modem: \(MBIMSession.why(r))", disconnect: true)
        }
        let plan = Plans.fromMBIM(v, interface: config.netdev ?? "wwan0", metric: options.metric, defaultRoute: call.options.defaultRoute)
        guard plan.ipv4 != nil || plan.ipv6 != nil else { return callDropped("the modem gave the session no usable address", disconnect: true) }
        call.plan = plan
        guard !options.noLink, config.netdev != nil else {
            if config.netdev == nil && !options.noLink { log("no network interface known for this modem: link configuration skipped (use -i IFACE)") }
            return connected(call, plan)
        }
        emit(.applyLink(pdn: call.pdn, plan, leaseSeconds: nil, renew: false))
    }

    func linkApplied(_ r: Result<LinkPlan, LinkError>) {
        guard isReady, call.phase == .configuring else { return }
        switch r {
        case .success: connected(call, call.plan)
        case .failure(let e): linkFailed(call.pdn, e)
        }
    }

    /// The session is gone (or unusable): the link goes, the session is deactivated when it
    /// is up on the modem (`disconnect`), the redial is scheduled.
    func callDropped(_ why: String, disconnect: Bool) {
        let delay = callEnded(call, why)
        if disconnect && sessionUp {
            command(.disconnect, MBIMCatalogue.Connect.cid, set: true, deactivateBody, timeout: config.timeouts.teardown)
        }
        sessionUp = false
        scheduleRedial(call, after: delay)
    }

    var deactivateBody: [UInt8] {
        MBIMCatalogue.Connect.set.encode([.number(UInt64(session)), .number(UInt64(MBIMCatalogue.Connect.deactivate)), .text(nil), .text(nil),
                                          .text(nil), .number(0), .number(0), .number(0), .uuid(.contextInternet)])
    }

    // MARK: indications

    func indication(_ m: MBIMMessage) {
        guard m.service == .basicConnect, isReady else { return }
        typealias C = MBIMCatalogue.Connect
        switch m.cid {
        case C.cid:
            guard case .success(let v) = C.state.decode(m.buffer), v[C.sessionID].u32 == session,
                  v[C.activationState].u32 != C.activated, call.phase == .connected || call.phase == .configuring else { return }
            let nw = v[C.nwError].u32
            callDropped("the network ended the session" + (nw != 0 ? " (network error \(MBIMNames.nwError.describe(nw)), \(nw))" : ""), disconnect: false)
        case MBIMCatalogue.Register.cid:
            if case .success(let v) = MBIMCatalogue.Register.response.decode(m.buffer) { registration(v) }
        case MBIMCatalogue.SignalState.cid:
            if case .success(let v) = MBIMCatalogue.SignalState.response.decode(m.buffer) { signal(v) }
        default:
            break
        }
    }

    // MARK: teardown

    /// The next request of the teardown: CONNECT deactivate while the session is up, then
    /// CLOSE; the CLOSE_DONE ends it.
    func teardownNext() {
        guard let t = teardown else { return }
        t.callsStopped = true
        if sessionUp {
            log("requestDeactivateDefaultPDP MBIM session \(session)")
            t.stopsOutstanding = 1
            command(.disconnect, MBIMCatalogue.Connect.cid, set: true, deactivateBody, timeout: config.timeouts.teardown)
        } else {
            t.releasesOutstanding = 1
            send(.close, MBIMMessage(kind: .close, transactionID: 0), timeout: config.timeouts.teardown)
        }
    }

    func teardownAnswered(_ step: MBIMStep) {
        guard teardown != nil else { return }
        if step == .disconnect {
            sessionUp = false
            return teardownNext()
        }
        finishTeardown(channelGone: false)
    }
}
#endif
