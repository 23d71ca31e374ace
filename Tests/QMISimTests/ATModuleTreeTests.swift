import Foundation
import XCTest
import Base
@testable import QMISim

/// The fake sysfs trees of AT-dialed modules, read the way quectel-CM reads them (device.c):
/// the netdev is the first `net/` child of an interface, the driver type comes from that
/// interface's class triple, and the AT tty is the first `tty*` child of the interface its
/// table names. Plain file checks: no root needed.
final class ATModuleTreeTests: XCTestCase {
    var root = ""
    let fm = FileManager.default
    let usb = "/sys/bus/usb/devices/1-1.2"

    override func setUp() { root = NSTemporaryDirectory() + "qsim-at-" + UUID().uuidString }
    override func tearDown() { try? fm.removeItem(atPath: root) }

    /// quectel-CM's table, written out here again so the tree is checked against it and not
    /// against itself.
    let atInterfaces: [(product: String, ecm: Int, rndis: Int)] = [
        ("0901", 2, 2), ("0902", 2, 2), ("8101", 2, 2), ("0900", 4, 4),
        ("6026", 3, 3), ("6005", 3, 3), ("6002", 3, 3), ("6001", 3, 3), ("6007", 3, 5),
    ]
    let controlClass = ["cdc_ether": "02/06/00", "cdc_ncm": "02/0d/00", "rndis_host": "e0/01/03"]

    func read(_ p: String) -> String? {
        (try? String(contentsOfFile: root + p, encoding: .utf8)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    func children(_ p: String) -> [String] { ((try? fm.contentsOfDirectory(atPath: root + p)) ?? []).sorted() }

    /// The real path of `p` (symlinks followed), as a path under the root; nil when it does not exist.
    func resolved(_ p: String) -> String? {
        func real(_ q: String) -> String? {
            guard let r = realpath(q, nil) else { return nil }
            defer { free(r) }
            return String(cString: r)
        }
        guard let base = real(root), let full = real(root + p), full.hasPrefix(base + "/") else { return nil }
        return String(full.dropFirst(base.count))
    }

    func triple(_ intf: String) -> String {
        ["bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol"].map { read("\(usb)/\(intf)/\($0)") ?? "?" }.joined(separator: "/")
    }

    func testEveryProductAndDriverLooksLikeTheModule() throws {
        for (product, ecm, rndis) in atInterfaces {
            for driver in FakeHardware.atNetDrivers {
                try? fm.removeItem(atPath: root)
                try FakeHardware.writeATModule(root: root, product: product, netDriver: driver)
                let what = "\(product)/\(driver)"
                XCTAssertEqual(read(usb + "/idVendor"), "2c7c", what)
                XCTAssertEqual(read(usb + "/idProduct"), product, what)
                XCTAssertEqual(read(usb + "/busnum"), "1", what)
                XCTAssertEqual(read(usb + "/devnum"), "3", what)
                let count = try XCTUnwrap(read(usb + "/bNumInterfaces").flatMap { Int($0) }, what)
                XCTAssertTrue((5...9).contains(count), "\(what): \(count) interfaces")
                XCTAssertEqual(children(usb).filter { $0.hasPrefix("1-1.2:1.") }.count, count, what)

                // The network function: control interface 0 owns the netdev; the data interface is claimed too.
                XCTAssertEqual(triple("1-1.2:1.0"), controlClass[driver], what)
                XCTAssertEqual(triple("1-1.2:1.1"), driver == "cdc_ncm" ? "0a/00/01" : "0a/00/00", what)
                for i in 0...1 {
                    XCTAssertEqual(resolved("\(usb)/1-1.2:1.\(i)/driver"), "/sys/bus/usb/drivers/\(driver)", what)
                }
                let netdev = (0...(count + 8)).lazy.compactMap { self.children("\(self.usb)/1-1.2:1.\($0)/net").first }.first
                XCTAssertEqual(netdev, "usb0", what)
                XCTAssertEqual(resolved("/sys/class/net/usb0/device"), resolved("/sys/bus/usb/devices/1-1.2:1.0"), what)
                XCTAssertNotNil(read("/sys/module/\(driver)/version"), what)
                XCTAssertNil(read("/sys/class/net/usb0/link_state"), "\(what): only qmi_wwan_q/GobiNet have link_state")

                // The serial ports: ff/00/00 on option, ttyUSB0… in interface order.
                for (k, i) in (2..<count).enumerated() {
                    let intf = "1-1.2:1.\(i)"
                    XCTAssertEqual(triple(intf), "ff/00/00", what)
                    XCTAssertEqual(Int(read("\(usb)/\(intf)/bInterfaceNumber") ?? "", radix: 16), i, what)
                    XCTAssertEqual(resolved("\(usb)/\(intf)/driver"), "/sys/bus/usb/drivers/option", what)
                    XCTAssertEqual(children("\(usb)/\(intf)").filter { $0.hasPrefix("tty") }, ["ttyUSB\(k)"], what)
                    XCTAssertEqual(read("\(usb)/\(intf)/ttyUSB\(k)/tty/ttyUSB\(k)/dev"), "188:\(k)", what)
                    XCTAssertEqual(resolved("/sys/class/tty/ttyUSB\(k)"), resolved("\(usb)/\(intf)").map { "\($0)/ttyUSB\(k)/tty/ttyUSB\(k)" }, what)
                    XCTAssertEqual(resolved("/sys/bus/usb-serial/devices/ttyUSB\(k)"), resolved("\(usb)/\(intf)").map { "\($0)/ttyUSB\(k)" }, what)
                }

                // The AT port: the first tty* child of the interface in quectel-CM's table.
                let at = driver == "rndis_host" ? rndis : ecm
                XCTAssertEqual(FakeHardware.atInterface(product: product, netDriver: driver), at, what)
                let tty = children("\(usb)/1-1.2:1.\(at)").first { $0.hasPrefix("tty") }
                XCTAssertEqual(tty, FakeHardware.atPort(product: product, netDriver: driver), what)
                XCTAssertEqual(tty, "ttyUSB\(at - 2)", what)
            }
        }
        XCTAssertEqual(FakeHardware.atPort(product: "0901", netDriver: "cdc_ether"), "ttyUSB0", "EC200U: If#2 is ttyUSB0")
        XCTAssertEqual(FakeHardware.atPort(product: "6007", netDriver: "rndis_host"), "ttyUSB3")
    }

    func testUnboundPortsHaveNoDriverAndNoTTY() throws {
        try FakeHardware.writeATModule(root: root, product: "8101", netDriver: "cdc_ncm", atPortBound: false)
        XCTAssertNil(FakeHardware.atPort(product: "8101", netDriver: "cdc_ncm", atPortBound: false))
        XCTAssertEqual(read(usb + "/1-1.2:1.2/bInterfaceClass"), "ff", "the interface is there")
        XCTAssertNil(resolved(usb + "/1-1.2:1.2/driver"))
        XCTAssertEqual(children(usb + "/1-1.2:1.2").filter { $0.hasPrefix("tty") }, [])
        XCTAssertEqual(children("/sys/class/tty"), [], "option bound no port of this product")
        XCTAssertEqual(resolved(usb + "/1-1.2:1.0/driver"), "/sys/bus/usb/drivers/cdc_ncm", "the network function still binds")
    }

    func testUnknownProductHasSerialPortsButNoATPort() throws {
        try FakeHardware.writeATModule(root: root, product: "0125", netDriver: "cdc_ether", netdev: "eth2")
        XCTAssertNil(FakeHardware.atPort(product: "0125", netDriver: "cdc_ether"))
        XCTAssertEqual(children(usb + "/1-1.2:1.0/net"), ["eth2"])
        XCTAssertTrue(fm.fileExists(atPath: root + "/sys/class/net/eth2"))
        XCTAssertEqual(children("/sys/class/tty").count, 5)
        XCTAssertThrowsError(try FakeHardware.writeATModule(root: root, netDriver: "qmi_wwan"))
    }

    func testUNISOCPCIeLayout() throws {
        try FakeHardware.writeUNISOCPCIe(root: root)
        XCTAssertEqual(children("/sys/class/net"), ["pcie0", "sipa_dummy0"])
        XCTAssertTrue(fm.fileExists(atPath: root + "/dev"))
        XCTAssertEqual(FakeHardware.unisocPCIeATPort, "stty_nr31")
    }

    func testMadeRemovesExactlyWhatWasMade() throws {
        // A fresh root goes entirely.
        let made = FakeHardware.Made(root: root)
        try FakeHardware.writeATModule(root: root, product: "0900", netDriver: "rndis_host")
        made.remove(socket: nil)
        XCTAssertFalse(fm.fileExists(atPath: root))

        // A root that had a dev of its own: sys goes, dev and what was there stay.
        try fm.createDirectory(atPath: root + "/dev", withIntermediateDirectories: true)
        try "mine\n".write(toFile: root + "/dev/keep", atomically: true, encoding: .utf8)
        let again = FakeHardware.Made(root: root)
        try FakeHardware.writeATModule(root: root)
        try FakeHardware.writeUNISOCPCIe(root: root)
        again.remove(socket: nil)
        XCTAssertEqual(children(""), ["dev"])
        XCTAssertEqual(children("/dev"), ["keep"])
    }
}
