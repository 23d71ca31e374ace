#if QCM_AT
import Base
import ATCore

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
}
#endif
