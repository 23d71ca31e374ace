import Base
import CSystem
import QMICore
import QMIMessages

/// The simulated services: each request is read and answered through the generated typed
/// views of the message catalogue, so the simulator and qcm share one definition of every
/// TLV.
extension QMISimulator {
    func handle(_ req: QMIMessage, on c: Connection) -> QMIMessage {
        if req.service != .ctl {
            guard allocated[req.service.rawValue]?.contains(req.clientID) == true else {
                return QMIMessage.reply(to: req, result: .failure(QMIProtocolError.invalidClientId.rawValue))
            }
        }
        let r: QMITypedMessage
        switch req.service {
        case .ctl: r = ctl(req, c)
        case .dms: r = dms(req)
        case .nas: r = nas(req)
        case .uim: r = uim(req)
        case .wda: r = wda(req)
        case .wds: r = wds(req, c)
        default: return QMIMessage.reply(to: req, result: .failure(QMIProtocolError.invalidQmiCommand.rawValue))
        }
        if let p = r.problem {
            log("cannot answer \(req.displayName): \(p.description)")
            return QMIMessage.reply(to: req, result: .failure(QMIProtocolError.internalValue.rawValue))
        }
        return r.message
    }

    /// The answer to a request the service does not know, or cannot do now.
    func refuse(_ req: QMIMessage, _ code: UInt16) -> Reply { Reply(QMIMessage.reply(to: req, result: .failure(code))) }

    /// A bare response: result only, or a failure code.
    struct Reply: QMITypedMessage {
        var message: QMIMessage
        var problem: QMIError? { nil }
        init(_ m: QMIMessage) { message = m }
    }

    static let supportedServices: [(UInt8, UInt16, UInt16)] = [
        (0x00, 1, 5), (0x01, 1, 67), (0x02, 1, 14), (0x03, 1, 25), (0x04, 1, 12), (0x0b, 1, 48), (0x1a, 1, 17),
    ]

    // MARK: CTL

    func ctl(_ req: QMIMessage, _ c: Connection) -> QMITypedMessage {
        switch req.messageID {
        case CTL.Sync.id:
            releaseAll(reason: "CTL Sync")
            return CTL.Sync.Response(replyingTo: req)
        case CTL.GetVersionInfo.id:
            var r = CTL.GetVersionInfo.Response(replyingTo: req)
            r.serviceList = Self.supportedServices.map { CTL.GetVersionInfo.ServiceListEntry(service: QMIService($0.0), major: $0.1, minor: $0.2) }
            return r
        case CTL.AllocateClientID.id:
            let svc = CTL.AllocateClientID.Request(req).service?.rawValue ?? 0
            let cid: UInt8
            switch allocateClient(svc, owner: c) {
            case .success(let id): cid = id
            case .failure(let code): return refuse(req, code.value)
            }
            var r = CTL.AllocateClientID.Response(replyingTo: req)
            r.allocation = CTL.AllocateClientID.Allocation(service: QMIService(svc), clientID: cid)
            return r
        case CTL.ReleaseClientID.id:
            guard let info = CTL.ReleaseClientID.Request(req).release,
                  allocated[info.service.rawValue]?.contains(info.clientID) == true else {
                return refuse(req, QMIProtocolError.invalidClientId.rawValue)
            }
            release(service: info.service.rawValue, cid: info.clientID)
            var r = CTL.ReleaseClientID.Response(replyingTo: req)
            r.release = info
            return r
        case CTL.SetDataFormat.id:
            var r = CTL.SetDataFormat.Response(replyingTo: req)
            r.protocolValue = CTL.SetDataFormat.Request(req).protocolValue ?? .`8023`
            return r
        case CTL.InternalProxyOpen.id:
            guard c.viaProxy else { return refuse(req, QMIProtocolError.invalidQmiCommand.rawValue) }
            c.proxyOpened = true
            log("connection \(c.id): qmi-proxy open for \(CTL.InternalProxyOpen.Request(req).devicePath ?? "?")")
            return Reply(QMIMessage.reply(to: req))
        default:
            return refuse(req, QMIProtocolError.invalidQmiCommand.rawValue)
        }
    }

    struct Refusal: Error { let value: UInt16 }

    /// A client id of `svc` for connection `c`, or the QMI error a modem gives.
    func allocateClient(_ svc: UInt8, owner c: Connection) -> Result<UInt8, Refusal> {
        guard Self.supportedServices.contains(where: { $0.0 == svc && svc != 0 }) else {
            return .failure(Refusal(value: QMIProtocolError.invalidServiceType.rawValue))
        }
        var used = allocated[svc] ?? []
        guard let cid = (1...UInt8(min(254, config.clientIDsPerService))).first(where: { !used.contains($0) }) else {
            return .failure(Refusal(value: QMIProtocolError.clientIdsExhausted.rawValue))
        }
        used.insert(cid)
        allocated[svc] = used
        owners[SimConfig.key(QMIService(svc), UInt16(cid))] = c.id
        return .success(cid)
    }

    func release(service: UInt8, cid: UInt8) {
        allocated[service]?.remove(cid)
        owners.removeValue(forKey: SimConfig.key(QMIService(service), UInt16(cid)))
        if service == QMIService.nas.rawValue {
            nasRegistrations.removeValue(forKey: cid)
            rsrpThresholds.removeValue(forKey: cid)
        }
        if service == QMIService.wds.rawValue {
            ipFamily.removeValue(forKey: cid)
            muxBindings.removeValue(forKey: cid)
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

    func dms(_ req: QMIMessage) -> QMITypedMessage {
        switch req.messageID {
        case DMS.GetManufacturer.id:
            var r = DMS.GetManufacturer.Response(replyingTo: req)
            r.manufacturer = config.manufacturer
            return r
        case DMS.GetModel.id:
            var r = DMS.GetModel.Response(replyingTo: req)
            r.model = config.model
            return r
        case DMS.GetRevision.id:
            var r = DMS.GetRevision.Response(replyingTo: req)
            r.revision = config.revision
            return r
        case DMS.GetIDs.id:
            var r = DMS.GetIDs.Response(replyingTo: req)
            r.imei = config.imei
            r.esn = "0"
            return r
        case DMS.UIMGetIMSI.id:
            guard simState == .ready else { return refuse(req, QMIProtocolError.uimUninitialized.rawValue) }
            var r = DMS.UIMGetIMSI.Response(replyingTo: req)
            r.imsi = config.imsi
            return r
        case DMS.UIMGetICCID.id:
            guard simState != .absent else { return refuse(req, QMIProtocolError.uimUninitialized.rawValue) }
            var r = DMS.UIMGetICCID.Response(replyingTo: req)
            r.iccid = config.iccid
            return r
        case DMS.GetOperatingMode.id:
            var r = DMS.GetOperatingMode.Response(replyingTo: req)
            r.mode = operatingMode
            r.hardwareRestricted = false
            return r
        case DMS.SetOperatingMode.id:
            let mode = DMS.SetOperatingMode.Request(req).mode ?? .online
            if mode == .reset {
                log("DMS Set Operating Mode reset: the modem reboots")
                loop.after(config.latencyMs + 5) { [unowned self] in self.locked { self.resetModem() } }
                return DMS.SetOperatingMode.Response(replyingTo: req)
            }
            operatingMode = mode
            log("operating mode \(mode.name)")
            if mode == .online { scheduleRegistration() } else { setRegistered(false) }
            return DMS.SetOperatingMode.Response(replyingTo: req)
        case DMS.UIMGetPINStatus.id:
            guard simState != .absent else { return refuse(req, QMIProtocolError.uimUninitialized.rawValue) }
            var r = DMS.UIMGetPINStatus.Response(replyingTo: req)
            r.pin1Status = DMS.UIMGetPINStatus.PIN1Status(status: DMS.PinStatus(rawValue: dmsPinStatus),
                                                          verifyRetriesLeft: UInt8(pinRetriesLeft), unblockRetriesLeft: UInt8(pukRetriesLeft))
            return r
        case DMS.UIMVerifyPIN.id:
            let pin = DMS.UIMVerifyPIN.Request(req).info?.pin ?? ""
            let (code, retries) = verifyPIN(pin)
            var r = DMS.UIMVerifyPIN.Response(replyingTo: req, result: code.map { .failure($0) } ?? .success)
            if let (v, u) = retries { r.retries = DMS.UIMVerifyPIN.Retries(verifyRetriesLeft: v, unblockRetriesLeft: u) }
            return r
        default:
            return refuse(req, QMIProtocolError.invalidQmiCommand.rawValue)
        }
    }

    var dmsPinStatus: UInt8 {
        switch simState {
        case .ready: return config.sim == .pinRequired ? 2 : 3    // verified / disabled
        case .pinRequired: return 1
        case .pukBlocked: return 4
        case .absent: return 0
        }
    }

    /// A PIN attempt: the failure code (nil: accepted) and the retries left to report.
    func verifyPIN(_ pin: String) -> (UInt16?, (UInt8, UInt8)?) {
        switch simState {
        case .absent:
            return (QMIProtocolError.noSim.rawValue, nil)
        case .pukBlocked:
            return (QMIProtocolError.pinBlocked.rawValue, (0, UInt8(pukRetriesLeft)))
        case .ready:
            return (QMIProtocolError.noEffect.rawValue, nil)
        case .pinRequired:
            if pin.equals(config.pin) {
                simState = .ready
                pinRetriesLeft = config.pinRetries
                log("PIN verified")
                scheduleRegistration()
                return (nil, (UInt8(pinRetriesLeft), UInt8(pukRetriesLeft)))
            }
            pinRetriesLeft = max(0, pinRetriesLeft - 1)
            if pinRetriesLeft == 0 { simState = .pukBlocked }
            log("wrong PIN, \(pinRetriesLeft) attempt(s) left")
            return (pinRetriesLeft == 0 ? QMIProtocolError.pinBlocked.rawValue : QMIProtocolError.incorrectPin.rawValue, (UInt8(pinRetriesLeft), UInt8(pukRetriesLeft)))
        }
    }

    // MARK: UIM

    func uim(_ req: QMIMessage) -> QMITypedMessage {
        switch req.messageID {
        case UIM.GetCardStatus.id:
            var r = UIM.GetCardStatus.Response(replyingTo: req)
            r.cardStatus = cardStatus
            return r
        case UIM.VerifyPIN.id:
            let pin = UIM.VerifyPIN.Request(req).info?.pin ?? ""
            let (code, retries) = verifyPIN(pin)
            var r = UIM.VerifyPIN.Response(replyingTo: req, result: code.map { .failure($0) } ?? .success)
            if let (v, u) = retries { r.retries = UIM.VerifyPIN.Retries(verifyRetriesLeft: v, unblockRetriesLeft: u) }
            return r
        default:
            return refuse(req, QMIProtocolError.invalidQmiCommand.rawValue)
        }
    }

    var cardStatus: UIM.CardStatus {
        let (appState, pinState): (UIM.ApplicationState, UIM.PinState) = {
            switch simState {
            case .ready: return (.ready, config.sim == .pinRequired ? .enabledVerified : .disabled)
            case .pinRequired: return (.pin1OrUpinPinRequired, .enabledNotVerified)
            case .pukBlocked: return (.puk1OrUpinPukRequired, .blocked)
            case .absent: return (.unknown, .notInitialized)
            }
        }()
        let app = UIM.Application(
            type: .usim, state: appState, personalizationState: 0, personalizationFeature: 0, personalizationRetries: 0,
            personalizationUnblockRetries: 0,
            applicationIdentifier: [0xa0, 0, 0, 0, 0x87, 0x10, 0x02, 0xff, 0x86, 0xff, 0xff, 0x89, 0xff, 0xff, 0xff, 0xff],
            upinReplacesPIN1: false, pin1State: pinState, pin1Retries: UInt8(pinRetriesLeft), puk1Retries: UInt8(pukRetriesLeft),
            pin2State: .enabledNotVerified, pin2Retries: 3, puk2Retries: 10)
        let card = UIM.Card(cardState: simState == .absent ? .absent : .present, upinState: .notInitialized, upinRetries: 0,
                            upukRetries: 0, errorCode: .unknown, applications: simState == .absent ? [] : [app])
        return UIM.CardStatus(indexGWPrimary: simState == .absent ? 0xffff : 0, index1XPrimary: 0xffff, indexGWSecondary: 0xffff,
                              index1XSecondary: 0xffff, cards: [card])
    }

    // MARK: NAS

    func scheduleRegistration() {
        if let t = registrationTimer { loop.cancel(t) }
        registrationTimer = nil
        guard simState == .ready, operatingMode == .online, !config.neverRegister else { return }
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
            var ind = NAS.GetServingSystem.Indication(clientID: cid)
            let ss = servingSystem
            ind.servingSystem = ss.system
            ind.roamingIndicator = ss.roaming
            ind.dataServiceCapability = ss.capabilities
            ind.currentPLMN = ss.plmn
            if on {
                ind.lteTAC = config.tac
                ind.cid3GPP = config.cellID
            }
            indicate(ind.message)
        }
    }

    var lteSignal: NAS.LTESignalStrength {
        NAS.LTESignalStrength(rssi: Int8(truncatingIfNeeded: config.rssi), rsrq: Int8(truncatingIfNeeded: config.rsrq),
                              rsrp: Int16(truncatingIfNeeded: config.rsrp), snr: Int16(truncatingIfNeeded: config.snr))
    }

    /// The operator name as the modem puts it on the wire, in the configured coding. The
    /// bytes travel in a String: each coding here is valid UTF-8 (GSM 7-bit packing of
    /// plain names stays below 0x80 only by luck, so it is checked).
    var operatorDescription: String {
        switch config.operatorEncoding {
        case .ascii: return config.operatorName
        case .ucs2:
            return String(decoding: config.operatorName.utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }, as: UTF8.self)
        case .gsm7:
            let packed = QMISimulator.gsm7Pack(config.operatorName)
            return packed.allSatisfy({ $0 < 0x80 }) ? String(decoding: packed, as: UTF8.self) : config.operatorName
        }
    }

    /// GSM 7-bit packing of plain ASCII letters, digits, space and "-" (what operator names use).
    static func gsm7Pack(_ s: String) -> [UInt8] {
        let septets = s.utf8.map { c -> UInt8 in c == 0x40 ? 0 : c == 0x5f ? 0x11 : c & 0x7f }
        var out: [UInt8] = []
        var acc: UInt32 = 0, bits = 0
        for s in septets {
            acc |= UInt32(s) << bits
            bits += 7
            while bits >= 8 {
                out.append(UInt8(acc & 0xff))
                acc >>= 8
                bits -= 8
            }
        }
        if bits > 0 { out.append(UInt8(acc & 0xff)) }
        return out
    }

    var servingSystem: (system: NAS.GetServingSystem.ServingSystem, roaming: NAS.RoamingIndicator?,
                        capabilities: [NAS.DataCapability]?, plmn: NAS.GetServingSystem.CurrentPLMN?) {
        let ps: NAS.AttachState = registered ? .attached : .detached
        let system = NAS.GetServingSystem.ServingSystem(
            registrationState: registered ? .registered : .notRegisteredSearching, csAttachState: ps, psAttachState: ps,
            selectedNetwork: registered ? .`3gpp` : .unknown,
            radioInterfaces: registered ? [NAS.RadioInterface(rawValue: Int8(truncatingIfNeeded: config.radioInterface))] : [])
        guard registered else { return (system, nil, nil, nil) }
        return (system, config.roaming ? .on : .off, [.lte],
                NAS.GetServingSystem.CurrentPLMN(mcc: config.mcc, mnc: config.mnc, description: operatorDescription))
    }

    func nas(_ req: QMIMessage) -> QMITypedMessage {
        switch req.messageID {
        case NAS.GetServingSystem.id:
            var r = NAS.GetServingSystem.Response(replyingTo: req)
            let ss = servingSystem
            r.servingSystem = ss.system
            r.roamingIndicator = ss.roaming
            r.dataServiceCapability = ss.capabilities
            r.currentPLMN = ss.plmn
            if registered {
                r.lteTAC = config.tac
                r.cid3GPP = config.cellID
            }
            return r
        case NAS.RegisterIndications.id:
            let q = NAS.RegisterIndications.Request(req)
            var now = nasRegistrations[req.clientID] ?? (false, false)
            if let s = q.signalInfo { now.signal = s }
            if let s = q.systemInfo { now.systemInfo = s }
            nasRegistrations[req.clientID] = now
            return NAS.RegisterIndications.Response(replyingTo: req)
        case NAS.ConfigSignalInfo.id:
            rsrpThresholds[req.clientID] = NAS.ConfigSignalInfo.Request(req).rsrpThreshold ?? []
            return NAS.ConfigSignalInfo.Response(replyingTo: req)
        case NAS.GetRFBandInformation.id:
            guard registered else { return refuse(req, QMIProtocolError.informationUnavailable.rawValue) }
            var r = NAS.GetRFBandInformation.Response(replyingTo: req)
            r.list = [NAS.GetRFBandInformation.ListEntry(radioInterface: .lte, activeBandClass: NAS.ActiveBand(rawValue: config.band),
                                                         activeChannel: UInt16(truncatingIfNeeded: config.earfcn))]
            return r
        case NAS.GetSystemInfo.id:
            var r = NAS.GetSystemInfo.Response(replyingTo: req)
            let status: NAS.ServiceStatus = registered ? .available : .noneValue
            let lte = config.radioInterface == 8
            if lte {
                r.lteServiceStatus = NAS.LTEServiceStatus(serviceStatus: status, trueServiceStatus: status, preferredDataPath: registered)
            } else {
                r.nr5gServiceStatus = NAS.NR5GServiceStatus(serviceStatus: status, trueServiceStatus: status, preferredDataPath: registered)
            }
            if registered {
                let mcc = Text.decimal(config.mcc, width: 3), mnc = Text.decimal(config.mnc, width: 2)
                let roam: NAS.RoamingStatus = config.roaming ? .on : .off
                if lte {
                    r.lteSystemInfo = NAS.LTESystemInfo(
                        domainValid: true, domain: .ps, serviceCapabilityValid: true, serviceCapability: .csPs,
                        roamingStatusValid: true, roamingStatus: roam, forbiddenValid: true, forbidden: false, lacValid: false,
                        lac: 0, cidValid: true, cid: config.cellID, registrationRejectInfoValid: false,
                        registrationRejectDomain: .noneValue, registrationRejectCause: 0, networkIDValid: true, mcc: mcc, mnc: mnc,
                        tacValid: true, tac: config.tac)
                } else {
                    r.nr5gSystemInfo = NAS.NR5GSystemInfo(
                        domainValid: true, domain: .ps, serviceCapabilityValid: true, serviceCapability: .csPs,
                        roamingStatusValid: true, roamingStatus: roam, forbiddenValid: true, forbidden: false, lacValid: false,
                        lac: 0, cidValid: true, cid: config.cellID, registrationRejectInfoValid: false,
                        registrationRejectDomain: .noneValue, registrationRejectCause: 0, networkIDValid: true, mcc: mcc, mnc: mnc,
                        tacValid: true, tac: config.tac)
                }
            }
            return r
        case NAS.GetSignalInfo.id:
            guard registered else { return refuse(req, QMIProtocolError.informationUnavailable.rawValue) }
            var r = NAS.GetSignalInfo.Response(replyingTo: req)
            r.lteSignalStrength = lteSignal
            if let nr = config.nr {
                r.n5gSignalStrength = NAS.N5GSignalStrength(rsrp: nr.rsrp, snr: nr.snr)
                r.n5gSignalStrengthExtended = nr.rsrq
            }
            return r
        default:
            return refuse(req, QMIProtocolError.invalidQmiCommand.rawValue)
        }
    }

    // MARK: WDA

    func wda(_ req: QMIMessage) -> QMITypedMessage {
        switch req.messageID {
        case WDA.SetDataFormat.id:
            let q = WDA.SetDataFormat.Request(req)
            if let e = q.endpointInfo, UInt32(e.endpointType.rawValue) != config.endpoint.type || e.interfaceNumber != config.endpoint.interface {
                log("Set Data Format: endpoint \(e.endpointType.rawValue)/\(e.interfaceNumber) is not this modem's (\(config.endpoint.type)/\(config.endpoint.interface))")
                return refuse(req, QMIProtocolError.invalidArgument.rawValue)
            }
            if let p = q.linkLayerProtocol {
                guard p == .`8023` || p == .rawIp else { return refuse(req, QMIProtocolError.invalidArgument.rawValue) }
                linkProtocol = p
            }
            // Aggregation protocols the modem does not speak are not applied: it answers with
            // what it runs, and a client that does not check gets no traffic.
            func applied(_ p: WDA.AggregationProtocol?, _ current: WDA.AggregationProtocol) -> WDA.AggregationProtocol {
                guard let p else { return current }
                return p == .disabled || config.qmapVersions.contains(p) ? p : .disabled
            }
            ulAggregation = applied(q.uplinkDataAggregationProtocol, ulAggregation)
            dlAggregation = applied(q.downlinkDataAggregationProtocol, dlAggregation)
            if let size = q.downlinkDataAggregationMaxSize { dlMaxSize = min(max(size, 1504), config.qmapMaxSize) }
            return dataFormat(WDA.SetDataFormat.Response(replyingTo: req))
        case WDA.GetDataFormat.id:
            var r = WDA.GetDataFormat.Response(replyingTo: req)
            r.qosFormat = false
            r.linkLayerProtocol = linkProtocol
            r.uplinkDataAggregationProtocol = ulAggregation
            r.downlinkDataAggregationProtocol = dlAggregation
            return r
        default:
            return refuse(req, QMIProtocolError.invalidQmiCommand.rawValue)
        }
    }

    func dataFormat(_ response: WDA.SetDataFormat.Response) -> WDA.SetDataFormat.Response {
        var r = response
        r.qosFormat = false
        r.linkLayerProtocol = linkProtocol
        r.uplinkDataAggregationProtocol = ulAggregation
        r.downlinkDataAggregationProtocol = dlAggregation
        if dlAggregation != .disabled {
            r.downlinkDataAggregationMaxDatagrams = 10
            r.downlinkDataAggregationMaxSize = dlMaxSize
            r.uplinkDataAggregationMaxDatagrams = 11
            r.uplinkDataAggregationMaxSize = 4096
            r.downlinkMinimumPadding = 0
        }
        return r
    }

    // MARK: WDS

    func wds(_ req: QMIMessage, _ c: Connection) -> QMITypedMessage {
        let cid = req.clientID
        switch req.messageID {
        case WDS.SetEventReport.id:
            return WDS.SetEventReport.Response(replyingTo: req)
        case WDS.BindMuxDataPort.id:
            // The endpoint must be the modem's own data interface (what WDA was told, and
            // the USB interface the QMI port is on), the mux id one QMAP can carry.
            let q = WDS.BindMuxDataPort.Request(req)
            guard let mux = q.muxID, mux >= 1, mux <= 0xfe else { return refuse(req, QMIProtocolError.invalidArgument.rawValue) }
            if let e = q.endpointInfo {
                guard UInt32(e.endpointType.rawValue) == config.endpoint.type, e.interfaceNumber == config.endpoint.interface else {
                    log("Bind Mux Data Port: endpoint \(e.endpointType.rawValue)/\(e.interfaceNumber) is not this modem's (\(config.endpoint.type)/\(config.endpoint.interface))")
                    return refuse(req, QMIProtocolError.invalidArgument.rawValue)
                }
            }
            guard !calls.contains(where: { $0.cid == cid }) else { return refuse(req, QMIProtocolError.invalidTransition.rawValue) }
            muxBindings[cid] = mux
            log("WDS client \(cid) bound to mux id 0x\(Text.hex(mux))")
            return WDS.BindMuxDataPort.Response(replyingTo: req)
        case WDS.SetIPFamily.id:
            let f = WDS.SetIPFamily.Request(req).preference ?? .ipv4
            guard f == .ipv4 || f == .ipv6 || f == .unspecified else { return refuse(req, QMIProtocolError.invalidIpFamilyPreference.rawValue) }
            ipFamily[cid] = UInt64(f.rawValue)
            return WDS.SetIPFamily.Response(replyingTo: req)
        case WDS.GetProfileSettings.id:
            guard let i = profileIndex(WDS.GetProfileSettings.Request(req).profileIdentifier) else { return profileError(req) }
            let p = profiles[i - 1]
            var r = WDS.GetProfileSettings.Response(replyingTo: req)
            r.profileName = ""
            r.pdpType = WDS.PdpType(rawValue: UInt8(truncatingIfNeeded: p.pdpType))
            r.apnName = p.apn
            r.username = p.username
            r.password = p.password
            r.authentication = WDS.Authentication(rawValue: UInt8(truncatingIfNeeded: p.auth))
            if config.profilesCarryAPNType { r.apnTypeMask = WDS.ApnTypeMask(rawValue: p.apnTypeMask) }
            return r
        case WDS.ModifyProfile.id:
            let q = WDS.ModifyProfile.Request(req)
            guard let i = profileIndex(q.profileIdentifier) else { return profileError(req) }
            var p = profiles[i - 1]
            if let v = q.apnName { p.apn = v }
            if let v = q.username { p.username = v }
            if let v = q.password { p.password = v }
            if let v = q.authentication { p.auth = UInt64(v.rawValue) }
            if let v = q.pdpType { p.pdpType = UInt64(v.rawValue) }
            if let v = q.apnTypeMask, config.profilesCarryAPNType { p.apnTypeMask = v.rawValue }
            profiles[i - 1] = p
            log("profile \(i) set to apn '\(p.apn)'" + (config.profilesCarryAPNType ? ", APN type mask 0x\(Text.hex(p.apnTypeMask))" : ""))
            return WDS.ModifyProfile.Response(replyingTo: req)
        case WDS.CreateProfile.id:
            guard profiles.count < 16 else { return refuse(req, QMIProtocolError.noFreeProfile.rawValue) }
            let q = WDS.CreateProfile.Request(req)
            var p = SimConfig.Profile()
            if let v = q.apnName { p.apn = v }
            if let v = q.username { p.username = v }
            if let v = q.password { p.password = v }
            if let v = q.authentication { p.auth = UInt64(v.rawValue) }
            if let v = q.pdpType { p.pdpType = UInt64(v.rawValue) }
            if let v = q.apnTypeMask, config.profilesCarryAPNType { p.apnTypeMask = v.rawValue }
            profiles.append(p)
            log("profile \(profiles.count) created with apn '\(p.apn)'")
            var r = WDS.CreateProfile.Response(replyingTo: req)
            r.profileIdentifier = WDS.ProfileIdentifier(profileType: .`3gpp`, profileIndex: UInt8(profiles.count))
            return r
        case WDS.GetPacketServiceStatus.id:
            let family = ipFamily[cid] ?? 4
            let up = calls.contains { $0.family == family && (config.callsOutliveClients || $0.cid == cid) }
            var r = WDS.GetPacketServiceStatus.Response(replyingTo: req)
            r.connectionStatus = up ? .connected : .disconnected
            return r
        case WDS.StartNetwork.id:
            return startNetwork(WDS.StartNetwork.Request(req), c)
        case WDS.StopNetwork.id:
            let handle = WDS.StopNetwork.Request(req).packetDataHandle ?? 0
            if handle == 0xffff_ffff {
                // Global handle: stop every call of this client's family (left-over calls included).
                let family = ipFamily[cid] ?? 4
                let victims = calls.filter { $0.family == family }
                if victims.isEmpty { return refuse(req, QMIProtocolError.noEffect.rawValue) }
                for v in victims { endCall(v, notify: v.cid != cid, reason: (2, 2, 202)) }
            } else {
                guard let call = calls.first(where: { $0.handle == handle }) else { return refuse(req, QMIProtocolError.invalidHandle.rawValue) }
                endCall(call, notify: false)
                scheduleIndication(cid: call.cid, status: .disconnected, reason: (2, 2, 202), family: call.family)
            }
            return WDS.StopNetwork.Response(replyingTo: req)
        case WDS.GetRuntimeSettings.id:
            let family = ipFamily[cid] ?? 4
            guard let call = calls.first(where: { $0.cid == cid || (config.callsOutliveClients && $0.family == family) }) else {
                return refuse(req, QMIProtocolError.outOfCall.rawValue)
            }
            var r = WDS.GetRuntimeSettings.Response(replyingTo: req)
            r.apnName = call.apn
            r.mtu = config.mtu
            r.ipFamily = WDS.IpFamily(rawValue: UInt8(call.family))
            let a = config.addressing(profile: call.profile, generation: call.generation)
            if call.family == 4 {
                r.ipv4Address = a.ipv4Address
                r.ipv4Gateway = a.ipv4Gateway
                r.ipv4SubnetMask = IPAddress.mask(ofPrefix: config.ipv4Prefix)
                if config.ipv4DNS.count > 0 { r.ipv4PrimaryDNS = config.ipv4DNS[0] }
                if config.ipv4DNS.count > 1 { r.ipv4SecondaryDNS = config.ipv4DNS[1] }
            } else {
                r.ipv6Address = WDS.GetRuntimeSettings.IPv6Address(address: a.ipv6Address, prefixLength: UInt8(config.ipv6Prefix))
                r.ipv6Gateway = WDS.GetRuntimeSettings.IPv6Gateway(address: a.ipv6Gateway, prefixLength: UInt8(config.ipv6Prefix))
                if config.ipv6DNS.count > 0 { r.ipv6PrimaryDNS = config.ipv6DNS[0] }
                if config.ipv6DNS.count > 1 { r.ipv6SecondaryDNS = config.ipv6DNS[1] }
            }
            return r
        case WDS.GetPacketStatistics.id:
            // The counters of this client's calls (a modem counts per data session).
            var t: (txBytes: UInt64, rxBytes: UInt64, txPackets: UInt32, rxPackets: UInt32) = (0, 0, 0, 0)
            for call in calls where call.cid == cid {
                if let c = traffic[call.handle] {
                    t.txBytes += c.txBytes; t.rxBytes += c.rxBytes; t.txPackets &+= c.txPackets; t.rxPackets &+= c.rxPackets
                }
            }
            var r = WDS.GetPacketStatistics.Response(replyingTo: req)
            r.txBytesOk = t.txBytes
            r.rxBytesOk = t.rxBytes
            r.txPacketsOk = t.txPackets
            r.rxPacketsOk = t.rxPackets
            r.txPacketsDropped = 0xffff_ffff              // "not available", as modems say
            return r
        case WDS.GetDataBearerTechnology.id:
            guard registered else { return refuse(req, QMIProtocolError.outOfCall.rawValue) }
            var r = WDS.GetDataBearerTechnology.Response(replyingTo: req)
            r.current = WDS.DataBearerTechnology(rawValue: 10)
            return r
        case WDS.GetCurrentDataBearerTechnology.id:
            guard registered else { return refuse(req, QMIProtocolError.outOfCall.rawValue) }
            var r = WDS.GetCurrentDataBearerTechnology.Response(replyingTo: req)
            r.current = WDS.GetCurrentDataBearerTechnology.Current(networkType: .`3gpp`, ratMask: 0x20, soMask: 0)
            return r
        default:
            return refuse(req, QMIProtocolError.invalidQmiCommand.rawValue)
        }
    }

    func profileIndex(_ id: WDS.ProfileIdentifier?) -> Int? {
        guard let i = id.map({ Int($0.profileIndex) }), i >= 1, i <= profiles.count else { return nil }
        return i
    }

    /// What a modem says for a profile that does not exist: "context not defined".
    func profileError(_ req: QMIMessage) -> QMITypedMessage {
        var r = WDS.GetProfileSettings.Response(replyingTo: req, result: .failure(QMIProtocolError.extendedInternal.rawValue))
        r.extendedErrorCode = .`3gppContextNotDefined`
        return r
    }

    func startNetwork(_ q: WDS.StartNetwork.Request, _ c: Connection) -> QMITypedMessage {
        let req = q.message
        let cid = req.clientID
        startAttempts += 1
        func fail(_ code: UInt16, _ reason: UInt16?, _ verbose: (UInt16, Int16)?) -> WDS.StartNetwork.Response {
            var r = WDS.StartNetwork.Response(replyingTo: req, result: .failure(code))
            if let reason { r.callEndReason = WDS.CallEndReason(rawValue: reason) }
            if let (t, v) = verbose { r.verboseCallEndReason = WDS.VerboseCallEndReason(type: WDS.VerboseType(rawValue: t), reason: v) }
            return r
        }
        guard simState == .ready else { return fail(QMIProtocolError.callFailed.rawValue, 3, (3, 2001)) }
        guard registered else { return fail(QMIProtocolError.callFailed.rawValue, 3, (3, 2001)) }
        let family = UInt64(q.ipFamilyPreference?.rawValue ?? UInt8(ipFamily[cid] ?? 4))
        if let existing = calls.first(where: { $0.cid == cid && $0.family == family }) {
            var r = WDS.StartNetwork.Response(replyingTo: req, result: .failure(QMIProtocolError.noEffect.rawValue))
            r.packetDataHandle = existing.handle
            return r
        }
        if let rej = config.rejectCall, config.rejectCallTimes < 0 || rejectedCalls < config.rejectCallTimes {
            rejectedCalls += 1
            log("rejecting call attempt \(startAttempts) (fault)")
            return fail(QMIProtocolError.callFailed.rawValue, rej.reason, (rej.verboseType, rej.verboseReason))
        }
        var index = Int(q.profileIndex3GPP ?? 1)
        if config.apnTypeInStartNetwork {
            switch bringUp(q) {
            case .failure(let refusal):
                return fail(refusal.value, nil, nil)
            case .success(let chosen?):
                index = chosen
            case .success(nil):
                break
            }
        }
        guard index >= 1 && index <= profiles.count else {
            // A profile that does not exist: what a modem says for it.
            return fail(QMIProtocolError.invalidProfile.rawValue, nil, nil)
        }
        let profile = profiles[index - 1]
        let apn = q.apn ?? profile.apn
        // An authenticating APN needs the right credentials.
        let user = q.username ?? profile.username
        let pass = q.password ?? profile.password
        if apn.equals("auth.example"), !user.equals("user") || !pass.equals("pass") {
            return fail(QMIProtocolError.callFailed.rawValue, 1016, (6, 29))
        }
        // One mux carries one PDN: a call on another profile through a mux in use is refused.
        let mux = muxBindings[cid] ?? nil
        if let m = mux, let other = calls.first(where: { $0.mux == m && $0.profile != index }) {
            log("Start Network: mux 0x\(Text.hex(m)) already carries profile \(other.profile)")
            return fail(QMIProtocolError.invalidArgument.rawValue, nil, nil)
        }
        nextHandle = nextHandle &+ 0x11_1111
        var call = Call(handle: nextHandle, cid: cid, family: family, apn: apn, connection: c.id, profile: index,
                        mux: mux)
        if family == 6 {
            if config.ipv6PrefixRotates { call.generation = ipv6Calls }
            ipv6Calls += 1
        }
        calls.append(call)
        if family == 6 {
            let up = call
            loop.after(config.latencyMs + 5) { [unowned self] in self.locked { self.dataPlane?.ipv6CallUp(up) } }
        }
        log("call up: handle 0x\(Text.hex(call.handle, 8)) IPv\(family) apn '\(apn)' profile \(index) on WDS client \(cid)")
        scheduleIndication(cid: cid, status: .connected, reason: nil, family: family)
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
        var r = WDS.StartNetwork.Response(replyingTo: req)
        r.packetDataHandle = call.handle
        return r
    }

    /// An SDX35's Start Network: the APN type (0x38: 1 internet, 2 IMS), and a call brought up
    /// by APN name (0x3C) or by APN type (0x3D) rather than by profile (0x31). Returns the
    /// profile the call takes (nil: the one Start Network names), or the error the modem
    /// gives. The modem's rules here are the simulator's reading: one way to bring a call up
    /// at a time, by name with an APN, by type with a type a profile has.
    func bringUp(_ q: WDS.StartNetwork.Request) -> Result<Int?, Refusal> {
        let byName = q.bringUpByAPNName == true
        let byType = (q.bringUpByAPNType ?? 0) != 0
        if let t = q.apnType, t.rawValue > 2 {
            log("Start Network: APN type \(t.rawValue) is not one this modem knows")
            return .failure(Refusal(value: QMIProtocolError.invalidArgument.rawValue))
        }
        if (byName && byType) || ((byName || byType) && q.profileIndex3GPP != nil) {
            log("Start Network: a call is brought up by profile, by APN name or by APN type, one at a time")
            return .failure(Refusal(value: QMIProtocolError.invalidArgument.rawValue))
        }
        if byName {
            guard let apn = q.apn, !apn.isEmpty else {
                log("Start Network: bring-up by APN name without an APN")
                return .failure(Refusal(value: QMIProtocolError.missingArgument.rawValue))
            }
            let i = profiles.firstIndex { Text.equalsIgnoringCase($0.apn, apn) }
            log("Start Network by APN name '\(apn)'" + (i.map { ": profile \($0 + 1)" } ?? ": no profile has it, the network is asked for it"))
            return .success((i ?? 0) + 1)
        }
        if byType {
            guard let t = q.apnType, t.rawValue == 1 || t.rawValue == 2 else {
                log("Start Network: bring-up by APN type without an APN type (TLV 0x38)")
                return .failure(Refusal(value: QMIProtocolError.missingArgument.rawValue))
            }
            guard let i = profiles.firstIndex(where: { $0.apnTypeMask & UInt64(t.rawValue) != 0 }) else {
                log("Start Network: no profile has APN type \(t.rawValue == 1 ? "internet" : "IMS")")
                return .failure(Refusal(value: QMIProtocolError.invalidProfile.rawValue))
            }
            log("Start Network by APN type \(t.rawValue == 1 ? "internet" : "IMS"): profile \(i + 1)")
            return .success(i + 1)
        }
        return .success(nil)
    }

    /// Packet service status indication to a WDS client, after the response latency so it
    /// follows the response the way it does on a real modem.
    func scheduleIndication(cid: UInt8, status: WDS.ConnectionStatus, reason: (UInt16, UInt16, Int16)?, family: UInt64) {
        loop.after(config.latencyMs + 1) { [unowned self] in
            self.locked { self.sendPacketStatus(cid: cid, status: status, reason: reason, family: family) }
        }
    }

    func sendPacketStatus(cid: UInt8, status: WDS.ConnectionStatus, reason: (UInt16, UInt16, Int16)?, family: UInt64) {
        guard allocated[QMIService.wds.rawValue]?.contains(cid) == true else { return }
        var ind = WDS.GetPacketServiceStatus.Indication(clientID: cid)
        ind.connectionStatus = WDS.GetPacketServiceStatus.ConnectionStatus(status: status, reconfigurationRequired: false)
        if let (r, t, v) = reason {
            ind.callEndReason = WDS.CallEndReason(rawValue: r)
            ind.verboseCallEndReason = WDS.VerboseCallEndReason(type: WDS.VerboseType(rawValue: t), reason: v)
        }
        ind.ipFamily = WDS.IpFamily(rawValue: UInt8(family))
        if silentDrops { return log("packet service indication to client \(cid) suppressed (fault)") }
        indicate(ind.message)
    }

    func endCall(_ call: Call, notify: Bool, reason: (UInt16, UInt16, Int16) = (2, 2, 202)) {
        calls.removeAll { $0 == call }
        traffic.removeValue(forKey: call.handle)
        if let t = callTimers.removeValue(forKey: call.handle) { loop.cancel(t) }
        log("call down: handle 0x\(Text.hex(call.handle, 8))")
        if notify { sendPacketStatus(cid: call.cid, status: .disconnected, reason: reason, family: call.family) }
    }
}
