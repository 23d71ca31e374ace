import Foundation
import XCTest
import Base
import CSystem
import ATCore
import ATMessages
@testable import QMISim

/// The simulated UNISOC/ASR module driven by ATCore's engine (the real client) or by raw
/// bytes, over its pty.
final class ATSimulatorTests: XCTestCase {
    // MARK: the two dialects' dial sequences

    /// UNISOC (EC200U): AT+QNETDEVCTL=<cid>,1,1, the report, the addresses by
    /// AT+QNETDEVSTATUS, the data plane told; the stop leaves the module clean.
    func testUNISOCDial() throws {
        let rig = try ATRig(.ec200u)
        XCTAssertEqual(rig.ok("AT+QNETDEVSTATUS=?"), ["+QNETDEVSTATUS: (1-11)"])
        XCTAssertEqual(rig.ok("AT+QNETDEVCTL=?", as: ATCatalogue.dataCallRange), ["+QNETDEVCTL: (1-11),(0,1),(0,1)"])
        rig.ok("AT+CEREG=2")
        rig.wait(100) { rig.sim.isRegistered }
        XCTAssertEqual(rig.ok("AT+CPIN?"), ["+CPIN: READY"])
        XCTAssertEqual(rig.ok("AT+CEREG?"), ["+CEREG: 2,1,\"DE10\",\"5A29C0B\",7"])
        XCTAssertEqual(rig.ok("AT+COPS=3,0;+COPS?", as: ATCatalogue.currentOperator), ["+COPS: 0,0,\"CHINA MOBILE\",7"])
        XCTAssertEqual(rig.ok("AT+QICSGP=1"), ["+QICSGP: 1,\"cmnet\",\"\",\"\",0"])
        // Status before the call: +CME ERROR: 3 (as RM500U).
        XCTAssertEqual(rig.refused("AT+QNETDEVSTATUS=2"), .cme(3))
        _ = try rig.send(AT.SetProfile(cid: 2, type: 3, apn: "internet", user: "", password: "", auth: 0)).get()
        _ = try rig.send(AT.DataCall(cid: 2, op: 1, urc: 1)).get()
        XCTAssertFalse(rig.sim.callActive(2), "OK comes before the call is up")
        XCTAssertTrue(rig.report("+QNETDEVSTATUS: 2,1,\"IPV4V6\""), "\(rig.reports)")
        XCTAssertTrue(rig.sim.callActive(2))
        let status = try AT.DataStatus.Answer(decoding: XCTUnwrap(rig.ok("AT+QNETDEVSTATUS=2").first))
        XCTAssertEqual(status.address?.text, "10.25.17.79", "cid 2's addresses")
        XCTAssertEqual(status.mask?.text, "255.255.255.224")
        XCTAssertEqual(status.gateway?.text, "10.25.17.65")
        XCTAssertEqual(status.dns1?.text, "211.138.180.2")
        XCTAssertEqual(status.more?.hasPrefix("2408:841e:52f0:a2f4"), true, "IPv4v6 profile: IPv6 after the IPv4 fields")
        XCTAssertEqual(rig.ups.map { $0.cid }, [2])
        XCTAssertEqual(rig.ups.first.map { Text.ipv4($0.address) }, "10.25.17.79")
        XCTAssertEqual(rig.ups.first?.prefix, 27)
        XCTAssertEqual(rig.ups.first.map { Text.ipv4($0.gateway) }, "10.25.17.65")
        XCTAssertEqual(rig.ups.first?.dns.map(Text.ipv4), ["211.138.180.2", "211.138.180.3"])
        let cell = try AT.ServingLTE(decoding: XCTUnwrap(rig.ok("AT+QENG=\"servingcell\"").first))
        XCTAssertEqual(cell.state, "CONNECT")
        XCTAssertFalse(rig.sim.isClean)
        // A second start on a cid that is up: OK, nothing changes.
        _ = try rig.send(AT.DataCall(cid: 2, op: 1, urc: 1)).get()
        XCTAssertEqual(rig.ups.count, 1)
        _ = try rig.send(AT.DataCall(cid: 2, op: 0, urc: 0)).get()
        XCTAssertEqual(rig.downs, [2])
        XCTAssertTrue(rig.sim.isClean)
        XCTAssertEqual(rig.sim.transcript.commands.last, "AT+QNETDEVCTL=2,0,0")
        XCTAssertEqual(rig.sim.transcript.final(after: "AT+QNETDEVCTL=2,0,0"), "OK")
        rig.wait(100)
        XCTAssertFalse(rig.reports.contains { $0.contains("2,0") }, "a stop with urc 0 is not reported")
    }

    /// ASR (EC200A): AT+CGACT=1,<cid>, AT+QNETDEVCTL=1,<cid>,1, the report, AT+CGPADDR;
    /// stopping the NIC leaves the context active until AT+CGACT=0.
    func testASRDial() throws {
        let rig = try ATRig(.ec200a)
        XCTAssertEqual(rig.refused("AT+QNETDEVSTATUS=?"), .error, "ASR has no +QNETDEVSTATUS")
        XCTAssertEqual(rig.ok("AT+QNETDEVCTL=?", as: ATCatalogue.dataCallRange), ["+QNETDEVCTL: (0,1,3),(1-15),(0,1)"])
        rig.wait(100) { rig.sim.isRegistered }
        XCTAssertEqual(rig.ok("AT+CGACT?"), ["+CGACT: 1,0"])
        // The NIC needs an active context.
        XCTAssertEqual(rig.refused(try AT.DataCallASR(op: 1, cid: 1, urc: 1).line()), .cme(3))
        _ = try rig.send(AT.ActivateContext(state: 1, cid: 1)).get()
        XCTAssertTrue(rig.sim.contextActive(1))
        XCTAssertFalse(rig.sim.callActive(1))
        XCTAssertEqual(rig.ok("AT+CGPADDR=1"), ["+CGPADDR: 1,\"10.25.16.79\""])
        _ = try rig.send(AT.DataCallASR(op: 1, cid: 1, urc: 1)).get()
        XCTAssertTrue(rig.sim.callActive(1))
        XCTAssertTrue(rig.report("+QNETDEVSTATUS: 1"), "\(rig.reports)")
        XCTAssertEqual(rig.sim.transcript.unsolicited, ["+QNETDEVSTATUS: 1"])
        XCTAssertEqual(rig.ok("AT+QNETDEVCTL?"), ["+QNETDEVCTL: 1,1,1,1"])
        XCTAssertEqual(rig.ok("AT+CGACT?"), ["+CGACT: 1,1"])
        XCTAssertEqual(rig.ups.map { $0.cid }, [1])
        XCTAssertEqual(rig.refused("AT+QNETDEVSTATUS=1"), .error)
        _ = try rig.send(AT.DataCallASR(op: 0, cid: 1, urc: 0)).get()
        XCTAssertFalse(rig.sim.callActive(1))
        XCTAssertEqual(rig.downs, [1])
        XCTAssertFalse(rig.sim.isClean, "the context is still active (quectel-CM's ASR stop leaves it so)")
        XCTAssertEqual(rig.ok("AT+QNETDEVCTL?"), ["+QNETDEVCTL: 0,1,0,0"])
        _ = try rig.send(AT.ActivateContext(state: 0, cid: 1)).get()
        XCTAssertTrue(rig.sim.isClean)
        XCTAssertEqual(rig.sim.transcript.commands.suffix(2), ["AT+QNETDEVCTL?", "AT+CGACT=0,1"])
    }

    /// cid 1 hides the order; with another cid the wrong order starts the wrong context or
    /// is refused, as on a module.
    func testWrongParameterOrder() throws {
        let unisoc = try ATRig(.rg801h)
        unisoc.wait(100) { unisoc.sim.isRegistered }
        // ASR order for cid 2 on RG801H: cid 1, op 2: out of range.
        XCTAssertEqual(unisoc.refused(try AT.DataCallASR(op: 1, cid: 2, urc: 1).line()), .cme(50))
        unisoc.wait(120)
        XCTAssertEqual(unisoc.sim.activeContexts, [])
        // RG500U takes op 3 (auto-connect): ASR order for cid 3 starts cid 1.
        let rg500u = try ATRig(.rg500u)
        rg500u.wait(100) { rg500u.sim.isRegistered }
        _ = try rg500u.send(AT.DataCallASR(op: 1, cid: 3, urc: 1)).get()
        rg500u.report("+QNETDEVSTATUS: 1,1")
        XCTAssertTrue(rg500u.sim.callActive(1), "the wrong context")
        XCTAssertFalse(rg500u.sim.callActive(3))
        // UNISOC order on ASR (EC200T): for cid 2 op becomes 2: refused.
        let asr = try ATRig(.ec200t)
        asr.wait(100) { asr.sim.isRegistered }
        _ = try asr.send(AT.ActivateContext(state: 1, cid: 2)).get()
        XCTAssertEqual(asr.refused(try AT.DataCall(cid: 2, op: 1, urc: 1).line()), .cme(50))
        // ... for cid 3, op 3 on cid 1, which is not active.
        _ = try asr.send(AT.ActivateContext(state: 1, cid: 3)).get()
        XCTAssertEqual(asr.refused(try AT.DataCall(cid: 3, op: 1, urc: 1).line()), .cme(3))
        XCTAssertFalse(asr.sim.callActive(2) || asr.sim.callActive(3))
        // And the right order works.
        _ = try asr.send(AT.DataCallASR(op: 1, cid: 3, urc: 0)).get()
        XCTAssertTrue(asr.sim.callActive(3))
        // cid out of the dialect's range.
        XCTAssertEqual(unisoc.refused(try AT.DataCall(cid: 12, op: 1, urc: 1).line()), .cme(50))
        XCTAssertEqual(asr.refused(try AT.ActivateContext(state: 1, cid: 16).line()), .cme(50))
    }

    /// quectel-CM 1.6.8's whole sequence on an RG801H (at-facts §4), answered as the capture shows.
    func testQuectelCMSequenceOnRG801H() throws {
        let rig = try ATRig(.rg801h)
        XCTAssertEqual(rig.refused("ATE0Q0V1"), .notSupported, "any final counts for the handshake")
        XCTAssertEqual(rig.ok("AT+QCFG=\"usbnet\""), ["+QCFG: \"usbnet\",5"])
        XCTAssertEqual(rig.ok("AT+QNETDEVCTL=?", as: ATCatalogue.dataCallRange), ["+QNETDEVCTL: (1-11),(0,1),(0,1)"])
        for l in ["AT+CGREG=2", "AT+CEREG=2", "AT+C5GREG=2"] { rig.ok(l) }
        XCTAssertEqual(rig.ok("AT+QNETDEVSTATUS=?"), ["+QNETDEVSTATUS: (1-11)"], "→ UNISOC")
        XCTAssertEqual(rig.ok("AT+QCFG=\"NAT\""), ["+QCFG: \"nat\",0"], "already 0: no restart")
        XCTAssertEqual(rig.ok("AT+CGMR"), ["RG801HEAAAR03A01M8G"])
        XCTAssertEqual(rig.ok("AT+CPIN?"), ["+CPIN: READY"])
        XCTAssertEqual(rig.ok("AT+QCCID"), ["+QCCID: 89860117851101539010"])
        XCTAssertEqual(rig.ok("AT+CIMI"), ["460028563800461"])
        rig.ok("AT+QICSGP=1")
        rig.ok("AT+QICSGP=1,1,\"cmnet\",\"\",\"\",0")
        rig.wait(100) { rig.sim.isRegistered }
        XCTAssertEqual(rig.ok("AT+COPS=3,0;+COPS?;+COPS=3,1;+COPS?;+COPS=3,2;+COPS?", as: ATCatalogue.currentOperator),
                       ["+COPS: 0,0,\"CHINA MOBILE\",12", "+COPS: 0,1,\"CMCC\",12", "+COPS: 0,2,\"46000\",12"])
        XCTAssertEqual(try AT.Registration5GS.Answer(decoding: XCTUnwrap(rig.ok("AT+C5GREG?").first)).stat, 1)
        XCTAssertEqual(rig.refused("AT+QNETDEVSTATUS=1"), .error, "the stale-call check: down")
        rig.ok("AT+QNETDEVCTL=1,1,1", as: ATCatalogue.dataCall)
        var polls = 0
        var status: [String] = []
        while status.isEmpty && polls < 15 {
            polls += 1
            if case .success(let r) = rig.send("AT+QNETDEVSTATUS=1") { status = r.lines } else { rig.wait(20) }
        }
        XCTAssertEqual(try AT.DataStatus.Answer(decoding: XCTUnwrap(status.first)).address?.text, "10.25.16.79")
        XCTAssertGreaterThan(polls, 1, "ERROR until the call is up")
        XCTAssertTrue(rig.reports.contains("+QNETDEVSTATUS:1,1,\"IPV4\""), "\(rig.reports)")
        rig.ok("AT+QNETDEVCTL=1,0,0", as: ATCatalogue.dataCall)
        XCTAssertTrue(rig.sim.isClean)
    }

    // MARK: the SIM

    func testPIN() throws {
        let rig = try ATRig { $0.sim = .pin; $0.simInitMs = 300 }
        rig.ok("AT+CEREG=1")
        XCTAssertEqual(rig.ok("AT+CPIN?"), ["+CPIN: SIM PIN"])
        XCTAssertEqual(rig.refused("AT+CIMI"), .cme(11))
        XCTAssertEqual(rig.refused("AT+QCCID"), .cme(11))
        XCTAssertEqual(rig.refused(try AT.DataCall(cid: 1, op: 1, urc: 1).line()), .cme(11))
        XCTAssertEqual(rig.refused("AT+CPIN=\"0000\""), .cme(16))
        XCTAssertEqual(rig.ok("AT+QPINC=\"SC\""), ["+QPINC: \"SC\",2,10"])
        XCTAssertFalse(rig.sim.isRegistered, "no registration without the SIM")
        rig.ok("AT+CPIN=1234")                                       // bare, as quectel-CM sends it
        XCTAssertTrue(rig.report("+CPIN: READY"), "\(rig.reports)")
        XCTAssertEqual(rig.refused("AT+CIMI"), .cme(14), "SIM still starting")
        rig.wait(1_000) { rig.sim.isRegistered }
        XCTAssertEqual(rig.ok("AT+CIMI"), ["460028563800461"])
        XCTAssertEqual(rig.ok("AT+QCCID"), ["+QCCID: 89860117851101539010"])
        XCTAssertEqual(rig.ok("AT+QPINC=\"SC\""), ["+QPINC: \"SC\",3,10"], "the counter back to 3")
        XCTAssertEqual(rig.refused("AT+CPIN=\"1234\""), .cme(3), "no PIN wanted any more")
        XCTAssertTrue(rig.report("+CEREG: 1"), "registered once the SIM is ready: \(rig.reports)")
    }

    func testLastPINAttemptThenPUK() throws {
        let rig = try ATRig { $0.sim = .pin; $0.pinAttempts = 2 }
        XCTAssertEqual(rig.refused("AT+CPIN=\"1111\""), .cme(16))
        XCTAssertEqual(rig.ok("AT+CPIN?"), ["+CPIN: SIM PIN"])
        XCTAssertEqual(rig.refused("AT+CPIN=\"2222\""), .cme(16))
        XCTAssertEqual(rig.ok("AT+CPIN?"), ["+CPIN: SIM PUK"])
        XCTAssertEqual(rig.sim.pinAttemptsLeft, 0)
        XCTAssertEqual(rig.refused("AT+CPIN=\"1234\""), .cme(12), "the right PIN is too late")
        XCTAssertEqual(rig.refused("AT+CIMI"), .cme(12))
        XCTAssertEqual(rig.refused("AT+CPIN=\"00000000\",\"4321\""), .cme(16))
        XCTAssertEqual(rig.sim.pukAttemptsLeft, 9)
        rig.ok("AT+CPIN=\"12345678\",\"4321\"")
        XCTAssertTrue(rig.report("+CPIN: READY"))
        XCTAssertEqual(rig.sim.simState, .ready)
        // After a restart the new PIN is the one wanted.
        rig.sim.restart()
        rig.wait(1_000) { !rig.sim.isGone && rig.sim.simState == .pin }
        XCTAssertEqual(rig.sim.simState, .pin)
        try rig.connect()
        XCTAssertEqual(rig.refused("AT+CPIN=1234"), .cme(16))
        rig.ok("AT+CPIN=4321")
    }

    func testNoSIM() throws {
        let rig = try ATRig { $0.sim = .absent }
        XCTAssertEqual(rig.refused("AT+CPIN?"), .cme(10))
        XCTAssertEqual(rig.refused("AT+CIMI"), .cme(10))
        XCTAssertEqual(rig.refused("AT+QPINC=\"SC\""), .cme(10))
        XCTAssertEqual(rig.ok("AT+CGSN"), ["867394041355693"], "the module's own identity needs no SIM")
        XCTAssertEqual(rig.ok("AT+CGMR"), ["EC200UCNAAR03A02M08"])
        XCTAssertEqual(rig.ok("AT+CEREG?"), ["+CEREG: 0,0"])
    }

    // MARK: profiles

    /// 27.007: an active context cannot be redefined.
    func testProfileRedefinitionRefusedWhileActive() throws {
        for product in [ATSimConfig.Product.ec200u, .ec200t] {
            let rig = try ATRig(product)
            rig.wait(100) { rig.sim.isRegistered }
            _ = try rig.send(AT.SetProfile(cid: 1, type: 1, apn: "internet", user: "u", password: "p", auth: 2)).get()
            if product.dialect == .asr {
                _ = try rig.send(AT.ActivateContext(state: 1, cid: 1)).get()
            } else {
                _ = try rig.send(AT.DataCall(cid: 1, op: 1, urc: 0)).get()
                XCTAssertEqual(rig.refused(try AT.SetProfile(cid: 1, type: 1, apn: "other", user: "", password: "", auth: 0).line()), .cme(3),
                               "refused while the call is coming up")
                rig.wait(500) { rig.sim.callActive(1) }
            }
            XCTAssertEqual(rig.refused(try AT.SetProfile(cid: 1, type: 1, apn: "other", user: "", password: "", auth: 0).line()), .cme(3))
            XCTAssertEqual(rig.sim.profile(1)?.apn, "internet")
            XCTAssertEqual(rig.ok("AT+QICSGP=1"), ["+QICSGP: 1,\"internet\",\"u\",\"p\",2"])
            _ = try rig.send(AT.SetProfile(cid: 2, type: 1, apn: "other", user: "", password: "", auth: 0)).get()
            XCTAssertEqual(rig.refused("AT+QICSGP=1,4,\"x\",\"\",\"\",0"), .cme(50), "type 4")
            if product.dialect == .asr {
                _ = try rig.send(AT.ActivateContext(state: 0, cid: 1)).get()
            } else {
                _ = try rig.send(AT.DataCall(cid: 1, op: 0, urc: 0)).get()
            }
            _ = try rig.send(AT.SetProfile(cid: 1, type: 1, apn: "other", user: "", password: "", auth: 0)).get()
            XCTAssertEqual(rig.sim.profile(1)?.apn, "other")
        }
    }

    // MARK: the network ending calls

    /// UNISOC (RG500U, its four-field report) and ASR: the report, +CGEV, the data plane down.
    func testNetworkDropsTheCall() throws {
        let unisoc = try ATRig(.rg500u) { $0.dropAfterMs = 150 }
        unisoc.ok("AT+CGEREP=2,1")
        unisoc.wait(100) { unisoc.sim.isRegistered }
        _ = try unisoc.send(AT.DataCall(cid: 1, op: 1, urc: 1)).get()
        XCTAssertTrue(unisoc.report("+QNETDEVSTATUS: 1,1,\"IPV4\",0"), "\(unisoc.reports)")
        XCTAssertTrue(unisoc.report("+QNETDEVSTATUS: 1,0,\"IPV4\",0"), "\(unisoc.reports)")
        XCTAssertTrue(unisoc.report("+CGEV: NW DEACT \"IP\",\"10.25.16.79\",1"), "\(unisoc.reports)")
        XCTAssertEqual(unisoc.downs, [1])
        XCTAssertEqual(unisoc.refused("AT+QNETDEVSTATUS=1"), .cme(3))
        XCTAssertTrue(unisoc.sim.isClean)

        let asr = try ATRig(.eg915q)
        asr.wait(100) { asr.sim.isRegistered }
        _ = try asr.send(AT.ActivateContext(state: 1, cid: 1)).get()
        _ = try asr.send(AT.DataCallASR(op: 1, cid: 1, urc: 1)).get()
        asr.report("+QNETDEVSTATUS: 1")
        asr.sim.dropCall(cid: 1)
        XCTAssertTrue(asr.report("+QNETDEVSTATUS: 0"), "\(asr.reports)")
        XCTAssertFalse(asr.reports.contains { $0.begins(with: "+CGEV") }, "no +CGEV without AT+CGEREP")
        XCTAssertEqual(asr.ok("AT+CGACT?"), ["+CGACT: 1,0"])
        XCTAssertEqual(asr.ok("AT+QNETDEVCTL?"), ["+QNETDEVCTL: 1,1,1,0"])
        XCTAssertEqual(asr.downs, [1])
    }

    /// A module that never reports: the drop is seen only by asking.
    func testNoURCs() throws {
        let rig = try ATRig(.rg801h) { $0.noURCs = true }
        rig.ok("AT+C5GREG=2")
        rig.wait(100) { rig.sim.isRegistered }
        _ = try rig.send(AT.DataCall(cid: 1, op: 1, urc: 1)).get()
        rig.wait(300) { rig.sim.callActive(1) }
        XCTAssertTrue(rig.sim.callActive(1))
        XCTAssertEqual(rig.ok("AT+QNETDEVSTATUS=1").count, 1)
        rig.sim.dropCall(cid: 1)
        rig.wait(100)
        XCTAssertEqual(rig.reports, [])
        XCTAssertEqual(rig.sim.transcript.unsolicited, [])
        XCTAssertEqual(rig.refused("AT+QNETDEVSTATUS=1"), .error)
    }

    // MARK: a wedged module, a module that goes away

    func testHang() throws {
        let rig = try ATRig { $0.hangAfterMs = 150 }
        rig.ok("AT")
        rig.wait(200)
        XCTAssertTrue(rig.sim.isHung)
        guard case .failure(.timeout) = rig.send("AT+CGMR", timeoutMs: 300) else { return XCTFail("a wedged module answered") }
        guard case .failure(.timeout) = rig.send("AT", timeoutMs: 300) else { return XCTFail("a wedged module answered") }
        XCTAssertEqual(rig.sim.transcript.commands, ["AT"], "a wedged module takes nothing in")
    }

    /// The port goes away (the client's reads fail), its symlink with it, and comes back at
    /// the same path, freshly booted, saying RDY.
    func testPortGoesAndComesBack() throws {
        let rig = try ATRig { $0.goneAfterMs = 400; $0.backAfterMs = 300; $0.latencyFor = ["Revision": 5_000] }
        rig.wait(100) { rig.sim.isRegistered }
        rig.ok("ATE0")
        _ = try rig.send(AT.DataCall(cid: 1, op: 1, urc: 1)).get()
        rig.report("+QNETDEVSTATUS: 1,1")
        var outcome: Result<ATReply, ATError>?
        rig.engine?.send(ATCatalogue.revision, "AT+CGMR", timeoutMs: 5_000) { outcome = $0 }
        rig.wait(1_000) { rig.closed != nil }
        guard case .deviceGone? = rig.closed else { return XCTFail("no hang-up: \(String(describing: rig.closed))") }
        rig.wait(100) { outcome != nil }
        guard case .failure(.deviceGone)? = outcome else { return XCTFail("the waiting command: \(String(describing: outcome))") }
        XCTAssertEqual(rig.downs, [1], "the data plane told")
        XCTAssertNil(Files.info(rig.dev), "the symlink is gone with the port")
        rig.wait(1_000) { Files.info(rig.dev) != nil }
        XCTAssertNotNil(Files.info(rig.dev))
        try rig.connect()
        XCTAssertTrue(rig.report("RDY"), "\(rig.reports)")
        XCTAssertEqual(rig.ok("AT+CGSN"), ["867394041355693"])
        XCTAssertTrue(rig.sim.echoOn, "echo back to its power-up default")
        XCTAssertTrue(rig.engine?.echoing == true)
        XCTAssertFalse(rig.sim.callActive(1))
    }

    /// AT+QCFG="NAT",1 is saved, but takes effect only after AT+CFUN=1,1.
    func testNATNeedsARestart() throws {
        let rig = try ATRig(.ec200t)
        XCTAssertEqual(rig.ok("AT+QCFG=\"NAT\""), ["+QCFG: \"nat\",0"])
        XCTAssertEqual(rig.ok("AT+QCFG=\"usbnet\""), ["+QCFG: \"usbnet\",5"])
        rig.ok("AT+QCFG=\"NAT\",1")
        XCTAssertEqual(rig.ok("AT+QCFG=\"NAT\""), ["+QCFG: \"nat\",1"])
        XCTAssertEqual(rig.sim.natRouter, 0, "not before the restart")
        rig.ok("AT+CFUN=1,1")
        rig.wait(1_000) { rig.closed != nil }
        guard case .deviceGone? = rig.closed else { return XCTFail("no restart") }
        rig.wait(1_000) { !rig.sim.isGone }
        XCTAssertEqual(rig.sim.natRouter, 1)
        try rig.connect()
        XCTAssertEqual(rig.ok("AT+QCFG=\"NAT\""), ["+QCFG: \"nat\",1"])
        XCTAssertEqual(rig.refused("AT+CFUN=0,1"), .cme(50))
    }

    // MARK: the channel

    func testEchoOnAndOff() throws {
        let rig = try ATRig(engine: false)
        let port = try RawPort(rig.dev)
        XCTAssertEqual(port.exchange("AT\r", on: rig.loop, until: "OK\r\n"), "AT\r\r\nOK\r\n")
        XCTAssertEqual(port.exchange("ATE0\r", on: rig.loop, until: "OK\r\n"), "ATE0\r\r\nOK\r\n")
        XCTAssertEqual(port.exchange("AT+CIMI\r", on: rig.loop, until: "OK\r\n"), "\r\n460028563800461\r\n\r\nOK\r\n")
        XCTAssertEqual(port.exchange("ATE1\n", on: rig.loop, until: "OK\r\n"), "\r\nOK\r\n", "LF ends a line too")
        XCTAssertEqual(port.exchange("at+cgsn\r", on: rig.loop, until: "OK\r\n"), "at+cgsn\r\r\n867394041355693\r\n\r\nOK\r\n")

        let off = try ATRig(engine: false) { $0.echo = false }
        let p2 = try RawPort(off.dev)
        XCTAssertEqual(p2.exchange("AT\r", on: off.loop, until: "OK\r\n"), "\r\nOK\r\n")
    }

    /// quectel-CM's handshake ATE0Q0V1: refused on UNISOC (RM500U +CME ERROR: 4 with its echo
    /// still on, RG801H COMMAND NOT SUPPORT), taken by ASR.
    func testCombinedHandshake() throws {
        let unisoc = try ATRig(.ec200u)
        XCTAssertEqual(unisoc.refused("ATE0Q0V1"), .cme(4))
        XCTAssertTrue(unisoc.sim.echoOn)
        let rg = try ATRig(.rg801h)
        XCTAssertEqual(rg.refused("ATE0Q0V1"), .notSupported)
        let asr = try ATRig(.ec200a)
        asr.ok("ATE0Q0V1")
        XCTAssertFalse(asr.sim.echoOn)
        // Separately, UNISOC takes them.
        unisoc.ok("ATE0")
        unisoc.ok("ATQ0")
        unisoc.ok("ATV1")
        XCTAssertFalse(unisoc.sim.echoOn)
    }

    func testErrorFormats() throws {
        let rig = try ATRig { $0.sim = .absent }
        rig.ok("AT+CMEE=0")
        XCTAssertEqual(rig.refused("AT+CIMI"), .error)
        rig.ok("AT+CMEE=1")
        XCTAssertEqual(rig.refused("AT+CIMI"), .cme(10))
        rig.ok("AT+CMEE=2")
        XCTAssertEqual(rig.refused("AT+CIMI"), .cmeText("SIM not inserted"))
        XCTAssertEqual(rig.sim.transcript.finals.suffix(1), ["+CME ERROR: SIM not inserted"])
        XCTAssertEqual(rig.refused("AT+CMEE=3"), .cmeText("incorrect parameters"))
        XCTAssertEqual(rig.refused("AT+NOSUCH"), .error, "a command the module has not: plain ERROR")
    }

    /// ATV0: digits for result codes; ATQ1: none.
    func testVerboseAndQuiet() throws {
        let rig = try ATRig(.ec200a, engine: false) { $0.echo = false }
        let port = try RawPort(rig.dev)
        XCTAssertEqual(port.exchange("ATV0\r", on: rig.loop, until: "0\r"), "0\r")
        XCTAssertEqual(port.exchange("AT+CGSN\r", on: rig.loop, until: "0\r"), "867394041355693\r\n0\r")
        XCTAssertEqual(port.exchange("AT+NOSUCH\r", on: rig.loop, until: "4\r"), "4\r")
        XCTAssertEqual(port.exchange("ATV1Q1\r", on: rig.loop, until: nil), "")
        XCTAssertEqual(port.exchange("AT+CGSN\r", on: rig.loop, until: "\r\n867394041355693\r\n"), "\r\n867394041355693\r\n")
    }

    /// One command at a time: what comes while one runs is dropped; a line longer than the
    /// module's buffer gets ERROR.
    func testOneCommandAtATimeAndTheLineBuffer() throws {
        let rig = try ATRig(engine: false) { $0.echo = false; $0.latencyMs = 30 }
        let port = try RawPort(rig.dev)
        XCTAssertEqual(port.exchange("AT+CIMI\rAT+CGSN\r", on: rig.loop, until: "OK\r\n", quietMs: 150), "\r\n460028563800461\r\n\r\nOK\r\n")
        XCTAssertEqual(rig.sim.transcript.commands, ["AT+CIMI"])
        XCTAssertEqual(rig.sim.transcript.lines(.dropped), ["AT+CGSN\r"])
        let long = "AT+QICSGP=1,1,\"" + String(repeating: "a", count: 600) + "\",\"\",\"\",0\r"
        XCTAssertEqual(port.exchange(long, on: rig.loop, until: "ERROR\r\n"), "\r\nERROR\r\n")
        XCTAssertEqual(port.exchange("junk without the prefix\r", on: rig.loop, until: nil), "", "no AT: ignored")
        XCTAssertEqual(port.exchange("AT\r", on: rig.loop, until: "OK\r\n"), "\r\nOK\r\n")
    }

    func testAnswerErrorToEverything() throws {
        let rig = try ATRig { $0.answerErrorToEverything = true }
        XCTAssertEqual(rig.refused("AT"), .error)
        XCTAssertEqual(rig.refused("AT+CPIN?"), .error)
    }

    /// Junk lines, NULs and a 64 KB line before answers: the engine survives them. A junk
    /// line before a bare answer (AT+CIMI's IMSI) is indistinguishable from it by its shape,
    /// and the engine keeps it among the answer's lines.
    func testGarbage() throws {
        let rig = try ATRig { $0.garbage = true }
        let imsi = rig.ok("AT+CIMI")
        XCTAssertEqual(imsi.last, "460028563800461")
        XCTAssertEqual(imsi.count, 2, "the junk line taken for part of the bare answer: \(imsi)")
        XCTAssertEqual(rig.ok("AT+CPIN?"), ["+CPIN: READY"])
        XCTAssertEqual(rig.ok("AT+QCCID"), ["+QCCID: 89860117851101539010"])
        XCTAssertEqual(rig.sim.transcript.lines(.junk).count, 4)
        XCTAssertTrue(rig.ignored.contains { $0.contains("longer than") }, "\(rig.ignored)")
        XCTAssertTrue(rig.ignored.contains { $0.contains("control byte") }, "\(rig.ignored)")
        XCTAssertTrue(rig.ignored.contains { $0.contains("'#") }, "\(rig.ignored)")
    }

    // MARK: registration

    func testRegistrationReports() throws {
        let rig = try ATRig { $0.registrationDelayMs = 300; $0.urcStorm = 40 }
        rig.ok("AT+CEREG=2")
        rig.ok("AT+CREG=2")
        XCTAssertEqual(rig.ok("AT+CEREG?"), ["+CEREG: 2,2"], "searching")
        XCTAssertEqual(rig.ok("AT+CSQ"), ["+CSQ: 99,99"])
        XCTAssertEqual(rig.refused(try AT.DataCall(cid: 1, op: 1, urc: 1).line()), .cme(30), "not registered yet")
        rig.wait(1_000) { rig.reports.count >= 41 }
        XCTAssertEqual(rig.reports.first, "+CEREG: 1,\"DE10\",\"5A29C0B\",7")
        XCTAssertEqual(rig.reports.count, 41, "the report and a storm of 40")
        XCTAssertEqual(rig.ok("AT+CSQ"), ["+CSQ: 20,99"])
        XCTAssertEqual(rig.ok("AT+CREG?"), ["+CREG: 2,0"], "an LTE module registers in EPS only")
        rig.reports.removeAll()
        rig.sim.setRegistration(false)
        XCTAssertTrue(rig.report("+CEREG: 2"))
        XCTAssertEqual(rig.reports, ["+CEREG: 2"], "no cell while not registered; nothing on +CREG")
        rig.ok("AT+CEREG=1")
        rig.sim.setRegistration(true)
        rig.wait(1_000) { rig.reports.count >= 2 }
        XCTAssertEqual(rig.reports.last, "+CEREG: 1")
        rig.ok("AT+CEREG=0")
        rig.sim.setRegistration(false)
        rig.wait(100)
        XCTAssertEqual(rig.reports.count, 2, "n=0: no reports")
        XCTAssertEqual(rig.ok("AT+COPS?"), ["+COPS: 0"])
    }

    func testRoamingAndNeverRegistering() throws {
        let roaming = try ATRig { $0.roaming = true }
        roaming.wait(100) { roaming.sim.isRegistered }
        XCTAssertEqual(roaming.ok("AT+CEREG?"), ["+CEREG: 0,5"])
        _ = try roaming.send(AT.DataCall(cid: 1, op: 1, urc: 1)).get()
        XCTAssertTrue(roaming.report("+QNETDEVSTATUS: 1,1"), "roaming is registered: \(roaming.reports)")
        let never = try ATRig { $0.neverRegister = true }
        never.wait(100)
        XCTAssertEqual(never.ok("AT+CEREG?"), ["+CEREG: 0,2"], "searching, for ever")
        XCTAssertEqual(never.ok("AT+QENG=\"servingcell\""), ["+QENG: \"servingcell\",\"SEARCH\""])
        XCTAssertEqual(never.refused("AT+CGACT=1,1"), .cme(30))
    }

    /// `resetAfterMs`: the module restarts on its own; the client sees the port hang up.
    func testResetOnItsOwn() throws {
        let rig = try ATRig { $0.resetAfterMs = 100 }
        rig.ok("AT+CMEE=2")
        rig.wait(1_000) { rig.closed != nil }
        guard case .deviceGone? = rig.closed else { return XCTFail("no hang-up") }
        rig.wait(1_000) { !rig.sim.isGone }
        try rig.connect()
        XCTAssertEqual(rig.sim.errorFormat, 1, "AT+CMEE back to its default")
        XCTAssertEqual(rig.ok("AT"), [])
        XCTAssertTrue(rig.sim.transcript.lines(.event).contains("the module restarts"))
    }

    func testRadioOff() throws {
        let rig = try ATRig { $0.cfun = 4 }
        XCTAssertEqual(rig.ok("AT+CFUN?"), ["+CFUN: 4"])
        rig.wait(100)
        XCTAssertFalse(rig.sim.isRegistered)
        XCTAssertEqual(rig.ok("AT+CEREG?"), ["+CEREG: 0,0"])
        rig.ok("AT+CFUN=1")
        rig.wait(200) { rig.sim.isRegistered }
        XCTAssertTrue(rig.sim.isRegistered)
        XCTAssertEqual(rig.refused("AT+CFUN=7"), .cme(50))
    }

    // MARK: the call refused

    func testCallRefused() throws {
        let unisoc = try ATRig(.ec200u) { $0.rejectCall = 33; $0.rejectTimes = 1 }
        unisoc.wait(100) { unisoc.sim.isRegistered }
        _ = try unisoc.send(AT.DataCall(cid: 1, op: 1, urc: 1)).get()      // OK: the refusal comes later
        XCTAssertTrue(unisoc.report("+QNETDEVSTATUS: 1,0,\"IPV4\""), "\(unisoc.reports)")
        XCTAssertFalse(unisoc.sim.callActive(1))
        XCTAssertEqual(unisoc.refused("AT+QNETDEVSTATUS=1"), .cme(3))
        XCTAssertEqual(unisoc.ups.count, 0)
        _ = try unisoc.send(AT.DataCall(cid: 1, op: 1, urc: 1)).get()
        XCTAssertTrue(unisoc.report("+QNETDEVSTATUS: 1,1,\"IPV4\""), "\(unisoc.reports)")

        let asr = try ATRig(.ec200a) { $0.acceptedAPNs = ["internet"] }
        asr.wait(100) { asr.sim.isRegistered }
        XCTAssertEqual(asr.refused(try AT.ActivateContext(state: 1, cid: 1).line()), .cme(127), "cmnet is not taken")
        _ = try asr.send(AT.SetProfile(cid: 1, type: 1, apn: "INTERNET", user: "", password: "", auth: 0)).get()
        _ = try asr.send(AT.ActivateContext(state: 1, cid: 1)).get()
        XCTAssertTrue(asr.sim.contextActive(1))
    }

    // MARK: RG801H

    /// As the RG801H capture shows it: hex addresses least significant byte first, the
    /// report without a space (and sent though urc is 0), +QICSGP with the cid first, +COPS AcT 12 on SA, ERROR while down.
    func testRG801HQuirks() throws {
        let rig = try ATRig(.rg801h)
        rig.ok("AT+C5GREG=2")
        rig.wait(100) { rig.sim.isRegistered }
        let line = try XCTUnwrap(rig.ok("AT+QICSGP=1").first)
        XCTAssertEqual(line, "+QICSGP: 1,1,\"cmnet\",\"\",\"\",0,,0,")
        XCTAssertEqual(try AT.ProfileWithCid(decoding: line).apn, "cmnet")
        XCTAssertThrowsError(try AT.Profile.Answer(decoding: line), "a client reading the 5-field form fails here as on the module")
        XCTAssertEqual(rig.ok("AT+COPS=3,2;+COPS?", as: ATCatalogue.currentOperator), ["+COPS: 0,2,\"46000\",12"])
        XCTAssertEqual(rig.ok("AT+C5GREG?"), ["+C5GREG: 2,1,\"46550B\",\"170C23000\",11,1,\"01\""])
        XCTAssertEqual(rig.ok("AT+QENG=\"servingcell\""),
                       ["+QENG: \"servingcell\",\"NOCONN\",\"NR5G-SA\",\"TDD\",460,00,170C23000,901,46550B,504990,41,-,-82,-4,16,-,-"])
        XCTAssertEqual(rig.refused("AT+QNETDEVSTATUS=1"), .error)
        _ = try rig.send(AT.DataCall(cid: 1, op: 1, urc: 0)).get()
        XCTAssertTrue(rig.report("+QNETDEVSTATUS:1,1,\"IPV4\""), "reported though urc is 0, as in the capture: \(rig.reports)")
        XCTAssertEqual(rig.sim.transcript.unsolicited.last, "+QNETDEVSTATUS:1,1,\"IPV4\"")
        let status = try XCTUnwrap(rig.ok("AT+QNETDEVSTATUS=1").first)
        XCTAssertEqual(status, "+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,03B48AD3, 85600, 85600")
        XCTAssertEqual(try AT.DataStatus.Answer(decoding: status).address?.text, "10.25.16.79")
        XCTAssertEqual(rig.ok("AT+CSQ"), ["+CSQ: 99,99"], "CSQ is not for 5G")
        let ec200u = try ATRig(.ec200u)
        XCTAssertEqual(ec200u.refused("AT+C5GREG=2"), .error, "an LTE module has no +C5GREG")
    }

    // MARK: the device path, the thread

    func testDevPathAndCleanup() throws {
        let dir = NSTemporaryDirectory() + "atsim-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let taken = dir + "/ttyUSB2"
        _ = FileManager.default.createFile(atPath: taken, contents: Data("mine".utf8))
        let sim = ATSimulator()
        XCTAssertThrowsError(try sim.listen(devPath: taken))
        XCTAssertEqual(FileManager.default.contents(atPath: taken), Data("mine".utf8), "nothing replaced")
        let path = dir + "/ttyUSB3"
        let slave = try sim.listen(devPath: path)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: path), slave)
        XCTAssertTrue(slave.hasPrefix("/dev/pts/"))
        sim.shutdown()
        XCTAssertNil(Files.info(path), "the symlink removed on stop")
        XCTAssertNotNil(Files.info(taken))
        var bad = ATSimConfig(product: .rg801h)
        bad.dialect = .asr
        XCTAssertThrowsError(try ATSimulator(config: bad).listen(), "RG801H is UNISOC")
    }

    /// On its own thread, with a client on the test's loop, state read from the test thread.
    func testOwnThread() throws {
        var c = ATSimConfig(product: .ec200t)
        c.latencyMs = 2
        let sim = ATSimulator(config: c)
        sim.startThread()
        defer { sim.shutdown() }
        let slave = try sim.listen()
        let loop = EventLoop()
        let engine = ATEngine(channel: try ATChannel.open(slave), loop: loop)
        defer { engine.close() }
        var done: Result<ATReply, ATError>?
        engine.send(ATCatalogue.revision, "AT+CGMR", timeoutMs: 2_000) { done = $0 }
        loop.run(until: { done != nil }, timeoutMs: 3_000)
        XCTAssertEqual(try done?.get().lines, ["EC200TCNDAR02A07M10"])
        for _ in 0..<100 where !sim.isRegistered { usleep(10_000) }
        XCTAssertTrue(sim.isRegistered)
        done = nil
        engine.send(ATCatalogue.activateContext, "AT+CGACT=1,1", timeoutMs: 2_000) { done = $0 }
        loop.run(until: { done != nil }, timeoutMs: 3_000)
        XCTAssertNotNil(try done?.get())
        XCTAssertTrue(sim.contextActive(1))
    }
}
