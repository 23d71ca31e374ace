import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMISim
import TestSupport

/// qcm configuring real links: a TUN wwan0 (raw-IP) or a veth usb0 with dnsmasq behind
/// it (802.3), each in a network namespace of its own.
final class LinkTests: XCTestCase {
    override func setUpWithError() throws {
        guard isRoot else { throw XCTSkip("needs root: network namespaces, TUN/veth, rtnetlink") }
    }

    func testRawIPDualStackConfiguredAndRemoved() throws {
        let rig = try DaemonRig(netns: true)
        let ns = rig.ns!.name
        let resolv = rig.root + "/resolv.conf"
        try "nameserver 192.0.2.53\n".write(toFile: resolv, atomically: true, encoding: .utf8)
        rig.start(["-4", "-6", "--dns", "file", "--resolv-conf", resolv])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(Set(ipAddresses(ns, "wwan0")), ["10.90.1.113/30", "2409:8930:463:3daa:7c8e:429a:c902:c6cc/64"])
        XCTAssertEqual(ipDefaultRoutes(ns, "-4"), ["wwan0 via - metric 0"])
        XCTAssertEqual(ipDefaultRoutes(ns, "-6"), ["wwan0 via - metric 1024"])
        let dns = try String(contentsOfFile: resolv, encoding: .utf8)
        XCTAssertTrue(dns.contains("nameserver 211.138.180.2\nnameserver 211.138.180.3\nnameserver 2409:8030:2000::1"), dns)
        let st = qcm(["status", "--run-dir", rig.root + "/run"]).output
        XCTAssertTrue(st.contains("ipv4:      10.90.1.113/30"), st)
        XCTAssertTrue(st.contains("ipv6:      2409:8930:463:3daa:7c8e:429a:c902:c6cc/64"), st)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(ipAddresses(ns, "wwan0"), [], "addresses removed")
        XCTAssertEqual(ipDefaultRoutes(ns, "-4"), [])
        XCTAssertEqual(ipDefaultRoutes(ns, "-6"), [])
        XCTAssertEqual(try String(contentsOfFile: resolv, encoding: .utf8), "nameserver 192.0.2.53\n", "resolv.conf restored")
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    func testDropDeconfiguresAndRedialReconfigures() throws {
        let rig = try DaemonRig(netns: true)
        let ns = rig.ns!.name
        rig.start(["--stable-after", "0"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        rig.sim.dropCalls()
        XCTAssertTrue(rig.waitLog("the network ended the IPv4 call"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        XCTAssertEqual(ipAddresses(ns, "wwan0"), ["10.90.1.113/30"], "configured once, not twice")
        XCTAssertTrue(rig.log.contains("wwan0: configuration removed"), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
        XCTAssertEqual(ipAddresses(ns, "wwan0"), [])
    }

    func testEthernetModeTakesTheAddressByDHCP() throws {
        let lab = try DHCPLab()
        let rig = try DaemonRig(rawIP: false, driver: "GobiNet", netdev: "usb0", namespace: lab.client) { $0.linkProtocol = 1 }
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected", timeout: 20), rig.log)
        XCTAssertTrue(rig.log.contains("requestSetEthMode: 802.3"), rig.log)
        XCTAssertTrue(rig.log.contains("/dev/qcqmi0 open (GobiNet service files)"), "GobiNet end to end: " + rig.log)
        XCTAssertTrue(rig.log.contains("DHCP lease 10.77.0."), rig.log)
        let addrs = ipAddresses(lab.client.name, "usb0")
        XCTAssertEqual(addrs.count, 1)
        XCTAssertTrue(addrs[0].hasPrefix("10.77.0.") && addrs[0].hasSuffix("/24"), "\(addrs)")
        XCTAssertEqual(ipDefaultRoutes(lab.client.name, "-4"), ["usb0 via 10.77.0.1 metric 0"])
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(ipAddresses(lab.client.name, "usb0"), [])
        let end = Date().addingTimeInterval(5)
        while lab.leases.contains("10.77.0.") && Date() < end { usleep(50_000) }
        XCTAssertFalse(lab.leases.contains("10.77.0."), "the lease was released: \(lab.leases)")
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    func testNoDHCPTakesQMIAddressesOnAnEthernetLink() throws {
        let lab = try DHCPLab()
        let rig = try DaemonRig(rawIP: false, driver: "GobiNet", netdev: "usb0", namespace: lab.client) { $0.linkProtocol = 1 }
        rig.start(["-d"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(ipAddresses(lab.client.name, "usb0"), ["10.90.1.113/30"])
        XCTAssertEqual(ipDefaultRoutes(lab.client.name, "-4"), ["usb0 via 10.90.1.114 metric 0"], "802.3: via the gateway")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
    }

    func testScriptHookConfiguresTheLink() throws {
        let rig = try DaemonRig(netns: true)
        let ns = rig.ns!.name
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/default.script").standardized.path
        rig.start(["--script", script])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(ipAddresses(ns, "wwan0"), ["10.90.1.113/30"])
        XCTAssertTrue(rig.log.contains("Adding DNS 211.138.180.2"), rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
        XCTAssertEqual(ipAddresses(ns, "wwan0"), [], "deconfig ran")
    }

    func testBrokenScriptAndMissingInterfaceFailCleanly() throws {
        let rig = try DaemonRig(netns: true)
        let dos = rig.root + "/dos.script"
        _ = FileManager.default.createFile(atPath: dos, contents: Data("#!/bin/sh\r\nexit 0\r\n".utf8), attributes: [.posixPermissions: 0o755])
        rig.start(["--script", dos])
        XCTAssertEqual(rig.waitExit(), 8, rig.log)
        XCTAssertTrue(rig.log.contains("has DOS (CRLF) line endings"), rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean }, "call stopped and clients released before exiting")
        // A netdev that does not exist in qcm's namespace.
        rig.ns = try TestNamespace("qcm-empty")
        rig.start([])
        XCTAssertEqual(rig.waitExit(), 8, rig.log)
        XCTAssertTrue(rig.log.contains("network interface 'wwan0' does not exist"), rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    func testPingThroughTheSimulatedDataPath() throws {
        let rig = try DaemonRig(netns: true)
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let r = rig.ping("10.90.1.114")
        XCTAssertEqual(r.status, 0, r.output + "\n" + (rig.dataPlane?.drops.joined(separator: "\n") ?? ""))
        XCTAssertEqual(rig.dataPlane?.answered["wwan0"], 1)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
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
}
