import Base
import CSystem
import QMICodegen

// `swift run qcm-codegen [FILE]`: writes the typed QMI message views (default: stdout);
// `swift run qcm-codegen --mbim [FILE]`: the typed MBIM views;
// `swift run qcm-codegen --at [FILE]`: the typed AT views.
// See Sources/QMICodegen/Generator.swift, MBIMGenerator.swift and ATGenerator.swift.
var args = Array(CommandLine.arguments.dropFirst())
let kind = args.first.flatMap { $0.equals("--mbim") || $0.equals("--at") ? $0 : nil }
if kind != nil { args.removeFirst() }
let text = kind?.equals("--mbim") == true ? MBIMGenerator.generate() : kind?.equals("--at") == true ? ATGenerator.generate() : Generator.generate()
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
