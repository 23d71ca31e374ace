import Foundation
import XCTest
import Base
import CSystem
@testable import LinkConfig
import TestSupport

/// Against the real kernel: each test gets its own network namespace with a TUN `wwan0`
/// (raw-IP, no L2) and a veth pair (802.3). Results are read back over netlink and with
/// `ip -j`, parsed here.
final class LinkConfigTests: XCTestCase {
    var ns: TestNamespace!
    var nl: Netlink!
    var tunFD: Int32 = -1

    override func setUpWithError() throws {
        guard isRoot else { throw XCTSkip("needs root: creates network namespaces, TUN and veth devices") }
        ns = try TestNamespace("qcm-link")
        tunFD = ns.inside { csys_tun_open("wwan0", Int32(IFF_TUN | IFF_NO_PI)) }
        XCTAssertGreaterThanOrEqual(tunFD, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "set", "veth1", "up"]).status, 0)
        nl = try ns.inside { try Netlink() }
    }

    override func tearDown() {
        nl?.close()
        if tunFD >= 0 { close(tunFD) }
        ns = nil
    }

    func v4(_ s: String, _ p: Int, gw: String? = nil, via: Bool = false) -> LinkPlan.Address {
        LinkPlan.Address(address: IPAddress(s)!, prefix: p, gateway: gw.flatMap { IPAddress($0) }, routeViaGateway: via)
    }

    func testIPv4RawIPPlanAndUndo() throws {
        let m = LinkManager(netlink: nl)
        let plan = LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.113", 30, gw: "10.90.1.114"), mtu: 1400)
        try m.apply(plan)
        XCTAssertEqual(ipAddresses(ns.name, "wwan0"), ["10.90.1.113/30"])
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-4"), ["wwan0 via - metric 0"], "point-to-point: a device route")
        let idx = try nl.index(of: "wwan0")
        XCTAssertEqual(try nl.link(idx)?.mtu, 1400)
        XCTAssertEqual(try nl.link(idx)?.isUp, true)
        XCTAssertEqual(try nl.addresses(.ipv4, index: idx).map { $0.address.text }, ["10.90.1.113"])
        XCTAssertEqual(try nl.routes(.ipv4).filter { $0.isDefault }.map { $0.outputIndex }, [idx])
        try m.undo()
        XCTAssertEqual(ipAddresses(ns.name, "wwan0"), [])
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-4"), [])
        XCTAssertEqual(try nl.link(idx)?.mtu, 1500, "MTU restored")
        XCTAssertEqual(try nl.link(idx)?.isUp, false, "qcm brought it up, qcm takes it down")
    }

    func testIPv6PlanWithDefaultRoute() throws {
        let m = LinkManager(netlink: nl)
        let a6 = LinkPlan.Address(address: IPAddress("2409:8930:463:3daa:7c8e:429a:c902:c6cc")!, prefix: 64)
        // The IPv6 settings (/proc/sys/net/ipv6/conf/wwan0) are the namespace's: apply and
        // undo run inside it, as qcm runs in its own.
        let conf = { (key: String) in
            self.ns.inside { (try? String(contentsOfFile: "/proc/sys/net/ipv6/conf/wwan0/\(key)", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        let before = ["accept_ra", "accept_ra_defrtr", "accept_ra_pinfo"].map(conf)
        try ns.inside { try m.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.113", 30), ipv6: a6)) }
        XCTAssertEqual(Set(ipAddresses(ns.name, "wwan0")), ["10.90.1.113/30", "2409:8930:463:3daa:7c8e:429a:c902:c6cc/64"])
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-6"), ["wwan0 via - metric 1024"], "IPv6 metric 0 is the kernel's 1024")
        XCTAssertEqual(["accept_ra", "accept_ra_defrtr", "accept_ra_pinfo"].map(conf), ["2", "0", "0"],
                       "the network's RAs give neither a default route nor an address")
        try ns.inside { try m.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.113", 30), ipv6: a6)) }
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-6").count, 1, "re-apply is idempotent for IPv6 too")
        try ns.inside { try m.undo() }
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-6"), [])
        XCTAssertEqual(ipAddresses(ns.name, "wwan0"), [])
        XCTAssertEqual(["accept_ra", "accept_ra_defrtr", "accept_ra_pinfo"].map(conf), before, "settings put back")
    }

    func testReapplyIsIdempotentAndLeaseChangeMoves() throws {
        let m = LinkManager(netlink: nl)
        let a = LinkPlan(interface: "veth0", ipv4: v4("192.0.2.10", 24, gw: "192.0.2.1", via: true), metric: 50)
        try m.apply(a)
        try m.apply(a)
        try m.apply(a)
        XCTAssertEqual(ipAddresses(ns.name, "veth0"), ["192.0.2.10/24"])
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-4"), ["veth0 via 192.0.2.1 metric 50"])
        // Renew with a new address and gateway.
        let b = LinkPlan(interface: "veth0", ipv4: v4("198.51.100.7", 25, gw: "198.51.100.1", via: true), metric: 50)
        try m.apply(b)
        XCTAssertEqual(ipAddresses(ns.name, "veth0"), ["198.51.100.7/25"])
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-4"), ["veth0 via 198.51.100.1 metric 50"])
        try m.undo()
        XCTAssertEqual(ipAddresses(ns.name, "veth0"), [])
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-4"), [])
    }

    func testUndoLeavesWhatWasThereBefore() throws {
        // Someone else's address on wwan0, and someone else's default route on veth0.
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "172.16.0.1/24", "dev", "veth0"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "set", "veth0", "up"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "route", "add", "default", "via", "172.16.0.254", "dev", "veth0", "metric", "100"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "10.90.1.113/30", "dev", "wwan0"]).status, 0)
        let beforeRoutes = ipDefaultRoutes(ns.name, "-4")
        let m = LinkManager(netlink: nl)
        try m.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.113", 30), metric: 0))
        XCTAssertEqual(Set(ipDefaultRoutes(ns.name, "-4")), Set(beforeRoutes + ["wwan0 via - metric 0"]))
        try m.undo()
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-4"), beforeRoutes, "the other interface's route is untouched")
        XCTAssertEqual(ipAddresses(ns.name, "wwan0"), ["10.90.1.113/30"], "an address qcm did not add stays")
        XCTAssertEqual(ipAddresses(ns.name, "veth0"), ["172.16.0.1/24"])
    }

    /// On an interface qcm owns alone, others' addresses and routes go before its plan (each
    /// logged) — once, not again when a plan follows; where another qcm configures the
    /// interface too (`exclusive` false), nothing that could be its is touched, qcm-marked
    /// routes included.
    func testOthersConfigurationOnlyWhereTheInterfaceIsQCMsAlone() throws {
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "192.0.2.9/24", "dev", "wwan0"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "set", "wwan0", "up"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "route", "add", "198.51.100.0/24", "dev", "wwan0", "proto", "113"]).status, 0)
        let shared = LinkManager(netlink: nl)
        shared.exclusive = false
        var lines: [String] = []
        shared.log = { lines.append($0) }
        try shared.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.113", 30), defaultRoute: false))
        XCTAssertEqual(Set(ipAddresses(ns.name, "wwan0")), ["192.0.2.9/24", "10.90.1.113/30"])
        XCTAssertTrue(shell(["ip", "-n", ns.name, "route", "show", "dev", "wwan0"]).output.contains("198.51.100.0/24"), "another qcm's route stays")
        XCTAssertTrue(lines.contains("warning: wwan0 also carries 192.0.2.9/24, not added by qcm: traffic may leave with that source address"), "\(lines)")
        try shared.undo()

        let mine = LinkManager(netlink: nl)
        lines = []
        mine.log = { lines.append($0) }
        try mine.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.113", 30), defaultRoute: false))
        XCTAssertEqual(ipAddresses(ns.name, "wwan0"), ["10.90.1.113/30"])
        XCTAssertFalse(shell(["ip", "-n", ns.name, "route", "show", "dev", "wwan0"]).output.contains("198.51.100.0/24"))
        XCTAssertTrue(lines.contains("wwan0: removed 192.0.2.9/24, which qcm did not add: the interface is qcm's while it runs"), "\(lines)")
        // What the administrator adds while qcm runs is theirs: a later plan leaves it.
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "192.0.2.10/24", "dev", "wwan0"]).status, 0)
        try mine.undo()
        try mine.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.117", 30), defaultRoute: false))
        XCTAssertEqual(Set(ipAddresses(ns.name, "wwan0")), ["192.0.2.10/24", "10.90.1.117/30"])
        try mine.undo()
    }

    func testErrorsAreClear() throws {
        let m = LinkManager(netlink: nl)
        XCTAssertThrowsError(try m.apply(LinkPlan(interface: "wwan9", ipv4: v4("10.0.0.1", 30)))) { e in
            XCTAssertEqual((e as? LinkError)?.description, "network interface 'wwan9' does not exist")
        }
        XCTAssertThrowsError(try m.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.0.0.1", 33)))) { e in
            XCTAssertEqual((e as? LinkError)?.description, "invalid IPv4 prefix length 33 for 10.0.0.1 (1-32)")
        }
        XCTAssertThrowsError(try m.apply(LinkPlan(interface: "wwan0", ipv4: v4("fe80::1", 64)))) { e in
            XCTAssertEqual((e as? LinkError)?.description, "fe80::1 is not an IPv4 address")
        }
        // Owned by another interface.
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "10.90.1.113/30", "dev", "veth0"]).status, 0)
        XCTAssertThrowsError(try m.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.113", 30)))) { e in
            XCTAssertEqual((e as? LinkError)?.description, "10.90.1.113 is already assigned to veth0; refusing to put it on wwan0 too")
        }
        XCTAssertEqual(ipAddresses(ns.name, "wwan0"), [], "nothing half-configured")
    }

    func testMetricConflictIsReportedNotOverwritten() throws {
        XCTAssertEqual(shell(["ip", "-n", ns.name, "addr", "add", "172.16.0.1/24", "dev", "veth0"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "link", "set", "veth0", "up"]).status, 0)
        XCTAssertEqual(shell(["ip", "-n", ns.name, "route", "add", "default", "via", "172.16.0.254", "dev", "veth0"]).status, 0)
        let m = LinkManager(netlink: nl)
        XCTAssertThrowsError(try m.apply(LinkPlan(interface: "wwan0", ipv4: v4("10.90.1.113", 30), metric: 0))) { e in
            XCTAssertEqual((e as? LinkError)?.description,
                           "a default route with metric 0 already exists via veth0; qcm leaves it alone: choose another metric with --metric N")
        }
        XCTAssertEqual(ipDefaultRoutes(ns.name, "-4"), ["veth0 via 172.16.0.254 metric 0"])
        try m.undo()
        XCTAssertEqual(ipAddresses(ns.name, "wwan0"), [], "undo after a failed apply removes the address it added")
    }

    func testKernelErrorsCarryErrnoNameAndExtendedAck() throws {
        let idx = try nl.index(of: "wwan0")
        // A gateway that is not reachable on this link: the kernel refuses, with an ext-ack message on modern kernels.
        let r = RouteInfo(family: .ipv4, destination: nil, prefix: 0, gateway: IPAddress("203.0.113.1"), outputIndex: idx,
                          metric: 7, table: 254, proto: 4)
        XCTAssertThrowsError(try nl.addRoute(r, name: "wwan0")) { e in
            let text = (e as! LinkError).description
            XCTAssertTrue(text.hasPrefix("add IPv4 route default via 203.0.113.1 dev wwan0 metric 7: kernel said ENETUNREACH (Network is unreachable)"), text)
            // The extended ack carries the kernel's own words (kernels since 4.12).
            XCTAssertTrue(text.hasSuffix(": Nexthop has invalid gateway"), text)
            XCTAssertNotNil((e as! LinkError).errno)
        }
        XCTAssertThrowsError(try nl.setLink(idx, name: "wwan0", mtu: 10)) { e in
            XCTAssertEqual((e as! LinkError).errno, EINVAL)
            XCTAssertTrue((e as! LinkError).description.contains("EINVAL"), (e as! LinkError).description)
        }
    }

    func testLinksAndFlush() throws {
        let names = try nl.links().map { $0.name }
        XCTAssertTrue(names.contains("wwan0") && names.contains("veth0") && names.contains("lo"), "\(names)")
        let idx = try nl.index(of: "veth0")
        try nl.addAddress(idx, name: "veth0", IPAddress("192.0.2.1")!, prefix: 24)
        try nl.addAddress(idx, name: "veth0", IPAddress("192.0.2.2")!, prefix: 24)
        XCTAssertEqual(try nl.addresses(.ipv4, index: idx).count, 2)
        try nl.flushAddresses(idx, name: "veth0", .ipv4)
        XCTAssertEqual(try nl.addresses(.ipv4, index: idx).count, 0)
    }
}
