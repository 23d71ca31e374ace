import Base
import CSystem

/// The QMAP links qcm makes under the modem's netdev (the parent), and what it changes on
/// the parent for them — remembered, so that `removeAll` leaves the parent as it found it.
///
/// - upstream qmi_wwan: a `qmimuxN` link per mux id, created by writing the id to
///   `qmi/add_mux` and removed through `qmi/del_mux`; the kernel picks the name, qcm finds
///   it through `qmimuxN/qmap/mux_id` and the parent's `upper_qmimuxN` link.
/// - rmnet: `qmi/pass_through` set, then one RTM_NEWLINK of kind "rmnet" per mux id.
/// - Quectel's qmi_wwan_q / pcie_mhi make their links themselves; qcm only tells them which
///   mux carries a call (`link_state`).
public final class DataLinks {
    public enum Kind: Equatable { case qmimux, rmnet }

    public struct Link {
        public let mux: UInt8
        public let name: String
        public let kind: Kind
    }

    public let sysRoot: String
    public let parent: String
    let netlink: Netlink
    public private(set) var links: [Link] = []
    public var log: (String) -> Void = { _ in }

    /// What the parent was like before qcm changed it.
    var raisedParent = false
    var originalMTU: UInt32?
    var setPassThrough = false

    public init(sysRoot: String, parent: String) throws(LinkError) {
        self.sysRoot = sysRoot
        self.parent = parent
        netlink = try Netlink()
    }

    public var parentAttributes: String { sysRoot + "/class/net/" + parent }

    /// Brings the parent up, its MTU first raised to `mtu` when smaller: with QMAP the
    /// parent's MTU is qmi_wwan's receive buffer, and the modem's aggregates must fit.
    public func prepareParent(mtu: UInt32?) throws(LinkError) {
        let index = try netlink.index(of: parent)
        guard let link = try netlink.link(index) else { throw .noSuchInterface(parent) }
        if let want = mtu, link.mtu < want {
            try netlink.setLink(index, name: parent, mtu: want)
            if originalMTU == nil { originalMTU = link.mtu }
            log("\(parent): MTU \(link.mtu) -> \(want) (the modem's downlink aggregates)")
        }
        if !link.isUp {
            try netlink.setLink(index, name: parent, up: true)
            raisedParent = true
            log("\(parent): up (the QMAP parent)")
        }
    }

    // MARK: qmimux

    /// The qmimux link of `mux` on this parent, if there is one.
    public func findQMIMux(_ mux: UInt8) -> String? {
        for name in Files.list(sysRoot + "/class/net") ?? [] where name.begins(with: "qmimux") {
            guard DataLinks.muxID(Files.readSmall(sysRoot + "/class/net/\(name)/qmap/mux_id")) == mux,
                  Files.existsOrLinks(parentAttributes + "/upper_" + name) else { continue }
            return name
        }
        return nil
    }

    /// "0x81\n" (qmap/mux_id, add_mux listings) → 0x81.
    public static func muxID(_ bytes: [UInt8]?) -> UInt8? {
        guard let b = bytes else { return nil }
        let t = Text.trimmed(String(decoding: b, as: UTF8.self))
        guard let v = Text.parseInt(t), v > 0, v < 0xff else { return nil }
        return UInt8(v)
    }

    /// Asks qmi_wwan for the qmimux link of `mux`. A link for it that already exists was left
    /// by a qcm that was killed (the caller holds the mux's lock) and is taken over.
    /// Returns the link's name when it exists already; nil when it is being created (the
    /// kernel creates it at once; look for it with `findQMIMux`).
    public func addQMIMux(_ mux: UInt8) throws(LinkError) -> String? {
        if let name = findQMIMux(mux) {
            log("\(name) (mux 0x\(Text.hex(mux))) exists already, left by a qcm that was stopped with -9: taking it over")
            remember(Link(mux: mux, name: name, kind: .qmimux))
            return name
        }
        let path = parentAttributes + "/qmi/add_mux"
        do throws(SystemError) {
            try Files.writeAttribute(path, "0x" + Text.hex(mux) + "\n")
        } catch {
            // Before Linux 5.12 add_mux refused while the parent was up.
            guard error.errno.code == EBUSY else { throw .system(error) }
            let index = try netlink.index(of: parent)
            try netlink.setLink(index, name: parent, up: false)
            do throws(SystemError) { try Files.writeAttribute(path, "0x" + Text.hex(mux) + "\n") } catch {
                try? netlink.setLink(index, name: parent, up: true)
                throw .system(error)
            }
            try netlink.setLink(index, name: parent, up: true)
        }
        return nil
    }

    /// Records the qmimux link found after `addQMIMux`.
    public func adoptQMIMux(_ mux: UInt8, name: String) { remember(Link(mux: mux, name: name, kind: .qmimux)) }

    // MARK: rmnet

    /// Creates the rmnet link of `mux` (named after the parent, like Quectel's children:
    /// wwan0_1 for 0x81), with rmnet's data format `flags`. A link of that name that is an
    /// rmnet link already was left by a qcm that was killed, and is made again.
    public func addRmnet(_ mux: UInt8, flags: UInt32) throws(LinkError) -> String {
        let pass = parentAttributes + "/qmi/pass_through"
        if !setPassThrough, Files.exists(pass) {
            do throws(SystemError) { try Files.writeAttribute(pass, "Y") } catch { throw .system(error) }
            setPassThrough = true
        }
        let name = DataLinks.rmnetName(parent: parent, mux: mux)
        let parentIndex = try netlink.index(of: parent)
        if let old = try? netlink.index(of: name) {
            guard let kind = try? netlink.linkKind(old), kind.equals("rmnet") else {
                throw .invalid("cannot create rmnet link \(name) for mux 0x\(Text.hex(mux)): an interface of that name exists and is not an rmnet link")
            }
            log("\(name) exists already, left by a qcm that was stopped with -9: making it again")
            try netlink.deleteLink(old, name: name)
        }
        do throws(LinkError) {
            try netlink.addRmnet(name: name, parent: parentIndex, mux: mux, flags: flags)
        } catch {
            if error.errno == EOPNOTSUPP {
                throw .invalid("the kernel has no rmnet driver (CONFIG_RMNET): load it (modprobe rmnet) or use --data-path qmimux")
            }
            throw error
        }
        remember(Link(mux: mux, name: name, kind: .rmnet))
        return name
    }

    /// wwan0 + 0x81 → wwan0_1; names that would not fit IFNAMSIZ become rmnet_q1.
    public static func rmnetName(parent: String, mux: UInt8) -> String {
        let n = Int(mux) - 0x80
        let name = parent + "_\(n)"
        return name.utf8.count <= 15 ? name : "rmnet_q\(n)"
    }

    // MARK: link_state

    /// qmi_wwan_q / pcie_mhi: the call on `mux` is up or down. With qmap_mode 1 the attribute
    /// is a switch (1/0); with more muxes a write of `mux & 0x7f` sets that mux's bit and
    /// `0x80 | mux & 0x7f` clears it.
    public func setLinkState(mux: UInt8, up: Bool, qmapMode: Int) throws(LinkError) {
        let value = DataLinks.linkStateValue(mux: mux, up: up, qmapMode: qmapMode)
        do throws(SystemError) { try Files.writeAttribute(parentAttributes + "/link_state", "\(value)\n") } catch {
            throw .system(error)
        }
    }

    public static func linkStateValue(mux: UInt8, up: Bool, qmapMode: Int) -> Int {
        qmapMode <= 1 ? (up ? 1 : 0) : (up ? 0 : 0x80) | Int(mux & 0x7f)
    }

    // MARK: removal

    func remember(_ l: Link) {
        links.removeAll { $0.mux == l.mux }
        links.append(l)
    }

    /// Removes the link of `mux`; problems are logged (the link may be gone with the modem).
    public func remove(mux: UInt8) {
        guard let l = links.first(where: { $0.mux == mux }) else { return }
        links.removeAll { $0.mux == mux }
        switch l.kind {
        case .qmimux:
            do throws(SystemError) { try Files.writeAttribute(parentAttributes + "/qmi/del_mux", "0x" + Text.hex(mux) + "\n") } catch {
                log("removing \(l.name): \(error.description)")
            }
        case .rmnet:
            do throws(LinkError) { try netlink.deleteLink(try netlink.index(of: l.name), name: l.name) } catch {
                log("removing \(l.name): \(error.description)")
            }
        }
    }

    /// Removes every link qcm made and puts the parent back (pass_through, MTU, down) —
    /// unless `shared` (another qcm serves a PDN of this modem) or links qcm did not make are
    /// still on it: their traffic goes through the parent too.
    public func removeAll(shared: Bool) {
        let ours = links.map { "upper_" + $0.name }
        for l in links { remove(mux: l.mux) }
        let others = (Files.list(parentAttributes) ?? []).contains { n in n.begins(with: "upper_") && !ours.contains { $0.equals(n) } }
        if shared || others {
            log("\(parent) left up: " + (shared ? "another qcm uses this modem" : "links qcm did not make are on it"))
            return
        }
        if setPassThrough {
            setPassThrough = false
            try? Files.writeAttribute(parentAttributes + "/qmi/pass_through", "N")
        }
        guard raisedParent || originalMTU != nil, let index = try? netlink.index(of: parent) else { return }
        if raisedParent { try? netlink.setLink(index, name: parent, up: false) }
        if let m = originalMTU { try? netlink.setLink(index, name: parent, mtu: m) }
        raisedParent = false
        originalMTU = nil
    }
}
