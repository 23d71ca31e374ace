import Foundation
import XCTest
import Base
import ATCore
import ATMessages
@testable import QMICodegen

/// Lines as real modules write them (quectel-CM captures of an RG801H and an RM500U, 27.007
/// examples) read through the catalogue.
final class SyntaxTests: XCTestCase {
    func testFieldsQuotedAndBare() {
        XCTAssertEqual(ATText.fields("1,\"a,b\",  7 ,,\"\""), [
            ATToken(text: "1", quoted: false), ATToken(text: "a,b", quoted: true), ATToken(text: "7", quoted: false),
            ATToken(text: "", quoted: false), ATToken(text: "", quoted: true),
        ])
        XCTAssertEqual(ATText.split("+QNETDEVSTATUS:1,1,\"IPV4\"").prefix, "+QNETDEVSTATUS")
        XCTAssertEqual(ATText.split("+QNETDEVSTATUS:1,1,\"IPV4\"").body, "1,1,\"IPV4\"")
        XCTAssertNil(ATText.split("RG801HEAAAR03A01M8G").prefix)
        XCTAssertNil(ATText.split("460028563800461").prefix)
    }

    /// RG801H writes the call's IPv4 settings as hex, least significant byte first; the
    /// capture's udhcpc and ifconfig lines say what they are.
    func testHexLittleEndianDataStatus() throws {
        let a = try AT.DataStatus.Answer(decoding: "+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,03B48AD3, 85600, 85600")
        XCTAssertEqual(a.address?.text, "10.25.16.79")
        XCTAssertEqual(a.mask?.text, "255.255.255.224")
        XCTAssertEqual(a.gateway?.text, "10.25.16.65")
        XCTAssertEqual(a.dns1?.text, "211.138.180.2")
        XCTAssertEqual(a.dns2?.text, "211.138.180.3")
        XCTAssertEqual(ATText.hexLE(0x0a19_104f), "4F10190A")
    }

    /// RM500U writes them dotted, an empty field where it has no DHCP server, IPv6 after.
    func testDottedDataStatus() throws {
        let a = try AT.DataStatus.Answer(decoding: "+QNETDEVSTATUS: 10.130.122.198,255.255.255.0,10.130.122.1,,202.99.160.68,202.99.166.4,2408:841e:52f0:a2f4:178f:7578:4e3d:7937,,,,2408:8888::8,2408:8899::8")
        XCTAssertEqual(a.address?.text, "10.130.122.198")
        XCTAssertNil(a.dhcpServer)
        XCTAssertEqual(a.dns2?.text, "202.99.166.4")
        XCTAssertEqual(a.more?.hasPrefix("2408:841e"), true)
    }

    /// The unsolicited +QNETDEVSTATUS has the answer's prefix but not its shape.
    func testUnsolicitedLinesWithAnAnswersPrefix() {
        let pending = ATCatalogue.dataStatus
        for urc in ["+QNETDEVSTATUS:1,1,\"IPV4\"", "+QNETDEVSTATUS: 1,1,\"IPV4V6\",0", "+QNETDEVSTATUS: 0"] {
            guard case .unsolicited(let u) = ATEngine.classify(urc, pending: pending, sent: "AT+QNETDEVSTATUS=1") else {
                return XCTFail("\(urc) taken for the answer")
            }
            XCTAssertTrue(u === ATCatalogue.dataCallChanged || u === ATCatalogue.dataCallChangedASR, urc)
        }
        guard case .answer = ATEngine.classify("+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,03B48AD3", pending: pending, sent: "AT+QNETDEVSTATUS=1") else {
            return XCTFail("the answer taken for a report")
        }
        // +CEREG's answer starts with the mode, its report with the state.
        guard case .unsolicited = ATEngine.classify("+CEREG: 1,\"DE10\",\"5A29C0B\",7", pending: ATCatalogue.registrationEPS, sent: "AT+CEREG?"),
              case .answer = ATEngine.classify("+CEREG: 2,1,\"DE10\",\"5A29C0B\",7", pending: ATCatalogue.registrationEPS, sent: "AT+CEREG?"),
              case .answer = ATEngine.classify("+CEREG: 2,2", pending: ATCatalogue.registrationEPS, sent: "AT+CEREG?"),
              case .unsolicited = ATEngine.classify("+CEREG: 2", pending: ATCatalogue.registrationEPS, sent: "AT+CEREG?")
        else { return XCTFail("+CEREG answer and report confused") }
        // With nothing waiting, a report is a report; a bare line nobody asked for is unknown.
        guard case .unsolicited = ATEngine.classify("+C5GREG: 1,\"6301D\",\"065472283\",11,9,01.000000", pending: nil, sent: nil),
              case .unknown = ATEngine.classify("460028563800461", pending: nil, sent: nil),
              case .answer = ATEngine.classify("460028563800461", pending: ATCatalogue.imsi, sent: "AT+CIMI"),
              case .unsolicited = ATEngine.classify("RDY", pending: ATCatalogue.imsi, sent: "AT+CIMI"),
              case .echo = ATEngine.classify("at+cimi", pending: ATCatalogue.imsi, sent: "AT+CIMI")
        else { return XCTFail("classification") }
    }

    func testRegistrationAnswersWithFiveGCellIDs() throws {
        let r = try AT.Registration5GS.Answer(decoding: "+C5GREG: 2,1,\"46550B\",\"0000000170C23000\",11,1,\"01\"")
        XCTAssertEqual(r.stat, 1)
        XCTAssertEqual(r.area, 0x46550B)
        XCTAssertEqual(r.cell, 0x1_70C2_3000, "36-bit NR cell ids fit")
        XCTAssertEqual(r.act, 11)
        let u = try AT.Unsolicited.EPSRegistration(decoding: "+CEREG: 5,\"DE10\",\"5A29C0B\",7")
        XCTAssertEqual(u.stat, 5)
        XCTAssertEqual(u.cell, 0x5A29C0B)
    }

    func testServingCellLines() throws {
        let sa = try AT.ServingNR(decoding: "+QENG: \"servingcell\",\"NOCONN\",\"NR5G-SA\",\"TDD\",460,00,170C23000,901,46550B,504990,41,-,-54,-10,16,-,-")
        XCTAssertEqual(sa.state, "NOCONN")
        XCTAssertEqual(sa.mnc, "00", "MNC keeps its leading zero")
        XCTAssertEqual(sa.cell, 0x170C23000)
        XCTAssertNil(sa.bandwidth, "'-' is no value")
        XCTAssertEqual(sa.rsrp, -54)
        XCTAssertEqual(sa.sinr, 16)
        let lte = try AT.ServingLTE(decoding: "+QENG: \"servingcell\",\"NOCONN\",\"LTE\",\"FDD\",460,01,5A29C0B,123,1650,3,5,5,DE10,-82,-4,-51,3,39")
        XCTAssertEqual(lte.rsrq, -4)
        XCTAssertEqual(lte.sinr, 3)
        XCTAssertNil(lte.srxlev, "fields a firmware leaves out are absent")
        let nr = try AT.SecondaryNR(decoding: "+QENG: \"NR5G-NSA\",460,01,747,-71,25,-11,627264,78,12,1")
        XCTAssertEqual(nr.rsrp, -71)
        XCTAssertEqual(nr.sinr, 25)
        XCTAssertEqual(nr.rsrq, -11)
    }

    /// RG801H's +QICSGP answer has the cid in front and three fields more.
    func testProfileAnswers() throws {
        let p = try AT.Profile.Answer(decoding: "+QICSGP: 1,\"cmnet\",\"user\",\"secret\",2")
        XCTAssertEqual(p.apn, "cmnet")
        XCTAssertEqual(p.auth, 2)
        XCTAssertFalse(p.description.contains("secret"), p.description)
        XCTAssertThrowsError(try AT.Profile.Answer(decoding: "+QICSGP: 1,1,\"cment\",\"\",\"\",0,,0,"))
        let rg = try AT.ProfileWithCid(decoding: "+QICSGP: 1,1,\"cment\",\"\",\"\",0,,0,")
        XCTAssertEqual(rg.apn, "cment")
        XCTAssertEqual(rg.type, 1)
    }

    func testCommandLinesAndInjection() throws {
        XCTAssertEqual(try AT.DataCall(cid: 2, op: 1, urc: 1).line(), "AT+QNETDEVCTL=2,1,1")
        XCTAssertEqual(try AT.DataCallASR(op: 1, cid: 2, urc: 1).line(), "AT+QNETDEVCTL=1,2,1")
        XCTAssertEqual(try AT.SetProfile(cid: 1, type: 3, apn: "internet", user: "", password: "", auth: 0).line(),
                       "AT+QICSGP=1,3,\"internet\",\"\",\"\",0")
        XCTAssertEqual(try AT.Echo(on: 0).line(), "ATE0")
        XCTAssertEqual(try AT.PinState().line(), "AT+CPIN?")
        XCTAssertEqual(try AT.Setting(name: "NAT").line(), "AT+QCFG=\"NAT\"")
        // A quote or a CR would end the string, or the command, and start another.
        for apn in ["a\";+CFUN=0;\"", "a\rAT+CFUN=0", "caf\u{e9}"] {
            XCTAssertThrowsError(try AT.SetProfile(cid: 1, type: 1, apn: apn, user: "", password: "", auth: 0).line(), apn) { e in
                guard case ATError.invalidParameter = e else { return XCTFail("\(e)") }
            }
        }
    }

    func testTheSimulatorsSideParsesCommandLines() throws {
        let p = try XCTUnwrap(ATCatalogue.parse(commandLine: "at+qnetdevctl=1,2,1"))
        XCTAssertEqual(p.command, "+QNETDEVCTL")
        XCTAssertEqual(p.form, .set)
        XCTAssertEqual(ATCatalogue.commands(for: "AT+QNETDEVCTL=1,2,1").map { $0.name }, ["DataCall", "DataCallASR"])
        XCTAssertEqual(ATCatalogue.commands(for: "AT+QICSGP=1").map { $0.name }, ["Profile"])
        XCTAssertEqual(ATCatalogue.commands(for: "AT+QICSGP=1,1,\"a\",\"\",\"\",0").map { $0.name }, ["SetProfile"])
        XCTAssertEqual(ATCatalogue.commands(for: "ATE1").map { $0.name }, ["Echo"])
        XCTAssertEqual(ATCatalogue.commands(for: "AT").map { $0.name }, ["Attention"])
        XCTAssertEqual(ATCatalogue.commands(for: "AT+QNETDEVSTATUS=?").map { $0.name }, ["DataStatusRange"])
        XCTAssertTrue(ATCatalogue.commands(for: "hello").isEmpty)
        let call = try AT.DataCallASR(parameters: "1,2,1")
        XCTAssertEqual(call.cid, 2)
    }

    func testSecretsAreMasked() {
        XCTAssertEqual(ATCatalogue.masked(commandLine: "AT+CPIN=\"1234\""), "AT+CPIN=\"****\"")
        XCTAssertEqual(ATCatalogue.masked(commandLine: "AT+CPIN=\"12345678\",\"4321\""), "AT+CPIN=\"****\",\"****\"")
        XCTAssertEqual(ATCatalogue.masked(commandLine: "AT+QICSGP=1,1,\"cmnet\",\"u\",\"pw\",2"), "AT+QICSGP=1,1,\"cmnet\",\"u\",\"****\",2")
        XCTAssertEqual(ATCatalogue.masked(commandLine: "AT+QICSGP=1"), "AT+QICSGP=1")
        XCTAssertEqual(ATCatalogue.profile.answer.masked("1,\"cmnet\",\"u\",\"pw\",2"), "1,\"cmnet\",\"u\",\"****\",2")
    }

    func testFinalResultsAndErrorNames() {
        XCTAssertEqual(ATFinal.parse("OK"), .ok)
        XCTAssertEqual(ATFinal.parse("+CME ERROR: 127"), .cme(127))
        XCTAssertEqual(ATFinal.parse("+CME ERROR: 127")?.description, "+CME ERROR: 127 (missing or unknown APN)")
        XCTAssertEqual(ATFinal.parse("+CME ERROR: SIM not inserted"), .cmeText("SIM not inserted"))
        XCTAssertEqual(ATFinal.parse("+CMS ERROR: 310")?.description, "+CMS ERROR: 310 (SIM not inserted)")
        XCTAssertEqual(ATFinal.parse("COMMAND NOT SUPPORT"), .notSupported)
        XCTAssertNil(ATFinal.parse("OKAY"))
        XCTAssertNil(ATFinal.parse("+CPIN: READY"))
    }

    /// The checked-in views are exactly what the generator writes from today's catalogue.
    func testGeneratedFileIsUpToDate() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/ATMessages/Messages.generated.swift").standardized.path
        let checkedIn = try String(contentsOfFile: path, encoding: .utf8)
        let fresh = ATGenerator.generate()
        if checkedIn != fresh {
            let a = checkedIn.components(separatedBy: "\n"), b = fresh.components(separatedBy: "\n")
            let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
            XCTFail("""
                Sources/ATMessages/Messages.generated.swift is stale: run
                  swift run qcm-codegen --at Sources/ATMessages/Messages.generated.swift
                first difference at line \(first + 1)
                """)
        }
    }
}

/// `qcm decode`'s view of AT lines.
final class TraceTests: XCTestCase {
    func testLinesOfATraceDescribed() throws {
        let sent = try XCTUnwrap(ATTrace.find(in: "[12-07_20:01:02:123] AT> AT+QNETDEVCTL=2,1,1"))
        XCTAssertTrue(sent.sent)
        let what = try XCTUnwrap(ATTrace.describe(sent.line, sent: true))
        XCTAssertEqual(what.count, 2, "both dialects' readings: \(what)")
        XCTAssertTrue(what[0].contains("cid=2 op=1 urc=1"), what[0])
        XCTAssertTrue(what[1].contains("op=2 cid=1"), what[1])
        let pin = try XCTUnwrap(ATTrace.describe("AT+CPIN=\"1234\"", sent: true))
        XCTAssertFalse(pin.joined().contains("1234"), "\(pin)")
        let data = try XCTUnwrap(ATTrace.describe("+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,03B48AD3, 85600, 85600", sent: false))
        XCTAssertTrue(data.contains { $0.contains("address=10.25.16.79") && $0.contains("dns2=211.138.180.3") }, "\(data)")
        let report = try XCTUnwrap(ATTrace.describe("+QNETDEVSTATUS:1,1,\"IPV4\"", sent: false))
        XCTAssertTrue(report[0].hasPrefix("unsolicited DataCallChanged"), "\(report)")
        XCTAssertEqual(ATTrace.describe("+CME ERROR: 127", sent: false), ["error: +CME ERROR: 127 (missing or unknown APN)"])
        XCTAssertEqual(ATTrace.masked(received: "+QICSGP: 1,\"cmnet\",\"u\",\"pw\",2"), "+QICSGP: 1,\"cmnet\",\"u\",\"****\",2")
        XCTAssertNil(ATTrace.describe("hello", sent: false))
    }
}
