internal import AirlockCore
internal import CAirlockShims
internal import Dispatch
internal import Synchronization

/// Writes one new file of an install on a thread of its own, so that the disk works while the
/// caller goes on reading and hashing the bundle (a two-stage pipeline: on two cores the write
/// no longer waits for the hash, nor the hash for the write).
///
/// `append` copies the caller's bytes into one of a few page-aligned buffers before it returns
/// (the caller's buffer is never read afterwards, so what reaches the disk is exactly what the
/// caller hashed), and the writer thread writes each full buffer in order with `O_DIRECT`:
/// straight from the buffer to the disk, without a second copy into the page cache and without
/// leaving gigabytes of dirty pages for the final `fsync` to flush at once (measured on the
/// 4 GiB bundle: Docs/benchmarks.md). Only the last bytes of a file (less than one block) are
/// written through the page cache. On a file system that refuses direct I/O (at open or at the
/// first write), every write is an ordinary buffered one: the result on disk is the same.
///
/// Direct I/O makes nothing durable by itself: the caller still `fsync`s the file (metadata,
/// the device's cache). A write failure (a full disk) is parked and thrown by the next `append`
/// or by `drain`; nothing is written after it.
final class StagedFileWriter: @unchecked Sendable {
    /// A buffer handed from the caller to the writer thread; only one of them touches it at a time.
    private struct Buffer: @unchecked Sendable {
        let bytes: UnsafeMutableRawBufferPointer
    }

    /// Offsets, lengths and buffer addresses of direct writes are multiples of this (the largest
    /// logical block size in common use; a file system that needs more refuses the write with
    /// `EINVAL`, and the file goes on buffered).
    static let alignment = 4096

    let path: String
    let descriptor: Int32
    private let bufferSize: Int
    private let queue = DispatchQueue(label: "airlock.install.write")
    private let group = DispatchGroup()
    /// Buffers not held by the caller or in flight (at most `bufferCount`, allocated on demand so
    /// that a small file costs one).
    private let idle = Mutex<[Buffer]>([])
    private let slots: DispatchSemaphore
    private let failure = Mutex<AirlockError?>(nil)
    private let direct: Atomic<Bool>
    // The caller's side.
    private var current: Buffer?
    private var filled = 0
    private var offset: Int64 = 0

    /// Creates `path` (never an existing file, never through a link), mode 0600 until the caller
    /// sets the final one.
    init(creating path: String, bufferSize: Int = 2 << 20, bufferCount: Int = 4) throws(AirlockError) {
        precondition(bufferSize > 0 && bufferSize % Self.alignment == 0 && bufferCount > 0)
        let descriptor = try FileTree.createNew(path)
        self.path = path
        self.descriptor = descriptor
        self.bufferSize = bufferSize
        slots = DispatchSemaphore(value: bufferCount)
        // Set after creating, so that a file system without direct I/O leaves no doubt about
        // whether `open` created the file before refusing.
        direct = Atomic(Self.setDirect(descriptor, true))
    }

    deinit {
        group.wait()
        if let current {  // abandoned half way: its slot goes back (libdispatch traps otherwise)
            current.bytes.deallocate()
            slots.signal()
        }
        idle.withLock { buffers in for buffer in buffers { buffer.bytes.deallocate() } }
        close(descriptor)
    }

    /// Whether writes still bypass the page cache (false on a file system without direct I/O).
    var isDirect: Bool { direct.load(ordering: .relaxed) }

    /// Takes the file's next bytes (any length).
    func append(_ bytes: UnsafeRawBufferPointer) throws(AirlockError) {
        if let failure = failure.withLock({ $0 }) { throw failure }
        var rest = bytes
        while !rest.isEmpty {
            let buffer = current ?? acquire()
            current = buffer
            let take = min(rest.count, bufferSize - filled)
            (buffer.bytes.baseAddress! + filled).copyMemory(from: rest.baseAddress!, byteCount: take)
            filled += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if filled == bufferSize { submit() }
        }
    }

    /// Writes out everything appended, waits for the writer thread, and throws its failure.
    func drain() throws(AirlockError) {
        if filled > 0 { submit() }
        group.wait()
        if let failure = failure.withLock({ $0 }) { throw failure }
    }

    private func acquire() -> Buffer {
        slots.wait()
        if let buffer = idle.withLock({ $0.popLast() }) { return buffer }
        return Buffer(bytes: .allocate(byteCount: bufferSize, alignment: Self.alignment))
    }

    private func submit() {
        guard let buffer = current else { return }
        let count = filled
        let at = offset
        current = nil
        filled = 0
        offset += Int64(count)
        queue.async(group: group) { [self] in
            defer {
                idle.withLock { $0.append(buffer) }
                slots.signal()
            }
            guard failure.withLock({ $0 == nil }) else { return }
            do throws(AirlockError) {
                try write(UnsafeRawBufferPointer(rebasing: buffer.bytes[..<count]), at: at)
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
    }

    /// On the writer thread: the whole-block part direct, a short tail (the file's end) buffered.
    private func write(_ bytes: UnsafeRawBufferPointer, at position: Int64) throws(AirlockError) {
        var done = 0
        while done < bytes.count {
            let rest = bytes.count - done
            if isDirect && rest < Self.alignment { stopDirect() }
            let length = isDirect ? rest - rest % Self.alignment : rest
            let wrote = pwrite(descriptor, bytes.baseAddress! + done, length, off_t(position) + off_t(done))
            if wrote < 0 {
                if errno == EINTR { continue }
                if errno == EINVAL && isDirect {  // this file system wants other alignments
                    stopDirect()
                    continue
                }
                throw AirlockError.system("cannot write \(path)", errno: errno)
            }
            done += wrote
        }
    }

    private func stopDirect() {
        _ = Self.setDirect(descriptor, false)
        direct.store(false, ordering: .relaxed)
    }

    private static let directFlag = CAirlockShims_O_DIRECT()

    /// Turns `O_DIRECT` on or off for `descriptor`; false if the file system refuses it.
    private static func setDirect(_ descriptor: Int32, _ on: Bool) -> Bool {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0 else { return false }
        return fcntl(descriptor, F_SETFL, on ? flags | directFlag : flags & ~directFlag) == 0 && on
    }
}
