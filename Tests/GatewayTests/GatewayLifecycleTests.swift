import Foundation
import TestSupport
import Testing

/// Load, a runtime killed under load, graceful shutdown, the audit trail and metrics.
@Suite(.serialized) struct GatewayLifecycleTests {
    static let models = ["claims", "legal", "claims-assistant"]

    @Test func thousandRequestsAtConcurrency16LeakNothing() throws {
        let served = try ServedBundle(gatewayConfig: "limits:\n  client_concurrency: 16\n")
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let gateway = try #require(served.gatewayPID)
        // Warm up, then count descriptors.
        _ = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key)
        let descriptorsBefore = ServedBundle.openDescriptors(gateway)
        let statuses = StatusCounter()
        let threads = (0..<16).map { worker in
            Thread {
                for index in 0..<63 {  // 16 × 63 = 1008 requests
                    let model = Self.models[(worker + index) % Self.models.count]
                    let stream = index % 4 == 0
                    let status =
                        (try? served.request(
                            "POST", "/v1/chat/completions", body: ServedBundle.chat(model: model, maxTokens: 8, stream: stream), key: key))?.status
                        ?? -1
                    statuses.add(status)
                }
                statuses.finishWorker()
            }
        }
        let started = ContinuousClock.now
        threads.forEach { $0.start() }
        statuses.waitForWorkers(16)
        let elapsed = ContinuousClock.now - started
        #expect(
            statuses.counts == [200: 1008],
            "statuses: \(statuses.counts)\n\(served.log.split(separator: "\n").filter { !$0.contains(" 200 ") }.prefix(40).joined(separator: "\n"))")
        // Connections close as clients finish; then nothing is left open.
        var descriptorsAfter = ServedBundle.openDescriptors(gateway)
        let deadline = ContinuousClock.now + .seconds(5)
        while descriptorsAfter > descriptorsBefore, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            descriptorsAfter = ServedBundle.openDescriptors(gateway)
        }
        #expect(descriptorsAfter <= descriptorsBefore, "gateway descriptors \(descriptorsBefore) before, \(descriptorsAfter) after")
        var metrics = try served.metrics()
        for _ in 0..<50 where !metrics.text.contains("airlock_connections_open 1\n") {
            Thread.sleep(forTimeInterval: 0.1)
            metrics = try served.metrics()
        }
        #expect(metrics.text.contains("airlock_connections_open 1\n"), "only the scrape's own connection: \(metrics.text)")
        #expect(metrics.text.contains("airlock_queue_depth 0\n"))
        #expect(metrics.text.contains("airlock_requests_running 0\n"))
        print("1008 requests at concurrency 16 in \(elapsed); gateway descriptors \(descriptorsBefore) → \(descriptorsAfter)")
    }

    @Test func runtimeKilledUnderLoadGives503sThenServiceResumesWithoutAGatewayRestart() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let gateway = try #require(served.gatewayPID)
        let runtime = try #require(served.runtimePID)
        let statuses = StatusCounter()
        let stop = StopFlag()
        let threads = (0..<2).map { worker in
            Thread {
                while !stop.isSet {
                    let status =
                        (try? served.request(
                            "POST", "/v1/chat/completions", body: ServedBundle.chat(model: Self.models[worker], maxTokens: 16), key: key))?.status
                        ?? -1
                    statuses.add(status)
                }
                statuses.finishWorker()
            }
        }
        threads.forEach { $0.start() }
        Thread.sleep(forTimeInterval: 0.5)
        kill(runtime, SIGKILL)
        // Wait for 503s, then for the restarted runtime to answer again.
        var recovered = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !recovered, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            if statuses.counts[503, default: 0] > 0, served.runtimePID != runtime,
                (try? served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key))?.status == 200
            {
                recovered = true
            }
        }
        stop.set()
        statuses.waitForWorkers(2)
        #expect(recovered, "statuses: \(statuses.counts)\n\(served.log)")
        #expect(statuses.counts[503, default: 0] > 0, "requests during the restart get 503: \(statuses.counts)")
        #expect(Set(statuses.counts.keys).isSubset(of: [200, 503]), "nothing but answers and 503s: \(statuses.counts)")
        #expect(kill(gateway, 0) == 0, "the gateway process is the same")
        #expect(served.gatewayPID == gateway)
        let metrics = try served.metrics()
        #expect(metrics.text.contains("airlock_runtime_up 1\n"))
    }

    /// The gateway keeps one runtime connection open ahead of need; after a runtime restart
    /// that connection is dead, and the first request must not pay for it with a 503.
    @Test func theFirstRequestAfterARuntimeRestartIsAnswered() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        #expect(try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key).status == 200)
        let runtime = try #require(served.runtimePID)
        kill(runtime, SIGKILL)
        // Wait, without sending requests, until a new runtime answers the gateway's health checks.
        let deadline = ContinuousClock.now + .seconds(30)
        var up = false
        while !up, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            if let pid = served.runtimePID, pid != runtime,
                (try? served.metrics())?.text.contains("airlock_runtime_up 1\n") == true
            {
                up = true
            }
        }
        #expect(up, "\(served.log)")
        for model in ["claims", "legal"] {
            let answer = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: model, maxTokens: 4), key: key)
            #expect(answer.status == 200, "\(model): \(answer)")
        }
    }

    @Test func sigtermLetsTheAnswerInFlightFinishAndRefusesNewWork() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let gateway = try #require(served.gatewayPID)
        let connection = try HTTPTestConnection(port: served.port)
        try connection.sendRequest(
            "POST", "/v1/completions", body: #"{"model":"legal","prompt":"Terms:","max_tokens":1500,"temperature":0,"stream":true}"#, key: key)
        #expect(try connection.readHead().status == 200)
        kill(gateway, SIGTERM)
        Thread.sleep(forTimeInterval: 0.2)
        // New connections are no longer accepted.
        #expect((try? served.request("GET", "/v1/models", key: key)) == nil)
        // The answer in flight runs to its end.
        var body: [UInt8] = []
        while let chunk = try connection.nextChunk() { body += chunk }
        #expect(String(decoding: body, as: UTF8.self).hasSuffix("data: [DONE]\n\n"))
        // Then the gateway exits.
        var exited = false
        for _ in 0..<50 where !exited {
            exited = kill(gateway, 0) != 0 || (try? String(contentsOfFile: "/proc/\(gateway)/stat", encoding: .utf8))?.contains(") Z") == true
            if !exited { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(exited)
        #expect(served.log.contains("airlock-serve: stopped"))
    }

    @Test func everyRequestLeavesExactlyOneAuditRecordAndTheLogVerifies() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let limited = try #require(served.keys["claims-app"])
        let audit = TestEnvironment.executable("airlock-audit")
        func gatewayRecords() throws -> [[String: Any]] {
            let lines = try ProcessResult.run(audit, ["--root", served.root, "search", "--action", "gateway", "--json"]).checked().stdout
            return lines.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        let before = try gatewayRecords().count
        let sent: [(String, String, String?, String?, Int)] = [
            ("POST", "/v1/chat/completions", ServedBundle.chat(model: "claims"), key, 200),
            ("POST", "/v1/chat/completions", ServedBundle.chat(model: "legal", stream: true), key, 200),
            ("GET", "/v1/models", nil, key, 200),
            ("POST", "/v1/chat/completions", #"{"model":"claims""#, key, 400),
            ("POST", "/v1/chat/completions", ServedBundle.chat(model: "legal"), limited, 404),
            ("POST", "/v1/chat/completions", ServedBundle.chat(model: "claims"), nil, 401),
            ("GET", "/props", nil, key, 404),
        ]
        for (method, path, body, key, status) in sent {
            #expect(try served.request(method, path, body: body, key: key).status == status, "\(method) \(path)")
        }
        let records = try gatewayRecords()
        #expect(records.count - before == sent.count, "one record per request")
        let latest = Array(records.suffix(sent.count))
        let statuses = latest.compactMap { ($0["request"] as? [String: Any])?["status"] as? Int }
        #expect(statuses == sent.map(\.4))
        let first = latest[0]
        #expect(first["outcome"] as? String == "ok")
        #expect((first["target"] as? [String: Any])?["adapter"] as? String == "claims")
        let request = first["request"] as? [String: Any]
        #expect((request?["prompt_sha256"] as? String)?.count == 64)
        #expect((request?["answer_sha256"] as? String)?.count == 64)
        #expect((request?["tokens_out"] as? Int ?? 0) > 0)
        #expect(latest[1]["details"].flatMap { ($0 as? [String: Any])?["stream"] as? String } == "true")
        #expect(latest[5]["action"] as? String == "gateway.auth_failed")
        #expect(latest[4]["outcome"] as? String == "refused")
        let verified = try ProcessResult.run(audit, ["--root", served.root, "verify"])
        #expect(verified.status == 0, "\(verified)")
        // The policies it enforces were recorded as loaded, with their digests.
        let policies = try ProcessResult.run(audit, ["--root", served.root, "search", "--action", "policy.loaded", "--json"]).checked().stdout
        #expect(policies.contains("gateway ("), "\(policies)")
        #expect(policies.contains("clients ("), "\(policies)")
    }

    /// The policy records name the exact bytes the gateway parsed; a clients file that cannot
    /// be used is recorded as a failed load (and every key refused) until it is fixed.
    @Test func policyRecordsCarryTheParsedBytesDigestAndFailedReloads() throws {
        let config = "limits:\n  client_concurrency: 3\n"
        let served = try ServedBundle(gatewayConfig: config)
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let audit = TestEnvironment.executable("airlock-audit")
        func policyRecords() throws -> [[String: Any]] {
            let found = try ProcessResult.run(audit, ["--root", served.root, "search", "--action", "policy.loaded", "--json"]).checked().stdout
            let records = found.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return records.filter { ($0["details"] as? [String: Any])?["policy"] != nil }
        }
        func details(_ record: [String: Any]) -> [String: String] { (record["details"] as? [String: String]) ?? [:] }
        let clientsPath = served.root + "/etc/airlock/clients.yaml"
        let clientsDigest = try ProcessResult.run("/usr/bin/sha256sum", [clientsPath]).checked().stdout.prefix(64)
        let configDigest = try ProcessResult.run("/usr/bin/sha256sum", [served.root + "/etc/airlock/gateway.yaml"]).checked().stdout.prefix(64)
        let atStart = try policyRecords()
        #expect(
            atStart.contains { details($0)["policy"]?.hasPrefix("gateway (") == true && details($0)["sha256"] == String(configDigest) }, "\(atStart)")
        #expect(
            atStart.contains { details($0)["policy"]?.hasPrefix("clients (") == true && details($0)["sha256"] == String(clientsDigest) }, "\(atStart)"
        )

        // Break the file: keys are refused (503) and the failed load is recorded as failed.
        let good = try String(contentsOfFile: clientsPath, encoding: .utf8)
        try "clients: [not, a, client]\n".write(toFile: clientsPath, atomically: true, encoding: .utf8)
        chmod(clientsPath, 0o640)
        usleep(300_000)
        let refused = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key)
        #expect(refused.status == 503, "\(refused)")
        var failed: [[String: Any]] = []
        for _ in 0..<40 where failed.isEmpty {
            failed = try policyRecords().filter { $0["outcome"] as? String == "failed" }
            if failed.isEmpty { usleep(100_000) }
        }
        #expect(failed.count == 1, "\(failed)")
        #expect(failed.first.map { details($0)["reason"]?.isEmpty == false } == true)

        // Fixed: served again, recorded as loaded with the digest of the restored bytes.
        try good.write(toFile: clientsPath, atomically: true, encoding: .utf8)
        chmod(clientsPath, 0o640)
        usleep(300_000)
        #expect(try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key).status == 200)
        var reloaded: [[String: Any]] = []
        for _ in 0..<40 where reloaded.count < 2 {
            reloaded = try policyRecords().filter {
                $0["outcome"] as? String == "ok" && details($0)["sha256"] == String(clientsDigest)
                    && details($0)["policy"]?.hasPrefix("clients (") == true
            }
            if reloaded.count < 2 { usleep(100_000) }
        }
        #expect(reloaded.count == 2, "loaded at start and again after the fix: \(reloaded)")
    }

    @Test func gatewayFailsClosedWhenTheAuditLogCannotBeWritten() throws {
        var logFolder = ""
        let served = try ServedBundle { root in
            logFolder = root + "/var/log/airlock"
            try FileManager.default.createDirectory(atPath: logFolder, withIntermediateDirectories: true)
            try ProcessResult.run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", logFolder]).checked()
        }
        defer {
            served.stop()
            _ = try? ProcessResult.run("/usr/bin/umount", [logFolder])
        }
        let key = try #require(served.keys["everything"])
        #expect(try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key).status == 200)
        // Fill the log's file system.
        let filler = logFolder + "/filler"
        _ = try? ProcessResult.run("/usr/bin/dd", ["if=/dev/zero", "of=" + filler, "bs=64k", "count=64"])
        // The segment's last page may still take a few records; then writes fail.
        var refused = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key)
        for _ in 0..<40 where refused.status == 200 {
            refused = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key)
        }
        #expect(refused.status == 503, "\(refused)")
        #expect(refused.errorCode == "audit_unavailable")
        let stream = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "legal", maxTokens: 4, stream: true), key: key)
        #expect(!stream.events.contains("[DONE]"), "a stream whose record cannot be written does not complete: \(stream)")
        #expect(served.log.contains("AUDIT LOG NOT WRITTEN"))
        // Space again: service resumes by itself, and the log verifies.
        try FileManager.default.removeItem(atPath: filler)
        let resumed = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key)
        #expect(resumed.status == 200, "\(resumed)")
        let verified = try ProcessResult.run(TestEnvironment.executable("airlock-audit"), ["--root", served.root, "verify"])
        #expect(verified.status == 0, "\(verified)")
    }

    @Test func requestDeadlineEndsAnswersWith504() throws {
        // 0.1 s: a 2000-token answer takes 0.3-1.5 s of the demo model (idle or busy machine).
        let served = try ServedBundle(gatewayConfig: "limits:\n  request_deadline_s: 0.1\n")
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let long = #"{"model":"legal","prompt":"Terms:","max_tokens":2000,"temperature":0,"stream":false}"#
        let whole = try served.request("POST", "/v1/completions", body: long, key: key)
        #expect(whole.status == 504, "\(whole)")
        #expect(whole.errorCode == "timeout")
        let streamed = try served.request(
            "POST", "/v1/completions", body: long.replacingOccurrences(of: #""stream":false"#, with: #""stream":true"#), key: key)
        if streamed.status == 200 {
            // Started in time: the stream ends with an error event, never [DONE].
            #expect(streamed.events.last?.contains(#""code":"timeout""#) == true, "\(streamed.events.suffix(2))")
            #expect(!streamed.events.contains("[DONE]"))
        } else {
            // On a busy machine the first token may come after the deadline: a plain 504.
            #expect(streamed.status == 504, "\(streamed)")
            #expect(streamed.errorCode == "timeout")
        }
        // Both are recorded as 504.
        let records = try ProcessResult.run(
            TestEnvironment.executable("airlock-audit"), ["--root", served.root, "search", "--action", "gateway.request", "--json"]
        ).checked().stdout
        #expect(records.components(separatedBy: #""status":504"#).count - 1 == 2, "\(records)")
    }

    @Test func metricsCountRequestsByModelAndStatus() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        for model in ["claims", "claims", "legal"] {
            _ = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: model, maxTokens: 4), key: key)
        }
        _ = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims"), key: nil)
        let metrics = try served.metrics()
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(metrics.text.contains(#"airlock_requests_total{endpoint="chat",model="claims",status="200"} 2"#))
        #expect(metrics.text.contains(#"airlock_requests_total{endpoint="chat",model="legal",status="200"} 1"#))
        #expect(metrics.text.contains(#"airlock_requests_total{endpoint="chat",model="-",status="401"} 1"#))
        #expect(metrics.text.contains(#"airlock_request_duration_seconds_count{model="claims"} 2"#))
        #expect(metrics.text.contains(#"airlock_tokens_total{model="claims",direction="out"} 8"#))
        #expect(metrics.text.contains("airlock_authentication_failures_total 1\n"))
        // Every request's record (the refused key's too) was timed into the audit histogram.
        let auditCount = metrics.text.split(separator: "\n").first { $0.hasPrefix("airlock_audit_write_seconds_count ") }
        #expect(auditCount.flatMap { Int($0.split(separator: " ").last ?? "") }.map { $0 >= 4 } == true, "\(metrics.text)")
        #expect(metrics.text.contains(#"airlock_audit_write_seconds_bucket{le="+Inf"}"#))
        #expect(metrics.text.contains("airlock_runtime_up 1\n"))
    }

    /// One `airlock run` per bundle: a second is refused naming the first, which keeps serving
    /// (its runtime socket is not taken over); and a port in use is refused before any runtime
    /// starts.
    @Test func aSecondRunIsRefusedAndABusyPortIsCheckedFirst() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let airlock = TestEnvironment.executable("airlock")
        let second = try ProcessResult.run(
            airlock, ["--root", served.root, "run", ServedBundle.bundleName, "--listen", "127.0.0.1:\(try ServedBundle.freePort())"],
            timeout: .seconds(30))
        #expect(second.status == 1, "\(second)")
        #expect(second.stderr.contains("already being served by another 'airlock run' (pid "), "\(second.stderr)")
        let chat = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key)
        #expect(chat.status == 200, "the first run lost its runtime: \(chat)")

        served.stop()
        // Something else listens on the port: refused at once, no runtime started.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0 && listen(listener, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let started = ContinuousClock.now
        let busy = try ProcessResult.run(
            airlock, ["--root", served.root, "run", ServedBundle.bundleName, "--listen", "127.0.0.1:\(port)"], timeout: .seconds(30))
        #expect(busy.status == 1 && busy.stderr.contains("127.0.0.1:\(port) is in use by another program"), "\(busy)")
        #expect(!busy.stdout.contains("starting"), "a runtime was started: \(busy.stdout)")
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    /// `/metrics` names every model and counts every client's traffic: loopback is no
    /// boundary (every local account can connect to it), so only a key given the right reads it.
    @Test func metricsNeedAKeyThatMayReadThem() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let anonymous = try served.request("GET", "/metrics")
        #expect(anonymous.status == 401, "\(anonymous)")
        #expect(!anonymous.text.contains("airlock_"), "\(anonymous.text)")
        let everything = try #require(served.keys["everything"])
        let modelKey = try served.request("GET", "/metrics", key: everything)
        #expect(modelKey.status == 403, "\(modelKey)")
        #expect(modelKey.errorCode == "forbidden")
        #expect(!modelKey.text.contains("airlock_") && !modelKey.text.contains("legal"), "\(modelKey.text)")
        let monitor = try served.metrics()
        #expect(monitor.status == 200)
        #expect(monitor.text.contains("airlock_runtime_up 1\n"))
        // The monitoring key may use no model.
        let chat = try served.request(
            "POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 2), key: served.keys[ServedBundle.monitor])
        #expect(chat.status == 404, "\(chat)")
        let models = try served.request("GET", "/v1/models", key: served.keys[ServedBundle.monitor])
        #expect((models.json["data"] as? [Any])?.isEmpty == true, "\(models.text)")
        // Refusals are recorded like any other request's.
        let records = try ProcessResult.run(
            TestEnvironment.executable("airlock-audit"), ["--root", served.root, "search", "--action", "gateway.request", "--json"]
        ).checked().stdout
        #expect(records.contains(#""status":403"#), "\(records)")
    }
}

final class StatusCounter: @unchecked Sendable {
    private let condition = NSCondition()
    private var statuses: [Int: Int] = [:]
    private var finished = 0

    func add(_ status: Int) {
        condition.lock()
        statuses[status, default: 0] += 1
        condition.unlock()
    }

    func finishWorker() {
        condition.lock()
        finished += 1
        condition.broadcast()
        condition.unlock()
    }

    func waitForWorkers(_ count: Int) {
        condition.lock()
        while finished < count { _ = condition.wait(until: Date().addingTimeInterval(120)) }
        condition.unlock()
    }

    var counts: [Int: Int] {
        condition.lock()
        defer { condition.unlock() }
        return statuses
    }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
