import Foundation
import XCTest
import Base
import CSystem
import QMICore
import QMIMessages
import QMISim
import ATMessages
import TestSupport
@testable import QCM

/// qcm through Quectel's own proxies (quectel-CM 1.6.8's quectel-qmi-proxy, quectel-mbim-proxy,
/// quectel-atc-proxy), simulated as those programs behave, in front of the simulated module:
/// the dial, a ping, the teardown and the module left clean through each; a client that is
/// killed has its ids released by the QMI proxy; a proxy's name taken by another user gets
/// nothing (exit 9). Abstract socket names and qcm live in a network namespace of the test's.
final class QuectelProxyDaemonTests: XCTestCase {
    func needRoot() throws { guard isRoot else { throw XCTSkip("needs root: a network namespace for the proxy's abstract socket") } }

    // MARK: quectel-qmi-proxy

    func qmiRig() throws -> (DaemonRig, QuectelQMIProxy) {
        let rig = try DaemonRig(netns: true)
        let proxy = try rig.ns!.inside { try rig.sim.serveQuectelProxy(device: rig.root + "/dev/cdc-wdm0") }
        XCTAssertTrue(waitFor { proxy.isListening }, "the proxy listens once the modem answered its Sync")
        return (rig, proxy)
    }

    /// -p quectel-qmi-proxy: @quectel-qmi-proxy0 (the channel /dev/cdc-wdm0's last character),
    /// no proxy open and no Sync of qcm's (the proxy's own Sync is the only one), the client ids
    /// allocated through it, every frame alone in its read; a ping; SIGTERM releases everything.
    func testDialThroughQuectelQmiProxy() throws {
        try needRoot()
        let (rig, proxy) = try qmiRig()
        rig.start(["-p", "quectel-qmi-proxy", "-s", "3gnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("through quectel-qmi-proxy on @quectel-qmi-proxy0"), rig.log)
        XCTAssertTrue(rig.log.contains("QMI channel @quectel-qmi-proxy0 open (fd "), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, "the data path works as without the proxy")
        XCTAssertEqual(rig.sim.transcript.count(CTL.InternalProxyOpen.spec), 0, "no libqmi proxy open")
        XCTAssertEqual(rig.sim.transcript.count(CTL.Sync.spec), 1, "only the proxy's own Sync")
        XCTAssertEqual(proxy.droppedReads, 0, "each frame alone in the proxy's read")
        XCTAssertEqual(proxy.refusedClientSyncs, 0)
        XCTAssertEqual(Set(proxy.heldIDs.map { QMIService($0.service) }), Set([.wds, .dms, .nas, .uim, .wda]), "\(proxy.heldIDs)")
        XCTAssertEqual(rig.statusValue("channel"), "@quectel-qmi-proxy0")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean }, "call stopped and ids released through the proxy: \(rig.sim.allocatedClients)")
        XCTAssertTrue(proxy.heldIDs.isEmpty)
        XCTAssertTrue(proxy.releasedForVanished.isEmpty, "qcm released its ids itself")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0"), [])
    }

    /// qcm killed (-9) through the proxy: the proxy releases what it held (transaction 255),
    /// which ends its call; the modem is clean without a Sync, and the next qcm dials.
    func testAKilledQcmHasItsIDsReleasedByTheProxy() throws {
        try needRoot()
        let (rig, proxy) = try qmiRig()
        rig.start(["-p", "quectel-qmi-proxy"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let held = proxy.heldIDs.count
        XCTAssertEqual(rig.sim.activeCalls, 1)
        rig.signal(SIGKILL)
        XCTAssertNotNil(rig.waitExit())
        XCTAssertTrue(rig.waitSim { $0.isClean }, "the proxy released the killed client's ids: \(rig.sim.allocatedClients) \(proxy.lines)")
        XCTAssertEqual(proxy.releasedForVanished.count, held)
        let releases = rig.sim.transcript.requests(CTL.ReleaseClientID.spec)
        XCTAssertEqual(releases.count, held)
        XCTAssertTrue(releases.allSatisfy { $0.transactionID == 255 }, "the proxy's own transaction id")
        XCTAssertEqual(rig.sim.transcript.count(CTL.Sync.spec), 1)
        // The interface is left configured by the killed qcm; the next one takes over.
        rig.start(["-p", "quectel-qmi-proxy"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    /// Two qcm through one proxy (quectel-CM's way with QMAP): each its own client ids; one
    /// stopping leaves the other's call up.
    func testTwoProcessesThroughOneQuectelProxy() throws {
        try needRoot()
        let rig = try DaemonRig(netns: true, qmap: 4)
        let proxy = try rig.ns!.inside { try rig.sim.serveQuectelProxy(device: rig.root + "/dev/cdc-wdm0") }
        XCTAssertTrue(waitFor { proxy.isListening })
        rig.start(["-p", "quectel-qmi-proxy", "-n", "1", "-m", "1", "-s", "internet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let log2 = rig.root + "/qcm2.log"
        let fd = csys_open(log2, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let second = Subprocess.start(["ip", "netns", "exec", rig.ns!.name, productPath("qcm")] + rig.baseArgs
                                      + ["-p", "quectel-qmi-proxy", "-n", "2", "-m", "2", "-s", "ims", "--no-default-route"], outputFD: fd)!
        close(fd)
        defer { _ = kill(second, SIGKILL); _ = Subprocess.wait(second) }
        func log2Text() -> String { (try? String(contentsOfFile: log2, encoding: .utf8)) ?? "" }
        XCTAssertTrue(waitFor { log2Text().contains("] connected") }, log2Text())
        XCTAssertEqual(rig.sim.activeCalls, 2)
        XCTAssertEqual(proxy.clientCount, 2)
        _ = kill(second, SIGTERM)
        XCTAssertEqual(Subprocess.wait(second), 0, log2Text())
        XCTAssertTrue(rig.waitSim { $0.activeCalls == 1 })
        XCTAssertFalse(rig.exited, "the first qcm's call stays up")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    // MARK: quectel-mbim-proxy

    /// -p quectel-mbim-proxy: OPEN and CLOSE answered by the proxy (the modem sees only the
    /// proxy's own OPEN), every request with qcm's slot in its transaction id, answers back; a
    /// ping; SIGTERM deactivates the session — the device stays open for the proxy.
    func testDialThroughQuectelMbimProxy() throws {
        try needRoot()
        let rig = try DaemonRig(netns: true, mbim: MBIMSimulator.Config())
        let proxy = try rig.ns!.inside { try rig.mbimSim!.serveQuectelProxy() }
        XCTAssertTrue(waitFor { proxy.isListening })
        rig.start(["-p", "quectel-mbim-proxy", "-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("MBIM channel @quectel-mbim-proxy open (fd "), rig.log)
        XCTAssertTrue(rig.log.contains("one message per read"), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(rig.mbimSim?.sessionCount, 0, "session deactivated through the proxy")
        let names = rig.mbimSim?.requestNames ?? []
        XCTAssertEqual(names.filter { $0 == "OPEN" || $0 == "CLOSE" }, ["OPEN"], "qcm's OPEN and CLOSE stayed in the proxy: \(names)")
        XCTAssertFalse(names.contains("proxy-control CONFIGURATION set"), "nothing of libmbim's proxy")
        XCTAssertEqual(proxy.answeredItself, [1, 2])
        let forwarded = proxy.forwardedRequests
        XCTAssertFalse(forwarded.isEmpty)
        XCTAssertTrue(forwarded.allSatisfy { $0.index == 1 && $0.tid <= 0xff_ffff }, "\(forwarded)")
        XCTAssertEqual(proxy.unclaimedAnswers, 0)
    }

    // MARK: quectel-atc-proxy

    /// -p quectel-atc-proxy on a UNISOC module: the proxy's start-up, then qcm's own dial
    /// through it, every command line without CR in a read of its own; DHCP and a ping on the
    /// TAP; SIGTERM stops the call through the proxy.
    func testDialThroughQuectelAtcProxy() throws {
        try needRoot()
        let rig = try DaemonRig(netns: true, at: .quick(.ec200u))
        let port = rig.root + "/dev/" + rig.channelKey
        let proxy = try rig.ns!.inside { try rig.atSim!.serveQuectelProxy(device: port) }
        XCTAssertTrue(waitFor { proxy.isServing }, proxy.lines.joined(separator: "\n"))
        let startUp = proxy.commandLines.count
        rig.start(["-p", "quectel-atc-proxy", "-s", "cmnet", "-v"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let name = "@quectel-atc-proxy" + String(rig.channelKey.last!)
        XCTAssertTrue(rig.log.contains("AT channel \(name) open (fd "), rig.log)
        XCTAssertTrue(rig.log.contains("DHCP lease 10.25.16.79/27 from 10.25.16.65"), rig.log)
        XCTAssertEqual(rig.ping("10.25.16.65", from: "usb0").status, 0)
        let mine = Array(proxy.commandLines.dropFirst(startUp))
        XCTAssertTrue(mine.contains("AT+QNETDEVCTL=1,1,1"), "\(mine)")
        XCTAssertFalse(mine.contains { $0.contains("\r") }, "no CR from qcm: the proxy adds it")
        // Each line reached the module as written, in order (the transcripts may differ by a
        // line still under way at the end).
        let written = proxy.commandLines, received = rig.atSim?.transcript.commands ?? []
        let n = min(written.count, received.count)
        XCTAssertGreaterThan(n, startUp + 10)
        XCTAssertEqual(Array(written.prefix(n)), Array(received.prefix(n)))
        // The proxy hands every answer to every client: a second qcm, even for another PDN,
        // is refused (exit 7) before it connects.
        let second = shell(["ip", "netns", "exec", rig.ns!.name, productPath("qcm")] + rig.baseArgs + ["-p", "quectel-atc-proxy", "-n", "2"])
        XCTAssertEqual(second.status, 7, second.output)
        XCTAssertTrue(second.output.contains("dials through \(name), which hands every answer to every client: one qcm at a time through it"), second.output)
        XCTAssertEqual(proxy.clientCount, 1)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(waitFor { rig.atSim?.isClean == true }, "the call stopped through the proxy")
    }

    /// A proxy of the wrong protocol for the module, and a proxy no one runs.
    func testMismatchesAndAMissingProxy() throws {
        let rig = try DaemonRig()
        rig.start(["-p", "quectel-atc-proxy"])
        XCTAssertEqual(rig.waitExit(), 2, rig.log)
        XCTAssertTrue(rig.log.contains("-p quectel-atc-proxy carries AT commands; EC25/EC20 R2.x (EC2x/EG2x) 2c7c:0125 is dialed with QMI (-p quectel-qmi-proxy, -p qmi-proxy)"), rig.log)
        rig.start(["-p", "quectel-mbim-proxy"])
        XCTAssertEqual(rig.waitExit(), 2, rig.log)
        XCTAssertTrue(rig.log.contains("-p quectel-mbim-proxy speaks MBIM, but EC25/EC20 R2.x (EC2x/EG2x) 2c7c:0125 is in QMI mode (-p quectel-qmi-proxy)"), rig.log)
        let at = try DaemonRig(at: ATSimConfig(product: .ec200u))
        at.start(["-p", "quectel-qmi-proxy"])
        XCTAssertEqual(at.waitExit(), 2, at.log)
        XCTAssertTrue(at.log.contains("-p quectel-qmi-proxy carries QMI or MBIM; an AT module is dialed on its AT port, or through Quectel's proxy (-p quectel-atc-proxy)"), at.log)
        let gobi = try DaemonRig(driver: "GobiNet", netdev: "usb0")
        gobi.start(["-p", "quectel-qmi-proxy"])
        XCTAssertEqual(gobi.waitExit(), 2, gobi.log)
        XCTAssertTrue(gobi.log.contains("no proxy serves it: dial without -p"), gobi.log)
        // No proxy listens (in a namespace of its own, so none of the host's answers).
        guard isRoot else { return }
        let lonely = try DaemonRig(netns: true)
        lonely.start(["-p", "quectel-qmi-proxy"])
        XCTAssertEqual(lonely.waitExit(), 5, lonely.log)
        XCTAssertTrue(lonely.log.contains("cannot open the QMI channel @quectel-qmi-proxy0: connect to abstract socket @quectel-qmi-proxy0: ECONNREFUSED"), lonely.log)
        XCTAssertTrue(lonely.log.contains("(is quectel-qmi-proxy running? it starts with: quectel-qmi-proxy -d \(lonely.root)/dev/cdc-wdm0)"), lonely.log)
    }

    // MARK: another user's proxy

    /// Each Quectel proxy's name bound first by `nobody` (qmi-sim --quectel-proxy run as
    /// nobody, in a namespace of its own): qcm refuses it before it sends anything — no PIN,
    /// no password — with exit 9; the impostor's transcript shows nothing from any client.
    func testAQuectelProxyNameTakenByAnotherUserIsRefused() throws {
        try needRoot()
        let nobody = 65534
        for (flag, mode, device, name) in [("quectel-qmi-proxy", [String](), "/dev/cdc-wdm0", "@quectel-qmi-proxy0"),
                                           ("quectel-mbim-proxy", ["--mbim"], "/dev/cdc-wdm0", "@quectel-mbim-proxy"),
                                           ("quectel-atc-proxy", ["--at"], "/dev/ttyUSB" + String((FakeHardware.atPort(product: "0901", netDriver: "cdc_ncm") ?? "2").last!),
                                            "@quectel-atc-proxy" + String((FakeHardware.atPort(product: "0901", netDriver: "cdc_ncm") ?? "2").last!))] {
            let ns = try TestNamespace("qcm-qimp")
            let dir = NSTemporaryDirectory() + "qcm-qimpostor-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let bin = try OtherUser.binaries(in: dir)
            chmod(dir, 0o777)
            let frames = dir + "/frames"
            let impostor = Subprocess.start(["ip", "netns", "exec", ns.name] + OtherUser.prefix(nobody)
                                            + [bin + "/qmi-sim", "--root", dir + "/sim", "--quectel-proxy", "--latency", "5",
                                               "--transcript", frames, "--ready-file", dir + "/ready"] + mode,
                                            outputFD: Subprocess.devNull)!
            var stopped = false
            defer { if !stopped { Subprocess.stop(impostor) } }
            XCTAssertTrue(waitFor { FileManager.default.fileExists(atPath: dir + "/ready") }, "the impostor listens (\(flag))")
            let r = shell(["ip", "netns", "exec", ns.name, productPath("qcm"), "-p", flag, "-p", "1234",
                           "-s", "internet", "carl", "secret", "--device", device, "--sysfs-root", dir + "/none",
                           "--run-dir", dir + "/run", "--no-link", "--dns", "none"])
            XCTAssertEqual(r.status, 9, "\(flag): \(r.output)")
            XCTAssertTrue(r.output.contains("abstract socket \(name) is served by pid \(impostor) running as uid \(nobody), neither root nor qcm's user (uid 0): another user may have taken its name; refusing to use it"), r.output)
            XCTAssertTrue(r.output.contains("Nothing was sent to it: no PIN, no password"), r.output)
            Subprocess.stop(impostor)
            stopped = true
            let seen = (try? String(contentsOfFile: frames, encoding: .utf8)) ?? "<no transcript>"
            XCTAssertFalse(seen.contains("proxy c"), "the impostor's proxy received nothing (\(flag)): \(seen)")
        }
    }
}
