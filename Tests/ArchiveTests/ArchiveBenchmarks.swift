import AirlockCore
@testable import Archive
import Foundation
import Testing
import TestSupport

/// Throughput and compression measurements, printed, not asserted: run with `AIRLOCK_BENCH=1`.
/// Baselines are timed the same way (wall clock around the command, warm page cache).
extension BundleArchiveTests {
    @Suite(.enabled(if: ProcessInfo.processInfo.environment["AIRLOCK_BENCH"] == "1"))
    struct Benchmarks {
        static let llamaServer = "/root/.cache/airlock/llama-server/b11434/llama-server"

        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }

        func report(_ label: String, bytes: Int64, _ time: Double) {
            print(String(format: "BENCH %-44@ %8.3f s %8.0f MB/s", label as NSString, time, Double(bytes) / time / 1e6))
        }

        @Test func storedOneGiBThroughput() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let file = dir.file("weights")
            let size = Int64(1) << 30
            try run(["bash", "-c", "head -c \(size) /dev/urandom > '\(file)'"])
            try run(["bash", "-c", "cat '\(file)' > /dev/null"])  // warm the page cache

            report("cat file > /dev/null", bytes: size, try seconds { try run(["bash", "-c", "cat '\(file)' > /dev/null"]) })
            report(
                "tar -cf - file | cat > /dev/null", bytes: size,
                try seconds {
                    try run(["bash", "-c", "tar -C '\(dir.path)' -cf - weights | cat > /dev/null"])
                })
            let null = open("/dev/null", O_WRONLY)
            defer { close(null) }
            report(
                "writer -> /dev/null", bytes: size,
                try seconds {
                    let writer = try BundleArchiveWriter(fileDescriptor: null)
                    try writer.addFile(path: "weights", from: file)
                    try writer.finish()
                })
            var hashed: Int64 = 0
            report(
                "writer -> /dev/null, progress touching bytes", bytes: size,
                try seconds {
                    let writer = try BundleArchiveWriter(fileDescriptor: null)
                    try writer.addFile(path: "weights", from: file) { chunk in hashed += Int64(chunk.last ?? 0) }
                    try writer.finish()
                })
            let bundle = dir.file("b.airlock")
            report(
                "writer -> file (page cache, no fsync)", bytes: size,
                try seconds {
                    let fd = open(bundle, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                    defer { close(fd) }
                    let writer = try BundleArchiveWriter(fileDescriptor: fd)
                    try writer.addFile(path: "weights", from: file)
                    try writer.finish()
                })
            report("cat bundle > /dev/null", bytes: size, try seconds { try run(["bash", "-c", "cat '\(bundle)' > /dev/null"]) })
            report(
                "tar -xOf bundle | cat > /dev/null", bytes: size,
                try seconds {
                    try run(["bash", "-c", "tar -xOf '\(bundle)' weights | cat > /dev/null"])
                })
            var total: Int64 = 0
            report(
                "reader readChunks (no copy)", bytes: size,
                try seconds {
                    let reader = try BundleArchiveReader(path: bundle)
                    _ = try reader.next()
                    try reader.readDecoded(.stored, storedSize: size, plainSize: size) { total += Int64($0.count) }
                    #expect(try reader.next() == nil)
                })
            #expect(total == size)
            var buffer = [UInt8](repeating: 0, count: 4 << 20)
            report(
                "reader read(into:) 4 MiB buffer (copy)", bytes: size,
                try seconds {
                    let reader = try BundleArchiveReader(path: bundle)
                    _ = try reader.next()
                    while try buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }) > 0 {}
                })
        }

        @Test func zstdVersusStored() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let weights = dir.file("weights-f16")
            try run([
                "python3", "-c",
                "import numpy as np,sys; np.random.default_rng(0).normal(0,0.02,32<<20).astype(np.float16).tofile(sys.argv[1])",
                weights,
            ])
            var inputs = [("64 MiB random float16", weights)]
            if FileManager.default.fileExists(atPath: Self.llamaServer) { inputs.append(("llama-server b11434", Self.llamaServer)) }
            let null = open("/dev/null", O_WRONLY)
            defer { close(null) }
            for (label, path) in inputs {
                let size = try Int64(contents(path).count)
                try run(["bash", "-c", "cat '\(path)' > /dev/null"])
                for encoding in [EntryEncoding.stored, .zstd(level: 1), .zstd(level: 3), .zstd(level: 9), .zstd(level: 19)] {
                    var written: WrittenEntry?
                    let time = try seconds {
                        let writer = try BundleArchiveWriter(fileDescriptor: null, temporaryDirectory: dir.path)
                        written = try writer.addFile(path: "f", from: path, encoding: encoding)
                        try writer.finish()
                    }
                    let stored = written?.storedSize ?? 0
                    print(
                        String(
                            format: "BENCH %@ %@: %lld -> %lld bytes (%.1f%%) in %.2f s (%.0f MB/s)", label, encoding.description, size, stored,
                            Double(stored) * 100 / Double(size), time, Double(size) / time / 1e6))
                    if case .zstd = encoding {
                        // Reading it back: decode time.
                        let bundle = dir.file("z.airlock")
                        try? FileManager.default.removeItem(atPath: bundle)
                        let writer = try BundleArchiveWriter(path: bundle)
                        let entry = try writer.addFile(path: "f", from: path, encoding: encoding)
                        try writer.finish()
                        let decode = try seconds {
                            let reader = try BundleArchiveReader(path: bundle)
                            _ = try reader.next()
                            try reader.readDecoded(.zstd, storedSize: entry.storedSize, plainSize: entry.plainSize) { _ in }
                        }
                        print(
                            String(format: "BENCH %@ %@: decode %.2f s (%.0f MB/s)", label, encoding.description, decode, Double(size) / decode / 1e6)
                        )
                    }
                }
                for level in [1, 19] {
                    let time = try seconds { try run(["bash", "-c", "zstd -q -\(level) -c '\(path)' > /dev/null"]) }
                    print(String(format: "BENCH %@ zstd CLI -%d: %.2f s", label, level, time))
                }
            }
        }
    }
}
