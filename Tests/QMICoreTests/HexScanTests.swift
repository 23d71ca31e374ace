import Base
import XCTest
@testable import QMICore

final class HexScanTests: XCTestCase {
    let sync = hex("01 0b 00 00 00 00 00 01 27 00 00 00")

    func testQmicliVerboseDump() {
        let lines = [
            "[/dev/cdc-wdm0] sent message...",
            "<<<<<< RAW:",
            "<<<<<<   length = 12",
            "<<<<<<   data   = 01:0B:00:00:00:00:00:01:27:00:00:00",
            "<<<<<< TLV:",
            "<<<<<<   type   = 0x01",
            "<<<<<<   value  = 01:0c:00:00:00:00:00:01:27:00:00:00:00",
        ]
        let found = lines.flatMap { HexScan.scan(line: $0) }
        XCTAssertEqual(found, [.frame(sync)])
    }

    func testBareHexAndJoinedFrames() {
        XCTAssertEqual(HexScan.scan(line: "010b00000000000127000000"), [.frame(sync)])
        let two = sync + sync
        XCTAssertEqual(HexScan.scan(line: Text.hexBytes(two)), [.frame(sync), .frame(sync)])
        XCTAssertEqual(HexScan.scan(line: "this line has no frames at all 12 34"), [])
        XCTAssertEqual(HexScan.scan(line: "00 11 22 33 44 55 66 77 88 99 aa bb cc"), [])  // hex, not QMI
    }

    func testBrokenFramesAreReported() {
        let short = Array(sync.dropLast(2)) + [0xaa, 0xbb, 0xcc]
        var found = HexScan.scan(line: Text.hexBytes(hex("01 20 00") + Array(sync.dropFirst(3))))
        guard case .broken(_, let why)? = found.first else { return XCTFail("\(found)") }
        XCTAssertTrue(why.contains("QMUX length says 33"), why)
        found = HexScan.scan(line: Text.hexBytes(sync + [0x02] + short))
        XCTAssertEqual(found.first, .frame(sync))
        if case .broken? = found.last {} else { XCTFail("\(found)") }
        found = HexScan.scan(line: "data = 01:0B:00:00:00:00:00:01:27:00:00...")
        guard case .broken(_, let cut)? = found.first else { return XCTFail("\(found)") }
        XCTAssertTrue(cut.contains("cut off"), cut)
    }
}
