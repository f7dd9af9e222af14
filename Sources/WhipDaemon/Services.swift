import Foundation
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization
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

    /// How long sessions get, after shutdown begins, to finish their batch and say goodbye before their
    /// connections are closed (connections still in the handshake are closed at once).
    static let goodbyeGrace: TimeAmount = .seconds(3)

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
        let open = OpenChannels()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
                        if let refusal = limiter.admit(address) {
                            logger.notice("connection refused", metadata: ["peer.address": "\(address)", "reason": "\(refusal.rawValue)"])
                            replica.metrics.refused(reason: refusal.rawValue)
                            // Closed through the async wrapper: dropping it unfinished is a NIO precondition failure.
                            try? await connection.executeThenClose { _, _ in }
                            continue
                        }
                        let key = open.add(connection.channel)
                        group.addTask {
                            defer {
                                open.remove(key)
                                limiter.release(address)
                            }
                            await PeerSession.respond(connection, replica: replica, credentials: credentials, settings: settings, logger: logger)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            logger.info("no longer accepting peers; saying goodbye to connected ones")
            server.channel.close(promise: nil)
            replica.sessions.shutdownAll()
            open.closeAll(after: PeerListener.goodbyeGrace)
        }
    }
}

/// The connections a listener has open, so shutdown can close the ones that do not end by themselves.
final class OpenChannels: Sendable {
    private let state = Mutex<(next: Int, channels: [Int: any NIOCore.Channel])>((0, [:]))

    func add(_ channel: any NIOCore.Channel) -> Int {
        state.withLock { s in
            s.next += 1
            s.channels[s.next] = channel
            return s.next
        }
    }

    func remove(_ key: Int) { state.withLock { _ = $0.channels.removeValue(forKey: key) } }

    /// Closes every channel still open after `grace`.
    func closeAll(after grace: TimeAmount) {
        let all = state.withLock { Array($0.channels.values) }
        for ch in all { ch.eventLoop.scheduleTask(in: grace) { ch.close(promise: nil) } }
    }
}

/// Keeps peers in step: those in the config, those added with `whipround peer add` and the hubs named in
/// invites. For each peer and community it opens a session, runs a full sync, and keeps the session live
/// (new events pushed both ways); a lost session is reopened with exponential backoff and jitter. Every
/// reconcile interval one random session it opened runs a backstop reconciliation. Peers added or removed
/// while running are noticed.
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
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                var started = Set<String>()
                while !Task.isShuttingDownGracefully {
                    let communities = (try? await replica.communities().map(\.id)) ?? []
                    for address in wanted() {
                        guard let peer = try? HostPort(parsing: address) else { continue }
                        for c in communities where !started.contains("\(address) \(c)") {
                            started.insert("\(address) \(c)")
                            group.addTask { await self.keepLive(with: peer, community: c) }
                        }
                    }
                    replica.sessions.requestBackstop()
                    try? await gracefulSleep(config.timers.reconcileInterval)
                }
            }
        } onGracefulShutdown: {
            replica.sessions.shutdownAll()
        }
    }

    func keepLive(with peer: HostPort, community: PublicKey) async {
        var delay = config.timers.reconnectMin
        var logger = logger
        logger[metadataKey: "peer.address"] = "\(peer)"
        logger[metadataKey: "community.id"] = "\(KeyText.encode(community, as: .community))"
        let store = replica.node.store
        let replica = self.replica
        let now: @Sendable () -> UInt64 = { replica.node.now }
        while !Task.isShuttingDownGracefully {
            guard wanted().contains(peer.description) else { return }  // removed with `peer remove`
            var wait: Double
            do {
                _ = try await PeerSession.connect(
                    address: peer, community: community, replica: replica, credentials: credentials, settings: SessionSettings(config),
                    logger: logger, stayLive: true,
                    onSynced: { report in try? store.recordSync(peer.description, now: now(), peer: report.peer, error: nil) })
                delay = config.timers.reconnectMin  // a clean end: the peer said goodbye, or we are stopping
                wait = delay * Double.random(in: 0.5...1.0)
            } catch let e as WhipError where e.code == .permissionDenied {
                // Not a hub of this community: fine, it may serve another of ours. Look again now and then.
                logger.debug("peer does not serve this community")
                wait = config.timers.reconnectMax
            } catch {
                if Task.isShuttingDownGracefully { return }
                try? store.recordSync(peer.description, now: now(), peer: nil, error: "\(error)")
                logger.notice("session with peer failed; will retry", metadata: ["error": "\(error)", "retry.seconds": "\(Int(delay))"])
                wait = delay * Double.random(in: 0.5...1.0)
                delay = min(config.timers.reconnectMax, delay * 2)
            }
            try? await gracefulSleep(wait)
        }
    }
}

/// Notices events other processes stored (the CLI writing to the same data dir) and offers them to peers.
public struct LocalChanges: Service {
    let replica: Replica
    let interval: Double

    /// Looks every `interval` seconds.
    public init(replica: Replica, interval: Double = 0.5) {
        self.replica = replica
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            try? await replica.poll()
            try? await gracefulSleep(interval)
        }
    }
}

/// Sleeps, returning early when graceful shutdown begins.
func gracefulSleep(_ seconds: Double) async throws {
    try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(seconds * 1000))) }
}
