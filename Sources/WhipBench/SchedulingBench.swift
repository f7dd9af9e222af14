import Foundation
public import Logging
import ServiceLifecycle
import Synchronization
import WhipCore
import WhipCrypto
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore

/// `whipround bench --scheduling`: how late a trivial async task wakes while a large import runs through the
/// daemon's path, the figure that says whether an HTTP handler in the same process would still be served.
public enum SchedulingBench {
    /// The ticker's period.
    static let period: Duration = .milliseconds(10)

    /// Scheduling delays of a ticker that wakes every `period`, in milliseconds, sorted.
    struct Delays: Sendable {
        var late: [Double] = []
        /// The most delayed wake-up: how late (ms), and when it was due from the start of the measurement.
        var worst: (late: Double, at: Duration) = (0, .zero)

        func percentile(_ p: Double) -> Double {
            late.isEmpty ? .nan : late[min(late.count - 1, Int(Double(late.count) * p))]
        }

        var summary: String {
            String(format: "p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d wake-ups", percentile(0.5), percentile(0.99), late.last ?? .nan, late.count)
        }
    }

    /// Runs `body` while a task on the cooperative pool asks to wake every `period` and records how late it
    /// wakes; returns the body's result and the delays.
    static func measure<T: Sendable>(_ body: () async throws -> T) async throws -> (T, Delays) {
        let stop = Atomic<Bool>(false)
        let ticker = Task {
            let clock = ContinuousClock()
            let start = clock.now
            var delays = Delays()
            while !stop.load(ordering: .relaxed) {
                let deadline = clock.now + period
                try? await clock.sleep(until: deadline, tolerance: .zero)
                let late = clock.now - deadline
                let ms = Double(late.components.seconds) * 1e3 + Double(late.components.attoseconds) / 1e15
                delays.late.append(ms)
                if ms > delays.worst.late { delays.worst = (ms, deadline - start) }
            }
            delays.late.sort()
            return delays
        }
        let result: T
        do {
            result = try await body()
        } catch {
            stop.store(true, ordering: .relaxed)
            _ = await ticker.value
            throw error
        }
        stop.store(true, ordering: .relaxed)
        return (result, await ticker.value)
    }

    /// Prints the same-run bounds, the ticker's delays on an idle process, then its delays during an initial sync
    /// of `events` events between two nodes in this process over loopback: a `PeerListener` serving one node's
    /// `Exchange`, `PeerSession.syncOnce` pulling into the other's. Both ends run on this process's
    /// cooperative pool, as a hub's sessions do: one end reads and sends, the other verifies and commits.
    public static func run(events: Int, parent: String? = nil, logger: Logger, print out: @escaping @Sendable (String) -> Void) async throws {
        let base = try BenchDirectory.make(parent: parent ?? BenchDirectory.defaultParent, label: "scheduling")
        defer { try? FileManager.default.removeItem(atPath: base) }
        out("whipround bench --scheduling: \(events) events, \(System.coreCount) cores, libsodium \(Sodium.version)")
        let (source, community, campaign) = try Bench.setUp(base + "/source", logger: logger)
        let target = try Node.initialise(dir: DataDir(path: base + "/target"), name: "target", logger: logger)
        _ = try target.join(source.invite(community))
        _ = try source.grant(community, member: target.identity.publicKey, role: .collector, expires: nil)

        let now = Dates.nowMs()
        let wires = Bench.pledges(events, community: community.id, campaign: campaign, author: source.identity, start: now + 1_000)
        _ = try Bench.bounds(wires, base: base, print: out)
        let batches = stride(from: 0, to: wires.count, by: Node.importBatch).map { Array(wires[$0..<min(wires.count, $0 + Node.importBatch)]) }
        let setUp = try source.store.ingest(batches: batches, source: .bundle, now: now)
        precondition(setUp.accepted == events)

        let (_, idle) = try await measure { try await Task.sleep(for: .seconds(1)) }
        out("bound: scheduling delay of a task waking every 10 ms, idle: " + idle.summary)

        let (listening, group, running) = try await NetBench.listen(source, logger: logger)
        let exchange = try Exchange(node: target, logger: logger)
        let creds = try NodeCredentials(node: target)
        let address = HostPort(host: "127.0.0.1", port: listening)

        let start = ContinuousClock.now
        // When each phase of the sync began, to say in which one the worst wake-up fell.
        let phases = Mutex<[(at: Duration, phase: String)]>([])
        let (report, busy) = try await measure {
            try await PeerSession.syncOnce(
                address: address, community: community.id, exchange: exchange, credentials: creds, settings: SessionSettings(), logger: logger
            ) { p in
                let at = ContinuousClock.now - start
                phases.withLock { if $0.last?.phase != p.phase.rawValue { $0.append((at, p.phase.rawValue)) } }
            }
        }
        let elapsed = ContinuousClock.now - start
        await group.triggerGracefulShutdown()
        try await running.value
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        out(
            String(
                format: "initial sync of %d events over loopback, both nodes in this process: %.2f s = %.0f events/s",
                report.received.accepted, seconds, Double(report.received.accepted) / seconds))
        out("scheduling delay of a task waking every 10 ms during that sync: " + busy.summary + " (goal p99 < 20 ms)")
        let during = phases.withLock { p in p.last { $0.at <= busy.worst.at }?.phase ?? "connecting" }
        out(
            String(
                format: "the most delayed wake-up, %.1f ms late, was due %.2f s into the sync, while %@", busy.worst.late,
                Double(busy.worst.at.components.seconds) + Double(busy.worst.at.components.attoseconds) / 1e18, during))
    }
}
