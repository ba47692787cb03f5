internal import FuzzDriver

/// libFuzzer's entry for `FuzzTarget.spec`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { FuzzDriver.test(.spec, data, size) }

@main
enum FuzzSpec {
    static func main() { FuzzDriver.main(.spec, fuzzOne) }
}
