import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
import QMISim
import TestSupport

/// The dial lifecycle against the simulator, qcm running as its own process.
final class DialTests: XCTestCase {
    func assertCleanTeardown(_ rig: DaemonRig, file: StaticString = #filePath, line: UInt = #line) {
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log, file: file, line: line)
        XCTAssertTrue(rig.waitSim { $0.isClean }, "client ids released, no call left: \(rig.sim.allocatedClients) calls \(rig.sim.activeCalls)", file: file, line: line)
    }

    func testNormalDialIPv4() throws {
        let rig = try DaemonRig()
        rig.start(["-s", "3gnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.sim.activeCallFamilies, [4])
        XCTAssertEqual(rig.sim.profile1.apn, "3gnet", "profile 1 was modified to the requested APN")
        let log = rig.log
        for line in ["Get clientWDS = ", "requestBaseBandVersion EC25EFAR06A11M4G", "requestGetSIMStatus SIMStatus: SIM_READY",
                     "requestGetProfile[1] cmnet///0", "requestSetProfile[1] 3gnet///0",
                     "requestRegistrationState2 MCC: 460, MNC: 1, PS: Attached, DataCap: LTE",
                     "requestSetupDataCall WdsConnectionIPv4Handle: 0x"] {
            XCTAssertTrue(log.contains(line), "missing '\(line)' in:\n\(log)")
        }
        let names = rig.requests
        XCTAssertEqual(names.first, "CTL Sync")
        // Client ids are allocated concurrently: all five requests go out before the first answer.
        let entries = rig.sim.transcript.entries
        func isAlloc(_ e: Transcript.Entry) -> Bool { e.message?.service == .ctl && e.message?.messageID == CTL.AllocateClientID.spec.id }
        let allocs = entries.enumerated().filter { $0.element.incoming && isAlloc($0.element) }
        let firstAnswer = entries.firstIndex { !$0.incoming && isAlloc($0) }!
        XCTAssertEqual(allocs.count, 5)
        XCTAssertTrue(allocs.allSatisfy { $0.offset < firstAnswer }, "allocations were sent one after another")
        // The profile is not rewritten when it already matches.
        assertCleanTeardown(rig)
        let stopIdx = rig.requests.firstIndex(of: "WDS Stop Network")
        let releaseIdx = rig.requests.firstIndex(of: "CTL Release Client ID")
        XCTAssertNotNil(stopIdx)
        XCTAssertLessThan(stopIdx!, releaseIdx!, "stop the call, then release the clients")
        XCTAssertEqual(rig.requests.filter { $0 == "CTL Release Client ID" }.count, 5)
        XCTAssertTrue(rig.log.contains("requestDeactivateDefaultPDP WdsConnectionIPv4Handle"), rig.log)
    }

    func testRawIPSwitchLogFileAndPidFile() throws {
        // qmi_wwan in 802.3 mode offers qmi/raw_ip: qcm switches it to raw-IP and asks WDA for raw-IP.
        let rig = try DaemonRig(rawIP: false)
        let logFile = rig.root + "/qcm-f.log"
        rig.start(["-f", logFile])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(try String(contentsOfFile: rig.root + "/sys/class/net/wwan0/qmi/raw_ip", encoding: .utf8).prefix(1), "Y")
        XCTAssertTrue(rig.log.contains("wwan0: switched the driver to raw-IP"), rig.log)
        XCTAssertEqual(rig.sim.currentLinkProtocol, 2)
        let pid = try String(contentsOfFile: rig.runFile("pid"), encoding: .utf8)
        XCTAssertEqual(pid, "\(rig.pid!)\n")
        assertCleanTeardown(rig)
        let file = try String(contentsOfFile: logFile, encoding: .utf8)
        XCTAssertTrue(file.contains("] connected") && file.contains("SIGTERM: stopping"), "-f appends the same log:\n\(file)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: rig.runFile("pid")), "pid file removed on exit")
    }

    func testMatchingProfileIsNotModified() throws {
        let rig = try DaemonRig()
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.sim.transcript.count(WDS.ModifyProfile.spec), 0)
        assertCleanTeardown(rig)
    }

    func testIPv6AndDualStack() throws {
        let rig = try DaemonRig()
        rig.start(["-s", "3gnet", "-4", "-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.sim.activeCallFamilies.sorted(), [4, 6])
        XCTAssertEqual(rig.sim.transcript.requests(CTL.AllocateClientID.spec).filter { (try? $0.value("Service")?.uint) == 1 }.count, 2,
                       "one WDS client per IP family")
        XCTAssertEqual(rig.sim.transcript.count(WDS.SetIPFamily.spec), 1)
        XCTAssertTrue(rig.log.contains("WdsConnectionIPv6Handle"), rig.log)
        assertCleanTeardown(rig)
        XCTAssertEqual(rig.sim.transcript.count(WDS.StopNetwork.spec), 2)
        let v6 = try DaemonRig()
        v6.start(["-6"])
        XCTAssertTrue(v6.waitLog("] connected"), v6.log)
        XCTAssertEqual(v6.sim.activeCallFamilies, [6])
        assertCleanTeardown(v6)
    }

    func testPINRequired() throws {
        // Right PIN: verified, then registration follows.
        let ok = try DaemonRig { $0.sim = .pinRequired }
        ok.start(["-p", "1234"])
        XCTAssertTrue(ok.waitLog("] connected"), ok.log)
        XCTAssertTrue(ok.log.contains("SIM PIN accepted"), ok.log)
        XCTAssertFalse(ok.log.contains("1234"), "the PIN never appears in the log")
        assertCleanTeardown(ok)

        // No PIN given.
        let none = try DaemonRig { $0.sim = .pinRequired }
        none.start([])
        XCTAssertEqual(none.waitExit(), 4)
        XCTAssertTrue(none.log.contains("the SIM asks for its PIN: give it with -p PIN"), none.log)
        XCTAssertTrue(none.waitSim { $0.isClean }, "clients released after a fatal error")

        // Wrong PIN: one attempt, reported, not retried.
        let wrong = try DaemonRig { $0.sim = .pinRequired; $0.pinRetries = 3 }
        wrong.start(["-p", "0000"])
        XCTAssertEqual(wrong.waitExit(), 4)
        XCTAssertTrue(wrong.log.contains("wrong SIM PIN (IncorrectPin), 2 attempt(s) left; qcm does not retry it"), wrong.log)
        XCTAssertEqual(wrong.sim.pinRetries, 2)
        XCTAssertTrue(wrong.waitSim { $0.isClean })

        // Last attempt: refused without trying.
        let last = try DaemonRig { $0.sim = .pinRequired; $0.pinRetries = 1 }
        last.start(["-p", "1234"])
        XCTAssertEqual(last.waitExit(), 4)
        XCTAssertTrue(last.log.contains("only 1 PIN attempt left: qcm will not risk blocking the SIM"), last.log)
        XCTAssertEqual(last.sim.transcript.count(UIM.VerifyPIN.spec), 0)
        XCTAssertEqual(last.sim.pinRetries, 1)

        // PUK-blocked.
        let puk = try DaemonRig { $0.sim = .pukBlocked }
        puk.start(["-p", "1234"])
        XCTAssertEqual(puk.waitExit(), 4)
        XCTAssertTrue(puk.log.contains("needs its PUK"), puk.log)
    }

    func testSIMAbsent() throws {
        let rig = try DaemonRig { $0.sim = .absent }
        rig.start([])
        XCTAssertEqual(rig.waitExit(), 4)
        XCTAssertTrue(rig.log.contains("no SIM card"), rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    func testRegistrationDelayedWaitsForTheIndication() throws {
        let rig = try DaemonRig { $0.registrationDelayMs = 1500 }
        rig.start([])
        XCTAssertTrue(rig.waitLog("waiting for the modem to attach"), rig.log)
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        // Driven by the NAS indication: one serving-system query, no polling loop.
        XCTAssertEqual(rig.sim.transcript.count(NAS.GetServingSystem.spec), 1)
        let start = rig.sim.transcript.times(WDS.StartNetwork.spec).first ?? 0
        XCTAssertGreaterThanOrEqual(start, 1500, "dialed only after registration")
        assertCleanTeardown(rig)
    }

    func testCallRejectedThenGivesUpWithMaxRetries() throws {
        let rig = try DaemonRig { $0.rejectCall = (1013, 6, 27) }
        rig.start(["--max-retries", "2"])
        XCTAssertEqual(rig.waitExit(timeout: 20), 6)
        XCTAssertTrue(rig.log.contains("CallFailed (call end reason gsm-wcdma-unknown-apn (1013), verbose 3gpp/unknown-apn (6/27))"), rig.log)
        XCTAssertTrue(rig.log.contains("giving up after 2 failed dial(s)"), rig.log)
        XCTAssertEqual(rig.sim.transcript.count(WDS.StartNetwork.spec), 2)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    func testNetworkDropRedialsWithBackoff() throws {
        let rig = try DaemonRig { $0.dropCallAfterMs = 100; $0.rejectCall = (1003, 6, 38); $0.rejectCallTimes = 0 }
        rig.start([])
        // Dropped after 100 ms each time: the first drop is redialed at once, the next ones
        // (within --stable-after of the one before) after 1 s, 2 s, 4 s.
        XCTAssertTrue(rig.waitSim(20) { $0.transcript.count(WDS.StartNetwork.spec) >= 5 }, rig.log)
        let t = rig.sim.transcript.times(WDS.StartNetwork.spec)
        let gaps = zip(t.dropFirst(), t).map { $0 - $1 }
        XCTAssertLessThan(gaps[0], 1000, "the first drop is redialed at once: \(gaps)")
        XCTAssertGreaterThanOrEqual(gaps[1], 1000)
        XCTAssertGreaterThan(gaps[2], gaps[1] * 3 / 2, "backoff grows: \(gaps)")
        XCTAssertGreaterThan(gaps[3], gaps[2] * 3 / 2, "backoff grows: \(gaps)")
        XCTAssertTrue(rig.log.contains("the network ended the IPv4 call (call end reason gsm-wcdma-network-end (1003), verbose 3gpp/regular-deactivation (6/36))"), rig.log)
        assertCleanTeardown(rig)
    }

    func testBackoffResetsOnceConnected() throws {
        let rig = try DaemonRig { $0.rejectCall = (1013, 6, 27); $0.rejectCallTimes = 2 }
        rig.start(["--stable-after", "1"])
        XCTAssertTrue(rig.waitLog("] connected", timeout: 20), rig.log)
        usleep(1_200_000)              // the call stays up past --stable-after
        rig.sim.dropCalls()
        XCTAssertTrue(rig.waitSim(10) { $0.transcript.count(WDS.StartNetwork.spec) == 4 }, rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        // Rejected twice (1 s, 2 s), connected long enough, dropped: redialed at once, not after 4 s.
        XCTAssertEqual(rig.log.components(separatedBy: "redialing in 1000 ms").count - 1, 1, rig.log)
        XCTAssertTrue(rig.log.contains("redialing in 2000 ms"), rig.log)
        XCTAssertTrue(rig.log.contains("redialing at once"), rig.log)
        XCTAssertFalse(rig.log.contains("redialing in 4000 ms"), rig.log)
        assertCleanTeardown(rig)
    }

    /// The first redial after the network ends a stable call goes out at once: no Start
    /// Network waits for a backoff timer (scripts/bench measures the drop-to-connected time).
    func testRedialAtOnceAfterADrop() throws {
        let rig = try DaemonRig()
        rig.start(["--stable-after", "0"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.sim.dropCalls()
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        let afterDrop = rig.log.components(separatedBy: "the network ended the IPv4 call").last ?? ""
        XCTAssertTrue(afterDrop.contains("redialing at once"), rig.log)
        XCTAssertFalse(afterDrop.contains("redialing in"), rig.log)
        assertCleanTeardown(rig)
    }

    func testModemNotAnswering() throws {
        let rig = try DaemonRig { $0.neverAnswer.insert(SimConfig.key(CTL.Sync.spec)) }
        rig.start([])
        XCTAssertEqual(rig.waitExit(timeout: 20), 5)
        XCTAssertTrue(rig.log.contains("the modem does not answer on"), rig.log)
        XCTAssertTrue(rig.log.contains("CTL Sync: no response from the modem within 5000 ms"), rig.log)
    }

    func testMalformedFramesAreIgnored() throws {
        let rig = try DaemonRig { $0.malformedFor.insert(SimConfig.key(DMS.GetIDs.spec)) }
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected", timeout: 25), rig.log)
        XCTAssertTrue(rig.log.contains("ignored malformed frame from the modem"), rig.log)
        assertCleanTeardown(rig)
    }

    func testModemResetRedials() throws {
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.sim.resetModem()
        XCTAssertTrue(rig.waitLog("modem reset: every QMI client id was dropped"), rig.log)
        XCTAssertTrue(rig.waitSim(15) { $0.activeCalls == 1 }, rig.log)
        XCTAssertEqual(rig.sim.transcript.count(CTL.Sync.spec), 2)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        assertCleanTeardown(rig)
    }

    func testDeviceGoneAndBack() throws {
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.sim.disappear(backAfterMs: 1500)
        XCTAssertTrue(rig.waitLog("QMI channel lost"), rig.log)
        XCTAssertTrue(rig.waitSim(20) { $0.activeCalls == 1 }, "redialed after the device came back:\n\(rig.log)")
        assertCleanTeardown(rig)
    }

    func testSIGTERMMidDial() throws {
        // The call comes up while qcm is stopping: qcm waits for it and stops it.
        let rig = try DaemonRig { $0.latencyFor[SimConfig.key(WDS.StartNetwork.spec)] = 300; $0.callsOutliveClients = true }
        rig.start([])
        XCTAssertTrue(rig.waitSim { $0.transcript.count(WDS.StartNetwork.spec) == 1 })
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim(5) { $0.isClean }, "calls \(rig.sim.activeCalls) clients \(rig.sim.allocatedClients)")
        XCTAssertEqual(rig.requests.filter { $0 == "CTL Release Client ID" }.count, 5)
        XCTAssertEqual(rig.sim.transcript.count(WDS.StopNetwork.spec), 1)
        // A modem that never answers Start Network does not hold qcm for more than its bound.
        let stuck = try DaemonRig { $0.neverAnswer.insert(SimConfig.key(WDS.StartNetwork.spec)) }
        stuck.start([])
        XCTAssertTrue(stuck.waitSim { $0.transcript.count(WDS.StartNetwork.spec) == 1 })
        stuck.signal(SIGTERM)
        XCTAssertEqual(stuck.waitExit(timeout: 5), 0, stuck.log)
        XCTAssertTrue(stuck.waitSim(3) { $0.allocatedClientCount == 0 }, "clients released even so")
    }

    func testStaleCallAtStartIsStopped() throws {
        // A previous instance killed with -9: its call (autoconnect-like) is still up.
        let rig = try DaemonRig { $0.callsOutliveClients = true }
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.signal(SIGKILL)
        _ = rig.waitExit()
        XCTAssertEqual(rig.sim.activeCalls, 1, "kill -9 leaves the call up")
        rig.start([])
        XCTAssertTrue(rig.waitLog("already up, probably left by a qcm that was killed; stopping it"), rig.log)
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.sim.activeCalls, 1, "exactly one call: the new one")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
        XCTAssertTrue(rig.waitSim { $0.activeCalls == 0 && $0.allocatedClientCount == 0 },
                      "calls \(rig.sim.activeCalls) clients \(rig.sim.allocatedClients)\n\(rig.sim.transcript.requestNames)\n\(rig.log)")
    }

    func testSecondInstanceIsRefusedAndKillStopsTheFirst() throws {
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let second = qcm(rig.baseArgs)
        XCTAssertEqual(second.status, 7, second.output)
        XCTAssertTrue(second.output.contains("another qcm (pid \(rig.pid!)) is already using"), second.output)
        // qcm status sees it.
        let st = qcm(["status", "--run-dir", rig.root + "/run"])
        XCTAssertEqual(st.status, 0, st.output)
        XCTAssertTrue(st.output.contains("PDN 1: connected"), st.output)
        XCTAssertTrue(st.output.contains("revision:  EC25EFAR06A11M4G"), st.output)
        let js = qcm(["status", "--json", "--run-dir", rig.root + "/run"])
        let obj = try XCTUnwrap((try? JSONSerialization.jsonObject(with: Data(js.output.utf8))) as? [[String: Any]]).first
        XCTAssertTrue((obj?["state"] as? String)?.hasPrefix("connected") == true, js.output)
        XCTAssertEqual(obj?["running"] as? Bool, true)
        XCTAssertEqual(obj?["pdn"] as? Int, 1)
        XCTAssertNotNil(obj?["uptime_seconds"] as? Int)
        // -k 1 stops it cleanly.
        let k = qcm(["-k", "1", "--run-dir", rig.root + "/run"])
        XCTAssertEqual(k.status, 0, k.output)
        XCTAssertEqual(rig.waitExit(), 0)
        XCTAssertTrue(rig.waitSim { $0.isClean })
        XCTAssertFalse(FileManager.default.fileExists(atPath: rig.runFile("status")), "status file removed")
        XCTAssertEqual(qcm(["-k", "1", "--run-dir", rig.root + "/run"]).status, 1)
        XCTAssertEqual(qcm(["status", "--run-dir", rig.root + "/run"]).status, 3)
    }

    func testVerboseTraceIsQuectelStyleAndMasksSecrets() throws {
        let rig = try DaemonRig { c in
            c.sim = .pinRequired
            c.pin = "9753"              // digits that no IMSI, ICCID or IMEI of the simulator contains
        }
        rig.start(["-v", "-p", "9753", "-s", "auth.example", "user", "pass", "pap"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let log = rig.log
        XCTAssertTrue(log.contains("] 01 0b 00 00 00 00 00 01 27 00 00 00\n"), "the Sync request in hex")
        XCTAssertTrue(log.contains("] TransactionId: 01 QMICTLType: 0027 QMICTL_SYNC_REQ Length: 0000"), log)
        XCTAssertTrue(log.contains("QMIWDS_START_NETWORK_INTERFACE_REQ"), log)
        XCTAssertTrue(log.contains("[0x14] APN: \"auth.example\""), log)
        XCTAssertTrue(log.contains("[0x18] Password: \"****\""), log)
        XCTAssertFalse(log.contains("\"pass\""), "password masked in the decoded lines")
        XCTAssertFalse(log.contains("70 61 73 73"), "password masked in the hex lines too")
        XCTAssertFalse(log.contains("39 37 35 33"), "PIN masked in the hex lines")
        // The trace decodes with qcm decode.
        let d = qcm(["decode", "--quectel"], stdin: log)
        XCTAssertEqual(d.status, 0)
        XCTAssertTrue(d.output.contains("QMIWDS_START_NETWORK_INTERFACE_RESP"), d.output)
        assertCleanTeardown(rig)
    }

    /// -p qmi-proxy: the channel is libqmi's @qmi-proxy, opened with Internal Proxy Open.
    func testThroughQmiProxy() throws {
        guard isRoot else { throw XCTSkip("needs root: a private network namespace for @qmi-proxy") }
        let rig = try DaemonRig()
        let ns = try TestNamespace("qcm-proxy")
        try ns.inside { try rig.sim.listen("@qmi-proxy", proxy: true) }
        rig.ns = nil
        let fd = csys_open(rig.logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        rig.pid = Subprocess.start(["ip", "netns", "exec", ns.name, productPath("qcm")] + rig.baseArgs + ["-p", "qmi-proxy"], outputFD: fd)
        close(fd)
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let first = rig.sim.transcript.requests().first
        XCTAssertEqual(first?.messageID, CTL.InternalProxyOpen.spec.id)
        XCTAssertEqual(try first?.value("Device Path")?.string, rig.root + "/dev/cdc-wdm0")
        assertCleanTeardown(rig)
    }
}
