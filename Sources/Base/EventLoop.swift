import CSystem

/// The one poll(2) loop a qcm process runs. File descriptors and one-shot timers;
/// poll sleeps until the earliest timer or I/O, so an idle loop wakes up zero times.
public final class EventLoop {
    public typealias Handler = (_ revents: Int16) -> Void

    final class Watch {
        let id: Int
        let fd: Int32
        var events: Int16
        let handler: Handler
        init(id: Int, fd: Int32, events: Int16, handler: @escaping Handler) {
            self.id = id
            self.fd = fd
            self.events = events
            self.handler = handler
        }
    }

    struct Timer {
        let id: Int
        let deadline: Int64
        let handler: () -> Void
    }

    private var watches: [Watch] = []
    private var timers: [Timer] = []   // sorted by deadline, then id
    private var nextID = 1
    private var stopped = false
    /// Number of times poll(2) returned: the benchmark's wakeup counter.
    public private(set) var wakeups = 0
    /// Injected clock for tests; defaults to CLOCK_MONOTONIC milliseconds.
    public var clock: () -> Int64 = { csys_monotonic_ms() }

    public init() {}

    public var now: Int64 { clock() }

    @discardableResult
    public func watch(_ fd: Int32, events: Int16 = Int16(POLLIN), _ handler: @escaping Handler) -> Int {
        let id = nextID
        nextID += 1
        watches.append(Watch(id: id, fd: fd, events: events, handler: handler))
        return id
    }

    public func setEvents(_ id: Int, _ events: Int16) {
        for w in watches where w.id == id { w.events = events }
    }

    public func unwatch(_ id: Int) {
        watches.removeAll { $0.id == id }
    }

    @discardableResult
    public func after(_ ms: Int64, _ handler: @escaping () -> Void) -> Int {
        let id = nextID
        nextID += 1
        let t = Timer(id: id, deadline: now + max(0, ms), handler: handler)
        let i = timers.firstIndex { $0.deadline > t.deadline } ?? timers.count
        timers.insert(t, at: i)
        return id
    }

    public func cancel(_ timerID: Int) {
        timers.removeAll { $0.id == timerID }
    }

    public var hasWork: Bool { !watches.isEmpty || !timers.isEmpty }
    public var pendingTimers: Int { timers.count }

    public func stop() { stopped = true }

    /// Runs until `stop()` or until nothing is left to wait for.
    public func run() {
        stopped = false
        while !stopped && hasWork { runOnce(maxWaitMs: -1) }
    }

    /// Runs until `condition` holds, `stop()`, or `timeoutMs` elapses. Returns whether the condition held.
    @discardableResult
    public func run(until condition: () -> Bool, timeoutMs: Int64) -> Bool {
        stopped = false
        let limit = now + timeoutMs
        while !condition() {
            if stopped { return false }
            let left = limit - now
            if left <= 0 { return condition() }
            runOnce(maxWaitMs: left)
        }
        return true
    }

    /// One poll(2) and the handlers it makes due. `maxWaitMs` < 0 means no limit.
    public func runOnce(maxWaitMs: Int64) {
        // Timers already due run first; the caller then re-checks its condition before sleeping.
        if fireDueTimers() > 0 || stopped { return }
        var timeout: Int64 = maxWaitMs
        if let first = timers.first {
            let d = max(0, first.deadline - now)
            timeout = timeout < 0 ? d : min(timeout, d)
        }
        let snapshot = watches
        var fds = snapshot.map { pollfd(fd: $0.fd, events: $0.events, revents: 0) }
        if fds.isEmpty && timeout < 0 { return }
        let t = Int32(clamping: timeout)
        let n = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), t) }
        wakeups += 1
        if n > 0 {
            for (i, p) in fds.enumerated() where p.revents != 0 {
                let w = snapshot[i]
                // A handler may have removed this watch (or closed its fd) meanwhile.
                guard watches.contains(where: { $0.id == w.id }) else { continue }
                w.handler(p.revents)
                if stopped { return }
            }
        }
        fireDueTimers()
    }

    /// When the earliest timer is due (nil: none armed).
    public var nextDeadline: Int64? { timers.first?.deadline }

    /// Runs the timers due now, without polling: for a loop on an injected clock.
    @discardableResult
    public func runDueTimers() -> Int { fireDueTimers() }

    @discardableResult
    private func fireDueTimers() -> Int {
        var fired = 0
        while let first = timers.first, first.deadline <= now {
            timers.removeFirst()
            fired += 1
            first.handler()
            if stopped { break }
        }
        return fired
    }
}
