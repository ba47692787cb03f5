/// What an exchange reports to the gateway around it: each request's audit record (with its
/// metrics and log line), and a runtime it could not reach. All an `Exchange` knows of the
/// gateway besides its admission queue and runtime client.
protocol ExchangeRecorder: Sendable {
    /// Writes the request's audit record durably (and counts it in the metrics, and logs its
    /// line); false when it could not be written.
    func record(_ request: IncomingRequest, _ outcome: RequestOutcome) async -> Bool

    /// A forwarded request could not reach the runtime: it counts as down until its health
    /// check answers again.
    func runtimeUnreachable(_ reason: String)
}

extension ExchangeRecorder {
    /// Records a refusal, then answers it (503 instead when the record cannot be written).
    func refuse(_ error: OpenAIError, request: IncomingRequest, writer: ResponseWriter, outcome: RequestOutcome? = nil) async {
        var finished = outcome ?? RequestOutcome(status: error.status)
        finished.status = error.status
        finished.reason = finished.reason ?? error.message
        let answer = await record(request, finished) ? error : .auditUnavailable
        try? await writer.send(answer)
    }
}

extension Gateway: ExchangeRecorder {
    func runtimeUnreachable(_ reason: String) {
        health.markDown()
        log("runtime marked down: a request could not reach it (\(reason))")
    }
}
