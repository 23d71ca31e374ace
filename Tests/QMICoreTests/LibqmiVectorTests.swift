import Base
import XCTest
@testable import QMICore
import QMIMessages

/// libqmi's own test vectors (src/libqmi-glib/test/test-generated.c, test-message.c and
/// test-utils.c), decoded by qcm: the values libqmi asserts, and every TLV named by the
/// catalogue except the few libqmi itself does not define.
final class LibqmiVectorTests: XCTestCase {
    func frame(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    /// Decodes `hexFrame` and checks its trace: every TLV is named by the catalogue and
    /// decodes with no bytes left over, except `undefined` (TLVs libqmi does not define
    /// either), which must be reported as unknown and skipped without harm.
    @discardableResult
    func decodeClean(_ hexFrame: String, undefined: [UInt8] = [], file: StaticString = #filePath, line: UInt = #line) throws -> QMIMessage {
        let m = try QMIMessage.decode(frame(hexFrame))
        XCTAssertEqual(m.encode(), frame(hexFrame), "re-encodes byte for byte", file: file, line: line)
        guard let spec = m.spec else {
            XCTFail("message 0x\(String(m.messageID, radix: 16)) is not in the catalogue", file: file, line: line)
            return m
        }
        for t in m.tlvs {
            let known = spec.tlv(type: t.type, kind: m.kind)
            if undefined.contains(t.type) {
                XCTAssertNil(known, "TLV 0x\(String(t.type, radix: 16)) is not defined by libqmi", file: file, line: line)
            } else {
                XCTAssertNotNil(known, "TLV 0x\(String(t.type, radix: 16)) of \(spec.fullName) \(m.kind.word) is unknown", file: file, line: line)
            }
            let lines = QMITrace.describeTLV(t, spec: known, indent: "  ")
            let text = lines.joined(separator: "\n")
            XCTAssertEqual(text.contains("unknown TLV"), undefined.contains(t.type), text, file: file, line: line)
            XCTAssertFalse(text.contains("undecodable"), text, file: file, line: line)
            XCTAssertFalse(text.contains("trailing byte"), text, file: file, line: line)
        }
        let trace = QMITrace.describe(m).joined(separator: "\n")
        XCTAssertEqual(trace.components(separatedBy: "unknown TLV").count - 1, undefined.count, trace, file: file, line: line)
        return m
    }

    // MARK: test-generated.c

    func testDMSGetIDs() throws {
        // The request libqmi sends, and the modem's answer (TLVs out of id order).
        let req = try decodeClean("010C0000020100FFFF25000000")
        XCTAssertEqual(req.kind, .request)
        XCTAssertEqual(req.messageID, DMS.GetIDs.id)
        let m = try decodeClean("01450080020102FFFF250039000204000000000013010042120E0033353932323530353030333939371008003830393937383734110F00333539323235303530303339393733")
        let r = DMS.GetIDs.Response(m)
        XCTAssertEqual(r.result, .success)
        XCTAssertEqual(r.esn, "80997874")
        XCTAssertEqual(r.imei, "359225050039973")
        XCTAssertEqual(r.meid, "35922505003997")
        XCTAssertEqual(r.imeiSV, "B")
    }

    func testNASGetServingSystemIliad() throws {
        try decodeClean("010C0000030100010024000000")
        // 0x28 (one byte) is a PSC only in the indication: libqmi does not define it here.
        let m = try decodeClean("016E0080030102010024006200020400000000000106000101010201051001000111040003030405120A00DE0032000549763A4C061503000105011B0100001C0200B45F1D0400CF5A1301210500020300000025080003000000030000002602002201270500DE0032000028010000",
                                undefined: [0x28])
        let r = NAS.GetServingSystem.Response(m)
        XCTAssertEqual(r.result, .success)
        XCTAssertEqual(r.currentPLMN?.mcc, 222)
        XCTAssertEqual(r.currentPLMN?.mnc, 50)
        XCTAssertEqual(r.currentPLMN?.description, "Iliad", "GSM 7-bit packed")
        // What else the frame says.
        XCTAssertEqual(r.servingSystem?.registrationState, .registered)
        XCTAssertEqual(r.servingSystem?.selectedNetwork, .`3gpp`)
        XCTAssertEqual(r.servingSystem?.radioInterfaces, [.umts])
        XCTAssertEqual(r.roamingIndicator, .off)
        XCTAssertEqual(r.dataServiceCapability, [.hsdpa, .hsupa, .wcdma])
        XCTAssertEqual(r.roamingIndicatorList?.count, 1)
        XCTAssertEqual(r.roamingIndicatorList?.first?.radioInterface, .umts)
        XCTAssertEqual(r.daylightSavingTimeAdjustment3GPP, 0)
        XCTAssertEqual(r.lac3GPP, 24500)
        XCTAssertEqual(r.cid3GPP, 18045647)
        XCTAssertEqual(r.detailedServiceStatus?.status, .available)
        XCTAssertEqual(r.detailedServiceStatus?.capability, .csPs)
        XCTAssertEqual(r.detailedServiceStatus?.hdrHybrid, false)
        XCTAssertEqual(r.callBarringStatus?.csStatus, .allCalls)
        XCTAssertEqual(r.callBarringStatus?.psStatus, .allCalls)
        XCTAssertEqual(r.umtsPrimaryScramblingCode, 290)
        XCTAssertEqual(r.mncPCSDigitIncludeStatus?.mcc, 222)
        XCTAssertEqual(r.mncPCSDigitIncludeStatus?.includesPCSDigit, false)
    }

    func testNASGetSystemInfo() throws {
        try decodeClean("010C000003010001004D000000")
        let m = try decodeClean("019A008003010201004D008E0002040000000000120300000000130300000000140300020200191D00010301030100010000FFFF0105A91800000000013533303234FF0119F61E0200FFFF210100012601000027040001000000290100002A0400030000002F04000000000031040000000000340200FFFF38040003000000390400010000003E0400000000004404000300000046040004000000",
                                undefined: [0x38, 0x39, 0x3e, 0x46])
        let r = NAS.GetSystemInfo.Response(m)
        XCTAssertEqual(r.result, .success)
        guard let lte = r.lteSystemInfo else { return XCTFail("no LTE System Info") }
        XCTAssertTrue(lte.domainValid)
        XCTAssertEqual(lte.domain, .csPs)
        XCTAssertTrue(lte.serviceCapabilityValid)
        XCTAssertEqual(lte.serviceCapability, .csPs)
        XCTAssertTrue(lte.roamingStatusValid)
        XCTAssertEqual(lte.roamingStatus, .off)
        XCTAssertTrue(lte.forbiddenValid)
        XCTAssertFalse(lte.forbidden)
        XCTAssertFalse(lte.lacValid)
        XCTAssertTrue(lte.cidValid)
        XCTAssertEqual(lte.cid, 1616133)
        XCTAssertFalse(lte.registrationRejectInfoValid)
        XCTAssertTrue(lte.networkIDValid)
        XCTAssertEqual(lte.mcc, "530")
        XCTAssertEqual(lte.mnc, "24", "32 34 FF: the valid prefix, as libqmi reads it")
        XCTAssertTrue(lte.tacValid)
        XCTAssertEqual(lte.tac, 63001)
        // The other TLVs of the frame.
        XCTAssertEqual(r.lteServiceStatus?.serviceStatus, .available)
        XCTAssertEqual(r.additionalLTESystemInfo?.geoSystemIndex, 0xffff)
        XCTAssertEqual(r.lteVoiceSupport, true)
        XCTAssertEqual(r.lteEMBMSCoverageInfoSupport, false)
        XCTAssertEqual(r.simRejectInfo, .available)
        XCTAssertEqual(r.imsVoiceSupport, false)
        XCTAssertEqual(r.lteVoiceDomain, .`3gpp`)
        XCTAssertEqual(r.networkSelectionRegistrationRestriction, .unrestricted)
        XCTAssertEqual(r.lteRegistrationDomain, .notApplicable)
        XCTAssertEqual(r.lteEMBMSCoverageInfoTraceID, 0xffff)
        XCTAssertEqual(r.lteCellAccessStatus, .allCalls)
    }

    func testNASGetOperatorNameGarbage() throws {
        try decodeClean("010C0000030100010039000000")
        let m = try decodeClean("0123008003010201003900170002040000000000110D0001003533FF3234FF3412785605")
        let r = NAS.GetOperatorName.Response(m)
        XCTAssertEqual(r.result, .success)
        guard let list = r.operatorPLMNList else { return XCTFail("no Operator PLMN List") }
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.first?.mcc, "53")
        XCTAssertEqual(list.first?.mnc, "24")
        XCTAssertEqual(list.first?.lac1, 0x1234)
        XCTAssertEqual(list.first?.lac2, 0x5678)
        XCTAssertEqual(list.first?.plmnNameRecordIdentifier, 5)
    }

    func testNASGetCellLocationInfo1() throws {
        try decodeClean("010C0000030100010043000000")
        let m = try decodeClean("0153008003010201004300470002040000000000103D00000000000000000000000000FFFFFFFF2800037D6F000032F451B3004D00112A008A3C000032F451B3006300301400893C000032F451B3005900110D00")
        let r = NAS.GetCellLocationInfo.Response(m)
        XCTAssertEqual(r.result, .success)
        guard let g = r.geranInfo else { return XCTFail("no GERAN Info") }
        XCTAssertEqual(g.cellID, 0)
        XCTAssertEqual(g.plmn, [0, 0, 0])
        XCTAssertEqual(g.timingAdvance, 0xffff_ffff)
        XCTAssertEqual(g.rxLevel, 40)
        XCTAssertEqual(g.geranCells.map { $0.cellID }, [28541, 15498, 15497])
        XCTAssertEqual(g.geranCells.first?.plmn, [0x32, 0xf4, 0x51], "BCD PLMN 234/15, kept as bytes")
        XCTAssertEqual(g.geranCells.map { $0.lac }, [179, 179, 179])
        XCTAssertEqual(g.geranCells.map { $0.geranAbsoluteRFChannelNumber }, [77, 99, 89])
        XCTAssertEqual(g.geranCells.map { $0.baseStationIdentityCode }, [17, 48, 17])
        XCTAssertEqual(g.geranCells.map { $0.rxLevel }, [42, 20, 13])
    }

    func testNASGetCellLocationInfo2() throws {
        // libqmi does not define 0x26, 0x27, 0x28, 0x2A and 0x2C.
        let m = try decodeClean("01670080030102010043005B0002040000000000131D000199F904990001C201007EA90000013E283E010000BDFF19FC23FD1E001402000100150200010016020001001E0400FFFFFFFF26020046002704007EA90000280100002A0400030000002C040000000000",
                                undefined: [0x26, 0x27, 0x28, 0x2a, 0x2c])
        let r = NAS.GetCellLocationInfo.Response(m)
        XCTAssertEqual(r.result, .success)
        guard let lte = r.intrafrequencyLTEInfo else { return XCTFail("no Intrafrequency LTE Info") }
        XCTAssertTrue(lte.ueInIdle)
        XCTAssertEqual(lte.plmn, [0x99, 0xf9, 0x04])
        XCTAssertEqual(lte.trackingAreaCode, 153)
        XCTAssertEqual(lte.globalCellID, 115201)
        XCTAssertEqual(lte.eutraAbsoluteRFChannelNumber, 43390)
        XCTAssertEqual(lte.servingCellID, 0)
        XCTAssertEqual(lte.cellReselectionPriority, 1)
        XCTAssertEqual(lte.sNonIntraSearchThreshold, 62)
        XCTAssertEqual(lte.servingCellLowThreshold, 40)
        XCTAssertEqual(lte.sIntraSearchThreshold, 62)
        XCTAssertEqual(lte.lteCells.count, 1)
        XCTAssertEqual(lte.lteCells.first?.physicalCellID, 0)
        XCTAssertEqual(lte.lteCells.first?.rsrq, -67)
        XCTAssertEqual(lte.lteCells.first?.rsrp, -999)
        XCTAssertEqual(lte.lteCells.first?.rssi, -733)
        XCTAssertEqual(lte.lteCells.first?.cellSelectionRXLevel, 30)
        XCTAssertEqual(r.interfrequencyLTEInfo?.ueInIdle, true)
        XCTAssertEqual(r.interfrequencyLTEInfo?.lteFrequency.count, 0)
        XCTAssertEqual(r.lteInfoNeighboringGSM?.gsmFrequency.count, 0)
        XCTAssertEqual(r.lteInfoNeighboringWCDMA?.wcdmaFrequency.count, 0)
        XCTAssertEqual(r.lteInfoTimingAdvance, 0xffff_ffff)
    }

    func testNASGetCellLocationInfoGERANCompat() throws {
        // libqmi does not define 0x1B, 0x21, 0x24 and 0x25.
        let m = try decodeClean("01580180030102010043004C01020400000000001067000209000012F4307604DD0300000000003200068E08000012F4307604D003282800FFFFFFFF0000000000D6030B1C00FFFFFFFF0000000000D503241A00FFFFFFFF0000000000D703011800FFFFFFFF0000000000DF03221700FFFFFFFF0000000000DA030810001B0400FFFFDD0321C7000209000012F4307604DD0300000000003200068E08000012F4307604D00328280024000000240000000000000000000000FFFFFFFF0000000000D6030B1C0000000000000000000000000000000000FFFFFFFF0000000000D503241A0000000000000000000000000000000000FFFFFFFF0000000000D70301180000000000000000000000000000000000FFFFFFFF0000000000DF0322170000000000000000000000000000000000FFFFFFFF0000000000DA030810000000000000000000000000000000000024030000FFFF25010000",
                                undefined: [0x1b, 0x21, 0x24, 0x25])
        guard let g = NAS.GetCellLocationInfo.Response(m).geranInfo else { return XCTFail("no GERAN Info") }
        XCTAssertEqual(g.cellID, 2306)
        XCTAssertEqual(g.plmn, [0x12, 0xf4, 0x30])
        XCTAssertEqual(g.lac, 1142)
        XCTAssertEqual(g.geranAbsoluteRFChannelNumber, 989)
        XCTAssertEqual(g.baseStationIdentityCode, 0)
        XCTAssertEqual(g.timingAdvance, 0)
        XCTAssertEqual(g.rxLevel, 50)
        XCTAssertEqual(g.geranCells.map { $0.cellID }, [2190, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff])
        XCTAssertEqual(g.geranCells.map { $0.geranAbsoluteRFChannelNumber }, [976, 982, 981, 983, 991, 986])
        XCTAssertEqual(g.geranCells.map { $0.baseStationIdentityCode }, [40, 11, 36, 1, 34, 8])
        XCTAssertEqual(g.geranCells.map { $0.rxLevel }, [40, 28, 26, 24, 23, 16])
        XCTAssertEqual(g.geranCells.map { $0.lac }, [1142, 0, 0, 0, 0, 0])
    }

    /// get-cell-location-info/invalid: the answer carries the right service, client and
    /// transaction but message 0x0044. Decoded on its own it is another message; the engine
    /// (which also matches the message id) refuses it: see EngineTests.
    func testNASGetCellLocationInfoInvalidIsAnotherMessage() throws {
        let m = try QMIMessage.decode(frame("0153008003010201004400470002040000000000103D00000000000000000000000000FFFFFFFF2800037D6F000032F451B3004D00112A008A3C000032F451B3006300301400893C000032F451B3005900110D00"))
        XCTAssertEqual(m.messageID, 0x44)
        XCTAssertNotEqual(m.messageID, NAS.GetCellLocationInfo.id)
        XCTAssertEqual(m.spec?.name, "Get PLMN Name")
    }

    // MARK: test-message.c

    static let signalStrength = "01260080030102010020001A00020400000000000102009B051104000100650512040001001105"

    func testMessageParseComplete() throws {
        var reader = FrameReader()
        reader.append(frame(Self.signalStrength))
        XCTAssertEqual(frames(&reader).count, 1)
        let m = try decodeClean(Self.signalStrength)
        let r = NAS.GetSignalStrength.Response(m)
        XCTAssertEqual(r.signalStrength?.strength, -101)
        XCTAssertEqual(r.signalStrength?.radioInterface, .umts)
        XCTAssertEqual(r.rssiList?.map { $0.rssi }, [101])
        XCTAssertEqual(r.rssiList?.first?.radioInterface, .umts)
        XCTAssertEqual(r.ecioList?.map { $0.ecio }, [17])
    }

    func frames(_ reader: inout FrameReader) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let item = reader.next() { if case let .frame(f) = item { out.append(f) } }
        return out
    }

    func testMessageParseShortAndCombinations() {
        let short = "01260080030102010020001A00020400000000000102009B0511040001006605"
        var reader = FrameReader()
        reader.append(frame(short))
        XCTAssertEqual(frames(&reader).count, 0, "incomplete: wait for more bytes")
        reader = FrameReader()
        reader.append(frame(Self.signalStrength + short))
        XCTAssertEqual(frame(Self.signalStrength + short).count, 71)
        XCTAssertEqual(frames(&reader).count, 1)
        reader = FrameReader()
        reader.append(frame(Self.signalStrength + Self.signalStrength))
        XCTAssertEqual(frame(Self.signalStrength + Self.signalStrength).count, 78)
        XCTAssertEqual(frames(&reader).count, 2)
        for garbage in ["00000000000A", "010002"] {
            reader = FrameReader()
            reader.append(frame(garbage))
            XCTAssertEqual(frames(&reader).count, 0, garbage)
        }
    }

    func testMessageParseWrongTLV() throws {
        // TLV 0x21 is 4 bytes long, its structure needs 5: that TLV fails, not the frame.
        let m = try QMIMessage.decode(frame("014F008003030201002400430002040000000000210400020300001D0400000000001C02000000150300010501120E00360104010920542D4D6F62696C65110200010510010001010600010101020105"))
        let trace = QMITrace.describe(m).joined(separator: "\n")
        XCTAssertTrue(trace.contains("[0x21] Detailed Service Status: undecodable"), trace)
        XCTAssertFalse(trace.contains("unknown TLV"), trace)
        XCTAssertEqual(trace.components(separatedBy: "undecodable").count, 2, trace)
        let r = NAS.GetServingSystem.Response(m)
        XCTAssertNil(r.detailedServiceStatus)
        XCTAssertEqual(r.currentPLMN?.mcc, 310)
        XCTAssertEqual(r.currentPLMN?.mnc, 260)
        XCTAssertEqual(r.currentPLMN?.description, " T-Mobile")
        XCTAssertEqual(r.cid3GPP, 0)
        XCTAssertEqual(r.lac3GPP, 0)
        XCTAssertEqual(r.dataServiceCapability, [.wcdma])
        XCTAssertEqual(r.servingSystem?.radioInterfaces, [.umts])
    }

    func testMessageParseEmptyFixedString() throws {
        // A Get System Info response without a Result TLV; MCC and MNC are six 0x00 bytes.
        let m = try decodeClean("012C008003030201004D002000191D000104010201000100000000010CF6E70201020F00000000000000014DBE")
        XCTAssertNil(m.result)
        let trace = QMITrace.describe(m).joined(separator: "\n")
        XCTAssertTrue(trace.contains("MCC: \"\""), trace)
        XCTAssertTrue(trace.contains("MNC: \"\""), trace)
        guard let lte = NAS.GetSystemInfo.Response(m).lteSystemInfo else { return XCTFail("no LTE System Info") }
        XCTAssertEqual(lte.mcc, "")
        XCTAssertEqual(lte.mnc, "")
        XCTAssertFalse(lte.networkIDValid)
        XCTAssertEqual(lte.domain, .camped)
        XCTAssertEqual(lte.serviceCapability, .ps)
        XCTAssertFalse(lte.lacValid)
        XCTAssertEqual(lte.cid, 48756236)
        XCTAssertTrue(lte.registrationRejectInfoValid)
        XCTAssertEqual(lte.registrationRejectDomain, .ps)
        XCTAssertEqual(lte.registrationRejectCause, 15)
        XCTAssertEqual(lte.tac, 48717)
    }

    // MARK: test-utils.c

    static let gsm7Default = "8080604028180E888462C168381E90886442A9582E988C86D3F17C4021D18854329D5029D58AD572BD6031D98C56B3DD7039DD8ED7F3FD8041E19058341E9149E592D9743EA151E9945AB55EB159ED96DBF57EC161F1985C369FD169F59ADD76BFE171F99C5EB7DFF179FD9EDFF7FF01"
    static let gsm7Extended = "1BC586B2416D529BD786B7E96D7C1BE0A60C"
    static let gsm7Mixed = "8080604028180E8C8DA262B960321B9486D3F1A036A9D40D97DBBC743B5ECFB7E1FD8051E974E3A356B91B60D7FB0587C5F0B87C4EAFDBF97DFF7F5306"
    static let tMobileUCS2 = "54002D004D006F00620069006C006500"

    func testReadStringFromPLMNEncodedArray() {
        let defaultText = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
        let extendedText = "\u{0C}^{}\\[~]|€"
        let mixedText = "@£$¥èéùìø\u{0C}ΩΠΨΣΘ{ΞÆæß(})789\\:;<=>[?¡QRS]TUÖ|ÑÜ§¿abpqrstuvöñüà€"
        XCTAssertEqual(QMIStrings.plmnName(encoding: 0, frame(Self.gsm7Default)), defaultText)
        XCTAssertEqual(QMIStrings.plmnName(encoding: 0, frame(Self.gsm7Extended)), extendedText)
        XCTAssertEqual(QMIStrings.plmnName(encoding: 0, frame(Self.gsm7Mixed)), mixedText)
        XCTAssertEqual(QMIStrings.plmnName(encoding: 1, frame(Self.tMobileUCS2)), "T-Mobile")
        // The network-description twins.
        XCTAssertEqual(QMIStrings.networkDescription(encoding: 9, frame(Self.gsm7Default)), defaultText)
        XCTAssertEqual(QMIStrings.networkDescription(encoding: 9, frame(Self.gsm7Extended)), extendedText)
        XCTAssertEqual(QMIStrings.networkDescription(encoding: 9, frame(Self.gsm7Mixed)), mixedText)
        XCTAssertEqual(QMIStrings.networkDescription(encoding: 4, frame(Self.tMobileUCS2)), "T-Mobile")
    }

    func testReadStringFromNetworkDescriptionEncodedArray() {
        XCTAssertEqual(QMIStrings.networkDescription(encoding: 1, frame("542D4D6F62696C65")), "T-Mobile")
        XCTAssertEqual(QMIStrings.networkDescription(encoding: 0, frame("542D4D6F62696C65")), "T-Mobile")
        XCTAssertNil(QMIStrings.networkDescription(encoding: 0, frame(Self.tMobileUCS2)), "embedded NULs are not ASCII")
        XCTAssertNil(QMIStrings.networkDescription(encoding: 0xff, frame(Self.tMobileUCS2)), "unknown coding")
        XCTAssertNil(QMIStrings.plmnName(encoding: 2, frame(Self.tMobileUCS2)))
    }

    /// The trace shows a name whose coding its structure gives as text as well as bytes.
    func testTraceDecodesSignalledNames() throws {
        var ind = NAS.OperatorName.Indication(clientID: 1)
        let tmobile = frame(Self.tMobileUCS2)
        ind.operatorPLMNName = [NAS.OperatorPLMNNameEntry(
            nameEncoding: .ucs2le, shortCountryInitials: .initialsDoNotAdd, longNameSpareBits: .unknown,
            shortNameSpareBits: .unknown, longName: tmobile, shortName: frame("49763A4C06")),
            NAS.OperatorPLMNNameEntry(
            nameEncoding: .gsm, shortCountryInitials: .initialsDoNotAdd, longNameSpareBits: .unknown,
            shortNameSpareBits: .unknown, longName: [], shortName: frame("49763A4C06"))]
        XCTAssertNil(ind.problem)
        let trace = QMITrace.describe(ind.message).joined(separator: "\n")
        XCTAssertTrue(trace.contains("Long Name: \"T-Mobile\" (54 00 2d"), trace)
        XCTAssertTrue(trace.contains("Short Name: 49 76 3a 4c 06"), "not UCS-2: bytes only\n" + trace)
        XCTAssertTrue(trace.contains("Short Name: \"Iliad\" (49 76 3a 4c 06)"), trace)
        XCTAssertFalse(trace.contains("unknown TLV"), trace)
    }

    // MARK: coverage of libqmi's definitions

    /// Every TLV libqmi's data/qmi-service-*.json defines for these messages (ids only; the
    /// Result TLV 0x02 is implied) is in the catalogue, and nothing else is.
    func testCatalogueHasEveryLibqmiTLV() {
        let expected: [(QMIService, UInt16, QMIKind, [UInt8])] = [
            (.nas, 0x0002, .request, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x19, 0x1a, 0x1b, 0x1c]), // Set Event Report
            (.nas, 0x0002, .response, []),
            (.nas, 0x0002, .indication, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a]), // Event Report
            (.nas, 0x0003, .request, [0x10, 0x12, 0x13, 0x14, 0x15, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21]), // Register Indications
            (.nas, 0x0003, .response, []),
            (.nas, 0x0020, .request, [0x10]), // Get Signal Strength
            (.nas, 0x0020, .response, [0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]),
            (.nas, 0x0024, .request, []), // Get Serving System
            (.nas, 0x0024, .response, [0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x29]),
            (.nas, 0x0024, .indication, [0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2b]), // Serving System
            (.nas, 0x0025, .request, []), // Get Home Network
            (.nas, 0x0025, .response, [0x01, 0x10, 0x11, 0x12, 0x13]),
            (.nas, 0x0031, .request, []), // Get RF Band Information
            (.nas, 0x0031, .response, [0x01, 0x11, 0x12]),
            (.nas, 0x0039, .request, []), // Get Operator Name
            (.nas, 0x0039, .response, [0x10, 0x11, 0x12, 0x13, 0x14]),
            (.nas, 0x003a, .indication, [0x10, 0x11, 0x12, 0x13, 0x14]), // Operator Name
            (.nas, 0x0043, .request, []), // Get Cell Location Info
            (.nas, 0x0043, .response, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x1e, 0x2e, 0x2f]),
            (.nas, 0x0044, .request, [0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16]), // Get PLMN Name
            (.nas, 0x0044, .response, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15]),
            (.nas, 0x004d, .request, []), // Get System Info
            (.nas, 0x004d, .response, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x31, 0x34, 0x44, 0x4a, 0x4b, 0x4e, 0x4f, 0x50]),
            (.nas, 0x004e, .indication, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x4c, 0x4d, 0x50, 0x51, 0x52]), // System Info
            (.nas, 0x004f, .request, []), // Get Signal Info
            (.nas, 0x004f, .response, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19]),
            (.nas, 0x0050, .request, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]), // Config Signal Info
            (.nas, 0x0050, .response, []),
            (.nas, 0x006c, .request, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b]), // Config Signal Info v2
            (.nas, 0x006c, .response, []),
            (.nas, 0x0051, .indication, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x17, 0x18, 0x19]), // Signal Info
            (.dms, 0x0023, .request, []), // Get Revision
            (.dms, 0x0023, .response, [0x01]),
            (.dms, 0x0024, .request, []), // Get MSISDN
            (.dms, 0x0024, .response, [0x01]),
            (.dms, 0x0025, .request, []), // Get IDs
            (.dms, 0x0025, .response, [0x10, 0x11, 0x12, 0x13]),
            (.dms, 0x002d, .request, []), // Get Operating Mode
            (.dms, 0x002d, .response, [0x01, 0x10, 0x11]),
            (.dms, 0x003c, .request, []), // UIM Get ICCID
            (.dms, 0x003c, .response, [0x01]),
            (.dms, 0x0043, .request, []), // UIM Get IMSI
            (.dms, 0x0043, .response, [0x01]),
            (.dms, 0x0044, .request, []), // UIM Get State
            (.dms, 0x0044, .response, [0x01]),
            (.uim, 0x002f, .request, []), // Get Card Status
            (.uim, 0x002f, .response, [0x10]),
            (.uim, 0x0032, .indication, [0x10]), // Card Status
            (.wds, 0x0022, .request, []), // Get Packet Service Status
            (.wds, 0x0022, .response, [0x01]),
            (.wds, 0x0022, .indication, [0x01, 0x10, 0x11, 0x12, 0x14, 0x15, 0x34]), // Packet Service Status
            (.wds, 0x0024, .request, [0x01]), // Get Packet Statistics
            (.wds, 0x0024, .response, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e]),
            (.wds, 0x0027, .request, [0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x3e, 0x50, 0xdd]), // Create Profile
            (.wds, 0x0027, .response, [0x01, 0xe0]),
            (.wds, 0x002a, .request, [0x10]), // Get Profile List
            (.wds, 0x002a, .response, [0x01, 0xe0]),
            (.wds, 0x002b, .request, [0x01]), // Get Profile Settings
            (.wds, 0x002b, .response, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x3e, 0x50, 0xdd, 0xde, 0xdf, 0xe0]),
            (.wds, 0x002d, .request, [0x10]), // Get Current Settings
            (.wds, 0x002d, .response, [0x10, 0x11, 0x14, 0x15, 0x16, 0x17, 0x19, 0x1b, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2f]),
            (.wds, 0x0044, .request, []), // Get Current Data Bearer Technology
            (.wds, 0x0044, .response, [0x01, 0x10]),
            (.wds, 0x00a2, .request, [0x10, 0x11, 0x13]), // Bind Mux Data Port
            (.wds, 0x00a2, .response, []),
            (.wda, 0x0020, .request, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x1b, 0x1c]), // Set Data Format
            (.wda, 0x0020, .response, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x1a, 0x1b]),
            (.wda, 0x0021, .request, [0x10]), // Get Data Format
            (.wda, 0x0021, .response, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x1a, 0x1b]),
        ]
        for (service, id, kind, ids) in expected {
            guard let spec = QMICatalogue.find(service: service, id: id) else {
                XCTFail("\(service.name) 0x\(String(id, radix: 16)) is not in the catalogue")
                continue
            }
            if kind == .indication { XCTAssertNotNil(spec.indication, spec.fullName) }
            XCTAssertEqual(spec.tlvs(for: kind).map { $0.type }.filter { $0 != 0x02 }.sorted(), ids, "\(spec.fullName) \(kind.word)")
        }
    }

    /// Wire layouts of those TLVs from libqmi's JSON, as "service message kind tlv layout":
    /// uN an integer of N bits (bool, enum, flags, signed alike), fN N fixed bytes (fixed-size
    /// strings, raw bytes, an IPv6 address), str a string to the end of the TLV, s8/s16 a
    /// string with a u8/u16 length, a8(...)/a16(...) an array with a u8/u16 count, {...} a
    /// structure. Each catalogue TLV of these messages must have exactly that layout.
    static let libqmiLayouts = """
        1 0022 indication 01 {u8,u8}
        1 0022 indication 10 u16
        1 0022 indication 11 {u16,u16}
        1 0022 indication 12 u8
        1 0022 indication 14 u8
        1 0022 indication 15 u8
        1 0022 indication 34 u16
        1 0022 response 01 u8
        1 0024 request 01 u32
        1 0024 response 10 u32
        1 0024 response 11 u32
        1 0024 response 12 u32
        1 0024 response 13 u32
        1 0024 response 14 u32
        1 0024 response 15 u32
        1 0024 response 19 u64
        1 0024 response 1a u64
        1 0024 response 1b u64
        1 0024 response 1c u64
        1 0024 response 1d u32
        1 0024 response 1e u32
        1 0027 request 01 u8
        1 0027 request 10 str
        1 0027 request 11 u8
        1 0027 request 12 u8
        1 0027 request 13 u8
        1 0027 request 14 str
        1 0027 request 15 u32
        1 0027 request 16 u32
        1 0027 request 17 {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32}
        1 0027 request 18 {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32}
        1 0027 request 19 {u32,u32,u32,u32,u32}
        1 0027 request 1a {u32,u32,u32,u32,u32}
        1 0027 request 1b str
        1 0027 request 1c str
        1 0027 request 1d u8
        1 0027 request 1e u32
        1 0027 request 1f u8
        1 0027 request 20 u8
        1 0027 request 21 u8
        1 0027 request 22 u8
        1 0027 request 25 u8
        1 0027 request 26 u8
        1 0027 request 27 u8
        1 0027 request 28 {f16}
        1 0027 request 29 {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32,u8}
        1 0027 request 2a {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32,u8}
        1 0027 request 2b f16
        1 0027 request 2c f16
        1 0027 request 2d u8
        1 0027 request 2e {u8,u32,u32,u32,u32}
        1 0027 request 2f u8
        1 0027 request 3e u8
        1 0027 request 50 {u16,u16}
        1 0027 request dd u64
        1 0027 response 01 {u8,u8}
        1 0027 response e0 u16
        1 002a request 10 u8
        1 002a response 01 a8({u8,u8,s8})
        1 002a response e0 u16
        1 002b request 01 {u8,u8}
        1 002b response 10 str
        1 002b response 11 u8
        1 002b response 12 u8
        1 002b response 13 u8
        1 002b response 14 str
        1 002b response 15 u32
        1 002b response 16 u32
        1 002b response 17 {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32}
        1 002b response 18 {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32}
        1 002b response 19 {u32,u32,u32,u32,u32}
        1 002b response 1a {u32,u32,u32,u32,u32}
        1 002b response 1b str
        1 002b response 1c str
        1 002b response 1d u8
        1 002b response 1e u32
        1 002b response 1f u8
        1 002b response 20 u8
        1 002b response 21 u8
        1 002b response 22 u8
        1 002b response 25 u8
        1 002b response 26 u8
        1 002b response 27 u8
        1 002b response 28 {f16}
        1 002b response 29 {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32,u8}
        1 002b response 2a {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32,u8}
        1 002b response 2b f16
        1 002b response 2c f16
        1 002b response 2d u8
        1 002b response 2e {u8,u32,u32,u32,u32}
        1 002b response 2f u8
        1 002b response 3e u8
        1 002b response 50 {u16,u16}
        1 002b response dd u64
        1 002b response de u8
        1 002b response df u8
        1 002b response e0 u16
        1 002d request 10 u32
        1 002d response 10 str
        1 002d response 11 u8
        1 002d response 14 str
        1 002d response 15 u32
        1 002d response 16 u32
        1 002d response 17 {u8,u32,u32,u32,u32,u8,u32,u8,u8,u8,u32,u32}
        1 002d response 19 {u32,u32,u32,u32,u32}
        1 002d response 1b str
        1 002d response 1d u8
        1 002d response 1e u32
        1 002d response 1f {u8,u8}
        1 002d response 20 u32
        1 002d response 21 u32
        1 002d response 22 u8
        1 002d response 23 a8(u32)
        1 002d response 24 a8(s16)
        1 002d response 25 {f16,u8}
        1 002d response 26 {f16,u8}
        1 002d response 27 f16
        1 002d response 28 f16
        1 002d response 29 u32
        1 002d response 2a a8(s16)
        1 002d response 2b u8
        1 002d response 2c u8
        1 002d response 2d u16
        1 002d response 2f {u16,u16,u8,a8(u8),u16}
        1 0044 response 01 {u8,u32,u32}
        1 0044 response 10 {u8,u32,u32}
        1 00a2 request 10 {u32,u32}
        1 00a2 request 11 u8
        1 00a2 request 13 u32
        11 002f response 10 {u16,u16,u16,u16,a8({u8,u8,u8,u8,u8,a8({u8,u8,u8,u8,u8,u8,a8(u8),u8,u8,u8,u8,u8,u8,u8})})}
        11 0032 indication 10 {u16,u16,u16,u16,a8({u8,u8,u8,u8,u8,a8({u8,u8,u8,u8,u8,u8,a8(u8),u8,u8,u8,u8,u8,u8,u8})})}
        2 0023 response 01 str
        2 0024 response 01 str
        2 0025 response 10 str
        2 0025 response 11 str
        2 0025 response 12 str
        2 0025 response 13 str
        2 002d response 01 u8
        2 002d response 10 u16
        2 002d response 11 u8
        2 003c response 01 str
        2 0043 response 01 str
        2 0044 response 01 u8
        26 0020 request 10 u8
        26 0020 request 11 u32
        26 0020 request 12 u32
        26 0020 request 13 u32
        26 0020 request 14 u32
        26 0020 request 15 u32
        26 0020 request 16 u32
        26 0020 request 17 {u32,u32}
        26 0020 request 1b u32
        26 0020 request 1c u32
        26 0020 response 10 u8
        26 0020 response 11 u32
        26 0020 response 12 u32
        26 0020 response 13 u32
        26 0020 response 14 u32
        26 0020 response 15 u32
        26 0020 response 16 u32
        26 0020 response 17 u32
        26 0020 response 18 u32
        26 0020 response 1a u32
        26 0020 response 1b u8
        26 0021 request 10 {u32,u32}
        26 0021 response 10 u8
        26 0021 response 11 u32
        26 0021 response 12 u32
        26 0021 response 13 u32
        26 0021 response 14 u32
        26 0021 response 15 u32
        26 0021 response 16 u32
        26 0021 response 17 u32
        26 0021 response 18 u32
        26 0021 response 1a u32
        26 0021 response 1b u8
        3 0002 indication 10 {u8,u8}
        3 0002 indication 11 a8({u8,u16,u16})
        3 0002 indication 12 {u8,u16}
        3 0002 indication 13 {u8,u8}
        3 0002 indication 14 {u8,u8}
        3 0002 indication 15 u32
        3 0002 indication 16 u8
        3 0002 indication 17 {u16,u8}
        3 0002 indication 18 {u8,u8}
        3 0002 indication 19 u16
        3 0002 indication 1a u16
        3 0002 request 10 {u8,a8(u8)}
        3 0002 request 11 u8
        3 0002 request 12 u8
        3 0002 request 13 {u8,u8}
        3 0002 request 14 {u8,u8}
        3 0002 request 15 {u8,u8}
        3 0002 request 16 {u8,u8}
        3 0002 request 17 u8
        3 0002 request 19 {u8,a8(u16)}
        3 0002 request 1a {u8,a8(u8)}
        3 0002 request 1b {u8,u8}
        3 0002 request 1c {u8,u8}
        3 0003 request 10 u8
        3 0003 request 12 u8
        3 0003 request 13 u8
        3 0003 request 14 u8
        3 0003 request 15 u8
        3 0003 request 17 u8
        3 0003 request 18 u8
        3 0003 request 19 u8
        3 0003 request 1a u8
        3 0003 request 1b u8
        3 0003 request 1c u8
        3 0003 request 1d u8
        3 0003 request 1e u8
        3 0003 request 1f u8
        3 0003 request 20 u8
        3 0003 request 21 {u8,u8}
        3 0020 request 10 u16
        3 0020 response 01 {u8,u8}
        3 0020 response 10 a16({u8,u8})
        3 0020 response 11 a16({u8,u8})
        3 0020 response 12 a16({u8,u8})
        3 0020 response 13 u32
        3 0020 response 14 u8
        3 0020 response 15 a16({u16,u8})
        3 0020 response 16 {u8,u8}
        3 0020 response 17 u16
        3 0020 response 18 u16
        3 0024 indication 01 {u8,u8,u8,u8,a8(u8)}
        3 0024 indication 10 u8
        3 0024 indication 11 a8(u8)
        3 0024 indication 12 {u16,u16,s8}
        3 0024 indication 13 {u16,u16}
        3 0024 indication 14 {u16,u32,u32}
        3 0024 indication 15 a8({u8,u8})
        3 0024 indication 16 u8
        3 0024 indication 17 {u8,u8,u8}
        3 0024 indication 18 u8
        3 0024 indication 19 u8
        3 0024 indication 1a u8
        3 0024 indication 1b u8
        3 0024 indication 1c {u16,u8,u8,u8,u8,u8,u8}
        3 0024 indication 1d u16
        3 0024 indication 1e u32
        3 0024 indication 1f u8
        3 0024 indication 20 u8
        3 0024 indication 21 u8
        3 0024 indication 22 {u8,u8,u8,u8,u8}
        3 0024 indication 23 {u16,u8}
        3 0024 indication 24 u8
        3 0024 indication 25 u16
        3 0024 indication 26 {u32,u32}
        3 0024 indication 27 u8
        3 0024 indication 28 u16
        3 0024 indication 29 {u16,u16,u8}
        3 0024 indication 2b u32
        3 0024 response 01 {u8,u8,u8,u8,a8(u8)}
        3 0024 response 10 u8
        3 0024 response 11 a8(u8)
        3 0024 response 12 {u16,u16,s8}
        3 0024 response 13 {u16,u16}
        3 0024 response 14 {u16,u32,u32}
        3 0024 response 15 a8({u8,u8})
        3 0024 response 16 u8
        3 0024 response 17 {u8,u8,u8}
        3 0024 response 18 u8
        3 0024 response 1a u8
        3 0024 response 1b u8
        3 0024 response 1c u16
        3 0024 response 1d u32
        3 0024 response 1e u8
        3 0024 response 1f u8
        3 0024 response 20 u8
        3 0024 response 21 {u8,u8,u8,u8,u8}
        3 0024 response 22 {u16,u8}
        3 0024 response 23 u8
        3 0024 response 24 u16
        3 0024 response 25 {u32,u32}
        3 0024 response 26 u16
        3 0024 response 27 {u16,u16,u8}
        3 0024 response 29 u32
        3 0025 response 01 {u16,u16,s8}
        3 0025 response 10 {u16,u16}
        3 0025 response 11 {u16,u16,u8,u8,a8(u8)}
        3 0025 response 12 {u8,u8}
        3 0025 response 13 u32
        3 0031 response 01 a8({u8,u16,u16})
        3 0031 response 11 a8({u8,u16,u32})
        3 0031 response 12 a8({u8,u32})
        3 0039 response 10 {u8,s8}
        3 0039 response 11 a16({f3,f3,u16,u16,u8})
        3 0039 response 12 a8({u8,u8,u8,u8,a8(u8),a8(u8)})
        3 0039 response 13 str
        3 0039 response 14 {u8,u8,u8,u8,a8(u8),a8(u8)}
        3 003a indication 10 {u8,s8}
        3 003a indication 11 a16({f3,f3,u16,u16,u8})
        3 003a indication 12 a8({u8,u8,u8,u8,a8(u8),a8(u8)})
        3 003a indication 13 str
        3 003a indication 14 {u8,u8,u8,u8,a8(u8),a8(u8)}
        3 0043 response 10 {u32,f3,u16,u16,u8,u32,u16,a8({u32,f3,u16,u16,u8,u16})}
        3 0043 response 11 {u16,f3,u16,u16,u16,u16,u16,a8({u16,u16,u16,u16}),a8({u16,u8,u8,u16})}
        3 0043 response 12 {u16,u16,u16,u16,u32,u32}
        3 0043 response 13 {u8,f3,u16,u32,u16,u16,u8,u8,u8,u8,a8({u16,u16,u16,u16,u16})}
        3 0043 response 14 {u8,a8({u16,u8,u8,u8,a8({u16,u16,u16,u16,u16})})}
        3 0043 response 15 {u8,a8({u8,u8,u8,u8,a8({u16,u8,u8,u8,u16,u16})})}
        3 0043 response 16 {u8,a8({u16,u8,u16,u16,a8({u16,u16,u16,u16})})}
        3 0043 response 17 u32
        3 0043 response 18 {u32,a8({u16,u16,u32,u32,u16,u8})}
        3 0043 response 1e u32
        3 0043 response 2e u32
        3 0043 response 2f {f3,f3,u64,u16,u16,u16,u16}
        3 0044 request 01 {u16,u16}
        3 0044 request 10 u8
        3 0044 request 11 u8
        3 0044 request 12 u8
        3 0044 request 13 u8
        3 0044 request 14 u32
        3 0044 request 15 u8
        3 0044 request 16 u8
        3 0044 response 10 {u8,a8(u8),u8,u8,u8,a8(u8),u8,u8,u8,a8(u8)}
        3 0044 response 11 {u32,u32}
        3 0044 response 12 u32
        3 0044 response 13 a8({a8(u16),a8(u16),u32})
        3 0044 response 14 a8(u16)
        3 0044 response 15 u32
        3 004d response 10 {u8,u8}
        3 004d response 11 {u8,u8}
        3 004d response 12 {u8,u8,u8}
        3 004d response 13 {u8,u8,u8}
        3 004d response 14 {u8,u8,u8}
        3 004d response 15 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u16,u8,u16,u32,u32,u8,u16,u8,f3,f3}
        3 004d response 16 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,f16}
        3 004d response 17 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u8,u8,u8}
        3 004d response 18 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u8,u8,u8,u8,u16}
        3 004d response 19 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u16}
        3 004d response 1a {u16,u16}
        3 004d response 1b {u16}
        3 004d response 1c {u16,u32}
        3 004d response 1d {u16,u32}
        3 004d response 1e {u16}
        3 004d response 1f {u32,u32}
        3 004d response 20 {u32,u32}
        3 004d response 21 u8
        3 004d response 22 u8
        3 004d response 23 u8
        3 004d response 24 {u8,u8,u8}
        3 004d response 25 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u8,u8,u8,u8,u16,u8,u32,u8,u32,u8,u32,u8,u8}
        3 004d response 26 u8
        3 004d response 27 u32
        3 004d response 29 u8
        3 004d response 2a u32
        3 004d response 2b u16
        3 004d response 2c u8
        3 004d response 2d u8
        3 004d response 2e u16
        3 004d response 2f u32
        3 004d response 31 u32
        3 004d response 34 u16
        3 004d response 44 u32
        3 004d response 4a {u8,u8,u8}
        3 004d response 4b {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u16}
        3 004d response 4e u8
        3 004d response 4f u8
        3 004d response 50 f3
        3 004e indication 10 {u8,u8}
        3 004e indication 11 {u8,u8}
        3 004e indication 12 {u8,u8,u8}
        3 004e indication 13 {u8,u8,u8}
        3 004e indication 14 {u8,u8,u8}
        3 004e indication 15 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u16,u8,u16,u32,u32,u8,u16,u8,f3,f3}
        3 004e indication 16 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,f16}
        3 004e indication 17 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u8,u8,u8}
        3 004e indication 18 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u8,u8,u8,u8,u16}
        3 004e indication 19 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u16}
        3 004e indication 1a {u16,u16}
        3 004e indication 1b {u16}
        3 004e indication 1c {u16,u32}
        3 004e indication 1d {u16,u32}
        3 004e indication 1e {u16}
        3 004e indication 1f {u32,u32}
        3 004e indication 20 {u32,u32}
        3 004e indication 21 u8
        3 004e indication 22 u8
        3 004e indication 23 u8
        3 004e indication 24 u8
        3 004e indication 25 {u8,u8,u8}
        3 004e indication 26 {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u8,u8,u8,u8,u16,u8,u32,u8,u32,u8,u32,u8,u8}
        3 004e indication 27 u8
        3 004e indication 28 u32
        3 004e indication 4c {u8,u8,u8}
        3 004e indication 4d {u8,u8,u8,u8,u8,u8,u8,u8,u8,u16,u8,u32,u8,u8,u8,u8,f3,f3,u8,u16}
        3 004e indication 50 u8
        3 004e indication 51 u8
        3 004e indication 52 f3
        3 004f response 10 {u8,u16}
        3 004f response 11 {u8,u16,u8,u32}
        3 004f response 12 u8
        3 004f response 13 {u8,u16}
        3 004f response 14 {u8,u8,u16,u16}
        3 004f response 15 u8
        3 004f response 16 {u32,u32,u32,u32}
        3 004f response 17 {u16,u16}
        3 004f response 18 u16
        3 004f response 19 u16
        3 0050 request 10 a8(u8)
        3 0050 request 11 a8(u16)
        3 0050 request 12 a8(u8)
        3 0050 request 13 a8(u16)
        3 0050 request 14 a8(u32)
        3 0050 request 15 a8(u8)
        3 0050 request 16 a8(u16)
        3 0050 request 17 {u8,u8}
        3 0050 request 18 a8(u8)
        3 0051 indication 10 {u8,u16}
        3 0051 indication 11 {u8,u16,u8,u32}
        3 0051 indication 12 u8
        3 0051 indication 13 {u8,u16}
        3 0051 indication 14 {u8,u8,u16,u16}
        3 0051 indication 15 u8
        3 0051 indication 17 {u16,u16}
        3 0051 indication 18 u16
        3 0051 indication 19 u16
        3 006c request 10 a8(u16)
        3 006c request 11 u16
        3 006c request 12 a8(u16)
        3 006c request 13 u16
        3 006c request 14 a8(u16)
        3 006c request 15 u16
        3 006c request 16 a8(u16)
        3 006c request 17 u16
        3 006c request 18 a8(u16)
        3 006c request 19 u16
        3 006c request 1a a8(u16)
        3 006c request 1b u16
        3 006c request 1c a8(u16)
        3 006c request 1d u16
        3 006c request 1e a8(u16)
        3 006c request 1f u16
        3 006c request 20 a8(u16)
        3 006c request 21 u16
        3 006c request 22 a8(u16)
        3 006c request 23 u16
        3 006c request 24 a8(u16)
        3 006c request 25 u16
        3 006c request 26 a8(u16)
        3 006c request 27 u16
        3 006c request 28 a8(u16)
        3 006c request 29 u16
        3 006c request 2a {u8,u8}
        3 006c request 33 a8(u16)
        3 006c request 34 u16
        3 006c request 35 a8(u16)
        3 006c request 36 u16
        3 006c request 37 {u8,u8}
        3 006c request 38 a8(u16)
        3 006c request 39 u16
        3 006c request 3a a8(u16)
        3 006c request 3b u16
        """

    func layout(_ t: QMIType) -> String {
        switch t {
        case .u8, .i8, .boolean: return "u8"
        case .u16, .i16: return "u16"
        case .u32, .i32, .f32, .ipv4: return "u32"
        case .u64: return "u64"
        case let .enumeration(w, _, _), let .flags(w, _): return "u\(w.rawValue * 8)"
        case .string: return "str"
        case .string8: return "s8"
        case .string16: return "s16"
        case let .fixedString(n), let .fixedBytes(n): return "f\(n)"
        case .ipv6: return "f16"
        case .bytes: return "bytes"
        case .bytes8: return "a8(u8)"
        case let .structure(fs): return "{" + fs.map { layout($0.type) }.joined(separator: ",") + "}"
        case let .array8(e): return "a8(" + layout(e) + ")"
        case let .array16(e): return "a16(" + layout(e) + ")"
        }
    }

    func testCatalogueLayoutsAreLibqmis() {
        var checked = 0
        for line in Self.libqmiLayouts.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 5, let service = UInt8(f[0]), let id = UInt16(f[1], radix: 16), let tlv = UInt8(f[3], radix: 16),
                  let kind = [QMIKind.request, .response, .indication].first(where: { $0.word == f[2] }),
                  let spec = QMICatalogue.find(service: QMIService(service), id: id) else {
                XCTFail("bad line or missing message: \(line)")
                continue
            }
            guard let t = spec.tlv(type: tlv, kind: kind) else {
                XCTFail("\(spec.fullName) \(kind.word) has no TLV 0x\(f[3])")
                continue
            }
            XCTAssertEqual(layout(t.value), String(f[4]), "\(spec.fullName) \(kind.word) 0x\(f[3]) \(t.name)")
            checked += 1
        }
        XCTAssertEqual(checked, 456)
    }
}
