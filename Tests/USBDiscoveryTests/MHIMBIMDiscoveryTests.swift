import Foundation
import XCTest
@testable import USBDiscovery

/// Quectel's pcie_mhi loaded with mhi_mbim_enabled=1: the driver configures the MBIM channel
/// instead of QMI0 (mhi_uci's /dev/mhi_MBIM), and its children rmnet_mhi0.1 … rmnet_mhi0.N
/// (qmap_mode N) carry MBIM sessions. Trees as the captures show them
/// (pcie_mhi_mbim.txt: RM500Q 17cb:0306, qmap_mode 1; pcie_mhi_mbim_qmap=4.txt: EM120R-GL
/// 17cb:0304, qmap_mode 4).
final class MHIMBIMDiscoveryTests: XCTestCase {
    func tree(product: String = "0304", mode: Int = 4, children: [Int]? = nil, node: Bool = true) -> FixtureTree {
        let t = FixtureTree()
        t.dir("sys/bus/mhi_q/devices/\(product)_00.01.00_IP_HW0/net/rmnet_mhi0")
        t.file("sys/bus/mhi_q/devices/\(product)_00.01.00_MBIM/mhi_uci_q/mhi_MBIM/uevent", "MAJOR=243\nMINOR=1\nDEVNAME=mhi_MBIM")
        t.dir("sys/bus/mhi_q/devices/\(product)_00.01.00_DUN/mhi_uci_q/mhi_DUN")
        t.file("sys/module/pcie_mhi/version", "V1.3.0.17")
        t.file("sys/module/pcie_mhi/parameters/qmap_mode", "\(mode)")
        t.file("sys/module/pcie_mhi/parameters/mhi_mbim_enabled", "1")
        t.file("sys/class/net/rmnet_mhi0/qmap_mode", "\(mode)")
        t.file("sys/class/net/rmnet_mhi0/link_state", "0x0")
        for n in children ?? Array(stride(from: 1, through: mode, by: 1)) { t.file("sys/class/net/rmnet_mhi0.\(n)/type", "1") }
        t.dir("sys/class/net/lo")
        if node { t.file("dev/mhi_MBIM", "") }
        return t
    }

    func testMBIMModeWithFourChildren() throws {
        let t = tree()
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 1)
        let m = r.modems[0]
        XCTAssertEqual(m.mode, .mbim)
        XCTAssertEqual(m.control, .mbim)
        XCTAssertTrue(m.speaksMBIM)
        XCTAssertTrue(m.isPCIeMHI)
        XCTAssertTrue(m.usable)
        XCTAssertEqual(m.driver, "pcie_mhi")
        XCTAssertEqual(m.driverVersion, "V1.3.0.17")
        XCTAssertEqual(m.productID, 0x0304)
        XCTAssertEqual(m.controlDevice, t.dev + "/mhi_MBIM")
        XCTAssertEqual(m.netInterfaces, ["rmnet_mhi0"], "the parent first: link_state is its attribute")
        XCTAssertEqual(m.qmapChildren, ["rmnet_mhi0.1", "rmnet_mhi0.2", "rmnet_mhi0.3", "rmnet_mhi0.4"])
        XCTAssertEqual(m.qmapMode, 4)
        XCTAssertEqual(m.warnings, [])
        XCTAssertEqual(m.summary, "PCIe (MHI) module 0304_00.01.00 17cb:0304 at pcie 0304_00.01.00: MBIM, driver pcie_mhi, \(t.dev)/mhi_MBIM, rmnet_mhi0")
        XCTAssertTrue(try Discovery.select(r, interface: "rmnet_mhi0.2") === m, "a child names its modem")
        XCTAssertTrue(try Discovery.select(r, device: "/dev/mhi_MBIM") === m)
    }

    func testMBIMModeWithQMAPMode1() throws {
        let t = tree(product: "0306", mode: 1)
        let m = try XCTUnwrap(Discovery.scan(t.options).modems.first)
        XCTAssertEqual(m.control, .mbim)
        XCTAssertEqual(m.qmapChildren, ["rmnet_mhi0.1"])
        XCTAssertEqual(m.qmapMode, 1)
        XCTAssertEqual(m.warnings, [])
    }

    /// What keeps the driver from carrying a session is said: qmap_mode 0 (no child),
    /// children missing, the node missing (with its mknod line).
    func testWhatIsMissingIsSaid() throws {
        let zero = tree(mode: 0), two = tree(children: [1, 2]), t = tree(node: false)
        var m = try XCTUnwrap(Discovery.scan(zero.options).modems.first)
        XCTAssertEqual(m.warnings, ["pcie_mhi runs qmap_mode 0, which with mhi_mbim_enabled makes no rmnet_mhi0.N to carry an MBIM session: load it with qmap_mode=1 (its default) or more"])
        XCTAssertEqual(m.qmapChildren, [])
        m = try XCTUnwrap(Discovery.scan(two.options).modems.first)
        XCTAssertEqual(m.warnings, ["pcie_mhi runs qmap_mode 4 but rmnet_mhi0.3, rmnet_mhi0.4 are missing"])
        m = try XCTUnwrap(Discovery.scan(t.options).modems.first)
        XCTAssertEqual(m.warnings, ["\(t.dev)/mhi_MBIM does not exist (udev not running? create it: mknod \(t.dev)/mhi_MBIM c 243 1)"])
    }

    /// quectel-CM's fallback without an MHI bus listing: rmnet_mhi0 and /dev/mhi_MBIM.
    func testFallbackWithoutTheBusListing() throws {
        let t = FixtureTree()
        t.file("sys/class/net/rmnet_mhi0/qmap_mode", "1")
        t.dir("sys/class/net/rmnet_mhi0.1")
        t.file("dev/mhi_MBIM", "")
        let m = try XCTUnwrap(Discovery.scan(t.options).modems.first)
        XCTAssertEqual(m.control, .mbim)
        XCTAssertEqual(m.controlDevice, t.dev + "/mhi_MBIM")
        XCTAssertEqual(m.qmapChildren, ["rmnet_mhi0.1"])
    }

    /// The data channel's netdev without a control node: not dialed, and why.
    func testNoControlChannel() {
        let t = FixtureTree()
        t.dir("sys/bus/mhi_q/devices/0306_00.01.00_IP_HW0/net/rmnet_mhi0")
        t.dir("sys/bus/mhi_q/devices/0306_00.01.00_MBIM")
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 1)
        XCTAssertNil(r.modems[0].control)
        XCTAssertThrowsError(try Discovery.select(r)) { e in
            let text = (e as? DiscoveryError)?.description ?? ""
            XCTAssertTrue(text.contains("has no control channel: pcie_mhi made neither /dev/mhi_QMI0 nor /dev/mhi_MBIM (mhi_uci_q under 0306_00.01.00_QMI0 or _MBIM)"), text)
        }
    }
}
