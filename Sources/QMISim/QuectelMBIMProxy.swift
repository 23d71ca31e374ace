import Foundation
import Base
import CSystem
import MBIMCore

/// quectel-CM 1.6.8's quectel-mbim-proxy in front of the simulated MBIM modem, behaving as
/// the program does (matrix-facts §3.3, read from its source):
///
/// - It opens the device (an in-process client of the simulator) and sends MBIM OPEN itself
///   (transaction 1, MaxControlTransfer 4096); its abstract socket `@quectel-mbim-proxy` (one
///   name, whatever the device) listens once OPEN_DONE came with status 0.
/// - Up to 32 clients, each in a slot; a client's index is its slot + 1.
/// - Each read(2) of a client's socket (4096 bytes at most) is one message, unchecked: OPEN
///   and CLOSE are answered by the proxy (a 16-byte *_DONE, the same transaction id, status
///   0) and never reach the modem; anything else goes to the modem in one write with the
///   client's index ORed into the top byte of its transaction id.
/// - From the modem: transaction id 0 (indications) goes to every client; any other to the
///   client whose index is its top byte, with the top byte cleared; none: dropped.
/// - A client that hangs up is forgotten; nothing is sent to the modem for it (its sessions
///   stay up). A read of 0 bytes without a hang-up ends the proxy's loop: every client is
///   dropped and the proxy opens the device again (OPEN), as the program restarts it.
///
/// Runs on the simulator's loop, under its lock. Public members are thread-safe.
public final class QuectelMBIMProxy {
    unowned let sim: MBIMSimulator
    public let name = "@quectel-mbim-proxy"
    var device: MBIMSimulator.LocalClient?
    var server: Int32 = -1
    var serverWatch = 0
    var listening = false

    final class Slot {
        let index: UInt32
        var fd: Int32
        var watch = 0
        var output: [UInt8] = []
        init(index: UInt32, fd: Int32) {
            self.index = index
            self.fd = fd
        }
    }

    var slots: [Slot?] = Array(repeating: nil, count: 32)
    var forwarded: [(index: UInt32, tid: UInt32)] = []
    var answeredLocally: [UInt32] = []
    var unclaimed = 0
    var restarts = 0
    var log: [String] = []
    /// Every read from a client, as it came (qmi-sim's transcript).
    public var onClientInput: ((_ client: Int, _ bytes: [UInt8]) -> Void)?

    init(sim: MBIMSimulator) throws {
        self.sim = sim
        server = csys_unix_stream_socket()
        guard server >= 0 else { throw MBIMError.system(operation: "socket for \(name)", errno: csys_errno()) }
    }

    func note(_ s: String) {
        log.append(s)
        sim.log("quectel-mbim-proxy: " + s)
    }

    func start() {
        let d = sim.connectLocal()
        d.received = { [unowned self] bytes in self.fromDevice(bytes) }
        device = d
        // MBIM_OPEN, transaction 1, MaxControlTransfer 4096.
        d.send([1, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0x10, 0, 0])
    }

    func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    func put(_ v: UInt32, _ b: inout [UInt8], _ at: Int) {
        for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
    }

    func fromDevice(_ bytes: [UInt8]) {
        guard bytes.count >= 12 else { return }
        if !listening {
            guard u32(bytes, 0) == 0x8000_0001 else { return }
            let status = bytes.count >= 16 ? u32(bytes, 12) : 1
            note("receive MBIM_OPEN_DONE, status=\(status)")
            guard status == 0 else { return }
            guard server >= 0, csys_unix_bind_listen(server, name, 4) == 0 else { return note("bind failed: errno \(csys_errno())") }
            listening = true
            serverWatch = sim.loop.watch(server) { [unowned self] _ in self.sim.locked { self.accept() } }
            return
        }
        let tid = u32(bytes, 8)
        if tid == 0 {
            for case let s? in slots { write(bytes, to: s) }
            return
        }
        guard let s = slots.compactMap({ $0 }).first(where: { $0.index == tid >> 24 }) else {
            unclaimed += 1
            return note("nobody care tid=\(tid)")
        }
        var out = bytes
        put(tid & 0xff_ffff, &out, 8)
        write(out, to: s)
    }

    func accept() {
        while true {
            let fd = csys_accept(server)
            if fd < 0 { return }
            guard let i = slots.firstIndex(where: { $0 == nil }) else {
                _ = close(fd)
                note("no free slot: connection closed")
                continue
            }
            let s = Slot(index: UInt32(i + 1), fd: fd)
            s.watch = sim.loop.watch(fd) { [unowned self, unowned s] ev in self.sim.locked { self.event(s, ev) } }
            slots[i] = s
            note("client_fd=\(fd), client_idx=\(s.index)")
        }
    }

    func event(_ s: Slot, _ ev: Int16) {
        guard s.fd >= 0 else { return }
        if ev & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return disconnect(s) }
        if ev & Int16(POLLOUT) != 0 { flush(s) }
        guard ev & Int16(POLLIN) != 0 else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { read(s.fd, $0.baseAddress, $0.count) }
        if n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR) { return }
        guard n > 0 else { return restart("read fd=\(s.fd), len=\(n)") }
        var bytes = Array(buf[0..<n])
        onClientInput?(Int(s.index), bytes)
        guard n >= 12 else { device?.send(bytes); return }      // forwarded as it is, untagged
        let type = u32(bytes, 0), tid = u32(bytes, 8)
        if type == 1 || type == 2 {
            answeredLocally.append(type)
            var done = [UInt8](repeating: 0, count: 16)
            put(type | 0x8000_0000, &done, 0)
            put(16, &done, 4)
            put(tid, &done, 8)
            return write(done, to: s)
        }
        put(tid | s.index << 24, &bytes, 8)
        forwarded.append((s.index, tid))
        device?.send(bytes)
    }

    func write(_ bytes: [UInt8], to s: Slot) {
        guard s.fd >= 0 else { return }
        s.output += bytes
        flush(s)
    }

    func flush(_ s: Slot) {
        guard s.fd >= 0 else { return }
        guard Files.sendPending(s.fd, &s.output) else { return disconnect(s) }
        sim.loop.setEvents(s.watch, Int16(POLLIN) | (s.output.isEmpty ? 0 : Int16(POLLOUT)))
    }

    func disconnect(_ s: Slot) {
        guard s.fd >= 0 else { return }
        note("handle_client_disconnect client_idx=\(s.index)")
        sim.loop.unwatch(s.watch)
        _ = close(s.fd)
        s.fd = -1
        slots[Int(s.index) - 1] = nil
    }

    /// The proxy's loop ends: every client dropped, the device opened again. (The program
    /// also closes its socket and makes a new one; the simulated proxy keeps its socket, so
    /// it stays in the namespace it was made in, and stops taking clients until OPEN_DONE.)
    func restart(_ why: String) {
        note("\(why): proxy_loop exit")
        restarts += 1
        for case let s? in slots { disconnect(s) }
        if listening { sim.loop.unwatch(serverWatch) }
        listening = false
        device?.close()
        start()
    }

    func stop() {
        for case let s? in slots { disconnect(s) }
        if listening { sim.loop.unwatch(serverWatch) }
        listening = false
        if server >= 0 { _ = close(server) }
        server = -1
        device?.close()
        device = nil
    }

    // MARK: for tests

    public var isListening: Bool { sim.locked { listening } }
    /// Requests handed to the modem: the client's index and its own transaction id.
    public var forwardedRequests: [(index: UInt32, tid: UInt32)] { sim.locked { forwarded } }
    /// OPEN (1) and CLOSE (2) the proxy answered itself.
    public var answeredItself: [UInt32] { sim.locked { answeredLocally } }
    public var unclaimedAnswers: Int { sim.locked { unclaimed } }
    public var clientCount: Int { sim.locked { slots.compactMap { $0 }.count } }
    public var lines: [String] { sim.locked { log } }
}

extension MBIMSimulator {
    /// quectel-mbim-proxy in front of this modem (`@quectel-mbim-proxy`): its socket is made in
    /// the calling thread's network namespace; it listens once the modem answered its OPEN.
    /// Stopped with the simulator.
    @discardableResult
    public func serveQuectelProxy() throws -> QuectelMBIMProxy {
        try locked {
            let p = try QuectelMBIMProxy(sim: self)
            quectelProxies.append(p)
            p.start()
            return p
        }
    }
}
