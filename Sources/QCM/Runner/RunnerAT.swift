#if QCM_AT
import Base
import ATCore
import LinkConfig

extension Runner {
    /// The module's AT port: set raw, every line traced with -v (PINs and passwords as ****),
    /// answers and unsolicited lines fed to the AT session.
    func openAT(_ path: String) {
        let channel: ATChannel
        do throws(ATError) {
            channel = machine.config.proxy == .quectel(.atc) ? try ATChannel.openQuectelProxy(device: path) : try ATChannel.open(path)
        } catch {
            switch error {
            case let .system(op, e): return feed(.channelOpenFailed(.system(operation: op, errno: e)))
            case .deviceGone(let why): return feed(.channelOpenFailed(.gone(why)))
            case .untrustedPeer(let why): return feed(.channelOpenFailed(.untrustedPeer(why)))
            default: return feed(.channelOpenFailed(.invalid(error.description)))
            }
        }
        log.log(channel.viaProxy ? "AT channel \(channel.path) open (fd \(channel.fd), quectel-atc-proxy: one command line per read)"
                : "AT port \(path) open (fd \(channel.fd))")
        let e = ATEngine(channel: channel, loop: loop)
        e.onTrace = { line, sent in
            guard self.log.verbose else { return }
            self.log.log((sent ? "AT> " : "AT< ") + Text.shown(line))
        }
        e.onIgnored = { self.log.log($0) }
        e.onUnsolicited = { u, line in self.feed(.at(.unsolicited(u, line))) }
        e.onClose = { err in
            guard self.at === e else { return }
            self.at = nil
            if case .deviceGone(let why) = err { return self.feed(.channelClosed(.gone(why))) }
            self.feed(.channelClosed(.gone(err.description)))
        }
        at = e
        feed(.channelOpened)
    }

    func sendAT(_ step: ATStep, _ command: ATCommand, _ line: String, _ timeout: Int64) {
        guard let e = at else {
            _ = loop.after(0) { self.feed(.at(.answer(step, .failure(.closed)))) }
            return
        }
        e.send(command, line, timeoutMs: timeout) { result in
            // The answer of a port closed since (the session was dropped) is stale.
            guard self.at === e else { return }
            self.feed(.at(.answer(step, result)))
        }
    }

    /// The module's Router Advertisements on PDN's link, each usable one fed to the session.
    func watchRouter(_ pdn: Int) {
        do throws(LinkError) {
            let setup = try link(pdn)
            try setup.up()
            try setup.watchRouter { self.feed(.at(.routerAdvertised(.success($0)))) }
        } catch {
            feed(.at(.routerAdvertised(.failure(error))))
        }
    }
}

extension LinkSetup {
    /// Listens for Router Advertisements on the link; `deliver` gets each one that offers a
    /// /64 to form an address in, from a router (router lifetime above 0). A solicitation
    /// goes out at once.
    func watchRouter(_ deliver: @escaping (RouterOffer) -> Void) throws(LinkError) {
        let nl: Netlink
        if let m = manager { nl = m.netlink } else { nl = try Netlink() }
        let index = try nl.index(of: interface)
        guard let linkLocal = try nl.addresses(.ipv6, index: index).first(where: { $0.linkScope })?.address else {
            throw .invalid("\(interface) has no IPv6 link-local address (is net.ipv6.conf.\(interface).disable_ipv6 set?)")
        }
        if watcher == nil {
            let w = try NetworkRAWatcher(interface: interface, index: index, expected: nil, loop: loop)
            w.log = { [log] in log.log($0) }
            watcher = w
        }
        watcher?.onAdvertisement = { ra, from in
            if let offer = RouterOffer(ra, from: from, linkLocal: linkLocal) { deliver(offer) }
        }
    }
}
#endif
