// The C library, once for every module that imports AirlockCore (open, stat, flock, …): the
// one platform import header instead of a `#if canImport(Glibc)` block in each file.
#if canImport(Glibc)
@_exported public import Glibc
#elseif canImport(Musl)
@_exported public import Musl
#elseif canImport(Darwin)
@_exported public import Darwin
#endif
