import Foundation
import XCTest
import Base
import CSystem
import QMICore
import QMIMessages
import QMISim
import TestSupport

/// What other local users can see and do to a qcm running as root: take a proxy's name
/// first, read its status, crowd its status socket, make it query the modem, stop it. The
/// parts that are another user run as such (setpriv), so these tests need root.
final class LocalUsersTests: XCTestCase {
    let nobody = 65534

    /// Binds libqmi's `@qmi-proxy` (or libmbim's `@mbim-proxy`) first, as `nobody`, in a
    /// namespace of its own (abstract socket names are per network namespace): root's
    /// `qcm -p qmi-proxy` must refuse it before it sends anything — no PIN, no password, no
    /// request whose answer would configure the link.
    func testAProxyNameTakenByAnotherUserIsRefused() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace, and a simulator run as nobody") }
        for mbim in [false, true] {
            let ns = try TestNamespace("qcm-proxy")
            let dir = NSTemporaryDirectory() + "qcm-impostor-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let bin = try OtherUser.binaries(in: dir)
            chmod(dir, 0o777)
            let frames = dir + "/frames"
            let impostor = Subprocess.start(["ip", "netns", "exec", ns.name] + OtherUser.prefix(nobody)
                                            + [bin + "/qmi-sim", "--root", dir + "/sim", "--proxy", "--transcript", frames,
                                               "--ready-file", dir + "/ready"] + (mbim ? ["--mbim"] : []),
                                            outputFD: Subprocess.devNull)!
            var stopped = false
            defer { if !stopped { Subprocess.stop(impostor) } }
            XCTAssertTrue(waitFor { FileManager.default.fileExists(atPath: dir + "/ready") }, "the impostor listens")
            let r = shell(["ip", "netns", "exec", ns.name, productPath("qcm"), "-p", mbim ? "mbim-proxy" : "qmi-proxy", "-p", "1234",
                           "-s", "internet", "carl", "secret", "--device", "/dev/cdc-wdm0", "--sysfs-root", dir + "/none",
                           "--run-dir", dir + "/run", "--no-link", "--dns", "none"])
            XCTAssertEqual(r.status, 9, r.output)
            let name = mbim ? "@mbim-proxy" : "@qmi-proxy"
            XCTAssertTrue(r.output.contains("abstract socket \(name) is served by pid \(impostor) running as uid \(nobody), neither root nor qcm's user (uid 0): another user may have taken its name; refusing to use it"), r.output)
            XCTAssertTrue(r.output.contains("Nothing was sent to it: no PIN, no password"), r.output)
            Subprocess.stop(impostor)                     // its transcript is complete once it exits
            stopped = true
            let seen = (try? String(contentsOfFile: frames, encoding: .utf8)) ?? "<no transcript>"
            XCTAssertEqual(seen, "", "the impostor received nothing")
        }
    }

    /// What any local user may read stays readable (state, address, operator, signal); the
    /// IMSI, ICCID and IMEI are for root: not in the 0644 status file, not on the socket for
    /// other users. Other users' `qcm status` and `qcm -k` see the running root qcm as
    /// running (not "stale"), and `-k` says it cannot stop it and why.
    func testOtherUsersSeeTheConnectionButNotTheIdentifiers() throws {
        guard isRoot else { throw XCTSkip("needs root: parts run as nobody (setpriv)") }
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(waitFor { rig.statusValue("iccid") != nil }, rig.statusText() ?? "")
        let status = try String(contentsOfFile: rig.runFile("status"), encoding: .utf8)
        for key in ["imsi=", "iccid=", "imei="] { XCTAssertFalse(status.contains(key), "\(key) in the public file: \(status)") }
        XCTAssertTrue(status.contains("\nstate=connected"), status)
        XCTAssertEqual(mode(rig.runFile("status")), 0o644)
        XCTAssertEqual(mode(rig.runFile("private")), 0o600)
        XCTAssertEqual(rig.statusValue("imsi"), "460011234567890")

        let bin = try OtherUser.binaries(in: rig.root)
        let run = rig.root + "/run"
        let theirs = json(shell(OtherUser.prefix(nobody) + [bin + "/qcm", "status", "--json", "--run-dir", run]).output)
        XCTAssertEqual(theirs["running"] as? Bool, true, "\(theirs)")
        XCTAssertEqual(theirs["operator"] as? String, "CHN-UNICOM")
        XCTAssertTrue((theirs["state"] as? String)?.hasPrefix("connected") == true, "\(theirs)")
        XCTAssertNotNil(theirs["rx_bytes"] as? Int, "the socket answers other users too: \(theirs)")
        for key in ["imsi", "iccid", "imei"] { XCTAssertTrue(theirs[key] is NSNull, "\(key) shown to nobody: \(theirs)") }
        let mine = json(qcm(["status", "--json", "--run-dir", run]).output)
        XCTAssertEqual(mine["imsi"] as? String, "460011234567890")
        XCTAssertEqual(mine["imei"] as? String, "867394041355693")

        let text = shell(OtherUser.prefix(nobody) + [bin + "/qcm", "status", "--run-dir", run])
        XCTAssertEqual(text.status, 0, text.output)
        XCTAssertTrue(text.output.contains("PDN 1: connected"), text.output)
        XCTAssertFalse(text.output.contains("IMSI"), text.output)

        let k = shell(OtherUser.prefix(nobody) + [bin + "/qcm", "-k", "1", "--run-dir", run])
        XCTAssertEqual(k.status, 9, k.output)
        XCTAssertTrue(k.output.contains("cannot signal qcm pid \(rig.pid!): EPERM (Operation not permitted) (it runs as another user: run qcm -k as root)"), k.output)
        XCTAssertFalse(rig.exited)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: rig.runFile("private")), "the identifiers go with the status")
    }

    /// Other users share 6 of the status socket's 8 places, 2 each: however many they hold,
    /// root still gets its answer, and a client without a place is told so — no client dies
    /// of SIGPIPE or hangs.
    func testOtherUsersCannotCrowdOutRoot() throws {
        guard isRoot else { throw XCTSkip("needs root: clients run as other users (setpriv)") }
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let bin = try OtherUser.binaries(in: rig.root)
        let run = rig.root + "/run"
        // Four users try two watchers each: the first three get two places each, the fourth
        // finds every place other users may take taken.
        var watchers: [(pid: pid_t, out: String)] = []
        for (i, uid) in [60001, 60002, 60003, 60004].enumerated() {
            for j in 0..<2 {
                let out = rig.root + "/watch-\(i)-\(j)"
                let fd = csys_open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                watchers.append((Subprocess.start(OtherUser.prefix(uid) + [bin + "/qcm", "status", "--watch", "--run-dir", run], outputFD: fd)!, out))
                close(fd)
                XCTAssertTrue(waitFor { !((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").isEmpty }, "watcher \(i)-\(j)")
            }
        }
        defer { for w in watchers { _ = kill(w.pid, SIGKILL); _ = Subprocess.wait(w.pid) } }
        let outputs = watchers.map { (try? String(contentsOfFile: $0.out, encoding: .utf8)) ?? "" }
        XCTAssertEqual(outputs.filter { $0.contains("connected") }.count, 6, "\(outputs)")
        XCTAssertEqual(outputs.filter { $0.contains("has no room for another status client") }.count, 2, "\(outputs)")
        // Every place other users may take is taken: root's status still answers, in full.
        let mine = qcm(["status", "--run-dir", run])
        XCTAssertEqual(mine.status, 0, mine.output)
        XCTAssertTrue(mine.output.contains("traffic:"), "the socket answered root: \(mine.output)")
        // Another user's status: the file's content and a word that the daemon is busy — not exit 141.
        let theirs = shell(OtherUser.prefix(nobody) + [bin + "/qcm", "status", "--run-dir", run])
        XCTAssertEqual(theirs.status, 0, theirs.output)
        XCTAssertTrue(theirs.output.contains("PDN 1: connected"), theirs.output)
        XCTAssertTrue(theirs.output.contains("is busy answering other status clients"), theirs.output)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    /// However often anyone asks, the modem is asked for counters and band at most once per
    /// 2 s: the answers in between come from the last one.
    func testStatusQueriesDoNotDriveTheModem() throws {
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let before = rig.sim.transcript.count(WDS.GetPacketStatistics.spec)
        let start = Date()
        for _ in 0..<10 {
            let r = qcm(["status", "--run-dir", rig.root + "/run"])
            XCTAssertTrue(r.output.contains("traffic:"), r.output)
        }
        // At most one query per 2 s window the ten requests took, however long that was.
        let windows = Int(Date().timeIntervalSince(start) / 2) + 1
        let asked = rig.sim.transcript.count(WDS.GetPacketStatistics.spec) - before
        XCTAssertGreaterThanOrEqual(asked, 1)
        XCTAssertLessThanOrEqual(asked, windows, "ten status requests in \(windows) window(s) of 2 s: \(asked) modem queries")
        XCTAssertLessThan(asked, 10)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    /// The one object of a `qcm status --json` array.
    func json(_ text: String) -> [String: Any] {
        guard let data = text.data(using: .utf8), let a = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]],
              let first = a.first else { return [:] }
        return first
    }
}

/// Running qcm and qmi-sim as another user: copies in a directory every user may enter
/// (the build tree may be under one only root can), started through setpriv.
enum OtherUser {
    /// Copies qcm and qmi-sim into `dir`/bin; returns that directory.
    static func binaries(in dir: String) throws -> String {
        let bin = dir + "/bin"
        if FileManager.default.fileExists(atPath: bin + "/qcm") { return bin }
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for name in ["qcm", "qmi-sim"] {
            try FileManager.default.copyItem(atPath: productPath(name), toPath: bin + "/" + name)
            chmod(bin + "/" + name, 0o755)
        }
        chmod(bin, 0o755)
        chmod(dir, 0o755)
        return bin
    }

    /// The command prefix that runs what follows as `uid` (group `uid`, no others).
    static func prefix(_ uid: Int) -> [String] { ["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] }
}

/// Polls `condition` for up to `timeout` seconds.
func waitFor(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
