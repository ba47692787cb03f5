public import AirlockCore

/// The pieces of `airlock-audit benchmark`: the disk's own flush latency as the baseline, and
/// many appenders at once.
public enum AuditBenchmark {
    /// The median time of one 512-byte append write(2) followed by fdatasync(2), in seconds, on
    /// a scratch file in `folder` (removed afterwards): what one durable flush costs on this disk.
    public static func fdatasyncLatency(folder: String, samples: Int) throws(AirlockError) -> Double {
        try AtomicFile.makeDirectories(folder, mode: 0o750)
        let path = folder + "/.fdatasync-probe"
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw .system("cannot create \(path)", errno: errno) }
        defer {
            close(file)
            unlink(path)
        }
        let block = [UInt8](repeating: UInt8(ascii: "x"), count: 511) + [0x0A]
        var times: [Double] = []
        times.reserveCapacity(samples)
        for _ in 0..<samples {
            let started = ContinuousClock.now
            try AuditFiles.write(file, block, path: path)
            guard fdatasync(file) == 0 else { throw .system("cannot flush \(path)", errno: errno) }
            times.append(seconds(since: started))
        }
        times.sort()
        return times[times.count / 2]
    }

    /// Appends `event` `count` times from `appenders` concurrent tasks.
    public static func append(_ event: AuditEvent, count: Int, appenders: Int, to writer: AuditLogWriter) async throws(AirlockError) {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<appenders {
                    let share = count / appenders + (index < count % appenders ? 1 : 0)
                    group.addTask {
                        for _ in 0..<share { try await writer.append(event) }
                    }
                }
                try await group.waitForAll()
            }
        } catch let error as AirlockError {
            throw error
        } catch {
            throw AirlockError(.system, "the benchmark's appenders failed: \(error)")
        }
    }

    public static func seconds(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).inSeconds
    }
}
