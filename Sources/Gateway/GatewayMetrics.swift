internal import Synchronization

/// Counters and histograms for `/metrics`, in the Prometheus text format (0.0.4). Labels are
/// bounded: the model label is one of the served models or `-`, never a client-chosen string.
final class GatewayMetrics: Sendable {
    struct RequestKey: Hashable { let endpoint: String; let model: String; let status: Int }
    struct Histogram {
        static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
        var counts = [UInt64](repeating: 0, count: bounds.count)
        var sum = 0.0
        var count: UInt64 = 0

        mutating func observe(_ seconds: Double) {
            for (index, bound) in Self.bounds.enumerated() where seconds <= bound { counts[index] += 1 }
            sum += seconds
            count += 1
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
        for (key, value) in snapshot.requests.sorted(by: { ($0.key.endpoint, $0.key.model, $0.key.status) < ($1.key.endpoint, $1.key.model, $1.key.status) }) {
            lines.append("airlock_requests_total{endpoint=\"\(key.endpoint)\",model=\"\(key.model)\",status=\"\(key.status)\"} \(value)")
        }
        family("airlock_request_duration_seconds", "histogram", "Time from a request's headers to the end of its answer, by model.")
        for (model, histogram) in snapshot.latency.sorted(by: { $0.key < $1.key }) {
            for (index, bound) in Histogram.bounds.enumerated() {
                lines.append("airlock_request_duration_seconds_bucket{model=\"\(model)\",le=\"\(bound)\"} \(histogram.counts[index])")
            }
            lines.append("airlock_request_duration_seconds_bucket{model=\"\(model)\",le=\"+Inf\"} \(histogram.count)")
            lines.append("airlock_request_duration_seconds_sum{model=\"\(model)\"} \(histogram.sum)")
            lines.append("airlock_request_duration_seconds_count{model=\"\(model)\"} \(histogram.count)")
        }
        family("airlock_tokens_total", "counter", "Tokens processed, by model and direction (prompt in, completion out).")
        for model in Set(snapshot.tokensIn.keys).union(snapshot.tokensOut.keys).sorted() {
            lines.append("airlock_tokens_total{model=\"\(model)\",direction=\"in\"} \(snapshot.tokensIn[model, default: 0])")
            lines.append("airlock_tokens_total{model=\"\(model)\",direction=\"out\"} \(snapshot.tokensOut[model, default: 0])")
        }
        family("airlock_queue_depth", "gauge", "Requests waiting for a runtime slot.")
        lines.append("airlock_queue_depth \(queueDepth)")
        family("airlock_requests_running", "gauge", "Requests holding a runtime slot.")
        lines.append("airlock_requests_running \(running)")
        family("airlock_connections_open", "gauge", "Open client connections.")
        lines.append("airlock_connections_open \(connections)")
        family("airlock_runtime_up", "gauge", "1 when the runtime answers its health check.")
        lines.append("airlock_runtime_up \(runtimeUp ? 1 : 0)")
        family("airlock_runtime_lost_total", "counter", "Times the runtime stopped answering.")
        lines.append("airlock_runtime_lost_total \(snapshot.runtimeRestarts)")
        family("airlock_authentication_failures_total", "counter", "Requests refused for missing, wrong or revoked keys.")
        lines.append("airlock_authentication_failures_total \(snapshot.authenticationFailures)")
        family("airlock_audit_failures_total", "counter", "Requests refused because the audit log could not be written.")
        lines.append("airlock_audit_failures_total \(snapshot.auditFailures)")
        return lines.joined(separator: "\n") + "\n"
    }
}
