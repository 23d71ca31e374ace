import Foundation
import XCTest
import Base
import CSystem
import QMICore
import QMIMessages
import QMISim
import TestSupport

/// The modem misbehaving under a running qcm — frames cut short, requests that stall, a
/// proxy shared with other programs, client ids revoked — at the daemon level against the
/// simulator. (The escalation when it stops answering is QMISessionTests'.)
final class RecoveryTests: XCTestCase {
    /// A truncated frame, then the indication that the network ended the call: the
    /// indication is not swallowed. And when the indication itself is lost, the discarded
    /// frame makes qcm ask, so the drop is still noticed.
    func testATruncatedFrameDoesNotHideTheDrop() throws {
        let rig = try DaemonRig()
        rig.start(["--stable-after", "0"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.sim.sendTruncatedFrame()
        rig.sim.dropCalls()
        XCTAssertTrue(rig.waitLog("the network ended the IPv4 call"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        // The indication lost as well: found by asking after the discarded frame.
        rig.sim.dropCallsSilently()
        rig.sim.sendTruncatedFrame(thenIndication: true)
        XCTAssertTrue(rig.waitLog("a frame from the modem was discarded: checking the call state", timeout: 5), rig.log)
        XCTAssertTrue(rig.waitLog("is no longer up (a lost frame hid the network's indication)", timeout: 5), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 3), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    /// A request unanswered for 3 s is named in the log; an unconfirmed teardown is a
    /// warning and a non-zero exit; a channel qcm may not open is exit 9.
    func testStallsAndExitCodes() throws {
        let rig = try DaemonRig { $0.latencyFor[SimConfig.key(DMS.GetRevision.spec)] = 3500 }
        rig.start([])
        XCTAssertTrue(rig.waitLog("waiting 3 s for DMS Get Revision (transaction 1)"), rig.log)
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.sim.withState { $0.config.neverAnswer.insert(SimConfig.key(CTL.ReleaseClientID.spec)) }
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 5, rig.log)
        XCTAssertTrue(rig.log.contains("warning: the modem did not confirm stopping the call or releasing the client ids"), rig.log)

        guard isRoot else { throw XCTSkip("the permission case needs root (to run qcm as another user)") }
        let denied = try DaemonRig()
        chmod(denied.root + "/dev/cdc-wdm0", 0o600)
        chmod(denied.root, 0o755)
        XCTAssertEqual(chown(denied.root + "/run", 65534, 65534), 0)
        denied.wrapper = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        denied.start([])
        XCTAssertEqual(denied.waitExit(), 9, denied.log)
        XCTAssertTrue(denied.log.contains("EACCES"), denied.log)
    }

    /// Through qmi-proxy: no CTL Sync (it would drop other programs' client ids), and a
    /// client id the modem revokes is allocated again and the call redialed.
    func testThroughTheProxyOtherClientsSurvive() throws {
        guard isRoot else { throw XCTSkip("needs root: a private network namespace for @qmi-proxy") }
        let rig = try DaemonRig()
        let ns = try TestNamespace("qcm-proxy2")
        try ns.inside { try rig.sim.listen("@qmi-proxy", proxy: true) }
        // Another program holds a client id (qmicli through the same proxy, say).
        let other = try SimClient(socket: FakeHardware.socketPath(root: rig.root))
        let theirs = try other.allocate(.nas)
        rig.ns = nil
        rig.wrapper = []
        let fd = csys_open(rig.logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        rig.pid = Subprocess.start(["ip", "netns", "exec", ns.name, productPath("qcm")] + rig.baseArgs + ["-p", "qmi-proxy"], outputFD: fd)
        close(fd)
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.sim.transcript.count(CTL.Sync.spec), 0, "no Sync through the proxy")
        XCTAssertTrue(rig.sim.withState { $0.allocatedClients[QMIService.nas.rawValue]?.contains(theirs) == true }, "the other program's client survives")
        // The modem revokes qcm's WDS client.
        let wds = try XCTUnwrap(rig.sim.withState { $0.allocatedClients[QMIService.wds.rawValue]?.first })
        rig.sim.revoke(.wds, wds)
        XCTAssertTrue(rig.waitLog("the modem revoked QMI clientWDS \(wds); allocating a new one"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.sim.withState { $0.allocatedClients[QMIService.nas.rawValue] == [theirs] }, "only qcm's own client ids released")
    }
}
