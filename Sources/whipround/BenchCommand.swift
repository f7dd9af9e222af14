import ArgumentParser
import Foundation
import WhipBench
import WhipCore
import WhipNet
import WhipNode
import WhipSync

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure bulk ingest, single-pledge latency, size per event and memory; prints each figure beside its bound.",
        discussion: """
            Build with `swift build -c release` first; figures are recorded in docs/BENCHMARKS.md. Scratch nodes are made \
            under --data DIR (default $TMPDIR/whipround-bench), each run in its own run-PID-… directory that it removes \
            when it ends or is interrupted; a run also removes those that killed runs left. Counts go up to 10,000,000.
            """)

    @OptionGroup var node: NodeOptions
    @Option(help: "Events for the bulk ingest (or the initial sync, with --network or --scheduling).") var events: Int = 100_000
    @Option(help: "Single-pledge latency samples.") var samples: Int = 300
    @Option(help: "Also measure peak memory while ingesting this many events (e.g. 1000000), in a separate process run.")
    var memoryEvents: Int = 0
    @Option(help: "Pledges in the campaign listed and exported by this binary, each command in its own process (0 skips it).")
    var listPledges: Int = 50_000
    @Option(help: "Version-2 pledges with personal parts, ingested against as many version-1 pledges (0 skips it).")
    var partsPledges: Int = 50_000
    @Flag(help: "Only the memory measurement (so its peak RSS is not the bulk run's).") var memoryOnly = false
    @Flag(help: "Network figures instead: initial sync over loopback beside bulk ingest, and reconciliation of 1M-item sets.")
    var network = false
    @Flag(help: "Scheduling delay instead: how late a task waking every 10 ms wakes during an initial sync of --events events over loopback.")
    var scheduling = false
    @Flag(
        help:
            "Pledge desk figures instead: pledges through the HTTP API from --desks desks at once beside Node.emit, the delay to another page's live update, page weight and the web server's memory."
    )
    var web = false
    @Flag(
        help:
            "Web page figures instead: the organiser console's pledge list of --list-pledges pledges (50000 by default), and the public campaign page of --page-pledges pledges under wrk beside a fixed-string route."
    )
    var pages = false
    @Option(help: "Pledges in the campaign whose public page is loaded (with --pages).") var pagePledges: Int = 10_000
    @Option(help: "Seconds of each wrk run (with --pages).") var loadSeconds: Int = 10
    @Option(help: "Pledges posted by the desks (with --web).") var webPledges: Int = 2_000
    @Option(help: "Desks posting at once (with --web).") var desks: Int = 20
    @Option(help: "Items per side for the reconciliation figures (with --network; 0 skips them).") var reconcileItems: Int = 1_000_000
    @Option(help: "Largest logical reconciliation message, in bytes (sent in frames of at most 65,000).")
    var reconcileFrame: Int = SyncParameters().frameLimit
    @Option(help: "Nodes in the propagation mesh (with --network; 0 skips it).") var meshNodes: Int = 20
    @Option(help: "Peers each mesh node dials.") var meshDegree: Int = 3
    @Option(help: "New events timed across the mesh.") var meshEvents: Int = 100
    @Option(help: "With --network: measure an idle daemon's memory holding this many events (e.g. 1000000); 0 skips it.")
    var idleEvents: Int = 0

    /// The largest count any option takes: more would not fit in memory, and the figures do not need it.
    static let maxCount = 10_000_000

    /// Refuses --web counts that would divide by zero or open more desks than the node's limits allow.
    func check(webPledges: Int, desks: Int) throws(WhipError) {
        guard (1...1_000).contains(desks) else { throw WhipError(.invalidArgument, "--desks must be from 1 to 1000 (it is \(desks))") }
        guard webPledges >= desks, webPledges <= 1_000_000 else {
            throw WhipError(.invalidArgument, "--web-pledges must be from --desks (\(desks)) to 1000000 (it is \(webPledges))")
        }
    }

    /// Refuses counts that would crash the benchmark (zero or negative sizes, divisions by zero) or exhaust memory.
    func check() throws(WhipError) {
        func count(_ name: String, _ value: Int, min: Int) throws(WhipError) {
            guard value >= min, value <= BenchCommand.maxCount else {
                throw WhipError(.invalidArgument, "--\(name) must be from \(min) to \(BenchCommand.maxCount) (it is \(value))")
            }
        }
        if scheduling {
            try count("events", events, min: 1)
        } else if network {
            try count("events", events, min: 0)
            try count("reconcile-items", reconcileItems, min: 0)
            try count("mesh-nodes", meshNodes, min: 0)
            try count("idle-events", idleEvents, min: 0)
            if meshNodes > 0 {
                try count("mesh-degree", meshDegree, min: 1)
                try count("mesh-events", meshEvents, min: 1)
                guard meshNodes > meshDegree else { throw WhipError(.invalidArgument, "--mesh-nodes must exceed --mesh-degree") }
            }
        } else {
            try count("memory-events", memoryEvents, min: memoryOnly ? 1 : 0)
            if !memoryOnly {
                try count("events", events, min: 1)
                try count("list-pledges", listPledges, min: 0)
                try count("parts-pledges", partsPledges, min: 0)
                try count("samples", samples, min: 1)
            }
        }
        if let data = node.data { _ = try DataDir(path: data.isEmpty ? "" : data).check() }
    }

    func run() async throws {
        try check()
        // Scratch directories go under --data DIR when given (see BenchDirectory); a run cleans up after itself,
        // on SIGINT/SIGTERM too, and the next run removes what a killed one left.
        let parent = node.data.map { DataDir.resolve(flag: $0).path } ?? BenchDirectory.defaultParent
        let signals = BenchDirectory.removeOnSignal(parent: parent)
        defer { signals.forEach { $0.cancel() } }
        if pages {
            guard (1...10_000_000).contains(listPledges), (1...10_000_000).contains(pagePledges), (1...600).contains(loadSeconds) else {
                throw WhipError(.invalidArgument, "--list-pledges and --page-pledges must be 1 to 10000000, --load-seconds 1 to 600")
            }
            try await PagesBench.run(
                listPledges: listPledges, pagePledges: pagePledges, seconds: loadSeconds, parent: parent, logger: node.logger()
            ) { print($0) }
            return
        }
        if web {
            try check(webPledges: webPledges, desks: desks)
            try await WebBench.run(pledges: webPledges, desks: desks, parent: parent, logger: node.logger()) { print($0) }
            return
        }
        if scheduling {
            try await SchedulingBench.run(events: events, parent: parent, logger: node.logger()) { print($0) }
            return
        }
        if network {
            if events > 0 {
                try await NetBench.run(events: events, parent: parent, logger: node.logger()) { print($0) }
            }
            if reconcileItems > 0 {
                let parameters = try SyncParameters(frameLimit: reconcileFrame)
                ReconcileBench.run(items: reconcileItems, differences: [1, 10, 1_000, 10_000], parameters: parameters) { print("reconcile: \($0)") }
            }
            if meshNodes > 0 {
                try await NetBench.mesh(nodes: meshNodes, degree: meshDegree, events: meshEvents, parent: parent, logger: node.logger()) {
                    print($0)
                }
            }
            if idleEvents > 0 {
                let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
                try await NetBench.idleMemory(events: idleEvents, executable: me, parent: parent, logger: node.logger()) { print($0) }
            }
            return
        }
        var o = Bench.Options()
        o.events = events
        o.latencySamples = samples
        o.memoryEvents = memoryEvents
        o.directory = parent
        o.listPledges = listPledges
        o.partsPledges = partsPledges
        o.executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        if memoryOnly {
            try Bench.runMemoryOnly(o, logger: node.logger()) { print($0) }
        } else {
            try Bench.run(o, logger: node.logger()) { print($0) }
        }
    }
}
