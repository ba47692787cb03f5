internal import FuzzDriver

/// libFuzzer's entry for `FuzzTarget.tar`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { FuzzDriver.test(.tar, data, size) }

@main
enum FuzzTar {
    static func main() { FuzzDriver.main(.tar, fuzzOne) }
}
