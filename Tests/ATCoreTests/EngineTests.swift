import Foundation
import XCTest
import Base
import CSystem
import ATCore

/// A pseudo-terminal standing in for the module's AT port: the engine opens the slave as it
/// opens /dev/ttyUSB2; the test writes the module's side on the master.
final class PTY {
    let master: Int32
    let slavePath: String
    var received: [String] = []
    private var partial: [UInt8] = []

    init() throws {
        var name = [CChar](repeating: 0, count: 128)
        master = csys_open_pty(&name, name.count)
        guard master >= 0 else { throw NSError(domain: "pty", code: Int(errno)) }
        slavePath = String(cString: name)
    }

    deinit { close() }

    func close() { if master >= 0 { _ = Foundation.close(master) } }

    /// What the module sends: all of it, running `loop` while the pty's buffer is full.
    func write(_ s: String, loop: EventLoop? = nil) {
        var b = Array(s.utf8)[...]
        while !b.isEmpty {
            let n = b.withUnsafeBytes { Foundation.write(master, $0.baseAddress, $0.count) }
            if n > 0 { b = b.dropFirst(n) } else { _ = loop?.run(until: { false }, timeoutMs: 5) }
        }
    }

    /// The command lines written to the module so far (each ended by CR).
    func readCommands() -> [String] {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            for b in buf[0..<n] {
                if b == 13 { received.append(String(decoding: partial, as: UTF8.self)); partial = [] } else { partial.append(b) }
            }
        }
        return received
    }
}

final class EngineTests: XCTestCase {
    var loop: EventLoop!
    var pty: PTY!
    var engine: ATEngine!
    var trace: [String] = []
    var unsolicited: [String] = []
    var ignored: [String] = []
    var closed: ATError?

    override func setUpWithError() throws {
        loop = EventLoop()
        pty = try PTY()
        engine = ATEngine(channel: try ATChannel.open(pty.slavePath), loop: loop)
        engine.onTrace = { line, sent in self.trace.append((sent ? "AT> " : "AT< ") + line) }
        engine.onUnsolicited = { u, line in self.unsolicited.append(u.name + " " + line) }
        engine.onIgnored = { self.ignored.append($0) }
        engine.onClose = { self.closed = $0 }
    }

    override func tearDown() {
        engine?.close()
        pty = nil
    }

    /// Sends `line` and runs the loop until it completes, the module answering with `answer`
    /// once the command arrived (nil: no answer).
    func run(_ command: ATCommand, _ line: String, timeoutMs: Int64 = 2_000, answer: String?) -> Result<ATReply, ATError>? {
        var result: Result<ATReply, ATError>?
        let before = pty.received.count
        engine.send(command, line, timeoutMs: timeoutMs) { result = $0 }
        _ = loop.run(until: { self.pty.readCommands().count > before }, timeoutMs: 2_000)
        if let a = answer { pty.write(a) }
        _ = loop.run(until: { result != nil }, timeoutMs: timeoutMs + 1_000)
        return result
    }

    func testAnswerLinesAndTheTraceWithSecretsMasked() throws {
        let r = run(ATCatalogue.profile, "AT+QICSGP=1", answer: "\r\n+QICSGP: 1,\"cmnet\",\"u\",\"pw\",2\r\n\r\nOK\r\n")
        let reply = try XCTUnwrap(try r?.get())
        XCTAssertEqual(reply.lines, ["+QICSGP: 1,\"cmnet\",\"u\",\"pw\",2"])
        XCTAssertEqual(trace, ["AT> AT+QICSGP=1", "AT< +QICSGP: 1,\"cmnet\",\"u\",\"****\",2", "AT< OK"])
        _ = run(ATCatalogue.enterPin, "AT+CPIN=\"1234\"", answer: "\r\nOK\r\n")
        XCTAssertTrue(trace.contains("AT> AT+CPIN=\"****\""), "\(trace)")
        XCTAssertFalse(trace.joined().contains("1234"))
    }

    func testErrorsByName() {
        guard case .failure(.refused(.cme(127)))? = run(ATCatalogue.dataCall, "AT+QNETDEVCTL=1,1,1", answer: "\r\n+CME ERROR: 127\r\n") else {
            return XCTFail("+CME ERROR not reported")
        }
        guard case .failure(.refused(.notSupported))? = run(ATCatalogue.echo, "ATE0", answer: "\r\nCOMMAND NOT SUPPORT\r\n") else {
            return XCTFail("UNISOC's refusal not reported")
        }
    }

    /// Echo on: the command comes back first; a report arrives in the middle of an answer,
    /// with the answer's own prefix; lines come in pieces.
    func testEchoReportsInTheMiddleAndLinesInPieces() throws {
        var result: Result<ATReply, ATError>?
        engine.send(ATCatalogue.dataStatus, "AT+QNETDEVSTATUS=1", timeoutMs: 2_000) { result = $0 }
        _ = loop.run(until: { !self.pty.readCommands().isEmpty }, timeoutMs: 2_000)
        for piece in ["AT+QNETDEVSTATUS=1\r", "\r\n+QNETDEV", "STATUS:1,1,\"IPV4\"\r\n", "\r\n+QNETDEVSTATUS: 4F10190A,E0FF", "FFFF,4110190A,4110190A,02B48AD3,03B48AD3\r\n",
                      "+CEREG: 1,\"DE10\",\"5A29C0B\",7\r\n", "\r\nOK\r\n"] {
            pty.write(piece)
            _ = loop.run(until: { false }, timeoutMs: 20)
        }
        _ = loop.run(until: { result != nil }, timeoutMs: 2_000)
        let reply = try XCTUnwrap(try result?.get())
        XCTAssertEqual(reply.lines, ["+QNETDEVSTATUS: 4F10190A,E0FFFFFF,4110190A,4110190A,02B48AD3,03B48AD3"])
        XCTAssertEqual(unsolicited, ["DataCallChanged +QNETDEVSTATUS:1,1,\"IPV4\"", "EPSRegistration +CEREG: 1,\"DE10\",\"5A29C0B\",7"])
        XCTAssertTrue(engine.echoing)
        XCTAssertTrue(ignored.isEmpty, "\(ignored)")
    }

    /// Garbage, NULs, a 64 KB line: each said once, and the port goes on working.
    func testGarbageSurvived() throws {
        pty.write("\u{0}\u{0}\u{7}RDY\r\n", loop: loop)
        pty.write(String(repeating: "x", count: 65536), loop: loop)
        pty.write("\r\n#$%garbage\r\n", loop: loop)
        _ = loop.run(until: { self.ignored.count >= 3 }, timeoutMs: 2_000)
        XCTAssertEqual(unsolicited, ["ModuleReady RDY"])
        guard ignored.count == 3 else { return XCTFail("\(ignored)") }
        XCTAssertTrue(ignored[0].contains("3 control byte"), ignored[0])
        XCTAssertTrue(ignored[1].contains("longer than 4096"), ignored[1])
        XCTAssertTrue(ignored[2].contains("#$%garbage"), ignored[2])
        let r = run(ATCatalogue.imsi, "AT+CIMI", answer: "\r\n460028563800461\r\n\r\nOK\r\n")
        XCTAssertEqual(try XCTUnwrap(try r?.get()).lines, ["460028563800461"])
    }

    /// One command at a time: the second is written only after the first's final result.
    func testOneCommandInFlight() {
        var first: Result<ATReply, ATError>?, second: Result<ATReply, ATError>?
        engine.send(ATCatalogue.attention, "AT", timeoutMs: 2_000) { first = $0 }
        engine.send(ATCatalogue.imsi, "AT+CIMI", timeoutMs: 2_000) { second = $0 }
        _ = loop.run(until: { false }, timeoutMs: 100)
        XCTAssertEqual(pty.readCommands(), ["AT"])
        pty.write("\r\nOK\r\n")
        _ = loop.run(until: { self.pty.readCommands().count == 2 }, timeoutMs: 2_000)
        XCTAssertEqual(pty.readCommands(), ["AT", "AT+CIMI"])
        XCTAssertNotNil(first)
        XCTAssertNil(second)
    }

    /// A command that times out: its late answer does not end the next command.
    func testLateAnswerAfterATimeout() throws {
        guard case .failure(.timeout)? = run(ATCatalogue.signalQuality, "AT+CSQ", timeoutMs: 200, answer: nil) else {
            return XCTFail("no timeout")
        }
        pty.write("\r\n+CSQ: 20,99\r\n\r\nOK\r\n")           // the late answer
        var result: Result<ATReply, ATError>?
        engine.send(ATCatalogue.imsi, "AT+CIMI", timeoutMs: 2_000) { result = $0 }
        // The engine synchronises first: AT, answered, then a quiet moment.
        _ = loop.run(until: { self.pty.readCommands().last == "AT" }, timeoutMs: 2_000)
        pty.write("\r\nOK\r\n")
        _ = loop.run(until: { self.pty.readCommands().last == "AT+CIMI" }, timeoutMs: 2_000)
        XCTAssertNil(result, "nothing answered AT+CIMI yet")
        pty.write("\r\n460028563800461\r\n\r\nOK\r\n")
        _ = loop.run(until: { result != nil }, timeoutMs: 2_000)
        XCTAssertEqual(try XCTUnwrap(try result?.get()).lines, ["460028563800461"])
        XCTAssertEqual(pty.readCommands(), ["AT+CSQ", "AT", "AT+CIMI"])
    }

    /// The module resets: the port hangs up, the waiting command fails, the engine says so.
    func testHangUp() {
        var result: Result<ATReply, ATError>?
        engine.send(ATCatalogue.imsi, "AT+CIMI", timeoutMs: 5_000) { result = $0 }
        _ = loop.run(until: { !self.pty.readCommands().isEmpty }, timeoutMs: 2_000)
        pty.close()
        _ = loop.run(until: { result != nil && self.closed != nil }, timeoutMs: 2_000)
        guard case .failure(.deviceGone)? = result, case .deviceGone? = closed else {
            return XCTFail("hang-up not reported: \(String(describing: result)) \(String(describing: closed))")
        }
    }

    func testNotASerialPort() throws {
        let file = NSTemporaryDirectory() + "qcm-at-\(getpid())"
        FileManager.default.createFile(atPath: file, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: file) }
        for (path, words) in [(file, "not a serial port"), ("/dev/null", "not a terminal")] {
            XCTAssertThrowsError(try ATChannel.open(path)) { e in
                XCTAssertTrue((e as? ATError)?.description.contains(words) == true, "\(e)")
            }
        }
    }
}

/// quectel-atc-proxy takes each read(2) of a client's socket as one command line and appends
/// the CR itself: through it a line goes without CR, alone in its read; answers come back as
/// `line CR LF`.
final class ATProxyFramingTests: XCTestCase {
    func testCommandLinesWithoutCROneToARead() throws {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { Foundation.close(fds[1]) }
        _ = csys_set_nonblocking(fds[0])
        _ = csys_set_nonblocking(fds[1])
        let loop = EventLoop()
        let channel = ATChannel.adoptingProxySocket(fd: fds[0], name: "@quectel-atc-proxy2")
        let engine = ATEngine(channel: channel, loop: loop)
        defer { engine.close() }
        func proxyRead() -> String {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { read(fds[1], $0.baseAddress, $0.count) }
            return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
        }
        func answer(_ s: String) { _ = s.utf8CString.withUnsafeBufferPointer { write(fds[1], $0.baseAddress, $0.count - 1) } }
        var results: [String] = []
        engine.send(ATCatalogue.attention, "AT", timeoutMs: 2000) { r in results.append((try? r.get())?.lines.joined() ?? "failed") }
        engine.send(ATCatalogue.signalQuality, "AT+CSQ", timeoutMs: 2000) { r in results.append((try? r.get())?.lines.joined() ?? "failed") }
        XCTAssertEqual(proxyRead(), "AT", "no CR: the proxy adds it")
        answer("OK\r\n")
        XCTAssertTrue(loop.run(until: { csys_unread_output(fds[0]) > 0 }, timeoutMs: 1000))
        XCTAssertEqual(proxyRead(), "AT+CSQ", "the next line alone in its read")
        answer("+CSQ: 20,99\r\nOK\r\n")
        XCTAssertTrue(loop.run(until: { results.count == 2 }, timeoutMs: 1000))
        XCTAssertEqual(results, ["", "+CSQ: 20,99"])
    }
}
