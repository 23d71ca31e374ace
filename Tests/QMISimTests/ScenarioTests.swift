import Base
import Foundation
import XCTest
@testable import QMICore
import QMIMessages
@testable import QMISim
import TestSupport

final class ScenarioTests: XCTestCase {
    func testNormalDialAndCleanTeardown() throws {
        let rig = try Rig()
        _ = try rig.ok(CTL.Sync.spec)
        let wds = try rig.allocate(.wds), dms = try rig.allocate(.dms), nas = try rig.allocate(.nas)
        let uim = try rig.allocate(.uim), wda = try rig.allocate(.wda)
        XCTAssertEqual(try rig.ok(DMS.GetRevision.spec, cid: dms).value("Revision")?.string, "EC25EFAR06A11M4G")
        XCTAssertEqual(try rig.ok(DMS.GetIDs.spec, cid: dms).value("IMEI")?.string, "867394041355693")
        let card = try rig.ok(UIM.GetCardStatus.spec, cid: uim).required("Card Status")
        XCTAssertEqual(card[4]?[0]?[0]?.uint, 1)                    // card present
        XCTAssertEqual(card[4]?[0]?[5]?[0]?[1]?.uint, 7)            // application ready
        let ss = try rig.ok(NAS.GetServingSystem.spec, cid: nas).required("Serving System")
        XCTAssertEqual(ss[0]?.uint, 1)                               // registered
        XCTAssertEqual(ss[2]?.uint, 1)                               // PS attached
        XCTAssertEqual(try rig.ok(NAS.GetServingSystem.spec, cid: nas).value("Current PLMN")?[0]?.uint, 460)
        let df = try rig.ok(WDA.SetDataFormat.spec, cid: wda) { try $0.set("Link Layer Protocol", .uint(2)) }
        XCTAssertEqual(try df.value("Link Layer Protocol")?.uint, 2)
        _ = try rig.ok(WDS.ModifyProfile.spec, cid: wds) {
            try $0.set("Profile Identifier", .structure([.uint(0), .uint(1)]))
            try $0.set("APN Name", .string("3gnet"))
        }
        XCTAssertEqual(try rig.ok(WDS.GetProfileSettings.spec, cid: wds) { try $0.set("Profile Identifier", .structure([.uint(0), .uint(1)])) }
            .value("APN Name")?.string, "3gnet")
        XCTAssertEqual(try rig.ok(WDS.GetPacketServiceStatus.spec, cid: wds).value("Connection Status")?.uint, 1)
        let start = try rig.ok(WDS.StartNetwork.spec, cid: wds) { try $0.set("Profile Index 3GPP", .uint(1)) }
        let handle = try start.required("Packet Data Handle").uint!
        rig.wait(200) { rig.indications.contains { $0.messageID == WDS.GetPacketServiceStatus.spec.id } }
        let ind = rig.indications.first { $0.messageID == WDS.GetPacketServiceStatus.spec.id }
        XCTAssertEqual(try ind?.value("Connection Status")?[0]?.uint, 2)
        let rs = try rig.ok(WDS.GetRuntimeSettings.spec, cid: wds) { try $0.set("Requested Settings", .uint(0x2310)) }
        XCTAssertEqual(try rs.value("IPv4 Address")?.ipv4.map(Text.ipv4), "10.90.1.113")
        XCTAssertEqual(try rs.value("IPv4 Gateway")?.ipv4.map(Text.ipv4), "10.90.1.114")
        XCTAssertEqual(try rs.value("IPv4 Subnet Mask")?.ipv4.map(Text.ipv4), "255.255.255.252")
        XCTAssertEqual(try rs.value("MTU")?.uint, 1500)
        XCTAssertEqual(rig.sim.activeCalls, 1)
        XCTAssertFalse(rig.sim.isClean)
        _ = try rig.ok(WDS.StopNetwork.spec, cid: wds) { try $0.set("Packet Data Handle", .uint(handle)) }
        for (s, c) in [(QMIService.wds, wds), (.dms, dms), (.nas, nas), (.uim, uim), (.wda, wda)] { try rig.release(s, c) }
        XCTAssertTrue(rig.sim.isClean)
        let names = rig.sim.transcript.requestNames
        XCTAssertEqual(names.first, "CTL Sync")
        XCTAssertEqual(names.filter { $0 == "CTL Release Client ID" }.count, 5)
        XCTAssertEqual(rig.sim.transcript.count(WDS.StopNetwork.spec), 1)
    }

    func testDualStackUsesTwoClients() throws {
        let rig = try Rig()
        let v4 = try rig.allocate(.wds), v6 = try rig.allocate(.wds)
        _ = try rig.ok(WDS.SetIPFamily.spec, cid: v6) { try $0.set("Preference", .uint(6)) }
        _ = try rig.ok(WDS.StartNetwork.spec, cid: v4) { try $0.set("IP Family Preference", .uint(4)) }
        _ = try rig.ok(WDS.StartNetwork.spec, cid: v6) { try $0.set("IP Family Preference", .uint(6)) }
        XCTAssertEqual(rig.sim.activeCallFamilies.sorted(), [4, 6])
        let rs = try rig.ok(WDS.GetRuntimeSettings.spec, cid: v6)
        XCTAssertEqual(try rs.value("IPv6 Address")?[0]?.ipv6.map(Text.ipv6), "2409:8930:463:3daa:7c8e:429a:c902:c6cc")
        XCTAssertEqual(try rs.value("IPv6 Address")?[1]?.uint, 64)
        XCTAssertEqual(try rs.value("IPv6 Primary DNS")?.ipv6.map(Text.ipv6), "2409:8030:2000::1")
        // Starting again on the same client is NoEffect with the existing handle.
        XCTAssertEqual(rig.errorCode(try rig.call(WDS.StartNetwork.spec, cid: v4) { try $0.set("IP Family Preference", .uint(4)) }), QMIProtocolError.noEffect.rawValue)
    }

    func testPINRequiredWrongThenRight() throws {
        let rig = try Rig { $0.sim = .pinRequired; $0.pinRetries = 3 }
        let uim = try rig.allocate(.uim), nas = try rig.allocate(.nas), wds = try rig.allocate(.wds)
        let card = try rig.ok(UIM.GetCardStatus.spec, cid: uim).required("Card Status")
        XCTAssertEqual(card[4]?[0]?[5]?[0]?[1]?.uint, 2)            // PIN1 required
        XCTAssertEqual(card[4]?[0]?[5]?[0]?[8]?.uint, 1)            // PIN1 enabled, not verified
        XCTAssertEqual(card[4]?[0]?[5]?[0]?[9]?.uint, 3)            // 3 retries
        XCTAssertEqual(try rig.ok(NAS.GetServingSystem.spec, cid: nas).required("Serving System")[0]?.uint, 2)   // searching
        XCTAssertEqual(rig.errorCode(try rig.call(WDS.StartNetwork.spec, cid: wds)), QMIProtocolError.callFailed.rawValue)
        func verify(_ pin: String) throws -> Result<QMIMessage, QMIError> {
            try rig.call(UIM.VerifyPIN.spec, cid: uim) {
                try $0.set("Session", .structure([.uint(0), .bytes([])]))
                try $0.set("Info", .structure([.uint(1), .string(pin)]))
            }
        }
        let wrong = try verify("0000")
        XCTAssertEqual(rig.errorCode(wrong), QMIProtocolError.incorrectPin.rawValue)
        XCTAssertEqual(try wrong.get().value("Retries")?[0]?.uint, 2)
        XCTAssertEqual(rig.sim.pinRetries, 2)
        XCTAssertNoThrow(try verify("1234").get().check())
        rig.wait(200) { rig.indications.contains { $0.service == .nas } }
        let reg = rig.indications.first { $0.service == .nas && $0.messageID == NAS.GetServingSystem.spec.id }
        XCTAssertEqual(try reg?.value("Serving System")?[0]?.uint, 1, "registration follows the PIN")
        XCTAssertEqual(rig.errorCode(try verify("1234")), QMIProtocolError.noEffect.rawValue)
    }

    func testPINViaDMSAndPUKBlock() throws {
        let rig = try Rig { $0.sim = .pinRequired; $0.pinRetries = 2 }
        let dms = try rig.allocate(.dms)
        XCTAssertEqual(try rig.ok(DMS.UIMGetPINStatus.spec, cid: dms).value("PIN1 Status")?[0]?.uint, 1)
        func verify(_ pin: String) throws -> Result<QMIMessage, QMIError> {
            try rig.call(DMS.UIMVerifyPIN.spec, cid: dms) { try $0.set("Info", .structure([.uint(1), .string(pin)])) }
        }
        XCTAssertEqual(rig.errorCode(try verify("1111")), QMIProtocolError.incorrectPin.rawValue)
        let last = try verify("2222")
        XCTAssertEqual(rig.errorCode(last), QMIProtocolError.pinBlocked.rawValue)
        XCTAssertEqual(try last.get().value("Retries")?[0]?.uint, 0)
        let status = try rig.ok(DMS.UIMGetPINStatus.spec, cid: dms).value("PIN1 Status")
        XCTAssertEqual(status?[0]?.uint, 4)                          // blocked
        XCTAssertEqual(status?[2]?.uint, 10)                         // PUK retries
        XCTAssertEqual(rig.errorCode(try verify("1234")), QMIProtocolError.pinBlocked.rawValue, "the right PIN no longer helps")
    }

    func testSIMAbsent() throws {
        let rig = try Rig { $0.sim = .absent }
        let uim = try rig.allocate(.uim), dms = try rig.allocate(.dms), wds = try rig.allocate(.wds)
        let card = try rig.ok(UIM.GetCardStatus.spec, cid: uim).required("Card Status")
        XCTAssertEqual(card[4]?[0]?[0]?.uint, 0)                    // absent
        XCTAssertEqual(card[4]?[0]?[5]?.elements?.count, 0)
        XCTAssertEqual(rig.errorCode(try rig.call(DMS.UIMGetPINStatus.spec, cid: dms)), QMIProtocolError.uimUninitialized.rawValue)
        XCTAssertEqual(rig.errorCode(try rig.call(WDS.StartNetwork.spec, cid: wds)), QMIProtocolError.callFailed.rawValue)
    }

    func testClientIDPoolExhaustionAndRelease() throws {
        let rig = try Rig { $0.clientIDsPerService = 2 }
        let a = try rig.allocate(.wds)
        _ = try rig.allocate(.wds)
        let third = try rig.call(CTL.AllocateClientID.spec) { try $0.set("Service", .uint(1)) }
        XCTAssertEqual(rig.errorCode(third), QMIProtocolError.clientIdsExhausted.rawValue)
        XCTAssertThrowsError(try third.get().check()) { e in
            XCTAssertEqual((e as? QMIError)?.description, "CTL Allocate Client ID failed: ClientIdsExhausted (0x0005)")
        }
        _ = try rig.allocate(.nas)                                   // other services have their own pool
        try rig.release(.wds, a)
        XCTAssertEqual(try rig.allocate(.wds), a, "a released id is handed out again")
        XCTAssertEqual(rig.errorCode(try rig.call(CTL.ReleaseClientID.spec) {
            try $0.set("Release", .structure([.uint(1), .uint(77)]))
        }), QMIProtocolError.invalidClientId.rawValue)
        // Requests on a client id that was never allocated are refused.
        XCTAssertEqual(rig.errorCode(try rig.call(DMS.GetRevision.spec, cid: 9)), QMIProtocolError.invalidClientId.rawValue)
        // A sync releases everything.
        _ = try rig.ok(CTL.Sync.spec)
        XCTAssertEqual(rig.sim.allocatedClientCount, 0)
    }

    func testUnknownMessagesGetInvalidQmiCommand() throws {
        let rig = try Rig()
        let dms = try rig.allocate(.dms)
        var m = QMIMessage(service: .dms, clientID: dms, kind: .request, transactionID: 0, messageID: 0x5555)
        var out: Result<QMIMessage, QMIError>?
        rig.engine.send(m) { out = $0 }
        rig.wait(2000) { out != nil }
        XCTAssertEqual(try out?.get().result, .failure(QMIProtocolError.invalidQmiCommand.rawValue))
        m.messageID = 0x0bad
        m.service = .ctl
        m.clientID = 0
        out = nil
        rig.engine.send(m) { out = $0 }
        rig.wait(2000) { out != nil }
        XCTAssertEqual(try out?.get().result?.error, QMIProtocolError.invalidQmiCommand.rawValue)
    }

    func testRegistrationDelayAndIndication() throws {
        let rig = try Rig { $0.registrationDelayMs = 150; $0.roaming = true }
        let nas = try rig.allocate(.nas)
        XCTAssertEqual(try rig.ok(NAS.GetServingSystem.spec, cid: nas).required("Serving System")[0]?.uint, 2)
        rig.wait(3000) { rig.indications.contains { $0.service == .nas } }
        let ind = try XCTUnwrap(rig.indications.first { $0.service == .nas })
        XCTAssertEqual(ind.kind, .indication)
        XCTAssertEqual(ind.clientID, nas)
        XCTAssertEqual(try ind.value("Serving System")?[0]?.uint, 1)
        XCTAssertEqual(try ind.value("Roaming Indicator")?.uint, 0)  // 0 = roaming on
        let info = try rig.ok(NAS.GetSystemInfo.spec, cid: nas)
        XCTAssertEqual(try info.value("LTE System Info")?[16]?.string, "460")
        XCTAssertEqual(try info.value("LTE System Info")?[5]?.uint, 1)
        XCTAssertEqual(try rig.ok(NAS.GetSignalInfo.spec, cid: nas).value("LTE Signal Strength")?[2]?.int, -95)
    }

    func testRegistrationNeverCompletes() throws {
        let rig = try Rig { $0.neverRegister = true }
        let nas = try rig.allocate(.nas), wds = try rig.allocate(.wds)
        rig.wait(150)
        XCTAssertTrue(rig.indications.filter { $0.service == .nas }.isEmpty)
        XCTAssertEqual(try rig.ok(NAS.GetServingSystem.spec, cid: nas).required("Serving System")[0]?.uint, 2)
        let r = try rig.call(WDS.StartNetwork.spec, cid: wds)
        XCTAssertEqual(rig.errorCode(r), QMIProtocolError.callFailed.rawValue)
        XCTAssertEqual(try r.get().value("Call End Reason")?.uint, 3)   // no service
    }

    func testLatencyDelaysEveryResponse() throws {
        let rig = try Rig { $0.latencyMs = 80; $0.latencyFor[SimConfig.key(DMS.GetIDs.spec)] = 5 }
        let dms = try rig.allocate(.dms)
        _ = try rig.ok(DMS.GetRevision.spec, cid: dms)
        _ = try rig.ok(DMS.GetIDs.spec, cid: dms)
        // Measured on the simulator's own clock, from the transcript.
        let e = rig.sim.transcript.entries
        func gap(_ id: UInt16) -> Int64 {
            let i = e.firstIndex { $0.incoming && $0.message?.messageID == id && $0.message?.service == .dms }!
            let o = e.firstIndex { !$0.incoming && $0.message?.messageID == id && $0.message?.service == .dms }!
            return e[o].timeMs - e[i].timeMs
        }
        XCTAssertGreaterThanOrEqual(gap(DMS.GetRevision.spec.id), 80)
        XCTAssertLessThan(gap(DMS.GetIDs.spec.id), 80)
    }

    func testNeverAnswerMalformedAndWrongTID() throws {
        let rig = try Rig {
            $0.neverAnswer.insert(SimConfig.key(DMS.GetRevision.spec))
            $0.malformedFor.insert(SimConfig.key(DMS.GetIDs.spec))
            $0.wrongTIDFor.insert(SimConfig.key(DMS.GetOperatingMode.spec))
        }
        let dms = try rig.allocate(.dms)
        for spec in [DMS.GetRevision.spec, DMS.GetIDs.spec, DMS.GetOperatingMode.spec] {
            let r = try rig.call(spec, cid: dms, timeoutMs: 150)
            guard case .failure(.timeout) = r else { return XCTFail("\(spec.name): \(r)") }
        }
        guard rig.ignored.count == 2 else { return XCTFail("\(rig.ignored)") }
        XCTAssertTrue(rig.ignored[0].contains("malformed"), rig.ignored[0])
        XCTAssertTrue(rig.ignored[1].contains("matches no request"), rig.ignored[1])
        XCTAssertNil(rig.closed, "faults never take the channel down")
        XCTAssertEqual(try rig.ok(DMS.GetModel.spec, cid: dms).value("Model")?.string, "EC25")
    }

    func testCallRejectedWithReasonThenAccepted() throws {
        let rig = try Rig { $0.rejectCall = (1013, 6, 27); $0.rejectCallTimes = 2 }
        let wds = try rig.allocate(.wds)
        for _ in 0..<2 {
            let r = try rig.call(WDS.StartNetwork.spec, cid: wds)
            XCTAssertEqual(rig.errorCode(r), QMIProtocolError.callFailed.rawValue)
            XCTAssertEqual(try r.get().value("Call End Reason")?.uint, 1013)
            let v = try r.get().value("Verbose Call End Reason")
            XCTAssertEqual(CallEndReason.verboseName(type: UInt16(v![0]!.uint!), reason: Int16(v![1]!.int!)), "3gpp/unknown-apn (6/27)")
        }
        XCTAssertNoThrow(try rig.ok(WDS.StartNetwork.spec, cid: wds))
        XCTAssertEqual(rig.sim.activeCalls, 1)
    }

    func testNetworkDropsTheCall() throws {
        let rig = try Rig { $0.dropCallAfterMs = 100 }
        let wds = try rig.allocate(.wds)
        _ = try rig.ok(WDS.StartNetwork.spec, cid: wds)
        rig.wait(3000) { rig.indications.contains { (try? $0.value("Connection Status")?[0]?.uint) == 1 } }
        let down = try XCTUnwrap(rig.indications.first { (try? $0.value("Connection Status")?[0]?.uint) == 1 })
        XCTAssertEqual(down.clientID, wds)
        XCTAssertEqual(try down.value("Call End Reason")?.uint, 1003)
        XCTAssertEqual(try down.value("Verbose Call End Reason")?[1]?.int, 36)
        XCTAssertEqual(rig.sim.activeCalls, 0)
        XCTAssertEqual(try rig.ok(WDS.GetPacketServiceStatus.spec, cid: wds).value("Connection Status")?.uint, 1)
    }

    func testModemReset() throws {
        let rig = try Rig()
        let wds = try rig.allocate(.wds)
        _ = try rig.ok(WDS.StartNetwork.spec, cid: wds)
        rig.sim.resetModem()
        rig.wait(2000) { rig.indications.contains { $0.service == .ctl } }
        let sync = try XCTUnwrap(rig.indications.first { $0.service == .ctl })
        XCTAssertEqual(sync.messageID, CTL.Sync.spec.id)
        XCTAssertEqual(rig.sim.activeCalls, 0)
        XCTAssertEqual(rig.sim.allocatedClientCount, 0)
        XCTAssertEqual(rig.errorCode(try rig.call(WDS.GetPacketServiceStatus.spec, cid: wds)), QMIProtocolError.invalidClientId.rawValue)
    }

    func testDeviceGoneAndBack() throws {
        let rig = try Rig { $0.goneAfterMs = 50; $0.backAfterMs = 150 }
        let dms = try rig.allocate(.dms)
        var pending: Result<QMIMessage, QMIError>?
        rig.sim.config.neverAnswer.insert(SimConfig.key(DMS.GetRevision.spec))
        rig.engine.send(QMIMessage.request(DMS.GetRevision.spec, clientID: dms)) { pending = $0 }
        rig.wait(3000) { rig.closed != nil && pending != nil }
        guard case .deviceGone? = rig.closed, case .failure(.deviceGone)? = pending else {
            return XCTFail("\(String(describing: rig.closed)) \(String(describing: pending))")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: rig.socket), "the node disappears with the device")
        rig.wait(3000) { FileManager.default.fileExists(atPath: rig.socket) }
        try rig.connect()
        XCTAssertNoThrow(try rig.allocate(.dms), "a fresh modem answers after it comes back")
    }

    func testCallsSurviveAKilledClientUntilSync() throws {
        let rig = try Rig()
        let wds = try rig.allocate(.wds)
        _ = try rig.ok(WDS.StartNetwork.spec, cid: wds)
        rig.engine.close()            // like kill -9: no release, no stop
        rig.wait(100)
        XCTAssertEqual(rig.sim.activeCalls, 1)
        XCTAssertEqual(rig.sim.allocatedClientCount, 1)
        try rig.connect()
        _ = try rig.ok(CTL.Sync.spec)
        XCTAssertTrue(rig.sim.isClean, "sync releases the dead client's ids and ends its call")
    }

    func testAutoconnectLikeCallNeedsGlobalStop() throws {
        let rig = try Rig { $0.callsOutliveClients = true }
        let wds = try rig.allocate(.wds)
        _ = try rig.ok(WDS.StartNetwork.spec, cid: wds)
        try rig.release(.wds, wds)
        XCTAssertEqual(rig.sim.activeCalls, 1)
        let fresh = try rig.allocate(.wds)
        XCTAssertEqual(try rig.ok(WDS.GetPacketServiceStatus.spec, cid: fresh).value("Connection Status")?.uint, 2)
        _ = try rig.ok(WDS.StopNetwork.spec, cid: fresh) { try $0.set("Packet Data Handle", .uint(0xffff_ffff)) }
        XCTAssertEqual(rig.sim.activeCalls, 0)
    }

    func testQmiProxyProtocolRequiresOpenFirst() throws {
        let rig = try Rig()
        let proxy = rig.dir + "/proxy"
        try rig.sim.listen(proxy, proxy: true)
        // A client that does not open the proxy first is dropped.
        let bad = QMIEngine(channel: try QMIChannel.open(proxy), loop: rig.loop)
        var closed: QMIError?
        bad.onClose = { closed = $0 }
        bad.send(QMIMessage.request(CTL.Sync.spec)) { _ in }
        rig.wait(2000) { closed != nil }
        guard case .deviceGone? = closed else { return XCTFail("\(String(describing: closed))") }
        // A well-behaved one works.
        let good = QMIEngine(channel: try QMIChannel.open(proxy), loop: rig.loop)
        defer { good.close() }
        var opened: Result<QMIMessage, QMIError>?
        var open = QMIMessage.request(CTL.InternalProxyOpen.spec)
        try open.set("Device Path", .string("/dev/cdc-wdm0"))
        good.send(open) { opened = $0 }
        rig.wait(2000) { opened != nil }
        XCTAssertNoThrow(try opened?.get().check())
    }
}
