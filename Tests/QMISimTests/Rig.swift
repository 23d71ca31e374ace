import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
@testable import QMISim
import TestSupport

/// The simulator and a QMICore engine on one event loop, talking over a real Unix socket.
final class Rig {
    let loop = EventLoop()
    let sim: QMISimulator
    let dir: String
    let socket: String
    var engine: QMIEngine!
    var indications: [QMIMessage] = []
    var ignored: [String] = []
    var closed: QMIError?

    init(_ configure: (inout SimConfig) -> Void = { _ in }) throws {
        var c = SimConfig()
        c.latencyMs = 2
        configure(&c)
        sim = QMISimulator(config: c, loop: loop)
        dir = NSTemporaryDirectory() + "qmisim-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        socket = dir + "/cdc-wdm0"
        try sim.listen(socket)
        try connect()
    }

    func connect() throws {
        engine?.onClose = nil
        engine?.close()
        engine = QMIEngine(channel: try QMIChannel.open(socket), loop: loop)
        engine.onIgnored = { [unowned self] in self.ignored.append($0) }
        engine.onClose = { [unowned self] in self.closed = $0 }
        for svc in [QMIService.ctl, .wds, .nas, .uim, .dms] {
            engine.subscribe(service: svc) { [unowned self] in self.indications.append($0) }
        }
    }

    deinit {
        engine?.onClose = nil
        engine?.onIgnored = nil
        engine?.close()
        sim.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Sends a request and runs the loop until its outcome.
    func call(_ spec: QMIMessageSpec, cid: UInt8 = 0, timeoutMs: Int64 = 2000,
              _ fill: (inout QMIMessage) throws -> Void = { _ in }) throws -> Result<QMIMessage, QMIError> {
        var m = QMIMessage.request(spec, clientID: cid)
        try fill(&m)
        var outcome: Result<QMIMessage, QMIError>?
        engine.send(m, timeoutMs: timeoutMs) { outcome = $0 }
        XCTAssertTrue(loop.run(until: { outcome != nil }, timeoutMs: timeoutMs + 3000), "no outcome for \(spec.fullName)")
        return outcome ?? .failure(.closed)
    }

    func ok(_ spec: QMIMessageSpec, cid: UInt8 = 0, _ fill: (inout QMIMessage) throws -> Void = { _ in }) throws -> QMIMessage {
        let m = try call(spec, cid: cid, fill).get()
        try m.check()
        return m
    }

    func allocate(_ svc: QMIService) throws -> UInt8 {
        let r = try ok(CTL.AllocateClientID.spec) { try $0.set("Service", .uint(UInt64(svc.rawValue))) }
        return UInt8(try r.required("Allocation")[1]!.uint!)
    }

    func release(_ svc: QMIService, _ cid: UInt8) throws {
        _ = try ok(CTL.ReleaseClientID.spec) { try $0.set("Release", .structure([.uint(UInt64(svc.rawValue)), .uint(UInt64(cid))])) }
    }

    func wait(_ ms: Int64, until: () -> Bool = { false }) { loop.run(until: until, timeoutMs: ms) }

    func errorCode(_ r: Result<QMIMessage, QMIError>) -> UInt16? {
        guard case .success(let m) = r else { return nil }
        return m.result?.error
    }
}
