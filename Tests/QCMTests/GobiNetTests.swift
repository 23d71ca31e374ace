import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
import QMISim
import TestSupport

/// GobiNet's qcqmi channel: one file per service, client ids from the driver's ioctl, no
/// QMUX header on the wire — dialed end to end against qmi-sim's stand-in for the driver.
final class GobiNetTests: XCTestCase {
    func testTheIoctlIsTheDriversAndAForeignNodeIsNamed() throws {
        // QMIDevice.h: IOCTL_QMI_GET_SERVICE_FILE 0x8BE0 + 1, VIDPID + 2, MEID + 3.
        XCTAssertEqual(GobiNetFiles.getServiceFile, 0x8BE1)
        XCTAssertEqual(GobiNetFiles.getDeviceVIDPID, 0x8BE2)
        XCTAssertEqual(GobiNetFiles.getDeviceMEID, 0x8BE3)
        XCTAssertEqual(GobiNetFiles.readBuffer, 4096, "the driver's largest message is 4090 bytes; smaller buffers lose messages")
        // A character device that is not GobiNet: the ioctl really goes to it, and is refused.
        guard case .failure(let e) = GobiNetFiles.openService("/dev/null", 1, timeoutMs: 1000) else { return XCTFail("accepted") }
        XCTAssertEqual(e.description,
                       "GobiNet service file for WDS on /dev/null: the ioctl 0x8be1 is not known there (ENOTTY (Inappropriate ioctl for device)): not a GobiNet qcqmi node, or an old driver")
    }

    func testHeadersAreRebuiltTheWayQuectelCMDoes() throws {
        // WDS Get Packet Service Status response as read() returns it: flags, tid, id, length, TLVs.
        let sdu: [UInt8] = [0x02, 0x05, 0x00, 0x22, 0x00, 0x0b, 0x00, 0x02, 0x04, 0x00, 0, 0, 0, 0, 0x01, 0x01, 0x00, 0x01]
        let frame = QMIMessage.qmuxFrame(service: 1, clientID: 3, fromModem: true, sdu: sdu)
        XCTAssertEqual(Array(frame.prefix(6)), [0x01, 0x17, 0x00, 0x80, 0x01, 0x03])
        let m = try? QMIMessage.decode(frame)
        XCTAssertEqual(m?.displayName, "WDS Get Packet Service Status")
        XCTAssertEqual(m?.transactionID, 5)
        // CTL is answered as the driver's own CTL client would have been: by the catalogue's definitions.
        let channel = try GobiNetChannel.open("/dev/null")
        var release = CTL.ReleaseClientID.Request()
        release.release = CTL.ReleaseClientID.Release(service: .wds, clientID: 2)
        var request = try release.checked()
        request.transactionID = 7
        let a = try QMIMessage.decode(try channel.ctlReply(to: request))
        XCTAssertEqual(a.displayName, "CTL Release Client ID")
        XCTAssertEqual(a.transactionID, 7)
        XCTAssertEqual(a.result?.ok, true)
        XCTAssertEqual(CTL.ReleaseClientID.Response(a).release?.clientID, 2)
        XCTAssertEqual(Array(a.encode().prefix(6)), [0x01, 0x17, 0x00, 0x80, 0x00, 0x00], "from the modem, CTL, client 0")
        XCTAssertThrowsError(try channel.ctlReply(to: try CTL.Sync.Request().checked())) { e in
            XCTAssertEqual((e as? QMIError)?.description.contains("CTL Sync is the GobiNet driver's own"), true, "\(e)")
        }
        XCTAssertThrowsError(try channel.ctlReply(to: CTL.ReleaseClientID.Request().message), "a Release without a client")
    }

    func testDialOverServiceFilesAndCloseThemAll() throws {
        let rig = try DaemonRig(driver: "GobiNet", netdev: "usb0")
        rig.start(["-v", "-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("/dev/qcqmi0 open (GobiNet service files)"), rig.log)
        XCTAssertEqual(rig.sim.transcript.count(CTL.Sync.spec), 0, "CTL is the driver's")
        XCTAssertEqual(rig.sim.transcript.count(CTL.AllocateClientID.spec), 0, "client ids come from the ioctl")
        XCTAssertEqual(rig.sim.withState { $0.allocatedClientCount }, 5, "one service file each for WDS, DMS, NAS, UIM, WDA")
        // The -v trace shows GobiNet traffic as QMUX frames, header rebuilt.
        XCTAssertTrue(rig.log.contains("QMIWDS_START_NETWORK_INTERFACE_RESP"), rig.log)
        XCTAssertTrue(rig.log.contains("] 01 ") && rig.log.contains(" 80 01 01 02 "), "a WDS response frame from the modem, client 1")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean }, "call stopped, every service file closed (client ids released)")
    }

    func testAKilledQCMLeavesNoClientsBehind() throws {
        let rig = try DaemonRig(driver: "GobiNet", netdev: "usb0")
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.signal(SIGKILL)
        _ = rig.waitExit()
        XCTAssertTrue(rig.waitSim { $0.allocatedClientCount == 0 }, "the kernel closed the files, the driver released the ids")
    }

    func testRefusedServiceWrongNodeAndVanishingDevice() throws {
        // The modem refuses NAS: one sentence, every file opened so far closed.
        let rig = try DaemonRig(driver: "GobiNet", netdev: "usb0") { $0.gobiNetRefuses = [QMIService.nas.rawValue] }
        rig.start([])
        XCTAssertEqual(rig.waitExit(), 5, rig.log)
        XCTAssertTrue(rig.log.contains("GobiNet service file for NAS on \(rig.root)/dev/qcqmi0: the modem refused the service (EFAULT from the driver)"), rig.log)
        XCTAssertTrue(rig.waitSim { $0.allocatedClientCount == 0 })

        // The device goes away mid-call and comes back: the same recovery as cdc-wdm.
        rig.sim.withState { $0.config.gobiNetRefuses = [] }
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.sim.disappear(backAfterMs: 400)
        XCTAssertTrue(rig.waitLog("QMI channel lost: device gone"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2, timeout: 20), rig.log)
        // A message cut short is skipped, and qcm asks for what it may have lost.
        rig.sim.dropCallsSilently()
        rig.sim.sendTruncatedFrame(thenIndication: true)
        XCTAssertTrue(rig.waitLog("a frame from the modem was discarded: checking the call state", timeout: 5), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 3, timeout: 20), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    func testANodeThatIsNotGobiNet() throws {
        guard isRoot else { throw XCTSkip("needs root: mknod") }
        let rig = try DaemonRig(driver: "GobiNet", netdev: "usb0")
        // The node udev made belongs to another driver (here: /dev/null's numbers).
        let node = rig.root + "/dev/qcqmi0"
        try FileManager.default.removeItem(atPath: node)
        XCTAssertEqual(shell(["mknod", node, "c", "1", "3"]).status, 0)
        rig.start([])
        XCTAssertEqual(rig.waitExit(), 5, rig.log)
        XCTAssertTrue(rig.log.contains("not a GobiNet qcqmi node, or an old driver"), rig.log)
    }
}
