import Foundation
import FuzzHarness
import Testing

/// What the fuzzers found stays found: every file under `Tests/Fuzz/Regressions/TARGET/` goes
/// through its target (the same entry the fuzzer calls) and must be read or refused cleanly,
/// and every seed the fuzzers start from is accepted or refused as its name says.
@Suite struct FuzzRegressionTests {
    static let regressions = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Regressions")

    /// Seeds that are refused on purpose (they start the fuzzer on a refusal path).
    static let refusedSeeds: Set<String> = [
        "spec/misspelt-key", "spec/anchor", "tar/head-without-end", "tar/symlink", "request/chat-unknown-model",
    ]

    @Test(arguments: FuzzTarget.allCases)
    func keptFindingsAreRefusedCleanly(target: FuzzTarget) throws {
        let folder = Self.regressions.appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names.sorted() where !name.hasPrefix(".") {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
            let outcome = target.run(bytes)
            if case .broken = outcome { Issue.record("\(target.rawValue)/\(name): \(outcome)") }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedsAreReadAsIntended(target: FuzzTarget) {
        let seeds = target.seeds()
        #expect(seeds.count >= 2, "\(target.rawValue) has \(seeds.count) seeds")
        for seed in seeds {
            let outcome = target.run(seed.bytes)
            let key = "\(target.rawValue)/\(seed.name)"
            switch outcome {
            case .accepted: #expect(!Self.refusedSeeds.contains(key), "\(key) was meant to be refused")
            case .refused: #expect(Self.refusedSeeds.contains(key), "\(key): \(outcome)")
            case .broken: Issue.record("\(key): \(outcome)")
            }
        }
    }
}
