import Base
import CSystem
import QMICore
import QMIMessages

/// Setting the QMI session up: the channel (through a proxy, or CTL Sync on our own),
/// client ids, the facts (revision, IMEI, SIM, registration, call state, profiles), the SIM
/// PIN — then the data path and profiles (QMIDataPath.swift).
extension QMISession {
    func start() {
        setState(nil, "starting")
        for c in calls { status(c.pdn, .apn, c.options.apn) }
        open()
    }

    func channelOpened() {
        guard isOpening else { return }
        setState(nil, "initializing")
        beginSetup()
        if config.proxy == .libqmi {
            setup = .proxyOpening
            var r = CTL.InternalProxyOpen.Request()
            r.devicePath = config.device
            send(.proxyOpen, r, timeout: config.timeouts.sync)
        } else if canSync {
            sync()
        } else {
            allocateAll()
        }
    }

    func proxyOpened(_ result: Result<QMIMessage, QMIError>) {
        guard stage == .proxyOpening else { return }
        if case .failure(let e) = result { return setupFailed("qmi-proxy did not open \(config.device): \(e.description)") }
        if case .success(let m) = result, let res = m.result, !res.ok {
            return setupFailed("qmi-proxy refused \(config.device): \(res.description)")
        }
        allocateAll()
    }

    /// CTL Sync drops every client id on the modem: the ones a killed qcm left behind.
    /// Through qmi-proxy it would drop other programs' clients too, so it is not sent there;
    /// quectel-qmi-proxy refuses it from clients (it sends its own when it opens the device).
    func sync() {
        setup = .syncing
        send(.sync, CTL.Sync.Request(), timeout: config.timeouts.sync)
    }

    func synced(_ result: Result<QMIMessage, QMIError>) {
        guard stage == .syncing else { return }
        if case .failure(let e) = result {
            return setupFailed("the modem does not answer on \(config.channel) (\(e.description)). Is another program (ModemManager, quectel-CM) using it, or is the modem still booting?")
        }
        allocateAll()
    }

    // MARK: client ids

    func allocateAll() {
        let step = Step()
        setup = .allocating(step)
        clients.removeAll()
        for c in calls where c.phase != .failed {
            c.forget()
            for f in c.options.families { allocate(.wds, for: .call(pdn: c.pdn, family: f)) }
        }
        for s in [QMIService.dms, .nas, .uim, .wda] { allocate(s, for: .session) }
    }

    func allocate(_ service: QMIService, for use: ClientUse) {
        var r = CTL.AllocateClientID.Request()
        r.service = service
        let tag = Request.allocate(service, for: use)
        expect(tag)
        send(tag, r)
    }

    func allocated(_ service: QMIService, for use: ClientUse, _ result: Result<QMIMessage, QMIError>) {
        let r = Request.allocate(service, for: use)
        let inStep = answered(r)
        if case .failure(let e) = result, e.isUntrustedPeer {      // a GobiNet stand-in that is not ours
            let f = SessionCore.openFailure(ChannelError(e), channel: "QMI channel \(config.channel)", proxyHint: nil)
            return fail(f.code, f.message)
        }
        guard case .success(let m) = result, m.result?.ok == true, let a = CTL.AllocateClientID.Response(m).allocation else {
            var why = "\(service.name): " + failure(result)
            if case .success(let m) = result, m.result?.protocolError == .clientIdsExhausted {
                why += " (the modem ran out of client ids; they are normally freed by the CTL Sync qcm sends — power-cycle the modem)"
            }
            if service == .uim || service == .wda {
                log("no \(service.name) client (\(failure(result))); continuing without it")
            } else if case .allocating(let step) = setup, inStep {
                step.problem(why)
            }
            if inStep { allocationsDone() }
            return
        }
        clients.add(service, a.clientID)
        log("Get client\(service.name) = \(a.clientID)")
        let c: Call?
        if case let .call(pdn, family) = use, let owner = call(pdn) {
            owner.wds[family] = a.clientID
            c = owner
        } else {
            c = nil
        }
        if inStep { return allocationsDone() }
        guard isReady else { return }
        // A client allocated again after the modem revoked it (bound to its mux first).
        log("client\(service.name) \(a.clientID) replaces the revoked one")
        guard let c, case let .call(_, family) = use, c.phase == .redialWait,
              c.options.families.allSatisfy({ c.wds[$0] != nil }) else { return }
        if plan.usesQMAP { bindMux(c, family: family) } else { dial(c) }
    }

    func allocationsDone() {
        guard case .allocating(let step) = setup, step.isDone else { return }
        if !step.problems.isEmpty || clients.dms == nil || clients.nas == nil {
            return setupFailed("cannot get QMI client ids: " + step.problems.joined(separator: "; "))
        }
        inquire()
    }

    // MARK: facts

    /// Independent queries, all at once: revision, IMEI, SIM, registration, call state, profile.
    func inquire() {
        let step = Step()
        setup = .inquiring(step)
        let dms = clients.dms ?? 0
        func ask(_ r: Request, _ m: some QMITypedMessage) {
            step.expect(r)
            send(r, m)
        }
        ask(.revision, DMS.GetRevision.Request(clientID: dms))
        ask(.ids, DMS.GetIDs.Request(clientID: dms))
        if let u = clients.uim {
            ask(.cardStatus, UIM.GetCardStatus.Request(clientID: u))
        } else {
            ask(.pinStatus, DMS.UIMGetPINStatus.Request(clientID: dms))
        }
        ask(.servingSystem, NAS.GetServingSystem.Request(clientID: clients.nas ?? 0))
        for c in calls where c.phase != .failed {
            c.staleFamilies = []
            c.profileSettings = nil
            c.profileMissing = false
            for (f, cid) in c.wds.pairs {
                ask(.packetStatus(pdn: c.pdn, family: f), WDS.GetPacketServiceStatus.Request(clientID: cid))
            }
            if let cid = c.clientIDs.first {
                var r = WDS.GetProfileSettings.Request(clientID: cid)
                r.profileIdentifier = WDS.ProfileIdentifier(profileType: .`3gpp`, profileIndex: UInt8(c.profile))
                ask(.readProfile(pdn: c.pdn), r)
            }
        }
    }

    /// An answer to `inquire` (the serving system is asked again later too).
    func factAnswered(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        switch r {
        case .revision:
            if case .success(let m) = result, let rev = DMS.GetRevision.Response(m).revision {
                log("requestBaseBandVersion \(rev)")
                status(nil, .revision, rev)
            }
        case .ids:
            if case .success(let m) = result, let imei = DMS.GetIDs.Response(m).imei { status(nil, .imei, imei) }
        case .cardStatus, .pinStatus:
            readSIM(r, result)
        case .servingSystem:
            if case .success(let m) = result {
                let v = NAS.GetServingSystem.Response(m)
                servingSystem(v.servingSystem, plmn: v.currentPLMN, caps: v.dataServiceCapability, roaming: v.roamingIndicator, isResponse: true)
                if let ss = v.servingSystem {
                    fieldFromServingSystem(ss, plmn: v.currentPLMN, roaming: v.roamingIndicator, lac: v.lac3GPP, cid: v.cid3GPP, tac: v.lteTAC)
                }
            }
            if !answered(r) {
                if isReady && !registered { arm(.registrationPoll, 30_000) }
                return
            }
            return factsDone()
        case let .packetStatus(pdn, family):
            if let c = call(pdn), case .success(let m) = result {
                let up = WDS.GetPacketServiceStatus.Response(m).connectionStatus == .connected
                log("requestQueryDataCall \(family.label)ConnectionStatus: \(up ? "CONNECTED" : "DISCONNECTED")")
                if up { c.staleFamilies.append(family) }
            }
        case let .readProfile(pdn):
            if let c = call(pdn) { profileRead(c, result) }
        default:
            return
        }
        if answered(r) { factsDone() }
    }

    func factsDone() {
        guard case .inquiring(let step) = setup, step.isDone else { return }
        switch simDecision {
        case .proceed: prepare()
        case .fail(let why): fail(ExitCode.sim, why)
        case .verify(let pin): verifyPIN(pin)
        }
    }

    func readSIM(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result else {
            sim = .unknown
            log("requestGetSIMStatus: card status unavailable")
            return
        }
        sim = r == .cardStatus ? SIM.from(UIM.GetCardStatus.Response(m)) : SIM.from(DMS.UIMGetPINStatus.Response(m))
        if sim == .unknown && r == .cardStatus { log("requestGetSIMStatus: card status unavailable"); return }
        log("requestGetSIMStatus SIMStatus: \(sim.logName)")
    }

    func profileRead(_ c: Call, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result else {
            log("requestGetProfile[\(c.profile)]: profile \(c.profile) cannot be read")
            return
        }
        let r = WDS.GetProfileSettings.Response(m)
        if let res = r.result, !res.ok {
            // "Context not defined" (or an invalid number): the profile does not exist yet.
            let ext = r.extendedErrorCode
            if ext == .`3gppContextNotDefined` || ext == .invalidProfileNumber || res.protocolError == .invalidProfile {
                c.profileMissing = true
                log("requestGetProfile[\(c.profile)]: profile \(c.profile) does not exist")
            } else {
                log("requestGetProfile[\(c.profile)]: profile \(c.profile) cannot be read")
            }
            return
        }
        c.profileSettings = r
        log("requestGetProfile[\(c.profile)] \(r.apnName ?? "")/\(r.username ?? "")/\((r.password ?? "").isEmpty ? "" : "***")/\(r.authentication?.rawValue ?? 0)")
    }

    // MARK: SIM PIN

    func verifyPIN(_ pin: String) {
        setup = .verifyingPIN
        setState(nil, "verifying SIM PIN")
        pinVerified = true
        log("verifying the SIM PIN (***)")
        if let u = clients.uim {
            var r = UIM.VerifyPIN.Request(clientID: u)
            r.session = UIM.VerifyPIN.Session(sessionType: .primaryGwProvisioning, applicationIdentifier: [])
            r.info = UIM.VerifyPIN.Info(pinID: .pin1, pin: pin)
            send(.verifyPIN, r)
        } else {
            var r = DMS.UIMVerifyPIN.Request(clientID: clients.dms ?? 0)
            r.info = DMS.UIMVerifyPIN.Info(pinID: .pin, pin: pin)
            send(.verifyPIN, r)
        }
    }

    func pinVerified(_ result: Result<QMIMessage, QMIError>) {
        guard stage == .verifyingPIN else { return }
        switch result {
        case .failure(let e):
            fail(ExitCode.sim, "PIN verification failed: \(e.description)")
        case .success(let m):
            if let res = m.result, !res.ok {
                let left = clients.uim != nil ? UIM.VerifyPIN.Response(m).retries?.verifyRetriesLeft
                                              : DMS.UIMVerifyPIN.Response(m).retries?.verifyRetriesLeft
                var msg = "wrong SIM PIN (\(QMIErrorCode.name(res.error)))"
                if let l = left { msg += ", \(l) attempt(s) left" }
                msg += "; qcm does not retry it"
                return fail(ExitCode.sim, msg)
            }
            log("SIM PIN accepted")
            sim = .ready
            prepare()
        }
    }
}
