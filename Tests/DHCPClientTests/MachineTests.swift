import Base
import XCTest
@testable import DHCPClient

/// The state machine against a fake clock: every timer of RFC 2131 checked exactly.
final class MachineTests: XCTestCase {
    /// random() = 1000 makes the ±1 s jitter exactly 0.
    func machine(_ r: UInt32 = 1000) -> DHCPMachine {
        DHCPMachine(mac: mac) { r }
    }

    func received(_ type: UInt8, xid: UInt32, extra: [UInt8] = [], yiaddr: [UInt8] = [10, 77, 0, 50]) -> DHCPFrame.Received {
        DHCPFrame.Received(packet: try! DHCPPacket.parse(reply(type, xid: xid, yiaddr: yiaddr, extra: extra)),
                           srcMAC: [2, 0, 0, 0, 0, 9], srcIP: 0x0a4d_0001)
    }

    func sent(_ outs: [DHCPMachine.Output]) -> [String] {
        outs.compactMap {
            switch $0 {
            case let .broadcast(p): return "broadcast \(p.messageType!.name)"
            case let .unicast(p, _, ip): return "unicast \(p.messageType!.name) \(ipText(ip))"
            case let .event(e): return "event \(e)"
            case .log: return nil
            }
        }
    }

    func testRetransmissionScheduleDoublesTo64Seconds() {
        let m = machine()
        _ = m.start(now: 0)
        var deadlines: [Int64] = [m.deadline!]
        var events: [String] = []
        for _ in 0..<6 {
            events += sent(m.timeout(now: m.deadline!)).filter { $0.hasPrefix("event") }
            deadlines.append(m.deadline!)
        }
        XCTAssertEqual(zip(deadlines.dropFirst(), deadlines).map { $0 - $1 }, [8000, 16000, 32000, 64000, 64000, 64000])
        XCTAssertEqual(deadlines[0], 4000)
        XCTAssertEqual(events, ["event leaseFailed(attempts: 3)"])
        // jitter stays within ±1 s
        for r: UInt32 in [0, 2000, 12345] {
            let j = machine(r)
            _ = j.start(now: 0)
            XCTAssertTrue((3000...5000).contains(j.deadline!), "\(j.deadline!)")
        }
    }

    func testFullLifecycleWithT1T2AndExpiry() throws {
        let m = machine()
        XCTAssertEqual(sent(m.start(now: 0)), ["broadcast DISCOVER"])
        XCTAssertEqual(m.state, .selecting)
        // Wrong xid / wrong client hardware address: ignored.
        XCTAssertEqual(sent(m.receive(received(2, xid: 7), now: 10)), [])
        XCTAssertEqual(sent(m.receive(received(2, xid: m.xid), now: 20)), ["broadcast REQUEST"])
        XCTAssertEqual(m.state, .requesting)
        // lease 3600 s, T1 100 s, T2 200 s from options 58/59
        let timers: [UInt8] = [58, 4, 0, 0, 0, 100, 59, 4, 0, 0, 0, 200]
        let outs = m.receive(received(5, xid: m.xid, extra: timers), now: 1000)
        guard case .event(.bound(let lease))? = outs.first else { return XCTFail("\(outs)") }
        XCTAssertEqual(lease.address, 0x0a4d_0032)
        XCTAssertEqual(lease.prefix, 24)
        XCTAssertEqual(lease.routers, [0x0a4d_0001])
        XCTAssertEqual(lease.mtu, 1500)
        XCTAssertEqual(lease.domain, "example")
        XCTAssertEqual(m.deadline, 101_000, "T1")
        XCTAssertFalse(m.listening, "bound: the socket is closed")
        // T1: RENEWING, unicast to the server; retransmit at half the time left to T2 but ≥ 60 s.
        XCTAssertEqual(sent(m.timeout(now: 101_000)), ["unicast REQUEST 10.77.0.1"])
        XCTAssertEqual(m.state, .renewing)
        XCTAssertEqual(m.deadline, 161_000)
        XCTAssertEqual(sent(m.timeout(now: 161_000)), ["unicast REQUEST 10.77.0.1"])
        XCTAssertEqual(m.deadline, 201_000, "never past T2")
        // T2: REBINDING, broadcast; retransmit at half the time to expiry.
        XCTAssertEqual(sent(m.timeout(now: 201_000)), ["broadcast REQUEST"])
        XCTAssertEqual(m.state, .rebinding)
        XCTAssertEqual(m.deadline, 201_000 + (3_601_000 - 201_000) / 2)
        var now = m.deadline!
        while m.state == .rebinding {
            let o = sent(m.timeout(now: now))
            if m.state != .rebinding {
                XCTAssertEqual(o.first?.hasPrefix("event expired"), true, "\(o)")
                XCTAssertEqual(o.last, "broadcast DISCOVER")
                XCTAssertEqual(now, 3_601_000, "expiry exactly at the lease end")
            }
            now = m.deadline!
        }
        XCTAssertEqual(m.state, .selecting)
        XCTAssertNil(m.lease)
    }

    func testRenewalAckWithNewAddressReportsTheChange() {
        let m = machine()
        _ = m.start(now: 0)
        _ = m.receive(received(2, xid: m.xid), now: 1)
        _ = m.receive(received(5, xid: m.xid), now: 2)
        _ = m.timeout(now: m.deadline!)
        let outs = m.receive(received(5, xid: m.xid, yiaddr: [10, 77, 0, 51]), now: m.deadline! - 1)
        guard case .event(.renewed(let old, let new))? = outs.first else { return XCTFail("\(outs)") }
        XCTAssertEqual(old.address, 0x0a4d_0032)
        XCTAssertEqual(new.address, 0x0a4d_0033)
        XCTAssertEqual(m.state, .bound)
    }

    func testNakRestartsAndInitReboot() {
        let m = machine()
        let prev = Lease(address: 0x0a63_6363, mask: 0xffff_ff00, routers: [], dns: [], domain: nil, mtu: nil, leaseSeconds: 3600,
                         renewSeconds: 1800, rebindSeconds: 3150, server: 0x0a4d_0001, serverMAC: [2, 0, 0, 0, 0, 9], obtainedAt: 0)
        let start = m.start(now: 100, previous: prev)
        XCTAssertEqual(sent(start), ["broadcast REQUEST"])
        guard case .broadcast(let req)? = start.first(where: { if case .broadcast = $0 { return true }; return false }) else { return XCTFail() }
        XCTAssertEqual(req.address(DHCPOption.requestedIP), 0x0a63_6363)
        XCTAssertNil(req.option(DHCPOption.serverID), "INIT-REBOOT names no server")
        XCTAssertEqual(m.state, .rebooting)
        let nak = sent(m.receive(received(6, xid: m.xid, extra: [56, 4] + Array("nope".utf8)), now: 200))
        XCTAssertEqual(nak, ["event nak(Optional(\"nope\"))"])
        XCTAssertEqual(m.state, .waiting, "a NAK pauses before starting over")
        XCTAssertEqual(m.deadline, 200 + DHCPMachine.pauseAfterNAKMs)
        XCTAssertFalse(m.listening)
        XCTAssertEqual(sent(m.timeout(now: m.deadline!)), ["broadcast DISCOVER"])
        XCTAssertEqual(m.state, .selecting)
        // An expired previous lease goes straight to DISCOVER.
        let expired = Lease(address: 0x0a63_6363, mask: 0xffff_ff00, routers: [], dns: [], domain: nil, mtu: nil, leaseSeconds: 3600,
                            renewSeconds: 1800, rebindSeconds: 3150, server: 0x0a4d_0001, serverMAC: [2, 0, 0, 0, 0, 9], obtainedAt: -10_000_000)
        XCTAssertEqual(sent(machine().start(now: 0, previous: expired)), ["broadcast DISCOVER"])
    }

    func testReleaseIsUnicastToTheServer() {
        let m = machine()
        _ = m.start(now: 0)
        _ = m.receive(received(2, xid: m.xid), now: 1)
        _ = m.receive(received(5, xid: m.xid), now: 2)
        let outs = m.release(now: 3)
        guard case let .unicast(p, mac, ip)? = outs.first else { return XCTFail("\(outs)") }
        XCTAssertEqual(p.messageType, .release)
        XCTAssertEqual(p.ciaddr, 0x0a4d_0032)
        XCTAssertEqual(mac, [2, 0, 0, 0, 0, 9])
        XCTAssertEqual(ip, 0x0a4d_0001)
        XCTAssertEqual(m.state, .released)
        XCTAssertNil(m.deadline)
    }

    /// What a hostile or broken server sends never reaches the lease unchecked.
    func testHostileLeaseValuesAreCheckedAndSaid() {
        func bind(_ extra: [UInt8], yiaddr: [UInt8] = [10, 77, 0, 50]) -> (Lease?, [String], [DHCPMachine.Output]) {
            let m = machine()
            _ = m.start(now: 0)
            _ = m.receive(received(2, xid: m.xid), now: 1)
            // An ACK with exactly the options given (plus message type and server id).
            let outs = m.receive(DHCPFrame.Received(packet: ack(xid: m.xid, yiaddr: yiaddr, options: extra), srcMAC: [2, 0, 0, 0, 0, 9], srcIP: 0x0a4d_0001), now: 2)
            var lease: Lease?
            var logs: [String] = []
            for o in outs {
                if case .event(.bound(let l)) = o { lease = l }
                if case .log(let s) = o { logs.append(s) }
            }
            return (lease, logs, outs)
        }
        // Lease time 1 s: raised to the 60 s minimum.
        let (short, shortLogs, _) = bind([51, 4, 0, 0, 0, 1])
        XCTAssertEqual(short?.leaseSeconds, 60)
        XCTAssertEqual(short?.renewSeconds, 30)
        XCTAssertTrue(shortLogs.contains("lease time 1 s raised to 60 s"), "\(shortLogs)")
        // Option 15 with a newline (the udhcpc CVE-2011-2716 class): dropped.
        let (dom, domLogs, _) = bind([51, 4, 0, 0, 14, 16, 15, 21] + Array("evil\nnameserver 6.6.6".utf8))
        XCTAssertNil(dom?.domain)
        XCTAssertTrue(domLogs.contains { $0.hasPrefix("ignored domain name \"evil\\x0anameserver") }, "\(domLogs)")
        // Mask 0.0.0.0 and a non-contiguous one: /32, router on-link.
        for mask: [UInt8] in [[0, 0, 0, 0], [255, 0, 255, 0]] {
            let (l, logs, _) = bind([51, 4, 0, 0, 14, 16, 1, 4] + mask + [3, 4, 10, 77, 0, 1])
            XCTAssertEqual(l?.prefix, 32)
            XCTAssertTrue(logs.contains { $0.hasPrefix("ignored subnet mask") }, "\(logs)")
        }
        // Routers and DNS servers that are not usable unicast addresses; at most three DNS servers.
        // 100 servers: two option-6 instances, concatenated by the parser (RFC 3396).
        var dns: [UInt8] = [6, 240]
        for i in 1...60 { dns += [10, 1, 0, UInt8(i)] }
        dns += [6, 160]
        for i in 61...100 { dns += [10, 1, 0, UInt8(i)] }
        let (many, manyLogs, _) = bind([51, 4, 0, 0, 14, 16, 3, 12, 0, 0, 0, 0, 127, 0, 0, 1, 10, 77, 0, 1] + dns)
        XCTAssertEqual(many?.routers, [0x0a4d_0001])
        XCTAssertEqual(many?.dns, [0x0a01_0001, 0x0a01_0002, 0x0a01_0003])
        XCTAssertTrue(manyLogs.contains("ignored router 0.0.0.0: not a usable unicast address"), "\(manyLogs)")
        XCTAssertTrue(manyLogs.contains("ignored DNS servers after the first 3"), "\(manyLogs)")
        // A multicast, loopback or zero-net address is declined, and the client pauses.
        for bad: [UInt8] in [[224, 0, 0, 5], [127, 0, 0, 1], [0, 1, 2, 3], [255, 255, 255, 255]] {
            let (l, logs, outs) = bind([51, 4, 0, 0, 14, 16], yiaddr: bad)
            XCTAssertNil(l)
            XCTAssertTrue(logs.first?.hasPrefix("declining") == true, "\(logs)")
            XCTAssertEqual(sent(outs).first, "broadcast DECLINE")
        }
    }

    func ack(xid: UInt32, yiaddr: [UInt8], options: [UInt8]) -> DHCPPacket {
        var b = [UInt8](repeating: 0, count: 240)
        b[0] = 2; b[1] = 1; b[2] = 6
        b[4] = UInt8(xid >> 24); b[5] = UInt8(xid >> 16 & 0xff); b[6] = UInt8(xid >> 8 & 0xff); b[7] = UInt8(xid & 0xff)
        for i in 0..<4 { b[16 + i] = yiaddr[i] }
        for i in 0..<6 { b[28 + i] = mac[i] }
        b[236] = 99; b[237] = 130; b[238] = 83; b[239] = 99
        b += [53, 1, 5, 54, 4, 10, 77, 0, 1] + options + [255]
        return try! DHCPPacket.parse(b)
    }
}
