import QMICore

/// Exit codes, documented in README.md ("Exit codes").
enum ExitCode {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
    static let noModem: Int32 = 3
}

enum CLI {
    static let version = "0.1.0"

    static let help = """
        qcm \(version) — QMI connection manager for Quectel modems (quectel-CM compatible)

        Usage: qcm [options]               dial and keep the data call up
               qcm list [--json]           show the modems found
               qcm decode [FILE...]        decode QMI frames from logs or hex
               qcm --help | --version
        """

    static func main(_ args: [String]) -> Int32 {
        guard let first = args.first else { return ExitCode.usage }
        switch first {
        case "-h", "--help", "help":
            Out.line(help)
            return ExitCode.ok
        case "--version", "-V":
            Out.line("qcm \(version)")
            return ExitCode.ok
        case "decode":
            return DecodeCommand.run(Array(args.dropFirst()))
        case "list":
            return ListCommand.run(Array(args.dropFirst()))
        default:
            Out.error("qcm: unknown option '\(first)'")
            Out.error(help)
            return ExitCode.usage
        }
    }
}
