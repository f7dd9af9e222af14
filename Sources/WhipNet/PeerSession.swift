import Foundation
public import Logging
import NIOCore
import NIOPosix
import WhipCore
public import WhipCrypto
public import WhipNoise
public import WhipStore
import WhipSync

/// Per-session settings (the daemon builds them from its `DaemonConfig`).
public struct SessionSettings: Sendable {
    /// Largest frame accepted.
    public var maxFrameBytes = 65_535
    /// The handshake must finish within this many seconds.
    public var handshakeTimeout: Double = 10
    /// A connection we have read nothing from for this long is closed.
    public var idleTimeout: Double = 120
    /// A frame must be complete within this many seconds of its first byte.
    public var frameTimeout: Double = 15
    /// Payload budget of one `events` message (it must fit a Noise message with room for framing).
    public var eventsMessageBytes = SessionMessage.eventsBudgetBytes
    /// Events pulled from a peer are committed in batches of about this many.
    public var commitBatch = 10_000
    /// Most bytes of an answer to one `want`; the asker asks again for the rest. Together with one
    /// outstanding `want` per direction this bounds what either side can have in flight towards the other.
    public var answerBytes = 256_000
    /// Bytes of frames from one peer that may wait to be handled before we stop reading from it.
    public var inboundQueueBytes = 1 << 20
    /// A ping is sent this often on a live session, so a quiet link is not taken for a dead one.
    public var keepAlive: Double = 30
    /// New events for a lazy peer are announced after this many seconds, in one message: by then most peers
    /// have them from the push tree and have said so with their own announcement, so fewer ids cross.
    public var announceDelay: Double = 0.1
    /// Unacknowledged `events` messages to a peer beyond which new events are announced, not pushed.
    public var maxUnackedPushes = 16
    /// Refused events (forged, unauthorised, malformed) a member may send within an hour before it is cut off.
    public var maxRefusedEvents = 1_000

    /// Defaults.
    public init() {}
}

/// What one sync with a peer did.
public struct SyncReport: Sendable {
    /// The community synced.
    public var community: PublicKey
    /// The peer's member identity.
    public var peer: PublicKey
    /// Reconciliation messages this side sent.
    public var reconcileMessages = 0
    /// Events sent to the peer, and what it said it committed.
    public var sent = 0
    public var peerAccepted = 0
    /// What we committed from the peer.
    public var received = IngestReport()
}

/// How far a sync has got, for a progress display.
public struct SyncProgress: Sendable, Equatable {
    /// What the sync is doing.
    public enum Phase: String, Sendable {
        case reconciling, sending, receiving
    }
    /// The phase.
    public var phase: Phase
    /// Events done in this phase, of `total` (both 0 while reconciling).
    public var done: Int
    public var total: Int

    /// A progress report.
    public init(_ phase: Phase, done: Int = 0, total: Int = 0) {
        self.phase = phase
        self.done = done
        self.total = total
    }
}

/// Who this node is on the wire.
public struct NodeCredentials: Sendable {
    /// The member identity.
    public let identity: SigningKey
    /// The Noise static key, bound to the identity in every handshake.
    public let noiseKey: NoiseKeyPair

    /// Credentials from keys.
    public init(identity: SigningKey, noiseKey: NoiseKeyPair) {
        self.identity = identity
        self.noiseKey = noiseKey
    }
}

/// The session ended because this node is shutting down.
struct ShuttingDown: Error {}

/// The peer said goodbye before the exchange was over; `refused` when it did so instead of its first answer.
struct PeerLeft: Error {
    let reason: String
    var refused = false
}

/// One framed, encrypted conversation. A reader task moves frames from the socket into `mailbox`; the
/// session task is the only one that decrypts, encrypts or writes.
struct Link {
    let mailbox: Mailbox
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var transport: TransportState?
    let exchange: Exchange

    static let closed = WhipError(.io, "the peer closed the connection")

    /// The next frame, for the handshake and the initial sync (which handle nothing else); local
    /// notifications stay queued for the live phase.
    mutating func readFrame() async throws -> [UInt8] {
        switch await mailbox.nextFrame() {
        case .frame(let f):
            exchange.metrics.bytes(received: f.readableBytes + 2)
            return Array(f.readableBytesView)
        case .ended(let e): throw e ?? Link.closed
        default: throw ShuttingDown()
        }
    }

    func writeFrame(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
        exchange.metrics.bytes(sent: bytes.count + 2)
        exchange.bytesSent.add(bytes.count + 2, ordering: .relaxed)
    }

    mutating func send(_ m: SessionMessage) async throws {
        let frame = try transport!.encrypt(m.encoded())
        do {
            try await writeFrame(frame)
        } catch {
            // The peer may have said why before it closed: its goodbye is then still queued, unread.
            if let reason = await queuedGoodbye() { throw PeerLeft(reason: reason) }
            throw error
        }
        exchange.traffic.count(type: m.type, bytes: frame.count + 2)
    }

    /// After a failed write: the reason of a `goodbye` among the frames the peer sent before it closed, if
    /// there is one. Waits at most `patience` for them to arrive, and never for a peer that is still sending.
    mutating func queuedGoodbye(patience: Duration = .milliseconds(500)) async -> String? {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            switch mailbox.queuedFrame() {
            case .frame(let f):
                guard let m = try? SessionMessage.decode(try transport!.decrypt(Array(f.readableBytesView))) else { return nil }
                if case .goodbye(let reason) = m { return reason }
            case nil:
                try? await Task.sleep(for: .milliseconds(10))
            default:
                return nil  // the connection ended (or this node is stopping) with no goodbye queued
            }
        }
        return nil
    }

    /// After a refusing `goodbye`: reads and drops what the peer still sends until it closes the connection or
    /// `seconds` pass. Closing at once would cut the connection with the peer's next message unread (a reset,
    /// or an end the peer notices before it reads the goodbye), and the peer would never learn why.
    mutating func linger(_ seconds: Double, on channel: any NIOCore.Channel) async {
        let timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) { channel.close(promise: nil) }
        defer { timer.cancel() }
        while case .frame = await mailbox.nextFrame() {}
    }

    mutating func open(_ frame: ByteBuffer) throws -> SessionMessage {
        exchange.metrics.bytes(received: frame.readableBytes + 2)
        return try SessionMessage.decode(try transport!.decrypt(Array(frame.readableBytesView)))
    }

    /// The next message of a sequential phase (the first sync); a `goodbye` ends it with `PeerLeft`.
    mutating func receive() async throws -> SessionMessage {
        let frame = try await readFrame()
        let m = try SessionMessage.decode(try transport!.decrypt(frame))
        if case .goodbye(let reason) = m { throw PeerLeft(reason: reason) }
        return m
    }

    /// Sends a reconciliation message in as many frames as it needs.
    mutating func sendReconcile(_ message: [UInt8]) async throws {
        for m in SessionMessage.reconcileFrames(message) { try await send(m) }
    }

    /// Receives a whole reconciliation message (its parts, then its end); anything else breaks the protocol.
    mutating func receiveReconcile() async throws -> [UInt8] {
        var whole = ReconcileAssembly()
        while true {
            switch try await receive() {
            case .reconcilePart(let part): try whole.add(part)
            case .reconcile(let last): return try whole.finish(last)
            default: throw WhipError(.rejected, "peer broke the protocol: expected a reconciliation message")
            }
        }
    }

    /// Runs `body` with a link over `channel`, its reader and keep-alive tasks running alongside.
    static func with<T: Sendable>(
        _ channel: FramedChannel, exchange: Exchange, settings: SessionSettings, _ body: (inout Link) async throws -> T
    ) async throws -> T {
        try await channel.executeThenClose { inbound, outbound in
            let mailbox = Mailbox(capacity: settings.inboundQueueBytes)
            return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
                group.addTask {
                    do {
                        for try await frame in inbound { await mailbox.put(frame) }
                        mailbox.finish(nil)
                    } catch {
                        mailbox.finish(error)
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(Int64(settings.keepAlive * 1000)))
                        mailbox.requestKeepAlive()
                    }
                }
                defer {
                    mailbox.close()
                    group.cancelAll()
                }
                var link = Link(mailbox: mailbox, outbound: outbound, exchange: exchange)
                return try await body(&link)
            }
        }
    }
}

/// Joins the parts of a reconciliation message, refusing one longer than `Sync.maxMessageSize`.
struct ReconcileAssembly {
    var bytes: [UInt8] = []

    mutating func add(_ part: [UInt8]) throws(WhipError) {
        guard bytes.count + part.count <= Sync.maxMessageSize else {
            throw WhipError(.rejected, "peer sent a reconciliation message over \(Sync.maxMessageSize) bytes")
        }
        bytes += part
    }

    mutating func finish(_ last: [UInt8]) throws(WhipError) -> [UInt8] {
        try add(last)
        defer { bytes = [] }
        return bytes
    }
}

/// Splits events into `events` messages within a byte budget.
func eventMessages(_ wires: [[UInt8]], budget: Int) -> [[[UInt8]]] {
    var out = [[[UInt8]]]()
    var current = [[UInt8]]()
    var size = 0
    for w in wires {
        if size + w.count + 4 > budget, !current.isEmpty {
            out.append(current)
            current = []
            size = 0
        }
        current.append(w)
        size += w.count + 4
    }
    if !current.isEmpty { out.append(current) }
    return out
}

/// The session logic, for both sides. Protocol code is the pure `PeerHandshake`, `SyncInitiator`,
/// `SyncResponder` and `SessionMessage`; this drives them over a channel.
public enum PeerSession {
    /// `want`s the initiator of a first sync keeps outstanding (the live phase allows one).
    static let firstSyncWants = 4
    /// How long a responder that refused a peer with `goodbye` keeps reading, so the peer reads the reason.
    static let lingerSeconds = 2.0

    /// The `goodbye` reasons a responder refuses a peer with right after the handshake (PROTOCOL §16).
    enum Refusal {
        static let notMember = "not a member of this community"
        static let tooManyRefused = "too many refused events; try again later"
        static let busy = "busy: too many connections; try again later"
    }

    /// Answers one inbound connection: the handshake, then a live session until the peer says goodbye, this
    /// node shuts down, the link goes idle or the peer breaks the protocol. `admit` runs once the peer has
    /// proved itself a member: false (every session slot taken) sends it away with a `busy` goodbye.
    package static func respond(
        _ channel: FramedChannel, exchange: Exchange, credentials: NodeCredentials, settings: SessionSettings, logger: Logger,
        admit: @Sendable () -> Bool = { true }
    ) async {
        var logger = logger
        logger[metadataKey: "peer.address"] = "\(channel.channel.remoteAddress?.description ?? "?")"
        // The handshake must finish in time; a slow or silent peer is cut off by closing the channel.
        let deadline = channel.channel.eventLoop.scheduleTask(in: .milliseconds(Int64(settings.handshakeTimeout * 1000))) {
            channel.channel.close(promise: nil)
        }
        do {
            try await Link.with(channel, exchange: exchange, settings: settings) { (c: inout Link) async throws in
                let first = try await c.readFrame()
                var (hs, reply) = try PeerHandshake.respond(
                    to: first, communities: try await exchange.communities(), noiseKey: credentials.noiseKey, identity: credentials.identity)
                try await c.writeFrame(reply)
                guard case .established(let session) = try hs.receive(try await c.readFrame()) else {
                    throw WhipError(.rejected, "handshake did not complete")
                }
                deadline.cancel()
                exchange.metrics.handshake(ok: true)
                c.transport = session.transport
                logger[metadataKey: "peer.id"] = "\(KeyText.encode(session.peerIdentity, as: .member))"
                logger[metadataKey: "community.id"] = "\(KeyText.encode(session.community, as: .community))"
                guard try await exchange.isMember(session.peerIdentity, of: session.community) else {
                    logger.notice("refused a peer that holds the network key but no role")
                    try await c.send(.goodbye(Refusal.notMember))
                    await c.linger(lingerSeconds, on: channel.channel)
                    return
                }
                guard await !exchange.isCutOff(session.peerIdentity, limit: settings.maxRefusedEvents) else {
                    logger.notice("refused a peer that sent too many refused events within the hour")
                    try await c.send(.goodbye(Refusal.tooManyRefused))
                    await c.linger(lingerSeconds, on: channel.channel)
                    return
                }
                guard admit() else {
                    logger.notice("refused a member: every session slot is taken")
                    try await c.send(.goodbye(Refusal.busy))
                    await c.linger(lingerSeconds, on: channel.channel)
                    return
                }
                logger.info("peer connected")
                let id = exchange.sessions.register(c.mailbox, community: session.community, peer: session.peerIdentity, outbound: false)
                exchange.metrics.peerConnected()
                defer {
                    exchange.metrics.peerDisconnected()
                    exchange.sessions.unregister(id)
                }
                var live = LiveSession(
                    id: id, isInitiator: false, community: session.community, peer: session.peerIdentity, exchange: exchange, settings: settings,
                    logger: logger, link: c)
                // The member is listed (by its member id) in this node's peers, with when it was last in sync.
                let from = channel.channel.remoteAddress?.ipAddress ?? "?"
                let record: @Sendable () -> Void = {
                    try? exchange.node.store.recordInbound(session.peerIdentity, from: from, now: exchange.node.now)
                }
                live.onLive = record
                do {
                    try await live.run()
                } catch {
                    if live.synced { record() }
                    throw error
                }
                if live.synced { record() }
                logger.info("peer session ended")
            }
        } catch {
            deadline.cancel()
            if error is HandshakeError { exchange.metrics.handshake(ok: false) }
            logger.info("session ended", metadata: ["error": "\(error)"])
        }
    }

    /// Connects to `address`, reconciles `community` once, sends what the peer lacks, fetches what we lack,
    /// says goodbye and returns what happened.
    public static func syncOnce(
        address: HostPort, community: PublicKey, exchange: Exchange, credentials: NodeCredentials, settings: SessionSettings,
        logger: Logger, progress: @Sendable (SyncProgress) -> Void = { _ in }
    ) async throws -> SyncReport {
        try await connect(
            address: address, community: community, exchange: exchange, credentials: credentials, settings: settings, logger: logger,
            stayLive: false, progress: progress)
    }

    /// Connects to `address`, runs one full sync of `community`, then (when `stayLive`) keeps the session
    /// open, pushing and pulling new events as they appear, until either side closes it. `onSynced` runs after
    /// the first sync and after each backstop reconciliation.
    public static func connect(
        address: HostPort, community: PublicKey, exchange: Exchange, credentials: NodeCredentials, settings: SessionSettings,
        logger: Logger, stayLive: Bool, progress: @Sendable (SyncProgress) -> Void = { _ in },
        onSynced: @escaping @Sendable (SyncReport) -> Void = { _ in }
    ) async throws -> SyncReport {
        guard let info = try await exchange.communities().first(where: { $0.id == community }) else {
            throw WhipError(.notFound, "this node is not a member of that community")
        }
        let channel: FramedChannel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(settings.handshakeTimeout * 1000)))
                .connect(host: address.host, port: address.port) { ch in PeerPipeline.configure(ch, settings) }
        } catch {
            throw WhipError(.io, "cannot connect to \(address): \(ConnectFailure.reason(error))", cause: error)
        }
        let deadline = channel.channel.eventLoop.scheduleTask(in: .milliseconds(Int64(settings.handshakeTimeout * 1000))) {
            channel.channel.close(promise: nil)
        }
        var logger = logger
        logger[metadataKey: "peer.address"] = "\(address)"
        logger[metadataKey: "community.id"] = "\(KeyText.encode(community, as: .community))"
        do {
            return try await session(
                channel, address: address, community: community, networkKey: info.networkKey, exchange: exchange, credentials: credentials,
                settings: settings, logger: logger, stayLive: stayLive, deadline: deadline, progress: progress, onSynced: onSynced)
        } catch let e as WhipError {
            throw e
        } catch let e as any ErrorWithCode {
            // Tampered bytes, a broken or hostile peer: the session cannot be trusted further.
            throw WhipError(.rejected, "the session with \(address) broke: \(e.code): \(e.message)", cause: e)
        } catch is ShuttingDown {
            throw WhipError(.io, "the session with \(address) ended: this node is shutting down")
        } catch let e as PeerLeft where e.refused && e.reason.hasPrefix("busy") {
            throw WhipError(.io, "\(address) is busy (every connection slot is taken); try again later", cause: e)
        } catch let e as PeerLeft where e.refused {
            throw WhipError(.permissionDenied, "\(address) refused this node: \(e.reason)", cause: e)
        } catch let e as PeerLeft {
            throw WhipError(.io, "\(address) ended the session before the sync was complete: \(e.reason)", cause: e)
        } catch {
            throw WhipError(.io, "the connection to \(address) broke: \(error)", cause: error)
        }
    }

    /// The initiator's side of a connected session: handshake, first sync, and (when `stayLive`) the live phase.
    static func session(
        _ channel: FramedChannel, address: HostPort, community: PublicKey, networkKey: [UInt8], exchange: Exchange,
        credentials: NodeCredentials, settings: SessionSettings, logger: Logger, stayLive: Bool, deadline: Scheduled<Void>,
        progress: @Sendable (SyncProgress) -> Void, onSynced: @escaping @Sendable (SyncReport) -> Void
    ) async throws -> SyncReport {
        var logger = logger
        return try await Link.with(channel, exchange: exchange, settings: settings) { (c: inout Link) async throws -> SyncReport in
            var (hs, first) = try PeerHandshake.initiate(
                community: community, networkKey: networkKey, noiseKey: credentials.noiseKey, identity: credentials.identity)
            let second: [UInt8]
            do {
                // A responder that turns the connection away at once (a connection limit) may have closed it
                // before message 1 is even written.
                try await c.writeFrame(first)
                second = try await c.readFrame()
            } catch {
                exchange.metrics.handshake(ok: false)
                // Before the handshake completes a responder cannot say why without telling strangers what it
                // serves (PROTOCOL §15), so every cause is named.
                throw WhipError(
                    .permissionDenied,
                    "\(address) closed the connection during the handshake: our network key is wrong, it is not a hub of this community, "
                        + "or it is busy (try again later)")
            }
            guard case .sendAndEstablish(let third, let session) = try hs.receive(second) else {
                throw WhipError(.rejected, "handshake did not complete")
            }
            try await c.writeFrame(third)
            deadline.cancel()
            exchange.metrics.handshake(ok: true)
            c.transport = session.transport
            logger[metadataKey: "peer.id"] = "\(KeyText.encode(session.peerIdentity, as: .member))"
            guard try await exchange.isMember(session.peerIdentity, of: community) else {
                try await c.send(.goodbye("you are not a member of this community"))
                throw WhipError(.permissionDenied, "the peer at \(address) holds the network key but is not a member of the community")
            }
            // Registered before the first sync, so events committed meanwhile wait in the mailbox to be offered.
            let id = stayLive ? exchange.sessions.register(c.mailbox, community: community, peer: session.peerIdentity, outbound: true) : nil
            exchange.metrics.peerConnected()
            defer {
                exchange.metrics.peerDisconnected()
                if let id { exchange.sessions.unregister(id) }
            }
            progress(SyncProgress(.reconciling))
            let report = try await initialSync(
                &c, session: id, community: community, peer: session.peerIdentity, exchange: exchange, settings: settings, progress: progress)
            onSynced(report)
            guard let id else {
                try await c.send(.goodbye("sync complete"))
                return report
            }
            try await c.send(.live)
            exchange.sessions.markLive(id)
            logger.info("peer connected", metadata: ["sync.sent": "\(report.sent)", "sync.received": "\(report.received.accepted)"])
            var live = LiveSession(
                id: id, isInitiator: true, community: community, peer: session.peerIdentity, exchange: exchange, settings: settings, logger: logger,
                link: c)
            live.peerLive = true
            live.onReconciled = { onSynced(SyncReport(community: community, peer: session.peerIdentity)) }
            try await live.run()
            logger.info("peer session ended")
            return report
        }
    }

    /// The first sync of a connection, driven by the initiator: reconcile, push what the peer lacks (each
    /// batch acknowledged only once the peer committed it), then pull what we lack.
    static func initialSync(
        _ c: inout Link, session: Int?, community: PublicKey, peer: PublicKey, exchange: Exchange, settings: SessionSettings,
        progress: @Sendable (SyncProgress) -> Void
    ) async throws -> SyncReport {
        var report = SyncReport(community: community, peer: peer)
        var initiator = SyncInitiator(store: try await exchange.index(of: community))
        var message: [UInt8]? = try initiator.initiate()
        var have: [EventKey] = []
        var need: [EventID] = []
        while let m = message {
            let answer: [UInt8]
            do {
                try await c.sendReconcile(m)
                report.reconcileMessages += 1
                exchange.metrics.reconcileRound()
                answer = try await c.receiveReconcile()
            } catch let e as PeerLeft where report.reconcileMessages <= 1 {
                // A goodbye instead of the first answer: the responder refused this node, and says why.
                throw PeerLeft(reason: e.reason, refused: true)
            }
            let r = try initiator.reconcile(answer)
            have += r.have
            need += r.need
            message = r.next
        }
        progress(SyncProgress(.sending, done: 0, total: have.count))

        let toSend = try await exchange.events(of: community, ids: have.map(\.id))
        for batch in eventMessages(toSend, budget: settings.eventsMessageBytes) {
            try await c.send(.events(batch))
            guard case .ack(let accepted, _, _) = try await c.receive() else { throw WhipError(.rejected, "peer broke the protocol") }
            report.sent += batch.count
            report.peerAccepted += accepted
            exchange.metrics.sent(events: batch.count)
            exchange.logger.debug("peer acknowledged a batch", metadata: ["sync.acked": "\(report.sent)", "sync.total": "\(toSend.count)"])
            progress(SyncProgress(.sending, done: report.sent, total: toSend.count))
        }
        // Pull what we lack, committing in import-sized batches: fewer, larger transactions, and events arrive in
        // reconciliation order, which follows replay order, so campaigns resume rather than replay. A peer
        // answers each `want` with at most `answerBytes`; what it left out is asked for again. Up to
        // `firstSyncWants` wants are outstanding and each batch commits while the next is fetched, so neither
        // the round trips nor the commits leave the link idle.
        var queue = need[...]
        var asked: [[EventID]] = []
        var pending = [[UInt8]]()
        var committing: Task<IngestReport, any Error>?
        let total = need.count
        var received = 0
        func acknowledge(_ commit: Task<IngestReport, any Error>, _ c: inout Link) async throws {
            let r = try await commit.value
            report.received.merge(r)
            try await c.send(.ack(accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejectedCount))
        }
        while !queue.isEmpty || !asked.isEmpty {
            while asked.count < PeerSession.firstSyncWants && !queue.isEmpty {
                let ids = Array(queue.prefix(SessionMessage.maxIDs))
                queue = queue.dropFirst(ids.count)
                try await c.send(.want(ids))
                asked.append(ids)
            }
            let ids = asked.removeFirst()
            var got = 0
            while true {
                guard case .events(let wires) = try await c.receive() else { throw WhipError(.rejected, "peer broke the protocol") }
                if wires.isEmpty { break }
                got += wires.count
                pending += wires
            }
            received += got
            if got > 0 && got < ids.count {
                // Answered in part: ask again for the rest (ids outside the answer keep their order).
                let receivedIDs = Set(pending.suffix(got).compactMap { try? Event.decode(wire: $0).id })
                let rest = ids.filter { !receivedIDs.contains($0) }
                queue = rest[...] + queue
            }
            if pending.count >= settings.commitBatch || (queue.isEmpty && asked.isEmpty) {
                // Verify this batch (on every core, off the replica's actor) while the previous one commits;
                // commits stay in order.
                let previous = committing
                let batch = pending
                pending = []
                committing = Task {
                    let results = Verifier.check(batch, community: community)
                    if let previous { _ = try? await previous.value }
                    return try await exchange.ingest(verified: batch, results: results, from: session)
                }
                if let previous { try await acknowledge(previous, &c) }
            }
            progress(SyncProgress(.receiving, done: received, total: total))
        }
        if let last = committing { try await acknowledge(last, &c) }
        return report
    }
}

/// A bounded set of recent ids, oldest forgotten first.
struct RecentIDs {
    let capacity: Int
    private var set = Set<EventID>()
    private var order: [EventID] = []
    private var head = 0

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ id: EventID) -> Bool { set.contains(id) }

    mutating func insert(_ ids: some Sequence<EventID>) {
        for id in ids where set.insert(id).inserted {
            if order.count < capacity {
                order.append(id)
            } else {
                set.remove(order[head])
                order[head] = id
                head = (head + 1) % capacity
            }
        }
    }
}

/// A session after the handshake (and, for the initiator, after the first sync): both sides push new events
/// and answer each other, in the style of plumtree. New events go in full to an "eager" peer and as an
/// `announce` of ids to a "lazy" one; a peer that answers a push with only duplicates becomes lazy, and one
/// that asks for announced ids becomes eager again, so pushes settle onto a spanning tree and every other
/// link carries only ids. Each side has at most one `want` outstanding, and answers are bounded, so neither
/// can flood the other; the initiator runs periodic backstop reconciliations over the same session.
struct LiveSession {
    let id: Int
    let isInitiator: Bool
    let community: PublicKey
    /// The peer's member identity, checked again at every keep-alive.
    let peer: PublicKey
    let exchange: Exchange
    let settings: SessionSettings
    let logger: Logger
    var link: Link
    /// The peer asked for pushes (sent `live`).
    var peerLive = false
    /// Push new events in full (true) or announce their ids (false).
    var eager = true
    var unacked = 0
    var peerHas = RecentIDs(capacity: 8_192)
    /// Local events offered before the peer went live.
    var held: [EventID] = []
    /// Ids to announce to a lazy peer at the next flush.
    var toAnnounce: [EventID] = []
    var flushScheduled = false
    var initiator: SyncInitiator<SortedIndex>?
    var assembly = ReconcileAssembly()
    var wantQueue: [EventID] = []
    var asked: [EventID]?
    var answered = 0
    var onReconciled: @Sendable () -> Void = {}
    /// Runs when the peer sends `live` (it finished its first sync with us).
    var onLive: @Sendable () -> Void = {}
    /// This side answered a reconciliation from the peer.
    var answeredReconcile = false
    /// The peer said goodbye.
    var peerSaidGoodbye = false
    /// The peer completed a sync with this side: it went live, or it reconciled and then said goodbye (a
    /// one-off sync).
    var synced: Bool { peerLive || (answeredReconcile && peerSaidGoodbye) }

    init(
        id: Int, isInitiator: Bool, community: PublicKey, peer: PublicKey, exchange: Exchange, settings: SessionSettings, logger: Logger,
        link: Link
    ) {
        self.id = id
        self.isInitiator = isInitiator
        self.community = community
        self.peer = peer
        self.exchange = exchange
        self.settings = settings
        self.logger = logger
        self.link = link
    }

    /// Handles inputs until the session ends: normally on goodbye or shutdown, by throwing on a broken link.
    mutating func run() async throws {
        while true {
            switch await link.mailbox.next() {
            case .frame(let f):
                if try await handle(try link.open(f)) { return }
            case .ended(let e):
                throw e ?? Link.closed
            case .local(let ids, let c):
                if c == community { try await offer(ids) }
            case .overflow, .reconcile:
                if isInitiator && initiator == nil { try await startReconcile() }
            case .flushAnnouncements:
                flushScheduled = false
                let ids = toAnnounce.filter { !peerHas.contains($0) }
                toAnnounce = []
                try await announce(ids)
            case .keepAlive:
                // A peer whose role was revoked since the handshake is let go.
                guard try await exchange.isMember(peer, of: community) else {
                    logger.notice("peer is no longer a member; closing its session")
                    try? await link.send(.goodbye("no longer a member of this community"))
                    return
                }
                // Not before `live`: during its first sync the initiator reads only answers.
                if peerLive { try await link.send(.ping) }
            case .shutdown:
                // Whatever was being committed is committed: inputs are handled one at a time.
                try? await link.send(.goodbye("shutting down"))
                return
            }
        }
    }

    /// Handles one message; true when the session is over.
    mutating func handle(_ m: SessionMessage) async throws -> Bool {
        switch m {
        case .reconcilePart(let part):
            try assembly.add(part)
        case .reconcile(let last):
            let bytes = try assembly.finish(last)
            if initiator != nil {
                let r = try initiator!.reconcile(bytes)
                queueWants(r.need)
                try await announce(r.have.map(\.id))
                if let next = r.next {
                    try await link.sendReconcile(next)
                    exchange.metrics.reconcileRound()
                } else {
                    initiator = nil
                    onReconciled()
                }
                try await askNext()
            } else {
                var responder = SyncResponder(store: try await exchange.index(of: community))
                try await link.sendReconcile(try responder.reconcile(bytes))
                answeredReconcile = true
            }
        case .want(let ids):
            if peerLive { eager = true }  // it lacks what we announce: push to it again
            try await answer(ids)
        case .events(let wires):
            if wires.isEmpty {
                try await answerEnded()
            } else {
                let r = try await exchange.ingest(wires, community: community, from: id)
                try await link.send(.ack(accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejectedCount))
                answered += wires.count
                if asked == nil && r.accepted == 0 && r.duplicates > 0 && r.rejectedCount == 0 {
                    eager = false  // a push of what we had: this link is off the tree both ways (the ack prunes theirs)
                }
                if r.rejectedCount > 0 {
                    logger.notice(
                        "peer sent events we refuse", metadata: ["events.refused": "\(r.rejected)", "events.example": "\(r.examples.first ?? "")"])
                    if await exchange.recordRefusals(r.rejectedCount, from: peer, limit: settings.maxRefusedEvents) {
                        try? await link.send(.goodbye("too many refused events"))
                        throw WhipError(.rejected, "peer sent more refused events than the limit of \(settings.maxRefusedEvents) an hour")
                    }
                }
            }
        case .ack(let accepted, let duplicates, let rejected):
            unacked = max(0, unacked - 1)
            if accepted == 0 && duplicates > 0 && rejected == 0 && eager {  // it had them all: prune
                logger.debug("peer had what we pushed; announcing from now on")
                eager = false
            }
        case .announce(let ids):
            peerHas.insert(ids)
            let missing = try await exchange.missing(ids)
            let claimed = await exchange.claim(missing)
            logger.debug("peer announced events", metadata: ["events.count": "\(ids.count)", "events.wanted": "\(claimed.count)"])
            queueWants(claimed)
            try await askNext()
        case .live:
            peerLive = true
            unacked = 0
            exchange.sessions.markLive(id)
            onLive()
            let waiting = held
            held = []
            try await offer(waiting)
        case .ping:
            try await link.send(.pong)
        case .pong:
            break
        case .goodbye(let reason):
            logger.info("peer said goodbye", metadata: ["peer.reason": "\(reason)"])
            peerSaidGoodbye = true
            return true
        }
        return false
    }

    /// Offers newly committed events: in full when the link is eager, else by id.
    mutating func offer(_ ids: [EventID]) async throws {
        guard peerLive else {
            if held.count + ids.count <= 4_096 { held += ids }  // beyond that, the backstop reconciles
            return
        }
        let fresh = ids.filter { !peerHas.contains($0) }
        guard !fresh.isEmpty else { return }
        let push = eager && unacked < settings.maxUnackedPushes
        if push {
            logger.debug("pushing events", metadata: ["events.count": "\(fresh.count)"])
            let wires = try await exchange.events(of: community, ids: fresh)
            for batch in eventMessages(wires, budget: settings.eventsMessageBytes) {
                try await link.send(.events(batch))
                unacked += 1
                exchange.metrics.sent(events: batch.count)
            }
            peerHas.insert(fresh)
        } else {
            toAnnounce += fresh
            if !flushScheduled {
                flushScheduled = true
                let mailbox = link.mailbox
                // Jittered, so that of two lazy neighbours that both got an event from the tree, one usually
                // announces first and the other, having heard it, stays quiet.
                let delay = settings.announceDelay * Double.random(in: 1...3)
                Task {
                    try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
                    mailbox.requestFlush()
                }
            }
        }
    }

    mutating func announce(_ ids: [EventID]) async throws {
        guard !ids.isEmpty else { return }
        logger.debug("announcing events", metadata: ["events.count": "\(ids.count)"])
        var rest = ids[...]
        while !rest.isEmpty {
            try await link.send(.announce(Array(rest.prefix(SessionMessage.maxIDs))))
            rest = rest.dropFirst(SessionMessage.maxIDs)
        }
    }

    /// Answers a `want` with the events we hold, up to `answerBytes`, then an empty `events`.
    mutating func answer(_ ids: [EventID]) async throws {
        let wires = try await exchange.events(of: community, ids: ids)
        var budget = settings.answerBytes
        var sent = 0
        for w in wires {
            budget -= w.count
            if budget < 0 && sent > 0 { break }
            sent += 1
        }
        for batch in eventMessages(Array(wires.prefix(sent)), budget: settings.eventsMessageBytes) {
            try await link.send(.events(batch))
            unacked += 1
            exchange.metrics.sent(events: batch.count)
        }
        peerHas.insert(ids)
        try await link.send(.events([]))
    }

    /// The peer finished answering our `want`: ask again for what it left out, then for the next ids.
    mutating func answerEnded() async throws {
        guard let ids = asked else { return }
        asked = nil
        if answered > 0 {
            wantQueue.insert(contentsOf: try await exchange.missing(ids), at: 0)
        }
        answered = 0
        try await askNext()
    }

    /// Queues ids to ask for, up to `maxQueuedWants`: a peer announcing ids faster than it answers for them
    /// cannot grow the queue without bound; what is dropped is left to the next reconciliation.
    mutating func queueWants(_ ids: [EventID]) {
        let room = max(0, LiveSession.maxQueuedWants - wantQueue.count)
        if ids.count > room {
            logger.notice("want queue full; leaving the rest to reconciliation", metadata: ["events.dropped": "\(ids.count - room)"])
        }
        wantQueue += ids.prefix(room)
    }

    /// Most ids waiting to be asked for on one session.
    static let maxQueuedWants = 16_384

    mutating func askNext() async throws {
        guard asked == nil, !wantQueue.isEmpty else { return }
        let ids = Array(wantQueue.prefix(SessionMessage.maxIDs))
        wantQueue.removeFirst(ids.count)
        asked = ids
        answered = 0
        if peerLive { eager = true }  // the tree missed us here: graft this link both ways
        try await link.send(.want(ids))
    }

    mutating func startReconcile() async throws {
        var i = SyncInitiator(store: try await exchange.index(of: community))
        let first = try i.initiate()
        initiator = i
        try await link.sendReconcile(first)
        exchange.metrics.reconcileRound()
    }
}
