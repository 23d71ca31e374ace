import XCTest
@testable import QMICore

final class TextTests: XCTestCase {
    func testByteWiseComparisons() {
        XCTAssertTrue("wwan0".equals("wwan0"))
        XCTAssertFalse("wwan0".equals("wwan01"))
        XCTAssertFalse("".equals("x"))
        XCTAssertTrue("".equals(""))
        // Byte-wise, not canonical equivalence: é precomposed vs e + combining acute.
        XCTAssertFalse("\u{e9}".equals("e\u{301}"))
        XCTAssertTrue("qcm-pdn1.status".begins(with: "qcm-pdn"))
        XCTAssertTrue("qcm-pdn1.status".ends(with: ".status"))
        XCTAssertFalse("qcm".begins(with: "qcm-pdn"))
        XCTAssertFalse("x.status".ends(with: "x.status2"))
        XCTAssertTrue("abc".begins(with: "") && "abc".ends(with: ""))
        XCTAssertEqual(["wwan1", "usb0", "wwan0", "eth"].sorted { $0.precedes($1) }, ["eth", "usb0", "wwan0", "wwan1"])
        XCTAssertFalse("a".precedes("a"))
    }

    func testWordSwitch() {
        func kind(_ s: String) -> Int {
            switch Word(s) {
            case "-s", "--apn": return 1
            case "--": return 2
            default: return 0
            }
        }
        XCTAssertEqual(kind("-s"), 1)
        XCTAssertEqual(kind("--apn"), 1)
        XCTAssertEqual(kind("--"), 2)
        XCTAssertEqual(kind("--ap"), 0)
        XCTAssertEqual(kind(""), 0)
    }
}
