import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
@testable import QMISim
import TestSupport
import USBDiscovery

/// Clients nobody here wrote accept the simulator, and the fake hardware looks real.
final class InteropTests: XCTestCase {
    /// libqmi's qmicli, over the qmi-proxy protocol on @qmi-proxy.
    func testQmicliTalksToTheSimulator() throws {
        guard which("qmicli") else {
            throw XCTSkip("qmicli is not installed (Debian: libqmi-utils; scripts/test installs it)")
        }
        // Abstract sockets belong to a network namespace: a private one keeps any real
        // qmi-proxy on this machine out of the way (root; otherwise the host namespace).
        let ns = isRoot ? try TestNamespace("qcm-qmicli") : nil
        let sim = QMISimulator(config: SimConfig())
        sim.startThread()
        defer { sim.shutdown() }
        let listen = { try sim.listen("@qmi-proxy", proxy: true) }
        if let ns { try ns.inside(listen) } else { try listen() }

        // qmicli wants a character device; a cdc-wdm-like node in a temp dir (or /dev/null).
        var node = "/dev/null"
        let dir = NSTemporaryDirectory() + "qcm-node-" + UUID().uuidString
        if isRoot {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            node = dir + "/cdc-wdm0"
            XCTAssertEqual(mknod(node, S_IFCHR | 0o600, dev_t(180 << 8 | 176)), 0)   // usbmisc 180:176
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let prefix = ns.map { ["ip", "netns", "exec", $0.name] } ?? []
        func qmicli(_ args: String...) -> (status: Int32, output: String) {
            shell(prefix + ["qmicli", "-p", "-d", node, "--device-open-qmi"] + args)
        }
        var r = qmicli("--dms-get-revision")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("Revision: 'EC25EFAR06A11M4G'"), r.output)
        r = qmicli("--nas-get-serving-system")
        XCTAssertTrue(r.output.contains("Registration state: 'registered'"), r.output)
        XCTAssertTrue(r.output.contains("Description: 'CHN-UNICOM'"), r.output)
        r = qmicli("--uim-get-card-status")
        XCTAssertTrue(r.output.contains("Application state: 'ready'"), r.output)
        r = qmicli("--wds-start-network=apn=internet,ip-type=4", "--client-no-release-cid")
        XCTAssertTrue(r.output.contains("Network started"), r.output)
        let cid = r.output.components(separatedBy: "CID: '").last?.prefix { $0.isNumber } ?? ""
        r = qmicli("--wds-get-current-settings", "--client-cid=\(cid)", "--client-no-release-cid")
        XCTAssertTrue(r.output.contains("IPv4 address: 10.90.1.113"), r.output)
        XCTAssertTrue(r.output.contains("IPv4 subnet mask: 255.255.255.252"), r.output)
        r = qmicli("--wds-get-packet-service-status", "--client-cid=\(cid)")
        XCTAssertTrue(r.output.contains("Connection status: 'connected'"), r.output)
        // qmicli released its DMS/NAS/UIM clients; only the WDS one we kept is left.
        XCTAssertEqual(sim.allocatedClientCount, 0, "the last call released the kept WDS client")
        XCTAssertGreaterThanOrEqual(sim.transcript.count(CTL.InternalProxyOpen.spec), 5)
    }

    /// qmi-sim's sysfs tree is found by USBDiscovery as an EC25 whose channel is the socket.
    func testFakeSysfsIsDiscovered() throws {
        let root = NSTemporaryDirectory() + "qcm-fakehw-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FakeHardware.writeSysfs(root: root, netdev: "wwan0", rawIP: true)
        let loop = EventLoop()
        let sim = QMISimulator(loop: loop)
        try sim.listen(FakeHardware.socketPath(root: root))
        defer { sim.shutdown() }
        let modem = try Discovery.select(Discovery.scan(DiscoveryOptions(sysRoot: root + "/sys", devRoot: root + "/dev")))
        XCTAssertEqual(modem.model, "EC25/EC20 R2.x (EC2x/EG2x)")
        XCTAssertEqual(modem.driver, "qmi_wwan")
        XCTAssertEqual(modem.netInterfaces, ["wwan0"])
        XCTAssertEqual(modem.rawIP, true)
        XCTAssertEqual(modem.controlDevice, FakeHardware.socketPath(root: root))
        XCTAssertEqual(modem.warnings, [])
        // ...and the channel it names is the simulator.
        let engine = QMIEngine(channel: try QMIChannel.open(modem.controlDevice!), loop: loop)
        defer { engine.close() }
        var got: Result<QMIMessage, QMIError>?
        engine.send(QMIMessage.request(CTL.Sync.spec)) { got = $0 }
        loop.run(until: { got != nil }, timeoutMs: 2000)
        XCTAssertNoThrow(try got?.get().check())
    }

    func testEchoReplyBuilder() {
        // IPv4 ICMP echo request 10.90.1.113 -> 10.90.1.114, id 0x1234 seq 1, payload "ping"
        var p: [UInt8] = [0x45, 0, 0, 32, 0, 1, 0, 0, 64, 1, 0, 0, 10, 90, 1, 113, 10, 90, 1, 114,
                          8, 0, 0, 0, 0x12, 0x34, 0, 1] + Array("ping".utf8)
        let hc = internetChecksum(p[0..<20]); p[10] = UInt8(hc >> 8); p[11] = UInt8(hc & 0xff)
        let cc = internetChecksum(p[20...]); p[22] = UInt8(cc >> 8); p[23] = UInt8(cc & 0xff)
        let r = TunDevice.echoReply(p, ipv4: 0x0a5a_0172, ipv6: [])!
        XCTAssertEqual(Array(r[12..<16]), [10, 90, 1, 114])
        XCTAssertEqual(Array(r[16..<20]), [10, 90, 1, 113])
        XCTAssertEqual(r[20], 0)                                    // echo reply
        XCTAssertEqual(internetChecksum(r[0..<20]), 0, "valid IP header checksum")
        XCTAssertEqual(internetChecksum(r[20...]), 0, "valid ICMP checksum")
        XCTAssertEqual(Array(r[24...]), Array(p[24...]))
        XCTAssertNil(TunDevice.echoReply(p, ipv4: 0x0a5a_0173, ipv6: []), "only the gateway answers")
        XCTAssertNil(TunDevice.echoReply([0x45, 0, 0], ipv4: 0x0a5a_0172, ipv6: []), "short packets are ignored")
    }

    /// The data path end to end: a TUN wwan0 in a private namespace, addressed like qcm
    /// would, and the kernel's ping gets answers from the simulated gateway.
    func testPingThroughTheTunDataPath() throws {
        guard isRoot else { throw XCTSkip("needs root (TUN device in a network namespace)") }
        let ns = try TestNamespace("qcm-tun")
        let loop = EventLoop()
        let tun = try ns.inside { try TunDevice(name: "wwan0") }
        tun.ipv4Gateway = 0x0a5a_0172
        tun.serve(on: loop)
        let done = Flag()
        let t = Thread { while !done.value { loop.runOnce(maxWaitMs: 50) } }
        t.start()
        defer { done.value = true; while !t.isFinished { usleep(1000) }; tun.close() }
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "10.90.1.113/30", "dev", "wwan0"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "set", "wwan0", "up"]).status, 0)
        let r = shell(["ip", "netns", "exec", ns.name, "ping", "-c", "2", "-W", "2", "-I", "wwan0", "10.90.1.114"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("2 received"), r.output)
        XCTAssertEqual(tun.echoesAnswered, 2)
    }
}
