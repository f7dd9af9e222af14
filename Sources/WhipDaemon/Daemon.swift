public import Logging
import NIOCore
import ServiceLifecycle
import WhipCore
import WhipCrypto
import WhipNet
public import WhipNode
import WhipNoise

/// `whipround serve`: every long-running part as a `Service` in one `ServiceGroup`; SIGTERM or SIGINT ends
/// them gracefully (stop accepting, finish the batch in flight) and the process exits 0.
public enum Daemon {
    /// Runs until a shutdown signal; `onBound` receives the listening port, `onMetricsBound` the metrics port.
    ///
    /// Before any service starts it takes the data directory's `serve.lock` (a second daemon on the same data
    /// is refused, `alreadyExists`) and binds both sockets, so an address that cannot be used ends it at once
    /// with one clear `.io` error. The default metrics address, which nobody asked for, is the exception: if it
    /// is in use (typically by another daemon on this host) the daemon warns and runs without metrics.
    public static func run(
        node: Node, config: DaemonConfig, logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in },
        onMetricsBound: @escaping @Sendable (Int) -> Void = { _ in }
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
