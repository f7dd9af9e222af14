import ArgumentParser
import Foundation
import Logging
import WhipCore
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore

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

    func run() async throws {
        var c = try config.map { (p: String) throws(WhipError) in try DaemonConfig.load(path: p) } ?? DaemonConfig()
        if let data { c.dataDir = data }
        if let listen { c.listen = try HostPort(parsing: listen, listening: true) }
        if let metrics {
            c.metricsListen = metrics == "off" ? nil : try HostPort(parsing: metrics, listening: true)
            c.metricsListenIsDefault = false
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
            onMetricsBound: { port in logger.notice("metrics ready", metadata: ["metrics.port": "\(port)"]) })
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Reconcile with one peer now (send what it lacks, fetch what we lack), then exit.")

    @OptionGroup var node: NodeOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Community name or wrc1… id (default: every community this node belongs to).") var community: String?
    @Argument(help: "The peer, HOST:PORT.") var peer: String

    func run() async throws {
        let address = try HostPort(parsing: peer)
        let logger = node.logger()
        let n = try node.open()
        let exchange = try Exchange(node: n, logger: logger)
        let credentials = try Daemon.credentials(for: n)
        let targets = try community.map { (s: String) throws(WhipError) in [try n.community(s)] } ?? n.store.communities()
        guard !targets.isEmpty else { throw WhipError(.notFound, "this node belongs to no community yet; join one first") }
        let tty = isatty(STDERR_FILENO) == 1 && !output.json
        var results: [[String: Any]] = []
        for c in targets {
            let r: SyncReport
            do {
                r = try await PeerSession.syncOnce(
                    address: address, community: c.id, exchange: exchange, credentials: credentials, settings: SessionSettings(), logger: logger
                ) { p in
                    if tty { FileHandle.standardError.write(Data("\r\u{1B}[K\(p.bar(SafeText.printable(c.name)))".utf8)) }
                }
            } catch {
                if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                // A failure is noted only on a peer already listed: a mistyped address does not become one.
                if (try? n.store.peers().contains { $0.address == address.description }) == true {
                    let message = (error as? WhipError)?.message ?? "\(error)"
                    try? n.store.recordSync(address.description, now: n.now, peer: nil, error: message, source: "sync")
                }
                throw error
            }
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            // Listed from now on (source `sync`: shown by `status` and `peer list`, not dialled by `serve`).
            try n.store.recordSync(address.description, now: n.now, peer: r.peer, error: nil, source: "sync")
            let digest = try n.store.communities().first { $0.id == c.id }?.digest ?? ""
            results.append([
                "community": KeyText.encode(c.id, as: .community), "name": c.name, "peer": KeyText.encode(r.peer, as: .member),
                "sent": r.sent, "peer_accepted": r.peerAccepted, "received": r.received.accepted,
                "received_duplicates": r.received.duplicates, "received_rejected": r.received.rejected,
                "reconcile_messages": r.reconcileMessages, "digest": digest,
                "standing_changes": r.received.standingChanges.map(standingJSON),
            ])
            if !output.json {
                print("\(c.name): sent \(r.sent) (peer stored \(r.peerAccepted)), received \(r.received.accepted), digest \(digest)")
                for line in r.received.standingChanges.map(standingLine) { print(line) }
            }
        }
        if output.json { printJSON(["peer": address.description, "communities": results]) }
    }
}

struct PeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer", abstract: "Peers the daemon keeps in step with (besides those in the config file).",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a peer; a running `serve` picks it up within a reconcile interval.")
        @OptionGroup var node: NodeOptions
        @Argument(help: "HOST:PORT") var address: String
        func run() throws {
            let a = try HostPort(parsing: address)
            let n = try node.open()
            try n.store.addPeer(a.description, source: "cli", now: n.now)
            print("Added peer \(a).")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a peer.")
        @OptionGroup var node: NodeOptions
        @Argument(help: "HOST:PORT") var address: String
        func run() throws {
            let a = try HostPort(parsing: address)
            let n = try node.open()
            guard try n.store.removePeer(a.description) else { throw WhipError(.notFound, "\(a) is not a stored peer; see `whipround peer list`") }
            print("Removed peer \(a).")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List peers and when each was last in sync.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            let n = try node.open()
            let rows = try n.store.peers()
            if output.json {
                printJSON(rows.map(peerJSON))
            } else {
                if rows.isEmpty { print("No peers yet: add one with `whipround peer add HOST:PORT`.") }
                for p in rows { print(peerLine(p)) }
            }
        }
    }
}

func peerJSON(_ p: PeerRow) -> [String: Any] {
    var d: [String: Any] = ["address": p.address, "source": p.source]
    if let t = p.lastSuccess { d["last_sync"] = Dates.format(t, timeZone: "UTC") }
    if let t = p.lastAttempt { d["last_attempt"] = Dates.format(t, timeZone: "UTC") }
    if let e = p.lastError { d["last_error"] = e }
    if let k = p.lastPeerID { d["peer_id"] = KeyText.encode(k, as: .member) }
    d["events_since_sync"] = p.storedSinceSync
    return d
}

func peerLine(_ p: PeerRow) -> String {
    let sync = p.lastSuccess.map { "last in sync \(Dates.format($0, timeZone: "UTC"))" } ?? "never synced"
    let since = p.lastSuccess == nil ? "\(p.storedSinceSync) event(s) here" : "\(p.storedSinceSync) event(s) stored since"
    let err = p.lastError.map { "; last error: \($0)" } ?? ""
    return "\(p.address) (\(p.source)): \(sync); \(since)\(err)"
}
