import Foundation
import XCTest
import Base
import CSystem
import QMICore
import QMISim
import TestSupport

/// qcm as a separate process dialing the simulator (in-process, on its own thread) through
/// a fake sysfs tree and a real Unix socket. With a namespace, qcm runs inside it and
/// configures a real TUN wwan0 there.
final class DaemonRig {
    let sim: QMISimulator
    /// The module in MBIM mode instead (`mbim: true`).
    var mbimSim: MBIMSimulator?
    /// A module without QMI, dialed with AT commands, instead (`at:`), and with a namespace
    /// its netdev: a TAP whose DHCP server and gateway answer while the call is up.
    var atSim: ATSimulator?
    var ethernet: EthernetPlane?
    let root: String
    let logPath: String
    var pid: pid_t?
    var exitStatus: Int32?
    var ns: TestNamespace?
    /// Put in front of qcm's command line (inside the namespace), e.g. `unshare -m ...`.
    var wrapper: [String] = []
    /// The resolv.conf every qcm of this rig is given (and scripts, through RESOLV_CONF):
    /// no test ever touches the machine's /etc/resolv.conf.
    var resolvConf: String { root + "/resolv.conf" }
    /// The modem's channel as the run directory's file names show it (cdc-wdm0, qcqmi0, mhi_QMI0).
    let channelKey: String

    /// A file of PDN `pdn` in the run directory: `status`, `private` (the identifiers), `pid`.
    func runFile(_ kind: String, pdn: Int = 1) -> String { root + "/run/qcm-\(channelKey)-pdn\(pdn).\(kind)" }

    /// The status record of PDN `pdn` as root reads it: the status file and the identifiers.
    func statusText(pdn: Int = 1) -> String? {
        guard let text = try? String(contentsOfFile: runFile("status", pdn: pdn), encoding: .utf8) else { return nil }
        return text + ((try? String(contentsOfFile: runFile("private", pdn: pdn), encoding: .utf8)) ?? "")
    }

    /// One value of PDN `pdn`'s status record (nil: absent).
    func statusValue(_ key: String, pdn: Int = 1) -> String? {
        statusText(pdn: pdn)?.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    /// `qmap`: the modem on Quectel's qmi_wwan_q with that qmap_mode (default: upstream
    /// qmi_wwan). `driver` "pcie_mhi" with `netdev` "rmnet_mhi0": an RM500Q on Quectel's
    /// PCIe driver instead (`qmap` its qmap_mode, default 1). The simulator's data plane
    /// serves the driver's attributes, and with a namespace its netdevs as TUN devices in it.
    /// `wwan`: a PCIe module on the upstream kernel (FakeHardware.writeWWAN): QMI over
    /// /dev/wwan0qmi0 with mhi_net's mhi_hwip0, or with `mbim` MBIM over /dev/wwan0mbim0 with
    /// mhi_wwan_mbim's wwan0 (a TUN in the namespace); `netdev` is then that netdev's name.
    /// `driver` "pcie_mhi" with `mbim`: the PCIe module on pcie_mhi loaded with
    /// mhi_mbim_enabled=1 (/dev/mhi_MBIM; `qmap` its qmap_mode, default 1; `product` its
    /// device id, default 0306, 0309 an SDX7x), the simulator's MHIMBIMPlane serving
    /// link_state and, with a namespace, rmnet_mhi0 and its children there.
    init(netns: Bool = false, rawIP: Bool = true, driver: String = "qmi_wwan", netdev: String = "wwan0",
         namespace: TestNamespace? = nil, qmap: Int? = nil, qmapSize: Int = 4096, mbim: MBIMSimulator.Config? = nil,
         at: ATSimConfig? = nil, usbnet: String = "cdc_ncm", wwan: Bool = false, bridgeSupport: Bool = true, product: String? = nil,
         _ configure: (inout SimConfig) -> Void = { _ in }) throws {
        var c = SimConfig()
        c.latencyMs = 5
        let pcie = driver == "pcie_mhi" || (wwan && mbim == nil)
        if pcie {
            // RM500Q on pcie_mhi: an SDX55, so QMAPv5, and the data endpoint is PCIe's.
            c.endpoint = (3, 4)
            c.qmapVersions = [.qmap, .qmapv5]
            c.qmapMaxSize = 31 * 1024
        }
        configure(&c)
        root = NSTemporaryDirectory() + "qcm-rig-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root + "/run", withIntermediateDirectories: true)
        logPath = root + "/qcm.log"
        sim = QMISimulator(config: c)
        if let n = namespace {
            ns = n
        } else if netns {
            ns = try TestNamespace("qcm-d")
        }
        if let a = at {
            let product = Text.hex(a.productID, 4)
            try FakeHardware.writeATModule(root: root, product: product, netDriver: usbnet, netdev: "usb0")
            let tty = FakeHardware.atPort(product: product, netDriver: usbnet) ?? "ttyUSB0"
            channelKey = tty
            let loop = EventLoop()
            let s = ATSimulator(config: a, loop: loop)
            if let n = ns {
                let plane = try n.inside { try EthernetPlane(name: "usb0", natRouter: a.nat == 1) }
                plane.serve(on: loop)
                s.onCallUp = { _, address, prefix, gateway, dns in plane.callUp(address: address, prefix: prefix, gateway: gateway, dns: dns) }
                s.onIPv6CallUp = { _, address, dns in plane.ipv6Up(address: address, dns: dns) }
                s.onCallDown = { _ in plane.callDown() }
                ethernet = plane
            }
            _ = try s.listen(devPath: root + "/dev/" + tty)
            s.startThread()
            atSim = s
            return
        }
        let wwanDriver = mbim != nil ? "mhi_wwan_mbim" : "mhi_net"
        if let m = mbim, driver == "pcie_mhi" {
            let product = product ?? "0306"
            try FakeHardware.writeSysfs(root: root, netdev: netdev, product: product, driver: "pcie_mhi", qmapMode: qmap ?? 1,
                                        qmapSize: 32768, mbim: true)
            let socket = FakeHardware.socketPath(root: root, driver: "pcie_mhi_mbim")
            channelKey = (socket as NSString).lastPathComponent
            let s = MBIMSimulator(config: m)
            try s.listen(socket)
            try s.attachPCIe(root: root, parent: netdev, qmapMode: qmap ?? 1, sessionBase: product == "0309" ? 112 : 0,
                             namespace: netns ? ns?.name : nil, networking: netns)
            s.start()
            mbimSim = s
            return
        }
        if wwan {
            try FakeHardware.writeWWAN(root: root, mbim: mbim != nil, netdev: netdev)
        } else {
            try FakeHardware.writeSysfs(root: root, netdev: netdev, rawIP: rawIP,
                                        product: product ?? (mbim != nil ? "0800" : pcie ? "0306" : "0125"),
                                        driver: mbim != nil ? "cdc_mbim" : qmap == nil || pcie ? driver : "qmi_wwan_q",
                                        qmapMode: qmap, qmapSize: qmapSize)
        }
        let socket = FakeHardware.socketPath(root: root, driver: wwan ? wwanDriver : mbim != nil ? "cdc_mbim" : driver)
        channelKey = (socket as NSString).lastPathComponent
        if let m = mbim {
            let s = MBIMSimulator(config: m)
            try s.listen(socket)
            if netns, let n = ns { try n.inside { try s.makeNetdev(netdev, namespace: n.name, rawIP: wwan) } }
            s.start()
            mbimSim = s
            return
        }
        if qmap != nil || driver == "qmi_wwan" || pcie || driver == "GobiNet" {
            let owned = namespace == nil && ns != nil
            let plane: DataPlane.Driver = wwan ? .mhiNet : pcie ? .pcieMHI(mode: qmap ?? 1) : driver == "GobiNet" ? .gobiNet(mode: 0)
                : qmap.map { .qmiWWANQ(mode: $0) } ?? .qmiWWAN
            try DataPlane.attach(to: sim, root: root, driver: plane, parent: netdev,
                                 namespace: owned ? "/run/netns/" + ns!.name : nil, networking: owned,
                                 driverQMAP: pcie ? .qmapv5 : .qmap, qmapSize: UInt32(qmapSize), initialLinkState: pcie ? 0 : 1,
                                 bridgeSupport: bridgeSupport)
        }
        sim.startThread()
        if driver == "GobiNet" {
            try sim.listenGobiNet(socket)
        } else {
            try sim.listen(socket)
        }
    }

    deinit {
        if let p = pid, exitStatus == nil { _ = kill(p, SIGKILL); _ = Subprocess.wait(p) }
        sim.dataPlane?.detach()
        sim.shutdown()
        mbimSim?.shutdown()
        atSim?.shutdown()
        ethernet?.close()
        ns = nil
        try? FileManager.default.removeItem(atPath: root)
    }

    var dataPlane: DataPlane? { sim.dataPlane }

    /// Pings `address` from qcm's namespace (once, two seconds at most).
    /// One echo answered within 4 s (ping sends one a second until then): a single lost first
    /// packet on a loaded machine is not a broken data path.
    func ping(_ address: String, from interface: String? = nil) -> (status: Int32, output: String) {
        shell(["ip", "netns", "exec", ns!.name, "ping", "-c", "1", "-w", "4"] + (interface.map { ["-I", $0] } ?? []) + [address])
    }

    var baseArgs: [String] {
        ["--sysfs-root", root + "/sys", "--dev-root", root + "/dev", "--run-dir", root + "/run", "--dns", "none",
         "--resolv-conf", resolvConf] + (ns == nil ? ["--no-link"] : [])
    }

    /// Starts qcm with `args` (plus the rig's roots); output goes to the log file.
    func start(_ args: [String]) {
        let fd = csys_open(logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)   // each run gets a fresh log
        defer { close(fd) }
        exitStatus = nil
        let qcm = ["env", "RESOLV_CONF=" + resolvConf] + wrapper + [productPath("qcm")] + baseArgs + args
        pid = Subprocess.start(ns.map { ["ip", "netns", "exec", $0.name] + qcm } ?? qcm, outputFD: fd)
        XCTAssertNotNil(pid)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    @discardableResult
    func waitLog(_ text: String, timeout: Double = 15) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if log.contains(text) { return true }
            if exited { return log.contains(text) }
            usleep(20_000)
        }
        return false
    }

    /// Waits until `text` occurs `count` times in the log.
    @discardableResult
    func waitCount(_ text: String, _ count: Int, timeout: Double = 15) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if log.components(separatedBy: text).count - 1 >= count { return true }
            usleep(20_000)
        }
        return false
    }

    var exited: Bool {
        guard let p = pid else { return true }
        if exitStatus != nil { return true }
        var status: Int32 = 0
        if waitpid(p, &status, WNOHANG) == p {
            exitStatus = csys_wait_status_exited(status) != 0 ? csys_wait_status_code(status) : 128 + csys_wait_status_signal(status)
            return true
        }
        return false
    }

    /// Waits for qcm to exit; nil if it did not within `timeout`.
    func waitExit(timeout: Double = 15) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if exited { return exitStatus }
            usleep(10_000)
        }
        return nil
    }

    func signal(_ s: Int32) { if let p = pid { _ = kill(p, s) } }

    /// Waits until PDN `pdn`'s status record has `key` = `value`.
    func waitStatus(_ key: String, _ value: String, pdn: Int = 1, timeout: Double = 10) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if statusValue(key, pdn: pdn) == value { return true }
            usleep(20_000)
        }
        return false
    }

    func waitSim(_ timeout: Double = 10, _ cond: (QMISimulator) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if sim.withState(cond) { return true }
            usleep(10_000)
        }
        return false
    }

    var requests: [String] { sim.transcript.requestNames }
}

/// Runs qcm to completion (for commands that exit by themselves).
func qcm(_ args: [String], stdin: String? = nil) -> (status: Int32, output: String) {
    if let input = stdin {
        let tmp = NSTemporaryDirectory() + "qcm-in-" + UUID().uuidString
        try? input.write(toFile: tmp, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        return shell(["sh", "-c", "exec \"$0\" \"$@\" < \(tmp)", productPath("qcm")] + args)
    }
    return shell([productPath("qcm")] + args)
}

extension ATSimConfig {
    /// A simulated AT module that answers quickly (5 ms a line, the call up in 100 ms), for tests.
    static func quick(_ product: Product = .ec200u, _ change: (inout ATSimConfig) -> Void = { _ in }) -> ATSimConfig {
        var c = ATSimConfig(product: product)
        c.latencyMs = 5
        c.callSetupMs = 100
        change(&c)
        return c
    }
}
