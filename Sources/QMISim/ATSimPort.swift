import Foundation
import Base
import CSystem
import ATCore

/// The AT port: the pty, command lines in (one at a time, CR or LF ended, bounded), answers
/// and reports out, framed as ATV/ATQ/AT+CMEE say.
extension ATSimulator {
    func openPort() throws {
        var name = [CChar](repeating: 0, count: 128)
        let m = csys_open_pty(&name, name.count)
        guard m >= 0 else { throw ATError.system(operation: "open a pty", errno: csys_errno()) }
        let path = String(cString: name)
        let s = csys_open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0)
        guard s >= 0, csys_tty_raw(s) == 0 else {
            let e = csys_errno()
            if s >= 0 { _ = close(s) }
            _ = close(m)
            throw ATError.system(operation: "open \(path)", errno: e)
        }
        if let link = devPath {
            guard Files.info(link) == nil else {
                _ = close(s)
                _ = close(m)
                throw ATError.invalid("\(link) exists: the simulator replaces nothing it did not make")
            }
            guard symlink(path, link) == 0 else {
                let e = csys_errno()
                _ = close(s)
                _ = close(m)
                throw ATError.system(operation: "symlink \(link) → \(path)", errno: e)
            }
            linkMade = true
        }
        master = m
        slave = s
        slavePath = path
        outbox.removeAll()
        input.removeAll()
        inputOverflow = false
        busy = false
        watchID = loop.watch(m) { [weak self] ev in self?.locked { self?.readable(ev) } }
        log("AT port on \(path)\(devPath.map { " (\($0))" } ?? "")")
    }

    /// Closes the port: the client's reads fail (EIO, hang-up); the symlink goes if it is ours.
    func closePort() {
        if master >= 0 {
            loop.unwatch(watchID)
            _ = close(master)
            master = -1
        }
        if slave >= 0 {
            _ = close(slave)
            slave = -1
        }
        if linkMade, let link = devPath {
            var buf = [CChar](repeating: 0, count: 256)
            let n = readlink(link, &buf, buf.count - 1)
            if n > 0, String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == slavePath { _ = unlink(link) }
            linkMade = false
        }
        outbox.removeAll()
        input.removeAll()
        busy = false
    }

    // MARK: receiving

    func readable(_ ev: Int16) {
        if ev & Int16(POLLOUT) != 0 { flush() }
        guard ev & Int16(POLLIN | POLLHUP | POLLERR) != 0, master >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        while master >= 0 {
            let n = buf.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            take(buf[0..<n])
        }
    }

    /// Bytes from the client: CR (or LF) ends a command line; while one runs, what comes is
    /// dropped; a wedged module takes nothing.
    func take(_ bytes: ArraySlice<UInt8>) {
        guard !hung, !gone else { return }
        var dropped: [UInt8] = []
        for b in bytes {
            if busy {
                dropped.append(b)
                continue
            }
            if b == 13 || b == 10 {
                if input.isEmpty && !inputOverflow { continue }
                let line = input, over = inputOverflow
                input.removeAll()
                inputOverflow = false
                commandLine(line, overlong: over)
            } else if input.count >= config.lineBuffer {
                inputOverflow = true
            } else {
                input.append(b)
            }
        }
        if dropped.contains(where: { $0 != 10 && $0 != 13 }) {
            transcript.record(now, .dropped, String(decoding: dropped, as: UTF8.self))
        }
    }

    func commandLine(_ bytes: [UInt8], overlong: Bool) {
        let text = String(decoding: bytes, as: UTF8.self)
        transcript.record(now, .command, overlong ? text + "… (longer than \(config.lineBuffer) bytes)" : text)
        if echo {
            transcript.record(now, .echo, text)
            emit(bytes + [13])
        }
        guard overlong || ATSimulator.attention(in: bytes) != nil else { return }      // no AT: ignored
        busy = true
        let latency = overlong ? config.latencyMs : latencyFor(bytes)
        after(latency) {
            self.busy = false
            if self.hung { return }
            if overlong { return self.answer([], .error) }
            // Reports a command causes (+CPIN: READY, +QNETDEVSTATUS: 1) follow its answer.
            self.held = []
            let (lines, final) = self.execute(bytes)
            self.answer(lines, final)
            let reports = self.held ?? []
            self.held = nil
            for r in reports { self.unsolicited(r) }
        }
    }

    func latencyFor(_ bytes: [UInt8]) -> Int64 {
        guard !config.latencyFor.isEmpty, let at = ATSimulator.attention(in: bytes) else { return config.latencyMs }
        let first = ATSimulator.split(Array(bytes[(at + 2)...]))?.first.map { "AT" + $0 } ?? "AT"
        guard let c = ATCatalogue.commands(for: first).first else { return config.latencyMs }
        return config.latencyFor[c.name] ?? config.latencyMs
    }

    /// Where "AT" (any case) starts: V.250 ignores what comes before it.
    static func attention(in b: [UInt8]) -> Int? {
        guard b.count >= 2 else { return nil }
        for i in 0..<(b.count - 1) where b[i] | 0x20 == 97 && b[i + 1] | 0x20 == 116 { return i }
        return nil
    }

    /// The commands of one line after its "AT": basic ones (E0, Q0, V1) one after another,
    /// extended ones (+COPS=3,0) separated by ';'. Nil when the line is not AT syntax.
    static func split(_ b: [UInt8]) -> [String]? {
        var pieces: [String] = []
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 59 || c == 32 { i += 1; continue }                           // ';' ' '
            var j = i + 1
            if c == 43 || c == 36 {                                               // '+' '$'
                var quoted = false
                while j < b.count && !(b[j] == 59 && !quoted) {
                    if b[j] == 34 { quoted.toggle() }
                    j += 1
                }
            } else if c | 0x20 >= 97 && c | 0x20 <= 122 || c == 38 {              // a letter, '&'
                if c == 38 && j < b.count { j += 1 }
                while j < b.count && b[j] >= 48 && b[j] <= 57 { j += 1 }
            } else {
                return nil
            }
            pieces.append(String(decoding: b[i..<j], as: UTF8.self))
            i = j
        }
        return pieces
    }

    // MARK: sending

    enum Final: Equatable {
        case ok
        case error
        case cme(Int)
        /// UNISOC (RG801H): COMMAND NOT SUPPORT.
        case notSupported
    }

    /// An answer: its information lines, then its final result, as AT+CMEE, ATV and ATQ say.
    func answer(_ lines: [String], _ final: Final) {
        guard master >= 0 else { return }
        if config.garbage { junk() }
        if !lines.isEmpty {
            for l in lines { transcript.record(now, .answer, l) }
            let text = verbose ? "\r\n" + lines.joined(separator: "\r\n") + "\r\n" : lines.map { $0 + "\r\n" }.joined()
            emit(Array(text.utf8))
        }
        guard !quiet else { return }
        let words: String
        switch final {
        case .ok: words = verbose ? "OK" : "0"
        case .error: words = verbose ? "ERROR" : "4"
        case .notSupported: words = verbose ? "COMMAND NOT SUPPORT" : "4"
        case .cme(let n):
            switch cmee {
            case 0: words = verbose ? "ERROR" : "4"
            case 2: words = "+CME ERROR: " + (ATErrorNames.cme(n) ?? "\(n)")
            default: words = "+CME ERROR: \(n)"
            }
        }
        transcript.record(now, .final, words)
        let isCode = !verbose && !words.begins(with: "+")
        emit(Array((isCode ? words + "\r" : verbose ? "\r\n" + words + "\r\n" : words + "\r\n").utf8))
    }

    /// A line the module sends on its own.
    func unsolicited(_ line: String) {
        guard !config.noURCs, !hung, !gone, master >= 0 else { return }
        if held != nil { held?.append(line); return }
        transcript.record(now, .unsolicited, line)
        emit(Array((verbose ? "\r\n" + line + "\r\n" : line + "\r\n").utf8))
    }

    func emit(_ bytes: [UInt8]) {
        guard master >= 0 else { return }
        outbox += bytes
        if outbox.count > ATSimulator.outboxLimit {
            // Nobody reads the port: a tty drops what it cannot hold.
            outbox.removeFirst(outbox.count - ATSimulator.outboxLimit)
        }
        flush()
    }

    func flush() {
        guard master >= 0 else { return }
        while !outbox.isEmpty {
            let n = outbox.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = csys_errno()
                if e == EAGAIN || e == EINTR { break }
                outbox.removeAll()
                break
            }
            outbox.removeFirst(n)
        }
        loop.setEvents(watchID, Int16(POLLIN) | (outbox.isEmpty ? 0 : Int16(POLLOUT)))
    }

    /// The `garbage` fault: NULs and a junk line before every answer, and once a 64 KB line.
    func junk() {
        if !sentLongLine {
            sentLongLine = true
            transcript.record(now, .junk, "<a 64 KB line of x>")
            emit(Array("\r\n".utf8) + [UInt8](repeating: 120, count: 65536) + [13, 10])
        }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789#$%&*".utf8)
        var line: [UInt8] = [35]                                        // '#': no answer, final or report starts so
        for _ in 0..<(5 + Int(nextRandom() % 40)) { line.append(alphabet[Int(nextRandom() % UInt64(alphabet.count))]) }
        transcript.record(now, .junk, String(decoding: line, as: UTF8.self))
        emit([0, 0, 0, 13, 10] + line + [13, 10])
    }

    func nextRandom() -> UInt64 {
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        return rng
    }

}
