import Base
import Foundation

/// Every line the simulated AT port received and sent, in order, for tests' assertions
/// ("the call was stopped with AT+QNETDEVCTL=1,0,0 at the end").
public final class ATTranscript {
    public enum Kind: Equatable {
        /// A command line received (as it came, without its CR).
        case command
        /// Bytes received while a command was running: a module takes one command at a
        /// time and drops them.
        case dropped
        /// The command echoed back (ATE1).
        case echo
        /// An information line of an answer.
        case answer
        /// OK, ERROR, +CME ERROR ...
        case final
        case unsolicited
        /// Garbage the `garbage` fault sent.
        case junk
        /// Something that happened to the module (reset, port gone, back), not a line.
        case event
    }

    public struct Entry {
        public let timeMs: Int64
        public let kind: Kind
        public let line: String
    }

    private let lock = NSLock()
    private var items: [Entry] = []

    public var entries: [Entry] { lock.lock(); defer { lock.unlock() }; return items }

    func record(_ timeMs: Int64, _ kind: Kind, _ line: String) {
        lock.lock()
        items.append(Entry(timeMs: timeMs, kind: kind, line: line))
        lock.unlock()
    }

    public func clear() { lock.lock(); items.removeAll(); lock.unlock() }

    public func lines(_ kind: Kind) -> [String] { entries.filter { $0.kind == kind }.map { $0.line } }

    /// The command lines received, in order.
    public var commands: [String] { lines(.command) }
    /// The unsolicited lines sent, in order.
    public var unsolicited: [String] { lines(.unsolicited) }
    /// Final results sent, in order.
    public var finals: [String] { lines(.final) }

    /// The final result the module gave the last command line equal to `command`
    /// (case-insensitive), if any.
    public func final(after command: String) -> String? {
        let all = entries
        guard let i = all.lastIndex(where: { $0.kind == .command && Text.equalsIgnoringCase($0.line, command) }) else { return nil }
        for e in all[(i + 1)...] {
            if e.kind == .final { return e.line }
            if e.kind == .command { return nil }
        }
        return nil
    }

    /// A quectel-CM style dump for failure messages: "120ms AT> AT+CPIN?", "150ms AT< OK".
    public var text: String {
        entries.map { e in
            let dir: String
            switch e.kind {
            case .command: dir = "AT>"
            case .dropped: dir = "AT> (dropped)"
            case .echo: dir = "AT< (echo)"
            case .answer, .final: dir = "AT<"
            case .unsolicited: dir = "AT< (urc)"
            case .junk: dir = "AT< (junk)"
            case .event: dir = "--"
            }
            return "\(e.timeMs)ms \(dir) \(Text.shown(e.line))"
        }.joined(separator: "\n")
    }
}
