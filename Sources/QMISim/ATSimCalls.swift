import Base
import ATCore
import ATMessages

/// The data call (both dialects), registration, and the faults and network changes tests
/// switch on at run time.
extension ATSimulator {
    /// The +QNETDEVCTL operations the module takes: RG801H's test answer says (0,1), RM500U's
    /// (0-3) and ASR's manual 0, 1, 3; 3 (auto-connect) connects as 1 does here, and 2, whose
    /// meaning no source gives, is refused.
    var operations: [Int64] { config.dialect == .unisoc && !config.isRG500U ? [0, 1] : [0, 1, 3] }

    func dataCallRangeCommand(_ p: String, _ out: inout [String]) -> Final {
        let ranges = config.dialect == .asr ? "(0,1,3),(1-\(config.maxCid)),(0,1)"
            : config.isRG500U ? "(1-8),(0-3),(0,1)" : "(1-\(config.maxCid)),(0,1),(0,1)"
        put({ () throws(ATError) in try AT.DataCallRange.Answer(ranges: ranges).line() }, &out)
        return .ok
    }

    /// UNISOC's test answer is the cid range; ASR modules have no +QNETDEVSTATUS.
    func dataStatusRangeCommand(_ p: String, _ out: inout [String]) -> Final {
        guard config.dialect == .unisoc else { return .error }
        put({ () throws(ATError) in try AT.DataStatusRange.Answer(range: "(1-\(config.maxCid))").line() }, &out)
        return .ok
    }

    // MARK: UNISOC: AT+QNETDEVCTL=<cid>,<op>,<urc>, AT+QNETDEVSTATUS=<cid>

    /// OK at once (the capture: 6 ms); the call comes up `callSetupMs` later, or is refused
    /// then (a +QNETDEVSTATUS report with state 0): the OK comes before any answer from the
    /// network could.
    func dataCallCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.DataCall(parameters: p) else { return .cme(50) }
        let cid = Int(c.cid), report = c.urc ?? 0
        guard (1...config.maxCid).contains(cid), operations.contains(c.op), report == 0 || report == 1 else { return .cme(50) }
        if let e = simError() { return .cme(e) }
        var ctx = contexts[cid] ?? Context()
        ctx.urc = report == 1                                // the command's own: a stop with 0 is not reported (but on RG801H)
        if c.op == 0 {
            cancel(ctx.setupTimer)
            ctx.setupTimer = nil
            contexts[cid] = ctx
            endCall(cid, byNetwork: false)
            return .ok
        }
        if ctx.up || ctx.setupTimer != nil {                 // already up, or coming up
            contexts[cid] = ctx
            return .ok
        }
        guard isRegisteredNow else { return .cme(30) }
        ctx.setupTimer = after(config.callSetupMs) { self.setupDone(cid) }
        contexts[cid] = ctx
        return .ok
    }

    func setupDone(_ cid: Int) {
        guard var ctx = contexts[cid] else { return }
        ctx.setupTimer = nil
        contexts[cid] = ctx
        let code = !isRegisteredNow ? 30 : ctx.active ? nil : refusal(cid)
        if let code {
            log("the call on cid \(cid) was refused (+CME ERROR: \(code))")
            if reported(ctx) { urc { () throws(ATError) in try callChanged(cid, up: false, code: code) } }
            return
        }
        callUp(cid)
    }

    /// RG801H: `ERROR` while the call is down, and the addresses as hex, least significant
    /// byte first; others: `+CME ERROR: 3`, and the addresses dotted with IPv6 after them.
    func dataStatusCommand(_ p: String, _ out: inout [String]) -> Final {
        guard config.dialect == .unisoc else { return .error }
        guard let c = try? AT.DataStatus(parameters: p), (1...config.maxCid).contains(Int(c.cid)) else { return .cme(50) }
        let cid = Int(c.cid)
        guard contexts[cid]?.up == true else { return config.isRG801H ? .error : .cme(3) }
        var a = config.addressing(cid: cid)
        var mask = IPAddress.mask(ofPrefix: config.ipv4Prefix)
        var dns = config.ipv4DNS
        if profiles[cid]?.type == 2 {
            // An IPv6 context: the IPv4 fields are zero.
            (a.address, a.gateway, mask, dns) = (0, 0, 0, [])
        }
        if config.isRG801H {
            // The address fields carry text: the definition reads both forms, and writes the
            // hex one when given it.
            let hex = { (v: UInt32) -> ATValue in .text(ATText.hexLE(v)) }
            let values: [ATValue] = [hex(a.address), hex(mask), hex(a.gateway), hex(a.gateway),
                                     dns.count > 0 ? hex(dns[0]) : .absent, dns.count > 1 ? hex(dns[1]) : .absent, .text(" 85600, 85600")]
            put({ () throws(ATError) in try AT.DataStatus.Answer(values: values).line() }, &out)
        } else {
            let v6 = (profiles[cid]?.type ?? 1) == 1 ? nil
                : config.ipv6Address + ",,,," + config.ipv6DNS.prefix(2).joined(separator: ",")
            put({ () throws(ATError) in
                try AT.DataStatus.Answer(address: IPAddress(ipv4: a.address), mask: IPAddress(ipv4: mask), gateway: IPAddress(ipv4: a.gateway),
                                         dhcpServer: nil, dns1: dns.first.map { IPAddress(ipv4: $0) },
                                         dns2: dns.count > 1 ? IPAddress(ipv4: dns[1]) : nil, more: v6).line()
            }, &out)
        }
        return .ok
    }

    // MARK: ASR: AT+CGACT=1,<cid>, then AT+QNETDEVCTL=<op>,<cid>,<urc>

    /// 27.007: a context already in the state asked for stays so, and OK.
    func activateContextCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.ActivateContext(parameters: p), c.state == 0 || c.state == 1,
              (1...config.maxCid).contains(Int(c.cid)) else { return .cme(50) }
        if let e = simError() { return .cme(e) }
        let cid = Int(c.cid)
        var ctx = contexts[cid] ?? Context()
        if c.state == 0 {
            endCall(cid, byNetwork: false)
            return .ok
        }
        if ctx.active { return .ok }
        guard isRegisteredNow else { return .cme(30) }
        if let code = refusal(cid) {
            log("activation of cid \(cid) refused (+CME ERROR: \(code))")
            return .cme(code)
        }
        ctx.active = true
        contexts[cid] = ctx
        return .ok
    }

    func contextStatesCommand(_ p: String, _ out: inout [String]) -> Final {
        let cids = Set(profiles.keys).union(contexts.keys).sorted()
        for cid in cids {
            let on: Int64 = contexts[cid]?.active == true || contexts[cid]?.up == true ? 1 : 0
            put({ () throws(ATError) in try AT.ContextStates.Answer(cid: Int64(cid), state: on).line() }, &out)
        }
        return .ok
    }

    func contextAddressCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.ContextAddress(parameters: p), (1...config.maxCid).contains(Int(c.cid)) else { return .cme(50) }
        let cid = Int(c.cid)
        guard contexts[cid]?.active == true || contexts[cid]?.up == true else {
            put({ () throws(ATError) in try AT.ContextAddress.Answer(cid: c.cid).line() }, &out)
            return .ok
        }
        // 27.007: one address per family the context has, IPv4 first.
        let type = profiles[cid]?.type ?? 1
        let v4 = Text.ipv4(config.addressing(cid: cid).address)
        let addresses = type == 1 ? [v4] : type == 2 ? [config.ipv6Address] : [v4, config.ipv6Address]
        put({ () throws(ATError) in
            try AT.ContextAddress.Answer(cid: c.cid, address: addresses[0], address2: addresses.count > 1 ? addresses[1] : nil).line()
        }, &out)
        return .ok
    }

    /// The USB NIC on an active context (else +CME ERROR: 3); one NIC, so one context at a time.
    func dataCallASRCommand(_ p: String, _ out: inout [String]) -> Final {
        guard let c = try? AT.DataCallASR(parameters: p) else { return .cme(50) }
        let cid = Int(c.cid), report = c.urc ?? 0
        guard (1...config.maxCid).contains(cid), operations.contains(c.op), report == 0 || report == 1 else { return .cme(50) }
        if let e = simError() { return .cme(e) }
        if c.op == 0 {
            if nic.cid == cid, var ctx = contexts[cid], ctx.up {
                ctx.up = false
                ctx.urc = report == 1
                cancel(ctx.dropTimer)
                ctx.dropTimer = nil
                contexts[cid] = ctx
                onCallDown?(cid)
                if reported(ctx) { urc { () throws(ATError) in try callChanged(cid, up: false) } }
            }
            nic = (0, cid, Int(report))
            return .ok
        }
        guard var ctx = contexts[cid], ctx.active else { return .cme(3) }
        if nic.cid != cid, contexts[nic.cid]?.up == true { return .cme(3) }
        nic = (Int(c.op), cid, Int(report))
        ctx.urc = report == 1
        contexts[cid] = ctx
        if !ctx.up { callUp(cid) }
        return .ok
    }

    func dataCallStatesCommand(_ p: String, _ out: inout [String]) -> Final {
        guard config.dialect == .asr else { return .error }          // UNISOC's read form: not known
        let state: Int64 = contexts[nic.cid]?.up == true ? 1 : 0
        put({ () throws(ATError) in
            try AT.DataCallStates.Answer(op: Int64(nic.op), cid: Int64(nic.cid), urc: Int64(nic.urc), state: state).line()
        }, &out)
        return .ok
    }

    // MARK: calls

    /// Whether the call's changes are reported: as its last +QNETDEVCTL asked, except on
    /// RG801H, whose capture shows the report after `AT+QNETDEVCTL=1,1,0` (urc 0).
    func reported(_ ctx: Context) -> Bool { ctx.urc || config.isRG801H }

    var isRegisteredNow: Bool { regStat == 1 || regStat == 5 }

    /// The code the network refuses a call on `cid` with, if it does: the `rejectCall` fault
    /// (`rejectTimes` times), or 127 (missing or unknown APN) for an APN it does not take.
    func refusal(_ cid: Int) -> Int? {
        if let code = config.rejectCall, config.rejectTimes < 0 || rejected < config.rejectTimes {
            rejected += 1
            return code
        }
        let apn = profiles[cid]?.apn ?? ""
        if let ok = config.acceptedAPNs, !ok.contains(where: { Text.equalsIgnoringCase($0, apn) }) { return 127 }
        return nil
    }

    func callUp(_ cid: Int) {
        var ctx = contexts[cid] ?? Context()
        ctx.active = true
        ctx.up = true
        if let ms = config.dropAfterMs {
            ctx.dropTimer = after(ms) {
                self.log("the network ends the call on cid \(cid) (fault)")
                self.endCall(cid, byNetwork: true)
            }
        }
        contexts[cid] = ctx
        let a = config.addressing(cid: cid)
        let type = profiles[cid]?.type ?? 1
        if type != 2 {
            log("call up on cid \(cid): \(Text.ipv4(a.address))/\(config.ipv4Prefix)")
            onCallUp?(cid, a.address, config.ipv4Prefix, a.gateway, config.ipv4DNS)
        }
        if type != 1, let v6 = Text.parseIPv6(config.ipv6Address) {
            log("call up on cid \(cid): IPv6 \(config.ipv6Address)")
            onIPv6CallUp?(cid, v6, config.ipv6DNS.compactMap { Text.parseIPv6($0) })
        }
        if reported(ctx) { urc { () throws(ATError) in try callChanged(cid, up: true) } }
    }

    /// The context on `cid` ends (its call or NIC with it): by the client, or by the network
    /// (then +CGEV: NW DEACT to a client that asked with AT+CGEREP).
    func endCall(_ cid: Int, byNetwork: Bool) {
        guard var ctx = contexts[cid] else { return }
        let wasUp = ctx.up, wasActive = ctx.active || ctx.up
        cancel(ctx.setupTimer)
        cancel(ctx.dropTimer)
        ctx.setupTimer = nil
        ctx.dropTimer = nil
        ctx.up = false
        ctx.active = false
        contexts[cid] = ctx
        if wasUp {
            log("call down on cid \(cid)")
            onCallDown?(cid)
            if reported(ctx) { urc { () throws(ATError) in try callChanged(cid, up: false) } }
        }
        if byNetwork && wasActive && cgerep >= 1 {
            let type = ["IP", "IPV6", "IPV4V6"][max(0, min(2, (profiles[cid]?.type ?? 1) - 1))]
            let event = "NW DEACT \"\(type)\",\"\(Text.ipv4(config.addressing(cid: cid).address))\",\(cid)"
            urc { () throws(ATError) in try AT.Unsolicited.PacketEvent(event: event).line() }
        }
    }

    /// The data call report: ASR `+QNETDEVSTATUS: <state>`; UNISOC `<cid>,<state>,"<type>"`,
    /// written `+QNETDEVSTATUS:1,1,"IPV4"` (no space) by RG801H, with a fourth field by RG500U.
    func callChanged(_ cid: Int, up: Bool, code: Int = 0) throws(ATError) -> String {
        let state: Int64 = up ? 1 : 0
        guard config.dialect == .unisoc else { return try AT.Unsolicited.DataCallChangedASR(state: state).line() }
        let type = ["IPV4", "IPV6", "IPV4V6"][max(0, min(2, (profiles[cid]?.type ?? 1) - 1))]
        let line = try AT.Unsolicited.DataCallChanged(cid: Int64(cid), state: state, ipType: type,
                                                      code: config.isRG500U ? Int64(code) : nil).line()
        guard config.isRG801H else { return line }
        let prefix = ATCatalogue.dataCallChanged.prefix + ":"
        return prefix + String(line.utf8.dropFirst(prefix.utf8.count + 1))!
    }

    // MARK: registration

    /// Registers when the radio is on, the SIM unlocked (and started), the network there
    /// and not deregistered by AT+COPS=2; `registrationDelayMs` after searching starts.
    func updateRegistration() {
        guard cfun == 1, !deregistered, sim == .ready, !simBlocked, now >= simBusyUntil else {
            cancel(registrationTimer)
            registrationTimer = nil
            return setStat(0)
        }
        guard coverage, !config.neverRegister else {
            cancel(registrationTimer)
            registrationTimer = nil
            return setStat(2)
        }
        if isRegisteredNow || registrationTimer != nil { return }
        setStat(2)
        registrationTimer = after(config.registrationDelayMs) {
            self.registrationTimer = nil
            self.setStat(self.config.roaming ? 5 : 1)
        }
    }

    func setStat(_ stat: Int) {
        guard stat != regStat else { return }
        let was = isRegisteredNow
        regStat = stat
        log("registration: stat \(stat)")
        reportRegistration()
        if was && !isRegisteredNow {
            // Detached: the network's contexts are gone.
            for cid in contexts.keys.sorted() { endCall(cid, byNetwork: cfun == 1 && !deregistered) }
        }
        if isRegisteredNow && !stormDone && config.urcStorm > 0 {
            stormDone = true
            sendURCStorm(config.urcStorm)
        }
    }

    // MARK: faults and the network, at run time

    /// The network goes away (registration lost: stat 2, searching, calls ended) or comes back.
    public func setRegistration(_ on: Bool) {
        locked {
            coverage = on
            updateRegistration()
        }
    }

    /// The network ends the call on `cid` (reports as the module sends them).
    public func dropCall(cid: Int) {
        locked {
            guard contexts[cid]?.active == true || contexts[cid]?.up == true else { return }
            log("the network ends the call on cid \(cid)")
            endCall(cid, byNetwork: true)
        }
    }

    public func dropCalls() {
        locked { for cid in contexts.keys.sorted() { dropCall(cid: cid) } }
    }

    /// `n` registration reports in one burst (to a client that enabled them).
    public func sendURCStorm(_ n: Int) {
        locked {
            log("\(n) registration reports in a burst (fault)")
            for i in 0..<n { reportRegistration(cellShift: Int64(i % 2)) }
        }
    }

    /// The module wedges: nothing is answered or sent until it restarts or its port goes.
    public func hang() {
        locked {
            guard !hung, !gone else { return }
            hung = true
            log("the module hangs (fault)")
        }
    }

    /// The module restarts (AT+CFUN=1,1, `resetAfterMs`): its port goes away for `rebootMs`
    /// and comes back freshly booted, with the settings saved since taking effect.
    public func restart() {
        locked {
            guard !gone else { return }
            log("the module restarts")
            disappear(backAfterMs: config.rebootMs)
        }
    }

    /// The port disappears: the master closed (the client's reads fail), the symlink
    /// removed, every call ended; with `backAfterMs`, a fresh pty at the same path that much
    /// later, the module's state as at power-up, and RDY.
    public func disappear(backAfterMs: Int64?) {
        locked {
            guard !gone else { return }
            powerDown(reason: "the AT port is gone")
            gone = true
            hung = false
            closePort()
            if let back = backAfterMs {
                faultTimers.append(loop.after(back) { [weak self] in self?.locked { self?.comeBack() } })
            }
        }
    }

    func comeBack() {
        guard gone else { return }
        do { try openPort() } catch {
            log("the AT port cannot come back: \(error)")
            return
        }
        gone = false
        powerUp()
        after(config.readyDelayMs) { self.unsolicited(ATCatalogue.moduleReady.prefix) }
    }
}
