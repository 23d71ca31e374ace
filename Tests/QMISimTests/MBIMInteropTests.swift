import Foundation
import XCTest
import Base
import CSystem
import MBIMCore
@testable import QMISim
import TestSupport

/// libmbim's mbimcli, a client nobody here wrote, accepts the MBIM simulator through the
/// mbim-proxy protocol.
final class MBIMInteropTests: XCTestCase {
    func testMbimcliTalksToTheSimulator() throws {
        guard which("mbimcli") else { throw XCTSkip("mbimcli is not installed (Debian: libmbim-utils; scripts/test installs it)") }
        guard isRoot else { throw XCTSkip("needs root: a private network namespace for @mbim-proxy") }
        let ns = try TestNamespace("qcm-mbimcli")
        let sim = MBIMSimulator()
        try ns.inside { try sim.listen("@mbim-proxy", proxy: true) }
        sim.start()
        defer { sim.shutdown() }
        func mbimcli(_ args: String...) -> (status: Int32, output: String) {
            shell(["ip", "netns", "exec", ns.name, "mbimcli", "-p", "-d", "/dev/null"] + args)
        }
        var r = mbimcli("--query-device-caps")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("Device ID: '867394041355693'"), r.output)
        XCTAssertTrue(r.output.contains("Firmware info: 'RM500QGLABR11A06M4G'"), r.output)
        r = mbimcli("--query-subscriber-ready-status")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("Ready state: 'initialized'"), r.output)
        XCTAssertTrue(r.output.contains("SIM ICCID: '89860117851101539010'"), r.output)
        r = mbimcli("--set-radio-state=on")
        XCTAssertEqual(r.status, 0, r.output)
        usleep(100_000)
        r = mbimcli("--query-registration-state")
        XCTAssertTrue(r.output.contains("Register state: 'home'"), r.output)
        XCTAssertTrue(r.output.contains("Provider name: 'CHN-UNICOM'"), r.output)
        r = mbimcli("--attach-packet-service")
        XCTAssertEqual(r.status, 0, r.output)
        r = mbimcli("--connect=access-string=cmnet,ip-type=ipv4,auth=none")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("Successfully connected"), r.output)
        XCTAssertTrue(r.output.contains("IP [0]: '10.90.1.113/30'"), r.output)
        XCTAssertTrue(r.output.contains("Gateway: '10.90.1.114'"), r.output)
        XCTAssertTrue(r.output.contains("DNS [0]: '211.138.180.2'"), r.output)
        XCTAssertEqual(sim.sessionCount, 1)
        r = mbimcli("--query-connection-state")
        XCTAssertTrue(r.output.contains("Activation state: 'activated'"), r.output)
        r = mbimcli("--query-signal-state")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("RSSI [0-31,99]: '20'"), r.output)
        // Distinct counters, so a field out of place shows.
        sim.locked { sim.counters = (inOctets: 1000, inPackets: 10, outOctets: 2000, outPackets: 20, outDiscards: 3) }
        r = mbimcli("--query-packet-statistics")
        XCTAssertEqual(r.status, 0, r.output)
        for line in ["Octets (in): '1000'", "Packets (in): '10'", "Octets (out): '2000'", "Packets (out): '20'",
                     "Discards (out): '3'", "Discards (in): '0'"] {
            XCTAssertTrue(r.output.contains(line), line + " in " + r.output)
        }
        r = mbimcli("--disconnect")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(sim.sessionCount, 0)
        // A refused CONNECT is reported by name.
        sim.locked { sim.config.rejectConnect = (18, 27) }
        r = mbimcli("--connect=access-string=nosuch")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("InvalidAccessString"), r.output)
    }
}
