internal import FuzzDriver

/// libFuzzer's entry for `FuzzTarget.audit`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { FuzzDriver.test(.audit, data, size) }

@main
enum FuzzAudit {
    static func main() { FuzzDriver.main(.audit, fuzzOne) }
}
