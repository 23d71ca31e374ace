import QMICore
import Base
import CSystem

/// The sd_notify datagram protocol, spoken directly (no libsystemd): READY=1 once
/// connected, STATUS= on every state change, WATCHDOG=1 when systemd asks for it.
final class SystemdNotify {
    let socket: String?
    /// Half the watchdog interval, in ms, when WatchdogSec is set for this process.
    let watchdogMs: Int64?

    init() {
        socket = SystemdNotify.env("NOTIFY_SOCKET")
        if let usec = SystemdNotify.env("WATCHDOG_USEC").flatMap({ Int64($0) }), usec > 0 {
            let pidOK = SystemdNotify.env("WATCHDOG_PID").map { $0.equals("\(getpid())") } ?? true
            watchdogMs = pidOK ? max(1, usec / 2000) : nil
        } else {
            watchdogMs = nil
        }
    }

    static func env(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }

    var enabled: Bool { socket != nil }

    func send(_ text: String) {
        guard let s = socket else { return }
        let b = Array(text.utf8)
        _ = b.withUnsafeBytes { csys_unix_dgram_send(s, $0.baseAddress, $0.count) }
    }

    func status(_ s: String) { send("STATUS=\(s)") }
    func ready(_ s: String) { send("READY=1\nSTATUS=\(s)") }
    func stopping() { send("STOPPING=1\nSTATUS=stopping") }
    func watchdog() { send("WATCHDOG=1") }
}
