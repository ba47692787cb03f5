import AirlockCore
import BundleFormat
import Foundation
import Testing

@Suite struct ManifestTests {
    static let baseDigest = String(repeating: "a", count: 64)
    static let adapterDigest = String(repeating: "b", count: 64)
    static let runtimeDigest = String(repeating: "c", count: 64)

    static func good() -> Manifest {
        Manifest(
            name: "claims-assistant", version: "1.4.0", created: "2026-11-29T08:00:00Z",
            base: .init(name: "claims-assistant", format: "gguf", path: "base/base.gguf", digest: "sha256:" + baseDigest),
            adapters: [
                .init(name: "claims", path: "adapters/claims/claims.gguf", digest: "sha256:" + adapterDigest, baseDigest: "sha256:" + baseDigest)
            ],
            runtimes: [.init(variant: "cpu-generic", path: "runtime/cpu-generic/", executable: "runtime/cpu-generic/llama-server", requires: [])],
            service: .init(context: 4096, parallel: 4), chunkSize: 64 << 20,
            files: [
                .init(
                    path: "base/base.gguf", size: 100 << 20, mode: "0644", sha256: baseDigest,
                    chunks: [baseDigest, baseDigest], encoding: .stored, storedSize: 100 << 20),
                .init(
                    path: "adapters/claims/claims.gguf", size: 10, mode: "0644", sha256: adapterDigest, chunks: nil, encoding: .stored, storedSize: 10
                ),
                .init(
                    path: "runtime/cpu-generic/llama-server", size: 10, mode: "0755", sha256: runtimeDigest, chunks: nil, encoding: .zstd,
                    storedSize: 7),
            ])
    }

    @Test func encodingIsDeterministicAndRoundTrips() throws {
        let bytes = try Self.good().encoded()
        #expect(try Self.good().encoded() == bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"adapters":"#))
        #expect(text.contains(#""chunk_size":67108864"#))
        #expect(text.contains(#""path":"base/base.gguf""#), "slashes are not escaped")
        #expect(try Manifest.decode(bytes) == Self.good())
    }

    @Test func aSizeNearTwoToTheSixtyFourIsRefusedNotATrap() throws {
        for size in [UInt64.max, UInt64.max - 1, UInt64(Int64.max), Manifest.maximumFileSize + 1] {
            var manifest = Self.good()
            manifest.files[1].size = size
            manifest.files[1].storedSize = size
            manifest.files[1].chunks = nil
            let error = #expect(throws: AirlockError.self) { try Manifest.decode(try manifest.encoded()) }
            #expect(error?.description.contains("more than a file can have") == true, "\(size): \(String(describing: error))")
            #expect(error?.kind == .invalidManifest)
        }
        var sum = Self.good()
        sum.files[2].size = Manifest.maximumFileSize
        sum.files[2].storedSize = Manifest.maximumFileSize
        let error = #expect(throws: AirlockError.self) { try Manifest.decode(try sum.encoded()) }
        #expect(error?.description.contains("add up to more than") == true, "\(String(describing: error))")
    }

    @Test func aManifestNotInItsCanonicalFormIsRefused() throws {
        let bytes = try Self.good().encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        let variants = [
            text.replacingOccurrences(of: #","#, with: #", "#),  // white space
            text.replacingOccurrences(of: #"{"adapters":"#, with: #"{"name":"other","adapters":"#),  // a key twice
            text.replacingOccurrences(of: "base/base.gguf", with: #"base\/base.gguf"#),  // another escape
            text + "\n",
        ]
        for variant in variants {
            let error = #expect(throws: AirlockError.self) { try Manifest.decode(Array(variant.utf8)) }
            #expect(error?.kind == .invalidManifest, "\(variant.prefix(60)): \(String(describing: error))")
        }
        #expect(try Manifest.decode(bytes) == Self.good())
    }

    /// Every manifest string a person will read (status, list, inspect, the audit log) keeps
    /// to its documented character set; a bundle that breaks it is refused naming the field,
    /// and the message shows the bad text escaped.
    @Test func manifestStringsOutsideTheirCharacterSetAreRefused() throws {
        let edits: [(String, (inout Manifest) -> Void, String)] = [
            ("name", { $0.name = "claims\u{1b}[2J" }, "bundle name 'claims\\x1b[2J'"),
            ("base name", { $0.base.name = "=cmd|' /C calc'!A0" }, "the base's bundle name"),
            ("format", { $0.base.format = "gguf\n" }, "base format 'gguf\\x0a'"),
            ("variant", { $0.runtimes[0].variant = "cpu\u{9b}31m" }, "runtime variant 'cpu\\x9b31m'"),
            ("requires", { $0.runtimes[0].requires = ["avx2\r\nx"] }, "requires 'avx2\\x0d\\x0ax'"),
            ("created", { $0.created = "yesterday" }, "created 'yesterday' is not a UTC time"),
            ("context", { $0.service = .init(context: -1, parallel: 4) }, "service settings out of range"),
            (
                "path",
                {
                    $0.files[1].path = "adapters/claims/\u{202e}fdp.gguf"
                    $0.adapters[0].path = $0.files[1].path
                }, "bidirectional formatting character"
            ),
        ]
        for (label, edit, expected) in edits {
            var manifest = Self.good()
            edit(&manifest)
            let error = #expect(throws: AirlockError.self, "\(label)") { try manifest.validate() }
            #expect(error?.description.contains(expected) == true, "\(label): \(String(describing: error))")
            #expect(error?.description.unicodeScalars.allSatisfy(Printable.isPlain) == true, "\(label): the message carries the raw text")
        }
    }

    @Test func refusesGarbageThatIsNotJSON() {
        let error = #expect(throws: AirlockError.self) { try Manifest.decode(Array("PK\u{3}\u{4} not json".utf8)) }
        #expect(error?.description.contains("manifest.json is not a valid manifest") == true)
    }

    @Test func refusesAHugeManifestBeforeParsing() {
        let huge = [UInt8](repeating: UInt8(ascii: " "), count: (32 << 20) + 1)
        let error = #expect(throws: AirlockError.self) { try Manifest.decode(huge) }
        #expect(error?.description.contains("over the 33554432-byte limit") == true)
    }

    @Test func refusesDeepNesting() {
        let deep = Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        let error = #expect(throws: AirlockError.self) { try Manifest.decode(deep) }
        #expect(error?.description.contains("nested deeper than 16") == true)
    }

    @Test func refusesAnUnknownFormat() throws {
        var manifest = Self.good()
        manifest.format = "airlock-bundle/2"
        let error = #expect(throws: AirlockError.self) { try Manifest.decode(try manifest.encoded()) }
        #expect(error?.description.contains("format 'airlock-bundle/2' is not supported") == true)
    }

    @Test(arguments: ["../etc/passwd", "/etc/passwd", "base//x", "base/./x", "a\u{1}b", "a\\b", ""])
    func refusesBadPaths(path: String) {
        var manifest = Self.good()
        manifest.files[1].path = path
        manifest.adapters[0].path = path
        #expect(throws: AirlockError.self) { try manifest.validate() }
    }

    @Test func refusesDuplicatesSetuidModesAndBrokenReferences() {
        var duplicate = Self.good()
        duplicate.files.append(duplicate.files[1])
        #expect(throws: AirlockError.self) { try duplicate.validate() }

        var setuid = Self.good()
        setuid.files[2].mode = "4755"
        #expect(throws: AirlockError.self) { try setuid.validate() }

        var wrongChunks = Self.good()
        wrongChunks.files[0].chunks = [Self.baseDigest]
        #expect(throws: AirlockError.self) { try wrongChunks.validate() }

        var foreignAdapter = Self.good()
        foreignAdapter.adapters[0].baseDigest = "sha256:" + Self.runtimeDigest
        #expect(throws: AirlockError.self) { try foreignAdapter.validate() }

        var storedMismatch = Self.good()
        storedMismatch.files[1].storedSize = 11
        #expect(throws: AirlockError.self) { try storedMismatch.validate() }

        var reserved = Self.good()
        reserved.files[1].path = "manifest.json"
        reserved.adapters[0].path = "manifest.json"
        #expect(throws: AirlockError.self) { try reserved.validate() }
    }
}

@Suite struct BundleSpecTests {
    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "/airlock-spec-\(UUID().uuidString)"
        for file in ["models/base.gguf", "adapters/claims.gguf", "runtime/cpu-generic/llama-server"] {
            let url = URL(fileURLWithPath: path + "/" + file)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        return path
    }

    @Test func parsesTheDesignExample() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spec = try BundleSpec.parse(
            """
            name: claims-assistant          # [a-z0-9-]+
            version: 1.4.0
            base:     { path: models/base.gguf, format: gguf }
            adapters:
              - { name: claims, path: adapters/claims.gguf }
            runtimes:
              - { variant: cpu-generic, path: runtime/cpu-generic/ }
            service:  { context: 4096, parallel: 4 }
            """, directory: directory)
        #expect(spec.name.rawValue == "claims-assistant")
        #expect(spec.version.description == "1.4.0")
        #expect(spec.base == .file(path: directory + "/models/base.gguf", format: "gguf"))
        #expect(spec.adapters.map(\.name) == ["claims"])
        #expect(spec.runtimes.first?.executable == "llama-server")
        #expect(spec.service?.context == 4096)
    }

    @Test func parsesAnAdapterOnlySpec() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let digest = "sha256:" + String(repeating: "0", count: 64)
        let spec = try BundleSpec.parse(
            """
            name: claims-extra
            version: 1.0.0
            base: { digest: \(digest), name: claims-assistant }
            adapters:
              - { name: claims, path: adapters/claims.gguf }
            """, directory: directory)
        #expect(spec.base == .reference(digest: digest, name: "claims-assistant"))
    }

    @Test(arguments: [
        "name: Claims\nversion: 1.0.0\nbase: { path: models/base.gguf }\nruntimes: [{variant: cpu-generic, path: runtime/cpu-generic/}]",
        "name: c\nversion: 1.0\nbase: { path: models/base.gguf }\nruntimes: [{variant: cpu-generic, path: runtime/cpu-generic/}]",
        "name: c\nversion: 1.0.0\nbase: { path: models/missing.gguf }\nruntimes: [{variant: cpu-generic, path: runtime/cpu-generic/}]",
        "name: c\nversion: 1.0.0\nbase: { path: models/base.gguf }",
        "name: c\nversion: 1.0.0\nbase: { path: models/base.gguf, format: onnx }\nruntimes: [{variant: cpu-generic, path: runtime/cpu-generic/}]",
        "name: c\nversion: 1.0.0\nbase: { digest: sha256:nothex, name: c }\nadapters: [{name: a, path: adapters/claims.gguf}]",
        "name: c\nversion: 1.0.0\nbase: { path: models/base.gguf }\nruntimes: [{variant: cpu-generic, path: runtime/empty/}]",
        "- not a mapping",
    ])
    func refusesBadSpecs(text: String) throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: AirlockError.self) { try BundleSpec.parse(text, directory: directory) }
    }

    @Test func aMisspelledSpecKeyIsRefusedNamingTheKnownOne() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spec = """
            name: claims-assistant
            version: 1.4.0
            base: { path: models/base.gguf, format: gguf }
            adaptors:
              - { name: claims, path: adapters/claims.gguf }
            runtimes:
              - { variant: cpu-generic, path: runtime/cpu-generic/ }
            """
        do {
            _ = try BundleSpec.parse(spec, directory: directory, origin: "bundle.yaml")
            Issue.record("a spec with 'adaptors:' was accepted")
        } catch {
            #expect(error.description.hasPrefix("bundle.yaml: unknown key 'adaptors' at the top level (did you mean 'adapters'?"), "\(error)")
        }
        let nested = spec.replacingOccurrences(of: "adaptors:", with: "adapters:").replacingOccurrences(
            of: "variant: cpu-generic,", with: "variant: cpu-generic, require: [avx2],")
        do {
            _ = try BundleSpec.parse(nested, directory: directory, origin: "bundle.yaml")
            Issue.record("a runtime with 'require:' was accepted")
        } catch {
            #expect(error.description.contains("unknown key 'require' in 'runtimes[1]' (did you mean 'requires'?"), "\(error)")
        }
    }
}
