import Base
import CSystem

/// A udhcpc-compatible hook (`scripts/default.script`): called with the event as its only
/// argument (deconfig, bound, renew, leasefail, nak) and the lease in environment
/// variables (interface ip subnet router dns domain mtu lease). Arguments travel as argv
/// and environment, never through a shell command line.
public struct ScriptHook {
    public let path: String

    public init(path: String) throws(LinkError) {
        self.path = path
        try ScriptHook.validate(path)
    }

    /// The checks behind the classic "default.script does nothing" support tickets.
    public static func validate(_ path: String) throws(LinkError) {
        switch Files.kind(path) {
        case .none:
            throw .script("script \(path) does not exist")
        case .directory:
            throw .script("script \(path) is a directory, not a script")
        case .file:
            break
        default:
            throw .script("script \(path) is not a regular file")
        }
        guard csys_is_executable(path) != 0 else {
            throw .script("script \(path) is not executable (chmod +x \(path))")
        }
        guard let head = Files.readSmall(path, limit: 4096) else {
            throw .script("script \(path) cannot be read")
        }
        if let i = head.firstIndex(of: 13), i + 1 < head.count, head[i + 1] == 10 {
            var firstLine = head.prefix { $0 != 10 && $0 != 13 }
            if firstLine.starts(with: [35, 33]) { firstLine = firstLine.dropFirst(2) }     // "#!"
            let interpreter = String(decoding: firstLine, as: UTF8.self)
            throw .script("script \(path) has DOS (CRLF) line endings, so the kernel looks for the interpreter '\(interpreter)\\r'; convert it with dos2unix \(path)")
        }
        if !head.starts(with: [35, 33]) {   // "#!"
            throw .script("script \(path) does not start with #! (e.g. #!/bin/sh)")
        }
    }

    /// Runs `path event` with the variables added to the current environment.
    public func run(event: String, variables: [(String, String)], timeoutMs: Int64 = 30_000) throws(LinkError) -> String {
        for (name, value) in variables where value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
            throw .script("refusing to run \(path): the value of \(name) contains control characters")
        }
        var env = Spawn.currentEnvironment.filter { e in !variables.contains { e.begins(with: $0.0 + "=") } }
        env += variables.map { "\($0.0)=\($0.1)" }
        let out: Spawn.Outcome
        do { out = try Spawn.run(path, [event], environment: env, timeoutMs: timeoutMs) } catch { throw .system(error) }
        if out.timedOut { throw .script("\(path) did not finish within \(timeoutMs / 1000) s and was killed") }
        guard out.status == 0 else {
            throw .script("script \(path) \(event) failed with exit status \(out.status)" + (out.output.isEmpty ? "" : ": " + out.output))
        }
        return out.output
    }
}
