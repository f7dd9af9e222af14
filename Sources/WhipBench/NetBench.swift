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
import WhipSync

/// The network figures behind `whipround bench --network`, each beside a bound measured in the same run.
public enum NetBench {
    /// Initial sync of `events` events from one node to an empty one over loopback, beside the ledger's own
    /// bulk-ingest rate for the same events; then reconciliation figures over 1,000,000-item sets.
    public static func run(
        events: Int, parent: String? = nil, logger: Logger, print out: @escaping @Sendable (String) -> Void
    ) async throws {
        let base = try BenchDirectory.make(parent: parent ?? BenchDirectory.defaultParent, label: "netbench")
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

        let (listening, group, running) = try await NetBench.listen(source, logger: logger)

        let exchange = try Exchange(node: target, logger: logger)
        let creds = try NodeCredentials(node: target)
        let clock = ContinuousClock()
        let start = clock.now
        let report = try await PeerSession.syncOnce(
            address: HostPort(host: "127.0.0.1", port: listening), community: community.id, exchange: exchange, credentials: creds,
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

    }
}

extension NetBench {
    /// Propagation in a mesh of `nodes` daemons over loopback, each dialling `degree` random others: for each of
    /// `events` new pledges, made on a random node, the time until every node has committed it; and the bytes
    /// all nodes sent meanwhile, per event per node, beside the event's own size.
    public static func mesh(
        nodes count: Int, degree: Int, events: Int, parent: String? = nil, logger: Logger,
        print out: @escaping @Sendable (String) -> Void
    ) async throws {
        precondition(count > degree && degree >= 1)
        let base = try BenchDirectory.make(parent: parent ?? BenchDirectory.defaultParent, label: "mesh")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (first, community, campaign) = try Bench.setUp(base + "/node0", logger: logger)
        var nodes = [first]
        for i in 1..<count {
            let n = try Node.initialise(dir: DataDir(path: base + "/node\(i)"), name: "node\(i)", logger: logger)
            _ = try n.join(first.invite(community))
            _ = try first.grant(community, member: n.identity.publicKey, role: .collector, expires: nil)
            nodes.append(n)
        }
        let replicas = try nodes.map { try Exchange(node: $0, logger: logger) }

        // Every node listens; then each dials `degree` others chosen at random.
        var listeners: [ServiceGroup] = []
        var ports: [Int] = []
        var running: [Task<Void, any Error>] = []
        for (i, r) in replicas.enumerated() {
            var config = DaemonConfig()
            config.listen = HostPort(host: "127.0.0.1", port: 0)
            config.limits.maxConnectionsPerAddress = count  // every node is 127.0.0.1 here
            let port = Mutex(0)
            let l = PeerListener(config: config, exchange: r, credentials: try NodeCredentials(node: nodes[i]), logger: logger) { p in
                port.withLock { $0 = p }
            }
            let g = ServiceGroup(services: [l], logger: logger)
            running.append(Task { try await g.run() })
            listeners.append(g)
            while port.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
            ports.append(port.withLock { $0 })
        }
        var dialers: [ServiceGroup] = []
        var rng = SystemRandomNumberGenerator()
        for (i, r) in replicas.enumerated() {
            var config = DaemonConfig()
            config.timers.reconnectMin = 0.2
            let others = Array((0..<count).filter { $0 != i }.shuffled(using: &rng).prefix(degree))
            config.peers = others.map { HostPort(host: "127.0.0.1", port: ports[$0]) }
            let g = ServiceGroup(
                services: [PeerDialer(config: config, exchange: r, credentials: try NodeCredentials(node: nodes[i]), logger: logger)],
                logger: logger)
            running.append(Task { try await g.run() })
            dialers.append(g)
        }
        defer {
            for t in running { t.cancel() }
        }

        // Watch every node's commits through a session slot of its own.
        final class Arrivals: Sendable {
            let times = Mutex<[EventID: [ContinuousClock.Instant]]>([:])
        }
        let arrivals = Arrivals()
        var watchers: [Task<Void, Never>] = []
        for r in replicas {
            let box = Mailbox(capacity: 1 << 20, maxPendingIDs: 1 << 20)
            _ = r.sessions.register(box, community: community.id, outbound: false)
            watchers.append(
                Task {
                    while !Task.isCancelled {
                        guard case .local(let ids, _) = await box.next() else { continue }
                        let t = ContinuousClock.now
                        arrivals.times.withLock { a in for id in ids { a[id, default: []].append(t) } }
                    }
                })
        }
        defer {
            for w in watchers { w.cancel() }
        }

        // Wait until every node holds the founder's events and every dialled session is live.
        let setupEvents = try first.store.eventCount()
        let clock = ContinuousClock()
        let setupDeadline = clock.now + .seconds(60)
        while clock.now < setupDeadline {
            let counts = try nodes.map { try $0.store.eventCount() }
            let live = replicas.reduce(0) { $0 + $1.liveSessions }
            if counts.allSatisfy({ $0 == setupEvents }) && live >= count * degree { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let liveSessions = replicas.reduce(0) { $0 + $1.liveSessions }
        out("mesh: \(count) nodes, each dialling \(degree) others: \(liveSessions) live session ends, \(setupEvents) events everywhere")

        // Warm-up events let pushes settle onto a tree, as they do in a running network; they are not counted.
        let gbp = Currency(code: "GBP")!
        func pledge(_ i: Int, on n: Int) async throws -> (EventID, Int) {
            let e = try await nodes[n].emit(
                community.id,
                .pledgeMade(PledgeMade(campaign: campaign, backerName: "Mesh \(i)", anonymous: false, amount: 500, currency: gbp, channel: .inPerson))
            )
            try await replicas[n].poll()
            return (e.id, e.wire.count)
        }
        func waitEverywhere(_ id: EventID, since t0: ContinuousClock.Instant) async throws -> Duration? {
            let deadline = clock.now + .seconds(10)
            while clock.now < deadline {
                let times = arrivals.times.withLock { $0[id] ?? [] }
                if times.count >= count { return times.max()! - t0 }
                try await Task.sleep(for: .microseconds(200))
            }
            return nil
        }
        let warmUp = 20
        let warmBefore = replicas.reduce(0) { $0 + bytesSent($1).values.reduce(0, +) }
        var warmSizes = 0
        for i in 0..<warmUp {
            let (id, size) = try await pledge(-i, on: Int.random(in: 0..<count))
            warmSizes += size
            _ = try await waitEverywhere(id, since: clock.now)
        }
        try await Task.sleep(for: .milliseconds(200))
        let warmPerNode = Double(replicas.reduce(0) { $0 + bytesSent($1).values.reduce(0, +) } - warmBefore) / Double(warmUp * count)
        out(
            String(
                format: "mesh warm-up (first %d events, links still settling onto the push tree): %.0f B per event per node = %.2fx the event",
                warmUp, warmPerNode, warmPerNode / (Double(warmSizes) / Double(warmUp))))

        let typesBefore = replicas.map(bytesSent)
        let bytesBefore = typesBefore.reduce(0) { $0 + $1.values.reduce(0, +) }
        var latencies: [Double] = []
        var sizes = 0
        var lost = 0
        for i in 0..<events {
            let t0 = clock.now
            let (id, size) = try await pledge(i, on: Int.random(in: 0..<count))
            sizes += size
            if let d = try await waitEverywhere(id, since: t0) {
                latencies.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
            } else {
                lost += 1
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(200))  // let the last acks land
        let typesAfter = replicas.map(bytesSent)
        let bytes = typesAfter.reduce(0) { $0 + $1.values.reduce(0, +) } - bytesBefore
        var byType: [String: Int] = [:]
        for (after, before) in zip(typesAfter, typesBefore) {
            for (t, n) in after { byType[t, default: 0] += n - (before[t] ?? 0) }
        }
        let split = byType.filter { $0.value > 0 }.sorted { $0.value > $1.value }.map { t, n in
            String(format: "%@ %.0f B", t, Double(n) / Double(events * count))
        }
        latencies.sort()
        func pct(_ p: Double) -> Double { latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000 }
        let eventSize = Double(sizes) / Double(events)
        let perNode = Double(bytes) / Double(events * count)
        out(
            String(
                format:
                    "mesh propagation of %d events to all %d nodes: p50 %.1f ms, p99 %.1f ms, max %.1f ms (goal p99 < 1000 ms); %d not everywhere within 10 s",
                events, count, pct(0.5), pct(0.99), latencies.last.map { $0 * 1000 } ?? .nan, lost))
        out(
            String(
                format:
                    "mesh bytes sent per event per node: %.0f B = %.2fx the event's %.0f B (goal < 2x; frames, Noise tags, acks and ids included)",
                perNode, perNode / eventSize, eventSize))
        out("mesh bytes per event per node by message: " + split.joined(separator: ", "))

        for g in dialers { await g.triggerGracefulShutdown() }
        for g in listeners { await g.triggerGracefulShutdown() }
        for t in running { _ = try? await t.value }
    }
}

extension NetBench {
    /// Bytes `exchange`'s node has sent to peers (frames with their length prefix), by message type: its
    /// Prometheus counter `whipround_bytes_sent_total{type}`, read from the text a scrape would get.
    static func bytesSent(_ exchange: Exchange) -> [String: Int] {
        let prefix = #"whipround_bytes_sent_total{type=""#
        var out: [String: Int] = [:]
        for line in exchange.metrics.render().split(separator: "\n") where line.hasPrefix(prefix) {
            let parts = line.dropFirst(prefix.count).split(separator: " ")
            guard parts.count == 2, parts[0].hasSuffix(#""}"#), let n = Double(parts[1]) else { continue }
            out[String(parts[0].dropLast(2)), default: 0] += Int(n)
        }
        return out
    }
}

extension NetBench {
    /// Resident memory of an idle `whipround serve` holding `events` events, beside the same daemon on an empty
    /// node, each measured in a fresh process (this binary, `executable`) once it has been idle for `settle` seconds.
    public static func idleMemory(
        events: Int, executable: String, settle: Double = 3, parent: String? = nil, logger: Logger,
        print out: @escaping @Sendable (String) -> Void
    ) async throws {
        let base = try BenchDirectory.make(parent: parent ?? BenchDirectory.defaultParent, label: "idle")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let empty = try Node.initialise(dir: DataDir(path: base + "/empty"), name: "empty", logger: logger)
        _ = try empty.createCommunity(name: "Empty")
        let (full, community, campaign) = try Bench.setUp(base + "/full", logger: logger)
        let now = Dates.nowMs()
        var done = 0
        while done < events {
            let n = min(Node.importBatch, events - done)
            let batch = Bench.pledges(n, community: community.id, campaign: campaign, author: full.identity, start: now + 1_000 + UInt64(done / 4))
            let r = try full.store.ingest(batch, source: .bundle, now: now)
            guard r.accepted == n else { throw WhipError(.internalError, "idle-memory set-up: \(r)") }
            done += n
        }
        let baseline = try await daemonRSS(executable: executable, data: empty.dir.path, settle: settle)
        let loaded = try await daemonRSS(executable: executable, data: full.dir.path, settle: settle)
        out("bound: idle daemon on an empty node: RSS \(baseline.rss / 1_048_576) MB (peak \(baseline.peak / 1_048_576) MB)")
        out(
            "idle daemon holding \(try full.store.eventCount()) events: RSS \(loaded.rss / 1_048_576) MB (goal < 100 MB), "
                + "peak \(loaded.peak / 1_048_576) MB while loading its reconciliation index, ready after \(String(format: "%.1f", loaded.ready)) s")
    }

    /// Starts `serve` on `data`, waits until it is ready and has been idle `settle` seconds, reads its memory, stops it.
    static func daemonRSS(executable: String, data: String, settle: Double) async throws -> (rss: Int, peak: Int, ready: Double) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["serve", "--data", data, "--listen", "127.0.0.1:0", "--metrics", "off", "--log-level", "notice"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        final class Text: Sendable { let value = Mutex("") }
        let text = Text()
        err.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            text.value.withLock { $0 += String(decoding: d, as: UTF8.self) }
        }
        let start = ContinuousClock.now
        try p.run()
        defer {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            err.fileHandleForReading.readabilityHandler = nil
        }
        while !text.value.withLock({ $0.contains("listen.port=") }) {
            guard p.isRunning, ContinuousClock.now - start < .seconds(600) else {
                throw WhipError(.io, "the daemon did not start: \(text.value.withLock { $0 })")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let ready = ContinuousClock.now - start
        try await Task.sleep(for: .milliseconds(Int64(settle * 1000)))
        let status = try String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8)
        func kb(_ key: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(key) }.map { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) ?? 0 } ?? 0
        }
        p.terminate()
        p.waitUntilExit()
        return (kb("VmRSS:") * 1024, kb("VmHWM:") * 1024, Double(ready.components.seconds) + Double(ready.components.attoseconds) / 1e18)
    }
}

extension NetBench {
    /// `node` accepting peers on an ephemeral loopback port in a `ServiceGroup` of its own; end it with
    /// `group.triggerGracefulShutdown()`, then await `running`.
    static func listen(_ node: Node, logger: Logger) async throws -> (port: Int, group: ServiceGroup, running: Task<Void, any Error>) {
        var config = DaemonConfig()
        config.listen = HostPort(host: "127.0.0.1", port: 0)
        let port = Mutex(0)
        let listener = PeerListener(
            config: config, exchange: try Exchange(node: node, logger: logger), credentials: try NodeCredentials(node: node), logger: logger
        ) { p in port.withLock { $0 = p } }
        let group = ServiceGroup(services: [listener], logger: logger)
        let running = Task { try await group.run() }
        while port.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        return (port.withLock { $0 }, group, running)
    }
}
