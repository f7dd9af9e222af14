public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle
public import WhipCore
public import WhipNet

typealias HTTPChannel = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

/// The metrics socket, bound before any service starts.
public struct BoundMetrics: Sendable {
    let server: NIOAsyncChannel<HTTPChannel, Never>
    /// The port bound (the one chosen, for port 0).
    public let port: Int

    /// Binds `listen`; an address in use, not on this host or not allowed is an `.io` error that says so.
    public static func bind(_ listen: HostPort) async throws(WhipError) -> BoundMetrics {
        do {
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: listen.host, port: listen.port) { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try HTTPChannel(wrappingChannelSynchronously: ch)
                    }
                }
            return BoundMetrics(server: server, port: server.channel.localAddress?.port ?? listen.port)
        } catch {
            throw BindFailure.error(error, address: listen, what: " for metrics")
        }
    }
}

/// Serves `PeerMetrics` to Prometheus: `GET /metrics` over plain HTTP/1.1, one request per connection.
public struct MetricsServer: Service {
    let listen: HostPort
    let metrics: PeerMetrics
    let logger: Logger
    let bound: BoundMetrics?
    let sample: @Sendable () async -> Void
    let onBound: @Sendable (Int) -> Void

    /// A connection that has not been answered within this long is closed.
    static let connectionTimeout: Duration = .seconds(10)

    /// A server on `listen` (or on `bound`, a socket bound beforehand); `sample` runs before each answer (to
    /// read gauges from the store); `onBound` receives the bound port.
    public init(
        listen: HostPort, metrics: PeerMetrics, logger: Logger, bound: BoundMetrics? = nil, onBound: @escaping @Sendable (Int) -> Void = { _ in },
        sample: @escaping @Sendable () async -> Void = {}
    ) {
        self.listen = listen
        self.metrics = metrics
        self.logger = logger
        self.bound = bound
        self.sample = sample
        self.onBound = onBound
    }

    public func run() async throws {
        let bound: BoundMetrics
        if let b = self.bound { bound = b } else { bound = try await BoundMetrics.bind(listen) }
        let server = bound.server
        let port = bound.port
        onBound(port)
        logger.info("serving metrics", metadata: ["listen.address": "\(listen.host):\(port)"])
        let metrics = self.metrics
        let sample = self.sample
        let logger = self.logger
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask {
                            // Whichever ends first: the answer, or the deadline (cancelling the answer).
                            await withTaskGroup(of: Void.self) { race in
                                race.addTask { await Self.answer(connection, metrics: metrics, logger: logger, sample: sample) }
                                race.addTask { try? await Task.sleep(for: Self.connectionTimeout) }
                                _ = await race.next()
                                race.cancelAll()
                            }
                        }
                    }
                }
                // No longer accepting: drop connections still open rather than wait for them.
                group.cancelAll()
            }
        } onGracefulShutdown: {
            logger.info("no longer serving metrics")
            server.channel.close(promise: nil)
        }
    }

    /// Reads one request and answers it, then closes the connection.
    static func answer(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, metrics: PeerMetrics, logger: Logger,
        sample: @Sendable () async -> Void = {}
    ) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var request: HTTPRequestHead? = nil
                for try await part in inbound {
                    switch part {
                    case .head(let head): request = head
                    case .body: continue
                    case .end:
                        guard let head = request else { return }
                        await sample()
                        let (status, body) = response(to: head, metrics: metrics)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4" : "text/plain")
                        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                        headers.add(name: "Connection", value: "close")
                        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET") }
                        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
                        try await outbound.write(.end(nil))
                        return
                    }
                }
            }
        } catch {
            logger.debug("metrics request failed", metadata: ["error": "\(error)"])
        }
    }

    /// The status and body for a request.
    static func response(to head: HTTPRequestHead, metrics: PeerMetrics) -> (HTTPResponseStatus, String) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else { return (.notFound, "not found: try GET /metrics\n") }
        guard head.method == .GET else { return (.methodNotAllowed, "method not allowed: use GET\n") }
        return (.ok, metrics.render())
    }
}
