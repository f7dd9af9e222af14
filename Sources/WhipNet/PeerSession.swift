import Foundation
public import Logging
import NIOCore
import NIOPosix
import WhipCore
public import WhipCrypto
import WhipNoise
import WhipStore
import WhipSync

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
                        + "it runs a different protocol version (nodes of protocol version 1 or 2 cannot connect to this one, which speaks version 3), "
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
            live.onReconciled = { onSynced(SyncReport(community: community, peer: session.peerIdentity)) }
            try await live.run()
            logger.info("peer session ended")
            return report
        }
    }
}
