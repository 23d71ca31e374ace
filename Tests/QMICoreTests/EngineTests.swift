import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages

/// The transaction engine over a real socketpair, the test playing the modem.
final class EngineTests: XCTestCase {
    var loop: EventLoop!
    var engine: QMIEngine!
    var modemFD: Int32 = -1
    var ignored: [String] = []
    var modemReader = FrameReader()

    override func setUp() {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        _ = csys_set_nonblocking(fds[0])
        modemFD = fds[1]
        loop = EventLoop()
        engine = QMIEngine(channel: QMIChannel(path: "socketpair", fd: fds[0], isSocket: true), loop: loop)
        ignored = []
        engine.onIgnored = { [unowned self] in self.ignored.append($0) }
    }

    override func tearDown() {
        if modemFD >= 0 { close(modemFD) }
        engine.close()
    }

    /// Reads the requests the engine wrote (blocking briefly on the modem side).
    func modemReceive(_ count: Int) throws -> [QMIMessage] {
        var out: [QMIMessage] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count < count {
            while let item = modemReader.next() {
                if case let .frame(f) = item { out.append(try QMIMessage.decode(f)) }
            }
            if out.count >= count { break }
            let n = read(modemFD, &buf, buf.count)
            XCTAssertGreaterThan(n, 0)
            if n <= 0 { break }
            modemReader.append(Array(buf[0..<n]))
        }
        return out
    }

    func modemSend(_ m: QMIMessage) { modemSend(m.encode()) }
    func modemSend(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(modemFD, $0.baseAddress, $0.count) } }

    func revisionResponse(to req: QMIMessage, _ rev: String) throws -> QMIMessage {
        var r = QMIMessage.reply(to: req)
        try r.set("Revision", .string(rev))
        return r
    }

    func testOutOfOrderResponsesReachTheirCallers() throws {
        var results: [Int: String] = [:]
        for i in 0..<3 {
            engine.send(QMIMessage.request(DMS.GetRevision.spec, clientID: UInt8(i + 1))) { r in
                results[i] = (try? r.get().value("Revision")?.string) ?? "error"
            }
        }
        XCTAssertEqual(engine.pendingCount, 3)
        let reqs = try modemReceive(3)
        XCTAssertEqual(reqs.map { $0.transactionID }, [1, 1, 1])   // per-client transaction ids
        for r in reqs.reversed() { modemSend(try revisionResponse(to: r, "REV-\(r.clientID)")) }
        XCTAssertTrue(loop.run(until: { results.count == 3 }, timeoutMs: 2000))
        XCTAssertEqual(results, [0: "REV-1", 1: "REV-2", 2: "REV-3"])
        XCTAssertEqual(loop.pendingTimers, 0, "timeout timers must be cancelled: an idle engine has nothing to wake for")
    }

    /// libqmi's get-cell-location-info/invalid vector: an answer with the request's service,
    /// client and transaction id but another message id (0x0044) is not the answer.
    func testResponseWithAnotherMessageIDIsNotTheAnswer() throws {
        var answer: QMIMessage?
        engine.send(QMIMessage.request(NAS.GetCellLocationInfo.spec, clientID: 1)) { r in answer = try? r.get() }
        let req = try modemReceive(1)[0]
        var bytes = hex("01 53 00 80 03 01 02 01 00 44 00 47 00 02 04 00 00 00 00 00 10 3D 00 00 00 00 00 00 00 00 00 00 00 00 00 FF FF FF FF 28 00 03 7D 6F 00 00 32 F4 51 B3 00 4D 00 11 2A 00 8A 3C 00 00 32 F4 51 B3 00 63 00 30 14 00 89 3C 00 00 32 F4 51 B3 00 59 00 11 0D 00")
        bytes[7] = UInt8(req.transactionID & 0xff)
        bytes[8] = UInt8(req.transactionID >> 8)
        modemSend(bytes)
        XCTAssertFalse(loop.run(until: { answer != nil }, timeoutMs: 200))
        XCTAssertTrue(ignored.contains { $0.contains("matches no request") }, "\(ignored)")
        bytes[9] = 0x43
        modemSend(bytes)
        XCTAssertTrue(loop.run(until: { answer != nil }, timeoutMs: 2000))
        XCTAssertEqual(answer?.messageID, 0x43)
    }

    func testTransactionIDsIncreasePerClient() throws {
        for _ in 0..<3 { engine.send(QMIMessage.request(DMS.GetRevision.spec, clientID: 9)) { _ in } }
        for _ in 0..<2 { engine.send(QMIMessage.request(CTL.Sync.spec)) { _ in } }
        let reqs = try modemReceive(5)
        XCTAssertEqual(reqs.map { $0.transactionID }, [1, 2, 3, 1, 2])
    }

    func testTimeout() throws {
        var outcome: Result<QMIMessage, QMIError>?
        engine.send(QMIMessage.request(NAS.GetServingSystem.spec, clientID: 2), timeoutMs: 50) { outcome = $0 }
        XCTAssertTrue(loop.run(until: { outcome != nil }, timeoutMs: 5000))
        guard case .failure(let e)? = outcome else { return XCTFail("expected a timeout") }
        XCTAssertEqual(e, .timeout(message: "NAS Get Serving System", afterMs: 50))
        XCTAssertEqual(e.description, "NAS Get Serving System: no response from the modem within 50 ms")
        XCTAssertEqual(engine.pendingCount, 0)
        // A late response is logged and ignored.
        let req = try modemReceive(1)[0]
        modemSend(QMIMessage.reply(to: req))
        loop.runOnce(maxWaitMs: 200)
        XCTAssertEqual(ignored.count, 1)
        XCTAssertTrue(ignored[0].contains("matches no request"), ignored[0])
    }

    func testIndicationBetweenRequestAndResponse() throws {
        var order: [String] = []
        engine.subscribe(service: .wds, messageID: WDS.GetPacketServiceStatus.spec.id, clientID: 4) { m in
            let status = (try? m.value("Connection Status")?[0]?.uint) ?? 99
            order.append("indication \(status)")
        }
        engine.send(QMIMessage.request(WDS.StopNetwork.spec, clientID: 4)) { r in
            order.append((try? r.get().check()) != nil ? "response ok" : "response error")
        }
        let req = try modemReceive(1)[0]
        var ind = QMIMessage.indication(WDS.GetPacketServiceStatus.spec, clientID: 4)
        try ind.set("Connection Status", .structure([.uint(1), .bool(false)]))
        modemSend(ind.encode() + QMIMessage.reply(to: req).encode())   // joined in one write
        XCTAssertTrue(loop.run(until: { order.count == 2 }, timeoutMs: 2000))
        XCTAssertEqual(order, ["indication 1", "response ok"])
    }

    func testBroadcastIndicationsAndOtherClients() throws {
        var got: [UInt8] = []
        engine.subscribe(service: .nas, messageID: NAS.GetServingSystem.spec.id, clientID: 2) { got.append($0.clientID) }
        for cid: UInt8 in [3, 0xff, 2] {
            var ind = QMIMessage.indication(NAS.GetServingSystem.spec, clientID: cid)
            try ind.set("Serving System", .structure([.uint(1), .uint(1), .uint(1), .uint(2), .array([.int(8)])]))
            modemSend(ind)
        }
        XCTAssertTrue(loop.run(until: { got.count == 2 }, timeoutMs: 2000))
        XCTAssertEqual(got, [0xff, 2])
    }

    func testMalformedFramesAreIgnored() throws {
        var rev: String?
        engine.send(QMIMessage.request(DMS.GetRevision.spec, clientID: 1)) { rev = try? $0.get().value("Revision")?.string }
        let req = try modemReceive(1)[0]
        modemSend([0x55, 0xaa] + hex("01 0c 00 80 02 01 02 01 00 23 00 09 00")  // garbage, bad SDU length
                  + (try revisionResponse(to: req, "EC25EFAR06A11M4G")).encode())
        XCTAssertTrue(loop.run(until: { rev != nil }, timeoutMs: 2000))
        XCTAssertEqual(rev, "EC25EFAR06A11M4G")
        XCTAssertEqual(ignored.count, 2, "\(ignored)")
        XCTAssertTrue(ignored[1].contains("malformed"), ignored[1])
    }

    func testDeviceGoneFailsEveryPendingRequestAtOnce() throws {
        var failures: [QMIError] = []
        var closedWith: QMIError?
        engine.onClose = { closedWith = $0 }
        for i in 1...4 {
            engine.send(QMIMessage.request(DMS.GetRevision.spec, clientID: UInt8(i))) { r in
                if case .failure(let e) = r { failures.append(e) }
            }
        }
        _ = try modemReceive(4)
        close(modemFD)
        modemFD = -1
        let wakeupsBefore = loop.wakeups
        XCTAssertTrue(loop.run(until: { failures.count == 4 }, timeoutMs: 2000))
        XCTAssertEqual(loop.wakeups - wakeupsBefore, 1, "all pending requests fail in the same wake-up")
        XCTAssertEqual(Set(failures.map { $0.description }).count, 1)
        if case .deviceGone? = failures.first {} else { XCTFail("\(failures)") }
        XCTAssertEqual(closedWith, failures.first)
        // Later requests fail immediately with the same error.
        var late: QMIError?
        engine.send(QMIMessage.request(CTL.Sync.spec)) { if case .failure(let e) = $0 { late = e } }
        XCTAssertTrue(loop.run(until: { late != nil }, timeoutMs: 500))
        XCTAssertEqual(late, closedWith)
    }

    func testEventLoopTimersRunInDeadlineOrderAndCancel() {
        var fired: [Int] = []
        loop.after(30) { fired.append(3) }
        loop.after(10) { fired.append(1) }
        let t = loop.after(20) { fired.append(2) }
        loop.after(20) { fired.append(22) }
        loop.cancel(t)
        XCTAssertTrue(loop.run(until: { fired.count == 3 }, timeoutMs: 2000))
        XCTAssertEqual(fired, [1, 22, 3])
        XCTAssertEqual(loop.pendingTimers, 0)
    }
}
