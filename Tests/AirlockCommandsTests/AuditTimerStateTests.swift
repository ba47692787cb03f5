import Foundation
import Testing

@testable import AirlockCommands
@testable import HostServices

/// What `status` and `doctor` make of systemd's answers about the audit timers, fed exactly what
/// systemd 252 printed in the test container (`systemctl show -p ...` of the timers and their
/// services, `systemctl list-timers --all --output=json`), with the units renamed.
@Suite struct AuditTimerStateTests {
    static let show = """
        Result=success
        Id=airlock-audit-seal.timer
        LoadState=loaded
        ActiveState=active
        SubState=waiting
        UnitFileState=enabled

        Result=success
        ExecMainStartTimestampMonotonic=24533144670
        Id=airlock-audit-seal.service
        LoadState=loaded
        ActiveState=inactive
        SubState=dead
        UnitFileState=static

        Result=success
        Id=airlock-audit-retention.timer
        LoadState=loaded
        ActiveState=inactive
        SubState=dead
        UnitFileState=disabled

        Result=success
        ExecMainStartTimestampMonotonic=0
        Id=airlock-audit-retention.service
        LoadState=loaded
        ActiveState=inactive
        SubState=dead
        UnitFileState=static

        """
    /// The disabled timer is not listed at all; `left` repeats `next` in 252's JSON.
    static let timers = """
        [{"next":1795947328821508,"left":1795947328821508,"last":1795947028810347,"passed":1795947028810347,"unit":"airlock-audit-seal.timer","activates":"airlock-audit-seal.service"}]
        """
    /// The instant both were taken: 2026-11-29T10:13:32Z, 24717.24 s after boot.
    static let clock = SystemdView.Clock(realtime: 1_795_947_212_000_000, monotonic: 24_717_240_000)

    static func rendered(_ flags: [Bool] = [true, true]) -> [AuditTimerServices.State] {
        zip(["seal", "retention"], flags).map {
            AuditTimerServices.State(timer: "airlock-audit-\($0).timer", service: "airlock-audit-\($0).service", rendered: $1)
        }
    }

    @Test func anEnabledTimerShowsItsLastAndNextRunAndADisabledOneIsFlagged() throws {
        let states = SystemdView(show: Self.show, timerList: Self.timers, clock: Self.clock).states(Self.rendered())
        #expect(
            states[0]
                == AuditTimerServices.State(
                    timer: "airlock-audit-seal.timer", service: "airlock-audit-seal.service", rendered: true, enabled: "enabled",
                    active: "active (waiting)", lastRun: "2026-11-29T10:10:28Z", nextRun: "2026-11-29T10:15:28Z", lastResult: "success"))
        #expect(SystemdView.problem(states[0]) == nil)
        #expect(
            states[1]
                == AuditTimerServices.State(
                    timer: "airlock-audit-retention.timer", service: "airlock-audit-retention.service", rendered: true, enabled: "disabled",
                    active: "inactive (dead)", lastRun: nil, nextRun: nil, lastResult: nil), "never run since boot: no result to show")
        #expect(SystemdView.problem(states[1]) == "not enabled (disabled): its service does not run by itself")
    }

    @Test func aRunByHandAfterTheLastTriggerIsTheLastRun() throws {
        // The service started 10 s ago, by `systemctl start`: later than the timer's last trigger.
        let show = Self.show.replacingOccurrences(
            of: "ExecMainStartTimestampMonotonic=24533144670", with: "ExecMainStartTimestampMonotonic=24707240000"
        )
        .replacingOccurrences(
            of: "Result=success\nExecMainStartTimestampMonotonic=2470", with: "Result=exit-code\nExecMainStartTimestampMonotonic=2470")
        let state = SystemdView(show: show, timerList: Self.timers, clock: Self.clock).states(Self.rendered())[0]
        #expect(state.lastRun == "2026-11-29T10:13:22Z")
        #expect(state.lastResult == "exit-code")
    }

    @Test func aTimerSystemdHasNotLoadedOrStartedIsFlagged() throws {
        let notLoaded = Self.show.replacingOccurrences(
            of: "LoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled",
            with: "LoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=")
        let missing = SystemdView(show: notLoaded, timerList: Self.timers, clock: Self.clock).states(Self.rendered())[1]
        #expect(missing.enabled == "not-found")
        #expect(SystemdView.problem(missing) == "not enabled (not-found): its service does not run by itself")

        let stopped = Self.show.replacingOccurrences(of: "UnitFileState=disabled", with: "UnitFileState=enabled")
        let state = SystemdView(show: stopped, timerList: "[]", clock: Self.clock).states(Self.rendered())[1]
        #expect(SystemdView.problem(state) == "enabled but not active (inactive (dead)): nothing runs it until the next boot")
    }

    @Test func aTimerNotRenderedOrWithoutAnswerKeepsOnlyWhatIsKnown() throws {
        let states = SystemdView(show: Self.show, timerList: Self.timers, clock: Self.clock).states(Self.rendered([false, true]))
        #expect(states[0] == Self.rendered([false, true])[0])
        let silent = SystemdView(show: "", timerList: "", clock: Self.clock).states(Self.rendered())
        #expect(silent == Self.rendered())
        #expect(silent.allSatisfy { SystemdView.problem($0) == nil }, "no answer from systemd is no finding")
    }
}
