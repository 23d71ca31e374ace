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

/// QMAP and several PDNs: the data plan's rules (pure), the machine's negotiation (fake
/// clock), and every data path end to end against the simulator's data plane, which drops
/// what a board would drop.
final class QMAPTests: XCTestCase {
    // MARK: the plan

    func pdns(_ args: [String]) throws -> [PDNOptions] { try Options.parse(args).pdns }

    func quectel(_ mode: Int, children: [String]? = nil, product: UInt16 = 0x0125) -> DriverFacts {
        DriverFacts(driver: "qmi_wwan_q", netdev: "wwan0", netdevs: ["wwan0"] + (children ?? (1...max(1, mode)).map { "wwan0_\($0)" }),
                    qmapMode: mode, qmapSize: 4096, productID: product)
    }

    func testPlanForQuectelDrivers() throws {
        var p = try DataPlan.decide(quectel(4), pdns: pdns(["-s", "cmnet"]), choice: .auto)
        XCTAssertEqual(p.kind, .quectel(mode: 4))
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: 0x81, netdev: "wwan0_1")])
        XCTAssertEqual(p.versions, [.qmap])
        XCTAssertEqual(p.downlinkMaxSize, 4096, "what qmi_wwan_q's receive buffer (qmap_size) holds")

        p = try DataPlan.decide(quectel(4), pdns: pdns(["-n", "1", "-n", "2", "-m", "4"]), choice: .auto)
        XCTAssertEqual(p.links.map { $0.mux }, [0x81, 0x84], "-m N picks mux 0x80+N, else the profile number does")
        XCTAssertEqual(p.links.map { $0.netdev }, ["wwan0_1", "wwan0_4"])

        p = try DataPlan.decide(quectel(2, children: ["wwan0.1", "wwan0.2"]), pdns: pdns(["-n", "2"]), choice: .auto)
        XCTAssertEqual(p.link(2)?.netdev, "wwan0.2", "older drivers name their links wwan0.N")

        p = try DataPlan.decide(quectel(1, children: []), pdns: pdns([]), choice: .qmap)
        XCTAssertEqual(p.links, [DataPlan.Link(pdn: 1, mux: 0x81, netdev: "wwan0")], "qmap_mode 1: the parent carries 0x81")

        p = try DataPlan.decide(quectel(1, product: 0x0800), pdns: pdns([]), choice: .auto)
        XCTAssertEqual(p.versions, [.qmapv5], "SDX55 modules (RG500Q) run QMAPv5")

        var pcie = quectel(1, children: ["rmnet_mhi0.1"])
        pcie.netdev = "rmnet_mhi0"
        pcie.driver = "pcie_mhi"
        pcie.pcie = true
        p = try DataPlan.decide(pcie, pdns: pdns([]), choice: .auto)
        XCTAssertEqual(p.link(1)?.netdev, "rmnet_mhi0.1")
        XCTAssertEqual(p.endpointType, .pcie)
    }

    func testPlanForUpstreamDrivers() throws {
        let upstream = DriverFacts(driver: "qmi_wwan", netdev: "wwan0", netdevs: ["wwan0"], addMux: true, passThrough: true)
        var p = try DataPlan.decide(upstream, pdns: pdns(["-s", "cmnet"]), choice: .auto)
        XCTAssertEqual(p.kind, .rawIP, "one PDN needs no QMAP")
        XCTAssertEqual(p.versions, [.disabled])
        p = try DataPlan.decide(upstream, pdns: pdns(["-n", "1", "-n", "3"]), choice: .auto)
        XCTAssertEqual(p.kind, .qmimux)
        XCTAssertEqual(p.links.map { $0.mux }, [0x81, 0x83])
        XCTAssertEqual(p.links.map { $0.netdev }, [nil, nil], "the kernel names qmimux links")
        XCTAssertEqual(p.versions, [.qmap], "qmimux decodes QMAP v1 only")
        p = try DataPlan.decide(upstream, pdns: pdns(["-m", "2"]), choice: .rmnet)
        XCTAssertEqual(p.kind, .rmnet)
        XCTAssertEqual(p.versions, [.qmapv5, .qmapv4, .qmap], "rmnet takes the best the modem speaks")
    }

    func testPlanRefusesWhatCannotCarryTraffic() throws {
        func refusal(_ f: DriverFacts, _ args: [String], _ choice: DataPathChoice = .auto) -> String {
            do throws(DataPlan.Failure) {
                _ = try DataPlan.decide(f, pdns: (try? pdns(args)) ?? [], choice: choice)
                return "accepted"
            } catch { return error.message }
        }
        let plain = DriverFacts(driver: "GobiNet", netdev: "usb0", netdevs: ["usb0"])
        XCTAssertTrue(refusal(plain, ["-n", "1", "-n", "2"]).contains("several PDNs in one qcm need QMAP muxing, which GobiNet does not offer"))
        XCTAssertTrue(refusal(plain, ["-m", "1"]).contains("-m needs QMAP muxing"))
        XCTAssertTrue(refusal(quectel(4), ["-m", "5"]).contains("qmap_mode 4 (muxes 0x81-0x84): give -m 1..4"))
        XCTAssertTrue(refusal(quectel(4), [], .rawIP).contains("plain raw-IP would carry no traffic"))
        XCTAssertTrue(refusal(quectel(4), ["-n", "1", "-m", "2", "-n", "2"]).contains("would both use mux 0x82"))
        XCTAssertTrue(refusal(quectel(4, children: ["wwan0_1"]), ["-n", "2"]).contains("should have created wwan0_2"))
        XCTAssertTrue(refusal(plain, [], .qmimux).contains("needs upstream qmi_wwan's qmi/add_mux"))
        XCTAssertTrue(refusal(plain, [], .rmnet).contains("qmi/pass_through"))
    }

    func testDataLinkEncodings() {
        XCTAssertEqual(DataLinks.linkStateValue(mux: 0x82, up: true, qmapMode: 4), 2)
        XCTAssertEqual(DataLinks.linkStateValue(mux: 0x82, up: false, qmapMode: 4), 0x82)
        XCTAssertEqual(DataLinks.linkStateValue(mux: 0x81, up: true, qmapMode: 1), 1)
        XCTAssertEqual(DataLinks.linkStateValue(mux: 0x81, up: false, qmapMode: 1), 0)
        XCTAssertEqual(DataLinks.rmnetName(parent: "wwan0", mux: 0x82), "wwan0_2")
        XCTAssertEqual(DataLinks.rmnetName(parent: "wwp0s20f0u10i4", mux: 0x81), "rmnet_q1", "IFNAMSIZ")
        XCTAssertEqual(DataLinks.muxID(Array("0x81\n".utf8)), 0x81)
        XCTAssertNil(DataLinks.muxID(Array("0x1ff".utf8)))
        XCTAssertNil(DataLinks.muxID(Array("junk".utf8)))
    }

    // MARK: the machine

    func testNegotiationFallsBackAndBindsEveryClientBeforeTheDial() throws {
        let facts = DriverFacts(driver: "qmi_wwan", netdev: "wwan0", netdevs: ["wwan0"], passThrough: true)
        let h = try QMIHarness(["-n", "1", "-4", "-6", "-n", "2"], noLink: false, facts: facts) { $0.qmapVersions = [.qmap] }
        h.connect()
        let formats = h.sent.filter { $0.displayName == "WDA Set Data Format" }.map { WDA.SetDataFormat.Request($0).downlinkDataAggregationProtocol }
        XCTAssertEqual(formats, [.qmapv5, .qmapv4, .qmap], "QMAPv5, QMAPv4, then QMAP v1: what the modem takes")
        let binds = h.sentNames.indices.filter { h.sentNames[$0] == "WDS Bind Mux Data Port" }
        XCTAssertEqual(binds.count, 3, "IPv4 and IPv6 clients of PDN 1, IPv4 of PDN 2")
        let start = try XCTUnwrap(h.sentNames.firstIndex(of: "WDS Start Network"), h.log.joined(separator: "\n"))
        XCTAssertLessThan(try XCTUnwrap(binds.max()), start)
        let created = h.actions.compactMap { a -> UInt8? in if case let .createDataLink(_, mux, flags) = a { XCTAssertEqual(flags, 1); return mux }; return nil }
        XCTAssertEqual(created, [0x81, 0x82])
        XCTAssertTrue(h.did { if case .prepareParent(let mtu) = $0 { return mtu == 16384 }; return false },
                      "the parent's MTU is raised to the aggregates the modem granted")
        XCTAssertEqual(h.phases, [.connected, .connected])
        XCTAssertEqual(h.session.netdev(2), "qmimux1", "the link the runner made carries PDN 2")
    }

    func testAModemWithoutQMAPIsAClearFailureAndLeavesItClean() throws {
        let h = try QMIHarness(["-n", "1", "-n", "2"], noLink: false) { $0.qmapVersions = [] }
        h.connect()
        XCTAssertEqual(h.exitCode, ExitCode.link)
        XCTAssertTrue(h.lastError?.hasPrefix("the modem does not take qmap aggregation (it answered raw-ip and no aggregation), which qmi_wwan needs for QMAP") == true,
                      "\(h.lastError ?? "nil")")
        XCTAssertFalse(h.sentNames.contains("WDS Start Network"))
        XCTAssertTrue(h.did { if case .removeDataLinks(nil) = $0 { return true }; return false })
        XCTAssertTrue(h.sim.isClean)
    }

    func testStopOnePDNOfTwo() throws {
        let h = try QMIHarness(["-n", "1", "-n", "2"], noLink: false, facts: quectel(4))
        h.connect()
        XCTAssertEqual(h.phases, [.connected, .connected])
        h.feed(.stopPDN(2))
        h.settle()
        XCTAssertNil(h.exitCode, "PDN 1 goes on")
        XCTAssertEqual(h.phases, [.connected, .stopped])
        XCTAssertTrue(h.did { if case .setLinkState(2, 0x82, false) = $0 { return true }; return false })
        XCTAssertTrue(h.did { if case .pdnStopped(2) = $0 { return true }; return false })
        XCTAssertTrue(h.sentNames.contains("WDS Stop Network"))
        XCTAssertEqual(h.sim.activeCalls, 1)
        h.feed(.stopPDN(1))
        h.settle()
        XCTAssertEqual(h.exitCode, 0, "the last PDN stopping stops qcm")
        XCTAssertTrue(h.sim.isClean)
    }

    // MARK: end to end (root: TUN links in a namespace)

    func statusValue(_ rig: DaemonRig, pdn: Int, _ key: String) -> String? { rig.statusValue(key, pdn: pdn) }

    func drops(_ rig: DaemonRig) -> String { rig.dataPlane?.drops.joined(separator: "\n") ?? "" }

    func testQuectelDriverTwoPDNsAndStoppingOne() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true, qmap: 4)
        rig.start(["-n", "1", "-s", "cmnet", "-n", "2", "-s", "internet2"])
        XCTAssertTrue(rig.waitCount("connected (", 2), rig.log)
        XCTAssertTrue(rig.log.contains("data path: QMAP by the driver (qmap_mode 4): mux 0x81 on wwan0_1, mux 0x82 on wwan0_2"), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114", from: "wwan0_1").status, 0, drops(rig))
        XCTAssertEqual(rig.ping("10.90.2.114", from: "wwan0_2").status, 0, drops(rig))
        XCTAssertEqual(rig.dataPlane?.linkState, 0b11)
        XCTAssertEqual(statusValue(rig, pdn: 2, "interface"), "wwan0_2")
        XCTAssertEqual(statusValue(rig, pdn: 2, "ipv4"), "10.90.2.113/30")
        XCTAssertEqual(ipDefaultRoutes(rig.ns!.name, "-4").count, 1, "only the first PDN gets the default route")

        // qcm -k 2: PDN 2 only.
        let k = qcm(["-k", "2", "--run-dir", rig.root + "/run"])
        XCTAssertEqual(k.status, 0, k.output)
        XCTAssertTrue(k.output.contains("PDN 2 of qcm pid"), k.output)
        XCTAssertTrue(rig.waitSim { $0.activeCalls == 1 })
        XCTAssertEqual(rig.dataPlane?.linkState, 0b01, "the driver was told mux 0x82 is down")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "wwan0_2"), [])
        XCTAssertNil(statusValue(rig, pdn: 2, "pid"), "PDN 2's status file is gone")
        XCTAssertEqual(rig.ping("10.90.1.114", from: "wwan0_1").status, 0, "PDN 1 still carries traffic: " + drops(rig))
        XCTAssertFalse(rig.exited)

        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
        XCTAssertEqual(rig.dataPlane?.linkState, 0)
    }

    func testUpstreamQMIMuxLinksComeAndGo() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true)
        rig.start(["-n", "1", "-s", "cmnet", "-n", "2", "-s", "internet2"])
        XCTAssertTrue(rig.waitCount("connected (", 2), rig.log)
        XCTAssertEqual(Set(rig.dataPlane?.muxOf.values.map { $0 } ?? []), [0x81, 0x82])
        let pdn2 = statusValue(rig, pdn: 2, "interface") ?? "?"
        XCTAssertTrue(pdn2.hasPrefix("qmimux"), pdn2)
        XCTAssertEqual(rig.ping("10.90.2.114", from: pdn2).status, 0, drops(rig))
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, drops(rig))
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.dataPlane?.muxOf.isEmpty == true }, "del_mux for every link qcm made")
        let parent = ipJSON(rig.ns!.name, ["link", "show", "wwan0"]).first
        XCTAssertEqual(parent?["mtu"] as? Int, 1500, "the parent's MTU put back")
        XCTAssertFalse((parent?["flags"] as? [String] ?? []).contains("UP"), "and the parent down again, as qcm found it")
    }

    func testAFailedDialLeavesNoLinksAndAKilledOneIsTakenOver() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true) { $0.rejectCall = (1013, 6, 27) }
        rig.start(["-n", "1", "-n", "2", "--max-retries", "1"])
        XCTAssertEqual(rig.waitExit(timeout: 20), 6, rig.log)
        XCTAssertTrue(rig.waitSim { $0.dataPlane?.muxOf.isEmpty == true }, "no qmimux link outlives a failed dial")
        XCTAssertTrue(rig.waitSim { $0.isClean })

        rig.sim.withState { $0.config.rejectCall = nil }
        let before = parent(rig)
        XCTAssertEqual(before.up, false, "the parent starts down")
        rig.start(["-n", "1", "-n", "2"])
        XCTAssertTrue(rig.waitCount("connected (", 2), rig.log)
        XCTAssertEqual(parent(rig).up, true)
        XCTAssertGreaterThan(parent(rig).mtu, before.mtu, "raised to the modem's aggregates")
        rig.signal(SIGKILL)
        _ = rig.waitExit()
        XCTAssertEqual(rig.dataPlane?.muxOf.count, 2, "kill -9 leaves the links")
        rig.start(["-n", "1", "-n", "2"])
        XCTAssertTrue(rig.waitCount("connected (", 2), rig.log)
        XCTAssertTrue(rig.log.contains("exists already, left by a qcm that was stopped with -9: taking it over"), rig.log)
        XCTAssertTrue(rig.log.contains("wwan0: it was down with MTU \(before.mtu) before a qcm changed it (\(rig.root)/run/parent-wwan0.state says); that is put back when the last qcm using it exits"), rig.log)
        XCTAssertEqual(rig.dataPlane?.muxOf.count, 2, "taken over, not duplicated")
        XCTAssertEqual(rig.ping("10.90.2.114", from: statusValue(rig, pdn: 2, "interface")).status, 0, drops(rig))
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.dataPlane?.muxOf.isEmpty == true })
        XCTAssertEqual(parent(rig).up, false, "the parent is put back as the first qcm found it")
        XCTAssertEqual(parent(rig).mtu, before.mtu)
        XCTAssertFalse(FileManager.default.fileExists(atPath: rig.root + "/run/parent-wwan0.state"))
    }

    /// The QMAP parent wwan0 in the rig's namespace: up, and its MTU.
    func parent(_ rig: DaemonRig) -> (up: Bool, mtu: Int) {
        let link = ipJSON(rig.ns!.name, ["link", "show", "dev", "wwan0"]).first ?? [:]
        return ((link["flags"] as? [String])?.contains("UP") ?? false, link["mtu"] as? Int ?? 0)
    }

    func testQMAPMode1ParentCarriesTheCall() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true, qmap: 1)
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("data path: QMAP by the driver (qmap_mode 1): mux 0x81 on wwan0"), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0, drops(rig))
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(rig.dataPlane?.linkState, 0, "the driver told the call is down")
    }

    /// quectel-CM's way: one process per PDN, sharing the modem through qmi-proxy.
    func testTwoProcessesThroughTheProxy() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links and @qmi-proxy in a network namespace") }
        let rig = try DaemonRig(netns: true, qmap: 4)
        try rig.ns!.inside { try rig.sim.listen("@qmi-proxy", proxy: true) }
        rig.start(["-p", "qmi-proxy", "-n", "1", "-m", "1", "-s", "internet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let log2 = rig.root + "/qcm2.log"
        let fd = csys_open(log2, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let second = Subprocess.start(["ip", "netns", "exec", rig.ns!.name, productPath("qcm")] + rig.baseArgs
                                      + ["-p", "qmi-proxy", "-n", "2", "-m", "2", "-s", "ims", "--no-default-route"], outputFD: fd)
        close(fd)
        defer { if let p = second { kill(p, SIGKILL); _ = Subprocess.wait(p) } }
        func log2Text() -> String { (try? String(contentsOfFile: log2, encoding: .utf8)) ?? "" }
        let end = Date().addingTimeInterval(15)
        while !log2Text().contains("] connected") && Date() < end { usleep(20_000) }
        XCTAssertTrue(log2Text().contains("] connected"), log2Text())
        XCTAssertEqual(rig.ping("10.90.1.114", from: "wwan0_1").status, 0, drops(rig))
        XCTAssertEqual(rig.ping("10.90.2.114", from: "wwan0_2").status, 0, drops(rig))
        XCTAssertEqual(rig.sim.transcript.count(CTL.Sync.spec), 0, "no Sync through the proxy")
        // The first one stops; the second keeps its call and its traffic.
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.log.contains("wwan0 left up: another qcm uses this modem"), rig.log)
        XCTAssertEqual(rig.sim.activeCalls, 1)
        XCTAssertEqual(rig.ping("10.90.2.114", from: "wwan0_2").status, 0, drops(rig))
    }

    func testOnePDNFailingLeavesTheOtherUp() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true, qmap: 2)
        // auth.example refuses calls without its credentials.
        rig.start(["-n", "1", "-s", "cmnet", "-n", "2", "-s", "auth.example", "--max-retries", "2"])
        XCTAssertTrue(rig.waitLog("PDN 2: giving up"), rig.log)
        XCTAssertFalse(rig.exited, rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114", from: "wwan0_1").status, 0, drops(rig))
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    /// The driver reloaded with another qmap_mode while qcm ran (the modem went away and came
    /// back): the links qcm used are gone, so it says so and exits for its supervisor to
    /// start it again.
    func testQMAPModeChangedUnderARunningQCM() throws {
        let rig = try DaemonRig(qmap: 4)
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("connected"), rig.log)
        rig.sim.disappear(backAfterMs: 500)
        try "1\n".write(toFile: rig.root + "/sys/class/net/wwan0/qmap_mode", atomically: true, encoding: .utf8)
        XCTAssertEqual(rig.waitExit(timeout: 20), 3, rig.log)
        XCTAssertTrue(rig.log.contains("the driver changed while qcm ran (QMAP by the driver (qmap_mode 4) before, now QMAP by the driver (qmap_mode 1)): restart qcm"), rig.log)
    }

    func testLinkCreationFailuresLeaveNothingBehind() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        // A kernel without qmap/mux_id (before 5.12): the link cannot be found.
        let rig = try DaemonRig(netns: true)
        let addMux = rig.root + "/sys/class/net/wwan0/qmi/add_mux"
        try FileManager.default.removeItem(atPath: addMux)
        XCTAssertTrue(FileManager.default.createFile(atPath: addMux, contents: nil))
        rig.start(["-n", "1", "-n", "2"])
        XCTAssertEqual(rig.waitExit(), 8, rig.log)
        XCTAssertTrue(rig.log.contains("but no qmimux link with that mux id appeared under wwan0"), rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean }, "clients released (their mux bindings with them), no call")
        let parent = ipJSON(rig.ns!.name, ["link", "show", "wwan0"]).first
        XCTAssertFalse((parent?["flags"] as? [String] ?? []).contains("UP"), "the parent down again")

        // rmnet on a kernel without it.
        let r = try DaemonRig(netns: true)
        r.start(["--data-path", "rmnet", "-m", "1"])
        XCTAssertEqual(r.waitExit(), 8, r.log)
        XCTAssertTrue(r.log.contains("the kernel has no rmnet driver (CONFIG_RMNET): load it (modprobe rmnet) or use --data-path qmimux"), r.log)
        XCTAssertTrue(r.waitSim { $0.isClean })
        XCTAssertEqual(try String(contentsOfFile: r.root + "/sys/class/net/wwan0/qmi/pass_through", encoding: .utf8), "N\n",
                       "pass_through put back")
    }

    func testBadRequestsAreRefusedBeforeTheModemIsTouched() throws {
        let rig = try DaemonRig(qmap: 4)
        rig.start(["-m", "5"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)
        XCTAssertTrue(rig.log.contains("give -m 1..4, or load the driver with qmap_mode=5"), rig.log)
        XCTAssertEqual(rig.sim.connectionCount, 0, "refused before the channel was opened")
        rig.start(["--data-path", "raw-ip"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)

        // Two qcm, different PDNs, one mux: the second is refused.
        rig.start(["-n", "1", "-m", "2"])
        XCTAssertTrue(rig.waitLog("connected"), rig.log)
        let second = qcm(rig.baseArgs + ["-n", "2"])
        XCTAssertEqual(second.status, 7, second.output)
        XCTAssertTrue(second.output.contains("uses QMAP mux 0x82 on"), second.output)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
    }

    func testNoLinkLeavesTheHostAloneAndSaysWhatIsLeft() throws {
        let rig = try DaemonRig(qmap: 4)
        rig.start(["-n", "2"])
        XCTAssertTrue(rig.waitLog("connected"), rig.log)
        XCTAssertTrue(rig.log.contains("--no-link: tell qmi_wwan_q yourself: echo 2 > \(rig.root)/sys/class/net/wwan0/link_state"), rig.log)
        XCTAssertEqual(rig.sim.withState { $0.dataPlane?.linkState }, 1, "link_state untouched")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
    }

    // MARK: PCIe: Quectel's pcie_mhi

    /// An RM500Q on pcie_mhi: found on the MHI bus, dialled through mhi_QMI0, the modem told
    /// the PCIe data endpoint (the simulator refuses a USB one, as the modem does), QMAPv5
    /// (an SDX55), and each call on the driver's rmnet_mhi0.N child.
    func testPCIeModuleTwoPDNsOnTheDriversChildren() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true, driver: "pcie_mhi", netdev: "rmnet_mhi0", qmap: 2, qmapSize: 15360)
        rig.start(["-n", "1", "-s", "cmnet", "-n", "2", "-s", "internet2"])
        XCTAssertTrue(rig.waitCount("connected (", 2), rig.log)
        XCTAssertTrue(rig.log.contains("data path: QMAP by the driver (qmap_mode 2): mux 0x81 on rmnet_mhi0.1, mux 0x82 on rmnet_mhi0.2"), rig.log)
        XCTAssertTrue(rig.log.contains("/dev/mhi_QMI0"), rig.log)
        XCTAssertTrue(rig.sim.withState { $0.dlAggregation == .qmapv5 && $0.ulAggregation == .qmapv5 }, "QMAPv5 negotiated")
        XCTAssertEqual(rig.ping("10.90.1.114", from: "rmnet_mhi0.1").status, 0, drops(rig))
        XCTAssertEqual(rig.ping("10.90.2.114", from: "rmnet_mhi0.2").status, 0, drops(rig))
        XCTAssertEqual(rig.dataPlane?.linkState, 0b11)
        XCTAssertEqual(statusValue(rig, pdn: 2, "interface"), "rmnet_mhi0.2")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
        XCTAssertEqual(rig.dataPlane?.linkState, 0, "the driver told both calls are down")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "rmnet_mhi0.1"), [])
    }

    /// pcie_mhi makes rmnet_mhi0.1 even with qmap_mode 1 (its default), and the call
    /// belongs there: the parent carries no mux.
    func testPCIeQMAPMode1UsesTheFirstChild() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true, driver: "pcie_mhi", netdev: "rmnet_mhi0", qmapSize: 15360)
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(rig.log.contains("data path: QMAP by the driver (qmap_mode 1): mux 0x81 on rmnet_mhi0.1"), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114", from: "rmnet_mhi0.1").status, 0, drops(rig))
        XCTAssertEqual(ipJSON(rig.ns!.name, ["link", "show", "rmnet_mhi0"]).count, 1, "the parent exists")
        XCTAssertEqual(ipAddresses(rig.ns!.name, "rmnet_mhi0"), [], "nothing configured on the parent")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertEqual(rig.dataPlane?.linkState, 0)
    }
}
