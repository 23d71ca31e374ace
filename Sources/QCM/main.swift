import Base
import CSystem

// Entry point. Arguments come from CSystem (Embedded Swift has no CommandLine). An
// argument that is not valid UTF-8 is refused here: turning its bytes into U+FFFD would
// send the modem an APN or password other than the one typed.
var arguments: [String] = []
let argc = Int(csys_argc())
if let argv = csys_argv() {
    for i in 1..<max(argc, 1) {
        guard let p = argv[i] else { continue }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p))
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else {
            Out.error("qcm: argument \(i) (\(Text.printable(Array(bytes)))) is not valid UTF-8; qcm passes text to the modem exactly or not at all")
            exit(ExitCode.usage)
        }
        arguments.append(text)
    }
}
exit(CLI.main(arguments))
