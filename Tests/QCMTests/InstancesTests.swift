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
    /// (and unlinked) it locks a file no longer at the path — that is not the lock: it locks
    /// again, the file the path names now. And the lock file is 0600 (nobody else can open it
    /// to hold a lock on it); `qcm status` tests the lock without taking it.
    func testALockUnlinkedUnderAWaiterIsNotTheLock() throws {
        let dir = NSTemporaryDirectory() + "qcm-lock-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cdc-wdm0.lock"
        let holder = try XCTUnwrap(Instance.takeLock(path))
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertNil(try Instance.takeLock(path), "held")
        XCTAssertEqual(Instance.lockHeld(path, by: getpid()), true, "seen held, without taking it")
        XCTAssertNil(try Instance.takeLock(path), "still held: the test took nothing")
        // The race: our open(2) happens while the holder has the lock; before we lock, the
        // holder releases it (unlink, then close) and a third qcm locks the new file.
        var opens = 0
        var third: Int32 = -1
        let fd = try XCTUnwrap(Instance.takeLock(path, open: { p in
            opens += 1
            let fd = csys_open(p, O_RDWR | O_CREAT | O_NOFOLLOW, 0o600)
            if opens == 1 {
                unlink(p)
                close(holder)
                third = (try? Instance.takeLock(p)) ?? -1
                close(third)                              // the third one is done with it too
            }
            return fd
        }))
        defer { close(fd) }
        XCTAssertGreaterThanOrEqual(third, 0)
        XCTAssertEqual(opens, 2, "the first file was not the one at the path any more: opened and locked again")
        XCTAssertTrue(Instance.isLock(fd, at: path))
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
        // The boundary: 90 bytes leave room for qcm-4194304.sock in 107, 91 do not.
        let fits = "/tmp/" + String(repeating: "e", count: 85), over = fits + "e"
        XCTAssertNil(StatusServer.longestPathProblem(runDir: fits))
        XCTAssertNotNil(StatusServer.longestPathProblem(runDir: over))
    }

    /// Who gets a place on the status socket: other users share all but two of the eight, two
    /// each; root and qcm's user may take every one.
    func testStatusSocketPlaces() {
        typealias C = (trusted: Bool, uid: UInt32?)
        let six: [C] = [(false, 1), (false, 1), (false, 2), (false, 2), (false, 3), (false, 3)]
        XCTAssertFalse(StatusServer.admits(trusted: false, uid: 4, among: six), "other users have 6 of 8")
        XCTAssertTrue(StatusServer.admits(trusted: true, uid: 0, among: six), "root has the rest")
        XCTAssertFalse(StatusServer.admits(trusted: false, uid: 1, among: [(false, 1), (false, 1)]), "two per user")
        XCTAssertTrue(StatusServer.admits(trusted: false, uid: 2, among: [(false, 1), (false, 1)]))
        let full: [C] = six + [(true, 0), (true, 0)]
        XCTAssertFalse(StatusServer.admits(trusted: true, uid: 0, among: full), "eight at most")
        XCTAssertTrue(StatusServer.admits(trusted: true, uid: 0, among: Array(repeating: (true, 0), count: 7)))
    }

    func read(_ p: String) -> String { (try? String(contentsOfFile: p, encoding: .utf8)) ?? "<absent>" }

    /// Symlinks planted in the run directory are replaced, never followed; a lock file that
    /// is a symlink is refused; a run directory others can write to is refused.
    func testRunDirectoryCannotBeUsedToOverwriteFiles() throws {
        let rig = try DaemonRig()
        let run = rig.root + "/run"
        let victim = rig.root + "/victim"
        try "precious\n".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: rig.runFile("pid"), withDestinationPath: victim)
        try FileManager.default.createSymbolicLink(atPath: rig.runFile("status"), withDestinationPath: victim)
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(read(victim), "precious\n", "pid and status files do not write through symlinks")
        XCTAssertEqual(read(rig.runFile("pid")), "\(rig.pid!)\n")
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
        try "pid=\(sleeper)\npdn=3\nstate=connected\nlock=\(run)/cdc-wdm0.lock.pdn3\n".write(toFile: run + "/qcm-cdc-wdm0-pdn3.status", atomically: true, encoding: .utf8)
        let k = qcm(["-k", "3", "--run-dir", run])
        XCTAssertEqual(k.status, 1, k.output)
        XCTAssertTrue(k.output.contains("names pid \(sleeper), which is not a running qcm holding its lock: stale, not signalling it"), k.output)
        XCTAssertEqual(kill(sleeper, 0), 0, "the unrelated process is alive")
        let st = qcm(["status", "--run-dir", run])
        XCTAssertEqual(st.status, 3, st.output)
        XCTAssertTrue(st.output.contains("PDN 3: not running (stale status file"), st.output)
    }
}
