import Base
import CSystem
import QMICodegen

// `swift run qcm-codegen [FILE]`: writes the typed QMI message views (default: stdout);
// `swift run qcm-codegen --mbim [FILE]`: the typed MBIM views.
// See Sources/QMICodegen/Generator.swift and MBIMGenerator.swift.
var args = Array(CommandLine.arguments.dropFirst())
let mbim = args.first.map { $0.equals("--mbim") } ?? false
if mbim { args.removeFirst() }
let text = mbim ? MBIMGenerator.generate() : Generator.generate()
if let path = args.first {
    do {
        try Files.writeAtomically(path, Array(text.utf8))
    } catch {
        print("qcm-codegen: \(error.description)")
        exit(1)
    }
} else {
    print(text, terminator: "")
}
