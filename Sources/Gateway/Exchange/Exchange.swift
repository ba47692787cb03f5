internal import AirlockCore
internal import NIOCore
internal import Runtime
internal import Synchronization

/// One completion request's trip to the runtime and back, under the request deadline: wait
/// for a slot, forward, pass the answer on (whole, or event by event as it is generated),
/// write the audit record, finish the answer. Exactly one record is written per request:
/// whoever ends the exchange first (the exchange itself, or the deadline) claims it.
///
/// It sees the gateway only through its parts: the admission queue, the runtime client, the
/// engine (how answers are rewritten) and the recorder (audit record, runtime down).
final class Exchange: Sendable {
    enum Result: Sendable { case done, deadline }

    let admission: Admission
    let runtime: RuntimeClient
    let engine: any InferenceEngine
    let recorder: any ExchangeRecorder
    let request: IncomingRequest
    let translated: CompletionRequest
    let client: ClientIdentity
    let writer: ResponseWriter
    private struct State {
        var streamStarted = false
        var claimed = false
        var holdsSlot = false
    }
    private let state = Mutex(State())

    /// The largest whole (non-streamed) answer accepted from the runtime.
    static let answerLimit = 16 << 20

    init(
        admission: Admission, runtime: RuntimeClient, engine: any InferenceEngine, recorder: any ExchangeRecorder,
        request: IncomingRequest, translated: CompletionRequest, client: ClientIdentity, writer: ResponseWriter
    ) {
        self.admission = admission
        self.runtime = runtime
        self.engine = engine
        self.recorder = recorder
        self.request = request
        self.translated = translated
        self.client = client
        self.writer = writer
    }

    var streamStarted: Bool { state.withLock { $0.streamStarted } }

    /// True for the first caller only: that one records and finishes the answer.
    func claim() -> Bool {
        state.withLock { state in
            if state.claimed { return false }
            state.claimed = true
            return true
        }
    }

    private struct ClientGone: Error {}

    private var baseOutcome: RequestOutcome {
        RequestOutcome(
            status: 200, model: translated.model, adapter: translated.adapter, promptSHA256: translated.promptSHA256,
            stream: translated.stream)
    }

    func run() async -> Result {
        do {
            try await admission.acquire(client: client.keyID, adapter: translated.model)
        } catch let refusal as Admission.Refusal {
            let error: OpenAIError
            switch refusal {
            case .clientLimit(let limit):
                error = .busy("this API key already has \(limit) requests in flight (the limit per client)", retryAfter: 1)
            case .queueFull(let length):
                error = .busy("the gateway's queue is full (\(length) requests waiting); retry shortly", retryAfter: 2)
            }
            if claim() { await recorder.refuse(error, request: request, writer: writer, outcome: baseOutcome) }
            return .done
        } catch {
            await clientLeft("while waiting for a runtime slot")
            return .done
        }
        state.withLock { $0.holdsSlot = true }
        defer { releaseSlot() }
        if translated.stream { await stream() } else { await whole() }
        return .done
    }

    /// Gives the runtime slot back as soon as the runtime is done with the request, before the
    /// record is written and the answer's last bytes are sent, so that a client that sends
    /// its next request the moment it has its answer never finds its own old one still
    /// counted. Idempotent.
    private func releaseSlot() {
        let held = state.withLock { state in
            defer { state.holdsSlot = false }
            return state.holdsSlot
        }
        if held { admission.release(client: client.keyID, adapter: translated.model) }
    }

    /// The client closed the connection (or the task was cancelled for it): nothing to answer;
    /// the record says so (status 499, as proxies log it).
    private func clientLeft(_ when: String) async {
        guard claim() else { return }
        var outcome = baseOutcome
        outcome.status = 499
        outcome.reason = "the client closed the connection \(when)"
        _ = await recorder.record(request, outcome)
    }

    private func runtimeFailed(_ error: any Error) async {
        if case RuntimeCallError.unreachable(let reason) = error { recorder.runtimeUnreachable(reason) }
        let message = "\(error)"
        guard claim() else { return }
        let answer: OpenAIError =
            if case RuntimeCallError.unreachable = error {
                .unavailable("the runtime is not answering (\(message)); retry shortly", code: "runtime_unavailable")
            } else {
                .unavailable(message, code: "runtime_error")
            }
        if streamStarted {
            var outcome = baseOutcome
            outcome.status = 503
            outcome.reason = message
            _ = await recorder.record(request, outcome)
            try? await writer.write(Self.errorEvent(answer))
            try? await writer.finish()
        } else {
            await recorder.refuse(answer, request: request, writer: writer, outcome: baseOutcome)
        }
    }

    // MARK: The runtime's part

    /// Sends the rewritten request to the runtime, handing each piece of the answer to
    /// `onBody` with the runtime's status; gives the slot back when the runtime is done. On
    /// failure (runtime, client gone, cancellation) the outcome is recorded and answered here,
    /// and nil returned.
    private func forward(when: String, onBody: (ByteBuffer, Int) async throws -> Void) async -> Int? {
        var status = 0
        do {
            // An engine that ends the connection after a streamed answer is asked to, so that a
            // connection about to close stays out of the pool.
            try await runtime.send(
                method: "POST", path: translated.endpoint.rawValue, body: translated.runtimeBody, on: writer.eventLoop,
                keepAlive: !translated.stream || engine.keepsConnectionAfterStream,
                onHead: { code in status = code },
                onBody: { buffer in try await onBody(buffer, status) })
        } catch is ClientGone {
            releaseSlot()
            await clientLeft(when)
            return nil
        } catch {
            releaseSlot()
            if Task.isCancelled { await clientLeft(when) } else { await runtimeFailed(error) }
            return nil
        }
        releaseSlot()
        return status
    }

    /// False (and the request refused with the runtime's reason) unless the runtime said 200.
    private func accepted(status: Int, body: [UInt8]) async -> Bool {
        guard status != 200 else { return true }
        if claim() {
            await recorder.refuse(.fromRuntime(status: status, body: body), request: request, writer: writer, outcome: baseOutcome)
        }
        return false
    }

    private func makeTracker() -> AnswerTracker {
        let checked = if case .text = translated.format { false } else { true }
        return AnswerTracker(model: translated.model, endpoint: translated.endpoint, engine: engine, keepsText: checked)
    }

    private func outcome(of tracker: AnswerTracker) -> RequestOutcome {
        var outcome = baseOutcome
        outcome.answerSHA256 = tracker.answerSHA256
        outcome.tokensIn = tracker.tokensIn
        outcome.tokensOut = tracker.tokensOut
        return outcome
    }

    // MARK: Whole answers

    private func whole() async {
        var body: [UInt8] = []
        let sent = await forward(when: "before the answer was ready") { buffer, _ in
            guard body.count + buffer.readableBytes <= Self.answerLimit else {
                throw RuntimeCallError.brokeOff("the answer is larger than \(Self.answerLimit) bytes")
            }
            body += buffer.readableBytesView
        }
        guard let status = sent, await accepted(status: status, body: body) else { return }
        var tracker = makeTracker()
        guard let parsed = try? JSONValue.parse(body), let rewritten = tracker.rewrite(parsed, keepUsage: true) else {
            await runtimeFailed(RuntimeCallError.brokeOff("the runtime's answer is not JSON"))
            return
        }
        guard claim() else { return }
        if let problem = tracker.violation(of: translated.format) {
            // Nothing of it is sent, so the record holds no answer digest; the tokens were spent.
            var refused = outcome(of: tracker)
            refused.answerSHA256 = nil
            await recorder.refuse(.answerNotValid(problem), request: request, writer: writer, outcome: refused)
            return
        }
        guard await recorder.record(request, outcome(of: tracker)) else {
            try? await writer.send(.auditUnavailable)
            return
        }
        try? await writer.send(status: 200, headers: [("Content-Type", "application/json")], body: rewritten.bytes)
    }

    // MARK: Streams

    static let streamHeaders = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]

    static func event(_ bytes: [UInt8]) -> [UInt8] { Array("data: ".utf8) + bytes + [0x0A, 0x0A] }

    static func errorEvent(_ error: OpenAIError) -> [UInt8] { event(error.body) }

    /// Sends `event`, after the stream's head if this is the first (in one batch).
    private func sendEvent(_ event: [UInt8]) async throws {
        do {
            if streamStarted {
                try await writer.write(event)
            } else {
                try await writer.startStream(status: 200, headers: Self.streamHeaders, first: event)
                state.withLock { $0.streamStarted = true }
            }
        } catch {
            throw ClientGone()
        }
    }

    private func stream() async {
        var errorBody: [UInt8] = []
        var events = ServerSentEvents()
        var tracker = makeTracker()
        let keepUsage = translated.streamUsage
        let sent = await forward(when: "during the answer") { buffer, status in
            guard status == 200 else {
                if errorBody.count < 1 << 16 { errorBody += buffer.readableBytesView }
                return
            }
            for data in try events.feed(buffer.readableBytesView) {
                if data == Array("[DONE]".utf8) { continue }
                guard let value = try? JSONValue.parse(data) else {
                    throw RuntimeCallError.brokeOff("the runtime sent an event that is not JSON")
                }
                if value["error"] != nil {
                    throw RuntimeCallError.brokeOff("the runtime reported: \(value["error"]?["message"]?.stringValue ?? "an error")")
                }
                guard let rewritten = tracker.rewrite(value, keepUsage: keepUsage) else { continue }
                try await sendEvent(Self.event(rewritten.bytes))
            }
        }
        guard let status = sent, await accepted(status: status, body: errorBody) else { return }
        guard claim() else { return }
        // A stream's text is already sent when it can be checked: one that does not keep the
        // format ends with an error event instead of [DONE], and its record says why.
        var finished = outcome(of: tracker)
        var closing: [UInt8] = Self.event(Array("[DONE]".utf8))
        if let problem = tracker.violation(of: translated.format) {
            let error = OpenAIError.answerNotValid(problem)
            finished.status = error.status
            finished.reason = error.message
            closing = Self.errorEvent(error)
        }
        let recorded = await recorder.record(request, finished)
        do {
            // The answer is complete only with [DONE], sent once its record is on disk.
            try await sendEvent(recorded ? closing : Self.errorEvent(.auditUnavailable))
            try await writer.finish()
        } catch {
            // The client left after the last token; the record stands as written.
        }
    }
}
