import Foundation
import Systemd
import TestSupport
import Testing

@Suite(.serialized) struct ServiceNotifierTests {
    @Test func readyReachesTheNotifySocket() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("notify.sock")
        let listener = try DatagramListener(path: path)
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }

        let told = try ServiceNotifier().notify("READY=1\nSTATUS=serving claims-assistant 1.4.0")
        #expect(told)
        #expect(listener.receive() == "READY=1\nSTATUS=serving claims-assistant 1.4.0")
    }

    @Test func outsideSystemdNothingIsSent() throws {
        unsetenv("NOTIFY_SOCKET")
        #expect(try ServiceNotifier().notify("READY=1") == false)
        #expect(ServiceNotifier().watchdogInterval == nil)
    }
}

/// A Unix datagram socket bound to a path, standing in for systemd's notify socket.
private final class DatagramListener {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw TestSupportError("bind \(path) failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }
}
