import Base
import CSystem

/// rtnetlink numbers (stable kernel ABI), spelled out so the Swift types stay simple.
enum RT {
    static let newLink: UInt16 = 16, delLink: UInt16 = 17, getLink: UInt16 = 18
    static let newAddr: UInt16 = 20, delAddr: UInt16 = 21, getAddr: UInt16 = 22
    static let newRoute: UInt16 = 24, delRoute: UInt16 = 25, getRoute: UInt16 = 26
    static let request: UInt16 = 0x1, ack: UInt16 = 0x4, dump: UInt16 = 0x300
    static let replace: UInt16 = 0x100, excl: UInt16 = 0x200, create: UInt16 = 0x400
    static let iflaAddress: UInt16 = 1, iflaIfname: UInt16 = 3, iflaMTU: UInt16 = 4, iflaLink: UInt16 = 5
    static let iflaLinkinfo: UInt16 = 18, infoKind: UInt16 = 1, infoData: UInt16 = 2
    /// IFLA_MASTER: the bridge (or bond) a link is a port of.
    static let iflaMaster: UInt16 = 10
    static let rmnetMuxID: UInt16 = 1, rmnetFlags: UInt16 = 2
    /// IFLA_PARENT_DEV_NAME (the WWAN device a wwan link belongs to), IFLA_WWAN_LINK_ID.
    static let iflaParentDevName: UInt16 = 56, wwanLinkID: UInt16 = 1
    static let nested: UInt16 = 0x8000
    static let ifaAddress: UInt16 = 1, ifaLocal: UInt16 = 2, ifaFlags: UInt16 = 8, ifaProto: UInt16 = 11
    static let rtaDst: UInt16 = 1, rtaOif: UInt16 = 4, rtaGateway: UInt16 = 5, rtaPriority: UInt16 = 6, rtaTable: UInt16 = 15
    static let rtaCacheInfo: UInt16 = 12
    static let tableMain: UInt32 = 254
    static let protoStatic: UInt8 = 4
    /// The protocol qcm marks its routes (rtm_protocol) and addresses (IFA_PROTO, Linux 6.3+)
    /// with, so a qcm started after one that was killed recognises what that one left
    /// (`ip route show proto 113`). Unassigned in linux/rtnetlink.h.
    public static let protoQCM: UInt8 = 113
    static let scopeUniverse: UInt8 = 0, scopeLink: UInt8 = 253
    static let unicast: UInt8 = 1
    static let nodad: UInt32 = 0x02, permanent: UInt32 = 0x80
    /// Route protocols of routes that come with an address (kernel) or from the network's
    /// Router Advertisements (ra): not anyone's configuration.
    static let protoKernel: UInt8 = 2, protoRA: UInt8 = 9
}

public struct LinkInfo: Equatable {
    public let index: Int32
    public let name: String
    public let flags: UInt32
    public let mtu: UInt32
    public let type: UInt16
    /// The index of the bridge (or bond) this link is a port of; 0: none.
    public var master: Int32 = 0
    public var isUp: Bool { flags & 1 != 0 }
}

/// An address on an interface. Immutable, and a class for the same reason as RouteInfo.
public final class AddressInfo: Equatable {
    public let index: Int32
    public let address: IPAddress
    public let prefix: Int
    /// IFA_PROTO: who added it (RT.protoQCM: a qcm); 0 when the kernel does not say.
    public let proto: UInt8
    /// Link scope (IPv6 fe80::/10, IPv4 169.254/16 set so): not a call's address.
    public let linkScope: Bool
    /// IFA_F_PERMANENT: configured (by hand, a script, a program), not formed by the kernel
    /// from a Router Advertisement.
    public let permanent: Bool

    public init(index: Int32, address: IPAddress, prefix: Int, proto: UInt8 = 0, linkScope: Bool = false, permanent: Bool = true) {
        self.index = index
        self.address = address
        self.prefix = prefix
        self.proto = proto
        self.linkScope = linkScope
        self.permanent = permanent
    }

    public static func == (a: AddressInfo, b: AddressInfo) -> Bool {
        a.index == b.index && a.address == b.address && a.prefix == b.prefix
    }
}

/// A route as the kernel reports it (or as qcm adds it). Immutable, and a class: route lists
/// are searched and handed around a lot, and a struct copy retains both addresses each time.
public final class RouteInfo: Equatable {
    public let family: Family
    public let destination: IPAddress?
    public let prefix: Int
    public let gateway: IPAddress?
    public let outputIndex: Int32?
    public let metric: UInt32
    public let table: UInt32
    public let proto: UInt8
    /// The route ends by itself (rta_cacheinfo's expiry): made from a Router Advertisement.
    public let expires: Bool
    public var isDefault: Bool { prefix == 0 }

    public init(family: Family, destination: IPAddress?, prefix: Int, gateway: IPAddress?, outputIndex: Int32?,
                metric: UInt32, table: UInt32, proto: UInt8, expires: Bool = false) {
        self.family = family
        self.destination = destination
        self.prefix = prefix
        self.gateway = gateway
        self.outputIndex = outputIndex
        self.metric = metric
        self.table = table
        self.proto = proto
        self.expires = expires
    }

    public static func == (a: RouteInfo, b: RouteInfo) -> Bool {
        a.family == b.family && a.destination == b.destination && a.prefix == b.prefix && a.gateway == b.gateway
            && a.outputIndex == b.outputIndex && a.metric == b.metric && a.table == b.table && a.proto == b.proto
    }
}

extension Netlink {
    // MARK: links

    public func index(of name: String) throws(LinkError) -> Int32 {
        guard !name.isEmpty, name.utf8.count < 16 else { throw .invalid("'\(name)' is not a valid interface name") }
        var m = Message(type: RT.getLink, flags: RT.request | RT.ack)
        Netlink.ifinfo(&m, index: 0, flags: 0, change: 0)
        m.attributeString(RT.iflaIfname, name)
        let replies: [[UInt8]]
        do throws(LinkError) {
            replies = try query(m, operation: "look up interface \(name)")
        } catch {
            if error.errno == ENODEV { throw .noSuchInterface(name) }
            throw error
        }
        guard let first = replies.first, let link = Netlink.parseLink(first) else { throw .noSuchInterface(name) }
        return link.index
    }

    public func link(_ index: Int32) throws(LinkError) -> LinkInfo? { try links().first { $0.index == index } }

    public func links() throws(LinkError) -> [LinkInfo] {
        var m = Message(type: RT.getLink, flags: RT.request | RT.dump)
        Netlink.ifinfo(&m, index: 0, flags: 0, change: 0)
        return try dump(m, operation: "list links").compactMap(Netlink.parseLink)
    }

    /// Brings the link up or down and/or sets its MTU.
    public func setLink(_ index: Int32, name: String, up: Bool? = nil, mtu: UInt32? = nil) throws(LinkError) {
        var m = Message(type: RT.newLink, flags: RT.request | RT.ack)
        Netlink.ifinfo(&m, index: index, flags: up == true ? 1 : 0, change: up == nil ? 0 : 1)
        if let mtu { m.attribute32(RT.iflaMTU, mtu) }
        var what: [String] = []
        if let up { what.append(up ? "up" : "down") }
        if let mtu { what.append("mtu \(mtu)") }
        try transact(m, operation: "set \(name) " + what.joined(separator: " "))
    }

    /// Creates an rmnet link `name` for QMAP mux id `mux` over the link `parent`, with rmnet's
    /// data format `flags` (RMNET_FLAGS_*: deaggregation, checksum offload).
    public func addRmnet(name: String, parent: Int32, mux: UInt8, flags: UInt32) throws(LinkError) {
        try transact(Netlink.rmnetMessage(name: name, parent: parent, mux: mux, flags: flags),
                     operation: "create rmnet link \(name) (mux 0x\(Text.hex(mux)))")
    }

    static func rmnetMessage(name: String, parent: Int32, mux: UInt8, flags: UInt32) -> Message {
        var m = Message(type: RT.newLink, flags: RT.request | RT.ack | RT.create | RT.excl)
        Netlink.ifinfo(&m, index: 0, flags: 0, change: 0)
        m.attributeString(RT.iflaIfname, name)
        m.attribute32(RT.iflaLink, UInt32(bitPattern: parent))
        let data = Netlink.attribute(RT.rmnetMuxID, withUnsafeBytes(of: UInt16(mux)) { Array($0) })
            + Netlink.attribute(RT.rmnetFlags, withUnsafeBytes(of: flags) { Array($0) } + withUnsafeBytes(of: flags) { Array($0) })
        m.attribute(RT.iflaLinkinfo | RT.nested,
                    Netlink.attribute(RT.infoKind, Array("rmnet".utf8)) + Netlink.attribute(RT.infoData | RT.nested, data))
        return m
    }

    /// Creates a link `name` of kind "wwan" on WWAN device `device` ("wwan0", a device of
    /// class wwan, not a netdev) with link id `linkID` (mhi_wwan_mbim: the MBIM session).
    public func addWWAN(name: String, device: String, linkID: UInt32) throws(LinkError) {
        try transact(Netlink.wwanMessage(name: name, device: device, linkID: linkID),
                     operation: "create wwan link \(name) (link id \(linkID) of \(device))")
    }

    static func wwanMessage(name: String, device: String, linkID: UInt32) -> Message {
        var m = Message(type: RT.newLink, flags: RT.request | RT.ack | RT.create | RT.excl)
        Netlink.ifinfo(&m, index: 0, flags: 0, change: 0)
        m.attributeString(RT.iflaIfname, name)
        m.attributeString(RT.iflaParentDevName, device)
        let data = Netlink.attribute(RT.wwanLinkID, withUnsafeBytes(of: linkID) { Array($0) })
        m.attribute(RT.iflaLinkinfo | RT.nested,
                    Netlink.attribute(RT.infoKind, Array("wwan".utf8)) + Netlink.attribute(RT.infoData | RT.nested, data))
        return m
    }

    /// One attribute (length, type, payload, padding), for nesting.
    static func attribute(_ type: UInt16, _ data: [UInt8]) -> [UInt8] {
        var b = withUnsafeBytes(of: UInt16(4 + data.count)) { Array($0) } + withUnsafeBytes(of: type) { Array($0) } + data
        while b.count % 4 != 0 { b.append(0) }
        return b
    }

    public func deleteLink(_ index: Int32, name: String) throws(LinkError) {
        var m = Message(type: RT.delLink, flags: RT.request | RT.ack)
        Netlink.ifinfo(&m, index: index, flags: 0, change: 0)
        try transact(m, operation: "delete link \(name)")
    }

    /// IFLA_INFO_KIND of a link ("rmnet", "veth", ...), nil for links without one.
    public func linkKind(_ index: Int32) throws(LinkError) -> String? {
        var m = Message(type: RT.getLink, flags: RT.request | RT.ack)
        Netlink.ifinfo(&m, index: index, flags: 0, change: 0)
        guard let reply = try query(m, operation: "look up link \(index)").first else { return nil }
        for (t, v) in Netlink.attributes(reply, from: 32) where t == RT.iflaLinkinfo {
            for (k, kind) in Netlink.attributes(v, from: 0) where k == RT.infoKind {
                return String(decoding: kind.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return nil
    }

    static func ifinfo(_ m: inout Message, index: Int32, flags: UInt32, change: UInt32) {
        m.append8(0)          // AF_UNSPEC
        m.append8(0)
        m.append16(0)
        m.append32(UInt32(bitPattern: index))
        m.append32(flags)
        m.append32(change)
    }

    static func parseLink(_ b: [UInt8]) -> LinkInfo? {
        let r = Reader(b: b)
        guard b.count >= 32, let type = r.u16(18), let index = r.i32(20), let flags = r.u32(24) else { return nil }
        var name = "", mtu: UInt32 = 0, master: Int32 = 0
        for (t, v) in attributes(b, from: 32) {
            if t == RT.iflaIfname { name = String(decoding: v.prefix { $0 != 0 }, as: UTF8.self) }
            if t == RT.iflaMTU, v.count >= 4 { mtu = Reader(b: v).u32(0) ?? 0 }
            if t == RT.iflaMaster, v.count >= 4 { master = Reader(b: v).i32(0) ?? 0 }
        }
        return LinkInfo(index: index, name: name, flags: flags, mtu: mtu, type: type, master: master)
    }

    // MARK: addresses

    public func addresses(_ family: Family? = nil, index: Int32? = nil) throws(LinkError) -> [AddressInfo] {
        var m = Message(type: RT.getAddr, flags: RT.request | RT.dump)
        ifaddr(&m, family: family?.rawValue ?? 0, prefix: 0, flags: 0, scope: 0, index: 0)
        return try dump(m, operation: "list addresses").compactMap(Netlink.parseAddress).filter {
            (family == nil || $0.address.family == family) && (index == nil || $0.index == index)
        }
    }

    public func addAddress(_ index: Int32, name: String, _ a: IPAddress, prefix: Int, replace: Bool = false) throws(LinkError) {
        var m = Message(type: RT.newAddr, flags: RT.request | RT.ack | RT.create | (replace ? RT.replace : RT.excl))
        ifaddr(&m, family: a.family.rawValue, prefix: UInt8(prefix), flags: 0, scope: RT.scopeUniverse, index: index)
        m.attribute(RT.ifaLocal, a.bytes)
        m.attribute(RT.ifaAddress, a.bytes)
        if a.family == .ipv6 { m.attribute32(RT.ifaFlags, RT.nodad) }
        m.attribute(RT.ifaProto, [RT.protoQCM])         // older kernels ignore it
        try transact(m, operation: "add address \(a.text)/\(prefix) to \(name)")
    }

    public func deleteAddress(_ index: Int32, name: String, _ a: IPAddress, prefix: Int) throws(LinkError) {
        var m = Message(type: RT.delAddr, flags: RT.request | RT.ack)
        ifaddr(&m, family: a.family.rawValue, prefix: UInt8(prefix), flags: 0, scope: 0, index: index)
        m.attribute(RT.ifaLocal, a.bytes)
        try transact(m, operation: "delete address \(a.text)/\(prefix) from \(name)")
    }

    /// Deletes every address of `family` on the link (what `ip addr flush` does).
    public func flushAddresses(_ index: Int32, name: String, _ family: Family) throws(LinkError) {
        for a in try addresses(family, index: index) {
            do throws(LinkError) {
                try deleteAddress(index, name: name, a.address, prefix: a.prefix)
            } catch {
                // Deleting a primary IPv4 address takes its secondaries with it.
                if error.errno != EADDRNOTAVAIL { throw error }
            }
        }
    }

    func ifaddr(_ m: inout Message, family: UInt8, prefix: UInt8, flags: UInt8, scope: UInt8, index: Int32) {
        m.append8(family)
        m.append8(prefix)
        m.append8(flags)
        m.append8(scope)
        m.append32(UInt32(bitPattern: index))
    }

    static func parseAddress(_ b: [UInt8]) -> AddressInfo? {
        guard b.count >= 24, let idx = Reader(b: b).i32(20) else { return nil }
        let prefix = Int(b[17])
        var local: IPAddress?, address: IPAddress?
        var proto: UInt8 = 0
        var flags = UInt32(b[18])
        for (t, v) in attributes(b, from: 24) {
            if t == RT.ifaLocal { local = IPAddress(v) }
            if t == RT.ifaAddress { address = IPAddress(v) }
            if t == RT.ifaProto, let p = v.first { proto = p }
            if t == RT.ifaFlags, let f = Reader(b: v).u32(0) { flags = f }
        }
        guard let a = local ?? address else { return nil }
        return AddressInfo(index: idx, address: a, prefix: prefix, proto: proto, linkScope: b[19] == RT.scopeLink,
                           permanent: flags & RT.permanent != 0)
    }

    // MARK: routes

    public func routes(_ family: Family) throws(LinkError) -> [RouteInfo] {
        var m = Message(type: RT.getRoute, flags: RT.request | RT.dump)
        rtmsg(&m, family: family.rawValue, dstLen: 0, table: 0, proto: 0, scope: 0, type: 0)
        return try dump(m, operation: "list routes").compactMap(Netlink.parseRoute).filter { $0.table == RT.tableMain }
    }

    /// Adds a route in the main table; `gateway` nil means a device route (point-to-point).
    public func addRoute(_ r: RouteInfo, name: String, replace: Bool = false) throws(LinkError) {
        var m = Message(type: RT.newRoute, flags: RT.request | RT.ack | RT.create | (replace ? RT.replace : RT.excl))
        route(&m, r)
        try transact(m, operation: "add \(describe(r, name))")
    }

    public func deleteRoute(_ r: RouteInfo, name: String) throws(LinkError) {
        var m = Message(type: RT.delRoute, flags: RT.request | RT.ack)
        route(&m, r)
        try transact(m, operation: "delete \(describe(r, name))")
    }

    func describe(_ r: RouteInfo, _ name: String) -> String {
        let dst = r.prefix == 0 ? "default" : "\(r.destination?.text ?? "?")/\(r.prefix)"
        var s = (r.family == .ipv6 ? "IPv6 " : "IPv4 ") + "route \(dst)"
        if let g = r.gateway { s += " via \(g.text)" }
        return s + " dev \(name) metric \(r.metric)"
    }

    func route(_ m: inout Message, _ r: RouteInfo) {
        let scope = r.gateway == nil && r.family == .ipv4 ? RT.scopeLink : RT.scopeUniverse
        rtmsg(&m, family: r.family.rawValue, dstLen: UInt8(r.prefix), table: UInt8(RT.tableMain), proto: r.proto,
              scope: scope, type: RT.unicast)
        if let d = r.destination, r.prefix > 0 { m.attribute(RT.rtaDst, d.bytes) }
        if let g = r.gateway { m.attribute(RT.rtaGateway, g.bytes) }
        if let o = r.outputIndex { m.attribute32(RT.rtaOif, UInt32(bitPattern: o)) }
        m.attribute32(RT.rtaPriority, r.metric)
    }

    func rtmsg(_ m: inout Message, family: UInt8, dstLen: UInt8, table: UInt8, proto: UInt8, scope: UInt8, type: UInt8) {
        m.append8(family)
        m.append8(dstLen)
        m.append8(0)          // src_len
        m.append8(0)          // tos
        m.append8(table)
        m.append8(proto)
        m.append8(scope)
        m.append8(type)
        m.append32(0)         // flags
    }

    static func parseRoute(_ b: [UInt8]) -> RouteInfo? {
        guard b.count >= 28, let fam = Family(rawValue: b[16]) else { return nil }
        var table = UInt32(b[20])
        var dst: IPAddress?, gw: IPAddress?, oif: Int32?, metric: UInt32 = 0, expires = false
        for (t, v) in attributes(b, from: 28) {
            switch t {
            case RT.rtaDst: dst = IPAddress(v)
            case RT.rtaGateway: gw = IPAddress(v)
            case RT.rtaOif: oif = Reader(b: v).i32(0)
            case RT.rtaPriority: metric = Reader(b: v).u32(0) ?? 0
            case RT.rtaTable: table = Reader(b: v).u32(0) ?? table
            case RT.rtaCacheInfo: expires = (Reader(b: v).u32(8) ?? 0) != 0     // clntref, lastuse, expires
            default: break
            }
        }
        return RouteInfo(family: fam, destination: dst, prefix: Int(b[17]), gateway: gw, outputIndex: oif,
                         metric: metric, table: table, proto: b[21], expires: expires)
    }
}
