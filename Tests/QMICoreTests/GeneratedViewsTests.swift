import Foundation
import XCTest
import Base
@testable import QMICore
import QMIMessages
import QMICodegen

/// The typed message views are derived from the catalogue, and nothing else.
final class GeneratedViewsTests: XCTestCase {
    /// The checked-in file is exactly what the generator writes from today's catalogue.
    func testGeneratedFileIsUpToDate() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/QMIMessages/Messages.generated.swift").standardized.path
        let checkedIn = try String(contentsOfFile: path, encoding: .utf8)
        let fresh = Generator.generate()
        if checkedIn != fresh {
            let a = checkedIn.components(separatedBy: "\n"), b = fresh.components(separatedBy: "\n")
            let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
            XCTFail("""
                Sources/QMIMessages/Messages.generated.swift is stale: run
                  swift run qcm-codegen Sources/QMIMessages/Messages.generated.swift
                first difference at line \(first + 1):
                  checked in: \(first < a.count ? a[first] : "<end>")
                  generated:  \(first < b.count ? b[first] : "<end>")
                """)
        }
    }

    /// A typed request encodes to the same bytes the catalogue's definition gives.
    func testTypedRequestMatchesTheCatalogueEncoding() throws {
        var r = WDS.StartNetwork.Request(clientID: 3)
        r.apn = "3gnet"
        r.ipFamilyPreference = .ipv4
        r.authenticationPreference = [.pap, .chap]
        r.profileIndex3GPP = 1
        r.password = "secret"
        var m = QMIMessage.request(WDS.StartNetwork.spec, clientID: 3)
        try m.set("APN", .string("3gnet"))
        try m.set("IP Family Preference", .uint(4))
        try m.set("Authentication Preference", .uint(3))
        try m.set("Profile Index 3GPP", .uint(1))
        try m.set("Password", .string("secret"))
        XCTAssertEqual(Set(try r.checked().tlvs.map { "\($0.type):\($0.value)" }), Set(m.tlvs.map { "\($0.type):\($0.value)" }))
        XCTAssertEqual(r.apn, "3gnet")
        XCTAssertEqual(r.authenticationPreference, [.pap, .chap])
        XCTAssertEqual(r.ipFamilyPreference?.name, "ipv4")
        XCTAssertNil(r.username)
        r.apn = nil
        XCTAssertNil(r.message.tlv(0x14), "setting nil removes the TLV")
    }

    /// Nested structures and arrays: the card status a modem sends, read by name.
    func testNestedStructuresAndArrays() throws {
        let app = UIM.Application(
            type: .usim, state: .ready, personalizationState: 0, personalizationFeature: 0, personalizationRetries: 0,
            personalizationUnblockRetries: 0, applicationIdentifier: [0xa0, 0, 0, 0, 0x87], upinReplacesPIN1: false,
            pin1State: .enabledVerified, pin1Retries: 3, puk1Retries: 10, pin2State: .enabledNotVerified, pin2Retries: 3, puk2Retries: 10)
        let card = UIM.Card(cardState: .present, upinState: .notInitialized, upinRetries: 0, upukRetries: 0,
                                       errorCode: .unknown, applications: [app])
        var resp = UIM.GetCardStatus.Response(replyingTo: QMIMessage.request(UIM.GetCardStatus.spec, clientID: 1))
        resp.cardStatus = UIM.CardStatus(indexGWPrimary: 0, index1XPrimary: 0xffff, indexGWSecondary: 0xffff,
                                         index1XSecondary: 0xffff, cards: [card])
        let wire = try QMIMessage.decode(try resp.checked().encode())
        let view = UIM.GetCardStatus.Response(wire)
        XCTAssertEqual(view.cardStatus?.cards.first?.applications.first?.state, .ready)
        XCTAssertEqual(view.cardStatus?.cards.first?.applications.first?.pin1Retries, 3)
        XCTAssertEqual(view.cardStatus?.cards.first?.cardState.name, "present")
        XCTAssertEqual(view.result, .success)
    }

    /// A value the wire format cannot hold is reported, not truncated or trapped on.
    func testUnencodableValueIsAProblemNotATrap() {
        var r = UIM.VerifyPIN.Request(clientID: 1)
        r.info = UIM.VerifyPIN.Info(pinID: .pin1, pin: String(repeating: "1", count: 300))
        XCTAssertNil(r.message.tlv(0x02))
        XCTAssertThrowsError(try r.checked())
    }

    /// Unknown enum values survive; names come from the one enum text.
    func testEnumValuesKeepUnknownNumbers() {
        let odd = WDS.ConnectionStatus(rawValue: 99)
        XCTAssertEqual(odd.rawValue, 99)
        XCTAssertEqual(odd.name, "unknown")
        XCTAssertEqual(WDS.ConnectionStatus.connected.name, "connected")
        XCTAssertEqual(WDS.CallEndReason(rawValue: 1013).name, QMIEnums.wdsCallEndReason.name(of: 1013))
    }
}
