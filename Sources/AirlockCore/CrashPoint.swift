#if canImport(Glibc)
internal import Glibc
#endif
internal import Synchronization

/// A seam for crash-consistency tests: at each named point of a multi-step operation (install,
/// activation), the process kills itself with SIGKILL, exactly as `kill -9` would, when the
/// environment variable `AIRLOCK_TEST_CRASH_AT` names that point (`NAME`, or `NAME#N` for its
/// N-th occurrence in this process). Unset, a point costs one comparison. It can only end the
/// process that set it, so it weakens nothing.
public enum CrashPoint {
    private static let target: (name: String, occurrence: Int)? = {
        guard let raw = getenv("AIRLOCK_TEST_CRASH_AT") else { return nil }
        let text = String(cString: raw)
        guard !text.isEmpty else { return nil }
        let parts = text.split(separator: "#", maxSplits: 1)
        return (String(parts[0]), parts.count == 2 ? Int(parts[1]) ?? 1 : 1)
    }()

    private static let seen = Mutex<[String: Int]>([:])

    public static func reach(_ name: String) {
        guard let target, target.name == name else { return }
        let count = seen.withLock { counts -> Int in
            counts[name, default: 0] += 1
            return counts[name]!
        }
        if count == target.occurrence { kill(getpid(), SIGKILL) }
    }
}
