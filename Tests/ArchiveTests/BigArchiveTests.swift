import AirlockCore
@testable import Archive
import Dispatch
import Foundation
import Synchronization
import Testing
import TestSupport

/// Big entries through a pipe: the writer on one thread, the reader on this one, nothing on disk
/// but the (sparse) source. Memory must stay flat whatever the size.
extension BundleArchiveTests {
    @Suite struct Big {
        /// SLOW-ish (about 50 s on the 2-core machine, most of it the kernel filling the page cache
        /// with zeros for the sparse file's holes: `cat` of the same file alone takes about 30 s):
        /// a sparse 9 GiB file (pax size record, ustar size as 12 octal digits) written stored and
        /// read back through a pipe, every byte compared with what the file holds (markers across
        /// the 4 GiB and 8 GiB boundaries and at the end, zeros elsewhere). Memory stays flat.
        @Test(.timeLimit(.minutes(10)))
        func sparseNineGiBFileRoundTripsThroughAPipe() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let size = Int64(9) << 30
            let markers: [(Int64, [UInt8])] = [
                (0, Array("GGUF start".utf8)), ((4 << 30) - 5, Array("across 4 GiB".utf8)),
                ((8 << 30) - 3, Array("across 8 GiB".utf8)), (size - 3, Array("end".utf8)),
            ]
            try sparseFile(dir.file("big.gguf"), size: size, markers: markers)
            let started = ContinuousClock.now
            let peakBefore = peakResidentBytes()
            var checked: Int64 = 0
            let entries = try throughPipe(
                write: { writer in
                    try writer.addData(path: "manifest.json", bytes: Array("{}".utf8))
                    try writer.addFile(path: "models/big.gguf", from: dir.file("big.gguf"))
                },
                read: { reader in
                    let manifest = try #require(try reader.next())
                    #expect(try reader.readAll(limit: 1024) == Array("{}".utf8))
                    #expect(manifest.path == "manifest.json")
                    let big = try #require(try reader.next())
                    #expect(big.path == "models/big.gguf" && big.size == size)
                    let expected = ExpectedContent(markers: markers)
                    try reader.readDecoded(.stored, storedSize: size, plainSize: size) { chunk in
                        #expect(expected.matches(chunk, at: checked), "content differs near offset \(checked)")
                        checked += Int64(chunk.count)
                    }
                    #expect(try reader.next() == nil)
                })
            let elapsed = ContinuousClock.now - started
            #expect(checked == size)
            #expect(entries.last?.storedSize == size)
            let growth = peakResidentBytes() - peakBefore
            print("9 GiB sparse round trip through a pipe: \(elapsed), peak memory growth \(growth >> 20) MiB")
            #expect(growth < 64 << 20)
        }

        /// Writing and reading a 1 GiB entry keeps memory flat: the resident size, sampled while
        /// the entry streams, stays within 64 MiB of where it was at the first chunk, and so does
        /// the process's peak.
        @Test func memoryStaysFlatWhileStreamingAOneGiBEntry() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let size = Int64(1) << 30
            try sparseFile(dir.file("weights"), size: size, markers: [(size / 2, noise(1 << 20))])
            let peakBefore = peakResidentBytes()
            var total: Int64 = 0
            var chunks = 0
            var first = 0
            var highest = 0
            _ = try throughPipe(
                write: { writer in try writer.addFile(path: "weights", from: dir.file("weights")) },
                read: { reader in
                    _ = try reader.next()
                    try reader.readChunks(maxChunk: 1 << 20) { chunk in
                        total += Int64(chunk.count)
                        if chunks % 16 == 0 {
                            let now = currentResidentBytes()
                            if chunks == 0 { first = now }
                            highest = max(highest, now)
                        }
                        chunks += 1
                    }
                    #expect(try reader.next() == nil)
                })
            let growth = peakResidentBytes() - peakBefore
            print(
                "1 GiB entry: resident \(first >> 20) MiB at the first chunk, at most \(highest >> 20) MiB while streaming; peak growth \(growth >> 20) MiB"
            )
            #expect(total == size)
            #expect(first > 0 && highest - first < 64 << 20)
            #expect(growth < 64 << 20)
        }

        /// 1 GB of zeros is a zstd frame of a few tens of KB. A manifest that says 1 MiB makes the
        /// reader stop after 1 MiB + 1 decoded bytes, without the body ever seeing more than 1 MiB.
        @Test func zstdBombIsRefusedAfterExpectedPlusOneByte() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            try sparseFile(dir.file("zeros"), size: 1_000_000_000)
            let writer = try BundleArchiveWriter(path: dir.file("bomb.airlock"))
            let bomb = try writer.addFile(path: "runtime/bomb", from: dir.file("zeros"), encoding: .zstd(level: 1))
            try writer.finish()
            print("zstd bomb: \(bomb.plainSize) bytes of zeros stored in \(bomb.storedSize) bytes")
            #expect(bomb.storedSize < 100_000)

            let peakBefore = peakResidentBytes()
            let expected: Int64 = 1 << 20
            let reader = try BundleArchiveReader(path: dir.file("bomb.airlock"))
            _ = try reader.next()
            var delivered: Int64 = 0
            let started = ContinuousClock.now
            let error = #expect(throws: AirlockError.self) {
                try reader.readDecoded(.zstd, storedSize: bomb.storedSize, plainSize: expected, maxChunk: 64 << 10) {
                    delivered += Int64($0.count)
                }
            }
            #expect(
                error?.description
                    == "entry 'runtime/bomb' decodes to more than the 1048576 bytes expected (refused as a decompression bomb after 1048577 bytes)",
                "\(String(describing: error))")
            #expect(delivered == expected)
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(peakResidentBytes() - peakBefore < 64 << 20)
        }
    }
}

/// Zeros except `markers`: compares a chunk at an offset without building the whole file.
struct ExpectedContent {
    let markers: [(Int64, [UInt8])]
    private let zeros = [UInt8](repeating: 0, count: 4 << 20)

    init(markers: [(Int64, [UInt8])]) { self.markers = markers }

    func matches(_ chunk: UnsafeRawBufferPointer, at offset: Int64) -> Bool {
        let end = offset + Int64(chunk.count)
        let touching = markers.filter { $0.0 < end && $0.0 + Int64($0.1.count) > offset }
        if chunk.isEmpty { return true }
        if touching.isEmpty && chunk.count <= zeros.count {
            return zeros.withUnsafeBytes { memcmp($0.baseAddress!, chunk.baseAddress!, chunk.count) == 0 }
        }
        for index in 0..<chunk.count {
            let at = offset + Int64(index)
            var want: UInt8 = 0
            for (start, bytes) in touching where at >= start && at < start + Int64(bytes.count) {
                want = bytes[Int(at - start)]
            }
            if chunk[index] != want { return false }
        }
        return true
    }
}

/// Runs `write` on a writer into a pipe on another thread while `read` reads the pipe here.
/// Returns the writer's entries; rethrows the writer's failure, if any, after reading.
func throughPipe(
    write: @escaping @Sendable (BundleArchiveWriter) throws -> Void,
    read: (BundleArchiveReader) throws -> Void
) throws -> [WrittenEntry] {
    signal(SIGPIPE, SIG_IGN)  // a reader that gives up makes the writer see EPIPE, not die
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw TestFailure("pipe failed") }
    let (readEnd, writeEnd) = (fds[0], fds[1])
    _ = fcntl(readEnd, 1031 /* F_SETPIPE_SZ */, 1 << 20)
    let outcome = Mutex<Result<[WrittenEntry], any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread {
        let result = Result { () throws -> [WrittenEntry] in
            defer { close(writeEnd) }
            let writer = try BundleArchiveWriter(fileDescriptor: writeEnd)
            try write(writer)
            return try writer.finish()
        }
        outcome.withLock { $0 = result }
        done.signal()
    }.start()
    do {
        let reader = try BundleArchiveReader(fileDescriptor: readEnd)
        try read(reader)
    } catch {
        close(readEnd)  // unblocks the writer (EPIPE) before waiting for it
        done.wait()
        throw error
    }
    close(readEnd)
    done.wait()
    return try outcome.withLock { $0! }.get()
}
