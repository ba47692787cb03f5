internal import Synchronization

/// Who may run now: at most `slots` requests reach the runtime at once (its parallel slots), at
/// most `queueLength` wait behind them, and one client holds at most `clientLimit` of either.
/// Beyond that a request is refused at once (429), never queued without bound. Waiting ends
/// with a slot, or with the waiting task's cancellation (deadline, client gone).
///
/// Adapter-aware order: llama-server decodes slots together only when their adapter scales
/// are equal, so two slots on different adapters take a decode step each where one shared
/// step would do. A freed slot therefore goes to the oldest waiter whose adapter is already
/// running, when there is one; otherwise to the oldest. No waiter is overtaken more than
/// `maximumOvertakes` times: past that it is next, whatever its adapter.
final class Admission: Sendable {
    private struct Waiter {
        let id: UInt64
        let adapter: String
        var overtaken = 0
        let continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var runningByAdapter: [String: Int] = [:]
        var running: Int { runningByAdapter.values.reduce(0, +) }
        var waiting: [Waiter] = []
        var perClient: [String: Int] = [:]
        var cancelledEarly: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    let slots: Int
    let queueLength: Int
    let clientLimit: Int
    /// How often one waiter may be passed over for requests on a running adapter.
    let maximumOvertakes: Int
    private let state = Mutex(State())

    init(slots: Int, queueLength: Int, clientLimit: Int, maximumOvertakes: Int = 4) {
        self.slots = max(1, slots)
        self.queueLength = queueLength
        self.clientLimit = clientLimit
        self.maximumOvertakes = max(0, maximumOvertakes)
    }

    /// Requests waiting for a slot now.
    var queueDepth: Int { state.withLock { $0.waiting.count } }
    /// Requests holding a slot now.
    var running: Int { state.withLock { $0.running } }

    enum Refusal: Error { case clientLimit(Int), queueFull(Int) }

    /// Takes a slot, waiting in line if all are busy. Throws `Refusal` at once when the client
    /// or the queue is at its limit, `CancellationError` when the task is cancelled in line.
    /// Every successful call must be paired with `release(client:adapter:)`. `adapter` is the
    /// model the request runs on (an adapter, or the base).
    func acquire(client: String, adapter: String) async throws {
        enum Step { case run, wait(UInt64), refuse(Refusal) }
        let step: Step = state.withLock { state in
            let held = state.perClient[client, default: 0]
            guard held < clientLimit else { return .refuse(.clientLimit(clientLimit)) }
            if state.running < slots {
                state.runningByAdapter[adapter, default: 0] += 1
                state.perClient[client] = held + 1
                return .run
            }
            guard state.waiting.count < queueLength else { return .refuse(.queueFull(queueLength)) }
            state.perClient[client] = held + 1
            state.nextID += 1
            return .wait(state.nextID)
        }
        let id: UInt64
        switch step {
        case .run: return
        case .refuse(let refusal): throw refusal
        case .wait(let waitID): id = waitID
        }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let cancelled = state.withLock { state in
                        if state.cancelledEarly.remove(id) != nil { return true }
                        state.waiting.append(Waiter(id: id, adapter: adapter, continuation: continuation))
                        return false
                    }
                    if cancelled { continuation.resume(throwing: CancellationError()) }
                }
            } onCancel: {
                let waiter: Waiter? = state.withLock { state in
                    if let index = state.waiting.firstIndex(where: { $0.id == id }) {
                        return state.waiting.remove(at: index)
                    }
                    state.cancelledEarly.insert(id)
                    return nil
                }
                waiter?.continuation.resume(throwing: CancellationError())
            }
        } catch {
            // Left the line without a slot: give back the client's place.
            state.withLock { state in
                state.cancelledEarly.remove(id)
                state.perClient[client, default: 1] -= 1
                if state.perClient[client] == 0 { state.perClient[client] = nil }
            }
            throw error
        }
        state.withLock { _ = $0.cancelledEarly.remove(id) }
    }

    /// Gives the slot to the next in line (see the type's note on the order), or frees it.
    func release(client: String, adapter: String) {
        let next: Waiter? = state.withLock { state in
            state.perClient[client, default: 1] -= 1
            if state.perClient[client] == 0 { state.perClient[client] = nil }
            state.runningByAdapter[adapter, default: 1] -= 1
            if state.runningByAdapter[adapter] == 0 { state.runningByAdapter[adapter] = nil }
            if state.waiting.isEmpty { return nil }
            let chosen = Self.next(in: state.waiting, running: state.runningByAdapter, maximumOvertakes: maximumOvertakes)
            for index in 0..<chosen { state.waiting[index].overtaken += 1 }
            let waiter = state.waiting.remove(at: chosen)
            state.runningByAdapter[waiter.adapter, default: 0] += 1
            return waiter
        }
        next?.continuation.resume()
    }

    /// The index of the waiter a freed slot goes to: the oldest that is on an adapter already
    /// running or has been overtaken `maximumOvertakes` times (whichever comes first in line);
    /// else the oldest.
    private static func next(in waiting: [Waiter], running: [String: Int], maximumOvertakes: Int) -> Int {
        waiting.firstIndex { $0.overtaken >= maximumOvertakes || running[$0.adapter] != nil } ?? 0
    }

    /// Requests holding a slot now, by adapter (tests, metrics).
    var runningByAdapter: [String: Int] { state.withLock { $0.runningByAdapter } }
}
