import Foundation
import Base
import CSystem
import QMICore

/// quectel-CM 1.6.8's quectel-qmi-proxy in front of the simulated modem, behaving as the
/// program does (matrix-facts §3.1, read from its source):
///
/// - It opens the device (an in-process channel of the simulator, the modem's view of one
///   more cdc-wdm client) and sends CTL Sync, transaction ids 1, 2 … once a second, until any
///   frame comes back; only then does its abstract socket `@quectel-qmi-proxyN` listen (N the
///   device name's last character). The Sync drops every client id on the modem.
/// - No handshake and no header: each read(2) of a client's socket (4096 bytes at most) must
///   be exactly one QMUX frame, its QMUX length plus one; any other read is dropped.
/// - CTL Sync from a client is refused (dropped, logged). Other CTL requests are queued and go
///   to the modem one at a time; a CTL answer belongs to the request at the head of the queue
///   (same transaction id and message) and goes to its client, else it is dropped and the head
///   with it. CTL indications reach no client.
/// - Other frames go to the modem as they are. What the modem sends on a service goes to every
///   client holding that service's client id, or holding the service at all when the frame's
///   client id is 0.
/// - Client ids are learnt from Allocate Client ID answers (result 0) passing through and
///   forgotten with Release Client ID answers. When a client goes (hang-up, error, a read of
///   0 bytes) the proxy releases what it still holds itself: a Release Client ID of its own
///   (transaction id 255) for each, queued with the CTL requests — then it drops the first
///   CTL request of that client still queued (even the one being answered).
///
/// Runs on the simulator's loop, under its lock. Public members are thread-safe.
public final class QuectelQMIProxy {
    unowned let sim: QMISimulator
    /// The abstract socket, `@quectel-qmi-proxyN`.
    public let name: String
    var device: QMISimulator.LocalClient?
    var server: Int32 = -1
    var serverWatch = 0
    public private(set) var listening = false
    var syncTimer: Int?
    var syncTID: UInt8 = 0

    final class Client {
        let id: Int
        var fd: Int32
        var watch = 0
        var output: [UInt8] = []
        /// (service, client id) learnt from the answers it got.
        var ids: [(service: UInt8, cid: UInt8)] = []
        init(id: Int, fd: Int32) {
            self.id = id
            self.fd = fd
        }
    }

    var clients: [Client] = []
    var nextClient = 1
    /// CTL requests: the client's (nil: the proxy's own release) and the frame.
    var ctlQueue: [(from: Client?, frame: [UInt8])] = []

    // What it did, for tests.
    var dropped = 0
    var refusedSyncs = 0
    var ownReleases: [(service: UInt8, cid: UInt8)] = []
    var mismatches = 0
    var log: [String] = []
    /// Every read from a client, as it came (qmi-sim's transcript).
    public var onClientInput: ((_ client: Int, _ bytes: [UInt8]) -> Void)?

    static let readSize = 4096
    /// The proxy's own Release Client ID.
    static let ownTID: UInt8 = 255

    /// Serves `device` (what N is taken from). The socket is made here, in the calling
    /// thread's network namespace; it listens once the modem answered a Sync.
    init(sim: QMISimulator, device: String) throws {
        self.sim = sim
        guard let n = QuectelProxy.qmi.socket(forDevice: device) else { throw QMIError.invalidArgument("no proxy name for \(device)") }
        name = n
        server = csys_unix_stream_socket()
        guard server >= 0 else { throw QMIError.system(operation: "socket for \(n)", errno: csys_errno()) }
    }

    func note(_ s: String) {
        log.append(s)
        sim.log("quectel-qmi-proxy: " + s)
    }

    // MARK: the device

    func start() {
        let d = sim.connectLocal()
        d.received = { [unowned self] frame in self.fromDevice(frame) }
        d.closed = { [unowned self] in self.deviceLost() }
        device = d
        note("Will use cdc-wdm, proxy='\(name.dropFirst())'")
        sendSync()
    }

    /// CTL Sync with transaction id 1, 2 … every second (60 at most) until the modem answers.
    func sendSync() {
        guard !listening, syncTID < 60, let d = device else { return }
        syncTID += 1
        d.send([0x01, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, syncTID, 0x27, 0x00, 0x00, 0x00])
        syncTimer = sim.loop.after(1000) { [weak self] in self?.sim.locked { self?.sendSync() } }
    }

    func listen() {
        if let t = syncTimer { sim.loop.cancel(t) }
        syncTimer = nil
        guard csys_unix_bind_listen(server, name, 1) == 0 else {
            return note("bind \(name) errno: \(csys_errno())")
        }
        listening = true
        serverWatch = sim.loop.watch(server) { [unowned self] _ in self.sim.locked { self.accept() } }
        note("local server: \(name.dropFirst())")
    }

    /// The modem closed the channel (the device went away): every client goes. (The real
    /// proxy also closes its socket and opens the device again 3 s later; not simulated.)
    func deviceLost() {
        device = nil
        note("device gone: closing every client")
        for c in clients { drop(c, release: false) }
        ctlQueue.removeAll()
    }

    func toDevice(_ frame: [UInt8]) { device?.send(frame) }

    func fromDevice(_ f: [UInt8]) {
        guard f.count >= 6 else { return }
        if !listening { return listen() }                      // any frame: the Sync worked
        let service = f[4], cid = f[5]
        guard service == 0 else {
            for c in clients {
                for id in c.ids where id.service == service && (cid == 0 || cid == id.cid) { write(f, to: c) }
            }
            return
        }
        guard f.count >= 10, f[6] == 0x01 else { return }       // CTL indications reach no one
        guard let head = ctlQueue.first else { return }
        let h = head.frame
        if h.count < 10 || h[7] != f[7] || h[8] != f[8] || h[9] != f[9] {
            mismatches += 1
            note("ERROR: ctl rsp tid:\(f[7]), type:\(UInt16(f[8]) | UInt16(f[9]) << 8) - ctl req \(h.count > 9 ? h[7] : 0)")
        } else if let c = head.from {
            if clients.contains(where: { $0 === c }) {
                write(f, to: c)
                let type = UInt16(f[8]) | UInt16(f[9]) << 8
                // Fixed offsets, as the proxy reads them: result TLV, then {service, client id}.
                if f.count >= 24, f[15] == 0, f[16] == 0, f[17] == 0, f[18] == 0 {
                    if type == 0x0022 {
                        c.ids.append((f[22], f[23]))
                        note("+++ client \(c.id) QMIType=\(f[22]) ClientId=\(f[23])")
                    } else if type == 0x0023, let i = c.ids.firstIndex(where: { $0.service == f[22] && $0.cid == f[23] }) {
                        c.ids.remove(at: i)
                        note("--- client \(c.id) QMIType=\(f[22]) ClientId=\(f[23])")
                    }
                }
            }
        } else if f.count >= 24 {
            note("--- proxy QMIType=\(f[22]) ClientId=\(f[23])")
        }
        ctlQueue.removeFirst()
        if let next = ctlQueue.first { toDevice(next.frame) }
    }

    // MARK: clients

    func accept() {
        while true {
            let fd = csys_accept(server)
            if fd < 0 { return }
            let c = Client(id: nextClient, fd: fd)
            nextClient += 1
            c.watch = sim.loop.watch(fd) { [unowned self, unowned c] ev in self.sim.locked { self.event(c, ev) } }
            clients.append(c)
            note("+++ client \(c.id)")
        }
    }

    func event(_ c: Client, _ ev: Int16) {
        guard c.fd >= 0 else { return }
        // A hang-up is seen before what came with it, as the proxy checks revents.
        if ev & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return drop(c, release: true) }
        if ev & Int16(POLLOUT) != 0 { flush(c) }
        guard ev & Int16(POLLIN) != 0 else { return }
        var buf = [UInt8](repeating: 0, count: QuectelQMIProxy.readSize)
        let n = buf.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
        if n < 0 && (csys_errno() == EAGAIN || csys_errno() == EINTR) { return }
        guard n > 0 else { return drop(c, release: true) }
        let bytes = Array(buf[0..<n])
        onClientInput?(c.id, bytes)
        guard n >= 3, n == Int(UInt16(bytes[1]) | UInt16(bytes[2]) << 8) + 1 else {
            dropped += 1
            return note("client \(c.id): nreads=\(n), QMIHdr.Length = \(n >= 3 ? Int(UInt16(bytes[1]) | UInt16(bytes[2]) << 8) : -1): dropped")
        }
        guard n >= 6, bytes[4] == 0 else { return toDevice(bytes) }
        if n >= 10, bytes[8] == 0x27, bytes[9] == 0 {
            refusedSyncs += 1
            return note("do not allow client send QMICTL_SYNC_REQ")
        }
        if ctlQueue.isEmpty { toDevice(bytes) }
        ctlQueue.append((c, bytes))
    }

    func write(_ bytes: [UInt8], to c: Client) {
        guard c.fd >= 0 else { return }
        c.output += bytes
        flush(c)
    }

    func flush(_ c: Client) {
        guard c.fd >= 0 else { return }
        guard Files.sendPending(c.fd, &c.output) else { return drop(c, release: true) }
        sim.loop.setEvents(c.watch, Int16(POLLIN) | (c.output.isEmpty ? 0 : Int16(POLLOUT)))
    }

    /// A client is gone: its ids released by the proxy (`release`), the first of its queued
    /// CTL requests dropped, its socket closed.
    func drop(_ c: Client, release: Bool) {
        guard c.fd >= 0 else { return }
        if release && device != nil {
            for id in c.ids {
                note("xxx client \(c.id) QMIType=\(id.service) ClientId=\(id.cid)")
                ownReleases.append(id)
                let frame: [UInt8] = [0x01, 0x10, 0x00, 0x00, 0x00, 0x00,
                                      0x00, QuectelQMIProxy.ownTID, 0x23, 0x00, 0x05, 0x00, 0x01, 0x02, 0x00, id.service, id.cid]
                if ctlQueue.isEmpty { toDevice(frame) }
                ctlQueue.append((nil, frame))
            }
        }
        c.ids.removeAll()
        if let i = ctlQueue.firstIndex(where: { $0.from === c }) { ctlQueue.remove(at: i) }
        sim.loop.unwatch(c.watch)
        _ = close(c.fd)
        c.fd = -1
        clients.removeAll { $0 === c }
        note("--- client \(c.id)")
    }

    func stop() {
        if let t = syncTimer { sim.loop.cancel(t) }
        syncTimer = nil
        for c in clients { drop(c, release: false) }
        if listening { sim.loop.unwatch(serverWatch) }
        if server >= 0 { _ = close(server) }
        server = -1
        listening = false
        device?.close()
        device = nil
    }

    // MARK: for tests

    /// Client ids the proxy holds for its clients now.
    public var heldIDs: [(service: UInt8, cid: UInt8)] { sim.locked { clients.flatMap { $0.ids } } }
    /// Release Client IDs the proxy sent on its own, for clients that went.
    public var releasedForVanished: [(service: UInt8, cid: UInt8)] { sim.locked { ownReleases } }
    /// Client reads dropped for not being exactly one frame.
    public var droppedReads: Int { sim.locked { dropped } }
    public var refusedClientSyncs: Int { sim.locked { refusedSyncs } }
    public var clientCount: Int { sim.locked { clients.count } }
    public var isListening: Bool { sim.locked { listening } }
    public var lines: [String] { sim.locked { log } }
}

extension QMISimulator {
    /// quectel-qmi-proxy in front of this modem for `device` (`@quectel-qmi-proxyN`, N its
    /// last character): its socket is made in the calling thread's network namespace, and it
    /// listens once the modem answered its Sync. Stopped with the simulator.
    @discardableResult
    public func serveQuectelProxy(device: String) throws -> QuectelQMIProxy {
        try locked {
            let p = try QuectelQMIProxy(sim: self, device: device)
            quectelProxies.append(p)
            p.start()
            return p
        }
    }
}
