import ArgumentParser
import Foundation
import Logging
import WhipCore
import WhipDaemon
import WhipNet
import WhipNode
import WhipWeb

/// Logging for the daemon: structured lines to stderr, which journald collects under systemd.
func daemonLogger(level: String) -> Logger {
    var l = Logger(label: "whipround") { StreamLogHandler.standardError(label: $0) }
    l.logLevel = Logger.Level(rawValue: level) ?? .info
    return l
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the node as a daemon: accept member peers over TCP and keep configured peers in sync.",
        discussion: "Flags override the config file; with no file, the defaults in Config/whipround.toml apply. SIGTERM or SIGINT stops it cleanly.")

    @Option(help: "TOML configuration file (see Config/whipround.toml).") var config: String?
    @Option(help: "Data directory (overrides data_dir).") var data: String?
    @Option(help: "HOST:PORT to accept peers on (overrides network.listen; default 0.0.0.0:7878).") var listen: String?
    @Option(name: .customLong("peer"), help: "HOST:PORT of a peer to keep in sync with (repeatable; adds to network.peers).")
    var peers: [String] = []
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String?
    @Option(help: "HOST:PORT for Prometheus metrics at /metrics, or 'off' (overrides metrics.listen; default 127.0.0.1:9478).")
    var metrics: String?
    @Option(
        help:
            "HOST:PORT for the pledge desk's web pages, or 'off' (overrides web.listen; default 127.0.0.1:8480, this machine only; 0.0.0.0:8480 opens them to the hall's network)."
    )
    var web: String?

    func run() async throws {
        var c = try config.map { (p: String) throws(WhipError) in try DaemonConfig.load(path: p) } ?? DaemonConfig()
        if let data { c.dataDir = data }
        if let listen { c.listen = try HostPort(parsing: listen, listening: true) }
        if let metrics {
            c.metricsListen = metrics == "off" ? nil : try HostPort(parsing: metrics, listening: true)
            c.metricsListenIsDefault = false
        }
        if let web {
            if web == "off" {
                c.web.host = nil
            } else {
                let a = try HostPort(parsing: web, listening: true)
                c.web.host = a.host
                c.web.port = a.port
            }
            c.webListenIsDefault = false
        }
        c.peers += try peers.map { (p: String) throws(WhipError) in try HostPort(parsing: p) }
        if let logLevel {
            guard DaemonConfig.logLevels.contains(logLevel) else {
                throw WhipError(.invalidArgument, "'\(logLevel)' is not a log level: use one of \(DaemonConfig.logLevels.joined(separator: ", "))")
            }
            c.logLevel = logLevel
        }
        let logger = daemonLogger(level: c.logLevel)
        let node = try Node.open(dir: DataDir.resolve(flag: c.dataDir), logger: logger)
        try await Daemon.run(
            node: node, config: c, logger: logger, onBound: { port in logger.notice("ready", metadata: ["listen.port": "\(port)"]) },
            onMetricsBound: { port in logger.notice("metrics ready", metadata: ["metrics.port": "\(port)"]) },
            onWebBound: { [web = c.web] port in
                let host = web.host ?? "127.0.0.1"
                let phones = WebAddress.url(config: web, boundPort: port)
                logger.notice("web ready", metadata: ["web.port": "\(port)"])
                // For whoever started it (`make run`): where to click, on stdout, apart from the logs.
                var lines = ["Open \(WebAddress.localURL(host: host, port: port)) in a browser on this machine"]
                if !WebAddress.isLoopback(host) { lines.append("Phones on this network: \(phones)/ (desk links use this address)") }
                lines.append("Organiser console: run `whipround web login` in another terminal for a one-time link")
                FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            })
    }
}
