import Base
import QMICore
import DHCPClient
import MBIMCore

/// libFuzzer entry point for every parser fed from outside: the QMUX/QMI decoder, TLV
/// value decoding per the catalogue, the trace printer, the hex scanner, the DHCP frame and
/// packet parsers, and MBIM (messages, fragments, every information-buffer layout)
/// (README: "Fuzzing").
///
/// Built normally (without QCM_LIBFUZZER) the same binary replays files given as
/// arguments through the entry point, for reproducing a crash without the fuzzer.
@_cdecl("LLVMFuzzerTestOneInput")
public func qmiFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let m = try? QMIMessage.decode(bytes) {
        _ = QMITrace.describe(m)
        _ = QMITrace.quectelLine(m)
        _ = QMITrace.masked(m).encode()
        if let spec = m.spec {
            for t in spec.tlvs(for: m.kind) { _ = try? m.value(t.name) }
        }
    }
    var reader = FrameReader()
    reader.append(bytes)
    while reader.next() != nil {}
    _ = HexScan.scan(line: String(decoding: bytes, as: UTF8.self))
    if let p = try? DHCPPacket.parse(bytes) { _ = p.encode() }
    _ = try? DHCPFrame.parse(bytes)
    MBIMFuzz.one(bytes)
    return 0
}

#if !QCM_LIBFUZZER
@main
struct FuzzReplay {
    static func main() {
        var replayed = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = try? Files.read(path) else {
                print("qcm-fuzz: cannot read \(path)")
                continue
            }
            _ = bytes.withUnsafeBufferPointer { qmiFuzzOne($0.baseAddress, $0.count) }
            replayed += 1
        }
        print("qcm-fuzz: replayed \(replayed) input(s) without a crash")
    }
}
#endif
