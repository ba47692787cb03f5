@testable import Gateway
import Synchronization
import Testing

/// The gateway's admission order: first come, first served, except that a freed slot goes to
/// the oldest waiter on an adapter already running (llama-server batches only slots with equal
/// adapter scales), and no waiter is passed over more than `maximumOvertakes` times.
@Suite struct AdmissionTests {
    /// Queues one waiter per adapter, in order, behind `admission`'s busy slots; returns the
    /// order in which they are let in as `release` is called.
    final class Line: Sendable {
        let admission: Admission
        let admitted = Mutex<[String]>([])
        init(_ admission: Admission) { self.admission = admission }

        func enqueue(_ names: [(name: String, adapter: String)]) async {
            for (index, waiter) in names.enumerated() {
                Task {
                    try await self.admission.acquire(client: waiter.name, adapter: waiter.adapter)
                    self.admitted.withLock { $0.append(waiter.name) }
                }
                while admission.queueDepth < index + 1 { await Task.yield() }
            }
        }

        /// Releases one `adapter` slot and waits until someone took it.
        func release(_ adapter: String, client: String = "holder") async {
            let before = admitted.withLock { $0.count }
            admission.release(client: client, adapter: adapter)
            while admitted.withLock({ $0.count }) == before { await Task.yield() }
        }

        var order: [String] { admitted.withLock { $0 } }
    }

    @Test func sameAdapterIsFirstComeFirstServed() async throws {
        let admission = Admission(slots: 2, queueLength: 8, clientLimit: 8)
        try await admission.acquire(client: "holder", adapter: "claims")
        try await admission.acquire(client: "holder", adapter: "claims")
        let line = Line(admission)
        await line.enqueue([("c1", "claims"), ("c2", "claims"), ("c3", "claims")])
        for _ in 0..<3 { await line.release("claims") }
        #expect(line.order == ["c1", "c2", "c3"])
    }

    @Test func aFreedSlotGoesToTheOldestWaiterOnARunningAdapter() async throws {
        let admission = Admission(slots: 2, queueLength: 8, clientLimit: 8)
        try await admission.acquire(client: "holder", adapter: "claims")
        try await admission.acquire(client: "holder", adapter: "legal")
        let line = Line(admission)
        await line.enqueue([("c1", "claims"), ("l1", "legal"), ("c2", "claims"), ("l2", "legal")])
        // The claims request ends: legal is still running, so the oldest legal waiter is next.
        await line.release("claims")
        #expect(line.order == ["l1"])
        #expect(admission.runningByAdapter == ["legal": 2])
        await line.release("legal")
        #expect(line.order == ["l1", "l2"], "legal still runs: its next waiter goes ahead of the older claims ones")
        // Only claims waiters are left: served oldest first.
        await line.release("legal")
        await line.release("legal")
        #expect(line.order == ["l1", "l2", "c1", "c2"])
    }

    @Test func noWaiterIsOvertakenMoreThanTheLimit() async throws {
        let admission = Admission(slots: 2, queueLength: 8, clientLimit: 8, maximumOvertakes: 2)
        try await admission.acquire(client: "holder", adapter: "claims")
        try await admission.acquire(client: "holder", adapter: "claims")
        let line = Line(admission)
        await line.enqueue([("l1", "legal"), ("c1", "claims"), ("c2", "claims"), ("c3", "claims")])
        await line.release("claims")
        await line.release("claims")
        await line.release("claims")
        #expect(line.order == ["c1", "c2", "l1"], "l1 was passed over twice, then it is next")
        #expect(admission.runningByAdapter == ["claims": 1, "legal": 1])
    }

    @Test func limitsStillHold() async throws {
        let admission = Admission(slots: 1, queueLength: 1, clientLimit: 2)
        try await admission.acquire(client: "a", adapter: "claims")
        let line = Line(admission)
        await line.enqueue([("a", "legal")])
        await #expect(throws: Admission.Refusal.self) { try await admission.acquire(client: "a", adapter: "claims") }
        await #expect(throws: Admission.Refusal.self) { try await admission.acquire(client: "b", adapter: "claims") }
        await line.release("claims", client: "a")
        #expect(line.order == ["a"])
        #expect(admission.running == 1)
    }
}
