import Base
import CSystem
import QMICore

/// quectel-CM style log lines, `[MM-DD_HH:MM:SS:mmm] message`, on stdout and (with -f)
/// appended to a file. `-v` adds the QMI trace. Passwords and PINs never reach it: the
/// trace masks them and messages print *** in their place.
final class Logger {
    var verbose = false
    private var fileFD: Int32 = -1
    private(set) var filePath: String?

    func openFile(_ path: String) -> String? {
        closeFile()
        // 0600: with -v the trace holds what identifies the SIM and the device (IMSI, ICCID, IMEI).
        let fd = csys_open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return "cannot open log file \(path): \(Errno.current.description)" }
        fileFD = fd
        filePath = path
        return nil
    }

    /// SIGHUP: logrotate moved the file away; start a new one.
    func reopen() {
        if let p = filePath { _ = openFile(p) }
    }

    func closeFile() {
        if fileFD >= 0 { _ = close(fileFD) }
        fileFD = -1
    }

    static func timestamp() -> String {
        let ms = csys_realtime_ms()
        var tm = CSystem.tm()
        csys_localtime(ms, &tm)
        return "[" + Text.decimal(Int(tm.tm_mon) + 1, width: 2) + "-" + Text.decimal(Int(tm.tm_mday), width: 2) + "_"
            + Text.decimal(Int(tm.tm_hour), width: 2) + ":" + Text.decimal(Int(tm.tm_min), width: 2) + ":"
            + Text.decimal(Int(tm.tm_sec), width: 2) + ":" + Text.decimal(Int(ms % 1000), width: 3) + "]"
    }

    func log(_ s: String) {
        let line = Logger.timestamp() + " " + s + "\n"
        Out.write(1, line)
        if fileFD >= 0 { Out.write(fileFD, line) }
    }

    func debug(_ s: String) { if verbose { log(s) } }

    /// One QMI frame in the -v trace: the hex line, quectel-CM's decoded line, then every
    /// TLV by name. Secrets are masked in all three.
    func frame(_ bytes: [UInt8], _ message: QMIMessage?, sent: Bool) {
        guard verbose else { return }
        guard let m = message else {
            log(Text.hexBytes(bytes))
            log("(not a valid QMI frame)")
            return
        }
        let shown = QMITrace.masked(m)
        log(Text.hexBytes(m.tlvs == shown.tlvs ? bytes : shown.encode()))
        log(QMITrace.quectelLine(shown))
        for l in QMITrace.describe(shown).dropFirst() { log("  " + l.dropFirstSpaces()) }
    }
}

extension String {
    func dropFirstSpaces() -> String { String(decoding: Array(self.utf8.drop { $0 == 32 }), as: UTF8.self) }
}
