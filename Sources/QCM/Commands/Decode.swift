import Base
import QMICore
#if QCM_MBIM
import MBIMCore
#endif
#if QCM_AT
import ATCore
#endif

/// `qcm decode [--quectel] [FILE...]`: finds QMI frames — MBIM messages, and AT lines of a
/// -v trace — in logs or hex dumps and prints each one decoded. Lines that are none of
/// these are skipped; broken frames are reported.
enum DecodeCommand {
    static let usage = """
        Usage: qcm decode [--quectel] [FILE...]
          Reads quectel-CM -v logs, qmicli or mbimcli --verbose dumps, qcm -v logs or bare
          hex (files, or stdin when no FILE or FILE is -) and prints every QMI frame and
          MBIM message found, decoded, and every AT line ("AT> ..." sent, "AT< ..."
          received) with its fields named (PINs and passwords as ****).
          --quectel   print quectel-CM style lines instead of the full decode
        Exit status: 0 when at least one frame was decoded, 1 when none was found or a
        file could not be read, 2 on a usage error.
        """

    static func run(_ args: [String]) -> Int32 {
        var files: [String] = []
        var quectel = false
        var a = Args(args)
        while let w = a.next() {
            switch Word(w) {
            case "--quectel": quectel = true
            case "-h", "--help":
                Out.line(usage)
                return 0
            default:
                if w.begins(with: "-") && !w.equals("-") {
                    Out.error("qcm decode: unknown option '\(w)'")
                    Out.error(usage)
                    return ExitCode.usage
                }
                files.append(w)
            }
        }
        if files.isEmpty { files = ["-"] }
        Out.buffering = true
        defer { Out.flush() }
        var decoded = 0, broken = 0
        var failed = false
        for f in files {
            let bytes: [UInt8]
            do {
                bytes = f.equals("-") ? try Files.readAll(fd: 0, name: "standard input") : try Files.read(f)
            } catch {
                Out.error("qcm decode: \(error.description)")
                failed = true
                continue
            }
            let label = f.equals("-") ? "stdin" : f
            for (n, line) in Files.lines(bytes).enumerated() {
                let at = "\(label):\(n + 1): "
                #if QCM_AT
                if let (atLine, sent) = ATTrace.find(in: line) {
                    guard let what = ATTrace.describe(atLine, sent: sent) else { continue }
                    decoded += 1
                    Out.line(at + (sent ? ATTrace.sentMark + ATCatalogue.masked(commandLine: atLine) : ATTrace.receivedMark + ATTrace.masked(received: atLine)))
                    for w in what { Out.line("  " + w) }
                    continue
                }
                #endif
                for item in HexScan.scan(line: line, others: true) {
                    #if QCM_MBIM
                    // MBIM: a run that is not a QMUX frame, or one that only looked like one
                    // (an OPEN starts with 01 00 00 00).
                    switch item {
                    case .other(let bytes), .broken(let bytes, _):
                        if case .success(let m) = MBIMMessage.decode(bytes) {
                            decoded += 1
                            Out.line(at + Text.hexBytes(MBIMTrace.masked(bytes, m)))
                            Out.line("  " + MBIMTrace.describe(m))
                            continue
                        }
                    default: break
                    }
                    #endif
                    switch item {
                    case .other: break
                    case .frame(let frame):
                        do {
                            let m = try QMIMessage.decode(frame)
                            decoded += 1
                            if quectel {
                                Out.line(Text.hexBytes(frame))
                                Out.line(QMITrace.quectelLine(m))
                            } else {
                                Out.line(at + Text.hexBytes(frame))
                                for l in QMITrace.describe(m) { Out.line("  " + l) }
                            }
                        } catch {
                            broken += 1
                            Out.line(at + "broken frame: \(error.description)")
                            Out.line("  bytes: \(Text.hexBytes(frame))")
                        }
                    case let .broken(frameBytes, reason):
                        broken += 1
                        Out.line(at + "broken frame: \(reason)")
                        Out.line("  bytes: \(Text.hexBytes(frameBytes))")
                    }
                }
            }
        }
        if decoded == 0 && !failed {
            Out.error("qcm decode: no QMI frames, MBIM messages or AT lines found" + (broken > 0 ? " (\(broken) broken)" : ""))
        }
        return decoded > 0 && !failed ? 0 : 1
    }
}
