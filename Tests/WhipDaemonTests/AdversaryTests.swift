import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import WhipBench
import WhipCore
import WhipCrypto
import WhipDaemon
import WhipNet
import WhipNode
import WhipNoise
import WhipStore
import WhipSync

/// A hostile network over real loopback sockets: a man in the middle that flips, drops, duplicates and cuts
/// bytes; replayed handshake messages; connection floods; a peer that trickles bytes; garbage frames.
/// Every wait has a timeout, and raw sockets are closed before the listener is shut down.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct AdversaryTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    // MARK: Nodes (the patterns of LoopbackTests)

    func node(_ name: String) throws -> Node {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-adv-\(UUID().uuidString)/\(name)").path
        return try Node.initialise(dir: DataDir(path: dir), name: name, logger: Self.logger)
    }

    /// A hub config with short timers, so a stalled session ends within a test's budget.
    static func hubConfig() -> DaemonConfig {
        var config = DaemonConfig()
        config.listen = HostPort(host: "127.0.0.1", port: 0)
        config.metricsListen = nil
        config.timers.handshakeTimeout = 3
        config.timers.frameTimeout = 1
        config.timers.idleTimeout = 5
        return config
    }

    /// Client settings with short timers for the same reason.
    static let clientSettings: SessionSettings = {
        var s = SessionSettings()
        s.handshakeTimeout = 3
        s.frameTimeout = 1
        s.idleTimeout = 3
        return s
    }()

    /// Runs `node` as a listening daemon on an ephemeral loopback port for the duration of `body`.
    func serving(_ node: Node, config: DaemonConfig = AdversaryTests.hubConfig(), _ body: (HostPort) async throws -> Void) async throws {
        try await serveForTest(node, config: config, logger: Self.logger, body)
    }

    /// `serving`, with the listener's connection slots.
    func serving(
        _ node: Node, config: DaemonConfig = AdversaryTests.hubConfig(), _ body: (HostPort, ConnectionLimiter) async throws -> Void
    ) async throws {
        try await serveForTest(node, config: config, logger: Self.logger, body)
    }

    func sync(_ from: Node, _ to: HostPort, _ community: PublicKey) async throws -> SyncReport {
        let exchange = try Exchange(node: from, logger: Self.logger)
        let credentials = try NodeCredentials(node: from)
        return try await within(8, "sync") {
            try await PeerSession.syncOnce(
                address: to, community: community, exchange: exchange, credentials: credentials, settings: Self.clientSettings,
                logger: Self.logger)
        }
    }

    func digest(_ n: Node, _ c: PublicKey) throws -> String { try n.store.communities().first { $0.id == c }!.digest }

    func ids(_ n: Node, _ c: PublicKey) throws -> Set<EventID> {
        Set(try n.store.exportEvents(community: c).map { try Event.decode(wire: $0).id })
    }

    /// A hub holding a published campaign and `pledges` pledges.
    struct Hub {
        let node: Node
        let community: CommunityInfo
    }

    func makeHub(pledges: Int = 50) throws -> Hub {
        let hub = try node("hub")
        let c = try hub.createCommunity(name: "Elm Street")
        let gbp = Currency(code: "GBP")!
        let campaign = try hub.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "Reopen it", goal: 500_000, currency: gbp, model: .allOrNothing, opens: 0,
                    closes: 1_900_000_000_000, timeZone: "UTC", organisers: [])))
        try hub.emit(c.id, .campaignPublished(CampaignRef(campaign: campaign.id)))
        for i in 0..<pledges {
            try hub.emit(
                c.id,
                .pledgeMade(
                    PledgeMade(campaign: campaign.id, backerName: "Backer \(i)", anonymous: false, amount: 100, currency: gbp, channel: .inPerson)))
        }
        return Hub(node: hub, community: c)
    }

    /// A new member that holds only the genesis and its own grant (as if from a bundle), plus two events of
    /// its own that the hub lacks: the hub has the campaign and its pledges to send, the client has events
    /// to push, so both directions carry `events` frames.
    func makeClient(_ hub: Hub) throws -> Node {
        let client = try node("client")
        let c = hub.community
        _ = try client.join(hub.node.invite(c))
        let grant = try hub.node.grant(c, member: client.identity.publicKey, role: .organiser, expires: nil)
        let genesis = try hub.node.store.exportEvents(community: c.id)[0]
        let seeded = try client.store.ingest([genesis, grant.wire], source: .bundle, now: client.now)
        #expect(seeded.accepted == 2)
        let own = try client.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Bunting", description: "", goal: 20_000, currency: Currency(code: "GBP")!, model: .keepWhatYouRaise, opens: 0,
                    closes: 1_900_000_000_000, timeZone: "UTC", organisers: [])))
        try client.emit(c.id, .campaignPublished(CampaignRef(campaign: own.id)))
        return client
    }

    // MARK: 1. A man in the middle

    /// The proxy's tampering touches exactly the bytes a case names, across chunk boundaries.
    @Test func tamperStreamAltersTheNamedBytes() {
        let stream: [UInt8] = Frames.frame([1, 2, 3, 4]) + Frames.frame([5, 6, 7])  // 0 4 1 2 3 4 0 3 5 6 7
        func run(_ t: Tamper) -> (out: [UInt8], fired: Bool) {
            var s = TamperStream(t)
            // Fed in uneven chunks, as TCP may deliver them.
            let out = s.apply(Array(stream[0..<3])) + s.apply(Array(stream[3..<7])) + s.apply(Array(stream[7...]))
            return (out, s.fired)
        }
        #expect(run(.init(.serverToClient, frame: 1, byte: 3, .flip(bit: 0))).out == [0, 4, 1, 2, 3, 4, 0, 3, 5, 7, 7])
        #expect(run(.init(.serverToClient, frame: 0, byte: 99, .flip(bit: 7))).out == [0, 4, 1, 2, 3, 0x84, 0, 3, 5, 6, 7])
        #expect(run(.init(.serverToClient, frame: 0, byte: 1, .flip(bit: 1))).out == [0, 6, 1, 2, 3, 4, 0, 3, 5, 6, 7])
        #expect(run(.init(.serverToClient, frame: 0, byte: 4, .drop(3))).out == [0, 4, 1, 2, 3, 5, 6, 7])
        #expect(run(.init(.serverToClient, frame: 1, byte: 0, .duplicate(2))).out == [0, 4, 1, 2, 3, 4, 0, 3, 0, 3, 5, 6, 7])
        #expect(run(.init(.serverToClient, frame: 0, byte: 3, .duplicate(10))).out == [0, 4, 1, 2, 3, 4, 2, 3, 4, 0, 3, 5, 6, 7])
        #expect(run(.init(.serverToClient, frame: 1, byte: 2, .truncate)).out == [0, 4, 1, 2, 3, 4, 0, 3])
        #expect(!run(.init(.serverToClient, frame: 2, byte: 0, .truncate)).fired)
        #expect(run(.init(.serverToClient, frame: 2, byte: 0, .truncate)).out == stream)
    }

    /// A proxy that passes bytes through untouched must not disturb a sync; this also pins the frame layout the
    /// tampering cases below rely on.
    @Test func transparentProxyChangesNothing() async throws {
        let hub = try makeHub()
        try await serving(hub.node) { address in
            let client = try makeClient(hub)
            let proxy = try await Proxy.start(to: address, tamper: nil)
            let report: SyncReport
            do {
                report = try await sync(client, proxy.address, hub.community.id)
            } catch {
                await proxy.stop()
                throw error
            }
            await proxy.stop()
            #expect(report.received.accepted == 52 && report.sent == 2 && report.peerAccepted == 2)
            #expect(try digest(client, hub.community.id) == digest(hub.node, hub.community.id))
            // Server to client: message 2, a reconcile answer, the ack for our push, the events, the empty end.
            // Client to server: message 1, message 3, reconcile, our events, want, then an ack and goodbye.
            let s2c = Frames.split(proxy.recorded(.serverToClient))
            let c2s = Frames.split(proxy.recorded(.clientToServer))
            #expect(s2c.count >= 5, "\(s2c.map(\.count))")
            #expect(c2s.count >= 6, "\(c2s.map(\.count))")
            #expect(c2s.first?.count == 48)  // e (32) and the tag of an empty payload (16)
            #expect(s2c[3].count > 5_000)  // the 52 events in one frame
            #expect(!proxy.fired)
        }
    }

    /// Server-to-client frames: 0 message 2, 1 reconcile answer, 2 ack, 3 events, 4 end of events.
    /// Client-to-server frames: 0 message 1, 1 message 3, 2 reconcile, 3 events, 4 want; then an ack and
    /// goodbye, which the client expects no answer to, so their loss goes unnoticed and they are not targets.
    /// Bytes 0 and 1 are a frame's length; larger byte numbers are clamped to the frame's last byte (its tag).
    static let flips: [Tamper] = [
        .init(.serverToClient, frame: 0, byte: 0, .flip(bit: 0)),
        .init(.serverToClient, frame: 0, byte: 1, .flip(bit: 4)),
        .init(.serverToClient, frame: 0, byte: 20, .flip(bit: 3)),  // responder's ephemeral key
        .init(.serverToClient, frame: 0, byte: 60, .flip(bit: 7)),  // its encrypted static key
        .init(.serverToClient, frame: 0, byte: 150, .flip(bit: 1)),  // its member proof
        .init(.serverToClient, frame: 0, byte: 9_999, .flip(bit: 0)),  // the tag
        .init(.serverToClient, frame: 1, byte: 1, .flip(bit: 2)),
        .init(.serverToClient, frame: 1, byte: 10, .flip(bit: 6)),
        .init(.serverToClient, frame: 2, byte: 5, .flip(bit: 0)),
        .init(.serverToClient, frame: 3, byte: 3_000, .flip(bit: 5)),
        .init(.serverToClient, frame: 4, byte: 2, .flip(bit: 0)),
        .init(.serverToClient, frame: 4, byte: 9_999, .flip(bit: 7)),
        .init(.clientToServer, frame: 0, byte: 5, .flip(bit: 1)),
        .init(.clientToServer, frame: 0, byte: 9_999, .flip(bit: 0)),
        .init(.clientToServer, frame: 1, byte: 40, .flip(bit: 2)),
        .init(.clientToServer, frame: 1, byte: 9_999, .flip(bit: 3)),
        .init(.clientToServer, frame: 2, byte: 8, .flip(bit: 4)),
        .init(.clientToServer, frame: 3, byte: 200, .flip(bit: 5)),
        .init(.clientToServer, frame: 4, byte: 9_999, .flip(bit: 6)),
    ]

    static let drops: [Tamper] = [
        .init(.serverToClient, frame: 0, byte: 10, .drop(1)),
        .init(.serverToClient, frame: 0, byte: 40, .drop(32)),
        .init(.serverToClient, frame: 1, byte: 5, .drop(3)),
        .init(.serverToClient, frame: 3, byte: 100, .drop(50)),
        .init(.serverToClient, frame: 4, byte: 2, .drop(1)),
        .init(.clientToServer, frame: 1, byte: 10, .drop(16)),
        .init(.clientToServer, frame: 3, byte: 50, .drop(20)),
    ]

    static let duplicates: [Tamper] = [
        .init(.serverToClient, frame: 0, byte: 2, .duplicate(8)),
        .init(.serverToClient, frame: 1, byte: 2, .duplicate(4)),
        .init(.serverToClient, frame: 3, byte: 1_000, .duplicate(100)),
        .init(.serverToClient, frame: 4, byte: 0, .duplicate(2)),
        .init(.clientToServer, frame: 2, byte: 3, .duplicate(5)),
        .init(.clientToServer, frame: 3, byte: 10, .duplicate(10)),
    ]

    static let truncations: [Tamper] = [
        .init(.serverToClient, frame: 0, byte: 0, .truncate),
        .init(.serverToClient, frame: 0, byte: 50, .truncate),
        .init(.serverToClient, frame: 1, byte: 0, .truncate),
        .init(.serverToClient, frame: 3, byte: 200, .truncate),
        .init(.serverToClient, frame: 4, byte: 9_999, .truncate),  // all but the very last byte
        .init(.clientToServer, frame: 1, byte: 0, .truncate),
        .init(.clientToServer, frame: 3, byte: 100, .truncate),
        .init(.clientToServer, frame: 4, byte: 0, .truncate),
    ]

    @Test func flippedBitIsDetected() async throws { try await tamperedSyncsFail(Self.flips) }
    @Test func droppedBytesAreDetected() async throws { try await tamperedSyncsFail(Self.drops) }
    @Test func duplicatedBytesAreDetected() async throws { try await tamperedSyncsFail(Self.duplicates) }
    @Test func truncatedStreamIsDetected() async throws { try await tamperedSyncsFail(Self.truncations) }

    /// For each tampering, with a fresh client against one hub: the sync through the proxy throws; neither
    /// store holds anything but whole, valid batches of the other's events; a clean sync then converges.
    func tamperedSyncsFail(_ cases: [Tamper]) async throws {
        let hub = try makeHub()
        let c = hub.community.id
        try await serving(hub.node) { address in
            for t in cases {
                let client = try makeClient(hub)
                let clientBefore = try ids(client, c)
                let hubBefore = try ids(hub.node, c)
                let clientDigest = try digest(client, c)
                let proxy = try await Proxy.start(to: address, tamper: t)
                var outcome = "succeeded"
                do {
                    _ = try await sync(client, proxy.address, c)
                } catch let e as TimedOut {
                    outcome = "\(e)"
                } catch {
                    outcome = "failed"
                }
                await proxy.stop()
                #expect(proxy.fired, "\(t): the tampering never happened (no such frame?)")
                #expect(outcome == "failed", "\(t): the sync \(outcome)")

                // Nothing partial, nothing invalid: each side holds what it had, or that plus the other's
                // events as whole committed batches, and nothing that fails the rules.
                let clientAfter = try ids(client, c)
                let hubAfter = try ids(hub.node, c)
                #expect(clientAfter == clientBefore || clientAfter == clientBefore.union(hubBefore), "\(t)")
                if clientAfter == clientBefore { #expect(try digest(client, c) == clientDigest, "\(t)") }
                #expect(hubAfter == hubBefore || hubAfter == hubBefore.union(clientBefore), "\(t)")
                #expect(try client.store.rejections().isEmpty, "\(t)")
                #expect(try hub.node.store.rejections().isEmpty, "\(t)")
                #expect(try client.store.rebuild(community: c).tablesIdentical, "\(t)")

                // A clean sync afterwards converges.
                _ = try await sync(client, address, c)
                #expect(try digest(client, c) == digest(hub.node, c), "\(t)")
                #expect(try ids(client, c) == ids(hub.node, c), "\(t)")
            }
            #expect(try hub.node.store.rebuild(community: c).tablesIdentical)
        }
    }

    // MARK: 2. Replayed handshake messages

    /// A recorded message 1 replayed on a new connection gets a fresh message 2, but the replayer cannot go
    /// on: the recorded message 3 (and everything after it) is refused and no transport frame ever comes
    /// back. A recorded message 3 is refused as well after a genuine message 1 and 2. The hub keeps serving.
    @Test func replayedHandshakeMessagesGoNowhere() async throws {
        let hub = try makeHub(pledges: 5)
        let c = hub.community.id
        try await serving(hub.node) { address in
            let client = try makeClient(hub)
            // Record a genuine session.
            let proxy = try await Proxy.start(to: address, tamper: nil)
            do { _ = try await sync(client, proxy.address, c) } catch {
                await proxy.stop()
                throw error
            }
            await proxy.stop()
            let recordedC2S = proxy.recorded(.clientToServer)
            let sent = Frames.split(recordedC2S)
            let answered = Frames.split(proxy.recorded(.serverToClient))
            try #require(sent.count >= 3 && answered.count >= 2)
            let hubEvents = try ids(hub.node, c)

            try await withRawConnections { raw in
                // Message 1 alone: the hub answers with a new message 2.
                let a = try await raw.open(address)
                try await a.sendFrame(sent[0])
                let second = try await a.readFrame(within: 2)
                #expect(second.count == answered[0].count && second != answered[0], "a fresh ephemeral key each time")
                // The replayer cannot read message 2 (it lacks the ephemeral secret) and has only the old message 3.
                try await a.sendFrame(sent[1])
                #expect(await a.closed(within: 2), "the hub closes at the replayed message 3")
                #expect(a.received.count == 2 + second.count, "nothing after message 2")

                // The whole recorded client stream at once: message 2, then the hub hangs up.
                let b = try await raw.open(address)
                try await b.send(recordedC2S)
                #expect(await b.closed(within: 2))
                let bFrames = Frames.split(b.received)
                #expect(bFrames.count == 1 && bFrames.first?.count == answered[0].count, "\(bFrames.map(\.count))")

                // A genuine message 1 from a member, then the old message 3: refused, no transport frame.
                let info = try #require(try client.store.communities().first { $0.id == c })
                let credentials = try NodeCredentials(node: client)
                let d = try await raw.open(address)
                var (hs, first) = try PeerHandshake.initiate(
                    community: c, networkKey: info.networkKey, noiseKey: credentials.noiseKey, identity: credentials.identity)
                try await d.sendFrame(first)
                _ = try hs.receive(try await d.readFrame(within: 2))
                try await d.sendFrame(sent[1])
                try? await d.sendFrame(sent[2])  // the hub may already have hung up
                #expect(await d.closed(within: 2))
                #expect(Frames.split(d.received).count == 1, "only message 2 came back")

                // Control: the same client finishing its own handshake gets transport frames back.
                let e = try await raw.open(address)
                var session = try await rawSession(e, client: client, community: c)
                try await session.send(.ping)
                let reply = try await session.receive(within: 2)
                #expect(reply == .pong)
            }
            #expect(try ids(hub.node, c) == hubEvents)
            // And a legitimate client is still served.
            let fresh = try makeClient(hub)
            _ = try await sync(fresh, address, c)
            #expect(try digest(fresh, c) == digest(hub.node, c))
        }
    }

    /// Runs the initiator side of a real handshake over a raw connection.
    func handshake(_ conn: RawConnection, client: Node, community: PublicKey) async throws -> EstablishedSession {
        let info = try #require(try client.store.communities().first { $0.id == community })
        let credentials = try NodeCredentials(node: client)
        var (hs, first) = try PeerHandshake.initiate(
            community: community, networkKey: info.networkKey, noiseKey: credentials.noiseKey, identity: credentials.identity)
        try await conn.sendFrame(first)
        guard case .sendAndEstablish(let third, let session) = try hs.receive(try await conn.readFrame(within: 2)) else {
            throw WhipError(.rejected, "handshake did not complete")
        }
        try await conn.sendFrame(third)
        return session
    }

    /// A real handshake over a raw connection, then session messages sealed and opened by hand.
    func rawSession(_ conn: RawConnection, client: Node, community: PublicKey) async throws -> RawSession {
        RawSession(conn: conn, transport: try await handshake(conn, client: client, community: community).transport)
    }

    // MARK: Floods of valid and forged events

    /// A member that sends the hub's own events back to it again and again gets an `ack` of duplicates for
    /// each batch, changes nothing, and does not stop the hub serving others.
    @Test func floodOfValidDuplicatesChangesNothing() async throws {
        let hub = try makeHub(pledges: 50)
        let c = hub.community.id
        let client = try makeClient(hub)
        let other = try makeClient(hub)
        let all = try hub.node.store.exportEvents(community: c)
        let before = try digest(hub.node, c)
        try await serving(hub.node) { address in
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                var session = try await rawSession(conn, client: client, community: c)
                for round in 0..<100 {
                    try await session.send(.events(all))
                    let reply = try await session.receive(within: 5)
                    #expect(reply == .ack(accepted: 0, duplicates: all.count, rejected: 0), "round \(round)")
                }
                // Still a working session, and the hub still serves a second member.
                try await session.send(.ping)
                #expect(try await session.receive(within: 5) == .pong)
                #expect(try digest(hub.node, c) == before)
                _ = try await sync(other, address, c)
                #expect(try digest(other, c) == digest(hub.node, c))
            }
        }
    }

    /// A member announcing far more (made-up) ids than it ever delivers: the hub asks for them one `want` at
    /// a time, never more than its per-session queue holds, and goes on answering pings.
    @Test func announceFloodIsBounded() async throws {
        let hub = try makeHub(pledges: 1)
        let c = hub.community.id
        let client = try makeClient(hub)
        try await serving(hub.node) { address in
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                var session = try await rawSession(conn, client: client, community: c)
                var rng = SystemRandomNumberGenerator()
                let announced = 30 * SessionMessage.maxIDs
                var frames: [UInt8] = []
                for _ in 0..<30 {
                    let ids = (0..<SessionMessage.maxIDs).map { _ in EventID(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })! }
                    frames += Frames.frame(try session.sealed(.announce(ids)))
                }
                try await conn.send(frames)
                var wanted = 0
                while true {
                    guard let frame = try? await conn.readFrame(within: 2) else { break }
                    guard case .want(let ids) = try session.open(frame) else {
                        Issue.record("expected only wants")
                        break
                    }
                    wanted += ids.count
                    try await session.send(.events([]))  // we have none
                }
                #expect(wanted > 0 && wanted < announced, "\(wanted) of \(announced) ids asked for")
                #expect(wanted <= 16_384 + SessionMessage.maxIDs)
                try await session.send(.ping)
                #expect(try await session.receive(within: 5) == .pong)
            }
        }
    }

    /// Forged events (broken signatures) are refused with their reason in each `ack`; past the refusal limit
    /// the hub says goodbye and hangs up, turns the same member away when it reconnects, and stores none.
    @Test func forgedEventsAreRefusedAndTheSenderCutOff() async throws {
        let hub = try makeHub(pledges: 1)
        let c = hub.community.id
        let client = try makeClient(hub)
        let count = try hub.node.store.eventCount()
        let campaign = try #require(try hub.node.store.campaigns(community: c).first?.id)
        let limit = SessionSettings().maxRefusedEvents
        // Well-formed pledges whose last signature byte is flipped.
        let forged = Bench.pledges(limit + 100, community: c, campaign: campaign, author: hub.node.identity, start: hub.node.now).map { w in
            var w = w
            w[w.count - 1] ^= 0x01
            return w
        }
        try await serving(hub.node) { address in
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                var session = try await rawSession(conn, client: client, community: c)
                var refused = 0
                var farewell: String?
                for batch in stride(from: 0, to: forged.count, by: 100).map({ Array(forged[$0..<min(forged.count, $0 + 100)]) }) {
                    try await session.send(.events(batch))
                    switch try await session.receive(within: 5) {
                    case .ack(let accepted, _, let rejected):
                        #expect(accepted == 0)
                        refused += rejected
                    case .goodbye(let reason):
                        farewell = reason
                    default:
                        Issue.record("unexpected reply")
                    }
                    if farewell != nil { break }
                }
                if farewell == nil,
                    case .goodbye(let reason) = try await session.receive(within: 5)
                {
                    farewell = reason
                }
                #expect(refused > limit)
                #expect(farewell == "too many refused events")
                #expect(await conn.closed(within: 5))
                // Reconnecting does not reset the count: the next session is turned away at once.
                let again = try await raw.open(address)
                var second = try await rawSession(again, client: client, community: c)
                let first = try await second.receive(within: 5)
                #expect(first == .goodbye("too many refused events; try again later"))
                #expect(await again.closed(within: 5))
            }
        }
        #expect(try hub.node.store.eventCount() == count)
    }

    // MARK: 3. Connection limits

    /// Two silent connections from one address fill its limit: a third is closed at once, while the two stay
    /// open until the handshake timeout closes them; a real client from that address is refused meanwhile,
    /// and gets through once they are gone.
    @Test func perAddressLimitAndSilentPeers() async throws {
        let hub = try makeHub(pledges: 5)
        let c = hub.community.id
        var config = Self.hubConfig()
        config.limits.maxConnectionsPerAddress = 2
        config.timers.handshakeTimeout = 3
        try await serving(hub.node, config: config) { address, slots in
            let client = try makeClient(hub)
            try await withRawConnections { raw in
                let opened = ContinuousClock.now
                let a = try await raw.open(address)
                let b = try await raw.open(address)
                #expect(try await eventually(5) { slots.handshaking == 2 }, "both admitted")
                let third = try await raw.open(address)
                #expect(await third.closed(within: 1), "a third connection from the address is refused")
                // Well before the handshake timeout, the first two are still open.
                #expect(ContinuousClock.now - opened < .milliseconds(2_500))
                #expect(!a.isClosed && !b.isClosed)
                // So is a real client from the same address, while its slots are taken.
                await #expect(throws: (any Error).self) { _ = try await sync(client, address, c) }
                #expect(!a.isClosed && !b.isClosed)
                // The handshake timeout then closes the silent ones.
                #expect(await a.closed(within: 5))
                #expect(await b.closed(within: 1))
                #expect(ContinuousClock.now - opened >= .milliseconds(2_500), "closed by the handshake timeout, not at once")
                #expect(a.received.isEmpty && b.received.isEmpty)
            }
            #expect(try await eventually(5) { slots.open == 0 }, "the closed connections give back their slots")
            _ = try await sync(client, address, c)
            #expect(try digest(client, c) == digest(hub.node, c))
        }
    }

    /// Idle strangers from 16 addresses, 4 each (64 connections, all the slots there used to be), cannot lock
    /// a member out: the handshake pool (32) closes its oldest connection to make room for each newcomer, so
    /// the member's sync gets through at once, long before any handshake timeout.
    @Test func idleStrangersCannotLockMembersOut() async throws {
        let hub = try makeHub(pledges: 5)
        let c = hub.community.id
        var config = Self.hubConfig()
        config.timers.handshakeTimeout = 30
        config.timers.idleTimeout = 60  // only eviction closes the idle ones here
        try await serving(hub.node, config: config) { address in
            let client = try makeClient(hub)
            try await withRawConnections { raw in
                var idle: [RawConnection] = []
                for i in 0..<16 {
                    for _ in 0..<4 { idle.append(try await raw.open(address, from: "127.0.0.\(i + 2)")) }
                }
                let evicted = { idle.filter(\.isClosed).count }
                let deadline = ContinuousClock.now + .seconds(5)
                while evicted() < 32 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                #expect(evicted() == 32, "the oldest 32 make room for the newest 32")
                let started = ContinuousClock.now
                _ = try await sync(client, address, c)
                #expect(try digest(client, c) == digest(hub.node, c))
                #expect(ContinuousClock.now - started < .seconds(5), "not after a handshake timeout")
            }
        }
    }

    /// A peer that holds the network key but no role is told so by the hub (not a broken connection), and a
    /// member arriving when every session slot is taken is told the hub is busy.
    @Test func refusedPeersAreToldWhy() async throws {
        let hub = try makeHub(pledges: 1)
        let c = hub.community.id
        let stranger = try node("stranger")
        _ = try stranger.join(hub.node.invite(hub.community))  // the invite only: no role
        var config = Self.hubConfig()
        config.limits.maxConnections = 1
        config.timers.idleTimeout = 30  // the raw session holding the slot stays while the test needs it
        try await serving(hub.node, config: config) { address, slots in
            let refused = await #expect(throws: WhipError.self) { _ = try await sync(stranger, address, c) }
            #expect(refused?.code == .permissionDenied, "\(String(describing: refused))")
            #expect(refused?.message.contains("not a member of this community") == true, "\(String(describing: refused))")
            let holder = try makeClient(hub)
            try await withRawConnections { raw in
                // One member holds the only session slot (a raw session past the handshake).
                _ = try await rawSession(try await raw.open(address), client: holder, community: c)
                #expect(try await eventually(5) { slots.sessions == 1 }, "the raw session holds the slot")
                let late = try makeClient(hub)
                let busy = await #expect(throws: WhipError.self) { _ = try await sync(late, address, c) }
                #expect(busy?.code == .io && busy?.message.contains("busy") == true, "\(String(describing: busy))")
            }
        }
    }

    /// After refusing a peer with `goodbye`, the hub keeps reading (and dropping) what the peer sends until the
    /// peer closes, instead of closing at once: closing with the peer's next message unread resets the
    /// connection, and a peer that had not yet read the goodbye lost it (it saw "I/O on closed channel", not
    /// the reason).
    @Test func refusingHubLingersSoItsGoodbyeIsRead() async throws {
        let hub = try makeHub(pledges: 1)
        let c = hub.community.id
        let stranger = try node("stranger")
        _ = try stranger.join(hub.node.invite(hub.community))  // no role
        try await serving(hub.node) { address in
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                var session = try await rawSession(conn, client: stranger, community: c)
                #expect(try await session.receive(within: 3) == .goodbye("not a member of this community"))
                try await session.send(.ping)  // what a sync sends next (its first reconcile) arrives after the goodbye
                try await Task.sleep(for: .milliseconds(500))
                #expect(!conn.isClosed, "the hub is still reading: nothing it sent is lost to a reset")
                await conn.close()
            }
        }
    }

    // MARK: 4. A slow sender

    /// A connection that announces a 1,000-byte frame and sends a byte a second never goes silent, so the idle
    /// timer never fires; the frame timeout (2 s here, from the config file syntax) closes it.
    @Test func slowSenderIsCutOffBeforeTheHandshake() async throws {
        let hub = try makeHub(pledges: 1)
        let config = try DaemonConfig.parse(
            toml: """
                [timers]
                frame_timeout_seconds = 2
                handshake_timeout_seconds = 60
                idle_timeout_seconds = 120
                """)
        try await serving(hub.node, config: config) { address in
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                let elapsed = try await trickle(conn, announcing: 1_000)
                #expect(elapsed >= .milliseconds(1_500), "closed only once the frame had been pending 2 s")
                #expect(conn.received.isEmpty)
            }
        }
    }

    /// An event stamped an hour ahead of the hub's clock, sent by a member over a session, is neither applied
    /// nor lost: the hub holds it to retry later, stores nothing yet, and the session goes on.
    @Test func farFutureEventsAreHeldNotApplied() async throws {
        let hub = try makeHub(pledges: 1)
        let c = hub.community.id
        let client = try makeClient(hub)
        let count = try hub.node.store.eventCount()
        let campaign = try #require(try hub.node.store.campaigns(community: c).first?.id)
        let ahead = Event.sign(
            community: c, author: client.identity, hlc: HLC(wall: hub.node.now + 3_600_000),
            body: .pledgeMade(
                PledgeMade(
                    campaign: campaign, backerName: "Tomorrow", anonymous: false, amount: 100, currency: Currency(code: "GBP")!, channel: .inPerson)))
        try await serving(hub.node) { address in
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                var session = try await rawSession(conn, client: client, community: c)
                try await session.send(.events([ahead.wire]))
                let reply = try await session.receive(within: 5)
                #expect(reply == .ack(accepted: 0, duplicates: 0, rejected: 0))
                try await session.send(.ping)
                #expect(try await session.receive(within: 5) == .pong)
            }
        }
        #expect(try hub.node.store.eventCount() == count)
        #expect(try hub.node.store.heldCount() == 1)
    }

    /// Nothing after a `goodbye` is read: events sent behind it are never stored, and the hub closes.
    @Test func dataAfterGoodbyeIsIgnored() async throws {
        let hub = try makeHub(pledges: 1)
        let c = hub.community.id
        let client = try makeClient(hub)
        let count = try hub.node.store.eventCount()
        let own = try client.store.exportEvents(community: c).filter { w in try hub.node.store.missing([Event.decode(wire: w).id]) != [] }
        #expect(!own.isEmpty)
        try await serving(hub.node) { address in
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                var session = try await rawSession(conn, client: client, community: c)
                // Both in one write, so the events are on the wire before the hub can hang up.
                let bye = Frames.frame(try session.sealed(.goodbye("done")))
                let after = Frames.frame(try session.sealed(.events(own)))
                try await conn.send(bye + after)
                #expect(await conn.closed(within: 3))
            }
        }
        #expect(try hub.node.store.eventCount() == count)
    }

    /// A peer that completes the handshake, asks for pushes with `live`, then falls silent (as one that
    /// vanished without closing would): the hub keeps pinging it, but with nothing read back it closes the
    /// connection after the idle timeout rather than holding the slot for ever.
    @Test func halfOpenPeerIsDroppedAfterTheIdleTimeout() async throws {
        let hub = try makeHub(pledges: 1)
        var config = Self.hubConfig()
        config.timers.keepAlive = 0.5
        config.timers.idleTimeout = 2
        config.timers.frameTimeout = 10
        try await serving(hub.node, config: config) { address in
            let client = try makeClient(hub)
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                var session = try await rawSession(conn, client: client, community: hub.community.id)
                try await session.send(.live)
                let start = ContinuousClock.now
                // The hub pings while waiting; we never answer.
                let ping = try await session.receive(within: 3)
                #expect(ping == .ping)
                #expect(await conn.closed(within: 6))
                #expect(ContinuousClock.now - start >= .milliseconds(1_500))
            }
        }
    }

    /// The same after a completed handshake, where the handshake timer no longer runs: the session answers
    /// a ping, then a frame trickled a byte a second is cut off by the frame timeout.
    @Test func slowSenderIsCutOffAfterTheHandshake() async throws {
        let hub = try makeHub(pledges: 1)
        var config = Self.hubConfig()
        config.timers.frameTimeout = 2
        config.timers.handshakeTimeout = 60
        config.timers.idleTimeout = 120
        try await serving(hub.node, config: config) { address in
            let client = try makeClient(hub)
            try await withRawConnections { raw in
                let conn = try await raw.open(address)
                var session = try await rawSession(conn, client: client, community: hub.community.id)
                try await session.send(.ping)
                let reply = try await session.receive(within: 2)
                #expect(reply == .pong)
                let elapsed = try await trickle(conn, announcing: 1_000)
                #expect(elapsed >= .milliseconds(1_500))
            }
        }
    }

    /// Sends a frame header announcing `length` bytes, then a byte a second; returns how long the server took
    /// to close the connection (at most 10 s, or the expectation fails).
    func trickle(_ conn: RawConnection, announcing length: Int) async throws -> Duration {
        let start = ContinuousClock.now
        try await conn.send([UInt8(length >> 8), UInt8(length & 0xFF)])
        let sender = Task {
            for _ in 0..<12 {
                try await Task.sleep(for: .seconds(1))
                guard !conn.isClosed else { return }
                try? await conn.send([0xAB])
            }
        }
        defer { sender.cancel() }
        let closed = await conn.closed(within: 10)
        #expect(closed, "a trickling peer must be cut off within 10 s")
        return ContinuousClock.now - start
    }

    // MARK: 5. Garbage

    /// Garbage in place of a handshake or a frame: the hub hangs up at once, answering nothing, well before
    /// its handshake timeout, and goes on serving members.
    @Test func garbageFramesAreRefused() async throws {
        let hub = try makeHub(pledges: 5)
        let c = hub.community.id
        var config = Self.hubConfig()
        config.limits.maxFrameBytes = 1_024
        config.limits.maxConnectionsPerAddress = 16
        config.timers.handshakeTimeout = 5
        try await serving(hub.node, config: config) { address in
            let client = try makeClient(hub)
            let networkKey = try #require(try client.store.communities().first { $0.id == c }).networkKey
            try await withRawConnections { raw in
                func refused(_ what: String, _ bytes: [UInt8]) async throws {
                    let conn = try await raw.open(address)
                    try await conn.send(bytes)
                    #expect(await conn.closed(within: 2), "\(what): not closed promptly")
                    #expect(conn.received.isEmpty, "\(what): the hub answered")
                }
                // Message 1 under a wrong network key.
                let (_, wrongKey) = try PeerHandshake.initiate(
                    community: c, networkKey: Sodium.randomBytes(32), noiseKey: NoiseKeyPair.generate(), identity: SigningKey.generate())
                try await refused("wrong network key", Frames.frame(wrongKey))
                // Message 1 with an all-zero ephemeral key, correctly authenticated under the network key.
                try await refused(
                    "all-zero ephemeral key", Frames.frame(Self.firstMessage(ephemeral: [UInt8](repeating: 0, count: 32), networkKey: networkKey)))
                // A frame over the 1,024-byte limit: refused on its length, before its body.
                try await refused("oversized frame", [0x08, 0x00] + [UInt8](repeating: 0x55, count: 100))
                try await refused("empty frame", [0, 0, 0, 5, 1, 2, 3, 4, 5])
                try await refused("random message 1", Frames.frame(Sodium.randomBytes(48)))

                // Control: the same construction with a real ephemeral key is answered, so the all-zero key,
                // not the construction, is what the hub refused.
                let control = try await raw.open(address)
                try await control.sendFrame(Self.firstMessage(ephemeral: NoiseKeyPair.generate().publicKey, networkKey: networkKey))
                #expect(try await control.readFrame(within: 2).count > 48)

                // After a real handshake: a transport frame that does not decrypt ends the session.
                let member = try await raw.open(address)
                _ = try await handshake(member, client: client, community: c)
                try await member.sendFrame(Sodium.randomBytes(40))
                #expect(await member.closed(within: 2))
                #expect(Frames.split(member.received).count == 1, "only message 2: no transport frame in answer to garbage")
            }
            _ = try await sync(client, address, c)
            #expect(try digest(client, c) == digest(hub.node, c))
        }
    }

    /// Noise message 1 built by hand (PROTOCOL.md §15: psk, then e, then the tag of an empty payload), so the
    /// ephemeral key can be anything.
    static func firstMessage(ephemeral: [UInt8], networkKey: [UInt8]) throws -> [UInt8] {
        var s = SymmetricState(protocolName: PeerHandshake.protocolName)
        s.mixHash(PeerHandshake.prologue)
        s.mixKeyAndHash(networkKey)
        s.mixHash(ephemeral)
        s.mixKey(ephemeral)
        return ephemeral + (try s.encryptAndHash([]))
    }
}

// MARK: - Timeouts

// MARK: - Frames

enum Frames {
    /// A body with its 2-byte length.
    static func frame(_ body: [UInt8]) -> [UInt8] { [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body }

    /// The bodies of the whole frames in a byte stream.
    static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var out = [[UInt8]]()
        var i = 0
        while i + 2 <= bytes.count {
            let n = Int(bytes[i]) << 8 | Int(bytes[i + 1])
            guard i + 2 + n <= bytes.count else { break }
            out.append(Array(bytes[i + 2..<i + 2 + n]))
            i += 2 + n
        }
        return out
    }
}

// MARK: - Raw connections

/// Bytes received on a raw connection, and whether the peer has closed it.
final class Inbox: Sendable {
    struct State {
        var bytes: [UInt8] = []
        var closed = false
        var cursor = 0
    }
    let state = Mutex(State())
}

final class InboxHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let inbox: Inbox
    init(_ inbox: Inbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let b = unwrapInboundIn(data)
        inbox.state.withLock { $0.bytes += b.readableBytesView }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.state.withLock { $0.closed = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A plain TCP connection that speaks bytes, for peers that do not follow the protocol.
final class RawConnection: Sendable {
    let channel: any NIOCore.Channel
    let inbox: Inbox

    init(channel: any NIOCore.Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Connects to `address`, from the local address `from` if given (any 127.x.y.z works on Linux loopback).
    static func open(_ address: HostPort, from: String? = nil) async throws -> RawConnection {
        let inbox = Inbox()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let from { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: from, port: 0)) }
        let channel =
            try await bootstrap
            .connectTimeout(.seconds(2))
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(InboxHandler(inbox)) } }
            .connect(host: address.host, port: address.port).get()
        return RawConnection(channel: channel, inbox: inbox)
    }

    func send(_ bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)) }
    func sendFrame(_ body: [UInt8]) async throws { try await send(Frames.frame(body)) }

    var received: [UInt8] { inbox.state.withLock { $0.bytes } }
    var isClosed: Bool { inbox.state.withLock { $0.closed } }

    /// Polls until `done` holds or `seconds` pass; true if it held.
    func wait(_ seconds: Double, until done: (Inbox.State) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if inbox.state.withLock({ done($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return inbox.state.withLock { done($0) }
    }

    /// Whether the peer closes the connection within `seconds`.
    func closed(within seconds: Double) async -> Bool { await wait(seconds) { $0.closed } }

    /// The next whole frame's body; throws if none arrives within `seconds`.
    func readFrame(within seconds: Double) async throws -> [UInt8] {
        func whole(_ s: Inbox.State) -> Int? {
            guard s.bytes.count - s.cursor >= 2 else { return nil }
            let n = Int(s.bytes[s.cursor]) << 8 | Int(s.bytes[s.cursor + 1])
            return s.bytes.count - s.cursor - 2 >= n ? n : nil
        }
        guard await wait(seconds, until: { whole($0) != nil }) else {
            throw TimedOut(what: isClosed ? "a frame (the peer closed the connection)" : "a frame")
        }
        return inbox.state.withLock { s in
            let n = whole(s)!
            defer { s.cursor += 2 + n }
            return Array(s.bytes[s.cursor + 2..<s.cursor + 2 + n])
        }
    }

    func close() async { try? await channel.close() }
}

/// Opens raw connections for `body` and closes every one of them afterwards, whatever happens, so that no
/// session is left for the listener's graceful shutdown to wait on.
func withRawConnections(_ body: (RawConnections) async throws -> Void) async throws {
    let raw = RawConnections()
    do {
        try await body(raw)
    } catch {
        await raw.closeAll()
        throw error
    }
    await raw.closeAll()
}

final class RawConnections: Sendable {
    private let all = Mutex<[RawConnection]>([])

    func open(_ address: HostPort, from: String? = nil) async throws -> RawConnection {
        let c = try await RawConnection.open(address, from: from)
        all.withLock { $0.append(c) }
        return c
    }

    func closeAll() async {
        for c in all.withLock({ $0 }) { await c.close() }
    }
}

// MARK: - The man in the middle

enum Direction: String, Sendable {
    case clientToServer = "client→server"
    case serverToClient = "server→client"
}

/// One alteration of one direction of a connection, at a byte of a frame: bytes 0 and 1 are the frame's
/// length, later ones its body; a position past the end of the frame means its last byte.
struct Tamper: Sendable, CustomStringConvertible {
    enum Op: Sendable {
        case flip(bit: UInt8)
        case drop(Int)
        case duplicate(Int)
        /// Forward nothing from this byte on, and close both connections.
        case truncate
    }

    let direction: Direction
    let frame: Int
    let byte: Int
    let op: Op

    init(_ direction: Direction, frame: Int, byte: Int, _ op: Op) {
        self.direction = direction
        self.frame = frame
        self.byte = byte
        self.op = op
    }

    var description: String { "\(op) at \(direction) frame \(frame) byte \(byte)" }
}

/// Applies a `Tamper` to a byte stream chunk by chunk, following the frame lengths of the original stream.
struct TamperStream {
    let tamper: Tamper?
    private var frame = 0
    private var position = 0
    private var frameLength = Int.max
    private var lengthHigh = 0
    private var dropping = 0
    private var duplicating = 0
    private var copy: [UInt8] = []
    private(set) var fired = false
    private(set) var cut = false

    init(_ tamper: Tamper?) { self.tamper = tamper }

    private func isTarget() -> Bool {
        guard let t = tamper, !fired, frame == t.frame else { return false }
        if position < 2 || t.byte < 2 { return position == t.byte }
        return position == min(t.byte, frameLength - 1)
    }

    mutating func apply(_ chunk: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(chunk.count + 128)
        for original in chunk {
            if cut { break }
            var byte = original
            if isTarget(), let t = tamper {
                fired = true
                switch t.op {
                case .flip(let bit): byte ^= 1 << bit
                case .drop(let n): dropping = n
                case .duplicate(let n): duplicating = n
                case .truncate: cut = true
                }
            }
            // Follow the original stream's frames.
            if position == 0 { lengthHigh = Int(original) }
            if position == 1 { frameLength = 2 + (lengthHigh << 8 | Int(original)) }
            position += 1
            let frameEnded = position == frameLength
            if frameEnded {
                frame += 1
                position = 0
                frameLength = Int.max
            }
            if cut { break }
            if dropping > 0 {
                dropping -= 1
                continue
            }
            out.append(byte)
            if duplicating > 0 {
                copy.append(byte)
                duplicating -= 1
                // A duplicated range ends with its count or its frame (a sender writes whole frames, so the
                // rest of a frame always follows; the next frame may wait for an answer that never comes).
                if duplicating == 0 || frameEnded {
                    out += copy
                    copy = []
                    duplicating = 0
                }
            }
        }
        return out
    }
}

/// Shared state of a proxy: what each direction carried before tampering, and every channel to close.
final class ProxyState: Sendable {
    struct State {
        var clientToServer: [UInt8] = []
        var serverToClient: [UInt8] = []
        var fired = false
        var channels: [any NIOCore.Channel] = []
    }
    let state = Mutex(State())

    func record(_ d: Direction, _ bytes: [UInt8]) {
        state.withLock {
            switch d {
            case .clientToServer: $0.clientToServer += bytes
            case .serverToClient: $0.serverToClient += bytes
            }
        }
    }

    func add(_ c: any NIOCore.Channel) { state.withLock { $0.channels.append(c) } }
}

/// Forwards what one side sends to the other, through a `TamperStream`.
final class Forwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let direction: Direction
    let peer: any NIOCore.Channel
    let shared: ProxyState
    var stream: TamperStream

    init(_ direction: Direction, peer: any NIOCore.Channel, shared: ProxyState, tamper: Tamper?) {
        self.direction = direction
        self.peer = peer
        self.shared = shared
        self.stream = TamperStream(tamper?.direction == direction ? tamper : nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !stream.cut else { return }
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        shared.record(direction, bytes)
        let out = stream.apply(bytes)
        if stream.fired { shared.state.withLock { $0.fired = true } }
        let written = peer.writeAndFlush(ByteBuffer(bytes: out))
        if stream.cut {
            let peer = self.peer
            written.whenComplete { _ in peer.close(promise: nil) }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Pass on the close once what was already forwarded has been written.
        let peer = self.peer
        peer.writeAndFlush(ByteBuffer()).whenComplete { _ in peer.close(promise: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension Forwarder: Sendable {}

/// A TCP proxy on an ephemeral loopback port in front of `target`, tampering with one direction.
final class Proxy: Sendable {
    let server: any NIOCore.Channel
    let shared: ProxyState
    let address: HostPort

    private init(server: any NIOCore.Channel, shared: ProxyState, address: HostPort) {
        self.server = server
        self.shared = shared
        self.address = address
    }

    static func start(to target: HostPort, tamper: Tamper?) async throws -> Proxy {
        let shared = ProxyState()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                shared.add(child)
                // Connect upstream first; the client's bytes are read only once this completes.
                return ClientBootstrap(group: child.eventLoop)
                    .connectTimeout(.seconds(2))
                    .channelInitializer { up in
                        shared.add(up)
                        return up.eventLoop.makeCompletedFuture {
                            try up.pipeline.syncOperations.addHandler(Forwarder(.serverToClient, peer: child, shared: shared, tamper: tamper))
                        }
                    }
                    .connect(host: target.host, port: target.port)
                    .flatMapThrowing { up in
                        try child.pipeline.syncOperations.addHandler(Forwarder(.clientToServer, peer: up, shared: shared, tamper: tamper))
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return Proxy(server: server, shared: shared, address: HostPort(host: "127.0.0.1", port: server.localAddress!.port!))
    }

    /// Closes the listening socket and every connection.
    func stop() async {
        try? await server.close()
        for c in shared.state.withLock({ $0.channels }) { try? await c.close() }
    }

    func recorded(_ d: Direction) -> [UInt8] {
        shared.state.withLock { d == .clientToServer ? $0.clientToServer : $0.serverToClient }
    }

    var fired: Bool { shared.state.withLock { $0.fired } }
}

/// A raw connection past a real handshake: session messages sealed and opened by hand.
struct RawSession {
    let conn: RawConnection
    var transport: TransportState

    mutating func sealed(_ m: SessionMessage) throws -> [UInt8] { try transport.encrypt(m.encoded()) }

    mutating func send(_ m: SessionMessage) async throws { try await conn.sendFrame(try sealed(m)) }

    mutating func open(_ frame: [UInt8]) throws -> SessionMessage { try SessionMessage.decode(try transport.decrypt(frame)) }

    mutating func receive(within seconds: Double) async throws -> SessionMessage { try open(try await conn.readFrame(within: seconds)) }
}
