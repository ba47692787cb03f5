// swift-tools-version: 6.2
// libFuzzer executables over Airlock's parsers of outside bytes (FuzzHarness in the main package).
// A package of its own so that the main build never sees the sanitizer flags; build with
// scripts/fuzz.sh, or:
//   swift build --package-path Fuzz --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xcc -fsanitize=fuzzer-no-link,address
// (lld: SwiftPM links each executable with `--defsym main=<module>_main`, which must win over
// libFuzzer's own `main`; GNU gold fails there. Each executable's `main` hands over to
// libFuzzer's `LLVMFuzzerRunDriver` after its own `--write-seeds DIR` mode.)
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let targets = ["manifest", "spec", "tar", "audit", "request"]

let package = Package(
    name: "airlock-fuzz",
    products: targets.map { .executable(name: "fuzz-\($0)", targets: ["fuzz-\($0)"]) },
    dependencies: [.package(name: "airlock", path: "..")],
    targets: [
        /// libFuzzer's driver entry (`LLVMFuzzerRunDriver`), declared for Swift.
        .target(name: "CFuzzDriver"),
        /// The shared `main`: seeds mode, then libFuzzer; a broken check becomes a crash.
        .target(
            name: "FuzzDriver", dependencies: ["CFuzzDriver", .product(name: "FuzzHarness", package: "airlock")],
            swiftSettings: strict),
    ] + targets.map { .executableTarget(name: "fuzz-\($0)", dependencies: ["FuzzDriver"], swiftSettings: strict) }
)
