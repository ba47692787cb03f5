internal import Synchronization

/// Whether the runtime answers: polled on its health path (every 200 ms while down, every second
/// while up), and marked down at once when a forwarded request cannot reach it, so that
/// requests get 503 at once while it restarts and are served again as soon as it answers.
public final class RuntimeHealth: Sendable {
    private struct State {
        var up = false
        var everUp = false
        var losses: UInt64 = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())
    let client: RuntimeClient
    /// The path that answers 200 while the runtime serves (`InferenceEngine.healthPath`).
    let path: String

    public init(client: RuntimeClient, path: String) {
        self.client = client
        self.path = path
    }

    public var isUp: Bool { state.withLock { $0.up } }
    public var losses: UInt64 { state.withLock { $0.losses } }

    /// Marks the runtime down (a call could not reach it); the poller brings it back.
    public func markDown() {
        state.withLock { state in
            if state.up { state.losses += 1 }
            state.up = false
        }
    }

    private func set(up: Bool) -> Bool {
        let (changed, waiters) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            let changed = state.up != up
            if state.up, !up { state.losses += 1 }
            state.up = up
            guard up else { return (changed, []) }
            state.everUp = true
            let waiters = state.waiters
            state.waiters = []
            return (changed, waiters)
        }
        for waiter in waiters { waiter.resume() }
        return changed
    }

    /// Returns once the runtime has answered its health check at least once.
    public func waitUntilFirstUp() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.everUp { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Polls until cancelled; `onChange` hears each transition (for logs and sd_notify status).
    /// A runtime that is up is declared down after two failed checks in a row (one slow
    /// answer on a saturated host is not an outage); a refused connection on a forwarded
    /// request marks it down at once (`markDown`).
    public func poll(onChange: @Sendable (Bool, String) -> Void) async {
        var failures = 0
        while !Task.isCancelled {
            let answered: Bool
            let why: String
            do {
                let status = try await client.fetch(path: path, limit: 4096).status
                answered = status == 200
                why = "\(path) answered HTTP \(status)"
            } catch {
                answered = false
                why = "\(error)"
            }
            failures = answered ? 0 : failures + 1
            let up = answered || (isUp && failures < 2)
            if set(up: up) { onChange(up, why) }
            try? await Task.sleep(for: up ? .seconds(1) : .milliseconds(200))
        }
    }
}
