/// The web server's settings (`[web]` in `Config/whipround.toml`, `serve --web`), with the documented defaults.
public struct WebConfig: Sendable, Equatable {
    /// Where to serve the pages; nil turns the web server off.
    public var listen: (host: String, port: Int)? {
        get { host.map { ($0, port) } }
        set {
            host = newValue?.host
            port = newValue?.port ?? port
        }
    }
    /// The host to bind; nil is off. Loopback by default: only someone at the node can open the pages.
    public var host: String? = "127.0.0.1"
    /// The port to bind (0 picks a free one).
    public var port = 8480
    /// The address phones should use in desk links (e.g. `http://192.168.1.20:8480`); nil works it out from the
    /// bound address.
    public var publicURL: String?
    /// Addresses of reverse proxies in front of the pages (e.g. `127.0.0.1` for Caddy or nginx on the node): from
    /// them, the client's address is read from `X-Forwarded-For` for the per-address limits. Empty by default.
    public var trustedProxies: [String] = []
    /// Named limits; each is enforced and tested.
    public var limits = Limits()

    /// The web server's limits.
    public struct Limits: Sendable, Equatable {
        /// Largest request body accepted (bytes); a pledge is well under 2 KB.
        public var maxBodyBytes = 16_384
        /// Requests one IP address may make per minute.
        public var requestsPerMinutePerAddress = 240
        /// Pledges one desk may record per minute.
        public var pledgesPerMinutePerDesk = 60
        /// Pairing-code attempts one IP address may make per minute; with 60-bit codes, guessing is hopeless.
        public var pairingAttemptsPerMinutePerAddress = 10
        /// Online offers one IP address may send per minute (the form is off unless an organiser turns it on).
        public var offersPerMinutePerAddress = 5
        /// Live progress streams open at once.
        public var maxEventStreams = 256
        /// A connection with no complete request for this long is closed (slow clients included).
        public var idleTimeoutSeconds: Double = 60
        /// Public default.
        public init() {}
    }

    /// The defaults.
    public init() {}

    public static func == (a: WebConfig, b: WebConfig) -> Bool {
        a.host == b.host && a.port == b.port && a.publicURL == b.publicURL && a.limits == b.limits && a.trustedProxies == b.trustedProxies
    }
}
