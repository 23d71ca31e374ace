import Foundation
import Base
import CSystem
import QMICore
import QMISim
import MBIMCore
import ATCore

let usage = """
    Usage: qmi-sim [options]

    A simulated Quectel EC25 modem speaking QMI, for trying and testing qcm without hardware.

    Where it listens
      --socket PATH          Unix socket to serve QMI on (default: ROOT/dev/cdc-wdm0 with --root,
                             else /tmp/qmi-sim.sock). Open it as qcm's QMI channel.
      --proxy                also serve libqmi's qmi-proxy protocol on @qmi-proxy, so
                             `qmicli -p -d /dev/cdc-wdm0 ...` talks to the simulator
      --quectel-proxy        also run Quectel's proxy in front of the modem, as quectel-CM 1.6.8's
                             program behaves: quectel-qmi-proxy on @quectel-qmi-proxyN (N the QMI
                             node's last character), with --mbim quectel-mbim-proxy on
                             @quectel-mbim-proxy, with --at quectel-atc-proxy on @quectel-atc-proxyN
                             (N the AT port's last character); "ready" once it listens
      --root DIR             write a fake sysfs tree (EC25 on qmi_wwan) under DIR/sys and put the
                             socket at DIR/dev/cdc-wdm0; then `qcm --sysfs-root DIR/sys --dev-root DIR/dev`
      --remove-root          accepted for older callers; on exit qmi-sim removes what it made
                             under --root (sys/, dev/, the root itself if it made it), never more
      --netdev NAME          the modem's network interface name (default wwan0)
      --tun                  (root) create NAME (and the driver's other links) as TUN devices and
                             answer pings to the call's gateway when the data path is set up right
                             (with -v, why a ping was dropped)
      --veth                 (root) create NAME as a veth whose far end has the gateway and runs
                             dnsmasq handing out the call's address (802.3 mode); it has no bridge
                             attributes (bridge mode is simulated on --tun's netdevs)
      --netns NS             (root) create the netdev inside network namespace NS (created if needed)

    Driver (the host side of the data path; the sysfs attributes qcm writes are FIFOs served here)
      --qmap N               Quectel's qmi_wwan_q with qmap_mode N: links NAME_1..NAME_N for muxes
                             0x81..0x80+N (N = 1: NAME carries 0x81; N = 0: NAME carries plain
                             raw IP), link_state, qmap_size
                             (default: upstream qmi_wwan with qmi/raw_ip, qmi/add_mux, qmi/del_mux)
      --qmap-size BYTES      the driver's receive buffer, qmap_size (default 4096; --pcie 15360)
      --mbim                 the module in MBIM mode instead (RM500Q on cdc_mbim): MBIM Basic Connect
                             on the socket, @mbim-proxy with --proxy, and with --tun a TAP wwan0
                             with cdc_mbim's fake Ethernet header; of the modem and fault flags,
                             --sim, --pin, --no-registration, --roaming, --latency and
                             --reject-call apply
      --gobinet              Quectel's GobiNet instead: /dev/qcqmi0 with one file per QMI service
                             (client ids from the ioctl, messages without the QMUX header), netdev
                             usb0 (--tun makes it a TAP: raw IP, or in 802.3 mode Ethernet frames
                             whose DHCP the modem answers, and bridge mode; --veth a veth stand-in)
      --pcie                 a PCIe module on Quectel's pcie_mhi instead (RM500Q, product 0306):
                             the MHI bus in sysfs, the QMI node mhi_QMI0, netdev rmnet_mhi0 with
                             children rmnet_mhi0.1..N (qmap_mode N from --qmap, default 1, whose
                             child also carries the call), link_state, qmap_size (default 15360),
                             and the modem's data endpoint PCIe (type 3, interface 4).
                             With --mbim: pcie_mhi loaded with mhi_mbim_enabled=1 — the MBIM channel
                             (mhi_MBIM, served here) instead of QMI0, qmap_size 32768, and with --tun
                             rmnet_mhi0 (a TUN) and its children as Ethernet TAPs with NOARP, child X
                             carrying MBIM session X (qmap_mode 1: rmnet_mhi0.1 session 0; --product
                             0309, SDX7x: 112+X, 112) while link_state has its bit
      --wwan                 a PCIe module on the upstream kernel instead (mhi_pci_generic, the WWAN
                             subsystem): the MHI bus, /sys/class/wwan/wwan0 and its ports. QMI: an SDX55
                             (RM500Q, PCI 17cb:0306) with /dev/wwan0qmi0 (served here), wwan0mbim0 and
                             wwan0qcdm0, its data on mhi_net's mhi_hwip0 (raw-IP; QMAP only for rmnet
                             links, which are the kernel's), data endpoint PCIe (type 3, interface 4).
                             With --mbim: an RM520N (PCI 1eac:1004) with /dev/wwan0mbim0 (served here),
                             wwan0at0 and wwan0qcdm0, and mhi_wwan_mbim's wwan0 carrying session 0
                             (with --tun a TUN). --product sets the PCI device id
      --no-bridge            the driver built without bridge support: no bridge_mode and bridge_ipv4
                             (by default qmi_wwan_q, GobiNet and pcie_mhi have them on their
                             Ethernet-type netdevs; with --tun these are TAP devices that can be
                             bridged to a LAN, and bridge mode is served as the drivers do it)
      --product HEX          product id (default 0125, EC25; --pcie 0306); 0800/0801 (RG500Q/RG520N)
                             and PCIe 0306/0308 make the driver decode QMAPv5 and the modem speak it
      --at                   a module without QMI, dialed with AT commands (EC200U by default; --product
                             8101 RG801H, 0900 RG500U, 0901 EC200U are UNISOC, 6026 EC200T, 6005 EC200A,
                             6007 EG915Q ASR): its AT port on a pseudo-terminal at ROOT/dev/ttyUSBn, and
                             with --tun its netdev (usb0) as a TAP whose DHCP server, ARP and ping answers
                             exist only while the data call is up. Of the modem and fault flags, --sim,
                             --pin, --pin-retries, --registration-delay, --no-registration, --roaming,
                             --apn, --ipv4, --gateway, --dns, --latency, --reject-call CME, --reject-times,
                             --drop-after, --reset-after, --gone-after and --back-after apply, and:
      --usbnet ecm|ncm|rndis the module's USB network function (default ncm: cdc_ncm)
      --nat 0|1              AT+QCFG="NAT": 1, the module routes and its DHCP hands out 192.168.42.2
      --no-urcs              the module never sends an unsolicited line (no reports of its call)
      --echo on|off          echo at power-up (default on, as modules are)
      --garbage              junk lines, NULs and a 64 KB line between answers
      --urc-storm N          N registration reports in a burst when it registers
      --hang-after MS        the module stops answering MS milliseconds after start
      --error-to-everything  every command gets ERROR

    Modem
      --mode raw-ip|802.3    link layer the modem starts in (default raw-ip)
      --revision REV         firmware revision (default EC25EFAR06A11M4G)
      --sim STATE            ready | pin | puk | absent (default ready)
      --pin PIN              the SIM's PIN (default 1234)
      --pin-retries N        PIN attempts left (default 3)
      --registration-delay MS  searching for MS milliseconds before registering (default 0)
      --no-registration      never register
      --roaming              register as roaming
      --operator NAME        the network's name (default CHN-UNICOM)
      --operator-encoding E  how the modem sends it: ascii, gsm7 (packed) or ucs2 (little-endian)
      --signal-walk MS       the LTE RSRP wanders by a few dB every MS milliseconds (Signal Info
                             indications to clients that asked for them)
      --apn APN              APN stored in profile 1 (default cmnet)
      --ipv4 ADDR/PREFIX     address handed out (default 10.90.1.113/30)
      --gateway ADDR         IPv4 gateway (default 10.90.1.114)
      --dns ADDR[,ADDR]      IPv4 DNS servers (default 211.138.180.2,211.138.180.3)
      --mtu N                MTU (default 1500)
      --ipv6 ADDR            the IPv6 address of a call (its /64 is the call's; default
                             2409:8930:463:3daa:7c8e:429a:c902:c6cc, gateway the next address)
      --ipv6-remote ADDR     an address beyond the network that answers pings from the call's /64
                             (default 2001:db8:ffff::1)
      --ipv6-rotate          each new IPv6 call gets the next /64 (another prefix after a redial)
      --no-ra                the network sends no Router Advertisement
      --ra-prefix ADDR       the RA advertises this /64 instead of the call's
      --ra-prefix-length N   the RA's prefix length (default 64)
      --ra-lifetime S        the RA prefix's valid and preferred lifetimes (default infinite)
      --ra-mtu N             the RA's MTU option (default the call's MTU)
      --sdx35                an SDX35 module (product 0316): WDS Start Network takes the APN type
                             (TLV 0x38) and brings a call up by APN name (0x3C) or type (0x3D);
                             profile 1 is of type internet, profile 2 (APN ims) of type IMS
      --profile-apn-types    the modem's profiles carry an APN type (Get Profile Settings TLV 0xDD)
      --client-ids N         client ids per service before ClientIdsExhausted (default 16)
      --calls-outlive-clients  calls stay up when their client is released (autoconnect-like)

    Faults (MSG is SERVICE:ID or a name, e.g. WDS:0x0020, "WDS Start Network")
      --latency MS           delay before every response (default 30)
      --latency-for MSG=MS   delay for one message
      --no-answer MSG        never answer MSG
      --malformed MSG        answer MSG with a frame whose lengths do not add up
      --wrong-tid MSG        answer MSG with a transaction id that matches nothing
      --truncated MSG        answer MSG with a frame cut short (its QMUX length promises more)
      --hang SERVICE[@MS]    SERVICE (wds, nas, dms ...) stops answering MS milliseconds after
                             start (default at once) until the modem is reset
      --reject-call REASON[:TYPE:VERBOSE]  reject Start Network (e.g. 1013:6:27 unknown APN)
      --reject-times N       only reject the first N attempts
      --drop-after MS        the network drops each call MS milliseconds after it came up
      --reset-after MS       the modem resets MS milliseconds after start
      --gone-after MS        the device disappears MS milliseconds after start
      --back-after MS        ...and comes back MS milliseconds later

    Output
      --transcript FILE      append every frame in and out to FILE (quectel-CM style lines);
                             with --mbim, the names of the messages received, written on exit
      --ready-file FILE      create FILE once listening (for scripts)
      -v, --verbose          log what the simulator does to stderr
      -h, --help             this text
    Stop with SIGINT/SIGTERM; everything created (socket, tree entries, links, namespaces) is removed.
    """

func fail(_ s: String) -> Never {
    FileHandle.standardError.write(("qmi-sim: " + s + "\n").data(using: .utf8)!)
    exit(2)
}

var config = SimConfig()
var socketPath: String?
var proxy = false
var quectelProxy = false
/// What clients wrote to the Quectel proxy, for the transcript ("proxy cN in HEX").
let proxyInputLock = NSLock()
nonisolated(unsafe) var proxyInput: [String] = []
func recordProxyInput(_ client: Int, _ bytes: [UInt8]) {
    proxyInputLock.lock()
    proxyInput.append("proxy c\(client) in \(Text.hexBytes(bytes))")
    proxyInputLock.unlock()
}
func takeProxyInput() -> [String] {
    proxyInputLock.lock()
    defer { proxyInput.removeAll(); proxyInputLock.unlock() }
    return proxyInput
}
func waitReady(_ what: String, _ ready: () -> Bool) {
    for _ in 0..<1000 where !ready() { usleep(10_000) }
    if !ready() { fail("\(what) did not start") }
}
var root: String?
var netdev = "wwan0"
var makeTun = false
var makeVeth = false
var netns: String?
var transcriptPath: String?
var readyFile: String?
var verbose = false
var hangs: [(QMIService, Int64)] = []
var qmapMode: Int?
var chosenQMAPSize: Int?
var chosenProduct: String?
var gobiNet = false
var pcie = false
var wwan = false
var mbimMode = false
var signalWalk: Int64 = 0
var atMode = false
var usbnet = "ncm"
var atFaults: [(inout ATSimConfig) -> Void] = []
var noBridge = false

var args = Array(CommandLine.arguments.dropFirst())
func value(_ flag: String) -> String {
    guard !args.isEmpty else { fail("\(flag) needs a value") }
    return args.removeFirst()
}
func number(_ flag: String) -> Int64 {
    let v = value(flag)
    guard let n = Text.parseInt(v) else { fail("\(flag): '\(v)' is not a number") }
    return n
}
func message(_ flag: String, _ s: String) -> UInt32 {
    guard let k = SimConfig.parseMessage(s) else { fail("\(flag): unknown message '\(s)'") }
    return k
}

while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "-h", "--help": print(usage); exit(0)
    case "--socket": socketPath = value(a)
    case "--proxy": proxy = true
    case "--quectel-proxy": quectelProxy = true
    case "--root": root = value(a)
    case "--remove-root": break              // what it made is always removed, and only that
    case "--netdev": netdev = value(a)
    case "--tun": makeTun = true
    case "--veth": makeVeth = true
    case "--netns": netns = value(a)
    case "--qmap":
        let n = number(a)
        guard n >= 0 && n <= 8 else { fail("--qmap takes 0 to 8") }
        qmapMode = Int(n)
    case "--gobinet": gobiNet = true
    case "--no-bridge": noBridge = true
    case "--pcie": pcie = true
    case "--wwan": wwan = true
    case "--mbim": mbimMode = true
    case "--at": atMode = true
    case "--usbnet":
        let v = value(a)
        guard ["ecm", "ncm", "rndis"].contains(v) else { fail("--usbnet takes ecm, ncm or rndis") }
        usbnet = v
    case "--nat":
        let n = number(a)
        guard n == 0 || n == 1 else { fail("--nat takes 0 or 1") }
        atFaults.append { $0.nat = Int(n) }
    case "--no-urcs": atFaults.append { $0.noURCs = true }
    case "--echo":
        let v = value(a)
        guard v == "on" || v == "off" else { fail("--echo takes on or off") }
        atFaults.append { $0.echo = v == "on" }
    case "--garbage": atFaults.append { $0.garbage = true }
    case "--urc-storm":
        let n = number(a)
        atFaults.append { $0.urcStorm = Int(n) }
    case "--hang-after":
        let n = number(a)
        atFaults.append { $0.hangAfterMs = n }
    case "--error-to-everything": atFaults.append { $0.answerErrorToEverything = true }
    case "--qmap-size":
        let n = number(a)
        guard n >= 1504 && n <= 65536 else { fail("--qmap-size takes 1504 to 65536") }
        chosenQMAPSize = Int(n)
    case "--product":
        let v = value(a)
        guard v.utf8.count == 4, Text.parseInt(v, hex: true) != nil else { fail("--product takes four hex digits") }
        chosenProduct = v.lowercased()
    case "--mode":
        switch value(a) {
        case "raw-ip", "rawip": config.linkProtocol = 2
        case "802.3", "ethernet": config.linkProtocol = 1
        default: fail("--mode takes raw-ip or 802.3")
        }
    case "--revision": config.revision = value(a)
    case "--sim":
        switch value(a) {
        case "ready": config.sim = .ready
        case "pin": config.sim = .pinRequired
        case "puk": config.sim = .pukBlocked
        case "absent": config.sim = .absent
        default: fail("--sim takes ready, pin, puk or absent")
        }
    case "--pin": config.pin = value(a)
    case "--pin-retries": config.pinRetries = Int(number(a))
    case "--registration-delay": config.registrationDelayMs = number(a)
    case "--no-registration": config.neverRegister = true
    case "--roaming": config.roaming = true
    case "--operator": config.operatorName = value(a)
    case "--operator-encoding":
        switch value(a) {
        case "ascii": config.operatorEncoding = .ascii
        case "gsm7": config.operatorEncoding = .gsm7
        case "ucs2": config.operatorEncoding = .ucs2
        default: fail("--operator-encoding takes ascii, gsm7 or ucs2")
        }
    case "--signal-walk": signalWalk = number(a)
    case "--apn": config.profiles[0].apn = value(a)
    case "--ipv4":
        let parts = Text.split(value(a), on: 47)
        guard parts.count == 2, let ip = Text.parseIPv4(parts[0]), let p = Int(parts[1]), p >= 0, p <= 32 else { fail("--ipv4 takes ADDR/PREFIX") }
        config.ipv4Address = ip
        config.ipv4Prefix = p
    case "--gateway":
        guard let ip = Text.parseIPv4(value(a)) else { fail("--gateway takes an IPv4 address") }
        config.ipv4Gateway = ip
    case "--dns":
        let list = Text.split(value(a), on: 44).map { Text.parseIPv4($0) }
        guard !list.contains(where: { $0 == nil }) else { fail("--dns takes IPv4 addresses separated by commas") }
        config.ipv4DNS = list.map { $0! }
    case "--mtu": config.mtu = UInt32(number(a))
    case "--ipv6":
        guard let v = Text.parseIPv6(value(a)) else { fail("--ipv6 takes an IPv6 address") }
        config.ipv6Address = v
        var g = v
        g[15] = g[15] &+ 1
        config.ipv6Gateway = g
    case "--ipv6-remote":
        guard let v = Text.parseIPv6(value(a)) else { fail("--ipv6-remote takes an IPv6 address") }
        config.ipv6Remote = v
    case "--ipv6-rotate": config.ipv6PrefixRotates = true
    case "--no-ra": config.sendsRouterAdvertisements = false
    case "--ra-prefix":
        guard let v = Text.parseIPv6(value(a)) else { fail("--ra-prefix takes an IPv6 address") }
        config.raPrefix = v
    case "--ra-prefix-length":
        let n = number(a)
        guard n >= 0 && n <= 128 else { fail("--ra-prefix-length takes 0 to 128") }
        config.raPrefixLength = Int(n)
    case "--ra-lifetime": config.raPrefixLifetime = UInt32(truncatingIfNeeded: number(a))
    case "--ra-mtu": config.raMTU = UInt32(truncatingIfNeeded: number(a))
    case "--client-ids": config.clientIDsPerService = Int(number(a))
    case "--sdx35":
        config.apnTypeInStartNetwork = true
        config.profilesCarryAPNType = true
        config.profiles[0].apnTypeMask = 1
        config.profiles[1].apn = "ims"
        config.profiles[1].apnTypeMask = 2
        if chosenProduct == nil { chosenProduct = "0316" }
    case "--profile-apn-types": config.profilesCarryAPNType = true
    case "--calls-outlive-clients": config.callsOutliveClients = true
    case "--latency": config.latencyMs = number(a)
    case "--latency-for":
        let parts = value(a).components("=")
        guard parts.count == 2, let ms = Text.parseInt(parts[1]) else { fail("--latency-for takes MSG=MS") }
        config.latencyFor[message(a, parts[0])] = ms
    case "--no-answer": config.neverAnswer.insert(message(a, value(a)))
    case "--malformed": config.malformedFor.insert(message(a, value(a)))
    case "--wrong-tid": config.wrongTIDFor.insert(message(a, value(a)))
    case "--truncated": config.truncatedFor.insert(message(a, value(a)))
    case "--hang":
        let parts = Text.split(value(a), on: 64)
        guard let svc = QMIService.named(parts[0]), parts.count <= 2 else { fail("--hang takes SERVICE or SERVICE@MS") }
        hangs.append((svc, parts.count == 2 ? (Text.parseInt(parts[1]) ?? -1) : 0))
        if hangs.last!.1 < 0 { fail("--hang: '\(parts[1])' is not a number of milliseconds") }
    case "--reject-call":
        let parts = Text.split(value(a), on: 58).map { Text.parseInt($0) }
        guard parts.count == 1 || parts.count == 3, !parts.contains(where: { $0 == nil }) else { fail("--reject-call takes REASON or REASON:TYPE:VERBOSE") }
        config.rejectCall = (UInt16(truncatingIfNeeded: parts[0]!), parts.count == 3 ? UInt16(truncatingIfNeeded: parts[1]!) : 0,
                             parts.count == 3 ? Int16(truncatingIfNeeded: parts[2]!) : 0)
    case "--reject-times": config.rejectCallTimes = Int(number(a))
    case "--drop-after": config.dropCallAfterMs = number(a)
    case "--reset-after": config.resetAfterMs = number(a)
    case "--gone-after": config.goneAfterMs = number(a)
    case "--back-after": config.backAfterMs = number(a)
    case "--transcript": transcriptPath = value(a)
    case "--ready-file": readyFile = value(a)
    case "-v", "--verbose": verbose = true
    default: fail("unknown option '\(a)' (see --help)")
    }
}
if makeTun && makeVeth { fail("--tun and --veth are exclusive") }
if makeTun && root == nil { fail("--tun needs --root (the driver's attributes live in its sysfs tree)") }
if qmapMode != nil && makeVeth { fail("--qmap and --veth are exclusive (QMAP runs on raw-IP)") }
if gobiNet && qmapMode != nil { fail("--gobinet and --qmap are exclusive") }
if gobiNet && netdev == "wwan0" { netdev = "usb0" }
if pcie && (gobiNet || makeVeth) { fail("--pcie excludes --gobinet and --veth") }
if wwan && (pcie || gobiNet || makeVeth || qmapMode != nil || atMode) { fail("--wwan excludes --pcie, --gobinet, --veth, --qmap and --at") }
if wwan && !mbimMode {
    if netdev == "wwan0" { netdev = "mhi_hwip0" }
    config.endpoint = (3, 4)
}
if pcie {
    if netdev == "wwan0" { netdev = "rmnet_mhi0" }
    qmapMode = qmapMode ?? 1
    config.endpoint = (3, 4)
}
let product = chosenProduct ?? (pcie || wwan ? "0306" : "0125")
// pcie_mhi's receive buffer: 15 KiB for QMAP, the NTB size (32 KiB) in MBIM mode.
let qmapSize = chosenQMAPSize ?? (pcie ? (mbimMode ? 32768 : 15360) : 4096)
let driver = wwan ? "mhi_net" : gobiNet ? "GobiNet" : pcie ? "pcie_mhi" : qmapMode == nil ? "qmi_wwan" : "qmi_wwan_q"
let sdx55 = pcie || wwan ? product == "0306" || product == "0308" : product == "0800" || product == "0801"
if sdx55 { config.qmapVersions = [.qmap, .qmapv5]; config.qmapMaxSize = 31 * 1024 }
if (makeTun || makeVeth || netns != nil) && getuid() != 0 { fail("--tun, --veth and --netns need root") }
/// What exists under --root now is not the simulator's: on exit it removes only what it made.
let made = root.map { FakeHardware.Made(root: $0) }

func log(_ s: String) {
    if verbose { FileHandle.standardError.write(("qmi-sim: " + s + "\n").data(using: .utf8)!) }
}

// Network namespace first: every link and socket below is created inside it.
var createdNamespace: String?
if let ns = netns {
    do { if try FakeHardware.enterNamespace(ns) { createdNamespace = ns } } catch { fail("\(error)") }
}

if atMode {
    if gobiNet || qmapMode != nil || makeVeth || mbimMode || pcie { fail("--at excludes --gobinet, --qmap, --veth, --mbim and --pcie") }
    let id = UInt16(chosenProduct.flatMap { Text.parseInt($0, hex: true) } ?? 0x0901)
    guard let product = ATSimConfig.Product.find(id: id) else {
        fail("--at --product takes " + ATSimConfig.Product.all.map { "\(Text.hex($0.id, 4)) (\($0.name))" }.joined(separator: ", "))
    }
    var ac = ATSimConfig(product: product)
    ac.usbnet = usbnet == "ecm" ? 1 : usbnet == "rndis" ? 3 : 5
    ac.sim = config.sim == .pinRequired ? .pin : config.sim == .pukBlocked ? .puk : config.sim == .absent ? .absent : .ready
    ac.pin = config.pin
    ac.pinAttempts = config.pinRetries
    ac.registrationDelayMs = config.registrationDelayMs
    ac.neverRegister = config.neverRegister
    ac.roaming = config.roaming
    ac.profile1.apn = config.profiles[0].apn
    ac.ipv4Address = config.ipv4Address
    ac.ipv4Prefix = config.ipv4Prefix
    ac.ipv4Gateway = config.ipv4Gateway
    ac.ipv4DNS = config.ipv4DNS
    ac.latencyMs = config.latencyMs
    if let r = config.rejectCall { ac.rejectCall = Int(r.reason) }
    ac.rejectTimes = config.rejectCallTimes ?? -1
    ac.dropAfterMs = config.dropCallAfterMs
    ac.resetAfterMs = config.resetAfterMs
    ac.goneAfterMs = config.goneAfterMs
    ac.backAfterMs = config.backAfterMs
    for f in atFaults { f(&ac) }
    if netdev == "wwan0" { netdev = "usb0" }
    let netDriver = usbnet == "ecm" ? "cdc_ether" : usbnet == "rndis" ? "rndis_host" : "cdc_ncm"
    let productHex = Text.hex(id, 4)
    guard let r = root else { fail("--at needs --root (the AT port and the sysfs tree live under it)") }
    guard let tty = FakeHardware.atPort(product: productHex, netDriver: netDriver) else { fail("no AT port known for \(productHex)") }
    let atLoop = EventLoop()
    let sim = ATSimulator(config: ac, loop: atLoop)
    sim.onLog = log
    var plane: EthernetPlane?
    do {
        try ac.check()
        try FakeHardware.writeATModule(root: r, product: productHex, netDriver: netDriver, netdev: netdev)
        if makeTun {
            let p = try EthernetPlane(name: netdev, natRouter: ac.nat == 1)
            p.onLog = log
            p.ipv6Remote = config.ipv6Remote
            p.advertisesIPv6 = config.sendsRouterAdvertisements
            p.serve(on: atLoop)
            sim.onCallUp = { _, address, prefix, gateway, dns in p.callUp(address: address, prefix: prefix, gateway: gateway, dns: dns) }
            sim.onIPv6CallUp = { _, address, dns in p.ipv6Up(address: address, dns: dns) }
            sim.onCallDown = { _ in p.callDown() }
            plane = p
            log("TAP \(netdev) created; its DHCP server and gateway answer while the data call is up")
        }
        _ = try sim.listen(devPath: r + "/dev/" + tty)
    } catch {
        plane?.close()
        fail("\(error)")
    }
    var atProxy: QuectelATCProxy?
    if quectelProxy {
        do { atProxy = try sim.serveQuectelProxy(device: r + "/dev/" + tty) } catch { fail("\(error)") }
        atProxy?.onClientInput = recordProxyInput
    }
    var mask = sigset_t()
    sigemptyset(&mask)
    sigaddset(&mask, SIGINT)
    sigaddset(&mask, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &mask, nil)
    sim.startThread()
    if let p = atProxy { waitReady("quectel-atc-proxy") { p.isServing } }
    if let rf = readyFile { _ = FileManager.default.createFile(atPath: rf, contents: Data("ready\n".utf8)) }
    print("qmi-sim: \(product.name) (\(ac.dialect == .asr ? "ASR" : "UNISOC")) ready on \(r)/dev/\(tty)\(atProxy.map { " and \($0.name)" } ?? "")")
    fflush(stdout)
    var sig: Int32 = 0
    sigwait(&mask, &sig)
    sim.shutdown()
    plane?.close()
    if let tp = transcriptPath {
        let text = sim.transcript.text + takeProxyInput().map { "\n" + $0 }.joined()
        _ = FileManager.default.createFile(atPath: tp, contents: Data(text.utf8))
    }
    made?.remove(socket: nil)
    if let ns = createdNamespace { FakeHardware.run(["ip", "netns", "del", ns]) }
    exit(0)
}

if mbimMode {
    if gobiNet || (qmapMode != nil && !pcie) || makeVeth { fail("--mbim excludes --gobinet, --qmap (but with --pcie) and --veth") }
    var mc = MBIMSimulator.Config()
    mc.sim = config.sim == .pinRequired ? .pinRequired : config.sim == .absent ? .absent : .ready
    mc.pin = config.pin
    mc.neverRegister = config.neverRegister
    mc.roaming = config.roaming
    mc.latencyMs = config.latencyMs
    if wwan {
        // What an RM520N-GL on PCIe says of itself.
        mc.hardware = "RM520N-GL"
        mc.firmware = "RM520NGLAAR03A03M4G"
    } else if pcie && product == "0304" {
        // The EM120R-GL of pcie_mhi_mbim_qmap=4.txt.
        mc.hardware = "EM120R_GL"
        mc.firmware = "EM120RGLAPR02A03M4G_01.001.07"
    }
    if let r = config.rejectCall { mc.rejectConnect = (2, UInt32(r.verboseReason)) }
    mc.rejectTimes = config.rejectCallTimes
    let m = MBIMSimulator(config: mc)
    m.onLog = { s in if verbose { FileHandle.standardError.write(("qmi-sim: " + s + "\n").data(using: .utf8)!) } }
    let path = socketPath ?? root.map { FakeHardware.socketPath(root: $0, driver: wwan ? "mhi_wwan_mbim" : pcie ? "pcie_mhi_mbim" : "cdc_mbim") } ?? "/tmp/qmi-sim.sock"
    do {
        if let r = root {
            if wwan {
                try FakeHardware.writeWWAN(root: r, mbim: true, product: chosenProduct, netdev: netdev)
            } else if pcie {
                try FakeHardware.writeSysfs(root: r, netdev: netdev, product: product, driver: "pcie_mhi", qmapMode: qmapMode,
                                            qmapSize: qmapSize, mbim: true)
                try m.attachPCIe(root: r, parent: netdev, qmapMode: qmapMode ?? 1, sessionBase: product == "0309" ? 112 : 0,
                                 networking: makeTun)
                if makeTun { log("\(netdev) and its children created; each child answers pings for the session pcie_mhi maps to it") }
            } else {
                try FakeHardware.writeSysfs(root: r, netdev: netdev, product: "0800", driver: "cdc_mbim")
            }
        }
        try m.listen(path)
        if proxy { try m.listen("@mbim-proxy", proxy: true) }
        if makeTun && !pcie { try m.makeNetdev(netdev, rawIP: wwan) }
    } catch { fail("\(error)") }
    var mbimProxy: QuectelMBIMProxy?
    if quectelProxy {
        do { mbimProxy = try m.serveQuectelProxy() } catch { fail("\(error)") }
        mbimProxy?.onClientInput = recordProxyInput
    }
    // Signals are taken by sigwait below: blocked before the simulator's thread starts.
    var mask = sigset_t()
    sigemptyset(&mask)
    sigaddset(&mask, SIGINT)
    sigaddset(&mask, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &mask, nil)
    m.start()
    if let p = mbimProxy { waitReady("quectel-mbim-proxy") { p.isListening } }
    if let rf = readyFile { _ = FileManager.default.createFile(atPath: rf, contents: Data("ready\n".utf8)) }
    print("qmi-sim: MBIM modem ready on \(path)\(proxy ? " and @mbim-proxy" : "")\(mbimProxy.map { " and \($0.name)" } ?? "")")
    fflush(stdout)
    var sig: Int32 = 0
    sigwait(&mask, &sig)
    m.shutdown()
    // The transcript of an MBIM modem: the name of every message it received, in order.
    if let tp = transcriptPath {
        _ = FileManager.default.createFile(atPath: tp, contents: Data((m.requestNames + takeProxyInput()).map { $0 + "\n" }.joined().utf8))
    }
    made?.remove(socket: path)
    if let ns = createdNamespace { FakeHardware.run(["ip", "netns", "del", ns]) }
    exit(0)
}

let loop = EventLoop()
let sim = QMISimulator(config: config, loop: loop)
sim.onLog = log

if let r = root {
    do {
        if wwan {
            try FakeHardware.writeWWAN(root: r, product: product, netdev: netdev)
        } else {
            try FakeHardware.writeSysfs(root: r, netdev: netdev, rawIP: config.linkProtocol == 2, product: product,
                                        driver: driver, qmapMode: qmapMode, qmapSize: qmapSize)
        }
    } catch { fail("cannot write \(r): \(error)") }
}
let path = socketPath ?? root.map { FakeHardware.socketPath(root: $0, driver: driver) } ?? "/tmp/qmi-sim.sock"

var veth: VethLink?
do {
    if let r = root, !makeVeth {
        let plane: DataPlane.Driver = wwan ? .mhiNet : pcie ? .pcieMHI(mode: qmapMode ?? 1) : gobiNet ? .gobiNet(mode: 0)
            : qmapMode.map { .qmiWWANQ(mode: $0) } ?? .qmiWWAN
        try DataPlane.attach(to: sim, root: r, driver: plane, parent: netdev, networking: makeTun,
                             driverQMAP: sdx55 ? .qmapv5 : .qmap, qmapSize: UInt32(qmapSize), initialLinkState: sdx55 ? 0 : 1,
                             bridgeSupport: !noBridge)
        if makeTun { log("TUN \(netdev) created; pings to a call's gateway are answered when the data path is right") }
    }
    if makeVeth {
        veth = try VethLink(name: netdev, config: config)
        log("veth \(netdev) created; dnsmasq serves \(Text.ipv4(config.ipv4Address)) from namespace \(veth!.farNamespace)")
    }
    if gobiNet { try sim.listenGobiNet(path) } else { try sim.listen(path) }
    if proxy { try sim.listen("@qmi-proxy", proxy: true) }
    if quectelProxy {
        if gobiNet { fail("--quectel-proxy: no proxy serves GobiNet's /dev/qcqmiN (each open file is a client of its own)") }
        let p = try sim.serveQuectelProxy(device: path)
        p.onClientInput = recordProxyInput
        // It listens once the modem answered its Sync.
        for _ in 0..<300 where !p.isListening { loop.runOnce(maxWaitMs: 10) }
        if !p.isListening { fail("quectel-qmi-proxy did not start") }
    }
} catch {
    veth?.remove()
    fail("\(error)")
}

// Transcript file: one line per frame, appended as it happens.
var transcriptHandle: FileHandle?
var transcriptWritten = 0
if let tp = transcriptPath {
    _ = FileManager.default.createFile(atPath: tp, contents: nil)
    transcriptHandle = FileHandle(forWritingAtPath: tp)
}
func flushTranscript() {
    guard let h = transcriptHandle else { return }
    let all = sim.transcript.entries
    guard all.count > transcriptWritten || !proxyInput.isEmpty else { return }
    var text = ""
    for e in all[transcriptWritten...] {
        text += "\(e.timeMs) c\(e.connection) \(e.incoming ? "in " : "out") \(Text.hexBytes(e.bytes))"
        if let m = e.message { text += "  \(QMITrace.quectelLine(QMITrace.masked(m)))" }
        text += "\n"
    }
    for l in takeProxyInput() { text += l + "\n" }
    transcriptWritten = all.count
    h.write(text.data(using: .utf8)!)
}

// Signals through a self-pipe: a signal mask would be inherited by ip(8)/dnsmasq children.
var stopping = false
var signalPipe: [Int32] = [-1, -1]
_ = pipe(&signalPipe)
_ = csys_set_nonblocking(signalPipe[0])
nonisolated(unsafe) var signalWriteFD: Int32 = signalPipe[1]
let onSignal: @convention(c) (Int32) -> Void = { _ in
    var b: UInt8 = 1
    _ = write(signalWriteFD, &b, 1)
}
signal(SIGINT, onSignal)
signal(SIGTERM, onSignal)
loop.watch(signalPipe[0]) { _ in
    var b = [UInt8](repeating: 0, count: 16)
    _ = read(signalPipe[0], &b, b.count)
    stopping = true
    loop.stop()
}

for (svc, ms) in hangs { loop.after(ms) { sim.hang(svc) } }
if signalWalk > 0 {
    func walk() {
        let now = sim.withState { $0.config.rsrp }
        sim.setSignal(rsrp: min(-70, max(-120, now + Int64.random(in: -4...4))))
        loop.after(signalWalk) { walk() }
    }
    loop.after(signalWalk) { walk() }
}

if let rf = readyFile { _ = FileManager.default.createFile(atPath: rf, contents: Data("ready\n".utf8)) }
print("qmi-sim: ready on \(path)\(proxy ? " and @qmi-proxy" : "")\(quectelProxy ? " and " + (QuectelProxy.qmi.socket(forDevice: path) ?? "?") : "")")
fflush(stdout)

while !stopping {
    loop.runOnce(maxWaitMs: 200)
    flushTranscript()
}
flushTranscript()
sim.shutdown()
sim.dataPlane?.detach()
veth?.remove()
made?.remove(socket: path)
if let ns = createdNamespace { FakeHardware.run(["ip", "netns", "del", ns]) }
log("stopped")
exit(0)
