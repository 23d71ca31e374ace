import Base
import QMICore

/// Exit codes, documented in README.md ("Exit codes") and in --help.
enum ExitCode {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
    static let noModem: Int32 = 3
    static let sim: Int32 = 4
    static let notResponding: Int32 = 5
    static let callFailed: Int32 = 6
    static let locked: Int32 = 7
    static let link: Int32 = 8
    static let permission: Int32 = 9
}

enum CLI {
    static let version = "0.1.0"

    static func main(_ args: [String]) -> Int32 {
        if let first = args.first {
            switch Word(first) {
            case "-h", "--help", "help":
                Out.line("qcm \(version) — QMI connection manager for Quectel modems (quectel-CM compatible)\n")
                Out.line(Options.usage)
                return ExitCode.ok
            case "--version", "-V":
                Out.line("qcm \(version)")
                return ExitCode.ok
            case "decode": return DecodeCommand.run(Array(args.dropFirst()))
            case "list": return ListCommand.run(Array(args.dropFirst()))
            case "status": return StatusCommand.run(Array(args.dropFirst()))
            case "dhcp": return DHCPCommand.run(Array(args.dropFirst()))
            default: break
            }
        }
        let o: Options
        do throws(Options.Failure) {
            o = try Options.parse(args)
        } catch {
            Out.error("qcm: \(error.message)")
            Out.error(Options.usage)
            return ExitCode.usage
        }
        return Daemon.run(o)
    }
}
