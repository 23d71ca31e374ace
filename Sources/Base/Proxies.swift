import CSystem

/// Quectel's own proxies (quectel-CM 1.6.8's quectel-qmi-proxy, quectel-mbim-proxy,
/// quectel-atc-proxy): where each listens, and what a client must do for each of its writes
/// to arrive as one message.
///
/// Each proxy opens the modem's device itself and listens on an abstract Unix stream socket.
/// The QMI and AT proxies name it after the last character of the device they serve
/// (`/dev/cdc-wdm0` and `/dev/mhi_QMI0` → `quectel-qmi-proxy0`, `/dev/ttyUSB2` →
/// `quectel-atc-proxy2`); the MBIM proxy has one name for any device. quectel-CM derives the
/// name the same way from the channel it found, and so does qcm.
public enum QuectelProxy: Equatable {
    case qmi, mbim, atc

    /// The program's name, as `-p` takes it.
    public var name: String {
        switch self {
        case .qmi: return "quectel-qmi-proxy"
        case .mbim: return "quectel-mbim-proxy"
        case .atc: return "quectel-atc-proxy"
        }
    }

    /// The abstract socket (`@name`) of the proxy serving `device`; nil when the device's name
    /// does not end in a character that can name one (not printable ASCII).
    public func socket(forDevice device: String) -> String? {
        if self == .mbim { return "@" + name }
        guard let last = device.utf8.last, last > 0x20, last < 0x7f, last != 0x2f else { return nil }
        return "@" + name + String(decoding: [last], as: UTF8.self)
    }

    /// How the proxy is started for `device` (for messages that say it is not running).
    public func startHint(device: String) -> String { "\(name) -d \(device)" }

    /// Whether `fd`'s peer still has bytes of ours unread. Quectel's proxies take each read(2)
    /// of a client's socket as one message (a QMUX frame, an MBIM message, an AT command
    /// line): two writes read together are one message to them, and dropped or sent to the
    /// modem as one. A client writes its next message only when this is false. False when the
    /// socket cannot say (then nothing is held back).
    public static func peerHasUnread(_ fd: Int32) -> Bool { csys_unread_output(fd) > 0 }

    /// How long a client waits before it looks again whether the proxy read its last message:
    /// 1 ms, then twice as long each time up to 64 ms (a proxy busy with another client, or
    /// quectel-atc-proxy waiting up to 15 s for the module, is not polled a thousand times a
    /// second).
    public static func unreadPollMs(after previous: Int64) -> Int64 { previous <= 0 ? 1 : min(previous * 2, 64) }
}
