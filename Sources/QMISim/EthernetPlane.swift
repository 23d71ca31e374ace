import Foundation
import Base
import CSystem
import DHCPClient
import QMICore

/// The USB Ethernet function (cdc_ether, cdc_ncm or rndis_host on the host) of a module that
/// is dialed with AT commands, as a TAP device: this class plays the module's end of the
/// link. The module's DHCP server and gateway exist only while its data call is up. Then it
/// leases the host one address by DHCP, answers ARP for the gateway address and answers echo
/// requests to it. While the call is down nothing answers, and the link has no carrier when
/// the kernel lets a TAP say so: cdc_ether and cdc_ncm turn the module's NETWORK_CONNECTION
/// notification into the carrier.
///
/// Every frame left unanswered is recorded in `drops` with the reason, because a board would
/// only show silence. It runs on an EventLoop, like TunDevice. Its state is behind a lock,
/// so another thread (an AT responder, a test) may call `callUp`/`callDown` and read it.
/// Call `close` on the loop's thread or after the loop has stopped.
public final class EthernetPlane {
    /// What the module's DHCP server hands out while a call is up.
    public struct Addressing: Equatable {
        public var address: UInt32
        public var prefix: Int
        public var gateway: UInt32
        public var dns: [UInt32]
        public var mtu: UInt32
        public var leaseSeconds: UInt32
    }

    /// The MAC of the RG801H in the reference capture (a globally administered address).
    public static let defaultMAC: [UInt8] = [0x0c, 0x5b, 0x8f, 0x27, 0x9a, 0x64]
    /// Router mode (AT+QCFG="NAT",1): the module keeps 192.168.42.1 for itself on a /24 and
    /// leases the host 192.168.42.2. The carrier address stays inside the module.
    public static let natGateway: UInt32 = 0xc0a8_2a01
    public static let natHost: UInt32 = 0xc0a8_2a02

    public let name: String
    public let moduleMAC: [UInt8]
    /// Reports what happens, for `qmi-sim -v`. Called with the lock held: it must not call back.
    public var onLog: ((String) -> Void)?

    let lock = NSLock()
    var tap: TunDevice?
    /// The carrier's addressing while a call is up; nil while it is down (or has IPv6 only).
    var call: Addressing?
    /// The IPv6 side of the call (EthernetPlane+IPv6.swift); nil without one.
    var callV6: IPv6Call?
    /// The address beyond the network that answers pings (the network's rule decides from where).
    public var ipv6Remote: [UInt8] = Text.parseIPv6("2001:db8:ffff::1")!
    /// False: a module that never advertises its /64 (a fault; the call has IPv6 all the same).
    public var advertisesIPv6: Bool {
        get { locked { advertising } }
        set { locked { advertising = newValue } }
    }
    var advertising = true
    /// The module's neighbour cache on the link (IPv6 address → MAC), and what waits for an
    /// address to be resolved: as a router, the module sends to a host's address only once a
    /// Neighbour Advertisement (or a solicitation that carried it) told it the MAC.
    var neighbours: [[UInt8]: [UInt8]] = [:]
    var unresolved: [(address: [UInt8], packet: [UInt8])] = []
    var router: Bool
    /// Whether TUNSETCARRIER worked (nil: not tried yet).
    var carrierWorks: Bool?
    var held: (mac: [UInt8], address: UInt32, expires: Int64)?
    var count = (offers: 0, acks: 0, naks: 0, releases: 0, echoes: 0, arps: 0, advertisements: 0, solicitations: 0)
    var dropped: [String] = []
    var ipID: UInt16 = 0
    /// Milliseconds on CLOCK_MONOTONIC; tests move it to expire leases.
    var clock: () -> Int64 = { csys_monotonic_ms() }

    /// Creates the TAP device `name` in the calling thread's network namespace, with the
    /// call down (no carrier). `natRouter`: see the property.
    public convenience init(name: String = "usb0", moduleMAC: [UInt8] = EthernetPlane.defaultMAC,
                            natRouter: Bool = false) throws {
        try self.init(name: name, moduleMAC: moduleMAC, natRouter: natRouter, tap: TunDevice(name: name, ethernet: true))
        setCarrier(false)
    }

    /// `tap` nil: no device, frames come only through `handle` (tests without root).
    init(name: String, moduleMAC: [UInt8], natRouter: Bool, tap: TunDevice?) throws {
        guard moduleMAC.count == 6, moduleMAC[0] & 1 == 0, moduleMAC != [0, 0, 0, 0, 0, 0] else {
            throw QMIError.invalidArgument("module MAC \(EthernetPlane.text(mac: moduleMAC)) is not a unicast Ethernet address")
        }
        self.name = name
        self.moduleMAC = moduleMAC
        router = natRouter
        self.tap = tap
    }

    deinit { tap?.close() }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Starts answering the frames the host sends on the TAP.
    public func serve(on loop: EventLoop) {
        guard let t = tap else { return }
        t.onPacket = { [unowned self, unowned t] frame in
            for reply in self.locked({ self.handle(frame) }) { t.write(reply) }
        }
        t.serve(on: loop)
    }

    /// Removes the TAP device: closing the descriptor removes a TAP that is not persistent.
    public func close() {
        locked {
            tap?.close()
            tap = nil
        }
    }

    // MARK: the call

    /// The data call is up with this carrier addressing: the DHCP server and the gateway come
    /// up, and so does the carrier. The types are SimConfig's, so its call can be passed as is.
    public func callUp(address: UInt32, prefix: Int, gateway: UInt32, dns: [UInt32], mtu: UInt32 = 1500,
                       leaseSeconds: UInt32 = 7200) {
        locked {
            call = Addressing(address: address, prefix: prefix, gateway: gateway, dns: dns, mtu: mtu, leaseSeconds: leaseSeconds)
            setCarrier(true)
            if let s = served {
                log("call up: DHCP serves \(Text.ipv4(s.address))/\(s.prefix), gateway \(Text.ipv4(s.gateway))" + (router ? " (router mode)" : ""))
            }
        }
    }

    /// The data call is down: no DHCP server, no gateway, no carrier. The lease goes with the
    /// call, because the next call may bring another address.
    public func callDown() {
        locked {
            call = nil
            callV6 = nil
            neighbours = [:]
            unresolved = []
            held = nil
            setCarrier(false)
            log("call down")
        }
    }

    /// Router mode (AT+QCFG="NAT",1, as on UNISOC modules): DHCP hands out 192.168.42.2/24 with
    /// router and DNS 192.168.42.1. Otherwise (NAT 0) it hands out the carrier's own address,
    /// prefix, gateway and DNS servers. A change applies to the next DHCP exchange. On a real
    /// module it needs a reboot.
    public var natRouter: Bool {
        get { locked { router } }
        set { locked { router = newValue } }
    }

    public var isUp: Bool { locked { call != nil || callV6 != nil } }

    /// What the DHCP server hands out now (nil: the call is down).
    public var addressing: Addressing? { locked { served } }

    var served: Addressing? {
        guard let c = call else { return nil }
        guard router else { return c }
        return Addressing(address: EthernetPlane.natHost, prefix: 24, gateway: EthernetPlane.natGateway,
                          dns: [EthernetPlane.natGateway], mtu: c.mtu, leaseSeconds: c.leaseSeconds)
    }

    /// Whether the link's carrier follows the call. False when the kernel has no TUNSETCARRIER
    /// (before Linux 5.0): the TAP then shows a carrier all the time.
    public var carrierFollowsCall: Bool { locked { carrierWorks ?? false } }

    func setCarrier(_ on: Bool) {
        guard let t = tap, t.fd >= 0, carrierWorks != false else { return }
        if csys_tun_set_carrier(t.fd, on ? 1 : 0) == 0 {
            carrierWorks = true
        } else {
            carrierWorks = false
            log("TUNSETCARRIER: \(Errno(csys_errno()).description); the link keeps its carrier while the call is down")
        }
    }

    // MARK: what tests and qmi-sim -v read

    /// Why frames went unanswered, newest last (the latest 50).
    public var drops: [String] { locked { dropped } }
    public var offers: Int { locked { count.offers } }
    public var acks: Int { locked { count.acks } }
    public var naks: Int { locked { count.naks } }
    public var releases: Int { locked { count.releases } }
    public var echoesAnswered: Int { locked { count.echoes } }
    public var arpReplies: Int { locked { count.arps } }
    /// Router Advertisements sent, and Router Solicitations from the host.
    public var routerAdvertisements: Int { locked { count.advertisements } }
    public var routerSolicitations: Int { locked { count.solicitations } }
    /// The host that holds the lease, and its address.
    public var lease: (mac: [UInt8], address: UInt32)? { locked { held.map { ($0.mac, $0.address) } } }

    func log(_ s: String) { onLog?("\(name): " + s) }

    /// Records an unanswered frame. Returns no replies, so handlers can `return drop(…)`.
    func drop(_ why: String) -> [[UInt8]] {
        dropped.append(why)
        if dropped.count > 50 { dropped.removeFirst() }
        log("dropped: " + why)
        return []
    }

    static func text(mac: [UInt8]) -> String { Text.hexBytes(mac, separator: ":") }

    // MARK: frames

    /// The frames the module sends back for one frame from the host. Returns none when the
    /// module does not answer it, and records the reason.
    func handle(_ f: [UInt8]) -> [[UInt8]] {
        let frame: HostFrame
        switch HostFrame.parse(f) {
        case .success(let parsed): frame = parsed
        case .failure(let why): return drop(why.text)
        }
        let to = Array(f[0..<6]), from = Array(f[6..<12])
        let toModule = to == moduleMAC, broadcast = to == DHCPFrame.broadcastMAC
        if f[12] == 0x86, f[13] == 0xdd {
            // IPv6 comes to the module's MAC or to a multicast one (33:33:…: RS, NS).
            guard toModule || (to[0] == 0x33 && to[1] == 0x33) else {
                return drop("\(frame.summary): sent to \(EthernetPlane.text(mac: to)), neither the module's \(EthernetPlane.text(mac: moduleMAC)) nor IPv6 multicast")
            }
            return ipv6(f)
        }
        guard let a = served else {
            return drop("\(frame.summary) (sender \(EthernetPlane.text(mac: from))): the call is down, and nothing on the module answers")
        }
        guard toModule || broadcast else {
            return drop("\(frame.summary): sent to \(EthernetPlane.text(mac: to)), not to the module's \(EthernetPlane.text(mac: moduleMAC))")
        }
        switch frame {
        case let .arp(op, senderMAC, senderIP, targetIP):
            return arp(op: op, senderMAC: senderMAC, senderIP: senderIP, targetIP: targetIP, a)
        case let .dhcp(p, source, destination):
            return dhcp(p, source: source, destination: destination, a)
        case let .echo(ip, source, destination):
            guard toModule else { return drop("\(frame.summary): sent to the broadcast MAC; the module answers pings only at its own") }
            return echo(ip, source: source, destination: destination, replyTo: from, a)
        case .other:
            return drop("\(frame.summary): the module answers only DHCP, ARP and pings to its gateway here")
        }
    }

    /// ARP for the gateway address, from the host's address.
    func arp(op: UInt16, senderMAC: [UInt8], senderIP: UInt32, targetIP: UInt32, _ a: Addressing) -> [[UInt8]] {
        let what = "ARP \(op == 1 ? "request" : "op \(op)") for \(Text.ipv4(targetIP)) from \(Text.ipv4(senderIP))"
        guard op == 1 else { return drop("\(what): only requests get an answer") }
        guard targetIP == a.gateway else { return drop("\(what): the module answers only for its gateway \(Text.ipv4(a.gateway))") }
        guard senderIP == a.address else {
            return drop("\(what): the sender is not \(Text.ipv4(a.address)), the address the module leases")
        }
        var r = senderMAC + moduleMAC + [0x08, 0x06]
        r += [0, 1, 0x08, 0x00, 6, 4, 0, 2] + moduleMAC
        r += bigEndian(a.gateway) + senderMAC + bigEndian(senderIP)
        count.arps += 1
        return [r]
    }

    /// An echo request to the gateway, from the host's address.
    func echo(_ ip: [UInt8], source: UInt32, destination: UInt32, replyTo mac: [UInt8], _ a: Addressing) -> [[UInt8]] {
        let what = "ping to \(Text.ipv4(destination)) from \(Text.ipv4(source))"
        guard source == a.address else {
            return drop("\(what): its source is not \(Text.ipv4(a.address)), the address the module leases: the module drops it")
        }
        guard let reply = TunDevice.echoReply(ip, ipv4: a.gateway, ipv6: []) else {
            return drop("\(what): only the gateway \(Text.ipv4(a.gateway)) answers (nothing behind it is simulated)")
        }
        count.echoes += 1
        return [mac + moduleMAC + [0x08, 0x00] + reply]
    }
}

func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

/// A frame from the host, parsed only as far as the module needs to look. `parse` never
/// traps: short frames and wrong lengths are reasons to drop the frame.
enum HostFrame {
    case arp(op: UInt16, senderMAC: [UInt8], senderIP: UInt32, targetIP: UInt32)
    case dhcp(DHCPPacket, source: UInt32, destination: UInt32)
    /// An ICMP echo request: the IPv4 packet without Ethernet padding.
    case echo(ip: [UInt8], source: UInt32, destination: UInt32)
    case other(String)

    struct Why: Error { let text: String }

    /// What the frame is, for the reasons in `drops`.
    var summary: String {
        switch self {
        case let .arp(op, _, senderIP, targetIP):
            return "ARP \(op == 1 ? "request" : "op \(op)") for \(Text.ipv4(targetIP)) from \(Text.ipv4(senderIP))"
        case let .dhcp(p, _, _): return "DHCP \(p.messageType?.name ?? "?")"
        case let .echo(_, source, destination): return "ping to \(Text.ipv4(destination)) from \(Text.ipv4(source))"
        case let .other(s): return s
        }
    }

    static func parse(_ f: [UInt8]) -> Result<HostFrame, Why> {
        guard f.count >= 14 else { return .failure(Why(text: "a \(f.count)-byte frame: shorter than an Ethernet header")) }
        let type = UInt16(f[12]) << 8 | UInt16(f[13])
        switch type {
        case 0x0806: return arp(f)
        case 0x0800: return ipv4(f)
        case 0x86dd: return .success(.other("IPv6"))
        default: return .success(.other("ethertype 0x\(Text.hex(type, 4))"))
        }
    }

    static func arp(_ f: [UInt8]) -> Result<HostFrame, Why> {
        guard f.count >= 14 + 28 else { return .failure(Why(text: "ARP in a \(f.count)-byte frame: too short")) }
        guard f[14] == 0, f[15] == 1, f[16] == 0x08, f[17] == 0x00, f[18] == 6, f[19] == 4 else {
            return .failure(Why(text: "ARP not for Ethernet and IPv4"))
        }
        return .success(.arp(op: UInt16(f[20]) << 8 | UInt16(f[21]), senderMAC: Array(f[22..<28]),
                             senderIP: u32(f, 28), targetIP: u32(f, 38)))
    }

    static func ipv4(_ f: [UInt8]) -> Result<HostFrame, Why> {
        guard f.count >= 14 + 20 else { return .failure(Why(text: "IPv4 in a \(f.count)-byte frame: too short")) }
        let ihl = Int(f[14] & 0x0f) * 4
        guard f[14] >> 4 == 4, ihl >= 20, f.count >= 14 + ihl else { return .failure(Why(text: "IPv4 with a bad header")) }
        let total = Int(f[16]) << 8 | Int(f[17])
        guard total >= ihl, 14 + total <= f.count else {
            return .failure(Why(text: "IPv4 length \(total) does not fit a \(f.count)-byte frame"))
        }
        guard internetChecksum(f[14..<(14 + ihl)]) == 0 else { return .failure(Why(text: "IPv4 header checksum is wrong")) }
        let source = u32(f, 26), destination = u32(f, 30)
        let what = "IPv4 protocol \(f[23]) to \(Text.ipv4(destination)) from \(Text.ipv4(source))"
        guard f[20] & 0x3f == 0, f[21] == 0 else { return .success(.other(what + ", a fragment")) }
        let ip = Array(f[14..<(14 + total)])
        switch f[23] {
        case 1:
            guard total >= ihl + 8 else { return .failure(Why(text: "ICMP in \(total - ihl) bytes: too short")) }
            if ip[ihl] == 8 { return .success(.echo(ip: ip, source: source, destination: destination)) }
            return .success(.other("ICMP type \(ip[ihl]) to \(Text.ipv4(destination))"))
        case 17:
            guard total >= ihl + 8 else { return .failure(Why(text: "UDP in \(total - ihl) bytes: too short")) }
            let port = Int(ip[ihl + 2]) << 8 | Int(ip[ihl + 3])
            guard port == 67 else { return .success(.other("UDP to \(Text.ipv4(destination)) port \(port)")) }
            let length = Int(ip[ihl + 4]) << 8 | Int(ip[ihl + 5])
            guard length >= 8, ihl + length <= total else {
                return .failure(Why(text: "UDP length \(length) does not fit the \(total)-byte IPv4 packet"))
            }
            do throws(DHCPError) {
                let p = try DHCPPacket.parse(Array(ip[(ihl + 8)..<(ihl + length)]))
                return .success(.dhcp(p, source: source, destination: destination))
            } catch {
                return .failure(Why(text: "to the DHCP port: \(error.description)"))
            }
        default:
            return .success(.other(what))
        }
    }

    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }
}
