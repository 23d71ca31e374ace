import Foundation
import XCTest
import Base
import CSystem
@testable import LinkConfig
import TestSupport

/// The links of the upstream kernel's WWAN data paths: a "wwan" link per MBIM session
/// (mhi_wwan_mbim), rmnet on mhi_net's mhi_hwip0. This kernel has neither the wwan nor the
/// rmnet link type, so against it the tests go as far as its refusal.
final class WWANLinkTests: XCTestCase {
    /// The request libmbim's wwan link manager sends, attribute by attribute.
    func testWWANLinkRequest() {
        let m = Netlink.wwanMessage(name: "wwan0.2", device: "wwan0", linkID: 2)
        let b = m.finished(seq: 7)
        let r = Netlink.Reader(b: b)
        XCTAssertEqual(r.u32(0), UInt32(b.count))
        XCTAssertEqual(r.u16(4), 16, "RTM_NEWLINK")
        XCTAssertEqual(r.u16(6), 0x1 | 0x4 | 0x400 | 0x200, "request, ack, create, excl")
        let top = Netlink.attributes(b, from: 32)
        XCTAssertEqual(top.map { $0.0 }, [3, 56, 18], "IFLA_IFNAME, IFLA_PARENT_DEV_NAME, IFLA_LINKINFO")
        XCTAssertEqual(top[0].1, Array("wwan0.2".utf8) + [0])
        XCTAssertEqual(top[1].1, Array("wwan0".utf8) + [0], "the WWAN device's name, NUL-terminated")
        let info = Netlink.attributes(top[2].1, from: 0)
        XCTAssertEqual(info.map { $0.0 }, [1, 2], "IFLA_INFO_KIND, IFLA_INFO_DATA")
        XCTAssertEqual(info[0].1, Array("wwan".utf8))
        let data = Netlink.attributes(info[1].1, from: 0)
        XCTAssertEqual(data.count, 1)
        XCTAssertEqual(data[0].0, 1, "IFLA_WWAN_LINK_ID")
        XCTAssertEqual(data[0].1, [2, 0, 0, 0], "the session id, u32")
        XCTAssertEqual(DataLinks.wwanName(parent: "wwan0", session: 3), "wwan0.3")
        XCTAssertEqual(DataLinks.wwanName(parent: "wwp0s20f0u10i4", session: 3), "wwan_s3", "IFNAMSIZ")
    }

    func testThisKernelRefusesWWANAndRmnetLinks() throws {
        guard isRoot else { throw XCTSkip("needs root: a network namespace and TUN devices") }
        let ns = try TestNamespace("qcm-wwanlink")
        let fds: [Int32] = ns.inside { ["wwan0", "mhi_hwip0"].map { (name: String) -> Int32 in csys_tun_open(name, Int32(IFF_TUN | IFF_NO_PI)) } }
        defer { for fd in fds where fd >= 0 { close(fd) } }
        XCTAssertTrue(fds.allSatisfy { $0 >= 0 })
        let sys = NSTemporaryDirectory() + "qcm-wwanlink-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: sys) }
        // The kernel's own words first: rtnetlink knows no "wwan" kind here.
        let nl = try ns.inside { try Netlink() }
        defer { nl.close() }
        XCTAssertThrowsError(try nl.addWWAN(name: "wwan0.1", device: "wwan0", linkID: 1)) { e in
            let err = e as! LinkError
            XCTAssertEqual(err.errno, EOPNOTSUPP, err.description)
            XCTAssertTrue(err.description.contains("create wwan link wwan0.1 (link id 1 of wwan0): kernel said EOPNOTSUPP"), err.description)
        }
        // What qcm makes of it: a sentence, and no link behind.
        let links = try ns.inside { try DataLinks(sysRoot: sys, parent: "wwan0") }
        XCTAssertThrowsError(try ns.inside { try links.addWWAN(1, device: "wwan0") }) { e in
            XCTAssertEqual((e as! LinkError).description,
                           "the kernel has no \"wwan\" link type (the wwan module, CONFIG_WWAN, is not loaded): it cannot make wwan0.1 for MBIM session 1; session 0 needs no link (dial without -m)")
        }
        XCTAssertTrue(links.links.isEmpty)
        // rmnet on mhi_net's netdev (no qmi/ attributes): the hint is not qmimux.
        let mhi = try ns.inside { try DataLinks(sysRoot: sys, parent: "mhi_hwip0") }
        XCTAssertThrowsError(try ns.inside { try mhi.addRmnet(0x81, flags: 1) }) { e in
            XCTAssertEqual((e as! LinkError).description,
                           "the kernel has no rmnet driver (CONFIG_RMNET): load it (modprobe rmnet); without it mhi_hwip0 carries one PDN as plain raw-IP (dial without -m and --data-path rmnet)")
        }
        XCTAssertEqual(shell(["ip", "-n", ns.name, "-o", "link", "show"]).output.components(separatedBy: "\n").filter { !$0.isEmpty }.count, 3,
                       "lo, wwan0 and mhi_hwip0: nothing else was made")
    }
}
