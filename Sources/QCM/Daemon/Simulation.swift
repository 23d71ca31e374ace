import Base
import CSystem
import QMICore

/// `qcm --simulate`: start `qmi-sim` (next to the qcm binary, or on PATH) with a fake
/// sysfs tree and socket, and dial it like a modem. As root, qcm first moves itself into
/// a private network namespace, where the simulator creates a TUN `wwan0` that qcm then
/// configures for real — the host's own interfaces and routes are never touched.
final class Simulation {
    struct Failure: Error { let message: String }

    /// qcm's temporary directory (`/tmp/qcm-sim-PID-XXXXXX`); the simulator's tree is in
    /// `sim` below it, which qmi-sim creates and removes itself (also when qcm is killed).
    let root: String
    let pid: pid_t
    let networking: Bool
    var simRoot: String { root + "/sim" }
    var sysRoot: String { simRoot + "/sys" }
    var devRoot: String { simRoot + "/dev" }

    init(root: String, pid: pid_t, networking: Bool) {
        self.root = root
        self.pid = pid
        self.networking = networking
    }

    static func findSimulator() -> String? {
        if let me = Files.readlink("/proc/self/exe") {
            var path = Array(me.utf8)
            if let i = path.lastIndex(of: 47) { path = Array(path[...i]) }
            let candidate = String(decoding: path, as: UTF8.self) + "qmi-sim"
            if csys_is_executable(candidate) != 0 { return candidate }
        }
        for dir in ["/usr/local/bin", "/usr/bin", "/usr/local/sbin", "/usr/sbin"] where csys_is_executable(dir + "/qmi-sim") != 0 {
            return dir + "/qmi-sim"
        }
        return nil
    }

    static let tempPrefix = "/tmp/qcm-sim-"

    /// The qcm a simulation directory belongs to: its name says, from the moment it exists
    /// (`/tmp/qcm-sim-PID-XXXXXX`), so no other qcm can take it for a stale one.
    static func owner(_ name: String) -> Int32? {
        guard name.begins(with: "qcm-sim-") else { return nil }
        let rest = Text.split(String(decoding: name.utf8.dropFirst(8), as: UTF8.self), on: 45)
        guard rest.count == 2, let pid = Text.parseInt(rest[0]), pid > 0, pid < Int64(Int32.max) else { return nil }
        return Int32(pid)
    }

    /// Simulation directories of a `qcm --simulate` that was killed (-9): its qmi-sim died
    /// with it (it runs with PR_SET_PDEATHSIG), the directory stayed. Ours only, and only
    /// those whose qcm is gone.
    static func removeStale(log: Logger) {
        for name in Files.list("/tmp") ?? [] where name.begins(with: "qcm-sim-") {
            let root = "/tmp/" + name
            // Directories of qcm before the pid was in the name say it in their `owner` file.
            let legacy = Files.readSmall(root + "/owner").flatMap { Text.parseInt(Text.trimmed(String(decoding: $0, as: UTF8.self))) }
                .flatMap { $0 > 0 && $0 < Int64(Int32.max) ? Int32($0) : nil }
            guard let pid = owner(name) ?? legacy, !Instance.running(pid) else { continue }
            guard let info = Files.info(root), info.kind == .directory, info.owner == UInt32(getuid()) else { continue }
            if Files.removeTree(root) { log.log("simulation: removed \(root), left by a qcm --simulate that was killed") }
        }
    }

    static func start(_ o: Options, log: Logger) throws(Failure) -> Simulation {
        guard let exe = findSimulator() else {
            throw Failure(message: "--simulate needs the qmi-sim program next to qcm or on PATH (swift build builds both)")
        }
        removeStale(log: log)
        var template = Array((tempPrefix + "\(getpid())-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw Failure(message: "cannot create a temporary directory: \(Errno.current.description)")
        }
        let root = String(cString: template)
        var networking = false
        var args = ["--root", root + "/sim", "--ready-file", root + "/ready"]
        if getuid() == 0 {
            guard csys_unshare_net() == 0 else {
                throw Failure(message: "cannot create a private network namespace: \(Errno.current.description)")
            }
            networking = true
            // GobiNet's netdev is Ethernet-like (DHCP): a veth; everything else a TUN (a TAP for
            // the Quectel drivers' Ethernet-type netdevs). Bridge mode is simulated on those, so
            // a bridged GobiNet gets the TAP too.
            let gobiNet = o.simArgs.contains { $0.equals("--gobinet") }
            let bridged = o.pdns.contains { $0.bridge }
            if !o.simArgs.contains(where: { $0.equals("--veth") }) { args.append(gobiNet && !bridged ? "--veth" : "--tun") }
            log.log("simulation: private network namespace; qmi-sim provides the modem and its network interface")
        }
        args += o.simArgs
        log.log("simulation: " + ([exe] + args).joined(separator: " "))
        let devNull = csys_open("/dev/null", O_WRONLY, 0)
        defer { _ = close(devNull) }
        let pid: pid_t
        do {
            // Its own process group (Ctrl-C reaches qcm, which stops it in order), and it
            // dies with qcm even when qcm is killed with -9.
            pid = try Spawn.start(exe, args, environment: Spawn.currentEnvironment, stdout: devNull, ownGroup: true, dieWithParent: true)
        } catch {
            Files.removeTree(root)
            throw Failure(message: "cannot start \(exe): \(error.errno.description)")
        }
        let sim = Simulation(root: root, pid: pid, networking: networking)
        let deadline = csys_monotonic_ms() + 15_000
        while !Files.exists(root + "/ready") {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                sim.cleanup()
                throw Failure(message: "qmi-sim exited (status \(csys_wait_status_code(status))) before it was ready; check the --sim-arg values")
            }
            if csys_monotonic_ms() > deadline {
                sim.stop()
                throw Failure(message: "qmi-sim did not become ready within 15 s")
            }
            csys_sleep_ms(20)
        }
        return sim
    }

    func stop() {
        _ = kill(pid, SIGTERM)
        _ = Spawn.wait(pid)
        cleanup()
    }

    func cleanup() { Files.removeTree(root) }
}
