import Hummingbird
public import Logging
public import ServiceLifecycle
public import WhipNode

/// The pledge desk's web server: a `Service` in the daemon's `ServiceGroup`.
public struct WebServer: Service {
    let node: Node
    let config: WebConfig
    let logger: Logger

    /// A server for `node` with `config`.
    public init(node: Node, config: WebConfig, logger: Logger) {
        self.node = node
        self.config = config
        self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        router.get("/health") { _, _ in "ok" }
        let app = Application(
            router: router, configuration: .init(address: .hostname(config.host ?? "127.0.0.1", port: config.port)), logger: logger)
        try await app.runService()
    }
}
