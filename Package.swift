// swift-tools-version: 6.2
// Airlock: signed offline bundles of fine-tuned open-weight models, installed and served
// without network egress, with a tamper-evident audit log. See Docs/architecture.md.
import PackageDescription

/// Settings every Airlock Swift target shares: Swift 6 mode, strict existentials, explicit
/// imports, and warnings as errors (the compiler holds the line; dependencies are not affected).
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let nio: [Target.Dependency] = ["NIOCore", "NIOPosix", "NIOHTTP1"].map { .product(name: $0, package: "swift-nio") }

let package = Package(
    name: "airlock",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "airlock-pack", targets: ["airlock-pack"]),
        .executable(name: "airlock", targets: ["airlock"]),
        .executable(name: "airlock-serve", targets: ["airlock-serve"]),
        .executable(name: "airlock-audit", targets: ["airlock-audit"]),
        /// The four in one program that dispatches on the name it was started by: the Debian
        /// package installs it once as /usr/bin/airlock, the other three as links to it (one copy
        /// of the statically linked Swift runtime instead of four; scripts/package.sh).
        .executable(name: "airlock-multicall", targets: ["airlock-multicall"]),
        /// For the libFuzzer package in Fuzz/ only (its executables call these entries).
        .library(name: "FuzzHarness", targets: ["FuzzHarness"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // MARK: C system libraries and shims (no C type leaves the one Swift target wrapping it)

        /// OpenSSL 3 libcrypto (Debian libssl-dev): digests, signatures, X.509. Wrapped by `Signing`.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        /// libarchive (Debian libarchive-dev): streaming pax tar and zstd. Wrapped by `Archive`.
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        /// libsystemd (Debian libsystemd-dev): sd_notify and the journal. Wrapped by `Systemd`.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        /// C functions for what Swift cannot import: macros and variadic functions, `CAirlockShims_` prefixed.
        .target(name: "CAirlockShims", dependencies: ["COpenSSL", "CArchive", "CSystemd"]),

        // MARK: Libraries, one per concern

        /// The error shape every layer throws, and the on-host layout (every path from one root).
        .target(name: "AirlockCore", swiftSettings: strict),
        /// The one way a YAML file is read: into a Decodable type, refusing unknown keys (naming
        /// the nearest known one), duplicates, wrong kinds of value, anchors and aliases.
        .target(name: "StrictYAML", dependencies: ["AirlockCore", yams], swiftSettings: strict),
        /// Bundle manifest model, canonical bytes, spec file parsing, names and versions.
        .target(name: "BundleFormat", dependencies: ["AirlockCore", "StrictYAML"], swiftSettings: strict),
        /// Digests, keys, signatures, X.509 chains and the trust policy, over OpenSSL 3 only.
        .target(name: "Signing", dependencies: ["AirlockCore", "COpenSSL", "CAirlockShims", "StrictYAML"], swiftSettings: strict),
        /// Streaming tar+zstd write and read and safe extraction, over libarchive.
        .target(name: "Archive", dependencies: ["AirlockCore", "CArchive", "CAirlockShims"], swiftSettings: strict),
        /// What a model or adapter folder must be (Hugging Face safetensors, PEFT LoRA): the
        /// safetensors header reader and the checks run at build and again at verify.
        .target(name: "ModelFormats", dependencies: ["AirlockCore"], swiftSettings: strict),
        /// Whole bundle files: build, co-sign, inspect and verify (the one place that combines
        /// BundleFormat, Signing and Archive); `VerifiedBundle` is what install accepts.
        .target(name: "BundleIO", dependencies: ["AirlockCore", "BundleFormat", "Signing", "Archive", "ModelFormats"], swiftSettings: strict),
        /// The on-host store: atomic install, activation, rollback, host probe.
        .target(
            name: "Store", dependencies: ["AirlockCore", "BundleFormat", "Signing", "BundleIO", "CAirlockShims", "StrictYAML"], swiftSettings: strict),
        /// sd_notify, watchdog and journal over libsystemd; unit rendering.
        /// `Templates` links to the repository's `systemd/` folder: its templates are compiled in.
        .target(
            name: "Systemd", dependencies: ["AirlockCore", "CSystemd"],
            resources: [
                .embedInCode("Templates/airlock-runtime@.service.in"), .embedInCode("Templates/airlock-serve@.service.in"),
                .embedInCode("Templates/airlock.sysusers.conf.in"), .embedInCode("Templates/airlock.tmpfiles.conf.in"),
                .embedInCode("Templates/airlock-audit-seal.service.in"), .embedInCode("Templates/airlock-audit-seal.timer.in"),
                .embedInCode("Templates/airlock-audit-retention.service.in"), .embedInCode("Templates/airlock-audit-retention.timer.in"),
            ],
            swiftSettings: strict),
        /// Everything that talks to an inference engine: the `InferenceEngine` protocol and its
        /// llama-server implementation, launch with an explicit environment, the streaming
        /// Unix-socket client and its connection pool, health, answer events.
        .target(name: "Runtime", dependencies: ["AirlockCore", "CAirlockShims"] + nio, swiftSettings: strict),
        /// The host's API clients: clients.yaml, scrypt-hashed keys, the reloading registry.
        .target(name: "ClientRegistry", dependencies: ["AirlockCore", "Signing", "StrictYAML"], swiftSettings: strict),
        /// The OpenAI-compatible HTTP front over the engine protocol: screening, auth, admission,
        /// the exchange, limits, metrics, audit per request.
        .target(
            name: "Gateway", dependencies: ["AirlockCore", "Runtime", "ClientRegistry", "AuditLog", "Systemd", "Signing", "StrictYAML"] + nio,
            swiftSettings: strict),
        /// Append-only hash-chained audit log, signed checkpoints, search and export.
        .target(name: "AuditLog", dependencies: ["AirlockCore", "Signing", "Systemd", "CAirlockShims", "StrictYAML"], swiftSettings: strict),
        /// Runtime folders a bundle carries, made on the build host: `airlock-pack runtime vllm`
        /// (the pinned locks and the launcher of `runtimes/vllm/`, compiled in).
        .target(
            name: "RuntimeFolders", dependencies: ["AirlockCore", "Runtime", "Signing"],
            exclude: ["VLLM/make-lock.sh", "VLLM/lock-from-report.py", "VLLM/cpu-header.txt", "VLLM/cuda-header.txt"],
            resources: [.embedInCode("VLLM/vllm-cpu.lock.txt"), .embedInCode("VLLM/vllm-cuda.lock.txt"), .embedInCode("VLLM/airlock-vllm.py")],
            swiftSettings: strict),
        /// The host work behind the commands: rendering, writing and (on `--root /`) starting the
        /// systemd units, users and folders; the serving plan of an installed bundle; the audit
        /// timers' state; `status`. Functions return values that tests check in-process.
        .target(
            name: "HostServices",
            dependencies: ["AirlockCore", "BundleFormat", "Store", "Systemd", "Runtime", "Gateway", "ClientRegistry", "AuditLog", "StrictYAML"],
            swiftSettings: strict),
        /// Every ArgumentParser command of the four executables, shared options and output.
        .target(
            name: "AirlockCommands",
            dependencies: [
                argumentParser, "AirlockCore", "BundleFormat", "Signing", "BundleIO", "Store",
                "Systemd", "Runtime", "ClientRegistry", "Gateway", "AuditLog", "HostServices", "RuntimeFolders",
            ],
            swiftSettings: strict
        ),

        // MARK: Executables: entry points only

        .executableTarget(name: "airlock-pack", dependencies: ["AirlockCommands"], swiftSettings: strict),
        .executableTarget(name: "airlock", dependencies: ["AirlockCommands"], swiftSettings: strict),
        .executableTarget(name: "airlock-serve", dependencies: ["AirlockCommands"], swiftSettings: strict),
        .executableTarget(name: "airlock-audit", dependencies: ["AirlockCommands"], swiftSettings: strict),
        .executableTarget(name: "airlock-multicall", dependencies: ["AirlockCommands"], swiftSettings: strict),

        // MARK: Tests

        /// Locates the real test parts (llama-server, demo model, systemd container) for every test target.
        .target(
            name: "TestSupport", dependencies: ["AirlockCore", "Runtime", "Signing", "BundleFormat", "BundleIO"], path: "Tests/TestSupport",
            swiftSettings: strict),
        /// The fuzz targets (the parsers of outside bytes, one entry and its checks each) and their
        /// seed corpora: called by the libFuzzer executables of Fuzz/ and by `FuzzHarnessTests`.
        .target(
            name: "FuzzHarness", dependencies: ["AirlockCore", "BundleFormat", "Archive", "AuditLog", "Gateway", "Runtime"],
            path: "Tests/FuzzHarness", swiftSettings: strict),
        /// Every seed and every kept fuzzer finding (Tests/Fuzz/Regressions/) through its target.
        .testTarget(name: "FuzzHarnessTests", dependencies: ["FuzzHarness"], swiftSettings: strict),
        .testTarget(name: "AirlockCoreTests", dependencies: ["AirlockCore"], swiftSettings: strict),
        .testTarget(name: "StrictYAMLTests", dependencies: ["StrictYAML", "AirlockCore"], swiftSettings: strict),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "AirlockCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "BundleFormatTests", dependencies: ["BundleFormat", "AirlockCore"], swiftSettings: strict),
        .testTarget(name: "SigningTests", dependencies: ["Signing", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "BundleIOTests", dependencies: ["BundleIO", "TestSupport"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "SystemdTests", dependencies: ["Systemd", "TestSupport", "AuditLog", "Signing"], swiftSettings: strict),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport", "BundleFormat", "BundleIO", "Signing"], swiftSettings: strict),
        .testTarget(
            name: "RuntimeTests",
            dependencies: [
                "Runtime", "TestSupport", "AirlockCore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "AirlockCommandsTests",
            dependencies: [
                "AirlockCommands", "HostServices", argumentParser, "AirlockCore", "BundleFormat", "BundleIO", "Signing", "Store", "Systemd",
                "TestSupport",
            ],
            swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "AirlockCore", "Signing", "AuditLog"], swiftSettings: strict),
        .testTarget(name: "AuditLogTests", dependencies: ["AuditLog", "TestSupport", "Signing"], swiftSettings: strict),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "Runtime", "TestSupport"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(
            name: "ClientRegistryTests",
            dependencies: ["ClientRegistry", "AirlockCommands", argumentParser, "AirlockCore", "Signing", "TestSupport"], swiftSettings: strict),
    ]
)
