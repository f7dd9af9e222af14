import Foundation
public import Logging
import NIOCore
import NIOPosix
import WhipCore
public import WhipCrypto
public import WhipNoise
public import WhipStore
import WhipSync

/// Per-session settings, from `DaemonConfig`.
public struct SessionSettings: Sendable {
    /// Largest frame accepted.
    public var maxFrameBytes = 65_535
    /// The handshake must finish within this many seconds.
    public var handshakeTimeout: Double = 10
    /// A connection silent this long in both directions is closed.
    public var idleTimeout: Double = 120
    /// A frame must be complete within this many seconds of its first byte.
    public var frameTimeout: Double = 15
    /// Payload budget of one `events` message (it must fit a Noise message with room for framing).
    public var eventsMessageBytes = 60_000
    /// Events pulled from a peer are committed in batches of about this many.
    public var commitBatch = 10_000

    /// Defaults.
    public init() {}

    /// Settings from a daemon configuration.
    public init(_ c: DaemonConfig) {
        maxFrameBytes = c.limits.maxFrameBytes
        handshakeTimeout = c.timers.handshakeTimeout
        idleTimeout = c.timers.idleTimeout
        frameTimeout = c.timers.frameTimeout
    }
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

/// One framed, encrypted conversation.
struct Conversation {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var transport: TransportState?

    static let closed = WhipError(.io, "the peer closed the connection")

    mutating func readFrame() async throws -> [UInt8] {
        guard let frame = try await inbound.next() else { throw Conversation.closed }
        return Array(frame.readableBytesView)
    }

    func writeFrame(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    mutating func send(_ m: SessionMessage) async throws {
        try await writeFrame(try transport!.encrypt(m.encoded()))
    }

    mutating func receive() async throws -> SessionMessage {
        let frame = try await readFrame()
        return try SessionMessage.decode(try transport!.decrypt(frame))
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
    /// Answers one inbound connection until the peer says goodbye, goes idle or breaks the protocol.
    static func respond(
        _ channel: FramedChannel, replica: Replica, credentials: NodeCredentials, settings: SessionSettings, logger: Logger
    ) async {
        var logger = logger
        logger[metadataKey: "peer.address"] = "\(channel.channel.remoteAddress?.description ?? "?")"
        // The handshake must finish in time; a slow or silent peer is cut off by closing the channel.
        let deadline = channel.channel.eventLoop.scheduleTask(in: .milliseconds(Int64(settings.handshakeTimeout * 1000))) {
            channel.channel.close(promise: nil)
        }
        do {
            try await channel.executeThenClose { inbound, outbound in
                var c = Conversation(inbound: inbound.makeAsyncIterator(), outbound: outbound)
                let first = try await c.readFrame()
                var (hs, reply) = try PeerHandshake.respond(
                    to: first, communities: try await replica.communities(), noiseKey: credentials.noiseKey, identity: credentials.identity)
                try await c.writeFrame(reply)
                guard case .established(let session) = try hs.receive(try await c.readFrame()) else {
                    throw WhipError(.rejected, "handshake did not complete")
                }
                deadline.cancel()
                c.transport = session.transport
                logger[metadataKey: "peer.id"] = "\(KeyText.encode(session.peerIdentity, as: .member))"
                logger[metadataKey: "community.id"] = "\(KeyText.encode(session.community, as: .community))"
                guard try await replica.isMember(session.peerIdentity, of: session.community) else {
                    logger.notice("refused a peer that holds the network key but no role")
                    try await c.send(.goodbye("not a member of this community"))
                    return
                }
                logger.info("peer connected")
                var responder: SyncResponder<MemorySyncStore>? = nil
                while true {
                    switch try await c.receive() {
                    case .reconcile(let m):
                        if responder == nil { responder = SyncResponder(store: try await replica.index(of: session.community)) }
                        try await c.send(.reconcile(try responder!.reconcile(m)))
                    case .want(let ids):
                        let wires = try await replica.events(of: session.community, ids: ids)
                        for batch in eventMessages(wires, budget: settings.eventsMessageBytes) { try await c.send(.events(batch)) }
                        try await c.send(.events([]))  // end of the answer
                    case .events(let wires):
                        // Acknowledged only after the batch is durably committed.
                        let r = try await replica.ingest(wires, community: session.community)
                        try await c.send(.ack(accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejectedCount))
                    case .announce(let ids):
                        let missing = try await replica.missing(ids)
                        if !missing.isEmpty { try await c.send(.want(missing)) }
                    case .ping:
                        try await c.send(.pong)
                    case .pong, .ack:
                        continue
                    case .goodbye(let reason):
                        logger.info("peer said goodbye", metadata: ["peer.reason": "\(reason)"])
                        return
                    }
                }
            }
        } catch {
            deadline.cancel()
            logger.info("session ended", metadata: ["error": "\(error)"])
        }
    }

    /// Connects to `address`, reconciles `community` once, sends what the peer lacks, fetches what we lack,
    /// says goodbye and returns what happened.
    public static func syncOnce(
        address: HostPort, community: PublicKey, replica: Replica, credentials: NodeCredentials, settings: SessionSettings,
        logger: Logger, progress: @Sendable (String) -> Void = { _ in }
    ) async throws -> SyncReport {
        guard let info = try await replica.communities().first(where: { $0.id == community }) else {
            throw WhipError(.notFound, "this node is not a member of that community")
        }
        let channel: FramedChannel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(settings.handshakeTimeout * 1000)))
                .connect(host: address.host, port: address.port) { ch in Wire.configure(ch, settings) }
        } catch {
            throw WhipError(.io, "cannot connect to \(address): \(error)", cause: error)
        }
        let deadline = channel.channel.eventLoop.scheduleTask(in: .milliseconds(Int64(settings.handshakeTimeout * 1000))) {
            channel.channel.close(promise: nil)
        }
        return try await channel.executeThenClose { inbound, outbound in
            var c = Conversation(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            var (hs, first) = try PeerHandshake.initiate(
                community: community, networkKey: info.networkKey, noiseKey: credentials.noiseKey, identity: credentials.identity)
            try await c.writeFrame(first)
            let second: [UInt8]
            do {
                second = try await c.readFrame()
            } catch {
                throw WhipError(
                    .permissionDenied,
                    "\(address) closed the connection during the handshake: it is not a hub of this community, or our network key is wrong")
            }
            guard case .sendAndEstablish(let third, let session) = try hs.receive(second) else {
                throw WhipError(.rejected, "handshake did not complete")
            }
            try await c.writeFrame(third)
            deadline.cancel()
            c.transport = session.transport
            guard try await replica.isMember(session.peerIdentity, of: community) else {
                try await c.send(.goodbye("you are not a member of this community"))
                throw WhipError(.permissionDenied, "the peer at \(address) holds the network key but is not a member of the community")
            }
            var report = SyncReport(community: community, peer: session.peerIdentity)
            progress("connected to \(address); reconciling")

            var initiator = SyncInitiator(store: try await replica.index(of: community))
            var message: [UInt8]? = try initiator.initiate()
            var have: [EventKey] = []
            var need: [EventID] = []
            while let m = message {
                try await c.send(.reconcile(m))
                report.reconcileMessages += 1
                guard case .reconcile(let answer) = try await c.receive() else { throw WhipError(.rejected, "peer broke the protocol") }
                let r = try initiator.reconcile(answer)
                have += r.have
                need += r.need
                message = r.next
            }
            progress("peer lacks \(have.count), we lack \(need.count)")

            // Push what the peer lacks, each batch acknowledged only once the peer has committed it.
            let toSend = try await replica.events(of: community, ids: have.map(\.id))
            for batch in eventMessages(toSend, budget: settings.eventsMessageBytes) {
                try await c.send(.events(batch))
                guard case .ack(let accepted, _, _) = try await c.receive() else { throw WhipError(.rejected, "peer broke the protocol") }
                report.sent += batch.count
                report.peerAccepted += accepted
                progress("sent \(report.sent)/\(toSend.count)")
            }
            // Pull what we lack, committing in import-sized batches: fewer, larger transactions, and events
            // arrive in reconciliation order, which follows replay order, so campaigns resume rather than replay.
            var start = 0
            var pending = [[UInt8]]()
            while start < need.count {
                let ids = Array(need[start..<min(need.count, start + SessionMessage.maxIDs)])
                start += ids.count
                try await c.send(.want(ids))
                while true {
                    guard case .events(let wires) = try await c.receive() else { throw WhipError(.rejected, "peer broke the protocol") }
                    if wires.isEmpty { break }
                    pending += wires
                }
                if pending.count >= settings.commitBatch || start >= need.count {
                    report.received.merge(try await replica.ingest(pending, community: community))
                    pending = []
                }
                progress("received \(report.received.accepted)/\(need.count)")
            }
            try await c.send(.goodbye("sync complete"))
            return report
        }
    }
}
