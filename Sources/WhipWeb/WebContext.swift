import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import WhipCore

/// The request context of the web server: Hummingbird's core storage plus the peer's address.
struct WebContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    /// The client's address as a trusted reverse proxy gave it (`X-Forwarded-For`), set by `ForwardedMiddleware`.
    var forwardedFor: String?
    /// Whether the request came through a proxy (it carried `X-Forwarded-For` or `Forwarded`), trusted or not.
    var proxied = false

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address as text: a trusted proxy's `X-Forwarded-For`, else the socket's peer, or "unknown".
    var address: String { forwardedFor ?? remoteAddress?.ipAddress ?? "unknown" }

    /// Whether the request comes from someone at this machine (127.0.0.0/8 or ::1) and not through a proxy: a
    /// reverse proxy on the node connects from loopback on behalf of the internet.
    var isLocal: Bool {
        guard !proxied else { return false }
        let a = address
        return a.hasPrefix("127.") || a == "::1" || a == "::ffff:127.0.0.1"
    }
}

/// Reads the client's address from a reverse proxy: any request carrying `X-Forwarded-For` or `Forwarded` is
/// proxied (so never "local", whatever socket it came from); only from a peer in `trusted` (`[web]
/// trusted_proxies`) is the last `X-Forwarded-For` entry, the one that proxy added, taken as the client's address
/// for rate limits.
struct ForwardedMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let trusted: Set<String>

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        var context = context
        let forwarded = request.headers[values: HTTPField.Name("X-Forwarded-For")!]
        if !forwarded.isEmpty || request.headers[HTTPField.Name("Forwarded")!] != nil { context.proxied = true }
        if let peer = context.remoteAddress?.ipAddress, trusted.contains(peer) {
            context.proxied = true
            let last = forwarded.last?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces)
            context.forwardedFor = last.flatMap { $0.isEmpty ? nil : $0 } ?? "proxy"
        }
        return try await next(request, context)
    }
}

/// Headers every answer carries: no script but the node's own files, no framing, no Referer (a desk URL never
/// leaks), no MIME sniffing.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = WebContext

    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let e as HTTPError {
            response = API.error(e.status, code: e.status == .notFound ? "not_found" : "request.malformed", e.body ?? e.status.reasonPhrase)
        } catch  where request.uri.path.hasPrefix("/api/") {
            // Anything else a route throws (the store failing) is the documented 500, not a bare one off the schema.
            response = API.error(.internalServerError, code: "internal", Self.internalMessage(error))
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }

    /// What a 500 tells the volunteer: a `WhipError`'s own words (written for people), never another error's text.
    static func internalMessage(_ error: any Error) -> String {
        guard let e = error as? WhipError else { return "the node failed unexpectedly: try again, and tell the organiser if it persists" }
        return "the node failed unexpectedly: \(e.message)"
    }
}

/// Refuses a Host header that is not an IP address, `localhost` or the configured public host, so a page on
/// another site cannot reach the node by pointing its own name at the node's address (DNS rebinding).
struct HostCheckMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let publicHost: String?

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        let authority = request.head.authority ?? ""
        guard Self.allowed(authority, publicHost: publicHost) else {
            return API.error(.misdirectedRequest, code: "request.host", "this node answers only to its IP address, localhost or its public_url")
        }
        return try await next(request, context)
    }

    /// Whether a Host value (`host[:port]`) names this node in a way no other site can.
    static func allowed(_ authority: String, publicHost: String?) -> Bool {
        var host = authority
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            host = String(host[host.index(after: host.startIndex)..<end])
            return host.contains(":")
        }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        host = host.lowercased()
        if host == "localhost" || host == publicHost?.lowercased() { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { o in UInt8(o) != nil && !o.isEmpty && o.count <= 3 }
    }
}

/// Token buckets by key (an address, a desk): `perMinute` requests a minute, in bursts of up to that many.
final class RateLimiter: Sendable {
    let perMinute: Int
    /// Keys remembered at once; the oldest are forgotten past this, so the table cannot grow without bound.
    static let maxKeys = 4_096
    private let buckets = Mutex<[String: (tokens: Double, at: UInt64)]>([:])
    private let clock: @Sendable () -> UInt64

    init(perMinute: Int, clock: @escaping @Sendable () -> UInt64) {
        self.perMinute = perMinute
        self.clock = clock
    }

    /// Takes one token for `key`; false when none is left.
    func allow(_ key: String) -> Bool {
        let now = clock()
        let rate = Double(perMinute) / 60_000
        return buckets.withLock { b in
            if b.count >= Self.maxKeys, b[key] == nil {
                // Full buckets are the same as forgotten ones: drop those first.
                b = b.filter { Double(now &- $0.value.at) * rate + $0.value.tokens < Double(perMinute) }
                if b.count >= Self.maxKeys { b.removeAll() }
            }
            var (tokens, at) = b[key] ?? (Double(perMinute), now)
            tokens = min(Double(perMinute), tokens + Double(now &- at) * rate)
            at = now
            guard tokens >= 1 else {
                b[key] = (tokens, at)
                return false
            }
            b[key] = (tokens - 1, at)
            return true
        }
    }
}

/// Limits every address to `limiter.perMinute` requests a minute; static files are free.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        if !request.uri.path.hasPrefix("/static/"), !limiter.allow(context.address) {
            var r = API.error(.tooManyRequests, code: "request.rate_limited", "too many requests from this address: wait a minute and try again")
            r.headers[.retryAfter] = "60"
            return r
        }
        return try await next(request, context)
    }
}
