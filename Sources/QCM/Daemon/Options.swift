import Base
import LinkConfig
import QMICore

/// One PDN to dial: its profile, APN and credentials, IP families, and whether it owns the
/// default route. Immutable once parsed.
final class PDNOptions {
    /// Profile (PDN) index, 1-24.
    let pdn: Int
    let apn: String?
    let user: String?
    let password: String?
    /// QMI authentication bitmask: 0 none, 1 PAP, 2 CHAP, 3 PAP|CHAP; nil: not given.
    let auth: UInt8?
    /// IPv4, IPv6, or both (dual stack: one WDS client per family).
    let families: [Family]
    /// Whether this PDN gets default routes (and DNS).
    let defaultRoute: Bool
    /// `-m N`: the QMAP mux this PDN uses is 0x80 + N (nil: chosen from the data path).
    let muxIndex: Int?
    /// `--ipv6-lan IFACE`: the PDN's IPv6 /64 is extended to IFACE (RFC 7278).
    let ipv6LAN: String?
    /// `--ipv6-lan-ra off`: another daemon advertises the /64 on the LAN; qcm only routes it.
    let ipv6LANAdvertise: Bool
    /// `-b`: the call's IPv4 address goes to one LAN host through the driver's bridge mode
    /// (bridge_mode, bridge_ipv4); the netdev itself gets no address.
    let bridge: Bool
    /// `-y`: the APN type (0 unspecified, 1 internet, 2 IMS); nil: not given.
    let apnType: UInt8?
    /// `-a`: bring the call up by APN name or by APN type (nil: by profile, as always).
    let bringUp: BringUp?

    /// quectel-CM's `-a 1` and `-a 2`.
    enum BringUp: Equatable {
        case byName, byType

        var name: String { self == .byName ? "APN name" : "APN type" }
    }

    init(pdn: Int, apn: String?, user: String?, password: String?, auth: UInt8?, families: [Family], defaultRoute: Bool,
         muxIndex: Int? = nil, ipv6LAN: String? = nil, ipv6LANAdvertise: Bool = true, bridge: Bool = false,
         apnType: UInt8? = nil, bringUp: BringUp? = nil) {
        self.ipv6LAN = ipv6LAN
        self.ipv6LANAdvertise = ipv6LANAdvertise
        self.pdn = pdn
        self.apn = apn
        self.user = user
        self.password = password
        self.auth = auth
        self.families = families
        self.defaultRoute = defaultRoute
        self.muxIndex = muxIndex
        self.bridge = bridge
        self.apnType = apnType
        self.bringUp = bringUp
    }

    /// "internet", "IMS", "unspecified" (-y 1, 2, 0).
    static func apnTypeName(_ t: UInt8) -> String { t == 1 ? "internet" : t == 2 ? "IMS" : "unspecified" }

    /// The authentication the profile should hold: as given, else CHAP when there is a
    /// password (quectel-CM's rule), else none.
    var effectiveAuth: UInt8 { auth ?? (password.map { $0.isEmpty ? 0 : 2 } ?? 0) }
}

/// Everything the command line can say. Parsing is quectel-CM compatible (`-s apn user
/// password auth`, `-p PIN`, `-n pdn` ...) with long forms; a bad flag or value is one
/// precise message, the usage, and exit status 2. Immutable after parsing: `qcm --simulate`
/// derives a copy with the simulator's paths (`simulated(...)`).
final class Options {
    /// One or more PDNs; the first is the only one unless PDN groups were given.
    let pdns: [PDNOptions]
    /// `--data-path`: how traffic leaves the modem (auto: from what the driver offers).
    let dataPath: DataPathChoice
    let pin: String?
    /// `-p NAME`: the proxy to talk through.
    let proxy: Proxy?
    let logFile: String?
    let interface: String?
    let device: String?
    let verbose: Bool
    let noDHCP: Bool
    let killPDN: Int?
    let simulate: Bool
    let simArgs: [String]
    let sysRoot: String
    let devRoot: String
    let runDir: String
    let dns: DNSMode
    let resolvConf: String
    let script: String?
    let metric: UInt32
    /// 0: redial forever.
    let maxRetries: Int
    let stableAfterSeconds: Int
    let noLink: Bool
    let pidFile: String?
    /// `-u FILE`: the modem's USB traffic from debugfs usbmon into FILE while qcm runs.
    let usbmonFile: String?

    init(pdns: [PDNOptions], dataPath: DataPathChoice = .auto, pin: String?, proxy: Proxy?, logFile: String?, interface: String?, device: String?,
         verbose: Bool, noDHCP: Bool, killPDN: Int?, simulate: Bool, simArgs: [String],
         sysRoot: String, devRoot: String, runDir: String, dns: DNSMode, resolvConf: String, script: String?,
         metric: UInt32, maxRetries: Int, stableAfterSeconds: Int, noLink: Bool, pidFile: String?, usbmonFile: String? = nil) {
        self.pdns = pdns
        self.dataPath = dataPath
        self.pin = pin
        self.proxy = proxy
        self.logFile = logFile
        self.interface = interface
        self.device = device
        self.verbose = verbose
        self.noDHCP = noDHCP
        self.killPDN = killPDN
        self.simulate = simulate
        self.simArgs = simArgs
        self.sysRoot = sysRoot
        self.devRoot = devRoot
        self.runDir = runDir
        self.dns = dns
        self.resolvConf = resolvConf
        self.script = script
        self.metric = metric
        self.maxRetries = maxRetries
        self.stableAfterSeconds = stableAfterSeconds
        self.noLink = noLink
        self.pidFile = pidFile
        self.usbmonFile = usbmonFile
    }

    /// The first (or only) PDN.
    var pdn: PDNOptions { pdns[0] }

    /// A copy pointed at the simulator's tree (`qcm --simulate`).
    func simulated(sysRoot: String, devRoot: String, runDir: String, dns: DNSMode, noLink: Bool) -> Options {
        Options(pdns: pdns, dataPath: dataPath, pin: pin, proxy: proxy, logFile: logFile, interface: interface, device: device, verbose: verbose,
                noDHCP: noDHCP, killPDN: killPDN, simulate: simulate, simArgs: simArgs, sysRoot: sysRoot, devRoot: devRoot,
                runDir: runDir, dns: dns, resolvConf: resolvConf, script: script, metric: metric, maxRetries: maxRetries,
                stableAfterSeconds: stableAfterSeconds, noLink: noLink, pidFile: pidFile, usbmonFile: usbmonFile)
    }

    /// The PDN options being collected while parsing.
    struct PDNDraft {
        var pdn: Int?
        var apn: String?
        var user: String?
        var password: String?
        var auth: UInt8?
        var ipv4 = false
        var ipv6 = false
        var mux: Int?
        var defaultRoute: Bool?
        var ipv6LAN: String?
        var ipv6LANAdvertise = true
        var bridge = false
        var apnType: UInt8?
        var bringUp: PDNOptions.BringUp?
        var given: [String] = []

        /// Records that `flag` was given for this PDN; twice is an error.
        mutating func once(_ flag: String) throws(UsageError) {
            if given.contains(where: { $0.equals(flag) }) {
                throw UsageError(message: "\(flag) given twice for PDN \(pdn.map { "\($0)" } ?? "1")")
            }
            given.append(flag)
        }

        /// `first`: the first PDN group of the command line.
        func build(first: Bool) -> PDNOptions {
            let families: [Family] = ipv4 && ipv6 ? [.ipv4, .ipv6] : ipv6 ? [.ipv6] : [.ipv4]
            // An IMS PDN (by name or by -y 2) and a bridged one (its address is the LAN host's)
            // take no default route unless told to.
            let ims = (apn.map { Text.equalsIgnoringCase($0, "ims") } ?? false) || apnType == 2
            return PDNOptions(pdn: pdn ?? 1, apn: apn, user: user, password: password, auth: auth, families: families,
                              defaultRoute: defaultRoute ?? (first && !ims && !bridge), muxIndex: mux, ipv6LAN: ipv6LAN,
                              ipv6LANAdvertise: ipv6LANAdvertise, bridge: bridge, apnType: apnType, bringUp: bringUp)
        }
    }

    static func parse(_ words: [String]) throws(UsageError) -> Options {
        var a = Args(words)
        var draft = PDNDraft()
        var groups: [PDNDraft] = []
        var dataPath = DataPathChoice.auto
        var pin: String?, proxy: Proxy?, logFile: String?, interface: String?, device: String?
        var verbose = false, noDHCP = false, simulate = false, noLink = false
        var killPDN: Int?
        var simArgs: [String] = []
        var sysRoot = "/sys", devRoot = "/dev", runDir = "/run/qcm"
        var dns = DNSMode.auto
        var resolvConf = "/etc/resolv.conf"
        var script: String?, pidFile: String?, usbmonFile: String?
        var metric: UInt32 = 0
        var maxRetries = 0, stableAfter = 30
        while let w = a.next() {
            switch Word(w) {
            case "-s", "--apn":
                try draft.once("-s")
                let v = a.values()
                guard !v.isEmpty || w.equals("-s") else { throw UsageError(message: "--apn needs an APN") }
                guard v.count <= 4 else { throw UsageError(message: "-s takes at most APN USER PASSWORD AUTH, got \(v.count) values") }
                draft.apn = v.count > 0 ? v[0] : ""
                if v.count > 1 { draft.user = v[1] }
                if v.count > 2 {
                    draft.password = v[2]
                    if !v[2].isEmpty { draft.auth = 2 }
                }
                if v.count > 3 { draft.auth = try parseAuth(v[3]) }
            case "--user":
                try draft.once(w)
                draft.user = try a.value(w)
            case "--password":
                try draft.once(w)
                draft.password = try a.value(w)
                if draft.auth == nil { draft.auth = 2 }
            case "--auth":
                try draft.once(w)
                draft.auth = try parseAuth(try a.value(w))
            case "-p", "--pin":
                let v = try a.value(w)
                if let p = Proxy.parse(v) {
                    if let before = proxy, before != p { throw UsageError(message: "-p \(before.name) and -p \(p.name): one proxy at a time") }
                    proxy = p
                } else {
                    let digits = v.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
                    guard digits, v.utf8.count >= 4, v.utf8.count <= 8 else {
                        throw UsageError(message: "-p: '\(v)' is neither a PIN (4-8 digits) nor a proxy (qmi-proxy, mbim-proxy, quectel-qmi-proxy, quectel-mbim-proxy, quectel-atc-proxy)")
                    }
                    pin = v
                }
            case "--proxy":
                if let before = proxy, before != .libqmi { throw UsageError(message: "-p \(before.name) and --proxy: one proxy at a time") }
                proxy = .libqmi
            case "-f", "--log-file": logFile = try a.value(w)
            case "-i", "--interface": interface = try a.value(w)
            case "--device": device = try a.value(w)
            case "-4", "--ipv4": draft.ipv4 = true
            case "-6", "--ipv6": draft.ipv6 = true
            case "-n", "--pdn", "--profile":
                let n = try a.number(w, 1...24)
                if draft.pdn != nil {
                    // A second -n: the options that follow belong to another PDN.
                    groups.append(draft)
                    draft = PDNDraft()
                }
                draft.pdn = n
            case "-m", "--mux":
                try draft.once("-m")
                draft.mux = try a.number(w, 1...126)
            case "--default-route", "--no-default-route":
                try draft.once("--default-route")
                draft.defaultRoute = w.equals("--default-route")
            case "--ipv6-lan":
                try draft.once(w)
                let v = try a.value(w)
                let u = Array(v.utf8)
                guard !u.isEmpty, u.count < 16, u.allSatisfy({ $0 > 32 && $0 < 127 && $0 != 47 && $0 != 58 }), !v.equals("."), !v.equals("..") else {
                    throw UsageError(message: "--ipv6-lan: '\(Text.printable(u))' is not an interface name")
                }
                draft.ipv6LAN = v
            case "--ipv6-lan-ra":
                try draft.once(w)
                let v = try a.value(w)
                guard v.equals("on") || v.equals("off") else { throw UsageError(message: "--ipv6-lan-ra takes on or off") }
                draft.ipv6LANAdvertise = v.equals("on")
            case "--data-path":
                let v = try a.value(w)
                guard let d = DataPathChoice.parse(v) else {
                    throw UsageError(message: "--data-path: '\(v)' is not one of auto, raw-ip, qmap, qmimux, rmnet")
                }
                dataPath = d
            case "-k", "--kill": killPDN = try a.number(w, 1...24)
            case "-v", "--verbose": verbose = true
            case "-d", "--no-dhcp": noDHCP = true
            case "--script": script = try a.value(w)
            case "--dns":
                let v = try a.value(w)
                guard let m = DNSMode.parse(v) else { throw UsageError(message: "--dns: '\(v)' is not one of auto, resolvconf, file, none") }
                dns = m
            case "--resolv-conf": resolvConf = try a.value(w)
            case "--metric": metric = UInt32(try a.number(w, 0...0x7fff_ffff))
            case "--max-retries": maxRetries = try a.number(w, 0...1_000_000)
            case "--stable-after": stableAfter = try a.number(w, 0...86400)
            case "--no-link": noLink = true
            case "--run-dir": runDir = try a.value(w)
            case "--pid-file": pidFile = try a.value(w)
            case "--sysfs-root": sysRoot = try a.value(w)
            case "--dev-root": devRoot = try a.value(w)
            case "--simulate": simulate = true
            case "--sim-arg":
                let v = try a.value(w)
                // Where the simulation lives is qcm's to say: it made that directory and removes it.
                if ["--root", "--socket", "--ready-file", "--remove-root"].contains(where: { $0.equals(v) }) {
                    throw UsageError(message: "--sim-arg \(v): qcm --simulate chooses the simulator's directory and socket itself")
                }
                simArgs.append(v)
            case "-b", "--bridge":
                try draft.once("-b")
                draft.bridge = true
            case "-a", "--bring-up":
                try draft.once("-a")
                let v = try a.value(w, "1 (by APN name) or 2 (by APN type)")
                switch Word(Text.lowercasedASCII(v)) {
                case "1", "name", "apn-name": draft.bringUp = .byName
                case "2", "type", "apn-type": draft.bringUp = .byType
                default: throw UsageError(message: "\(w): '\(v)' is neither 1 (bring the call up by APN name) nor 2 (by APN type)")
                }
            case "-y", "--apn-type":
                try draft.once("-y")
                let v = try a.value(w, "an APN type (0 unspecified, 1 internet, 2 ims)")
                switch Word(Text.lowercasedASCII(v)) {
                case "0", "unspecified": draft.apnType = 0
                case "1", "internet", "default": draft.apnType = 1
                case "2", "ims": draft.apnType = 2
                default: throw UsageError(message: "\(w): '\(v)' is not an APN type (0 unspecified, 1 internet, 2 ims)")
                }
            case "-u", "--usbmon":
                let v = try a.value(w, "a file for the USB capture")
                guard !v.isEmpty, !v.begins(with: "-") else { throw UsageError(message: "\(w) needs a file for the USB capture") }
                usbmonFile = v
            case "-r", "-l":
                throw UsageError(message: "\(w): this quectel-CM option (reset, loopback test) is not supported by qcm")
            default:
                throw Args.unknown(w)
            }
        }
        groups.append(draft)
        if script != nil && noLink { throw UsageError(message: "--script and --no-link exclude each other") }
        if proxy != nil && simulate { throw UsageError(message: "--proxy and --simulate exclude each other") }
        if let longest = StatusServer.longestPathProblem(runDir: runDir) { throw UsageError(message: "--run-dir: " + longest) }
        for g in groups { try check(g) }
        let pdns = groups.enumerated().map { $0.element.build(first: $0.offset == 0) }
        for (i, p) in pdns.enumerated() {
            if pdns[..<i].contains(where: { $0.pdn == p.pdn }) { throw UsageError(message: "PDN \(p.pdn) is given twice") }
            if let m = p.muxIndex, pdns[..<i].contains(where: { $0.muxIndex == m }) {
                throw UsageError(message: "-m \(m) is given to two PDNs: each PDN needs its own mux")
            }
        }
        for (i, p) in pdns.enumerated() {
            if let l = p.ipv6LAN, pdns[..<i].contains(where: { $0.ipv6LAN?.equals(l) == true }) {
                throw UsageError(message: "--ipv6-lan \(l) is given to two PDNs: a LAN gets one /64")
            }
        }
        if pdns.filter({ $0.defaultRoute }).count > 1 {
            throw UsageError(message: "--default-route is given to more than one PDN: one default route, one DNS")
        }
        if pdns.count > 1 && script != nil { throw UsageError(message: "--script serves one PDN; several PDNs are configured by qcm itself") }
        if script != nil, pdns.contains(where: { $0.bridge }) {
            throw UsageError(message: "--script and -b exclude each other: in bridge mode the address is the LAN host's, and nothing is configured on this board")
        }
        return Options(pdns: pdns, dataPath: dataPath, pin: pin, proxy: proxy, logFile: logFile, interface: interface, device: device,
                       verbose: verbose, noDHCP: noDHCP, killPDN: killPDN, simulate: simulate, simArgs: simArgs,
                       sysRoot: sysRoot, devRoot: devRoot, runDir: runDir, dns: dns, resolvConf: resolvConf, script: script,
                       metric: metric, maxRetries: maxRetries, stableAfterSeconds: stableAfter, noLink: noLink, pidFile: pidFile,
                       usbmonFile: usbmonFile)
    }

    /// The checks on one PDN's values.
    static func check(_ g: PDNDraft) throws(UsageError) {
        if g.ipv6LAN != nil && !g.ipv6 {
            throw UsageError(message: "--ipv6-lan extends the PDN's IPv6 /64: give the PDN -6 (or -4 -6)")
        }
        if g.given.contains(where: { $0.equals("--ipv6-lan-ra") }) && g.ipv6LAN == nil {
            throw UsageError(message: "--ipv6-lan-ra says who advertises on the --ipv6-lan interface: give --ipv6-lan IFACE too")
        }
        if let apn = g.apn, apn.utf8.count > 100 { throw UsageError(message: "the APN is longer than 100 characters") }
        let which = g.pdn.map { " (PDN \($0))" } ?? ""
        if g.bridge {
            // The drivers' bridge_ipv4 holds one IPv4 address; the LAN host gets it by DHCP.
            if g.ipv6 {
                throw UsageError(message: "-b hands the PDN's IPv4 address to the LAN host; bridge mode carries no IPv6 call\(which): drop -6")
            }
            if g.defaultRoute == true {
                throw UsageError(message: "-b and --default-route exclude each other\(which): in bridge mode the address, and so the route, are the LAN host's")
            }
        }
        switch g.bringUp {
        case .byName?:
            guard let apn = g.apn, !apn.isEmpty else {
                throw UsageError(message: "-a 1 brings the call up by APN name\(which): give the APN with -s APN")
            }
        case .byType?:
            guard let t = g.apnType, t != 0 else {
                throw UsageError(message: "-a 2 brings the call up by APN type\(which): give the type with -y 1 (internet) or -y 2 (ims)")
            }
        case nil: break
        }
        // Control characters (a newline, ESC, NUL ...) would reach the modem's profile, the
        // status file and the log; no APN, user name or password contains one.
        for (what, value) in [("the APN", g.apn), ("the user name", g.user), ("the password", g.password)] {
            if let v = value, v.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
                throw UsageError(message: "\(what) contains a control character (\(what.equals("the password") ? "hidden" : Text.printable(Array(v.utf8)))); refusing it")
            }
        }
    }

    static func parseAuth(_ s: String) throws(UsageError) -> UInt8 {
        switch Word(Text.lowercasedASCII(s)) {
        case "0", "none": return 0
        case "1", "pap": return 1
        case "2", "chap": return 2
        case "3", "both", "pap|chap", "mschapv2": return 3
        default: throw UsageError(message: "unknown authentication '\(s)' (0/none, 1/pap, 2/chap, 3/both)")
        }
    }

    static func authName(_ a: UInt8) -> String {
        switch a {
        case 0: return "none"
        case 1: return "pap"
        case 2: return "chap"
        default: return "pap|chap"
        }
    }
}
