import Foundation
import HTTPTypes
import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
import WhipCore
public import WhipNode
import WhipStore

/// The pledge desk's web server (issue 10): pages and the JSON API, a `Service` in the daemon's `ServiceGroup`.
public struct WebServer: Service {
    let node: Node
    let config: WebConfig
    let logger: Logger
    let onBound: @Sendable (Int) -> Void

    /// A server for `node` with `config`; `onBound` receives the bound port once it listens.
    public init(node: Node, config: WebConfig, logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.node = node
        self.config = config
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        guard let host = config.host else { return }
        let hub = ProgressHub(node: node, maxStreams: config.limits.maxEventStreams, logger: logger)
        let queue = PledgeQueue(node: node)
        let router = Self.router(node: node, config: config, hub: hub, queue: queue, logger: logger)
        let node = self.node
        let config = self.config
        let logger = self.logger
        let onBound = self.onBound
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(config.limits.idleTimeoutSeconds * 1000)))),
            configuration: .init(address: .hostname(host, port: config.port), serverName: nil),
            services: [hub, queue],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.port
                let url = WebAddress.url(config: config, boundPort: port)
                WebAddress.write(url, dataDir: node.dir.path)
                logger.info("serving the pledge desk", metadata: ["web.url": "\(url)", "web.listen": "\(host):\(port)"])
                onBound(port)
            },
            logger: logger)
        defer { WebAddress.remove(dataDir: node.dir.path) }
        try await app.run()
    }

    /// The routes, for the server and for tests (Hummingbird's testing module drives it without a socket).
    static func router(node: Node, config: WebConfig, hub: ProgressHub, queue: PledgeQueue, logger: Logger) -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        let clock: @Sendable () -> UInt64 = { node.now }
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ForwardedMiddleware(trusted: Set(config.trustedProxies)))
        router.add(middleware: HostCheckMiddleware(publicHost: config.publicURL.flatMap { URL(string: $0)?.host }))
        router.add(middleware: RateLimitMiddleware(limiter: RateLimiter(perMinute: config.limits.requestsPerMinutePerAddress, clock: clock)))
        let pairing = RateLimiter(perMinute: config.limits.pairingAttemptsPerMinutePerAddress, clock: clock)
        let deskPledges = RateLimiter(perMinute: config.limits.pledgesPerMinutePerDesk, clock: clock)
        let pages = Pages(node: node, logger: logger, publicURL: config.publicURL)
        let maxBody = config.limits.maxBodyBytes

        router.get("/") { request, context in try await pages.home(request, context) }
        let cache = PageCache()
        ConsolePages.add(to: router, node: node, pages: pages, pairing: pairing, maxBody: maxBody, logger: logger, cache: cache)
        let offers = RateLimiter(perMinute: config.limits.offersPerMinutePerAddress, clock: clock)
        OfferPages.add(to: router, node: node, pages: pages, limiter: offers, maxBody: maxBody, logger: logger)
        router.post("/setup/community") { request, context in try await pages.setup(request, context, join: false, maxBody: maxBody) }
        router.post("/setup/join") { request, context in try await pages.setup(request, context, join: true, maxBody: maxBody) }
        router.get("/pair") { request, context in
            guard let code = request.uri.queryParameters["code"].map(String.init), !code.isEmpty else { return pages.pairForm(error: nil) }
            guard pairing.allow(context.address) else {
                return pages.message(.tooManyRequests, title: "Too many tries", text: "Wait a minute before trying another pairing code.")
            }
            do {
                let session = try await node.write { _ throws(WhipError) in try node.redeemDeskCode(code) }
                var response = Response(status: .seeOther, headers: [.location: "/desk"])
                response.setCookie(Cookie(name: API.cookie, value: session.token, path: "/", httpOnly: true, sameSite: .strict))
                logger.info("a phone paired with a desk", metadata: ["desk.name": "\(session.desk.name)"])
                return response
            } catch {
                return pages.pairForm(
                    error: (error as? WhipError)?.message ?? "this pairing code is not valid", code: String(code.prefix(20)), status: .badRequest)
            }
        }
        router.get("/desk") { request, context in
            let session: DeskSession
            do throws(WhipError) { session = try await Self.session(node, request) } catch {
                let (status, code) = API.sessionError(error)
                return pages.deskRefusal(status: status, code: code, message: error.message)
            }
            return try await pages.desk(session)
        }
        router.get("/display/:campaign") { _, context in
            guard let id = context.parameters.get("campaign").flatMap(EventID.init(hex:)),
                let summary = try await CampaignSummary.load(node, id, publicOnly: true)
            else {
                return pages.message(.notFound, title: "No such campaign", text: "This node has no published campaign at that address.")
            }
            return pages.display(summary)
        }
        Self.addPublicRoutes(router, node: node, pages: pages, hub: hub, cache: cache)
        router.get("/static/:name") { _, context in
            guard let name = context.parameters.get("name"), Assets.isStatic(name), let bytes = Assets.bytes(name) else {
                return pages.message(.notFound, title: "Not found", text: "There is no such file.")
            }
            return Response(
                status: .ok, headers: [.contentType: Assets.contentType(name), .cacheControl: "max-age=3600"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }

        let api = router.group("/api/v1")
        api.get("/openapi.json") { _, _ in
            guard let bytes = Assets.bytes("openapi.json") else { return API.error(.notFound, code: "not_found", "no OpenAPI document") }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        api.get("/campaigns/:campaign") { _, context in
            guard let id = context.parameters.get("campaign").flatMap(EventID.init(hex:)),
                let summary = try await CampaignSummary.load(node, id, publicOnly: true)
            else { return API.error(.notFound, code: "not_found", "no published campaign with that id") }
            return API.response(.ok, summary)
        }
        api.get("/campaigns/:campaign/stream") { _, context in
            guard let id = context.parameters.get("campaign").flatMap(EventID.init(hex:)),
                let (summary, mark) = try await CampaignSummary.loadProgress(node, id, publicOnly: true)
            else { return API.error(.notFound, code: "not_found", "no published campaign with that id") }
            guard let stream = hub.subscribe(id, first: summary, mark: mark) else {
                var r = API.error(.serviceUnavailable, code: "request.rate_limited", "too many live views are open: try again shortly")
                r.headers[.retryAfter] = "10"
                return r
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
                body: ResponseBody { writer in
                    for await message in stream { try await writer.write(ByteBuffer(string: message)) }
                    try await writer.finish(nil)
                })
        }
        api.get("/desk") { request, _ in
            let session: DeskSession
            do throws(WhipError) { session = try await Self.session(node, request) } catch {
                let (status, code) = API.sessionError(error)
                return API.error(status, code: code, error.message)
            }
            guard let summary = try await CampaignSummary.load(node, session.desk.campaign) else {
                return API.error(.notFound, code: "not_found", "the desk's campaign is not in this replica")
            }
            return API.response(
                .ok,
                API.DeskView(
                    desk: .init(
                        name: session.desk.name, until: session.desk.until.map(Desk.describe), state: session.desk.state(now: node.now).rawValue),
                    campaign: summary, csrf: session.csrf))
        }
        api.post("/desk/pledges") { request, _ in
            let session: DeskSession
            do { session = try await Self.session(node, request, csrf: true) } catch let e as DeskRefusal {
                return e.response
            }
            guard deskPledges.allow(session.desk.id) else {
                var r = API.error(.tooManyRequests, code: "request.rate_limited", "this desk is recording pledges too fast: wait a moment")
                r.headers[.retryAfter] = "10"
                return r
            }
            let tooLarge = API.error(.contentTooLarge, code: "request.too_large", "the request is larger than \(maxBody) bytes")
            if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBody { return tooLarge }
            let buffer: ByteBuffer
            do {
                var request = request
                buffer = try await request.collectBody(upTo: maxBody)
            } catch {
                return tooLarge
            }
            let body: API.PledgeBody
            do { body = try API.decoder.decode(API.PledgeBody.self, from: Data(buffer: buffer)) } catch {
                return API.error(.badRequest, code: "request.malformed", "the body is not a pledge in JSON: \(Self.describe(error))")
            }
            do {
                let r = try API.request(body, today: node.ukDate(node.now))
                // Checked and sealed on a reader; signed and committed with whatever other desks sent meanwhile.
                let prepared = try await node.read { _ throws(WhipError) in try node.prepareDeskPledge(session, r) }
                let (id, duplicate): (EventID, Bool)
                if let earlier = prepared.earlier { (id, duplicate) = (earlier, true) } else { (id, duplicate) = try await queue.submit(prepared) }
                let campaign = session.desk.campaign
                let (receipt, progress) = try await node.read { store throws(WhipError) in
                    (try node.deskReceipt(id, duplicate: duplicate), try store.progress(campaign))
                }
                let tiers = progress?.tiers ?? []
                if let progress { hub.publish(campaign, CampaignSummary(progress.campaign, tiers: tiers, now: node.now), mark: progress.mark) }
                if !receipt.duplicate {
                    logger.info("desk pledge recorded", metadata: ["desk.name": "\(session.desk.name)", "event.id": "\(receipt.pledge.id.hex)"])
                }
                return API.response(receipt.duplicate ? .ok : .created, API.Receipt(receipt, tiers: tiers, now: node.now))
            } catch let e as WhipError {
                return API.pledgeError(e)
            }
        }
        api.post("/desk/undo") { request, _ in
            let session: DeskSession
            do { session = try await Self.session(node, request, csrf: true) } catch let e as DeskRefusal {
                return e.response
            }
            do {
                let receipt = try await node.write { _ throws(WhipError) in try node.undoLastDeskPledge(session) }
                await hub.publish(session.desk.campaign)
                let tiers = try await node.read { store throws(WhipError) in try store.tiers(campaign: session.desk.campaign) }
                return API.response(.ok, API.Receipt(receipt, tiers: tiers, now: node.now))
            } catch let e as WhipError {
                return API.pledgeError(e)
            }
        }
        return router
    }

    /// A desk session refused, as the documented JSON error.
    struct DeskRefusal: Error {
        let response: Response
    }

    /// The desk session of the request's cookie (and, for `csrf`, its CSRF header).
    static func session(_ node: Node, _ request: Request) async throws(WhipError) -> DeskSession {
        let token = request.cookies[API.cookie]?.value ?? ""
        return try await node.read { _ throws(WhipError) in try node.deskSession(token: token) }
    }

    static func session(_ node: Node, _ request: Request, csrf: Bool) async throws(DeskRefusal) -> DeskSession {
        let session: DeskSession
        do throws(WhipError) { session = try await Self.session(node, request) } catch {
            let (status, code) = API.sessionError(error)
            throw DeskRefusal(response: API.error(status, code: code, error.message))
        }
        guard let sent = request.headers[API.csrfHeader], Self.constantTimeEqual(sent, session.csrf) else {
            throw DeskRefusal(
                response: API.error(.forbidden, code: "desk.csrf", "the request lacks this desk's token: reload the desk page and try again"))
        }
        return session
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// A decoding error in a sentence, naming the field.
    static func describe(_ error: any Error) -> String {
        guard let e = error as? Swift.DecodingError else { return "not valid JSON" }
        switch e {
        case .keyNotFound(let key, _): return "\(key.stringValue) is missing"
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case .dataCorrupted: return "not valid JSON"
        @unknown default: return "not valid JSON"
        }
    }
}
