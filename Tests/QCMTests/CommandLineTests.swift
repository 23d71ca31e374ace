import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMISim
import TestSupport
@testable import QCM

final class CommandLineTests: XCTestCase {
    func testBadFlagsAndValuesExit2WithOnePreciseMessage() {
        let cases: [([String], String)] = [
            (["--frobnicate"], "qcm: unknown option '--frobnicate'"),
            (["stray"], "qcm: unexpected argument 'stray'"),
            (["-s", "a", "b", "c", "d", "e"], "qcm: -s takes at most APN USER PASSWORD AUTH, got 5 values"),
            (["-s", "apn", "u", "p", "kerberos"], "qcm: unknown authentication 'kerberos' (0/none, 1/pap, 2/chap, 3/both)"),
            (["-p", "12a4"], "qcm: -p: '12a4' is neither a PIN (4-8 digits) nor a proxy (qmi-proxy, mbim-proxy, quectel-qmi-proxy, quectel-mbim-proxy, quectel-atc-proxy)"),
            (["-p", "123"], "qcm: -p: '123' is neither a PIN (4-8 digits) nor a proxy (qmi-proxy, mbim-proxy, quectel-qmi-proxy, quectel-mbim-proxy, quectel-atc-proxy)"),
            (["-p", "quectel-qmi-proxy0"], "qcm: -p: 'quectel-qmi-proxy0' is neither a PIN (4-8 digits) nor a proxy (qmi-proxy, mbim-proxy, quectel-qmi-proxy, quectel-mbim-proxy, quectel-atc-proxy)"),
            (["-p", "quectel-qmi-proxy", "-p", "mbim-proxy"], "qcm: -p quectel-qmi-proxy and -p mbim-proxy: one proxy at a time"),
            (["-p", "quectel-atc-proxy", "--proxy"], "qcm: -p quectel-atc-proxy and --proxy: one proxy at a time"),
            (["-n", "0"], "qcm: -n: '0' is not a number from 1 to 24"),
            (["-n"], "qcm: -n needs a value"),
            (["-k", "x"], "qcm: -k: 'x' is not a number from 1 to 24"),
            (["--dns", "magic"], "qcm: --dns: 'magic' is not one of auto, resolvconf, file, none"),
            (["--metric", "-1"], "qcm: --metric: '-1' is not a number from 0 to 2147483647"),
            (["-r"], "qcm: -r: this quectel-CM option (reset, loopback test) is not supported by qcm"),
            (["-b", "-6"], "qcm: -b hands the PDN's IPv4 address to the LAN host; bridge mode carries no IPv6 call: drop -6"),
            (["-a", "3"], "qcm: -a: '3' is neither 1 (bring the call up by APN name) nor 2 (by APN type)"),
            (["-a", "1"], "qcm: -a 1 brings the call up by APN name: give the APN with -s APN"),
            (["-a", "1", "-s"], "qcm: -a 1 brings the call up by APN name: give the APN with -s APN"),
            (["-a", "2", "-s", "ims"], "qcm: -a 2 brings the call up by APN type: give the type with -y 1 (internet) or -y 2 (ims)"),
            (["-n", "2", "-a", "2", "-y", "0"], "qcm: -a 2 brings the call up by APN type (PDN 2): give the type with -y 1 (internet) or -y 2 (ims)"),
            (["-y", "mms"], "qcm: -y: 'mms' is not an APN type (0 unspecified, 1 internet, 2 ims)"),
            (["-y"], "qcm: -y needs an APN type (0 unspecified, 1 internet, 2 ims)"),
            (["-u"], "qcm: -u needs a file for the USB capture"),
            (["-u", "-s"], "qcm: -u needs a file for the USB capture"),
            (["-m", "0"], "qcm: -m: '0' is not a number from 1 to 126"),
            (["--data-path", "ppp"], "qcm: --data-path: 'ppp' is not one of auto, raw-ip, qmap, qmimux, rmnet"),
            (["-n", "2", "-s", "a", "-s", "b"], "qcm: -s given twice for PDN 2"),
            (["-n", "2", "-m", "1", "-m", "2"], "qcm: -m given twice for PDN 2"),
            (["-n", "1", "-n", "1"], "qcm: PDN 1 is given twice"),
            (["--script", "/x", "--no-link"], "qcm: --script and --no-link exclude each other"),
            (["-f"], "qcm: -f needs a value"),
        ]
        for (args, message) in cases {
            let r = qcm(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.output)")
            let lines = r.output.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.first, message, "\(args)")
            XCTAssertTrue(r.output.contains("Usage: qcm [options]"), "usage follows the message")
        }
    }

    func testQuectelStyleParsing() throws {
        var o = try Options.parse(["-s", "3gnet", "carl", "1234", "1", "-p", "4321", "-f", "/tmp/x.log", "-n", "2", "-4", "-6", "-v"])
        XCTAssertEqual(o.pdn.apn, "3gnet")
        XCTAssertEqual(o.pdn.user, "carl")
        XCTAssertEqual(o.pdn.password, "1234")
        XCTAssertEqual(o.pdn.auth, 1)
        XCTAssertEqual(o.pin, "4321")
        XCTAssertEqual(o.logFile, "/tmp/x.log")
        XCTAssertEqual(o.pdn.pdn, 2)
        XCTAssertEqual(o.pdn.families, [.ipv4, .ipv6])
        XCTAssertTrue(o.verbose)
        o = try Options.parse(["-s", "internet", "user", "pw"])
        XCTAssertEqual(o.pdn.auth, 2, "a password without AUTH means CHAP, as in quectel-CM")
        o = try Options.parse(["-s"])
        XCTAssertEqual(o.pdn.apn, "")
        o = try Options.parse(["-s", "apn", "u", "p", "MsChapV2", "-p", "qmi-proxy", "-6"])
        XCTAssertEqual(o.pdn.auth, 3)
        XCTAssertEqual(o.proxy, .libqmi)
        XCTAssertEqual(o.pdn.families, [.ipv6])
        o = try Options.parse(["--apn", "a", "--user", "u", "--password", "p", "--auth", "pap", "--pin", "1234", "--pdn", "3", "--kill", "2"])
        XCTAssertEqual(o.pdn.auth, 1)
        XCTAssertEqual(o.killPDN, 2)
        XCTAssertEqual(Options.authName(3), "pap|chap")
        XCTAssertEqual(o.dns, .auto)
        XCTAssertEqual(try Options.parse(["--dns", "file"]).dns, .file)
        // quectel-CM's proxy names, a PIN next to them.
        o = try Options.parse(["-p", "quectel-qmi-proxy", "-p", "1234"])
        XCTAssertEqual(o.proxy, .quectel(.qmi))
        XCTAssertEqual(o.pin, "1234")
        XCTAssertEqual(try Options.parse(["-p", "quectel-mbim-proxy"]).proxy, .quectel(.mbim))
        XCTAssertEqual(try Options.parse(["-p", "quectel-atc-proxy"]).proxy, .quectel(.atc))
        XCTAssertEqual(try Options.parse(["-p", "libmbim-proxy", "-p", "mbim-proxy"]).proxy, .libmbim)
    }

    /// Where each proxy listens: Quectel's QMI and AT proxies are named after the last
    /// character of the device they serve (quectel-CM 1.6.8 names them so on both sides), the
    /// MBIM proxy is one name; a device name that cannot name a socket is refused.
    func testProxySocketNames() {
        XCTAssertEqual(Proxy.quectel(.qmi).socket(device: "/dev/cdc-wdm0"), "@quectel-qmi-proxy0")
        XCTAssertEqual(Proxy.quectel(.qmi).socket(device: "/dev/mhi_QMI0"), "@quectel-qmi-proxy0")
        XCTAssertEqual(Proxy.quectel(.qmi).socket(device: "/dev/cdc-wdm1"), "@quectel-qmi-proxy1")
        XCTAssertEqual(Proxy.quectel(.atc).socket(device: "/dev/ttyUSB2"), "@quectel-atc-proxy2")
        XCTAssertEqual(Proxy.quectel(.atc).socket(device: "/dev/ttyUSB12"), "@quectel-atc-proxy2", "only the last character, as quectel-CM")
        XCTAssertEqual(Proxy.quectel(.mbim).socket(device: "/dev/cdc-wdm3"), "@quectel-mbim-proxy")
        XCTAssertEqual(Proxy.libqmi.socket(device: "/dev/cdc-wdm3"), "@qmi-proxy")
        XCTAssertEqual(Proxy.libmbim.socket(device: "/dev/cdc-wdm3"), "@mbim-proxy")
        XCTAssertNil(Proxy.quectel(.qmi).socket(device: ""))
        XCTAssertNil(Proxy.quectel(.qmi).socket(device: "/dev/x/"))
        XCTAssertNil(Proxy.quectel(.atc).socket(device: "/dev/ttyé"))
        XCTAssertEqual(Proxy.quectel(.qmi).startHint(device: "/dev/cdc-wdm0"), "quectel-qmi-proxy -d /dev/cdc-wdm0")
        XCTAssertEqual(Proxy.libqmi.startHint(device: "/dev/cdc-wdm0"), "/usr/libexec/qmi-proxy")
    }

    func testHelpAndVersion() {
        let h = qcm(["--help"])
        XCTAssertEqual(h.status, 0)
        for flag in ["-s, --apn", "-p, --pin", "-p qmi-proxy", "-f, --log-file", "-i, --interface", "--device", "-4, --ipv4", "-6, --ipv6",
                     "-n, --pdn", "-k, --kill", "-v, --verbose", "-b, --bridge", "-a, --bring-up", "-y, --apn-type", "-u, --usbmon", "-d, --no-dhcp", "--script", "--dns", "--metric", "--max-retries",
                     "--stable-after", "--no-link", "--run-dir", "--pid-file", "--sysfs-root", "--dev-root", "--simulate", "--sim-arg",
                     "qcm list", "qcm status", "qcm decode", "qcm dhcp", "Exit status:"] {
            XCTAssertTrue(h.output.contains(flag), "--help lacks \(flag)")
        }
        let v = qcm(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertTrue(v.output.hasPrefix("qcm 0."), v.output)
    }

    /// A fake tree written by `write`, with the driver's child links and the control node;
    /// removed when the test ends.
    func fakeTree(children: [String] = [], node: String = "cdc-wdm0", _ write: (String) throws -> Void) throws -> String {
        let root = NSTemporaryDirectory() + "qcm-list-" + UUID().uuidString
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try write(root)
        for c in children { try FileManager.default.createDirectory(atPath: root + "/sys/class/net/" + c, withIntermediateDirectories: true) }
        _ = FileManager.default.createFile(atPath: root + "/dev/" + node, contents: nil)
        return root
    }

    func list(_ root: String, _ options: [String] = []) -> (status: Int32, output: String) {
        qcm(["list"] + options + ["--sysfs-root", root + "/sys", "--dev-root", root + "/dev"])
    }

    func testListFindsTheFakeModem() throws {
        let root = try fakeTree { try FakeHardware.writeSysfs(root: $0) }
        let r = list(root)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("Modem 1: EC25/EC20 R2.x (EC2x/EG2x) (2c7c:0125) at usb 1-1.2 (bus 001 device 003)"), r.output)
        XCTAssertTrue(r.output.contains("channel:    \(root)/dev/cdc-wdm0"), r.output)
        XCTAssertTrue(r.output.contains("netdev:     wwan0 (raw-ip: yes, qmi/pass_through)"), r.output)
        XCTAssertTrue(r.output.contains("data path:  one PDN: raw-IP; several PDNs: QMAP through rmnet links"), r.output)
        _ = FileManager.default.createFile(atPath: root + "/sys/class/net/wwan0/qmi/add_mux", contents: nil)
        let mux = list(root)
        XCTAssertTrue(mux.output.contains("netdev:     wwan0 (raw-ip: yes, qmi/add_mux, qmi/pass_through)"), mux.output)
        XCTAssertTrue(mux.output.contains("data path:  one PDN: raw-IP; several PDNs: QMAP through qmimux links"), mux.output)
        let j = list(root, ["--json"])
        let arr = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(arr.count, 1)
        XCTAssertEqual(arr[0]["product_id"] as? String, "0125")
        XCTAssertEqual(arr[0]["usable"] as? Bool, true)
        XCTAssertEqual(arr[0]["data_path_several_pdns"] as? String, "QMAP through qmimux links")

        // Quectel's qmi_wwan_q with qmap_mode 2 and its two links.
        let q = try fakeTree(children: ["wwan0_1", "wwan0_2"]) { try FakeHardware.writeSysfs(root: $0, driver: "qmi_wwan_q", qmapMode: 2) }
        let ql = list(q)
        XCTAssertTrue(ql.output.contains("netdev:     wwan0 (qmap_mode: 2)"), ql.output)
        XCTAssertTrue(ql.output.contains("data path:  one PDN: QMAP by the driver (qmap_mode 2); several PDNs: QMAP by the driver (qmap_mode 2)"), ql.output)

        // An RM500Q on Quectel's pcie_mhi: the MHI bus, mhi_QMI0, children rmnet_mhi0.N.
        let pc = try fakeTree(children: ["rmnet_mhi0.1", "rmnet_mhi0.2"], node: "mhi_QMI0") {
            try FakeHardware.writeSysfs(root: $0, netdev: "rmnet_mhi0", product: "0306", driver: "pcie_mhi", qmapMode: 2, qmapSize: 15360)
        }
        let pl = list(pc)
        XCTAssertEqual(pl.status, 0, pl.output)
        for line in ["Modem 1: PCIe (MHI) module 0306_00.01.00 (17cb:0306) at pcie 0306_00.01.00", "channel:    \(pc)/dev/mhi_QMI0",
                     "netdev:     rmnet_mhi0 (qmap_mode: 2)",
                     "data path:  one PDN: QMAP by the driver (qmap_mode 2); several PDNs: QMAP by the driver (qmap_mode 2)"] {
            XCTAssertTrue(pl.output.contains(line), line + " in:\n" + pl.output)
        }
        let none = qcm(["list", "--sysfs-root", root + "/nothing"])
        XCTAssertEqual(none.status, 3)
        XCTAssertTrue(none.output.contains("no Quectel modem found. Looked at:"), none.output)
        XCTAssertEqual(qcm(["list", "--bogus"]).status, 2)
        // The daemon says the same thing and exits 3.
        let d = qcm(["--sysfs-root", root + "/nothing", "--run-dir", root + "/run"])
        XCTAssertEqual(d.status, 3, d.output)
        XCTAssertTrue(d.output.contains("no Quectel modem found"), d.output)
    }

    /// A UNISOC module dialed by AT (EC200U in NCM mode, its AT port on interface 2) beside
    /// the fake QMI EC25, and a UNISOC PCIe module: `qcm list` shows the AT port and the
    /// netdev, and the EC25's lines stay as they were.
    func testListShowsATModules() throws {
        let root = try fakeTree { root in
            try FakeHardware.writeSysfs(root: root)
            let fm = FileManager.default
            func file(_ p: String, _ s: String) throws {
                let full = root + "/" + p
                try fm.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try (s + "\n").write(toFile: full, atomically: true, encoding: .utf8)
            }
            let dev = "sys/devices/platform/sim/usb3/3-1"
            try file(dev + "/idVendor", "2c7c")
            try file(dev + "/idProduct", "0901")
            try file(dev + "/busnum", "3")
            try file(dev + "/devnum", "2")
            try fm.createSymbolicLink(atPath: root + "/sys/bus/usb/devices/3-1", withDestinationPath: "../../../devices/platform/sim/usb3/3-1")
            for (n, triple, driver) in [(0, "02/0d/00", "cdc_ncm"), (1, "0a/00/01", "cdc_ncm"), (2, "ff/00/00", "option"), (3, "ff/00/00", "option")] {
                let i = dev + "/3-1:1.\(n)"
                try file(i + "/bInterfaceNumber", "0\(n)")
                let c = triple.split(separator: "/").map(String.init)
                try file(i + "/bInterfaceClass", c[0])
                try file(i + "/bInterfaceSubClass", c[1])
                try file(i + "/bInterfaceProtocol", c[2])
                try fm.createDirectory(atPath: root + "/sys/bus/usb/drivers/" + driver, withIntermediateDirectories: true)
                try? fm.createSymbolicLink(atPath: root + "/" + i + "/driver", withDestinationPath: "../../../../../../bus/usb/drivers/" + driver)
                try fm.createSymbolicLink(atPath: root + "/sys/bus/usb/devices/3-1:1.\(n)", withDestinationPath: "../../../devices/platform/sim/usb3/3-1/3-1:1.\(n)")
            }
            try fm.createDirectory(atPath: root + "/" + dev + "/3-1:1.0/net/eth2", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: root + "/" + dev + "/3-1:1.2/ttyUSB4/tty/ttyUSB4", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: root + "/" + dev + "/3-1:1.3/ttyUSB5/tty/ttyUSB5", withIntermediateDirectories: true)
            try file("sys/module/cdc_ncm/version", "22-Aug-2005")
            try file("dev/ttyUSB4", "")
            // UNISOC PCIe.
            for n in ["sipa_dummy0", "pcie0", "pcie1"] { try fm.createDirectory(atPath: root + "/sys/class/net/" + n, withIntermediateDirectories: true) }
            try file("dev/stty_nr31", "")
        }
        let r = list(root)
        XCTAssertEqual(r.status, 0, r.output)
        let expected = """
            Modem 1: EC25/EC20 R2.x (EC2x/EG2x) (2c7c:0125) at usb 1-1.2 (bus 001 device 003)
              mode:       QMI
              driver:     qmi_wwan qmi-sim
              interface:  1-1.2:1.4
              channel:    \(root)/dev/cdc-wdm0
              netdev:     wwan0 (raw-ip: yes, qmi/pass_through)
              data path:  one PDN: raw-IP; several PDNs: QMAP through rmnet links
              bridge:     none (qmi_wwan has no bridge_mode or bridge_ipv4)
            Modem 2: EC200U (2c7c:0901) at usb 3-1 (bus 003 device 002)
              mode:       NCM, control by AT commands
              driver:     cdc_ncm 22-Aug-2005
              interface:  3-1:1.0
              AT port:    \(root)/dev/ttyUSB4 (interface 3-1:1.2)
              netdev:     eth2
            Modem 3: UNISOC PCIe module at pcie sipa_dummy0
              mode:       SIPA, control by AT commands
              driver:     none
              AT port:    \(root)/dev/stty_nr31
              netdev:     pcie0, pcie1
            """
        XCTAssertEqual(r.output.trimmingCharacters(in: .whitespacesAndNewlines), expected)

        let j = list(root, ["--json"])
        let arr = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(arr.count, 3)
        XCTAssertEqual(arr.map { $0["control"] as? String }, ["qmi", "at", "at"])
        XCTAssertTrue(arr[0]["at_port"] is NSNull)
        XCTAssertEqual(arr[0]["data_path"] as? String, "raw-IP")
        XCTAssertEqual(arr[0]["bridge_netdevs"] as? [String], [], "upstream qmi_wwan: no bridge mode")
        XCTAssertEqual(arr[1]["at_port"] as? String, root + "/dev/ttyUSB4")
        XCTAssertEqual(arr[1]["at_interface"] as? String, "3-1:1.2")
        XCTAssertEqual(arr[1]["mode"] as? String, "NCM")
        XCTAssertEqual(arr[1]["driver"] as? String, "cdc_ncm")
        XCTAssertEqual(arr[1]["net"] as? [String], ["eth2"])
        XCTAssertEqual(arr[1]["usable"] as? Bool, true)
        XCTAssertNil(arr[1]["data_path"])
        XCTAssertEqual(arr[2]["at_port"] as? String, root + "/dev/stty_nr31")
        XCTAssertEqual(arr[2]["net"] as? [String], ["pcie0", "pcie1"])

        // Without the option driver: no AT port, and the warning says how to bind it.
        try FileManager.default.removeItem(atPath: root + "/sys/devices/platform/sim/usb3/3-1/3-1:1.2/ttyUSB4")
        try FileManager.default.removeItem(atPath: root + "/sys/devices/platform/sim/usb3/3-1/3-1:1.2/driver")
        let n = list(root)
        for line in ["  mode:       NCM, control by AT commands (incomplete: no AT port)", "  AT port:    none (interface 3-1:1.2)",
                     "  warning:    its AT port, USB interface 2 (3-1:1.2), has no tty: the option driver is not bound to it."] {
            XCTAssertTrue(n.output.contains(line), line + " in:\n" + n.output)
        }
        XCTAssertTrue(n.output.contains("echo 2c7c 0901 ff > /sys/bus/usb-serial/drivers/option1/new_id"), n.output)
    }

    func testDecodeSeedTrace() {
        let seed = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../QMICoreTests/Fixtures/seed001-flattened.txt").standardized.path
        let r = qcm(["decode", seed])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.output.components(separatedBy: "\n  CTL ").count - 1, 8)
        XCTAssertTrue(r.output.contains("WDA Set Data Format request (QMIWDS_ADMIN_SET_DATA_FORMAT_REQ)"), r.output)
        XCTAssertTrue(r.output.contains("[0x11] Link Layer Protocol: 802-3 (1)"), r.output)
        let q = qcm(["decode", "--quectel"], stdin: "01 0b 00 00 00 00 00 01 27 00 00 00\n")
        XCTAssertEqual(q.output, "01 0b 00 00 00 00 00 01 27 00 00 00\nTransactionId: 01 QMICTLType: 0027 QMICTL_SYNC_REQ Length: 0000\n")
        let broken = qcm(["decode"], stdin: "01 0f 00 00 00 00 00 03 22 00 04 00 01 01\nnot qmi\n")
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.output.contains("stdin:1: broken frame: the QMUX length says 16 byte(s), only 14 present"), broken.output)
        XCTAssertTrue(broken.output.contains("no QMI frames, MBIM messages or AT lines found (1 broken)"), broken.output)
        XCTAssertEqual(qcm(["decode", "/nonexistent"]).status, 1)
    }

    func testSystemdNotifyReadyStatusAndWatchdog() throws {
        let name = "@qcm-notify-\(getpid())"
        var sa = sockaddr_un()
        let len = csys_unix_addr(&sa, name)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertEqual(withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }, 0)
        defer { close(fd) }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rig = try DaemonRig()
        let logFD = csys_open(rig.logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        rig.pid = Subprocess.start(["env", "NOTIFY_SOCKET=\(name)", "WATCHDOG_USEC=400000", productPath("qcm")] + rig.baseArgs, outputFD: logFD)
        close(logFD)
        var messages: [String] = []
        let end = Date().addingTimeInterval(8)
        while Date() < end && messages.filter({ $0 == "WATCHDOG=1" }).count < 3 {
            var buf = [UInt8](repeating: 0, count: 512)
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 { messages.append(String(decoding: buf[0..<n], as: UTF8.self)) }
        }
        XCTAssertTrue(messages.contains { $0.hasPrefix("READY=1\nSTATUS=connected") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.hasPrefix("STATUS=waiting for network registration") || $0.hasPrefix("STATUS=dialing") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.hasPrefix("STATUS=connected") && $0.hasSuffix("; LTE 3/4 CHN-UNICOM") }, "the short field status: \(messages)")
        XCTAssertGreaterThanOrEqual(messages.filter { $0 == "WATCHDOG=1" }.count, 3, "\(messages)")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
        var buf = [UInt8](repeating: 0, count: 512)
        var sawStopping = false
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            if String(decoding: buf[0..<n], as: UTF8.self).hasPrefix("STOPPING=1") { sawStopping = true }
        }
        XCTAssertTrue(sawStopping)
    }

    /// The README's run command: the built-in simulator end to end.
    func testSimulateEndToEnd() throws {
        let sim = Simulation(["-s", "3gnet"])
        XCTAssertTrue(sim.waitConnected(), sim.log)
        if isRoot {
            XCTAssertTrue(sim.log.contains("wwan0: added 10.90.1.113/30"), "as root the simulated wwan0 is configured:\n\(sim.log)")
        } else {
            XCTAssertTrue(sim.log.contains("link configuration is skipped"), sim.log)
        }
        _ = kill(sim.pid, SIGINT)
        XCTAssertEqual(Subprocess.wait(sim.pid), 0)
        XCTAssertTrue(sim.log.contains("requestDeactivateDefaultPDP"), sim.log)
        XCTAssertEqual(shell(["pgrep", "-f", "qcm-sim-"]).output, "", "the simulator is gone too")
    }

    /// `qcm --simulate` killed with -9: its qmi-sim dies with it (PR_SET_PDEATHSIG) and removes
    /// its tree; a directory left behind some other way is removed by the next run.
    func testSimulateKilledLeavesNothingBehind() throws {
        let sim = Simulation([])
        XCTAssertTrue(sim.waitConnected(), sim.log)
        guard let root = sim.root else { return XCTFail("no simulator root in the log:\n\(sim.log)") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: root))
        _ = kill(sim.pid, SIGKILL)
        _ = Subprocess.wait(sim.pid)
        let gone = Date().addingTimeInterval(10)
        while Date() < gone && (FileManager.default.fileExists(atPath: root) || !shell(["pgrep", "-f", root]).output.isEmpty) { usleep(50_000) }
        XCTAssertEqual(shell(["pgrep", "-f", root]).output, "", "qmi-sim died with qcm")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root), "its temporary directory is gone")
        // A directory a killed run left behind (its qmi-sim killed too): removed at the next start.
        let stale = "/tmp/qcm-sim-4194305-stale\(getpid())"            // the pid of a qcm that is gone
        try FileManager.default.createDirectory(atPath: stale + "/sim/dev", withIntermediateDirectories: true)
        let again = qcm(["--simulate", "--run-dir", sim.run, "--max-retries", "1", "--sim-arg", "--reject-call", "--sim-arg", "1013"])
        XCTAssertTrue(again.output.contains("simulation: removed \(stale), left by a qcm --simulate that was killed"), again.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        // The killed qcm's own directory (above the simulator's tree) went the same way.
        XCTAssertFalse(FileManager.default.fileExists(atPath: (root as NSString).deletingLastPathComponent))
    }

    /// A `qcm --simulate` running in the background, logging to a file of its own.
    final class Simulation {
        let pid: pid_t
        let run = NSTemporaryDirectory() + "qcm-simrun-" + UUID().uuidString
        var logPath: String { run + ".log" }
        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        /// The simulator's tree (qmi-sim's --root).
        var root: String? {
            guard let r = log.range(of: "--root ") else { return nil }
            return log[r.upperBound...].split(separator: " ").first.map(String.init)
        }

        init(_ args: [String]) {
            let fd = csys_open(run + ".log", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            pid = Subprocess.start([productPath("qcm"), "--simulate", "--run-dir", run] + args, outputFD: fd)!
            close(fd)
        }

        func waitConnected() -> Bool { waitFor(timeout: 20) { self.log.contains("] connected") } }

        deinit {
            if kill(pid, 0) == 0 { _ = kill(pid, SIGKILL); _ = Subprocess.wait(pid) }
            try? FileManager.default.removeItem(atPath: run)
            try? FileManager.default.removeItem(atPath: logPath)
        }
    }

    /// Two `qcm --simulate` started together keep their own simulations; one started while
    /// they run takes neither for a stale one. Where the simulator lives is qcm's to say, and
    /// qmi-sim removes what it made under its root, never more.
    func testSimulationsKeepToTheirOwnFiles() throws {
        let a = Simulation([]), b = Simulation([])
        XCTAssertTrue(a.waitConnected(), a.log)
        XCTAssertTrue(b.waitConnected(), b.log)
        let roots = try [XCTUnwrap(a.root), XCTUnwrap(b.root)]
        XCTAssertNotEqual(roots[0], roots[1])
        let c = Simulation(["--max-retries", "1", "--sim-arg", "--reject-call", "--sim-arg", "1013"])
        XCTAssertEqual(Subprocess.wait(c.pid), 6, c.log)
        for r in roots {
            XCTAssertTrue(FileManager.default.fileExists(atPath: r + "/sys"), "\(r) survives a third qcm --simulate")
            XCTAssertFalse(c.log.contains(r), c.log)
        }
        for s in [a, b] {
            XCTAssertEqual(kill(s.pid, SIGTERM), 0, "still running")
            XCTAssertEqual(Subprocess.wait(s.pid), 0, s.log)
        }
        for r in roots { XCTAssertFalse(FileManager.default.fileExists(atPath: r), "\(r) removed with its qcm") }

        let mine = NSTemporaryDirectory() + "qcm-precious-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: mine) }
        try "keep\n".write(toFile: mine + "/precious", atomically: true, encoding: .utf8)
        let r = qcm(["--simulate", "--sim-arg", "--root", "--sim-arg", mine])
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("--sim-arg --root: qcm --simulate chooses the simulator's directory and socket itself"), r.output)
        // qmi-sim on a directory that holds something else: on exit that is still there.
        let sim = Subprocess.start([productPath("qmi-sim"), "--root", mine, "--remove-root", "--ready-file", mine + "/ready"],
                                   outputFD: Subprocess.devNull)!
        XCTAssertTrue(waitFor { FileManager.default.fileExists(atPath: mine + "/ready") })
        XCTAssertTrue(FileManager.default.fileExists(atPath: mine + "/sys"))
        Subprocess.stop(sim)
        XCTAssertEqual(try String(contentsOfFile: mine + "/precious", encoding: .utf8), "keep\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: mine + "/sys"), "what it made is gone")
        XCTAssertFalse(FileManager.default.fileExists(atPath: mine + "/dev"))
    }
}
