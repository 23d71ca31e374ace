import Base
import QMICore

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
        do throws(UsageError) {
            o = try Options.parse(args)
        } catch {
            Out.error("qcm: \(error.message)")
            Out.error(Options.usage)
            return ExitCode.usage
        }
        return Daemon.run(o)
    }
}
