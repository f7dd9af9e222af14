import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import WhipCore
import WhipNode
import WhipStore
import WhipTestSupport

@testable import WhipWeb

/// The desk's JSON API and pairing, driven through Hummingbird's router without a socket (issue 10).
@Suite(.serialized, .timeLimit(.minutes(5))) struct DeskAPITests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A node that founded a community with a live campaign (one tier of two places), and its web routes.
    struct Fixture {
        let clock = ManualClock()
        let node: Node
        let campaign: CampaignRow
        let tier: EventID
        let app: Application<RouterResponder<WebContext>>
        let hub: ProgressHub

        init(config: WebConfig = WebConfig()) throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-web-\(UUID().uuidString)").path
            let clock = self.clock
            node = try Node.initialise(dir: DataDir(path: dir), name: "hall", logger: DeskAPITests.logger, clock: { clock.now })
            let info = try node.createCommunity(name: "Elm Street")
            let created = try node.emit(
                info.id,
                .campaignCreated(
                    CampaignCreated(
                        title: "Pool <b>roof</b>", description: "", goal: 10_000, currency: Currency(code: "GBP")!, model: .keepWhatYouRaise,
                        opens: 0, closes: clock.now + 10 * 86_400_000, timeZone: "Europe/London", organisers: [])))
            tier = try node.emit(
                info.id, .tierAdded(TierAdded(campaign: created.id, title: "Mug", description: nil, minimum: 2_000, limit: 2))
            ).id
            _ = try node.emit(info.id, .campaignPublished(CampaignRef(campaign: created.id)))
            campaign = try node.campaign(created.id.hex)
            hub = ProgressHub(node: node, maxStreams: config.limits.maxEventStreams, logger: DeskAPITests.logger)
            let queue = PledgeQueue(node: node)
            app = Application(
                router: WebServer.router(node: node, config: config, hub: hub, queue: queue, logger: DeskAPITests.logger), services: [queue])
        }

        /// Opens a desk and pairs a phone through `GET /pair`; returns the cookie header and the CSRF token.
        func pair(_ client: some TestClientProtocol, name: String = "Tombola") async throws -> (cookie: String, csrf: String) {
            let code = try node.openDesk(campaign: campaign, name: name, until: nil).code
            let cookie = try await client.execute(uri: "/pair?code=\(code)", method: .get) { r in
                #expect(r.status == .seeOther && r.headers[.location] == "/desk")
                let set = try #require(r.headers[.setCookie])
                #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"))
                return String(set.split(separator: ";")[0])
            }
            let csrf = try await client.execute(uri: "/api/v1/desk", method: .get, headers: [.cookie: cookie]) { r in
                #expect(r.status == .ok)
                let view = try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]
                return try #require(view?["csrf"] as? String)
            }
            return (cookie, csrf)
        }
    }

    static func pledge(key: String, name: String = "Ann Oak", amount: String = "12.50", payment: String = "cash", extra: String = "") -> ByteBuffer {
        ByteBuffer(string: #"{"key":"\#(key)","name":"\#(name)","amount":"\#(amount)","payment":"\#(payment)"\#(extra)}"#)
    }

    static func errorCode(_ r: TestResponse) -> String? {
        let body = try? JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]
        return (body?["error"] as? [String: Any])?["code"] as? String
    }

    @Test func aPairedPhoneRecordsAPledgeOnceWhateverItResends() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (cookie, csrf) = try await f.pair(client)
            let headers: HTTPFields = [.cookie: cookie, API.csrfHeader: csrf, .contentType: "application/json"]
            try await client.execute(uri: "/api/v1/desk/pledges", method: .post, headers: headers, body: Self.pledge(key: "phone-a-0001")) { r in
                #expect(r.status == .created)
                let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
                #expect(body["duplicate"] as? Bool == false && body["amount"] as? String == "12.50")
                #expect((body["reference"] as? String)?.count == 9)
                #expect((body["campaign"] as? [String: Any])?["backers"] as? Int == 1)
            }
            // A double tap, or a resend after a lost answer: the same pledge, nothing new.
            try await client.execute(uri: "/api/v1/desk/pledges", method: .post, headers: headers, body: Self.pledge(key: "phone-a-0001")) { r in
                #expect(r.status == .ok)
                let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
                #expect(body["duplicate"] as? Bool == true)
            }
            try await client.execute(uri: "/api/v1/campaigns/\(f.campaign.id.hex)", method: .get) { r in
                #expect(r.status == .ok)
                let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
                #expect(body["backers"] as? Int == 1 && body["pledged"] as? String == "12.50" && body["title"] as? String == "Pool <b>roof</b>")
                #expect((body["tiers"] as? [[String: Any]])?.first?["places_left"] as? Int == 2)
                // The public view has no names or contact details.
                #expect(!String(buffer: r.body).contains("Ann Oak"))
            }
            // Undo takes it back: paid in cash, so this organiser's node rejects it (the money is handed back).
            try await client.execute(uri: "/api/v1/desk/undo", method: .post, headers: headers) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any])
                #expect(body["status"] as? String == "rejected")
            }
            #expect(try f.node.campaign(f.campaign.id.hex).backers == 0)
        }
    }

    @Test func everyRefusalIsADocumentedErrorAndStoresNothing() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (cookie, csrf) = try await f.pair(client)
            let json: HTTPFields = [.cookie: cookie, API.csrfHeader: csrf, .contentType: "application/json"]
            let cases: [(HTTPFields, ByteBuffer, HTTPResponse.Status, String)] = [
                ([.cookie: cookie], Self.pledge(key: "phone-a-0001"), .forbidden, "desk.csrf"),
                ([.cookie: cookie, API.csrfHeader: csrf + "x"], Self.pledge(key: "phone-a-0002"), .forbidden, "desk.csrf"),
                ([API.csrfHeader: csrf], Self.pledge(key: "phone-a-0003"), .unauthorized, "desk.no_session"),
                ([.cookie: "wr_desk=forged-token", API.csrfHeader: csrf], Self.pledge(key: "phone-a-0004"), .unauthorized, "desk.no_session"),
                (json, ByteBuffer(string: "{not json"), .badRequest, "request.malformed"),
                (json, ByteBuffer(string: #"{"key":"phone-a-0005"}"#), .badRequest, "request.malformed"),
                (json, Self.pledge(key: "phone-a-0006", amount: "12.345"), .badRequest, "pledge.invalid"),
                (json, Self.pledge(key: "phone-a-0007", amount: "ten"), .badRequest, "pledge.invalid"),
                (json, Self.pledge(key: "phone-a-0008", name: String(repeating: "n", count: 81)), .badRequest, "pledge.invalid"),
                (json, Self.pledge(key: "phone-a-0009", extra: #","tier":"\#(String(repeating: "0", count: 64))""#), .badRequest, "pledge.invalid"),
                (json, Self.pledge(key: "phone-a-0010", payment: "bitcoin"), .badRequest, "pledge.invalid"),
                (
                    json, ByteBuffer(string: #"{"key":"k","name":"\#(String(repeating: "x", count: 20_000))","amount":"1","payment":"cash"}"#),
                    .contentTooLarge, "request.too_large"
                ),
            ]
            for (headers, body, status, code) in cases {
                try await client.execute(uri: "/api/v1/desk/pledges", method: .post, headers: headers, body: body) { r in
                    #expect(r.status == status, "\(code) \(String(buffer: r.body))")
                    #expect(Self.errorCode(r) == code, "\(String(buffer: r.body))")
                    #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
                }
            }
            #expect(try f.node.campaign(f.campaign.id.hex).backers == 0)
            // A closed desk: gone, with a message that says so.
            try f.node.closeDesk(name: "Tombola")
            try await client.execute(uri: "/api/v1/desk/pledges", method: .post, headers: json, body: Self.pledge(key: "phone-a-0011")) { r in
                #expect(r.status == .gone && Self.errorCode(r) == "desk.closed")
            }
            #expect(try f.node.campaign(f.campaign.id.hex).backers == 0)
        }
    }

    @Test func aGiftAidDeclarationIsSealedToTheTreasurersNotTheOrganisers() async throws {
        let f = try Fixture()
        let info = try f.node.communityInfo(f.campaign.community)
        _ = try await f.node.emit(
            info.id, .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm Trust", yearEndMonth: 3, yearEndDay: 31)))
        _ = try f.node.grant(info, member: f.node.identity.publicKey, role: .treasurer, expires: nil)
        try await f.app.test(.router) { client in
            let (cookie, csrf) = try await f.pair(client)
            let page = try await client.execute(uri: "/desk", method: .get, headers: [.cookie: cookie]) { String(buffer: $0.body) }
            #expect(page.contains("Elm Trust") && page.contains("id=\"gift-aid\""))
            // A desk with no end time says nothing about one (an absent value is not rendered as "nil").
            #expect(!page.contains("nil") && !page.contains("open until"))
            let ga = #","gift_aid":{"first_name":"Ann","last_name":"Oak","house":"12","postcode":"s19 2bd","scope":"this-donation","oral":true}"#
            let id = try await client.execute(
                uri: "/api/v1/desk/pledges", method: .post, headers: [.cookie: cookie, API.csrfHeader: csrf, .contentType: "application/json"],
                body: Self.pledge(key: "phone-a-0001", extra: ga)
            ) { r in
                #expect(r.status == .created, "\(String(buffer: r.body))")
                let body = try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]
                let hex = try #require(body?["pledge"] as? String)
                return try #require(EventID(hex: hex))
            }
            let (pledge, _) = try f.node.pledge(id.hex)
            // The organisers' part says nothing of Gift Aid; the treasurers' part holds the declaration.
            #expect(f.node.openContact(pledge.contact)?.giftAid == false)
            guard case .found(let d) = try f.node.giftAidDeclaration(pledge: id) else {
                Issue.record("the treasurer cannot open the declaration")
                return
            }
            #expect(d.lastName == "Oak" && d.postcode == "S19 2BD" && d.oral)
        }
    }

    @Test func aWrongPairingCodeIsRefusedAndGuessingIsRateLimited() async throws {
        var config = WebConfig()
        config.limits.pairingAttemptsPerMinutePerAddress = 3
        let f = try Fixture(config: config)
        try await f.app.test(.router) { client in
            for i in 0..<3 {
                try await client.execute(uri: "/pair?code=AAAA-BBBB-CCC\(i)", method: .get) { r in
                    #expect(r.status == .badRequest && r.headers[.setCookie] == nil)
                }
            }
            try await client.execute(uri: "/pair?code=AAAA-BBBB-CCCD", method: .get) { r in
                #expect(r.status == .tooManyRequests && r.headers[.setCookie] == nil)
            }
        }
    }

    @Test func everyAnswerCarriesTheSecurityHeaders() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            for uri in ["/", "/pair", "/desk", "/display/\(f.campaign.id.hex)", "/api/v1/campaigns/\(f.campaign.id.hex)", "/nowhere"] {
                try await client.execute(uri: uri, method: .get) { r in
                    let csp = r.headers[.contentSecurityPolicy] ?? ""
                    #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "\(uri)")
                    #expect(r.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(uri)")
                    #expect(r.headers[.xContentTypeOptions] == "nosniff", "\(uri)")
                }
            }
            try await client.execute(uri: "/api/v1/campaigns/\(String(repeating: "ab", count: 32))", method: .get) { r in
                #expect(r.status == .notFound && Self.errorCode(r) == "not_found")
            }
            try await client.execute(uri: "/desk", method: .get) { r in #expect(r.status == .unauthorized) }
        }
    }

    @Test func anUnexpectedFailureUnderTheAPIIsTheDocumented500() async throws {
        let router = Router(context: WebContext.self)
        router.add(middleware: SecurityHeadersMiddleware())
        router.get("/api/v1/store") { _, _ -> Response in throw WhipError(.storage, "the disk is full") }
        router.get("/api/v1/other") { _, _ -> Response in throw CancellationError() }
        router.get("/page") { _, _ -> Response in throw WhipError(.storage, "the disk is full") }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/api/v1/store", method: .get) { r in
                #expect(r.status == .internalServerError && Self.errorCode(r) == "internal", "\(String(buffer: r.body))")
                #expect(String(buffer: r.body).contains("the disk is full"))
                #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
                #expect(r.headers[.contentSecurityPolicy] != nil)
            }
            try await client.execute(uri: "/api/v1/other", method: .get) { r in
                #expect(r.status == .internalServerError && Self.errorCode(r) == "internal")
                #expect(!String(buffer: r.body).contains("Cancellation"), "another error's text stays inside the node")
            }
            // A page is not the JSON API: its failure stays Hummingbird's own 500.
            try await client.execute(uri: "/page", method: .get) { r in
                #expect(r.status == .internalServerError && Self.errorCode(r) == nil)
            }
        }
    }

    @Test func onlyAddressesAndLocalhostAreAcceptedAsHost() {
        for ok in ["127.0.0.1:8480", "localhost:8480", "192.168.1.20:8480", "[::1]:8480", "10.0.0.5", "hall.example:80"] {
            #expect(HostCheckMiddleware.allowed(ok, publicHost: "hall.example"), "\(ok)")
        }
        for bad in ["evil.example:8480", "127.0.0.1.evil.example", "", "[::1", "999.1.1.1:80", "localhost.evil:1"] {
            #expect(!HostCheckMiddleware.allowed(bad, publicHost: "hall.example"), "\(bad)")
        }
    }

    @Test func theRateLimiterRefillsWithTime() {
        let clock = ManualClock()
        let limiter = RateLimiter(perMinute: 2, clock: { clock.now })
        #expect(limiter.allow("a") && limiter.allow("a") && !limiter.allow("a"))
        #expect(limiter.allow("b"))
        clock.advance(30_000)
        #expect(limiter.allow("a") && !limiter.allow("a"))
    }

    /// Summaries read concurrently can arrive out of order: one read at an older change mark is never sent after a
    /// newer one, and a new page starts from the newest the others were sent.
    @Test func aLiveStreamNeverStepsBack() async throws {
        let f = try Fixture()
        let (zero, mark) = try #require(try await CampaignSummary.loadProgress(f.node, f.campaign.id))
        let stream = try #require(f.hub.subscribe(f.campaign.id, first: zero, mark: mark))
        var messages = stream.makeAsyncIterator()
        _ = try #require(await messages.next())
        let s = try f.node.redeemDeskCode(try f.node.openDesk(campaign: f.campaign, name: "Gate", until: nil).code)
        _ = try f.node.takeDeskPledge(s, DeskPledgeRequest(key: "phone-b-0001", name: "Bo", amount: "20"))
        let (one, newer) = try #require(try await CampaignSummary.loadProgress(f.node, f.campaign.id))
        f.hub.publish(f.campaign.id, one, mark: newer)
        f.hub.publish(f.campaign.id, zero, mark: mark)
        _ = try f.node.takeDeskPledge(s, DeskPledgeRequest(key: "phone-b-0002", name: "Cy", amount: "5"))
        await f.hub.publish(f.campaign.id)
        let sent = [try #require(await messages.next()), try #require(await messages.next())]
        #expect(sent[0].contains(#""backers":1"#) && sent[1].contains(#""backers":2"#), "\(sent)")
        let late = try #require(f.hub.subscribe(f.campaign.id, first: zero, mark: mark))
        var lateMessages = late.makeAsyncIterator()
        #expect(try #require(await lateMessages.next()).contains(#""backers":2"#))
    }

    /// Twenty desks' pledges sent at once through the queue are each recorded once, in groups; once the queue has
    /// stopped, a pledge is refused with a clear message rather than left waiting.
    @Test func thePledgeQueueCommitsConcurrentPledgesInGroups() async throws {
        let f = try Fixture()
        let queue = PledgeQueue(node: f.node)
        let running = Task { await queue.run() }
        let node = f.node
        let sessions = try (0..<20).map { i in try node.redeemDeskCode(try node.openDesk(campaign: f.campaign, name: "Desk \(i)", until: nil).code) }
        let ids = try await withThrowingTaskGroup(of: (EventID, Bool).self) { group in
            for (i, s) in sessions.enumerated() {
                for key in ["desk-\(i)-one", "desk-\(i)-one", "desk-\(i)-two"] {
                    group.addTask {
                        let p = try await node.read { _ throws(WhipError) in
                            try node.prepareDeskPledge(s, DeskPledgeRequest(key: key, name: "B", amount: "1"))
                        }
                        if let earlier = p.earlier { return (earlier, true) }
                        let r = try await queue.submit(p)
                        return (r.id, r.duplicate)
                    }
                }
            }
            return try await group.reduce(into: [(EventID, Bool)]()) { $0.append($1) }
        }
        #expect(ids.count == 60 && Set(ids.map(\.0)).count == 40 && ids.filter(\.1).count == 20)
        #expect(try node.campaign(f.campaign.id.hex).backers == 40)
        running.cancel()
        await running.value
        let p = try node.prepareDeskPledge(sessions[0], DeskPledgeRequest(key: "desk-0-three", name: "B", amount: "1"))
        let refused = await #expect(throws: WhipError.self) { try await queue.submit(p) }
        #expect(refused?.message.contains("shutting down") == true)
        #expect(try node.campaign(f.campaign.id.hex).backers == 40)
    }

    @Test func aLiveStreamSeesAPledgeFromAnotherDeskAndClosesOnShutdown() async throws {
        let f = try Fixture()
        let (first, mark) = try #require(try await CampaignSummary.loadProgress(f.node, f.campaign.id))
        let stream = try #require(f.hub.subscribe(f.campaign.id, first: first, mark: mark))
        var messages = stream.makeAsyncIterator()
        let opening = try #require(await messages.next())
        #expect(opening.hasPrefix("event: progress\ndata: {") && opening.contains(#""backers":0"#))
        let s = try f.node.redeemDeskCode(try f.node.openDesk(campaign: f.campaign, name: "Gate", until: nil).code)
        _ = try f.node.takeDeskPledge(s, DeskPledgeRequest(key: "phone-b-0001", name: "Bo", amount: "20"))
        await f.hub.publish(f.campaign.id)
        let update = try #require(await messages.next())
        #expect(update.contains(#""backers":1"#) && update.contains(#""pledged":"20.00""#) && !update.contains("Bo"))
        #expect(f.hub.streamCount == 1)
        // Publishing again with nothing new sends nothing; a stream beyond the limit is refused.
        await f.hub.publish(f.campaign.id)
        let small = ProgressHub(node: f.node, maxStreams: 0, logger: Self.logger)
        #expect(small.subscribe(f.campaign.id, first: first, mark: mark) == nil)
    }
}
