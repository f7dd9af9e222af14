import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import WhipBench
import WhipCore
import WhipCrypto
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore
import WhipTestSupport

/// Daemons on loopback keeping live sessions: pushes, several nodes converging, partition and heal, and a
/// goodbye on shutdown.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LiveTests {
    static let logger: Logger = {
        guard ProcessInfo.processInfo.environment["WHIP_TEST_LOG"] != nil else { return Logger(label: "test") { _ in SwiftLogNoOpLogHandler() } }
        var l = Logger(label: "test") { StreamLogHandler.standardError(label: $0) }
        l.logLevel = .debug
        return l
    }()
    static let gbp = Currency(code: "GBP")!

    /// A network of nodes in one community with a published campaign; node 0 founded it.
    struct Network {
        let nodes: [Node]
        let community: CommunityInfo
        let campaign: EventID

        init(_ count: Int) throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-live-\(UUID().uuidString)").path
            var nodes = [try Node.initialise(dir: DataDir(path: base + "/n0"), name: "n0", logger: LiveTests.logger)]
            community = try nodes[0].createCommunity(name: "Elm Street")
            let created = try nodes[0].emit(
                community.id,
                .campaignCreated(
                    CampaignCreated(
                        title: "Lido", description: "", goal: 500_000, currency: LiveTests.gbp, model: .keepWhatYouRaise, opens: 0,
                        closes: 4_000_000_000_000, timeZone: "UTC", organisers: [])))
            try nodes[0].emit(community.id, .campaignPublished(CampaignRef(campaign: created.id)))
            campaign = created.id
            for i in 1..<count {
                let n = try Node.initialise(dir: DataDir(path: base + "/n\(i)"), name: "n\(i)", logger: LiveTests.logger)
                _ = try n.join(nodes[0].invite(community))
                _ = try nodes[0].grant(community, member: n.identity.publicKey, role: .collector, expires: nil)
                nodes.append(n)
            }
            self.nodes = nodes
        }

        @discardableResult
        func pledge(on i: Int, _ name: String) throws -> EventID {
            try nodes[i].emit(
                community.id,
                .pledgeMade(
                    PledgeMade(campaign: campaign, backerName: name, anonymous: false, amount: 100, currency: LiveTests.gbp, channel: .inPerson))
            ).id
        }

        func digest(_ i: Int) throws -> String { try nodes[i].store.communities().first { $0.id == community.id }!.digest }
    }

    /// One node's daemon (listener, dialer, local-change watcher), started and stopped by the test.
    final class Running: Sendable {
        let exchange: Exchange
        let group: ServiceGroup
        let task: Task<Void, any Error>
        let port: Int

        init(
            _ node: Node, port: Int = 0, peers: [Int], reconcileInterval: Double = 3_600, localPoll: Double = 0.05, keepAlive: Double = 30,
            pollClock: any Clock<Duration> = ContinuousClock()
        ) async throws {
            var config = DaemonConfig()
            config.listen = HostPort(host: "127.0.0.1", port: port)
            config.metricsListen = nil
            config.peers = peers.map { HostPort(host: "127.0.0.1", port: $0) }
            config.timers.reconnectMin = 0.1
            config.timers.reconnectMax = 0.5
            config.timers.reconcileInterval = reconcileInterval
            config.timers.keepAlive = keepAlive
            config.timers.reconnectMax = max(config.timers.reconnectMax, 0.5)
            var logger = LiveTests.logger
            logger[metadataKey: "node.dir"] = "\(node.dir.path.suffix(2))"
            let exchange = try Exchange(node: node, logger: logger)
            let creds = try NodeCredentials(node: node)
            let bound = Mutex(0)
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [
                        .init(
                            service: PeerListener(config: config, exchange: exchange, credentials: creds, logger: logger) { p in
                                bound.withLock { $0 = p }
                            }),
                        .init(service: PeerDialer(config: config, exchange: exchange, credentials: creds, logger: logger)),
                        .init(service: LocalChanges(exchange: exchange, interval: localPoll, clock: pollClock)),
                    ],
                    logger: LiveTests.logger))
            self.exchange = exchange
            self.group = group
            task = Task { try await group.run() }
            var waited = 0
            while bound.withLock({ $0 }) == 0 {
                waited += 1
                if waited > 6_000 { throw WhipError(.io, "listener did not start") }
                try await Task.sleep(for: .milliseconds(10))
            }
            self.port = bound.withLock { $0 }
        }

        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
        }
    }

    /// With reconciliation effectively off, a pledge made on either side of a live session reaches the other.
    @Test func newEventsArePushedOverALiveSession() async throws {
        let net = try Network(2)
        let hub = try await Running(net.nodes[0], peers: [])
        let laptop = try await Running(net.nodes[1], peers: [hub.port])
        #expect(try await eventually { try net.digest(0) == net.digest(1) })
        #expect(try await eventually { laptop.exchange.liveSessions == 1 && hub.exchange.liveSessions == 1 })

        let a = try net.pledge(on: 0, "from the hub")
        #expect(try await eventually { try net.nodes[1].store.missing([a]).isEmpty })
        let b = try net.pledge(on: 1, "from the laptop")
        #expect(try await eventually { try net.nodes[0].store.missing([b]).isEmpty })
        #expect(try net.digest(0) == net.digest(1))
        try await laptop.stop()
        try await hub.stop()
    }

    /// The dialer (with a peer that refuses every connection) and the local-change watcher end when their
    /// task is cancelled, as the service group does to the others when one service fails. They used to test
    /// only for graceful shutdown, so after a cancellation every sleep returned at once and they spun for ever.
    @Test func serviceLoopsEndOnCancellation() async throws {
        let net = try Network(2)
        var config = DaemonConfig()
        config.metricsListen = nil
        config.peers = [HostPort(host: "127.0.0.1", port: 1)]
        config.timers.reconnectMin = 0.05
        config.timers.reconnectMax = 0.1
        let exchange = try Exchange(node: net.nodes[1], logger: LiveTests.logger)
        let clock = VirtualClock()
        let dialer = PeerDialer(
            config: config, exchange: exchange, credentials: try NodeCredentials(node: net.nodes[1]), logger: LiveTests.logger, clock: clock)
        let local = LocalChanges(exchange: exchange, interval: 0.05, clock: clock)
        let dialing = Task { try await dialer.run() }
        let watching = Task { try await local.run() }
        // Every loop has run once and waits: the dialer's, its failed peer's backoff, the watcher's.
        #expect(await clock.waitForSleepers(3))
        dialing.cancel()
        watching.cancel()
        _ = try await within(5, "the dialer to end on cancellation") { try await dialing.value }
        _ = try await within(5, "the local-change watcher to end on cancellation") { try await watching.value }
    }

    /// An event stamped an hour ahead is held; when the clock reaches it, the running daemon admits it (no
    /// restart, no CLI command) and offers it to its connected peer. Both nodes' clocks are injected.
    @Test func heldEventsAreAdmittedWhenTheirTimeComes() async throws {
        let net = try Network(2)
        let offset = Mutex<UInt64>(0)
        let clock: @Sendable () -> UInt64 = { Dates.nowMs() + offset.withLock { $0 } }
        let hubNode = try Node.open(dir: net.nodes[0].dir, logger: LiveTests.logger, clock: clock)
        let laptopNode = try Node.open(dir: net.nodes[1].dir, logger: LiveTests.logger, clock: clock)
        // The hub's local-change watcher polls only when the test moves its clock.
        let polls = VirtualClock()
        let hub = try await Running(hubNode, peers: [], pollClock: polls)
        let laptop = try await Running(laptopNode, peers: [hub.port])
        #expect(try await eventually { try net.digest(0) == net.digest(1) && laptop.exchange.liveSessions == 1 })

        let ahead = Event.sign(
            community: net.community.id, author: net.nodes[1].identity, hlc: HLC(wall: Dates.nowMs() + 3_600_000),
            body: .pledgeMade(
                PledgeMade(campaign: net.campaign, backerName: "Tomorrow", anonymous: false, amount: 100, currency: LiveTests.gbp, channel: .inPerson)
            ))
        let held = try hubNode.store.ingest([ahead.wire], source: .peer, now: hubNode.now)
        #expect(held.held == 1 && held.accepted == 0)
        // Three whole polls (each ends asleep again) before its time: the event stays held.
        for _ in 0..<3 {
            #expect(await polls.waitForSleepers(1))
            polls.advance(by: .milliseconds(50))
        }
        #expect(await polls.waitForSleepers(1))
        #expect(try hubNode.store.missing([ahead.id]) == [ahead.id])

        offset.withLock { $0 = 3_600_000 }
        polls.advance(by: .milliseconds(50))
        #expect(try await eventually(10) { try hubNode.store.missing([ahead.id]).isEmpty }, "admitted by the running daemon")
        #expect(try hubNode.store.heldCount() == 0)
        #expect(try await eventually(10) { try laptopNode.store.missing([ahead.id]).isEmpty }, "and offered to the peer")
        try await laptop.stop()
        try await hub.stop()
    }

    /// With pushes starved (nothing polls for the pledges the test writes straight into each store), the
    /// periodic backstop reconciliation on the session still brings both sides together.
    @Test func backstopReconciliationCatchesWhatPushMissed() async throws {
        let net = try Network(2)
        let hub = try await Running(net.nodes[0], peers: [], localPoll: 3_600)
        let laptop = try await Running(net.nodes[1], peers: [hub.port], reconcileInterval: 0.5, localPoll: 3_600)
        #expect(try await eventually { try net.digest(0) == net.digest(1) && laptop.exchange.liveSessions == 1 })
        let a = try net.pledge(on: 0, "hub, unannounced")
        let b = try net.pledge(on: 1, "laptop, unannounced")
        #expect(try await eventually { try net.nodes[1].store.missing([a]).isEmpty && net.nodes[0].store.missing([b]).isEmpty })
        #expect(try net.digest(0) == net.digest(1))
        try await laptop.stop()
        try await hub.stop()
    }

    /// A member whose role is revoked while its session is live is let go at the next keep-alive, and is not
    /// let back in: the hub's later pledges do not reach it.
    @Test func revokedMemberIsLetGo() async throws {
        let net = try Network(2)
        let hub = try await Running(net.nodes[0], peers: [], keepAlive: 0.3)
        let laptop = try await Running(net.nodes[1], peers: [hub.port], keepAlive: 0.3)
        #expect(try await eventually { try net.digest(0) == net.digest(1) && hub.exchange.liveSessions == 1 })
        _ = try net.nodes[0].revoke(net.community, member: net.nodes[1].identity.publicKey, role: .collector)
        #expect(try await eventually { hub.exchange.liveSessions == 0 && laptop.exchange.liveSessions == 0 })
        let later = try net.pledge(on: 0, "after the revocation")
        try await Task.sleep(for: .seconds(1))
        #expect(try net.nodes[1].store.missing([later]) == [later])
        #expect(hub.exchange.liveSessions == 0)
        try await laptop.stop()
        try await hub.stop()
    }

    /// Three nodes in a line (c → b → a) each record pledges; all three converge to one digest, events
    /// crossing the middle node.
    @Test func threeNodesConverge() async throws {
        let net = try Network(3)
        let a = try await Running(net.nodes[0], peers: [])
        let b = try await Running(net.nodes[1], peers: [a.port])
        let c = try await Running(net.nodes[2], peers: [b.port])
        #expect(try await eventually { try net.digest(0) == net.digest(2) && net.digest(1) == net.digest(2) })
        for i in 0..<10 {
            try net.pledge(on: i % 3, "pledge \(i)")
        }
        #expect(try await eventually { try net.digest(0) == net.digest(1) && net.digest(1) == net.digest(2) })
        #expect(try net.nodes[2].store.campaign(net.campaign)?.backers == 10)
        try await c.stop()
        try await b.stop()
        try await a.stop()
    }

    /// A node cut off (its daemon stopped) while both sides keep taking pledges catches up when it returns:
    /// the first sync of the new session brings each side what the other missed.
    @Test func partitionAndHealConverge() async throws {
        let net = try Network(3)
        let a = try await Running(net.nodes[0], peers: [])
        let b = try await Running(net.nodes[1], peers: [a.port])
        var c = try await Running(net.nodes[2], peers: [a.port])
        #expect(try await eventually { try net.digest(0) == net.digest(2) && net.digest(1) == net.digest(2) })
        try await c.stop()  // partition: c is alone
        for i in 0..<5 { try net.pledge(on: 0, "hub \(i)") }
        for i in 0..<7 { try net.pledge(on: 2, "fete \(i)") }
        #expect(try await eventually { try net.digest(0) == net.digest(1) })
        #expect(try net.digest(0) != net.digest(2))
        c = try await Running(net.nodes[2], peers: [a.port])  // heal
        #expect(try await eventually { try net.digest(0) == net.digest(1) && net.digest(1) == net.digest(2) })
        #expect(try net.nodes[1].store.campaign(net.campaign)?.backers == 12)
        try await c.stop()
        try await b.stop()
        try await a.stop()
    }

    /// Stopping a daemon says goodbye on its live sessions: the peer sees a clean end, not a cut connection.
    @Test func shutdownSaysGoodbye() async throws {
        let net = try Network(2)
        let hub = try await Running(net.nodes[0], peers: [])
        let exchange = try Exchange(node: net.nodes[1], logger: Self.logger)
        let session = Task {
            try await PeerSession.connect(
                address: HostPort(host: "127.0.0.1", port: hub.port), community: net.community.id, exchange: exchange,
                credentials: try NodeCredentials(node: net.nodes[1]), settings: SessionSettings(), logger: Self.logger, stayLive: true)
        }
        #expect(try await eventually { hub.exchange.liveSessions == 1 })
        try await hub.stop()
        // A clean goodbye returns normally; a cut connection would throw.
        let report = try await session.value
        #expect(report.received.accepted == 4)
    }

    /// Thousands of differences on each side: the reconciliation messages outgrow one frame and travel in
    /// parts, and one sync still needs only a few rounds and leaves both sides equal.
    @Test func largeDifferencesReconcileInFewRounds() async throws {
        let net = try Network(2)
        let c = net.community.id
        for (i, n) in net.nodes.enumerated() {
            let wires = Bench.pledges(3_000, community: c, campaign: net.campaign, author: n.identity, start: n.now + UInt64(i))
            #expect(try n.store.ingest(wires, source: .bundle, now: n.now).accepted == 3_000)
        }
        let hub = try await Running(net.nodes[0], peers: [])
        let report = try await PeerSession.syncOnce(
            address: HostPort(host: "127.0.0.1", port: hub.port), community: c, exchange: try Exchange(node: net.nodes[1], logger: Self.logger),
            credentials: try NodeCredentials(node: net.nodes[1]), settings: SessionSettings(), logger: Self.logger)
        #expect(report.sent == 3_000 && report.received.accepted >= 3_000)
        #expect(report.reconcileMessages <= 3)
        #expect(try net.digest(0) == net.digest(1))
        try await hub.stop()
    }
}
