import Base
import CSystem
import QMICore

/// The simulated services: each request is decoded and answered through the message
/// catalogue, so the simulator and qcm share one definition of every TLV.
extension QMISimulator {
    func handle(_ req: QMIMessage, on c: Connection) -> QMIMessage {
        if req.service != .ctl {
            guard allocated[req.service.rawValue]?.contains(req.clientID) == true else {
                return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidClientId))
            }
        }
        do {
            switch req.service {
            case .ctl: return try ctl(req, c)
            case .dms: return try dms(req)
            case .nas: return try nas(req)
            case .uim: return try uim(req)
            case .wda: return try wda(req)
            case .wds: return try wds(req, c)
            default: break
            }
        } catch {
            log("bad \(req.displayName): \(error.description)")
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.malformedMessage))
        }
        return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidQmiCommand))
    }

    static let supportedServices: [(UInt8, UInt16, UInt16)] = [
        (0x00, 1, 5), (0x01, 1, 67), (0x02, 1, 14), (0x03, 1, 25), (0x04, 1, 12), (0x0b, 1, 48), (0x1a, 1, 17),
    ]

    // MARK: CTL

    func ctl(_ req: QMIMessage, _ c: Connection) throws(QMIError) -> QMIMessage {
        var r = QMIMessage.reply(to: req)
        switch req.messageID {
        case CTL.sync.id:
            releaseAll(reason: "CTL Sync")
        case CTL.getVersionInfo.id:
            try r.set("Service List", .array(Self.supportedServices.map { .structure([.uint(UInt64($0.0)), .uint(UInt64($0.1)), .uint(UInt64($0.2))]) }))
        case CTL.allocateClientID.id:
            let svc = UInt8(truncatingIfNeeded: try req.required("Service").uint ?? 0)
            guard Self.supportedServices.contains(where: { $0.0 == svc && svc != 0 }) else {
                return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidServiceType))
            }
            var used = allocated[svc] ?? []
            guard let cid = (1...UInt8(min(254, config.clientIDsPerService))).first(where: { !used.contains($0) }) else {
                return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.clientIdsExhausted))
            }
            used.insert(cid)
            allocated[svc] = used
            owners[SimConfig.key(QMIService(svc), UInt16(cid))] = c.id
            try r.set("Allocation", .structure([.uint(UInt64(svc)), .uint(UInt64(cid))]))
        case CTL.releaseClientID.id:
            let info = try req.required("Release")
            let svc = UInt8(truncatingIfNeeded: info[0]?.uint ?? 0)
            let cid = UInt8(truncatingIfNeeded: info[1]?.uint ?? 0)
            guard allocated[svc]?.contains(cid) == true else {
                return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidClientId))
            }
            release(service: svc, cid: cid)
            try r.set("Release", info)
        case CTL.setDataFormat.id:
            let proto = try req.value("Protocol")?.uint ?? 1
            try r.set("Protocol", .uint(proto))
        case CTL.internalProxyOpen.id:
            guard c.viaProxy else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidQmiCommand)) }
            c.proxyOpened = true
            log("connection \(c.id): qmi-proxy open for \(try req.value("Device Path")?.string ?? "?")")
        default:
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidQmiCommand))
        }
        return r
    }

    func release(service: UInt8, cid: UInt8) {
        allocated[service]?.remove(cid)
        owners.removeValue(forKey: SimConfig.key(QMIService(service), UInt16(cid)))
        if service == QMIService.wds.rawValue {
            ipFamily.removeValue(forKey: cid)
            if !config.callsOutliveClients {
                for call in calls where call.cid == cid { endCall(call, notify: false) }
            }
        }
    }

    func releaseAll(reason: String) {
        for (svc, ids) in allocated { for cid in ids { release(service: svc, cid: cid) } }
        allocated.removeAll()
        log("\(reason): all client ids released")
    }

    // MARK: DMS

    func dms(_ req: QMIMessage) throws(QMIError) -> QMIMessage {
        var r = QMIMessage.reply(to: req)
        switch req.messageID {
        case DMS.getManufacturer.id: try r.set("Manufacturer", .string(config.manufacturer))
        case DMS.getModel.id: try r.set("Model", .string(config.model))
        case DMS.getRevision.id: try r.set("Revision", .string(config.revision))
        case DMS.getIDs.id:
            try r.set("IMEI", .string(config.imei))
            try r.set("ESN", .string("0"))
        case DMS.uimGetICCID.id:
            guard simState != .absent else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.uimUninitialized)) }
            try r.set("ICCID", .string(config.iccid))
        case DMS.getOperatingMode.id:
            try r.set("Mode", .uint(operatingMode))
            try r.set("Hardware Restricted", .bool(false))
        case DMS.setOperatingMode.id:
            operatingMode = try req.required("Mode").uint ?? 0
            if operatingMode == 0 { scheduleRegistration() } else { setRegistered(false) }
        case DMS.uimGetPINStatus.id:
            guard simState != .absent else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.uimUninitialized)) }
            try r.set("PIN1 Status", .structure([.uint(dmsPinStatus), .uint(UInt64(pinRetriesLeft)), .uint(UInt64(pukRetriesLeft))]))
        case DMS.uimVerifyPIN.id:
            let info = try req.required("Info")
            return try verifyPIN(req, pin: info[1]?.string ?? "", retriesTLV: "Retries")
        default:
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidQmiCommand))
        }
        return r
    }

    var dmsPinStatus: UInt64 {
        switch simState {
        case .ready: return config.sim == .pinRequired ? 2 : 3    // verified / disabled
        case .pinRequired: return 1
        case .pukBlocked: return 4
        case .absent: return 0
        }
    }

    func verifyPIN(_ req: QMIMessage, pin: String, retriesTLV: String) throws(QMIError) -> QMIMessage {
        switch simState {
        case .absent:
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.noSim))
        case .pukBlocked:
            var r = QMIMessage.reply(to: req, result: .failure(QMIErrorCode.pinBlocked))
            try r.set(retriesTLV, .structure([.uint(0), .uint(UInt64(pukRetriesLeft))]))
            return r
        case .ready:
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.noEffect))
        case .pinRequired:
            if pin == config.pin {
                simState = .ready
                pinRetriesLeft = config.pinRetries
                log("PIN verified")
                scheduleRegistration()
                var r = QMIMessage.reply(to: req)
                try r.set(retriesTLV, .structure([.uint(UInt64(pinRetriesLeft)), .uint(UInt64(pukRetriesLeft))]))
                return r
            }
            pinRetriesLeft = max(0, pinRetriesLeft - 1)
            if pinRetriesLeft == 0 { simState = .pukBlocked }
            log("wrong PIN, \(pinRetriesLeft) attempt(s) left")
            var r = QMIMessage.reply(to: req, result: .failure(pinRetriesLeft == 0 ? QMIErrorCode.pinBlocked : QMIErrorCode.incorrectPin))
            try r.set(retriesTLV, .structure([.uint(UInt64(pinRetriesLeft)), .uint(UInt64(pukRetriesLeft))]))
            return r
        }
    }

    // MARK: UIM

    func uim(_ req: QMIMessage) throws(QMIError) -> QMIMessage {
        switch req.messageID {
        case UIM.getCardStatus.id:
            var r = QMIMessage.reply(to: req)
            try r.set("Card Status", cardStatus)
            return r
        case UIM.verifyPIN.id:
            let info = try req.required("Info")
            return try verifyPIN(req, pin: info[1]?.string ?? "", retriesTLV: "Retries")
        default:
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidQmiCommand))
        }
    }

    var cardStatus: QMIValue {
        let cardState: UInt64 = simState == .absent ? 0 : 1
        let (appState, pinState): (UInt64, UInt64) = {
            switch simState {
            case .ready: return (7, config.sim == .pinRequired ? 2 : 3)
            case .pinRequired: return (2, 1)
            case .pukBlocked: return (3, 4)
            case .absent: return (0, 0)
            }
        }()
        let app: QMIValue = .structure([
            .uint(2), .uint(appState), .uint(0), .uint(0), .uint(0), .uint(0),
            .bytes([0xa0, 0, 0, 0, 0x87, 0x10, 0x02, 0xff, 0x86, 0xff, 0xff, 0x89, 0xff, 0xff, 0xff, 0xff]),
            .bool(false), .uint(pinState), .uint(UInt64(pinRetriesLeft)), .uint(UInt64(pukRetriesLeft)),
            .uint(3), .uint(3), .uint(10),
        ])
        let card: QMIValue = .structure([
            .uint(cardState), .uint(0), .uint(0), .uint(0), .uint(0),
            .array(simState == .absent ? [] : [app]),
        ])
        let idx: UInt64 = simState == .absent ? 0xffff : 0x0000
        return .structure([.uint(idx), .uint(0xffff), .uint(0xffff), .uint(0xffff), .array([card])])
    }

    // MARK: NAS

    func scheduleRegistration() {
        if let t = registrationTimer { loop.cancel(t) }
        registrationTimer = nil
        guard simState == .ready, operatingMode == 0, !config.neverRegister else { return }
        if config.registrationDelayMs <= 0 {
            setRegistered(true)
            return
        }
        registrationTimer = loop.after(config.registrationDelayMs) { [unowned self] in
            self.locked {
                self.registrationTimer = nil
                self.setRegistered(true)
            }
        }
    }

    func setRegistered(_ on: Bool) {
        guard on != registered else { return }
        registered = on
        log(on ? "registered (\(config.roaming ? "roaming" : "home"))" : "not registered")
        if !on { for call in calls { endCall(call, notify: true, reason: (3, 0, 0)) } }
        guard let nas = allocated[QMIService.nas.rawValue] else { return }
        for cid in nas.sorted() {
            var ind = QMIMessage.indication(NAS.getServingSystem, clientID: cid)
            fillServingSystem(&ind)
            indicate(ind)
        }
    }

    func fillServingSystem(_ m: inout QMIMessage) {
        let reg: UInt64 = registered ? 1 : (config.neverRegister || simState != .ready || operatingMode != 0 ? 2 : 2)
        let ps: UInt64 = registered ? 1 : 2
        let radios: [QMIValue] = registered ? [.int(config.radioInterface)] : []
        try? m.set("Serving System", .structure([.uint(reg), .uint(ps), .uint(ps), .uint(registered ? 2 : 0), .array(radios)]))
        if registered {
            try? m.set("Roaming Indicator", .uint(config.roaming ? 0 : 1))
            try? m.set("Data Service Capability", .array([.uint(config.radioInterface == 8 ? 11 : 11)]))
            try? m.set("Current PLMN", .structure([.uint(UInt64(config.mcc)), .uint(UInt64(config.mnc)), .string(config.operatorName)]))
        }
    }

    func nas(_ req: QMIMessage) throws(QMIError) -> QMIMessage {
        var r = QMIMessage.reply(to: req)
        switch req.messageID {
        case NAS.getServingSystem.id:
            fillServingSystem(&r)
        case NAS.getSystemInfo.id:
            let status: UInt64 = registered ? 2 : 0
            let lte = config.radioInterface == 8
            try r.set(lte ? "LTE Service Status" : "NR5G Service Status", .structure([.uint(status), .uint(status), .bool(registered)]))
            if registered {
                let mcc = Text.decimal(config.mcc, width: 3), mnc = Text.decimal(config.mnc, width: 2)
                let info: QMIValue = .structure([
                    .bool(true), .uint(2), .bool(true), .uint(3), .bool(true), .uint(config.roaming ? 1 : 0),
                    .bool(true), .bool(false), .bool(false), .uint(0), .bool(true), .uint(0x0a3b_1c02),
                    .bool(false), .uint(0), .uint(0), .bool(true), .string(mcc), .string(mnc), .bool(true), .uint(0x1a2b),
                ])
                try r.set(lte ? "LTE System Info" : "NR5G System Info", info)
            }
        case NAS.getSignalInfo.id:
            guard registered else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.informationUnavailable)) }
            try r.set("LTE Signal Strength", .structure([.int(config.rssi), .int(config.rsrq), .int(config.rsrp), .int(config.snr)]))
        default:
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidQmiCommand))
        }
        return r
    }

    // MARK: WDA

    func wda(_ req: QMIMessage) throws(QMIError) -> QMIMessage {
        switch req.messageID {
        case WDA.setDataFormat.id:
            if let p = try req.value("Link Layer Protocol")?.uint {
                guard p == 1 || p == 2 else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidArgument)) }
                linkProtocol = p
            }
            if let u = try req.value("Uplink Data Aggregation Protocol")?.uint { ulAggregation = u }
            if let d = try req.value("Downlink Data Aggregation Protocol")?.uint { dlAggregation = d }
            return try dataFormat(req)
        case WDA.getDataFormat.id:
            return try dataFormat(req)
        default:
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidQmiCommand))
        }
    }

    func dataFormat(_ req: QMIMessage) throws(QMIError) -> QMIMessage {
        var r = QMIMessage.reply(to: req)
        try r.set("QoS Format", .bool(false))
        try r.set("Link Layer Protocol", .uint(linkProtocol))
        try r.set("Uplink Data Aggregation Protocol", .uint(ulAggregation))
        try r.set("Downlink Data Aggregation Protocol", .uint(dlAggregation))
        if dlAggregation != 0 {
            try r.set("Downlink Data Aggregation Max Datagrams", .uint(10))
            try r.set("Downlink Data Aggregation Max Size", .uint(4096))
            try r.set("Uplink Data Aggregation Max Datagrams", .uint(11))
            try r.set("Uplink Data Aggregation Max Size", .uint(4096))
            try r.set("Downlink Minimum Padding", .uint(0))
        }
        return r
    }

    // MARK: WDS

    func wds(_ req: QMIMessage, _ c: Connection) throws(QMIError) -> QMIMessage {
        var r = QMIMessage.reply(to: req)
        let cid = req.clientID
        switch req.messageID {
        case WDS.setEventReport.id, WDS.bindMuxDataPort.id:
            break
        case WDS.setIPFamily.id:
            let f = try req.required("Preference").uint ?? 4
            guard f == 4 || f == 6 || f == 8 else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidIpFamilyPreference)) }
            ipFamily[cid] = f
        case WDS.getProfileSettings.id:
            guard let p = profileFor(try req.required("Profile Identifier")) else { return profileError(req) }
            try r.set("Profile Name", .string(""))
            try r.set("PDP Type", .uint(p.pdpType))
            try r.set("APN Name", .string(p.apn))
            try r.set("Username", .string(p.username))
            try r.set("Password", .string(p.password))
            try r.set("Authentication", .uint(p.auth))
        case WDS.modifyProfile.id:
            let id = try req.required("Profile Identifier")
            guard var p = profileFor(id) else { return profileError(req) }
            try apply(req, to: &p)
            profiles[Int(id[1]?.uint ?? 1) - 1] = p
            log("profile \(id[1]?.uint ?? 0) set to apn '\(p.apn)'")
        case WDS.createProfile.id:
            guard profiles.count < 16 else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.noFreeProfile)) }
            var p = SimConfig.Profile()
            try apply(req, to: &p)
            profiles.append(p)
            try r.set("Profile Identifier", .structure([.uint(0), .uint(UInt64(profiles.count))]))
        case WDS.getPacketServiceStatus.id:
            let family = ipFamily[cid] ?? 4
            let up = calls.contains { $0.family == family && (config.callsOutliveClients || $0.cid == cid) }
            try r.set("Connection Status", .uint(up ? 2 : 1))
        case WDS.startNetwork.id:
            return try startNetwork(req, c)
        case WDS.stopNetwork.id:
            let handle = UInt32(truncatingIfNeeded: try req.required("Packet Data Handle").uint ?? 0)
            if handle == 0xffff_ffff {
                // Global handle: stop every call of this client's family (left-over calls included).
                let family = ipFamily[cid] ?? 4
                let victims = calls.filter { $0.family == family }
                if victims.isEmpty { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.noEffect)) }
                for v in victims { endCall(v, notify: v.cid != cid, reason: (2, 2, 202)) }
            } else {
                guard let call = calls.first(where: { $0.handle == handle }) else {
                    return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidHandle))
                }
                endCall(call, notify: false)
                scheduleIndication(cid: call.cid, status: 1, reason: (2, 2, 202), family: call.family)
            }
        case WDS.getRuntimeSettings.id:
            let family = ipFamily[cid] ?? 4
            guard let call = calls.first(where: { $0.cid == cid || (config.callsOutliveClients && $0.family == family) }) else {
                return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.outOfCall))
            }
            try r.set("APN Name", .string(call.apn))
            try r.set("MTU", .uint(UInt64(config.mtu)))
            try r.set("IP Family", .uint(call.family))
            if call.family == 4 {
                try r.set("IPv4 Address", .ipv4(config.ipv4Address))
                try r.set("IPv4 Gateway", .ipv4(config.ipv4Gateway))
                let mask: UInt32 = config.ipv4Prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - config.ipv4Prefix)
                try r.set("IPv4 Subnet Mask", .ipv4(mask))
                if config.ipv4DNS.count > 0 { try r.set("IPv4 Primary DNS", .ipv4(config.ipv4DNS[0])) }
                if config.ipv4DNS.count > 1 { try r.set("IPv4 Secondary DNS", .ipv4(config.ipv4DNS[1])) }
            } else {
                try r.set("IPv6 Address", .structure([.ipv6(config.ipv6Address), .uint(UInt64(config.ipv6Prefix))]))
                try r.set("IPv6 Gateway", .structure([.ipv6(config.ipv6Gateway), .uint(UInt64(config.ipv6Prefix))]))
                if config.ipv6DNS.count > 0 { try r.set("IPv6 Primary DNS", .ipv6(config.ipv6DNS[0])) }
                if config.ipv6DNS.count > 1 { try r.set("IPv6 Secondary DNS", .ipv6(config.ipv6DNS[1])) }
            }
        case WDS.getDataBearerTechnology.id:
            guard registered else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.outOfCall)) }
            try r.set("Current", .int(10))
        case WDS.getCurrentDataBearerTechnology.id:
            guard registered else { return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.outOfCall)) }
            try r.set("Current", .structure([.uint(2), .uint(0x20), .uint(0)]))
        default:
            return QMIMessage.reply(to: req, result: .failure(QMIErrorCode.invalidQmiCommand))
        }
        return r
    }

    func profileFor(_ id: QMIValue) -> SimConfig.Profile? {
        guard let i = id[1]?.uint, i >= 1, Int(i) <= profiles.count else { return nil }
        return profiles[Int(i) - 1]
    }

    func profileError(_ req: QMIMessage) -> QMIMessage {
        var r = QMIMessage.reply(to: req, result: .failure(QMIErrorCode.extendedInternal))
        try? r.set("Extended Error Code", .uint(1003))
        return r
    }

    func apply(_ req: QMIMessage, to p: inout SimConfig.Profile) throws(QMIError) {
        if let v = try req.value("APN Name")?.string { p.apn = v }
        if let v = try req.value("Username")?.string { p.username = v }
        if let v = try req.value("Password")?.string { p.password = v }
        if let v = try req.value("Authentication")?.uint { p.auth = v }
        if let v = try req.value("PDP Type")?.uint { p.pdpType = v }
    }

    func startNetwork(_ req: QMIMessage, _ c: Connection) throws(QMIError) -> QMIMessage {
        let cid = req.clientID
        startAttempts += 1
        func fail(_ code: UInt16, _ reason: UInt16?, _ verbose: (UInt16, Int16)?) throws(QMIError) -> QMIMessage {
            var r = QMIMessage.reply(to: req, result: .failure(code))
            if let reason { try r.set("Call End Reason", .uint(UInt64(reason))) }
            if let (t, v) = verbose { try r.set("Verbose Call End Reason", .structure([.uint(UInt64(t)), .int(Int64(v))])) }
            return r
        }
        guard simState == .ready else { return try fail(QMIErrorCode.callFailed, 3, (3, 2001)) }
        guard registered else { return try fail(QMIErrorCode.callFailed, 3, (3, 2001)) }
        let family = try req.value("IP Family Preference")?.uint ?? ipFamily[cid] ?? 4
        if let existing = calls.first(where: { $0.cid == cid && $0.family == family }) {
            var r = QMIMessage.reply(to: req, result: .failure(QMIErrorCode.noEffect))
            try r.set("Packet Data Handle", .uint(UInt64(existing.handle)))
            return r
        }
        if let rej = config.rejectCall, config.rejectCallTimes < 0 || rejectedCalls < config.rejectCallTimes {
            rejectedCalls += 1
            log("rejecting call attempt \(startAttempts) (fault)")
            return try fail(QMIErrorCode.callFailed, rej.reason, (rej.verboseType, rej.verboseReason))
        }
        let index = Int(try req.value("Profile Index 3GPP")?.uint ?? 1)
        let profile = index >= 1 && index <= profiles.count ? profiles[index - 1] : profiles[0]
        let apn = try req.value("APN")?.string ?? profile.apn
        // An authenticating APN needs the right credentials.
        let user = try req.value("Username")?.string ?? profile.username
        let pass = try req.value("Password")?.string ?? profile.password
        if apn == "auth.example", user != "user" || pass != "pass" {
            return try fail(QMIErrorCode.callFailed, 1016, (6, 29))
        }
        nextHandle = nextHandle &+ 0x11_1111
        let call = Call(handle: nextHandle, cid: cid, family: family, apn: apn, connection: c.id)
        calls.append(call)
        log("call up: handle 0x\(Text.hex(call.handle, 8)) IPv\(family) apn '\(apn)' on WDS client \(cid)")
        scheduleIndication(cid: cid, status: 2, reason: nil, family: family)
        if let ms = config.dropCallAfterMs {
            let handle = call.handle
            callTimers[handle] = loop.after(ms) { [unowned self] in
                self.locked {
                    self.callTimers.removeValue(forKey: handle)
                    if let victim = self.calls.first(where: { $0.handle == handle }) {
                        self.log("network drops call 0x\(Text.hex(handle, 8)) (fault)")
                        self.endCall(victim, notify: true, reason: self.config.dropReason)
                    }
                }
            }
        }
        var r = QMIMessage.reply(to: req)
        try r.set("Packet Data Handle", .uint(UInt64(call.handle)))
        return r
    }

    /// Packet service status indication to a WDS client, after the response latency so it
    /// follows the response the way it does on a real modem.
    func scheduleIndication(cid: UInt8, status: UInt64, reason: (UInt16, UInt16, Int16)?, family: UInt64) {
        loop.after(config.latencyMs + 1) { [unowned self] in
            self.locked { self.sendPacketStatus(cid: cid, status: status, reason: reason, family: family) }
        }
    }

    func sendPacketStatus(cid: UInt8, status: UInt64, reason: (UInt16, UInt16, Int16)?, family: UInt64) {
        guard allocated[QMIService.wds.rawValue]?.contains(cid) == true else { return }
        var ind = QMIMessage.indication(WDS.getPacketServiceStatus, clientID: cid)
        try? ind.set("Connection Status", .structure([.uint(status), .bool(false)]))
        if let (r, t, v) = reason {
            try? ind.set("Call End Reason", .uint(UInt64(r)))
            try? ind.set("Verbose Call End Reason", .structure([.uint(UInt64(t)), .int(Int64(v))]))
        }
        try? ind.set("IP Family", .uint(family))
        indicate(ind)
    }

    func endCall(_ call: Call, notify: Bool, reason: (UInt16, UInt16, Int16) = (2, 2, 202)) {
        calls.removeAll { $0 == call }
        if let t = callTimers.removeValue(forKey: call.handle) { loop.cancel(t) }
        log("call down: handle 0x\(Text.hex(call.handle, 8))")
        if notify { sendPacketStatus(cid: call.cid, status: 1, reason: reason, family: call.family) }
    }

    // MARK: faults triggered at run time

    /// The network drops every call now (packet service indications with `reason`).
    public func dropCalls(reason: (UInt16, UInt16, Int16)? = nil) {
        locked { for c in calls { endCall(c, notify: true, reason: reason ?? config.dropReason) } }
    }

    /// Modem reset: every client id and call is gone; clients get a CTL Sync indication.
    public func resetModem() {
        locked {
            log("modem reset (fault)")
            calls.removeAll()
            releaseAll(reason: "modem reset")
            registered = false
            simState = config.sim == .pinRequired ? .pinRequired : simState
            var ind = QMIMessage.indication(CTL.sync, clientID: 0)
            ind.transactionID = 0
            indicate(ind)
            scheduleRegistration()
        }
    }

    /// The device disappears (every socket closed and the socket file removed) and, when
    /// `backAfterMs` is given, comes back that much later with a freshly booted modem.
    public func disappear(backAfterMs: Int64?) {
        locked {
            log("device gone (fault)")
            gone = true
            for c in connections { closeConnection(c, why: "dropped: device gone") }
            for l in listeners {
                loop.unwatch(l.watch)
                _ = close(l.fd)
                if !l.path.hasPrefix("@") { _ = unlink(l.path) }
            }
            listeners.removeAll()
            calls.removeAll()
            allocated.removeAll()
            owners.removeAll()
            registered = false
            if let back = backAfterMs {
                faultTimers.append(loop.after(back) { [unowned self] in self.locked { self.comeBack() } })
            }
        }
    }

    func comeBack() {
        gone = false
        log("device back")
        for s in listenSpecs { try? openListener(s.path, proxy: s.proxy) }
        scheduleRegistration()
    }

    /// Changes registration at run time (loss of coverage and back).
    public func setRegistration(_ on: Bool) {
        locked {
            if let t = registrationTimer { loop.cancel(t) }
            registrationTimer = nil
            setRegistered(on)
        }
    }
}

extension QMIErrorCode {
    static let invalidServiceType: UInt16 = 0x1f
    static let informationUnavailable: UInt16 = 0x4a
    static let invalidArgument: UInt16 = 0x30
    static let invalidIpFamilyPreference: UInt16 = 0x40
    static let noFreeProfile: UInt16 = 0x1b
    static let extendedInternal: UInt16 = 0x51
}
