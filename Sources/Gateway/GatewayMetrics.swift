internal import Synchronization

/// Counters and histograms for `/metrics`, in the Prometheus text format (0.0.4). Labels are
/// bounded: the model label is one of the served models or `-`, never a client-chosen string.
final class GatewayMetrics: Sendable {
    struct RequestKey: Hashable {
        let endpoint: String
        let model: String
        let status: Int
    }
    struct Histogram {
        /// Whole requests: milliseconds to minutes.
        static let requestBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
        /// Audit writes: a tenth of a millisecond to a second (a stalled disk).
        static let auditBounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1]
        let bounds: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0

        init(bounds: [Double] = requestBounds) {
            self.bounds = bounds
            counts = [UInt64](repeating: 0, count: bounds.count)
        }

        mutating func observe(_ seconds: Double) {
            for (index, bound) in bounds.enumerated() where seconds <= bound { counts[index] += 1 }
            sum += seconds
            count += 1
        }

        /// Prometheus lines for `name` with `labels` (`key="value"`, or empty).
        func lines(_ name: String, labels: String) -> [String] {
            let prefix = labels.isEmpty ? "" : labels + ","
            let plain = labels.isEmpty ? "" : "{\(labels)}"
            var lines = bounds.indices.map { "\(name)_bucket{\(prefix)le=\"\(bounds[$0])\"} \(counts[$0])" }
            lines.append("\(name)_bucket{\(prefix)le=\"+Inf\"} \(count)")
            lines.append("\(name)_sum\(plain) \(sum)")
            lines.append("\(name)_count\(plain) \(count)")
            return lines
        }
    }
    private struct State {
        var requests: [RequestKey: UInt64] = [:]
        var latency: [String: Histogram] = [:]
        var tokensIn: [String: UInt64] = [:]
        var tokensOut: [String: UInt64] = [:]
        var authenticationFailures: UInt64 = 0
        var auditFailures: UInt64 = 0
        var runtimeRestarts: UInt64 = 0
        var auditWrites = Histogram(bounds: Histogram.auditBounds)
    }
    private let state = Mutex(State())

    func request(endpoint: String, model: String, status: Int, seconds: Double, tokensIn: UInt64?, tokensOut: UInt64?) {
        state.withLock { state in
            state.requests[RequestKey(endpoint: endpoint, model: model, status: status), default: 0] += 1
            state.latency[model, default: Histogram()].observe(seconds)
            if let tokensIn { state.tokensIn[model, default: 0] += tokensIn }
            if let tokensOut { state.tokensOut[model, default: 0] += tokensOut }
        }
    }

    func authenticationFailed() { state.withLock { $0.authenticationFailures += 1 } }
    func auditFailed() { state.withLock { $0.auditFailures += 1 } }
    func auditWritten(seconds: Double) { state.withLock { $0.auditWrites.observe(seconds) } }
    func runtimeLost() { state.withLock { $0.runtimeRestarts += 1 } }

    /// The exposition text. `gauges` are read at scrape time.
    func render(queueDepth: Int, running: Int, connections: Int, runtimeUp: Bool) -> String {
        let snapshot = state.withLock { $0 }
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
        }
        family("airlock_requests_total", "counter", "Requests answered, by endpoint, model and HTTP status.")
        for (key, value) in snapshot.requests.sorted(by: {
            ($0.key.endpoint, $0.key.model, $0.key.status) < ($1.key.endpoint, $1.key.model, $1.key.status)
        }) {
            lines.append("airlock_requests_total{endpoint=\"\(key.endpoint)\",model=\"\(key.model)\",status=\"\(key.status)\"} \(value)")
        }
        family("airlock_request_duration_seconds", "histogram", "Time from a request's headers to the end of its answer, by model.")
        for (model, histogram) in snapshot.latency.sorted(by: { $0.key < $1.key }) {
            lines += histogram.lines("airlock_request_duration_seconds", labels: "model=\"\(model)\"")
        }
        family("airlock_tokens_total", "counter", "Tokens processed, by model and direction (prompt in, completion out).")
        for model in Set(snapshot.tokensIn.keys).union(snapshot.tokensOut.keys).sorted() {
            lines.append("airlock_tokens_total{model=\"\(model)\",direction=\"in\"} \(snapshot.tokensIn[model, default: 0])")
            lines.append("airlock_tokens_total{model=\"\(model)\",direction=\"out\"} \(snapshot.tokensOut[model, default: 0])")
        }
        /// A family of one unlabelled value.
        func single(_ name: String, _ type: String, _ help: String, _ value: some CustomStringConvertible) {
            family(name, type, help)
            lines.append("\(name) \(value)")
        }
        single("airlock_queue_depth", "gauge", "Requests waiting for a runtime slot.", queueDepth)
        single("airlock_requests_running", "gauge", "Requests holding a runtime slot.", running)
        single("airlock_connections_open", "gauge", "Open client connections.", connections)
        single("airlock_runtime_up", "gauge", "1 when the runtime answers its health check.", runtimeUp ? 1 : 0)
        single("airlock_runtime_lost_total", "counter", "Times the runtime stopped answering.", snapshot.runtimeRestarts)
        single(
            "airlock_authentication_failures_total", "counter", "Requests refused for missing, wrong or revoked keys.",
            snapshot.authenticationFailures)
        single("airlock_audit_failures_total", "counter", "Requests refused because the audit log could not be written.", snapshot.auditFailures)
        family(
            "airlock_audit_write_seconds", "histogram",
            "Time from handing a request's audit record to the log to its being on disk (group commit with fdatasync): what the audit log adds to a request."
        )
        lines += snapshot.auditWrites.lines("airlock_audit_write_seconds", labels: "")
        return lines.joined(separator: "\n") + "\n"
    }
}
