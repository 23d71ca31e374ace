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

/// Faults of the modem and of the session, at the daemon level against the simulator.
final class SessionHardeningTests: XCTestCase {
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

    /// Restart after kill -9: the addresses and routes the killed qcm applied are removed
    /// before the new plan goes on, and so is what something else configured there (an
    /// earlier quectel-CM, a script, a test by hand): wwan0 is qcm's while it runs. The
    /// interface ends with exactly the new configuration, each removal logged, and nothing
    /// survives the new instance's clean exit.
    func testKilledInstanceLeavesNoAddressesBehind() throws {
        guard isRoot else { throw XCTSkip("needs root: a TUN wwan0 in a namespace") }
        let rig = try DaemonRig(netns: true)
        let ns = rig.ns!.name
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.signal(SIGKILL)
        _ = rig.waitExit()
        XCTAssertEqual(ipAddresses(ns, "wwan0"), ["10.90.1.113/30"], "kill -9 leaves the configuration")
        // Something else's address and route are there too; the next lease differs.
        XCTAssertEqual(shell(["ip", "-n", ns, "addr", "add", "192.0.2.9/24", "dev", "wwan0"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns, "route", "add", "198.51.100.0/24", "dev", "wwan0"]).status, 0)
        rig.sim.withState { $0.config.ipv4Address = 0x0a5a_0175 }       // 10.90.1.117
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("wwan0: removed 10.90.1.113/30, left by a qcm that was killed"), rig.log)
        XCTAssertTrue(rig.log.contains("wwan0: removed 192.0.2.9/24, which qcm did not add: the interface is qcm's while it runs"), rig.log)
        XCTAssertTrue(rig.log.contains("wwan0: removed route to 198.51.100.0/24, which qcm did not add"), rig.log)
        XCTAssertEqual(ipAddresses(ns, "wwan0"), ["10.90.1.117/30"])
        XCTAssertFalse(shell(["ip", "-n", ns, "route", "show", "dev", "wwan0"]).output.contains("198.51.100.0"))
        XCTAssertEqual(ipDefaultRoutes(ns, "-4"), ["wwan0 via - metric 0"])
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(ipAddresses(ns, "wwan0"), [], "qcm's addresses gone")
        XCTAssertEqual(ipDefaultRoutes(ns, "-4"), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: rig.root + "/run/link-wwan0.state"))
    }

    /// -n N for a profile the modem does not have: created, and said so.
    func testMissingProfileIsCreated() throws {
        let rig = try DaemonRig()
        rig.start(["-n", "6", "-s", "ims", "--auth", "pap"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("requestGetProfile[6]: profile 6 does not exist"), rig.log)
        XCTAssertTrue(rig.log.contains("requestCreateProfile[6] ims///1: profile 6 does not exist; creating it"), rig.log)
        XCTAssertTrue(rig.log.contains("requestCreateProfile: the modem created profile 5 (asked for 6); dialing with profile 5"), rig.log)
        XCTAssertEqual(rig.sim.profile(5)?.apn, "ims")
        XCTAssertEqual(rig.sim.transcript.requests(WDS.StartNetwork.spec).last.flatMap { WDS.StartNetwork.Request($0).profileIndex3GPP }, 5)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
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

    /// The modem stops answering WDS until it is reset: qcm goes through Sync, reopening the
    /// channel, radio off/on and a reset, each logged, and is connected again after the reset.
    func testEscalatingRecovery() throws {
        let rig = try DaemonRig()
        rig.wrapper = ["env", "QCM_QMI_TIMEOUT_MS=400"]
        rig.start(["--stable-after", "0"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.sim.hang(.wds)
        rig.sim.dropCalls()
        for step in ["resynchronising the QMI channel (CTL Sync)", "reopening the QMI channel",
                     "turning the radio off and on (DMS Set Operating Mode low-power, then online)",
                     "resetting the modem (DMS Set Operating Mode reset)"] {
            XCTAssertTrue(rig.waitLog(step, timeout: 30), "\(step):\n\(rig.log)")
        }
        XCTAssertTrue(rig.waitCount("] connected", 2, timeout: 30), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }
}
