import ArgumentParser
import Foundation
import WhipDaemon
import WhipNode
import WhipSync

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure bulk ingest, single-pledge latency, size per event and memory; prints each figure beside its bound.",
        discussion: "Build with `swift build -c release` first; figures are recorded in docs/BENCHMARKS.md.")

    @OptionGroup var node: NodeOptions
    @Option(help: "Events for the bulk ingest.") var events: Int = 100_000
    @Option(help: "Single-pledge latency samples.") var samples: Int = 300
    @Option(help: "Also measure peak memory while ingesting this many events (e.g. 1000000), in a separate process run.")
    var memoryEvents: Int = 0
    @Flag(help: "Only the memory measurement (so its peak RSS is not the bulk run's).") var memoryOnly = false
    @Flag(help: "Network figures instead: initial sync over loopback beside bulk ingest, and reconciliation of 1M-item sets.")
    var network = false
    @Option(help: "Items per side for the reconciliation figures (with --network; 0 skips them).") var reconcileItems: Int = 1_000_000
    @Option(help: "Largest logical reconciliation message, in bytes (sent in frames of at most 65,000).")
    var reconcileFrame: Int = SyncParameters().frameLimit
    @Option(help: "Nodes in the propagation mesh (with --network; 0 skips it).") var meshNodes: Int = 20
    @Option(help: "Peers each mesh node dials.") var meshDegree: Int = 3
    @Option(help: "New events timed across the mesh.") var meshEvents: Int = 100
    @Option(help: "With --network: measure an idle daemon's memory holding this many events (e.g. 1000000); 0 skips it.")
    var idleEvents: Int = 0

    func run() async throws {
        if network {
            if events > 0 {
                try await NetBench.run(events: events, logger: node.logger()) { print($0) }
            }
            if reconcileItems > 0 {
                let parameters = try SyncParameters(frameLimit: reconcileFrame)
                ReconcileBench.run(items: reconcileItems, differences: [1, 10, 1_000, 10_000], parameters: parameters) { print("reconcile: \($0)") }
            }
            if meshNodes > 0 {
                guard meshNodes > meshDegree, meshDegree >= 1 else {
                    throw ValidationError("--mesh-nodes must exceed --mesh-degree, which must be at least 1")
                }
                try await NetBench.mesh(nodes: meshNodes, degree: meshDegree, events: meshEvents, logger: node.logger()) { print($0) }
            }
            if idleEvents > 0 {
                let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
                try await NetBench.idleMemory(events: idleEvents, executable: me, logger: node.logger()) { print($0) }
            }
            return
        }
        var o = Bench.Options()
        o.events = events
        o.latencySamples = samples
        o.memoryEvents = memoryEvents
        if memoryOnly {
            try Bench.runMemoryOnly(o, logger: node.logger()) { print($0) }
        } else {
            try Bench.run(o, logger: node.logger()) { print($0) }
        }
    }
}
