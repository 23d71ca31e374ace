import Foundation
import XCTest
import Base
import CSystem
import QMICore
import QMISim
import TestSupport
@testable import QCM

/// Several qcm on one machine: their files in one run directory, their locks, which one
/// `qcm status` and `qcm -k` mean.
final class InstancesTests: XCTestCase {
    /// Two modems, each with its qcm serving PDN 1, one run directory: each has its own
    /// status, pid and lock files (named after its channel); `qcm status` shows both;
    /// `qcm -k 1` names both and asks which; `--device` says which, and the other is untouched.
    func testTwoModemsKeepApart() throws {
        let a = try DaemonRig()
        let b = try DaemonRig()
        let run = a.root + "/shared-run"
        // The second modem's channel is cdc-wdm1 (and no sysfs: --device names it).
        let b1 = b.root + "/dev/cdc-wdm1"
        XCTAssertEqual(rename(b.root + "/dev/cdc-wdm0", b1), 0)
        a.start(["--run-dir", run])
        b.start(["--run-dir", run, "--sysfs-root", b.root + "/none", "--device", b1])
        XCTAssertTrue(a.waitLog("] connected"), a.log)
        XCTAssertTrue(b.waitLog("] connected"), b.log)
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: run)) ?? []).filter { $0.hasSuffix(".status") || $0.hasSuffix(".pid") }
        XCTAssertEqual(files, ["qcm-cdc-wdm0-pdn1.status", "qcm-cdc-wdm0-pdn1.pid", "qcm-cdc-wdm1-pdn1.status", "qcm-cdc-wdm1-pdn1.pid"])
        let st = qcm(["status", "--run-dir", run])
        XCTAssertEqual(st.status, 0, st.output)
        XCTAssertTrue(st.output.contains("qcm pid \(a.pid!) PDN 1: connected") && st.output.contains("qcm pid \(b.pid!) PDN 1: connected"), st.output)

        let ambiguous = qcm(["-k", "1", "--run-dir", run])
        XCTAssertEqual(ambiguous.status, 2, ambiguous.output)
        XCTAssertTrue(ambiguous.output.contains("several qcm serve PDN 1: pid \(a.pid!) on \(a.root)/dev/cdc-wdm0 (wwan0), pid \(b.pid!) on \(b1); choose one with -i IFACE or --device PATH"), ambiguous.output)
        XCTAssertFalse(a.exited || b.exited)

        let k = qcm(["-k", "1", "--run-dir", run, "--device", b1])
        XCTAssertEqual(k.status, 0, k.output)
        XCTAssertEqual(b.waitExit(), 0, b.log)
        XCTAssertFalse(a.exited, "the other modem's qcm goes on")
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/qcm-cdc-wdm0-pdn1.status"), "and keeps its files")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/qcm-cdc-wdm1-pdn1.status"))
        let byInterface = qcm(["-k", "1", "--run-dir", run, "-i", "wwan0"])
        XCTAssertEqual(byInterface.status, 0, byInterface.output)
        XCTAssertEqual(a.waitExit(), 0, a.log)
    }

    /// A status file that names no lock is not believed, even when its pid is a running qcm:
    /// `qcm -k` leaves that qcm alone.
    func testAStatusFileWithoutItsLockIsNotBelieved() throws {
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let run = rig.root + "/run"
        try "pid=\(rig.pid!)\npdn=5\nstate=connected\n".write(toFile: run + "/qcm-forged-pdn5.status", atomically: true, encoding: .utf8)
        let k = qcm(["-k", "5", "--run-dir", run])
        XCTAssertEqual(k.status, 1, k.output)
        XCTAssertTrue(k.output.contains("names pid \(rig.pid!), which is not a running qcm holding its lock: stale, not signalling it"), k.output)
        XCTAssertFalse(rig.exited)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    /// The lock-file discipline: a qcm that opened the lock file before its holder released
    /// (and unlinked) it gets an flock on a file no longer at the path — that is not the lock,
    /// and the next qcm to lock the path gets it.
    func testALockUnlinkedUnderAWaiterIsNotTheLock() throws {
        let dir = NSTemporaryDirectory() + "qcm-lock-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cdc-wdm0.lock"
        let holder = try XCTUnwrap(Instance.takeLock(path))
        XCTAssertNil(try Instance.takeLock(path), "held")
        let waiter = open(path, O_RDWR)                  // opened while the holder still has it
        defer { close(waiter) }
        unlink(path)                                     // the holder releases: unlink, then close
        close(holder)
        XCTAssertEqual(flock(waiter, LOCK_EX | LOCK_NB), 0, "the old file's flock is free")
        XCTAssertFalse(Instance.isLock(waiter, at: path), "but it is not the lock at the path")
        let next = try XCTUnwrap(Instance.takeLock(path), "the path's lock is free")
        XCTAssertTrue(Instance.isLock(next, at: path))
        close(next)
    }

    /// A run directory whose status socket path would not fit sun_path is refused up front,
    /// never bound under a name cut short.
    func testARunDirectoryTooLongForTheSocketIsRefused() {
        let long = "/tmp/" + String(repeating: "d", count: 100)
        let r = qcm(["--run-dir", long, "-s", "cmnet"])
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("--run-dir: \(long) is too long for the status socket in it (\(long.utf8.count + 17) bytes with the socket's name, at most 107): choose a shorter directory"), r.output)
        XCTAssertEqual(csys_unix_listen(long + "/qcm-1.sock", 1), -1)
        XCTAssertEqual(errno, ENAMETOOLONG, "the shim refuses such a name instead of cutting it short")
    }
}
