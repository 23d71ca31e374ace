import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages

/// Quectel's quectel-qmi-proxy takes each read(2) of a client's socket as one QMUX frame and
/// drops a read whose length is not the frame's: a client must never let two frames meet in
/// the socket. The test plays the proxy on the far end of a socketpair, reading as it does.
final class ProxyFramingTests: XCTestCase {
    var fds: [Int32] = [-1, -1]
    let loop = EventLoop()

    override func setUp() {
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        _ = csys_set_nonblocking(fds[1])
    }

    override func tearDown() {
        if fds[1] >= 0 { close(fds[1]) }
    }

    func frame(_ tid: UInt8) -> [UInt8] {
        var m = QMIMessage.request(CTL.AllocateClientID.spec)
        m.transactionID = UInt16(tid)
        try? m.set("Service", .uint(UInt64(QMIService.wds.rawValue)))
        return m.encode()
    }

    /// One read as the proxy does it: up to 4096 bytes.
    func proxyRead() -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { read(fds[1], $0.baseAddress, $0.count) }
        return n > 0 ? Array(buf[0..<n]) : []
    }

    func testOneFramePerReadOfTheProxy() throws {
        let c = QMIChannel.adopting(fd: fds[0], name: "@quectel-qmi-proxy0")
        c.onePerRead = true
        c.start(on: loop) { _ in }
        defer { c.close() }
        for t: UInt8 in 1...3 { try c.send(frame(t)) }
        XCTAssertTrue(c.summary.hasSuffix("one frame per read"), c.summary)
        // Only the first frame is in the socket; the others wait for the proxy to read it.
        XCTAssertEqual(csys_unread_output(fds[0]) > 0, true)
        XCTAssertEqual(proxyRead(), frame(1))
        for t: UInt8 in 2...3 {
            XCTAssertTrue(loop.run(until: { csys_unread_output(self.fds[0]) > 0 }, timeoutMs: 1000), "frame \(t) written once the proxy read")
            XCTAssertEqual(proxyRead(), frame(t), "frame \(t) alone in its read")
        }
        XCTAssertFalse(c.hasPendingOutput)
    }

    /// Without pacing (cdc-wdm, libqmi's proxy) frames meet in the socket: what the proxy would
    /// drop — so the test above can fail.
    func testWithoutPacingFramesMeet() throws {
        let c = QMIChannel.adopting(fd: fds[0], name: "@qmi-proxy")
        c.start(on: loop) { _ in }
        defer { c.close() }
        for t: UInt8 in 1...3 { try c.send(frame(t)) }
        XCTAssertEqual(proxyRead(), frame(1) + frame(2) + frame(3))
    }

    /// Frames queued before the loop runs go out, one at a time, once it does; a channel
    /// closed while a frame waits leaves no timer behind.
    func testQueuedBeforeStartAndClosedWhileWaiting() throws {
        let c = QMIChannel.adopting(fd: fds[0], name: "@quectel-qmi-proxy0")
        c.onePerRead = true
        try c.send(frame(1))
        try c.send(frame(2))
        c.start(on: loop) { _ in }
        XCTAssertEqual(proxyRead(), frame(1))
        XCTAssertTrue(c.hasPendingOutput)
        c.close()
        XCTAssertEqual(loop.pendingTimers, 0, "the pacing timer went with the channel")
        XCTAssertEqual(proxyRead(), [], "nothing after close")
    }

    func testProxyNames() {
        XCTAssertEqual(QuectelProxy.qmi.socket(forDevice: "/dev/cdc-wdm0"), "@quectel-qmi-proxy0")
        XCTAssertEqual(QuectelProxy.atc.socket(forDevice: "/dev/ttyUSB2"), "@quectel-atc-proxy2")
        XCTAssertEqual(QuectelProxy.mbim.socket(forDevice: "/dev/cdc-wdm0"), "@quectel-mbim-proxy")
        XCTAssertThrowsError(try QMITransports.openQuectelProxy(device: "/dev/x/"))
        // A proxy slow to read is looked at again after 1, 2, 4 … 64 ms, not every millisecond.
        XCTAssertEqual([0, 1, 2, 32, 64].map { QuectelProxy.unreadPollMs(after: $0) }, [1, 2, 4, 64, 64])
    }
}
