import Foundation
import Logging
import Synchronization
import Testing
import WhipBench
import WhipCore
import WhipNode
import WhipStore

/// A hub killed with SIGKILL in the middle of a sync loses none of the events it acknowledged, restarts on the
/// same data with consistent derived tables, and converges with the laptop on the next sync.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CrashTests {
    /// The laptop's campaigns and pledges, which the hub lacks: enough that the sync is still sending when the hub
    /// dies (a third of the way at most), few enough that a debug build runs the test in seconds.
    static let campaigns = 4
    static let pledgesPerCampaign = 4_000
    /// The hub is killed at the first acknowledgement of at least this many events (drawn at random), after a
    /// random pause of up to 40 ms, so it dies at different points of receiving and committing the next batch.
    static let killAfter = 2_000...5_000
    /// No wait in this test lasts longer.
    static let timeout: Duration = .seconds(60)

    /// A `whipround` process whose stdout and stderr are read to their end while it runs; killed when released.
    final class Child {
        final class Output: Sendable {
            let bytes = Mutex((Data(), Data()))
            /// Pipes not yet read to their end.
            let open = Atomic(2)
            let onStderr: (@Sendable (String) -> Void)?
            init(onStderr: (@Sendable (String) -> Void)?) { self.onStderr = onStderr }
            var stdout: String { String(decoding: bytes.withLock { $0.0 }, as: UTF8.self) }
            var stderr: String { String(decoding: bytes.withLock { $0.1 }, as: UTF8.self) }

            /// Reads `pipe` to its end on a thread of its own (blocking reads see EOF reliably).
            func drain(_ pipe: Pipe, stderr: Bool) {
                let handle = pipe.fileHandleForReading
                Thread {
                    while true {
                        let d = handle.availableData
                        if d.isEmpty { break }
                        let all = self.bytes.withLock {
                            if stderr { $0.1 += d } else { $0.0 += d }
                            return stderr ? $0.1 : nil
                        }
                        if let all, let onStderr = self.onStderr { onStderr(String(decoding: all, as: UTF8.self)) }
                    }
                    self.open.subtract(1, ordering: .sequentiallyConsistent)
                }.start()
            }
        }

        let process = Process()
        let output: Output

        /// `onStderr` sees the whole stderr so far each time more arrives, on a reading thread.
        init(_ cli: CLI, _ args: [String], onStderr: (@Sendable (String) -> Void)? = nil) throws {
            output = Output(onStderr: onStderr)
            process.executableURL = CLI.binary
            process.arguments = args
            process.currentDirectoryURL = cli.cwd
            var env = ProcessInfo.processInfo.environment
            env["WHIPROUND_DATA"] = nil
            process.environment = env
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            output.drain(out, stderr: false)
            output.drain(err, stderr: true)
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }

        var pid: Int32 { process.processIdentifier }

        /// Waits until the process has exited and its output is read; false if that took longer than `timeout`.
        func wait(timeout: Duration = CrashTests.timeout) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning || output.open.load(ordering: .sequentiallyConsistent) > 0 {
                if ContinuousClock.now > deadline { return false }
                try await Task.sleep(for: .milliseconds(5))
            }
            return true
        }

        /// The port from the daemon's "ready" log line.
        func port() async throws -> Int {
            let deadline = ContinuousClock.now + CrashTests.timeout
            while ContinuousClock.now < deadline && process.isRunning {
                let text = output.stderr
                if let r = text.range(of: "listen.port="), let p = Int(text[r.upperBound...].prefix { $0.isNumber }) { return p }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("the daemon did not become ready: \(output.stderr)")
            throw CancellationError()
        }
    }

    /// Runs a short command to its end, within the timeout; `daemon`'s log is shown if it does not end.
    @discardableResult
    func run(
        _ cli: CLI, _ args: [String], expect: Int32? = 0, daemon: Child? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLI.Output {
        let c = try Child(cli, args)
        let finished = try await c.wait()
        #expect(
            finished,
            """
            whipround \(args.joined(separator: " ")) did not end within \(Self.timeout) (still running: \(c.process.isRunning)): \
            \(c.output.stderr)\ndaemon log: \(daemon?.output.stderr ?? "-")
            """, sourceLocation: sourceLocation)
        guard finished else { throw CancellationError() }
        let out = CLI.Output(status: c.process.terminationStatus, stdout: c.output.stdout, stderr: c.output.stderr)
        if let expect {
            #expect(out.status == expect, "whipround \(args.joined(separator: " ")): \(out.stderr)", sourceLocation: sourceLocation)
        }
        return out
    }

    /// Events and digest of the node's only community, from `status --json`.
    func status(_ cli: CLI, _ node: String, daemon: Child? = nil) async throws -> (events: Int, digest: String) {
        let s = try await run(cli, ["status", "--data", node, "--json"], daemon: daemon).json()
        let c = try #require((s["communities"] as? [[String: Any]])?.first, "\(s)")
        return (try #require(c["events"] as? Int), try #require(c["digest"] as? String))
    }

    /// The largest `sync.acked=N` of the complete lines in a `--verbose` sync log.
    static func acked(_ log: String) -> Int {
        let complete = log[..<(log.lastIndex(of: "\n") ?? log.startIndex)]
        var best = 0
        for line in complete.split(separator: "\n") where line.contains("peer acknowledged a batch") {
            if let r = line.range(of: "sync.acked="), let n = Int(line[r.upperBound...].prefix { $0.isNumber }) { best = max(best, n) }
        }
        return best
    }

    static func total(_ log: String) -> Int? {
        guard let r = log.range(of: "sync.total=") else { return nil }
        return Int(log[r.upperBound...].prefix { $0.isNumber })
    }

    /// A laptop (the founder) with `campaigns` live campaigns of `pledgesPerCampaign` pledges each, and a hub
    /// that joined by invite, holds a collector role, and has every event but the pledges. Returns the event
    /// counts of both. (The in-process nodes are released on return, before any process opens the same data.)
    func makeNodes(laptop: String, hub: String) throws -> (laptop: Int, hub: Int) {
        let logger = Logger(label: "crash-test") { _ in SwiftLogNoOpLogHandler() }
        let (lap, community, first) = try Bench.setUp(laptop, logger: logger)
        var campaigns = [first]
        for i in 1..<Self.campaigns {
            let created = try lap.emit(
                community.id,
                .campaignCreated(
                    CampaignCreated(
                        title: "Campaign \(i)", description: "", goal: 1_000_000_00, currency: Currency(code: "GBP")!,
                        model: .keepWhatYouRaise, opens: 0, closes: UInt64.max / 2, timeZone: "UTC", organisers: [])))
            try lap.emit(community.id, .campaignPublished(CampaignRef(campaign: created.id)))
            campaigns.append(created.id)
        }
        let hubNode = try Node.initialise(dir: DataDir(path: hub), name: "Hub", logger: logger)
        _ = try hubNode.join(lap.invite(community))
        _ = try lap.grant(community, member: hubNode.identity.publicKey, role: .collector, expires: nil)
        let now = Dates.nowMs()
        let shared = try hubNode.store.ingest(try lap.store.exportEvents(community: community.id), source: .bundle, now: now)
        #expect(shared.notApplied.isEmpty && shared.rejectedCount == 0 && shared.held == 0, "\(shared)")
        // Each campaign's pledges follow the previous campaign's in time (4 per millisecond, from 1 s ahead).
        let n = Self.pledgesPerCampaign
        var wires: [[UInt8]] = []
        for (k, campaign) in campaigns.enumerated() {
            wires += Bench.pledges(n, community: community.id, campaign: campaign, author: lap.identity, start: now + 1_000 + UInt64(k * n / 4 + k))
        }
        // Small batches: the rules keep a batch's new pledges in memory, which is slow in a debug build.
        let batches = stride(from: 0, to: wires.count, by: 500).map { Array(wires[$0..<min(wires.count, $0 + 500)]) }
        let report = try lap.store.ingest(batches: batches, source: .bundle, now: now)
        #expect(report.accepted == wires.count && report.notApplied.isEmpty, "\(report)")
        return (try lap.store.eventCount(), try hubNode.store.eventCount())
    }

    @Test func hubKilledMidSyncKeepsEveryAcknowledgedEvent() async throws {
        let cli = try CLI()
        defer { try? FileManager.default.removeItem(at: cli.cwd) }
        let laptop = cli.path("laptop")
        let hub = cli.path("hub")
        let clock = ContinuousClock()
        let t0 = clock.now
        let (laptopEvents, hubBefore) = try makeNodes(laptop: laptop, hub: hub)
        let setUp = clock.now - t0
        #expect(try await status(cli, hub).events == hubBefore)
        let serve = ["serve", "--data", hub, "--listen", "127.0.0.1:0", "--metrics", "off", "--log-level", "info"]

        // 1. The laptop syncs into the running hub, which is killed soon after an ack of at least `threshold` events.
        var daemon = try Child(cli, serve)
        let port = try await daemon.port()
        final class Kill: Sendable {
            /// The ack after which SIGKILL was sent, and when it was sent.
            let at = Mutex<(acked: Int, time: ContinuousClock.Instant)?>(nil)
        }
        let killed = Kill()
        let hubPID = daemon.pid
        let threshold = Int.random(in: Self.killAfter)
        let pause = UInt32.random(in: 0...40_000)
        let syncStart = clock.now
        let sync = try Child(cli, ["sync", "--data", laptop, "--verbose", "127.0.0.1:\(port)"]) { log in
            let n = CrashTests.acked(log)
            guard n >= threshold else { return }
            killed.at.withLock { at in
                guard at == nil else { return }
                usleep(pause)
                kill(hubPID, SIGKILL)
                at = (n, ContinuousClock.now)
            }
        }
        let syncEnded = try await sync.wait()
        #expect(syncEnded, "the sync did not end within \(Self.timeout): \(sync.output.stderr)")
        let hubEnded = try await daemon.wait()
        #expect(hubEnded, "the hub did not die: \(daemon.output.stderr)")
        guard syncEnded, hubEnded else { return }
        let log = sync.output.stderr
        let cut = try #require(killed.at.withLock { $0 }, "the sync ended before \(threshold) events were acknowledged\n\(log)")
        let total = try #require(Self.total(log), "no ack logged: \(log)")
        #expect(total == laptopEvents - hubBefore, "\(log)")
        // Acks logged after SIGKILL was sent were still sent by the hub before it died: they count too.
        let acked = Self.acked(log)
        #expect(acked < total, "the hub acknowledged everything before it was killed: the test proves nothing; add pledges")
        #expect(daemon.process.terminationReason == .uncaughtSignal && daemon.process.terminationStatus == SIGKILL)
        // The sync fails with an error and a documented exit code, not a crash.
        #expect(sync.process.terminationReason == .exit && sync.process.terminationStatus != 0, "\(log)")
        #expect([2, 3, 4, 5, 6, 70, 74].contains(sync.process.terminationStatus), "exit \(sync.process.terminationStatus): \(log)")
        #expect(log.contains("error: "), "\(log)")
        let killedAfter = cut.time - syncStart

        // 2. Restarted on the same data, the hub holds every acknowledged event and its derived tables are consistent.
        let restart = clock.now
        daemon = try Child(cli, serve)
        let port2 = try await daemon.port()
        let ready = clock.now - restart
        let afterCrash = try await status(cli, hub, daemon: daemon).events
        #expect(afterCrash >= hubBefore + acked, "\(acked) events were acknowledged; the hub holds \(afterCrash - hubBefore)")
        let doctor = try await run(cli, ["doctor", "--data", hub, "--json"], daemon: daemon).json()
        #expect(doctor["ok"] as? Bool == true, "\(doctor)")
        let checked = try #require(doctor["communities"] as? [[String: Any]], "\(doctor)")
        #expect(checked.count == 1 && checked.allSatisfy { $0["identical"] as? Bool == true }, "\(doctor)")

        // 3. A second sync runs to completion, and the two nodes agree.
        let resync = clock.now
        let second = try await run(cli, ["sync", "--data", laptop, "--verbose", "127.0.0.1:\(port2)", "--json"], daemon: daemon).json()
        let resyncTime = clock.now - resync
        let sent = try #require((second["communities"] as? [[String: Any]])?.first?["sent"] as? Int, "\(second)")
        #expect(sent == laptopEvents - afterCrash, "\(second)")
        let (hubEvents, hubDigest) = try await status(cli, hub, daemon: daemon)
        let (lapEvents, lapDigest) = try await status(cli, laptop)
        #expect(hubEvents == laptopEvents && lapEvents == laptopEvents)
        #expect(hubDigest == lapDigest && !hubDigest.isEmpty)

        // 4. The restarted hub stops cleanly.
        kill(daemon.pid, SIGTERM)
        let stopped = try await daemon.wait()
        #expect(stopped && daemon.process.terminationReason == .exit && daemon.process.terminationStatus == 0, "\(daemon.output.stderr)")
        print(
            "CrashTests: \(laptopEvents) events, the hub lacking \(total) (set-up \(setUp)); SIGKILL \(pause / 1_000) ms after ack \(cut.acked)/\(total), "
                + "\(killedAfter) into the sync; \(acked) acknowledged in all, \(afterCrash - hubBefore) held after the restart "
                + "(ready in \(ready)); sync exit \(sync.process.terminationStatus); the second sync sent \(sent) in \(resyncTime)")
    }
}
