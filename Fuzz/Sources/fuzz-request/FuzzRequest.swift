internal import FuzzDriver

/// libFuzzer's entry for `FuzzTarget.request`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { FuzzDriver.test(.request, data, size) }

@main
enum FuzzRequest {
    static func main() { FuzzDriver.main(.request, fuzzOne) }
}
