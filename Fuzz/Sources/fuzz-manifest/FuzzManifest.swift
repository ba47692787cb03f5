internal import FuzzDriver

/// libFuzzer's entry for `FuzzTarget.manifest`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { FuzzDriver.test(.manifest, data, size) }

@main
enum FuzzManifest {
    static func main() { FuzzDriver.main(.manifest, fuzzOne) }
}
