import Base
import CSystem

/// Quectel GobiNet's QMI channel, `/dev/qcqmiN` (GobiNet V1.6.x, QMIDevice.c):
///
/// - every QMI service gets its own open file: `ioctl(fd, 0x8BE1, service)`
///   (IOCTL_QMI_GET_SERVICE_FILE, the service number passed by value) has the driver
///   allocate a client id for it and bind it to the file; the id is never returned. Closing
///   the file releases it — also when qcm is killed;
/// - `write()` takes and `read()` returns one QMI service message *without* the 6-byte QMUX
///   header (control flags, transaction id, message id, length, TLVs); the driver adds and
///   strips the header from the file's binding. One message per read; a buffer too small
///   loses the message (EOVERFLOW); the largest is 4090 bytes;
/// - CTL is the driver's: no CTL client ids, no Sync, no CTL indications for user space.
///
/// The engine keeps seeing QMUX frames: CTL Allocate / Release Client ID requests are
/// answered here from service files (read and answered through the catalogue's definitions
/// of the two messages), outgoing frames lose their header and incoming messages get one
/// rebuilt (as quectel-CM does). The client id in that header, and in the -v trace, is qcm's
/// own number for the service file.
public final class GobiNetChannel: QMITransport {
    struct ServiceFile {
        let service: UInt8
        let clientID: UInt8
        let fd: Int32
        var watch: Int
    }

    public let path: String
    var files: [ServiceFile] = []
    var loop: EventLoop?
    var deliver: ((TransportEvent) -> Void)?
    var nextClientID = SmallMap<UInt8, UInt8>()
    var closed = false
    /// The longest the driver may take to get a client id from the modem.
    public var allocationTimeoutMs: Int32 = 10_000

    init(path: String) { self.path = path }

    deinit { close() }

    public var summary: String { "GobiNet service files" }
    public var driverOwnsCTL: Bool { true }

    /// Checks that `path` exists; service files are opened as clients are allocated.
    public static func open(_ path: String) throws(QMIError) -> GobiNetChannel {
        switch csys_file_kind(path) {
        case Int32(CSYS_NONE): throw .system(operation: "open \(path)", errno: csys_errno())
        case Int32(CSYS_DIR): throw .invalidArgument("\(path) is a directory, not a GobiNet qcqmi device")
        default: return GobiNetChannel(path: path)
        }
    }

    public func start(on loop: EventLoop, deliver: @escaping (TransportEvent) -> Void) {
        self.loop = loop
        self.deliver = deliver
    }

    public func close() {
        for f in files {
            loop?.unwatch(f.watch)
            _ = CSystem.close(f.fd)
        }
        files.removeAll()
        loop = nil
        deliver = nil
        closed = true
    }

    // MARK: sending

    public func send(_ frame: [UInt8]) throws(QMIError) {
        guard !closed else { throw .closed }
        guard frame.count >= 13 else { throw .invalidArgument("frame too short for GobiNet") }
        let service = frame[4], clientID = frame[5]
        if service == 0 { return ctl(frame) }
        guard let f = files.first(where: { $0.service == service && $0.clientID == clientID }) else {
            return later(.refused(frame, .invalidArgument("no GobiNet service file for service \(service) client \(clientID)")))
        }
        let sdu = Array(frame[6...])
        if let e = GobiNetFiles.write(f.fd, sdu) { throw QMIError.classify(e, "write to \(path) (\(QMIService(service).name))") }
    }

    /// Hands an event to the engine from the event loop, never from inside `send`.
    func later(_ e: TransportEvent) {
        guard let l = loop else { return }
        l.after(0) { self.deliver?(e) }
    }

    /// CTL requests: client ids come from service files; nothing else is the user's.
    func ctl(_ frame: [UInt8]) {
        do throws(QMIError) {
            later(.frame(try ctlReply(to: try QMIMessage.decode(frame))))
        } catch {
            later(.refused(frame, error))
        }
    }

    /// The answer the driver's own CTL client would have had: Allocate Client ID opens a
    /// service file, Release Client ID closes it. The TLVs are read and written through the
    /// catalogue's definitions of the two messages (TLV 0x01: the service, or `$client`
    /// {service, client id}), with the accessors the typed views use.
    func ctlReply(to request: QMIMessage) throws(QMIError) -> [UInt8] {
        var reply = QMIMessage.reply(to: request)
        var problem: QMIError?
        switch request.messageID {
        case GobiNetChannel.allocateClientID:               // 01 Service → 01 Allocation
            guard let service = request.decoded(0x01)?.uint else { throw .missingTLV(message: request.displayName, name: "Service") }
            let clientID = try openServiceFile(UInt8(truncatingIfNeeded: service)).get()
            reply.encode(0x01, .structure([.uint(service), .uint(UInt64(clientID))]), &problem)
        case GobiNetChannel.releaseClientID:                // 01 Release → 01 Release
            guard let release = request.decoded(0x01), let service = release[0]?.uint, let clientID = release[1]?.uint else {
                throw .missingTLV(message: request.displayName, name: "Release")
            }
            closeServiceFile(service: UInt8(truncatingIfNeeded: service), clientID: UInt8(truncatingIfNeeded: clientID))
            reply.encode(0x01, release, &problem)
        default:
            throw .invalidArgument("\(request.displayName) is the GobiNet driver's own")
        }
        if let p = problem { throw p }
        return reply.encode()
    }

    /// The CTL messages GobiNet leaves to its users (the catalogue's CTL 0x0022 and 0x0023).
    static let allocateClientID: UInt16 = 0x0022, releaseClientID: UInt16 = 0x0023

    /// Opens a service file for `service`; returns qcm's client id for it.
    func openServiceFile(_ service: UInt8) -> Result<UInt8, QMIError> {
        let fd: Int32
        switch GobiNetFiles.openService(path, service, timeoutMs: allocationTimeoutMs) {
        case .success(let f): fd = f
        case .failure(let e): return .failure(e)
        }
        let cid = (nextClientID[service] ?? 0) &+ 1
        nextClientID[service] = cid
        var file = ServiceFile(service: service, clientID: cid, fd: fd, watch: 0)
        if let l = loop {
            file.watch = l.watch(fd) { revents in self.readable(fd, revents) }   // cycle broken by close()
        }
        files.append(file)
        return .success(cid)
    }

    func closeServiceFile(service: UInt8, clientID: UInt8) {
        guard let i = files.firstIndex(where: { $0.service == service && $0.clientID == clientID }) else { return }
        let f = files.remove(at: i)
        loop?.unwatch(f.watch)
        _ = CSystem.close(f.fd)
    }

    // MARK: receiving

    func readable(_ fd: Int32, _ revents: Int16) {
        guard let f = files.first(where: { $0.fd == fd }) else { return }
        if revents & Int16(POLLIN) == 0, revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
            return gone(.deviceGone("\(path) (\(QMIService(f.service).name) service file) hung up"))
        }
        // One message per read: the driver's read blocks even on a non-blocking file, so
        // read only once per readiness.
        switch GobiNetFiles.read(fd) {
        case .success(let sdu):
            guard !sdu.isEmpty else { return gone(.deviceGone("\(path) closed by the other end")) }
            let frame = QMIMessage.qmuxFrame(service: f.service, clientID: f.clientID, fromModem: true, sdu: sdu)
            if sdu.count < 7 || Int(UInt16(sdu[5]) | UInt16(sdu[6]) << 8) + 7 != sdu.count {
                let declared = sdu.count < 7 ? 0 : Int(UInt16(sdu[5]) | UInt16(sdu[6]) << 8)
                deliver?(.malformed(frame, .sduLengthMismatch(declared: declared, actual: max(0, sdu.count - 7))))
            } else {
                deliver?(.frame(frame))
            }
        case .failure(let err):
            let e = err.code
            if e == EAGAIN || e == EINTR { return }
            if e == EOVERFLOW { return deliver?(.lost("\(path): a message larger than 4096 bytes was dropped by the driver (EOVERFLOW)")) ?? () }
            // ENXIO, and EFAULT on a read cut short by a disconnect: the device is gone.
            gone(e == EFAULT ? .deviceGone("read from \(path): EFAULT (device removed)") : QMIError.classify(e, "read from \(path)"))
        }
    }

    func gone(_ e: QMIError) {
        let d = deliver
        close()
        d?(.closed(e))
    }
}

/// The system calls on GobiNet service files, and nothing else: everything above runs the
/// same against the driver and against qmi-sim's stand-in (`qmi-sim --gobinet`), whose node is
/// a SOCK_SEQPACKET socket (it keeps message boundaries, like the device) where the ioctl is a
/// first message: the request number and the service (two little-endian u32), answered with
/// the ioctl's result (0 or -errno, one little-endian i32).
public enum GobiNetFiles {
    /// From GobiNet's QMIDevice.h (IOCTL_QMI_GET_SERVICE_FILE = 0x8BE0 + 1, ..._VIDPID + 2, ..._MEID + 3).
    public static let getServiceFile = UInt32(CSYS_GOBINET_GET_SERVICE_FILE)
    public static let getDeviceVIDPID = UInt32(CSYS_GOBINET_GET_DEVICE_VIDPID)
    public static let getDeviceMEID = UInt32(CSYS_GOBINET_GET_DEVICE_MEID)
    /// The driver's largest message, and the read buffer (a smaller one loses messages).
    public static let readBuffer = 4096

    /// A file bound to a client id of `service`, or what refused it.
    public static func openService(_ path: String, _ service: UInt8, timeoutMs: Int32) -> Result<Int32, QMIError> {
        let name = QMIService(service).name
        if csys_file_kind(path) == Int32(CSYS_SOCKET) { return openSimulated(path, service, name) }
        let fd = csys_open(path, O_RDWR | O_NONBLOCK | O_NOCTTY, 0)
        guard fd >= 0 else { return .failure(explain(Errno.current, service: name, path: path)) }
        guard csys_gobinet_get_service_file(fd, Int32(service), timeoutMs) == 0 else {
            let e = Errno.current
            _ = close(fd)
            return .failure(explain(e, service: name, path: path))
        }
        return .success(fd)
    }

    /// The simulator's node is a socket file: whoever listens there must be root or qcm's
    /// user before the "ioctl" goes out.
    static func openSimulated(_ path: String, _ service: UInt8, _ name: String) -> Result<Int32, QMIError> {
        let fd: Int32
        switch Peer.connect(path, "the GobiNet node \(path)", seqpacket: true) {
        case .failed(let e): return .failure(explain(Errno(e), service: name, path: path))
        case .untrusted(let why): return .failure(.untrustedPeer(why))
        case .trusted(let f): fd = f
        }
        _ = csys_set_receive_timeout(fd, 10)
        var request = ByteWriter(capacity: 8)
        request.u32(getServiceFile)
        request.u32(UInt32(service))
        var answer = [UInt8](repeating: 0, count: 4)
        let sent = request.bytes.withUnsafeBytes { CSystem.write(fd, $0.baseAddress, $0.count) }
        let got = sent == 8 ? answer.withUnsafeMutableBytes { CSystem.read(fd, $0.baseAddress, 4) } : -1
        var reader = ByteReader(answer)
        guard got == 4, let result = try? reader.u32() else {
            let e = got < 0 ? Errno.current : Errno(EIO)
            _ = close(fd)
            return .failure(explain(e, service: name, path: path))
        }
        let rc = Int32(bitPattern: result)
        guard rc == 0 else {
            _ = close(fd)
            return .failure(explain(Errno(-rc), service: name, path: path))
        }
        _ = csys_set_nonblocking(fd)
        return .success(fd)
    }

    public static func read(_ fd: Int32) -> Result<[UInt8], Errno> {
        var buf = [UInt8](repeating: 0, count: readBuffer)
        let n = buf.withUnsafeMutableBytes { CSystem.read(fd, $0.baseAddress, $0.count) }
        if n < 0 { return .failure(Errno.current) }
        return .success(Array(buf[0..<n]))
    }

    /// nil when written whole; else the errno.
    public static func write(_ fd: Int32, _ sdu: [UInt8]) -> Int32? {
        let n = sdu.withUnsafeBytes { CSystem.write(fd, $0.baseAddress, $0.count) }
        if n == sdu.count { return nil }
        return n < 0 ? csys_errno() : EIO
    }

    /// What a refused GET_SERVICE_FILE means, in GobiNet's terms.
    public static func explain(_ e: Errno, service: String, path: String) -> QMIError {
        let what = "GobiNet service file for \(service) on \(path)"
        switch e.code {
        case ENXIO, ENODEV: return .deviceGone("\(what): the device is gone (\(e.description))")
        case EINVAL: return .invalidArgument("\(what): the driver refused it (EINVAL: CTL is the driver's own, or an old driver)")
        case EFAULT: return .invalidArgument("\(what): the modem refused the service (EFAULT from the driver)")
        case EBADR: return .invalidArgument("\(what): the file is already bound (EBADR)")
        case ENOTTY, EBADRQC:
            return .invalidArgument("\(what): the ioctl 0x\(Text.hex(getServiceFile, 4)) is not known there (\(e.description)): not a GobiNet qcqmi node, or an old driver")
        case ETIMEDOUT: return .timeout(message: "\(what) (the driver waits for the modem)", afterMs: 10_000)
        default: return .system(operation: "get a \(what)", errno: e.code)
        }
    }
}
