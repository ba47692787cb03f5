public import AirlockCore
internal import Signing
internal import Synchronization
internal import Dispatch

/// Who is calling: the gateway asks this once per request with the `Authorization` header.
///
/// Fast by construction:
/// - A key seen and verified before is recognised by the SHA-256 of the presented key (the key
///   itself is never kept), without scrypt. Cached results are dropped when the clients file
///   changes, except those whose entry (key id, salt, hash) is unchanged and still active.
/// - Missing, malformed, unknown-key-id and revoked requests are refused without scrypt.
/// - A wrong secret for a known key id costs one scrypt run; the result is remembered for
///   `negativeLifetime` (at most `negativeCapacity` keys) so a repeated wrong key costs nothing.
/// - At most `maximumConcurrentVerifications` scrypt runs at a time: a flood of wrong keys can
///   hold that many cores, never more; requests beyond get `.busy` at once (answer 429).
///
/// The gateway's path, `authenticate(authorizationHeader:source:)`, also makes wrong secrets
/// cost the caller more than the host:
/// - Back-off per key id and per source address: from the second wrong secret on, each one
///   doubles a window (`backoffStart` … `backoffLimit`). A request whose key id *and* source
///   are both in their windows is refused at once without scrypt (`.throttled`, 429 with
///   `Retry-After`). One that is suspect on one side only still gets its verification, after
///   every clean one: so a flood from one address can neither lock a key's rightful owner out
///   (another address) nor keep a new client behind the same address (a new key id) waiting.
/// - At most one verification per key id at a time: a second request with the same key waits
///   for the first one's result; one with another secret for that key id is `.busy`.
/// - A bound on pending first verifications (`maximumPendingVerifications`, queued or running);
///   beyond it `.busy`. Suspect verifications never take the last scrypt slot, which stays for
///   clean ones.
///
/// Revocation takes effect without a restart: at most every `checkInterval` a call `stat`s
/// the clients file (inode, size, mtime and ctime in nanoseconds) and, when it changed,
/// reloads it. A key id the loaded file does not know makes that check happen now (at most
/// every `unknownKeyCheckInterval`): a client added a moment ago is let in on its first
/// request, and a flood of made-up key ids costs one `stat` per interval, not one per request.
/// A file that cannot be read or parsed fails closed: nobody authenticates (`.unavailable`)
/// until a good file is back, and `onReload` reports the error.
///
/// Measured on the shared 2-core development machine, debug build, while other builds held
/// both cores (`ClientRegistryBenchmarkTests` prints the figures of its run): `authenticate`
/// on a cached key 5.5 µs of CPU (11 µs wall; SHA-256 of the key 1.8 µs, key parsing 3.5 µs of
/// that) against 110–130 ms of CPU for a first verification (one scrypt run; 0.25–0.35 s wall
/// on the busy machine): about 20,000 times cheaper. An unknown key id: 20 µs wall. One `stat`
/// of the file: 2–7 µs wall, which is why it runs at most every 250 ms rather than per call.
public final class ClientRegistry: Sendable {
    /// The verdict on one request's credentials.
    public enum Authentication: Sendable, Equatable {
        /// The key is right and the client is active; check `client.mayUse(model:)` next.
        case authenticated(APIClient)
        /// No `Authorization` header.
        case missing
        /// Not `Bearer alk_<key id>_<secret>` with a key of the right shape.
        case malformed
        /// No client has this key id (no scrypt was run).
        case unknownKey(keyID: String)
        /// The client's key was revoked (refused without checking the secret).
        case revoked(APIClient)
        /// The key id is known but the secret is wrong.
        case wrongSecret(APIClient)
        /// Too many verifications are running: try again shortly (HTTP 429, `Retry-After: 1`).
        case busy(keyID: String)
        /// The clients file is broken or unreadable: nobody authenticates (HTTP 503).
        case unavailable(reason: String)
        /// Too many wrong secrets for this key id from this source: refused without scrypt for
        /// `retryAfter` more seconds (HTTP 429).
        case throttled(keyID: String, retryAfter: Int)

        /// The authenticated client, if any.
        public var client: APIClient? {
            if case .authenticated(let client) = self { return client }
            return nil
        }

        /// A short word for logs and audit records: `ok`, `missing`, `malformed`,
        /// `unknown-key`, `revoked`, `wrong-secret`, `busy`, `unavailable`, `throttled`.
        public var reason: String {
            switch self {
            case .authenticated: "ok"
            case .missing: "missing"
            case .malformed: "malformed"
            case .unknownKey: "unknown-key"
            case .revoked: "revoked"
            case .wrongSecret: "wrong-secret"
            case .busy: "busy"
            case .unavailable: "unavailable"
            case .throttled: "throttled"
            }
        }

        /// `alk_<key id>` when a well-formed key was presented: what may be logged, never more.
        public var presentedKeyID: String? {
            switch self {
            case .authenticated(let client), .revoked(let client), .wrongSecret(let client): client.presentedKeyID
            case .unknownKey(let keyID), .busy(let keyID), .throttled(let keyID, _): ClientKey.prefix + keyID
            case .missing, .malformed, .unavailable: nil
            }
        }
    }

    /// What a reload found.
    /// `sha256` is the digest of exactly the bytes that were parsed (nil: no file, or it could
    /// not be read), for the gateway's `policy.loaded` records.
    public enum Reload: Sendable {
        /// The file was (re)loaded; `clients` entries, of which `active` not revoked.
        case loaded(clients: Int, active: Int, sha256: String?)
        /// The file could not be used: everyone is refused until it is fixed.
        case failed(AirlockError, sha256: String?)
    }

    /// Counters for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        public var scryptRuns = 0
        public var cacheHits = 0
        public var negativeCacheHits = 0
        public var busyRefusals = 0
        /// Refused by the back-off, without scrypt.
        public var throttledRefusals = 0
        /// Verifications that waited for a scrypt slot or for the same key's verification.
        public var queuedVerifications = 0
        public var reloads = 0
        public var fileChecks = 0
        /// The most scrypt runs ever in flight at once.
        public var peakConcurrentVerifications = 0
    }

    public let path: String
    public let checkInterval: Duration
    public let maximumConcurrentVerifications: Int
    public let negativeLifetime: Duration
    public let negativeCapacity: Int
    public let maximumPendingVerifications: Int
    public let backoffStart: Duration
    public let backoffLimit: Duration
    private let onReload: (@Sendable (Reload) -> Void)?
    private let clock = ContinuousClock()
    private let state: Mutex<State>

    /// The clients loaded from one version of the file, or why it could not be loaded.
    private struct Snapshot {
        var identity: ClientsFileIdentity?
        var clients: [String: APIClient] = [:]
        var error: AirlockError?
        var generation = 0
        var sha256: String?
    }

    private struct Verified {
        var keyID: String
        var keyHash: PasswordHash
    }

    /// Wrong secrets seen recently for one key id or from one source.
    private struct Backoff {
        var failures = 0
        var until: ContinuousClock.Instant
    }

    /// What a verification of the gateway's path resumes with.
    private enum Step {
        case decided(Authentication)
        /// Decide again (the same key's verification has finished).
        case retry
        /// A scrypt slot was taken for this verification.
        case run(APIClient)
    }

    private struct Waiter {
        var client: APIClient
        var continuation: CheckedContinuation<Step, Never>
    }

    private struct State {
        var snapshot: Snapshot
        var lastCheck: ContinuousClock.Instant
        var reloading = false
        var verified: [Digest: Verified] = [:]
        var refused: [Digest: ContinuousClock.Instant] = [:]
        var running = 0
        var statistics = Statistics()
        /// `key:ID` and `source:ADDRESS`.
        var backoff: [String: Backoff] = [:]
        /// Key ids with a verification queued or running (gateway path).
        var verifying: Set<String> = []
        var waitingForKey: [String: [CheckedContinuation<Step, Never>]] = [:]
        /// Waiting for a scrypt slot: clean, suspect on one side, suspect on both.
        var lanes: [[Waiter]] = [[], [], []]
    }

    /// Loads `path` now (a broken file is reported through `state` and `onReload` and
    /// authenticates nobody; a missing file means no clients).
    public init(
        path: String, checkInterval: Duration = .milliseconds(250), maximumConcurrentVerifications: Int = 2,
        negativeLifetime: Duration = .seconds(5), negativeCapacity: Int = 1024,
        maximumPendingVerifications: Int = 32, backoffStart: Duration = .milliseconds(500), backoffLimit: Duration = .seconds(30),
        onReload: (@Sendable (Reload) -> Void)? = nil
    ) {
        self.path = path
        self.checkInterval = checkInterval
        self.maximumConcurrentVerifications = max(1, maximumConcurrentVerifications)
        self.negativeLifetime = negativeLifetime
        self.negativeCapacity = negativeCapacity
        self.maximumPendingVerifications = max(1, maximumPendingVerifications)
        self.backoffStart = backoffStart
        self.backoffLimit = backoffLimit
        self.onReload = onReload
        let snapshot = Self.load(path: path, generation: 0)
        state = Mutex(State(snapshot: snapshot, lastCheck: clock.now))
        onReload?(Self.report(snapshot))
    }

    /// The registry of the host's `clients.yaml`.
    public convenience init(layout: HostLayout, onReload: (@Sendable (Reload) -> Void)? = nil) {
        self.init(path: layout.clients, onReload: onReload)
    }

    // MARK: Authenticating

    /// The verdict on an `Authorization` header value (`Bearer alk_…`). May run one scrypt
    /// (tens of milliseconds) on the calling thread: call it off an event loop, or call
    /// `cachedAuthentication` there first.
    public func authenticate(authorizationHeader: String?) -> Authentication {
        let key: ClientKey
        let digest: Digest
        switch prepare(authorizationHeader) {
        case .decided(let verdict): return verdict
        case .verify(let presented, let presentedDigest):
            key = presented
            digest = presentedDigest
        }
        let start: Start = state.withLock { state in decide(&state, key: key, digest: digest, reserve: true) }
        let candidate: APIClient
        switch start {
        case .decided(let verdict): return verdict
        case .verify(let client): candidate = client
        }
        let matches: Bool
        do {
            matches = try candidate.keyHash.matches(password: key.hashInput)
        } catch {
            state.withLock { $0.running -= 1 }
            return .unavailable(reason: "the key could not be verified: \(error)")
        }
        return state.withLock { state in finish(&state, key: key, digest: digest, candidate: candidate, matches: matches) }
    }

    /// The verdict for a request from `source` (the client's address), as the gateway asks it:
    /// with the back-off, one verification per key id and the bound on pending ones described
    /// on the type. Scrypt runs on a dispatch queue, never on the caller's thread.
    public func authenticate(authorizationHeader: String?, source: String) async -> Authentication {
        let key: ClientKey
        let digest: Digest
        switch prepare(authorizationHeader) {
        case .decided(let verdict): return verdict
        case .verify(let presented, let presentedDigest):
            key = presented
            digest = presentedDigest
        }
        while true {
            let step = await withCheckedContinuation { (continuation: CheckedContinuation<Step, Never>) in
                let now: Step? = state.withLock { state in admit(&state, key: key, digest: digest, source: source, continuation) }
                if let now { continuation.resume(returning: now) }
            }
            switch step {
            case .decided(let verdict): return verdict
            case .retry: continue
            case .run(let candidate):
                let matches: Bool? = await withCheckedContinuation { (continuation: CheckedContinuation<Bool?, Never>) in
                    DispatchQueue.global().async {
                        continuation.resume(returning: try? candidate.keyHash.matches(password: key.hashInput))
                    }
                }
                let (verdict, wake) = state.withLock { state -> (Authentication, [(CheckedContinuation<Step, Never>, Step)]) in
                    let verdict: Authentication
                    if let matches {
                        verdict = finish(&state, key: key, digest: digest, candidate: candidate, matches: matches)
                        noteOutcome(&state, keyID: key.keyID, source: source, matched: matches)
                    } else {
                        state.running -= 1
                        verdict = .unavailable(reason: "the key could not be verified")
                    }
                    state.verifying.remove(key.keyID)
                    var wake = (state.waitingForKey.removeValue(forKey: key.keyID) ?? []).map { ($0, Step.retry) }
                    wake += startWaiters(&state)
                    return (verdict, wake)
                }
                for (continuation, step) in wake { continuation.resume(returning: step) }
                return verdict
            }
        }
    }

    /// Under the lock: decides at once, or parks `continuation` (waiting for the same key's
    /// verification, or for a scrypt slot) and returns nil.
    private func admit(
        _ state: inout State, key: ClientKey, digest: Digest, source: String, _ continuation: CheckedContinuation<Step, Never>
    ) -> Step? {
        let client: APIClient
        switch decide(&state, key: key, digest: digest, reserve: false) {
        case .decided(let verdict): return .decided(verdict)
        case .verify(let candidate): client = candidate
        }
        if state.verifying.contains(key.keyID) {
            state.statistics.queuedVerifications += 1
            state.waitingForKey[key.keyID, default: []].append(continuation)
            return nil
        }
        let now = clock.now
        let keyBackoff = state.backoff["key:" + key.keyID]
        let sourceBackoff = state.backoff["source:" + source]
        let keySuspect = isSuspect(keyBackoff, now), sourceSuspect = isSuspect(sourceBackoff, now)
        if keySuspect, sourceSuspect {
            let until = max(keyBackoff?.until ?? now, sourceBackoff?.until ?? now)
            if now < until {
                state.statistics.throttledRefusals += 1
                let seconds = (until - now).components.seconds + 1
                return .decided(.throttled(keyID: key.keyID, retryAfter: Int(seconds)))
            }
        }
        guard state.verifying.count < maximumPendingVerifications else {
            state.statistics.busyRefusals += 1
            return .decided(.busy(keyID: key.keyID))
        }
        state.verifying.insert(key.keyID)
        let lane = (keySuspect ? 1 : 0) + (sourceSuspect ? 1 : 0)
        if state.lanes[0...lane].allSatisfy(\.isEmpty), mayStart(state, lane: lane) {
            take(&state)
            return .run(client)
        }
        state.statistics.queuedVerifications += 1
        state.lanes[lane].append(Waiter(client: client, continuation: continuation))
        return nil
    }

    /// Suspect verifications leave the last slot to clean ones.
    private func mayStart(_ state: State, lane: Int) -> Bool {
        state.running < (lane == 0 ? maximumConcurrentVerifications : max(1, maximumConcurrentVerifications - 1))
    }

    private func take(_ state: inout State) {
        state.running += 1
        state.statistics.scryptRuns += 1
        state.statistics.peakConcurrentVerifications = max(state.statistics.peakConcurrentVerifications, state.running)
    }

    /// Hands free slots to the waiters, cleanest lane first.
    private func startWaiters(_ state: inout State) -> [(CheckedContinuation<Step, Never>, Step)] {
        var started: [(CheckedContinuation<Step, Never>, Step)] = []
        for lane in state.lanes.indices {
            while !state.lanes[lane].isEmpty, mayStart(state, lane: lane) {
                let waiter = state.lanes[lane].removeFirst()
                take(&state)
                started.append((waiter.continuation, .run(waiter.client)))
            }
            if !state.lanes[lane].isEmpty { break }
        }
        return started
    }

    /// Two or more wrong secrets, the last within `backoffLimit` after its window ended.
    private func isSuspect(_ backoff: Backoff?, _ now: ContinuousClock.Instant) -> Bool {
        guard let backoff, backoff.failures >= 2 else { return false }
        return now < backoff.until.advanced(by: backoffLimit)
    }

    /// After a verification: a wrong secret widens both windows (the second and later ones
    /// double it); a right one clears the key's (its owner proved itself), not the source's.
    private func noteOutcome(_ state: inout State, keyID: String, source: String, matched: Bool) {
        if matched {
            state.backoff["key:" + keyID] = nil
            return
        }
        let now = clock.now
        if state.backoff.count >= 4096 {
            state.backoff = state.backoff.filter { now < $0.value.until.advanced(by: backoffLimit) }
            if state.backoff.count >= 4096 { state.backoff = state.backoff.filter { $0.key.hasPrefix("key:") } }
        }
        for name in ["key:" + keyID, "source:" + source] {
            var entry = state.backoff[name] ?? Backoff(until: now)
            if now >= entry.until.advanced(by: backoffLimit) { entry.failures = 0 }
            entry.failures += 1
            var window = Duration.zero
            if entry.failures >= 2 {
                window = backoffStart * (1 << min(entry.failures - 2, 20))
                if window > backoffLimit { window = backoffLimit }
            }
            entry.until = now.advanced(by: window)
            state.backoff[name] = entry
        }
    }

    /// The verdict when it needs no scrypt run (cached, missing, malformed, unknown, revoked,
    /// unavailable), or nil when `authenticate` would have to run scrypt. Cheap enough for an
    /// event loop.
    public func cachedAuthentication(authorizationHeader: String?) -> Authentication? {
        switch prepare(authorizationHeader) {
        case .decided(let verdict): return verdict
        case .verify(let key, let digest):
            let start: Start = state.withLock { state in decide(&state, key: key, digest: digest, reserve: false) }
            if case .decided(let verdict) = start { return verdict }
            return nil
        }
    }

    /// `alk_<key id>` of a header's key, or nil: what a refusal may log about the key.
    public static func presentedKeyID(authorizationHeader: String?) -> String? {
        guard let header = authorizationHeader, let token = bearerToken(header), let key = ClientKey(parsing: token) else { return nil }
        return key.description
    }

    private enum Prepared {
        case decided(Authentication)
        case verify(ClientKey, Digest)
    }

    private enum Start {
        case decided(Authentication)
        case verify(APIClient)
    }

    /// Everything before the registry's state: reload check, header and key parsing, digest.
    private func prepare(_ header: String?) -> Prepared {
        refreshIfDue()
        guard let header, !header.isEmpty else { return .decided(.missing) }
        guard let token = Self.bearerToken(header), let key = ClientKey(parsing: token) else { return .decided(.malformed) }
        refreshIfUnknown(key.keyID)
        do {
            return .verify(key, try SHA256Hasher.hash(key.hashInput))
        } catch {
            return .decided(.unavailable(reason: "cannot hash the presented key: \(error)"))
        }
    }

    /// `Bearer TOKEN` (scheme case-insensitive, RFC 9110 §11.1) → TOKEN, surrounding blanks
    /// dropped.
    static func bearerToken(_ header: String) -> Substring? {
        let bytes = header.utf8
        var start = bytes.startIndex
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        while start < bytes.endIndex, isBlank(bytes[start]) { start = bytes.index(after: start) }
        for letter in "bearer".utf8 {
            guard start < bytes.endIndex, bytes[start] | 0x20 == letter else { return nil }
            start = bytes.index(after: start)
        }
        guard start < bytes.endIndex, bytes[start] == UInt8(ascii: " ") else { return nil }
        while start < bytes.endIndex, isBlank(bytes[start]) { start = bytes.index(after: start) }
        var end = bytes.endIndex
        while end > start, isBlank(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        return header[start..<end]
    }

    /// The decision under the lock; with `reserve`, takes a verification slot when scrypt is needed.
    private func decide(_ state: inout State, key: ClientKey, digest: Digest, reserve: Bool) -> Start {
        if let error = state.snapshot.error { return .decided(.unavailable(reason: error.description)) }
        guard let client = state.snapshot.clients[key.keyID] else { return .decided(.unknownKey(keyID: key.keyID)) }
        if client.isRevoked { return .decided(.revoked(client)) }
        if let verified = state.verified[digest], verified.keyID == client.keyID, verified.keyHash == client.keyHash {
            state.statistics.cacheHits += 1
            return .decided(.authenticated(client))
        }
        let now = clock.now
        if let expiry = state.refused[digest] {
            if now < expiry {
                state.statistics.negativeCacheHits += 1
                return .decided(.wrongSecret(client))
            }
            state.refused[digest] = nil
        }
        guard reserve else { return .verify(client) }
        guard state.running < maximumConcurrentVerifications else {
            state.statistics.busyRefusals += 1
            return .decided(.busy(keyID: key.keyID))
        }
        state.running += 1
        state.statistics.scryptRuns += 1
        state.statistics.peakConcurrentVerifications = max(state.statistics.peakConcurrentVerifications, state.running)
        return .verify(client)
    }

    /// After scrypt: remember the result, and judge it against the file as it is now (it may
    /// have been reloaded meanwhile, a revocation included).
    private func finish(_ state: inout State, key: ClientKey, digest: Digest, candidate: APIClient, matches: Bool) -> Authentication {
        state.running -= 1
        if let error = state.snapshot.error { return .unavailable(reason: error.description) }
        guard let client = state.snapshot.clients[key.keyID], client.keyHash == candidate.keyHash else {
            return .unknownKey(keyID: key.keyID)
        }
        if matches {
            state.verified[digest] = Verified(keyID: client.keyID, keyHash: client.keyHash)
        } else {
            if state.refused.count >= negativeCapacity {
                let now = clock.now
                state.refused = state.refused.filter { $0.value > now }
                if state.refused.count >= negativeCapacity { state.refused.removeAll(keepingCapacity: true) }
            }
            state.refused[digest] = clock.now.advanced(by: negativeLifetime)
        }
        if client.isRevoked { return .revoked(client) }
        return matches ? .authenticated(client) : .wrongSecret(client)
    }

    // MARK: Reloading

    /// Whether the file loaded now is usable, and how many clients it has; the error if not.
    public var current: Result<[APIClient], AirlockError> {
        state.withLock { state in
            if let error = state.snapshot.error { return .failure(error) }
            return .success(state.snapshot.clients.values.sorted { $0.name < $1.name || ($0.name == $1.name && $0.keyID < $1.keyID) })
        }
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Checks the file now (whatever `checkInterval` says) and reloads it when it changed.
    public func refresh() {
        let claimed = state.withLock { state -> Bool in
            guard !state.reloading else { return false }
            state.reloading = true
            state.lastCheck = clock.now
            return true
        }
        if claimed { checkFile() }
    }

    private func refreshIfDue() {
        let now = clock.now
        let due = state.withLock { state -> Bool in
            guard !state.reloading, now - state.lastCheck >= checkInterval else { return false }
            state.reloading = true
            state.lastCheck = now
            return true
        }
        if due { checkFile() }
    }

    /// A check now when `keyID` is not in the loaded file and none ran within
    /// `unknownKeyCheckInterval`.
    private func refreshIfUnknown(_ keyID: String) {
        let now = clock.now
        let due = state.withLock { state -> Bool in
            guard state.snapshot.clients[keyID] == nil, !state.reloading, now - state.lastCheck >= Self.unknownKeyCheckInterval else { return false }
            state.reloading = true
            state.lastCheck = now
            return true
        }
        if due { checkFile() }
    }

    /// How often an unknown key id may make the file be checked.
    static let unknownKeyCheckInterval: Duration = .milliseconds(10)

    /// Runs with `reloading` claimed; releases it.
    private func checkFile() {
        let seen = ClientsFileIdentity.current(path: path)
        let (known, generation, failed) = state.withLock { state in
            state.statistics.fileChecks += 1
            return (state.snapshot.identity, state.snapshot.generation, state.snapshot.error != nil)
        }
        // Unchanged, and loaded fine (a failed load is retried at each check: it may have been
        // a passing read error).
        if let seen, seen == known, !failed {
            state.withLock { $0.reloading = false }
            return
        }
        let snapshot = Self.load(path: path, generation: generation + 1)
        state.withLock { state in
            let previous = state.snapshot
            state.snapshot = snapshot
            state.reloading = false
            state.statistics.reloads += 1
            state.refused.removeAll()
            // Keep the verifications whose entry is unchanged and still active.
            state.verified = state.verified.filter { _, verified in
                guard previous.error == nil, let client = snapshot.clients[verified.keyID] else { return false }
                return !client.isRevoked && client.keyHash == verified.keyHash
            }
        }
        onReload?(Self.report(snapshot))
    }

    private static func load(path: String, generation: Int) -> Snapshot {
        do {
            switch try ClientsFileReader.read(path: path) {
            case .missing:
                return Snapshot(identity: nil, generation: generation)
            case .contents(let text, let identity, let sha256):
                do {
                    let file = try ClientsFile.parse(text, origin: path)
                    var clients: [String: APIClient] = [:]
                    for client in file.clients { clients[client.keyID] = client }
                    return Snapshot(identity: identity, clients: clients, generation: generation, sha256: sha256)
                } catch {
                    return Snapshot(identity: identity, error: error, generation: generation, sha256: sha256)
                }
            }
        } catch {
            return Snapshot(identity: nil, error: error, generation: generation)
        }
    }

    private static func report(_ snapshot: Snapshot) -> Reload {
        if let error = snapshot.error { return .failed(error, sha256: snapshot.sha256) }
        return .loaded(
            clients: snapshot.clients.count, active: snapshot.clients.values.count(where: { !$0.isRevoked }), sha256: snapshot.sha256)
    }
}
