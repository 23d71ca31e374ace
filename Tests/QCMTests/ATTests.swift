import Foundation
import XCTest
import Base
import CSystem
import QMISim
import ATMessages
import TestSupport
@testable import QCM

/// qcm dialing UNISOC and ASR modules (no QMI) with AT commands: the simulated module on a
/// real pseudo-terminal, and — as root, in a namespace — its netdev as a real TAP whose DHCP
/// server and gateway exist only while the call is up. Every test ends with the module as
/// qcm found it (no call up, no context active).
final class ATTests: XCTestCase {
    func atConfig(_ product: ATSimConfig.Product = .ec200u, _ change: (inout ATSimConfig) -> Void = { _ in }) -> ATSimConfig {
        .quick(product, change)
    }

    func clean(_ rig: DaemonRig) -> Bool {
        let end = Date().addingTimeInterval(3)
        while Date() < end {
            if rig.atSim?.isClean == true { return true }
            usleep(20_000)
        }
        return false
    }

    var commands: (DaemonRig) -> [String] = { $0.atSim?.transcript.commands ?? [] }

    // MARK: the dial, the link, drops and the teardown (root: namespace and TAP)

    /// UNISOC (EC200U): AT+QNETDEVCTL=<cid>,1,1, the report, DHCP from the module on usb0, a
    /// ping to the gateway; the network ends the call, qcm redials at once; SIGTERM releases
    /// the lease, stops the call and leaves nothing on the link.
    func testUNISOCDialDHCPPingDropAndTeardown() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and a TAP usb0") }
        let rig = try DaemonRig(netns: true, at: atConfig())
        rig.start(["-s", "cmnet", "-v"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("AT dialect: UNISOC"), rig.log)
        XCTAssertTrue(rig.log.contains("DHCP lease 10.25.16.79/27 from 10.25.16.65"), rig.log)
        XCTAssertEqual(ipAddresses(rig.ns!.name, "usb0"), ["10.25.16.79/27"])
        XCTAssertEqual(rig.ping("10.25.16.65", from: "usb0").status, 0, "the module's gateway answers while the call is up")
        XCTAssertTrue(commands(rig).contains("AT+QNETDEVCTL=1,1,1"), "\(commands(rig))")
        XCTAssertFalse(commands(rig).contains { $0.hasPrefix("AT+QICSGP=1,") }, "the profile already says cmnet: not rewritten")
        XCTAssertEqual(rig.statusValue("interface"), "usb0")
        XCTAssertEqual(rig.statusValue("operator"), "CHINA MOBILE")
        XCTAssertEqual(rig.statusValue("rat"), "lte")
        XCTAssertTrue(rig.waitStatus("lte_rsrp_dbm", "-82"), rig.statusText() ?? "")
        XCTAssertEqual(rig.statusValue("imsi"), "460028563800461")

        // The network ends the call: the module reports it, qcm redials at once.
        rig.atSim?.dropCalls()
        XCTAssertTrue(rig.waitLog("the module reports the data call of context 1 down"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        XCTAssertEqual(rig.ping("10.25.16.65", from: "usb0").status, 0)

        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig), "\(commands(rig))")
        XCTAssertEqual(commands(rig).last, "AT+QNETDEVCTL=1,0,0")
        XCTAssertEqual(rig.ethernet?.releases, 1, "the lease is released before the call stops")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "usb0"), [])
        XCTAssertNotEqual(rig.ping("10.25.16.65", from: "usb0").status, 0, "no call, no gateway")
    }

    /// ASR (EC200A) on context 2 with another APN: the profile is written, the context
    /// activated (AT+CGACT=1,2), the NIC's call started in ASR's order (AT+QNETDEVCTL=1,2,1 —
    /// UNISOC's order would start context 1); SIGTERM stops the NIC's call and deactivates the
    /// context qcm activated.
    func testASROnContext2() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and a TAP usb0") }
        let rig = try DaemonRig(netns: true, at: atConfig(.ec200a))
        rig.start(["-n", "2", "-s", "internet", "user", "secret", "2", "-v"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("AT dialect: ASR"), rig.log)
        let sent = commands(rig)
        XCTAssertTrue(sent.contains("AT+QICSGP=2,1,\"internet\",\"user\",\"secret\",2"), "\(sent)")
        XCTAssertTrue(sent.contains("AT+CGACT=1,2"), "\(sent)")
        XCTAssertTrue(sent.contains("AT+QNETDEVCTL=1,2,1"), "\(sent)")
        XCTAssertEqual(rig.atSim?.profile(2)?.apn, "internet")
        XCTAssertTrue(rig.log.contains("AT> AT+QICSGP=2,1,\"internet\",\"user\",\"****\",2"), rig.log)
        XCTAssertFalse(rig.log.contains("secret"), "the password never reaches the log")
        XCTAssertEqual(rig.ping("10.25.17.65", from: "usb0").status, 0, "context 2's gateway")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig), "\(commands(rig))")
        XCTAssertEqual(Array(commands(rig).suffix(2)), ["AT+QNETDEVCTL=0,2,0", "AT+CGACT=0,2"])
    }

    // MARK: without a link (no root needed): setup rules, faults

    /// The module never reports its call: qcm finds it up by asking, then asks every
    /// QCM_AT_CHECK_MS whether it is still up, and sees the drop.
    func testAModuleWithoutReports() throws {
        let rig = try DaemonRig(at: atConfig { $0.noURCs = true })
        rig.wrapper = ["env", "QCM_AT_CHECK_MS=300"]
        rig.start(["-v"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.waitLog("the module did not report its call coming up"), rig.log)
        rig.atSim?.dropCalls()
        XCTAssertTrue(rig.waitLog("the module says the data call of context 1 is down"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig))
    }

    /// PIN rules as with QMI: the right PIN once; a wrong one is not retried (exit 4); with
    /// one attempt left none is tried; a SIM that wants its PUK, and no SIM, end at once.
    func testPINRulesAndTheTrace() throws {
        let rig = try DaemonRig(at: atConfig { $0.sim = .pin })
        rig.start(["-p", "1234", "-v"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("AT> AT+CPIN=\"****\""), rig.log)
        XCTAssertFalse(rig.log.contains("1234"), "the PIN never reaches the log")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)

        let wrong = try DaemonRig(at: atConfig { $0.sim = .pin })
        wrong.start(["-p", "1111"])
        XCTAssertEqual(wrong.waitExit(), 4, wrong.log)
        XCTAssertTrue(wrong.log.contains("PIN verification failed: +CME ERROR: 16 (incorrect password); not retrying"), wrong.log)
        XCTAssertEqual(wrong.atSim?.pinAttemptsLeft, 2)
        XCTAssertEqual(wrong.atSim?.transcript.commands.filter { $0.hasPrefix("AT+CPIN=") }.count, 1)

        let last = try DaemonRig(at: atConfig { $0.sim = .pin; $0.pinAttempts = 1 })
        last.start(["-p", "1234"])
        XCTAssertEqual(last.waitExit(), 4, last.log)
        XCTAssertTrue(last.log.contains("only 1 PIN attempt left"), last.log)
        XCTAssertFalse(last.atSim?.transcript.commands.contains { $0.hasPrefix("AT+CPIN=") } ?? true)

        for (sim, words) in [(ATSimConfig.SIM.puk, "needs its PUK"), (.absent, "no SIM card")] {
            let r = try DaemonRig(at: atConfig { $0.sim = sim })
            r.start([])
            XCTAssertEqual(r.waitExit(), 4, r.log)
            XCTAssertTrue(r.log.contains(words), r.log)
        }
    }

    /// The network refuses the APN: each dial's refusal is named, the module is cleaned after
    /// each, and --max-retries ends qcm with exit 6 — ASR (AT+CGACT refused) and UNISOC (the
    /// call reported down right after its start).
    func testRefusedCallsEndCleanly() throws {
        for product in [ATSimConfig.Product.ec200t, .ec200u] {
            let rig = try DaemonRig(at: atConfig(product) { $0.rejectCall = 127 })
            rig.start(["-s", "nosuch", "--max-retries", "2"])
            XCTAssertEqual(rig.waitExit(timeout: 20), 6, rig.log)
            XCTAssertTrue(rig.log.contains(product.dialect == .asr ? "+CME ERROR: 127 (missing or unknown APN)" : "did not come up"), rig.log)
            XCTAssertTrue(rig.log.contains("giving up after 2 failed dial(s)"), rig.log)
            XCTAssertTrue(clean(rig), "\(product.name): \(commands(rig))")
        }
    }

    /// The AT port goes away (the module resets) and comes back: qcm waits for it, sets the
    /// module up again and redials.
    func testThePortVanishesAndComesBack() throws {
        let rig = try DaemonRig(at: atConfig())
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.atSim?.disappear(backAfterMs: 1500)
        XCTAssertTrue(rig.waitLog("AT port lost"), rig.log)
        XCTAssertTrue(rig.waitLog("waiting for the module to come back"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2, timeout: 20), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig))
    }

    /// A port that is not a modem: nothing answers AT (exit 5), or everything is ERROR (exit 5),
    /// each with one precise message, never a hang.
    func testPortsThatAreNotAModem() throws {
        let silent = try DaemonRig(at: atConfig { $0.hangAfterMs = 0 })
        silent.start([])
        XCTAssertEqual(silent.waitExit(timeout: 20), 5, silent.log)
        XCTAssertTrue(silent.log.contains("no answer to AT on"), silent.log)

        let refusing = try DaemonRig(at: atConfig { $0.answerErrorToEverything = true })
        refusing.start([])
        XCTAssertEqual(refusing.waitExit(timeout: 20), 5, refusing.log)
        XCTAssertTrue(refusing.log.contains("the module refuses AT+CPIN? (ERROR)"), refusing.log)
    }

    /// Echo off, junk lines, NULs, a 64 KB line and a storm of 2,000 registration reports: the
    /// dial goes on, the junk is said (a bounded number of times), `qcm status` still answers.
    func testGarbageAndAReportStorm() throws {
        let rig = try DaemonRig(at: atConfig { $0.echo = false; $0.garbage = true; $0.urcStorm = 2000 })
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected", timeout: 30), rig.log)
        XCTAssertTrue(rig.log.contains("ignored a line qcm does not know") || rig.log.contains("control byte"), rig.log)
        let notices = rig.log.components(separatedBy: "\n").filter { $0.contains("ignored") || $0.contains("dropped") }.count
        XCTAssertLessThanOrEqual(notices, 20, "notices are bounded")
        let status = qcm(["status", "--run-dir", rig.root + "/run"])
        XCTAssertEqual(status.status, 0, status.output)
        XCTAssertTrue(status.output.contains("connected"), status.output)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig))
    }

    /// A call left up by a qcm killed with -9 is stopped before the profile is touched (the
    /// module refuses to redefine an active context).
    func testACallLeftUpIsStoppedFirst() throws {
        let rig = try DaemonRig(at: atConfig())
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.signal(SIGKILL)
        _ = rig.waitExit()
        XCTAssertEqual(rig.atSim?.callActive(1), true, "killed with -9: the call stays up")
        rig.start(["-s", "internet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("a data call on context 1 was up"), rig.log)
        XCTAssertEqual(rig.atSim?.profile(1)?.apn, "internet")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig))
    }

    /// What cannot go into an AT command line is refused before anything is sent.
    func testAnAPNThatWouldInjectACommand() throws {
        let rig = try DaemonRig(at: atConfig())
        rig.start(["-s", "x\";+CFUN=0;\""])
        XCTAssertEqual(rig.waitExit(), 2, rig.log)
        XCTAssertTrue(rig.log.contains("cannot be sent in an AT command"), rig.log)
        XCTAssertFalse(commands(rig).contains { $0.contains("CFUN=0") }, "\(commands(rig))")
        XCTAssertTrue(clean(rig))
    }

    /// -d on a UNISOC module: no DHCP, the addresses as AT+QNETDEVSTATUS reports them — RG801H
    /// writes them as hex, least significant byte first.
    func testNoDHCPFromTheModulesReport() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and a TAP usb0") }
        let rig = try DaemonRig(netns: true, at: atConfig(.rg801h))
        rig.start(["-d"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertFalse(rig.log.contains("DHCP on usb0"), rig.log)
        XCTAssertEqual(ipAddresses(rig.ns!.name, "usb0"), ["10.25.16.79/27"])
        XCTAssertEqual(rig.ping("10.25.16.65", from: "usb0").status, 0)
        XCTAssertEqual(rig.ethernet?.acks, 0, "no DHCP at all")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig))

        // ASR modules report no netmask or gateway: -d is refused before anything is sent.
        let asr = try DaemonRig(netns: true, at: atConfig(.ec200t))
        asr.start(["-d"])
        XCTAssertEqual(asr.waitExit(), 2, asr.log)
        XCTAssertTrue(asr.log.contains("-d (no DHCP) needs the module's netmask and gateway"), asr.log)
    }

    /// `qcm --simulate --sim-arg --at` dials the simulated module as a board would (as root in a
    /// private namespace, with the TAP and DHCP); Ctrl-C ends it cleanly.
    func testSimulateAnATModule() throws {
        let run = shell(["timeout", "--preserve-status", "-s", "INT", "8", productPath("qcm"), "--simulate", "--sim-arg", "--at", "--sim-arg", "--product",
                         "--sim-arg", "6005"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("AT dialect: ASR"), run.output)
        XCTAssertTrue(run.output.contains("] connected"), run.output)
        XCTAssertTrue(run.output.contains("requestDeactivateDefaultPDP: context 1"), run.output)
    }
}

/// The AT session's pure rules.
final class ATRulesTests: XCTestCase {
    func testPacketEventsThatEndTheCall() {
        XCTAssertTrue(ATSession.packetEventEnds("NW DEACT \"IP\",\"10.1.1.1\",1", cid: 1))
        XCTAssertFalse(ATSession.packetEventEnds("NW DEACT \"IP\",\"10.1.1.1\",2", cid: 1), "another context's")
        XCTAssertTrue(ATSession.packetEventEnds("PDN DEACT 1", cid: 1))
        XCTAssertFalse(ATSession.packetEventEnds("PDN ACT 1", cid: 1))
        XCTAssertTrue(ATSession.packetEventEnds("NW DETACH", cid: 3))
        XCTAssertTrue(ATSession.packetEventEnds("ME DEACT \"IP\",\"10.1.1.1\"", cid: 1), "no cid: the call is taken for gone")
    }

    func testRegistrationNamesAndTechnologies() {
        XCTAssertEqual(ATSession.registrationName(5), "registered")
        XCTAssertEqual(ATSession.registrationName(3), "registration-denied")
        XCTAssertEqual(ATSession.rat(7), "lte")
        XCTAssertEqual(ATSession.rat(11), "5gnr")
        XCTAssertEqual(ATSession.rat(13), "5gnr", "EN-DC")
        XCTAssertNil(ATSession.rat(nil))
    }

    /// -d's plan from the module's report: the mask as a prefix, a gateway that is the
    /// address itself dropped, unusable DNS servers left out.
    func testPlanFromTheModulesReport() throws {
        let a = try AT.DataStatus.Answer(decoding: "+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,FFFFFFFF")
        let p = Plans.fromDataStatus(a, interface: "usb0", metric: 0, defaultRoute: true)
        XCTAssertEqual(p.ipv4?.address.text, "10.25.16.79")
        XCTAssertEqual(p.ipv4?.prefix, 27)
        XCTAssertEqual(p.ipv4?.gateway?.text, "10.25.16.65")
        XCTAssertEqual(p.dns.map { $0.text }, ["211.138.180.2"])
        let same = try AT.DataStatus.Answer(decoding: "+QNETDEVSTATUS: 10.0.0.5,255.255.255.0,10.0.0.5,,8.8.8.8,")
        XCTAssertNil(Plans.fromDataStatus(same, interface: "usb0", metric: 0, defaultRoute: true).ipv4?.gateway)
    }
}
