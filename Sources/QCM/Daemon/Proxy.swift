import Base

/// A proxy qcm talks to the modem through (`-p NAME`), instead of opening its device.
enum Proxy: Equatable {
    /// libqmi's qmi-proxy (`@qmi-proxy`): CTL Internal Proxy Open with the device first.
    case libqmi
    /// libmbim's mbim-proxy (`@mbim-proxy`): proxy-control CONFIGURATION with the device first.
    case libmbim
    /// One of Quectel's (quectel-CM 1.6.8): `@quectel-qmi-proxyN`, `@quectel-mbim-proxy`,
    /// `@quectel-atc-proxyN`.
    case quectel(QuectelProxy)

    /// The program's name, as `-p` takes it.
    var name: String {
        switch self {
        case .libqmi: return "qmi-proxy"
        case .libmbim: return "mbim-proxy"
        case .quectel(let q): return q.name
        }
    }

    /// `-p NAME` (quectel-CM's names; libqmi-proxy and libmbim-proxy too).
    static func parse(_ v: String) -> Proxy? {
        switch Word(v) {
        case "qmi-proxy", "libqmi-proxy": return .libqmi
        case "mbim-proxy", "libmbim-proxy": return .libmbim
        case "quectel-qmi-proxy": return .quectel(.qmi)
        case "quectel-mbim-proxy": return .quectel(.mbim)
        case "quectel-atc-proxy": return .quectel(.atc)
        default: return nil
        }
    }

    /// The socket qcm connects to for the modem's `device`; nil when a Quectel proxy cannot be
    /// named after it.
    func socket(device: String) -> String? {
        switch self {
        case .libqmi: return "@qmi-proxy"
        case .libmbim: return "@mbim-proxy"
        case .quectel(let q): return q.socket(forDevice: device)
        }
    }

    /// How the proxy is started, for the message that says it is not running.
    func startHint(device: String) -> String {
        switch self {
        case .libqmi, .libmbim: return "/usr/libexec/\(name)"
        case .quectel(let q): return q.startHint(device: device)
        }
    }

    var speaksMBIM: Bool { self == .libmbim || self == .quectel(.mbim) }
    var speaksAT: Bool { self == .quectel(.atc) }
}
