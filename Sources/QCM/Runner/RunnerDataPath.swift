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
