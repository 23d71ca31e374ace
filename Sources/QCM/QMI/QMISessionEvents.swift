import Base
import CSystem
import DHCPClient
import LinkConfig
import QMICore
import QMIMessages

/// What the modem says (responses, indications), what the timers say, and losing and
/// regaining the modem — with the escalating recovery when it stops answering.
extension QMISession {
    // MARK: responses

    func response(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        // What `qcm status` asks is no measure of the modem's health: only the session's own
        // requests count towards recovery (a user cannot make qcm reset the modem).
        if case .failure(.timeout(let what, _)) = result, !r.asksForUser {
            timeoutsSinceAnswer += 1
            lastTimeout = what
        } else if case .success = result {
            timeoutsSinceAnswer = 0
        }
        switch r {
        case .proxyOpen:
            guard phase == .proxyOpening else { return }
            if case .failure(let e) = result { return initFailed("qmi-proxy did not open \(config.device): \(e.description)") }
            if case .success(let m) = result, let res = m.result, !res.ok {
                return initFailed("qmi-proxy refused \(config.device): \(res.description)")
            }
            allocateAll()
        case .sync:
            guard phase == .syncing else { return }
            if case .failure(let e) = result {
                return initFailed("the modem does not answer on \(config.channel) (\(e.description)). Is another program (ModemManager, quectel-CM) using it, or is the modem still booting?")
            }
            allocateAll()
        case let .allocate(service, pdn, family):
            allocated(service, pdn: pdn, family: family, result)
        case .release:
            releaseAnswered(result)
        case .revision:
            if case .success(let m) = result, let rev = DMS.GetRevision.Response(m).revision {
                log("requestBaseBandVersion \(rev)")
                out.append(.status(pdn: nil, "revision", rev))
            }
            if answered(r) { factsDone() }
        case .ids:
            if case .success(let m) = result, let imei = DMS.GetIDs.Response(m).imei { out.append(.status(pdn: nil, "imei", imei)) }
            if answered(r) { factsDone() }
        case .cardStatus, .pinStatus:
            readSIM(r, result)
            if answered(r) { factsDone() }
        case .servingSystem:
            if case .success(let m) = result {
                let v = NAS.GetServingSystem.Response(m)
                servingSystem(v.servingSystem, plmn: v.currentPLMN, caps: v.dataServiceCapability, roaming: v.roamingIndicator, isResponse: true)
                if let ss = v.servingSystem {
                    fieldFromServingSystem(ss, plmn: v.currentPLMN, roaming: v.roamingIndicator, lac: v.lac3GPP, cid: v.cid3GPP, tac: v.lteTAC)
                }
            }
            if answered(r) { factsDone() } else if phase == .ready && !registered { arm(.registrationPoll, 30_000) }
        case let .packetStatus(pdn, family):
            if let c = call(pdn), case .success(let m) = result {
                let up = WDS.GetPacketServiceStatus.Response(m).connectionStatus == .connected
                log("requestQueryDataCall IPv\(family)ConnectionStatus: \(up ? "CONNECTED" : "DISCONNECTED")")
                if up { c.staleFamilies.append(family) }
            }
            if answered(r) { factsDone() }
        case let .readProfile(pdn):
            if let c = call(pdn) { profileRead(c, result) }
            if answered(r) { factsDone() }
        case .verifyPIN:
            pinVerified(result)
        case .dataFormat:
            guard answered(r) else { return }
            if dataFormatSet(result) {
                setUpDataPath()
                preparationDone()
            }
        case let .bindMux(pdn, family):
            if let c = call(pdn) { muxBound(c, family: family, result) }
            if answered(r) { preparationDone() }
        case let .createProfile(pdn):
            if let c = call(pdn) { profileCreated(c, result) }
            if answered(r) { preparationDone() }
        case .modifyProfile:
            if case .failure(let e) = result { log("requestSetProfile failed: \(e.description)") }
            else if case .success(let m) = result, let res = m.result, !res.ok { log("requestSetProfile failed: \(res.description)") }
            if answered(r) { preparationDone() }
        case .setIPFamily, .stopStale:
            if answered(r) { preparationDone() }
        case let .start(pdn, family):
            if let c = call(pdn) { started(c, family: family, result) }
        case .stop:
            stopAnswered(result)
        case let .runtimeSettings(pdn, family):
            if let c = call(pdn) { settingsArrived(c, family: family, result) }
        case let .recheck(pdn, family):
            if let c = call(pdn) { rechecked(c, family: family, result) }
        case .radio:
            radioAnswered(r, result)
        case .configSignal, .registerIndications, .signalInfo, .systemInfo, .imsi, .iccid:
            fieldAnswered(r, result)
        case .packetStats, .rfBand:
            statusAnswered(r, result)
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
            if ext == .`3gppContextNotDefined` || ext == .invalidProfileNumber || res.error == QMIErrorCode.invalidProfile {
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

    func profileCreated(_ c: Call, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result, m.result?.ok == true, let id = WDS.CreateProfile.Response(m).profileIdentifier else {
            log("requestCreateProfile[\(c.profile)] failed: \(failure(result)); the dial will name profile \(c.profile) anyway")
            return
        }
        let made = Int(id.profileIndex)
        if made != c.profile {
            log("requestCreateProfile: the modem created profile \(made) (asked for \(c.profile)); dialing with profile \(made)")
            c.profile = made
        } else {
            log("requestCreateProfile: profile \(made) created")
        }
    }


    // MARK: indications

    func indication(_ m: QMIMessage) {
        switch m.service {
        case .wds where m.messageID == WDS.GetPacketServiceStatus.id:
            let ind = WDS.GetPacketServiceStatus.Indication(m)
            guard ind.connectionStatus?.status == .disconnected, phase == .ready,
                  let c = calls.first(where: { $0.family(ofClient: m.clientID) != nil }),
                  c.phase == .connected || c.phase == .configuring, !c.handles.isEmpty else { return }
            let family = ind.ipFamily?.rawValue ?? c.family(ofClient: m.clientID) ?? 4
            callDropped(c, "the network ended the IPv\(family) call" + QMISession.endReason(ind.callEndReason, ind.verboseCallEndReason), stop: true)
        case .nas where m.messageID == NAS.GetServingSystem.id:
            let ind = NAS.GetServingSystem.Indication(m)
            servingSystem(ind.servingSystem, plmn: ind.currentPLMN, caps: ind.dataServiceCapability, roaming: ind.roamingIndicator,
                          isResponse: false)
            if let ss = ind.servingSystem {
                fieldFromServingSystem(ss, plmn: ind.currentPLMN, roaming: ind.roamingIndicator, lac: ind.lac3GPP, cid: ind.cid3GPP, tac: ind.lteTAC)
            }
        case .nas where m.messageID == NAS.SignalInfo.id:
            signalIndication(m)
        case .nas where m.messageID == NAS.SystemInfo.id:
            systemInfoIndication(m)
        case .ctl where m.messageID == CTL.Sync.id:
            guard phase != .stopping && phase != .done && phase != .idle else { return }
            log("modem reset: every QMI client id was dropped")
            restartSession("after a modem reset")
        case .ctl where m.messageID == CTL.RevokeClientID.id:
            guard phase != .stopping && phase != .done, let revoked = CTL.RevokeClientID.Indication(m).revoked else { return }
            clientRevoked(revoked.service, revoked.clientID)
        default:
            break
        }
    }

    /// The modem (or qmi-proxy) took one of our client ids away: allocate it again. A call
    /// that ran on a revoked WDS client is gone with it and is redialed.
    func clientRevoked(_ service: QMIService, _ cid: UInt8) {
        guard let i = clients.firstIndex(where: { $0.service == service && $0.cid == cid }) else { return }
        clients.remove(at: i)
        log("the modem revoked QMI client\(service.name) \(cid); allocating a new one")
        if service == .wds {
            for c in calls {
                guard let f = c.family(ofClient: cid) else { continue }
                c.wds.removeValue(forKey: f)
                if c.phase == .connected || c.phase == .configuring {
                    c.handles.removeValue(forKey: f)
                    callDropped(c, "the IPv\(f) call went with its client", stop: true)
                }
            }
            return
        }
        switch service {
        case .dms: dms = nil
        case .nas: nas = nil
        case .uim: uim = nil
        case .wda: wda = nil
        default: break
        }
        var r = CTL.AllocateClientID.Request()
        r.service = service
        send(.allocate(service, pdn: 0, family: 0), r)
    }

    // MARK: losing and regaining the modem

    /// Every client id and call is gone on the modem side: start again from Sync.
    func restartSession(_ why: String) {
        forgetSession()
        phase = .syncing
        setState(nil, "initializing: \(why)")
        arm(.resync, 1000)
    }

    func forgetSession() {
        for c in calls {
            deconfigure(c, release: false)
            c.forget()
        }
        answerQueriesNow()
        clients.removeAll()
        pending = []
        registered = false
        recheckInFlight = false
        cancelAllTimers()
    }

    func dropSession() {
        forgetSession()
        out.append(.closeChannel)
    }

    func channelClosed(_ e: QMIError) {
        switch phase {
        case .stopping:
            return finishTeardown(channelGone: true)
        case .done, .idle, .waitingForDevice:
            return
        default:
            log("QMI channel lost: \(e.description)")
            dropSession()
            scheduleReopen("waiting for the modem to come back")
        }
    }

    func scheduleReopen(_ why: String) {
        phase = .waitingForDevice
        setState(nil, "modem gone, waiting for it: \(why)")
        let delay = reopenDelayMs
        reopenDelayMs = min(reopenDelayMs * 2, 10_000)
        arm(.reopen, delay)
    }

    /// The modem stopped answering (requests time out): each time, one step further —
    /// CTL Sync (direct channel only), reopening the channel, the radio off and on, a modem
    /// reset — bounded by the redial backoff, logged with the reason.
    func recover(after why: String) {
        let step = !canSync && recoveryStep == 0 ? 1 : recoveryStep
        recoveryStep = step >= 3 ? 0 : step + 1
        let reason = "the modem stopped answering (\(lastTimeout) timed out)"
        timeoutsSinceAnswer = 0
        switch step {
        case 0:
            log("\(reason): resynchronising the QMI channel (CTL Sync)")
            forgetSession()
            phase = .syncing
            setState(nil, "recovering: CTL Sync")
            sync()
        case 1:
            log("\(reason): reopening the QMI channel")
            dropSession()
            open()
        case 2:
            log("\(reason): turning the radio off and on (DMS Set Operating Mode low-power, then online)")
            setMode(.lowPower)
        default:
            log("\(reason): resetting the modem (DMS Set Operating Mode reset)")
            setMode(.reset)
        }
    }

    func setMode(_ mode: DMS.OperatingMode) {
        guard let d = dms else { return recover(after: "no DMS client") }
        var r = DMS.SetOperatingMode.Request(clientID: d)
        r.mode = mode
        send(.radio(mode.rawValue), r)
    }

    func radioAnswered(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        guard phase == .ready, case .radio(let mode) = r else { return }
        if case .failure = result {
            // DMS does not answer either: go on to the next step.
            return recover(after: "DMS Set Operating Mode")
        }
        switch mode {
        case DMS.OperatingMode.lowPower.rawValue:
            setMode(.online)
        case DMS.OperatingMode.online.rawValue:
            // The radio is back: dial once the modem says it is registered again (the
            // serving-system indication may already have come).
            for c in calls where c.phase == .redialWait { waitForNetwork(c) }
        default:
            // Reset: the modem reboots; its channel closes and comes back (channelClosed).
            setState(nil, "resetting the modem")
        }
    }

    // MARK: timers

    func timer(_ t: Timer) {
        guard fired(t) else { return }
        switch t {
        case .reopen:
            open()
        case .resync:
            guard phase == .syncing else { return }
            if canSync { sync() } else { allocateAll() }
        case .registrationPoll:
            guard phase == .ready, !registered, let n = nas else { return }
            send(.servingSystem, NAS.GetServingSystem.Request(clientID: n))
        case .redial(let pdn):
            guard let c = call(pdn), c.phase == .redialWait, phase == .ready else { return }
            if timeoutsSinceAnswer > 0 { return recover(after: "redial") }
            if registered { dial(c) } else { waitForNetwork(c) }
        case .teardownLimit:
            guard phase == .stopping else { return }
            log("the modem did not confirm the teardown in time")
            teardownProblems.append("teardown")
            finishTeardown(channelGone: false)
        case .dialWait:
            guard phase == .stopping else { return }
            teardown()
        }
    }

}
