import Base
import QMICore
import QMIMessages

/// SIGINT/SIGTERM and fatal errors (SessionCore.finish): the calls stopped, every client id
/// released — bounded in time, whatever the modem does. And `qcm -k N`: one PDN of several.
extension QMISession {
    func dialWaitOver() {
        guard let t = teardown else { return }
        stopCalls(t)
    }

    /// Stop Network for every call that is up; then the client ids go.
    func stopCalls(_ t: Teardown) {
        cancel(.qmi(.dialWait))
        t.callsStopped = true
        t.stopsOutstanding = 0
        for c in calls {
            for (f, h) in c.handles.pairs {
                log("requestDeactivateDefaultPDP WdsConnection\(f.label)Handle")
                stopCall(c, family: f, handle: h, timeout: config.timeouts.teardown)
                t.stopsOutstanding += 1
            }
            c.handles.removeAll()
            c.phase = .setup
        }
        if t.stopsOutstanding == 0 { releaseClients(t) }
    }

    /// A Start Network answered while the teardown was on: what came up is stopped too.
    func stopCallsStartedDuringTeardown(_ c: Call, _ t: Teardown) {
        c.phase = .setup
        if t.callsStopped {
            // Too late for the teardown's own round: stop it now, without waiting.
            for (f, h) in c.handles.pairs { stopCall(c, family: f, handle: h, timeout: config.timeouts.teardown) }
            c.handles.removeAll()
        } else if !dialInFlight {
            stopCalls(t)
        }
    }

    func stopAnswered(_ result: Result<QMIMessage, QMIError>) {
        guard let t = teardown, t.stopsOutstanding > 0 else { return }
        if case .failure(let e) = result { t.problems.append(e.description) }
        t.stopsOutstanding -= 1
        if t.stopsOutstanding == 0 { releaseClients(t) }
    }

    func releaseClients(_ t: Teardown) {
        let held = clients.all
        clients.removeAll()
        t.releasesOutstanding = held.count
        if held.isEmpty { return finishTeardown(channelGone: false) }
        for (s, cid) in held {
            var r = CTL.ReleaseClientID.Request()
            r.release = CTL.ReleaseClientID.Release(service: s, clientID: cid)
            send(.release(s, cid), r, timeout: config.timeouts.teardown)
        }
    }

    func releaseAnswered(_ result: Result<QMIMessage, QMIError>) {
        guard let t = teardown, let left = t.releasesOutstanding else { return }
        if case .failure(let e) = result { t.problems.append(e.description) }
        t.releasesOutstanding = left - 1
        if left - 1 <= 0 { finishTeardown(channelGone: false) }
    }

    /// `qcm -k N` for one PDN of several: its link removed, its call stopped, its WDS
    /// clients released; the other PDNs go on. The last one stopping stops qcm.
    func stopPDN(_ pdn: Int) {
        guard let c = call(pdn), c.phase != .stopped else { return }
        let others = calls.filter { $0 !== c && $0.isActive }
        guard !others.isEmpty, isReady else { return stop(signal: "qcm -k \(pdn)") }
        log("qcm -k \(pdn): stopping PDN \(pdn); the other PDNs go on")
        cancel(.redial(pdn: pdn))
        deconfigure(c, release: true)
        for (f, h) in c.handles.pairs {
            log("requestDeactivateDefaultPDP WdsConnection\(f.label)Handle")
            stopCall(c, family: f, handle: h, timeout: config.timeouts.teardown)
        }
        c.handles.removeAll()
        for cid in c.clientIDs {
            clients.remove(.wds, cid)
            var r = CTL.ReleaseClientID.Request()
            r.release = CTL.ReleaseClientID.Release(service: .wds, clientID: cid)
            send(.release(.wds, cid), r, timeout: config.timeouts.teardown)
        }
        c.forget()
        c.phase = .stopped
        resetBridge(pdn)
        emit(.removeDataLinks(pdn: pdn))
        emit(.pdnStopped(pdn: pdn))
    }
}
