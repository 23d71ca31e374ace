import Base
import Foundation
import XCTest
@testable import QMISim
import TestSupport
import QMICore
import QMIMessages

/// The qmi-sim executable: documented knobs, precise errors, clean start and stop.
final class CommandLineTests: XCTestCase {
    func testHelpDocumentsEveryKnob() {
        let r = shell([productPath("qmi-sim"), "--help"])
        XCTAssertEqual(r.status, 0)
        for flag in ["--socket", "--proxy", "--quectel-proxy", "--root", "--netdev", "--tun", "--veth", "--netns", "--mode", "--sim", "--pin",
                     "--pin-retries", "--registration-delay", "--no-registration", "--roaming", "--apn", "--ipv4",
                     "--gateway", "--dns", "--mtu", "--client-ids", "--calls-outlive-clients", "--latency",
                     "--latency-for", "--no-answer", "--malformed", "--wrong-tid", "--reject-call", "--reject-times",
                     "--drop-after", "--reset-after", "--gone-after", "--back-after", "--transcript", "--ready-file"] {
            XCTAssertTrue(r.output.contains(flag), "--help does not mention \(flag)")
        }
    }

    func testBadFlagsAreRefusedPrecisely() {
        var r = shell([productPath("qmi-sim"), "--frobnicate"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.output.contains("unknown option '--frobnicate'"), r.output)
        r = shell([productPath("qmi-sim"), "--no-answer", "WDS:Nonsense"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.output.contains("unknown message 'WDS:Nonsense'"), r.output)
        r = shell([productPath("qmi-sim"), "--latency", "soon"])
        XCTAssertTrue(r.output.contains("--latency: 'soon' is not a number"), r.output)
        r = shell([productPath("qmi-sim"), "--sim", "broken"])
        XCTAssertTrue(r.output.contains("--sim takes ready, pin, puk or absent"), r.output)
    }

    func testMessageNamesParse() {
        XCTAssertEqual(SimConfig.parseMessage("WDS:0x0020"), 0x01_0020)
        XCTAssertEqual(SimConfig.parseMessage("wds:32"), 0x01_0020)
        XCTAssertEqual(SimConfig.parseMessage("WDS Start Network"), 0x01_0020)
        XCTAssertEqual(SimConfig.parseMessage("WDS:StartNetwork"), 0x01_0020)
        XCTAssertEqual(SimConfig.parseMessage("QMIWDS_START_NETWORK_INTERFACE"), 0x01_0020)
        XCTAssertNil(SimConfig.parseMessage("XYZ:1"))
    }

    func testRootTreeSocketAndCleanStop() throws {
        let root = NSTemporaryDirectory() + "qcm-simroot-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: productPath("qmi-sim"))
        p.arguments = ["--root", root, "--ready-file", root + "/ready", "--transcript", root + "/transcript.txt"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: root + "/ready") && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/sys/bus/usb/devices/1-1.2/idVendor"))
        let sock = root + "/dev/cdc-wdm0"
        let attrs = try FileManager.default.attributesOfItem(atPath: sock)
        XCTAssertEqual(attrs[.type] as? FileAttributeType, .typeSocket)
        // A client over the socket file, as qcm will be.
        let loop = EventLoop()
        let engine = QMIEngine(channel: try QMIChannel.open(sock), loop: loop)
        var got: Result<QMIMessage, QMIError>?
        engine.send(QMIMessage.request(CTL.Sync.spec)) { got = $0 }
        loop.run(until: { got != nil }, timeoutMs: 5000)
        XCTAssertNoThrow(try got?.get().check())
        engine.close()
        usleep(300_000)   // the transcript file is flushed by the simulator's loop
        let transcript = try String(contentsOfFile: root + "/transcript.txt", encoding: .utf8)
        XCTAssertTrue(transcript.contains("in  01 0b 00 00 00 00 00 01 27 00 00 00  TransactionId: 01 QMICTLType: 0027 QMICTL_SYNC_REQ"), transcript)
        XCTAssertTrue(transcript.contains("QMICTL_SYNC_RESP"), transcript)
        p.terminate()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "SIGTERM is a clean stop")
        XCTAssertFalse(FileManager.default.fileExists(atPath: sock), "the socket is removed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/sys"), "the fake tree is removed")
    }

    /// `--pcie --mbim`: pcie_mhi loaded with mhi_mbim_enabled=1 — the MBIM channel and its
    /// node (served), no QMI0, the children for qmap_mode, link_state (a FIFO), qmap_size the
    /// NTB size; all removed on SIGTERM.
    func testPCIeMBIMTree() throws {
        let root = NSTemporaryDirectory() + "qcm-simroot-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: productPath("qmi-sim"))
        p.arguments = ["--pcie", "--mbim", "--qmap", "2", "--root", root, "--ready-file", root + "/ready"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: root + "/ready") && Date() < deadline { usleep(10_000) }
        let fm = FileManager.default
        let bus = root + "/sys/bus/mhi_q/devices/"
        XCTAssertTrue(fm.fileExists(atPath: bus + "0306_00.01.00_IP_HW0/net/rmnet_mhi0"))
        XCTAssertTrue(fm.fileExists(atPath: bus + "0306_00.01.00_MBIM/mhi_uci_q/mhi_MBIM/uevent"))
        XCTAssertFalse(fm.fileExists(atPath: bus + "0306_00.01.00_QMI0"), "mhi_mbim_enabled drops the QMI channels")
        XCTAssertEqual(try fm.attributesOfItem(atPath: root + "/dev/mhi_MBIM")[.type] as? FileAttributeType, .typeSocket)
        XCTAssertEqual(try String(contentsOfFile: root + "/sys/module/pcie_mhi/parameters/mhi_mbim_enabled", encoding: .utf8), "1\n")
        XCTAssertEqual(try String(contentsOfFile: root + "/sys/class/net/rmnet_mhi0/qmap_size", encoding: .utf8), "32768\n")
        XCTAssertEqual(try fm.attributesOfItem(atPath: root + "/sys/class/net/rmnet_mhi0/link_state")[.type] as? FileAttributeType,
                       FileAttributeType(rawValue: "NSFileTypeUnknown"), "a FIFO")
        for c in ["rmnet_mhi0.1", "rmnet_mhi0.2"] { XCTAssertTrue(fm.fileExists(atPath: root + "/sys/class/net/\(c)/type"), c) }
        XCTAssertFalse(fm.fileExists(atPath: root + "/sys/class/net/rmnet_mhi0.3"))
        p.terminate()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertFalse(fm.fileExists(atPath: root + "/sys"), "the fake tree is removed")
        XCTAssertFalse(fm.fileExists(atPath: root + "/dev"))

        let r = shell([productPath("qmi-sim"), "--pcie", "--mbim", "--veth"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.output.contains("--pcie excludes --gobinet and --veth"), r.output)
    }
}
