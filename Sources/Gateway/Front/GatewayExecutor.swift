internal import NIOCore
internal import NIOPosix

/// Where the gateway's Swift concurrency tasks run.
public enum GatewayExecutor {
    /// Makes NIO's event loops (`MultiThreadedEventLoopGroup.singleton`, one thread per core)
    /// Swift concurrency's global executor, so that a request's code runs on the same threads
    /// as its connections instead of hopping to the default pool and back for every read and
    /// write: measured 29–31 → 11–12 context switches of the gateway per proxied request (perf stat, Docs/benchmarks.md "Gateway").
    /// Work that blocks stays off these threads: scrypt verifications and the audit log's
    /// fdatasync run on their own dispatch queues.
    ///
    /// Call first thing in `main`, once, on the main thread; false when it could not be
    /// installed (the gateway then runs on the default pool, only slower).
    @discardableResult
    public static func takeOverConcurrency() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}

/// Runs tasks on one event loop: a connection's tasks prefer the loop that carries the
/// connection (`withTaskExecutorPreference`), so that a resumption from elsewhere (the audit
/// log's flusher, a timer) lands on that loop directly instead of on any loop of the group
/// and hopping again for the connection's next write.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
