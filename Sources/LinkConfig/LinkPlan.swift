/// What a link should look like: built from QMI runtime settings or a DHCP lease. A class:
/// built once, then handed to the link manager, the script hook and the status file.
import Base
public final class LinkPlan {
    public struct Address: Equatable {
        public var address: IPAddress
        public var prefix: Int
        public var gateway: IPAddress?
        /// Route via the gateway (802.3/DHCP) or as a device route (raw-IP point-to-point).
        public var routeViaGateway: Bool

        public init(address: IPAddress, prefix: Int, gateway: IPAddress? = nil, routeViaGateway: Bool = false) {
            self.address = address
            self.prefix = prefix
            self.gateway = gateway
            self.routeViaGateway = routeViaGateway
        }
    }

    /// RFC 7278: the call's IPv6 /64 extended to a LAN interface. The mobile interface keeps
    /// the modem's address as a /128; the /64 is routed to the LAN, where qcm advertises it
    /// (unless another daemon does: `advertise` false).
    public struct LAN: Equatable {
        public var interface: String
        /// The /64 (bits past 64 zero).
        public var prefix: IPAddress
        public var advertise: Bool
        /// The mobile link is Ethernet with a router on it (an AT module's usb0), which finds
        /// the /64's hosts by Neighbour Discovery: qcm answers it for the LAN (NeighbourProxy).
        public var answersNeighbours = false

        public init(interface: String, prefix: IPAddress, advertise: Bool) {
            self.interface = interface
            self.prefix = prefix
            self.advertise = advertise
        }

        /// "2409:8930:463:3daa::/64".
        public var prefixText: String { prefix.text + "/64" }

        public static func == (a: LAN, b: LAN) -> Bool {
            a.prefix == b.prefix && a.advertise == b.advertise && a.answersNeighbours == b.answersNeighbours && a.interface.equals(b.interface)
        }
    }

    public var interface: String
    public var ipv4: Address?
    public var ipv6: Address?
    public var ipv6LAN: LAN?
    public var dns: [IPAddress]
    public var domain: String?
    public var mtu: UInt32?
    /// Metric of the default routes qcm adds.
    public var metric: UInt32
    public var defaultRoute: Bool

    public init(interface: String, ipv4: Address? = nil, ipv6: Address? = nil, dns: [IPAddress] = [],
                domain: String? = nil, mtu: UInt32? = nil, metric: UInt32 = 0, defaultRoute: Bool = true) {
        self.interface = interface
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.dns = dns
        self.domain = domain
        self.mtu = mtu
        self.metric = metric
        self.defaultRoute = defaultRoute
    }

    /// Prefix length of a dotted netmask; nil when the mask is not contiguous.
    public static func prefix(ofMask mask: UInt32) -> Int? { IPAddress.prefix(ofMask: mask) }

    public func validate() throws(LinkError) {
        func check(_ a: Address?, _ family: Family) throws(LinkError) {
            guard let a else { return }
            let label = family == .ipv4 ? "IPv4" : "IPv6"
            guard a.address.family == family else { throw .invalid("\(a.address.text) is not an \(label) address") }
            guard a.prefix >= 1 && a.prefix <= family.maxPrefix else {
                throw .invalid("invalid \(label) prefix length \(a.prefix) for \(a.address.text) (1-\(family.maxPrefix))")
            }
            if let g = a.gateway, g.family != family { throw .invalid("gateway \(g.text) is not an \(label) address") }
            if a.routeViaGateway && a.gateway == nil { throw .invalid("\(label) route via gateway requested but no gateway given") }
        }
        try check(ipv4, .ipv4)
        try check(ipv6, .ipv6)
        if let lan = ipv6LAN {
            guard ipv6 != nil, lan.prefix.family == .ipv6 else { throw .invalid("an IPv6 LAN prefix needs an IPv6 address on \(interface)") }
            guard !lan.interface.equals(interface) else { throw .invalid("--ipv6-lan \(lan.interface) is the mobile interface itself") }
        }
        if let m = mtu, m < 576 || m > 65535 { throw .invalid("invalid MTU \(m) (576-65535)") }
    }

    /// The udhcpc-style variables describing this plan (for script hooks).
    public func scriptEnvironment(leaseSeconds: UInt32? = nil) -> [(String, String)] {
        var env: [(String, String)] = [("interface", interface)]
        if let v4 = ipv4 {
            env.append(("ip", v4.address.text))
            let mask: UInt32 = v4.prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - v4.prefix)
            env.append(("subnet", IPAddress(ipv4: mask).text))
            env.append(("mask", "\(v4.prefix)"))
            if let g = v4.gateway { env.append(("router", g.text)) }
        }
        if let v6 = ipv6 {
            env.append(("ipv6", v6.address.text))
            env.append(("ipv6_prefix", "\(v6.prefix)"))
            if let g = v6.gateway { env.append(("ipv6_router", g.text)) }
        }
        if let lan = ipv6LAN {
            env.append(("ipv6prefix", lan.prefixText))
            env.append(("ipv6lan", lan.interface))
        }
        let v4dns = dns.filter { $0.family == .ipv4 }.map { $0.text }
        let v6dns = dns.filter { $0.family == .ipv6 }.map { $0.text }
        if !v4dns.isEmpty { env.append(("dns", v4dns.joined(separator: " "))) }
        if !v6dns.isEmpty { env.append(("ipv6_dns", v6dns.joined(separator: " "))) }
        if let d = domain { env.append(("domain", d)) }
        if let m = mtu { env.append(("mtu", "\(m)")) }
        if let l = leaseSeconds { env.append(("lease", "\(l)")) }
        return env
    }
}
