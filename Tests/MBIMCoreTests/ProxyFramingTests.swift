import Foundation
import XCTest
import Base
import CSystem
@testable import MBIMCore

/// quectel-mbim-proxy forwards each read(2) of a client's socket to the modem as one message,
/// its transaction id tagged with the client's slot: two messages read together would reach
/// the modem as one, the second untagged. The test reads as the proxy does.
final class MBIMProxyFramingTests: XCTestCase {
    func testOneMessagePerReadAndTwentyFourBitTransactionIDs() throws {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[1]) }
        _ = csys_set_nonblocking(fds[0])
        _ = csys_set_nonblocking(fds[1])
        let loop = EventLoop()
        let channel = MBIMChannel(path: "@quectel-mbim-proxy", fd: fds[0], isSocket: true)
        channel.onePerRead = true
        let engine = MBIMEngine(channel: channel, loop: loop)
        defer { engine.close() }
        func proxyRead() -> [UInt8] {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { read(fds[1], $0.baseAddress, $0.count) }
            return n > 0 ? Array(buf[0..<n]) : []
        }
        // Four requests at once, as the MBIM session asks its facts.
        for cid: UInt32 in 1...4 { engine.send(.command(.basicConnect, cid, set: false, []), timeoutMs: 5000) { _ in } }
        var tids: [UInt32] = []
        for i in 0..<4 {
            if i > 0 { XCTAssertTrue(loop.run(until: { csys_unread_output(fds[0]) > 0 }, timeoutMs: 1000)) }
            let bytes = proxyRead()
            let r = Reader(bytes)
            XCTAssertEqual(Int(r.u32(4)), bytes.count, "message \(i + 1) alone in its read")
            XCTAssertEqual(r.u32(0), 3, "a COMMAND")
            tids.append(r.u32(8))
        }
        XCTAssertEqual(tids, [1, 2, 3, 4])
        XCTAssertTrue(tids.allSatisfy { $0 <= 0xff_ffff }, "room for the proxy's slot in the top byte")
    }

    /// The engine's transaction ids wrap before they reach the top byte.
    func testTransactionIDsWrapWithin24Bits() {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[1]) }
        let loop = EventLoop()
        let engine = MBIMEngine(channel: MBIMChannel(path: "x", fd: fds[0], isSocket: true), loop: loop)
        defer { engine.close() }
        engine.setNextTransactionID(0xff_ffff)
        var seen: [UInt32] = []
        engine.onFrame = { bytes, _, sent in if sent { seen.append(Reader(bytes).u32(8)) } }
        for _ in 0..<2 { engine.send(.command(.basicConnect, 1, set: false, []), timeoutMs: 5000) { _ in } }
        XCTAssertEqual(seen, [0xff_ffff, 1])
    }
}
