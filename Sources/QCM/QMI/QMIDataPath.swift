import Base
import CSystem
import LinkConfig
import QMICore
import QMIMessages

/// What a preparation (the last setup step) waits for and has agreed with the modem: the
/// link layer (raw-IP or 802.3), with QMAP the aggregation protocol tried and granted, and
/// the data links being made.
final class Preparation {
    let step = Step()
    /// Raw-IP is asked for (else 802.3, for DHCP on the link).
    let wantRawIP: Bool
    /// Which of the plan's aggregation versions the negotiation is at.
    var versionTried = 0
    /// The aggregation the modem granted (QMAP paths).
    var granted: (version: WDA.AggregationProtocol, size: UInt32)?
    /// PDNs whose qmimux/rmnet link is being created (0: the parent being brought up).
    var linksPending: [Int] = []
    /// PDNs whose bridge mode is being written.
    var bridgesPending: [Int] = []

    init(wantRawIP: Bool) { self.wantRawIP = wantRawIP }

    /// rmnet's data format flags for the protocol granted (checksum offload of QMAPv4/v5).
    var rmnetFlags: UInt32 {
        switch granted?.version {
        case .qmapv5?: return 1 | 1 << 4 | 1 << 5      // deaggregation, v5 checksum in and out
        case .qmapv4?: return 1 | 1 << 2 | 1 << 3      // deaggregation, v4 checksum in and out
        default: return 1                               // deaggregation
        }
    }
}

/// Preparing the data path, the last setup step: the data format (raw-IP, or QMAP with the
/// aggregation the driver takes), the QMAP parent and links, each WDS client bound to its
/// mux, the profiles, the IPv6 family, and calls a killed qcm left up stopped.
extension QMISession {
    func prepare() {
        // raw-IP where the driver does it; qmi_wwan in 802.3 mode is switched first. QMAP
        // always runs on raw-IP, and so does bridge mode (GobiNet bridges only in raw-IP).
        let bridged = config.bridges.contains { $0.on }
        let wantRawIP = plan.usesQMAP || bridged || (config.rawIP ?? !(config.driver?.equals("GobiNet") ?? false))
        if config.rawIP == false && config.rawIPSwitchable {
            setup = .switchingRawIP(wantRawIP: wantRawIP)
            emit(.switchRawIP)
            return
        }
        sendPreparation(wantRawIP: wantRawIP)
    }

    func rawIPSwitched(_ ok: Bool) {
        guard stage == .switchingRawIP else { return }
        let dev = config.netdev ?? "the netdev"
        let attribute = "\(options.sysRoot)/class/net/\(dev)/qmi/raw_ip"
        if ok {
            log("\(dev): switched the driver to raw-IP (\(attribute) = Y)")
            return sendPreparation(wantRawIP: true)
        }
        if plan.usesQMAP {
            return fail(ExitCode.link, "\(dev): could not set \(attribute) to Y (the link must be down); QMAP needs raw-IP")
        }
        log("\(dev): could not set \(attribute) (the link must be down); using 802.3")
        sendPreparation(wantRawIP: false)
    }

    func sendPreparation(wantRawIP: Bool) {
        let p = Preparation(wantRawIP: wantRawIP)
        setup = .preparing(p)
        ethernet = !wantRawIP
        if clients.wda != nil {
            requestDataFormat(p)
        } else if plan.usesQMAP {
            return fail(ExitCode.link, "QMAP needs the modem's WDA service to set the data format, and it gave no WDA client")
        }
        for t in config.bridges where calls.contains(where: { $0.pdn == t.pdn && $0.phase != .failed }) {
            bridgeAtStart(t, p)
        }
        for c in calls where c.phase != .failed {
            prepareProfile(c)
            if let v6 = c.wds[.ipv6] {
                var r = WDS.SetIPFamily.Request(clientID: v6)
                r.preference = .ipv6
                expect(.setIPFamily(pdn: c.pdn, family: .ipv6))
                send(.setIPFamily(pdn: c.pdn, family: .ipv6), r)
            }
            // A call left up by an instance that was killed (-9): stop it, then dial afresh.
            for f in c.staleFamilies {
                guard let cid = c.wds[f] else { continue }
                log("a data call (\(f.label)) is already up, probably left by a qcm that was killed; stopping it")
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
    func requestDataFormat(_ p: Preparation) {
        var r = WDA.SetDataFormat.Request(clientID: clients.wda ?? 0)
        r.qosFormat = false
        r.linkLayerProtocol = p.wantRawIP ? .rawIp : .`8023`
        let version = plan.versions[p.versionTried]
        r.uplinkDataAggregationProtocol = version
        r.downlinkDataAggregationProtocol = version
        if plan.usesQMAP {
            r.downlinkDataAggregationMaxDatagrams = max(1, min(64, plan.downlinkMaxSize / 512))
            r.downlinkDataAggregationMaxSize = plan.downlinkMaxSize
        }
        // PCIe modems (RM500Q) want the data endpoint even without QMAP (ModemManager adds it
        // when the modem says a TLV is missing; qcm always names it there).
        if plan.usesQMAP || plan.endpointType == .pcie {
            r.endpointInfo = WDA.EndpointInfo(endpointType: plan.endpointType, interfaceNumber: plan.endpointInterface)
        }
        expect(.dataFormat)
        send(.dataFormat, r)
    }

    func dataFormatAnswered(_ result: Result<QMIMessage, QMIError>) {
        guard answered(.dataFormat), case .preparing(let p) = setup else { return }
        if dataFormatSet(p, result) {
            setUpDataPath(p)
            preparationDone()
        }
    }

    /// The modem answers with what it applied. QMAP counts as agreed only when it echoes the
    /// protocol asked for, with an aggregation size; otherwise the next protocol is tried,
    /// and when none is left the data path cannot work and qcm says so.
    func dataFormatSet(_ p: Preparation, _ result: Result<QMIMessage, QMIError>) -> Bool {
        guard plan.usesQMAP else {
            if case .success(let m) = result, m.result?.ok == true, let proto = WDA.SetDataFormat.Response(m).linkLayerProtocol {
                ethernet = proto == .`8023`
                log("requestSetEthMode: \(proto == .rawIp ? "raw-IP" : "802.3")")
            } else {
                ethernet = !p.wantRawIP
                log("requestSetEthMode: the modem did not confirm the data format; assuming \(p.wantRawIP ? "raw-IP" : "802.3")")
            }
            return true
        }
        let asked = plan.versions[p.versionTried]
        var answer = "no answer"
        if case .success(let m) = result {
            let r = WDA.SetDataFormat.Response(m)
            if let res = r.result, !res.ok {
                answer = res.description
            } else {
                let dl = r.downlinkDataAggregationProtocol, size = r.downlinkDataAggregationMaxSize ?? 0
                if r.linkLayerProtocol == .rawIp, dl == asked, size > 0 {
                    p.granted = (asked, size)
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
        if p.versionTried + 1 < plan.versions.count {
            p.versionTried += 1
            log("requestSetEthMode: the modem answered \(asked.name) with \(answer); trying \(plan.versions[p.versionTried].name)")
            requestDataFormat(p)
            return false
        }
        fail(ExitCode.link, "the modem does not take \(plan.versions.map { $0.name }.joined(separator: " or ")) aggregation (it answered \(answer)), which \(config.driver ?? "the driver") needs for QMAP: no traffic would flow")
        return false
    }

    /// QMAP agreed: the parent up (its MTU the aggregation size, for the links qcm makes),
    /// each WDS client bound to its PDN's mux, the qmimux/rmnet links created. With
    /// --no-link the host's interfaces are left alone: only the modem is set up, and the
    /// log says what is left to do.
    func setUpDataPath(_ p: Preparation) {
        guard plan.usesQMAP else { return }
        let makesLinks = plan.kind == .qmimux || plan.kind == .rmnet
        if !options.noLink {
            p.linksPending.append(0)
            emit(.prepareParent(mtu: makesLinks ? p.granted?.size : nil))
        }
        for c in calls where c.phase != .failed {
            bindMux(c)
            guard makesLinks, let mux = plan.link(c.pdn)?.mux, plan.link(c.pdn)?.netdev == nil else { continue }
            if options.noLink {
                log("--no-link: create the link for PDN \(c.pdn) yourself: " + (plan.kind == .qmimux
                    ? "echo 0x\(Text.hex(mux)) > \(options.sysRoot)/class/net/\(plan.parent ?? "?")/qmi/add_mux"
                    : "ip link add link \(plan.parent ?? "?") name rmnet\(c.pdn) type rmnet mux_id \(mux)"))
                continue
            }
            p.linksPending.append(c.pdn)
            emit(.createDataLink(pdn: c.pdn, mux: mux, flags: p.rmnetFlags))
        }
    }

    func parentReady(_ error: LinkError?) {
        guard case .preparing(let p) = setup, let i = p.linksPending.firstIndex(of: 0) else { return }
        p.linksPending.remove(at: i)
        if let e = error {
            return fail(e.isPermissionDenied ? ExitCode.permission : ExitCode.link,
                        "cannot prepare \(plan.parent ?? "the modem's netdev") for QMAP: \(e.description)")
        }
        preparationDone()
    }

    func dataLinkReady(_ pdn: Int, _ result: Result<String, LinkError>) {
        guard case .preparing(let p) = setup, let i = p.linksPending.firstIndex(of: pdn) else { return }
        p.linksPending.remove(at: i)
        switch result {
        case .success(let dev):
            if let k = plan.links.firstIndex(where: { $0.pdn == pdn }) { plan.links[k].netdev = dev }
            log("PDN \(pdn): \(dev) carries mux 0x\(Text.hex(plan.link(pdn)?.mux ?? 0))")
            status(pdn, .interface, dev)
        case .failure(let e):
            return fail(e.isPermissionDenied ? ExitCode.permission : ExitCode.link,
                        "cannot create the QMAP link for PDN \(pdn): \(e.description)")
        }
        preparationDone()
    }

    /// Bind Mux Data Port for the call's WDS clients (or one family's, re-allocated).
    func bindMux(_ c: Call, family only: Family? = nil) {
        guard let mux = plan.link(c.pdn)?.mux else { return }
        for (f, cid) in c.wds.pairs where only == nil || only == f {
            var r = WDS.BindMuxDataPort.Request(clientID: cid)
            r.endpointInfo = WDS.BindMuxDataPort.EndpointInfo(endpointType: plan.endpointType, interfaceNumber: plan.endpointInterface)
            r.muxID = mux
            r.clientType = .tethered
            if stage == .preparing { expect(.bindMux(pdn: c.pdn, family: f)) }
            send(.bindMux(pdn: c.pdn, family: f), r)
        }
    }

    func muxBound(_ c: Call, family f: Family, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result, m.result?.ok == true else {
            let why = "Bind Mux Data Port (\(f.label), mux 0x\(Text.hex(plan.link(c.pdn)?.mux ?? 0))) failed: \(failure(result))"
            if case .preparing(let p) = setup, stage == .preparing { p.step.problem(why) } else { dialFailed(c, why) }
            return
        }
        log("WDS client \(c.wds[f] ?? 0) bound to mux 0x\(Text.hex(plan.link(c.pdn)?.mux ?? 0))")
        // A client allocated again after a revocation: dial once every family is bound.
        if isReady, c.phase == .redialWait, c.options.families.allSatisfy({ c.wds[$0] != nil }) { dial(c) }
    }

    // MARK: profiles

    /// The profile: created when it does not exist, rewritten only when APN, user,
    /// password or authentication differ from what it holds.
    func prepareProfile(_ c: Call) {
        guard let cid = c.clientIDs.first else { return }
        let sdx35 = APNTypeRules.takesTypeInStartNetwork(config.productID)
        if sdx35, let b = c.options.bringUp {
            // Start Network names no profile then: the profile is left as it is.
            return log("the call is brought up by \(b.name) (SDX35: WDS Start Network TLV \(b == .byName ? "0x3C" : "0x3D")), not by profile \(c.profile): the profile is not written")
        }
        // -y on a modem that keeps the APN type in its profiles (SDX35 take it in Start Network).
        var mask: UInt64?
        if !sdx35, let want = APNTypeRules.mask(c.options.apnType) {
            if c.profileMissing || c.profileSettings?.apnTypeMask != nil {
                if c.profileSettings?.apnTypeMask?.rawValue != want { mask = want }
            } else {
                log("-y \(c.options.apnType ?? 0) (\(PDNOptions.apnTypeName(c.options.apnType ?? 0))): profile \(c.profile) carries no APN type on this modem (no APN Type Mask in Get Profile Settings), and only SDX35 modules take it in Start Network: the call is brought up by profile \(c.profile) as it is")
            }
        }
        if c.options.bringUp == .byName {
            log("-a 1: Start Network names the APN \(c.options.apn ?? ""), with profile \(c.profile)")
        }
        guard c.options.apn != nil || mask != nil else { return }
        let apn = c.options.apn
        let user = c.options.user ?? "", password = c.options.password ?? ""
        let auth = c.options.effectiveAuth
        let typeText = mask == nil ? "" : " apn-type \(PDNOptions.apnTypeName(c.options.apnType ?? 0))"
        let line = (apn.map { "\($0)/\(user)/\(password.isEmpty ? "" : "***")/\(auth)" } ?? "(APN as it is)") + typeText
        if c.profileMissing {
            log("requestCreateProfile[\(c.profile)] \(line): profile \(c.profile) does not exist; creating it")
            var r = WDS.CreateProfile.Request(clientID: cid)
            r.profileType = .`3gpp`
            r.apnName = apn ?? ""
            r.username = user
            r.password = password
            r.authentication = WDS.Authentication(rawValue: auth)
            if let m = mask { r.apnTypeMask = WDS.ApnTypeMask(rawValue: m) }
            expect(.createProfile(pdn: c.pdn))
            send(.createProfile(pdn: c.pdn), r)
            return
        }
        var credentials = false
        if let apn {
            let have = c.profileSettings
            credentials = !((have?.apnName ?? "").equals(apn) && (have?.username ?? "").equals(user)
                            && (have?.password ?? "").equals(password) && (have?.authentication?.rawValue ?? 0) == auth)
                || have == nil
        }
        guard credentials || mask != nil else { return }
        log("requestSetProfile[\(c.profile)] \(line)")
        var r = WDS.ModifyProfile.Request(clientID: cid)
        r.profileIdentifier = WDS.ProfileIdentifier(profileType: .`3gpp`, profileIndex: UInt8(c.profile))
        if credentials, let apn {
            r.apnName = apn
            r.username = user
            r.password = password
            r.authentication = WDS.Authentication(rawValue: auth)
        }
        if let m = mask { r.apnTypeMask = WDS.ApnTypeMask(rawValue: m) }
        expect(.modifyProfile(pdn: c.pdn))
        send(.modifyProfile(pdn: c.pdn), r)
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

    /// Every answer of the preparation in: set up — field status is watched, and each call
    /// waits for the network.
    func preparationDone() {
        guard case .preparing(let p) = setup, p.step.isDone, p.linksPending.isEmpty, p.bridgesPending.isEmpty else { return }
        if !p.step.problems.isEmpty { return setupFailed(p.step.problems.joined(separator: "; "), code: ExitCode.link) }
        setup = nil
        becameReady()
        watchNetwork()
        for c in calls where c.phase == .setup { waitForNetwork(c) }
    }
}

// MARK: bridge mode

extension QMISession {
    /// Before the dial: bridge mode on where -b asks for it (the address still 0), off on
    /// the other netdevs that have it (quectel-CM writes it either way: with the mode left
    /// on, the driver drops the host's own frames). With --no-link the commands are logged.
    func bridgeAtStart(_ t: BridgeTarget, _ p: Preparation) {
        if options.noLink {
            guard t.on else { return }
            return log("--no-link: put \(t.netdev) in bridge mode yourself: " + t.commands(sysRoot: options.sysRoot, on: true, address: 0).joined(separator: "; "))
        }
        if t.on { log("\(t.netdev): bridge mode on (-b): the call's IPv4 address goes to the LAN host, \(t.netdev) gets none") }
        p.bridgesPending.append(t.pdn)
        emit(.setBridge(pdn: t.pdn, on: t.on, ipv4: 0))
    }

    /// What the Runner reports after writing the bridge attributes.
    func bridgeSet(_ pdn: Int, _ result: Result<String?, LinkError>) {
        guard let t = config.bridge(pdn) else { return }
        if case .preparing(let p) = setup, let i = p.bridgesPending.firstIndex(of: pdn) {
            p.bridgesPending.remove(at: i)
            switch result {
            case .success:
                if t.on && !bridgesOn.contains(pdn) { bridgesOn.append(pdn) }
            case .failure(let e):
                guard t.on else {
                    log("warning: could not turn bridge mode off on \(t.netdev): \(e.description)")
                    break
                }
                // EACCES: not allowed to write sysfs (exit 9). EPERM comes from the driver's
                // store(): older GobiNet drivers take bridge_mode only while the netdev is down.
                var why = "cannot put \(t.netdev) in bridge mode: \(e.description)"
                if e.errno == EPERM { why += " (older GobiNet drivers take bridge_mode only while \(t.netdev) is down: ip link set \(t.netdev) down, then start qcm)" }
                return fail(e.errno == EACCES ? ExitCode.permission : ExitCode.link, why)
            }
            return preparationDone()
        }
        guard let c = call(pdn), c.phase == .configuring, c.bridgeAddress != nil else {
            if case .failure(let e) = result { log("warning: \(t.netdev): \(e.description)") }
            return
        }
        switch result {
        case .success(let master):
            c.bridgeMaster = master
            if master == nil {
                log("warning: \(t.netdev) is not a port of a bridge: the LAN host reaches the driver only through one (ip link set \(t.netdev) master br0)")
            }
            connected(c, c.plan)
        case .failure(let e):
            linkFailed(pdn, e)
        }
    }

    /// A bridged call is up: the address goes to the driver, not to the netdev. The netdev
    /// is brought up with the call's MTU and no address (an empty link plan: what others
    /// left on it goes, as for any link qcm configures); then bridge_ipv4 is written.
    func configureBridge(_ c: Call, _ t: BridgeTarget) {
        guard let r = c.settings[.ipv4], let a = r.ipv4Address, IPAddress(ipv4: a).isUsableUnicast else {
            // A failed dial (it counts for --max-retries): the call is stopped, nothing reaches the driver.
            for (f, h) in c.handles.pairs { stopCall(c, family: f, handle: h, timeout: config.timeouts.request) }
            c.handles.removeAll()
            deconfigure(c, release: false)          // link_state down again
            c.phase = .setup
            return dialFailed(c, "bridge mode: the modem gave no usable IPv4 address to hand to the LAN host")
        }
        c.bridgeAddress = a
        if options.noLink {
            log("--no-link: hand \(IPAddress(ipv4: a).text) to the driver yourself: "
                + t.commands(sysRoot: options.sysRoot, on: true, address: a).joined(separator: "; "))
            return connected(c, nil)
        }
        let plan = LinkPlan(interface: t.netdev, metric: options.metric, defaultRoute: false)
        if let mtu = r.mtu, mtu >= 576, mtu <= 65535 { plan.mtu = mtu }
        emit(.applyLink(pdn: c.pdn, plan, leaseSeconds: nil, renew: false))
    }
}
