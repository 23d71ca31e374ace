import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
import QMISim
import TestSupport
@testable import QCM

/// Field status: what the modem says about the network, kept current by its indications,
/// shown by `qcm status` (files, socket, JSON, --watch) — checked against the simulator.
final class FieldStatusTests: XCTestCase {
    func status(_ rig: DaemonRig, _ key: String, pdn: Int = 1) -> String? { rig.statusValue(key, pdn: pdn) }

    func waitStatus(_ rig: DaemonRig, _ key: String, _ value: String?, timeout: Double = 5) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if status(rig, key) == value { return true }
            usleep(20_000)
        }
        return false
    }

    func json(_ rig: DaemonRig) throws -> [String: Any] {
        let r = qcm(["status", "--json", "--run-dir", rig.root + "/run"])
        XCTAssertEqual(r.status, 0, r.output)
        let arr = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]], r.output)
        return try XCTUnwrap(arr.first)
    }

    func testStatusShowsWhatTheModemSays() throws {
        let rig = try DaemonRig { c in
            c.operatorName = "Iliad"
            c.operatorEncoding = .gsm7
        }
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("connected"), rig.log)
        XCTAssertTrue(waitStatus(rig, "lte_rsrp_dbm", "-95"), "\(status(rig, "lte_rsrp_dbm") ?? "nil")")
        XCTAssertEqual(status(rig, "operator"), "Iliad", "GSM 7-bit packed on the wire")
        XCTAssertEqual(status(rig, "mcc_mnc"), "46001")
        XCTAssertEqual(status(rig, "registration"), "registered")
        XCTAssertEqual(status(rig, "rat"), "lte")
        XCTAssertEqual(status(rig, "signal_bars"), "3")
        XCTAssertEqual(status(rig, "lte_snr_db"), "12.0")
        XCTAssertEqual(status(rig, "tac"), "6699")
        XCTAssertEqual(status(rig, "imsi"), "460011234567890")
        XCTAssertEqual(status(rig, "iccid"), "89860117851101539010")
        // The running qcm adds what only the modem knows now.
        let j = try json(rig)
        XCTAssertEqual(j["operator"] as? String, "Iliad")
        XCTAssertEqual(j["lte_rsrp_dbm"] as? Int, -95)
        XCTAssertEqual(j["lte_snr_db"] as? Double, 12.0)
        XCTAssertEqual(j["band"] as? String, "eutran-3")
        XCTAssertEqual(j["rf_channel"] as? Int, 1650)
        XCTAssertEqual(j["tx_bytes"] as? Int, 0, "counters read from the modem on request")
        XCTAssertTrue(j["tx_dropped"] is NSNull, "0xFFFFFFFF means not available")
        let text = qcm(["status", "--run-dir", rig.root + "/run"]).output
        XCTAssertTrue(text.contains("  network:   registered, LTE, Iliad (46001)"), text)
        XCTAssertTrue(text.contains("  signal:    3/4 bars; LTE RSRP -95 dBm, RSRQ -9 dB, SNR 12.0 dB, RSSI -65 dBm"), text)
        XCTAssertTrue(text.contains("  cell:      TAC 6699, cell id 171645954, band eutran-3, channel 1650"), text)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: rig.root + "/run/qcm-\(rig.pid!).sock"), "socket removed on exit")
    }

    /// Indications keep the status current; nothing is polled, and a change inside a
    /// threshold band costs nothing at all.
    func testIndicationsNotPolling() throws {
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("connected"), rig.log)
        XCTAssertTrue(waitStatus(rig, "lte_rsrp_dbm", "-95"))
        let indications = { rig.sim.transcript.entries.filter { !$0.incoming && $0.message?.messageID == NAS.SignalInfo.id && $0.message?.service == .nas }.count }
        rig.sim.setSignal(rsrp: -97)
        usleep(300_000)
        XCTAssertEqual(indications(), 0, "no threshold crossed: the modem says nothing")
        XCTAssertEqual(status(rig, "lte_rsrp_dbm"), "-95")
        rig.sim.setSignal(rsrp: -112, rsrq: -15, snr: -20)
        XCTAssertTrue(waitStatus(rig, "lte_rsrp_dbm", "-112"), rig.log)
        XCTAssertEqual(indications(), 1)
        XCTAssertEqual(status(rig, "signal_bars"), "1")
        XCTAssertEqual(status(rig, "lte_snr_db"), "-2.0")
        rig.sim.changeCell(tac: 0x2222, cellID: 77)
        XCTAssertTrue(waitStatus(rig, "cell_id", "77"), rig.log)
        XCTAssertEqual(status(rig, "tac"), "8738")
        XCTAssertEqual(rig.sim.transcript.count(NAS.GetSignalInfo.spec), 1, "asked once, then told")
        XCTAssertEqual(rig.sim.transcript.count(NAS.ConfigSignalInfo.spec), 1)
        XCTAssertEqual(rig.sim.transcript.count(NAS.RegisterIndications.spec), 1)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    func testNamesAndValuesFromAHostileModem() throws {
        // UCS-2 names decode; control characters never reach a status line; sentinels and
        // out-of-range values are not shown.
        let rig = try DaemonRig { c in
            c.operatorName = "T-Mobile"
            c.operatorEncoding = .ucs2
            c.nr = (-32768, -32768, -32768)
            c.snr = 9999
        }
        rig.start([])
        XCTAssertTrue(rig.waitLog("connected"), rig.log)
        XCTAssertTrue(waitStatus(rig, "operator", "T-Mobile"), "\(status(rig, "operator") ?? "nil")")
        XCTAssertNil(status(rig, "nr5g_rsrp_dbm"), "-32768: not available")
        XCTAssertNil(status(rig, "nr5g_snr_db"))
        XCTAssertNil(status(rig, "lte_snr_db"), "999.9 dB is not a value")
        XCTAssertEqual(status(rig, "lte_rsrp_dbm"), "-95")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)

        let evil = try DaemonRig { c in c.operatorName = "Evil\nstate=connected\u{1b}[2J" }
        evil.start([])
        XCTAssertTrue(evil.waitLog("connected"), evil.log)
        XCTAssertTrue(waitStatus(evil, "rat", "lte"))
        let file = (try? String(contentsOfFile: evil.runFile("status"), encoding: .utf8)) ?? ""
        XCTAssertEqual(file.components(separatedBy: "\nstate=").count, 2, "no line added: \(file)")
        XCTAssertFalse(file.utf8.contains(0x1b), "no escape sequence reaches a terminal")
        XCTAssertTrue(file.contains("\noperator="), "decoded as libqmi would (not printable, so GSM 7-bit, else UCS-2): \(file)")
        evil.signal(SIGTERM)
        XCTAssertEqual(evil.waitExit(), 0)
    }

    func testTheStatusSocketIsBounded() throws {
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("connected"), rig.log)
        let path = try XCTUnwrap(status(rig, "socket"))
        func connect() -> Int32 {
            let fd = csys_unix_connect(path)
            _ = csys_set_receive_timeout(fd, 4)
            return fd
        }
        func closedByDaemon(_ fd: Int32) -> Bool {
            var b = [UInt8](repeating: 0, count: 64)
            let n = read(fd, &b, 64)
            return n == 0 || (n < 0 && errno == ECONNRESET)     // unread input makes the close a reset
        }
        func say(_ fd: Int32, _ s: String) { _ = Array(s.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        let garbage = connect()
        say(garbage, "GET / HTTP/1.0\n")
        XCTAssertTrue(closedByDaemon(garbage), "unknown request: disconnected")
        let long = connect()
        say(long, String(repeating: "x", count: 200))
        XCTAssertTrue(closedByDaemon(long), "a request without end: disconnected")
        let silent = connect()
        XCTAssertTrue(closedByDaemon(silent), "a client that says nothing goes after 2 s")
        var many: [Int32] = []
        for _ in 0..<8 { many.append(connect()) }
        let ninth = connect()
        var b = [UInt8](repeating: 0, count: 64)
        let n = read(ninth, &b, 64)
        XCTAssertEqual(String(decoding: b.prefix(max(0, n)), as: UTF8.self), "busy\n", "at most 8 clients: the ninth is told")
        XCTAssertTrue(closedByDaemon(ninth), "and disconnected")
        for fd in many + [garbage, long, silent, ninth] { close(fd) }
        usleep(100_000)
        XCTAssertEqual(qcm(["status", "--run-dir", rig.root + "/run"]).status, 0)
        XCTAssertFalse(rig.exited)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
    }

    func testWatchRedrawsWhenSomethingChanges() throws {
        let rig = try DaemonRig()
        rig.start([])
        XCTAssertTrue(rig.waitLog("connected"), rig.log)
        XCTAssertTrue(waitStatus(rig, "lte_rsrp_dbm", "-95"))
        let out = rig.root + "/watch.txt"
        let fd = csys_open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let watcher = Subprocess.start([productPath("qcm"), "status", "--watch", "--run-dir", rig.root + "/run"], outputFD: fd)
        close(fd)
        defer { if let p = watcher { kill(p, SIGKILL); _ = Subprocess.wait(p) } }
        func text() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        func wait(_ s: String) -> Bool {
            let end = Date().addingTimeInterval(5)
            while Date() < end { if text().contains(s) { return true }; usleep(20_000) }
            return false
        }
        XCTAssertTrue(wait("RSRP -95 dBm"), text())
        rig.sim.setSignal(rsrp: -121)
        XCTAssertTrue(wait("RSRP -121 dBm"), text())
        XCTAssertTrue(wait("0/4 bars"), text())
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
        // The qcm it watched is gone: the watcher says so and ends.
        XCTAssertTrue(wait("no running qcm left"), text())
    }

    func testTrafficCountersFromTheModem() throws {
        guard isRoot else { throw XCTSkip("needs root: TUN links in a network namespace") }
        let rig = try DaemonRig(netns: true)
        rig.start([])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        for _ in 0..<3 { XCTAssertEqual(rig.ping("10.90.1.114").status, 0) }
        let j = try json(rig)
        XCTAssertEqual(j["tx_packets"] as? Int, 3)
        XCTAssertEqual(j["rx_packets"] as? Int, 3)
        XCTAssertEqual(j["tx_bytes"] as? Int, 3 * 84)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0)
    }

    // MARK: MBIM modems

    /// MBIM 1.0 has one RSSI (coded, 2 dB a step) for the RAT the modem is on: qcm asks to
    /// hear of changes of 2 steps and nothing by time or error rate, and shows it under that
    /// RAT's key with the bars.
    func testMBIMSignal() throws {
        let rig = try DaemonRig(mbim: MBIMSimulator.Config())
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertTrue(waitStatus(rig, "lte_rssi_dbm", "-73"), "\(status(rig, "lte_rssi_dbm") ?? "nil")")
        XCTAssertEqual(status(rig, "signal_bars"), "3")
        XCTAssertEqual(status(rig, "rat"), "lte")
        XCTAssertNil(status(rig, "wcdma_rssi_dbm"))
        let sim = try XCTUnwrap(rig.mbimSim)
        let r = sim.signalReporting
        XCTAssertEqual(r.interval, 0, "no reports by time")
        XCTAssertEqual(r.rssiThreshold, 2, "reports on 2 steps (4 dB) of change")
        XCTAssertEqual(r.errorRateThreshold, 0xffff_ffff, "none by error rate")

        sim.setSignal(rssi: 21)
        XCTAssertEqual(sim.signalIndications, 0, "one step is inside the threshold: the host is not woken")
        sim.setSignal(rssi: 24)
        XCTAssertEqual(sim.signalIndications, 1)
        XCTAssertTrue(waitStatus(rig, "lte_rssi_dbm", "-65"), "\(status(rig, "lte_rssi_dbm") ?? "nil")")
        XCTAssertEqual(status(rig, "signal_bars"), "4")

        // Another RAT: the same RSSI moves to its key.
        sim.changeDataClasses(0x04)
        XCTAssertTrue(waitStatus(rig, "wcdma_rssi_dbm", "-65"), "\(status(rig, "wcdma_rssi_dbm") ?? "nil")")
        XCTAssertEqual(status(rig, "rat"), "umts")
        XCTAssertNil(status(rig, "lte_rssi_dbm"))
        sim.changeDataClasses(0x02)
        XCTAssertTrue(waitStatus(rig, "gsm_rssi_dbm", "-65"))
        XCTAssertNil(status(rig, "wcdma_rssi_dbm"))
        // 5G NSA rides on an LTE anchor, whose RSSI it is; 5G standalone has no RSSI key.
        sim.changeDataClasses(0x60)
        XCTAssertTrue(waitStatus(rig, "lte_rssi_dbm", "-65"))
        XCTAssertEqual(status(rig, "rat"), "5gnr")
        sim.changeDataClasses(0x80)
        XCTAssertTrue(waitStatus(rig, "lte_rssi_dbm", nil))
        XCTAssertEqual(status(rig, "signal_bars"), "4", "the bars stay")

        sim.setSignal(rssi: 99)
        XCTAssertTrue(waitStatus(rig, "signal_bars", nil), "99: unknown")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }

    /// The session's counters (PACKET_STATISTICS) when `qcm status` asks: rx from In, tx
    /// from Out.
    func testMBIMCounters() throws {
        guard isRoot else { throw XCTSkip("needs root: the TAP netdev in a network namespace carries the traffic counted") }
        let rig = try DaemonRig(netns: true, mbim: MBIMSimulator.Config())
        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.ping("10.90.1.114").status, 0)
        let j = try json(rig)
        XCTAssertEqual(j["tx_packets"] as? Int, 1, "\(j)")
        XCTAssertEqual(j["rx_packets"] as? Int, 1)
        XCTAssertEqual(j["tx_bytes"] as? Int, 84, "one 84-byte echo request")
        XCTAssertEqual(j["rx_bytes"] as? Int, 84)
        XCTAssertNotNil(j["tx_dropped"] as? Int, "the modem's count of what it could not carry (IPv6 on an IPv4 session)")
        XCTAssertEqual(j["rx_dropped"] as? Int, 0)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }
}
