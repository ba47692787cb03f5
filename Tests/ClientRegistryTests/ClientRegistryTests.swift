import AirlockCore
import ClientRegistry
import Foundation
import Signing
import TestSupport
import Testing

@Suite struct ClientRegistryTests {
    @Test func theRightKeyAuthenticatesItsClientOnly() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let tellerKey = try host.add("teller-app", adapters: ["claims"])
        let batchKey = try host.add("batch", adapters: ["legal"])
        let registry = ClientRegistry(layout: host.layout)

        let teller = try #require(registry.authenticate(authorizationHeader: bearer(tellerKey)).client)
        #expect(teller.name == "teller-app" && teller.mayUse(model: "claims") && !teller.mayUse(model: "legal"))
        let batch = try #require(registry.authenticate(authorizationHeader: bearer(batchKey)).client)
        #expect(batch.name == "batch" && batch.mayUse(model: "legal") && !batch.mayUse(model: "claims"))

        // A's secret under B's key id is B's key id with a wrong secret, never A.
        let mixed = "Bearer alk_\(batchKey.keyID)_" + tellerKey.revealed.dropFirst(17)
        let verdict = registry.authenticate(authorizationHeader: mixed)
        guard case .wrongSecret(let client) = verdict else {
            Issue.record("\(verdict)")
            return
        }
        #expect(client.name == "batch")
        #expect(verdict.presentedKeyID == "alk_" + batchKey.keyID)
    }

    @Test func headerShapes() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        let registry = ClientRegistry(layout: host.layout)
        #expect(registry.authenticate(authorizationHeader: nil) == .missing)
        #expect(registry.authenticate(authorizationHeader: "") == .missing)
        for header in [
            "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer sk-123", key.revealed, "Bearer\(key.revealed)",
            "Bearer \(key.revealed) extra", "Token \(key.revealed)",
        ] {
            #expect(registry.authenticate(authorizationHeader: header) == .malformed, "\(header)")
        }
        for header in ["bearer \(key.revealed)", "BEARER  \(key.revealed) ", "  Bearer \(key.revealed)"] {
            #expect(registry.authenticate(authorizationHeader: header).client?.name == "teller-app", "\(header)")
        }
        #expect(ClientRegistry.presentedKeyID(authorizationHeader: bearer(key)) == "alk_" + key.keyID)
        #expect(ClientRegistry.presentedKeyID(authorizationHeader: "Bearer nonsense") == nil)
    }

    @Test func unknownKeyIDsAreRefusedWithoutScryptAndFast() throws {
        let host = try ClientHost()
        defer { host.remove() }
        try host.add("teller-app")
        let registry = ClientRegistry(layout: host.layout)
        let strangers = try (0..<1000).map { _ in try ClientKey.generate() }
        let clock = ContinuousClock()
        let started = clock.now
        for key in strangers {
            guard case .unknownKey(let keyID) = registry.authenticate(authorizationHeader: bearer(key)), keyID == key.keyID else {
                Issue.record("not refused as unknown")
                return
            }
        }
        let elapsed = clock.now - started
        print("unknown key id: \(elapsed / 1000) per request (1000 requests)")
        #expect(registry.statistics.scryptRuns == 0)
        #expect(elapsed < .milliseconds(500), "1000 unknown keys took \(elapsed): scrypt must not run for them")
    }

    @Test func successfulVerificationsAreCachedWrongOnesBrieflyAndBoundedly() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        let registry = ClientRegistry(path: host.clientsPath, negativeLifetime: .milliseconds(300), negativeCapacity: 2)
        for _ in 0..<5 { #expect(registry.authenticate(authorizationHeader: bearer(key)).client != nil) }
        #expect(registry.statistics.scryptRuns == 1 && registry.statistics.cacheHits == 4)
        #expect(registry.cachedAuthentication(authorizationHeader: bearer(key))?.client != nil)

        let wrong = "Bearer alk_\(key.keyID)_" + String(repeating: "A", count: 43)
        for _ in 0..<3 { if case .wrongSecret = registry.authenticate(authorizationHeader: wrong) {} else { Issue.record("wrong secret accepted") } }
        #expect(registry.statistics.scryptRuns == 2 && registry.statistics.negativeCacheHits == 2)
        // The negative entry expires; and the cache holds at most `negativeCapacity` of them.
        Thread.sleep(forTimeInterval: 0.35)
        _ = registry.authenticate(authorizationHeader: wrong)
        #expect(registry.statistics.scryptRuns == 3)
        // A fresh wrong key needs scrypt, so the event-loop path says so by returning nil.
        #expect(registry.cachedAuthentication(authorizationHeader: "Bearer alk_\(key.keyID)_" + String(repeating: "E", count: 43)) == nil)
    }

    /// `airlock clients add` then the client's first request at once: let in, not refused until
    /// the next periodic check; and made-up key ids make the file be checked boundedly often.
    @Test func aClientAddedAMomentAgoIsLetInOnItsFirstRequest() throws {
        let host = try ClientHost()
        defer { host.remove() }
        try host.add("teller-app")
        let registry = ClientRegistry(path: host.clientsPath, checkInterval: .seconds(3600))
        #expect((try? registry.current.get())?.count == 1)
        Thread.sleep(forTimeInterval: 0.02)
        let added = try host.add("newcomer")
        #expect(registry.authenticate(authorizationHeader: bearer(added)).client?.name == "newcomer")
        let checks = registry.statistics.fileChecks
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<500 { _ = registry.authenticate(authorizationHeader: bearer(try ClientKey.generate())) }
        let elapsed = clock.now - started
        let allowed = Int(elapsed / .milliseconds(10)) + 2
        #expect(registry.statistics.fileChecks - checks <= allowed, "\(registry.statistics.fileChecks - checks) checks in \(elapsed)")
    }

    @Test func revocationIsSeenWithinTheCheckIntervalByALoadedRegistry() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        let other = try host.add("batch")
        let registry = ClientRegistry(layout: host.layout)  // default: checks every 250 ms
        #expect(registry.authenticate(authorizationHeader: bearer(key)).client != nil)
        #expect(registry.authenticate(authorizationHeader: bearer(other)).client != nil)
        let runs = registry.statistics.scryptRuns

        try host.revoke("teller-app")
        let clock = ContinuousClock()
        let revokedAt = clock.now
        var seenAfter: Duration?
        while clock.now - revokedAt < .seconds(2) {
            if case .revoked(let client) = registry.authenticate(authorizationHeader: bearer(key)) {
                #expect(client.name == "teller-app" && client.isRevoked)
                seenAfter = clock.now - revokedAt
                break
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        let after = try #require(seenAfter, "revocation not seen within 2 s")
        print("revocation seen by a loaded registry after \(after)")
        #expect(after <= .milliseconds(400))
        // The other client's cached verification survived the reload: no new scrypt run.
        #expect(registry.authenticate(authorizationHeader: bearer(other)).client?.name == "batch")
        #expect(registry.statistics.scryptRuns == runs)
    }

    @Test func aBrokenFileFailsClosedAndAFixedOneIsPickedUp() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        let reports = Collected<String>()
        let registry = ClientRegistry(path: host.clientsPath, checkInterval: .milliseconds(20)) { (reload: ClientRegistry.Reload) in
            switch reload {
            case .loaded(let clients, let active, _): reports.append("loaded \(clients) \(active)")
            case .failed(let error, _): reports.append("failed \(error)")
            }
        }
        #expect(registry.authenticate(authorizationHeader: bearer(key)).client != nil)
        let good = try host.text()

        try AtomicFile.write(Array((good + "surprise: true\n").utf8), to: host.clientsPath, mode: 0o640)
        Thread.sleep(forTimeInterval: 0.05)
        let verdict = registry.authenticate(authorizationHeader: bearer(key))
        guard case .unavailable(let reason) = verdict else {
            Issue.record("a broken file still authenticates: \(verdict)")
            return
        }
        #expect(reason.contains("unknown field 'surprise'"))
        if case .failure(let error) = registry.current {
            #expect(error.description.contains(host.clientsPath))
        } else {
            Issue.record("no error reported")
        }
        #expect(reports.all.contains { $0.hasPrefix("failed ") && $0.contains("unknown field 'surprise'") })

        // Unreadable counts as broken too: nobody gets in.
        try AtomicFile.write(Array(good.utf8), to: host.clientsPath, mode: 0o666)
        Thread.sleep(forTimeInterval: 0.05)
        if case .unavailable = registry.authenticate(authorizationHeader: bearer(key)) {} else { Issue.record("a world-writable file was used") }

        try AtomicFile.write(Array(good.utf8), to: host.clientsPath, mode: 0o640)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(registry.authenticate(authorizationHeader: bearer(key)).client?.name == "teller-app")
        #expect(reports.all.first == "loaded 1 1" && reports.all.last == "loaded 1 1")
    }

    @Test func aDeletedFileMeansNoClients() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        let registry = ClientRegistry(path: host.clientsPath, checkInterval: .milliseconds(10))
        #expect(registry.authenticate(authorizationHeader: bearer(key)).client != nil)
        try FileManager.default.removeItem(atPath: host.clientsPath)
        Thread.sleep(forTimeInterval: 0.03)
        #expect(registry.authenticate(authorizationHeader: bearer(key)) == .unknownKey(keyID: key.keyID))
    }

    @Test func aFloodOfWrongKeysRunsAtMostTwoScryptsAtOnce() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        let registry = ClientRegistry(layout: host.layout)
        let verdicts = Collected<String>()
        onThreads(8) { index in
            for round in 0..<2 {
                let secret = String(repeating: "A", count: 40) + String(index) + String(round) + "A"
                let header = "Bearer alk_\(key.keyID)_" + secret.prefix(43)
                verdicts.append(registry.authenticate(authorizationHeader: header).reason)
            }
        }
        let statistics = registry.statistics
        print(
            "flood: \(verdicts.all.count) wrong keys on 8 threads, \(statistics.scryptRuns) scrypt runs, \(statistics.busyRefusals) refused busy, peak \(statistics.peakConcurrentVerifications)"
        )
        #expect(statistics.peakConcurrentVerifications <= 2)
        #expect(Set(verdicts.all).isSubset(of: ["wrong-secret", "busy"]))
        #expect(statistics.busyRefusals > 0)
        // The rightful client still gets in once the flood is over.
        #expect(registry.authenticate(authorizationHeader: bearer(key)).client?.name == "teller-app")
    }
}

/// Wrong secrets cost the caller, not the host (the gateway's path).
@Suite struct ClientRegistryBackoffTests {
    /// A flood of wrong secrets for a known key id, from one address, for two seconds: the
    /// host runs a handful of scrypts, the flood is mostly refused without one, and both a new
    /// client behind the same address and the key's owner elsewhere get in within a second.
    @Test func aFloodOfWrongSecretsCostsTheHostLittleAndLocksNobodyOut() async throws {
        let host = try ClientHost()
        defer { host.remove() }
        let owner = try host.add("teller-app")
        let registry = ClientRegistry(path: host.clientsPath, checkInterval: .milliseconds(50))
        let attacker = "203.0.113.9"
        let clock = ContinuousClock()
        let verdicts = Collected<String>()
        // Threads of its own: other suites block the shared pool's threads meanwhile.
        let executor = ThreadTaskExecutor(threads: 2)
        defer { executor.stop() }
        let measured = await withTaskExecutorPreference(executor) {
            () async -> (Duration, Duration, ClientRegistry.Authentication, ClientRegistry.Authentication)? in
            let start = clock.now
            return await withTaskGroup(of: (Duration, Duration, ClientRegistry.Authentication, ClientRegistry.Authentication)?.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        var round = 0
                        while clock.now - start < .seconds(2) {
                            let secret = String(format: "%02d%06d", worker, round) + String(repeating: "A", count: 35)
                            verdicts.append(
                                await registry.authenticate(authorizationHeader: "Bearer alk_\(owner.keyID)_" + secret, source: attacker).reason)
                            round += 1
                            await Task.yield()
                        }
                        return nil
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(500))
                    guard let newcomer = try? host.add("batch") else { return nil }
                    try? await Task.sleep(for: .milliseconds(120))  // the registry sees the new file
                    let asked = clock.now
                    let first = await registry.authenticate(authorizationHeader: bearer(newcomer), source: attacker)
                    let newcomerWaited = clock.now - asked
                    let askedOwner = clock.now
                    let ownerVerdict = await registry.authenticate(authorizationHeader: bearer(owner), source: "198.51.100.7")
                    return (newcomerWaited, clock.now - askedOwner, first, ownerVerdict)
                }
                var result: (Duration, Duration, ClientRegistry.Authentication, ClientRegistry.Authentication)?
                for await value in group where value != nil { result = value }
                return result
            }
        }
        let (newcomerWaited, ownerWaited, first, ownerVerdict) = try #require(measured)
        let statistics = registry.statistics
        let counts = Dictionary(grouping: verdicts.all, by: { $0 }).mapValues(\.count)
        print(
            "flood of \(verdicts.all.count) wrong secrets in 2 s: \(counts), \(statistics.scryptRuns) scrypt runs; new client behind the same address waited \(newcomerWaited), the key's owner elsewhere \(ownerWaited)"
        )
        #expect(first.client?.name == "batch", "\(first)")
        #expect(newcomerWaited < .seconds(1))
        #expect(ownerVerdict.client?.name == "teller-app", "\(ownerVerdict)")
        #expect(ownerWaited < .seconds(1))
        #expect(statistics.scryptRuns <= 12, "the back-off let \(statistics.scryptRuns) scrypt runs through")
        #expect(statistics.throttledRefusals > 0 && Set(verdicts.all).isSubset(of: ["wrong-secret", "busy", "throttled"]))
        #expect(verdicts.all.count > 100, "the flood was not a flood")
    }

    @Test func theBackOffDoublesAndASecondRequestWithTheSameKeyWaitsForTheFirst() async throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        // A back-off far longer than any scheduling delay on a loaded host: the third wrong
        // secret is throttled however slowly the first two were verified.
        let registry = ClientRegistry(path: host.clientsPath, backoffStart: .seconds(60), backoffLimit: .seconds(120))
        // Parallel first requests with the right key share one verification.
        async let a = registry.authenticate(authorizationHeader: bearer(key), source: "10.0.0.1")
        async let b = registry.authenticate(authorizationHeader: bearer(key), source: "10.0.0.1")
        let (first, second) = await (a, b)
        #expect(first.client != nil && second.client != nil)
        #expect(registry.statistics.scryptRuns == 1)

        let other = try host.add("other")
        try await Task.sleep(for: .milliseconds(300))  // the registry sees the new file
        func wrong(_ n: Int) -> String { "Bearer alk_\(other.keyID)_" + String(format: "%03d", n) + String(repeating: "A", count: 40) }
        let one = await registry.authenticate(authorizationHeader: wrong(1), source: "10.0.0.9")
        #expect(one.reason == "wrong-secret", "\(one)")
        #expect(await registry.authenticate(authorizationHeader: wrong(2), source: "10.0.0.9").reason == "wrong-secret")
        guard case .throttled(_, let retry) = await registry.authenticate(authorizationHeader: wrong(3), source: "10.0.0.9") else {
            Issue.record("a third wrong secret at once was not throttled")
            return
        }
        #expect((50...60).contains(retry), "retry after \(retry) s")
        // From another address the key id is suspect but not throttled: its owner can still try.
        #expect(await registry.authenticate(authorizationHeader: bearer(other), source: "10.0.0.2").client?.name == "other")
    }
}

/// The figures quoted on `ClientRegistry`.
@Suite struct ClientRegistryBenchmarkTests {
    @Test func cachedVersusFirstVerification() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        let registry = ClientRegistry(layout: host.layout)
        let clock = ContinuousClock()
        let header = bearer(key)
        var cpu = threadCPUTime()
        let first = clock.measure { _ = registry.authenticate(authorizationHeader: header) }
        let firstCPU = threadCPUTime() - cpu
        let rounds = 20_000
        cpu = threadCPUTime()
        let cached = clock.measure { for _ in 0..<rounds { _ = registry.authenticate(authorizationHeader: header) } }
        let cachedCPU = threadCPUTime() - cpu
        var status = stat()
        let stats = clock.measure { for _ in 0..<rounds { _ = stat(host.clientsPath, &status) } }
        let input = Array(key.revealed.utf8)
        let digests = try clock.measure { for _ in 0..<rounds { _ = try SHA256Hasher.hash(input) } }
        let parses = clock.measure { for _ in 0..<rounds { _ = ClientKey(parsing: key.revealed) } }
        print(
            "authenticate: first verification (scrypt) \(first) (CPU \(firstCPU)), cached \(cached / rounds) per call (CPU \(cachedCPU / rounds)); of which SHA-256 \(digests / rounds), key parsing \(parses / rounds); stat of the file \(stats / rounds)"
        )
        #expect(registry.statistics.scryptRuns == 1)
        #expect(cached / rounds < .microseconds(200))
    }
}

/// CPU time the calling thread has used.
func threadCPUTime() -> Duration {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
}
