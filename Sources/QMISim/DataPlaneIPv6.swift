import Foundation
import Base

/// The IPv6 side of the simulated network, as a PGW behaves on a PDN: it hands the UE a whole
/// /64 (any address in it may send), advertises it in a Router Advertisement when the IPv6
/// call comes up and whenever the host solicits one, answers pings to the call's gateway and
/// to a remote address — and drops what the network drops: a source outside the /64, a
/// link-local source sent to a global address.
extension DataPlane {
    /// The netdev that carries `mux` (nil: the parent itself, plain raw-IP).
    func device(carrying mux: UInt8?) -> TunDevice? {
        if let m = mux { return devices.first { muxOf[$0.key] == m }?.value }
        return muxOf.isEmpty ? devices[parent] : nil
    }

    /// An IPv6 call came up: the network's Router Advertisement on its netdev.
    func ipv6CallUp(_ call: QMISimulator.Call) {
        guard let dev = device(carrying: call.mux) ?? (call.mux == 0x81 ? devices[parent] : nil) else { return }
        advertise(call, on: dev)
    }

    /// A Router Solicitation from the host on `dev`: answered for each IPv6 call it carries.
    func routerSolicited(on dev: TunDevice) {
        for call in sim.calls where call.family == 6 && (device(carrying: call.mux) === dev || (call.mux == 0x81 && dev.name == parent)) {
            advertise(call, on: dev)
        }
    }

    func advertise(_ call: QMISimulator.Call, on dev: TunDevice) {
        let c = sim.config
        guard c.sendsRouterAdvertisements else { return }
        let a = c.addressing(profile: call.profile, generation: call.generation)
        guard let prefix = IPAddress(c.raPrefix ?? a.ipv6Address)?.prefix64.bytes else { return }
        let ra = DataPlane.routerAdvertisement(prefix: prefix, length: c.raPrefixLength, lifetime: c.raPrefixLifetime,
                                               mtu: c.raMTU ?? c.mtu)
        // An Ethernet-type netdev (the Quectel drivers') gets it with the driver's header: to
        // the all-nodes multicast MAC, from the modem's.
        dev.write(macs[dev.name] != nil ? [0x33, 0x33, 0, 0, 0, 1] + DataPlane.modemMAC + [0x86, 0xdd] + ra : ra)
        note("\(dev.name): sent the network's router advertisement for \(Text.ipv6(prefix))/\(c.raPrefixLength)")
    }

    static let pgwLinkLocal: [UInt8] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    static let allNodes: [UInt8] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]

    /// A PGW's RA as an IPv6 packet: from its link-local address to all nodes, hop limit 255,
    /// router lifetime 9000 s, the prefix for autonomous configuration (A=1; L=0: 3GPP
    /// links are point-to-point), and the link MTU.
    static func routerAdvertisement(prefix: [UInt8], length: Int, lifetime: UInt32, mtu: UInt32) -> [UInt8] {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        var icmp: [UInt8] = [134, 0, 0, 0, 64, 0, 0x23, 0x28] + be32(0) + be32(0)
        icmp += [3, 4, UInt8(length), 0x40] + be32(lifetime) + be32(lifetime) + be32(0) + prefix
        icmp += [5, 1, 0, 0] + be32(mtu)
        return ipv6Packet(source: pgwLinkLocal, destination: allNodes, hopLimit: 255, icmp: icmp)
    }

    /// An ICMPv6 message in an IPv6 header, its checksum over the pseudo-header.
    static func ipv6Packet(source: [UInt8], destination: [UInt8], hopLimit: UInt8, icmp: [UInt8]) -> [UInt8] {
        var m = icmp
        let len = m.count
        var pseudo = source + destination + [UInt8(len >> 24 & 0xff), UInt8(len >> 16 & 0xff), UInt8(len >> 8 & 0xff), UInt8(len & 0xff), 0, 0, 0, 58]
        pseudo += m
        let c = internetChecksum(pseudo[...])
        m[2] = UInt8(c >> 8)
        m[3] = UInt8(c & 0xff)
        return [0x60, 0, 0, 0, UInt8(len >> 8), UInt8(len & 0xff), 58, hopLimit] + source + destination + m
    }

    /// Whether `p` is a Router Solicitation.
    static func isRouterSolicitation(_ p: [UInt8]) -> Bool {
        p.count >= 48 && p[0] >> 4 == 6 && p[6] == 58 && p[40] == 133
    }

    /// What the network does with an IPv6 echo request of a call whose address is `own`:
    /// the address it answers as (the gateway or the remote), or why it drops the packet.
    func ipv6Verdict(_ e: Echo, own: [UInt8], gateway: [UInt8]) -> Result<[UInt8], Why> {
        DataPlane.ipv6Verdict(e, own: own, gateway: gateway, remote: sim.config.ipv6Remote)
    }

    /// The network's rule for IPv6 echoes, on every data path (QMI's and MBIM's alike).
    static func ipv6Verdict(_ e: Echo, own: [UInt8], gateway: [UInt8], remote: [UInt8]) -> Result<[UInt8], Why> {
        let linkLocalSource = e.source6[0] == 0xfe && e.source6[1] & 0xc0 == 0x80
        if linkLocalSource {
            return .failure(Why(text: "its source \(e.source) is link-local, sent to the global \(e.destination): the network drops it"))
        }
        guard Array(e.source6[0..<8]) == Array(own[0..<8]) else {
            let p = IPAddress(own)?.prefix64.bytes ?? own
            return .failure(Why(text: "its source \(e.source) is outside the call's \(Text.ipv6(p))/64: the network drops it"))
        }
        if e.destination6 == gateway || e.destination6 == remote { return .success(e.destination6) }
        return .failure(Why(text: "nothing answers at \(e.destination)"))
    }
}
