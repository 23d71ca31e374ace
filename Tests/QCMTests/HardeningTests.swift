import Foundation
import XCTest
import Base
import CSystem
import QMICore
import QMIMessages
import QMISim
import TestSupport

/// What field deployments do to qcm in their first week: containers, planted files,
/// stale pid files, hostile input.
final class HardeningTests: XCTestCase {
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

    /// Symlinks planted in the run directory are replaced, never followed; a lock file that
    /// is a symlink is refused; a run directory others can write to is refused.
    func testRunDirectoryCannotBeUsedToOverwriteFiles() throws {
        let rig = try DaemonRig()
        let run = rig.root + "/run"
        let victim = rig.root + "/victim"
        try "precious\n".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: run + "/qcm-pdn1.pid", withDestinationPath: victim)
        try FileManager.default.createSymbolicLink(atPath: run + "/qcm-pdn1.status", withDestinationPath: victim)
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(read(victim), "precious\n", "pid and status files do not write through symlinks")
        XCTAssertEqual(read(run + "/qcm-pdn1.pid"), "\(rig.pid!)\n")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
        XCTAssertEqual(read(victim), "precious\n")

        try FileManager.default.createSymbolicLink(atPath: run + "/cdc-wdm0.lock", withDestinationPath: victim)
        rig.start([])
        XCTAssertEqual(rig.waitExit(), 9, rig.log)
        XCTAssertTrue(rig.log.contains("cannot open lock file \(run)/cdc-wdm0.lock: ELOOP"), rig.log)
        XCTAssertEqual(read(victim), "precious\n")
        try FileManager.default.removeItem(atPath: run + "/cdc-wdm0.lock")

        chmod(run, 0o777)
        rig.start([])
        XCTAssertEqual(rig.waitExit(), 9, rig.log)
        XCTAssertTrue(rig.log.contains("run directory \(run) is writable by other users; refusing to use it"), rig.log)
        chmod(run, 0o1777)                                   // sticky and ours, like /tmp: fine
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
    }

    /// `qcm -k N` signals only a qcm that holds the lock its status file names.
    func testKillNeverSignalsAnUnrelatedProcess() throws {
        let run = NSTemporaryDirectory() + "qcm-kill-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: run) }
        guard let sleeper = Subprocess.start(["sleep", "30"]) else { return XCTFail("cannot start sleep") }
        defer { _ = kill(sleeper, SIGKILL); _ = Subprocess.wait(sleeper) }
        try "pid=\(sleeper)\npdn=3\nstate=connected\nlock=\(run)/cdc-wdm0.lock.pdn3\n".write(toFile: run + "/qcm-pdn3.status", atomically: true, encoding: .utf8)
        let k = qcm(["-k", "3", "--run-dir", run])
        XCTAssertEqual(k.status, 1, k.output)
        XCTAssertTrue(k.output.contains("names pid \(sleeper), which is not a running qcm holding its lock: stale, not signalling it"), k.output)
        XCTAssertEqual(kill(sleeper, 0), 0, "the unrelated process is alive")
        let st = qcm(["status", "--run-dir", run])
        XCTAssertEqual(st.status, 3, st.output)
        XCTAssertTrue(st.output.contains("PDN 3: not running (stale status file"), st.output)
    }

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
