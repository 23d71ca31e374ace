/// Runs a group of callbacks and fires `done` once all have reported (the dial issues its
/// independent requests together, so a step costs one round trip, not several).
import Base
final class Join {
    private var pending = 0
    private var started = false
    private var finished = false
    private let done: () -> Void

    init(_ done: @escaping () -> Void) { self.done = done }

    /// A completion to hand to one member of the group.
    func member() -> () -> Void {
        pending += 1
        return { [self] in
            pending -= 1
            check()
        }
    }

    /// Call after every member was created.
    func seal() {
        started = true
        check()
    }

    private func check() {
        guard started, pending == 0, !finished else { return }
        finished = true
        done()
    }
}
