#if QCM_MBIM
import Base
import LinkConfig
import MBIMCore
import MBIMMessages

/// The MBIM session's call: registration, packet service attach, CONNECT, IP configuration,
/// the link, the network ending the session, and the teardown.
extension MBIMSession {
    func ready() {
        setup = nil
        becameReady()
        call.phase = .waitingForNetwork
        packetServiceAsked = false
        setState(nil, "waiting for network registration")
        command(.register, MBIM.RegisterState.cid)
        watchSignal()
    }

    func registration(_ v: MBIM.RegisterState.Response) {
        let state = v.registerState
        let was = registered
        registered = state == .home || state == .roaming || state == .partner
        if registered != was || !registered {
            log("requestRegistrationState2 \(state.name), provider \(v.providerName ?? "?") (\(v.providerID ?? "?")), data classes \(v.availableDataClasses.name)"
                + (v.nwError != .noneValue ? ", network error \(v.nwError.name)" : ""))
        }
        dataClasses = registered ? v.availableDataClasses.rawValue : 0
        updateField([(.registration, state.name),
                     (.operatorName, v.providerName.flatMap(Network.operatorName)),
                     (.mccMnc, v.providerID.flatMap(Network.identifier)), (.rat, MBIMSession.rat(dataClasses))]
                    + signalFields())
        guard isReady else { return }
        if registered && call.phase == .waitingForNetwork && !packetServiceAsked {
            cancel(.registrationPoll)
            packetServiceAsked = true
            command(.packetQuery, MBIM.PacketService.cid)
        } else if !registered {
            arm(.registrationPoll, 30_000)
        }
    }

    func pollRegistration() {
        guard isReady, !registered else { return }
        command(.register, MBIM.RegisterState.cid)
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
        typealias P = MBIM.PacketService
        guard let v = decoded(P.Response.self, r) else { return dialFailed(call, "packet service \(step == .attach ? "attach" : "query"): \(MBIMSession.why(r))") }
        if v.packetServiceState == .attached { return dial() }
        guard step == .packetQuery else { return dialFailed(call, "packet service not attached (\(v.packetServiceState.name))") }
        log("attaching the packet service")
        command(.attach, P.cid, set: true, P.Set(packetServiceAction: .attach).encode(), timeout: config.timeouts.startNetwork)
    }

    func redialDue() {
        guard isReady, call.phase == .redialWait else { return }
        call.phase = .waitingForNetwork
        if registered {
            packetServiceAsked = true
            command(.packetQuery, MBIM.PacketService.cid)
        } else {
            setState(nil, "waiting for network registration")
            command(.register, MBIM.RegisterState.cid)
        }
    }

    // MARK: the call

    func dial() {
        cancel(.redial(pdn: call.pdn))
        call.phase = .dialing
        setState(nil, "dialing")
        dialing = true
        let f = call.options.families
        let ipType: MBIM.IPType = f.contains(.ipv4) && f.contains(.ipv6) ? .ipv4v6 : f.contains(.ipv6) ? .ipv6 : .ipv4
        // The APN, user and password of -s (a profile is a QMI notion: MBIM has none here).
        // -s's auth 3 (PAP or CHAP) becomes CHAP; a password alone means CHAP too.
        let auth = call.options.auth.map { MBIM.AuthProtocol(rawValue: UInt32($0 == 3 ? 2 : $0)) } ?? (call.options.password == nil ? .noneValue : .chap)
        let body = MBIM.Connect.Set(sessionID: session, activationCommand: .activate, accessString: call.options.apn ?? "",
                                    userName: call.options.user, password: call.options.password, authProtocol: auth,
                                    ipType: ipType, contextType: contextType)
        command(.connect, MBIM.Connect.cid, set: true, body.encode(), timeout: config.timeouts.startNetwork)
    }

    /// The APN type of -y as CONNECT's context type: IMS for -y 2, Internet otherwise.
    var contextType: MBIMUUID { call.options.apnType == 2 ? .contextIMS : .contextInternet }

    func connectAnswered(_ r: Result<MBIMMessage, MBIMError>) {
        dialing = false
        if teardown != nil { return teardownNext() }
        guard isReady, call.phase == .dialing else { return }
        let v = decoded(MBIM.Connect.Response.self, r)
        guard case .success = r, let up = v, up.activationState == .activated else {
            let nw = v?.nwError ?? .noneValue
            return dialFailed(call, "CONNECT: \(MBIMSession.why(r))" + (nw != .noneValue ? ", network error \(nw.name) (\(nw.rawValue))" : ""))
        }
        sessionUp = true
        log("requestSetupDataCall MBIM session \(session) activated (\(up.ipType.name))")
        call.phase = .configuring
        setLinkState(up: true)
        command(.ipConfig, MBIM.IPConfiguration.cid, MBIM.IPConfiguration.Query(sessionID: session).encode())
    }

    func ipConfigured(_ r: Result<MBIMMessage, MBIMError>) {
        guard isReady, call.phase == .configuring else { return }
        guard let v = decoded(MBIM.IPConfiguration.Response.self, r) else {
            return callDropped("no IP configuration from the modem: \(MBIMSession.why(r))", disconnect: true)
        }
        let dev = netdev(call.pdn)
        let plan = Plans.fromMBIM(v, interface: dev ?? "wwan0", metric: options.metric, defaultRoute: call.options.defaultRoute)
        guard plan.ipv4 != nil || plan.ipv6 != nil else { return callDropped("the modem gave the session no usable address", disconnect: true) }
        if let why = Plans.extendToLAN(plan, call.options) { log(why) }
        call.plan = plan
        guard !options.noLink, dev != nil else {
            if dev == nil && !options.noLink { log("no network interface known for this modem: link configuration skipped (use -i IFACE)") }
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
            command(.disconnect, MBIM.Connect.cid, set: true, deactivateBody, timeout: config.timeouts.teardown)
        }
        sessionUp = false
        scheduleRedial(call, after: delay)
    }

    var deactivateBody: [UInt8] {
        MBIM.Connect.Set(sessionID: session, activationCommand: .deactivate, contextType: contextType).encode()
    }

    // MARK: indications

    func indication(_ m: MBIMMessage) {
        guard m.service == .basicConnect, isReady else { return }
        switch m.cid {
        case MBIM.Connect.cid:
            guard let v = try? MBIM.Connect.Response(decoding: m.buffer), v.sessionID == session,
                  v.activationState != .activated, call.phase == .connected || call.phase == .configuring else { return }
            let nw = v.nwError
            callDropped("the network ended the session" + (nw != .noneValue ? " (network error \(nw.name), \(nw.rawValue))" : ""), disconnect: false)
        case MBIM.RegisterState.cid:
            if let v = try? MBIM.RegisterState.Response(decoding: m.buffer) { registration(v) }
        case MBIM.SignalState.cid:
            if let v = try? MBIM.SignalState.Response(decoding: m.buffer) { signal(v) }
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
            command(.disconnect, MBIM.Connect.cid, set: true, deactivateBody, timeout: config.timeouts.teardown)
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
