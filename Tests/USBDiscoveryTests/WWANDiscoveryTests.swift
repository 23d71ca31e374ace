import XCTest
@testable import USBDiscovery

/// PCIe modules on the upstream kernel: mhi_pci_generic's MHI controller, mhi_wwan_ctrl's
/// ports on the WWAN device (/dev/wwan0qmi0, /dev/wwan0mbim0 ...), mhi_net's mhi_hwip0 or
/// mhi_wwan_mbim's wwan0 — and a precise message for each piece that is missing.
final class WWANDiscoveryTests: XCTestCase {
    /// An RM500Q (SDX55, 17cb:0306) with the modem_qcom_v1 channel set.
    func rm500q(_ t: FixtureTree, qmiDriver: String? = "mhi_wwan_ctrl", netDriver: String? = "mhi_net",
                net: [String] = ["mhi_hwip0"], nodes: Bool = true) {
        var ports = [("wwan0mbim0", "MBIM"), ("wwan0qcdm0", "QCDM")]
        if qmiDriver != nil { ports.insert(("wwan0qmi0", "QMI"), at: 0) }
        t.wwanModem(channels: [("DIAG", "mhi_wwan_ctrl"), ("MBIM", "mhi_wwan_ctrl"), ("QMI", qmiDriver), ("IPCR", "qcom_mhi_qrtr"),
                               ("IP_HW0", netDriver)],
                    ports: ports, net: netDriver == nil ? [] : net, nodes: nodes)
    }

    /// An RM520N (1eac:1004) with Quectel's em1xx channel set: MBIM only.
    func rm520n(_ t: FixtureTree, mbimDriver: String? = "mhi_wwan_mbim", wwanNet: [String] = ["wwan0"]) {
        t.wwanModem(vendor: "0x1eac", device: "0x1004",
                    channels: [("NMEA", nil), ("DIAG", "mhi_wwan_ctrl"), ("MBIM", "mhi_wwan_ctrl"), ("DUN", "mhi_wwan_ctrl"),
                               ("IP_HW0_MBIM", mbimDriver)],
                    ports: [("wwan0mbim0", "MBIM"), ("wwan0at0", "AT"), ("wwan0qcdm0", "QCDM")],
                    wwanNet: mbimDriver == nil ? [] : wwanNet)
    }

    func testQMIModemOnTheWWANSubsystem() throws {
        let t = FixtureTree()
        rm500q(t)
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 1, "mhi0_IP_HW0 is not also taken for Quectel's pcie_mhi")
        let m = try Discovery.select(r)
        XCTAssertEqual(m.bus, "pcie")
        XCTAssertEqual(m.sysfsName, "0000:01:00.0")
        XCTAssertEqual(m.idString, "17cb:0306")
        XCTAssertEqual(m.model, "SDX55 module (RM500Q/RM502Q)")
        XCTAssertEqual(m.mode, .qmi)
        XCTAssertEqual(m.control, .qmi)
        XCTAssertEqual(m.controlDevice, t.dev + "/wwan0qmi0")
        XCTAssertEqual(m.netInterfaces, ["mhi_hwip0"])
        XCTAssertEqual(m.driver, "mhi_net")
        XCTAssertEqual(m.interface, "mhi0_IP_HW0")
        XCTAssertEqual(m.warnings, [])
        let w = try XCTUnwrap(m.wwan)
        XCTAssertEqual(w.controller, "mhi0")
        XCTAssertEqual(w.device, "wwan0")
        XCTAssertEqual(w.pciAddress, "0000:01:00.0")
        XCTAssertEqual(w.pciDriver, "mhi-pci-generic")
        XCTAssertEqual(w.dataChannel, "IP_HW0")
        XCTAssertFalse(w.carriesMBIM)
        XCTAssertFalse(w.makesLinks)
        XCTAssertEqual(w.ports.map { $0.name }, ["wwan0mbim0", "wwan0qcdm0", "wwan0qmi0"])
        XCTAssertEqual(w.port("QCDM")?.node, t.dev + "/wwan0qcdm0")
        XCTAssertTrue(r.looked.contains { $0.contains("bus/mhi/devices (1 PCIe module(s) on the upstream MHI driver") }, "\(r.looked)")
        // -i and --device select it as they select USB modems; rmnet links are its too.
        XCTAssertEqual(try Discovery.select(r, interface: "mhi_hwip0").sysfsName, "0000:01:00.0")
        XCTAssertEqual(try Discovery.select(r, interface: "mhi_hwip0_1").sysfsName, "0000:01:00.0")
        XCTAssertEqual(try Discovery.select(r, device: t.dev + "/wwan0qmi0").sysfsName, "0000:01:00.0")
        XCTAssertEqual(try Discovery.select(r, device: "wwan0qmi0").sysfsName, "0000:01:00.0")
        XCTAssertThrowsError(try Discovery.select(r, interface: "wwan0")) { e in
            XCTAssertTrue((e as! DiscoveryError).description.contains("no modem owns network interface 'wwan0'"))
        }
    }

    func testMBIMModemOnTheWWANSubsystem() throws {
        let t = FixtureTree()
        rm520n(t)
        let r = Discovery.scan(t.options)
        let m = try Discovery.select(r)
        XCTAssertEqual(m.model, "RM520N-GL")
        XCTAssertEqual(m.idString, "1eac:1004")
        XCTAssertEqual(m.mode, .mbim)
        XCTAssertTrue(m.speaksMBIM)
        XCTAssertEqual(m.control, .mbim)
        XCTAssertEqual(m.controlDevice, t.dev + "/wwan0mbim0")
        XCTAssertEqual(m.netInterfaces, ["wwan0"])
        XCTAssertEqual(m.driver, "mhi_wwan_mbim")
        XCTAssertEqual(m.atPort, nil, "the AT port is listed, not dialed: qcm speaks MBIM to this module")
        XCTAssertFalse(m.speaksAT)
        let w = try XCTUnwrap(m.wwan)
        XCTAssertTrue(w.carriesMBIM)
        XCTAssertTrue(w.makesLinks)
        XCTAssertEqual(w.portList, "wwan0at0 (AT), wwan0mbim0 (MBIM), wwan0qcdm0 (QCDM)")
        // The links qcm makes for other sessions (wwan0.1) are this modem's.
        XCTAssertEqual(try Discovery.select(r, interface: "wwan0.1").sysfsName, "0000:01:00.0")
    }

    /// Linux 5.13's mhi_net bound IP_HW0_MBIM itself (its netdev under the channel): MBIM
    /// session 0, no wwan links.
    func testOldMhiNetOnTheMBIMChannel() throws {
        let t = FixtureTree()
        t.wwanModem(vendor: "0x1eac", device: "0x1002", channels: [("MBIM", "mhi_wwan_ctrl"), ("IP_HW0_MBIM", "mhi_net")],
                    ports: [("wwan0mbim0", "MBIM")], net: ["mhi_hwip0"], netChannel: "IP_HW0_MBIM")
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.model, "EM160R-GL")
        XCTAssertEqual(m.mode, .mbim)
        XCTAssertEqual(m.netInterfaces, ["mhi_hwip0"])
        XCTAssertEqual(m.wwan?.makesLinks, false)
        XCTAssertTrue(m.speaksMBIM)
    }

    /// --device naming a port qcm does not dial over says which one it does.
    func testWrongPortsAreNamed() {
        let t = FixtureTree()
        rm500q(t)
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(t.options), device: "/dev/wwan0mbim0")) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("\(t.dev)/wwan0mbim0 is the MBIM port of SDX55 module (RM500Q/RM502Q) 17cb:0306, but its data channel IP_HW0 is bound to mhi_net (mhi_hwip0), which carries QMI's raw-IP or QMAP, not MBIM sessions"), text)
            XCTAssertTrue(text.hasSuffix("dial it over \(t.dev)/wwan0qmi0 (QMI)"), text)
        }
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(t.options), device: "wwan0qcdm0")) { e in
            XCTAssertEqual((e as! DiscoveryError).description,
                           "\(t.dev)/wwan0qcdm0 is the QCDM port of SDX55 module (RM500Q/RM502Q) 17cb:0306; qcm does not dial over it: dial it over \(t.dev)/wwan0qmi0 (QMI)")
        }
        let u = FixtureTree()
        rm520n(u)
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(u.options), device: "/dev/wwan0at0")) { e in
            XCTAssertEqual((e as! DiscoveryError).description,
                           "\(u.dev)/wwan0at0 is the AT port of RM520N-GL 1eac:1004; qcm does not dial over it: dial it over \(u.dev)/wwan0mbim0 (MBIM)")
        }
    }

    func testMissingDriversAreNamedWithTheModuleToLoad() {
        // No mhi_wwan_ctrl on the QMI channel: no /dev/wwan0qmi0.
        let t = FixtureTree()
        rm500q(t, qmiDriver: nil)
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(t.options))) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("at pcie 0000:01:00.0: QMI, driver mhi_net, mhi_hwip0: no QMI port (/dev/wwanNqmi0)"), text)
            XCTAssertTrue(text.contains("no driver is bound to mhi0_QMI: load mhi_wwan_ctrl (modprobe mhi_wwan_ctrl), which makes /dev/wwanNqmi0"), text)
        }
        // No mhi_net on IP_HW0: no mhi_hwip0.
        let u = FixtureTree()
        rm500q(u, netDriver: nil)
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(u.options))) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("no network interface"), text)
            XCTAssertTrue(text.contains("no driver is bound to mhi0_IP_HW0: load mhi_net (modprobe mhi_net), which makes mhi_hwip0"), text)
        }
        // mhi_net bound, no netdev.
        let v = FixtureTree()
        rm500q(v, net: [])
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(v.options))) { e in
            XCTAssertTrue((e as! DiscoveryError).description.contains("mhi_net is bound to mhi0_IP_HW0 but made no netdev"))
        }
        // No mhi_wwan_mbim on IP_HW0_MBIM.
        let w = FixtureTree()
        rm520n(w, mbimDriver: nil)
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(w.options))) { e in
            let text = (e as! DiscoveryError).description
            XCTAssertTrue(text.contains("no driver is bound to mhi0_IP_HW0_MBIM: load mhi_wwan_mbim (modprobe mhi_wwan_mbim), which makes the wwan0 netdev"), text)
        }
    }

    func testMissingNodeGivesTheMknodLine() throws {
        let t = FixtureTree()
        rm500q(t, nodes: false)
        let m = try Discovery.select(Discovery.scan(t.options))
        XCTAssertEqual(m.warnings, ["\(t.dev)/wwan0qmi0 does not exist (udev not running? create it: mknod \(t.dev)/wwan0qmi0 c 237 0)"])
    }

    /// A modem still in its boot loader shows only SAHARA (or FIREHOSE in EDL).
    func testBootingModemIsSaidToBeBooting() {
        let t = FixtureTree()
        t.wwanModem(vendor: "0x1eac", device: "0x1004", wwan: nil, channels: [("SAHARA", nil)], ports: [])
        XCTAssertThrowsError(try Discovery.select(Discovery.scan(t.options))) { e in
            XCTAssertEqual((e as! DiscoveryError).description,
                           "RM520N-GL 1eac:1004 at pcie 0000:01:00.0 cannot be dialed: mhi0 has no QMI, MBIM or data channel (channels: SAHARA): the modem is still booting, or in download (EDL) mode")
        }
    }

    /// Only Quectel's and Qualcomm's PCI ids are modems qcm looks at; others are said to be
    /// ignored.
    func testOtherVendorsAreIgnored() {
        let t = FixtureTree()
        t.wwanModem(vendor: "0x105b", device: "0xe0ab", channels: [("QMI", "mhi_wwan_ctrl"), ("IP_HW0", "mhi_net")],
                    ports: [("wwan0qmi0", "QMI")], net: ["mhi_hwip0"])
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 0)
        XCTAssertTrue(r.looked.contains { $0.contains("ignored: mhi0 (PCI 105b:e0ab, not a Quectel or Qualcomm id)") }, "\(r.looked)")
    }

    /// A USB modem and a PCIe one: both found, each selected by its own names.
    func testBesideAUSBModem() throws {
        let t = FixtureTree()
        t.quectel("2-1", driver: "qmi_wwan", control: "cdc-wdm0", net: "wwan0")
        rm520n(t)
        let r = Discovery.scan(t.options)
        XCTAssertEqual(r.modems.count, 2)
        XCTAssertThrowsError(try Discovery.select(r)) { e in
            XCTAssertTrue((e as! DiscoveryError).description.hasPrefix("several modems found"))
        }
        // Both have a netdev called wwan0 (qmi_wwan's and mhi_wwan_mbim's default link): -i
        // takes the first; --device tells them apart.
        XCTAssertEqual(try Discovery.select(r, device: "wwan0mbim0").bus, "pcie")
        XCTAssertEqual(try Discovery.select(r, device: "cdc-wdm0").bus, "usb")
    }
}
