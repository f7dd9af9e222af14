public import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import WhipCore
import WhipCrypto
import WhipNet
public import WhipNode
import WhipNoise
import WhipWeb

/// `whipround serve`: every long-running part as a `Service` in one `ServiceGroup`; SIGTERM or SIGINT ends
/// them gracefully (stop accepting, finish the batch in flight) and the process exits 0.
public enum Daemon {
    /// Runs until a shutdown signal; `onBound` receives the listening port, `onMetricsBound` the metrics port,
    /// `onWebBound` the web server's port.
    ///
    /// Before any service starts it takes the data directory's `serve.lock` (a second daemon on the same data
    /// is refused, `alreadyExists`), binds the peer and metrics sockets and tries the web address, so an address
    /// that cannot be used ends it at once with one clear `.io` error. The default metrics and web addresses,
    /// which nobody asked for, are the exception: if one is in use (typically by another daemon on this host)
    /// the daemon warns and runs without metrics or without the web pages.
    public static func run(
        node: Node, config: DaemonConfig, logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in },
        onMetricsBound: @escaping @Sendable (Int) -> Void = { _ in }, onWebBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let lock = try ServeLock(directory: node.dir.path)
        defer { withExtendedLifetime(lock) {} }
        let bound = try await BoundListener.bind(config)
        var metricsBound: BoundMetrics? = nil
        if let address = config.metricsListen {
            do {
                metricsBound = try await BoundMetrics.bind(address)
            } catch let e where config.metricsListenIsDefault && e.cause.map({ BindFailure.reason($0).inUse }) == true {
                logger.warning(
                    "the default metrics address is in use (another daemon on this host?); running without metrics: set metrics.listen or --metrics to serve them",
                    metadata: ["metrics.address": "\(address)"])
            } catch {
                try? await bound.server.channel.close()
                throw error
            }
        }
        var webOn = false
        if let host = config.web.host {
            let address = HostPort(host: host, port: config.web.port)
            do {
                try await WebProbe.check(address)
                webOn = true
            } catch let e where config.webListenIsDefault && e.cause.map({ BindFailure.reason($0).inUse }) == true {
                logger.warning(
                    "\(WebProbe.defaultInUse); running without the web pages: set web.listen or --web to serve them",
                    metadata: ["web.address": "\(address)"])
            } catch {
                try? await bound.server.channel.close()
                try? await metricsBound?.server.channel.close()
                throw error
            }
        }
        let metrics = PeerMetrics()
        let exchange: Exchange
        let creds: NodeCredentials
        do {
            exchange = try Exchange(node: node, logger: logger, metrics: metrics)
            creds = try NodeCredentials(node: node)
        } catch {
            try? await bound.server.channel.close()
            try? await metricsBound?.server.channel.close()
            throw error
        }
        let listener = PeerListener(config: config, exchange: exchange, credentials: creds, logger: logger, bound: bound, onBound: onBound)
        let dialer = PeerDialer(config: config, exchange: exchange, credentials: creds, logger: logger)
        // A service that fails shuts the others down gracefully (goodbyes said), not by cancellation alone.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: listener, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: dialer, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(
                service: LocalChanges(exchange: exchange, interval: config.timers.localPoll), successTerminationBehavior: .ignore,
                failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let address = config.metricsListen, let metricsBound {
            services.append(
                .init(
                    service: MetricsServer(
                        listen: address, metrics: metrics, logger: logger, bound: metricsBound, onBound: onMetricsBound,
                        sample: { try? await exchange.sampleMetrics() }),
                    failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        if webOn {
            let web = WebServer(node: node, config: config.web, logger: logger, onBound: onWebBound)
            services.append(
                .init(
                    service: WebProbe.Tolerant(server: web, isDefault: config.webListenIsDefault, logger: logger),
                    successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Sessions get `goodbyeGrace` to say goodbye; whatever still runs a second later is cancelled, so a stop
        // never takes longer than the grace plus about a second.
        configuration.maximumGracefulShutdownDuration = .nanoseconds(PeerListener.goodbyeGrace.nanoseconds) + .seconds(1)
        let group = ServiceGroup(configuration: configuration)
        logger.info(
            "whipround serving",
            metadata: ["node.id": "\(KeyText.encode(node.identity.publicKey, as: .member))", "node.data": "\(node.dir.path)"])
        try await group.run()
        logger.info("whipround stopped")
    }
}

/// Trying the web address before the services start: Hummingbird binds its own socket when it runs, so the
/// daemon binds the address once and lets go, to report a bad address at once like the others.
enum WebProbe {
    static let defaultInUse = "the default web address is in use (another daemon on this host?)"

    /// Binds `address` and closes it; an address in use, not on this host or not allowed is an `.io` error.
    static func check(_ address: HostPort) async throws(WhipError) {
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: address.host, port: address.port).get()
            try await channel.close()
        } catch {
            throw BindFailure.error(error, address: address, what: " for the web pages")
        }
    }

    /// The web server, except that when its default address is taken between the check and its own bind (a
    /// second daemon starting at the same moment), it warns and ends instead of stopping the daemon.
    struct Tolerant: Service {
        let server: WebServer
        let isDefault: Bool
        let logger: Logger

        func run() async throws {
            do {
                try await server.run()
            } catch  where isDefault && BindFailure.reason(error).inUse {
                logger.warning("\(WebProbe.defaultInUse); running without the web pages: set web.listen or --web to serve them")
            }
        }
    }
}
