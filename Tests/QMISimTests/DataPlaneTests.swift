import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
@testable import QMISim
import TestSupport

/// The simulator refuses what a board refuses: a client that dials right but sets the data
/// path up wrong gets no answer to its pings, and the data plane says which rule it broke.
/// The client here is a test's own QMI connection plus ip(8), step by step.
final class DataPlaneTests: XCTestCase {
    final class Bench {
        let sim: QMISimulator
        let root: String
        let ns: TestNamespace
        let client: SimClient
        var wds: UInt8 = 0
        var wda: UInt8 = 0
        var handle: UInt32?

        init(_ driver: DataPlane.Driver) throws {
            root = NSTemporaryDirectory() + "qsim-dp-" + UUID().uuidString
            var mode: Int?
            if case .qmiWWANQ(let m) = driver { mode = m }
            try FakeHardware.writeSysfs(root: root, driver: mode == nil ? "qmi_wwan" : "qmi_wwan_q", qmapMode: mode)
            var c = SimConfig()
            c.latencyMs = 1
            sim = QMISimulator(config: c)
            ns = try TestNamespace("qsim-dp")
            try DataPlane.attach(to: sim, root: root, driver: driver, namespace: "/run/netns/" + ns.name, networking: true)
            sim.startThread()
            try sim.listen(root + "/qmi.sock")
            client = try SimClient(socket: root + "/qmi.sock")
            wds = try client.allocate(.wds)
            wda = try client.allocate(.wda)
        }

        deinit {
            sim.dataPlane?.detach()
            sim.shutdown()
            try? FileManager.default.removeItem(atPath: root)
        }

        @discardableResult
        func ip(_ args: String...) -> Int32 { shell(["ip", "-n", ns.name] + args).status }

        func attribute(_ path: String, _ value: String) {
            XCTAssertEqual(shell(["sh", "-c", "echo \(value) > \(root)/sys/class/net/\(path)"]).status, 0)
            usleep(100_000)     // the simulator reads the FIFO on its own thread
        }

        func dataFormat(_ aggregation: WDA.AggregationProtocol, size: UInt32 = 4096) throws {
            var r = WDA.SetDataFormat.Request(clientID: wda)
            r.linkLayerProtocol = .rawIp
            r.uplinkDataAggregationProtocol = aggregation
            r.downlinkDataAggregationProtocol = aggregation
            r.downlinkDataAggregationMaxSize = size
            XCTAssertEqual(try client.call(r.message).result?.ok, true)
        }

        func bind(_ mux: UInt8, interface: UInt32 = 4) throws -> Bool {
            var r = WDS.BindMuxDataPort.Request(clientID: wds)
            r.endpointInfo = WDS.BindMuxDataPort.EndpointInfo(endpointType: .hsusb, interfaceNumber: interface)
            r.muxID = mux
            return try client.call(r.message).result?.ok == true
        }

        func start() throws {
            let r = WDS.StartNetwork.Response(try client.call(WDS.StartNetwork.Request(clientID: wds).message))
            XCTAssertEqual(r.result?.ok, true)
            handle = r.packetDataHandle
        }

        func stop() throws {
            var r = WDS.StopNetwork.Request(clientID: wds)
            r.packetDataHandle = handle ?? 0
            XCTAssertEqual(try client.call(r.message).result?.ok, true)
        }

        /// Whether a ping to the gateway of profile 1 is answered; otherwise why not.
        func ping(_ extra: [String] = []) -> String? {
            let before = sim.withState { $0.dataPlane?.drops.count ?? 0 }
            let r = shell(["ip", "netns", "exec", ns.name, "ping", "-c", "1", "-W", "1"] + extra + ["10.90.1.114"])
            if r.status == 0 { return nil }
            return sim.withState { s in
                let d = s.dataPlane?.drops ?? []
                return d.count > before ? d.last! : "no drop recorded: " + r.output
            }
        }
    }

    func testQuectelDriverRules() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let b = try Bench(.qmiWWANQ(mode: 4))
        b.ip("link", "set", "wwan0", "up")
        b.ip("addr", "add", "10.90.1.113/30", "dev", "wwan0_1")
        b.ip("link", "set", "wwan0_1", "up")

        // A call without QMAP: the driver's QMAP frames mean nothing to the modem.
        try b.dataFormat(.disabled)
        try b.start()
        XCTAssertEqual(b.ping(), "wwan0_1: dropped a ping to 10.90.1.114: the modem runs no aggregation (WDA) and wwan0_1 carries qmap frames")
        // QMAP on, but the call's client was never bound to a mux.
        try b.dataFormat(.qmap)
        XCTAssertEqual(b.ping(), "wwan0_1: dropped a ping to 10.90.1.114: no IPv4 call is up on mux 0x81")
        try b.stop()
        XCTAssertFalse(try b.bind(0x81, interface: 3), "the endpoint is the modem's data interface (4)")
        XCTAssertTrue(try b.bind(0x81))
        try b.start()
        XCTAssertNil(b.ping(), "everything in place")
        XCTAssertEqual(b.sim.withState { $0.dataPlane?.answered["wwan0_1"] }, 1)

        // The driver told the call is down: it keeps the mux off.
        b.attribute("wwan0/link_state", "129")
        XCTAssertEqual(b.ping(), "wwan0_1: dropped a ping to 10.90.1.114: qmi_wwan_q keeps mux 0x81 off: link_state 0x0 lacks it")
        b.attribute("wwan0/link_state", "1")
        XCTAssertNil(b.ping())
        // The parent down: nothing leaves.
        b.ip("link", "set", "wwan0", "down")
        XCTAssertEqual(b.ping(), "wwan0_1: dropped a ping to 10.90.1.114: wwan0, through which qmi_wwan_q sends, is down")
        b.ip("link", "set", "wwan0", "up")
        // Another source address than the call's.
        b.ip("addr", "add", "10.90.1.200/32", "dev", "wwan0_1")
        XCTAssertEqual(b.ping(["-I", "10.90.1.200"]),
                       "wwan0_1: dropped a ping to 10.90.1.114: its source 10.90.1.200 is not 10.90.1.113, the address of the call on mux 0x81: the network drops it")
        // Aggregates larger than the driver's receive buffer.
        try b.dataFormat(.qmap, size: 16384)
        XCTAssertEqual(b.ping(), "wwan0_1: dropped a ping to 10.90.1.114: the modem sends 16384-byte aggregates, larger than qmi_wwan_q's qmap_size 4096")
    }

    func testUpstreamDriverRules() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let b = try Bench(.qmiWWAN)
        // Plain raw-IP, but the driver still frames 802.3.
        try FileManager.default.removeItem(atPath: b.root + "/sys/class/net/wwan0/qmi/raw_ip")
        try "N\n".write(toFile: b.root + "/sys/class/net/wwan0/qmi/raw_ip", atomically: true, encoding: .utf8)
        try b.dataFormat(.disabled)
        try b.start()
        b.ip("addr", "add", "10.90.1.113/30", "dev", "wwan0")
        b.ip("link", "set", "wwan0", "up")
        XCTAssertEqual(b.ping(), "wwan0: dropped a ping to 10.90.1.114: qmi_wwan frames packets as 802.3 (qmi/raw_ip is N), while the modem expects raw IP")
        try "Y\n".write(toFile: b.root + "/sys/class/net/wwan0/qmi/raw_ip", atomically: true, encoding: .utf8)
        XCTAssertNil(b.ping())
        try b.stop()
        b.ip("addr", "flush", "dev", "wwan0")

        // qmimux: the parent's MTU is qmi_wwan's receive buffer.
        try b.dataFormat(.qmap, size: 16384)
        b.attribute("wwan0/qmi/add_mux", "0x81")
        XCTAssertEqual(b.sim.withState { $0.dataPlane?.muxOf["qmimux0"] }, 0x81)
        XCTAssertEqual(try String(contentsOfFile: b.root + "/sys/class/net/qmimux0/qmap/mux_id", encoding: .utf8), "0x81\n")
        b.attribute("wwan0/qmi/add_mux", "0x81")
        XCTAssertTrue(b.sim.withState { $0.dataPlane?.drops.last?.contains("mux_id already present") == true })
        XCTAssertTrue(try b.bind(0x81))
        try b.start()
        b.ip("addr", "add", "10.90.1.113/30", "dev", "qmimux0")
        b.ip("link", "set", "qmimux0", "up")
        XCTAssertEqual(b.ping(), "qmimux0: dropped a ping to 10.90.1.114: wwan0's MTU 1500 is smaller than the 16384-byte aggregates the modem sends: qmi_wwan's receive buffer overflows")
        b.ip("link", "set", "wwan0", "mtu", "16384")
        XCTAssertNil(b.ping())
        b.attribute("wwan0/qmi/del_mux", "0x81")
        XCTAssertEqual(b.sim.withState { $0.dataPlane?.muxOf.count }, 0)
        XCTAssertNotEqual(b.ip("link", "show", "qmimux0"), 0, "the link is gone")
    }
}
