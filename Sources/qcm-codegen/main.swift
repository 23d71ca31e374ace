import Base
import CSystem
import QMICodegen

// `swift run qcm-codegen [FILE]`: writes the typed message views (default: stdout).
// See Sources/QMICodegen/Generator.swift.
let text = Generator.generate()
let args = Array(CommandLine.arguments.dropFirst())
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
