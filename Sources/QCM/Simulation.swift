import CSystem
import QMICore

/// `qcm --simulate`: start `qmi-sim` (next to the qcm binary, or on PATH) with a fake
/// sysfs tree and socket, and dial it like a modem. As root, qcm first moves itself into
/// a private network namespace, where the simulator creates a TUN `wwan0` that qcm then
/// configures for real — the host's own interfaces and routes are never touched.
final class Simulation {
    struct Failure: Error { let message: String }

    let root: String
    let pid: pid_t
    let networking: Bool
    var sysRoot: String { root + "/sys" }
    var devRoot: String { root + "/dev" }

    init(root: String, pid: pid_t, networking: Bool) {
        self.root = root
        self.pid = pid
        self.networking = networking
    }

    static func findSimulator() -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = buf.withUnsafeMutableBufferPointer { readlink("/proc/self/exe", $0.baseAddress!, 4096) }
        if n > 0 {
            var path = Array(buf[0..<n].map { UInt8(bitPattern: $0) })
            if let i = path.lastIndex(of: 47) { path = Array(path[...i]) }
            let candidate = String(decoding: path, as: UTF8.self) + "qmi-sim"
            if csys_is_executable(candidate) != 0 { return candidate }
        }
        for dir in ["/usr/local/bin", "/usr/bin", "/usr/local/sbin", "/usr/sbin"] where csys_is_executable(dir + "/qmi-sim") != 0 {
            return dir + "/qmi-sim"
        }
        return nil
    }

    static func start(_ o: Options, log: Logger) throws(Failure) -> Simulation {
        guard let exe = findSimulator() else {
            throw Failure(message: "--simulate needs the qmi-sim program next to qcm or on PATH (swift build builds both)")
        }
        var template = Array("/tmp/qcm-sim-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw Failure(message: "cannot create a temporary directory: \(SystemError.string(csys_errno()))")
        }
        let root = String(cString: template)
        var networking = false
        var args = [exe, "--root", root, "--ready-file", root + "/ready"]
        if getuid() == 0 {
            guard csys_unshare_net() == 0 else {
                throw Failure(message: "cannot create a private network namespace: \(SystemError.string(csys_errno()))")
            }
            networking = true
            if !o.simArgs.contains(where: { $0.equals("--veth") }) { args.append("--tun") }
            log.log("simulation: private network namespace; qmi-sim provides the modem and its wwan0")
        }
        args += o.simArgs
        log.log("simulation: " + args.joined(separator: " "))
        let devNull = csys_open("/dev/null", O_WRONLY, 0)
        var cargs = args.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = cargs.withUnsafeMutableBufferPointer {
            csys_spawn_own_group(exe, $0.baseAddress, csys_environ().map { UnsafeMutablePointer(mutating: $0) }, -1, devNull, -1, &pid)
        }
        _ = close(devNull)
        guard rc == 0 else { throw Failure(message: "cannot start \(exe): \(SystemError.string(csys_errno()))") }
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
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        cleanup()
    }

    func cleanup() {
        _ = unlink(root + "/ready")
        _ = rmdir(root + "/run")
        _ = rmdir(devRoot)
        _ = rmdir(root)
    }
}
