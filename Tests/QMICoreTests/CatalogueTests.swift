import XCTest
@testable import QMICore

final class CatalogueTests: XCTestCase {
    func testEveryMessageRoundTrips() throws {
        var rng = SplitMix64(seed: 42)
        var checked = 0
        for spec in QMICatalogue.all {
            for kind in [QMIKind.request, .response, .indication] {
                if kind == .request && !spec.hasRequest { continue }
                if kind == .indication && spec.indication == nil { continue }
                for _ in 0..<5 {
                    var m = QMIMessage(service: spec.service, clientID: UInt8.random(in: 0...255, using: &rng), kind: kind,
                                       transactionID: spec.service == .ctl ? UInt16.random(in: 1...255, using: &rng) : UInt16.random(in: 1...0xffff, using: &rng),
                                       messageID: spec.id)
                    var expected: [String: QMIValue] = [:]
                    for t in spec.tlvs(for: kind) {
                        let v = sampleValue(t.value, &rng)
                        try m.set(t.name, v)
                        expected[t.name] = v
                    }
                    let decoded = try QMIMessage.decode(m.encode())
                    XCTAssertEqual(decoded, m, spec.fullName)
                    for t in spec.tlvs(for: kind) {
                        XCTAssertEqual(try decoded.value(t.name), normalized(expected[t.name]!, t.value), "\(spec.fullName) \(t.name)")
                    }
                    let text = QMITrace.describe(decoded).joined(separator: "\n")
                    XCTAssertFalse(text.contains("undecodable"), text)
                    XCTAssertFalse(text.contains("unknown TLV"), text)
                    XCTAssertTrue(text.contains(spec.traceName + kind.traceSuffix), text)
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 200)
    }

    /// Booleans decode as .bool and signed enums as .int, so compare like for like.
    func normalized(_ v: QMIValue, _ t: QMIType) -> QMIValue {
        switch (t, v) {
        case let (.structure(fs), .structure(vs)): return .structure(zip(fs, vs).map { normalized($1, $0.type) })
        case let (.array8(el), .array(vs)), let (.array16(el), .array(vs)): return .array(vs.map { normalized($0, el) })
        default: return v
        }
    }

    func testCoversTheMessagesTheIssueNames() {
        let required: [(QMIService, UInt16)] = [
            (.ctl, 0x27), (.ctl, 0x21), (.ctl, 0x22), (.ctl, 0x23), (.ctl, 0x26), (.ctl, 0xff00),
            (.dms, 0x23), (.dms, 0x25), (.dms, 0x2d), (.dms, 0x2b), (.dms, 0x28),
            (.uim, 0x2f), (.uim, 0x26),
            (.nas, 0x24), (.nas, 0x4d), (.nas, 0x4f),
            (.wda, 0x20), (.wda, 0x21),
            (.wds, 0x20), (.wds, 0x21), (.wds, 0x22), (.wds, 0x2d), (.wds, 0x2b), (.wds, 0x28), (.wds, 0x27),
            (.wds, 0x4d), (.wds, 0x01), (.wds, 0xa2), (.wds, 0x44),
        ]
        for (s, id) in required {
            XCTAssertNotNil(QMICatalogue.find(service: s, id: id), "\(s.name) 0x\(String(id, radix: 16))")
        }
        XCTAssertNotNil(NAS.getServingSystem.indication)
        XCTAssertNotNil(WDS.getPacketServiceStatus.indication)
        XCTAssertNotNil(CTL.sync.indication)
    }

    func testEnumTablesReadBothWays() {
        XCTAssertEqual(QMIEnums.service.name(of: -1), "unknown")
        XCTAssertEqual(QMIEnums.service.name(of: 770), "imsdcm")
        XCTAssertEqual(QMIEnums.service.value(named: "wda"), 26)
        XCTAssertNil(QMIEnums.service.value(named: "wd"))
        XCTAssertNil(QMIEnums.service.name(of: 35))
        XCTAssertEqual(QMIEnums.service.describe(35), "unknown")
        XCTAssertEqual(QMIEnums.wdsAuthentication.describe(3), "pap|chap")
        XCTAssertEqual(QMIEnums.wdsAuthentication.describe(0), "none")
        XCTAssertEqual(QMIEnums.wdsAuthentication.describe(6), "chap|0x04")
        XCTAssertEqual(QMIErrorCode.name(0x47), "InvalidQmiCommand")
        XCTAssertEqual(QMIErrorCode.name(61445), "CatEnvelopeCommandFailed")
        XCTAssertEqual(QMIErrorCode.name(0x7fff), "UnknownError")
        // Every table parses into distinct values with non-empty names.
        for e in [QMIEnums.service, QMIEnums.wdsCallEndReason, QMIEnums.wdsVerboseCm, QMIEnums.protocolError] {
            let cases = e.cases
            XCTAssertGreaterThan(cases.count, 10)
            XCTAssertEqual(Set(cases.map { $0.0 }).count, cases.count)
            XCTAssertFalse(cases.contains { $0.1.isEmpty || $0.1.contains(" ") || $0.1.contains("=") })
        }
        XCTAssertEqual(QMIEnums.protocolError.cases.count, 125)
    }

    func testNoDuplicateIDsOrTLVs() {
        var seen = Set<UInt32>()
        for m in QMICatalogue.all {
            XCTAssertTrue(seen.insert(UInt32(m.service.rawValue) << 16 | UInt32(m.id)).inserted, m.fullName)
            for kind in [QMIKind.request, .response, .indication] {
                let tl = m.tlvs(for: kind)
                XCTAssertEqual(Set(tl.map { $0.type }).count, tl.count, "\(m.fullName) \(kind)")
                XCTAssertEqual(Set(tl.map { $0.name }).count, tl.count, "\(m.fullName) \(kind)")
            }
        }
    }

    func testUnknownNamesAreErrorsNotTraps() {
        var m = QMIMessage.request(WDS.startNetwork)
        XCTAssertThrowsError(try m.set("APN Typo", .string("x"))) { e in
            XCTAssertEqual(e as? QMIError, .unknownTLV(message: "WDS Start Network", name: "APN Typo"))
        }
        XCTAssertThrowsError(try m.set("APN", .uint(3)))
        XCTAssertThrowsError(try m.set("IP Family Preference", .uint(300)))
    }

    func testDecodesRuntimeSettingsAddresses() throws {
        var m = QMIMessage(service: .wds, clientID: 1, kind: .response, transactionID: 1, messageID: 0x2d)
        m.tlvs = [QMIResult.success.tlv,
                  TLV(0x1e, [0x71, 0x01, 0x5a, 0x0a]),            // 10.90.1.113, little-endian
                  TLV(0x29, [0xdc, 0x05, 0, 0])]                    // MTU 1500
        XCTAssertEqual(try m.value("IPv4 Address")?.ipv4.map(Text.ipv4), "10.90.1.113")
        XCTAssertEqual(try m.value("MTU")?.uint, 1500)
        XCTAssertEqual(Text.ipv6(Text.parseIPv6("2409:8930:463:3daa::1")!), "2409:8930:463:3daa::1")
        XCTAssertEqual(Text.ipv6(Text.parseIPv6("::")!), "::")
        XCTAssertEqual(Text.ipv6(Text.parseIPv6("fe80::1:0:0:2")!), "fe80::1:0:0:2")
        XCTAssertNil(Text.parseIPv6("1::2::3"))
        XCTAssertEqual(Text.parseIPv4("10.0.0.1"), 0x0a00_0001)
        XCTAssertNil(Text.parseIPv4("10.0.0.256"))
    }
}
