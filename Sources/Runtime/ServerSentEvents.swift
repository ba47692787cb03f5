/// Splits the runtime's server-sent events into their `data:` payloads as bytes arrive (an
/// event may span reads; one read may hold several events).
public struct ServerSentEvents: Sendable {
    private var buffer: [UInt8] = []
    /// Largest event accepted; the runtime's are a few hundred bytes.
    public let limit: Int

    public init(limit: Int = 1 << 20) { self.limit = limit }

    /// The complete events' data so far.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(RuntimeCallError) -> [[UInt8]] {
        buffer += bytes
        var events: [[UInt8]] = []
        var start = 0
        var index = 0
        while index + 1 < buffer.count {
            if buffer[index] == 0x0A, buffer[index + 1] == 0x0A {
                if let data = Self.data(of: buffer[start..<index]) { events.append(data) }
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        buffer.removeFirst(start)
        guard buffer.count <= limit else { throw .brokeOff("an event is larger than \(limit) bytes") }
        return events
    }

    /// The `data:` lines of one event, joined by newlines (SSE's rule); nil for none.
    private static func data(of event: ArraySlice<UInt8>) -> [UInt8]? {
        var result: [UInt8]?
        for line in event.split(separator: 0x0A, omittingEmptySubsequences: true) {
            let prefix = Array("data:".utf8)
            guard line.starts(with: prefix) else { continue }
            var payload = line.dropFirst(prefix.count)
            if payload.first == 0x20 { payload = payload.dropFirst() }
            if result == nil { result = Array(payload) } else { result! += [0x0A] + payload }
        }
        return result
    }
}
