import Base
import CSystem

/// Matches responses to requests by (service, client id, transaction id), runs many
/// requests at once, times each one out, and hands indications to subscribers.
/// Driven entirely by the EventLoop: no threads, no periodic wake-ups.
public final class QMIEngine {
    public typealias Completion = (Result<QMIMessage, QMIError>) -> Void

    struct Key: Equatable {
        let service: UInt8
        let clientID: UInt8
        let tid: UInt16
    }

    final class Pending {
        let request: QMIMessage
        let completion: Completion
        var timer: Int = 0
        var slowTimer: Int?
        init(request: QMIMessage, completion: @escaping Completion) {
            self.request = request
            self.completion = completion
        }
    }

    final class Subscription {
        let id: Int
        let service: QMIService
        let messageID: UInt16?
        let clientID: UInt8?
        let handler: (QMIMessage) -> Void
        init(id: Int, service: QMIService, messageID: UInt16?, clientID: UInt8?, handler: @escaping (QMIMessage) -> Void) {
            self.id = id
            self.service = service
            self.messageID = messageID
            self.clientID = clientID
            self.handler = handler
        }
    }

    public let channel: any QMITransport
    let loop: EventLoop
    private var pending = SmallMap<Key, Pending>()
    private var lastTID = SmallMap<UInt16, UInt16>()
    private var subscriptions: [Subscription] = []
    private var nextSubscription = 1
    public private(set) var closedError: QMIError?

    /// Every frame sent (`sent` true) or received, for the -v trace.
    public var onFrame: ((_ bytes: [UInt8], _ message: QMIMessage?, _ sent: Bool) -> Void)?
    /// Something the engine ignored (malformed frame, unknown transaction id), as a log line.
    public var onIgnored: ((String) -> Void)?
    /// The channel is gone (EOF, device error); every pending request has failed by now.
    public var onClose: ((QMIError) -> Void)?
    /// Bytes from the modem were discarded (a malformed or truncated frame, garbage):
    /// a message may have been lost with them.
    public var onDiscarded: (() -> Void)?
    /// A request is still unanswered after `slowNoticeMs` (its name, the wait so far).
    public var onSlow: ((_ name: String, _ ms: Int64) -> Void)?
    public var slowNoticeMs: Int64 = 3000

    public init(channel: any QMITransport, loop: EventLoop) {
        self.channel = channel
        self.loop = loop
        channel.start(on: loop) { event in self.received(event) }   // cycle broken by shutdown()
    }

    public var pendingCount: Int { pending.count }
    public var isClosed: Bool { closedError != nil }

    /// Sends `message` (its transaction id is assigned here) and calls `completion` once:
    /// with the response, or with `.timeout`, `.deviceGone` or `.closed`.
    public func send(_ message: QMIMessage, timeoutMs: Int64 = 10_000, _ completion: @escaping Completion) {
        if let e = closedError {
            loop.after(0) { completion(.failure(e)) }
            return
        }
        var m = message
        m.kind = .request
        m.fromModem = false
        m.transactionID = allocateTID(service: m.service, clientID: m.clientID)
        let key = Key(service: m.service.rawValue, clientID: m.clientID, tid: m.transactionID)
        let p = Pending(request: m, completion: completion)
        pending[key] = p
        let name = m.displayName
        p.timer = loop.after(timeoutMs) {
            guard let p = self.pending.removeValue(forKey: key) else { return }
            if let s = p.slowTimer { self.loop.cancel(s) }
            p.completion(.failure(.timeout(message: name, afterMs: timeoutMs)))
        }
        if timeoutMs > slowNoticeMs, onSlow != nil {
            let notice = slowNoticeMs
            p.slowTimer = loop.after(notice) {
                p.slowTimer = nil
                self.onSlow?("\(name) (transaction \(m.transactionID))", notice)
            }
        }
        let bytes = m.encode()
        onFrame?(bytes, m, true)
        do throws(QMIError) { try channel.send(bytes) } catch { shutdown(error) }
    }

    private func allocateTID(service: QMIService, clientID: UInt8) -> UInt16 {
        let slot = UInt16(service.rawValue) << 8 | UInt16(clientID)
        let limit: UInt16 = service == .ctl ? 0xff : 0xffff
        var t = lastTID[slot] ?? 0
        for _ in 0..<Int(limit) {
            t = t >= limit ? 1 : t + 1
            if pending[Key(service: service.rawValue, clientID: clientID, tid: t)] == nil { break }
        }
        lastTID[slot] = t
        return t
    }

    /// Delivers indications of `service` (optionally one message id, one client id;
    /// broadcast indications, client id 0xff, reach every client's subscription).
    @discardableResult
    public func subscribe(service: QMIService, messageID: UInt16? = nil, clientID: UInt8? = nil,
                          _ handler: @escaping (QMIMessage) -> Void) -> Int {
        let id = nextSubscription
        nextSubscription += 1
        subscriptions.append(Subscription(id: id, service: service, messageID: messageID, clientID: clientID, handler: handler))
        return id
    }

    public func unsubscribe(_ id: Int) { subscriptions.removeAll { $0.id == id } }

    /// Closes the channel; pending requests fail with `.closed`.
    public func close() { shutdown(.closed) }

    private func received(_ event: TransportEvent) {
        switch event {
        case .frame(let frame):
            handle(frame)
        case .garbage(let junk):
            onIgnored?("ignored \(junk.count) byte(s) that are not a QMUX frame: \(Text.hexBytes(Array(junk.prefix(32))))")
            onDiscarded?()
        case let .malformed(bytes, error):
            onFrame?(bytes, nil, false)
            onIgnored?("ignored malformed frame from the modem (\(error.description)): \(Text.hexBytes(bytes))")
            onDiscarded?()
        case .lost(let why):
            onIgnored?(why)
            onDiscarded?()
        case let .refused(frame, error):
            // The transport could not carry a request (GobiNet: the driver refused a service file).
            guard let m = try? QMIMessage.decode(frame) else { return }
            let key = Key(service: m.service.rawValue, clientID: m.clientID, tid: m.transactionID)
            guard let p = pending.removeValue(forKey: key) else { return }
            loop.cancel(p.timer)
            if let t = p.slowTimer { loop.cancel(t) }
            p.completion(.failure(error))
        case .closed(let error):
            shutdown(error)
        }
    }

    private func handle(_ frame: [UInt8]) {
        let m: QMIMessage
        do {
            m = try QMIMessage.decode(frame)
        } catch {
            onFrame?(frame, nil, false)
            onIgnored?("ignored malformed frame from the modem (\(error.description)): \(Text.hexBytes(frame))")
            return
        }
        onFrame?(frame, m, false)
        switch m.kind {
        case .response:
            let key = Key(service: m.service.rawValue, clientID: m.clientID, tid: m.transactionID)
            guard let p = pending[key], p.request.messageID == m.messageID else {
                onIgnored?("ignored \(m.displayName) response with transaction id \(m.transactionID) that matches no request")
                return
            }
            pending.removeValue(forKey: key)
            loop.cancel(p.timer)
            if let t = p.slowTimer { loop.cancel(t) }
            p.completion(.success(m))
        case .indication:
            for s in subscriptions where s.service == m.service
                && (s.messageID == nil || s.messageID == m.messageID)
                && (s.clientID == nil || s.clientID == m.clientID || m.clientID == 0xff) {
                s.handler(m)
            }
        case .request:
            onIgnored?("ignored a request frame coming from the modem side: \(m.displayName)")
        }
    }

    private func shutdown(_ error: QMIError) {
        guard closedError == nil else { return }
        closedError = error
        channel.close()
        let failed = pending.values
        pending.removeAll()
        // In the order the requests were sent, so callers see a deterministic sequence.
        for p in failed {
            loop.cancel(p.timer)
            if let t = p.slowTimer { loop.cancel(t) }
            p.completion(.failure(error))
        }
        onClose?(error)
    }
}
