import Foundation
import XCTest
import CSystem

/// Runs a program, returning its exit status and combined output.
@discardableResult
func shell(_ args: [String], timeout: TimeInterval = 30) -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return (127, "\(error)") }
    let deadline = Date().addingTimeInterval(timeout)
    var data = Data()
    let h = pipe.fileHandleForReading
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning { p.terminate() }
    data = h.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

var isRoot: Bool { getuid() == 0 }

func which(_ tool: String) -> Bool { shell(["sh", "-c", "command -v \(tool)"]).status == 0 }

/// A network namespace made for one test; `enter` moves the calling thread into it.
final class TestNamespace {
    let name: String
    private var saved: Int32 = -1

    init(_ prefix: String) throws {
        name = "\(prefix)-\(getpid())-\(Int.random(in: 1000...9999))"
        let r = shell(["ip", "netns", "add", name])
        guard r.status == 0 else { throw NSError(domain: "netns", code: 1, userInfo: [NSLocalizedDescriptionKey: r.output]) }
        shell(["ip", "-n", name, "link", "set", "lo", "up"])
    }

    deinit { shell(["ip", "netns", "del", name]) }

    /// Runs `body` with the calling thread inside the namespace (sockets and links created
    /// meanwhile belong to it).
    func inside<T>(_ body: () throws -> T) rethrows -> T {
        let me = open("/proc/thread-self/ns/net", O_RDONLY)
        let target = open("/run/netns/\(name)", O_RDONLY)
        precondition(me >= 0 && target >= 0)
        precondition(csys_setns_net(target) == 0)
        defer {
            _ = csys_setns_net(me)
            close(me)
            close(target)
        }
        return try body()
    }
}

/// A flag shared with a helper thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var v = false
    var value: Bool {
        get { lock.lock(); defer { lock.unlock() }; return v }
        set { lock.lock(); v = newValue; lock.unlock() }
    }
}

/// A product built next to the test bundle (swift build --build-tests builds them all).
func productPath(_ name: String) -> String {
    let bundle = Bundle(for: Flag.self).bundleURL
    for dir in [bundle, bundle.deletingLastPathComponent()] {
        let p = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return bundle.appendingPathComponent(name).path

}
