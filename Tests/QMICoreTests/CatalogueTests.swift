import Base
import XCTest
@testable import QMICore
import QMIMessages

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
        XCTAssertNotNil(NAS.GetServingSystem.spec.indication)
        XCTAssertNotNil(WDS.GetPacketServiceStatus.spec.indication)
        XCTAssertNotNil(CTL.Sync.spec.indication)
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
        // The tables the code names directly all exist in the text; a missing one is nil.
        for e in [QMIEnums.resultStatus, QMIEnums.service, QMIEnums.wdsAuthentication, QMIEnums.wdsCallEndReason,
                  QMIEnums.wdsVerboseType, QMIEnums.wdsVerboseMip, QMIEnums.wdsVerboseInternal, QMIEnums.wdsVerboseCm,
                  QMIEnums.wdsVerbose3gpp, QMIEnums.wdsVerbosePpp, QMIEnums.wdsVerboseEhrpd, QMIEnums.wdsVerboseIpv6,
                  QMIEnums.nasDataCapability, QMIEnums.wdsRequestedSettings] {
            XCTAssertNotNil(QMIEnums.named(e.name), e.name)
            XCTAssertFalse(e.cases.isEmpty, e.name)
        }
        XCTAssertTrue(QMIEnums.wdsRequestedSettings.isFlags)
        XCTAssertFalse(QMIEnums.service.isFlags)
        XCTAssertNil(QMIEnums.named("wdsIpFamil"))
        XCTAssertNil(QMIEnums.named("wdsIpFamilyX"))
        XCTAssertNil(QMIEnum("nosuch").name(of: 0))
    }

    func testEverySchemaTextIsWellFormed() {
        XCTAssertEqual(QMICatalogue.all.count, 56)
        for m in QMICatalogue.all {
            XCTAssertNil(m.schemaProblem, m.fullName)
        }
        // Every named definition resolves to its message in the text.
        let named: [(QMIMessageSpec, UInt8, UInt16)] = [
            (CTL.SetInstanceID.spec, 0, 0x20), (CTL.GetVersionInfo.spec, 0, 0x21), (CTL.AllocateClientID.spec, 0, 0x22),
            (CTL.ReleaseClientID.spec, 0, 0x23), (CTL.RevokeClientID.spec, 0, 0x24), (CTL.InvalidClientID.spec, 0, 0x25),
            (CTL.SetDataFormat.spec, 0, 0x26), (CTL.Sync.spec, 0, 0x27), (CTL.InternalProxyOpen.spec, 0, 0xff00),
            (WDS.SetEventReport.spec, 1, 0x01), (WDS.StartNetwork.spec, 1, 0x20), (WDS.StopNetwork.spec, 1, 0x21),
            (WDS.GetPacketServiceStatus.spec, 1, 0x22), (WDS.CreateProfile.spec, 1, 0x27), (WDS.ModifyProfile.spec, 1, 0x28),
            (WDS.GetProfileSettings.spec, 1, 0x2b), (WDS.GetRuntimeSettings.spec, 1, 0x2d), (WDS.GetDataBearerTechnology.spec, 1, 0x37),
            (WDS.GetCurrentDataBearerTechnology.spec, 1, 0x44), (WDS.SetIPFamily.spec, 1, 0x4d), (WDS.BindMuxDataPort.spec, 1, 0xa2),
            (DMS.GetManufacturer.spec, 2, 0x21), (DMS.GetModel.spec, 2, 0x22), (DMS.GetRevision.spec, 2, 0x23), (DMS.GetIDs.spec, 2, 0x25),
            (DMS.UIMVerifyPIN.spec, 2, 0x28), (DMS.UIMGetPINStatus.spec, 2, 0x2b), (DMS.GetOperatingMode.spec, 2, 0x2d),
            (DMS.SetOperatingMode.spec, 2, 0x2e), (DMS.UIMGetICCID.spec, 2, 0x3c), (DMS.UIMGetIMSI.spec, 2, 0x43),
            (WDS.GetPacketStatistics.spec, 1, 0x24), (NAS.RegisterIndications.spec, 3, 0x03),
            (NAS.GetRFBandInformation.spec, 3, 0x31), (NAS.ConfigSignalInfo.spec, 3, 0x50), (NAS.SignalInfo.spec, 3, 0x51),
            (NAS.GetServingSystem.spec, 3, 0x24), (NAS.GetSystemInfo.spec, 3, 0x4d), (NAS.SystemInfo.spec, 3, 0x4e),
            (NAS.GetSignalInfo.spec, 3, 0x4f), (UIM.VerifyPIN.spec, 0x0b, 0x26), (UIM.GetCardStatus.spec, 0x0b, 0x2f),
            (UIM.StatusChange.spec, 0x0b, 0x32), (WDA.SetDataFormat.spec, 0x1a, 0x20), (WDA.GetDataFormat.spec, 0x1a, 0x21),
            (WDS.GetProfileList.spec, 1, 0x2a), (DMS.GetMSISDN.spec, 2, 0x24), (DMS.UIMGetState.spec, 2, 0x44),
            (NAS.SetEventReport.spec, 3, 0x02), (NAS.GetSignalStrength.spec, 3, 0x20), (NAS.GetHomeNetwork.spec, 3, 0x25),
            (NAS.GetOperatorName.spec, 3, 0x39), (NAS.OperatorName.spec, 3, 0x3a), (NAS.GetCellLocationInfo.spec, 3, 0x43),
            (NAS.GetPLMNName.spec, 3, 0x44), (NAS.ConfigSignalInfoV2.spec, 3, 0x6c),
        ]
        XCTAssertEqual(named.count, QMICatalogue.all.count)
        for (spec, service, id) in named {
            XCTAssertNil(spec.schemaProblem, spec.fullName)
            XCTAssertEqual(spec.service.rawValue, service, spec.fullName)
            XCTAssertEqual(spec.id, id, spec.fullName)
        }
        XCTAssertEqual(QMICatalogue.spec(.wds, 0x7777).schemaProblem, "not in the catalogue")
        // Spot checks that the text became the layouts the codec needs.
        let start = WDS.StartNetwork.spec
        XCTAssertEqual(start.request.map { $0.type }, [0x10, 0x11, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
                                                    0x38, 0x3c, 0x3d], "libqmi's, and the APN type TLVs of SDX35 modules (quectel-CM)")
        XCTAssertEqual(start.request.filter { $0.secret }.map { $0.name }, ["Password"])
        XCTAssertEqual(start.response.map { $0.name }, ["Packet Data Handle", "Call End Reason", "Verbose Call End Reason"])
        guard case let .structure(fields)? = NAS.GetSystemInfo.spec.tlv(type: 0x18, kind: .response)?.value else {
            return XCTFail("WCDMA System Info is not a structure")
        }
        XCTAssertEqual(fields.count, 24)
        XCTAssertEqual(fields.first?.name, "Domain Valid")
        XCTAssertEqual(fields.last?.name, "Primary Scrambling Code")
        guard case let .fixedString(n) = fields[16].type else { return XCTFail("MCC is not fixed") }
        XCTAssertEqual(n, 3)
        XCTAssertNil(CTL.Sync.spec.request.first)
        XCTAssertEqual(CTL.Sync.spec.indication?.count, 0)
        XCTAssertNil(CTL.AllocateClientID.spec.indication)
        XCTAssertTrue(DMS.GetModel.spec.hasRequest)
        XCTAssertFalse(NAS.SystemInfo.spec.hasRequest)
    }

    func testMessageBlocks() {
        let specs = ("""
            $pair = {A: u8, B: u8}
            wds 0020 Start Something = QMIWDS_START_SOMETHING
                request: 01 Pair: $pair
                response:
                    10 One: u8
                    11 Two: {X: u16,
                        Y: u32}
            nas 4e Told = QMINAS_TOLD (indication only)
                indication:

            foo 0001 Bad Service = QMI_X
            dms 0001 No Trace =
            dms zz Bad ID = QMI_X
            dms 0001 Extra = QMI_X and more
            dms 0002 Typo = QMI_X
                requets: 01 A: u8
            dms 0003 Twice = QMI_X
                request: 01 A: u8
                request: 01 A: u8
            dms 0004 Broken = QMI_X
                response: 01 A: u8
                    02 B u8
            """ as StaticString).withUTF8Buffer { QMISchema.messages($0) }
        XCTAssertEqual(specs.count, 9)
        guard specs.count == 9 else { return }
        let good = specs[0]
        XCTAssertNil(good.schemaProblem)
        XCTAssertEqual(good.service, .wds)
        XCTAssertEqual(good.id, 0x20)
        XCTAssertEqual(good.name, "Start Something")
        XCTAssertEqual(good.traceName, "QMIWDS_START_SOMETHING")
        XCTAssertEqual(good.request.map { $0.name }, ["Pair"])
        XCTAssertEqual(good.response.map { $0.type }, [0x10, 0x11])
        guard case let .structure(two) = good.response[1].value else { return XCTFail("Two") }
        XCTAssertEqual(two.map { $0.name }, ["X", "Y"])
        XCTAssertNil(good.indication)
        XCTAssertTrue(good.hasRequest)
        XCTAssertNil(specs[1].schemaProblem)
        XCTAssertEqual(specs[1].indication?.count, 0)
        XCTAssertFalse(specs[1].hasRequest)
        XCTAssertEqual(specs[2].schemaProblem, "unknown service at \"foo 0001 Bad Service = Q\"")
        XCTAssertEqual(specs[3].schemaProblem, "expected a trace name after '=' at the end")
        XCTAssertEqual(specs[4].schemaProblem, "expected a message id (hex) at \"zz Bad ID = QMI_X\"")
        XCTAssertEqual(specs[5].schemaProblem, "unexpected text at \"and more\"")
        XCTAssertEqual(specs[6].schemaProblem, "expected 'request:', 'response:' or 'indication:' at \"requets: 01 A: u8\"")
        XCTAssertEqual(specs[7].schemaProblem, "a second 'request:' at \" 01 A: u8\"")
        XCTAssertEqual(specs[8].schemaProblem, "expected ':' after a name at the end")
    }

    func testSchemaNotation() {
        let ok = QMISchema.tlvs("""
            01 Pair: {A: u8, B: enum16 wdsIpFamily}
            1f Key: secret string8; 20 List: array16 {$systemInfoHead, Flags: flags32 wdsRequestedSettings}
            21 Signed: senum8 nasRadioInterface; 22 Code: fixed 4
            """)
        XCTAssertNil(ok.problem)
        XCTAssertEqual(ok.tlvs.map { $0.type }, [0x01, 0x1f, 0x20, 0x21, 0x22])
        XCTAssertEqual(ok.tlvs.map { $0.secret }, [false, true, false, false, false])
        guard ok.tlvs.count == 5 else { return }
        guard case let .structure(pair) = ok.tlvs[0].value, case let .enumeration(w, e, signed) = pair[1].type else {
            return XCTFail("Pair")
        }
        XCTAssertEqual(pair.map { $0.name }, ["A", "B"])
        XCTAssertEqual(w, .w16)
        XCTAssertEqual(e.name(of: 4), "ipv4")
        XCTAssertFalse(signed)
        guard case let .array16(.structure(items)) = ok.tlvs[2].value, items.count == 19,
              case let .flags(fw, _) = items[18].type else {
            return XCTFail("List")
        }
        XCTAssertEqual(items.first?.name, "Domain Valid")
        XCTAssertEqual(items.last?.name, "Flags")
        XCTAssertEqual(fw, .w32)
        guard case .enumeration(.w8, _, signed: true) = ok.tlvs[3].value, case .fixedString(4) = ok.tlvs[4].value else {
            return XCTFail("Signed/Code")
        }

        // Each mistake is reported once, precisely, and never traps.
        let bad: [(StaticString, String)] = [
            ("01 A: u9", "unknown type 'u9' at the end"),
            ("01 A u8", "expected ':' after a name at the end"),
            ("1 A: u8", "expected a TLV id (two hex digits) at \"1 A: u8\""),
            ("01 A: enum8 nosuch", "unknown enum 'nosuch' at the end"),
            ("01 A: enum8", "expected an enum name after 'enum8' at the end"),
            ("01 A: {B: u8", "missing '}' at the end"),
            ("01 A: {B: u8 C: u8}", "expected ',' or '}' at \"C: u8}\""),
            ("01 A: u8 02 B: u8", "expected ';' or a new line at \"02 B: u8\""),
            ("01 A: $nosuch", "unknown fragment '$nosuch' at the end"),
            ("01 A: fixed x", "expected a length after 'fixed' at the end"),
            ("01 : u8", "expected a name at \": u8\""),
            ("01 A: ", "expected a type at the end"),
        ]
        for (text, message) in bad {
            XCTAssertEqual(QMISchema.tlvs(text).problem, message, "\(text)")
        }
    }

    func testRawBytesAndSigned32Notation() throws {
        let ok = QMISchema.tlvs("01 TAC: raw 3; 02 Barring: senum32 nasCallBarringStatus; 03 Code: fixed 3")
        XCTAssertNil(ok.problem)
        guard ok.tlvs.count == 3, case .fixedBytes(3) = ok.tlvs[0].value,
              case .enumeration(.w32, _, signed: true) = ok.tlvs[1].value else { return XCTFail("raw/senum32") }
        XCTAssertEqual(QMISchema.tlvs("01 A: raw x").problem, "expected a length after 'raw' at the end")
        // raw: exactly N bytes, shown as bytes; senum32: 0xFFFFFFFF is -1.
        XCTAssertEqual(try QMICodec.decodeTLV(ok.tlvs[0], [0x01, 0xf2, 0x03]), .bytes([0x01, 0xf2, 0x03]))
        XCTAssertThrowsError(try QMICodec.decodeTLV(ok.tlvs[0], [0x01, 0xf2]))
        XCTAssertThrowsError(try QMICodec.encodeTLV(ok.tlvs[0], .bytes([1, 2])))
        XCTAssertEqual(try QMICodec.decodeTLV(ok.tlvs[1], [0xff, 0xff, 0xff, 0xff]), .int(-1))
        XCTAssertEqual(try QMICodec.encodeTLV(ok.tlvs[1], .int(-1)).value, [0xff, 0xff, 0xff, 0xff])
        XCTAssertEqual(QMIEnums.nasCallBarringStatus.describe(-1), "unknown")
        // fixed: the valid UTF-8 before a NUL or an invalid byte, as libqmi reads it.
        XCTAssertEqual(try QMICodec.decodeTLV(ok.tlvs[2], [0x32, 0x34, 0xff]), .string("24"))
        XCTAssertEqual(try QMICodec.decodeTLV(ok.tlvs[2], [0x00, 0x00, 0x00]), .string(""))
        XCTAssertEqual(try QMICodec.decodeTLV(ok.tlvs[2], [0xff, 0x31, 0x32]), .string(""))
        XCTAssertEqual(try QMICodec.decodeTLV(ok.tlvs[2], [0xc3, 0xa9, 0x00]), .string("é"))
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
        var m = QMIMessage.request(WDS.StartNetwork.spec)
        XCTAssertThrowsError(try m.set("APN Typo", .string("x"))) { e in
            XCTAssertEqual(e as? QMIError, .unknownTLV(message: "WDS Start Network", name: "APN Typo"))
        }
        XCTAssertThrowsError(try m.set("APN", .uint(3)))
        XCTAssertThrowsError(try m.set("IP Family Preference", .uint(300)))
    }

    /// NAS Get Cell Location Info 0x18 carries LTE neighbours' RSRP and RSRQ as IEEE-754
    /// floats (libqmi's gfloat): the trace and the typed view read them as numbers.
    func testFloatFields() throws {
        func le(_ f: Float) -> [UInt8] { let b = f.bitPattern; return [UInt8(b & 0xff), UInt8(b >> 8 & 0xff), UInt8(b >> 16 & 0xff), UInt8(b >> 24)] }
        var m = QMIMessage(service: .nas, clientID: 1, kind: .response, transactionID: 1, messageID: 0x43)
        m.tlvs = [QMIResult.success.tlv,
                  TLV(0x18, [1, 0, 0, 0, 1, 0x2c, 0x01, 0x15, 0x00] + le(-110.5) + le(-12.25) + [0xa6, 0xff, 0])]
        let lines = QMITrace.describe(m).joined(separator: "\n")
        XCTAssertTrue(lines.contains("RSRP: -110.5"), lines)
        XCTAssertTrue(lines.contains("RSRQ: -12.25"), lines)
        let v = NAS.GetCellLocationInfo.Response(m)
        XCTAssertEqual(v.umtsInfoNeighboringLTE?.lteNeighborFrequency.first?.rsrp, -110.5)
        XCTAssertEqual(v.umtsInfoNeighboringLTE?.lteNeighborFrequency.first?.physicalCellID, 21)
        var e = NAS.GetCellLocationInfo.LTENeighborFrequencyEntry(
            eutraAbsoluteRFChannelNumber: 300, physicalCellID: 21, rsrp: -110.5, rsrq: -12.25, cellSelectionRXLevel: -90, isTDD: false)
        e.rsrq = -9
        XCTAssertEqual(e.rsrq, -9, "a float survives the round trip through its bits")
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

final class StringCodingTests: XCTestCase {
    func testOperatorNamesDecodeAsLibqmiDoes() {
        // libqmi's test vectors: "Iliad" GSM 7-bit packed, "T-Mobile" UCS-2LE, plain ASCII.
        XCTAssertEqual(QMIStrings.decode([0x49, 0x76, 0x3A, 0x4C, 0x06]), "Iliad")
        XCTAssertEqual(QMIStrings.decode(Array("T-Mobile".utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] })), "T-Mobile",
                       "UCS-2LE, its last NUL kept")
        XCTAssertEqual(QMIStrings.decode(Array("CHN-UNICOM".utf8) + [0, 0]), "CHN-UNICOM", "trailing NULs dropped")
        XCTAssertEqual(QMIStrings.decode(Array("Telefónica".utf8)), "Telefónica", "printable UTF-8 as it is")
        XCTAssertEqual(QMIStrings.decode(Array("evil\u{202e}cod".utf8)), "evil\\u{202e}cod", "a bidi override is shown as one, as MBIM's are")
        // GSM 7-bit: the extension table (ESC), and an escape to nothing that is not GSM.
        XCTAssertEqual(QMIStrings.gsm7([0x9B, 0x32]), "€", "septets ESC 0x65")
        XCTAssertNil(QMIStrings.gsm7([0x9B, 0x00]), "septets ESC 0x01: not in the extension table")
        XCTAssertEqual(QMIStrings.gsm7([0x1B]), "", "a lone trailing ESC ends the text")
        // UCS-2: odd lengths and lone surrogates are not UCS-2; surrogate pairs are.
        XCTAssertNil(QMIStrings.ucs2LE([0x41, 0x00, 0x42]))
        XCTAssertNil(QMIStrings.ucs2LE([0x00, 0xD8, 0x41, 0x00]))
        XCTAssertEqual(QMIStrings.ucs2LE([0x3D, 0xD8, 0x00, 0xDE]), "😀")
        // Invalid UTF-8 is never printed raw.
        XCTAssertFalse(QMIStrings.printableUTF8([0xC0, 0x80]), "overlong")
        XCTAssertFalse(QMIStrings.printableUTF8([0xED, 0xA0, 0x80]), "surrogate")
        XCTAssertFalse(QMIStrings.printableUTF8([0x41, 0x07]), "BEL")
        XCTAssertFalse(QMIStrings.printableUTF8([0xE2, 0x82]), "cut short")
        XCTAssertTrue(QMIStrings.printableUTF8(Array("a\tb\r\n".utf8)))
        let weird = QMIStrings.decode([0xFF, 0xFE, 0x1B, 0x01, 0x00])
        XCTAssertFalse(weird.utf8.contains { $0 < 0x20 }, "no control characters out of garbage: \(weird)")
    }
}
