import Base
import QMICore
import QMIMessages

/// Field status: the modem is asked once, then tells qcm what changes (NAS indications with
/// signal thresholds), so a connection that does nothing costs no wake-ups. Packet counters
/// and the RF band are asked only when `qcm status` asks the running qcm (`statusQuery`).
extension QMISession {
    /// Once set up: thresholds for signal reports, the indications wanted, and the first values.
    func watchNetwork() {
        if let n = clients.nas {
            send(.configSignal, Signal.thresholds(clientID: n))
            var r = NAS.RegisterIndications.Request(clientID: n)
            r.servingSystemEvents = true
            r.systemInfo = true
            r.signalInfo = true
            send(.registerIndications, r)
            send(.signalInfo, NAS.GetSignalInfo.Request(clientID: n))
            send(.systemInfo, NAS.GetSystemInfo.Request(clientID: n))
        }
        if let d = clients.dms {
            send(.imsi, DMS.UIMGetIMSI.Request(clientID: d))
            send(.iccid, DMS.UIMGetICCID.Request(clientID: d))
        }
    }

    /// Answers to `watchNetwork`'s requests. A modem that does not take the thresholds or the
    /// indications still gets its values shown as of the last answer; that is said once.
    func fieldAnswered(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        guard case .success(let m) = result else { return }
        let ok = m.result?.ok ?? false
        switch r {
        case .configSignal, .registerIndications:
            if !ok { log("the modem does not report \(r == .configSignal ? "signal changes" : "network changes") (\(failure(result))): qcm status shows them as last read") }
        case .signalInfo where ok:
            let v = NAS.GetSignalInfo.Response(m)
            updateField(Signal.fields(lte: v.lteSignalStrength, nr: v.n5gSignalStrength, nrRSRQ: v.n5gSignalStrengthExtended,
                                      wcdma: v.wcdmaSignalStrength, gsm: v.gsmSignalStrength))
        case .systemInfo where ok:
            let v = NAS.GetSystemInfo.Response(m)
            systemInfo(lte: v.lteSystemInfo, lteService: v.lteServiceStatus?.serviceStatus, nr: v.nr5gSystemInfo,
                       nrService: v.nr5gServiceStatus?.serviceStatus, wcdma: v.wcdmaSystemInfo)
        case .imsi where ok:
            updateField([(.imsi, DMS.UIMGetIMSI.Response(m).imsi.flatMap(Network.identifier))])
        case .iccid where ok:
            updateField([(.iccid, DMS.UIMGetICCID.Response(m).iccid.flatMap(Network.identifier))])
        default:
            break
        }
    }

    func signalIndication(_ m: QMIMessage) {
        let v = NAS.SignalInfo.Indication(m)
        updateField(Signal.fields(lte: v.lteSignalStrength, nr: v.n5gSignalStrength, nrRSRQ: v.n5gSignalStrengthExtended,
                                  wcdma: v.wcdmaSignalStrength, gsm: v.gsmSignalStrength))
    }

    func systemInfoIndication(_ m: QMIMessage) {
        let v = NAS.SystemInfo.Indication(m)
        systemInfo(lte: v.lteSystemInfo, lteService: v.lteServiceStatus?.serviceStatus, nr: v.nr5gSystemInfo,
                   nrService: v.nr5gServiceStatus?.serviceStatus, wcdma: v.wcdmaSystemInfo)
    }

    /// The serving cell as System Info describes it (LTE, else 5G, else WCDMA); values the
    /// modem marks invalid are not shown.
    func systemInfo(lte: NAS.LTESystemInfo?, lteService: NAS.ServiceStatus?, nr: NAS.NR5GSystemInfo?, nrService: NAS.ServiceStatus?,
                    wcdma: NAS.WCDMASystemInfo?) {
        if let l = lte, lteService != NAS.ServiceStatus.noneValue {
            updateField([(.tac, l.tacValid ? "\(l.tac)" : nil), (.cellID, l.cidValid ? "\(l.cid)" : nil), (.lac, nil)])
        } else if let n = nr, nrService != NAS.ServiceStatus.noneValue {
            updateField([(.tac, n.tacValid ? "\(n.tac)" : nil), (.cellID, n.cidValid ? "\(n.cid)" : nil), (.lac, nil)])
        } else if let w = wcdma {
            updateField([(.lac, w.lacValid ? "\(w.lac)" : nil), (.cellID, w.cidValid ? "\(w.cid)" : nil), (.tac, nil)])
        }
    }

    /// Registration, operator and cell from a serving-system response or indication.
    func fieldFromServingSystem(_ ss: NAS.GetServingSystem.ServingSystem, plmn: NAS.GetServingSystem.CurrentPLMN?,
                                roaming: NAS.RoamingIndicator?, lac: UInt16?, cid: UInt32?, tac: UInt16?) {
        var pairs: [(StatusKey, String?)] = [
            (.registration, ss.registrationState.name),
            (.roaming, roaming.map { $0 == .on ? "yes" : "no" }),
            (.rat, Network.rat(ss.radioInterfaces)),
        ]
        if let p = plmn {
            pairs.append((.mccMnc, Network.plmn(mcc: p.mcc, mnc: p.mnc, threeDigits: false)))
            pairs.append((.operatorName, Network.operatorName(p.description)))
        }
        if let t = tac, t != 0xffff { pairs.append((.tac, "\(t)")) }
        if let l = lac, l != 0xffff { pairs.append((.lac, "\(l)")) }
        if let c = cid, c != 0xffff_ffff { pairs.append((.cellID, "\(c)")) }
        updateField(pairs)
    }

    // MARK: qcm status asking the running qcm

    /// Packet counters (per connected PDN) and the RF band, read now; the answer goes out
    /// as `.statusReply` once every request is answered (or timed out, 2 s at most).
    func statusQuery(_ token: Int) {
        guard isReady else { return emit(.statusReply(token, [])) }
        var asked = 0
        for c in calls where c.phase == .connected {
            guard let cid = c.clientIDs.first else { continue }
            var r = WDS.GetPacketStatistics.Request(clientID: cid)
            r.mask = WDS.PacketStatisticsMask(rawValue: 0x3c3)     // packets and bytes, both ways
            send(.packetStats(pdn: c.pdn, query: token), r, timeout: 2000)
            asked += 1
        }
        if let n = clients.nas {
            send(.rfBand(query: token), NAS.GetRFBandInformation.Request(clientID: n), timeout: 2000)
            asked += 1
        }
        queryStarted(token, requests: asked)
    }

    func statusAnswered(_ r: Request, _ result: Result<QMIMessage, QMIError>) {
        switch r {
        case let .packetStats(pdn, query):
            var results: [StatusValue] = []
            if case .success(let m) = result, m.result?.ok == true {
                let v = WDS.GetPacketStatistics.Response(m)
                func add(_ k: StatusKey, _ x: UInt64?) { if let x { results.append(StatusValue(pdn: pdn, key: k, value: "\(x)")) } }
                func add32(_ k: StatusKey, _ x: UInt32?) { if let x, x != 0xffff_ffff { add(k, UInt64(x)) } }
                add(.txBytes, v.txBytesOk)
                add(.rxBytes, v.rxBytesOk)
                add32(.txPackets, v.txPacketsOk)
                add32(.rxPackets, v.rxPacketsOk)
                add32(.txDropped, v.txPacketsDropped)
                add32(.rxDropped, v.rxPacketsDropped)
            }
            queryAnswered(query, results)
        case .rfBand(let query):
            var results: [StatusValue] = []
            if case .success(let m) = result, m.result?.ok == true {
                let v = NAS.GetRFBandInformation.Response(m)
                if let b = v.extendedList?.first {
                    results = [StatusValue(pdn: nil, key: .band, value: b.activeBandClass.name),
                               StatusValue(pdn: nil, key: .rfChannel, value: "\(b.activeChannel)")]
                } else if let b = v.list?.first {
                    results = [StatusValue(pdn: nil, key: .band, value: b.activeBandClass.name),
                               StatusValue(pdn: nil, key: .rfChannel, value: "\(b.activeChannel)")]
                }
            }
            queryAnswered(query, results)
        default:
            return
        }
    }
}
