import Foundation
import XCTest
import Base
import CSystem
import QMICore
import QMIMessages
import QMISim
import TestSupport

/// DNS where qcm runs for real: containers with a bind-mounted resolv.conf, a resolv.conf
/// that cannot be written, a second signal in the middle of the teardown — each test with
/// its own resolv.conf, never the machine's.
final class ResolvConfTests: XCTestCase {
    func read(_ p: String) -> String { (try? String(contentsOfFile: p, encoding: .utf8)) ?? "<absent>" }

    func backups(_ rig: DaemonRig) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: rig.root + "/run")) ?? []).filter { $0.contains("resolv") }
    }

    /// Docker/Podman bind-mount /etc/resolv.conf: rename() onto it fails with EBUSY. qcm
    /// rewrites it in place, restores it in place, and leaves no backup behind.
    func testContainerResolvConfIsRewrittenInPlace() throws {
        guard isRoot else { throw XCTSkip("needs root: a private mount namespace with a bind mount") }
        let rig = try DaemonRig(netns: true)
        let host = rig.root + "/host-resolv.conf"          // what the container runtime mounts
        let inside = rig.root + "/resolv.conf"             // the container's /etc/resolv.conf
        try "nameserver 192.0.2.53\n".write(toFile: host, atomically: true, encoding: .utf8)
        try "placeholder\n".write(toFile: inside, atomically: true, encoding: .utf8)
        rig.wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount --bind \(host) \(inside) && exec \"$0\" \"$@\""]
        rig.start(["--dns", "file"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("cannot be replaced (EBUSY"), rig.log)
        XCTAssertTrue(read(host).contains("nameserver 211.138.180.2\n"), "written through the bind mount: \(read(host))")
        XCTAssertEqual(backups(rig), ["resolv.conf.backup"], "the original is kept in the private run directory")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(read(host), "nameserver 192.0.2.53\n", "restored in place")
        XCTAssertEqual(backups(rig), [], "no backup survives")
    }

    /// A DNS failure is a warning in the log and in `qcm status`, never a reason to drop
    /// a working call; a second signal still restores resolv.conf and removes the backup.
    func testDNSFailureKeepsTheCallAndSecondSignalCleansUp() throws {
        guard isRoot else { throw XCTSkip("needs root: a TUN wwan0 in a namespace") }
        let broken = try DaemonRig(netns: true)
        broken.start(["--dns", "file", "--resolv-conf", broken.root + "/no/such/dir/resolv.conf"])
        XCTAssertTrue(broken.waitLog("] connected"), broken.log)
        XCTAssertTrue(broken.log.contains("warning: DNS not configured"), broken.log)
        let st = qcm(["status", "--run-dir", broken.root + "/run"]).output
        XCTAssertTrue(st.contains("warning:") && st.contains("ENOENT"), st)
        broken.signal(SIGTERM)
        XCTAssertEqual(broken.waitExit(), 0, broken.log)

        let rig = try DaemonRig(netns: true) { $0.neverAnswer.insert(SimConfig.key(WDS.StopNetwork.spec)) }
        try "nameserver 192.0.2.53\n".write(toFile: rig.resolvConf, atomically: true, encoding: .utf8)
        rig.start(["--dns", "file"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(backups(rig), ["resolv.conf.backup"])
        rig.signal(SIGTERM)
        usleep(700_000)                                     // the modem does not confirm the stop
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 1, rig.log)
        XCTAssertTrue(rig.log.contains("second SIGTERM: giving up the clean teardown"), rig.log)
        XCTAssertEqual(read(rig.resolvConf), "nameserver 192.0.2.53\n")
        XCTAssertEqual(backups(rig), [], "no backup survives a second signal")
    }
}
