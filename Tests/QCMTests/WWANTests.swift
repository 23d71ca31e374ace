import Foundation
import XCTest
import Base
import CSystem
import LinkConfig
@testable import QMICore
import QMIMessages
import MBIMCore
import QMISim
import TestSupport
@testable import QCM

/// PCIe modules on the upstream kernel's WWAN subsystem (mhi_pci_generic): the data plan's
/// rules for mhi_net and mhi_wwan_mbim (pure), `qcm list`, and the QMI dial over
/// /dev/wwan0qmi0 and the MBIM dial over /dev/wwan0mbim0 end to end against the simulator's
/// tree (FakeHardware.writeWWAN), up to this kernel's refusal of rmnet and wwan links.
final class WWANTests: XCTestCase {
    func pdns(_ args: [String]) throws -> [PDNOptions] { try Options.parse(args).pdns }

    func refusal(_ f: DriverFacts, _ args: [String], _ choice: DataPathChoice = .auto) -> String {
        do throws(DataPlan.Failure) {
            _ = try DataPlan.decide(f, pdns: (try? pdns(args)) ?? [], choice: choice)
            return "accepted"
        } catch { return error.message }
    }

    let mhiNet = DriverFacts(driver: "mhi_net", netdev: "mhi_hwip0", netdevs: ["mhi_hwip0"], pcie: true, productID: 0x0306, mhiNet: true)
    let mhiWWANMBIM = DriverFacts(driver: "mhi_wwan_mbim", netdev: "wwan0", netdevs: ["wwan0"], pcie: true, productID: 0x1004,
                                  mbimWWAN: true, wwanDevice: "wwan0", wwanLinks: true)

    // MARK: the plan

    /// mhi_net carries one PDN as plain raw-IP, several as QMAP through rmnet links (it does
    /// not demultiplex QMAP itself); the modem is told its PCIe data endpoint (type 3, 4).
    func testPlanForMhiNet() throws {
        var p = try DataPlan.decide(mhiNet, pdns: pdns(["-s", "cmnet"]), choice: .auto)
        XCTAssertEqual(p.kind, .rawIP)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: nil, netdev: "mhi_hwip0")])
        XCTAssertEqual(p.versions, [.disabled])
        XCTAssertEqual(p.endpointType, .pcie)
        XCTAssertEqual(p.endpointInterface, 4)
        p = try DataPlan.decide(mhiNet, pdns: pdns(["-n", "1", "-n", "2"]), choice: .auto)
        XCTAssertEqual(p.kind, .rmnet)
        XCTAssertEqual(p.links.map { $0.mux }, [0x81, 0x82])
        XCTAssertEqual(p.links.map { $0.netdev }, [nil, nil], "qcm makes the rmnet links")
        XCTAssertEqual(p.versions, [.qmapv5, .qmapv4, .qmap])
        XCTAssertEqual(p.parent, "mhi_hwip0")
        XCTAssertEqual(try DataPlan.decide(mhiNet, pdns: pdns(["-m", "3"]), choice: .auto).kind, .rmnet, "-m asks for a mux")
        XCTAssertEqual(try DataPlan.decide(mhiNet, pdns: pdns([]), choice: .rmnet).kind, .rmnet)
        XCTAssertEqual(try DataPlan.decide(mhiNet, pdns: pdns([]), choice: .rawIP).kind, .rawIP)
        XCTAssertTrue(refusal(mhiNet, [], .qmimux).contains("needs upstream qmi_wwan's qmi/add_mux, which mhi_net does not offer"))
        XCTAssertTrue(refusal(mhiNet, [], .qmap).contains("--data-path qmap needs qmi_wwan_q or pcie_mhi"))
        var plain = mhiNet
        plain.mhiNet = false
        XCTAssertTrue(refusal(plain, [], .rmnet).contains("needs qmi_wwan's qmi/pass_through (Linux 5.12+) or mhi_net"))
    }

    /// MBIM over mhi_wwan_mbim: session 0 on the default link, -m N session N on a wwan link.
    func testPlanForMBIMOverTheWWANSubsystem() throws {
        var p = try DataPlan.decide(mhiWWANMBIM, pdns: pdns(["-s", "cmnet"]), choice: .auto)
        XCTAssertEqual(p.kind, .wwan)
        XCTAssertFalse(p.usesQMAP)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: 0, netdev: "wwan0")])
        XCTAssertEqual(p.summary, "MBIM session 0 on wwan0")
        p = try DataPlan.decide(mhiWWANMBIM, pdns: pdns(["-s", "cmnet", "-m", "3"]), choice: .auto)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: 3, netdev: nil)])
        XCTAssertEqual(p.wwanDevice, "wwan0")
        XCTAssertEqual(p.summary, "MBIM session 3 on a wwan link of wwan0 (link id 3)")
        XCTAssertTrue(refusal(mhiWWANMBIM, ["-n", "1", "-n", "2"]).contains("one qcm dials one MBIM session: run a qcm per PDN (-m N for session N), all through mbim-proxy"))
        XCTAssertTrue(refusal(mhiWWANMBIM, [], .rmnet).contains("--data-path chooses how QMI data is carried"))
        var old = mhiWWANMBIM
        old.wwanLinks = false
        old.driver = "mhi_net"
        XCTAssertEqual(refusal(old, ["-m", "1"]),
                       "MBIM session 1 needs a wwan link, which only mhi_wwan_mbim makes (mhi_net is bound to the data channel): dial session 0, without -m")
        XCTAssertEqual(refusal(old, []), "accepted")
    }

    // MARK: qcm list

    func fakeTree(_ write: (String) throws -> Void) throws -> String {
        let root = NSTemporaryDirectory() + "qcm-wwan-" + UUID().uuidString
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try write(root)
        return root
    }

    func list(_ root: String, _ options: [String] = []) -> (status: Int32, output: String) {
        qcm(["list"] + options + ["--sysfs-root", root + "/sys", "--dev-root", root + "/dev"])
    }

    func testListShowsTheWWANDeviceItsPortsAndTheDataPath() throws {
        let root = try fakeTree { try FakeHardware.writeWWAN(root: $0) }
        _ = FileManager.default.createFile(atPath: root + "/dev/wwan0qmi0", contents: nil)
        let r = list(root)
        XCTAssertEqual(r.status, 0, r.output)
        for line in ["Modem 1: SDX55 module (RM500Q/RM502Q) (17cb:0306) at pcie 0000:01:00.0", "  mode:       QMI",
                     "  driver:     mhi_net", "  wwan:       wwan0, MHI controller mhi0, PCI driver mhi-pci-generic",
                     "  ports:      wwan0mbim0 (MBIM), wwan0qcdm0 (QCDM), wwan0qmi0 (QMI)", "  interface:  mhi0_IP_HW0",
                     "  channel:    \(root)/dev/wwan0qmi0", "  netdev:     mhi_hwip0",
                     "  data path:  one PDN: raw-IP; several PDNs: QMAP through rmnet links"] {
            XCTAssertTrue(r.output.contains(line + "\n") || r.output.hasSuffix(line + "\n") || r.output.hasSuffix(line), line + " in:\n" + r.output)
        }
        XCTAssertFalse(r.output.contains("warning"), r.output)
        let j = list(root, ["--json"])
        let arr = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.output.utf8)) as? [[String: Any]], j.output)
        XCTAssertEqual(arr.count, 1)
        let o = arr[0]
        XCTAssertEqual(o["bus"] as? String, "pcie")
        XCTAssertEqual(o["vendor_id"] as? String, "17cb")
        XCTAssertEqual(o["product_id"] as? String, "0306")
        XCTAssertEqual(o["control"] as? String, "qmi")
        XCTAssertEqual(o["channel"] as? String, root + "/dev/wwan0qmi0")
        XCTAssertEqual(o["net"] as? [String], ["mhi_hwip0"])
        XCTAssertEqual(o["driver"] as? String, "mhi_net")
        XCTAssertEqual(o["wwan_device"] as? String, "wwan0")
        XCTAssertEqual(o["mhi_controller"] as? String, "mhi0")
        XCTAssertEqual(o["pci_driver"] as? String, "mhi-pci-generic")
        XCTAssertEqual(o["data_channel"] as? String, "IP_HW0")
        XCTAssertEqual(o["wwan_links"] as? Bool, false)
        let ports = try XCTUnwrap(o["wwan_ports"] as? [[String: Any]])
        XCTAssertEqual(ports.map { $0["name"] as? String }, ["wwan0mbim0", "wwan0qcdm0", "wwan0qmi0"])
        XCTAssertEqual(ports.map { $0["type"] as? String }, ["MBIM", "QCDM", "QMI"])
        XCTAssertEqual(o["data_path"] as? String, "raw-IP")
        XCTAssertEqual(o["data_path_several_pdns"] as? String, "QMAP through rmnet links")

        // The MBIM module: its session 0 on wwan0, other sessions on wwan links.
        let m = try fakeTree { try FakeHardware.writeWWAN(root: $0, mbim: true) }
        _ = FileManager.default.createFile(atPath: m + "/dev/wwan0mbim0", contents: nil)
        let ml = list(m)
        for line in ["Modem 1: RM520N-GL (1eac:1004) at pcie 0000:01:00.0", "  mode:       MBIM", "  driver:     mhi_wwan_mbim",
                     "  ports:      wwan0at0 (AT), wwan0mbim0 (MBIM), wwan0qcdm0 (QCDM)", "  channel:    \(m)/dev/wwan0mbim0",
                     "  netdev:     wwan0", "  data path:  MBIM session 0 on wwan0; -m N: session N on a wwan link wwan0.N"] {
            XCTAssertTrue(ml.output.contains(line), line + " in:\n" + ml.output)
        }
        let mj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(list(m, ["--json"]).output.utf8)) as? [[String: Any]])
        XCTAssertEqual(mj[0]["control"] as? String, "mbim")
        XCTAssertEqual(mj[0]["wwan_links"] as? Bool, true)
        XCTAssertEqual(mj[0]["data_path"] as? String, "MBIM session 0 on wwan0")

        // Drivers missing: said, with the module to load; the modem is listed, not usable.
        let bare = try fakeTree { try FakeHardware.writeWWAN(root: $0, controlDriver: false, dataDriver: false) }
        let bl = list(bare)
        XCTAssertEqual(bl.status, 0, "a modem was found")
        for line in ["  mode:       QMI (incomplete, see warnings)", "  channel:    none", "  netdev:     none",
                     "  warning:    no driver is bound to mhi0_QMI: load mhi_wwan_ctrl (modprobe mhi_wwan_ctrl), which makes /dev/wwanNqmi0",
                     "  warning:    no driver is bound to mhi0_IP_HW0: load mhi_net (modprobe mhi_net), which makes mhi_hwip0"] {
            XCTAssertTrue(bl.output.contains(line), line + " in:\n" + bl.output)
        }
        XCTAssertFalse(bl.output.contains("data path"), bl.output)
        // The daemon refuses it with the same reasons, exit 3.
        let d = qcm(["--sysfs-root", bare + "/sys", "--dev-root", bare + "/dev", "--run-dir", bare + "/run"])
        XCTAssertEqual(d.status, 3, d.output)
        XCTAssertTrue(d.output.contains("no QMI port (/dev/wwanNqmi0) and no network interface"), d.output)
    }

    // MARK: end to end

    func drops(_ rig: DaemonRig) -> String { rig.dataPlane?.drops.joined(separator: "\n") ?? "" }

    /// QMI over /dev/wwan0qmi0: raw-IP on mhi_net's mhi_hwip0, the modem told the PCIe data
    /// endpoint, a ping through the simulator's data plane, and a clean teardown.
    func testQMIDialOverTheWWANPort() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true, netdev: "mhi_hwip0", wwan: true)
        XCTAssertEqual(rig.channelKey, "wwan0qmi0")
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        for line in ["Auto find qmichannel = \(rig.root)/dev/wwan0qmi0", "Auto find usbnet_adapter = mhi_hwip0",
                     "netcard driver = mhi_net", "upstream WWAN: wwan0 on MHI controller mhi0 (PCI 0000:01:00.0, mhi-pci-generic)",
                     "data path: raw-IP on mhi_hwip0", "requestSetEthMode: raw-IP"] {
            XCTAssertTrue(rig.log.contains(line), line + " in:\n" + rig.log)
        }
        let format = try XCTUnwrap(rig.sim.transcript.requests(WDA.SetDataFormat.spec).last)
        let endpoint = try XCTUnwrap(WDA.SetDataFormat.Request(format).endpointInfo, "the PCIe endpoint is named")
        XCTAssertEqual(endpoint.endpointType, .pcie)
        XCTAssertEqual(endpoint.interfaceNumber, 4)
        XCTAssertTrue(rig.sim.withState { $0.dlAggregation == .disabled }, "no QMAP for one PDN")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "mhi_hwip0"), ["10.90.1.113/30"])
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, drops(rig))
        XCTAssertEqual(rig.dataPlane?.answered["mhi_hwip0"], 1)
        XCTAssertEqual(rig.statusValue("interface"), "mhi_hwip0")
        XCTAssertNotNil(rig.statusText(), "status file named after the port: qcm-wwan0qmi0-pdn1.status")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean }, "call stopped, client ids released")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "mhi_hwip0"), [])
    }

    /// Several PDNs (or -m) on mhi_net need rmnet links; this kernel has no rmnet: qcm gets
    /// as far as the kernel's refusal, says so, and leaves the modem and mhi_hwip0 as they were.
    func testSeveralPDNsOverMhiNetGoUpToTheKernelsRefusalOfRmnet() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true, netdev: "mhi_hwip0", wwan: true)
        let before = try XCTUnwrap(ipJSON(rig.ns!.name, ["link", "show", "mhi_hwip0"]).first)
        XCTAssertEqual(before["mtu"] as? Int, 16384, "mhi_net's default MTU")
        rig.start(["-n", "1", "-s", "cmnet", "-n", "2", "-s", "internet2"])
        XCTAssertEqual(rig.waitExit(), 8, rig.log)
        XCTAssertTrue(rig.log.contains("data path: QMAP through rmnet links on mhi_hwip0: mux 0x81, mux 0x82"), rig.log)
        XCTAssertTrue(rig.log.contains("requestSetEthMode: raw-IP, qmapv5 aggregation"), rig.log)
        XCTAssertTrue(rig.log.contains("cannot create the QMAP link for PDN 1: the kernel has no rmnet driver (CONFIG_RMNET): load it (modprobe rmnet); without it mhi_hwip0 carries one PDN as plain raw-IP"), rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean }, "clients released (their mux bindings with them), no call")
        XCTAssertEqual(rig.sim.transcript.count(WDS.StartNetwork.spec), 0, "nothing dialed")
        let binds = rig.sim.transcript.requests(WDS.BindMuxDataPort.spec).compactMap { WDS.BindMuxDataPort.Request($0).endpointInfo }
        XCTAssertTrue(binds.allSatisfy { $0.endpointType == .pcie && $0.interfaceNumber == 4 }, "Bind Mux names the PCIe endpoint")
        let after = try XCTUnwrap(ipJSON(rig.ns!.name, ["link", "show", "mhi_hwip0"]).first)
        XCTAssertFalse((after["flags"] as? [String] ?? []).contains("UP"), "mhi_hwip0 down again, as it was")
        XCTAssertEqual(after["mtu"] as? Int, 16384)
        XCTAssertEqual(ipJSON(rig.ns!.name, ["link", "show"]).count, 2, "lo and mhi_hwip0: no link left behind")

        // One PDN with -m: the same refusal; --data-path qmimux is refused before the modem is touched.
        rig.start(["-m", "1"])
        XCTAssertEqual(rig.waitExit(), 8, rig.log)
        XCTAssertTrue(rig.log.contains("the kernel has no rmnet driver"), rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
        let connections = rig.sim.connectionCount
        rig.start(["--data-path", "qmimux"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)
        XCTAssertTrue(rig.log.contains("--data-path qmimux needs upstream qmi_wwan's qmi/add_mux, which mhi_net does not offer"), rig.log)
        XCTAssertEqual(rig.sim.connectionCount, connections, "refused before the channel was opened")
    }

    /// --device /dev/wwan0mbim0 on a modem whose data channel is mhi_net's: refused with the
    /// port to use, before anything is opened.
    func testMBIMPortOfAQMIModemIsRefused() throws {
        let rig = try DaemonRig(netdev: "mhi_hwip0", wwan: true)
        rig.start(["--device", rig.root + "/dev/wwan0mbim0"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)
        XCTAssertTrue(rig.log.contains("wwan0mbim0 is the MBIM port of SDX55 module (RM500Q/RM502Q) 17cb:0306, but its data channel IP_HW0 is bound to mhi_net (mhi_hwip0)"), rig.log)
        XCTAssertTrue(rig.log.contains("dial it over \(rig.root)/dev/wwan0qmi0 (QMI)"), rig.log)
        XCTAssertEqual(rig.sim.connectionCount, 0)
    }

    func mbimClean(_ rig: DaemonRig) -> Bool {
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            if rig.mbimSim?.isClean == true { return true }
            usleep(20_000)
        }
        return false
    }

    /// MBIM over /dev/wwan0mbim0: session 0 on mhi_wwan_mbim's default link wwan0 (raw IP),
    /// dual stack: both families' gateways answer.
    func testMBIMDialOverTheWWANPort() throws {
        guard isRoot else { throw XCTSkip("needs root: a TUN in a network namespace") }
        let rig = try DaemonRig(netns: true, mbim: MBIMSimulator.Config(), wwan: true)
        XCTAssertEqual(rig.channelKey, "wwan0mbim0")
        rig.start(["-s", "cmnet", "-4", "-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        for line in ["Auto find qmichannel = \(rig.root)/dev/wwan0mbim0", "netcard driver = mhi_wwan_mbim",
                     "data path: MBIM session 0 on wwan0", "MBIM mode: dialing with MBIM Basic Connect",
                     "requestSetupDataCall MBIM session 0 activated (ipv4v6)"] {
            XCTAssertTrue(rig.log.contains(line), line + " in:\n" + rig.log)
        }
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0").sorted(), ["10.90.1.113/30", "2409:8930:463:3daa:7c8e:429a:c902:c6cc/64"])
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, rig.mbimSim?.drops.joined(separator: "\n") ?? "")
        XCTAssertEqual(rig.ping("2409:8930:463:3daa:7c8e:429a:c902:c6cd").status, 0, rig.mbimSim?.drops.joined(separator: "\n") ?? "")
        XCTAssertEqual(rig.mbimSim?.echoesAnswered, 2)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(mbimClean(rig), "session deactivated and the device closed")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0"), [])
    }

    /// -m N over MBIM: session N needs a link of kind "wwan", made before anything is asked
    /// of the network; this kernel has no such link type, so qcm stops there, having
    /// activated nothing, and closes the device.
    func testMBIMSessionOnAWWANLinkGoesUpToTheKernelsRefusal() throws {
        guard isRoot else { throw XCTSkip("needs root: a TUN in a network namespace") }
        let rig = try DaemonRig(netns: true, mbim: MBIMSimulator.Config(), wwan: true)
        rig.start(["-s", "cmnet", "-m", "2"])
        XCTAssertEqual(rig.waitExit(), 8, rig.log)
        XCTAssertTrue(rig.log.contains("data path: MBIM session 2 on a wwan link of wwan0 (link id 2)"), rig.log)
        XCTAssertTrue(rig.log.contains("cannot create the wwan link for MBIM session 2: the kernel has no \"wwan\" link type (the wwan module, CONFIG_WWAN, is not loaded): it cannot make wwan0.2"), rig.log)
        XCTAssertTrue(mbimClean(rig), "no session, the device closed")
        let names = rig.mbimSim?.requestNames ?? []
        XCTAssertFalse(names.contains("basic-connect CONNECT set"), "\(names)")
        XCTAssertEqual(names.last, "CLOSE")
        XCTAssertEqual(ipJSON(rig.ns!.name, ["link", "show"]).count, 2, "lo and wwan0: no link left behind")
    }

    /// `qcm --simulate --sim-arg --wwan [--sim-arg --mbim]` dials the simulated PCIe module as a
    /// board would (as root in a private namespace, with the TUN); Ctrl-C ends it cleanly.
    func testSimulateAWWANModule() throws {
        let q = shell(["timeout", "--preserve-status", "-s", "INT", "6", productPath("qcm"), "--simulate", "--sim-arg", "--wwan"])
        XCTAssertEqual(q.status, 0, q.output)
        XCTAssertTrue(q.output.contains("Auto find qmichannel = ") && q.output.contains("/sim/dev/wwan0qmi0"), q.output)
        XCTAssertTrue(q.output.contains("] connected"), q.output)
        XCTAssertTrue(q.output.contains("requestDeactivateDefaultPDP"), q.output)
        let m = shell(["timeout", "--preserve-status", "-s", "INT", "6", productPath("qcm"), "--simulate", "--sim-arg", "--wwan",
                       "--sim-arg", "--mbim", "-s", "cmnet"])
        XCTAssertEqual(m.status, 0, m.output)
        XCTAssertTrue(m.output.contains("MBIM device: RM520N-GL"), m.output)
        XCTAssertTrue(m.output.contains("data path: MBIM session 0 on wwan0"), m.output)
        XCTAssertTrue(m.output.contains("] connected"), m.output)
        XCTAssertTrue(m.output.contains("requestDeactivateDefaultPDP MBIM session 0"), m.output)
    }

    /// With --no-link qcm dials session N and says which link to make.
    func testMBIMSessionWithNoLinkSaysWhatToMake() throws {
        let rig = try DaemonRig(mbim: MBIMSimulator.Config(), wwan: true)
        rig.start(["-s", "cmnet", "-m", "1"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("--no-link: make session 1's link yourself: ip link add wwan0.1 parentdev wwan0 type wwan linkid 1"), rig.log)
        XCTAssertTrue(rig.log.contains("requestSetupDataCall MBIM session 1 activated"), rig.log)
        XCTAssertEqual(rig.mbimSim?.sessionCount, 1)
        // A second qcm for the same session is refused.
        let second = qcm(rig.baseArgs + ["-n", "2", "-m", "1"])
        XCTAssertEqual(second.status, 7, second.output)
        XCTAssertTrue(second.output.contains("dials MBIM session 1 on"), second.output)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(mbimClean(rig))
    }
}
