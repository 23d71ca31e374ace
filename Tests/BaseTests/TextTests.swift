import XCTest
@testable import Base

final class TextTests: XCTestCase {
    func testFloatsAsDecimalText() {
        XCTAssertEqual(Text.decimal(Float(-110.5)), "-110.5")
        XCTAssertEqual(Text.decimal(Float(-12.25)), "-12.25")
        XCTAssertEqual(Text.decimal(Float(3)), "3")
        XCTAssertEqual(Text.decimal(Float(-97.3)), "-97.3", "the nearest float to -97.3 prints as -97.3")
        XCTAssertEqual(Text.decimal(Float(0.05)), "0.05")
        XCTAssertEqual(Text.decimal(Float(-0.001)), "0", "rounded to two decimals, no minus zero")
        XCTAssertEqual(Text.decimal(Float(1.25e12)), "1.25e12")
        XCTAssertEqual(Text.decimal(Float.greatestFiniteMagnitude), "3.4e38")
        XCTAssertEqual(Text.decimal(Float.nan), "nan")
        XCTAssertEqual(Text.decimal(-Float.infinity), "-inf")
    }

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

    /// The one rule for text from outside: controls (C0, DEL, C1) and the invisible
    /// characters that reorder or hide text are escaped; everything else, accents and
    /// scripts included, stays.
    func testWhatMayBeShown() {
        XCTAssertEqual(Text.shown("Telefónica Movistar"), "Telefónica Movistar")
        XCTAssertEqual(Text.shown("中国移动"), "中国移动")
        XCTAssertEqual(Text.shown("a\nb\u{1b}[2J"), "a\\x0ab\\x1b[2J")
        XCTAssertEqual(Text.shown("x\u{7f}\u{9b}y"), "x\\x7f\\x9by")
        XCTAssertEqual(Text.shown("evil\u{202e}cod.exe"), "evil\\u{202e}cod.exe")
        for v: UInt32 in [0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069] { XCTAssertTrue(Text.isUnsafeToShow(v), "\(v)") }
        for v: UInt32 in [0x20, 0x7e, 0xa0, 0x200d, 0x2030, 0x206a, 0x1f600] { XCTAssertFalse(Text.isUnsafeToShow(v), "\(v)") }
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

import CSystem
import Foundation

final class CeilTests: XCTestCase {
    /// The Embedded build's ceil() (no libm) agrees with libm's, sign of zero included.
    func testMatchesLibm() {
        var values: [Double] = [0, -0.0, 0.5, -0.5, 1, -1, 1.0000001, -1.0000001, 2.5, -2.5, 3 / 0.75, 12 / 0.75,
                                4503599627370495.5, -4503599627370495.5, 4503599627370496, 1e300, -1e300,
                                .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNonzeroMagnitude]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<10_000 { values.append(Double.random(in: -1e6...1e6, using: &rng)) }
        for v in values {
            let mine = csys_ceil(v), libm = Foundation.ceil(v)
            XCTAssertEqual(mine, libm, "ceil(\(v))")
            XCTAssertEqual(mine.sign, libm.sign, "sign of ceil(\(v))")
        }
        XCTAssertTrue(csys_ceil(.nan).isNaN)
    }
}

final class SmallMapTests: XCTestCase {
    func testKeepsInsertionOrderReplacesAndRemoves() {
        var m = SmallMap<UInt64, String>()
        XCTAssertTrue(m.isEmpty)
        m[6] = "six"
        m[4] = "four"
        m[9] = "nine"
        XCTAssertEqual(m.pairs.map { $0.key }, [6, 4, 9])
        m[4] = "FOUR"
        XCTAssertEqual(m.values, ["six", "FOUR", "nine"])
        XCTAssertEqual(m[4], "FOUR")
        XCTAssertNil(m[5])
        XCTAssertEqual(m.removeValue(forKey: 6), "six")
        XCTAssertNil(m.removeValue(forKey: 6))
        m[9] = nil
        XCTAssertEqual(m.count, 1)
        XCTAssertEqual(m.pairs.first?.value, "FOUR")
        m.removeAll()
        XCTAssertTrue(m.isEmpty)
    }
}
