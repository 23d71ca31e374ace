import Foundation
import XCTest
import Base
import CSystem
import QMISim
import TestSupport

/// `qcm dhcp`: the client alone, against dnsmasq.
final class DHCPCommandTests: XCTestCase {
    /// A run directory of the test's own (qcm dhcp keeps its record of the link there).
    var runDir: String!

    override func setUpWithError() throws {
        runDir = NSTemporaryDirectory() + "qcm-dhcprun-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
    }

    override func tearDown() { if let d = runDir { try? FileManager.default.removeItem(atPath: d) } }

    func testUsageErrors() {
        XCTAssertEqual(qcm(["dhcp"]).status, 2)
        XCTAssertTrue(qcm(["dhcp"]).output.contains("qcm dhcp: -i IFACE is required"))
        XCTAssertTrue(qcm(["dhcp", "-i", "x", "--dns", "nope"]).output.contains("qcm dhcp: --dns: 'nope' is not one of auto, resolvconf, file, none"))
        let missing = qcm(["dhcp", "-i", "nosuch0", "--dns", "none", "--run-dir", runDir])
        XCTAssertEqual(missing.status, 8, missing.output)
        XCTAssertTrue(missing.output.contains("network interface 'nosuch0' does not exist"), missing.output)
    }

    func testQuitOnceBoundAndReleaseOnSIGTERM() throws {
        guard isRoot else { throw XCTSkip("needs root: namespaces, veth and dnsmasq") }
        guard which("dnsmasq") else { throw XCTSkip("dnsmasq not installed") }
        let lab = try DHCPLab()
        let ns = lab.client.name
        let q = shell(["ip", "netns", "exec", ns, productPath("qcm"), "dhcp", "-i", "usb0", "-q", "--timeout", "10", "--dns", "none", "--run-dir", runDir])
        XCTAssertEqual(q.status, 0, q.output)
        XCTAssertTrue(q.output.contains("lease 10.77.0."), q.output)
        let a = ipAddresses(ns, "usb0")
        XCTAssertEqual(a.count, 1)
        XCTAssertTrue(a[0].hasPrefix("10.77.0."), "\(a)")
        // Stays running, releases and deconfigures on SIGTERM.
        _ = shell(["ip", "-n", ns, "addr", "flush", "dev", "usb0"])
        let log = NSTemporaryDirectory() + "qcm-dhcp-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let fd = csys_open(log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let pid = Subprocess.start(["ip", "netns", "exec", ns, productPath("qcm"), "dhcp", "-i", "usb0", "--dns", "none", "--run-dir", runDir], outputFD: fd)!
        close(fd)
        let end = Date().addingTimeInterval(15)
        while Date() < end && ipAddresses(ns, "usb0").isEmpty { usleep(50_000) }
        XCTAssertEqual(ipAddresses(ns, "usb0").count, 1)
        XCTAssertTrue(lab.leases.contains("10.77.0."))
        _ = kill(pid, SIGTERM)
        XCTAssertEqual(Subprocess.wait(pid), 0)
        XCTAssertEqual(ipAddresses(ns, "usb0"), [])
        let until = Date().addingTimeInterval(5)
        while lab.leases.contains("10.77.0.") && Date() < until { usleep(50_000) }
        XCTAssertFalse(lab.leases.contains("10.77.0."), "RELEASE reached dnsmasq")
    }

    func testNoLeaseTimesOut() throws {
        guard isRoot else { throw XCTSkip("needs root") }
        let lab = try DHCPLab()
        lab.stopServer()
        let r = shell(["ip", "netns", "exec", lab.client.name, productPath("qcm"), "dhcp", "-i", "usb0", "-q", "--timeout", "2", "--dns", "none", "--run-dir", runDir])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("no lease on usb0 within 2 s"), r.output)
    }
}
