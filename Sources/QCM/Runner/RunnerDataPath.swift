import Base
import CSystem
import LinkConfig

/// The Runner's side of QMAP: the parent brought up, qmimux and rmnet links created and
/// removed, link_state written for Quectel's drivers (also for MBIM over pcie_mhi, whose
/// parent goes up and whose link_state names the child the same way). Outcomes go back to
/// the machine.
extension Runner {
    func dataLinks() throws(LinkError) -> DataLinks {
        if let d = qmapLinks { return d }
        guard let parent = machine.plan.parent else {
            let what = machine.plan.kind == .wwan ? "a wwan link" : machine.plan.carriesMBIMSessions ? "pcie_mhi's link_state" : "QMAP"
            throw .invalid(what + " needs the modem's network interface, and none is known (use -i IFACE)")
        }
        let d = try DataLinks(sysRoot: o.sysRoot, parent: parent,
                              recordPath: LinkSetup.usable(o.runDir).map { $0 + "/parent-\(Instance.key(parent)).state" })
        d.log = { self.log.log($0) }
        qmapLinks = d
        return d
    }

    func prepareParent(_ mtu: UInt32?) {
        do throws(LinkError) {
            try dataLinks().prepareParent(mtu: mtu)
            feed(.parentReady(nil))
        } catch {
            feed(.parentReady(error))
        }
    }

    func createDataLink(_ pdn: Int, _ mux: UInt8, _ flags: UInt32) {
        do throws(LinkError) {
            let d = try dataLinks()
            if machine.plan.kind == .rmnet {
                return feed(.dataLinkReady(pdn: pdn, .success(try d.addRmnet(mux, flags: flags))))
            }
            if machine.plan.kind == .wwan {
                guard let device = machine.plan.wwanDevice else { throw .invalid("no WWAN device is known to make the wwan link on") }
                return feed(.dataLinkReady(pdn: pdn, .success(try d.addWWAN(mux, device: device))))
            }
            if let name = try d.addQMIMux(mux) { return feed(.dataLinkReady(pdn: pdn, .success(name))) }
            awaitQMIMux(pdn, mux, d, until: loop.now + 2000)
        } catch {
            feed(.dataLinkReady(pdn: pdn, .failure(error)))
        }
    }

    /// The kernel creates the qmimux link while add_mux is written; a moment is allowed for
    /// udev renames and for the simulator, which does it after the write.
    func awaitQMIMux(_ pdn: Int, _ mux: UInt8, _ d: DataLinks, until deadline: Int64) {
        if let name = d.findQMIMux(mux) {
            d.adoptQMIMux(mux, name: name)
            return feed(.dataLinkReady(pdn: pdn, .success(name)))
        }
        guard loop.now < deadline else {
            return feed(.dataLinkReady(pdn: pdn, .failure(.invalid(
                "wrote 0x\(Text.hex(mux)) to \(d.parentAttributes)/qmi/add_mux, but no qmimux link with that mux id appeared under \(d.parent) (qmimuxN/qmap/mux_id needs Linux 5.12 or later)"))))
        }
        loop.after(20) { self.awaitQMIMux(pdn, mux, d, until: deadline) }
    }

    func setLinkState(_ pdn: Int, _ mux: UInt8, _ up: Bool) {
        let mode: Int
        switch machine.plan.kind {
        case .quectel(let m), .mhiMBIM(let m): mode = m
        default: return
        }
        do throws(LinkError) {
            try dataLinks().setLinkState(mux: mux, up: up, qmapMode: mode)
        } catch {
            let which = machine.plan.carriesMBIMSessions ? "\(machine.plan.parent ?? "rmnet_mhi0").\(mux & 0x7f)" : "mux 0x\(Text.hex(mux))"
            log.log("warning: \(error.description): \(machine.config.driver ?? "the driver") keeps traffic on \(which) \(up ? "off" : "on")")
        }
    }

    /// Bridge mode: bridge_mode and bridge_ipv4 of PDN's netdev (or the driver's module
    /// parameter). Only what was validated is written: 0, or a usable unicast IPv4 address.
    func setBridge(_ pdn: Int, _ on: Bool, _ ipv4: UInt32) {
        guard let t = machine.config.bridge(pdn) else { return }
        guard ipv4 == 0 || IPAddress(ipv4: ipv4).isUsableUnicast else {
            return feed(.bridgeSet(pdn: pdn, .failure(.invalid("\(IPAddress(ipv4: ipv4).text) is not an address to hand to a LAN host"))))
        }
        let mode = t.modePath(sysRoot: o.sysRoot), address = t.ipv4Path(sysRoot: o.sysRoot)
        do throws(SystemError) {
            if on {
                if t.writesMode { try Files.writeAttribute(mode, "1\n") }
                // A newline ends the value, as echo's does; the drivers' base-16 parse stops there.
                try Files.writeAttribute(address, t.ipv4Text(ipv4) + "\n")
            } else {
                try Files.writeAttribute(address, t.ipv4Text(0) + "\n")
                if t.writesMode { try Files.writeAttribute(mode, "0\n") }
            }
        } catch {
            return feed(.bridgeSet(pdn: pdn, .failure(.system(error))))
        }
        if ipv4 != 0 { log.log("echo '\(t.ipv4Text(ipv4))' > \(address)") }
        feed(.bridgeSet(pdn: pdn, .success(ipv4 == 0 ? nil : bridgeMaster(t.netdev))))
    }

    /// The bridge `netdev` is a port of (rtnetlink's IFLA_MASTER), for `qcm status`.
    func bridgeMaster(_ netdev: String) -> String? {
        guard let nl = try? Netlink(), let index = try? nl.index(of: netdev), let link = try? nl.link(index), link.master > 0 else { return nil }
        return (try? nl.link(link.master))??.name
    }

    func removeDataLinks(_ pdn: Int?) {
        guard let d = qmapLinks else { return }
        if let p = pdn {
            if let mux = machine.plan.link(p)?.mux { d.remove(mux: mux) }
        } else {
            let me = getpid()
            d.removeAll(shared: Instance.statuses(runDir: o.runDir).contains { $0.pid != me && $0.alive })
        }
    }
}
