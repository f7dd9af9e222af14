public import Logging
import NIOCore
import ServiceLifecycle
public import WhipCore
import WhipCrypto
public import WhipNode
import WhipNoise

/// `whipround serve`: every long-running part as a `Service` in one `ServiceGroup`; SIGTERM or SIGINT ends
/// them gracefully (stop accepting, finish the batch in flight) and the process exits 0.
public enum Daemon {
    /// The node's network credentials: its identity and its Noise static key (created on first use).
    public static func credentials(for node: Node) throws(WhipError) -> NodeCredentials {
        do {
            return NodeCredentials(identity: node.identity, noiseKey: try NoiseKeyPair(secretKey: try node.secret(named: "noise.key")))
        } catch let e as WhipError {
            throw e
        } catch {
            throw WhipError(.corrupt, "noise.key in \(node.dir.path) is not a valid key", cause: error)
        }
    }

    /// Runs until a shutdown signal; `onBound` receives the listening port, `onMetricsBound` the metrics port.
    public static func run(
        node: Node, config: DaemonConfig, logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in },
        onMetricsBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let metrics = DaemonMetrics()
        let replica = try Replica(node: node, logger: logger, metrics: metrics)
        let creds = try credentials(for: node)
        let listener = PeerListener(config: config, replica: replica, credentials: creds, logger: logger, onBound: onBound)
        let dialer = PeerDialer(config: config, replica: replica, credentials: creds, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: listener),
            .init(service: dialer, successTerminationBehavior: .ignore),
            .init(service: LocalChanges(replica: replica, interval: config.timers.localPoll), successTerminationBehavior: .ignore),
        ]
        if let address = config.metricsListen {
            services.append(.init(service: MetricsServer(listen: address, metrics: metrics, logger: logger, onBound: onMetricsBound)))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info(
            "whipround serving",
            metadata: ["node.id": "\(KeyText.encode(node.identity.publicKey, as: .member))", "node.data": "\(node.dir.path)"])
        try await group.run()
        logger.info("whipround stopped")
    }
}
