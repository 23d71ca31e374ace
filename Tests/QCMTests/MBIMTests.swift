import Foundation
import XCTest
import Base
import CSystem
import MBIMCore
import QMISim
import TestSupport
@testable import QCM

/// Modules in MBIM mode (cdc_mbim), dialed end to end against the MBIM simulator.
final class MBIMTests: XCTestCase {
    func clean(_ rig: DaemonRig) -> Bool {
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            if rig.mbimSim?.isClean == true { return true }
            usleep(20_000)
        }
        return false
    }

    func testDialPingDropAndTeardown() throws {
        guard isRoot else { throw XCTSkip("needs root: the TAP netdev in a network namespace") }
        let rig = try DaemonRig(netns: true, mbim: MBIMSimulator.Config())
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("MBIM mode: dialing with MBIM Basic Connect"), rig.log)
        XCTAssertTrue(rig.log.contains("MBIM device: RM500Q-GL, firmware RM500QGLABR11A06M4G"), rig.log)
        XCTAssertTrue(rig.log.contains("requestSetupDataCall MBIM session 0 activated (ipv4)"), rig.log)
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0"), ["10.90.1.113/30"])
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, "through cdc_mbim's fake Ethernet")
        XCTAssertEqual(rig.mbimSim?.echoesAnswered, 1)
        // The network ends the session: link down, redial, up again.
        rig.mbimSim?.dropSession()
        XCTAssertTrue(rig.waitLog("the network ended the session (network error regular-deactivation, 36)"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig), "session deactivated and the device closed")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0"), [])
        let names = rig.mbimSim?.requestNames ?? []
        XCTAssertEqual(names.last, "CLOSE")
        XCTAssertTrue(names.contains("basic-connect RADIO_STATE set") && names.contains("basic-connect PACKET_SERVICE set"), "\(names)")
    }

    /// IPv6 over cdc_mbim, dual stack: the address from IP_CONFIGURATION, the network's Router
    /// Advertisement taken without a fight (no second default route, no address of the
    /// kernel's), pings to the IPv6 gateway and beyond.
    func testDualStackOverCdcMbim() throws {
        guard isRoot else { throw XCTSkip("needs root: the TAP netdev in a network namespace") }
        let rig = try DaemonRig(netns: true, mbim: MBIMSimulator.Config())
        rig.start(["-s", "cmnet", "-4", "-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("requestSetupDataCall MBIM session 0 activated (ipv4v6)"), rig.log)
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0").sorted(), ["10.90.1.113/30", "2409:8930:463:3daa:7c8e:429a:c902:c6cc/64"])
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0)
        for address in ["2409:8930:463:3daa:7c8e:429a:c902:c6cd", "2001:db8:ffff::1"] {
            let p = rig.ping(address)
            XCTAssertEqual(p.status, 0, "\(address): \(p.output)")
        }
        XCTAssertEqual(rig.mbimSim?.echoesAnswered, 3)
        // The kernel solicited and got the network's RA on the configured link; it still has
        // one default route, qcm's, and no address of its own making.
        XCTAssertTrue(waitFor { (rig.mbimSim?.routerSolicitations ?? 0) >= 1 }, "the kernel never solicited the network's RA")
        usleep(300_000)
        let routes = shell(["ip", "-n", rig.ns!.name, "-6", "route", "show", "default"]).output
        XCTAssertEqual(routes.split(separator: "\n").count, 1, routes)
        XCTAssertFalse(routes.contains("via fe80"), routes)
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0").count, 2, "no address of the kernel's from the RA")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig), "session deactivated and the device closed")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0"), [])
    }

    func testRefusalsAndASilentModemEndCleanly() throws {
        var refusing = MBIMSimulator.Config()
        refusing.rejectConnect = (18, 27)
        let rig = try DaemonRig(mbim: refusing)
        rig.start(["-s", "nosuch", "--max-retries", "2"])
        XCTAssertEqual(rig.waitExit(timeout: 20), 6, rig.log)
        XCTAssertTrue(rig.log.contains("CONNECT: status InvalidAccessString (18), network error missing-or-unknown-apn (27)"), rig.log)
        XCTAssertTrue(clean(rig))

        var silent = MBIMSimulator.Config()
        silent.neverOpen = true
        let quiet = try DaemonRig(mbim: silent)
        quiet.wrapper = ["env", "QCM_QMI_TIMEOUT_MS=300"]
        quiet.start(["-s", "cmnet"])
        XCTAssertEqual(quiet.waitExit(timeout: 20), 5, quiet.log)
        XCTAssertTrue(quiet.log.contains("no answer to MBIM OPEN (attempt 1 of 5); trying again"), quiet.log)
        XCTAssertTrue(quiet.log.contains("the modem does not open its MBIM function"), quiet.log)

        let two = try DaemonRig(mbim: MBIMSimulator.Config())
        two.start(["-n", "1", "-n", "2"])
        XCTAssertEqual(two.waitExit(), 3, two.log)
        XCTAssertTrue(two.log.contains("need cdc_mbim's VLAN links"), two.log)

        // No APN: refused as quectel-CM refuses it, before the device is opened.
        two.start([])
        XCTAssertEqual(two.waitExit(), 2, two.log)
        XCTAssertTrue(two.log.contains("MBIM needs the APN: give it with -s APN"), two.log)
        XCTAssertEqual(two.mbimSim?.requestNames, [])
    }

    /// A peer that answers OPEN with an endless stream of 64 KB INDICATE_STATUS fragments,
    /// each announcing 4,294,967,295 in all (and, between them, messages of 16 fragments too
    /// large together): qcm holds none of it, logs a few lines and then stops logging, keeps
    /// its OPEN timeouts running and stops on SIGTERM as usual.
    func testAFragmentFloodIsBoundedAndSIGTERMStillWorks() throws {
        let rig = try DaemonRig(mbim: MBIMSimulator.Config())
        rig.mbimSim?.shutdown()
        let path = FakeHardware.socketPath(root: rig.root)
        let listener = csys_unix_listen(path, 1)
        XCTAssertGreaterThanOrEqual(listener, 0)
        let flooding = Flag()
        let done = Flag()
        let flood = Thread {
            defer { done.value = true }
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 15_000) == 1 else { return }
            let fd = accept(listener, nil, nil)             // blocking, unlike the listener
            guard fd >= 0 else { return }
            defer { close(fd) }
            var open = [UInt8](repeating: 0, count: 64)
            _ = read(fd, &open, 64)                       // OPEN, never answered
            flooding.value = true
            var tid: UInt32 = 1
            while true {
                for (total, count) in [(UInt32.max, 64), (16, 16)] {
                    for i in 0..<count {
                        var f = [UInt8]()
                        for v in [UInt32(0x8000_0007), UInt32(65536), tid, total, UInt32(i)] {
                            f += withUnsafeBytes(of: v.littleEndian) { Array($0) }
                        }
                        f += [UInt8](repeating: 0x41, count: 65536 - 20)
                        if send(fd, f, f.count, Int32(MSG_NOSIGNAL)) < 0 { return }
                    }
                    tid += 1
                }
            }
        }
        flood.start()
        rig.wrapper = ["env", "QCM_QMI_TIMEOUT_MS=300"]
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(waitFor { flooding.value }, rig.log)
        XCTAssertTrue(rig.waitLog("no answer to MBIM OPEN (attempt 1 of 5); trying again"), "timers fire during the flood: \(rig.log)")
        let rss = (try? String(contentsOfFile: "/proc/\(rig.pid!)/status", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        XCTAssertLessThan(rss, 100_000, "kB resident while flooded")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(timeout: 5), 0, rig.log)
        XCTAssertTrue(rig.log.contains("more than 32 fragments announced"), rig.log)
        XCTAssertTrue(rig.log.contains("more ignored MBIM input is not logged until a valid message arrives"), rig.log)
        XCTAssertLessThan(rig.log.components(separatedBy: "ignored").count, 40, "the log does not grow with the flood")
        close(listener)
        XCTAssertTrue(waitFor { done.value })
    }

    func testPINRulesAndSecretsInTheTrace() throws {
        var locked = MBIMSimulator.Config()
        locked.sim = .pinRequired
        locked.pin = "9753"                 // digits no simulated identity (IMSI, ICCID, IMEI) contains
        let rig = try DaemonRig(mbim: locked)
        rig.start(["-v", "-p", "9753", "-s", "auth.example", "user", "pass", "pap"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("SIM PIN verified"), rig.log)
        XCTAssertTrue(rig.log.contains("basic-connect CONNECT set: SessionId=0 ActivationCommand=activate AccessString='auth.example' UserName='user' Password='***'"), rig.log)
        XCTAssertFalse(rig.log.contains("70 00 61 00 73 00 73 00"), "the password is masked in the hex too")
        XCTAssertFalse(rig.log.contains("39 00 37 00 35 00 33 00"), "and the PIN")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)

        // A wrong PIN is tried once, never again; one attempt left is never tried.
        var wrong = MBIMSimulator.Config()
        wrong.sim = .pinRequired
        wrong.pin = "9999"
        let w = try DaemonRig(mbim: wrong)
        w.start(["-p", "1234", "-s", "cmnet"])
        XCTAssertEqual(w.waitExit(), 4, w.log)
        XCTAssertEqual(w.mbimSim?.requestNames.filter { $0 == "basic-connect PIN set" }.count, 1)
        var last = MBIMSimulator.Config()
        last.sim = .pinRequired
        last.pinAttempts = 1
        let l = try DaemonRig(mbim: last)
        l.start(["-p", "1234", "-s", "cmnet"])
        XCTAssertEqual(l.waitExit(), 4, l.log)
        XCTAssertTrue(l.log.contains("only 1 PIN attempt left"), l.log)
        XCTAssertEqual(l.mbimSim?.requestNames.filter { $0 == "basic-connect PIN set" }.count, 0)
    }

    func testThroughMbimProxy() throws {
        guard isRoot else { throw XCTSkip("needs root: a private network namespace for @mbim-proxy") }
        let rig = try DaemonRig(mbim: MBIMSimulator.Config())
        let ns = try TestNamespace("qcm-mbimproxy")
        try ns.inside { try rig.mbimSim!.listen("@mbim-proxy", proxy: true) }
        let fd = csys_open(rig.logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        rig.pid = Subprocess.start(["ip", "netns", "exec", ns.name, productPath("qcm")] + rig.baseArgs + ["-p", "mbim-proxy", "-s", "cmnet"], outputFD: fd)
        close(fd)
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.mbimSim?.requestNames.first == "proxy-control CONFIGURATION set", "\(rig.mbimSim?.requestNames ?? [])")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(rig.mbimSim?.sessionCount, 0)
    }

    /// qcm decode reads MBIM too: mbimcli --verbose dumps and qcm's own -v hex.
    func testDecodeReadsMBIM() {
        let dump = """
            [/dev/cdc-wdm0] Sent message...
            <<<<<< RAW:
            <<<<<<   length = 48
            <<<<<<   data   = 03:00:00:00:30:00:00:00:03:00:00:00:01:00:00:00:00:00:00:00:a2:89:cc:33:bc:bb:8b:4f:b6:b0:13:3e:c2:aa:e6:df:01:00:00:00:00:00:00:00:00:00:00:00
            [12-02_01:20:17:150] 01 00 00 00 10 00 00 00 02 00 00 00 00 10 00 00
            """
        let r = qcm(["decode"], stdin: dump)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("MBIM COMMAND tid 3 basic-connect DEVICE_CAPS query"), r.output)
        XCTAssertTrue(r.output.contains("MBIM OPEN tid 2 MaxControlTransfer=4096"), r.output)
    }

    /// The MBIM session's decisions: a `qcm status` waiting for PACKET_STATISTICS is answered
    /// when the channel goes.
    func testStatusQueriesEndWithTheSession() throws {
        let o = try Options.parse(["--no-link"])
        let f = DriverFacts(driver: "cdc_mbim", netdev: "wwan0", netdevs: ["wwan0"], addMux: false)
        var config = SessionConfig(options: o, channel: "/dev/cdc-wdm0", device: "/dev/cdc-wdm0", proxy: nil, netdev: "wwan0",
                                   rawIP: nil, rawIPSwitchable: false, driver: "cdc_mbim", timeouts: SessionConfig.Timeouts(),
                                   plan: try DataPlan.decide(f, pdns: o.pdns, choice: o.dataPath))
        config.mbim = true
        let m = MBIMSession(config)
        m.becameReady()
        m.call.phase = .connected
        let asked = m.handle(.statusQuery(5), now: 1000)
        XCTAssertTrue(asked.contains { if case .sendMBIM(.statistics(query: 5), _, _) = $0 { return true }; return false })
        XCTAssertFalse(asked.contains { if case .statusReply = $0 { return true }; return false })
        let lost = m.handle(.channelClosed(.gone("USB reset")), now: 1200)
        XCTAssertTrue(lost.contains { if case .statusReply(5, _) = $0 { return true }; return false }, "\(lost)")
        XCTAssertTrue(m.queries.isEmpty)
    }
}
