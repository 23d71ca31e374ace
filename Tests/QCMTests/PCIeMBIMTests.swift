import Foundation
import XCTest
import Base
import CSystem
import LinkConfig
import MBIMCore
import MBIMMessages
import QMISim
import TestSupport
@testable import QCM

/// MBIM over PCIe on Quectel's pcie_mhi loaded with mhi_mbim_enabled=1 (/dev/mhi_MBIM, the
/// data on the driver's children rmnet_mhi0.N): the plan's mapping of sessions to children
/// (pure), the machine's link_state (pure), `qcm list`, and the dial end to end against the
/// simulator's pcie_mhi (MHIMBIMPlane), which drops what the driver would — the captures
/// pcie_mhi_mbim.txt (qmap_mode 1, session 0 on rmnet_mhi0.1) and pcie_mhi_mbim_qmap=4.txt
/// (qmap_mode 4, `-n 2`: session 2 on rmnet_mhi0.2).
final class PCIeMBIMTests: XCTestCase {
    func pdns(_ args: [String]) throws -> [PDNOptions] { try Options.parse(args).pdns }

    /// pcie_mhi in MBIM mode with qmap_mode `mode` and the children it made.
    func mhi(_ mode: Int?, product: UInt16 = 0x0306, children: Int? = nil, netdev: String = "rmnet_mhi0") -> DriverFacts {
        let n = children ?? mode ?? 1
        return DriverFacts(driver: "pcie_mhi", netdev: netdev, netdevs: ["rmnet_mhi0"] + (0..<n).map { "rmnet_mhi0.\($0 + 1)" },
                           qmapMode: mode, qmapSize: 32768, pcie: true, productID: product, mhiMBIM: true)
    }

    func refusal(_ f: DriverFacts, _ args: [String], _ choice: DataPathChoice = .auto) -> String {
        do throws(DataPlan.Failure) {
            _ = try DataPlan.decide(f, pdns: (try? pdns(args)) ?? [], choice: choice)
            return "accepted"
        } catch { return error.message }
    }

    // MARK: the plan

    /// The driver's mapping: qmap_mode 1, rmnet_mhi0.1 carries session 0 whatever -n says
    /// (quectel-CM's offset 0); qmap_mode N > 1, rmnet_mhi0.X carries session X, X from -m,
    /// else -n; SDX7x (17cb:0309) numbers the sessions from 112.
    func testTheDriversSessionMapping() throws {
        var p = try DataPlan.decide(mhi(1), pdns: pdns(["-s", "cmnet"]), choice: .auto)
        XCTAssertEqual(p.kind, .mhiMBIM(mode: 1))
        XCTAssertFalse(p.usesQMAP)
        XCTAssertTrue(p.carriesMBIMSessions)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: 0, netdev: "rmnet_mhi0.1", child: 1)])
        XCTAssertEqual(p.parent, "rmnet_mhi0")
        XCTAssertEqual(p.summary, "MBIM session 0 on rmnet_mhi0.1 (pcie_mhi, qmap_mode 1)")
        p = try DataPlan.decide(mhi(1), pdns: pdns(["-n", "2", "-s", "cmnet"]), choice: .auto)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 2, mux: 0, netdev: "rmnet_mhi0.1", child: 1)], "as quectel-CM: qmap_mode 1 has one session")

        p = try DataPlan.decide(mhi(4), pdns: pdns(["-n", "2", "-s", "4gnet"]), choice: .auto)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 2, mux: 2, netdev: "rmnet_mhi0.2", child: 2)])
        XCTAssertEqual(p.summary, "MBIM session 2 on rmnet_mhi0.2 (pcie_mhi, qmap_mode 4)")
        p = try DataPlan.decide(mhi(4), pdns: pdns(["-s", "cmnet"]), choice: .auto)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: 1, netdev: "rmnet_mhi0.1", child: 1)], "-n 1 of the capture: session 1")
        p = try DataPlan.decide(mhi(4), pdns: pdns(["-n", "1", "-m", "3"]), choice: .auto)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: 3, netdev: "rmnet_mhi0.3", child: 3)], "-m picks the child")

        p = try DataPlan.decide(mhi(1, product: 0x0309), pdns: pdns([]), choice: .auto)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: 112, netdev: "rmnet_mhi0.1", child: 1)], "SDX7x: mbim_mux_id 112")
        p = try DataPlan.decide(mhi(4, product: 0x0309), pdns: pdns(["-n", "2"]), choice: .auto)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 2, mux: 114, netdev: "rmnet_mhi0.2", child: 2)])
        XCTAssertEqual(DataPlan.mhiMBIMSession(child: 4, mode: 4, base: 112), 116)
    }

    func testWhatTheDriverCannotCarryIsRefused() {
        XCTAssertEqual(refusal(mhi(4), ["-n", "1", "-n", "2"]),
                       "one qcm dials one MBIM session: run a qcm per PDN (-n N for the session on rmnet_mhi0.N), sharing the MBIM channel through a proxy (-p mbim-proxy), as quectel-CM does through quectel-mbim-proxy")
        XCTAssertEqual(refusal(mhi(4), ["-n", "5"]),
                       "PDN 5 would use rmnet_mhi0.5 (MBIM session 5), but pcie_mhi runs qmap_mode 4 (rmnet_mhi0.1-rmnet_mhi0.4): give -n or -m 1..4, or load the driver with qmap_mode=5")
        XCTAssertEqual(refusal(mhi(1), ["-m", "2"]),
                       "-m 2: pcie_mhi with qmap_mode 1 has rmnet_mhi0.1 alone, carrying MBIM session 0; dial without -m, or load the driver with qmap_mode=2")
        XCTAssertEqual(refusal(mhi(0), []),
                       "pcie_mhi runs qmap_mode 0, and with mhi_mbim_enabled it then makes no rmnet_mhi0.N to carry an MBIM session: load it with qmap_mode=1 (its default) or more")
        XCTAssertTrue(refusal(mhi(nil), []).hasPrefix("pcie_mhi shows no qmap_mode"))
        XCTAssertEqual(refusal(mhi(4, children: 1), ["-n", "3"]),
                       "pcie_mhi with qmap_mode 4 should have made rmnet_mhi0.3 for MBIM session 3, but there is no such interface")
        XCTAssertTrue(refusal(mhi(4), [], .qmap).hasPrefix("--data-path chooses how QMI data is carried; over MBIM pcie_mhi carries each session"))
        XCTAssertEqual(refusal(mhi(4, netdev: "rmnet_mhi0.2"), ["-n", "2"]),
                       "-i rmnet_mhi0.2 is one of pcie_mhi's children: name its parent (-i rmnet_mhi0, or no -i) and choose the session's child with -n N (or -m N)")
        XCTAssertEqual(refusal(mhi(4), ["-n", "4"]), "accepted")
    }

    // MARK: the machine

    func connectDone(_ session: UInt32, _ state: MBIM.ActivationState) -> MBIMMessage {
        var m = MBIMMessage(kind: .commandDone, transactionID: 9)
        m.service = .basicConnect
        m.cid = MBIM.Connect.cid
        m.buffer = MBIM.Connect.Response(sessionID: session, activationState: state, ipType: .ipv4, contextType: .contextInternet).encode()
        return m
    }

    func linkStates(_ actions: [Action]) -> [String] {
        actions.compactMap { if case let .setLinkState(_, mux, up) = $0 { return "0x\(Text.hex(mux)) \(up ? "up" : "down")" }; return nil }
    }

    /// The session writes link_state for the plan's child — N when activated, cleared when
    /// the network ends the session and when qcm stops — and nothing over cdc_mbim.
    func testLinkStateFollowsTheSession() throws {
        let o = try Options.parse(["-n", "2", "-s", "4gnet"])
        let plan = try DataPlan.decide(mhi(4), pdns: o.pdns, choice: .auto)
        var config = SessionConfig(options: o, channel: "/dev/mhi_MBIM", device: "/dev/mhi_MBIM", proxy: nil, netdev: "rmnet_mhi0",
                                   rawIP: nil, rawIPSwitchable: false, driver: "pcie_mhi", timeouts: SessionConfig.Timeouts(), plan: plan)
        config.mbim = true
        let m = MBIMSession(config)
        XCTAssertEqual(m.netdev(2), "rmnet_mhi0.2")
        XCTAssertEqual(m.session, 2)
        m.becameReady()
        m.call.phase = .dialing
        m.dialing = true
        var a = m.handle(MBIMEvent.answer(.connect, .success(connectDone(2, .activated))), now: 100)
        XCTAssertEqual(linkStates(a), ["0x82 up"], "child 2 named as mux 0x82: link_state 2")
        XCTAssertTrue(a.contains { if case .sendMBIM(.ipConfig, _, _) = $0 { return true }; return false })
        a = m.handle(MBIMEvent.indication(connectDone(2, .deactivated)), now: 200)
        XCTAssertEqual(linkStates(a), ["0x82 down"], "the network ended the session: 0x80+2")
        XCTAssertEqual(DataLinks.linkStateValue(mux: 0x82, up: true, qmapMode: 4), 2)
        XCTAssertEqual(DataLinks.linkStateValue(mux: 0x82, up: false, qmapMode: 4), 0x82)
        XCTAssertEqual(DataLinks.linkStateValue(mux: 0x81, up: true, qmapMode: 1), 1)
        XCTAssertEqual(DataLinks.linkStateValue(mux: 0x81, up: false, qmapMode: 1), 0)

        // Before the dial, pcie_mhi's parent goes up; its failure is a link failure (exit 8).
        let m2 = MBIMSession(config)
        _ = m2.handle(.start, now: 0)
        _ = m2.handle(.channelOpened, now: 1)
        m2.sim = .ready
        a = m2.handling(2) { m2.factsDone() }
        XCTAssertTrue(a.contains { if case .prepareParent(nil) = $0 { return true }; return false }, "\(a)")
        XCTAssertFalse(a.contains { if case .sendMBIM(.register, _, _) = $0 { return true }; return false }, "the dial waits for the parent")
        a = m2.handle(.parentReady(.invalid("no such device")), now: 5)
        XCTAssertTrue(a.contains { if case .log(let s) = $0 { return s.contains("cannot bring up rmnet_mhi0, through which pcie_mhi sends MBIM session 2: no such device") }; return false }, "\(a)")
        XCTAssertTrue(a.contains { if case .sendMBIM(.close, _, _) = $0 { return true }; return false }, "the device closed: \(a)")
        XCTAssertTrue(a.contains { if case .status(_, .lastError, _) = $0 { return true }; return false })

        // cdc_mbim: no link_state.
        let f = DriverFacts(driver: "cdc_mbim", netdev: "wwan0", netdevs: ["wwan0"])
        var c2 = SessionConfig(options: o, channel: "/dev/cdc-wdm0", device: "/dev/cdc-wdm0", proxy: nil, netdev: "wwan0", rawIP: nil,
                           rawIPSwitchable: false, driver: "cdc_mbim", timeouts: SessionConfig.Timeouts(),
                           plan: try DataPlan.decide(f, pdns: o.pdns, choice: .auto))
        c2.mbim = true
        let usb = MBIMSession(c2)
        usb.becameReady()
        usb.call.phase = .dialing
        usb.dialing = true
        XCTAssertEqual(linkStates(usb.handle(MBIMEvent.answer(.connect, .success(connectDone(0, .activated))), now: 100)), [])
    }

    // MARK: qcm list

    func tree(mode: Int, product: String = "0306") throws -> String {
        let root = NSTemporaryDirectory() + "qcm-mhimbim-" + UUID().uuidString
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try FakeHardware.writeSysfs(root: root, netdev: "rmnet_mhi0", product: product, driver: "pcie_mhi", qmapMode: mode,
                                    qmapSize: 32768, mbim: true)
        _ = FileManager.default.createFile(atPath: root + "/dev/mhi_MBIM", contents: nil)
        return root
    }

    func list(_ root: String, _ options: [String] = []) -> (status: Int32, output: String) {
        qcm(["list"] + options + ["--sysfs-root", root + "/sys", "--dev-root", root + "/dev"])
    }

    func json(_ root: String) throws -> [String: Any] {
        let r = list(root, ["--json"])
        let arr = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]], r.output)
        XCTAssertEqual(arr.count, 1)
        return arr[0]
    }

    func testListSaysMBIMTheChildrenAndTheirSessions() throws {
        let one = try tree(mode: 1)
        var r = list(one)
        XCTAssertEqual(r.status, 0, r.output)
        for line in ["Modem 1: PCIe (MHI) module 0306_00.01.00 (17cb:0306) at pcie 0306_00.01.00", "  mode:       MBIM\n",
                     "  driver:     pcie_mhi qmi-sim", "  channel:    \(one)/dev/mhi_MBIM", "  netdev:     rmnet_mhi0 (qmap_mode: 1)",
                     "  children:   rmnet_mhi0.1\n",
                     "  data path:  MBIM session 0 on rmnet_mhi0.1 (qmap_mode 1: the only session pcie_mhi carries)"] {
            XCTAssertTrue(r.output.contains(line), line + " in:\n" + r.output)
        }
        XCTAssertFalse(r.output.contains("warning"), r.output)
        var o = try json(one)
        XCTAssertEqual(o["mode"] as? String, "MBIM")
        XCTAssertEqual(o["control"] as? String, "mbim")
        XCTAssertEqual(o["usable"] as? Bool, true)
        XCTAssertEqual(o["channel"] as? String, one + "/dev/mhi_MBIM")
        XCTAssertEqual(o["net"] as? [String], ["rmnet_mhi0"])
        XCTAssertEqual(o["qmap_mode"] as? Int, 1)
        XCTAssertEqual(o["qmap_children"] as? [String], ["rmnet_mhi0.1"])
        XCTAssertEqual(o["data_path"] as? String, "MBIM session 0 on rmnet_mhi0.1 (pcie_mhi, qmap_mode 1)")
        var sessions = try XCTUnwrap(o["mbim_sessions"] as? [[String: Any]])
        XCTAssertEqual(sessions.map { $0["netdev"] as? String }, ["rmnet_mhi0.1"])
        XCTAssertEqual(sessions.map { $0["session"] as? Int }, [0])

        let four = try tree(mode: 4, product: "0304")
        r = list(four)
        for line in ["  children:   rmnet_mhi0.1, rmnet_mhi0.2, rmnet_mhi0.3, rmnet_mhi0.4",
                     "  data path:  MBIM session N on rmnet_mhi0.N for -n N (1-4), one session per qcm"] {
            XCTAssertTrue(r.output.contains(line), line + " in:\n" + r.output)
        }
        o = try json(four)
        sessions = try XCTUnwrap(o["mbim_sessions"] as? [[String: Any]])
        XCTAssertEqual(sessions.map { $0["session"] as? Int }, [1, 2, 3, 4])

        let sdx7x = try tree(mode: 4, product: "0309")
        XCTAssertTrue(list(sdx7x).output.contains("  data path:  MBIM session 112+N on rmnet_mhi0.N for -n N (1-4), one session per qcm (SDX7x: sessions from 112)"))
        sessions = try XCTUnwrap(try json(sdx7x)["mbim_sessions"] as? [[String: Any]])
        XCTAssertEqual(sessions.map { $0["session"] as? Int }, [113, 114, 115, 116])

        // qmap_mode 0: listed, with what is wrong; the dial is refused with the same words (exit 3).
        let none = try tree(mode: 0)
        r = list(none)
        XCTAssertTrue(r.output.contains("  warning:    pcie_mhi runs qmap_mode 0, which with mhi_mbim_enabled makes no rmnet_mhi0.N to carry an MBIM session"), r.output)
        XCTAssertTrue(r.output.contains("  data path:  not possible (pcie_mhi runs qmap_mode 0"), r.output)
        XCTAssertFalse(r.output.contains("children:"), r.output)
        let d = qcm(["--sysfs-root", none + "/sys", "--dev-root", none + "/dev", "--run-dir", none + "/run", "-s", "cmnet"])
        XCTAssertEqual(d.status, 3, d.output)
        XCTAssertTrue(d.output.contains("pcie_mhi runs qmap_mode 0, and with mhi_mbim_enabled it then makes no rmnet_mhi0.N"), d.output)

        // The node missing (no udev): said, with the mknod line from mhi_uci's uevent.
        try FileManager.default.removeItem(atPath: one + "/dev/mhi_MBIM")
        XCTAssertTrue(list(one).output.contains("  warning:    \(one)/dev/mhi_MBIM does not exist (udev not running? create it: mknod \(one)/dev/mhi_MBIM c 243 1)"),
                      list(one).output)
    }

    // MARK: end to end

    func drops(_ rig: DaemonRig) -> String { rig.mbimSim?.dropReasons.joined(separator: "\n") ?? "" }

    func clean(_ rig: DaemonRig) -> Bool { waitFor(timeout: 5) { rig.mbimSim?.isClean == true } }

    func flags(_ ns: String, _ dev: String) -> [String] { ipJSON(ns, ["link", "show", dev]).first?["flags"] as? [String] ?? [] }

    /// pcie_mhi_mbim.txt: qmap_mode 1, `-s cmnet`: session 0 on rmnet_mhi0.1 (Ethernet,
    /// NOARP), the parent up, link_state 1 while connected, static addressing from
    /// IP_CONFIGURATION, a ping; SIGTERM leaves link_state 0, the parent down again, no
    /// address, the session deactivated and the device closed.
    func testQMAPMode1Session0OnTheFirstChild() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN/TAP links in a network namespace") }
        let rig = try DaemonRig(netns: true, driver: "pcie_mhi", netdev: "rmnet_mhi0", mbim: MBIMSimulator.Config())
        XCTAssertEqual(rig.channelKey, "mhi_MBIM")
        let ns = rig.ns!.name
        let plane = try XCTUnwrap(rig.mbimSim?.pcie)
        XCTAssertFalse(flags(ns, "rmnet_mhi0").contains("UP"))
        let child = try XCTUnwrap(ipJSON(ns, ["link", "show", "rmnet_mhi0.1"]).first)
        XCTAssertEqual(child["link_type"] as? String, "ether", "pcie_mhi's children are Ethernet-typed")
        XCTAssertTrue((child["flags"] as? [String] ?? []).contains("NOARP"))
        rig.start(["-s", "cmnet", "-4", "-6"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        for line in ["Auto find qmichannel = \(rig.root)/dev/mhi_MBIM", "Auto find usbnet_adapter = rmnet_mhi0", "netcard driver = pcie_mhi",
                     "data path: MBIM session 0 on rmnet_mhi0.1 (pcie_mhi, qmap_mode 1)", "MBIM mode: dialing with MBIM Basic Connect",
                     "MBIM session 0: rmnet_mhi0.1 carries it", "requestSetupDataCall MBIM session 0 activated (ipv4v6)"] {
            XCTAssertTrue(rig.log.contains(line), line + " in:\n" + rig.log)
        }
        XCTAssertFalse(rig.log.contains("DHCP"), "MBIM addressing is static")
        XCTAssertEqual(rig.mbimSim?.activeSessions, [0])
        XCTAssertEqual(plane.linkState, 1)
        XCTAssertTrue(flags(ns, "rmnet_mhi0").contains("UP"), "the parent the driver sends through is up")
        XCTAssertEqual(ipAddresses(ns, "rmnet_mhi0.1").sorted(), ["10.90.1.113/30", "2409:8930:463:3daa:7c8e:429a:c902:c6cc/64"])
        XCTAssertEqual(ipAddresses(ns, "rmnet_mhi0"), [], "nothing on the parent")
        XCTAssertEqual(ipDefaultRoutes(ns, "-4"), ["rmnet_mhi0.1 via - metric 0"])
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, drops(rig))
        XCTAssertEqual(rig.ping("2409:8930:463:3daa:7c8e:429a:c902:c6cd").status, 0, drops(rig))
        XCTAssertEqual(rig.ping("2001:db8:ffff::1").status, 0, drops(rig))
        XCTAssertEqual(plane.answered["rmnet_mhi0.1"], 3)
        // The network's RA on the child (at session up, and to qcm's solicitation), taken
        // without a second address or a default route of it.
        XCTAssertGreaterThan(rig.mbimSim?.advertisements ?? 0, 0)
        XCTAssertEqual(ipDefaultRoutes(ns, "-6"), ["rmnet_mhi0.1 via - metric 1024"], "qcm's alone")
        XCTAssertEqual(ipAddresses(ns, "rmnet_mhi0.1").filter { $0.contains(":") }.count, 1)
        XCTAssertEqual(rig.statusValue("interface"), "rmnet_mhi0.1")
        XCTAssertEqual(rig.statusValue("ipv4"), "10.90.1.113/30")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig), "session deactivated and the device closed")
        XCTAssertEqual(plane.linkState, 0, "link_state cleared")
        XCTAssertEqual(ipAddresses(ns, "rmnet_mhi0.1"), [])
        XCTAssertFalse(flags(ns, "rmnet_mhi0").contains("UP"), "the parent down again, as qcm found it")
        XCTAssertEqual(rig.mbimSim?.requestNames.last, "CLOSE")
    }

    /// pcie_mhi_mbim_qmap=4.txt: qmap_mode 4, `-n 2 -s 4gnet`: session 2 on rmnet_mhi0.2,
    /// link_state 0x2; the network ends the session and qcm redials; a second qcm for the
    /// same session is refused; SIGTERM clears link_state (0x82 written) and leaves nothing.
    func testQMAPMode4Session2OnTheSecondChild() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN/TAP links in a network namespace") }
        let rig = try DaemonRig(netns: true, driver: "pcie_mhi", netdev: "rmnet_mhi0", qmap: 4, mbim: MBIMSimulator.Config())
        let ns = rig.ns!.name
        let plane = try XCTUnwrap(rig.mbimSim?.pcie)
        rig.start(["-n", "2", "-s", "4gnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("data path: MBIM session 2 on rmnet_mhi0.2 (pcie_mhi, qmap_mode 4)"), rig.log)
        XCTAssertTrue(rig.log.contains("requestSetupDataCall MBIM session 2 activated (ipv4)"), rig.log)
        XCTAssertEqual(rig.mbimSim?.activeSessions, [2])
        XCTAssertEqual(plane.linkState, 0x2, "bit 1: rmnet_mhi0.2")
        XCTAssertEqual(ipAddresses(ns, "rmnet_mhi0.2"), ["10.90.1.113/30"])
        for other in ["rmnet_mhi0", "rmnet_mhi0.1", "rmnet_mhi0.3", "rmnet_mhi0.4"] { XCTAssertEqual(ipAddresses(ns, other), [], other) }
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, drops(rig))
        XCTAssertEqual(plane.answered["rmnet_mhi0.2"], 1)
        XCTAssertEqual(rig.statusValue("interface", pdn: 2), "rmnet_mhi0.2")

        let second = qcm(rig.baseArgs + ["-n", "3", "-m", "2", "-s", "cmnet"])
        XCTAssertEqual(second.status, 7, second.output)
        XCTAssertTrue(second.output.contains("dials MBIM session 2 on \(rig.root)/dev/mhi_MBIM"), second.output)

        rig.mbimSim?.dropSession(2)
        XCTAssertTrue(rig.waitLog("the network ended the session"), rig.log)
        XCTAssertTrue(rig.waitCount("] connected", 2), rig.log)
        XCTAssertEqual(plane.linkState, 0x2)
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, drops(rig))

        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig))
        XCTAssertEqual(plane.linkState, 0)
        XCTAssertEqual(ipAddresses(ns, "rmnet_mhi0.2"), [])
        XCTAssertFalse(flags(ns, "rmnet_mhi0").contains("UP"))
    }

    /// The simulator holds qcm's data path to the driver's rules: with --no-link qcm dials
    /// session 2 and says what is left to do; done by hand, a ping gets through only once
    /// the parent is up, link_state has the child's bit, and the address is on the child
    /// that carries the session — every failure silent, with its reason recorded.
    func testTheDriversRulesAreEnforced() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN/TAP links in a network namespace") }
        let rig = try DaemonRig(netns: true, driver: "pcie_mhi", netdev: "rmnet_mhi0", qmap: 4, mbim: MBIMSimulator.Config())
        let ns = rig.ns!.name
        let plane = try XCTUnwrap(rig.mbimSim?.pcie)
        let linkStatePath = rig.root + "/sys/class/net/rmnet_mhi0/link_state"
        rig.start(["-n", "2", "-s", "cmnet", "--no-link"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("--no-link: bring rmnet_mhi0 up and configure rmnet_mhi0.2 yourself"), rig.log)
        XCTAssertTrue(rig.log.contains("--no-link: tell pcie_mhi yourself: echo 2 > \(linkStatePath)"), rig.log)
        XCTAssertEqual(plane.linkState, 0, "--no-link leaves link_state alone")
        XCTAssertFalse(flags(ns, "rmnet_mhi0").contains("UP"))

        func ip(_ args: String...) { XCTAssertEqual(shell(["ip", "-n", ns] + args).status, 0, args.joined(separator: " ")) }
        func pingFails(_ dev: String, because reason: String) {
            XCTAssertNotEqual(rig.ping("10.90.1.114", from: dev).status, 0)
            XCTAssertTrue(waitFor(timeout: 3) { self.drops(rig).contains(reason) }, reason + " in:\n" + drops(rig))
        }
        func linkState(_ v: String) { XCTAssertEqual(shell(["sh", "-c", "echo \(v) > \(linkStatePath)"]).status, 0) }

        ip("link", "set", "rmnet_mhi0.2", "up")
        ip("addr", "add", "10.90.1.113/30", "dev", "rmnet_mhi0.2")
        pingFails("rmnet_mhi0.2", because: "rmnet_mhi0.2: dropped a ping: rmnet_mhi0, through which pcie_mhi sends, is down")
        ip("link", "set", "rmnet_mhi0", "up")
        pingFails("rmnet_mhi0.2", because: "pcie_mhi keeps rmnet_mhi0.2's carrier off, link_state 0x0 lacks it")
        linkState("3")
        XCTAssertTrue(waitFor { plane.linkState == 0x4 })
        pingFails("rmnet_mhi0.2", because: "link_state 0x4 lacks it")
        linkState("2")
        XCTAssertTrue(waitFor { plane.linkState == 0x6 })
        XCTAssertEqual(rig.ping("10.90.1.114", from: "rmnet_mhi0.2").status, 0, drops(rig))

        // The call's address on a child that carries another session (rmnet_mhi0.3: session 3).
        ip("addr", "del", "10.90.1.113/30", "dev", "rmnet_mhi0.2")
        ip("link", "set", "rmnet_mhi0.3", "up")
        ip("addr", "add", "10.90.1.113/30", "dev", "rmnet_mhi0.3")
        pingFails("rmnet_mhi0.3", because: "rmnet_mhi0.3: dropped a ping: rmnet_mhi0.3 carries MBIM session 3, which is not up (sessions up: 2)")
        // On the parent: the driver hands every answer to a child.
        ip("addr", "del", "10.90.1.113/30", "dev", "rmnet_mhi0.3")
        ip("addr", "add", "10.90.1.113/30", "dev", "rmnet_mhi0")
        pingFails("rmnet_mhi0", because: "pcie_mhi hands every MBIM session's packets to its children (rmnet_mhi0.N), never to rmnet_mhi0")
        // Another source than the session's address.
        ip("addr", "del", "10.90.1.113/30", "dev", "rmnet_mhi0")
        ip("addr", "add", "10.90.1.117/29", "dev", "rmnet_mhi0.2")
        pingFails("rmnet_mhi0.2", because: "its source is not 10.90.1.113, the address of session 2: the network drops it")
        XCTAssertEqual(plane.answered["rmnet_mhi0.2"], 1, "one answer in all")

        // link_state's store ignores values outside the children; 0x82 clears child 2.
        linkState("9")
        linkState("130")
        XCTAssertTrue(waitFor { plane.linkState == 0x4 })
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(clean(rig))
    }

    /// SDX7x (17cb:0309): pcie_mhi numbers the sessions from 112, and qcm dials the one the
    /// driver carries (quectel-CM 1.6.8 would send session 0 or -n). No root needed: --no-link.
    func testSDX7xSessionsStartAt112() throws {
        let one = try DaemonRig(driver: "pcie_mhi", netdev: "rmnet_mhi0", mbim: MBIMSimulator.Config(), product: "0309")
        one.start(["-s", "cmnet"])
        XCTAssertTrue(one.waitLog("] connected"), one.log)
        XCTAssertTrue(one.log.contains("data path: MBIM session 112 on rmnet_mhi0.1 (pcie_mhi, qmap_mode 1)"), one.log)
        XCTAssertTrue(one.log.contains("echo 1 > \(one.root)/sys/class/net/rmnet_mhi0/link_state"), one.log)
        XCTAssertEqual(one.mbimSim?.activeSessions, [112])
        one.signal(SIGTERM)
        XCTAssertEqual(one.waitExit(), 0, one.log)
        XCTAssertTrue(clean(one))

        let four = try DaemonRig(driver: "pcie_mhi", netdev: "rmnet_mhi0", qmap: 4, mbim: MBIMSimulator.Config(), product: "0309")
        four.start(["-n", "3", "-s", "cmnet"])
        XCTAssertTrue(four.waitLog("] connected"), four.log)
        XCTAssertTrue(four.log.contains("data path: MBIM session 115 on rmnet_mhi0.3 (pcie_mhi, qmap_mode 4)"), four.log)
        XCTAssertTrue(four.log.contains("echo 3 > "), "link_state names the child, not the session: \(four.log)")
        XCTAssertEqual(four.mbimSim?.activeSessions, [115])
        XCTAssertEqual(four.mbimSim?.pcie?.child(ofSession: 115), "rmnet_mhi0.3")
        four.signal(SIGTERM)
        XCTAssertEqual(four.waitExit(), 0, four.log)
        XCTAssertTrue(clean(four))
    }

    /// What qcm refuses before the modem is touched: no APN (as quectel-CM, which exits
    /// -404), two PDNs in one qcm, a child the driver does not have; each with one message.
    func testRefusalsBeforeTheModemIsTouched() throws {
        let rig = try DaemonRig(driver: "pcie_mhi", netdev: "rmnet_mhi0", qmap: 4, mbim: MBIMSimulator.Config())
        let cases: [([String], Int32, String)] = [
            ([], 2, "MBIM needs the APN: give it with -s APN (Quectel's modules in MBIM mode may refuse a CONNECT without one; quectel-CM refuses too)"),
            (["-n", "2", "-s"], 2, "MBIM needs the APN: give it with -s APN"),
            (["-n", "1", "-s", "cmnet", "-n", "2", "-s", "4gnet"], 3, "one qcm dials one MBIM session: run a qcm per PDN (-n N for the session on rmnet_mhi0.N)"),
            (["-n", "5", "-s", "cmnet"], 3, "PDN 5 would use rmnet_mhi0.5 (MBIM session 5), but pcie_mhi runs qmap_mode 4"),
            (["-s", "cmnet", "--data-path", "qmap"], 3, "--data-path chooses how QMI data is carried"),
            (["-i", "rmnet_mhi0.2", "-s", "cmnet"], 3, "-i rmnet_mhi0.2 is one of pcie_mhi's children"),
        ]
        for (args, code, message) in cases {
            rig.start(args)
            XCTAssertEqual(rig.waitExit(), code, "\(args): " + rig.log)
            XCTAssertTrue(rig.log.contains(message), "\(args): " + rig.log)
        }
        XCTAssertEqual(rig.mbimSim?.requestNames, [], "the modem was never opened")
    }

    /// `qcm --simulate --sim-arg --pcie --sim-arg --mbim` dials the simulated module (as root
    /// in a private namespace, with its netdevs); Ctrl-C ends it cleanly.
    func testSimulatePCIeMBIM() throws {
        let r = shell(["timeout", "--preserve-status", "-s", "INT", "6", productPath("qcm"), "--simulate", "--sim-arg", "--pcie",
                       "--sim-arg", "--mbim", "--sim-arg", "--qmap", "--sim-arg", "4", "-n", "2", "-s", "cmnet"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("/sim/dev/mhi_MBIM"), r.output)
        XCTAssertTrue(r.output.contains("data path: MBIM session 2 on rmnet_mhi0.2 (pcie_mhi, qmap_mode 4)"), r.output)
        XCTAssertTrue(r.output.contains("] connected"), r.output)
        XCTAssertTrue(r.output.contains("requestDeactivateDefaultPDP MBIM session 2"), r.output)
    }
}
