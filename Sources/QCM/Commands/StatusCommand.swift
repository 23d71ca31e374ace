import Base
import CSystem
import QMICore

/// `qcm status [--json] [--watch] [--run-dir DIR]`: what every running qcm is doing. The
/// status files hold the connection and what the modem reported last (registration,
/// operator, signal, cell); the running qcm is asked over its status socket for what only
/// the modem knows now (packet counters, RF band). `--watch` stays connected and redraws
/// whenever a qcm reports a change: no polling on either side.
enum StatusCommand {
    static let usage = """
        Usage: qcm status [--json] [--watch] [--run-dir DIR]
          The state of every running qcm: connection (state, modem, APN, addresses, uptime,
          last call-end reason), network (registration, RAT, operator, roaming), signal (bars
          and per-RAT values), serving cell (TAC/LAC, cell id, band, channel), SIM (IMSI,
          ICCID), IMEI and packet counters.
          --json     one JSON array, an object per PDN (README: "qcm status --json")
          --watch    redraw whenever a running qcm reports a change (Ctrl-C to stop)
          --run-dir  where the running qcm keep their files (default /run/qcm)
        Exit status 0 when at least one instance runs, 3 when none.
        """

    static func run(_ args: [String]) -> Int32 {
        var json = false, watch = false
        var runDir = "/run/qcm"
        var a = Args(args)
        do throws(UsageError) {
            while let w = a.next() {
                switch Word(w) {
                case "--json": json = true
                case "--watch", "-w": watch = true
                case "--run-dir": runDir = try a.value(w, "a directory")
                case "-h", "--help": Out.line(usage); return ExitCode.ok
                default: throw Args.unknown(w)
                }
            }
        } catch {
            Out.error("qcm status: \(error.message)")
            Out.error(usage)
            return ExitCode.usage
        }
        _ = csys_ignore_sigpipe()        // a daemon that hangs up on us is reported, never fatal
        let all = Instance.statuses(runDir: runDir).map { ($0, $0.liveness) }
        guard all.contains(where: { $0.1 != .stale }) else {
            if json { Out.line("[]") } else {
                for (s, l) in all { Out.line(heading(s, l)) }
                Out.error("qcm: no running qcm found in \(runDir)")
            }
            return ExitCode.noModem
        }
        if watch { return Watch(runDir: runDir, json: json).run(all.filter { $0.1 != .stale }.map { $0.0 }) }
        // Ask each running qcm once (a qcm serving several PDNs answers for all of them).
        var live: [(pid: Int32, records: [[(String, String)]])] = []
        for (s, l) in all where l == .running {
            guard let pid = s.pid, !live.contains(where: { $0.pid == pid }) else { continue }
            switch ask(s) {
            case .records(let records): live.append((pid, records))
            case .busy: Out.error("qcm: qcm pid \(pid) is busy answering other status clients; showing its status file (try again)")
            case .none: break
            }
        }
        let merged = all.map { s, l -> (Instance.Status, Instance.Liveness) in
            guard l == .running, let pid = s.pid, let rs = live.first(where: { $0.pid == pid })?.records else { return (s, l) }
            let pdn = s.value(.pdn) ?? ""
            guard let r = rs.first(where: { rec in rec.contains { $0.0.equals("pdn") && $0.1.equals(pdn) } }) else { return (s, l) }
            return (Instance.Status(path: s.path, values: r), l)
        }
        Out.line(render(merged, json: json))
        return ExitCode.ok
    }

    /// Sends a one-line request without dying of SIGPIPE if the daemon hangs up first.
    static func request(_ fd: Int32, _ line: String) -> Bool {
        var bytes = Array((line + "\n").utf8)
        return Files.sendPending(fd, &bytes) && bytes.isEmpty
    }

    enum Answer {
        case records([[(String, String)]])
        /// The daemon has no room for another client now.
        case busy
        /// No answer (no socket, no answer within 3 s, a broken one).
        case none
    }

    /// One `status` request to the qcm `s` describes.
    static func ask(_ s: Instance.Status) -> Answer {
        guard let fd = s.connectSocket() else { return .none }
        defer { _ = close(fd) }
        _ = csys_set_receive_timeout(fd, 3)
        var reader = RecordReader()
        var buf = [UInt8](repeating: 0, count: 4096)
        // A busy daemon says so and closes: that answer may already be waiting.
        guard request(fd, "status") else { return readBusy(fd, &buf, &reader) }
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return reader.busy ? .busy : .none }
            if let records = reader.add(Array(buf[0..<n])) { return .records(records) }
            if reader.busy { return .busy }
            if reader.overflowed { return .none }
        }
    }

    static func readBusy(_ fd: Int32, _ buf: inout [UInt8], _ reader: inout RecordReader) -> Answer {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 { _ = reader.add(Array(buf[0..<n])) }
        return reader.busy ? .busy : .none
    }

    /// Collects answers from a status socket: records separated by blank lines, each
    /// answer ended by a "." line. Bounded: 1 MB without an end is given up.
    struct RecordReader {
        var pending: [UInt8] = []
        var overflowed = false
        /// The daemon answered `busy` (no room for another client) instead.
        var busy = false

        /// The answer completed by `bytes`, if it completed one.
        mutating func add(_ bytes: [UInt8]) -> [[(String, String)]]? {
            pending += bytes
            if pending.count >= 5 && Array(pending.prefix(5)) == Array("busy\n".utf8) { busy = true }
            if pending.count > 1 << 20 { overflowed = true; pending.removeAll() }
            var answer: [[(String, String)]]?
            while let end = endOfAnswer() {
                let text = Array(pending[..<end])
                pending.removeFirst(min(pending.count, end + 2))
                var records: [[(String, String)]] = []
                var lines: [String] = []
                for line in Files.lines(text) + [""] {
                    if line.isEmpty {
                        if !lines.isEmpty { records.append(Instance.parseRecord(lines)) }
                        lines = []
                    } else {
                        lines.append(line)
                    }
                }
                answer = records
            }
            return answer
        }

        /// Where the first "\n.\n" (or a leading ".\n") is: the end of an answer.
        func endOfAnswer() -> Int? {
            if pending.count >= 2 && pending[0] == 46 && pending[1] == 10 { return 0 }
            var i = 0
            while i + 2 < pending.count {
                if pending[i] == 10 && pending[i + 1] == 46 && pending[i + 2] == 10 { return i + 1 }
                i += 1
            }
            return nil
        }
    }

    // MARK: rendering

    static func heading(_ s: Instance.Status, _ liveness: Instance.Liveness) -> String {
        let state: String
        switch liveness {
        case .running: state = s.value(.state) ?? "unknown"
        case .stale: state = "not running (stale status file \(s.path))"
        case .hidden: state = (s.value(.state) ?? "unknown") + " (not verified: /proc hides pid \(s.pid.map { "\($0)" } ?? "?") from this user; run qcm status as root to check it runs)"
        }
        return "qcm pid \(s.pid.map { "\($0)" } ?? "?") PDN \(s.value(.pdn) ?? "?"): " + state
    }

    static func render(_ all: [(Instance.Status, Instance.Liveness)], json: Bool) -> String {
        let now = csys_realtime_ms() / 1000
        var objects: [String] = []
        var lines: [String] = []
        for (s, liveness) in all {
            let alive = liveness == .running
            let uptime = s.value(.connectedSince).flatMap { Text.parseInt($0) }.map { max(0, now - $0) }
            if json {
                objects.append(jsonObject(s, running: liveness == .hidden ? nil : alive, uptime: uptime))
                continue
            }
            lines.append(heading(s, liveness))
            guard liveness != .stale else { continue }
            func v(_ k: StatusKey) -> String? { s.value(k).flatMap { $0.isEmpty ? nil : $0 } }
            func line(_ label: String, _ value: String?) { if let value { lines.append("  " + Text.pad(label + ":", 11) + value) } }
            for (label, key) in [("modem", StatusKey.modem), ("revision", .revision), ("channel", .channel), ("interface", .interface),
                                 ("apn", .apn), ("ipv4", .ipv4), ("ipv6", .ipv6), ("bridge", .bridge), ("dns", .dns), ("warning", .dnsWarning)] {
                line(label, v(key))
            }
            if let u = uptime { line("uptime", "\(u / 3600)h\(Text.decimal(u / 60 % 60, width: 2))m\(Text.decimal(u % 60, width: 2))s") }
            line("network", join([v(.registration), v(.rat).map { Text.uppercasedASCII($0) },
                                  v(.operatorName).map { o in o + (v(.mccMnc).map { " (\($0))" } ?? "") } ?? v(.mccMnc),
                                  v(.roaming).flatMap { $0.equals("yes") ? "roaming" : nil }]))
            var signal: [String?] = [v(.signalBars).map { "\($0)/4 bars" }]
            signal.append(unitList("LTE", [("RSRP", v(.lteRSRP), "dBm"), ("RSRQ", v(.lteRSRQ), "dB"),
                                           ("SNR", v(.lteSNR), "dB"), ("RSSI", v(.lteRSSI), "dBm")]))
            signal.append(unitList("5G", [("RSRP", v(.nrRSRP), "dBm"), ("RSRQ", v(.nrRSRQ), "dB"), ("SNR", v(.nrSNR), "dB")]))
            signal.append(unitList("WCDMA", [("RSSI", v(.wcdmaRSSI), "dBm"), ("Ec/Io", v(.wcdmaEcIo), "dB")]))
            signal.append(unitList("GSM", [("RSSI", v(.gsmRSSI), "dBm")]))
            line("signal", join(signal, separator: "; "))
            line("cell", join([v(.tac).map { "TAC \($0)" }, v(.lac).map { "LAC \($0)" }, v(.cellID).map { "cell id \($0)" },
                               v(.band).map { "band \($0)" }, v(.rfChannel).map { "channel \($0)" }]))
            line("sim", join([v(.imsi).map { "IMSI \($0)" }, v(.iccid).map { "ICCID \($0)" }]))
            line("imei", v(.imei))
            line("traffic", join([v(.rxBytes).map { "rx \($0) bytes" + (v(.rxPackets).map { " (\($0) packets)" } ?? "") },
                                  v(.txBytes).map { "tx \($0) bytes" + (v(.txPackets).map { " (\($0) packets)" } ?? "") }]))
            line("last end", v(.lastEndReason))
        }
        return json ? "[" + objects.joined(separator: ",\n ") + "]" : lines.joined(separator: "\n")
    }

    static func join(_ parts: [String?], separator: String = ", ") -> String? {
        let p = parts.compactMap { $0 }
        return p.isEmpty ? nil : p.joined(separator: separator)
    }

    static func unitList(_ rat: String, _ items: [(String, String?, String)]) -> String? {
        let p = items.compactMap { i in i.1.map { "\(i.0) \($0) \(i.2)" } }
        return p.isEmpty ? nil : rat + " " + p.joined(separator: ", ")
    }

    /// The JSON schema (README, "qcm status --json"): strings for text, numbers for numbers.
    /// `running` nil: cannot be told (/proc hides the process and it does not answer).
    static func jsonObject(_ s: Instance.Status, running: Bool?, uptime: Int64?) -> String {
        var o = JSONObject()
        o.add("pid", s.pid.map { Int($0) })
        o.add("running", running)
        for key in StatusKey.texts { o.add(key.name, s.value(key)) }
        for key in [StatusKey.pdn] + StatusKey.numbers {
            if let v = s.value(key), isNumber(v) { o.addRaw(key.name, v) } else { o.add(key.name, nil as String?) }
        }
        o.add("uptime_seconds", running == true ? uptime : nil)
        return o.text
    }

    /// A JSON number as qcm writes them: an optional minus, digits, optionally one fraction.
    static func isNumber(_ s: String?) -> Bool {
        guard let s else { return false }
        var u = Array(s.utf8)
        if u.first == 45 { u.removeFirst() }
        guard let first = u.first, first >= 48 && first <= 57, u.count <= 20 else { return false }
        var dot = false
        for c in u {
            if c == 46 { if dot { return false }; dot = true } else if c < 48 || c > 57 { return false }
        }
        return u.last != 46
    }
}

/// `qcm status --watch`: connected to every running qcm's status socket, redrawing each
/// time one sends its status again. Blocks in poll(2) between changes.
struct Watch {
    let runDir: String
    let json: Bool

    func run(_ statuses: [Instance.Status]) -> Int32 {
        var sockets: [(fd: Int32, pid: Int32, reader: StatusCommand.RecordReader, records: [[(String, String)]])] = []
        for s in statuses {
            guard let pid = s.pid, !sockets.contains(where: { $0.pid == pid }),
                  let fd = s.connectSocket() else { continue }
            guard StatusCommand.request(fd, "watch") else {
                _ = close(fd)
                Out.error("qcm status --watch: qcm pid \(pid) has no room for another status client; try again")
                continue
            }
            sockets.append((fd, pid, StatusCommand.RecordReader(), []))
        }
        guard !sockets.isEmpty else {
            Out.error("qcm status --watch: no running qcm has a status socket in \(runDir)")
            return ExitCode.noModem
        }
        let terminal = isatty(1) != 0
        var buf = [UInt8](repeating: 0, count: 4096)
        while !sockets.isEmpty {
            var fds = sockets.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let n = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), -1) }
            if n < 0 { if csys_errno() == EINTR { continue }; break }
            var redraw = false
            var closed: [Int] = []
            for (i, p) in fds.enumerated() where p.revents != 0 {
                let got = buf.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                guard got > 0 else { closed.append(i); continue }
                let records = sockets[i].reader.add(Array(buf[0..<got]))
                if sockets[i].reader.busy {
                    Out.error("qcm status --watch: qcm pid \(sockets[i].pid) has no room for another status client; try again")
                    closed.append(i)
                    continue
                }
                if let records {
                    sockets[i].records = records
                    redraw = true
                }
                if sockets[i].reader.overflowed { closed.append(i) }
            }
            for i in closed.reversed() {
                _ = close(sockets[i].fd)
                sockets.remove(at: i)
                redraw = true
            }
            guard redraw else { continue }
            let all = sockets.flatMap { $0.records }.map { (Instance.Status(path: "", values: $0), Instance.Liveness.running) }
            let text = all.isEmpty ? "qcm: no running qcm left" : StatusCommand.render(all, json: json)
            if terminal && !json { Out.line("\u{1b}[H\u{1b}[2J" + text) } else { Out.line(text + (json ? "" : "\n")) }
        }
        return ExitCode.ok
    }
}
