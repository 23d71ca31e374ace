import Foundation
import XCTest
import Base
import CSystem
import QMISim
import TestSupport

/// scripts/qcm.service trusts qcm with two capabilities and a read-only file system but for
/// its run directory: the full simulated dial must work inside exactly that (setpriv and a
/// private mount namespace stand in for systemd, which need not run here).
final class SandboxTests: XCTestCase {
    /// The unit's restrictions, as a command prefix: every mount read-only but the run
    /// directory (and the kernel's /proc, /sys and /dev), then only CAP_NET_ADMIN and
    /// CAP_NET_RAW in the bounding set, no new privileges.
    func sandbox(runDir: String) -> [String] {
        let script = """
            set -e
            mount --make-rprivate /
            for m in $(awk '{print $5}' /proc/self/mountinfo | sort -r); do
                case "$m" in /proc*|/sys*|/dev*) continue ;; esac
                mount -o remount,bind,ro "$m" 2>/dev/null || true
            done
            mount --bind "\(runDir)" "\(runDir)"
            mount -o remount,bind,rw "\(runDir)"
            exec setpriv --bounding-set -all,+net_admin,+net_raw --inh-caps -all --no-new-privs "$@"
            """
        return ["unshare", "--mount", "--", "sh", "-c", script, "sandbox"]
    }

    /// The unit file's capability bounding set is the one the sandbox applies.
    func testTheUnitSaysWhatTheSandboxDoes() throws {
        let unit = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/qcm.service").standardized.path, encoding: .utf8)
        XCTAssertTrue(unit.contains("CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW\n"))
        XCTAssertTrue(unit.contains("ProtectSystem=strict\n"))
        XCTAssertTrue(unit.contains("ReadWritePaths=/run/qcm -/etc/resolv.conf\n"))
        XCTAssertTrue(unit.contains("NoNewPrivileges=yes\n"))
    }

    /// QMI with QMAP (qmi_wwan_q, two PDNs), the link and a ping, inside the sandbox.
    func testQMAPDialInTheSandbox() throws {
        guard isRoot else { throw XCTSkip("needs root: namespaces, setpriv") }
        let rig = try DaemonRig(netns: true, qmap: 2)
        rig.wrapper = sandbox(runDir: rig.root + "/run")
        rig.start(["-n", "1", "-s", "cmnet", "-n", "2", "-s", "internet2"])
        XCTAssertTrue(rig.waitCount("connected", 2), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114", from: "wwan0_1").status, 0, rig.log)
        let caps = shell(["grep", "CapBnd", "/proc/\(rig.pid ?? 0)/status"]).output
        XCTAssertTrue(caps.contains("0000000000003000"), "qcm ran with CAP_NET_ADMIN and CAP_NET_RAW only: \(caps)")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean }, rig.log)
    }

    /// The AT path (UNISOC module on a pty, DHCP over the TAP), inside the sandbox.
    func testATDialInTheSandbox() throws {
        guard isRoot else { throw XCTSkip("needs root: namespaces, setpriv, a TAP") }
        let rig = try DaemonRig(netns: true, at: .quick(.ec200u))
        rig.wrapper = sandbox(runDir: rig.root + "/run")
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.ping("10.25.16.65", from: "usb0").status, 0, rig.log)
        XCTAssertTrue(shell(["grep", "CapBnd", "/proc/\(rig.pid ?? 0)/status"]).output.contains("0000000000003000"))
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(rig.atSim?.isClean, true)
    }

    /// The sandbox holds: a write outside the run directory is refused, and a capability
    /// outside the set is not there.
    func testTheSandboxHolds() throws {
        guard isRoot else { throw XCTSkip("needs root: namespaces, setpriv") }
        let dir = NSTemporaryDirectory() + "qcm-sandbox-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inside = shell(sandbox(runDir: dir + "/run") + ["sh", "-c", "touch \(dir)/run/ok && ! touch \(dir)/nope 2>/dev/null && grep CapBnd /proc/self/status"])
        XCTAssertEqual(inside.status, 0, inside.output)
        XCTAssertTrue(inside.output.contains("0000000000003000"), "CAP_NET_ADMIN (12) and CAP_NET_RAW (13) only: \(inside.output)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run/ok"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/nope"))
    }
}
