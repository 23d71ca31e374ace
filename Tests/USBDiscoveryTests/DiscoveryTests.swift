import Base
import Foundation
import XCTest
@testable import USBDiscovery

final class DiscoveryTests: XCTestCase {
    // Seed 003 / reference logs: EC25 (2c7c:0125) at 2-1.2, qmi_wwan, cdc-wdm0 + wwan0.
    func testQmiWwanModem() throws {
        let t = FixtureTree()
        t.quectel("2-1.2", driver: "qmi_wwan", control: "cdc-wdm0", net: "wwan0")
        t.file("sys/class/net/wwan0/qmi/raw_ip", "Y")
        t.file("sys/class/net/wwan0/qmi/add_mux", "")
        t.usbDevice("1-1", vendor: "046d", product: "c077", busnum: 1, devnum: 2, interfaces: [(0, "03/01/02", "usbhid", [])])
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 1)
        let m = try Discovery.select(r)
        XCTAssertEqual(m.sysfsName, "2-1.2")
        XCTAssertEqual(m.vendorID, 0x2c7c)
        XCTAssertEqual(m.productID, 0x0125)
        XCTAssertEqual(m.busNumber, 2)
        XCTAssertEqual(m.deviceNumber, 3)
        XCTAssertEqual(m.model, "EC25/EC20 R2.x (EC2x/EG2x)")
        XCTAssertEqual(m.mode, .qmi)
        XCTAssertEqual(m.interface, "2-1.2:1.4")
        XCTAssertEqual(m.driver, "qmi_wwan")
        XCTAssertNil(m.driverVersion)
        XCTAssertEqual(m.controlDevice, t.dev + "/cdc-wdm0")
        XCTAssertEqual(m.netInterfaces, ["wwan0"])
        XCTAssertEqual(m.rawIP, true)
        XCTAssertTrue(m.addMux)
        XCTAssertEqual(m.warnings, [])
        XCTAssertTrue(m.usable)
        XCTAssertTrue(r.looked[0].contains("2 USB device(s), 1 Quectel"), r.looked[0])
    }

    // Seed 001: qmi_wwan_q V1.2.1 at 2-1, product 0x125.
    func testQmiWwanQWithDriverVersion() throws {
        let t = FixtureTree()
        t.quectel("2-1", driver: "qmi_wwan_q", control: "cdc-wdm0", net: "wwan0")
        t.file("sys/module/qmi_wwan_q/version", "V1.2.1")
        t.file("sys/module/qmi_wwan_q/parameters/qmap_mode", "4")
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.driver, "qmi_wwan_q")
        XCTAssertEqual(m.driverVersion, "V1.2.1")
        XCTAssertEqual(m.qmapMode, 4)
        XCTAssertNil(m.rawIP)
    }

    // Seed 004 / gobinet.txt: GobiNet with GobiQMI/qcqmi0 and usb0.
    func testGobiNet() throws {
        let t = FixtureTree()
        t.quectel("1-1.3", driver: "GobiNet", control: "qcqmi0", net: "usb0", busnum: 1, devnum: 4)
        t.file("sys/module/GobiNet/version", "V1.6.2.13")
        t.file("sys/class/net/usb0/qmap_mode", "1")
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.controlDevice, t.dev + "/qcqmi0")
        XCTAssertEqual(m.netInterfaces, ["usb0"])
        XCTAssertEqual(m.driverVersion, "V1.6.2.13")
        XCTAssertEqual(m.qmapMode, 1)
    }

    // Seed 004: MBIM mode is recognised, and with cdc_mbim bound qcm dials it over MBIM;
    // without the driver it says which one to load.
    func testMBIMModemIsReportedNotSkipped() throws {
        let t = FixtureTree()
        var ifs: [(Int, String, String?, [String])] = (0..<4).map { ($0, "ff/00/00", "option", []) }
        ifs.append((4, "02/0e/00", "cdc_mbim", ["usbmisc/cdc-wdm0", "net/wwan0"]))
        ifs.append((5, "0a/00/02", "cdc_mbim", []))
        t.usbDevice("1-4", product: "0125", busnum: 1, devnum: 11, interfaces: ifs)
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 1)
        XCTAssertEqual(r.modems[0].mode, .mbim)
        XCTAssertEqual(r.modems[0].driver, "cdc_mbim")
        let m = try Discovery.select(r)
        XCTAssertTrue(m.speaksMBIM)
        XCTAssertEqual(m.controlDevice, t.dev + "/cdc-wdm0")
        XCTAssertEqual(m.netInterfaces, ["wwan0"])

        let bare = FixtureTree()
        var unbound: [(Int, String, String?, [String])] = (0..<4).map { ($0, "ff/00/00", "option", []) }
        unbound.append((4, "02/0e/00", nil, []))
        bare.usbDevice("1-4", product: "0800", busnum: 1, devnum: 11, interfaces: unbound)
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(bare.options))) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("works in MBIM mode but cdc_mbim is not bound to it"), text)
        }
    }

    func testECMAndRNDISModes() {
        let t = FixtureTree()
        t.usbDevice("1-1", product: "6026", busnum: 1, devnum: 2,
                    interfaces: [(0, "02/06/00", "cdc_ether", ["net/usb0"]), (1, "0a/00/00", "cdc_ether", []), (2, "ff/00/00", "option", [])])
        t.usbDevice("1-2", product: "6005", busnum: 1, devnum: 3,
                    interfaces: [(0, "e0/01/03", "rndis_host", ["net/usb1"]), (1, "0a/00/00", "rndis_host", [])])
        t.usbDevice("1-3", product: "0125", busnum: 1, devnum: 4,
                    interfaces: [(0, "e0/01/03", "rndis_host", ["net/usb2"]), (1, "0a/00/00", "rndis_host", [])])
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.map { $0.mode }, [.ecm, .rndis, .rndis])
        XCTAssertEqual(r.modems.map { $0.model }, ["EC200T", "EC200A", "EC25/EC20 R2.x (EC2x/EG2x)"])
        // EC200T and EC200A are dialed by AT: what is missing here is their AT port (interface 3).
        XCTAssertEqual(r.modems.map { $0.control }, [.at, .at, nil])
        XCTAssertThrowsError(try Discovery.select(r, interface: "usb1")) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("its AT port should be USB interface 3 (quectel-CM's number for 2c7c:6005 in RNDIS mode), which 1-2 does not have"), text)
        }
        // A Qualcomm module in RNDIS mode is still one qcm does not dial.
        XCTAssertThrowsError(try Discovery.select(r, interface: "usb2")) { e in
            XCTAssertTrue((e as! DiscoveryError).description.contains("works in RNDIS mode"))
        }
    }

    func testTwoModemsNeedASelection() throws {
        let t = FixtureTree()
        t.quectel("1-1.3", driver: "qmi_wwan_q", control: "cdc-wdm0", net: "wwan0", busnum: 1, devnum: 8)
        t.quectel("2-1.2", product: "0800", driver: "qmi_wwan", control: "cdc-wdm1", net: "wwan1")
        let r = Discovery.scan(t.options)
        XCTAssertThrowsError(try Discovery.select(r)) { e in
            guard case .ambiguous(let ms) = e as! DiscoveryError else { return XCTFail("\(e)") }
            XCTAssertEqual(ms.map { $0.sysfsName }, ["1-1.3", "2-1.2"])
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("-i IFACE"), text)
            XCTAssertTrue(text.contains("RM500Q/RM502Q/RG500Q 2c7c:0800 at usb 2-1.2: QMI"), text)
        }
        XCTAssertEqual(try Discovery.select(r, interface: "wwan1").sysfsName, "2-1.2")
        XCTAssertEqual(try Discovery.select(r, interface: "wwan0_1").sysfsName, "1-1.3")   // QMAP child netdev
        XCTAssertEqual(try Discovery.select(r, interface: "wwan1.2").sysfsName, "2-1.2")
        XCTAssertEqual(try Discovery.select(r, device: t.dev + "/cdc-wdm0").sysfsName, "1-1.3")
        XCTAssertEqual(try Discovery.select(r, device: "/dev/cdc-wdm1").sysfsName, "2-1.2")
        XCTAssertThrowsError(try Discovery.select(r, interface: "eth0")) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.hasPrefix("no modem owns network interface 'eth0'; found:"), text)
        }
        XCTAssertThrowsError(try Discovery.select(r, device: "/dev/cdc-wdm7"))
    }

    func testMissingDriverLink() {
        let t = FixtureTree()
        t.quectel("2-1", driver: nil, control: nil, net: nil)
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.first?.mode, .noDriver)
        XCTAssertEqual(r.modems.first?.interface, "2-1:1.4")
        XCTAssertThrowsError(try Discovery.select(r)) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("has a QMI interface (2-1:1.4) but no driver is bound to it"), text)
            XCTAssertTrue(text.contains("modprobe qmi_wwan"), text)
        }
    }

    func testGarbageAndUnreadableAttributes() throws {
        let t = FixtureTree()
        t.quectel("2-1.2", driver: "qmi_wwan", control: "cdc-wdm0", net: "wwan0")
        t.file("sys/class/net/wwan0/qmi/raw_ip", "maybe")
        // A device whose idVendor is garbage, and one whose idVendor is a directory (read fails).
        t.usbDevice("3-1", vendor: "zz\u{1}\u{ff}", product: "0001", busnum: 3, interfaces: [])
        t.dir("sys/devices/platform/soc/usb4/4-1/idVendor")
        t.link("sys/bus/usb/devices/4-1", to: "../../../devices/platform/soc/usb4/4-1")
        // A Quectel device whose idProduct is garbage and whose interface class is unreadable.
        t.usbDevice("5-1", product: "not-hex", busnum: 5, interfaces: [(4, "ff/ff/ff", "qmi_wwan", ["usbmisc/cdc-wdm5", "net/wwan5"])])
        t.file("sys/devices/platform/soc/usb5/5-1/5-1:1.4/bInterfaceClass", "\u{0}\u{0}")
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.map { $0.sysfsName }, ["2-1.2", "5-1"])
        XCTAssertTrue(r.looked[0].contains("unreadable: 3-1/idVendor, 4-1/idVendor"), r.looked[0])
        let m = r.modems[0]
        XCTAssertNil(m.rawIP)
        XCTAssertEqual(m.warnings, ["\(t.sys)/class/net/wwan0/qmi/raw_ip holds 'maybe', expected Y or N"])
        let odd = r.modems[1]
        XCTAssertEqual(odd.model, "Quectel module 0x0000")
        XCTAssertTrue(odd.warnings.contains { $0.contains("idProduct is unreadable or not hex") }, "\(odd.warnings)")
        XCTAssertTrue(odd.warnings.contains { $0.contains("bInterfaceClass is unreadable") }, "\(odd.warnings)")
        XCTAssertTrue(odd.warnings.contains { $0.contains("/cdc-wdm5 does not exist (udev not running? create it: mknod") }, "\(odd.warnings)")
        XCTAssertEqual(odd.mode, .qmi)   // the driver binding is what counts
    }

    func testNoModemAtAll() {
        let t = FixtureTree()
        t.usbDevice("1-1", vendor: "046d", product: "c077", busnum: 1, interfaces: [(0, "03/01/02", "usbhid", [])])
        t.file("proc/77/comm", "ModemManager")
        t.file("proc/1/comm", "systemd")
        let r = Discovery.scan(t.options)
        XCTAssertTrue(r.modems.isEmpty)
        XCTAssertTrue(r.modemManagerRunning)
        XCTAssertThrowsError(try Discovery.select(r)) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.hasPrefix("no Quectel modem found. Looked at: \(t.sys)/bus/usb/devices (1 USB device(s), 0 Quectel)"), text)
            XCTAssertTrue(text.contains("AT+QCFG=\"usbnet\",0"), text)
            XCTAssertTrue(text.contains("ModemManager is running"), text)
        }
        // An empty or absent sysfs says so.
        let empty = Discovery.scan(DiscoveryOptions(sysRoot: t.root + "/nothing", devRoot: t.dev, procRoot: t.root + "/nothing"))
        XCTAssertTrue(empty.looked[0].contains("missing: is sysfs mounted?"), empty.looked[0])
        XCTAssertFalse(empty.modemManagerRunning)
    }

    func testQualcommIdEarlyEC20() throws {
        let t = FixtureTree()
        t.usbDevice("1-1", vendor: "05c6", product: "9215", busnum: 1,
                    interfaces: [(4, "ff/ff/ff", "qmi_wwan", ["usbmisc/cdc-wdm0", "net/wwan0"])])
        t.file("dev/cdc-wdm0", "")
        t.usbDevice("1-2", vendor: "05c6", product: "9025", busnum: 1, interfaces: [])   // other Qualcomm: ignored
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 1)
        XCTAssertEqual(try Discovery.select(r).model, "EC20 (Qualcomm id 05c6:9215)")
    }

    // usage_of_argument_6.txt: RM500Q on PCIe with pcie_mhi, rmnet_mhi0 and /dev/mhi_QMI0.
    func testPCIeMHIModem() throws {
        let t = FixtureTree()
        t.dir("sys/bus/mhi_q/devices/0306_00.01.00_IP_HW0/net/rmnet_mhi0")
        t.dir("sys/bus/mhi_q/devices/0306_00.01.00_QMI0/mhi_uci_q/mhi_QMI0")
        t.file("sys/module/pcie_mhi/version", "V1.3.0.17")
        t.file("sys/module/pcie_mhi/parameters/qmap_mode", "4")
        t.file("dev/mhi_QMI0", "")
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.bus, "pcie")
        XCTAssertEqual(m.controlDevice, t.dev + "/mhi_QMI0")
        XCTAssertEqual(m.netInterfaces, ["rmnet_mhi0"])
        XCTAssertEqual(m.driver, "pcie_mhi")
        XCTAssertEqual(m.driverVersion, "V1.3.0.17")
        XCTAssertEqual(m.qmapMode, 4)
        XCTAssertEqual(try Discovery.select(Discovery.scan(t.options), interface: "rmnet_mhi0.1").sysfsName, "0306_00.01.00")
    }

    func testPCIeFallbackLikeQuectelCM() throws {
        let t = FixtureTree()
        t.dir("sys/class/net/rmnet_mhi0")
        t.file("dev/mhi_QMI0", "")
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.controlDevice, t.dev + "/mhi_QMI0")
        XCTAssertEqual(m.netInterfaces, ["rmnet_mhi0"])
    }

    // CentOS 2.6 kernels: "net:usb0" and "GobiQMI:qcqmi0" entries instead of directories.
    func testOldKernelFlatLayout() throws {
        let t = FixtureTree()
        t.usbDevice("2-1", product: "0125", interfaces: [(4, "ff/ff/ff", "GobiNet", ["net:usb0", "GobiQMI:qcqmi0"])])
        t.file("dev/qcqmi0", "")
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.netInterfaces, ["usb0"])
        XCTAssertEqual(m.controlDevice, t.dev + "/qcqmi0")
    }

    func testInterfaceWithoutControlNodeIsNotUsable() {
        let t = FixtureTree()
        t.quectel("2-1", driver: "qmi_wwan", control: nil, net: "wwan0")
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(t.options))) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("no QMI channel (cdc-wdm/qcqmi node) under 2-1:1.4"), text)
        }
    }

    func testNaturalOrder() {
        XCTAssertEqual(["2-1.10", "2-1.9", "1-1", "usb1"].sorted(by: Sysfs.naturalLess), ["1-1", "2-1.9", "2-1.10", "usb1"])
        // Sysfs.list returns a directory in that order.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qcm-list-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let names = ["usb1", "2-1.10", "2-1.9", "1-1", "2-1.9:1.4", "2-1"]
        XCTAssertNoThrow(try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true))
        for n in names { XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + n, contents: nil)) }
        XCTAssertEqual(Sysfs.list(dir), ["1-1", "2-1", "2-1.9", "2-1.9:1.4", "2-1.10", "usb1"])
        XCTAssertEqual(Sysfs.list(dir, ordered: false).map { Set($0) }, Set(names))
    }
}
