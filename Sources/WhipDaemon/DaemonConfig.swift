import Foundation
import TOMLKit
public import WhipCore
public import WhipNet
import WhipSync
public import WhipWeb

/// Everything `whipround serve` can be told, with the documented defaults. `Config/whipround.toml` lists each key.
/// The defaults of the keys that become `SessionSettings` are that type's own, so they are written once.
public struct DaemonConfig: Sendable, Equatable {
    /// Named limits; each is enforced and tested.
    public struct Limits: Sendable, Equatable {
        /// Largest frame accepted, length prefix excluded: Noise's own limit by default, never below the
        /// protocol's floor (`SessionMessage.frameFloorBytes`), since peers may send frames that long.
        public var maxFrameBytes = SessionSettings.defaults.maxFrameBytes
        /// Peer sessions past the handshake (members) open at once; one more is told the hub is busy.
        public var maxConnections = 64
        /// Connections still in their handshake (not yet proved members) at once; when full, a new connection
        /// evicts the oldest of them, so idle strangers cannot keep members out.
        public var maxHandshakes = 32
        /// Open peer connections from one IP address.
        public var maxConnectionsPerAddress = 4
        /// Bytes of frames from one peer waiting to be handled before we stop reading from it (TCP then
        /// pushes back on the peer).
        public var inboundQueueBytes = SessionSettings.defaults.inboundQueueBytes
        /// Events pulled in a first sync are committed in batches of about this many.
        public var batchEvents = SessionSettings.defaults.commitBatch
        /// Refused events (forged, unauthorised, malformed) one member may send within an hour, over all its
        /// sessions, before it is disconnected and turned away for the rest of the hour.
        public var maxRefusedEvents = SessionSettings.defaults.maxRefusedEvents
        /// Public default.
        public init() {}
    }

    /// Timers, in seconds.
    public struct Timers: Sendable, Equatable {
        /// A handshake must finish within this.
        public var handshakeTimeout = SessionSettings.defaults.handshakeTimeout
        /// A connection we have read nothing from for this long is closed (half-open connections included).
        public var idleTimeout = SessionSettings.defaults.idleTimeout
        /// A frame whose first byte has arrived must be complete within this, or the connection is closed
        /// (a peer trickling bytes would otherwise keep the idle timer alive for ever).
        public var frameTimeout = SessionSettings.defaults.frameTimeout
        /// A keep-alive is sent after this much silence.
        public var keepAlive = SessionSettings.defaults.keepAlive
        /// Background reconciliation with a random connected peer, every this often.
        public var reconcileInterval: Double = 30
        /// First reconnect delay; doubles (with jitter) up to `reconnectMax`.
        public var reconnectMin: Double = 1
        /// Longest reconnect delay.
        public var reconnectMax: Double = 60
        /// New events for a peer off the push tree are announced after this delay, together.
        public var announceDelay = SessionSettings.defaults.announceDelay
        /// How often the daemon looks for events other processes (the CLI) stored.
        public var localPoll: Double = 0.5
        /// Public default.
        public init() {}
    }

    /// The data directory; nil means `--data`, `WHIPROUND_DATA`, `$XDG_DATA_HOME/whipround` or `~/.local/share/whipround`.
    public var dataDir: String?
    /// Where to accept peers.
    public var listen = HostPort(host: "0.0.0.0", port: 7878)
    /// Peers to keep connected to, besides hubs named in invites and `whipround peer add`.
    public var peers: [HostPort] = []
    /// Prometheus text metrics on this address (HTTP GET /metrics); nil disables.
    public var metricsListen: HostPort? = DaemonConfig.defaultMetricsListen
    /// True while `metricsListen` is the default nobody asked for: if that port is taken, the daemon warns and
    /// runs without metrics (so a second daemon on one host still starts); an address someone set must bind.
    public var metricsListenIsDefault = true
    /// Where metrics are served unless configured otherwise.
    public static let defaultMetricsListen = HostPort(host: "127.0.0.1", port: 9478)
    /// The pledge desk's web server (`[web]`); its `host` is nil when it is off.
    public var web = WebConfig()
    /// True while the web address is the default nobody asked for: if it is taken (another daemon on this host),
    /// the daemon warns and runs without the web pages; an address someone set must bind.
    public var webListenIsDefault = true
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public var logLevel = "info"
    /// Limits.
    public var limits = Limits()
    /// Timers.
    public var timers = Timers()

    /// The defaults.
    public init() {}

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Parses a TOML document; unknown keys and wrong types are errors that name the key.
    /// Whether `text` is an IPv4 or IPv6 address as written (no port, no name).
    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    public static func parse(toml text: String, source: String = "config") throws(WhipError) -> DaemonConfig {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw WhipError(.invalidArgument, "\(source):\(e.source.begin.line):\(e.source.begin.column): \(e.description)")
        } catch {
            throw WhipError(.invalidArgument, "\(source): not valid TOML: \(error)")
        }
        var c = DaemonConfig()
        var r = Reader(table: table, path: "", source: source)
        c.dataDir = try r.string("data_dir")
        if let level = try r.string("log_level") {
            guard logLevels.contains(level) else { throw r.bad("log_level", "one of \(logLevels.joined(separator: ", "))") }
            c.logLevel = level
        }
        if var n = try r.table("network") {
            if let l = try n.string("listen") { c.listen = try n.address("listen", l, listening: true) }
            if let ps = try n.strings("peers") { c.peers = try ps.map { (p: String) throws(WhipError) in try n.address("peers", p) } }
            try n.finish()
        }
        if var m = try r.table("metrics") {
            if let l = try m.string("listen") {
                c.metricsListen = l.isEmpty ? nil : try m.address("listen", l)
                c.metricsListenIsDefault = false
            }
            try m.finish()
        }
        if var w = try r.table("web") {
            if let l = try w.string("listen") {
                if l.isEmpty {
                    c.web.host = nil
                } else {
                    let a = try w.address("listen", l, listening: true)
                    c.web.host = a.host
                    c.web.port = a.port
                }
                c.webListenIsDefault = false
            }
            if let u = try w.string("public_url") { c.web.publicURL = try w.publicURL("public_url", u) }
            if let proxies = try w.strings("trusted_proxies") {
                for p in proxies where !Self.isIPAddress(p) {
                    throw WhipError(.invalidArgument, "\(source): [web] trusted_proxies: '\(p)' is not an IP address (e.g. \"127.0.0.1\")")
                }
                c.web.trustedProxies = proxies
            }
            c.web.limits.maxBodyBytes = try w.int("max_body_bytes", in: 1_024...1_048_576) ?? c.web.limits.maxBodyBytes
            c.web.limits.requestsPerMinutePerAddress =
                try w.int("requests_per_minute_per_address", in: 1...1_000_000) ?? c.web.limits.requestsPerMinutePerAddress
            c.web.limits.pledgesPerMinutePerDesk = try w.int("pledges_per_minute_per_desk", in: 1...100_000) ?? c.web.limits.pledgesPerMinutePerDesk
            // Guessing a 60-bit pairing code stays hopeless at the highest rate allowed here.
            c.web.limits.pairingAttemptsPerMinutePerAddress =
                try w.int("pairing_attempts_per_minute_per_address", in: 1...1_000) ?? c.web.limits.pairingAttemptsPerMinutePerAddress
            c.web.limits.maxEventStreams = try w.int("max_event_streams", in: 1...100_000) ?? c.web.limits.maxEventStreams
            c.web.limits.offersPerMinutePerAddress =
                try w.int("offers_per_minute_per_address", in: 1...1_000) ?? c.web.limits.offersPerMinutePerAddress
            c.web.limits.idleTimeoutSeconds = try w.seconds("idle_timeout_seconds") ?? c.web.limits.idleTimeoutSeconds
            try w.finish()
        }
        if var l = try r.table("limits") {
            c.limits.maxFrameBytes = try l.int("max_frame_bytes", in: SessionMessage.frameFloorBytes...65_535) ?? c.limits.maxFrameBytes
            c.limits.maxConnections = try l.int("max_connections", in: 1...10_000) ?? c.limits.maxConnections
            c.limits.maxHandshakes = try l.int("max_handshakes", in: 1...10_000) ?? c.limits.maxHandshakes
            c.limits.maxConnectionsPerAddress = try l.int("max_connections_per_address", in: 1...1_000) ?? c.limits.maxConnectionsPerAddress
            c.limits.inboundQueueBytes = try l.int("inbound_queue_bytes", in: 65_536...1 << 30) ?? c.limits.inboundQueueBytes
            c.limits.batchEvents = try l.int("batch_events", in: 1...100_000) ?? c.limits.batchEvents
            c.limits.maxRefusedEvents = try l.int("max_refused_events", in: 0...1_000_000) ?? c.limits.maxRefusedEvents
            try l.finish()
        }
        if var t = try r.table("timers") {
            c.timers.handshakeTimeout = try t.seconds("handshake_timeout_seconds") ?? c.timers.handshakeTimeout
            c.timers.idleTimeout = try t.seconds("idle_timeout_seconds") ?? c.timers.idleTimeout
            c.timers.frameTimeout = try t.seconds("frame_timeout_seconds") ?? c.timers.frameTimeout
            c.timers.keepAlive = try t.seconds("keep_alive_seconds") ?? c.timers.keepAlive
            c.timers.reconcileInterval = try t.seconds("reconcile_interval_seconds") ?? c.timers.reconcileInterval
            c.timers.reconnectMin = try t.seconds("reconnect_min_seconds") ?? c.timers.reconnectMin
            c.timers.reconnectMax = try t.seconds("reconnect_max_seconds") ?? c.timers.reconnectMax
            c.timers.announceDelay = try t.seconds("announce_delay_seconds") ?? c.timers.announceDelay
            c.timers.localPoll = try t.seconds("local_poll_seconds") ?? c.timers.localPoll
            try t.finish()
            guard c.timers.keepAlive < c.timers.idleTimeout else {
                throw WhipError(.invalidArgument, "\(source): timers.keep_alive_seconds must be less than timers.idle_timeout_seconds")
            }
            guard c.timers.reconnectMin <= c.timers.reconnectMax else {
                throw WhipError(.invalidArgument, "\(source): timers.reconnect_min_seconds must not exceed timers.reconnect_max_seconds")
            }
        }
        try r.finish()
        return c
    }

    /// Reads a config file.
    public static func load(path: String) throws(WhipError) -> DaemonConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WhipError(.notFound, "cannot read the config file \(path)")
        }
        return try parse(toml: String(decoding: data, as: UTF8.self), source: path)
    }

    /// Typed access to one TOML table that remembers which keys were read.
    struct Reader {
        let table: TOMLTable
        let path: String
        let source: String
        var seen = Set<String>()

        func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        func bad(_ key: String, _ want: String) -> WhipError {
            WhipError(.invalidArgument, "\(source): \(name(key)) must be \(want)")
        }

        mutating func value(_ key: String) -> (any TOMLValueConvertible)? {
            seen.insert(key)
            return table[key]
        }

        mutating func string(_ key: String) throws(WhipError) -> String? {
            guard let v = value(key) else { return nil }
            guard let s = v.string else { throw bad(key, "a string") }
            return s
        }

        mutating func strings(_ key: String) throws(WhipError) -> [String]? {
            guard let v = value(key) else { return nil }
            guard let a = v.array else { throw bad(key, "an array of strings") }
            var out = [String]()
            for item in a {
                guard let s = item.string else { throw bad(key, "an array of strings") }
                out.append(s)
            }
            return out
        }

        mutating func int(_ key: String, in range: ClosedRange<Int>) throws(WhipError) -> Int? {
            guard let v = value(key) else { return nil }
            guard let i = v.int, range.contains(i) else { throw bad(key, "a whole number from \(range.lowerBound) to \(range.upperBound)") }
            return i
        }

        mutating func seconds(_ key: String) throws(WhipError) -> Double? {
            guard let v = value(key) else { return nil }
            let d = v.double ?? v.int.map(Double.init)
            guard let d, d > 0, d <= 86_400 else { throw bad(key, "a number of seconds above 0 and at most 86400") }
            return d
        }

        mutating func table(_ key: String) throws(WhipError) -> Reader? {
            guard let v = value(key) else { return nil }
            guard let t = v.table else { throw bad(key, "a table ([\(name(key))])") }
            return Reader(table: t, path: name(key), source: source)
        }

        func address(_ key: String, _ text: String, listening: Bool = false) throws(WhipError) -> HostPort {
            do { return try HostPort(parsing: text, listening: listening) } catch {
                throw WhipError(.invalidArgument, "\(source): \(name(key)): \(error.message)")
            }
        }

        /// An `http://` or `https://` URL with a host and nothing after the path; stored without a trailing `/`.
        func publicURL(_ key: String, _ text: String) throws(WhipError) -> String? {
            if text.isEmpty { return nil }
            let want = "an http:// or https:// URL such as http://192.168.1.20:8480, or \"\" to work it out"
            guard text.count <= 200, !text.contains(where: { $0.isWhitespace || $0 == "?" || $0 == "#" }),
                let u = URL(string: text), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https",
                let host = u.host, !host.isEmpty, u.user == nil
            else { throw bad(key, want) }
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }

        func finish() throws(WhipError) {
            let unknown = table.keys.filter { !seen.contains($0) }.sorted()
            if let first = unknown.first {
                throw WhipError(.invalidArgument, "\(source): unknown key \(name(first)) (see Config/whipround.toml for every key)")
            }
        }
    }
}

extension SessionSettings {
    /// The session defaults, which `DaemonConfig`'s `[limits]` and `[timers]` defaults are.
    static let defaults = SessionSettings()

    /// Settings from a daemon configuration.
    public init(_ c: DaemonConfig) {
        self.init()
        maxFrameBytes = c.limits.maxFrameBytes
        handshakeTimeout = c.timers.handshakeTimeout
        idleTimeout = c.timers.idleTimeout
        frameTimeout = c.timers.frameTimeout
        keepAlive = c.timers.keepAlive
        inboundQueueBytes = c.limits.inboundQueueBytes
        commitBatch = c.limits.batchEvents
        maxRefusedEvents = c.limits.maxRefusedEvents
        announceDelay = c.timers.announceDelay
    }
}
