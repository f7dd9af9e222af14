import Foundation
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import WhipCore
import WhipCrypto
import WhipSync

/// Accepts peers, admits them within the connection limits, and answers each in its own task.
public struct PeerListener: Service {
    let config: DaemonConfig
    let replica: Replica
    let credentials: NodeCredentials
    let logger: Logger
    let limiter: ConnectionLimiter
    let onBound: @Sendable (Int) -> Void

    /// A listener on `config.listen`; `onBound` receives the bound port (useful with port 0).
    public init(
        config: DaemonConfig, replica: Replica, credentials: NodeCredentials, logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.config = config
        self.replica = replica
        self.credentials = credentials
        self.logger = logger
        self.limiter = ConnectionLimiter(maxTotal: config.limits.maxConnections, maxPerAddress: config.limits.maxConnectionsPerAddress)
        self.onBound = onBound
    }

    public func run() async throws {
        let settings = SessionSettings(config)
        let server: NIOAsyncChannel<FramedChannel, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: config.listen.host, port: config.listen.port) { ch in Wire.configure(ch, settings) }
        } catch {
            throw WhipError(.io, "cannot listen on \(config.listen): \(error)", cause: error)
        }
        let port = server.channel.localAddress?.port ?? config.listen.port
        onBound(port)
        logger.info("listening for peers", metadata: ["listen.address": "\(config.listen.host):\(port)"])
        let limiter = self.limiter
        let replica = self.replica
        let credentials = self.credentials
        let logger = self.logger
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
                        if let refusal = limiter.admit(address) {
                            logger.notice("connection refused", metadata: ["peer.address": "\(address)", "reason": "\(refusal.rawValue)"])
                            connection.channel.close(promise: nil)
                            continue
                        }
                        group.addTask {
                            defer { limiter.release(address) }
                            await PeerSession.respond(connection, replica: replica, credentials: credentials, settings: settings, logger: logger)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            logger.info("no longer accepting peers")
            server.channel.close(promise: nil)
        }
    }
}

/// Keeps peers in step: those in the config, those added with `whipround peer add` and the hubs named in
/// invites. Syncs with each at start and then every reconcile interval, backing off exponentially (with
/// jitter) while a peer is unreachable, and notices peers added or removed while running.
public struct PeerDialer: Service {
    let config: DaemonConfig
    let replica: Replica
    let credentials: NodeCredentials
    let logger: Logger

    /// A dialer.
    public init(config: DaemonConfig, replica: Replica, credentials: NodeCredentials, logger: Logger) {
        self.config = config
        self.replica = replica
        self.credentials = credentials
        self.logger = logger
    }

    func wanted() -> Set<String> {
        let stored = (try? replica.node.store.peers().map(\.address)) ?? []
        return Set(config.peers.map(\.description) + stored)
    }

    public func run() async throws {
        // Shutdown cancels the loops, which interrupts their sleeps at once.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                var started = Set<String>()
                while !Task.isCancelled {
                    for address in wanted().subtracting(started) {
                        guard let peer = try? HostPort(parsing: address) else { continue }
                        started.insert(address)
                        group.addTask { await self.keepInSync(with: peer) }
                    }
                    try? await Task.sleep(for: .milliseconds(Int64(config.timers.reconcileInterval * 1000)))
                }
            }
        }
    }

    func keepInSync(with peer: HostPort) async {
        var delay = config.timers.reconnectMin
        var logger = logger
        logger[metadataKey: "peer.address"] = "\(peer)"
        let store = replica.node.store
        while !Task.isCancelled {
            guard wanted().contains(peer.description) else { return }  // removed with `peer remove`
            var failure: String? = nil
            var peerID: PublicKey? = nil
            do {
                for c in try await replica.communities() {
                    do {
                        let r = try await PeerSession.syncOnce(
                            address: peer, community: c.id, replica: replica, credentials: credentials, settings: SessionSettings(config),
                            logger: logger)
                        peerID = r.peer
                        logger.info(
                            "synced",
                            metadata: [
                                "community.id": "\(KeyText.encode(c.id, as: .community))", "sync.sent": "\(r.sent)",
                                "sync.received": "\(r.received.accepted)",
                            ])
                    } catch let e as WhipError where e.code == .permissionDenied {
                        // Not a hub of this community: fine, it may serve another of ours.
                        logger.debug("peer does not serve this community", metadata: ["community.id": "\(KeyText.encode(c.id, as: .community))"])
                    }
                }
            } catch {
                failure = "\(error)"
                logger.notice("sync failed; will retry", metadata: ["error": "\(error)", "retry.seconds": "\(Int(delay))"])
            }
            try? store.recordSync(peer.description, now: replica.node.now, peer: peerID, error: failure)
            let wait: Double
            if failure == nil {
                delay = config.timers.reconnectMin
                wait = config.timers.reconcileInterval
            } else {
                wait = delay * Double.random(in: 0.5...1.0)
                delay = min(config.timers.reconnectMax, delay * 2)
            }
            try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
        }
    }
}
