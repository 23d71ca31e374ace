import Base
import CSystem
import DHCPClient
import LinkConfig
import QMICore
import QMIMessages

/// Each PDN's call: waiting for registration, Start Network per IP family, runtime
/// settings, the link, and what happens when the network ends the call.
extension QMISession {
    // MARK: registration

    func waitForNetwork(_ c: Call) {
        if registered { return dial(c) }
        c.phase = .waitingForNetwork
        setState(c, "waiting for network registration")
        log("waiting for the modem to attach to the packet network")
        // The serving-system indication normally tells; a slow re-query covers modems that
        // do not send it (only while unregistered).
        if !isArmed(.registrationPoll) { arm(.registrationPoll, 30_000) }
    }

    func pollRegistration() {
        guard isReady, !registered, let n = clients.nas else { return }
        send(.servingSystem, NAS.GetServingSystem.Request(clientID: n))
    }

    /// A serving-system response or indication: registered and attached for packet data?
    func servingSystem(_ ss: NAS.GetServingSystem.ServingSystem?, plmn: NAS.GetServingSystem.CurrentPLMN?, caps: [NAS.DataCapability]?,
                       roaming: NAS.RoamingIndicator?, isResponse: Bool) {
        guard let ss else { return }
        let ps = ss.psAttachState == .attached
        let was = registered
        registered = ss.registrationState == .registered && ps
        let cap = caps?.last.map { Text.uppercasedASCII($0.name) } ?? "NONE"
        if registered != was || isResponse {
            log("requestRegistrationState2 MCC: \(plmn?.mcc ?? 0), MNC: \(plmn?.mnc ?? 0), PS: \(ps ? "Attached" : "Detached"), DataCap: \(cap)"
                + (roaming == .on ? " (roaming)" : ""))
        }
        if registered && !was && isReady {
            cancel(.registrationPoll)
            for c in calls where c.phase == .waitingForNetwork { dial(c) }
        }
        if !registered && was && calls.contains(where: { $0.phase == .connected }) {
            log("lost network registration; the call will follow")
        }
    }

    // MARK: dial

    func dial(_ c: Call) {
        cancel(.redial(pdn: c.pdn))
        // A client the modem revoked is allocated again first.
        let missing = c.options.families.filter { c.wds[$0] == nil }
        if !missing.isEmpty {
            c.phase = .redialWait
            for f in missing {
                var r = CTL.AllocateClientID.Request()
                r.service = .wds
                send(.allocate(.wds, for: .call(pdn: c.pdn, family: f)), r)
            }
            return
        }
        c.phase = .dialing
        setState(c, "dialing")
        c.started.removeAll()
        c.dialErrors = []
        let sdx35 = APNTypeRules.takesTypeInStartNetwork(config.productID)
        for f in c.options.families {
            guard let cid = c.wds[f] else { continue }
            var r = WDS.StartNetwork.Request(clientID: cid)
            switch c.options.bringUp {
            // SDX35: by APN name or type, no profile (quectel-CM's TLVs and values).
            case .byName? where sdx35: r.bringUpByAPNName = true
            case .byType? where sdx35: r.bringUpByAPNType = 2
            default: r.profileIndex3GPP = UInt8(c.profile)
            }
            if sdx35, let t = c.options.apnType, t != 0 { r.apnType = WDS.ApnType(rawValue: UInt32(t)) }
            r.ipFamilyPreference = f.wds
            if let apn = c.options.apn, !apn.isEmpty { r.apn = apn }
            if let a = c.options.auth { r.authenticationPreference = WDS.Authentication(rawValue: a) }
            if let u = c.options.user, !u.isEmpty { r.username = u }
            if let p = c.options.password, !p.isEmpty { r.password = p }
            send(.start(pdn: c.pdn, family: f), r, timeout: config.timeouts.startNetwork)
        }
    }

    var dialInFlight: Bool { calls.contains { $0.phase == .dialing } }

    func started(_ c: Call, family f: Family, _ result: Result<QMIMessage, QMIError>) {
        guard c.phase == .dialing || isStoppingOrDone else { return }
        switch result {
        case .failure(let e):
            c.dialErrors.append("\(f.label): \(e.description)")
        case .success(let m):
            let r = WDS.StartNetwork.Response(m)
            let handle = r.packetDataHandle
            if let res = r.result, !res.ok {
                if res.protocolError == .noEffect, let h = handle {
                    log(tag(c) + "requestSetupDataCall \(f.label): already connected (NoEffect)")
                    c.started[f] = h
                } else {
                    c.dialErrors.append("\(f.label): \(QMIErrorCode.name(res.error))" + QMISession.endReason(r.callEndReason, r.verboseCallEndReason))
                }
            } else if let h = handle {
                c.started[f] = h
                log(tag(c) + "requestSetupDataCall WdsConnection\(f.label)Handle: 0x\(Text.hex(h, 8))")
            } else {
                c.dialErrors.append("\(f.label): no packet data handle in the response")
            }
        }
        // Wait for every family.
        let answered = c.started.count + c.dialErrors.count
        guard answered >= c.options.families.filter({ c.wds[$0] != nil }).count else { return }
        c.handles = c.started
        if let t = teardown {
            // SIGTERM arrived while the modem was bringing the call up: stop what came up.
            return stopCallsStartedDuringTeardown(c, t)
        }
        if c.dialErrors.isEmpty {
            c.phase = .configuring
            setLinkState(c, up: true)
            requestSettings(c)
        } else {
            // Leave nothing half up: stop the families that did come up.
            for (fam, h) in c.handles.pairs { stopCall(c, family: fam, handle: h, timeout: config.timeouts.request) }
            c.handles.removeAll()
            c.phase = .setup
            dialFailed(c, c.dialErrors.joined(separator: "; "))
        }
    }

    static func endReason(_ reason: WDS.CallEndReason?, _ verbose: WDS.VerboseCallEndReason?) -> String {
        var parts: [String] = []
        if let r = reason { parts.append("call end reason " + CallEndReason.name(r.rawValue)) }
        if let v = verbose {
            parts.append("verbose " + CallEndReason.verboseName(type: v.type.rawValue, reason: v.reason))
        }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }

    func stopCall(_ c: Call, family: Family, handle: UInt32, timeout: Int64) {
        guard let cid = c.wds[family] else { return }
        var r = WDS.StopNetwork.Request(clientID: cid)
        r.packetDataHandle = handle
        send(.stop(pdn: c.pdn, family: family), r, timeout: timeout)
    }

    func redialDue(_ pdn: Int) {
        guard let c = call(pdn), c.phase == .redialWait, isReady else { return }
        if recovery.modemSilent { return recover() }
        if registered { dial(c) } else { waitForNetwork(c) }
    }

    // MARK: runtime settings and the link

    func requestSettings(_ c: Call) {
        setState(c, "configuring the link")
        c.settings.removeAll()
        c.settingsProblem = nil
        for (f, cid) in c.wds.pairs where c.handles[f] != nil {
            var r = WDS.GetRuntimeSettings.Request(clientID: cid)
            r.requestedSettings = [.dnsAddress, .ipAddress, .gatewayInfo, .mtu, .domainNameList, .ipFamily]
            send(.runtimeSettings(pdn: c.pdn, family: f), r)
        }
    }

    func settingsArrived(_ c: Call, family f: Family, _ result: Result<QMIMessage, QMIError>) {
        guard c.phase == .configuring else { return }
        switch result {
        case .failure(let e): c.settingsProblem = e.description
        case .success(let m):
            if let res = m.result, !res.ok { c.settingsProblem = "\(WDS.GetRuntimeSettings.spec.fullName) failed: \(res.description)" }
            else { c.settings[f] = WDS.GetRuntimeSettings.Response(m) }
        }
        if let p = c.settingsProblem { return callDropped(c, "runtime settings: \(p)", stop: true) }
        guard c.settings.count >= c.handles.count else { return }
        configure(c)
    }

    /// qmi_wwan_q and pcie_mhi keep a mux's carrier off (and drop its traffic) until told
    /// the call on it is up.
    func setLinkState(_ c: Call, up: Bool) {
        guard case .quectel(let mode) = plan.kind, let mux = plan.link(c.pdn)?.mux else { return }
        if options.noLink {
            let value = DataLinks.linkStateValue(mux: mux, up: up, qmapMode: mode)
            return log("--no-link: tell \(config.driver ?? "the driver") yourself: echo \(value) > \(options.sysRoot)/class/net/\(plan.parent ?? "?")/link_state")
        }
        emit(.setLinkState(pdn: c.pdn, mux: mux, up: up))
    }

    func configure(_ c: Call) {
        if let t = config.bridge(c.pdn), t.on { return configureBridge(c, t) }
        guard !options.noLink else { return connected(c, nil) }
        guard let dev = netdev(c.pdn) else {
            log("no network interface known for this modem: link configuration skipped (use -i IFACE)")
            return connected(c, nil)
        }
        if ethernet && !options.noDHCP && c.settings[.ipv4] != nil {
            log("DHCP on \(dev) (802.3 link)")
            return emit(.startDHCP(pdn: c.pdn))
        }
        let plan = Plans.fromRuntime(ipv4: c.settings[.ipv4], ipv6: c.settings[.ipv6], interface: dev, metric: options.metric,
                                     ethernet: ethernet, defaultRoute: c.options.defaultRoute)
        if let why = Plans.extendToLAN(plan, c.options) { log(why) }
        emit(.applyLink(pdn: c.pdn, plan, leaseSeconds: nil, renew: false))
    }

    func linkApplied(_ pdn: Int, _ result: Result<LinkPlan, LinkError>) {
        guard let c = call(pdn), !isStoppingOrDone else { return }
        switch result {
        case .success(let plan):
            if c.phase == .connected {
                c.plan = plan
                if c.bridgeAddress == nil { statusAddresses(c, plan) }
            } else if c.phase == .configuring, let a = c.bridgeAddress {
                // The netdev is up without an address: now the driver is told the LAN host's.
                c.plan = plan
                emit(.setBridge(pdn: pdn, on: true, ipv4: a))
            } else if c.phase == .configuring {
                connected(c, plan)
            }
        case .failure(let e):
            linkFailed(pdn, e)
        }
    }

    // MARK: drops

    /// The network says a call ended (packet-service indication on one of its clients).
    func packetServiceIndication(_ m: QMIMessage) {
        let ind = WDS.GetPacketServiceStatus.Indication(m)
        guard ind.connectionStatus?.status == .disconnected, isReady,
              let c = calls.first(where: { $0.family(ofClient: m.clientID) != nil }),
              c.phase == .connected || c.phase == .configuring, !c.handles.isEmpty else { return }
        let family = Family(wds: ind.ipFamily) ?? c.family(ofClient: m.clientID) ?? .ipv4
        callDropped(c, "the network ended the \(family.label) call" + QMISession.endReason(ind.callEndReason, ind.verboseCallEndReason),
                    stop: true)
    }

    /// The call is gone: the link goes, what is left of it on the modem is stopped
    /// (`stop`), and it is redialed (`SessionCore.callEnded` says when).
    func callDropped(_ c: Call, _ why: String, stop: Bool) {
        let delay = callEnded(c, why)
        if stop {
            for (f, h) in c.handles.pairs { stopCall(c, family: f, handle: h, timeout: config.timeouts.request) }
        }
        c.handles.removeAll()
        scheduleRedial(c, after: delay)
    }

    /// A lost frame may have been the indication that a call ended: ask each connected call.
    func frameDiscarded() {
        guard isReady, !recheckInFlight else { return }
        var asked = false
        for c in calls where c.phase == .connected {
            for (f, cid) in c.wds.pairs where c.handles[f] != nil {
                send(.recheck(pdn: c.pdn, family: f), WDS.GetPacketServiceStatus.Request(clientID: cid), timeout: 1000)
                asked = true
            }
        }
        if asked {
            recheckInFlight = true
            log("a frame from the modem was discarded: checking the call state")
        }
    }

    func rechecked(_ c: Call, family f: Family, _ result: Result<QMIMessage, QMIError>) {
        recheckInFlight = false
        guard c.phase == .connected, case .success(let m) = result else { return }
        let status = WDS.GetPacketServiceStatus.Response(m).connectionStatus
        if status != .connected {
            callDropped(c, "the \(f.label) call is no longer up (a lost frame hid the network's indication)", stop: false)
        }
    }
}
