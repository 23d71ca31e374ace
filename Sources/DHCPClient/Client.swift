import Base
import CSystem

/// The packet socket: AF_PACKET bound to the interface with a BPF filter that passes only
/// UDP to port 68, so it works before the link has an address and wakes for nothing else.
public final class DHCPSocket {
    public private(set) var fd: Int32 = -1
    public let interface: String
    public let ifindex: Int32
    public let mac: [UInt8]

    public init(interface: String) throws(DHCPError) {
        self.interface = interface
        let idx = if_nametoindex(interface)
        guard idx != 0 else { throw .noInterface(interface) }
        ifindex = Int32(idx)
        var hw = [UInt8](repeating: 0, count: 6)
        var type: Int32 = 0
        guard csys_if_hwaddr(interface, &hw, &type) == 0 else { throw .system(operation: "read the MAC address of \(interface)", errno: csys_errno()) }
        guard type == Int32(ARPHRD_ETHER) else { throw .notEthernet(interface) }
        mac = hw
    }

    deinit { close() }

    public var isOpen: Bool { fd >= 0 }

    public func open() throws(DHCPError) {
        guard fd < 0 else { return }
        // ldh [12]; jeq IPv4; ldb [23]; jeq UDP; ldh [20]; jset fragment; ldxb 4*([14]&0xf); ldh [x+16]; jeq 68
        let prog: [sock_filter] = [
            sock_filter(code: 0x28, jt: 0, jf: 0, k: 12),
            sock_filter(code: 0x15, jt: 0, jf: 8, k: 0x0800),
            sock_filter(code: 0x30, jt: 0, jf: 0, k: 23),
            sock_filter(code: 0x15, jt: 0, jf: 6, k: 17),
            sock_filter(code: 0x28, jt: 0, jf: 0, k: 20),
            sock_filter(code: 0x45, jt: 4, jf: 0, k: 0x1fff),
            sock_filter(code: 0xb1, jt: 0, jf: 0, k: 14),
            sock_filter(code: 0x48, jt: 0, jf: 0, k: 16),
            sock_filter(code: 0x15, jt: 0, jf: 1, k: 68),
            sock_filter(code: 0x06, jt: 0, jf: 0, k: 0xffff),
            sock_filter(code: 0x06, jt: 0, jf: 0, k: 0),
        ]
        do throws(SystemError) {
            fd = try PacketSocket.open(index: ifindex, ethertype: 0x0800, filter: prog, interface: interface)
        } catch {
            throw .system(operation: error.operation, errno: error.errno.code)
        }
    }

    public func close() {
        if fd >= 0 { _ = CSystem.close(fd) }
        fd = -1
    }

    public func send(_ frame: [UInt8], to mac: [UInt8]) throws(DHCPError) {
        try open()
        let n = frame.withUnsafeBytes { csys_packet_send(fd, ifindex, mac, 0x0800, $0.baseAddress, $0.count) }
        guard n == frame.count else { throw .system(operation: "send on \(interface)", errno: csys_errno()) }
    }

    /// The next frame waiting, or nil.
    public func receive() -> [UInt8]? {
        guard fd >= 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 2048)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n > 0 ? Array(buf[0..<n]) : nil
    }
}

/// The client: the state machine plus its socket. Event-driven — the owner polls `fd`
/// (nil while bound: the socket is closed then) and calls `handleTimeout` at `deadline`.
/// `step` is a self-contained poll for callers without an event loop.
public final class DHCPClient {
    public let socket: DHCPSocket
    public let machine: DHCPMachine
    public var onEvent: ((DHCPMachine.Event) -> Void)?
    public var onLog: ((String) -> Void)?
    public private(set) var dropped = 0
    var ipID: UInt16 = 1

    public init(interface: String, hostname: String? = nil) throws(DHCPError) {
        socket = try DHCPSocket(interface: interface)
        machine = DHCPMachine(mac: socket.mac, hostname: hostname) {
            var v: UInt32 = 0
            _ = withUnsafeMutableBytes(of: &v) { getrandom($0.baseAddress, 4, 0) }
            return v
        }
    }

    public var fd: Int32? { socket.isOpen ? socket.fd : nil }
    public var deadline: Int64? { machine.deadline }
    public var state: DHCPMachine.State { machine.state }
    public var lease: Lease? { machine.lease }

    public func start(previous: Lease? = nil) throws(DHCPError) {
        try socket.open()
        try perform(machine.start(now: csys_monotonic_ms(), previous: previous))
    }

    public func handleReadable() throws(DHCPError) {
        while let frame = socket.receive() {
            do throws(DHCPError) {
                let r = try DHCPFrame.parse(frame)
                try perform(machine.receive(r, now: csys_monotonic_ms()))
            } catch {
                dropped += 1
                onLog?("dropped: \(error.description)")
            }
        }
    }

    public func handleTimeout() throws(DHCPError) {
        try perform(machine.timeout(now: csys_monotonic_ms()))
    }

    public func release() throws(DHCPError) {
        try perform(machine.release(now: csys_monotonic_ms()))
        socket.close()
    }

    func perform(_ outputs: [DHCPMachine.Output]) throws(DHCPError) {
        for o in outputs {
            switch o {
            case let .broadcast(p):
                send(p, mac: DHCPFrame.broadcastMAC, srcIP: p.ciaddr, dstIP: 0xffff_ffff, label: "(broadcast)")
            case let .unicast(p, mac, ip):
                send(p, mac: mac, srcIP: p.ciaddr, dstIP: ip, label: "to \(ipText(ip))")
            case let .event(e):
                onEvent?(e)
            case let .log(s):
                onLog?(s)
            }
        }
        // Bound: nothing to listen for until T1, so no wake-ups from other traffic.
        if machine.listening { try socket.open() } else { socket.close() }
    }

    /// A send that fails (link down, carrier lost) is logged, not fatal: the machine's
    /// retransmission timer tries again.
    func send(_ p: DHCPPacket, mac: [UInt8], srcIP: UInt32, dstIP: UInt32, label: String) {
        ipID &+= 1
        let frame = DHCPFrame.build(payload: p.encode(), srcMAC: socket.mac, dstMAC: mac, srcIP: srcIP, dstIP: dstIP, ipID: ipID)
        do throws(DHCPError) {
            try socket.send(frame, to: mac)
            onLog?("sent \(p.messageType?.name ?? "?") \(label)")
        } catch {
            onLog?("could not send \(p.messageType?.name ?? "?") \(label): \(error.description); will retry")
        }
    }

    /// Waits for traffic or the deadline (at most `maxWaitMs`) and handles what came.
    public func step(maxWaitMs: Int64) throws(DHCPError) {
        let now = csys_monotonic_ms()
        var wait = maxWaitMs
        if let d = deadline { wait = min(wait, max(0, d - now)) }
        if let f = fd {
            var p = pollfd(fd: f, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(wait)) > 0 { try handleReadable() }
        } else if wait > 0 {
            csys_sleep_ms(wait)
        }
        if let d = deadline, csys_monotonic_ms() >= d { try handleTimeout() }
    }
}
