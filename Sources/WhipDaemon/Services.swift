import Foundation
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization
public import WhipCore
import WhipCrypto
public import WhipNet
import WhipSync

/// The peers' listening socket, bound before any service starts, so that an address that cannot be used
/// ends the daemon at once with one clear line.
public struct BoundListener: Sendable {
    let server: NIOAsyncChannel<FramedChannel, Never>
    /// The port bound (the one chosen, for port 0).
    public let port: Int

    /// Binds `config.listen`; an address in use, not on this host or not allowed is an `.io` error that says so.
    public static func bind(_ config: DaemonConfig) async throws(WhipError) -> BoundListener {
        let settings = SessionSettings(config)
        do {
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: config.listen.host, port: config.listen.port) { ch in PeerPipeline.configure(ch, settings) }
            return BoundListener(server: server, port: server.channel.localAddress?.port ?? config.listen.port)
        } catch {
            throw BindFailure.error(error, address: config.listen)
        }
    }
}

/// Accepts peers, admits them within the connection limits, and answers each in its own task.
public struct PeerListener: Service {
    let config: DaemonConfig
    let exchange: Exchange
    let credentials: NodeCredentials
    let logger: Logger
    /// The connection slots, which tests watch to know when the listener has admitted or released one.
    package let limiter: ConnectionLimiter
    let bound: BoundListener?
    let onBound: @Sendable (Int) -> Void

    /// How long sessions get, after shutdown begins, to finish their batch and say goodbye before their
    /// connections are closed (connections still in the handshake are closed at once).
    static let goodbyeGrace: TimeAmount = .seconds(3)

    /// A listener on `config.listen` (or on `bound`, a socket bound beforehand); `onBound` receives the bound
    /// port (useful with port 0).
    public init(
        config: DaemonConfig, exchange: Exchange, credentials: NodeCredentials, logger: Logger, bound: BoundListener? = nil,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.config = config
        self.exchange = exchange
        self.credentials = credentials
        self.logger = logger
        self.limiter = ConnectionLimiter(
            maxSessions: config.limits.maxConnections, maxHandshakes: config.limits.maxHandshakes,
            maxPerAddress: config.limits.maxConnectionsPerAddress)
        self.bound = bound
        self.onBound = onBound
    }

    public func run() async throws {
        let settings = SessionSettings(config)
        let bound: BoundListener
        if let b = self.bound { bound = b } else { bound = try await BoundListener.bind(config) }
        let server = bound.server
        onBound(bound.port)
        logger.info("listening for peers", metadata: ["listen.address": "\(config.listen.host):\(bound.port)"])
        let limiter = self.limiter
        let exchange = self.exchange
        let credentials = self.credentials
        let logger = self.logger
        let open = OpenChannels()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
                        let channel = connection.channel
                        let admission = limiter.admit(address) {
                            logger.notice("closed the oldest connection still in its handshake to make room for a new one")
                            exchange.metrics.refused(reason: ConnectionLimiter.Refusal.evicted.rawValue)
                            channel.close(promise: nil)
                        }
                        guard case .admitted(let ticket, _) = admission else {
                            if case .refused(let refusal) = admission {
                                logger.notice("connection refused", metadata: ["peer.address": "\(address)", "reason": "\(refusal.rawValue)"])
                                exchange.metrics.refused(reason: refusal.rawValue)
                            }
                            // Closed through the async wrapper: dropping it unfinished is a NIO precondition failure.
                            try? await connection.executeThenClose { _, _ in }
                            continue
                        }
                        let key = open.add(connection.channel)
                        group.addTask {
                            defer {
                                open.remove(key)
                                limiter.release(ticket)
                            }
                            await PeerSession.respond(
                                connection, exchange: exchange, credentials: credentials, settings: settings, logger: logger,
                                admit: {
                                    guard limiter.promote(ticket) else {
                                        exchange.metrics.refused(reason: ConnectionLimiter.Refusal.sessions.rawValue)
                                        return false
                                    }
                                    return true
                                })
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            logger.info("no longer accepting peers; saying goodbye to connected ones")
            server.channel.close(promise: nil)
            exchange.sessions.shutdownAll()
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
    let exchange: Exchange
    let credentials: NodeCredentials
    let logger: Logger
    /// Times the reconnect backoff and the reconcile interval.
    let clock: any Clock<Duration>
    /// Peer and community pairs with a task keeping them in step; a task that ends (its peer was removed)
    /// takes its pair out, so the peer is dialled again if it is added back.
    let started = StartedPairs()

    /// A dialer.
    public init(
        config: DaemonConfig, exchange: Exchange, credentials: NodeCredentials, logger: Logger, clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.config = config
        self.exchange = exchange
        self.credentials = credentials
        self.logger = logger
        self.clock = clock
    }

    /// Peers to dial: configured ones and stored ones, but not those only recorded by a one-off `sync` or
    /// as an inbound member (they are shown by `status`, not dialled).
    func wanted() async -> Set<String> {
        let stored = (try? await exchange.node.read { store throws(WhipError) in try store.peers() }.filter(\.dialled).map(\.address)) ?? []
        return Set(config.peers.map(\.description) + stored)
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !isStopping {
                    let communities = (try? await exchange.communities().map(\.id)) ?? []
                    for address in await wanted() {
                        guard let peer = try? HostPort(parsing: address) else { continue }
                        for c in communities {
                            let key = "\(address) \(c)"
                            guard started.insert(key) else { continue }
                            group.addTask {
                                await self.keepLive(with: peer, community: c)
                                started.remove(key)
                            }
                        }
                    }
                    exchange.sessions.requestBackstop()
                    await pause(config.timers.reconcileInterval, on: clock)
                }
            }
        } onGracefulShutdown: {
            exchange.sessions.shutdownAll()
        }
    }

    func keepLive(with peer: HostPort, community: PublicKey) async {
        var delay = config.timers.reconnectMin
        var logger = logger
        logger[metadataKey: "peer.address"] = "\(peer)"
        logger[metadataKey: "community.id"] = "\(KeyText.encode(community, as: .community))"
        let store = exchange.node.store
        let exchange = self.exchange
        let now: @Sendable () -> UInt64 = { exchange.node.now }
        // The failure last written to the peer's row: a peer that keeps failing the same way costs no disk
        // write per attempt, only when its state changes.
        var recordedFailure: String? = nil
        while !isStopping {
            guard await wanted().contains(peer.description) else { return }  // removed with `peer remove`
            var wait: Double
            do {
                let settings = SessionSettings(config)
                let credentials = self.credentials
                let attemptLogger = logger
                // A connect to an unreachable host can hang for the whole handshake timeout; it must not hold up a
                // stop. A session that is running gets the goodbye grace to finish, then it too is left behind.
                _ = try await untilStopped(grace: .seconds(Int64(PeerListener.goodbyeGrace.nanoseconds / 1_000_000_000)) + .milliseconds(500)) {
                    try await PeerSession.connect(
                        address: peer, community: community, exchange: exchange, credentials: credentials, settings: settings,
                        logger: attemptLogger, stayLive: true,
                        onSynced: { report in try? store.recordSync(peer.description, now: now(), peer: report.peer, error: nil) })
                }
                recordedFailure = nil
                delay = config.timers.reconnectMin  // a clean end: the peer said goodbye, or we are stopping
                wait = delay * Double.random(in: 0.5...1.0)
            } catch let e as WhipError where e.code == .permissionDenied {
                // Not a hub of this community: fine, it may serve another of ours. Look again now and then.
                logger.debug("peer does not serve this community", metadata: ["error": "\(e.message)"])
                wait = config.timers.reconnectMax
            } catch {
                if isStopping { return }
                let message = (error as? WhipError)?.message ?? "\(error)"
                if message != recordedFailure {
                    let at = now()
                    try? await exchange.node.write { store throws(WhipError) in
                        try store.recordSync(peer.description, now: at, peer: nil, error: message)
                    }
                    recordedFailure = message
                }
                logger.notice("session with peer failed; will retry", metadata: ["error": "\(message)", "retry.seconds": "\(Int(delay))"])
                wait = delay * Double.random(in: 0.5...1.0)
                delay = min(config.timers.reconnectMax, delay * 2)
            }
            await pause(wait, on: clock)
        }
    }
}

/// The peer and community pairs a dialer keeps in step, shared with the tasks that do it.
final class StartedPairs: Sendable {
    private let pairs = Mutex(Set<String>())

    /// Adds `key`; false if it was there.
    func insert(_ key: String) -> Bool { pairs.withLock { $0.insert(key).inserted } }

    func remove(_ key: String) { _ = pairs.withLock { $0.remove(key) } }

    var isEmpty: Bool { pairs.withLock { $0.isEmpty } }
}

/// Notices events other processes stored (the CLI writing to the same data dir) and offers them to peers, and
/// admits held events (stamped too far ahead when they arrived) once their time has come.
public struct LocalChanges: Service {
    let exchange: Exchange
    let interval: Double
    let clock: any Clock<Duration>

    /// Looks every `interval` seconds of `clock`.
    public init(exchange: Exchange, interval: Double = 0.5, clock: any Clock<Duration> = ContinuousClock()) {
        self.exchange = exchange
        self.interval = interval
        self.clock = clock
    }

    public func run() async throws {
        while !isStopping {
            try? await exchange.poll()
            _ = try? await exchange.admitHeld()
            await pause(interval, on: clock)
        }
    }
}

/// Whether a service loop should end: graceful shutdown has begun, or its task was cancelled (as the service
/// group does to the others when one service fails). Testing only the first made every loop spin once a
/// sibling failed, because every sleep then returns at once.
var isStopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

/// Sleeps on `clock`, returning early when graceful shutdown begins or the task is cancelled.
func pause(_ seconds: Double, on clock: any Clock<Duration> = ContinuousClock()) async {
    _ = try? await cancelWhenGracefulShutdown { try await clock.sleep(for: .milliseconds(Int64(seconds * 1000))) }
}

/// Runs `op` in a task of its own and returns its result, or nil once the service is stopping and `op` has
/// not finished within `grace` of that (cancellation gives up at once). `op` is cancelled and left to end by
/// itself, so that nothing it waits on (a TCP connect to a host that never answers) holds up a stop.
func untilStopped<T: Sendable>(grace: Duration, _ op: @escaping @Sendable () async throws -> T) async throws -> T? {
    let work = Task { try await op() }
    typealias Outcome = Result<T, any Error>?
    // Whichever comes first (the work's end, the grace after a stop, cancellation) settles it; one that comes
    // before the continuation is stored is kept until then.
    let state = Mutex<(continuation: CheckedContinuation<Outcome, Never>?, early: Outcome?, settled: Bool)>((nil, nil, false))
    let resume: @Sendable (Outcome) -> Void = { r in
        let c = state.withLock { s -> CheckedContinuation<Outcome, Never>? in
            guard !s.settled else { return nil }
            guard let c = s.continuation else {
                if s.early == nil { s.early = .some(r) }
                return nil
            }
            s.settled = true
            s.continuation = nil
            return c
        }
        c?.resume(returning: r)
    }
    let result = await withTaskCancellationHandler {
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Outcome, Never>) in
                let early = state.withLock { s -> Outcome? in
                    if let e = s.early {
                        s.settled = true
                        return e
                    }
                    s.continuation = c
                    return nil
                }
                if let early {
                    c.resume(returning: early)
                    return
                }
                Task {
                    let r: Result<T, any Error>
                    do { r = .success(try await work.value) } catch { r = .failure(error) }
                    resume(r)
                }
            }
        } onGracefulShutdown: {
            Task {
                try? await Task.sleep(for: grace)
                work.cancel()
                resume(nil)
            }
        }
    } onCancel: {
        work.cancel()
        resume(nil)
    }
    return try result?.get()
}
