import Base
import Foundation
import XCTest
@testable import USBDiscovery

/// The UNISOC/ASR modules qcm dials with AT commands: their AT port (quectel-CM's table of
/// interface numbers), their ECM/NCM/RNDIS netdev found through sysfs, UNISOC PCIe, and what
/// qcm says when a piece is missing.
final class ATDiscoveryTests: XCTestCase {
    func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return (error as? DiscoveryError)?.description ?? "\(error)"
        }
    }

    // quectel-CM device.c: the AT interface of each product. Serial interfaces start at 2
    // (ttyUSB0), so interface n is ttyUSB(n-2).
    func testEachProductsATInterface() throws {
        let expected: [(String, Int, String)] = [
            ("0901", 2, "EC200U"), ("0902", 2, "EC200D"), ("8101", 2, "RG801H"), ("0900", 4, "RG500U"),
            ("6026", 3, "EC200T"), ("6005", 3, "EC200A"), ("6002", 3, "EC200S"), ("6001", 3, "EC100Y"),
            ("6007", 3, "EG915Q/EG800Q"),
        ]
        XCTAssertEqual(QuectelModels.atInterfaces.count, expected.count)
        for (pid, n, model) in expected {
            let t = FixtureTree()
            t.atModule("1-1.2", product: pid)
            let r = Discovery.scan(t.options)
            XCTAssertEqual(r.modems.count, 1)
            let m = try Discovery.select(r)
            XCTAssertEqual(m.model, model, pid)
            XCTAssertEqual(m.mode, .ncm, pid)
            XCTAssertEqual(m.driver, "cdc_ncm", pid)
            XCTAssertEqual(m.control, .at, pid)
            XCTAssertTrue(m.speaksAT, pid)
            XCTAssertEqual(m.atInterfaceNumber, n, pid)
            XCTAssertEqual(m.atInterface, "1-1.2:1.\(n)", pid)
            XCTAssertEqual(m.atInterfaceDriver, "option", pid)
            XCTAssertEqual(m.atPort, t.dev + "/ttyUSB\(n - 2)", pid)
            XCTAssertTrue(m.atPortExists, pid)
            XCTAssertNil(m.controlDevice, pid)
            XCTAssertEqual(m.interface, "1-1.2:1.0", pid)
            XCTAssertEqual(m.netInterfaces, ["usb0"], pid)
            XCTAssertEqual(m.warnings, [], pid)
            XCTAssertTrue(m.usable, pid)
            XCTAssertEqual(m.summary, "\(model) 2c7c:\(pid) at usb 1-1.2: NCM, driver cdc_ncm, AT port \(t.dev)/ttyUSB\(n - 2), usb0")
        }
        // Qualcomm modules and other vendors have no AT interface in the table.
        XCTAssertNil(QuectelModels.atInterface(vendor: 0x2c7c, product: 0x0125, rndis: false))
        XCTAssertNil(QuectelModels.atInterface(vendor: 0x1234, product: 0x0901, rndis: false))
    }

    func testECMAndTheAttributesOfTheNetdev() throws {
        let t = FixtureTree()
        t.atModule("1-1.2", product: "0901", net: "02/06/00", netDriver: "cdc_ether")
        t.file("sys/module/cdc_ether/version", "22-Aug-2005")
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.mode, .ecm)
        XCTAssertEqual(m.driver, "cdc_ether")
        XCTAssertEqual(m.driverVersion, "22-Aug-2005")
        XCTAssertEqual(m.atPort, t.dev + "/ttyUSB0")
        XCTAssertNil(m.rawIP)
        XCTAssertNil(m.qmapMode)
    }

    // EG915Q/EG800Q move the AT port to interface 5 in RNDIS mode; rndis_host binds three
    // triples, and all three are RNDIS.
    func testRNDISMovesTheEG915QPortToInterface5() throws {
        for triple in ["e0/01/03", "02/02/ff", "ef/04/01"] {
            let t = FixtureTree()
            t.atModule("1-1.2", product: "6007", net: triple, netDriver: "rndis_host")
            let m = try Discovery.select(Discovery.scan(t.options))
            XCTAssertEqual(m.mode, .rndis, triple)
            XCTAssertEqual(m.atInterfaceNumber, 5, triple)
            XCTAssertEqual(m.atInterface, "1-1.2:1.5", triple)
            XCTAssertEqual(m.atPort, t.dev + "/ttyUSB3", triple)
        }
        // Only 0x6007 moves: EC200A in RNDIS mode keeps interface 3.
        let a = FixtureTree()
        a.atModule("1-1.2", product: "6005", net: "e0/01/03", netDriver: "rndis_host")
        XCTAssertEqual(try Discovery.select(Discovery.scan(a.options)).atPort, a.dev + "/ttyUSB1")
        // With no driver bound, the class triple still tells RNDIS (and where the port is).
        let bare = FixtureTree()
        bare.atModule("1-1.2", product: "6007", net: "ef/04/01", netDriver: nil, netdev: nil)
        let m = try XCTUnwrap(Discovery.scan(bare.options).modems.first)
        XCTAssertEqual(m.mode, .rndis)
        XCTAssertEqual(m.atPort, bare.dev + "/ttyUSB3")
        let text = message { try Discovery.select(Discovery.scan(bare.options)) }
        XCTAssertTrue(text.contains("no network interface: no driver is bound to its RNDIS function (1-1.2:1.0): load rndis_host (modprobe rndis_host)"), text)
    }

    // cdc-acm puts the tty one level down: <intf>/tty/ttyACMn.
    func testCdcAcmLayout() throws {
        let t = FixtureTree()
        t.usbDevice("1-1.2", product: "0901", busnum: 1, interfaces: [
            (0, "02/0d/00", "cdc_ncm", ["net/usb0"]), (1, "0a/00/01", "cdc_ncm", []),
            (2, "02/02/01", "cdc_acm", ["tty/ttyACM0"]), (3, "0a/00/00", "cdc_acm", []),
        ])
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 1)
        XCTAssertEqual(r.modems[0].atPort, t.dev + "/ttyACM0")
        XCTAssertEqual(r.modems[0].atInterfaceDriver, "cdc_acm")
        // No node in dev/: a warning with the mknod line, from the tty's uevent.
        XCTAssertFalse(r.modems[0].atPortExists)
        XCTAssertEqual(r.modems[0].warnings, ["\(t.dev)/ttyACM0 does not exist (udev not running? create it: mknod \(t.dev)/ttyACM0 c 166 0)"])
        XCTAssertTrue(r.modems[0].usable)      // as for a missing cdc-wdm node: the session says so when it opens it
    }

    func testMissingTTYUSBNodeIsAWarning() throws {
        let t = FixtureTree()
        t.atModule("1-1.2", product: "0900", nodes: false)
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.atPort, t.dev + "/ttyUSB2")
        XCTAssertFalse(m.atPortExists)
        XCTAssertEqual(m.warnings, ["\(t.dev)/ttyUSB2 does not exist (udev not running? create it: mknod \(t.dev)/ttyUSB2 c 188 2)"])
    }

    // The netdev is whatever sysfs shows under the network function (eth2 on kernels since
    // 2021, enx... after udev renamed it), never an assumed usb0.
    func testNetdevFoundThroughSysfsWhateverItsName() throws {
        for name in ["eth2", "enx0c5b8f279a64"] {
            let t = FixtureTree()
            t.atModule("1-1.2", product: "8101", netdev: name)
            let r = Discovery.scan(t.options)
            XCTAssertEqual(r.modems.first?.netInterfaces, [name])
            XCTAssertEqual(try Discovery.select(r, interface: name).sysfsName, "1-1.2")
            XCTAssertEqual(try Discovery.select(r).netInterface, name)
            XCTAssertThrowsError(try Discovery.select(r, interface: "usb0"))
        }
    }

    // EC200D and RG801H are not in mainline option.c: no driver on the serial interfaces, no tty.
    func testTableModuleWithoutTTYSaysHowToBindOption() {
        let t = FixtureTree()
        t.atModule("1-1.2", product: "0902", ttys: false)
        let r = Discovery.scan(t.options)
        let m = r.modems[0]
        XCTAssertTrue(m.speaksAT)
        XCTAssertEqual(m.control, .at)
        XCTAssertNil(m.atPort)
        XCTAssertEqual(m.atInterface, "1-1.2:1.2")
        XCTAssertNil(m.atInterfaceDriver)
        XCTAssertFalse(m.usable)
        let fix = "echo 2c7c 0902 ff > /sys/bus/usb-serial/drivers/option1/new_id"
        XCTAssertEqual(m.warnings.count, 1)
        XCTAssertTrue(m.warnings[0].contains(fix), m.warnings[0])
        let text = message { try Discovery.select(r) }
        XCTAssertTrue(text.hasPrefix("EC200D 2c7c:0902 at usb 1-1.2: NCM, driver cdc_ncm, usb0: its AT port, USB interface 2 (1-1.2:1.2), has no tty: the option driver is not bound to it."), text)
        XCTAssertTrue(text.contains("Mainline option.c lacks 2c7c:0902 and 2c7c:8101"), text)
        XCTAssertTrue(text.contains("modprobe option; " + fix), text)
        XCTAssertEqual(text.components(separatedBy: fix).count, 2, "the reason is not repeated from the warnings: " + text)
        // Asked for by its netdev, the same answer.
        XCTAssertEqual(message { try Discovery.select(r, interface: "usb0") }, text)

        // Bound to some other driver: said so.
        let other = FixtureTree()
        other.usbDevice("1-1.2", product: "8101", busnum: 1, interfaces: [
            (0, "02/0d/00", "cdc_ncm", []), (1, "0a/00/01", "cdc_ncm", []), (2, "ff/00/00", "usbfs", []),
        ])
        let o = message { try Discovery.select(Discovery.scan(other.options)) }
        XCTAssertTrue(o.contains("USB interface 2 (1-1.2:1.2), has no tty: usbfs is bound to it, not option."), o)
        XCTAssertTrue(o.contains("echo 2c7c 8101 ff > /sys/bus/usb-serial/drivers/option1/new_id"), o)
        XCTAssertTrue(o.contains("It has no network interface either: cdc_ncm is bound to 1-1.2:1.0 but it made no netdev"), o)

        // The interface is not there at all (EG915Q in RNDIS mode wants interface 5).
        let short = FixtureTree()
        short.atModule("1-1.2", product: "6007", net: "e0/01/03", netDriver: "rndis_host", serial: 2...4)
        let s = message { try Discovery.select(Discovery.scan(short.options)) }
        XCTAssertTrue(s.contains("its AT port should be USB interface 5 (quectel-CM's number for 2c7c:6007 in RNDIS mode), which 1-1.2 does not have"), s)
    }

    func testATPortButNoNetdev() {
        let t = FixtureTree()
        t.atModule("1-1.2", product: "0901", netdev: nil)
        let text = message { try Discovery.select(Discovery.scan(t.options)) }
        XCTAssertEqual(text, "EC200U 2c7c:0901 at usb 1-1.2: NCM, driver cdc_ncm, AT port \(t.dev)/ttyUSB0: no network interface: cdc_ncm is bound to 1-1.2:1.0 but it made no netdev")
        let bare = FixtureTree()
        bare.atModule("1-1.2", product: "0901", net: "02/06/00", netDriver: nil, netdev: nil)
        let b = message { try Discovery.select(Discovery.scan(bare.options)) }
        XCTAssertTrue(b.contains("no network interface: no driver is bound to its ECM function (1-1.2:1.0): load cdc_ether (modprobe cdc_ether)"), b)
    }

    // A module qcm dials by QMI/MBIM (EC25), or an id qcm does not know, in NCM/ECM mode.
    func testModuleNotDialedByATInNCMMode() {
        let t = FixtureTree()
        t.atModule("1-1.2", product: "1234")
        let r = Discovery.scan(t.options)
        XCTAssertFalse(r.modems[0].speaksAT)
        XCTAssertNil(r.modems[0].control)
        XCTAssertNil(r.modems[0].atPort)
        let text = message { try Discovery.select(r) }
        XCTAssertTrue(text.hasPrefix("Quectel module 0x1234 2c7c:1234 at usb 1-1.2 works in NCM mode (driver cdc_ncm). qcm does not know product id 2c7c:1234, so not its AT port either;"), text)
        XCTAssertTrue(text.contains("EC200U (0901), EC200D (0902), RG801H (8101), RG500U (0900)"), text)
        XCTAssertTrue(text.contains("send AT+QCFG=\"usbnet\",0 (QMI) or 2 (MBIM)"), text)
        XCTAssertTrue(text.contains("Naming its tty with --device /dev/ttyUSBn is not enough: qcm does not dial this module with AT commands."), text)
        // --device with one of its ttys: the same explanation, not "no such device".
        XCTAssertEqual(message { try Discovery.select(r, device: "/dev/ttyUSB2") }, text)

        let ec25 = FixtureTree()
        ec25.quectel("2-1", driver: "cdc_ether", control: nil, net: "usb0", netClass: "02/06/00")
        let e = message { try Discovery.select(Discovery.scan(ec25.options)) }
        XCTAssertTrue(e.hasPrefix("EC25/EC20 R2.x (EC2x/EG2x) 2c7c:0125 at usb 2-1 works in ECM mode (driver cdc_ether). qcm speaks QMI and MBIM to this module:"), e)
        XCTAssertTrue(e.contains("--device /dev/ttyUSBn is not enough"), e)
        XCTAssertEqual(message { try Discovery.select(Discovery.scan(ec25.options), device: "ttyUSB2") }, e)
        // Not a tty: no such device, as before.
        XCTAssertTrue(message { try Discovery.select(Discovery.scan(ec25.options), device: "/dev/cdc-wdm0") }
            .hasPrefix("no modem has the QMI/MBIM channel or AT port '/dev/cdc-wdm0'; found:"))
    }

    // With a QMI module beside an AT one, neither is picked alone; -i and --device choose.
    func testAmbiguousWithAQMIModule() throws {
        let t = FixtureTree()
        t.quectel("2-1.2", driver: "qmi_wwan", control: "cdc-wdm0", net: "wwan0")
        t.atModule("1-1.3", product: "0901", firstTTY: 4)
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.map { $0.control }, [.at, .qmi])
        XCTAssertThrowsError(try Discovery.select(r)) { e in
            guard case .ambiguous(let ms) = e as! DiscoveryError else { return XCTFail("\(e)") }
            XCTAssertEqual(ms.map { $0.sysfsName }, ["1-1.3", "2-1.2"])
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("  EC25/EC20 R2.x (EC2x/EG2x) 2c7c:0125 at usb 2-1.2: QMI, driver qmi_wwan, \(t.dev)/cdc-wdm0, wwan0"), text)
            XCTAssertTrue(text.contains("  EC200U 2c7c:0901 at usb 1-1.3: NCM, driver cdc_ncm, AT port \(t.dev)/ttyUSB4, usb0"), text)
        }
        // --device: the AT port in full, under /dev, or by name; the QMI channel likewise.
        XCTAssertEqual(try Discovery.select(r, device: t.dev + "/ttyUSB4").sysfsName, "1-1.3")
        XCTAssertEqual(try Discovery.select(r, device: "/dev/ttyUSB4").sysfsName, "1-1.3")
        XCTAssertEqual(try Discovery.select(r, device: "ttyUSB4").sysfsName, "1-1.3")
        XCTAssertEqual(try Discovery.select(r, device: "/dev/cdc-wdm0").sysfsName, "2-1.2")
        // The EC25's own ttys are not AT ports qcm dials.
        XCTAssertTrue(message { try Discovery.select(r, device: "/dev/ttyUSB2") }.hasPrefix("no modem has the QMI/MBIM channel or AT port '/dev/ttyUSB2'"))
        // -i: the netdev, as for QMI.
        XCTAssertEqual(try Discovery.select(r, interface: "usb0").sysfsName, "1-1.3")
        XCTAssertEqual(try Discovery.select(r, interface: "wwan0").sysfsName, "2-1.2")
    }

    // quectel-CM's atdevice_detect: /sys/class/net/sipa_dummy0 and /dev/stty_nr31.
    func testUNISOCPCIe() throws {
        let t = FixtureTree()
        for n in ["sipa_dummy0", "pcie0", "pcie1", "pcie10", "pcie2", "eth0", "pcie_x"] { t.dir("sys/class/net/" + n) }
        t.file("dev/stty_nr31", "")
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 1)
        let m = try Discovery.select(r)
        XCTAssertEqual(m.bus, "pcie")
        XCTAssertEqual(m.sysfsName, "sipa_dummy0")
        XCTAssertEqual(m.mode, .sipa)
        XCTAssertEqual(m.control, .at)
        XCTAssertEqual(m.atPort, t.dev + "/stty_nr31")
        XCTAssertTrue(m.atPortExists)
        XCTAssertNil(m.controlDevice)
        XCTAssertEqual(m.netInterfaces, ["pcie0", "pcie1", "pcie2", "pcie10"])
        XCTAssertEqual(m.summary, "UNISOC PCIe module at pcie sipa_dummy0: SIPA, AT port \(t.dev)/stty_nr31, pcie0/pcie1/pcie2/pcie10")
        XCTAssertEqual(try Discovery.select(r, interface: "pcie1").sysfsName, "sipa_dummy0")
        XCTAssertEqual(try Discovery.select(r, device: "/dev/stty_nr31").sysfsName, "sipa_dummy0")

        // No pcieN netdev: said so.
        let nonet = FixtureTree()
        nonet.dir("sys/class/net/sipa_dummy0")
        nonet.file("dev/stty_nr31", "")
        let text = message { try Discovery.select(Discovery.scan(nonet.options)) }
        XCTAssertEqual(text, "UNISOC PCIe module at pcie sipa_dummy0: SIPA, AT port \(nonet.dev)/stty_nr31: no network interface: sipa_dummy0 and \(nonet.dev)/stty_nr31 are there but no pcieN netdev is beside \(nonet.sys)/class/net/sipa_dummy0")

        // One of the two only: no modem, and "looked at" says which half is missing.
        let half = FixtureTree()
        half.dir("sys/class/net/sipa_dummy0")
        let h = Discovery.scan(half.options)
        XCTAssertTrue(h.modems.isEmpty)
        XCTAssertTrue(h.looked.contains("\(half.sys)/class/net/sipa_dummy0 (a UNISOC PCIe module, but \(half.dev)/stty_nr31 does not exist)"), "\(h.looked)")

        // An MHI module wins, as in quectel-CM (USB, then MHI, then the AT fallback).
        t.dir("sys/bus/mhi_q/devices/0306_00.01.00_IP_HW0/net/rmnet_mhi0")
        t.dir("sys/bus/mhi_q/devices/0306_00.01.00_QMI0/mhi_uci_q/mhi_QMI0")
        t.file("dev/mhi_QMI0", "")
        XCTAssertEqual(Discovery.scan(t.options).modems.map { $0.sysfsName }, ["0306_00.01.00"])
    }

    // A USB AT module and the PCIe one are both found (quectel-CM stops at the first; qcm lists all).
    func testUSBAndUNISOCPCIeTogether() {
        let t = FixtureTree()
        t.atModule("1-1.2", product: "0901")
        t.dir("sys/class/net/sipa_dummy0")
        t.dir("sys/class/net/pcie0")
        t.file("dev/stty_nr31", "")
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.map { $0.sysfsName }, ["1-1.2", "sipa_dummy0"])
        XCTAssertThrowsError(try Discovery.select(r))
        XCTAssertEqual(try? Discovery.select(r, device: "ttyUSB0").sysfsName, "1-1.2")
        XCTAssertEqual(try? Discovery.select(r, interface: "pcie0").sysfsName, "sipa_dummy0")
    }
}
