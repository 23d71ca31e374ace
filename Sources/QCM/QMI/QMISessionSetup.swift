import Base
import CSystem
import DHCPClient
import LinkConfig
import QMICore
import QMIMessages

/// Setting the session up: the channel, CTL Sync, client ids, the facts (revision, SIM,
/// registration, call state, profiles), the SIM PIN, the data format and the profiles.
extension QMISession {
    // MARK: open, sync, clients

    func start() {
        setState(nil, "starting")
        for c in calls { out.append(.status(pdn: c.pdn, "apn", c.options.apn)) }
        open()
    }

    func open() {
        phase = .opening
        out.append(.openChannel)
    }

    func channelOpened() {
        guard phase == .opening else { return }
        setState(nil, "initializing")
        if config.viaProxy {
            phase = .proxyOpening
            var r = CTL.InternalProxyOpen.Request()
            r.devicePath = config.device
            send(.proxyOpen, r, timeout: config.timeouts.sync)
        } else if canSync {
            sync()
        } else {
            allocateAll()
        }
    }

    func channelOpenFailed(_ e: QMIError) {
        guard phase == .opening else { return }
        if initializedOnce, !e.isUntrustedPeer {
            scheduleReopen("cannot open \(config.channel): \(e.description)")
            return
        }
        let f = openFailure(e, channel: "QMI channel \(config.channel)", proxy: config.viaProxy ? "qmi-proxy" : nil)
        fail(f.code, f.message)
    }

    /// A setup step failed: fatal the first time; later the modem is waited for.
    func initFailed(_ message: String, code: Int32 = ExitCode.notResponding) {
        if initializedOnce {
            log(message)
            if timeoutsSinceAnswer > 0 { return recover(after: message) }
            dropSession()
            scheduleReopen(message)
        } else {
            fail(code, message)
        }
    }

    /// CTL Sync drops every client id on the modem: the ones a killed qcm left behind.
    /// Through qmi-proxy it would drop other programs' clients too, so it is not sent there.
    func sync() {
        phase = .syncing
        send(.sync, CTL.Sync.Request(), timeout: config.timeouts.sync)
    }

    func allocateAll() {
        phase = .allocating
        pending = []
        problems = []
        clients.removeAll()
        dms = nil; nas = nil; uim = nil; wda = nil
        for c in calls where c.phase != .failed {
            c.forget()
            for f in c.options.families { allocate(.wds, pdn: c.pdn, family: f) }
        }
        for s in [QMIService.dms, .nas, .uim, .wda] { allocate(s, pdn: 0, family: 0) }
    }

    func allocate(_ service: QMIService, pdn: Int, family: UInt8) {
        var r = CTL.AllocateClientID.Request()
        r.service = service
        let tag = Request.allocate(service, pdn: pdn, family: family)
        expect(tag)
        send(tag, r)
    }

    func allocated(_ service: QMIService, pdn: Int, family: UInt8, _ result: Result<QMIMessage, QMIError>) {
        let step = answered(.allocate(service, pdn: pdn, family: family))
        let r = result.map { CTL.AllocateClientID.Response($0) }
        if case .failure(let e) = result, e.isUntrustedPeer {      // a GobiNet stand-in that is not ours
            let f = openFailure(e, channel: "QMI channel \(config.channel)", proxy: nil)
            return fail(f.code, f.message)
        }
        guard case .success(let resp) = r, resp.result?.ok == true, let a = resp.allocation else {
            var why = "\(service.name): " + failure(result)
            if case .success(let m) = result, m.result?.error == QMIErrorCode.clientIdsExhausted {
                why += " (the modem ran out of client ids; they are normally freed by the CTL Sync qcm sends — power-cycle the modem)"
            }
            if service == .uim || service == .wda {
                log("no \(service.name) client (\(failure(result))); continuing without it")
            } else {
                problems.append(why)
            }
            if step { allocationsDone() }
            return
        }
        clients.append((service, a.clientID))
        log("Get client\(service.name) = \(a.clientID)")
        switch service {
        case .dms: dms = a.clientID
        case .nas: nas = a.clientID
        case .uim: uim = a.clientID
        case .wda: wda = a.clientID
        default: call(pdn)?.wds[family] = a.clientID
        }
        if step { allocationsDone() } else if phase == .ready {
            // A client allocated again after the modem revoked it (bound to its mux first).
            log("client\(service.name) \(a.clientID) replaces the revoked one")
            guard let c = call(pdn), c.phase == .redialWait, c.options.families.allSatisfy({ c.wds[$0] != nil }) else { return }
            if plan.usesQMAP { bindMux(c, family: family) } else { dial(c) }
        }
    }

    func allocationsDone() {
        guard pending.isEmpty, phase == .allocating else { return }
        if !problems.isEmpty || dms == nil || nas == nil {
            return initFailed("cannot get QMI client ids: " + problems.joined(separator: "; "))
        }
        inquire()
    }

    /// The text of a failed request: its error, or the modem's result code.
    func failure(_ result: Result<QMIMessage, QMIError>) -> String {
        switch result {
        case .failure(let e): return e.description
        case .success(let m): return m.result?.description ?? "no result in the response"
        }
    }

    // MARK: facts

    /// Independent queries, all at once: revision, IMEI, SIM, registration, call state, profile.
    func inquire() {
        phase = .inquiring
        pending = []
        expect(.revision)
        send(.revision, DMS.GetRevision.Request(clientID: dms ?? 0))
        expect(.ids)
        send(.ids, DMS.GetIDs.Request(clientID: dms ?? 0))
        if let u = uim {
            expect(.cardStatus)
            send(.cardStatus, UIM.GetCardStatus.Request(clientID: u))
        } else {
            expect(.pinStatus)
            send(.pinStatus, DMS.UIMGetPINStatus.Request(clientID: dms ?? 0))
        }
        expect(.servingSystem)
        send(.servingSystem, NAS.GetServingSystem.Request(clientID: nas ?? 0))
        for c in calls where c.phase != .failed {
            c.staleFamilies = []
            c.profileSettings = nil
            c.profileMissing = false
            for (f, cid) in c.wds.pairs {
                expect(.packetStatus(pdn: c.pdn, family: f))
                send(.packetStatus(pdn: c.pdn, family: f), WDS.GetPacketServiceStatus.Request(clientID: cid))
            }
            if let cid = c.clientIDs.first {
                var r = WDS.GetProfileSettings.Request(clientID: cid)
                r.profileIdentifier = WDS.ProfileIdentifier(profileType: .`3gpp`, profileIndex: UInt8(c.profile))
                expect(.readProfile(pdn: c.pdn))
                send(.readProfile(pdn: c.pdn), r)
            }
        }
    }

    func factsDone() {
        guard pending.isEmpty, phase == .inquiring else { return }
        switch sim.decide(pin: o.pin, verified: pinVerified) {
        case .proceed: prepare()
        case .fail(let why): fail(ExitCode.sim, why)
        case .verify(let pin): verifyPIN(pin)
        }
    }

    func verifyPIN(_ pin: String) {
        phase = .verifyingPIN
        setState(nil, "verifying SIM PIN")
        pinVerified = true
        log("verifying the SIM PIN (***)")
        if let u = uim {
            var r = UIM.VerifyPIN.Request(clientID: u)
            r.session = UIM.VerifyPIN.Session(sessionType: .primaryGwProvisioning, applicationIdentifier: [])
            r.info = UIM.VerifyPIN.Info(pinID: .pin1, pin: pin)
            send(.verifyPIN, r)
        } else {
            var r = DMS.UIMVerifyPIN.Request(clientID: dms ?? 0)
            r.info = DMS.UIMVerifyPIN.Info(pinID: .pin, pin: pin)
            send(.verifyPIN, r)
        }
    }

    func pinVerified(_ result: Result<QMIMessage, QMIError>) {
        guard phase == .verifyingPIN else { return }
        switch result {
        case .failure(let e):
            fail(ExitCode.sim, "PIN verification failed: \(e.description)")
        case .success(let m):
            if let res = m.result, !res.ok {
                let left = uim != nil ? UIM.VerifyPIN.Response(m).retries?.verifyRetriesLeft
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

    // MARK: data format, profiles, stale calls

    func prepare() {
        // raw-IP where the driver does it; qmi_wwan in 802.3 mode is switched first. QMAP
        // always runs on raw-IP.
        wantRawIP = plan.usesQMAP || (config.rawIP ?? !(config.driver?.equals("GobiNet") ?? false))
        if config.rawIP == false && config.rawIPSwitchable {
            phase = .switchingRawIP
            out.append(.switchRawIP)
            return
        }
        sendPreparation()
    }

    func rawIPSwitched(_ ok: Bool) {
        guard phase == .switchingRawIP else { return }
        let dev = config.netdev ?? "the netdev"
        if ok {
            log("\(dev): switched the driver to raw-IP (\(o.sysRoot)/class/net/\(dev)/qmi/raw_ip = Y)")
            wantRawIP = true
        } else if plan.usesQMAP {
            return fail(ExitCode.link, "\(dev): could not set \(o.sysRoot)/class/net/\(dev)/qmi/raw_ip to Y (the link must be down); QMAP needs raw-IP")
        } else {
            log("\(dev): could not set \(o.sysRoot)/class/net/\(dev)/qmi/raw_ip (the link must be down); using 802.3")
            wantRawIP = false
        }
        sendPreparation()
    }

    func sendPreparation() {
        phase = .preparing
        pending = []
        problems = []
        linksPending = []
        ethernet = !wantRawIP
        versionTried = 0
        granted = nil
        if wda != nil {
            requestDataFormat()
        } else if plan.usesQMAP {
            return fail(ExitCode.link, "QMAP needs the modem's WDA service to set the data format, and it gave no WDA client")
        }
        for c in calls where c.phase != .failed {
            prepareProfile(c)
            if let v6 = c.wds[6] {
                var r = WDS.SetIPFamily.Request(clientID: v6)
                r.preference = .ipv6
                expect(.setIPFamily(pdn: c.pdn, family: 6))
                send(.setIPFamily(pdn: c.pdn, family: 6), r)
            }
            // A call left up by an instance that was killed (-9): stop it, then dial afresh.
            for f in c.staleFamilies {
                guard let cid = c.wds[f] else { continue }
                log("a data call (IPv\(f)) is already up, probably left by a qcm that was killed; stopping it")
                var r = WDS.StopNetwork.Request(clientID: cid)
                r.packetDataHandle = 0xffff_ffff
                expect(.stopStale(pdn: c.pdn, family: f))
                send(.stopStale(pdn: c.pdn, family: f), r)
            }
        }
        preparationDone()
    }

    /// WDA Set Data Format: raw-IP or 802.3, and with QMAP the aggregation protocol (the
    /// best the path takes first), the aggregation size and the endpoint.
    func requestDataFormat() {
        var r = WDA.SetDataFormat.Request(clientID: wda ?? 0)
        r.qosFormat = false
        r.linkLayerProtocol = wantRawIP ? .rawIp : .`8023`
        let version = plan.versions[versionTried]
        r.uplinkDataAggregationProtocol = version
        r.downlinkDataAggregationProtocol = version
        if plan.usesQMAP {
            r.downlinkDataAggregationMaxDatagrams = max(1, min(64, plan.downlinkMaxSize / 512))
            r.downlinkDataAggregationMaxSize = plan.downlinkMaxSize
            r.endpointInfo = WDA.EndpointInfo(endpointType: plan.endpointType, interfaceNumber: plan.endpointInterface)
        }
        expect(.dataFormat)
        send(.dataFormat, r)
    }

    /// The modem answers with what it applied. QMAP counts as agreed only when it echoes the
    /// protocol asked for, with an aggregation size; otherwise the next protocol is tried,
    /// and when none is left the data path cannot work and qcm says so.
    func dataFormatSet(_ result: Result<QMIMessage, QMIError>) -> Bool {
        guard plan.usesQMAP else {
            if case .success(let m) = result, m.result?.ok == true, let p = WDA.SetDataFormat.Response(m).linkLayerProtocol {
                ethernet = p == .`8023`
                log("requestSetEthMode: \(p == .rawIp ? "raw-IP" : "802.3")")
            } else {
                ethernet = !wantRawIP
                log("requestSetEthMode: the modem did not confirm the data format; assuming \(wantRawIP ? "raw-IP" : "802.3")")
            }
            return true
        }
        let asked = plan.versions[versionTried]
        var answer = "no answer"
        if case .success(let m) = result {
            let r = WDA.SetDataFormat.Response(m)
            if let res = r.result, !res.ok {
                answer = res.description
            } else {
                let dl = r.downlinkDataAggregationProtocol, size = r.downlinkDataAggregationMaxSize ?? 0
                if r.linkLayerProtocol == .rawIp, dl == asked, size > 0 {
                    granted = (asked, size)
                    ethernet = false
                    log("requestSetEthMode: raw-IP, \(asked.name) aggregation, downlink \(size) bytes / \(r.downlinkDataAggregationMaxDatagrams ?? 0) datagrams")
                    return true
                }
                let aggregation = dl.flatMap { $0 == .disabled ? nil : "\($0.name) aggregation" + (size > 0 ? " of \(size) bytes" : "") }
                    ?? "no aggregation"
                answer = "\(r.linkLayerProtocol?.name ?? "?") and " + aggregation
            }
        } else if case .failure(let e) = result {
            answer = e.description
        }
        if versionTried + 1 < plan.versions.count {
            versionTried += 1
            log("requestSetEthMode: the modem answered \(asked.name) with \(answer); trying \(plan.versions[versionTried].name)")
            requestDataFormat()
            return false
        }
        fail(ExitCode.link, "the modem does not take \(plan.versions.map { $0.name }.joined(separator: " or ")) aggregation (it answered \(answer)), which \(config.driver ?? "the driver") needs for QMAP: no traffic would flow")
        return false
    }

    /// QMAP agreed: the parent up (its MTU the aggregation size, for the links qcm makes),
    /// each WDS client bound to its PDN's mux, the qmimux/rmnet links created. With
    /// --no-link the host's interfaces are left alone: only the modem is set up, and the
    /// log says what is left to do.
    func setUpDataPath() {
        guard plan.usesQMAP else { return }
        let makesLinks = plan.kind == .qmimux || plan.kind == .rmnet
        if !o.noLink {
            linksPending.append(0)
            out.append(.prepareParent(mtu: makesLinks ? granted?.size : nil))
        }
        for c in calls where c.phase != .failed {
            bindMux(c)
            guard makesLinks, let mux = plan.link(c.pdn)?.mux, plan.link(c.pdn)?.netdev == nil else { continue }
            if o.noLink {
                log("--no-link: create the link for PDN \(c.pdn) yourself: " + (plan.kind == .qmimux
                    ? "echo 0x\(Text.hex(mux)) > \(o.sysRoot)/class/net/\(plan.parent ?? "?")/qmi/add_mux"
                    : "ip link add link \(plan.parent ?? "?") name rmnet\(c.pdn) type rmnet mux_id \(mux)"))
                continue
            }
            linksPending.append(c.pdn)
            out.append(.createDataLink(pdn: c.pdn, mux: mux, flags: rmnetFlags))
        }
    }

    func parentReady(_ error: LinkError?) {
        guard let i = linksPending.firstIndex(of: 0) else { return }
        linksPending.remove(at: i)
        if let e = error {
            return fail(e.errno == EPERM || e.errno == EACCES ? ExitCode.permission : ExitCode.link,
                        "cannot prepare \(plan.parent ?? "the modem's netdev") for QMAP: \(e.description)")
        }
        preparationDone()
    }

    /// rmnet's data format flags for the protocol granted (checksum offload of QMAPv4/v5).
    var rmnetFlags: UInt32 {
        switch granted?.version {
        case .qmapv5?: return 1 | 1 << 4 | 1 << 5      // deaggregation, v5 checksum in and out
        case .qmapv4?: return 1 | 1 << 2 | 1 << 3      // deaggregation, v4 checksum in and out
        default: return 1                               // deaggregation
        }
    }

    func bindMux(_ c: Call, family only: UInt8? = nil) {
        guard let mux = plan.link(c.pdn)?.mux else { return }
        for (f, cid) in c.wds.pairs where only == nil || only == f {
            var r = WDS.BindMuxDataPort.Request(clientID: cid)
            r.endpointInfo = WDS.BindMuxDataPort.EndpointInfo(endpointType: plan.endpointType, interfaceNumber: plan.endpointInterface)
            r.muxID = mux
            r.clientType = .tethered
            if phase == .preparing { expect(.bindMux(pdn: c.pdn, family: f)) }
            send(.bindMux(pdn: c.pdn, family: f), r)
        }
    }

    func muxBound(_ c: Call, family f: UInt8, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result, m.result?.ok == true else {
            let why = "Bind Mux Data Port (IPv\(f), mux 0x\(Text.hex(plan.link(c.pdn)?.mux ?? 0))) failed: \(failure(result))"
            if phase == .preparing { problems.append(why) } else { dialFailed(c, why) }
            return
        }
        log("WDS client \(c.wds[f] ?? 0) bound to mux 0x\(Text.hex(plan.link(c.pdn)?.mux ?? 0))")
        // A client allocated again after a revocation: dial once every family is bound.
        if phase == .ready, c.phase == .redialWait, c.options.families.allSatisfy({ c.wds[$0] != nil }) { dial(c) }
    }

    func dataLinkReady(_ pdn: Int, _ result: Result<String, LinkError>) {
        guard let i = linksPending.firstIndex(of: pdn) else { return }
        linksPending.remove(at: i)
        switch result {
        case .success(let dev):
            if let k = plan.links.firstIndex(where: { $0.pdn == pdn }) { plan.links[k].netdev = dev }
            log("PDN \(pdn): \(dev) carries mux 0x\(Text.hex(plan.link(pdn)?.mux ?? 0))")
            out.append(.status(pdn: pdn, "interface", dev))
        case .failure(let e):
            return fail(e.errno == EPERM || e.errno == EACCES ? ExitCode.permission : ExitCode.link,
                        "cannot create the QMAP link for PDN \(pdn): \(e.description)")
        }
        preparationDone()
    }

    /// The profile: created when it does not exist, rewritten only when APN, user,
    /// password or authentication differ from what it holds.
    func prepareProfile(_ c: Call) {
        guard let apn = c.options.apn, let cid = c.clientIDs.first else { return }
        let user = c.options.user ?? "", password = c.options.password ?? ""
        let auth = c.options.effectiveAuth
        let line = "\(apn)/\(user)/\(password.isEmpty ? "" : "***")/\(auth)"
        if c.profileMissing {
            log("requestCreateProfile[\(c.profile)] \(line): profile \(c.profile) does not exist; creating it")
            var r = WDS.CreateProfile.Request(clientID: cid)
            r.profileType = .`3gpp`
            r.apnName = apn
            r.username = user
            r.password = password
            r.authentication = WDS.Authentication(rawValue: auth)
            expect(.createProfile(pdn: c.pdn))
            send(.createProfile(pdn: c.pdn), r)
            return
        }
        if let have = c.profileSettings, (have.apnName ?? "").equals(apn), (have.username ?? "").equals(user),
           (have.password ?? "").equals(password), (have.authentication?.rawValue ?? 0) == auth {
            return
        }
        log("requestSetProfile[\(c.profile)] \(line)")
        var r = WDS.ModifyProfile.Request(clientID: cid)
        r.profileIdentifier = WDS.ProfileIdentifier(profileType: .`3gpp`, profileIndex: UInt8(c.profile))
        r.apnName = apn
        r.username = user
        r.password = password
        r.authentication = WDS.Authentication(rawValue: auth)
        expect(.modifyProfile(pdn: c.pdn))
        send(.modifyProfile(pdn: c.pdn), r)
    }

    func preparationDone() {
        guard pending.isEmpty, linksPending.isEmpty, phase == .preparing else { return }
        if !problems.isEmpty { return initFailed(problems.joined(separator: "; "), code: ExitCode.link) }
        phase = .ready
        initializedOnce = true
        reopenDelayMs = 1000
        watchNetwork()
        for c in calls where c.phase == .setup { waitForNetwork(c) }
    }

}
