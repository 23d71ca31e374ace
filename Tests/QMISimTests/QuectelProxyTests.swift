import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
@testable import MBIMCore
import MBIMMessages
@testable import ATCore
@testable import QMISim
import TestSupport

/// The simulated Quectel proxies behave as quectel-CM 1.6.8's programs do — what they refuse,
/// how they route, what they do for a client that goes — and qcm's channels get through them.
/// Abstract socket names live in a network namespace of the test's own (root).
final class QuectelProxyTests: XCTestCase {
    // MARK: quectel-qmi-proxy

    /// A raw client of the proxy: writes exactly what it is given, reads what comes.
    final class RawClient {
        let fd: Int32
        init(_ name: String) throws {
            fd = csys_unix_connect(name)
            guard fd >= 0 else { throw NSError(domain: "connect", code: Int(csys_errno())) }
            _ = csys_set_nonblocking(fd)
        }
        deinit { close(fd) }
        func write(_ b: [UInt8]) { _ = b.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) } }
        func read() -> [UInt8] {
            var buf = [UInt8](repeating: 0, count: 16384)
            let n = buf.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            return n > 0 ? Array(buf[0..<n]) : []
        }
    }

    func ctl(_ spec: QMIMessageSpec, tid: UInt16, _ fill: (inout QMIMessage) throws -> Void = { _ in }) rethrows -> [UInt8] {
        var m = QMIMessage.request(spec)
        m.transactionID = tid
        try fill(&m)
        return m.encode()
    }

    func qmiProxyRig() throws -> (Rig, TestNamespace, QuectelQMIProxy) {
        guard isRoot else { throw XCTSkip("needs root: a network namespace for @quectel-qmi-proxy0") }
        let rig = try Rig()
        let ns = try TestNamespace("qcm-qproxy")
        let proxy = try ns.inside { try rig.sim.serveQuectelProxy(device: "/dev/cdc-wdm0") }
        XCTAssertEqual(proxy.name, "@quectel-qmi-proxy0")
        XCTAssertTrue(rig.loop.run(until: { proxy.isListening }, timeoutMs: 3000), "listens once the modem answered its Sync")
        return (rig, ns, proxy)
    }

    /// The proxy syncs the modem before it listens (every client id there is dropped); qcm's
    /// channel then allocates, asks and releases through it, several CTL requests at once.
    func testQMIProxySyncsFirstThenCarriesClients() throws {
        let (rig, ns, proxy) = try qmiProxyRig()
        let first = rig.sim.transcript.requests().first
        XCTAssertEqual(first?.messageID, CTL.Sync.spec.id, "the proxy's own Sync")
        XCTAssertEqual(first?.transactionID, 1)
        let engine = QMIEngine(channel: try ns.inside { try QMITransports.openQuectelProxy(device: "/dev/cdc-wdm0") }, loop: rig.loop)
        defer { engine.close() }
        var ids: [QMIService: UInt8] = [:]
        for svc in [QMIService.wds, .dms, .nas, .uim] {                       // four CTL requests at once
            var m = QMIMessage.request(CTL.AllocateClientID.spec)
            try m.set("Service", .uint(UInt64(svc.rawValue)))
            engine.send(m, timeoutMs: 2000) { r in
                if let a = try? r.get(), let cid = (try? a.required("Allocation"))?[1]?.uint { ids[svc] = UInt8(cid) }
            }
        }
        XCTAssertTrue(rig.loop.run(until: { ids.count == 4 }, timeoutMs: 3000), "\(ids) \(proxy.lines)")
        XCTAssertEqual(proxy.droppedReads, 0, "each frame alone in its read")
        XCTAssertEqual(Set(proxy.heldIDs.map { $0.service }), Set([QMIService.wds, .dms, .nas, .uim].map { $0.rawValue }))
        var revision: String?
        engine.send(QMIMessage.request(DMS.GetRevision.spec, clientID: ids[.dms]!), timeoutMs: 2000) { r in
            revision = (try? r.get()).flatMap { try? $0.value("Revision")?.string }
        }
        XCTAssertTrue(rig.loop.run(until: { revision != nil }, timeoutMs: 3000))
        XCTAssertEqual(revision, rig.sim.config.revision)
        var released = false
        var rel = QMIMessage.request(CTL.ReleaseClientID.spec)
        try rel.set("Release", .structure([.uint(UInt64(QMIService.dms.rawValue)), .uint(UInt64(ids[.dms]!))]))
        engine.send(rel, timeoutMs: 2000) { _ in released = true }
        XCTAssertTrue(rig.loop.run(until: { released }, timeoutMs: 3000))
        XCTAssertFalse(proxy.heldIDs.contains { $0.service == QMIService.dms.rawValue }, "forgotten with its release")
    }

    /// What the proxy refuses: a read that is not exactly one frame (two frames written
    /// together, a frame with a byte more), and CTL Sync from a client. None is answered.
    func testQMIProxyDropsWrongFramingAndClientSync() throws {
        let (rig, ns, proxy) = try qmiProxyRig()
        let raw = try ns.inside { try RawClient(proxy.name) }
        let alloc = { (tid: UInt16) in try self.ctl(CTL.AllocateClientID.spec, tid: tid) { try $0.set("Service", .uint(1)) } }
        raw.write(try alloc(1) + alloc(2))
        rig.wait(300) { proxy.droppedReads == 1 }
        raw.write(try alloc(3) + [0])
        rig.wait(300) { proxy.droppedReads == 2 }
        raw.write(try ctl(CTL.Sync.spec, tid: 4))
        rig.wait(300) { proxy.refusedClientSyncs == 1 }
        rig.wait(200)
        XCTAssertEqual(proxy.droppedReads, 2)
        XCTAssertEqual(proxy.refusedClientSyncs, 1)
        XCTAssertEqual(raw.read(), [], "nothing answered")
        XCTAssertEqual(rig.sim.transcript.requests(CTL.AllocateClientID.spec).count, 0, "nothing reached the modem")
        XCTAssertEqual(rig.sim.transcript.requests(CTL.Sync.spec).count, 1, "only the proxy's own Sync")
        // One frame alone is taken.
        raw.write(try alloc(5))
        rig.wait(1000) { !proxy.heldIDs.isEmpty }
        XCTAssertEqual(proxy.heldIDs.count, 1)
    }

    /// A client that goes without releasing: the proxy releases its ids itself (transaction
    /// 255), which ends its call; another client's ids and call stay.
    func testQMIProxyReleasesAVanishedClientsIDs() throws {
        let (rig, ns, proxy) = try qmiProxyRig()
        var other = try ns.inside { try RawClient(proxy.name) }
        // The next response for `c`: one read may bring several frames (an indication with
        // the answer), so whole frames are cut out and indications passed over.
        var readers: [ObjectIdentifier: FrameReader] = [:]
        func answer(_ c: RawClient) -> QMIMessage? {
            var reader = readers[ObjectIdentifier(c)] ?? FrameReader()
            defer { readers[ObjectIdentifier(c)] = reader }
            var found: QMIMessage?
            rig.wait(2000) {
                reader.append(c.read())
                while found == nil, let item = reader.next() {
                    if case .frame(let f) = item, let m = try? QMIMessage.decode(f), m.kind == .response { found = m }
                }
                return found != nil
            }
            return found
        }
        other.write(try ctl(CTL.AllocateClientID.spec, tid: 1) { try $0.set("Service", .uint(UInt64(QMIService.wds.rawValue))) })
        let otherWDS = UInt8(try XCTUnwrap(answer(other)?.required("Allocation")[1]?.uint))

        var gone: RawClient! = try ns.inside { try RawClient(proxy.name) }
        gone.write(try ctl(CTL.AllocateClientID.spec, tid: 1) { try $0.set("Service", .uint(UInt64(QMIService.wds.rawValue))) })
        let wds = UInt8(try XCTUnwrap(answer(gone)?.required("Allocation")[1]?.uint))
        gone.write(try ctl(CTL.AllocateClientID.spec, tid: 2) { try $0.set("Service", .uint(UInt64(QMIService.nas.rawValue))) })
        _ = answer(gone)
        var start = QMIMessage.request(WDS.StartNetwork.spec, clientID: wds)
        start.transactionID = 3
        try start.set("APN", .string("cmnet"))
        gone.write(start.encode())
        XCTAssertNotNil(answer(gone))
        XCTAssertEqual(rig.sim.activeCalls, 1)
        XCTAssertEqual(proxy.heldIDs.count, 3)

        gone = nil                                                      // the process is killed
        rig.wait(2000) { rig.sim.transcript.requests(CTL.ReleaseClientID.spec).count == 2 && rig.sim.allocatedClientCount == 1 }
        XCTAssertEqual(proxy.releasedForVanished.map { $0.service }, [QMIService.wds.rawValue, QMIService.nas.rawValue])
        let releases = rig.sim.transcript.requests(CTL.ReleaseClientID.spec)
        XCTAssertEqual(releases.map { $0.transactionID }, [255, 255], "the proxy's own transaction id")
        XCTAssertEqual(rig.sim.activeCalls, 0, "its call ended with its WDS client")
        XCTAssertEqual(rig.sim.allocatedClients[QMIService.wds.rawValue], [otherWDS], "the other client's id stays")
        other = try ns.inside { try RawClient(proxy.name) }                // and closing that one cleans up the rest
        rig.wait(2000) { rig.sim.isClean }
        XCTAssertTrue(rig.sim.isClean, "\(rig.sim.allocatedClients) \(proxy.lines)")
    }

    /// Routing from the modem: a service's frames reach the clients holding that client id
    /// only; a CTL answer reaches the client whose request it answers.
    func testQMIProxyRoutesByClientID() throws {
        let (rig, ns, proxy) = try qmiProxyRig()
        let a = try ns.inside { try RawClient(proxy.name) }, b = try ns.inside { try RawClient(proxy.name) }
        a.write(try ctl(CTL.AllocateClientID.spec, tid: 7) { try $0.set("Service", .uint(UInt64(QMIService.dms.rawValue))) })
        var got: [UInt8] = []
        rig.wait(1000) { got = a.read(); return !got.isEmpty }
        let cid = UInt8(try XCTUnwrap(try QMIMessage.decode(got).required("Allocation")[1]?.uint))
        XCTAssertEqual(b.read(), [], "the CTL answer went to its client only")
        var m = QMIMessage.request(DMS.GetRevision.spec, clientID: cid)
        m.transactionID = 9
        b.write(m.encode())                                              // b uses a's id: the proxy lets it
        rig.wait(1000) { got = a.read(); return !got.isEmpty }
        XCTAssertEqual(try QMIMessage.decode(got).messageID, DMS.GetRevision.spec.id, "the answer goes to the id's holder")
        XCTAssertEqual(b.read(), [])
    }

    // MARK: quectel-mbim-proxy

    func mbimProxy() throws -> (MBIMSimulator, TestNamespace, QuectelMBIMProxy) {
        guard isRoot else { throw XCTSkip("needs root: a network namespace for @quectel-mbim-proxy") }
        let sim = MBIMSimulator()
        sim.start()
        let ns = try TestNamespace("qcm-mproxy")
        let proxy = try ns.inside { try sim.serveQuectelProxy() }
        XCTAssertTrue(eventually { proxy.isListening }, "listens once the modem answered its OPEN")
        XCTAssertEqual(sim.requestNames.first, "OPEN", "the proxy opens the device itself")
        return (sim, ns, proxy)
    }

    /// OPEN and CLOSE are answered by the proxy; everything else goes to the modem with the
    /// client's index in the top byte of its transaction id, and comes back without it.
    func testMBIMProxyTransactionIDs() throws {
        let (sim, ns, proxy) = try mbimProxy()
        defer { sim.shutdown() }
        let loop = EventLoop()
        let first = try ns.inside { try RawClient(proxy.name) }        // takes slot 1
        let engine = MBIMEngine(channel: try ns.inside { try MBIMChannel.openQuectelProxy() }, loop: loop)
        defer { engine.close() }
        var results: [Result<MBIMMessage, MBIMError>] = []
        engine.send(MBIMMessage(kind: .open, transactionID: 0, value: 4096), timeoutMs: 2000) { results.append($0) }
        for cid in [MBIM.DeviceCaps.cid, MBIM.SubscriberReadyStatus.cid, MBIM.RadioState.cid] {
            engine.send(.command(.basicConnect, cid, set: false, []), timeoutMs: 2000) { results.append($0) }
        }
        engine.send(MBIMMessage(kind: .close, transactionID: 0), timeoutMs: 2000) { results.append($0) }
        XCTAssertTrue(loop.run(until: { results.count == 5 }, timeoutMs: 3000))
        for r in results { XCTAssertNoThrow(try r.get(), "\(r)") }
        XCTAssertEqual(proxy.answeredItself, [1, 2])
        XCTAssertEqual(proxy.forwardedRequests.map { $0.index }, [2, 2, 2], "the second client's index")
        XCTAssertEqual(proxy.forwardedRequests.map { $0.tid }, [2, 3, 4])
        XCTAssertEqual(sim.requestNames.filter { $0 == "OPEN" || $0 == "CLOSE" }, ["OPEN"], "the client's OPEN and CLOSE stayed in the proxy")
        XCTAssertEqual(first.read(), [], "answers went to their client only")
        XCTAssertTrue(sim.withOpen { $0 }, "the device stays open for the proxy")
    }

    /// A read of the proxy is one message: two written together reach the modem as one write,
    /// of which the modem takes the first.
    func testMBIMProxyTwoMessagesInOneReadLoseTheSecond() throws {
        let (sim, ns, proxy) = try mbimProxy()
        defer { sim.shutdown() }
        let raw = try ns.inside { try RawClient(proxy.name) }
        func command(_ tid: UInt32, _ cid: UInt32) -> [UInt8] {
            MBIMMessage.command(.basicConnect, cid, set: false, [], tid: tid).encode(maxTransfer: 4096)[0]
        }
        raw.write(command(1, MBIM.DeviceCaps.cid) + command(2, MBIM.RadioState.cid))
        var got: [UInt8] = []
        XCTAssertTrue(eventually { got += raw.read(); return got.count >= 12 })
        usleep(200_000)
        got += raw.read()
        XCTAssertEqual(Int(Reader(got).u32(4)), got.count, "one answer only")
        XCTAssertEqual(Reader(got).u32(8), 1)
        XCTAssertEqual(sim.requestNames.filter { $0.hasPrefix("basic-connect") }, ["basic-connect DEVICE_CAPS query"])
    }

    // MARK: quectel-atc-proxy

    func atcProxy(_ configure: (inout ATSimConfig) -> Void = { _ in }) throws -> (ATSimulator, TestNamespace, QuectelATCProxy, String) {
        guard isRoot else { throw XCTSkip("needs root: a network namespace for @quectel-atc-proxy2") }
        var c = ATSimConfig()
        c.latencyMs = 2
        configure(&c)
        let sim = ATSimulator(config: c)
        let dir = NSTemporaryDirectory() + "atc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = dir + "/ttyUSB2"
        try sim.listen(devPath: port)
        sim.startThread()
        let ns = try TestNamespace("qcm-aproxy")
        let proxy = try ns.inside { try sim.serveQuectelProxy(device: port) }
        XCTAssertEqual(proxy.name, "@quectel-atc-proxy2")
        XCTAssertTrue(eventually(timeout: 10) { proxy.isServing }, "serves once its start-up ran: \(proxy.lines)")
        return (sim, ns, proxy, dir)
    }

    /// The proxy's start-up on the port, then command lines from clients: without CR from
    /// qcm's channel, every line of the answer to every client.
    func testATCProxyStartUpAndLines() throws {
        let (sim, ns, proxy, dir) = try atcProxy()
        defer { sim.shutdown(); try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertEqual(Array(proxy.commandLines.prefix(7)), ["ATE0Q0V1", "AT+QCFG=\"usbnet\"", "AT+QNETDEVCTL=?", "AT+CGREG=2", "AT+CEREG=2",
                                                            "AT+C5GREG=2", "AT+QNETDEVSTATUS=?"])
        // A UNISOC module refuses the chained ATE0Q0V1 (+CME ERROR: 4): its echo stays on, and
        // reaches the clients with everything else.
        XCTAssertEqual(sim.transcript.final(after: "ATE0Q0V1"), "+CME ERROR: 4")
        XCTAssertTrue(sim.echoOn)
        let loop = EventLoop()
        let watcher = try ns.inside { try RawClient(proxy.name) }
        let engine = ATEngine(channel: try ns.inside { try ATChannel.openQuectelProxy(device: dir + "/ttyUSB2") }, loop: loop)
        defer { engine.close() }
        var reply: Result<ATReply, ATError>?
        engine.send(ATCatalogue.signalQuality, "AT+CSQ", timeoutMs: 3000) { reply = $0 }
        XCTAssertTrue(loop.run(until: { reply != nil }, timeoutMs: 4000))
        XCTAssertEqual(try reply?.get().lines.count, 1)
        XCTAssertTrue(try reply?.get().lines.first?.hasPrefix("+CSQ: ") == true)
        XCTAssertEqual(proxy.commandLines.last, "AT+CSQ", "the line as qcm sent it, without CR")
        var seen = ""
        XCTAssertTrue(eventually { seen += String(decoding: watcher.read(), as: UTF8.self); return seen.hasSuffix("OK\r\n") })
        XCTAssertTrue(seen.hasPrefix("AT+CSQ\r\n+CSQ: ") && seen.hasSuffix("\r\nOK\r\n"),
                      "another client sees the echo and the answer too, each line ended CR LF: \(seen.debugDescription)")
    }

    /// A line sent with its CR reaches the module with two (the proxy appends one): the module
    /// takes the command and ignores the empty line.
    func testATCProxyLineWithCR() throws {
        let (sim, ns, proxy, dir) = try atcProxy()
        defer { sim.shutdown(); try? FileManager.default.removeItem(atPath: dir) }
        let raw = try ns.inside { try RawClient(proxy.name) }
        raw.write(Array("AT+CSQ\r".utf8))
        var seen = ""
        XCTAssertTrue(eventually { seen += String(decoding: raw.read(), as: UTF8.self); return seen.hasSuffix("OK\r\n") })
        XCTAssertEqual(proxy.commandLines.last, "AT+CSQ\r")
        XCTAssertEqual(sim.transcript.commands.last, "AT+CSQ")
    }
}

private extension MBIMMessage {
    func with(tid: UInt32) -> MBIMMessage {
        var m = self
        m.transactionID = tid
        return m
    }
}

private extension MBIMSimulator {
    func withOpen<T>(_ body: (Bool) -> T) -> T { locked { body(opened) } }
}

/// Waits (10 s at most) until `condition` holds, polling.
private func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
