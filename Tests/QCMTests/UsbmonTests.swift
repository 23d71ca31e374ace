import Foundation
import XCTest
import Base
import CSystem
import QMISim
import TestSupport
@testable import QCM

/// -u FILE: the modem's lines of usbmon's text interface copied into FILE by the poll loop,
/// or one message saying why there is no capture (this machine has no usbmon: the refusal
/// is what runs here for real; the copying runs against stand-ins for the text file).
final class UsbmonTests: XCTestCase {
    func line(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testTheModemsLinesAreTold() {
        // Documentation/usb/usbmon.rst's examples: the fourth word is TYPE:BUS:DEVICE:ENDPOINT.
        XCTAssertTrue(UsbmonCapture.isOfDevice(line("ffff8d3c3f2a8600 3575914555 S Bo:1:003:2 -115 31 = 55534243 5e000000"), bus: 1, device: 3))
        XCTAssertTrue(UsbmonCapture.isOfDevice(line("d5ea89a0 3575914555 C Ii:1:003:1 0:8 4 = 01000000"), bus: 1, device: 3))
        XCTAssertFalse(UsbmonCapture.isOfDevice(line("d5ea89a0 3575914555 S Ci:1:001:0 s a3 00 0000 0003 0004 4 <"), bus: 1, device: 3),
                       "another device of the bus")
        XCTAssertFalse(UsbmonCapture.isOfDevice(line("d5ea89a0 3575914555 S Bo:10:003:2 -115 31 ="), bus: 1, device: 3), "another bus")
        XCTAssertFalse(UsbmonCapture.isOfDevice(line("garbage"), bus: 1, device: 3))
        XCTAssertFalse(UsbmonCapture.isOfDevice(line("a b c Bo:1:x03:2"), bus: 1, device: 3))
        XCTAssertFalse(UsbmonCapture.isOfDevice(line(""), bus: 1, device: 3))
    }

    func reason(_ debug: String, _ modules: String, bus: Int? = 1) -> String {
        do throws(UsbmonCapture.Unavailable) {
            return try UsbmonCapture.source(debugRoot: debug, moduleRoot: modules, bus: bus)
        } catch { return error.reason }
    }

    func testWhyThereIsNoCapture() throws {
        let dir = NSTemporaryDirectory() + "qcm-usbmon-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let debug = dir + "/kernel/debug", modules = dir + "/module"
        try FileManager.default.createDirectory(atPath: debug, withIntermediateDirectories: true)
        XCTAssertEqual(reason(debug, modules, bus: nil), "the modem is not on USB (usbmon records USB traffic only)")
        XCTAssertEqual(reason(debug, modules), "debugfs is not mounted at \(debug) (mount -t debugfs none \(debug))")
        try FileManager.default.createDirectory(atPath: debug + "/usb", withIntermediateDirectories: true)
        XCTAssertEqual(reason(debug, modules), "usbmon is not loaded (modprobe usbmon)")
        try FileManager.default.createDirectory(atPath: debug + "/usb/usbmon", withIntermediateDirectories: true)
        XCTAssertEqual(reason(debug, modules, bus: 2), "usbmon has no text file for bus 2 (\(debug)/usb/usbmon/2u)")
        XCTAssertTrue(FileManager.default.createFile(atPath: debug + "/usb/usbmon/2u", contents: nil))
        XCTAssertEqual(reason(debug, modules, bus: 2), debug + "/usb/usbmon/2u")
    }

    /// This machine's own debugfs: what qcm -u would say here.
    func testThisMachine() {
        let r = reason("/sys/kernel/debug", "/sys/module")
        if r.hasPrefix("/sys/kernel/debug/usb/usbmon/") { return }      // a machine with usbmon: the source is found
        XCTAssertTrue(r.hasPrefix("debugfs is not mounted at /sys/kernel/debug") || r == "usbmon is not loaded (modprobe usbmon)"
                      || r.hasPrefix("usbmon has no text file for bus 1") || r.contains("debugfs is root's"), r)
    }

    // MARK: end to end

    func usbmonDir(_ rig: DaemonRig) throws -> String {
        let d = rig.root + "/sys/kernel/debug/usb/usbmon"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func waitFor(_ timeout: Double = 10, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if cond() { return true }; usleep(20_000) }
        return false
    }

    func testNoUsbmonHereQCMSaysWhyAndGoesOn() throws {
        let rig = try DaemonRig()
        let file = rig.root + "/capture.txt"
        rig.start(["-u", file])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("-u \(file): no USB capture: debugfs is not mounted at \(rig.root)/sys/kernel/debug (mount -t debugfs none \(rig.root)/sys/kernel/debug); qcm goes on without it"), rig.log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file), "no capture, no file")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)

        // A PCIe module has no USB bus to watch.
        let pcie = try DaemonRig(driver: "pcie_mhi", netdev: "rmnet_mhi0")
        pcie.start(["-u", file])
        XCTAssertTrue(pcie.waitLog("] connected"), pcie.log)
        XCTAssertTrue(pcie.log.contains("no USB capture: the modem is not on USB (usbmon records USB traffic only); qcm goes on without it"), pcie.log)
        pcie.signal(SIGTERM)
        XCTAssertEqual(pcie.waitExit(), 0, pcie.log)
    }

    func testTheModemsLinesFromAPollableStandIn() throws {
        let rig = try DaemonRig()
        let source = try usbmonDir(rig) + "/1u"
        XCTAssertEqual(mkfifo(source, 0o600), 0)
        // The test holds the FIFO's writing end (read-write: opening never blocks).
        let writer = open(source, O_RDWR | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(writer, 0)
        defer { close(writer) }
        func feed(_ s: String) { _ = s.withCString { write(writer, $0, strlen($0)) } }
        let file = rig.root + "/capture.txt"
        rig.start(["-u", file])
        XCTAssertTrue(rig.waitLog("usbmon: copying bus 1 device 003's traffic from \(source) into \(file)"), rig.log)
        // The modem is device 3 of bus 1 in the simulator's tree; the keyboard (device 2) stays out.
        feed("ffff9a0c 100 S Bo:1:003:2 -115 31 = 55534243\nffff9a0d 101 S Ii:1:002:1 -115:8 4 <\nffff9a0c 102 C Bo:1:0")
        feed("03:2 0 31 >\n")
        XCTAssertTrue(waitFor { self.text(file).split(separator: "\n").count == 2 }, text(file))
        let lines = text(file).split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasSuffix("] ffff9a0c 100 S Bo:1:003:2 -115 31 = 55534243"), lines[0])
        XCTAssertTrue(lines[1].hasSuffix("] ffff9a0c 102 C Bo:1:003:2 0 31 >"), "a line cut across reads is joined: \(lines[1])")
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("[") }, "each line carries qcm's log timestamp")
        XCTAssertFalse(text(file).contains(":1:002:"))
        let info = try XCTUnwrap(Files.info(file))
        XCTAssertEqual(info.mode & 0o777, 0o600, "owner-only")
        XCTAssertEqual(info.kind, .file)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.log.contains("usbmon: 2 line(s) of the modem's (of 3 on bus 1) written to \(file)"), rig.log)
    }

    /// usbmon's own file cannot be polled: poll(2) always says readable. A regular file
    /// behaves the same way, so it stands in for the timer-driven path.
    func testTheModemsLinesFromAFileThatCannotBePolled() throws {
        let rig = try DaemonRig()
        let source = try usbmonDir(rig) + "/1u"
        try "aa 1 S Bo:1:003:2 -115 4 = 01020304\nbb 2 S Bo:1:004:2 -115 4 = 05060708\n".write(toFile: source, atomically: false, encoding: .utf8)
        let file = rig.root + "/capture.txt"
        // An old capture of another run is emptied, as quectel-CM's is.
        try "old\n".write(toFile: file, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(file, 0o644), 0)
        rig.start(["-u", file])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(waitFor { self.text(file).contains("Bo:1:003:2 -115 4 = 01020304") }, text(file))
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: source))
        h.seekToEndOfFile()
        h.write("cc 3 C Bo:1:003:2 0 4 >\n".data(using: .utf8)!)
        h.closeFile()
        XCTAssertTrue(waitFor { self.text(file).contains("cc 3 C Bo:1:003:2 0 4 >") }, text(file))
        XCTAssertFalse(text(file).contains("old"))
        XCTAssertFalse(text(file).contains("Bo:1:004:2"))
        XCTAssertEqual((Files.info(file)?.mode ?? 0) & 0o777, 0o600, "made owner-only")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    func testASymlinkIsNotFollowed() throws {
        let rig = try DaemonRig()
        let source = try usbmonDir(rig) + "/1u"
        XCTAssertTrue(FileManager.default.createFile(atPath: source, contents: Data("aa 1 S Bo:1:003:2 x\n".utf8)))
        let victim = rig.root + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let file = rig.root + "/capture.txt"
        XCTAssertEqual(symlink(victim, file), 0)
        rig.start(["-u", file])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("-u \(file): no USB capture: cannot create \(file): it is a symlink, and qcm does not follow one; qcm goes on without it"), rig.log)
        XCTAssertEqual(text(victim), "precious\n")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }
}
