#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif
internal import CFuzzDriver
public import FuzzHarness

/// The `main` and the per-input function of every fuzz executable.
public enum FuzzDriver {
    /// `fuzz-TARGET --write-seeds DIR` writes the target's seed corpus into DIR and exits;
    /// anything else is libFuzzer's command line (`fuzz-TARGET -max_total_time=60 CORPUS`).
    public static func main(_ target: FuzzTarget, _ testOne: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "--write-seeds" {
            do {
                try target.writeSeeds(to: arguments[2])
                exit(0)
            } catch {
                print("fuzz-\(target.rawValue): cannot write seeds to \(arguments[2]): \(error)")
                exit(1)
            }
        }
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOne))
    }

    /// One input: 0 for libFuzzer, or a crash when a check is broken (libFuzzer keeps the input).
    public static func test(_ target: FuzzTarget, _ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let outcome = target.run(UnsafeBufferPointer(start: size > 0 ? data : nil, count: size))
        if case .broken(let problem) = outcome { fatalError("fuzz-\(target.rawValue): \(problem)") }
        return 0
    }
}
