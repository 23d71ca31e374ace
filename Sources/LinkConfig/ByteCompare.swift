// Byte-wise comparison of sysfs names, interface names and paths (see QMICore's Text.swift
// for why qcm avoids String ==, hasPrefix and hasSuffix: Unicode tables in the Embedded
// binary). This module does not depend on QMICore, hence its own three lines.
extension String {
    @inline(__always) func equals(_ other: String) -> Bool { utf8.elementsEqual(other.utf8) }
    func begins(with prefix: String) -> Bool { utf8.starts(with: prefix.utf8) }
    func ends(with suffix: String) -> Bool {
        let n = utf8.count, k = suffix.utf8.count
        return n >= k && utf8.dropFirst(n - k).elementsEqual(suffix.utf8)
    }
}
