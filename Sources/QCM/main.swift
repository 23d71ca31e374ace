import CSystem

// Entry point. Arguments come from CSystem (Embedded Swift has no CommandLine).
var arguments: [String] = []
let argc = Int(csys_argc())
if let argv = csys_argv() {
    for i in 0..<argc {
        if let p = argv[i] { arguments.append(String(cString: p)) }
    }
}
exit(CLI.main(Array(arguments.dropFirst())))
