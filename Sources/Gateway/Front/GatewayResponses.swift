internal import AirlockCore
internal import AuditLog
internal import NIOCore
internal import NIOHTTP1
internal import Runtime

/// How one request ended, for its audit record, its metrics and its log line.
struct RequestOutcome {
    var status: Int
    var model: String?
    var adapter: String?
    var promptSHA256: String?
    var answerSHA256: String?
    var tokensIn: UInt64?
    var tokensOut: UInt64?
    var stream = false
    var reason: String?
}

extension Gateway {
    func respond(to request: IncomingRequest, remote: SocketAddress?, writer: ResponseWriter) async {
        switch request.screened {
        case .refused(let refusal, _, _), .keyRefused(let refusal, _, _, _):
            await refuse(refusal, request: request, writer: writer)
        case .accepted(.health, _):
            let up = health.isUp
            let body = Array((up ? #"{"status":"ok"}"# : #"{"status":"runtime not answering"}"#).utf8)
            try? await writer.send(status: up ? 200 : 503, headers: [("Content-Type", "application/json")], body: body)
        case .accepted(.metrics, _):
            let text = metrics.render(
                queueDepth: admission.queueDepth, running: admission.running, connections: openConnections, runtimeUp: health.isUp)
            try? await writer.send(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(text.utf8))
        case .accepted(.models, _):
            await listModels(request, writer: writer)
        case .accepted(.completion(let endpoint), _):
            await complete(endpoint, request: request, writer: writer)
        }
    }

    /// Records a request whose body never arrived in full (nothing is answered: the
    /// connection is gone or being closed).
    func recordDropped(_ request: IncomingRequest) async {
        let refusal = request.screened.refusal
        _ = await record(request, RequestOutcome(status: refusal?.status ?? 408, reason: refusal?.message))
    }

    // MARK: Audit, metrics and the log line

    /// Writes the request's audit record durably; false when it could not be written.
    func record(_ request: IncomingRequest, _ outcome: RequestOutcome) async -> Bool {
        let screened = request.screened
        let elapsed = ContinuousClock.now - request.started
        let milliseconds = UInt64(max(0, elapsed.inSeconds * 1000))
        let endpoint = Self.endpointLabel(screened)
        metrics.request(
            endpoint: endpoint, model: outcome.model ?? "-", status: outcome.status, seconds: elapsed.inSeconds,
            tokensIn: outcome.tokensIn, tokensOut: outcome.tokensOut)
        let summary = AuditRequest(
            tokensIn: outcome.tokensIn, tokensOut: outcome.tokensOut, latencyMilliseconds: milliseconds,
            status: UInt16(clamping: outcome.status), promptSHA256: outcome.promptSHA256, answerSHA256: outcome.answerSHA256,
            id: request.id, source: request.source)
        let event: AuditEvent
        var details = ["endpoint": String(request.path.prefix(200)), "method": request.head.method.rawValue]
        if let reason = outcome.reason { details["reason"] = String(reason.prefix(500)) }
        if outcome.stream { details["stream"] = "true" }
        var presented: String?
        if case .keyRefused(_, _, let key, let reason) = screened {
            presented = key
            event = .authenticationFailed(presented: key, reason: reason, request: summary)
        } else {
            if let client = screened.client { details["client"] = client.name }
            let actor: AuditActor = .client(screened.client?.keyID ?? "anonymous")
            let verdict: AuditOutcome = outcome.status < 400 ? .ok : (outcome.status < 500 ? .refused : .failed)
            event = .request(
                by: actor, bundle: settings.catalog.bundle, version: settings.catalog.version, adapter: outcome.adapter,
                outcome: verdict, request: summary, details: details)
        }
        log(
            "\(request.head.method.rawValue) \(request.path.prefix(200)) \(outcome.status) \(screened.client?.name ?? presented ?? "-") "
                + "model=\(outcome.model ?? "-") tokens=\(outcome.tokensIn ?? 0)/\(outcome.tokensOut ?? 0) \(milliseconds)ms "
                + "id=\(request.id) from=\(request.source ?? "-")"
                + (outcome.reason.map { " (\($0.prefix(200)))" } ?? ""))
        do {
            let handed = ContinuousClock.now
            try await audit.append(event)
            metrics.auditWritten(seconds: (ContinuousClock.now - handed).inSeconds)
            return true
        } catch {
            metrics.auditFailed()
            log("AUDIT LOG NOT WRITTEN: \(error); refusing requests until it can be written")
            return false
        }
    }

    static func endpointLabel(_ screened: Screened) -> String {
        switch screened.route {
        case .models?: "models"
        case .completion(.chat)?: "chat"
        case .completion(.completions)?: "completions"
        case .health?: "health"
        case .metrics?: "metrics"
        case nil: "-"
        }
    }

    // MARK: /v1/models

    func listModels(_ request: IncomingRequest, writer: ResponseWriter) async {
        guard let client = request.screened.client else { return }
        let models = settings.catalog.models.filter { client.mayUse($0) }
        let data: [JSONValue] = models.map { model in
            .object([
                ("id", .string(model)), ("object", .string("model")), ("created", .int(0)),
                (
                    "owned_by",
                    .string(model == settings.catalog.bundle ? "airlock:\(settings.catalog.bundle)" : "airlock:\(settings.catalog.bundle)/adapter")
                ),
            ])
        }
        let body = JSONValue.object([("object", .string("list")), ("data", .array(data))]).bytes
        guard await record(request, RequestOutcome(status: 200)) else {
            try? await writer.send(.auditUnavailable)
            return
        }
        try? await writer.send(status: 200, headers: [("Content-Type", "application/json")], body: body)
    }

    // MARK: Completions

    func complete(_ endpoint: CompletionEndpoint, request: IncomingRequest, writer: ResponseWriter) async {
        guard let client = request.screened.client else { return }
        let translated: CompletionRequest
        do {
            translated = try translator.translate(endpoint, body: request.body)
        } catch {
            await refuse(error, request: request, writer: writer)
            return
        }
        var outcome = RequestOutcome(
            status: 200, model: translated.model, adapter: translated.adapter, promptSHA256: translated.promptSHA256,
            stream: translated.stream)
        guard client.mayUse(translated.model) else {
            outcome.reason = "this API key may not use the model"
            await refuse(.modelNotAvailable(translated.model), request: request, writer: writer, outcome: outcome)
            return
        }
        guard health.isUp else {
            await refuse(
                .unavailable("the runtime is not answering (starting or restarting); retry shortly", code: "runtime_unavailable"),
                request: request, writer: writer, outcome: outcome)
            return
        }

        // Everything from here runs under the request deadline.
        let deadline = settings.limits.requestDeadline
        let exchange = Exchange(
            admission: admission, runtime: runtime, engine: settings.engine, recorder: self,
            request: request, translated: translated, client: client, writer: writer)
        let finished: Exchange.Result = await withTaskGroup(of: Exchange.Result?.self) { group in
            group.addTask { await exchange.run() }
            group.addTask {
                try? await Task.sleep(for: deadline)
                // Claimed here, before the exchange is cancelled, so that the exchange does not
                // record its cancellation as a client that left.
                return Task.isCancelled || !exchange.claim() ? nil : .deadline
            }
            var result: Exchange.Result = .deadline
            for await value in group {
                if let value {
                    result = value
                    break
                }
            }
            group.cancelAll()
            return result
        }
        switch finished {
        case .done: return
        case .deadline:
            outcome.reason = "the request deadline of \(deadline) passed"
            let error = OpenAIError.deadline("no answer within the request deadline of \(deadline)")
            if exchange.streamStarted {
                outcome.status = 504
                _ = await record(request, outcome)
                try? await writer.write(Exchange.errorEvent(error))
                try? await writer.finish()
            } else {
                await refuse(error, request: request, writer: writer, outcome: outcome)
            }
        }
    }
}
