import Base
import QMICore
import DHCPClient

/// Runs a DHCPClient on the daemon's EventLoop: watches its socket while it has one and
/// arms one timer at its next deadline, re-synchronised after every event.
final class DHCPDriver {
    let client: DHCPClient
    let loop: EventLoop
    var watchID: Int?
    var watchedFD: Int32?
    var timerID: Int?
    var timerAt: Int64?
    var onError: ((String) -> Void)?

    init(client: DHCPClient, loop: EventLoop) {
        self.client = client
        self.loop = loop
    }

    func start(previous: Lease? = nil) throws(DHCPError) {
        try client.start(previous: previous)
        sync()
    }

    func sync() {
        if watchedFD != client.fd {
            if let w = watchID { loop.unwatch(w) }
            watchID = nil
            watchedFD = client.fd
            if let fd = client.fd {
                watchID = loop.watch(fd) { _ in
                    self.guarded { () throws(DHCPError) in try self.client.handleReadable() }
                }
            }
        }
        if timerAt != client.deadline {
            if let t = timerID { loop.cancel(t) }
            timerID = nil
            timerAt = client.deadline
            if let d = client.deadline {
                timerID = loop.after(max(0, d - loop.now)) {
                    self.timerID = nil
                    self.timerAt = nil
                    self.guarded { () throws(DHCPError) in try self.client.handleTimeout() }
                }
            }
        }
    }

    func guarded(_ body: () throws(DHCPError) -> Void) {
        do { try body() } catch { onError?(error.description) }
        sync()
    }

    /// RELEASE (when bound) and stop watching.
    func stop(release: Bool) {
        if release { try? client.release() }
        client.socket.close()
        if let w = watchID { loop.unwatch(w) }
        if let t = timerID { loop.cancel(t) }
        watchID = nil
        timerID = nil
        watchedFD = nil
        timerAt = nil
    }
}
