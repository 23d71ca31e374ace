import Foundation
import XCTest
import Base
import CSystem
import ATCore
import ATMessages
@testable import QMISim

/// The AT simulator and ATCore's engine (the real client) on one event loop, talking over
/// the simulator's pty through its /dev/ttyUSB2 symlink.
final class ATRig {
    let loop = EventLoop()
    let sim: ATSimulator
    let dir: String
    let dev: String
    var engine: ATEngine?
    var reports: [String] = []
    var ignored: [String] = []
    var closed: ATError?
    var ups: [(cid: Int, address: UInt32, prefix: Int, gateway: UInt32, dns: [UInt32])] = []
    var downs: [Int] = []

    /// Quick by default: 2 ms per answer, the call up 50 ms after the command, the SIM
    /// usable 30 ms after the PIN.
    init(_ product: ATSimConfig.Product = .ec200u, engine: Bool = true, _ configure: (inout ATSimConfig) -> Void = { _ in }) throws {
        var c = ATSimConfig(product: product)
        c.latencyMs = 2
        c.callSetupMs = 50
        c.simInitMs = 30
        c.rebootMs = 200
        c.readyDelayMs = 20
        configure(&c)
        sim = ATSimulator(config: c, loop: loop)
        dir = NSTemporaryDirectory() + "atsim-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/dev", withIntermediateDirectories: true)
        dev = dir + "/dev/ttyUSB2"
        sim.onCallUp = { [unowned self] in self.ups.append(($0, $1, $2, $3, $4)) }
        sim.onCallDown = { [unowned self] in self.downs.append($0) }
        try sim.listen(devPath: dev)
        if engine { try connect() }
    }

    func connect() throws {
        engine?.onClose = nil
        engine?.close()
        closed = nil
        let e = ATEngine(channel: try ATChannel.open(dev), loop: loop)
        e.onUnsolicited = { [unowned self] _, line in self.reports.append(line) }
        e.onIgnored = { [unowned self] in self.ignored.append($0) }
        e.onClose = { [unowned self] in self.closed = $0 }
        engine = e
    }

    deinit {
        engine?.onClose = nil
        engine?.close()
        sim.onCallUp = nil
        sim.onCallDown = nil
        sim.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Sends a command line through the engine and runs the loop until its outcome.
    func send(_ line: String, as command: ATCommand? = nil, timeoutMs: Int64 = 2_000) -> Result<ATReply, ATError> {
        guard let e = engine else { return .failure(.closed) }
        let def = command ?? ATCatalogue.commands(for: line).first ?? ATCatalogue.attention
        var outcome: Result<ATReply, ATError>?
        e.send(def, line, timeoutMs: timeoutMs) { outcome = $0 }
        XCTAssertTrue(loop.run(until: { outcome != nil }, timeoutMs: timeoutMs + 3_000), "no outcome for \(line)")
        return outcome ?? .failure(.closed)
    }

    func send<C: ATTypedCommand>(_ c: C, timeoutMs: Int64 = 2_000) throws -> Result<ATReply, ATError> {
        send(try c.line(), as: C.definition, timeoutMs: timeoutMs)
    }

    /// The information lines of a command that must succeed.
    @discardableResult
    func ok(_ line: String, as command: ATCommand? = nil, file: StaticString = #filePath, line l: UInt = #line) -> [String] {
        switch send(line, as: command) {
        case .success(let r): return r.lines
        case .failure(let e):
            XCTFail("\(line): \(e.description)\n\(sim.transcript.text)", file: file, line: l)
            return []
        }
    }

    /// The final result of a command that must fail.
    func refused(_ line: String, as command: ATCommand? = nil, file: StaticString = #filePath, line l: UInt = #line) -> ATFinal? {
        switch send(line, as: command) {
        case .success(let r):
            XCTFail("\(line) succeeded: \(r.lines)", file: file, line: l)
            return nil
        case .failure(let e):
            guard case .refused(let f) = e else {
                XCTFail("\(line): \(e.description)", file: file, line: l)
                return nil
            }
            return f
        }
    }

    func wait(_ ms: Int64, until: () -> Bool = { false }) { loop.run(until: until, timeoutMs: ms) }

    /// Runs the loop until a report containing `text` came (or `ms` passed).
    @discardableResult
    func report(_ text: String, within ms: Int64 = 1_000) -> Bool {
        loop.run(until: { self.reports.contains { $0.contains(text) } }, timeoutMs: ms)
    }
}

/// The client side of the port without an engine: bytes as they come, for echo and framing.
final class RawPort {
    let fd: Int32
    var bytes: [UInt8] = []

    init(_ path: String) throws {
        fd = csys_open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0)
        guard fd >= 0, csys_tty_raw(fd) == 0 else { throw NSError(domain: "open \(path)", code: Int(errno)) }
    }

    deinit { _ = Foundation.close(fd) }

    func write(_ s: String) {
        let b = Array(s.utf8)
        _ = b.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
    }

    func drain() {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            bytes += buf[0..<n]
        }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Writes `s`, runs `loop` until what came back ends with `end` (2 s at most; nil: for
    /// `quietMs`), then `quietMs` more; returns what came and forgets it.
    func exchange(_ s: String, on loop: EventLoop, until end: String?, quietMs: Int64 = 100) -> String {
        bytes.removeAll()
        write(s)
        if let end { loop.run(until: { self.drain(); return self.text.hasSuffix(end) }, timeoutMs: 2_000) }
        loop.run(until: { self.drain(); return false }, timeoutMs: end == nil ? quietMs : min(quietMs, 10))
        defer { bytes.removeAll() }
        return text
    }
}
