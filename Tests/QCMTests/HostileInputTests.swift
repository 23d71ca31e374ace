import Foundation
import XCTest
import Base
import CSystem
import QMICore
import QMIMessages
import QMISim
import TestSupport

/// Input meant to break qcm: control characters on the command line and from the modem,
/// a FIFO where sysfs should have a file.
final class HostileInputTests: XCTestCase {
    /// Control characters from the modem or the command line cannot add lines to the
    /// status file or reach the modem.
    func testControlCharactersAreRefusedOrEscaped() throws {
        for args in [["-s", "cmnet\nnameserver"], ["-s", "x", "user\u{1b}[2J", "pw"], ["--password", "p\u{7f}"]] {
            let r = qcm(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.output)")
            XCTAssertTrue(r.output.contains("contains a control character"), r.output)
        }
        let bad = shell(["sh", "-c", "exec \"$0\" -s \"$(printf 'ab\\377cd')\"", productPath("qcm")])
        XCTAssertEqual(bad.status, 2, bad.output)
        XCTAssertTrue(bad.output.contains("is not valid UTF-8"), bad.output)
        // A firmware revision with a newline stays one escaped line in the status file.
        let rig = try DaemonRig { $0.revision = "EC25\nstate=pwned" }
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let st = qcm(["status", "--run-dir", rig.root + "/run"]).output
        XCTAssertTrue(st.contains("revision:  EC25\\x0astate=pwned"), st)
        XCTAssertFalse(st.contains("\nstate=pwned"), st)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
    }

    /// A FIFO where a sysfs attribute should be: `qcm list` reads regular files only and
    /// never blocks on it.
    func testFIFOInSysfsDoesNotHang() throws {
        let rig = try DaemonRig()
        let attr = rig.root + "/sys/devices/platform/sim/usb1/1-1/1-1.2/idProduct"
        try FileManager.default.removeItem(atPath: attr)
        XCTAssertEqual(mkfifo(attr, 0o644), 0)
        let r = shell([productPath("qcm"), "list", "--sysfs-root", rig.root + "/sys", "--dev-root", rig.root + "/dev"], timeout: 10)
        XCTAssertNotEqual(r.status, 137, "killed by the timeout: it hung")
        XCTAssertTrue(r.output.contains("idProduct is unreadable or not hex"), r.output)
    }
}
