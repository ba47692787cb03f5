import AirlockCore
import Store
import Testing

/// The `requires` grammar: what parses, and what is refused as unknown.
@Suite struct RuntimeRequirementTests {
    @Test func knownFormsParseAndEverythingElseIsUnknown() throws {
        #expect(try RuntimeRequirement(parsing: "avx2") == .cpuFlag("avx2"))
        #expect(try RuntimeRequirement(parsing: "avx512_vnni") == .cpuFlag("avx512_vnni"))
        #expect(try RuntimeRequirement(parsing: "gpu") == .gpu)
        #expect(try RuntimeRequirement(parsing: "cuda>=12") == .cuda(major: 12, minor: nil))
        #expect(try RuntimeRequirement(parsing: "cuda>=12.2") == .cuda(major: 12, minor: 2))
        #expect(try RuntimeRequirement(parsing: "memory>=16GiB") == .memory(atLeastBytes: 16 << 30))
        #expect(try RuntimeRequirement(parsing: "memory>=1.5GiB") == .memory(atLeastBytes: 3 << 29))
        #expect(try RuntimeRequirement(parsing: "memory>=512MiB") == .memory(atLeastBytes: 512 << 20))
        #expect(try RuntimeRequirement(parsing: "cuda>=12.2").description == "cuda>=12.2")

        for bad in [
            "AVX2", "avx-2", "cuda12", "cuda>=", "cuda>=12.", "cuda>=x", "cuda>=12.7", "cuda>=13.1", "cuda>=14",
            "memory>=16", "memory>=16GB", "memory>=GiB", "memory>=-1GiB", "gpu ", "", "sse3",
        ] {
            let error = #expect(throws: AirlockError.self) { try RuntimeRequirement(parsing: bad) }
            #expect(error?.message.hasPrefix("unknown requirement '\(bad)'") == true, "\(bad)")
        }
    }
}
