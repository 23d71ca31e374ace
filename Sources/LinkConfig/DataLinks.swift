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
/// - the upstream kernel's mhi_net (mhi_hwipN) hands QMAP through like pass_through: rmnet
///   links on it, nothing to switch.
/// - MBIM over the WWAN subsystem (mhi_wwan_mbim): one RTM_NEWLINK of kind "wwan" per MBIM
///   session other than the default link's, its link id the session id; `mux` then holds
///   the session.
public final class DataLinks {
    public enum Kind: Equatable { case qmimux, rmnet, wwan }

    public struct Link {
        /// The QMAP mux id, or a wwan link's MBIM session id.
        public let mux: UInt8
        public let name: String
        public let kind: Kind
    }

    public let sysRoot: String
    public let parent: String
    let netlink: Netlink
    public private(set) var links: [Link] = []
    public var log: (String) -> Void = { _ in }

    /// What the parent was like before any qcm changed it (nil: nothing changed yet). Kept
    /// in the run directory too (`recordPath`) while changed, so the qcm that follows one
    /// killed with -9 still knows and puts it back.
    struct Original: Equatable {
        var up: Bool
        var mtu: UInt32
        /// qmi/pass_through was N (rmnet made it Y).
        var passThroughOff = false
    }
    var original: Original?
    public var recordPath: String?

    public init(sysRoot: String, parent: String, recordPath: String? = nil) throws(LinkError) {
        self.sysRoot = sysRoot
        self.parent = parent
        self.recordPath = recordPath
        netlink = try Netlink()
        original = recordPath.flatMap { ParentRecord.read($0, interface: parent) }
        inherited = original != nil
    }

    /// The parent's original state came from the record a qcm killed with -9 left.
    var inherited = false

    public var parentAttributes: String { sysRoot + "/class/net/" + parent }

    /// Brings the parent up, its MTU first raised to `mtu` when smaller: with QMAP the
    /// parent's MTU is qmi_wwan's receive buffer, and the modem's aggregates must fit.
    public func prepareParent(mtu: UInt32?) throws(LinkError) {
        let index = try netlink.index(of: parent)
        guard let link = try netlink.link(index) else { throw .noSuchInterface(parent) }
        if inherited, let o = original {
            inherited = false
            log("\(parent): it was \(o.up ? "up" : "down") with MTU \(o.mtu) before a qcm changed it (\(recordPath ?? "the run directory") says); that is put back when the last qcm using it exits")
        }
        let raise = mtu.map { link.mtu < $0 } ?? false
        if raise || !link.isUp { remember(Original(up: link.isUp, mtu: link.mtu)) }
        if let want = mtu, raise {
            try netlink.setLink(index, name: parent, mtu: want)
            log("\(parent): MTU \(link.mtu) -> \(want) (the modem's downlink aggregates)")
        }
        if !link.isUp {
            try netlink.setLink(index, name: parent, up: true)
            log("\(parent): up (the parent the driver sends its links' traffic through)")
        }
    }

    /// Notes the parent's state before the first change, in memory and in the run directory.
    func remember(_ o: Original) {
        guard original == nil else { return }
        original = o
        if let p = recordPath { ParentRecord.write(p, interface: parent, o) }
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
        if original?.passThroughOff != true, let now = Files.readSmall(pass), !Text.trimmed(String(decoding: now, as: UTF8.self)).equals("Y") {
            guard let link = try netlink.link(try netlink.index(of: parent)) else { throw .noSuchInterface(parent) }
            remember(Original(up: link.isUp, mtu: link.mtu))
            original?.passThroughOff = true
            if let p = recordPath, let o = original { ParentRecord.write(p, interface: parent, o) }
            do throws(SystemError) { try Files.writeAttribute(pass, "Y") } catch { throw .system(error) }
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
                // mhi_net has no other way to carry several PDNs; qmi_wwan has add_mux.
                if Files.existsOrLinks(parentAttributes + "/qmi") {
                    throw .invalid("the kernel has no rmnet driver (CONFIG_RMNET): load it (modprobe rmnet) or use --data-path qmimux")
                }
                throw .invalid("the kernel has no rmnet driver (CONFIG_RMNET): load it (modprobe rmnet); without it \(parent) carries one PDN as plain raw-IP (dial without -m and --data-path rmnet)")
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

    // MARK: wwan (MBIM sessions over the WWAN subsystem)

    /// Creates the wwan link of MBIM session `session` on WWAN device `device` (named after
    /// the default link, as mbimcli does: wwan0.1). A wwan link of that name was left by a
    /// qcm that was killed (the caller holds the session's lock), and is made again.
    public func addWWAN(_ session: UInt8, device: String) throws(LinkError) -> String {
        let name = DataLinks.wwanName(parent: parent, session: session)
        if let old = try? netlink.index(of: name) {
            guard let kind = try? netlink.linkKind(old), kind.equals("wwan") else {
                throw .invalid("cannot create wwan link \(name) for MBIM session \(session): an interface of that name exists and is not a wwan link")
            }
            log("\(name) exists already, left by a qcm that was stopped with -9: making it again")
            try netlink.deleteLink(old, name: name)
        }
        do throws(LinkError) {
            try netlink.addWWAN(name: name, device: device, linkID: UInt32(session))
        } catch {
            switch error.errno {
            case EOPNOTSUPP?:
                if case let .kernel(_, _, message) = error, let m = message, !m.isEmpty, !m.equals("Unknown device type") {
                    throw .invalid("\(device) takes no wwan links (\(m)): no driver registered link operations on it; mhi_wwan_mbim does, for the IP_HW0_MBIM channel")
                }
                throw .invalid("the kernel has no \"wwan\" link type (the wwan module, CONFIG_WWAN, is not loaded): it cannot make \(name) for MBIM session \(session); session 0 needs no link (dial without -m)")
            case ENODEV?:
                throw .invalid("the kernel has no WWAN device \(device) to make \(name) on (did the modem go away?)")
            case EEXIST?:
                throw .invalid("MBIM session \(session) has a wwan link already, made by another program (ip -d link show type wwan): remove it, or dial another session")
            default:
                throw error
            }
        }
        remember(Link(mux: session, name: name, kind: .wwan))
        return name
    }

    /// wwan0 + session 1 → wwan0.1; names that would not fit IFNAMSIZ become wwan_s1.
    public static func wwanName(parent: String, session: UInt8) -> String {
        let name = parent + ".\(session)"
        return name.utf8.count <= 15 ? name : "wwan_s\(session)"
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
        case .rmnet, .wwan:
            do throws(LinkError) { try netlink.deleteLink(try netlink.index(of: l.name), name: l.name) } catch {
                log("removing \(l.name): \(error.description)")
            }
        }
    }

    /// Removes every link qcm made and puts the parent back (pass_through, MTU, down) —
    /// unless `shared` (another qcm serves a PDN of this modem) or links qcm did not make are
    /// still on it: their traffic goes through the parent too (the record then stays, for the
    /// last qcm to restore).
    public func removeAll(shared: Bool) {
        let ours = links.map { "upper_" + $0.name }
        for l in links { remove(mux: l.mux) }
        let others = (Files.list(parentAttributes) ?? []).contains { n in n.begins(with: "upper_") && !ours.contains { $0.equals(n) } }
        if shared || others {
            log("\(parent) left up: " + (shared ? "another qcm uses this modem" : "links qcm did not make are on it"))
            return
        }
        guard let o = original else { return }
        original = nil
        if o.passThroughOff { try? Files.writeAttribute(parentAttributes + "/qmi/pass_through", "N") }
        if let index = try? netlink.index(of: parent), let link = try? netlink.link(index) {
            if link.isUp && !o.up { try? netlink.setLink(index, name: parent, up: false) }
            if link.mtu != o.mtu { try? netlink.setLink(index, name: parent, mtu: o.mtu) }
        }
        if let p = recordPath { Files.remove(p) }
    }
}

/// The record of the QMAP parent's state before qcm changed it: `qcm-parent 1`, `interface
/// NAME`, `up 0|1`, `mtu N`, `pass_through_off 0|1`. Read only when it is a regular file
/// owned by root or by us, and only values that parse are believed.
enum ParentRecord {
    static func write(_ path: String, interface: String, _ o: DataLinks.Original) {
        let text = "qcm-parent 1\ninterface \(interface)\nup \(o.up ? 1 : 0)\nmtu \(o.mtu)\npass_through_off \(o.passThroughOff ? 1 : 0)\n"
        _ = try? Files.writeAtomically(path, Array(text.utf8))
    }

    static func read(_ path: String, interface: String) -> DataLinks.Original? {
        guard let info = Files.info(path), info.kind == .file, info.owner == 0 || info.owner == UInt32(getuid()),
              let bytes = Files.readSmall(path, limit: 1024) else { return nil }
        let lines = Files.lines(bytes)
        guard lines.count >= 5, lines[0].equals("qcm-parent 1"), lines[1].equals("interface " + interface) else { return nil }
        func value(_ i: Int, _ key: String) -> Int64? {
            let parts = Text.split(lines[i], on: 32)
            guard parts.count == 2, parts[0].equals(key) else { return nil }
            return Text.parseInt(parts[1])
        }
        guard let up = value(2, "up"), up == 0 || up == 1, let mtu = value(3, "mtu"), mtu >= 68, mtu <= 65535,
              let pass = value(4, "pass_through_off"), pass == 0 || pass == 1 else { return nil }
        return DataLinks.Original(up: up == 1, mtu: UInt32(mtu), passThroughOff: pass == 1)
    }
}
