import Foundation
import XCTest
import Base
import DHCPClient
import LinkConfig
@testable import QMICore
import QMIMessages
import QMISim
@testable import QCM

/// The QMI session's decisions, driven event by event with a fake clock against QMISim's
/// modem model in process (SessionHarness.swift): no process, no socket. Assertions are on
/// what the session does — its requests, actions and state — and on the modem it leaves;
/// the few log lines checked are quectel-CM's, which users grep for.
final class QMISessionTests: XCTestCase {
    func testSetupOrderAndTheCallComingUp() throws {
        let h = try QMIHarness(["-s", "3gnet"])
        h.connect()
        XCTAssertEqual(h.phases, [.connected])
        XCTAssertEqual(h.sentNames.first, "CTL Sync")
        // Five client ids at once, then the facts at once, then preparation, then the dial.
        XCTAssertEqual(Array(h.sentNames[1...5]), Array(repeating: "CTL Allocate Client ID", count: 5))
        let firstStart = h.sentNames.firstIndex(of: "WDS Start Network")!
        XCTAssertLessThan(h.sentNames.firstIndex(of: "WDS Modify Profile")!, firstStart, "the profile is rewritten before the dial")
        XCTAssertEqual(h.sentNames.last, "WDS Get Runtime Settings")
        XCTAssertEqual(h.sim.profile1.apn, "3gnet")
        XCTAssertTrue(h.log.contains("requestSetProfile[1] 3gnet///0"), "\(h.log)")
        XCTAssertTrue(h.did { if case .connected(1, _) = $0 { return true }; return false })
    }

    func testSIMPolicy() {
        XCTAssertEqual(SIM.ready.decide(pin: nil, verified: false), .proceed)
        XCTAssertEqual(SIM.unknown.decide(pin: nil, verified: false), .proceed)
        guard case .fail(let absent) = SIM.absent.decide(pin: "1234", verified: false) else { return XCTFail() }
        XCTAssertTrue(absent.hasPrefix("no SIM card"))
        guard case .fail(let puk) = SIM.pukBlocked.decide(pin: "1234", verified: false) else { return XCTFail() }
        XCTAssertTrue(puk.contains("PUK"))
        guard case .fail(let noPin) = SIM.pinRequired(retriesLeft: 3).decide(pin: nil, verified: false) else { return XCTFail() }
        XCTAssertEqual(noPin, "the SIM asks for its PIN: give it with -p PIN")
        guard case .fail(let last) = SIM.pinRequired(retriesLeft: 1).decide(pin: "1234", verified: false) else { return XCTFail() }
        XCTAssertTrue(last.hasPrefix("only 1 PIN attempt left"), "never burn the last attempt")
        guard case .fail(let again) = SIM.pinRequired(retriesLeft: 2).decide(pin: "1234", verified: true) else { return XCTFail() }
        XCTAssertTrue(again.contains("after it was verified"), "a wrong PIN is never retried")
        XCTAssertEqual(SIM.pinRequired(retriesLeft: 2).decide(pin: "1234", verified: false), .verify("1234"))
    }

    func testRawIPChoice() throws {
        // qmi_wwan in 802.3 mode with qmi/raw_ip: switched first, then WDA asked for raw-IP.
        let sw = try QMIHarness(rawIP: false, switchable: true)
        sw.connect()
        XCTAssertTrue(sw.did { if case .switchRawIP = $0 { return true }; return false })
        XCTAssertEqual(sw.session.stage, .switchingRawIP)
        sw.feed(.rawIPSwitched(false))
        let format = sw.pending.first { $0.request == .dataFormat }.map { WDA.SetDataFormat.Request($0.message) }
        XCTAssertEqual(format?.linkLayerProtocol, .`8023`, "the switch failed: 802.3")
        sw.settle()
        XCTAssertTrue(sw.session.ethernet)
        // GobiNet says nothing about raw-IP: 802.3.
        let gobi = try QMIHarness(rawIP: nil, driver: "GobiNet")
        gobi.connect()
        XCTAssertTrue(gobi.session.ethernet)
        XCTAssertEqual(gobi.sim.currentLinkProtocol, 1)
        // qmi_wwan_q: raw-IP.
        let q = try QMIHarness(rawIP: nil, driver: "qmi_wwan_q")
        q.connect()
        XCTAssertFalse(q.session.ethernet)
        XCTAssertEqual(q.sim.currentLinkProtocol, 2)
    }

    func testRegistrationIsAwaitedThroughTheIndication() throws {
        let h = try QMIHarness { $0.neverRegister = true }
        h.connect()
        XCTAssertEqual(h.phases, [.waitingForNetwork])
        XCTAssertEqual(h.delay(of: .registrationPoll), 30_000, "a slow re-query covers modems that send no indication")
        XCTAssertFalse(h.sentNames.contains("WDS Start Network"))
        h.sim.setRegistration(true)               // the modem registers and says so (serving-system indication)
        h.settle()
        XCTAssertTrue(h.sentNames.contains("WDS Start Network"), "dialed on the indication")
        XCTAssertEqual(h.phases, [.connected])
        XCTAssertNil(h.delay(of: .registrationPoll))
    }

    func testRedialScheduleAfterDropsAndFailures() throws {
        let h = try QMIHarness(["--stable-after", "30"])
        h.connect()
        // A call that was up long enough: redialed at once.
        h.now = 60_000
        h.sim.dropCalls()
        h.settle()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 0)
        // The redial fails, and again: 1 s, then 2 s.
        h.sim.withState { $0.config.rejectCall = (1013, 6, 27) }
        h.fire(.redial(pdn: 1))
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 1000)
        h.fire(.redial(pdn: 1))
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 2000)
        XCTAssertTrue(h.lastEndReason?.contains("CallFailed (call end reason gsm-wcdma-unknown-apn (1013), verbose 3gpp/unknown-apn (6/27))") == true,
                      "\(h.lastEndReason ?? "nil")")
        // Connected again but dropped at once (not stable): the backoff goes on, 4 s.
        h.sim.withState { $0.config.rejectCall = nil }
        h.fire(.redial(pdn: 1))
        XCTAssertEqual(h.phases, [.connected])
        h.now += 100
        h.sim.dropCalls()
        h.settle()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 4000)
    }

    func testMaxRetriesGivesUpCleanly() throws {
        let h = try QMIHarness(["--max-retries", "2"]) { $0.rejectCall = (1013, 6, 27) }
        h.connect()
        h.fire(.redial(pdn: 1))
        XCTAssertEqual(h.exitCode, ExitCode.callFailed)
        XCTAssertTrue(h.lastError?.hasPrefix("giving up after 2 failed dial(s) (--max-retries 2)") == true, "\(h.lastError ?? "nil")")
        XCTAssertEqual(h.sentNames.filter { $0 == "CTL Release Client ID" }.count, 5, "every client released before exiting")
        XCTAssertTrue(h.sim.isClean)
    }

    func testTeardownStopsTheCallThenReleasesEveryClient() throws {
        let h = try QMIHarness(["-4", "-6"])
        h.connect()
        XCTAssertEqual(h.sim.activeCalls, 2)
        let before = h.sentNames.count
        h.feed(.stop(signal: "SIGTERM"))
        XCTAssertNotNil(h.session.teardown)
        XCTAssertEqual(h.pendingNames, ["WDS Stop Network", "WDS Stop Network"], "first the calls")
        h.settle()
        let after = Array(h.sentNames[before...])
        XCTAssertEqual(after.filter { $0 == "CTL Release Client ID" }.count, 6, "then every client id")
        XCTAssertEqual(after.firstIndex(of: "CTL Release Client ID"), 2)
        XCTAssertEqual(h.exitCode, 0)
        XCTAssertTrue(h.sim.isClean)
        // A second signal within 500 ms is the same Ctrl-C; later it gives up.
        let g = try QMIHarness()
        g.connect()
        g.feed(.stop(signal: "SIGINT"))
        g.now += 100
        g.feed(.stop(signal: "SIGINT"))
        XCTAssertNil(g.exitCode)
        g.now += 600
        g.feed(.stop(signal: "SIGINT"))
        XCTAssertEqual(g.exitCode, ExitCode.failure)
        XCTAssertTrue(g.did { if case .deconfigureLink(1, false) = $0 { return true }; return false }, "the link still goes")
    }

    func testTeardownWaitsForAStartNetworkInFlightAndWarnsWhenUnconfirmed() throws {
        let h = try QMIHarness { $0.neverAnswer = [SimConfig.key(WDS.StartNetwork.spec), SimConfig.key(WDS.StopNetwork.spec),
                                                   SimConfig.key(CTL.ReleaseClientID.spec)] }
        h.connect()
        XCTAssertEqual(h.pendingNames, ["WDS Start Network"])
        h.feed(.stop(signal: "SIGTERM"))
        XCTAssertEqual(h.delay(of: .qmi(.dialWait)), 1000, "waits for the answer")
        XCTAssertEqual(h.pending.count, 1, "nothing released while a call may come up")
        // It comes up: stopped at once, then the clients released. The modem confirms nothing.
        h.answer({ if case .start = $0 { return true }; return false }) { m in
            var r = WDS.StartNetwork.Response(replyingTo: m)
            r.packetDataHandle = 0x1234
            return .success(r.message)
        }
        XCTAssertEqual(h.pendingNames, ["WDS Stop Network"])
        h.settle()
        h.advance(to: h.now + 5_000)
        XCTAssertEqual(h.exitCode, ExitCode.notResponding, "an unconfirmed teardown is not a silent 0")
        XCTAssertEqual(h.sentNames.filter { $0 == "CTL Release Client ID" }.count, 5, "the releases still go out")
        XCTAssertTrue(h.log.contains { $0.hasPrefix("warning: the modem did not confirm stopping the call") }, "\(h.log)")
    }

    func testLostFrameMakesQCMAskTheCallState() throws {
        let h = try QMIHarness()
        h.connect()
        h.sim.dropCallsSilently()                  // the network ended the call; the indication was lost
        h.feed(.frameDiscarded)
        XCTAssertEqual(h.pendingNames, ["WDS Get Packet Service Status"])
        h.settle()
        XCTAssertTrue(h.lastEndReason?.hasPrefix("the IPv4 call is no longer up") == true, "\(h.lastEndReason ?? "nil")")
        XCTAssertEqual(h.phases, [.redialWait])
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 0, "a call that came up is redialed at once")
        // Up again, and lost again within --stable-after: now the backoff applies.
        h.fire(.redial(pdn: 1))
        XCTAssertEqual(h.phases, [.connected])
        h.sim.dropCallsSilently()
        h.feed(.frameDiscarded)
        h.settle()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 1000, "a second drop within --stable-after: the backoff applies")
        // A lost frame while the call is fine changes nothing.
        let ok = try QMIHarness()
        ok.connect()
        ok.feed(.frameDiscarded)
        ok.settle()
        XCTAssertEqual(ok.phases, [.connected])
    }

    func testThroughAProxyNoSyncAndRevokedClientsComeBack() throws {
        let h = try QMIHarness(viaProxy: true)
        h.connect()
        XCTAssertEqual(h.sentNames.first, "CTL Internal Proxy Open")
        XCTAssertFalse(h.sentNames.contains("CTL Sync"), "a Sync would drop other programs' clients")
        XCTAssertEqual(h.phases, [.connected])
        // The modem revokes our WDS client: the call went with it; a new client, a redial.
        let wds = h.session.calls[0].wds[.ipv4]!
        h.sim.revoke(.wds, wds)
        h.settle()
        XCTAssertEqual(h.phases, [.redialWait])
        XCTAssertEqual(h.lastEndReason, "the IPv4 call went with its client")
        let allocations = h.sentNames.filter { $0 == "CTL Allocate Client ID" }.count
        h.fire(.redial(pdn: 1))
        XCTAssertEqual(h.phases, [.connected], "\(h.log)")
        XCTAssertEqual(h.sentNames.filter { $0 == "CTL Allocate Client ID" }.count, allocations + 1, "a new WDS client")
        XCTAssertEqual(h.sim.allocatedClients[QMIService.wds.rawValue]?.count, 1)
    }

    /// Through quectel-qmi-proxy: no handshake (no Internal Proxy Open) and no Sync (the proxy
    /// refuses it from clients): the client ids are asked for first.
    func testThroughQuectelQmiProxyNoOpenNoSync() throws {
        let h = try QMIHarness(proxy: .quectel(.qmi))
        h.connect()
        XCTAssertEqual(h.sentNames.first, "CTL Allocate Client ID")
        XCTAssertFalse(h.sentNames.contains("CTL Internal Proxy Open"))
        XCTAssertFalse(h.sentNames.contains("CTL Sync"))
        XCTAssertEqual(h.phases, [.connected])
    }

    func testMissingProfileIsCreated() throws {
        let h = try QMIHarness(["-n", "3", "-s", "ims", "--auth", "pap"]) { $0.profiles = [SimConfig.Profile(apn: "cmnet")] }
        h.connect()
        XCTAssertEqual(h.sentNames.filter { $0 == "WDS Create Profile" }.count, 1)
        XCTAssertTrue(h.log.contains("requestGetProfile[3]: profile 3 does not exist"), "\(h.log)")
        XCTAssertTrue(h.log.contains("requestCreateProfile[3] ims///1: profile 3 does not exist; creating it"), "\(h.log)")
        XCTAssertTrue(h.log.contains("requestCreateProfile: the modem created profile 2 (asked for 3); dialing with profile 2"), "\(h.log)")
        XCTAssertEqual(h.session.calls[0].profile, 2, "the modem created profile 2 (asked for 3): the dial names it")
        let start = h.sent.last { $0.displayName == "WDS Start Network" }.map { WDS.StartNetwork.Request($0) }
        XCTAssertEqual(start?.profileIndex3GPP, 2)
        XCTAssertEqual(h.sim.profile(2)?.apn, "ims")
        XCTAssertEqual(h.phases, [.connected])
    }

    /// The modem stops answering WDS until it is reset: each failed redial takes qcm one
    /// step further — CTL Sync, reopening the channel, the radio off and on, a reset — and
    /// after the reset the call comes back; the modem is left clean.
    func testRecoveryEscalatesWhenTheModemStopsAnswering() throws {
        let h = try QMIHarness()
        h.connect()
        h.now = 100_000
        h.sim.hang(.wds)
        h.sim.dropCalls()
        h.settle()
        let from = h.actions.count
        var steps: [String] = []
        for _ in 0..<12 where steps.count < 5 || h.phases != [.connected] {
            h.advance(to: h.now + 61_000)
            steps = h.actions[from...].compactMap { a -> String? in
                switch a {
                case .state(nil, "recovering: CTL Sync"): return "CTL Sync"
                case .openChannel: return "reopen"
                case .sendQMI(.radio(let mode), _, _): return "operating mode \(mode.name)"
                default: return nil
                }
            }
        }
        XCTAssertEqual(Array(steps.prefix(5)), ["CTL Sync", "reopen", "operating mode low-power", "operating mode online",
                                                "operating mode reset"], "one step further each time")
        XCTAssertEqual(h.phases, [.connected], "connected again after the reset")
        h.feed(.stop(signal: "SIGTERM"))
        h.settle()
        XCTAssertEqual(h.exitCode, 0)
        XCTAssertTrue(h.sim.isClean)
    }

    /// `qcm status` asking while the channel is lost: the query is answered at once (with
    /// nothing from the modem) instead of waiting for answers that died with the session; and
    /// a user's query that times out is no sign of a modem in trouble.
    func testStatusQueriesEndWithTheSessionAndNeverFeedRecovery() throws {
        let h = try QMIHarness()
        h.connect()
        h.feed(.statusQuery(7))
        let asked = h.pending.filter { $0.request.asksForUser }
        XCTAssertEqual(asked.map { $0.message.displayName }, ["WDS Get Packet Statistics", "NAS Get RF Band Information"])
        // Both time out: the modem is not taken for stuck (no CTL Sync, no reopen).
        for a in asked {
            h.answer({ $0 == a.request }) { m in .failure(.timeout(message: m.displayName, afterMs: 2000)) }
        }
        XCTAssertTrue(h.did { if case .statusReply(7, let extras) = $0 { return extras.isEmpty }; return false })
        XCTAssertFalse(h.session.recovery.modemSilent)
        h.now = 100_000
        h.sim.dropCalls()
        h.settle()
        h.fire(.redial(pdn: 1))
        XCTAssertEqual(h.sentNames.filter { $0 == "CTL Sync" }.count, 1, "only the first: no recovery")
        XCTAssertEqual(h.phases, [.connected])

        // Asked again, and the channel goes before the modem answers.
        h.feed(.statusQuery(8))
        XCTAssertFalse(h.did { if case .statusReply(8, _) = $0 { return true }; return false })
        h.feed(.channelClosed(.gone("USB reset")))
        XCTAssertTrue(h.did { if case .statusReply(8, _) = $0 { return true }; return false }, "answered when the session went")
        XCTAssertTrue(h.session.queries.isEmpty)
    }

    /// A call that comes up and drops 2 s later is redialed at once; one that drops again
    /// within --stable-after of that goes on with the backoff; dial failures back off.
    func testAFirstDropIsRedialedAtOnce() throws {
        let h = try QMIHarness()                               // --stable-after 30 (the default)
        h.connect()
        h.now += 2000
        h.sim.dropCalls()
        h.settle()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 0, "the first drop: at once")
        h.fire(.redial(pdn: 1))
        XCTAssertEqual(h.phases, [.connected])
        h.now += 2000
        h.sim.dropCalls()
        h.settle()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 1000, "a second drop 2 s after the first: the backoff")
        h.fire(.redial(pdn: 1))
        h.now += 40_000                                     // up for longer than --stable-after
        h.sim.dropCalls()
        h.settle()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 0, "a stable call: at once again")
    }
}
