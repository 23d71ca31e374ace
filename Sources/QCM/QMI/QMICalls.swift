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
        if !armed.contains(.registrationPoll) { arm(.registrationPoll, 30_000) }
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
        if registered && !was && phase == .ready {
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
            for f in missing where !pending.contains(.allocate(.wds, pdn: c.pdn, family: f)) {
                var r = CTL.AllocateClientID.Request()
                r.service = .wds
                send(.allocate(.wds, pdn: c.pdn, family: f), r)
            }
            return
        }
        c.phase = .dialing
        setState(c, "dialing")
        c.started.removeAll()
        c.dialErrors = []
        for f in c.options.families {
            guard let cid = c.wds[f] else { continue }
            var r = WDS.StartNetwork.Request(clientID: cid)
            r.profileIndex3GPP = UInt8(c.profile)
            r.ipFamilyPreference = WDS.IpFamily(rawValue: f)
            if let apn = c.options.apn, !apn.isEmpty { r.apn = apn }
            if let a = c.options.auth { r.authenticationPreference = WDS.Authentication(rawValue: a) }
            if let u = c.options.user, !u.isEmpty { r.username = u }
            if let p = c.options.password, !p.isEmpty { r.password = p }
            send(.start(pdn: c.pdn, family: f), r, timeout: config.timeouts.startNetwork)
        }
    }

    var dialInFlight: Bool { calls.contains { $0.phase == .dialing } }

    func started(_ c: Call, family f: UInt8, _ result: Result<QMIMessage, QMIError>) {
        guard c.phase == .dialing || phase == .stopping else { return }
        switch result {
        case .failure(let e):
            c.dialErrors.append("IPv\(f): \(e.description)")
        case .success(let m):
            let r = WDS.StartNetwork.Response(m)
            let handle = r.packetDataHandle
            if let res = r.result, !res.ok {
                if res.error == QMIErrorCode.noEffect, let h = handle {
                    log(tag(c) + "requestSetupDataCall IPv\(f): already connected (NoEffect)")
                    c.started[f] = h
                } else {
                    c.dialErrors.append("IPv\(f): \(QMIErrorCode.name(res.error))" + QMISession.endReason(r.callEndReason, r.verboseCallEndReason))
                }
            } else if let h = handle {
                c.started[f] = h
                log(tag(c) + "requestSetupDataCall WdsConnectionIPv\(f)Handle: 0x\(Text.hex(h, 8))")
            } else {
                c.dialErrors.append("IPv\(f): no packet data handle in the response")
            }
        }
        // Wait for every family.
        let answered = c.started.count + c.dialErrors.count
        guard answered >= c.options.families.filter({ c.wds[$0] != nil }).count else { return }
        c.handles = c.started
        if phase == .stopping {
            // SIGTERM arrived while the modem was bringing the call up: stop what came up.
            c.phase = .setup
            if teardownStarted {
                // Too late for the teardown's own round: stop it now, without waiting.
                for (fam, h) in c.handles.pairs { stopCall(c, family: fam, handle: h, timeout: config.timeouts.teardown) }
                c.handles.removeAll()
            } else if !dialInFlight {
                teardown()
            }
            return
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

    func stopCall(_ c: Call, family: UInt8, handle: UInt32, timeout: Int64) {
        guard let cid = c.wds[family] else { return }
        var r = WDS.StopNetwork.Request(clientID: cid)
        r.packetDataHandle = handle
        send(.stop(pdn: c.pdn, family: family), r, timeout: timeout)
    }

    func dialFailed(_ c: Call, _ why: String) {
        log(tag(c) + "requestSetupDataCall failed: \(why)")
        out.append(.status(pdn: c.pdn, "last_end_reason", why))
        c.failures += 1
        if o.maxRetries > 0 && c.failures >= o.maxRetries {
            let msg = "giving up after \(c.failures) failed dial(s) (--max-retries \(o.maxRetries)): \(why)"
            if calls.filter({ $0.phase != .failed && $0 !== c }).isEmpty { return fail(ExitCode.callFailed, msg) }
            log("PDN \(c.pdn): " + msg)
            c.phase = .failed
            setState(c, "gave up: \(why)")
            return
        }
        scheduleRedial(c, after: c.nextRedialDelayMs())
    }

    func scheduleRedial(_ c: Call, after delay: Int64) {
        c.phase = .redialWait
        setState(c, "reconnecting: next attempt in \(delay / 1000) s")
        log(delay == 0 ? "redialing at once" : "redialing in \(delay) ms")
        arm(.redial(pdn: c.pdn), delay)
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

    func settingsArrived(_ c: Call, family f: UInt8, _ result: Result<QMIMessage, QMIError>) {
        guard c.phase == .configuring else { return }
        switch result {
        case .failure(let e): c.settingsProblem = e.description
        case .success(let m):
            if let res = m.result, !res.ok { c.settingsProblem = "\(WDS.GetRuntimeSettings.spec.fullName) failed: \(res.description)" }
            else { c.settings[f] = WDS.GetRuntimeSettings.Response(m) }
        }
        let expected = c.handles.pairs.count
        guard c.settings.count + (c.settingsProblem == nil ? 0 : 1) >= expected || c.settingsProblem != nil else { return }
        if c.settings.count < expected && c.settingsProblem == nil { return }
        if let p = c.settingsProblem { return callDropped(c, "runtime settings: \(p)", stop: true) }
        configure(c)
    }

    /// qmi_wwan_q and pcie_mhi keep a mux's carrier off (and drop its traffic) until told
    /// the call on it is up.
    func setLinkState(_ c: Call, up: Bool) {
        guard case .quectel(let mode) = plan.kind, let mux = plan.link(c.pdn)?.mux else { return }
        if o.noLink {
            let value = DataLinks.linkStateValue(mux: mux, up: up, qmapMode: mode)
            return log("--no-link: tell \(config.driver ?? "the driver") yourself: echo \(value) > \(o.sysRoot)/class/net/\(plan.parent ?? "?")/link_state")
        }
        out.append(.setLinkState(pdn: c.pdn, mux: mux, up: up))
    }

    func configure(_ c: Call) {
        guard !o.noLink else { return connected(c, nil) }
        guard let dev = netdev(c.pdn) else {
            log("no network interface known for this modem: link configuration skipped (use -i IFACE)")
            return connected(c, nil)
        }
        if ethernet && !o.noDHCP && c.settings[4] != nil {
            log("DHCP on \(dev) (802.3 link)")
            out.append(.startDHCP(pdn: c.pdn))
            return
        }
        let plan = Plans.fromRuntime(ipv4: c.settings[4], ipv6: c.settings[6], interface: dev, metric: o.metric,
                                     ethernet: ethernet, defaultRoute: c.options.defaultRoute)
        out.append(.applyLink(pdn: c.pdn, plan, leaseSeconds: nil, renew: false))
    }

    func linkApplied(_ pdn: Int, _ result: Result<LinkPlan, LinkError>) {
        guard let c = call(pdn), phase != .stopping else { return }
        switch result {
        case .success(let plan):
            if c.phase == .connected {
                c.plan = plan
                statusAddresses(c, plan)
            } else if c.phase == .configuring {
                connected(c, plan)
            }
        case .failure(let e):
            var msg = "link configuration failed: \(e.description)"
            let denied = e.errno == EPERM || e.errno == EACCES
            if denied { msg += " (qcm needs root or CAP_NET_ADMIN to configure \(netdev(pdn) ?? "the interface"))" }
            fail(denied ? ExitCode.permission : ExitCode.link, msg)
        }
    }

    func dhcp(_ pdn: Int, _ e: DHCPEvent) {
        guard let c = call(pdn), let dev = netdev(pdn), phase != .stopping else { return }
        switch e {
        case .bound(let lease), .renewed(_, let lease):
            log("DHCP lease \(lease.summary)")
            var renew = false
            if case .renewed = e { renew = true }
            out.append(.applyLink(pdn: pdn, Plans.fromLease(lease, interface: dev, metric: o.metric, defaultRoute: c.options.defaultRoute),
                                  leaseSeconds: lease.leaseSeconds, renew: renew))
        case .expired(let lease):
            log("DHCP lease of \(IPAddress(ipv4: lease.address).text) expired")
            out.append(.deconfigureLink(pdn: pdn, release: false))
        case .nak(let msg):
            log("DHCP NAK" + (msg.map { ": \($0)" } ?? ""))
        case .leaseFailed(let n):
            log("no DHCP lease after \(n) DISCOVERs; still trying")
        }
    }

    func connected(_ c: Call, _ plan: LinkPlan?) {
        c.plan = plan
        c.phase = .connected
        c.failures = 0
        c.connectedAt = now
        recoveryStep = 0
        if let p = plan { statusAddresses(c, p) }
        let detail = plan.map { Plans.describe($0) }
        let summary = "connected" + (detail.map { " (\($0))" } ?? "")
        log(tag(c) + summary)
        setState(c, "connected" + (detail.map { ": \($0)" } ?? ""))
        out.append(.connected(pdn: c.pdn, summary: summary))
    }

    func statusAddresses(_ c: Call, _ p: LinkPlan) {
        out.append(.status(pdn: c.pdn, "ipv4", p.ipv4.map { "\($0.address.text)/\($0.prefix)" }))
        out.append(.status(pdn: c.pdn, "ipv6", p.ipv6.map { "\($0.address.text)/\($0.prefix)" }))
        out.append(.status(pdn: c.pdn, "dns", p.dns.map { $0.text }.joined(separator: " ")))
    }

    func deconfigure(_ c: Call, release: Bool) {
        if c.plan != nil || c.phase == .connected || c.phase == .configuring {
            out.append(.deconfigureLink(pdn: c.pdn, release: release))
            setLinkState(c, up: false)
        }
        c.plan = nil
        for k in ["connected_since", "ipv4", "ipv6", "dns"] { out.append(.status(pdn: c.pdn, k, nil)) }
    }

    // MARK: drops

    /// The call is gone: deconfigure, log the reason, redial — at once, unless it is the
    /// second quick drop in a row (`Call.redialDelayAfterDrop`).
    func callDropped(_ c: Call, _ why: String, stop: Bool) {
        log(why)
        let delay = c.redialDelayAfterDrop(now: now, stableMs: Int64(o.stableAfterSeconds) * 1000)
        c.connectedAt = nil
        out.append(.status(pdn: c.pdn, "last_end_reason", why))
        deconfigure(c, release: false)
        if stop {
            for (f, h) in c.handles.pairs { stopCall(c, family: f, handle: h, timeout: config.timeouts.request) }
        }
        c.handles.removeAll()
        scheduleRedial(c, after: delay)
    }

    /// A lost frame may have been the indication that a call ended: ask each connected call.
    func frameDiscarded() {
        guard phase == .ready, !recheckInFlight else { return }
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

    func rechecked(_ c: Call, family f: UInt8, _ result: Result<QMIMessage, QMIError>) {
        recheckInFlight = false
        guard c.phase == .connected, case .success(let m) = result else { return }
        let status = WDS.GetPacketServiceStatus.Response(m).connectionStatus
        if status != .connected {
            callDropped(c, "the IPv\(f) call is no longer up (a lost frame hid the network's indication)", stop: false)
        }
    }

}
