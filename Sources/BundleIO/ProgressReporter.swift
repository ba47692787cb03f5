internal import AirlockCore
internal import Foundation

/// Progress of long work (bytes, rate, time left) on standard error, redrawn at most a few times
/// a second, and only when standard error is a terminal: logs and scripts stay clean.
public final class ProgressReporter: @unchecked Sendable {
    private var label = ""
    private var total: Int64 = 0
    private var done: Int64 = 0
    private var started = ContinuousClock.now
    private var lastDraw = ContinuousClock.now
    private let enabled: Bool

    /// Reports only if standard error is a terminal, unless `force`.
    public init(force: Bool = false) {
        enabled = force || isatty(2) == 1
    }

    public func begin(_ label: String, total: Int64) {
        self.label = label
        self.total = total
        done = 0
        started = .now
        lastDraw = .now
    }

    public func advance(by bytes: Int64) {
        done += bytes
        guard enabled, ContinuousClock.now - lastDraw > .milliseconds(200) else { return }
        lastDraw = .now
        draw(final: false)
    }

    public func end() {
        if enabled { draw(final: true) }
    }

    private func draw(final: Bool) {
        let elapsed = (ContinuousClock.now - started).inSeconds
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let left = rate > 0 ? Double(total - done) / rate : 0
        let percent = total > 0 ? Int(Double(done) * 100 / Double(total)) : 100
        var line = "\r\(label): \(Self.bytes(done)) of \(Self.bytes(total)) (\(percent)%), \(Self.bytes(Int64(rate)))/s"
        line += final ? ", \(String(format: "%.1f", elapsed)) s\u{1B}[K\n" : ", \(Int(left)) s left\u{1B}[K"
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func bytes(_ count: Int64) -> String { ByteCount.text(count) }
}
