import Base
import DHCPClient

/// The module's DHCP server: the part of RFC 2131 that a link with one host and one address
/// to lease needs. The server identifier is the gateway address. A lease is held by one
/// client MAC; another MAC gets the address only after that lease has ended.
extension EthernetPlane {
    func dhcp(_ p: DHCPPacket, source: UInt32, destination: UInt32, _ a: Addressing) -> [[UInt8]] {
        guard let type = p.messageType else { return drop("DHCP without a message type") }
        let client = EthernetPlane.text(mac: p.chaddr)
        let what = "DHCP \(type.name) from \(client)"
        guard p.op == 1 else { return drop("\(what): a BOOTREPLY, which only servers send") }
        guard destination == 0xffff_ffff || destination == a.gateway else {
            return drop("\(what): sent to \(Text.ipv4(destination)), neither broadcast nor the server \(Text.ipv4(a.gateway))")
        }
        guard source == 0 || source == a.address else {
            return drop("\(what): sent from \(Text.ipv4(source)), neither 0.0.0.0 nor \(Text.ipv4(a.address)), the address the module leases")
        }
        guard p.giaddr == 0 else { return drop("\(what): relayed by \(Text.ipv4(p.giaddr)); the module serves its own link only") }
        if let h = held, clock() >= h.expires {
            log("the lease of \(Text.ipv4(h.address)) to \(EthernetPlane.text(mac: h.mac)) has ended")
            held = nil
        }
        // Another host holds the one address.
        let holder = held.flatMap { $0.mac == p.chaddr ? nil : EthernetPlane.text(mac: $0.mac) }

        switch type {
        case .discover:
            if let other = holder { return drop("\(what): the module's one address is leased to \(other)") }
            count.offers += 1
            log("OFFER \(Text.ipv4(a.address)) to \(client)")
            return [reply(.offer, to: p, a)]

        case .request:
            // SELECTING names the server it chose; INIT-REBOOT only the address; RENEWING and
            // REBINDING neither, but they send from the address (ciaddr).
            if let server = p.address(DHCPOption.serverID), server != a.gateway {
                return drop("\(what): the host chose server \(Text.ipv4(server)), not \(Text.ipv4(a.gateway))")
            }
            let wanted = p.address(DHCPOption.requestedIP) ?? p.ciaddr
            guard wanted != 0 else { return drop("\(what): names no address") }
            if wanted != a.address {
                return nak(p, a, "requested \(Text.ipv4(wanted)); the module leases \(Text.ipv4(a.address))")
            }
            if let other = holder { return nak(p, a, "\(Text.ipv4(wanted)) is leased to \(other)") }
            held = (p.chaddr, wanted, clock() + Int64(a.leaseSeconds) * 1000)
            count.acks += 1
            log("ACK \(Text.ipv4(wanted)) to \(client) for \(a.leaseSeconds) s")
            return [reply(.ack, to: p, a)]

        case .release:
            guard let h = held, h.mac == p.chaddr, h.address == p.ciaddr else {
                return drop("\(what) of \(Text.ipv4(p.ciaddr)): that host holds no such lease")
            }
            held = nil
            count.releases += 1
            log("\(client) released \(Text.ipv4(h.address))")
            return []

        case .decline:
            if held?.mac == p.chaddr { held = nil }
            let address = p.address(DHCPOption.requestedIP).map(Text.ipv4) ?? "?"
            return drop("\(what): the host finds \(address) in use; its lease is forgotten")

        default:
            return drop("\(what): not served (the module answers DISCOVER, REQUEST, RELEASE and DECLINE)")
        }
    }

    func nak(_ p: DHCPPacket, _ a: Addressing, _ why: String) -> [[UInt8]] {
        count.naks += 1
        log("NAK to \(EthernetPlane.text(mac: p.chaddr)): \(why)")
        return [reply(.nak, to: p, a, message: why)]
    }

    /// An OFFER, ACK or NAK to `p`, as a whole frame from the module.
    func reply(_ type: DHCPMessageType, to p: DHCPPacket, _ a: Addressing, message: String? = nil) -> [UInt8] {
        let r = DHCPPacket()
        r.op = 2
        r.xid = p.xid
        r.broadcast = p.broadcast
        r.chaddr = p.chaddr
        r.set(DHCPOption.messageType, [type.rawValue])
        r.set(DHCPOption.serverID, bigEndian(a.gateway))
        if type == .nak {
            if let m = message { r.set(DHCPOption.message, Array(m.utf8)) }
        } else {
            r.yiaddr = a.address
            if type == .ack { r.ciaddr = p.ciaddr }
            r.set(DHCPOption.leaseTime, bigEndian(a.leaseSeconds))
            r.set(DHCPOption.subnetMask, bigEndian(IPAddress.mask(ofPrefix: a.prefix)))
            r.set(DHCPOption.router, bigEndian(a.gateway))
            if !a.dns.isEmpty { r.set(DHCPOption.dns, a.dns.flatMap(bigEndian)) }
            let mtu = UInt16(clamping: a.mtu)   // option 26 has 16 bits
            r.set(DHCPOption.mtu, [UInt8(mtu >> 8), UInt8(mtu & 0xff)])
        }
        // Where it goes (RFC 2131 §4.1, no relay): a NAK is broadcast; a client that has an
        // address (renewing) gets it there; one that set the broadcast flag gets a broadcast;
        // any other gets it at the offered address and its own MAC.
        let everyone = type == .nak || (p.ciaddr == 0 && p.broadcast)
        let mac = everyone ? DHCPFrame.broadcastMAC : p.chaddr
        let ip = everyone ? 0xffff_ffff : p.ciaddr != 0 ? p.ciaddr : r.yiaddr
        ipID &+= 1
        return DHCPFrame.build(payload: r.encode(), srcMAC: moduleMAC, dstMAC: mac, srcIP: a.gateway, dstIP: ip,
                               srcPort: 67, dstPort: 68, ipID: ipID)
    }
}
