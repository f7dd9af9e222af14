import Foundation
public import Logging
import ServiceLifecycle
import Synchronization
import WhipCore
import WhipNode
import WhipStore
import WhipSync

/// The network figures behind `whipround bench --network`, each beside a bound measured in the same run.
public enum NetBench {
    /// Initial sync of `events` events from one node to an empty one over loopback, beside the ledger's own
    /// bulk-ingest rate for the same events; then reconciliation figures over 1,000,000-item sets.
    public static func run(events: Int, reconcileItems: Int, logger: Logger, print out: @escaping @Sendable (String) -> Void) async throws {
        let base = NSTemporaryDirectory() + "whipround-netbench-\(getpid())"
        try? FileManager.default.removeItem(atPath: base)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (source, community, campaign) = try Bench.setUp(base + "/source", logger: logger)
        let target = try Node.initialise(dir: DataDir(path: base + "/target"), name: "target", logger: logger)
        _ = try target.join(source.invite(community))
        _ = try source.grant(community, member: target.identity.publicKey, role: .collector, expires: nil)

        let now = Dates.nowMs()
        let wires = Bench.pledges(events, community: community.id, campaign: campaign, author: source.identity, start: now + 1_000)
        let batches = stride(from: 0, to: wires.count, by: Node.importBatch).map { Array(wires[$0..<min(wires.count, $0 + Node.importBatch)]) }
        var ingest = IngestReport()
        let tIngest = try Bench.seconds { ingest = try source.store.ingest(batches: batches, source: .bundle, now: now) }
        precondition(ingest.accepted == events)
        let ingestRate = Double(events) / tIngest
        out("bound: bulk ingest of \(events) events on the source node: \(Int(ingestRate)) events/s")

        var config = DaemonConfig()
        config.listen = HostPort(host: "127.0.0.1", port: 0)
        let port = Mutex(0)
        let listener = PeerListener(
            config: config, replica: try Replica(node: source, logger: logger), credentials: try Daemon.credentials(for: source),
            logger: logger
        ) { p in port.withLock { $0 = p } }
        let group = ServiceGroup(services: [listener], logger: logger)
        let running = Task { try await group.run() }
        while port.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(10)) }

        let replica = try Replica(node: target, logger: logger)
        let creds = try Daemon.credentials(for: target)
        let clock = ContinuousClock()
        let start = clock.now
        let report = try await PeerSession.syncOnce(
            address: HostPort(host: "127.0.0.1", port: port.withLock { $0 }), community: community.id, replica: replica, credentials: creds,
            settings: SessionSettings(), logger: logger)
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        await group.triggerGracefulShutdown()
        try await running.value
        let rate = Double(report.received.accepted) / seconds
        let same = try source.store.communities()[0].digest == target.store.communities()[0].digest
        out(
            String(
                format:
                    "initial sync over loopback (handshake, reconcile, verify, durable commit): %d events in %.2f s = %.0f events/s = %.0f%% of bulk ingest (goal ≥ 80%%); digests %@",
                report.received.accepted, seconds, rate, 100 * rate / ingestRate, same ? "equal" : "DIFFER"))

        if reconcileItems > 0 {
            ReconcileBench.run(items: reconcileItems, differences: [1, 10, 1_000]) { out("reconcile: \($0)") }
        }
    }
}
