import AirlockCore
import Foundation
@testable import Store
import TestSupport
import Testing

/// The install's file writer: whatever the sizes of the pieces handed to it, and wherever they
/// fall against its buffers and the direct-I/O block size, the file holds exactly those bytes.
@Suite struct StagedFileWriterTests {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    /// Appends `bytes` in pieces of the given sizes (cycled), drains, and reads the file back.
    func roundTrip(_ bytes: [UInt8], pieces: [Int], bufferSize: Int, bufferCount: Int) throws -> [UInt8] {
        let folder = try TemporaryDirectory("airlock-writer")
        defer { folder.remove() }
        let path = folder.file("out")
        let writer = try StagedFileWriter(creating: path, bufferSize: bufferSize, bufferCount: bufferCount)
        var offset = 0
        var index = 0
        while offset < bytes.count {
            let take = min(pieces[index % pieces.count], bytes.count - offset)
            try bytes[offset..<(offset + take)].withUnsafeBytes { try writer.append($0) }
            offset += take
            index += 1
        }
        try writer.drain()
        return Array(FileManager.default.contents(atPath: path) ?? Data([0xFF]))
    }

    @Test(arguments: [0, 1, 4095, 4096, 4097, 8192, 3 * 8192 + 5, 100_000])
    func everySizeArrivesExactly(count: Int) throws {
        let bytes = Self.bytes(count, seed: UInt64(count) + 1)
        #expect(try roundTrip(bytes, pieces: [1000, 3, 8192, 511], bufferSize: 8192, bufferCount: 2) == bytes)
    }

    @Test func largePiecesThroughTheDefaultBuffers() throws {
        let bytes = Self.bytes((9 << 20) + 12345, seed: 7)
        #expect(try roundTrip(bytes, pieces: [4 << 20, 4_028_928, 1], bufferSize: 2 << 20, bufferCount: 4) == bytes)
    }

    @Test func aWriterDroppedHalfWayStopsCleanly() throws {
        let folder = try TemporaryDirectory("airlock-writer")
        defer { folder.remove() }
        do {
            let writer = try StagedFileWriter(creating: folder.file("out"), bufferSize: 8192, bufferCount: 2)
            try Self.bytes(3 * 8192 + 100, seed: 3).withUnsafeBytes { try writer.append($0) }
        }  // no drain: an install refused half way through a file
        #expect(FileManager.default.fileExists(atPath: folder.file("out")))
    }

    @Test func refusesAnExistingFileOrALink() throws {
        let folder = try TemporaryDirectory("airlock-writer")
        defer { folder.remove() }
        #expect(FileManager.default.createFile(atPath: folder.file("there"), contents: Data([1])))
        #expect(throws: AirlockError.self) { try StagedFileWriter(creating: folder.file("there")) }
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: folder.file("elsewhere"))
        #expect(throws: AirlockError.self) { try StagedFileWriter(creating: folder.file("link")) }
        #expect(!FileManager.default.fileExists(atPath: folder.file("elsewhere")))
    }
}
