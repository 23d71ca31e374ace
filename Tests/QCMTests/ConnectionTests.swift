import Foundation
import XCTest
import Base
import DHCPClient
import LinkConfig
@testable import QMICore
import QMIMessages
@testable import QCM

/// The connection's decisions, driven event by event with a fake clock: no process, no
/// socket, no modem. A small scripted modem answers the requests the machine sends.
final class ConnectionTests: XCTestCase {
    /// The machine plus what it asked for, and a modem that answers.
    final class Harness {
        let c: QMISession
        var now: Int64 = 0
        var log: [String] = []
        var states: [String] = []
        /// Requests sent and not yet answered, in order.
        var outstanding: [(Request, QMIMessage)] = []
        var sentNames: [String] = []
        var armed: [(QCM.Timer, Int64)] = []
        var other: [Action] = []
        var exitCode: Int32?
        var nextCID: UInt8 = 1
        var tid: UInt16 = 1
        /// How the scripted modem answers; nil: the default for that message.
        var answer: (Request, QMIMessage) -> QMIMessage? = { _, _ in nil }
        /// Requests the modem leaves unanswered (they stay outstanding).
        var silent: (Request) -> Bool = { _ in false }
        /// The machine asked to open the channel; it opens at the next `answerAll`.
        var opening = false
        var registered = true
        var callUp: Set<UInt8> = []
        var profiles = [1: "cmnet"]

        /// Aggregation protocols the modem takes (others it answers with "disabled").
        var qmapVersions: [WDA.AggregationProtocol] = [.qmap]
        /// Runner outcomes fed back at the next `answerAll` (link created, parent up, link applied).
        var runnerEvents: [Event] = []

        init(_ args: [String] = [], viaProxy: Bool = false, rawIP: Bool? = true, switchable: Bool = false,
             driver: String = "qmi_wwan", netdev: String? = "wwan0", noLink: Bool = true,
             facts: DriverFacts? = nil) throws {
            let o = try Options.parse(args + (noLink ? ["--no-link"] : []))
            let f = facts ?? DriverFacts(driver: driver, netdev: netdev, netdevs: netdev.map { [$0] } ?? [], addMux: true)
            let plan = try DataPlan.decide(f, pdns: o.pdns, choice: o.dataPath)
            c = QMISession(QMISession.Config(
                options: o, channel: viaProxy ? "@qmi-proxy" : "/dev/cdc-wdm0", device: "/dev/cdc-wdm0", viaProxy: viaProxy,
                netdev: netdev, rawIP: rawIP, rawIPSwitchable: switchable, driver: f.driver, timeouts: QMISession.Timeouts(),
                plan: plan))
        }

        @discardableResult
        func feed(_ e: Event) -> [Action] {
            let actions = c.handle(e, now: now)
            for a in actions {
                switch a {
                case let .send(r, m, _):
                    var msg = m
                    msg.transactionID = tid
                    tid &+= 1
                    outstanding.append((r, msg))
                    sentNames.append(msg.displayName)
                case let .arm(t, ms): armed.append((t, now + ms))
                case .cancel(let t): armed.removeAll { $0.0 == t }
                case .log(let s): log.append(s)
                case let .state(_, s): states.append(s)
                case .exit(let code): exitCode = code
                case .openChannel: opening = true
                case .prepareParent:
                    other.append(a)
                    runnerEvents.append(.parentReady(nil))
                case let .createDataLink(pdn, mux, _):
                    other.append(a)
                    runnerEvents.append(.dataLinkReady(pdn: pdn, .success("qmimux\(Int(mux) - 0x81)")))
                case let .applyLink(pdn, plan, _, _):
                    other.append(a)
                    runnerEvents.append(.linkApplied(pdn: pdn, .success(plan)))
                default: other.append(a)
                }
            }
            return actions
        }

        /// Answers every outstanding request (and those the answers cause) until none is left.
        func answerAll(limit: Int = 200) {
            var n = 0
            while n < limit {
                if opening {
                    opening = false
                    feed(.channelOpened)
                }
                if !runnerEvents.isEmpty {
                    feed(runnerEvents.removeFirst())
                    continue
                }
                guard let i = outstanding.firstIndex(where: { !silent($0.0) }) else { break }
                let (r, m) = outstanding.remove(at: i)
                feed(.response(r, .success(answer(r, m) ?? reply(r, m))))
                n += 1
            }
        }

        /// Lets time pass to `ms`, firing the timers due on the way.
        func advance(to ms: Int64) {
            while let due = armed.filter({ $0.1 <= ms }).min(by: { $0.1 < $1.1 }) {
                now = due.1
                armed.removeAll { $0.0 == due.0 }
                feed(.timer(due.0))
            }
            now = ms
        }

        func fire(_ t: QCM.Timer) {
            armed.removeAll { $0.0 == t }
            feed(.timer(t))
        }

        func delay(of t: QCM.Timer) -> Int64? { armed.first { $0.0 == t }.map { $0.1 - now } }

        /// What a healthy modem answers.
        func reply(_ r: Request, _ m: QMIMessage) -> QMIMessage {
            switch r {
            case .allocate(let s, _, _):
                var resp = CTL.AllocateClientID.Response(replyingTo: m)
                resp.allocation = CTL.AllocateClientID.Allocation(service: s, clientID: nextCID)
                nextCID += 1
                return resp.message
            case .revision:
                var resp = DMS.GetRevision.Response(replyingTo: m)
                resp.revision = "EC25EFAR06A11M4G"
                return resp.message
            case .cardStatus:
                var resp = UIM.GetCardStatus.Response(replyingTo: m)
                let app = UIM.Application(type: .usim, state: .ready, personalizationState: 0, personalizationFeature: 0,
                                          personalizationRetries: 0, personalizationUnblockRetries: 0, applicationIdentifier: [],
                                          upinReplacesPIN1: false, pin1State: .disabled, pin1Retries: 3, puk1Retries: 10,
                                          pin2State: .disabled, pin2Retries: 3, puk2Retries: 10)
                resp.cardStatus = UIM.CardStatus(indexGWPrimary: 0, index1XPrimary: 0xffff, indexGWSecondary: 0xffff, index1XSecondary: 0xffff,
                                                 cards: [UIM.Card(cardState: .present, upinState: .notInitialized, upinRetries: 0,
                                                                  upukRetries: 0, errorCode: .unknown, applications: [app])])
                return resp.message
            case .servingSystem:
                var resp = NAS.GetServingSystem.Response(replyingTo: m)
                resp.servingSystem = serving
                return resp.message
            case .packetStatus(_, let f), .recheck(_, let f):
                var resp = WDS.GetPacketServiceStatus.Response(replyingTo: m)
                resp.connectionStatus = callUp.contains(f) ? .connected : .disconnected
                return resp.message
            case .readProfile(let pdn):
                guard let apn = profiles[pdn] else {
                    var resp = WDS.GetProfileSettings.Response(replyingTo: m, result: .failure(0x51))
                    resp.extendedErrorCode = .`3gppContextNotDefined`
                    return resp.message
                }
                var resp = WDS.GetProfileSettings.Response(replyingTo: m)
                resp.apnName = apn
                return resp.message
            case .createProfile:
                var resp = WDS.CreateProfile.Response(replyingTo: m)
                resp.profileIdentifier = WDS.ProfileIdentifier(profileType: .`3gpp`, profileIndex: 5)
                return resp.message
            case .dataFormat:
                let q = WDA.SetDataFormat.Request(m)
                var resp = WDA.SetDataFormat.Response(replyingTo: m)
                resp.linkLayerProtocol = q.linkLayerProtocol
                let agg = q.downlinkDataAggregationProtocol.flatMap { qmapVersions.contains($0) ? $0 : nil } ?? .disabled
                resp.uplinkDataAggregationProtocol = agg
                resp.downlinkDataAggregationProtocol = agg
                if agg != .disabled { resp.downlinkDataAggregationMaxSize = min(q.downlinkDataAggregationMaxSize ?? 4096, 16384) }
                return resp.message
            case .start(_, let f):
                callUp.insert(f)
                var resp = WDS.StartNetwork.Response(replyingTo: m)
                resp.packetDataHandle = 0x1000 + UInt32(f)
                return resp.message
            case .stop(_, let f):
                callUp.remove(f)
                return QMIMessage.reply(to: m)
            case .runtimeSettings:
                var resp = WDS.GetRuntimeSettings.Response(replyingTo: m)
                resp.ipv4Address = 0x0a5a_0171
                resp.ipv4SubnetMask = 0xffff_fffc
                resp.ipv4Gateway = 0x0a5a_0172
                return resp.message
            default:
                return QMIMessage.reply(to: m)
            }
        }

        var serving: NAS.GetServingSystem.ServingSystem {
            NAS.GetServingSystem.ServingSystem(registrationState: registered ? .registered : .notRegisteredSearching,
                                               csAttachState: registered ? .attached : .detached,
                                               psAttachState: registered ? .attached : .detached, selectedNetwork: .`3gpp`,
                                               radioInterfaces: [.lte])
        }

        /// Start, open the channel and answer everything: the call comes up.
        func connect() {
            feed(.start)
            answerAll()
        }

        func indication(_ m: QMIMessage) { feed(.indication(m)) }

        func dropIndication(family: UInt8 = 4) -> QMIMessage {
            let cid = c.calls[0].wds[family] ?? 0
            var ind = WDS.GetPacketServiceStatus.Indication(clientID: cid)
            ind.connectionStatus = WDS.GetPacketServiceStatus.ConnectionStatus(status: .disconnected, reconfigurationRequired: false)
            ind.callEndReason = WDS.CallEndReason(rawValue: 1003)
            ind.ipFamily = WDS.IpFamily(rawValue: family)
            return ind.message
        }
    }

    func testSetupOrderAndTheCallComingUp() throws {
        let h = try Harness(["-s", "3gnet"])
        h.connect()
        XCTAssertEqual(h.c.calls[0].phase, .connected)
        XCTAssertEqual(h.sentNames.first, "CTL Sync")
        // Five client ids at once, then the facts at once, then preparation, then the dial.
        XCTAssertEqual(Array(h.sentNames[1...5]), Array(repeating: "CTL Allocate Client ID", count: 5))
        let firstStart = h.sentNames.firstIndex(of: "WDS Start Network")!
        XCTAssertLessThan(h.sentNames.firstIndex(of: "WDS Modify Profile")!, firstStart, "the profile is rewritten before the dial")
        XCTAssertEqual(h.sentNames.last, "WDS Get Runtime Settings")
        XCTAssertTrue(h.log.contains("requestSetProfile[1] 3gnet///0"), "\(h.log)")
        XCTAssertTrue(h.log.contains("connected"), "\(h.log)")
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
        let sw = try Harness(rawIP: false, switchable: true)
        sw.connect()
        XCTAssertTrue(sw.other.contains { if case .switchRawIP = $0 { return true }; return false })
        XCTAssertEqual(sw.c.phase, .switchingRawIP)
        sw.feed(.rawIPSwitched(false))
        XCTAssertTrue(sw.log.contains { $0.hasSuffix("(the link must be down); using 802.3") }, "\(sw.log)")
        let format = sw.outstanding.first { $0.0 == .dataFormat }.map { WDA.SetDataFormat.Request($0.1) }
        XCTAssertEqual(format?.linkLayerProtocol, .`8023`)
        // GobiNet says nothing about raw-IP: 802.3.
        let gobi = try Harness(rawIP: nil, driver: "GobiNet")
        gobi.connect()
        XCTAssertTrue(gobi.log.contains("requestSetEthMode: 802.3"), "\(gobi.log)")
        // qmi_wwan_q: raw-IP.
        let q = try Harness(rawIP: nil, driver: "qmi_wwan_q")
        q.connect()
        XCTAssertTrue(q.log.contains("requestSetEthMode: raw-IP"), "\(q.log)")
    }

    func testRegistrationIsAwaitedThroughTheIndication() throws {
        let h = try Harness()
        h.registered = false
        h.connect()
        XCTAssertEqual(h.c.calls[0].phase, .waitingForNetwork)
        XCTAssertEqual(h.delay(of: .registrationPoll), 30_000, "a slow re-query covers modems that send no indication")
        XCTAssertFalse(h.sentNames.contains("WDS Start Network"))
        h.registered = true
        var ind = NAS.GetServingSystem.Indication(clientID: 0xff)
        ind.servingSystem = h.serving
        h.indication(ind.message)
        XCTAssertEqual(h.outstanding.map { $0.1.displayName }, ["WDS Start Network"], "dialed on the indication")
        XCTAssertNil(h.delay(of: .registrationPoll))
    }

    func testRedialScheduleAfterDropsAndFailures() throws {
        let h = try Harness(["--stable-after", "30"])
        h.connect()
        // A call that was up long enough: redialed at once.
        h.now = 60_000
        h.indication(h.dropIndication())
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 0)
        XCTAssertTrue(h.log.contains("redialing at once"))
        // The redial fails, and again: 1 s, then 2 s.
        h.answer = { r, m in
            guard case .start = r else { return nil }
            var resp = WDS.StartNetwork.Response(replyingTo: m, result: .failure(QMIErrorCode.callFailed))
            resp.callEndReason = WDS.CallEndReason(rawValue: 1013)
            return resp.message
        }
        h.fire(.redial(pdn: 1))
        h.answerAll()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 1000)
        h.fire(.redial(pdn: 1))
        h.answerAll()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 2000)
        XCTAssertTrue(h.log.contains { $0.contains("CallFailed (call end reason gsm-wcdma-unknown-apn (1013))") }, "\(h.log)")
        // Connected again but dropped at once (not stable): the backoff goes on, 4 s.
        h.answer = { _, _ in nil }
        h.fire(.redial(pdn: 1))
        h.answerAll()
        XCTAssertEqual(h.c.calls[0].phase, .connected)
        h.now += 100
        h.indication(h.dropIndication())
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 4000)
    }

    func testMaxRetriesGivesUpCleanly() throws {
        let h = try Harness(["--max-retries", "2"])
        h.answer = { r, m in
            if case .start = r { return QMIMessage.reply(to: m, result: .failure(QMIErrorCode.callFailed)) }
            return nil
        }
        h.connect()
        h.fire(.redial(pdn: 1))
        h.answerAll()
        XCTAssertEqual(h.exitCode, ExitCode.callFailed, "\(h.log)")
        XCTAssertTrue(h.log.contains { $0.hasPrefix("giving up after 2 failed dial(s) (--max-retries 2)") }, "\(h.log)")
        XCTAssertEqual(h.sentNames.filter { $0 == "CTL Release Client ID" }.count, 5, "every client released before exiting")
    }

    func testTeardownStopsTheCallThenReleasesEveryClient() throws {
        let h = try Harness(["-4", "-6"])
        h.connect()
        let before = h.sentNames.count
        h.feed(.stop(signal: "SIGTERM"))
        XCTAssertEqual(h.c.phase, .stopping)
        XCTAssertEqual(h.outstanding.map { $0.1.displayName }, ["WDS Stop Network", "WDS Stop Network"], "first the calls")
        h.answerAll()
        let after = Array(h.sentNames[before...])
        XCTAssertEqual(after.filter { $0 == "CTL Release Client ID" }.count, 6, "then every client id")
        XCTAssertEqual(after.firstIndex(of: "CTL Release Client ID"), 2)
        XCTAssertEqual(h.exitCode, 0)
        // A second signal within 500 ms is the same Ctrl-C; later it gives up.
        let g = try Harness()
        g.connect()
        g.feed(.stop(signal: "SIGINT"))
        g.now += 100
        g.feed(.stop(signal: "SIGINT"))
        XCTAssertNil(g.exitCode)
        g.now += 600
        g.feed(.stop(signal: "SIGINT"))
        XCTAssertEqual(g.exitCode, ExitCode.failure)
    }

    func testTeardownWaitsForAStartNetworkInFlightAndWarnsWhenUnconfirmed() throws {
        let h = try Harness()
        h.silent = { if case .start = $0 { return true }; return false }
        h.connect()
        XCTAssertEqual(h.outstanding.map { $0.1.displayName }, ["WDS Start Network"])
        h.feed(.stop(signal: "SIGTERM"))
        XCTAssertEqual(h.delay(of: .dialWait), 1000, "waits for the answer")
        XCTAssertEqual(h.outstanding.count, 1, "nothing released while a call may come up")
        // It comes up: stopped at once, then the clients released. The modem confirms nothing.
        let (r, m) = h.outstanding.removeFirst()
        h.feed(.response(r, .success(h.reply(r, m))))
        XCTAssertEqual(h.outstanding.map { $0.1.displayName }, ["WDS Stop Network"])
        let (sr, _) = h.outstanding.removeFirst()
        h.feed(.response(sr, .failure(.timeout(message: "WDS Stop Network", afterMs: 1000))))
        while !h.outstanding.isEmpty {
            let (rr, _) = h.outstanding.removeFirst()
            h.feed(.response(rr, .failure(.timeout(message: "CTL Release Client ID", afterMs: 1000))))
        }
        XCTAssertEqual(h.exitCode, ExitCode.notResponding, "an unconfirmed teardown is not a silent 0")
        XCTAssertTrue(h.log.contains { $0.hasPrefix("warning: the modem did not confirm stopping the call") }, "\(h.log)")
    }

    func testLostFrameMakesQCMAskTheCallState() throws {
        let h = try Harness()
        h.connect()
        h.callUp = []                      // the network ended the call; the indication was lost
        h.feed(.frameDiscarded)
        XCTAssertEqual(h.outstanding.map { $0.1.displayName }, ["WDS Get Packet Service Status"])
        XCTAssertTrue(h.log.contains("a frame from the modem was discarded: checking the call state"))
        h.answerAll()
        XCTAssertTrue(h.log.contains { $0.hasPrefix("the IPv4 call is no longer up") }, "\(h.log)")
        XCTAssertEqual(h.c.calls[0].phase, .redialWait)
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 0, "a call that came up is redialed at once")
        // Up again, and lost again within --stable-after: now the backoff applies.
        h.fire(.redial(pdn: 1))
        h.answerAll()
        XCTAssertEqual(h.c.calls[0].phase, .connected)
        h.callUp = []
        h.feed(.frameDiscarded)
        h.answerAll()
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 1000, "a second drop within --stable-after: the backoff applies")
        // A lost frame while the call is fine changes nothing.
        let ok = try Harness()
        ok.connect()
        ok.feed(.frameDiscarded)
        ok.answerAll()
        XCTAssertEqual(ok.c.calls[0].phase, .connected)
    }

    func testThroughAProxyNoSyncAndRevokedClientsComeBack() throws {
        let h = try Harness(viaProxy: true)
        h.feed(.start)
        h.feed(.channelOpened)
        h.opening = false
        XCTAssertEqual(h.outstanding.first?.1.displayName, "CTL Internal Proxy Open")
        h.answerAll()
        XCTAssertFalse(h.sentNames.contains("CTL Sync"), "a Sync would drop other programs' clients")
        XCTAssertEqual(h.c.calls[0].phase, .connected)
        // The modem revokes our WDS client: the call went with it; a new client, a redial.
        let wds = h.c.calls[0].wds[4]!
        var ind = CTL.RevokeClientID.Indication(clientID: 0)
        ind.revoked = CTL.RevokeClientID.Revoked(service: .wds, clientID: wds)
        h.indication(ind.message)
        XCTAssertTrue(h.log.contains("the modem revoked QMI clientWDS \(wds); allocating a new one"), "\(h.log)")
        h.advance(to: h.now + 1000)
        h.answerAll()
        h.fire(.redial(pdn: 1))
        h.answerAll()
        XCTAssertEqual(h.c.calls[0].phase, .connected, "\(h.log)")
        XCTAssertNotEqual(h.c.calls[0].wds[4], wds)
    }

    func testMissingProfileIsCreated() throws {
        let h = try Harness(["-n", "3", "-s", "ims", "--auth", "pap"])
        h.connect()
        XCTAssertTrue(h.log.contains("requestGetProfile[3]: profile 3 does not exist"), "\(h.log)")
        XCTAssertTrue(h.log.contains("requestCreateProfile[3] ims///1: profile 3 does not exist; creating it"), "\(h.log)")
        XCTAssertTrue(h.log.contains("requestCreateProfile: the modem created profile 5 (asked for 3); dialing with profile 5"))
        let start = h.sentNames.lastIndex(of: "WDS Start Network")
        XCTAssertNotNil(start)
        XCTAssertEqual(h.c.calls[0].profile, 5)
    }

    func testRecoveryEscalatesWhenTheModemStopsAnswering() throws {
        let h = try Harness()
        h.connect()
        h.now = 100_000
        h.indication(h.dropIndication())
        // From now on Start Network is never answered: each failed redial takes qcm one step further.
        h.silent = { if case .start = $0 { return true }; return false }
        var steps: [String] = []
        for _ in 0..<40 where steps.count < 4 {
            h.advance(to: h.now + 61_000)
            h.answerAll()
            if let i = h.outstanding.firstIndex(where: { if case .start = $0.0 { return true }; return false }) {
                let (r, _) = h.outstanding.remove(at: i)
                h.feed(.response(r, .failure(.timeout(message: "WDS Start Network", afterMs: 60_000))))
            }
            steps += h.log.filter { $0.hasPrefix("the modem stopped answering (WDS Start Network timed out): ") }
                .map { String($0.dropFirst("the modem stopped answering (WDS Start Network timed out): ".count)) }
            h.log.removeAll()
        }
        XCTAssertEqual(steps, [
            "resynchronising the QMI channel (CTL Sync)",
            "reopening the QMI channel",
            "turning the radio off and on (DMS Set Operating Mode low-power, then online)",
            "resetting the modem (DMS Set Operating Mode reset)",
        ])
        XCTAssertTrue(h.sentNames.contains("DMS Set Operating Mode"))
    }

    /// `qcm status` asking while the channel is lost: the query is answered at once (with
    /// nothing from the modem) instead of waiting for answers that died with the session; and
    /// a user's query that times out is no sign of a modem in trouble.
    func testStatusQueriesEndWithTheSessionAndNeverFeedRecovery() throws {
        let h = try Harness()
        h.connect()
        h.feed(.statusQuery(7))
        let asked = h.outstanding.filter { $0.0.asksForUser }
        XCTAssertEqual(asked.map { $0.1.displayName }, ["WDS Get Packet Statistics", "NAS Get RF Band Information"])
        // Both time out: the modem is not taken for stuck (no CTL Sync, no reopen).
        for (r, _) in asked {
            h.outstanding.removeAll { $0.0 == r }
            h.feed(.response(r, .failure(.timeout(message: "a status query", afterMs: 2000))))
        }
        XCTAssertTrue(h.other.contains { if case .statusReply(7, let extras) = $0 { return extras.isEmpty }; return false })
        XCTAssertEqual(h.c.timeoutsSinceAnswer, 0)
        h.now = 100_000
        h.indication(h.dropIndication())
        h.fire(.redial(pdn: 1))
        XCTAssertFalse(h.log.contains { $0.hasPrefix("the modem stopped answering") }, "\(h.log)")
        h.answerAll()
        XCTAssertEqual(h.c.calls[0].phase, .connected)

        // Asked again, and the channel goes before the modem answers.
        h.other.removeAll()
        h.feed(.statusQuery(8))
        XCTAssertFalse(h.other.contains { if case .statusReply(8, _) = $0 { return true }; return false })
        h.feed(.channelClosed(.deviceGone("USB reset")))
        XCTAssertTrue(h.other.contains { if case .statusReply(8, _) = $0 { return true }; return false }, "answered when the session went")
        XCTAssertTrue(h.c.queries.isEmpty)
    }

    /// A call that comes up and drops 2 s later is redialed at once; one that drops again
    /// within --stable-after of that goes on with the backoff; dial failures back off.
    func testAFirstDropIsRedialedAtOnce() throws {
        let h = try Harness()                               // --stable-after 30 (the default)
        h.connect()
        h.now += 2000
        h.indication(h.dropIndication())
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 0, "the first drop: at once")
        h.fire(.redial(pdn: 1))
        h.answerAll()
        XCTAssertEqual(h.c.calls[0].phase, .connected)
        h.now += 2000
        h.indication(h.dropIndication())
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 1000, "a second drop 2 s after the first: the backoff")
        h.fire(.redial(pdn: 1))
        h.answerAll()
        h.now += 40_000                                     // up for longer than --stable-after
        h.indication(h.dropIndication())
        XCTAssertEqual(h.delay(of: .redial(pdn: 1)), 0, "a stable call: at once again")
    }

    /// The MBIM session too: a `qcm status` waiting for PACKET_STATISTICS is answered when
    /// the channel goes.
    func testMBIMStatusQueriesEndWithTheSession() throws {
        let o = try Options.parse(["--no-link"])
        let f = DriverFacts(driver: "cdc_mbim", netdev: "wwan0", netdevs: ["wwan0"], addMux: false)
        var config = QMISession.Config(options: o, channel: "/dev/cdc-wdm0", device: "/dev/cdc-wdm0", viaProxy: false, netdev: "wwan0",
                                       rawIP: nil, rawIPSwitchable: false, driver: "cdc_mbim", timeouts: QMISession.Timeouts(),
                                       plan: try DataPlan.decide(f, pdns: o.pdns, choice: o.dataPath))
        config.mbim = true
        let m = MBIMSession(config)
        m.phase = .ready
        m.call.phase = .connected
        let asked = m.handle(.statusQuery(5), now: 1000)
        XCTAssertTrue(asked.contains { if case .sendMBIM(.statistics(query: 5), _, _) = $0 { return true }; return false })
        XCTAssertFalse(asked.contains { if case .statusReply = $0 { return true }; return false })
        let lost = m.handle(.channelClosed(.deviceGone("USB reset")), now: 1200)
        XCTAssertTrue(lost.contains { if case .statusReply(5, _) = $0 { return true }; return false }, "\(lost)")
        XCTAssertTrue(m.queries.isEmpty)
    }
}
