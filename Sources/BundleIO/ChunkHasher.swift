internal import AirlockCore
internal import Dispatch
internal import Signing
internal import Synchronization

/// Hashes one file's bytes as fixed-size chunks on every core while the caller streams them in
/// order: chunk k goes to worker k mod N, so N chunks are hashed at once. Memory is bounded by
/// a small pool of block buffers (the caller waits when all are in flight), so it does not grow
/// with the file.
///
/// Also computes the whole-file SHA-256 on demand (sequential by nature; the builder wants it,
/// the verifier checks chunk digests instead for files over one chunk).
///
/// A file known to fit in one block (`expectedSize`) is hashed on the caller's thread with no
/// pool and no workers: a vLLM runtime folder is ~56,000 files, most of a few KiB, and setting
/// up ten 1 MiB buffers and two queues for each (then freeing them) made verify spend most of
/// its time in mmap/munmap and thread hand-offs (Docs/benchmarks.md, "Many small files").
final class ChunkHasher: @unchecked Sendable {
    /// A block buffer handed from the caller to a worker; only one of them touches it at a time.
    private struct Block: @unchecked Sendable {
        let bytes: UnsafeMutableRawBufferPointer
    }

    let chunkSize: UInt64
    private let workers: [DispatchQueue]
    private let group = DispatchGroup()
    private let slots: DispatchSemaphore
    private let pool: Mutex<[Block]>
    private let blockSize: Int
    private let results = Mutex<[Int: Result<Digest, AirlockError>]>([:])
    private var hashers: [Int: SHA256Hasher] = [:]  // touched only on the owning worker's queue
    private let hashersLock = Mutex<Void>(())
    private var whole: SHA256Hasher?
    private var position: UInt64 = 0
    /// The one hasher of a file hashed inline (`expectedSize` within one block).
    private let inline: SHA256Hasher?

    /// `wholeFile`: also compute the digest of the whole file (on the caller's thread).
    /// `expectedSize`: the file's exact size when the caller enforces it (the verifier's reader
    /// refuses a byte more or less); a file within one block is then hashed inline.
    init(
        chunkSize: UInt64, wholeFile: Bool, expectedSize: UInt64? = nil, workers count: Int = ChunkHasher.workerCount,
        blockSize: Int = 1 << 20
    ) throws(AirlockError) {
        self.chunkSize = chunkSize
        self.blockSize = blockSize
        whole = wholeFile ? try SHA256Hasher() : nil
        if let expectedSize, expectedSize <= UInt64(blockSize), expectedSize <= chunkSize {
            inline = try SHA256Hasher()
            workers = []
            slots = DispatchSemaphore(value: 0)
            pool = Mutex([])
            return
        }
        inline = nil
        workers = (0..<max(1, count)).map { DispatchQueue(label: "airlock.hash.\($0)") }
        let buffers = 4 * max(1, count) + 2
        slots = DispatchSemaphore(value: buffers)
        pool = Mutex((0..<buffers).map { _ in Block(bytes: .allocate(byteCount: blockSize, alignment: 64)) })
    }

    deinit {
        group.wait()
        pool.withLock { blocks in for block in blocks { block.bytes.deallocate() } }
    }

    /// Hashers for the chunks; one per core, at most 8.
    /// (Read once: sysconf reads /sys/devices/system/cpu/online each time.)
    static let workerCount: Int = min(8, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))

    /// Feeds the file's next bytes (any length).
    func update(_ bytes: UnsafeRawBufferPointer) throws(AirlockError) {
        try whole?.update(bytes)
        if let inline {
            position += UInt64(bytes.count)
            guard position <= UInt64(blockSize) else {
                throw AirlockError(.crypto, "the file has more bytes than the \(blockSize) it was declared to have at most")
            }
            try inline.update(bytes)
            return
        }
        var rest = bytes
        while !rest.isEmpty {
            let chunk = Int(position / chunkSize)
            let room = Int(chunkSize - position % chunkSize)
            let take = min(rest.count, room, blockSize)
            submit(chunk: chunk, UnsafeRawBufferPointer(rebasing: rest[..<take]), last: take == room)
            position += UInt64(take)
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
        }
    }

    /// Waits for every chunk and returns their digests in order, and the whole-file digest if
    /// asked for. An empty file has one chunk: the digest of nothing.
    func finish() throws(AirlockError) -> (chunks: [Digest], whole: Digest?) {
        if let inline { return ([try inline.finalize()], try whole?.finalize()) }
        let chunkCount = position == 0 ? 1 : Int((position + chunkSize - 1) / chunkSize)
        if position == 0 || position % chunkSize != 0 {
            submit(chunk: chunkCount - 1, UnsafeRawBufferPointer(start: nil, count: 0), last: true)
        }
        group.wait()
        var digests: [Digest] = []
        for index in 0..<chunkCount {
            guard let result = results.withLock({ $0[index] }) else {
                throw AirlockError(.crypto, "chunk \(index) was never hashed")
            }
            digests.append(try result.get())
        }
        return (digests, try whole?.finalize())
    }

    private func submit(chunk: Int, _ bytes: UnsafeRawBufferPointer, last: Bool) {
        slots.wait()
        let block = pool.withLock { $0.removeLast() }
        if bytes.count > 0 { block.bytes.copyMemory(from: bytes) }
        let count = bytes.count
        group.enter()
        workers[chunk % workers.count].async { [self] in
            defer {
                pool.withLock { $0.append(block) }
                slots.signal()
                group.leave()
            }
            do throws(AirlockError) {
                let hasher = try hashersLock.withLock { _ throws(AirlockError) -> SHA256Hasher in
                    if let existing = hashers[chunk] { return existing }
                    let made = try SHA256Hasher()
                    hashers[chunk] = made
                    return made
                }
                try hasher.update(UnsafeRawBufferPointer(rebasing: block.bytes[..<count]))
                if last {
                    let digest = try hasher.finalize()
                    hashersLock.withLock { _ in hashers[chunk] = nil }
                    results.withLock { $0[chunk] = .success(digest) }
                }
            } catch {
                results.withLock { $0[chunk] = .failure(error) }
            }
        }
    }
}
