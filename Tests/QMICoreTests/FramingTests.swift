import Base
import XCTest
@testable import QMICore
import QMIMessages

final class FramingTests: XCTestCase {
    // Byte-exact encodings derived by hand from the QMUX/QMI layout
    // (marker, u16 length excluding the marker, flags, service, client; then the SDU).

    func testCTLSyncRequestBytes() throws {
        var m = QMIMessage.request(CTL.Sync.spec)
        m.transactionID = 1
        XCTAssertEqual(m.encode(), hex("01 0b 00 00 00 00 00 01 27 00 00 00"))
    }

    func testAllocateClientIDBytes() throws {
        var m = QMIMessage.request(CTL.AllocateClientID.spec)
        m.transactionID = 3
        try m.set("Service", .uint(UInt64(QMIService.wds.rawValue)))
        XCTAssertEqual(m.encode(), hex("01 0f 00 00 00 00 00 03 22 00 04 00 01 01 00 01"))
    }

    func testServiceRequestWithTwoByteTransactionID() throws {
        var m = QMIMessage.request(DMS.GetRevision.spec, clientID: 0)
        m.transactionID = 1
        XCTAssertEqual(m.encode(), hex("01 0c 00 00 02 00 00 01 00 23 00 00 00"))
        m.transactionID = 0x1234
        m.clientID = 7
        XCTAssertEqual(m.encode(), hex("01 0c 00 00 02 07 00 34 12 23 00 00 00"))
    }

    func testStartNetworkBytes() throws {
        var m = QMIMessage.request(WDS.StartNetwork.spec, clientID: 0x14)
        m.transactionID = 5
        try m.set("APN", .string("3gnet"))
        try m.set("IP Family Preference", .uint(4))
        // 0x14 len 5 "3gnet"; 0x19 len 1 04. SDU = 12 bytes; QMUX length = 24.
        XCTAssertEqual(m.encode(), hex("01 18 00 00 01 14 00 05 00 20 00 0c 00 14 05 00 33 67 6e 65 74 19 01 00 04"))
    }

    func testWDASetDataFormatMatchesQuectelCM() throws {
        var m = QMIMessage.request(WDA.SetDataFormat.spec)
        m.transactionID = 2
        try m.set("QoS Format", .bool(false))
        try m.set("Link Layer Protocol", .uint(1))
        try m.set("Downlink Data Aggregation Protocol", .uint(0))
        XCTAssertEqual(m.encode(), hex("01 1e 00 00 1a 00 00 02 00 20 00 12 00 10 01 00 00 11 04 00 01 00 00 00 13 04 00 00 00 00 00"))
    }

    func testGetProfileSettingsMatchesQuectelCM() throws {
        var m = QMIMessage.request(WDS.GetProfileSettings.spec)
        m.transactionID = 4
        try m.set("Profile Identifier", .structure([.uint(0), .uint(1)]))
        XCTAssertEqual(m.encode(), hex("01 11 00 00 01 00 00 04 00 2b 00 05 00 01 02 00 00 01"))
    }

    func testDecodeResponseAndResult() throws {
        let m = try QMIMessage.decode(hex("01 12 00 80 00 00 01 01 27 00 07 00 02 04 00 00 00 00 00"))
        XCTAssertEqual(m.service, .ctl)
        XCTAssertEqual(m.kind, .response)
        XCTAssertTrue(m.fromModem)
        XCTAssertEqual(m.transactionID, 1)
        XCTAssertEqual(m.messageID, 0x27)
        XCTAssertEqual(m.result, .success)
        XCTAssertNoThrow(try m.check())
    }

    func testFailedResultNamesTheError() throws {
        var m = QMIMessage(service: .wds, clientID: 3, kind: .response, transactionID: 9, messageID: 0x20)
        m.tlvs = [QMIResult.failure(0x0e).tlv, TLV(0x10, [0x0d, 0x04])]
        let d = try QMIMessage.decode(m.encode())
        XCTAssertEqual(d.result, QMIResult(status: 1, error: 0x0e))
        XCTAssertThrowsError(try d.check()) { e in
            XCTAssertEqual((e as? QMIError)?.description, "WDS Start Network failed: CallFailed (0x000e)")
        }
        XCTAssertEqual(try d.value("Call End Reason")?.uint, 1037)
        XCTAssertEqual(QMIErrorCode.name(0x1a), "NoEffect")
        XCTAssertEqual(QMIErrorCode.name(0x47), "InvalidQmiCommand")
        XCTAssertEqual(CallEndReason.verboseName(type: 6, reason: 27), "3gpp/unknown-apn (6/27)")
        // Every verbose type reads its own table.
        XCTAssertEqual(CallEndReason.verboseName(type: 1, reason: -1), "mip/error-reason-unknown (1/-1)")
        XCTAssertEqual(CallEndReason.verboseName(type: 2, reason: 201), "internal/error (2/201)")
        XCTAssertEqual(CallEndReason.verboseName(type: 3, reason: 500), "cm/cdma-lock (3/500)")
        XCTAssertEqual(CallEndReason.verboseName(type: 7, reason: 1), "ppp/timeout (7/1)")
        XCTAssertEqual(CallEndReason.verboseName(type: 8, reason: 1), "ehrpd/subscription-limited-to-ipv4 (8/1)")
        XCTAssertEqual(CallEndReason.verboseName(type: 9, reason: 1), "ipv6/prefix-unavailable (9/1)")
        XCTAssertEqual(CallEndReason.verboseName(type: 5, reason: 3), "type-5/reason-3 (5/3)")
        XCTAssertEqual(CallEndReason.verboseName(type: 6, reason: 9999), "3gpp/reason-9999 (6/9999)")
        XCTAssertEqual(CallEndReason.name(1013), "gsm-wcdma-unknown-apn (1013)")
    }

    func testUnknownTLVsAreKept() throws {
        var m = QMIMessage(service: .dms, clientID: 1, kind: .response, transactionID: 2, messageID: 0x23)
        m.tlvs = [QMIResult.success.tlv, TLV(0x01, Array("EC25EFAR06A11M4G".utf8)), TLV(0x7e, [1, 2, 3])]
        let d = try QMIMessage.decode(m.encode())
        XCTAssertEqual(d.tlvs.count, 3)
        XCTAssertEqual(d.tlv(0x7e)?.value, [1, 2, 3])
        XCTAssertEqual(try d.value("Revision")?.string, "EC25EFAR06A11M4G")
        XCTAssertEqual(d.encode(), m.encode())
        let text = QMITrace.describe(d).joined(separator: "\n")
        XCTAssertTrue(text.contains("[0x7e] unknown TLV (3 bytes): 01 02 03"), text)
    }

    func testMalformedFramesGiveTypedErrors() {
        func err(_ b: [UInt8]) -> QMIError? {
            do { _ = try QMIMessage.decode(b); return nil } catch { return error }
        }
        XCTAssertEqual(err([]), .frameTooShort(0))
        XCTAssertEqual(err(hex("02 0b 00 00 00 00 00 01 27 00 00 00")), .badMarker(2))
        XCTAssertEqual(err(hex("01 0b 00 00 00 00 00 01 27 00")), .frameTooShort(10))
        // QMUX length larger / smaller than the bytes present
        XCTAssertEqual(err(hex("01 0c 00 00 00 00 00 01 27 00 00 00")), .lengthMismatch(declared: 12, actual: 11))
        XCTAssertEqual(err(hex("01 0a 00 00 00 00 00 01 27 00 00 00")), .lengthMismatch(declared: 10, actual: 11))
        // SDU length disagrees with what follows
        XCTAssertEqual(err(hex("01 0b 00 00 00 00 00 01 27 00 05 00")), .sduLengthMismatch(declared: 5, actual: 0))
        // TLV overruns the message
        XCTAssertEqual(err(hex("01 0f 00 00 00 00 00 01 22 00 04 00 01 09 00 01")), .tlvOverrun(type: 1, declared: 9, available: 1))
        // Truncated TLV header
        if case .truncated? = err(hex("01 0d 00 00 00 00 00 01 22 00 02 00 01 09")) {} else { XCTFail("expected truncated") }
        // Unknown message flags
        if case .badValue? = err(hex("01 0b 00 00 00 00 03 01 27 00 00 00")) {} else { XCTFail("expected bad flags") }
        XCTAssertEqual(QMIError.lengthMismatch(declared: 12, actual: 11).description,
                       "QMUX length field says 12 byte(s) but the frame carries 11")
    }

    func testFrameReaderSplitsAndJoins() {
        let a = hex("01 0b 00 00 00 00 00 01 27 00 00 00")
        let b = hex("01 12 00 80 00 00 01 01 27 00 07 00 02 04 00 00 00 00 00")
        var r = FrameReader()
        // Byte by byte
        var got: [FrameReader.Item] = []
        for byte in a + b {
            r.append([byte])
            while let i = r.next() { got.append(i) }
        }
        XCTAssertEqual(got, [.frame(a), .frame(b)])
        // Joined, with leading garbage and garbage in between
        r.append([0xff, 0xee] + a + [0x00] + b)
        got = []
        while let i = r.next() { got.append(i) }
        XCTAssertEqual(got, [.garbage([0xff, 0xee]), .frame(a), .garbage([0x00]), .frame(b)])
        XCTAssertEqual(r.buffered, 0)
        // A marker followed by an impossible length is skipped, not waited on forever
        r.append(hex("01 02 00") + a)
        got = []
        while let i = r.next() { got.append(i) }
        XCTAssertEqual(got.last, .frame(a))
    }

    /// A truncated frame declares more bytes than it has: the frame after it — the
    /// indication that the network dropped the call — still comes through, whether more
    /// data follows or not.
    func testTruncatedFrameDoesNotHideTheNextOne() throws {
        var ind = QMIMessage.indication(WDS.GetPacketServiceStatus.spec, clientID: 1)
        try ind.set("Connection Status", .structure([.uint(1), .bool(false)]))
        try ind.set("Call End Reason", .uint(1003))
        let drop = ind.encode()
        var revision = QMIMessage.reply(to: QMIMessage.request(DMS.GetRevision.spec, clientID: 1))
        try revision.set("Revision", .string("EC25EFAR06A11M4G"))
        let truncated = Array(revision.encode().prefix(20))
        // Nothing follows: the indication is not kept waiting behind the truncated frame.
        var r = FrameReader()
        r.append(truncated + drop)
        var got: [FrameReader.Item] = []
        while let i = r.next() { got.append(i) }
        XCTAssertEqual(got.count, 2, "\(got)")
        if case .malformed(let bytes, _) = got.first { XCTAssertEqual(bytes, truncated) } else { XCTFail("\(got)") }
        XCTAssertEqual(got.last, .frame(drop))
        XCTAssertEqual(r.buffered, 0)
        // More frames follow at once: the truncated one's declared length reaches into them.
        r = FrameReader()
        r.append(truncated + drop + drop + drop)
        got = []
        while let i = r.next() { got.append(i) }
        XCTAssertEqual(got.filter { $0 == .frame(drop) }.count, 3, "\(got)")
        // A complete frame whose inner lengths do not add up is skipped whole, and a stray
        // 0x01 inside it is not taken for the start of a frame.
        var bad = revision.encode()
        bad[11] &+= 7
        r = FrameReader()
        r.append(bad)
        r.append(drop)
        got = []
        while let i = r.next() { got.append(i) }
        if case .malformed(let bytes, _) = got.first { XCTAssertEqual(bytes, bad) } else { XCTFail("\(got)") }
        XCTAssertEqual(got.last, .frame(drop))
    }

    func testMaskingHidesPasswordsButStaysDecodable() throws {
        var m = QMIMessage.request(WDS.StartNetwork.spec, clientID: 1)
        try m.set("APN", .string("3gnet"))
        try m.set("Username", .string("carl"))
        try m.set("Password", .string("s3cret"))
        let masked = QMITrace.masked(m)
        XCTAssertEqual(try masked.value("Password")?.string, "******")
        XCTAssertEqual(try masked.value("APN")?.string, "3gnet")
        let bytes = masked.encode()
        XCTAssertFalse(Text.hexBytes(bytes).contains(Text.hexBytes(Array("s3cret".utf8))))
        var pin = QMIMessage.request(UIM.VerifyPIN.spec, clientID: 1)
        try pin.set("Session", .structure([.uint(0), .bytes([])]))
        try pin.set("Info", .structure([.uint(1), .string("1234")]))
        let mp = QMITrace.masked(pin)
        XCTAssertEqual(try mp.value("Info")?[1]?.string, "****")
        XCTAssertEqual(try mp.value("Info")?[0]?.uint, 1)
    }
}
