import Base
import CSystem

/// What one received line is, given the command waiting for its answer (if any).
public enum ATLineKind {
    /// The module echoing the command back (ATE1).
    case echo
    /// OK, ERROR, +CME ERROR ...: the end of the waiting command's answer.
    case final(ATFinal)
    /// An information line of the waiting command's answer.
    case answer
    /// A line the module sent on its own.
    case unsolicited(ATUnsolicited)
    /// None of these: garbage, or a line qcm has no definition for.
    case unknown
}

/// The successful answer to a command: its information lines, in order.
public struct ATReply {
    public let lines: [String]
    public init(lines: [String]) { self.lines = lines }
}

/// Runs commands on an AT port one at a time: each is written when the one before it has its
/// final result, and times out on its own. Lines are told apart by the catalogue's
/// definitions — an unsolicited line arriving in the middle of an answer, even one with the
/// answer's own prefix, goes to `onUnsolicited` (their fields have other shapes: +CEREG's
/// answer starts with the mode, its report with the state). After a command times out, its
/// answer may still come: before the next command a plain AT is sent and the port is left
/// quiet for a moment, so that late lines end nothing they do not belong to.
public final class ATEngine {
    public typealias Completion = (Result<ATReply, ATError>) -> Void

    final class Pending {
        let command: ATCommand
        let line: String
        let timeoutMs: Int64
        let completion: Completion
        var lines: [String] = []
        var timer = 0
        init(command: ATCommand, line: String, timeoutMs: Int64, completion: @escaping Completion) {
            self.command = command
            self.line = line
            self.timeoutMs = timeoutMs
            self.completion = completion
        }
    }

    public let channel: ATChannel
    let loop: EventLoop
    private var queue: [Pending] = []
    private var current: Pending?
    /// A command timed out: synchronise (AT, then `quietMs` of quiet) before the next one.
    private var mustSync = false
    private var quietTimer: Int?
    public private(set) var closedError: ATError?
    /// The module echoes commands (its echo was seen).
    public private(set) var echoing = false
    private var notices = 0

    /// How long the port is left quiet after a resynchronising AT.
    public static let quietMs: Int64 = 200
    /// Ignored lines said in the log at most (then once that more are not).
    public static let maxNotices = 16

    /// Every line sent or received, with PINs and passwords as ****, for the -v trace.
    public var onTrace: ((_ line: String, _ sent: Bool) -> Void)?
    public var onUnsolicited: ((ATUnsolicited, String) -> Void)?
    /// Something ignored, as a log line.
    public var onIgnored: ((String) -> Void)?
    public var onClose: ((ATError) -> Void)?

    public init(channel: ATChannel, loop: EventLoop) {
        self.channel = channel
        self.loop = loop
        channel.onLine = { line in self.received(line) }
        channel.onJunk = { why in self.ignored(why) }
        channel.onClose = { e in self.shutdown(e) }
        channel.start(on: loop)
    }

    /// Sends `line` (built from `command`) when the port is free; `completion` gets the
    /// information lines on OK, or the error: refused (ERROR, +CME ERROR ...), timeout, closed.
    public func send(_ command: ATCommand, _ line: String, timeoutMs: Int64, _ completion: @escaping Completion) {
        if let e = closedError {
            _ = loop.after(0) { completion(.failure(e)) }
            return
        }
        queue.append(Pending(command: command, line: line, timeoutMs: timeoutMs, completion: completion))
        pump()
    }

    public func close() {
        channel.close()
        shutdown(.closed, report: false)
    }

    // MARK: sending

    private func pump() {
        guard current == nil, quietTimer == nil, closedError == nil else { return }
        if mustSync {
            mustSync = false
            let sync = Pending(command: ATCatalogue.attention, line: "AT", timeoutMs: 1_000) { _ in
                self.quietTimer = self.loop.after(ATEngine.quietMs) {
                    self.quietTimer = nil
                    self.pump()
                }
            }
            return start(sync)
        }
        guard !queue.isEmpty else { return }
        start(queue.removeFirst())
    }

    private func start(_ p: Pending) {
        current = p
        onTrace?(ATCatalogue.masked(commandLine: p.line), true)
        do throws(ATError) { try channel.send(p.line) } catch {
            channel.close()
            return shutdown(error)
        }
        p.timer = loop.after(p.timeoutMs) { self.timedOut(p) }
    }

    private func timedOut(_ p: Pending) {
        guard current === p else { return }
        current = nil
        if p.command !== ATCatalogue.attention { mustSync = true }
        p.completion(.failure(.timeout))
        pump()
    }

    private func finish(_ result: Result<ATReply, ATError>) {
        guard let p = current else { return }
        current = nil
        loop.cancel(p.timer)
        p.completion(result)
        pump()
    }

    // MARK: receiving

    /// What `line` is, while `pending` (sent as `sent`) waits for its answer.
    public static func classify(_ line: String, pending: ATCommand?, sent: String?) -> ATLineKind {
        if let s = sent, Text.equalsIgnoringCase(Text.trimmed(line), s) { return .echo }
        if let f = ATFinal.parse(line) { return .final(f) }
        let (prefix, body) = ATText.split(line)
        if let c = pending {
            switch c.answerKind {
            case .line, .lines:
                if let p = prefix, p.equals(c.prefix) {
                    if !c.answer.fits(ATText.fields(body)), let u = ATCatalogue.unsolicited(line) { return .unsolicited(u) }
                    return .answer
                }
            case .bare:
                if let p = prefix, p.equals(c.prefix) { return .answer }          // "+CGSN: 86..." from some modules
                if prefix == nil && ATCatalogue.unsolicited(line) == nil { return .answer }
            case .none:
                break
            }
        }
        if let u = ATCatalogue.unsolicited(line) { return .unsolicited(u) }
        return .unknown
    }

    private func received(_ line: String) {
        let kind = ATEngine.classify(line, pending: current?.command, sent: current?.line)
        if case .answer = kind, let c = current?.command {
            let (prefix, body) = ATText.split(line)
            onTrace?(prefix.map { $0 + ": " + c.answer.masked(body) } ?? line, false)
        } else {
            onTrace?(line, false)
        }
        switch kind {
        case .echo:
            echoing = true
        case .final(let f):
            guard current != nil else { return ignored("ignored '\(f.description)': no command was waiting (the answer of one that timed out?)") }
            finish(f.isOK ? .success(ATReply(lines: current?.lines ?? [])) : .failure(.refused(f)))
        case .answer:
            current?.lines.append(line)
        case .unsolicited(let u):
            onUnsolicited?(u, line)
        case .unknown:
            ignored("ignored a line qcm does not know: '\(Text.shown(line))'")
        }
    }

    private func ignored(_ why: String) {
        notices += 1
        if notices <= ATEngine.maxNotices {
            onIgnored?(why)
        } else if notices == ATEngine.maxNotices + 1 {
            onIgnored?("further ignored lines are not reported")
        }
    }

    private func shutdown(_ e: ATError, report: Bool = true) {
        guard closedError == nil else { return }
        closedError = e
        if let q = quietTimer { loop.cancel(q) }
        quietTimer = nil
        let waiting = (current.map { [$0] } ?? []) + queue
        current = nil
        queue.removeAll()
        for p in waiting {
            loop.cancel(p.timer)
            p.completion(.failure(e))
        }
        let c = onClose
        onClose = nil
        if report { c?(e) }
    }
}
