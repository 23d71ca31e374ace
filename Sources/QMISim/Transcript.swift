import Base
import Foundation
import QMICore

/// Every frame the simulator received or sent, in order, with helpers for the
/// assertions tests make ("all client ids released", "N requests sent").
public final class Transcript {
    public struct Entry {
        public let timeMs: Int64
        public let connection: Int
        public let incoming: Bool
        public let bytes: [UInt8]
        public let message: QMIMessage?
    }

    private let lock = NSLock()
    private var items: [Entry] = []

    public var entries: [Entry] { lock.lock(); defer { lock.unlock() }; return items }

    func record(_ e: Entry) {
        lock.lock()
        items.append(e)
        lock.unlock()
    }

    public func clear() { lock.lock(); items.removeAll(); lock.unlock() }

    /// Requests the client sent, optionally only those of one catalogue message.
    public func requests(_ spec: QMIMessageSpec? = nil) -> [QMIMessage] {
        entries.compactMap { e in
            guard e.incoming, let m = e.message, m.kind == .request else { return nil }
            if let s = spec, s.service != m.service || s.id != m.messageID { return nil }
            return m
        }
    }

    public func count(_ spec: QMIMessageSpec) -> Int { requests(spec).count }

    /// Responses and indications the simulator sent, optionally of one message.
    public func sent(_ spec: QMIMessageSpec? = nil, kind: QMIKind? = nil) -> [QMIMessage] {
        entries.compactMap { e in
            guard !e.incoming, let m = e.message else { return nil }
            if let k = kind, m.kind != k { return nil }
            if let s = spec, s.service != m.service || s.id != m.messageID { return nil }
            return m
        }
    }

    /// Names of the requests in order ("CTL Sync", "WDS Start Network", ...).
    public var requestNames: [String] { requests().map { $0.displayName } }

    /// Time (ms since the simulator started) of each request of a message.
    public func times(_ spec: QMIMessageSpec) -> [Int64] {
        entries.compactMap { e in
            guard e.incoming, let m = e.message, m.kind == .request, m.service == spec.service, m.messageID == spec.id else { return nil }
            return e.timeMs
        }
    }

    /// quectel-CM style dump, for failure messages.
    public var text: String {
        entries.map { e in
            let dir = e.incoming ? "->" : "<-"
            let name = e.message.map { QMITrace.quectelLine($0) } ?? "(undecodable) " + Text.hexBytes(e.bytes)
            return "\(e.timeMs)ms c\(e.connection) \(dir) \(name)"
        }.joined(separator: "\n")
    }
}
