import Base
import LinkConfig
import QMICore

/// Everything the command line can say. Parsing is quectel-CM compatible (`-s apn user
/// password auth`, `-p PIN`, `-n pdn` ...) with long forms; a bad flag or value is one
/// precise message, the usage, and exit status 2. A class: the daemon, the manager and the
/// link code share one instance instead of copying thirty fields (1.5 KB of Embedded code).
final class Options {
    var apn: String?
    var user: String?
    var password: String?
    var auth: UInt8?                 // QMI authentication bitmask: 0 none, 1 PAP, 2 CHAP, 3 PAP|CHAP
    var pin: String?
    var proxy: String?               // libqmi's qmi-proxy (abstract socket name)
    var logFile: String?
    var interface: String?
    var device: String?
    var ipv4 = false
    var ipv6 = false
    var pdn = 1
    var verbose = false
    var noDHCP = false
    var killPDN: Int?
    var simulate = false
    var simArgs: [String] = []
    var sysRoot = "/sys"
    var devRoot = "/dev"
    var runDir = "/run/qcm"
    var dns: String = "auto"
    var resolvConf = "/etc/resolv.conf"
    var script: String?
    var metric: UInt32 = 0
    var maxRetries = 0               // 0 = redial forever
    var stableAfterSeconds = 30
    var noLink = false
    var pidFile: String?

    var families: [UInt64] {
        if ipv4 && ipv6 { return [4, 6] }
        return ipv6 ? [6] : [4]
    }

    static let usage = """
        Usage: qcm [options]
          -s, --apn APN [USER PASSWORD [AUTH]]
                                 APN, user, password and authentication for the data call
                                 (AUTH: 0/none, 1/pap, 2/chap, 3/both (quectel-CM: MsChapV2));
                                 a password without AUTH means CHAP, as in quectel-CM
              --user USER, --password PASSWORD, --auth AUTH   the same, one at a time
          -p, --pin PIN          verify the SIM PIN (4-8 digits) if the SIM asks for it
          -p qmi-proxy, --proxy  talk to the modem through libqmi's qmi-proxy
          -f, --log-file FILE    append the log to FILE as well
          -i, --interface IFACE  the modem owning network interface IFACE (several modems)
              --device PATH      the modem with QMI channel PATH (/dev/cdc-wdm0, a socket file)
          -4, --ipv4             IPv4 data call (the default)
          -6, --ipv6             IPv6 data call; -4 -6 together: dual stack
          -n, --pdn N            profile (PDN) index to dial (default 1)
          -k, --kill N           stop the running qcm that serves PDN N, then exit
          -v, --verbose          log every QMI frame: hex, quectel-CM decoded line, named TLVs
          -d, --no-dhcp          take the address from QMI even on an 802.3 link (no DHCP)
              --script PATH      run a udhcpc-style script (scripts/default.script) instead of
                                 configuring the link itself
              --dns MODE         auto | resolvconf | file | none (default auto; none with --simulate)
              --resolv-conf FILE the resolv.conf to manage (default /etc/resolv.conf)
              --metric N         metric of the default routes qcm adds (default 0)
              --max-retries N    give up (exit 6) after N failed dials in a row (default: never)
              --stable-after SEC a call that stayed up SEC seconds resets the redial backoff
                                 to 1 s (default 30; redials back off 1, 2, 4 ... 60 s)
              --no-link          leave the network interface alone (dial only)
              --run-dir DIR      lock, pid and status files (default /run/qcm)
              --pid-file FILE    pid file (default RUNDIR/qcm-pdnN.pid)
              --sysfs-root DIR   read DIR instead of /sys when looking for the modem
              --dev-root DIR     look for device nodes in DIR instead of /dev
              --simulate         dial the built-in simulator (qmi-sim) instead of a modem
              --sim-arg ARG      pass ARG to the simulator (repeatable), e.g. --sim-arg --roaming
          -h, --help             this text
          -V, --version          the version
        Commands:
          qcm list [--json]      the modems found (see qcm list --help)
          qcm status [--json]    state of the running instances
          qcm decode [FILE...]   decode QMI frames from logs or hex dumps
          qcm dhcp -i IFACE      run the DHCP client alone (see qcm dhcp --help)
        Exit status: 0 stopped cleanly, 1 internal error, 2 usage, 3 no modem, 4 SIM problem,
        5 modem not responding, 6 dialing gave up (--max-retries), 7 another instance holds
        the modem, 8 link configuration failed, 9 insufficient privileges.
        """

    struct Failure: Error {
        let message: String
    }

    static func parse(_ args: [String]) throws(Failure) -> Options {
        let o = Options()
        var i = 0
        func fail(_ s: String) -> Failure { Failure(message: s) }
        func next(_ flag: String) throws(Failure) -> String {
            guard i + 1 < args.count else { throw fail("\(flag) needs a value") }
            i += 1
            return args[i]
        }
        func number(_ flag: String, _ range: ClosedRange<Int>) throws(Failure) -> Int {
            let v = try next(flag)
            guard let n = Text.parseInt(v), n >= Int64(range.lowerBound), n <= Int64(range.upperBound) else {
                throw fail("\(flag): '\(v)' is not a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return Int(n)
        }
        /// quectel-CM style: the values following a flag up to the next "-" argument.
        func values() -> [String] {
            var out: [String] = []
            while i + 1 < args.count, !args[i + 1].begins(with: "-") || args[i + 1].equals("-") {
                i += 1
                out.append(args[i])
            }
            return out
        }
        while i < args.count {
            let a = args[i]
            switch Word(a) {
            case "-s", "--apn":
                let v = values()
                guard !v.isEmpty || a.equals("-s") else { throw fail("--apn needs an APN") }
                guard v.count <= 4 else { throw fail("-s takes at most APN USER PASSWORD AUTH, got \(v.count) values") }
                o.apn = v.count > 0 ? v[0] : ""
                if v.count > 1 { o.user = v[1] }
                if v.count > 2 {
                    o.password = v[2]
                    if !v[2].isEmpty { o.auth = 2 }
                }
                if v.count > 3 { o.auth = try parseAuth(v[3]) }
            case "--user": o.user = try next(a)
            case "--password":
                o.password = try next(a)
                if o.auth == nil { o.auth = 2 }
            case "--auth": o.auth = try parseAuth(try next(a))
            case "-p", "--pin":
                let v = try next(a)
                if v.equals("qmi-proxy") || v.equals("libqmi-proxy") {
                    o.proxy = "qmi-proxy"
                } else if v.equals("quectel-qmi-proxy") || v.ends(with: "mbim-proxy") || v.equals("quectel-atc-proxy") {
                    throw fail("-p \(v): qcm speaks libqmi's qmi-proxy protocol only (-p qmi-proxy)")
                } else {
                    let digits = v.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
                    guard digits, v.utf8.count >= 4, v.utf8.count <= 8 else {
                        throw fail("-p: '\(v)' is neither a PIN (4-8 digits) nor qmi-proxy")
                    }
                    o.pin = v
                }
            case "--proxy": o.proxy = "qmi-proxy"
            case "-f", "--log-file": o.logFile = try next(a)
            case "-i", "--interface": o.interface = try next(a)
            case "--device": o.device = try next(a)
            case "-4", "--ipv4": o.ipv4 = true
            case "-6", "--ipv6": o.ipv6 = true
            case "-n", "--pdn", "--profile": o.pdn = try number(a, 1...24)
            case "-k", "--kill": o.killPDN = try number(a, 1...24)
            case "-v", "--verbose": o.verbose = true
            case "-d", "--no-dhcp": o.noDHCP = true
            case "--script": o.script = try next(a)
            case "--dns":
                let v = try next(a)
                guard DNSMode.parse(v) != nil else {
                    throw fail("--dns: '\(v)' is not one of auto, resolvconf, file, none")
                }
                o.dns = v
            case "--resolv-conf": o.resolvConf = try next(a)
            case "--metric": o.metric = UInt32(try number(a, 0...0x7fff_ffff))
            case "--max-retries": o.maxRetries = try number(a, 0...1_000_000)
            case "--stable-after": o.stableAfterSeconds = try number(a, 0...86400)
            case "--no-link": o.noLink = true
            case "--run-dir": o.runDir = try next(a)
            case "--pid-file": o.pidFile = try next(a)
            case "--sysfs-root": o.sysRoot = try next(a)
            case "--dev-root": o.devRoot = try next(a)
            case "--simulate": o.simulate = true
            case "--sim-arg": o.simArgs.append(try next(a))
            case "-m", "-b", "-u", "-r", "-l", "-a", "-y":
                throw fail("\(a): this quectel-CM option (QMAP muxing, bridging, usbmon, loopback, APN type) is not supported by qcm")
            default:
                throw fail(a.begins(with: "-") ? "unknown option '\(a)'" : "unexpected argument '\(a)'")
            }
            i += 1
        }
        if o.script != nil && o.noLink { throw fail("--script and --no-link exclude each other") }
        if o.proxy != nil && o.simulate { throw fail("--proxy and --simulate exclude each other") }
        if let a = o.apn, a.utf8.count > 100 { throw fail("the APN is longer than 100 characters") }
        // Control characters (a newline, ESC, NUL ...) would reach the modem's profile, the
        // status file and the log; no APN, user name or password contains one.
        for (what, value) in [("the APN", o.apn), ("the user name", o.user), ("the password", o.password)] {
            if let v = value, v.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
                throw fail("\(what) contains a control character (\(what.equals("the password") ? "hidden" : Text.printable(Array(v.utf8)))); refusing it")
            }
        }
        return o
    }

    static func parseAuth(_ s: String) throws(Failure) -> UInt8 {
        switch Word(Text.lowercasedASCII(s)) {
        case "0", "none": return 0
        case "1", "pap": return 1
        case "2", "chap": return 2
        case "3", "both", "pap|chap", "mschapv2": return 3
        default: throw Failure(message: "unknown authentication '\(s)' (0/none, 1/pap, 2/chap, 3/both)")
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
