import Base
import CSystem
import QMICore
import QMIMessages

/// Faults switched on at run time, by tests or by qmi-sim's timers.
extension QMISimulator {
    /// The network drops every call now (packet service indications with `reason`).
    public func dropCalls(reason: (UInt16, UInt16, Int16)? = nil) {
        locked { for c in calls { endCall(c, notify: true, reason: reason ?? config.dropReason) } }
    }

    /// The network drops every call and the indications saying so are lost.
    public func dropCallsSilently() {
        locked {
            silentDrops = true
            for c in calls { endCall(c, notify: true, reason: config.dropReason) }
            silentDrops = false
        }
    }

    /// Sends every connection a frame cut short: its QMUX length promises more than comes,
    /// so a reader that trusts it swallows whatever follows — with `thenIndication`, a
    /// serving-system indication that does follow.
    public func sendTruncatedFrame(thenIndication: Bool = false) {
        locked {
            var ind = NAS.GetServingSystem.Indication(clientID: 0xff)
            let ss = servingSystem
            ind.servingSystem = ss.system
            ind.currentPLMN = ss.plmn
            let whole = ind.message.encode()
            for c in connections where !c.gobiNet || c.bound?.service == QMIService.nas.rawValue {
                send(bytes: Array(whole.prefix(14)), message: nil, to: c)
                if thenIndication { send(bytes: whole, message: ind.message, to: c) }
            }
            log("sent a truncated frame (fault)")
        }
    }

    /// `service` stops answering until the modem is reset (the stall that otherwise needs a
    /// power cycle).
    public func hang(_ service: QMIService) {
        locked {
            hungServices.insert(service.rawValue)
            log("\(service.name) hangs until reset (fault)")
        }
    }

    /// The modem takes a client id away (CTL Revoke Client ID indication to its owner).
    public func revoke(_ service: QMIService, _ cid: UInt8) {
        locked {
            guard allocated[service.rawValue]?.contains(cid) == true else { return }
            let owner = owners[SimConfig.key(service, UInt16(cid))]
            release(service: service.rawValue, cid: cid)
            var ind = CTL.RevokeClientID.Indication(clientID: 0)
            ind.revoked = CTL.RevokeClientID.Revoked(service: service, clientID: cid)
            if let c = connections.first(where: { $0.id == owner }) { send(ind.message, to: c) }
            log("revoked client \(service.name) \(cid) (fault)")
        }
    }

    /// Modem reset: every client id and call is gone; clients get a CTL Sync indication.
    public func resetModem() {
        locked {
            log("modem reset")
            calls.removeAll()
            releaseAll(reason: "modem reset")
            // The data format is back to the firmware's default.
            linkProtocol = WDA.LinkLayerProtocol(rawValue: UInt32(truncatingIfNeeded: config.linkProtocol))
            ulAggregation = .disabled
            dlAggregation = .disabled
            muxBindings.removeAll()
            hungServices.removeAll()
            registered = false
            operatingMode = .online
            simState = config.sim == .pinRequired ? .pinRequired : simState
            indicate(CTL.Sync.Indication(clientID: 0).message)
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
                if !l.path.begins(with: "@") { _ = unlink(l.path) }
            }
            listeners.removeAll()
            calls.removeAll()
            allocated.removeAll()
            owners.removeAll()
            hungServices.removeAll()
            registered = false
            if let back = backAfterMs {
                faultTimers.append(loop.after(back) { [unowned self] in self.locked { self.comeBack() } })
            }
        }
    }

    func comeBack() {
        gone = false
        log("device back")
        for s in listenSpecs { try? openListener(s.path, proxy: s.proxy, gobiNet: s.gobiNet) }
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

    // MARK: the network changing

    /// The LTE signal moves. Like a modem, the simulator sends a Signal Info indication to
    /// the NAS clients that registered for it — to one that set RSRP thresholds only when the
    /// change crosses one of them.
    public func setSignal(rsrp: Int64, rsrq: Int64? = nil, snr: Int64? = nil, rssi: Int64? = nil) {
        locked {
            let old = Int16(truncatingIfNeeded: config.rsrp), new = Int16(truncatingIfNeeded: rsrp)
            config.rsrp = rsrp
            if let v = rsrq { config.rsrq = v }
            if let v = snr { config.snr = v }
            if let v = rssi { config.rssi = v }
            guard registered else { return }
            for (cid, reg) in nasRegistrations where reg.signal {
                let thresholds = rsrpThresholds[cid] ?? []
                let crossed = thresholds.isEmpty || thresholds.contains { t in (old > t && new <= t) || (old < t && new >= t) }
                guard crossed else { continue }
                var ind = NAS.SignalInfo.Indication(clientID: cid)
                ind.lteSignalStrength = lteSignal
                if let nr = config.nr {
                    ind.n5gSignalStrength = NAS.N5GSignalStrength(rsrp: nr.rsrp, snr: nr.snr)
                    ind.n5gSignalStrengthExtended = nr.rsrq
                }
                indicate(ind.message)
            }
        }
    }

    /// The modem moves to another cell: a System Info indication to the NAS clients that
    /// registered for it, a Serving System indication to every NAS client.
    public func changeCell(tac: UInt16, cellID: UInt32) {
        locked {
            config.tac = tac
            config.cellID = cellID
            guard registered, let nas = allocated[QMIService.nas.rawValue] else { return }
            for cid in nas.sorted() {
                if nasRegistrations[cid]?.systemInfo == true {
                    var ind = NAS.SystemInfo.Indication(clientID: cid)
                    let mcc = Text.decimal(config.mcc, width: 3), mnc = Text.decimal(config.mnc, width: 2)
                    ind.lteServiceStatus = NAS.LTEServiceStatus(serviceStatus: .available, trueServiceStatus: .available, preferredDataPath: true)
                    ind.lteSystemInfo = NAS.LTESystemInfo(
                        domainValid: true, domain: .ps, serviceCapabilityValid: true, serviceCapability: .csPs,
                        roamingStatusValid: true, roamingStatus: config.roaming ? .on : .off, forbiddenValid: true, forbidden: false,
                        lacValid: false, lac: 0, cidValid: true, cid: cellID, registrationRejectInfoValid: false,
                        registrationRejectDomain: .noneValue, registrationRejectCause: 0, networkIDValid: true, mcc: mcc, mnc: mnc,
                        tacValid: true, tac: tac)
                    indicate(ind.message)
                }
                var ss = NAS.GetServingSystem.Indication(clientID: cid)
                let s = servingSystem
                ss.servingSystem = s.system
                ss.roamingIndicator = s.roaming
                ss.dataServiceCapability = s.capabilities
                ss.currentPLMN = s.plmn
                ss.lteTAC = tac
                ss.cid3GPP = cellID
                indicate(ss.message)
            }
        }
    }
}
