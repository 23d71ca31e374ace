import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
@testable import QMISim
import USBDiscovery
import TestSupport

/// The simulator as the upstream kernel's WWAN subsystem presents a PCIe module: its sysfs
/// tree is what discovery reads on a real board, and its data plane refuses what mhi_net
/// and mhi_wwan_mbim (and the modem behind them) refuse.
final class WWANSimTests: XCTestCase {
    var root = ""
    override func setUp() { root = NSTemporaryDirectory() + "qsim-wwan-" + UUID().uuidString }
    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    /// The real path of `p` under `base` (default: the test's root), as a path under it.
    func resolved(_ p: String, in base: String? = nil) -> String? {
        let top = base ?? root
        guard let r = realpath(top + p, nil), let b = realpath(top, nil) else { return nil }
        defer { free(r); free(b) }
        let full = String(cString: r), base = String(cString: b)
        return full.hasPrefix(base + "/") ? String(full.dropFirst(base.count)) : nil
    }

    /// The links resolve where Linux puts things: the ports under the WWAN device under the
    /// MHI controller under the PCI function; mhi_net's netdev under its channel; the
    /// default link of mhi_wwan_mbim under the WWAN device.
    func testTreeIsTheKernelsLayout() throws {
        try FakeHardware.writeWWAN(root: root)
        let pci = "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0"
        XCTAssertEqual(resolved("/sys/bus/mhi/devices/mhi0"), pci + "/mhi0")
        XCTAssertEqual(resolved("/sys/bus/mhi/devices/mhi0/.."), pci)
        XCTAssertEqual(resolved("/sys/class/wwan/wwan0"), pci + "/mhi0/wwan/wwan0")
        XCTAssertEqual(resolved("/sys/class/wwan/wwan0qmi0"), pci + "/mhi0/wwan/wwan0/wwan0qmi0")
        XCTAssertEqual(resolved("/sys/class/net/mhi_hwip0"), pci + "/mhi0/mhi0_IP_HW0/net/mhi_hwip0")
        XCTAssertEqual(resolved("/sys/class/net/mhi_hwip0/device"), pci + "/mhi0/mhi0_IP_HW0")
        XCTAssertEqual(resolved("/sys/bus/mhi/devices/mhi0_IP_HW0/driver"), "/sys/bus/mhi/drivers/mhi_net")
        XCTAssertEqual(resolved("/sys/bus/mhi/devices/mhi0_QMI/driver"), "/sys/bus/mhi/drivers/mhi_wwan_ctrl")
        XCTAssertEqual(resolved("/sys/bus/mhi/devices/mhi0/../driver"), "/sys/bus/pci/drivers/mhi-pci-generic")
        XCTAssertEqual(try String(contentsOfFile: root + "/sys/class/wwan/wwan0qmi0/type", encoding: .utf8), "QMI\n")
        XCTAssertEqual(try String(contentsOfFile: root + "/sys/bus/mhi/devices/mhi0/../vendor", encoding: .utf8), "0x17cb\n")
        XCTAssertEqual(FakeHardware.socketPath(root: root, driver: "mhi_net"), root + "/dev/wwan0qmi0")

        let m = root + "-mbim"
        defer { try? FileManager.default.removeItem(atPath: m) }
        try FakeHardware.writeWWAN(root: m, mbim: true)
        XCTAssertEqual(resolved("/sys/class/net/wwan0", in: m), pci + "/mhi0/wwan/wwan0/net/wwan0")
        XCTAssertEqual(resolved("/sys/class/net/wwan0/device", in: m), pci + "/mhi0/wwan/wwan0", "the netdev's device is the WWAN device")
        XCTAssertEqual(resolved("/sys/bus/mhi/devices/mhi0_IP_HW0_MBIM/driver", in: m), "/sys/bus/mhi/drivers/mhi_wwan_mbim")
        XCTAssertEqual(try String(contentsOfFile: m + "/sys/class/wwan/wwan0at0/type", encoding: .utf8), "AT\n")
        XCTAssertEqual(FakeHardware.socketPath(root: m, driver: "mhi_wwan_mbim"), m + "/dev/wwan0mbim0")
    }

    /// Discovery reads the simulator's tree as the modem it stands for.
    func testDiscoveryFindsTheSimulatedModems() throws {
        try FakeHardware.writeWWAN(root: root)
        FileManager.default.createFile(atPath: root + "/dev/wwan0qmi0", contents: nil)
        let q = try Discovery.select(Discovery.scan(DiscoveryOptions(sysRoot: root + "/sys", devRoot: root + "/dev", procRoot: root)))
        XCTAssertEqual(q.controlDevice, root + "/dev/wwan0qmi0")
        XCTAssertEqual(q.netInterfaces, ["mhi_hwip0"])
        XCTAssertEqual(q.driver, "mhi_net")
        XCTAssertEqual(q.warnings, [])

        let m = root + "-mbim"
        defer { try? FileManager.default.removeItem(atPath: m) }
        try FakeHardware.writeWWAN(root: m, mbim: true)
        let r = try Discovery.select(Discovery.scan(DiscoveryOptions(sysRoot: m + "/sys", devRoot: m + "/dev", procRoot: m)))
        XCTAssertEqual(r.control, .mbim)
        XCTAssertEqual(r.netInterfaces, ["wwan0"])
        XCTAssertEqual(r.wwan?.makesLinks, true)
        XCTAssertEqual(r.warnings, ["\(m)/dev/wwan0mbim0 does not exist (udev not running? create it: mknod \(m)/dev/wwan0mbim0 c 237 0)"],
                       "no node until the simulator listens there")
    }

    /// mhi_net passes IP packets to the modem as they are: they arrive only while the modem
    /// runs raw-IP without aggregation. A client that turned QMAP on (or 802.3) and sends
    /// plain IP on mhi_hwip0 gets no answer, and the data plane says why.
    func testMhiNetCarriesPlainIPOnlyWhileTheModemRunsNoQMAP() throws {
        guard isRoot else { throw XCTSkip("needs root: a TUN in a network namespace") }
        try FakeHardware.writeWWAN(root: root)
        var c = SimConfig()
        c.latencyMs = 1
        c.endpoint = (3, 4)
        c.qmapVersions = [.qmap, .qmapv5]
        let sim = QMISimulator(config: c)
        let ns = try TestNamespace("qsim-mhi")
        try DataPlane.attach(to: sim, root: root, driver: .mhiNet, parent: "mhi_hwip0", namespace: "/run/netns/" + ns.name,
                             networking: true, driverQMAP: .qmapv5)
        sim.startThread()
        defer {
            sim.dataPlane?.detach()
            sim.shutdown()
        }
        try sim.listen(root + "/dev/wwan0qmi0")
        let client = try SimClient(socket: root + "/dev/wwan0qmi0")
        let wds = try client.allocate(.wds), wda = try client.allocate(.wda)
        XCTAssertEqual(ipJSON(ns.name, ["link", "show", "mhi_hwip0"]).first?["mtu"] as? Int, 16384, "mhi_net's default MTU")
        func format(_ llp: WDA.LinkLayerProtocol, _ aggregation: WDA.AggregationProtocol, endpoint: QMIDataEndpointType = .pcie) throws -> Bool {
            var r = WDA.SetDataFormat.Request(clientID: wda)
            r.linkLayerProtocol = llp
            r.uplinkDataAggregationProtocol = aggregation
            r.downlinkDataAggregationProtocol = aggregation
            r.downlinkDataAggregationMaxSize = 16384
            r.endpointInfo = WDA.EndpointInfo(endpointType: endpoint, interfaceNumber: 4)
            return try client.call(r.message).result?.ok == true
        }
        func ping() -> String? {
            let before = sim.withState { $0.dataPlane?.drops.count ?? 0 }
            let r = shell(["ip", "netns", "exec", ns.name, "ping", "-c", "1", "-W", "1", "10.90.1.114"])
            if r.status == 0 { return nil }
            return sim.withState { s in
                let d = s.dataPlane?.drops ?? []
                return d.count > before ? d.last! : "no drop recorded: " + r.output
            }
        }
        XCTAssertFalse(try format(.rawIp, .disabled, endpoint: .hsusb), "the modem's data endpoint is PCIe's, not USB's")
        XCTAssertTrue(try format(.rawIp, .disabled))
        XCTAssertEqual(WDS.StartNetwork.Response(try client.call(WDS.StartNetwork.Request(clientID: wds).message)).result?.ok, true)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "10.90.1.113/30", "dev", "mhi_hwip0"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "set", "mhi_hwip0", "up"]).status, 0)
        XCTAssertNil(ping(), "raw-IP on both sides")
        XCTAssertEqual(sim.withState { $0.dataPlane?.answered["mhi_hwip0"] }, 1)
        XCTAssertTrue(try format(.rawIp, .qmapv5))
        XCTAssertEqual(ping(), "mhi_hwip0: dropped a ping to 10.90.1.114: the modem runs qmapv5 aggregation (WDA) and mhi_hwip0 carries plain IP")
        XCTAssertTrue(try format(.`8023`, .disabled))
        XCTAssertEqual(ping(), "mhi_hwip0: dropped a ping to 10.90.1.114: the modem's link layer is 802.3 (WDA), and the driver sends raw IP")
        XCTAssertTrue(try format(.rawIp, .disabled))
        XCTAssertNil(ping())
    }

    /// mhi_wwan_mbim's default link carries session 0 only: a client that activated another
    /// session has nothing on wwan0. The client is libmbim's mbimcli through @mbim-proxy.
    func testTheDefaultLinkCarriesSessionZeroOnly() throws {
        guard which("mbimcli") else { throw XCTSkip("mbimcli is not installed (Debian: libmbim-utils)") }
        guard isRoot else { throw XCTSkip("needs root: a TUN and @mbim-proxy in a network namespace") }
        let ns = try TestNamespace("qsim-wwanmbim")
        let sim = MBIMSimulator()
        try ns.inside {
            try sim.listen("@mbim-proxy", proxy: true)
            try sim.makeNetdev("wwan0", namespace: ns.name, rawIP: true)
        }
        sim.start()
        defer { sim.shutdown() }
        func mbimcli(_ args: String...) -> (status: Int32, output: String) {
            shell(["ip", "netns", "exec", ns.name, "mbimcli", "-p", "-d", "/dev/null"] + args)
        }
        XCTAssertEqual(mbimcli("--set-radio-state=on").status, 0)
        usleep(100_000)
        XCTAssertEqual(mbimcli("--attach-packet-service").status, 0)
        let r = mbimcli("--connect=session-id=1,access-string=cmnet,ip-type=ipv4")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "10.90.1.113/30", "dev", "wwan0"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "set", "wwan0", "up"]).status, 0)
        func ping() -> Int32 { shell(["ip", "netns", "exec", ns.name, "ping", "-c", "1", "-W", "1", "10.90.1.114"]).status }
        XCTAssertNotEqual(ping(), 0)
        XCTAssertEqual(sim.locked { sim.drops.last }, "wwan0 carries session 0 (the default link), which is not up (sessions up: 1)")
        XCTAssertEqual(mbimcli("--disconnect=1").status, 0)
        XCTAssertEqual(mbimcli("--connect=session-id=0,access-string=cmnet,ip-type=ipv4").status, 0)
        XCTAssertEqual(ping(), 0, sim.locked { sim.drops.joined(separator: "\n") })
        XCTAssertEqual(sim.echoesAnswered, 1)
    }
}
