import Base
import CSystem
import DHCPClient
import LinkConfig
import QMICore
import QMIMessages

/// SIGINT/SIGTERM and fatal errors: calls stopped, client ids released, links removed —
/// bounded in time, whatever the modem does.
extension QMISession {
    // MARK: teardown

    /// SIGINT/SIGTERM: clean teardown. A second signal more than 500 ms later abandons the
    /// QMI part of it (the link configuration is still removed); duplicates within 500 ms
    /// (a terminal's Ctrl-C reaching a whole process group, timeout(1) forwarding) count as one.
    func stop(signal: String) {
        switch stopSignal(signal) {
        case .ignore: return
        case .begin: finish(ExitCode.ok)
        case .abandon:
            phase = .done
            abandonTeardown(calls.map { $0.pdn })
        }
    }

    /// Stop the calls, release every client id, remove the link configuration, exit.
    /// Bounded: a modem that no longer answers cannot keep qcm from exiting.
    func finish(_ code: Int32) {
        guard phase != .stopping && phase != .done else { return }
        let channelUp = phase != .idle && phase != .opening && phase != .waitingForDevice
        phase = .stopping
        exitCode = code
        cancelAllTimers()
        setState(nil, "stopping")
        for c in calls { deconfigure(c, release: true) }
        guard channelUp else { return finishTeardown(channelGone: true) }
        arm(.teardownLimit, config.timeouts.teardownLimit)
        pending = []
        if dialInFlight {
            // Wait for the Start Network answer so a call coming up now is stopped too.
            arm(.dialWait, 1000)
        } else {
            teardown()
        }
    }

    func teardown() {
        cancel(.dialWait)
        teardownStarted = true
        stopsOutstanding = 0
        for c in calls {
            for (f, h) in c.handles.pairs {
                log("requestDeactivateDefaultPDP WdsConnectionIPv\(f)Handle")
                stopCall(c, family: f, handle: h, timeout: config.timeouts.teardown)
                stopsOutstanding += 1
            }
            c.handles.removeAll()
            c.phase = .setup
        }
        if stopsOutstanding == 0 { releaseClients() }
    }


    func stopAnswered(_ result: Result<QMIMessage, QMIError>) {
        guard phase == .stopping, stopsOutstanding > 0 else { return }
        if case .failure(let e) = result { teardownProblems.append(e.description) }
        stopsOutstanding -= 1
        if stopsOutstanding == 0 { releaseClients() }
    }

    func releaseClients() {
        let held = clients
        clients.removeAll()
        releasesOutstanding = held.count
        if held.isEmpty { return finishTeardown(channelGone: false) }
        for (s, cid) in held {
            var r = CTL.ReleaseClientID.Request()
            r.release = CTL.ReleaseClientID.Release(service: s, clientID: cid)
            send(.release(s, cid), r, timeout: config.timeouts.teardown)
        }
    }


    func releaseAnswered(_ result: Result<QMIMessage, QMIError>) {
        guard phase == .stopping else { return }
        if case .failure(let e) = result { teardownProblems.append(e.description) }
        releasesOutstanding -= 1
        if releasesOutstanding <= 0 { finishTeardown(channelGone: false) }
    }

    func finishTeardown(channelGone: Bool) {
        guard phase == .stopping else { return }
        phase = .done
        cancelAllTimers()
        var code = exitCode ?? ExitCode.ok
        if !teardownProblems.isEmpty && !channelGone {
            log("warning: the modem did not confirm stopping the call or releasing the client ids (\(teardownProblems[0]))")
            if code == ExitCode.ok { code = ExitCode.notResponding }
        }
        out.append(.removeDataLinks(pdn: nil))
        out.append(.closeChannel)
        out.append(.exit(code))
    }

    /// `qcm -k N` for one PDN of several: its link removed, its call stopped, its WDS
    /// clients released; the other PDNs go on. The last one stopping stops qcm.
    func stopPDN(_ pdn: Int) {
        guard let c = call(pdn), c.phase != .stopped else { return }
        let others = calls.filter { $0 !== c && $0.phase != .stopped && $0.phase != .failed }
        guard !others.isEmpty, phase == .ready else { return stop(signal: "qcm -k \(pdn)") }
        log("qcm -k \(pdn): stopping PDN \(pdn); the other PDNs go on")
        cancel(.redial(pdn: pdn))
        deconfigure(c, release: true)
        for (f, h) in c.handles.pairs {
            log("requestDeactivateDefaultPDP WdsConnectionIPv\(f)Handle")
            stopCall(c, family: f, handle: h, timeout: config.timeouts.teardown)
        }
        c.handles.removeAll()
        for cid in c.clientIDs {
            clients.removeAll { $0.service == .wds && $0.cid == cid }
            var r = CTL.ReleaseClientID.Request()
            r.release = CTL.ReleaseClientID.Release(service: .wds, clientID: cid)
            send(.release(.wds, cid), r, timeout: config.timeouts.teardown)
        }
        c.forget()
        c.phase = .stopped
        out.append(.removeDataLinks(pdn: pdn))
        out.append(.pdnStopped(pdn: pdn))
    }
}
