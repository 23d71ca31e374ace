import Base
import CSystem
import QMICore
import USBDiscovery
import LinkConfig
import DHCPClient

/// The data-call lifecycle: open the QMI channel, sync, allocate clients, check the SIM,
/// wait for registration, set the data format and profile, start the network, configure
/// the link — then keep the call up across drops, modem resets and the device going away,
/// and tear everything down cleanly on SIGINT/SIGTERM.
///
/// Everything is a callback on one EventLoop. Each session (one open channel) has a
/// generation number; callbacks of an older session are ignored.
final class Manager {
    enum State: Equatable {
        case starting, initializing, waitingPIN, registering, dialing, configuring, connected
        case reconnecting, deviceGone, stopping

        var text: String {
            switch self {
            case .starting: return "starting"
            case .initializing: return "initializing"
            case .waitingPIN: return "verifying SIM PIN"
            case .registering: return "waiting for network registration"
            case .dialing: return "dialing"
            case .configuring: return "configuring the link"
            case .connected: return "connected"
            case .reconnecting: return "reconnecting"
            case .deviceGone: return "modem gone, waiting for it"
            case .stopping: return "stopping"
            }
        }
    }

    let o: Options
    let log: Logger
    let loop: EventLoop
    let notify: SystemdNotify
    let instance: Instance

    var channelPath: String
    let netdev: String?
    let modemName: String
    var rawIP: Bool?
    let driver: String?
    let sysRoot: String
    let rediscover: (() -> (channel: String, netdev: String?)?)?

    var state = State.starting
    var exitCode: Int32?
    var engine: QMIEngine?
    var generation = 0
    var cids: [(service: QMIService, cid: UInt8)] = []
    var wds = SmallMap<UInt64, UInt8>()      // IP family → WDS client
    var dms: UInt8?, nas: UInt8?, uim: UInt8?, wda: UInt8?
    var handles = SmallMap<UInt64, UInt32>() // IP family → packet data handle
    var registered = false
    var initializedOnce = false
    var ethernet = false
    var link: LinkSetup?
    var dhcp: DHCPDriver?
    var timers: [Int] = []
    var retryDelayMs: Int64 = 1000
    var failures = 0
    var reopenDelayMs: Int64 = 1000
    var pinTried = false
    var currentPlan: LinkPlan?
    var dialInFlight = false
    var afterDial: (() -> Void)?
    var connectedAt: Int64?

    init(options: Options, log: Logger, loop: EventLoop, notify: SystemdNotify, instance: Instance,
         channel: String, netdev: String?, modemName: String, rawIP: Bool?, driver: String?, sysRoot: String,
         rediscover: (() -> (channel: String, netdev: String?)?)?) {
        o = options
        self.log = log
        self.loop = loop
        self.notify = notify
        self.instance = instance
        channelPath = channel
        self.netdev = netdev
        self.modemName = modemName
        self.rawIP = rawIP
        self.driver = driver
        self.sysRoot = sysRoot
        self.rediscover = rediscover
    }

    // MARK: state, status, exit

    func set(_ s: State, _ detail: String? = nil) {
        state = s
        let text = detail.map { "\(s.text): \($0)" } ?? s.text
        instance.set("state", text)
        instance.save()
        notify.status(text)
    }

    func after(_ ms: Int64, _ body: @escaping () -> Void) {
        var id = 0
        id = loop.after(ms) {
            self.timers.removeAll { $0 == id }
            body()
        }
        timers.append(id)
    }

    func cancelTimers() {
        for t in timers { loop.cancel(t) }
        timers.removeAll()
    }

    /// Fatal: log, leave the modem clean (call stopped, clients released), exit with `code`.
    func fail(_ code: Int32, _ message: String) {
        log.log(message)
        instance.set("last_error", message)
        finish(code)
    }

    // MARK: QMI plumbing

    func request(_ spec: QMIMessageSpec, _ cid: UInt8?, timeoutMs: Int64 = 10_000,
                 _ fill: (inout QMIMessage) throws(QMIError) -> Void = { _ throws(QMIError) in },
                 _ done: @escaping (Result<QMIMessage, QMIError>) -> Void) {
        guard let e = engine else {
            done(.failure(.closed))
            return
        }
        var m = QMIMessage.request(spec, clientID: cid ?? 0)
        do { try fill(&m) } catch {
            done(.failure(error))
            return
        }
        let gen = generation
        e.send(m, timeoutMs: timeoutMs) { r in
            guard gen == self.generation else { return }   // a previous session's answer
            done(r)
        }
    }

    // MARK: start

    func start() {
        set(.starting)
        instance.set("modem", modemName)
        instance.set("pdn", "\(o.pdn)")
        instance.set("apn", o.apn)
        instance.set("interface", netdev)
        open()
    }

    func open() {
        generation += 1
        let path = o.proxy.map { "@" + $0 } ?? channelPath
        instance.set("channel", path)
        let channel: QMIChannel
        do { channel = try QMIChannel.open(path) } catch {
            if initializedOnce {
                scheduleReopen("cannot open \(path): \(error.description)")
                return
            }
            var msg = "cannot open the QMI channel \(path): \(error.description)"
            if o.proxy != nil { msg += " (is qmi-proxy running? it starts with: /usr/libexec/qmi-proxy)" }
            fail(ExitCode.notResponding, msg)
            return
        }
        log.log("QMI channel \(path) open (fd \(channel.fd))")
        let e = QMIEngine(channel: channel, loop: loop)
        e.onFrame = { bytes, m, sent in self.log.frame(bytes, m, sent: sent) }
        e.onIgnored = { self.log.log($0) }
        e.onClose = { err in self.channelClosed(err) }
        e.subscribe(service: .ctl) { m in self.ctlIndication(m) }
        e.subscribe(service: .wds, messageID: WDS.getPacketServiceStatus.id) { m in self.packetStatus(m) }
        e.subscribe(service: .nas, messageID: NAS.getServingSystem.id) { m in self.servingSystem(m) }
        engine = e
        set(.initializing)
        if o.proxy != nil {
            request(CTL.internalProxyOpen, nil, timeoutMs: 5000, { m throws(QMIError) in try m.set("Device Path", .string(self.channelPath)) }) { r in
                if case .failure(let err) = r { return self.initFailed("qmi-proxy did not open \(self.channelPath): \(err.description)") }
                if let res = try? r.get().result, !res.ok {
                    return self.initFailed("qmi-proxy refused \(self.channelPath): \(res.description)")
                }
                self.sync()
            }
        } else {
            sync()
        }
    }

    func initFailed(_ message: String, code: Int32 = ExitCode.notResponding) {
        if initializedOnce {
            log.log(message)
            dropSession()
            scheduleReopen(message)
        } else {
            fail(code, message)
        }
    }

    func sync() {
        request(CTL.sync, nil, timeoutMs: 5000) { r in
            switch r {
            case .failure(let e):
                self.initFailed("the modem does not answer on \(self.channelPath) (\(e.description)). Is another program (ModemManager, quectel-CM) using it, or is the modem still booting?")
            case .success:
                self.cids.removeAll()
                self.allocate()
            }
        }
    }

    func allocate() {
        wds.removeAll()
        dms = nil; nas = nil; uim = nil; wda = nil
        var failures: [String] = []
        let join = Join {
            if !failures.isEmpty || self.wds.count != self.o.families.count || self.dms == nil || self.nas == nil {
                return self.initFailed("cannot get QMI client ids: " + failures.joined(separator: "; "))
            }
            self.inquire()
        }
        func get(_ svc: QMIService, required: Bool, _ store: @escaping (UInt8) -> Void) {
            let done = join.member()
            request(CTL.allocateClientID, nil, { m throws(QMIError) in try m.set("Service", .uint(UInt64(svc.rawValue))) }) { r in
                defer { done() }
                do throws(QMIError) {
                    let m = try r.get()
                    try m.check()
                    let cid = UInt8(truncatingIfNeeded: try m.required("Allocation")[1]?.uint ?? 0)
                    self.cids.append((svc, cid))
                    store(cid)
                    self.log.log("Get client\(svc.name) = \(cid)")
                } catch {
                    if required {
                        var text = "\(svc.name): \(error.description)"
                        if error.qmiCode == QMIErrorCode.clientIdsExhausted {
                            text += " (the modem ran out of client ids; they are normally freed by the CTL Sync qcm sends — power-cycle the modem)"
                        }
                        failures.append(text)
                    } else {
                        self.log.log("no \(svc.name) client (\(error.description)); continuing without it")
                    }
                }
            }
        }
        for f in o.families { get(.wds, required: true) { self.wds[f] = $0 } }
        get(.dms, required: true) { self.dms = $0 }
        get(.nas, required: true) { self.nas = $0 }
        get(.uim, required: false) { self.uim = $0 }
        get(.wda, required: false) { self.wda = $0 }
        join.seal()
    }

    /// Independent queries, all at once: revision, IMEI, SIM, registration, call state, profile.
    struct Facts {
        var simReady = false
        var simAbsent = false
        var pinRequired = false
        var pukBlocked = false
        var pinRetries: Int?
        var callUp: [UInt64] = []
        var profile: (apn: String, user: String, password: String, auth: UInt8)?
    }

    func inquire() {
        var facts = Facts()
        let join = Join { self.decideSIM(facts) }
        let d1 = join.member()
        request(DMS.getRevision, dms) { r in
            defer { d1() }
            if let rev = (try? r.get().value("Revision")?.string) ?? nil {
                self.log.log("requestBaseBandVersion \(rev)")
                self.instance.set("revision", rev)
            }
        }
        let d2 = join.member()
        request(DMS.getIDs, dms) { r in
            defer { d2() }
            if let imei = (try? r.get().value("IMEI")?.string) ?? nil { self.instance.set("imei", imei) }
        }
        let d3 = join.member()
        if let u = uim {
            request(UIM.getCardStatus, u) { r in
                defer { d3() }
                self.readCardStatus(r, &facts)
            }
        } else {
            request(DMS.uimGetPINStatus, dms) { r in
                defer { d3() }
                self.readDMSPIN(r, &facts)
            }
        }
        let d4 = join.member()
        request(NAS.getServingSystem, nas) { r in
            defer { d4() }
            if let m = try? r.get() { self.servingSystem(m) }
        }
        for (family, cid) in wds.pairs {
            let d = join.member()
            request(WDS.getPacketServiceStatus, cid) { r in
                defer { d() }
                let status = (try? r.get().value("Connection Status")?.uint) ?? nil
                self.log.log("requestQueryDataCall IPv\(family)ConnectionStatus: \(status == 2 ? "CONNECTED" : "DISCONNECTED")")
                if status == 2 { facts.callUp.append(family) }
            }
        }
        let d5 = join.member()
        request(WDS.getProfileSettings, wds.values.first, { m throws(QMIError) in
            try m.set("Profile Identifier", .structure([.uint(0), .uint(UInt64(self.o.pdn))]))
        }) { r in
            defer { d5() }
            guard let m = try? r.get(), m.result?.ok == true else {
                self.log.log("requestGetProfile[\(self.o.pdn)]: profile \(self.o.pdn) cannot be read")
                return
            }
            let apn = (try? m.value("APN Name")?.string) ?? nil ?? ""
            let user = (try? m.value("Username")?.string) ?? nil ?? ""
            let pass = (try? m.value("Password")?.string) ?? nil ?? ""
            let auth = UInt8(truncatingIfNeeded: (try? m.value("Authentication")?.uint) ?? nil ?? 0)
            facts.profile = (apn, user, pass, auth)
            self.log.log("requestGetProfile[\(self.o.pdn)] \(apn)/\(user)/\(pass.isEmpty ? "" : "***")/\(auth)")
        }
        join.seal()
    }

    func readCardStatus(_ r: Result<QMIMessage, QMIError>, _ f: inout Facts) {
        guard let m = try? r.get(), m.result?.ok == true, let cs = (try? m.value("Card Status")) ?? nil,
              let card = cs[4]?[0] else {
            f.simReady = true   // cannot tell: let the dial say
            log.log("requestGetSIMStatus: card status unavailable")
            return
        }
        if card[0]?.uint != 1 {
            f.simAbsent = true
            log.log("requestGetSIMStatus SIMStatus: SIM_ABSENT")
            return
        }
        let app = card[5]?[0]
        let appState = app?[1]?.uint ?? 0
        let pinState = app?[8]?.uint ?? 0
        f.pinRetries = (app?[9]?.uint).map { Int($0) }
        switch (appState, pinState) {
        case (7, _): f.simReady = true
        case (_, 1), (2, _): f.pinRequired = true
        case (_, 4), (_, 5), (3, _), (5, _): f.pukBlocked = true
        default: f.simReady = appState == 7
        }
        log.log("requestGetSIMStatus SIMStatus: " + (f.simReady ? "SIM_READY" : f.pinRequired ? "SIM_PIN" : f.pukBlocked ? "SIM_PUK" : "SIM_NOT_READY"))
    }

    func readDMSPIN(_ r: Result<QMIMessage, QMIError>, _ f: inout Facts) {
        guard let m = try? r.get() else { f.simReady = true; return }
        if let res = m.result, !res.ok {
            if res.error == QMIErrorCode.uimUninitialized || res.error == QMIErrorCode.noSim { f.simAbsent = true } else { f.simReady = true }
            return
        }
        let st = (try? m.value("PIN1 Status")) ?? nil
        f.pinRetries = (st?[1]?.uint).map { Int($0) }
        switch st?[0]?.uint ?? 3 {
        case 1: f.pinRequired = true
        case 4, 5: f.pukBlocked = true
        default: f.simReady = true
        }
        log.log("requestGetSIMStatus SIMStatus: " + (f.simReady ? "SIM_READY" : f.pinRequired ? "SIM_PIN" : "SIM_PUK"))
    }

    // MARK: SIM

    func decideSIM(_ f: Facts) {
        if f.simAbsent { return fail(ExitCode.sim, "no SIM card: insert one (and check it is seated), then start qcm again") }
        if f.pukBlocked { return fail(ExitCode.sim, "the SIM is blocked and needs its PUK; unblock it (AT+CPIN=\"PUK\",\"NEWPIN\") before using qcm") }
        if f.pinRequired {
            guard let pin = o.pin else { return fail(ExitCode.sim, "the SIM asks for its PIN: give it with -p PIN") }
            if pinTried { return fail(ExitCode.sim, "the SIM still asks for its PIN after it was verified") }
            if let left = f.pinRetries, left <= 1 {
                return fail(ExitCode.sim, "only \(left) PIN attempt left: qcm will not risk blocking the SIM; verify the PIN by hand (AT+CPIN) if you are sure of it")
            }
            verifyPIN(pin, facts: f)
            return
        }
        prepare(f)
    }

    func verifyPIN(_ pin: String, facts: Facts) {
        set(.waitingPIN)
        pinTried = true
        log.log("verifying the SIM PIN (***)")
        let handle: (Result<QMIMessage, QMIError>) -> Void = { r in
            switch r {
            case .failure(let e): self.fail(ExitCode.sim, "PIN verification failed: \(e.description)")
            case .success(let m):
                if let res = m.result, !res.ok {
                    let left = ((try? m.value("Retries")) ?? nil)?[0]?.uint
                    var msg = "wrong SIM PIN (\(QMIErrorCode.name(res.error)))"
                    if let l = left { msg += ", \(l) attempt(s) left" }
                    msg += "; qcm does not retry it"
                    return self.fail(ExitCode.sim, msg)
                }
                self.log.log("SIM PIN accepted")
                var f = facts
                f.pinRequired = false
                f.simReady = true
                self.prepare(f)
            }
        }
        if let u = uim {
            request(UIM.verifyPIN, u, { m throws(QMIError) in
                try m.set("Session", .structure([.uint(0), .bytes([])]))
                try m.set("Info", .structure([.uint(1), .string(pin)]))
            }, handle)
        } else {
            request(DMS.uimVerifyPIN, dms, { m throws(QMIError) in try m.set("Info", .structure([.uint(1), .string(pin)])) }, handle)
        }
    }

    // MARK: data format, profile, stale calls

    func prepare(_ f: Facts) {
        let join = Join {
            self.initializedOnce = true
            self.waitForRegistration()
        }
        // Data format: raw-IP where the driver does it, 802.3 otherwise.
        let wantRaw = decideRawIP()
        if let w = wda {
            let d = join.member()
            request(WDA.setDataFormat, w, { m throws(QMIError) in
                try m.set("QoS Format", .bool(false))
                try m.set("Link Layer Protocol", .uint(wantRaw ? 2 : 1))
                try m.set("Uplink Data Aggregation Protocol", .uint(0))
                try m.set("Downlink Data Aggregation Protocol", .uint(0))
            }) { r in
                defer { d() }
                if let m = try? r.get(), m.result?.ok == true, let p = (try? m.value("Link Layer Protocol")?.uint) ?? nil {
                    self.ethernet = p == 1
                    self.log.log("requestSetEthMode: \(p == 2 ? "raw-IP" : "802.3")")
                } else {
                    self.ethernet = !wantRaw
                    self.log.log("requestSetEthMode: the modem did not confirm the data format; assuming \(wantRaw ? "raw-IP" : "802.3")")
                }
            }
        } else {
            ethernet = !wantRaw
        }
        // Profile: modify only if APN/auth/user/password differ.
        if let apn = o.apn, let cid = wds.values.first {
            let want = (apn, o.user ?? "", o.password ?? "", o.auth ?? (o.password.map { $0.isEmpty ? 0 : 2 } ?? 0))
            let have = f.profile
            let same = have.map { $0.apn.equals(want.0) && $0.user.equals(want.1) && $0.password.equals(want.2) && $0.auth == want.3 } ?? false
            if !same {
                let d = join.member()
                log.log("requestSetProfile[\(o.pdn)] \(want.0)/\(want.1)/\(want.2.isEmpty ? "" : "***")/\(want.3)")
                request(WDS.modifyProfile, cid, { m throws(QMIError) in
                    try m.set("Profile Identifier", .structure([.uint(0), .uint(UInt64(self.o.pdn))]))
                    try m.set("APN Name", .string(want.0))
                    try m.set("Username", .string(want.1))
                    try m.set("Password", .string(want.2))
                    try m.set("Authentication", .uint(UInt64(want.3)))
                }) { r in
                    defer { d() }
                    if case .failure(let e) = r { self.log.log("requestSetProfile failed: \(e.description)") }
                    else if let res = try? r.get().result, !res.ok { self.log.log("requestSetProfile failed: \(res.description)") }
                }
            }
        }
        // IPv6 clients say so before dialing.
        if let v6 = wds[6] {
            let d = join.member()
            request(WDS.setIPFamily, v6, { m throws(QMIError) in try m.set("Preference", .uint(6)) }) { _ in d() }
        }
        // A call left up by an instance that was killed (-9): stop it, then dial afresh.
        for family in f.callUp {
            guard let cid = wds[family] else { continue }
            let d = join.member()
            log.log("a data call (IPv\(family)) is already up, probably left by a qcm that was killed; stopping it")
            request(WDS.stopNetwork, cid, { m throws(QMIError) in try m.set("Packet Data Handle", .uint(0xffff_ffff)) }) { _ in d() }
        }
        join.seal()
    }

    /// raw-IP when the driver reports it or can be switched (qmi_wwan's qmi/raw_ip), or
    /// when the driver only does raw-IP (qmi_wwan_q, pcie_mhi); 802.3 for GobiNet.
    func decideRawIP() -> Bool {
        guard let dev = netdev else { return true }
        let file = sysRoot + "/class/net/\(dev)/qmi/raw_ip"
        if rawIP == false, Files.exists(file) {
            if writeSysfs(file, "Y") {
                log.log("\(dev): switched the driver to raw-IP (\(file) = Y)")
                rawIP = true
            } else {
                log.log("\(dev): could not set \(file) (the link must be down); using 802.3")
            }
        }
        if let r = rawIP { return r }
        return !(driver?.equals("GobiNet") ?? false)
    }

    func writeSysfs(_ path: String, _ value: String) -> Bool {
        let fd = csys_open(path, O_WRONLY, 0)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        let b = Array(value.utf8)
        return b.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == b.count
    }

    // MARK: registration

    func waitForRegistration() {
        if registered { return dial() }
        set(.registering)
        log.log("waiting for the modem to attach to the packet network")
        pollRegistration()
    }

    /// The serving-system indication normally tells us; a slow re-query covers modems that
    /// do not send it (only while unregistered).
    func pollRegistration() {
        after(30_000) {
            guard self.state == .registering else { return }
            self.request(NAS.getServingSystem, self.nas) { r in
                if let m = try? r.get() { self.servingSystem(m) }
                if self.state == .registering { self.pollRegistration() }
            }
        }
    }

    func servingSystem(_ m: QMIMessage) {
        guard let ss = (try? m.value("Serving System")) ?? nil else { return }
        let ps = ss[2]?.uint == 1
        let wasRegistered = registered
        registered = ss[0]?.uint == 1 && ps
        let plmn = (try? m.value("Current PLMN")) ?? nil
        let caps = ((try? m.value("Data Service Capability")) ?? nil)?.elements?.compactMap { $0.uint } ?? []
        let cap = caps.last.flatMap { QMIEnums.nasDataCapability.name(of: Int64($0)) }.map { Text.uppercasedASCII($0) } ?? "NONE"
        let roaming = ((try? m.value("Roaming Indicator")?.uint) ?? nil) == 0
        if registered != wasRegistered || m.kind == .response {
            log.log("requestRegistrationState2 MCC: \(plmn?[0]?.uint ?? 0), MNC: \(plmn?[1]?.uint ?? 0), PS: \(ps ? "Attached" : "Detached"), DataCap: \(cap)\(roaming ? " (roaming)" : "")")
        }
        if registered && !wasRegistered && state == .registering { dial() }
        if !registered && wasRegistered && state == .connected { log.log("lost network registration; the call will follow") }
    }

    // MARK: dial

    func dial() {
        cancelTimers()
        set(.dialing)
        dialInFlight = true
        var started = SmallMap<UInt64, UInt32>()
        var errors: [String] = []
        let join = Join {
            self.dialInFlight = false
            if self.state == .stopping {
                // SIGTERM arrived while the modem was bringing the call up: stop what came up.
                self.handles = started
                self.afterDial?()
                return
            }
            if errors.isEmpty {
                self.handles = started
                self.afterCallUp()
            } else {
                // Leave nothing half up: stop the families that did come up.
                for (family, h) in started.pairs {
                    self.request(WDS.stopNetwork, self.wds[family], { m throws(QMIError) in try m.set("Packet Data Handle", .uint(UInt64(h))) }) { _ in }
                }
                self.dialFailed(errors.joined(separator: "; "))
            }
        }
        for family in o.families {
            guard let cid = wds[family] else { continue }
            let d = join.member()
            request(WDS.startNetwork, cid, timeoutMs: 60_000, { m throws(QMIError) in
                try m.set("Profile Index 3GPP", .uint(UInt64(self.o.pdn)))
                try m.set("IP Family Preference", .uint(family))
                if let apn = self.o.apn, !apn.isEmpty { try m.set("APN", .string(apn)) }
                if let a = self.o.auth { try m.set("Authentication Preference", .uint(UInt64(a))) }
                if let u = self.o.user, !u.isEmpty { try m.set("Username", .string(u)) }
                if let p = self.o.password, !p.isEmpty { try m.set("Password", .string(p)) }
            }) { r in
                defer { d() }
                switch r {
                case .failure(let e):
                    errors.append("IPv\(family): \(e.description)")
                case .success(let m):
                    let handle = (try? m.value("Packet Data Handle")?.uint) ?? nil
                    if let res = m.result, !res.ok {
                        if res.error == QMIErrorCode.noEffect, let h = handle {
                            self.log.log("requestSetupDataCall IPv\(family): already connected (NoEffect)")
                            started[family] = UInt32(truncatingIfNeeded: h)
                            return
                        }
                        errors.append("IPv\(family): \(QMIErrorCode.name(res.error))" + Manager.endReason(m))
                        return
                    }
                    guard let h = handle else { return errors.append("IPv\(family): no packet data handle in the response") }
                    started[family] = UInt32(truncatingIfNeeded: h)
                    self.log.log("requestSetupDataCall WdsConnectionIPv\(family)Handle: 0x\(Text.hex(h, 8))")
                }
            }
        }
        join.seal()
    }

    static func endReason(_ m: QMIMessage) -> String {
        var parts: [String] = []
        if let r = (try? m.value("Call End Reason")?.uint) ?? nil { parts.append("call end reason " + CallEndReason.name(UInt16(truncatingIfNeeded: r))) }
        if let v = (try? m.value("Verbose Call End Reason")) ?? nil, let t = v[0]?.uint, let r = v[1]?.int {
            parts.append("verbose " + CallEndReason.verboseName(type: UInt16(truncatingIfNeeded: t), reason: Int16(truncatingIfNeeded: r)))
        }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }

    func dialFailed(_ why: String) {
        log.log("requestSetupDataCall failed: \(why)")
        instance.set("last_end_reason", why)
        failures += 1
        if o.maxRetries > 0 && failures >= o.maxRetries {
            return fail(ExitCode.callFailed, "giving up after \(failures) failed dial(s) (--max-retries \(o.maxRetries)): \(why)")
        }
        scheduleRedial()
    }

    func scheduleRedial() {
        let delay = retryDelayMs
        retryDelayMs = min(retryDelayMs * 2, 60_000)
        set(.reconnecting, "next attempt in \(delay / 1000) s")
        log.log("redialing in \(delay) ms")
        after(delay) {
            guard self.state == .reconnecting else { return }
            if self.registered { self.dial() } else { self.waitForRegistration() }
        }
    }

    func afterCallUp() {
        set(.configuring)
        var settings = SmallMap<UInt64, QMIMessage>()
        var problem: String?
        let join = Join {
            if let p = problem { return self.callDropped("runtime settings: \(p)", stop: true) }
            self.configure(settings)
        }
        for (family, cid) in wds.pairs where handles[family] != nil {
            let d = join.member()
            request(WDS.getRuntimeSettings, cid, { m throws(QMIError) in
                try m.set("Requested Settings", .uint(0x2310 | 0x10 | 0x100 | 0x200 | 0x2000 | 0x8000))
            }) { r in
                defer { d() }
                do throws(QMIError) {
                    let m = try r.get()
                    try m.check()
                    settings[family] = m
                } catch { problem = error.description }
            }
        }
        join.seal()
    }

    // MARK: link

    func ensureLink() -> Bool {
        if link != nil || o.noLink { return true }
        guard let dev = netdev else {
            log.log("no network interface known for this modem: link configuration skipped (use -i IFACE)")
            return true
        }
        do {
            link = try LinkSetup(interface: dev, metric: o.metric, dnsMode: DNSMode.parse(o.dns) ?? .auto,
                                 resolvConf: o.resolvConf, dnsBackup: LinkSetup.dnsBackup(runDir: o.runDir), scriptPath: o.script, log: log)
            return true
        } catch {
            fail(ExitCode.link, "cannot configure \(dev): \(error.description)")
            return false
        }
    }

    func configure(_ settings: SmallMap<UInt64, QMIMessage>) {
        guard ensureLink() else { return }
        guard let l = link else { return connected(nil) }
        let useDHCP = ethernet && !o.noDHCP && settings[4] != nil
        if useDHCP {
            startDHCP(l)
            return
        }
        let plan = l.plan(ipv4: settings[4], ipv6: settings[6], ethernet: ethernet)
        do {
            try l.apply(plan)
            connected(plan)
        } catch {
            linkFailed(error)
        }
    }

    func linkFailed(_ e: LinkError?) {
        var msg = "link configuration failed: \(e?.description ?? "?")"
        if e?.errno == EPERM || e?.errno == EACCES { msg += " (qcm needs root or CAP_NET_ADMIN to configure \(netdev ?? "the interface"))" }
        fail(e?.errno == EPERM || e?.errno == EACCES ? ExitCode.permission : ExitCode.link, msg)
    }

    func startDHCP(_ l: LinkSetup) {
        guard let dev = netdev else { return connected(nil) }
        do { try l.up() } catch { return linkFailed(error) }
        let client: DHCPClient
        do { client = try DHCPClient(interface: dev) } catch {
            return fail(ExitCode.link, "DHCP on \(dev): \(error.description)")
        }
        client.onLog = { self.log.debug("DHCP: \($0)") }
        let driver = DHCPDriver(client: client, loop: loop)
        driver.onError = { self.log.log("DHCP: \($0)") }
        client.onEvent = { e in self.dhcpEvent(e) }
        dhcp = driver
        log.log("DHCP on \(dev) (802.3 link)")
        do { try driver.start() } catch { log.log("DHCP: \(error.description)") }
    }

    func dhcpEvent(_ e: DHCPMachine.Event) {
        guard let l = link else { return }
        switch e {
        case .bound(let lease), .renewed(_, let lease):
            let plan = l.plan(lease: lease)
            let renewing: Bool
            if case .renewed = e { renewing = true } else { renewing = false }
            log.log("DHCP lease \(lease.summary)")
            do {
                try l.apply(plan, leaseSeconds: lease.leaseSeconds, renew: renewing)
                if state != .connected { connected(plan) } else { currentPlan = plan; saveAddresses(plan) }
            } catch { linkFailed(error) }
        case .expired(let lease):
            log.log("DHCP lease of \(ipText(lease.address)) expired")
            l.deconfigure()
        case .nak(let msg):
            log.log("DHCP NAK" + (msg.map { ": \($0)" } ?? ""))
        case .leaseFailed(let n):
            log.log("no DHCP lease after \(n) DISCOVERs; still trying")
        }
    }

    func ipText(_ v: UInt32) -> String { IPAddress(ipv4: v).text }

    func connected(_ plan: LinkPlan?) {
        currentPlan = plan
        failures = 0
        connectedAt = loop.now
        if o.stableAfterSeconds == 0 { retryDelayMs = 1000 }
        instance.set("connected_since", "\(csys_realtime_ms() / 1000)")
        if let p = plan { saveAddresses(p) }
        let summary = "connected" + (plan.map { " (" + LinkSetup.describe($0) + ")" } ?? "")
        log.log(summary)
        set(.connected, plan.map { LinkSetup.describe($0) })
        notify.ready(summary)
    }

    func saveAddresses(_ p: LinkPlan) {
        instance.set("ipv4", p.ipv4.map { "\($0.address.text)/\($0.prefix)" })
        instance.set("ipv6", p.ipv6.map { "\($0.address.text)/\($0.prefix)" })
        instance.set("dns", p.dns.map { $0.text }.joined(separator: " "))
        instance.set("dns_warning", link?.manager?.dnsProblem)
        instance.save()
    }

    func deconfigureLink() {
        dhcp?.stop(release: false)
        dhcp = nil
        link?.deconfigure()
        currentPlan = nil
        instance.set("connected_since", nil)
        instance.set("ipv4", nil)
        instance.set("ipv6", nil)
        instance.set("dns", nil)
    }

    // MARK: indications

    func packetStatus(_ m: QMIMessage) {
        guard let st = (try? m.value("Connection Status")) ?? nil, st[0]?.uint == 1 else { return }
        guard wds.values.contains(m.clientID), !handles.isEmpty, state == .connected || state == .configuring else { return }
        let family = (try? m.value("IP Family")?.uint) ?? nil
        callDropped("the network ended the IPv\(family ?? 4) call" + Manager.endReason(m), stop: true)
    }

    /// The call is gone: deconfigure, log the reason, redial with backoff.
    func callDropped(_ why: String, stop: Bool) {
        log.log(why)
        // The backoff starts over only after a call that stayed up long enough: a network
        // that drops every call at once is not redialed in a tight loop.
        if let t = connectedAt, loop.now - t >= Int64(o.stableAfterSeconds) * 1000 { retryDelayMs = 1000 }
        connectedAt = nil
        instance.set("last_end_reason", why)
        deconfigureLink()
        if stop {
            for (family, h) in handles.pairs {
                request(WDS.stopNetwork, wds[family], { m throws(QMIError) in try m.set("Packet Data Handle", .uint(UInt64(h))) }) { _ in }
            }
        }
        handles.removeAll()
        scheduleRedial()
    }

    func ctlIndication(_ m: QMIMessage) {
        guard state != .stopping else { return }
        if m.messageID == CTL.sync.id || m.messageID == CTL.revokeClientID.id {
            log.log(m.messageID == CTL.sync.id ? "modem reset: every QMI client id was dropped" : "the modem revoked a QMI client id")
            forgetSession()
            set(.initializing, "after a modem reset")
            after(1000) { self.sync() }
        }
    }

    func channelClosed(_ e: QMIError) {
        guard state != .stopping else { return }
        log.log("QMI channel lost: \(e.description)")
        dropSession()
        scheduleReopen("waiting for the modem to come back")
    }

    /// The modem's side of the session is gone (reset) or going: forget the call, the
    /// client ids and every pending callback of this session.
    func forgetSession() {
        deconfigureLink()
        handles.removeAll()
        cids.removeAll()
        registered = false
        generation += 1
        cancelTimers()
    }

    func dropSession() {
        forgetSession()
        engine?.onClose = nil
        engine?.close()
        engine = nil
    }

    func scheduleReopen(_ why: String) {
        set(.deviceGone, why)
        let delay = reopenDelayMs
        reopenDelayMs = min(reopenDelayMs * 2, 10_000)
        after(delay) {
            if let r = self.rediscover?() {
                self.channelPath = r.channel
            } else if self.rediscover != nil || !Files.exists(self.channelPath) && !self.channelPath.begins(with: "@") {
                return self.scheduleReopen(why)
            }
            self.reopenDelayMs = 1000
            self.open()
        }
    }

    // MARK: teardown

    var stopRequestedAt: Int64?

    /// SIGINT/SIGTERM: clean teardown. A second signal more than 500 ms later abandons
    /// the QMI part of it (the link configuration is still removed); duplicates within
    /// 500 ms (a terminal's Ctrl-C reaching a whole process group, timeout(1) forwarding)
    /// count as one.
    func stop(signal: String) {
        if let first = stopRequestedAt {
            guard loop.now - first > 500 else { return }
            log.log("second \(signal): giving up the clean teardown")
            link?.deconfigure()
            exitCode = ExitCode.failure
            loop.stop()
            return
        }
        stopRequestedAt = loop.now
        log.log("\(signal): stopping")
        finish(ExitCode.ok)
    }

    /// Stop the call(s), release every client id, remove the link configuration, exit.
    /// Bounded: a modem that no longer answers cannot keep qcm from exiting.
    func finish(_ code: Int32) {
        if state == .stopping { return }
        state = .stopping
        cancelTimers()
        notify.stopping()
        instance.set("state", "stopping")
        instance.save()
        dhcp?.stop(release: true)
        dhcp = nil
        link?.deconfigure()
        var finished = false
        let done = {
            if finished { return }
            finished = true
            self.engine?.onClose = nil
            self.engine?.close()
            self.engine = nil
            if self.exitCode == nil { self.exitCode = code }
            self.loop.stop()
        }
        guard engine != nil, !engine!.isClosed else { return done() }
        loop.after(2500) {
            if !finished { self.log.log("the modem did not confirm the teardown in time") }
            done()
        }
        var tornDown = false
        let teardown = {
            if tornDown { return }
            tornDown = true
            self.afterDial = nil
            self.stopCallsAndRelease(done)
        }
        if dialInFlight {
            // Wait for the Start Network answer so a call coming up now is stopped too.
            afterDial = teardown
            loop.after(1000) { teardown() }
        } else {
            teardown()
        }
    }

    func stopCallsAndRelease(_ done: @escaping () -> Void) {
        let release = {
            let join = Join { done() }
            for (svc, cid) in self.cids {
                let d = join.member()
                self.request(CTL.releaseClientID, nil, timeoutMs: 1000, { m throws(QMIError) in
                    try m.set("Release", .structure([.uint(UInt64(svc.rawValue)), .uint(UInt64(cid))]))
                }) { _ in d() }
            }
            self.cids.removeAll()
            join.seal()
        }
        if handles.isEmpty { return release() }
        let stops = Join { release() }
        for (family, h) in handles.pairs {
            let d = stops.member()
            log.log("requestDeactivateDefaultPDP WdsConnectionIPv\(family)Handle")
            request(WDS.stopNetwork, wds[family], timeoutMs: 1000, { m throws(QMIError) in
                try m.set("Packet Data Handle", .uint(UInt64(h)))
            }) { _ in d() }
        }
        handles.removeAll()
        stops.seal()
    }
}
