import Base

/// The module as the IPv6 router of its Ethernet link, as a UNISOC/ASR module with an IPv4v6
/// (or IPv6) context behaves: the network hands the module a /64, and the module advertises
/// it on usb0 for the host to form an address from (PIO with A=1 and L=1, its link-local
/// address as the router, the MTU, the network's DNS servers as RDNSS), when the call comes
/// up and on each Router Solicitation. It answers Neighbour Solicitations for its own two
/// addresses, and pings to its address and to the remote address under the network's rule
/// (`DataPlane.ipv6Verdict`): only from a source inside the /64. Like any IPv6 router, it
/// sends a packet to an address of the /64 only after Neighbour Discovery found who holds it
/// on the link: a board that extends the /64 to its LAN must answer for its LAN hosts (proxy
/// NDP). Nothing answers while the call has no IPv6.
extension EthernetPlane {
    /// The IPv6 side of a call: the module's own address in the /64 the network granted.
    struct IPv6Call {
        var address: [UInt8]
        var dns: [[UInt8]]
        var mtu: UInt32
    }

    /// The call has IPv6 too (or only): the module's address and the network's DNS servers.
    /// The module advertises the /64 at once.
    public func ipv6Up(address: [UInt8], dns: [[UInt8]], mtu: UInt32 = 1500) {
        let ra: [UInt8]? = locked {
            guard address.count == 16 else { return nil }
            callV6 = IPv6Call(address: address, dns: dns.filter { $0.count == 16 }, mtu: mtu)
            setCarrier(true)
            log("call up: IPv6 \(Text.ipv6(address)), advertising \(Text.ipv6(prefix64(address)))/64")
            return routerAdvertisement()
        }
        if let f = ra { tap?.write(f) }
    }

    /// The module's link-local address, from its MAC (modified EUI-64).
    var linkLocal: [UInt8] {
        [0xfe, 0x80, 0, 0, 0, 0, 0, 0, moduleMAC[0] ^ 2, moduleMAC[1], moduleMAC[2], 0xff, 0xfe, moduleMAC[3], moduleMAC[4], moduleMAC[5]]
    }

    func prefix64(_ a: [UInt8]) -> [UInt8] { Array(a[0..<8]) + [UInt8](repeating: 0, count: 8) }

    /// The module's RA to all nodes, as an Ethernet frame (nil: the call has no IPv6).
    func routerAdvertisement() -> [UInt8]? {
        guard let v6 = callV6 else { return nil }
        guard advertising else {
            log("no router advertisement (the module is set to send none)")
            return nil
        }
        func be32(_ v: UInt32) -> [UInt8] { bigEndian(v) }
        // Hop limit 64, no M/O flags, router lifetime 1800 s.
        var icmp: [UInt8] = [134, 0, 0, 0, 64, 0, 0x07, 0x08] + be32(0) + be32(0)
        icmp += [1, 1] + moduleMAC
        icmp += [3, 4, 64, 0xc0] + be32(86400) + be32(14400) + be32(0) + prefix64(v6.address)
        icmp += [5, 1, 0, 0] + be32(v6.mtu)
        if !v6.dns.isEmpty {
            icmp += [25, UInt8(1 + 2 * v6.dns.count), 0, 0] + be32(1800) + v6.dns.flatMap { $0 }
        }
        count.advertisements += 1
        return [0x33, 0x33, 0, 0, 0, 1] + moduleMAC + [0x86, 0xdd]
            + DataPlane.ipv6Packet(source: linkLocal, destination: DataPlane.allNodes, hopLimit: 255, icmp: icmp)
    }

    /// `packet` to `address` on the link: at once to a known neighbour; otherwise it waits
    /// (the latest 16) while a Neighbour Solicitation asks who has the address.
    func send(_ packet: [UInt8], to address: [UInt8]) -> [[UInt8]] {
        if let mac = neighbours[address] { return [mac + moduleMAC + [0x86, 0xdd] + packet] }
        unresolved.append((address, packet))
        if unresolved.count > 16 { unresolved.removeFirst() }
        let group: [UInt8] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff] + Array(address[13..<16])
        let icmp: [UInt8] = [135, 0, 0, 0, 0, 0, 0, 0] + address + [1, 1] + moduleMAC
        log("who has \(Text.ipv6(address))? (neighbour solicitation)")
        return [[0x33, 0x33] + Array(group[12..<16]) + moduleMAC + [0x86, 0xdd]
                + DataPlane.ipv6Packet(source: linkLocal, destination: group, hopLimit: 255, icmp: icmp)]
    }

    /// A Neighbour Advertisement: the target's MAC is known, and what waited for it goes out.
    func neighbourAdvertised(_ ip: [UInt8], from: [UInt8]) -> [[UInt8]] {
        guard ip.count >= 64 else { return drop("a neighbour advertisement without its target") }
        let target = Array(ip[48..<64])
        let mac = linkLayerOption(ip, type: 2) ?? from
        neighbours[target] = mac
        let ready = unresolved.filter { $0.address == target }
        unresolved.removeAll { $0.address == target }
        return ready.map { mac + moduleMAC + [0x86, 0xdd] + $0.packet }
    }

    /// The link-layer address option (1 source, 2 target) of an NS or NA in `ip`.
    func linkLayerOption(_ ip: [UInt8], type: UInt8) -> [UInt8]? {
        var o = 64
        while o + 8 <= ip.count {
            let length = Int(ip[o + 1]) * 8
            guard length > 0, o + length <= ip.count else { return nil }
            if ip[o] == type && length == 8 { return Array(ip[(o + 2)..<(o + 8)]) }
            o += length
        }
        return nil
    }

    /// An IPv6 frame from the host (`f` the whole frame).
    func ipv6(_ f: [UInt8]) -> [[UInt8]] {
        let from = Array(f[6..<12])
        guard f.count >= 14 + 48 else { return drop("IPv6 in a \(f.count)-byte frame: too short for ICMPv6") }
        let length = Int(f[18]) << 8 | Int(f[19])
        guard f[14] >> 4 == 6, 14 + 40 + length <= f.count, length >= 8 else { return drop("IPv6 with a bad header") }
        let ip = Array(f[14..<(14 + 40 + length)])
        let source = Array(ip[8..<24]), destination = Array(ip[24..<40])
        let what = "IPv6 to \(Text.ipv6(destination)) from \(Text.ipv6(source))"
        guard let v6 = callV6 else { return drop("\(what): the call has no IPv6, and nothing on the module answers") }
        guard ip[6] == 58 else { return drop("\(what), next header \(ip[6]) (MLD reports come so): the module answers only ICMPv6 here") }
        switch ip[40] {
        case 133:
            count.solicitations += 1
            return routerAdvertisement().map { [$0] } ?? []
        case 136:
            return neighbourAdvertised(ip, from: from)
        case 135:
            guard ip.count >= 64 else { return drop("a neighbour solicitation without its target") }
            let target = Array(ip[48..<64])
            if !source.allSatisfy({ $0 == 0 }), let mac = linkLayerOption(ip, type: 1) { neighbours[source] = mac }
            guard target == linkLocal || target == v6.address else {
                return drop("neighbour solicitation for \(Text.ipv6(target)) from \(Text.ipv6(source)): not one of the module's addresses")
            }
            // From :: it is a duplicate address check of the module's own address: defended.
            let unspecified = source.allSatisfy { $0 == 0 }
            let to = unspecified ? DataPlane.allNodes : source
            let flags: UInt8 = unspecified ? 0xa0 : 0xe0            // router, (solicited,) override
            let icmp: [UInt8] = [136, 0, 0, 0, flags, 0, 0, 0] + target + [2, 1] + moduleMAC
            let mac = unspecified ? [0x33, 0x33, 0, 0, 0, 1] : from
            return [mac + moduleMAC + [0x86, 0xdd] + DataPlane.ipv6Packet(source: target, destination: to, hopLimit: 255, icmp: icmp)]
        case 128:
            guard let e = DataPlane.Echo(ip) else { return drop("\(what): a malformed echo request") }
            let answerAs: [UInt8]
            if destination == linkLocal {
                answerAs = linkLocal
            } else {
                switch DataPlane.ipv6Verdict(e, own: v6.address, gateway: v6.address, remote: ipv6Remote) {
                case .success(let a): answerAs = a
                case .failure(let why): return drop("ping to \(Text.ipv6(destination)): " + why.text)
                }
            }
            guard let reply = TunDevice.echoReply(ip, ipv4: 0, ipv6: answerAs) else { return drop("\(what): no reply could be made") }
            count.echoes += 1
            return send(reply, to: source)
        default:
            return drop("\(what), ICMPv6 type \(ip[40]): the module answers RS, NS and echo requests here")
        }
    }
}
