import Foundation
import XCTest
import Base
import CSystem
import LinkConfig
@testable import QMICore
import QMIMessages
import QMISim
import TestSupport
@testable import QCM

/// Bridge mode (-b): which attribute takes what (pure), when the machine writes it (fake
/// clock), and end to end against the simulator's drivers, which model bridge_mode and
/// bridge_ipv4 and forward only the LAN host's frames — a host address on the netdev
/// carries nothing there.
final class BridgeTests: XCTestCase {
    // MARK: the plan

    func pdns(_ args: [String]) throws -> [PDNOptions] { try Options.parse(args).pdns }

    func quectel(_ mode: Int, bridged: [String]? = nil, driver: String = "qmi_wwan_q", netdev: String = "wwan0",
                 children: [String]? = nil) -> DriverFacts {
        let kids = children ?? (mode > 1 ? (1...mode).map { "\(netdev)_\($0)" } : [])
        let all = [netdev] + kids
        var f = DriverFacts(driver: driver, netdev: netdev, netdevs: all, qmapMode: mode, qmapSize: 4096)
        f.bridgeNetdevs = bridged ?? all
        f.netdevTypes = all.map { ($0, 1) }
        return f
    }

    func decide(_ f: DriverFacts, _ args: [String]) throws -> [BridgeTarget] {
        let p = try pdns(args)
        return try BridgePlan.decide(f, try DataPlan.decide(f, pdns: p, choice: .auto), pdns: p)
    }

    func refusal(_ f: DriverFacts, _ args: [String]) -> String {
        do { _ = try decide(f, args); return "accepted" } catch let e as DataPlan.Failure { return e.message } catch { return "\(error)" }
    }

    func testWhereTheAddressGoes() throws {
        XCTAssertEqual(try decide(quectel(0), ["-b"]), [BridgeTarget(pdn: 1, netdev: "wwan0", attributes: .netdev, on: true)])
        XCTAssertEqual(try decide(quectel(1), ["-b"]).map { $0.netdev }, ["wwan0"], "qmap_mode 1: the parent carries mux 0x81")
        XCTAssertEqual(try decide(quectel(4), ["-n", "2", "-b"]), [BridgeTarget(pdn: 2, netdev: "wwan0_2", attributes: .netdev, on: true)])
        // Another PDN's netdev with the attributes: bridge mode is turned off there (quectel-CM writes 00).
        XCTAssertEqual(try decide(quectel(4), ["-n", "1", "-n", "2", "-b"]),
                       [BridgeTarget(pdn: 1, netdev: "wwan0_1", attributes: .netdev, on: false),
                        BridgeTarget(pdn: 2, netdev: "wwan0_2", attributes: .netdev, on: true)])
        var pcie = quectel(1, driver: "pcie_mhi", netdev: "rmnet_mhi0", children: ["rmnet_mhi0.1"])
        pcie.pcie = true
        pcie.netdevTypes = [("rmnet_mhi0", 65534), ("rmnet_mhi0.1", 1)]
        XCTAssertEqual(try decide(pcie, ["-b"]).map { $0.netdev }, ["rmnet_mhi0.1"], "pcie_mhi bridges its Ethernet-type child")
        XCTAssertEqual(try decide(quectel(0, driver: "GobiNet", netdev: "usb0"), ["-b"]).map { $0.netdev }, ["usb0"])
    }

    func testTheAddressIsWrittenTheWayQuectelCMWritesIt() {
        let t = BridgeTarget(pdn: 1, netdev: "usb0", attributes: .netdev, on: true)
        // The captures: gobinet_bridge.txt, qmi_wwan_q_bridge.txt, pcie_mhi_qmap=1_bridge.txt.
        XCTAssertEqual(t.ipv4Text(IPAddress("10.33.132.128")!.ipv4!), "0xa218480")
        XCTAssertEqual(t.ipv4Text(IPAddress("10.141.146.55")!.ipv4!), "0xa8d9237")
        XCTAssertEqual(t.ipv4Text(IPAddress("10.89.49.107")!.ipv4!), "0xa59316b")
        XCTAssertEqual(t.ipv4Text(0), "0x0")
        XCTAssertEqual(t.modePath(sysRoot: "/sys"), "/sys/class/net/usb0/bridge_mode")
        XCTAssertEqual(t.ipv4Path(sysRoot: "/sys"), "/sys/class/net/usb0/bridge_ipv4")
        // The module parameter form with several muxes: the mux id after a colon, in decimal.
        let m = BridgeTarget(pdn: 2, netdev: "wwan0_2", attributes: .moduleParameters(driver: "qmi_wwan_q", mux: 0x82), on: true)
        XCTAssertEqual(m.ipv4Text(IPAddress("10.140.238.199")!.ipv4!), "0xa8ceec7:130")
        XCTAssertEqual(m.ipv4Path(sysRoot: "/sys"), "/sys/module/qmi_wwan_q/parameters/bridge_ipv4")
        XCTAssertFalse(m.writesMode, "the module parameter bridge_mode is the driver's, set when it loads")
    }

    func testDriversWithoutBridgeModeAreRefused() {
        let upstream = DriverFacts(driver: "qmi_wwan", netdev: "wwan0", netdevs: ["wwan0"], addMux: true)
        XCTAssertEqual(refusal(upstream, ["-b"]),
                       "-b: upstream qmi_wwan has no bridge mode (no bridge_mode or bridge_ipv4 on wwan0); bridge mode is a feature of Quectel's qmi_wwan_q, GobiNet and pcie_mhi drivers")
        XCTAssertTrue(refusal(upstream, ["-n", "1", "-n", "2", "-b"]).hasPrefix("-b (PDN 2): qmi_wwan's qmimux links have no bridge mode"),
                      refusal(upstream, ["-n", "1", "-n", "2", "-b"]))
        XCTAssertTrue(refusal(quectel(0, bridged: []), ["-b"]).hasPrefix("-b: qmi_wwan_q has no bridge_mode or bridge_ipv4 on wwan0: it was built without bridge support"))
        var notEther = quectel(0)
        notEther.netdevTypes = [("wwan0", 65534)]
        XCTAssertEqual(refusal(notEther, ["-b"]), "-b: wwan0 is not an Ethernet-type netdev (ARPHRD 65534), and qmi_wwan_q takes bridge_mode only on those")
        // Only module parameters: bridge_mode=0 at load cannot be changed here.
        var module = quectel(0, bridged: [])
        module.bridgeModuleParameter = 0
        XCTAssertTrue(refusal(module, ["-b"]).contains("loaded with bridge_mode=0: load it with bridge_mode=1"))
        module.bridgeModuleParameter = 1
        XCTAssertEqual(try? decide(module, ["-b"]).first?.attributes, .moduleParameters(driver: "qmi_wwan_q", mux: nil))
        XCTAssertEqual(BridgePlan.notQMI(driver: "cdc_mbim", mbim: true).hasPrefix("-b: the module is in MBIM mode, and cdc_mbim has no bridge mode"), true)
        XCTAssertEqual(refusal(quectel(0), []), "accepted", "no -b: nothing to refuse")
    }

    func testOptions() throws {
        XCTAssertEqual(try pdns(["-b"]).first?.bridge, true)
        XCTAssertEqual(try pdns(["-b"]).first?.defaultRoute, false, "a bridged PDN's address is the LAN host's: no default route here")
        XCTAssertEqual(try pdns(["-n", "1", "-n", "2", "-b"]).map { $0.bridge }, [false, true], "-b belongs to its PDN group")
        func usage(_ args: [String]) -> String {
            do { _ = try Options.parse(args); return "accepted" } catch { return error.message }
        }
        XCTAssertEqual(usage(["-b", "-6"]), "-b hands the PDN's IPv4 address to the LAN host; bridge mode carries no IPv6 call: drop -6")
        XCTAssertEqual(usage(["-b", "-4", "-6"]), "-b hands the PDN's IPv4 address to the LAN host; bridge mode carries no IPv6 call: drop -6")
        XCTAssertEqual(usage(["-b", "--default-route"]),
                       "-b and --default-route exclude each other: in bridge mode the address, and so the route, are the LAN host's")
        XCTAssertEqual(usage(["-b", "--script", "/bin/true"]),
                       "--script and -b exclude each other: in bridge mode the address is the LAN host's, and nothing is configured on this board")
        XCTAssertEqual(usage(["-b", "-b"]), "-b given twice for PDN 1")
    }

    // MARK: the machine

    func bridgeWrites(_ h: QMIHarness) -> [String] {
        h.actions.compactMap { a -> String? in
            guard case let .setBridge(pdn, on, ipv4) = a else { return nil }
            return "\(pdn) \(on ? "on" : "off") \(IPAddress(ipv4: ipv4).text)"
        }
    }

    func testTheMachineWritesAtTheRightMoments() throws {
        let h = try QMIHarness(["-b", "-s", "cmnet"], noLink: false, facts: quectel(0))
        h.connect()
        XCTAssertEqual(h.phases, [.connected])
        XCTAssertEqual(bridgeWrites(h), ["1 on 0.0.0.0", "1 on 10.90.1.113"])
        // On before the dial; the address once the netdev is up without one.
        let on = try XCTUnwrap(h.actions.firstIndex { if case .setBridge(1, true, 0) = $0 { return true }; return false })
        let start = try XCTUnwrap(h.actions.firstIndex { if case .sendQMI(_, let m, _) = $0 { return m.displayName == "WDS Start Network" }; return false })
        XCTAssertLessThan(on, start)
        let plans = h.actions.compactMap { a -> LinkPlan? in if case let .applyLink(_, p, _, _) = a { return p }; return nil }
        XCTAssertEqual(plans.count, 1)
        XCTAssertNil(plans.first?.ipv4, "the netdev gets no address")
        XCTAssertNil(plans.first?.ipv6)
        XCTAssertEqual(plans.first?.defaultRoute, false)
        XCTAssertEqual(plans.first?.mtu, 1500, "the call's MTU, as quectel-CM sets it")
        XCTAssertEqual(h.statusValues(.bridge).compactMap { $0 }, ["10.90.1.113 handed to the LAN host through wwan0 (a port of br0)"])
        XCTAssertTrue(h.states.contains("connected: bridge mode: 10.90.1.113 handed to the LAN host through wwan0 (a port of br0)"), "\(h.states)")
        XCTAssertEqual(h.statusValues(.ipv4).compactMap { $0 }, [], "no address of the host's to show")
        XCTAssertTrue(h.sent.filter { $0.displayName == "WDA Set Data Format" }.allSatisfy { WDA.SetDataFormat.Request($0).linkLayerProtocol == .rawIp })

        // The network ends the call: the driver stops answering for the address; the redial brings it back.
        h.sim.dropCalls()
        h.settle()
        XCTAssertEqual(bridgeWrites(h).last, "1 on 0.0.0.0")
        h.advance(to: h.now + 5_000)
        XCTAssertEqual(h.phases, [.connected])
        XCTAssertEqual(bridgeWrites(h).last, "1 on 10.90.1.113")

        // SIGTERM: the address cleared, bridge mode off.
        h.feed(.stop(signal: "SIGTERM"))
        h.settle()
        XCTAssertEqual(h.exitCode, 0)
        XCTAssertEqual(Array(bridgeWrites(h).suffix(2)), ["1 on 0.0.0.0", "1 off 0.0.0.0"])
        XCTAssertTrue(h.sim.isClean)
    }

    func testAFailureResetsTheBridgeAndAFailedWriteIsFatal() throws {
        // The dial gives up: the mode qcm turned on is turned off on the way out.
        var h = try QMIHarness(["-b", "--max-retries", "1"], noLink: false, facts: quectel(0)) { $0.rejectCall = (1013, 6, 27) }
        h.connect()
        XCTAssertEqual(h.exitCode, ExitCode.callFailed, h.log.joined(separator: "\n"))
        XCTAssertEqual(bridgeWrites(h), ["1 on 0.0.0.0", "1 off 0.0.0.0"])

        // The driver refuses the write: exit 8 before any call is made, nothing left on.
        h = try QMIHarness(["-b"], noLink: false, facts: quectel(0))
        h.bridgeResult = { _, _, _ in .failure(.system(operation: "write '1' to /sys/class/net/wwan0/bridge_mode", errno: EIO)) }
        h.connect()
        XCTAssertEqual(h.exitCode, ExitCode.link)
        XCTAssertTrue(h.lastError?.hasPrefix("cannot put wwan0 in bridge mode: write '1' to /sys/class/net/wwan0/bridge_mode: EIO") == true, h.lastError ?? "")
        XCTAssertFalse(h.sentNames.contains("WDS Start Network"))
        XCTAssertEqual(bridgeWrites(h), ["1 on 0.0.0.0"], "nothing was turned on, so nothing is turned off")
        XCTAssertTrue(h.sim.isClean)

        // A modem that gives no IPv4 address: nothing reaches bridge_ipv4, the call is dropped and redialed.
        h = try QMIHarness(["-b", "--max-retries", "2"], noLink: false, facts: quectel(0)) { $0.ipv4Address = 0 }
        h.connect()
        h.advance(to: 10_000)
        XCTAssertEqual(h.exitCode, ExitCode.callFailed)
        XCTAssertEqual(bridgeWrites(h), ["1 on 0.0.0.0", "1 off 0.0.0.0"])
        XCTAssertTrue(h.log.contains { $0.contains("bridge mode: the modem gave no usable IPv4 address to hand to the LAN host") })
    }

    func testNoLinkSaysWhatToWrite() throws {
        let h = try QMIHarness(["-b"], noLink: true, facts: quectel(0))
        h.connect()
        XCTAssertEqual(h.phases, [.connected])
        XCTAssertEqual(bridgeWrites(h), [], "--no-link leaves the driver alone")
        XCTAssertTrue(h.log.contains("--no-link: put wwan0 in bridge mode yourself: echo 1 > /sys/class/net/wwan0/bridge_mode; echo 0x0 > /sys/class/net/wwan0/bridge_ipv4"), "\(h.log)")
        XCTAssertTrue(h.log.contains("--no-link: hand 10.90.1.113 to the driver yourself: echo 1 > /sys/class/net/wwan0/bridge_mode; echo 0xa5a0171 > /sys/class/net/wwan0/bridge_ipv4"), "\(h.log)")
    }

    func testOnlyTheBridgedPDNOfTwoIsBridged() throws {
        let h = try QMIHarness(["-n", "1", "-s", "cmnet", "-n", "2", "-s", "lan", "-b"], noLink: false, facts: quectel(4))
        h.connect()
        XCTAssertEqual(h.phases, [.connected, .connected])
        XCTAssertEqual(bridgeWrites(h), ["1 off 0.0.0.0", "2 on 0.0.0.0", "2 on 10.90.2.113"])
        let plans = h.actions.compactMap { a -> LinkPlan? in if case let .applyLink(_, p, _, _) = a { return p }; return nil }
        XCTAssertEqual(plans.first { $0.interface == "wwan0_1" }?.ipv4?.address.text, "10.90.1.113", "PDN 1 is configured as usual")
        XCTAssertNil(plans.first { $0.interface == "wwan0_2" }?.ipv4)
        // qcm -k 2: PDN 2's netdev leaves bridge mode; PDN 1 goes on.
        h.feed(.stopPDN(2))
        h.settle()
        XCTAssertEqual(Array(bridgeWrites(h).suffix(2)), ["2 on 0.0.0.0", "2 off 0.0.0.0"])
        XCTAssertNil(h.exitCode)
    }

    // MARK: end to end against the simulated drivers (root: TAP netdevs in a namespace)

    func plane(_ rig: DaemonRig) -> (bridges: [String: DataPlane.Bridge], writes: [String], drops: [String]) {
        rig.sim.withState { s in (s.dataPlane?.bridges ?? [:], s.dataPlane?.bridgeWrites ?? [], s.dataPlane?.drops ?? []) }
    }

    func bridge(_ rig: DaemonRig, _ dev: String) -> DataPlane.Bridge? { plane(rig).bridges[dev] }

    let callAddress = IPAddress("10.90.1.113")!.ipv4!

    /// A Linux bridge br0 in the rig's namespace with `port` and a veth to a LAN host in a
    /// namespace of its own (lanhost0).
    final class LAN {
        let host: TestNamespace
        init(_ rig: DaemonRig, port: String) throws {
            host = try TestNamespace("qcm-lan")
            let ns = rig.ns!.name
            for args in [["link", "add", "br0", "type", "bridge"], ["link", "set", port, "master", "br0"],
                         ["link", "add", "lan0", "type", "veth", "peer", "name", "lanhost0", "netns", host.name],
                         ["link", "set", "lan0", "master", "br0"], ["link", "set", "lan0", "up"], ["link", "set", "br0", "up"]] {
                let r = shell(["ip", "-n", ns] + args)
                XCTAssertEqual(r.status, 0, "ip \(args): \(r.output)")
            }
            XCTAssertEqual(shell(["ip", "-n", host.name, "link", "set", "lanhost0", "up"]).status, 0)
        }

        /// The LAN host's DHCP client (qcm's own, run alone): exit status and output.
        func dhcp(_ rig: DaemonRig) -> (status: Int32, output: String) {
            shell(["ip", "netns", "exec", host.name, productPath("qcm"), "dhcp", "-i", "lanhost0", "-q", "--timeout", "15",
                   "--dns", "none", "--run-dir", rig.root + "/lanrun"], timeout: 30)
        }

        func ping(_ address: String) -> (status: Int32, output: String) {
            shell(["ip", "netns", "exec", host.name, "ping", "-c", "1", "-W", "2", address])
        }
    }

    func testQmiWwanQHandsTheAddressToTheLANHost() throws {
        guard isRoot else { throw XCTSkip("needs root: TAP netdevs, a bridge and a LAN host in network namespaces") }
        let rig = try DaemonRig(netns: true, qmap: 0)
        try FileManager.default.createDirectory(atPath: rig.root + "/lanrun", withIntermediateDirectories: true)
        let lan = try LAN(rig, port: "wwan0")
        rig.start(["-b", "-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("connected (bridge mode: 10.90.1.113 handed to the LAN host through wwan0 (a port of br0))"), rig.log)
        XCTAssertTrue(rig.log.contains("echo '0xa5a0171' > \(rig.root)/sys/class/net/wwan0/bridge_ipv4"), rig.log)
        XCTAssertEqual(bridge(rig, "wwan0")?.mode, 1)
        XCTAssertEqual(bridge(rig, "wwan0")?.ipv4, callAddress)
        XCTAssertEqual(plane(rig).writes.filter { $0.contains("bridge_ipv4") }.prefix(2), ["wwan0 bridge_ipv4 0x0", "wwan0 bridge_ipv4 0xa5a0171"],
                       "0 before the dial, the call's address once connected")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0"), [], "the netdev has no address of its own")
        XCTAssertEqual(ipDefaultRoutes(rig.ns!.name, "-4"), [])
        XCTAssertEqual(rig.statusValue("bridge"), "10.90.1.113 handed to the LAN host through wwan0 (a port of br0)")
        XCTAssertNil(rig.statusValue("ipv4"))
        let st = qcm(["status", "--run-dir", rig.root + "/run"])
        XCTAssertTrue(st.output.contains("  bridge:    10.90.1.113 handed to the LAN host through wwan0 (a port of br0)"), st.output)
        let json = qcm(["status", "--json", "--run-dir", rig.root + "/run"])
        XCTAssertTrue(json.output.contains("\"bridge\": \"10.90.1.113 handed to the LAN host through wwan0 (a port of br0)\""), json.output)
        let list = qcm(["list", "--sysfs-root", rig.root + "/sys", "--dev-root", rig.root + "/dev"])
        XCTAssertTrue(list.output.contains("  bridge:     -b possible on wwan0 (bridge_mode, bridge_ipv4)"), list.output)

        // The LAN host: DHCP through the driver to the modem, ARP answered by the driver, a ping to the gateway.
        let d = lan.dhcp(rig)
        XCTAssertEqual(d.status, 0, d.output + plane(rig).drops.joined(separator: "\n"))
        XCTAssertEqual(ipAddresses(lan.host.name, "lanhost0"), ["10.90.1.113/30"], "the LAN host has the call's address")
        let lanMAC = DataPlane.macAddress(inNamespace: lan.host.name, "lanhost0")
        XCTAssertEqual(bridge(rig, "wwan0")?.hostMAC, lanMAC, "learned from its DHCP request")
        XCTAssertEqual(lan.ping("10.90.1.114").status, 0, plane(rig).drops.joined(separator: "\n"))
        XCTAssertGreaterThan(rig.sim.withState { $0.dataPlane?.arpAnswered["wwan0"] ?? 0 }, 0, "the driver answered the LAN host's ARP")

        // A host address on the bridged netdev: the driver carries none of the host's traffic, and says why.
        XCTAssertEqual(shell(["ip", "-n", rig.ns!.name, "addr", "add", "10.90.1.113/30", "dev", "wwan0"]).status, 0)
        XCTAssertNotEqual(rig.ping("10.90.1.114", from: "wwan0").status, 0)
        XCTAssertTrue(plane(rig).drops.contains { $0.contains("it comes from wwan0 itself, from the host address 10.90.1.113 configured on it: in bridge mode the address is the LAN host's") },
                      plane(rig).drops.joined(separator: "\n"))
        XCTAssertEqual(shell(["ip", "-n", rig.ns!.name, "addr", "del", "10.90.1.113/30", "dev", "wwan0"]).status, 0)

        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
        XCTAssertEqual(bridge(rig, "wwan0")?.mode, 0, "bridge mode off again")
        XCTAssertEqual(bridge(rig, "wwan0")?.ipv4, 0, "and no address for the driver to answer for")
        XCTAssertNotEqual(lan.ping("10.90.1.114").status, 0, "the call is gone")
    }

    func testQMAPMuxTwoPDNsOneBridgedAndADrop() throws {
        guard isRoot else { throw XCTSkip("needs root: TAP netdevs in a network namespace") }
        let rig = try DaemonRig(netns: true, qmap: 4)
        rig.start(["-n", "1", "-s", "cmnet", "-n", "2", "-s", "lan", "-b"])
        XCTAssertTrue(rig.waitCount("connected (", 2), rig.log)
        XCTAssertEqual(bridge(rig, "wwan0_2")?.mode, 1)
        XCTAssertEqual(bridge(rig, "wwan0_2")?.ipv4, IPAddress("10.90.2.113")!.ipv4!)
        XCTAssertEqual(bridge(rig, "wwan0_1")?.mode, 0, "PDN 1's netdev: bridge mode off, as quectel-CM writes it")
        XCTAssertTrue(plane(rig).writes.contains("wwan0_1 bridge_mode 0"), "\(plane(rig).writes)")
        XCTAssertEqual(bridge(rig, "wwan0")?.mode, 0, "the parent is not touched")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0_2"), [])
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0_1"), ["10.90.1.113/30"])
        XCTAssertEqual(rig.ping("10.90.1.114", from: "wwan0_1").status, 0, plane(rig).drops.joined(separator: "\n"))
        XCTAssertEqual(rig.dataPlane?.linkState, 0b11, "the driver told both muxes carry calls")

        // The network ends the calls: the driver stops answering for the address; after the redial, it has it again.
        rig.sim.dropCalls()
        XCTAssertTrue(rig.waitSim { $0.dataPlane?.bridges["wwan0_2"]?.ipv4 == 0 }, "\(plane(rig).writes)")
        XCTAssertTrue(rig.waitCount("connected (", 4, timeout: 20), rig.log)
        XCTAssertTrue(rig.waitSim { $0.dataPlane?.bridges["wwan0_2"]?.ipv4 == IPAddress("10.90.2.113")!.ipv4! })

        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(bridge(rig, "wwan0_2"), DataPlane.Bridge(), "mode 0, address 0")
        XCTAssertEqual(rig.dataPlane?.linkState, 0)
    }

    func testGobiNetBridgesInRawIPAndAFailureResetsIt() throws {
        guard isRoot else { throw XCTSkip("needs root: TAP netdevs in a network namespace") }
        let rig = try DaemonRig(netns: true, driver: "GobiNet", netdev: "usb0") { $0.linkProtocol = 1 }
        rig.start(["-b"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.sim.currentLinkProtocol, 2, "raw-IP asked for: GobiNet bridges only in raw-IP mode")
        XCTAssertFalse(rig.log.contains("DHCP on usb0"), rig.log)
        XCTAssertEqual(bridge(rig, "usb0")?.mode, 1)
        XCTAssertEqual(bridge(rig, "usb0")?.ipv4, callAddress)
        XCTAssertEqual(ipAddresses(rig.ns!.name, "usb0"), [])
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(bridge(rig, "usb0"), DataPlane.Bridge())

        // The dial fails for good: the mode qcm turned on goes off with it.
        rig.sim.withState { $0.config.rejectCall = (1013, 6, 27) }
        rig.start(["-b", "--max-retries", "1"])
        XCTAssertEqual(rig.waitExit(timeout: 20), 6, rig.log)
        XCTAssertTrue(rig.waitSim { $0.dataPlane?.bridgeWrites.count == 12 }, "\(plane(rig).writes)")
        XCTAssertEqual(Set(plane(rig).writes.suffix(4)), ["usb0 bridge_mode 1", "usb0 bridge_ipv4 0x0", "usb0 bridge_mode 0"],
                       "turned on for the dial, off after it failed (the driver's two files are read in either order)")
        XCTAssertEqual(bridge(rig, "usb0"), DataPlane.Bridge())
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    func testPCIeBridgesTheChildNotTheParent() throws {
        guard isRoot else { throw XCTSkip("needs root: TAP netdevs in a network namespace") }
        let rig = try DaemonRig(netns: true, driver: "pcie_mhi", netdev: "rmnet_mhi0", qmapSize: 15360)
        let lan = try LAN(rig, port: "rmnet_mhi0.1")
        try FileManager.default.createDirectory(atPath: rig.root + "/lanrun", withIntermediateDirectories: true)
        rig.start(["-b", "-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(bridge(rig, "rmnet_mhi0.1")?.mode, 1)
        XCTAssertEqual(bridge(rig, "rmnet_mhi0.1")?.ipv4, callAddress)
        XCTAssertEqual(bridge(rig, "rmnet_mhi0")?.mode, 0, "the ARPHRD_NONE parent is never put in bridge mode")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "rmnet_mhi0.1"), [])
        XCTAssertEqual(rig.dataPlane?.linkState, 1, "link_state as for any call")
        let d = lan.dhcp(rig)
        XCTAssertEqual(d.status, 0, d.output + plane(rig).drops.joined(separator: "\n"))
        XCTAssertEqual(lan.ping("10.90.1.114").status, 0, plane(rig).drops.joined(separator: "\n"))
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(bridge(rig, "rmnet_mhi0.1"), DataPlane.Bridge(mode: 0, ipv4: 0, hostMAC: bridge(rig, "rmnet_mhi0.1")?.hostMAC))
    }

    func testTheSimulatedDriverIgnoresBridgeModeOnANonEthernetNetdev() throws {
        guard isRoot else { throw XCTSkip("needs root: writes to the simulated driver's attributes") }
        let rig = try DaemonRig(driver: "pcie_mhi", netdev: "rmnet_mhi0")
        try Files.writeAttribute(rig.root + "/sys/class/net/rmnet_mhi0/bridge_mode", "1\n")
        XCTAssertTrue(rig.waitSim { $0.dataPlane?.drops.contains { $0.contains("rmnet_mhi0 is not ARPHRD_ETHER") } == true })
        XCTAssertEqual(bridge(rig, "rmnet_mhi0")?.mode, 0)
    }

    func testRefusalsWhereTheDriverHasNoBridgeMode() throws {
        // Upstream qmi_wwan.
        var rig = try DaemonRig()
        rig.start(["-b"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)
        XCTAssertTrue(rig.log.contains("-b: upstream qmi_wwan has no bridge mode (no bridge_mode or bridge_ipv4 on wwan0)"), rig.log)
        XCTAssertEqual(rig.sim.connectionCount, 0, "refused before the modem was touched")
        // qmi_wwan_q built without bridge support.
        rig = try DaemonRig(qmap: 0, bridgeSupport: false)
        let list = qcm(["list", "--sysfs-root", rig.root + "/sys", "--dev-root", rig.root + "/dev"])
        XCTAssertTrue(list.output.contains("  bridge:     none (qmi_wwan_q has no bridge_mode or bridge_ipv4)"), list.output)
        rig.start(["-b"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)
        XCTAssertTrue(rig.log.contains("-b: qmi_wwan_q has no bridge_mode or bridge_ipv4 on wwan0: it was built without bridge support"), rig.log)
        // MBIM.
        rig = try DaemonRig(mbim: MBIMSimulator.Config())
        rig.start(["-b", "-s", "cmnet"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)
        XCTAssertTrue(rig.log.contains("-b: the module is in MBIM mode, and cdc_mbim has no bridge mode"), rig.log)
        // A module dialed with AT commands.
        rig = try DaemonRig(at: ATSimConfig(product: .ec200u))
        rig.start(["-b"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)
        XCTAssertTrue(rig.log.contains("-b: cdc_ncm has no bridge mode (this module is dialed with AT commands)"), rig.log)
    }
}
