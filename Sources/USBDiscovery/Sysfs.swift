import Base
import CSystem

/// Tiny read-only view of a sysfs tree (or a fixture copy of one). Attribute files are
/// read with a size cap, non-blocking and only when they are regular files (a FIFO where an
/// attribute should be cannot hang `qcm list`); anything unreadable or malformed comes back
/// as nil, never a trap.
struct Sysfs {
    static func read(_ path: String, limit: Int = 4096) -> String? {
        guard var bytes = Files.readSmall(path, limit: limit) else { return nil }
        while let last = bytes.last, last == 10 || last == 13 || last == 32 || last == 9 || last == 0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Hex attribute ("2c7c", "0x2c7c", "ff"); nil when absent or not hex.
    static func hex(_ path: String) -> Int? { parse(read(path), base: 16) }
    static func decimal(_ path: String) -> Int? { parse(read(path), base: 10) }

    static func parse(_ s: String?, base: Int) -> Int? {
        guard var u = s.map({ Array($0.utf8) }), !u.isEmpty else { return nil }
        if base == 16, u.count > 2, u[0] == 48, u[1] == 120 || u[1] == 88 { u.removeFirst(2) }
        guard u.count <= 8 else { return nil }
        var v = 0
        for c in u {
            let d: Int
            switch c {
            case 48...57: d = Int(c) - 48
            case 97...102: d = Int(c) - 87
            case 65...70: d = Int(c) - 55
            default: return nil
            }
            guard d < base else { return nil }
            v = v * base + d
        }
        return v
    }

    /// Directory entries in natural order (or as readdir returns them: /proc is large).
    static func list(_ path: String, ordered: Bool = true) -> [String]? {
        guard let all = Files.list(path) else { return nil }
        guard ordered else { return all }
        var out: [String] = []
        for name in all { out.insert(name, at: out.firstIndex { naturalLess(name, $0) } ?? out.count) }
        return out
    }

    static func exists(_ path: String) -> Bool { Files.existsOrLinks(path) }
    static func isDirectory(_ path: String) -> Bool { Files.kind(path) == .directory }
    static func readlink(_ path: String) -> String? { Files.readlink(path) }
    static func basename(_ path: String) -> String { Files.basename(path) }

    /// "2-1.10" after "2-1.9"; "cdc-wdm10" after "cdc-wdm2".
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var i = 0, j = 0
        while i < x.count && j < y.count {
            if isDigit(x[i]) && isDigit(y[j]) {
                var ni = 0, nj = 0
                while i < x.count && isDigit(x[i]) { ni = ni &* 10 &+ Int(x[i] - 48); i += 1 }
                while j < y.count && isDigit(y[j]) { nj = nj &* 10 &+ Int(y[j] - 48); j += 1 }
                if ni != nj { return ni < nj }
            } else {
                if x[i] != y[j] { return x[i] < y[j] }
                i += 1
                j += 1
            }
        }
        return x.count - i < y.count - j
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// Names of running processes whose comm matches (ModemManager holding the modem).
    static func processRunning(named name: String, procRoot: String) -> Bool {
        guard let entries = list(procRoot, ordered: false) else { return false }
        for e in entries where e.utf8.allSatisfy(isDigit) {
            if read(procRoot + "/" + e + "/comm")?.equals(name) == true { return true }
        }
        return false
    }
}
