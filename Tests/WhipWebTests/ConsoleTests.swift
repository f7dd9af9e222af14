import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore
import WhipTestSupport

@testable import WhipWeb

/// The organiser console (issue 11): sign-in by one-time link or code, sessions, CSRF, and the organiser's forms,
/// driven through the router without a socket and checked against the node's own view.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ConsoleTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    struct Fixture {
        let clock = ManualClock()
        let node: Node
        let app: Application<RouterResponder<WebContext>>

        init(community: Bool = true, limits: WebConfig.Limits = WebConfig.Limits()) throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-console-\(UUID().uuidString)").path
            let clock = self.clock
            node = try Node.initialise(dir: DataDir(path: dir), name: "hall", logger: ConsoleTests.logger, clock: { clock.now })
            if community { _ = try node.createCommunity(name: "Elm Street") }
            var config = WebConfig()
            config.limits = limits
            let hub = ProgressHub(node: node, maxStreams: 4, logger: ConsoleTests.logger)
            let queue = PledgeQueue(node: node)
            app = Application(
                router: WebServer.router(node: node, config: config, hub: hub, queue: queue, logger: ConsoleTests.logger), services: [queue])
        }

        /// Signs in with a fresh one-time link; returns the cookie header and the session's form token.
        func signIn(_ client: some TestClientProtocol) async throws -> (cookie: String, csrf: String) {
            let login = try node.consoleLogin()
            let cookie = try await client.execute(uri: "/console/login?token=\(login.token)", method: .get) { r in
                #expect(r.status == .seeOther && r.headers[.location] == "/console")
                let set = try #require(r.headers[.setCookie])
                #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/console"))
                return String(set.split(separator: ";")[0])
            }
            let csrf = try await client.execute(uri: "/console", method: .get, headers: [.cookie: cookie]) { r in
                #expect(r.status == .ok)
                return try #require(ConsoleTests.field("csrf", in: String(buffer: r.body)))
            }
            return (cookie, csrf)
        }

        /// POSTs a form as a signed-in browser.
        func post(
            _ client: some TestClientProtocol, _ path: String, _ fields: [(String, String)], cookie: String
        ) async throws -> TestResponse {
            let body = fields.map { "\($0.0)=\(ConsolePages.urlEncode($0.1))" }.joined(separator: "&")
            return try await client.execute(
                uri: path, method: .post, headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: body))
        }
    }

    /// The value of the first hidden input named `name` in `html`.
    static func field(_ name: String, in html: String) -> String? {
        guard let r = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test func withoutASignInTheConsoleShowsNothingAndChangesNothing() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            for path in ["/console", "/console/health", "/console/campaigns/00"] {
                try await client.execute(uri: path, method: .get) { r in
                    #expect(r.status == .unauthorized, "\(path)")
                    let html = String(buffer: r.body)
                    #expect(html.contains("whipround web login") && !html.contains("hall"), "\(path)")
                }
            }
            try await client.execute(uri: "/console", method: .get, headers: [.cookie: "wr_console=forged"]) { r in
                #expect(r.status == .unauthorized)
            }
            let r = try await f.post(
                client, "/console/campaigns", [("csrf", "x"), ("title", "Sneaky"), ("goal", "10"), ("closes", "2027-06-30")], cookie: "wr_console=x")
            #expect(r.status == .forbidden)
            #expect(try f.node.store.campaigns().isEmpty)
        }
    }

    @Test func aSignInLinkOrCodeWorksOnceAndSessionsEnd() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let login = try f.node.consoleLogin()
            let first = try await client.execute(uri: "/console/login?token=\(login.token)", method: .get) { r in
                #expect(r.status == .seeOther)
                return String(try #require(r.headers[.setCookie]).split(separator: ";")[0])
            }
            try await client.execute(uri: "/console/login?token=\(login.token)", method: .get) { r in
                #expect(r.status == .forbidden)
                #expect(String(buffer: r.body).contains("used already or has expired"))
            }
            // The code printed beside it works once too, from any device, typed loosely.
            let typed = login.code.lowercased().replacingOccurrences(of: "-", with: " ")
            let second = try await f.post(client, "/console/pair", [("code", typed)], cookie: "")
            #expect(second.status == .seeOther)
            #expect(try await f.post(client, "/console/pair", [("code", login.code)], cookie: "").status == .forbidden)
            let cookie2 = String(try #require(second.headers[.setCookie]).split(separator: ";")[0])
            for cookie in [first, cookie2] {
                try await client.execute(uri: "/console", method: .get, headers: [.cookie: cookie]) { r in #expect(r.status == .ok) }
            }
            // An unused login expires.
            let stale = try f.node.consoleLogin()
            f.clock.advance(Int64(Console.loginLifetimeMs) + 1)
            try await client.execute(uri: "/console/login?token=\(stale.token)", method: .get) { r in #expect(r.status == .forbidden) }
            // Sessions expire, and `web logout --all` ends the ones left.
            f.clock.advance(Int64(Console.sessionLifetimeMs))
            try await client.execute(uri: "/console", method: .get, headers: [.cookie: first]) { r in #expect(r.status == .unauthorized) }
            f.clock.advance(-Int64(Console.sessionLifetimeMs))
            #expect(try f.node.endAllConsoleSessions() == 2)
            try await client.execute(uri: "/console", method: .get, headers: [.cookie: cookie2]) { r in #expect(r.status == .unauthorized) }
        }
    }

    @Test func signInAttemptsAreLimitedPerAddress() async throws {
        var limits = WebConfig.Limits()
        limits.pairingAttemptsPerMinutePerAddress = 3
        let f = try Fixture(limits: limits)
        try await f.app.test(.router) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/console/login?token=guess", method: .get) { r in #expect(r.status == .forbidden) }
            }
            #expect(try await f.post(client, "/console/pair", [("code", "AAAA-BBBB-CCCC")], cookie: "").status == .forbidden)
            // The fourth try in the minute, link or code, is refused before it is checked: even a right one.
            let login = try f.node.consoleLogin()
            try await client.execute(uri: "/console/login?token=\(login.token)", method: .get) { r in #expect(r.status == .tooManyRequests) }
            #expect(try await f.post(client, "/console/pair", [("code", login.code)], cookie: "").status == .tooManyRequests)
            f.clock.advance(60_000)
            try await client.execute(uri: "/console/login?token=\(login.token)", method: .get) { r in #expect(r.status == .seeOther) }
        }
    }

    @Test func aFormWithoutTheSessionsTokenIsRefused() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (cookie, _) = try await f.signIn(client)
            let r = try await f.post(
                client, "/console/campaigns", [("csrf", "wrong"), ("title", "Roof"), ("goal", "100"), ("closes", "2027-06-30")], cookie: cookie)
            #expect(r.status == .forbidden)
            #expect(try f.node.store.campaigns().isEmpty)
        }
    }

    @Test func anOrganiserRunsACampaignFromTheConsole() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (cookie, csrf) = try await f.signIn(client)
            let created = try await f.post(
                client, "/console/campaigns",
                [
                    ("csrf", csrf), ("title", "Pool roof"), ("story", "We need a *new* roof.\r\n\r\nThanks!"), ("goal", "5000"),
                    ("currency", "GBP"), ("model", "all-or-nothing"), ("closes", "2027-06-30"), ("time_zone", "Europe/London"),
                ], cookie: cookie)
            #expect(created.status == .seeOther)
            let location = try #require(created.headers[.location])
            let id = String(location.dropFirst("/console/campaigns/".count).prefix(64))
            var c = try f.node.campaign(id)
            #expect(c.title == "Pool roof" && c.description == "We need a *new* roof.\n\nThanks!" && c.goal.minor == 500_000)
            #expect(c.timeZone == "Europe/London" && c.standing(now: f.node.now) == .draft)

            for (title, minimum, limit) in [("Mug", "20", "2"), ("Tile", "50", "")] {
                let r = try await f.post(
                    client, "/console/campaigns/\(id)/tiers", [("csrf", csrf), ("title", title), ("minimum", minimum), ("limit", limit)],
                    cookie: cookie)
                #expect(r.status == .seeOther)
            }
            let tiers = try f.node.store.tiers(campaign: c.id)
            #expect(tiers.map(\.title) == ["Mug", "Tile"] && tiers[0].limit == 2 && tiers[1].limit == nil)
            // A tier changed as its row's form shows it: only what was changed changes; a limit of 0 is explained.
            let mug = tiers[0]
            let changed = try await f.post(
                client, "/console/campaigns/\(id)/tier",
                [("csrf", csrf), ("tier", mug.id.hex), ("title", "Mug"), ("minimum", "20.00"), ("limit", "5"), ("description", "")], cookie: cookie)
            #expect(changed.status == .seeOther)
            let mugNow = try #require(try f.node.store.tiers(campaign: c.id).first { $0.id == mug.id })
            #expect(mugNow.limit == 5 && mugNow.title == "Mug" && mugNow.minimum.minor == 2_000 && mugNow.description == nil)
            let zero = try await f.post(
                client, "/console/campaigns/\(id)/tier", [("csrf", csrf), ("tier", mug.id.hex), ("limit", "0")], cookie: cookie)
            #expect(zero.status == .badRequest && String(buffer: zero.body).contains("at least 1"))
            #expect(
                try await f.post(client, "/console/campaigns/\(id)/edit", [("csrf", csrf), ("title", "Pool roof fund")], cookie: cookie).status
                    == .seeOther)
            #expect(try await f.post(client, "/console/campaigns/\(id)/publish", [("csrf", csrf)], cookie: cookie).status == .seeOther)
            c = try f.node.campaign(id)
            #expect(c.title == "Pool roof fund" && c.standing(now: f.node.now) == .live)

            // News for backers: signed, shown on the public page through the Markdown sanitiser, and in the feed.
            let posted = try await f.post(
                client, "/console/campaigns/\(id)/post",
                [("csrf", csrf), ("title", "Scaffold is up"), ("text", "**Thanks** to all.\r\n\r\n<script>alert(1)</script>")], cookie: cookie)
            #expect(posted.status == .seeOther)
            let news = try f.node.store.updates(campaign: c.id)
            #expect(news.map(\.title) == ["Scaffold is up"] && news.first?.text == "**Thanks** to all.\n\n<script>alert(1)</script>")
            try await client.execute(uri: "/campaigns/\(id)", method: .get) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("Scaffold is up") && html.contains("<strong>Thanks</strong>"))
                #expect(html.contains("&lt;script&gt;") && !html.contains("<script>alert"))
            }
            try await client.execute(uri: "/feed.atom", method: .get) { r in
                #expect(String(buffer: r.body).contains("urn:whipround:update:\(news[0].id.hex)"))
            }
            let empty = try await f.post(client, "/console/campaigns/\(id)/post", [("csrf", csrf), ("title", ""), ("text", "x")], cookie: cookie)
            #expect(empty.status == .badRequest)

            // A desk opened from the browser shows its QR code and one-time code once.
            let desk = try await f.post(client, "/console/campaigns/\(id)/desks", [("csrf", csrf), ("name", "Tombola")], cookie: cookie)
            #expect(desk.status == .ok)
            let page = String(buffer: desk.body)
            let code = try #require(page.range(of: "id=\"pairing-code\">").map { String(page[$0.upperBound...].prefix(14)) })
            #expect(try f.node.desks().map(\.name) == ["Tombola"])
            try await client.execute(uri: "/pair?code=\(code)", method: .get) { r in #expect(r.status == .seeOther) }

            // Pledges: a part payment, a rejection with its reason, the list's filters and the CSV.
            for (name, pounds) in [("Ann Oak", 30), ("Bob Ash", 20)] {
                try f.node.recordPledge(
                    c, amount: Money(minor: Int64(pounds) * 100, currency: c.goal.currency), tier: nil, channel: .inPerson, paid: nil,
                    parts: try f.node.pledgeParts(
                        name: name, anonymous: false, contact: Contact(email: "\(name.prefix(3).lowercased())@example.org"), for: c))
            }
            let pledges = try f.node.store.pledges(campaign: c.id)
            let ann = try #require(pledges.first { $0.publicName == "Ann Oak" })
            let bob = try #require(pledges.first { $0.publicName == "Bob Ash" })
            let paid = try await f.post(
                client, "/console/pledges/\(ann.id.hex)/collect", [("csrf", csrf), ("amount", "10"), ("method", "cash")], cookie: cookie)
            #expect(paid.status == .seeOther)
            let rejected = try await f.post(
                client, "/console/pledges/\(bob.id.hex)/reject", [("csrf", csrf), ("reason", "Duplicate of a card pledge")], cookie: cookie)
            #expect(rejected.status == .seeOther)
            let after = try f.node.store.pledges(campaign: c.id)
            #expect(after.first { $0.id == ann.id }?.collected.minor == 1_000)
            let bobAfter = try #require(after.first { $0.id == bob.id })
            #expect(bobAfter.status == "rejected" && bobAfter.rejectReason == "Duplicate of a card pledge")
            // More than is owed is refused in plain words, and nothing is recorded.
            let over = try await f.post(
                client, "/console/pledges/\(ann.id.hex)/collect",
                [("csrf", csrf), ("amount", "25"), ("method", "cash"), ("back", "/console/campaigns/\(id)/pledges")], cookie: cookie)
            #expect(over.status == .conflict && String(buffer: over.body).contains("more than the"))
            #expect(String(buffer: over.body).contains("href=\"/console/campaigns/\(id)/pledges\""), "Back returns to the list")
            let elsewhere = try await f.post(
                client, "/console/pledges/\(ann.id.hex)/collect", [("csrf", csrf), ("amount", "25"), ("back", "//evil.example/")], cookie: cookie)
            #expect(!String(buffer: elsewhere.body).contains("evil.example"), "Back never leaves the console")
            #expect(try f.node.store.pledges(campaign: c.id).first { $0.id == ann.id }?.collected.minor == 1_000)

            // Contact details are opened only where this node is one of the campaign's organisers.
            try await client.execute(uri: "/console/campaigns/\(id)/pledges", method: .get, headers: [.cookie: cookie]) { r in
                #expect(String(buffer: r.body).contains("ann@example.org"))
            }
            let pages = ConsolePages(
                node: f.node, pages: Pages(node: f.node, logger: ConsoleTests.logger), logger: ConsoleTests.logger, maxBody: 1_000)
            #expect(pages.pledgeItem(ann, currency: "GBP", tierNames: [:], organiser: true)["contact"] as? String == "ann@example.org")
            #expect(pages.pledgeItem(ann, currency: "GBP", tierNames: [:], organiser: false)["contact"] == nil)
            try await client.execute(uri: "/console/campaigns/\(id)/pledges?collected=no&status=active", method: .get, headers: [.cookie: cookie]) {
                r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("Ann Oak") && !html.contains("Bob Ash") && html.contains("1 pledge."))
            }
            try await client.execute(uri: "/console/campaigns/\(id)/pledges.csv", method: .get, headers: [.cookie: cookie]) { r in
                let csv = String(buffer: r.body)
                #expect(r.status == .ok && r.headers[.contentType]?.hasPrefix("text/csv") == true)
                #expect(r.headers[.contentDisposition]?.contains("attachment") == true)
                #expect(csv.contains("Ann Oak") && csv.contains("Bob Ash") && csv.split(separator: "\n").count == 3)
            }
            // Erasure asks for a tick first, then removes the name on every node (a signed personal.erased).
            let unsure = try await f.post(client, "/console/pledges/\(ann.id.hex)/erase", [("csrf", csrf), ("reason", "request")], cookie: cookie)
            #expect(unsure.status == .badRequest && String(buffer: unsure.body).contains("cannot be undone"))
            let erased = try await f.post(
                client, "/console/pledges/\(ann.id.hex)/erase", [("csrf", csrf), ("reason", "request"), ("sure", "on")], cookie: cookie)
            #expect(erased.status == .seeOther)
            #expect(try f.node.store.pledge(ann.id)?.erased.contains(.name) == true)
            // Closing cannot be undone: without the tick nothing happens; cancelling also needs its reason.
            let unsureClose = try await f.post(client, "/console/campaigns/\(id)/close", [("csrf", csrf)], cookie: cookie)
            #expect(unsureClose.status == .badRequest && String(buffer: unsureClose.body).contains("cannot be reopened"))
            let noReason = try await f.post(client, "/console/campaigns/\(id)/cancel", [("csrf", csrf), ("sure", "on")], cookie: cookie)
            #expect(noReason.status == .badRequest && String(buffer: noReason.body).contains("backers see the reason"))
            #expect(try f.node.campaign(id).standing(now: f.node.now) == .live)
            #expect(try await f.post(client, "/console/campaigns/\(id)/close", [("csrf", csrf), ("sure", "on")], cookie: cookie).status == .seeOther)
            #expect(try f.node.campaign(id).standing(now: f.node.now) != .live)
        }
    }

    @Test func rolesAreGrantedAndRevokedWithRefusalsInPlainWords() async throws {
        let f = try Fixture()
        let info = try f.node.community(nil)
        let id = KeyText.encode(info.id, as: .community)
        let other = KeyText.encode(SigningKey.generate().publicKey, as: .member)
        try await f.app.test(.router) { client in
            let (cookie, csrf) = try await f.signIn(client)
            try await client.execute(uri: "/console/communities/\(id)", method: .get, headers: [.cookie: cookie]) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains(f.node.invite(info).text) && html.contains("<svg"))
            }
            let granted = try await f.post(
                client, "/console/communities/\(id)/grant", [("csrf", csrf), ("member", other), ("role", "organiser"), ("until", "2027-12-31")],
                cookie: cookie)
            #expect(granted.status == .seeOther)
            let roles = try f.node.store.roles(community: info.id).filter(\.granted)
            #expect(roles.map { KeyText.encode($0.member, as: .member) } == [other] && roles.first?.role == .organiser)
            let past = try await f.post(
                client, "/console/communities/\(id)/grant", [("csrf", csrf), ("member", other), ("role", "collector"), ("until", "2020-01-01")],
                cookie: cookie)
            #expect(past.status == .badRequest && String(buffer: past.body).contains("has already passed"))
            let typo = try await f.post(
                client, "/console/communities/\(id)/grant", [("csrf", csrf), ("member", "wrk1nonsense"), ("role", "collector")], cookie: cookie)
            #expect(typo.status == .badRequest)
            let revoked = try await f.post(
                client, "/console/communities/\(id)/revoke", [("csrf", csrf), ("member", other), ("role", "organiser")], cookie: cookie)
            #expect(revoked.status == .seeOther)
            #expect(try f.node.store.roles(community: info.id).filter(\.granted).isEmpty)
            let again = try await f.post(
                client, "/console/communities/\(id)/revoke", [("csrf", csrf), ("member", other), ("role", "organiser")], cookie: cookie)
            #expect(again.status == .notFound && String(buffer: again.body).contains("nothing to revoke"))
        }
    }

    @Test func anOrganiserAcceptsAFundersOfferAndSeesTheMatch() async throws {
        let f = try Fixture()
        let info = try f.node.community(nil)
        let clock = f.clock
        let funder = try Node.initialise(
            dir: DataDir(path: f.node.dir.path + "-funder"), name: "council", logger: ConsoleTests.logger, clock: { clock.now })
        _ = try funder.join(f.node.invite(info))
        _ = try f.node.grant(info, member: funder.identity.publicKey, role: .funder, expires: nil)
        var form = CampaignForm(title: "Bandstand", goal: "100", closes: "2027-12-31")
        form.model = "keep-what-you-raise"
        let id = try f.node.createCampaign(form, in: info).id
        _ = try await f.node.emit(info.id, .campaignPublished(CampaignRef(campaign: id)))
        _ = try funder.importBundle(try f.node.exportBundle(community: info.id).bytes)
        var offer = MatchOffered(campaign: id, funderName: "Elm Council", currency: Currency(code: "GBP")!, mode: .match, campaignCap: 5_000)
        offer.factor = MatchFactor(numerator: 1, denominator: 1)
        let offered = try await funder.emit(info.id, .matchOffered(offer))
        _ = try f.node.importBundle(try funder.exportBundle(community: info.id).bytes)
        let c = try f.node.campaign(id.hex)
        let pledge = try f.node.recordPledge(
            c, amount: Money(minor: 2_000, currency: c.goal.currency), tier: nil, channel: .inPerson, paid: nil,
            parts: try f.node.pledgeParts(name: "Ann Oak", anonymous: false, contact: Contact(), for: c))
        try await f.app.test(.router) { client in
            let (cookie, csrf) = try await f.signIn(client)
            try await client.execute(uri: "/console/campaigns/\(id.hex)", method: .get, headers: [.cookie: cookie]) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("Elm Council") && html.contains("pending") && html.contains(">Accept<"))
            }
            let accepted = try await f.post(
                client, "/console/campaigns/\(id.hex)/accept", [("csrf", csrf), ("offer", offered.id.hex)], cookie: cookie)
            #expect(accepted.status == .seeOther)
            #expect(try f.node.store.matchOffers(campaign: id).first?.accepted == true)
            #expect(try f.node.store.pledgeMatches(campaign: id).first { $0.pledge == pledge.id }?.matched.minor == 2_000)
            try await client.execute(uri: "/console/campaigns/\(id.hex)/pledges?matched=yes", method: .get, headers: [.cookie: cookie]) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("Ann Oak") && html.contains("+ £20.00 matched") && html.contains("1 pledge."))
            }
            try await client.execute(uri: "/console/campaigns/\(id.hex)/pledges?matched=no", method: .get, headers: [.cookie: cookie]) { r in
                #expect(String(buffer: r.body).contains("0 pledges."))
            }
        }
    }

    @Test func aTreasurerPreviewsAndRecordsAGiftAidClaim() async throws {
        let f = try Fixture()
        let info = try f.node.community(nil)
        _ = try f.node.grant(info, member: f.node.identity.publicKey, role: .treasurer, expires: nil)
        _ = try await f.node.emit(
            info.id, .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31)))
        var form = CampaignForm(title: "Paint the hall", goal: "50", closes: "2027-01-10")
        form.model = "keep-what-you-raise"
        form.timeZone = "Europe/London"
        let id = try f.node.createCampaign(form, in: info).id
        _ = try await f.node.emit(info.id, .campaignPublished(CampaignRef(campaign: id)))
        let c = try f.node.campaign(id.hex)
        let declaration = GiftAidDeclaration(
            title: "Mrs", firstName: "Ann", lastName: "Oak", house: "12", postcode: "S19 2BD", scope: .thisPastAndFuture,
            date: CivilDate(iso: "2027-01-01")!)
        for (name, gift, pence) in [("Ann Oak", Optional(declaration), Int64(4_000)), ("Bob Ash", nil, 1_500)] {
            try f.node.recordPledge(
                c, amount: Money(minor: pence, currency: c.goal.currency), tier: nil, channel: .inPerson, paid: .cash,
                parts: try f.node.pledgeParts(
                    name: name, anonymous: false, contact: Contact(), giftAid: try f.node.giftAidPart(gift, community: info), for: c))
        }
        f.clock.advance(20 * 86_400_000)
        let community = KeyText.encode(info.id, as: .community)
        try await f.app.test(.router) { client in
            let (cookie, csrf) = try await f.signIn(client)
            try await client.execute(uri: "/console/communities/\(community)/giftaid?from=2026-04-06", method: .get, headers: [.cookie: cookie]) {
                r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("1 donation(s), £40.00: about £10.00 of Gift Aid"))
                #expect(html.contains("OAK") || html.contains("Oak"))
                #expect(html.contains("£15.00 in this period"), "Bob's £15 cash pledge without a declaration is a small donation")
            }
            let recorded = try await f.post(
                client, "/console/communities/\(community)/giftaid", [("csrf", csrf), ("from", "2026-04-06"), ("to", "2027-03-31")], cookie: cookie)
            #expect(recorded.status == .ok && recorded.headers[.contentDisposition]?.contains("gift-aid-claim") == true)
            #expect(String(buffer: recorded.body).contains("40.00"))
            // Claimed once: the same period now has nothing left to claim, and recording again is refused.
            let again = try await f.post(
                client, "/console/communities/\(community)/giftaid", [("csrf", csrf), ("from", "2026-04-06"), ("to", "2027-03-31")], cookie: cookie)
            #expect(again.status == .conflict && String(buffer: again.body).contains("nothing was recorded"))
        }
    }

    @Test func theListPagesThroughManyPledges() async throws {
        let f = try Fixture()
        let info = try f.node.community(nil)
        var form = CampaignForm(title: "Hall", goal: "100000", closes: "2027-12-31")
        form.timeZone = "UTC"
        let id = try f.node.createCampaign(form, in: info).id
        _ = try await f.node.emit(info.id, .campaignPublished(CampaignRef(campaign: id)))
        let c = try f.node.campaign(id.hex)
        for i in 0..<120 {
            try f.node.recordPledge(
                c, amount: Money(minor: 500, currency: c.goal.currency), tier: nil, channel: i % 3 == 0 ? .online : .inPerson,
                paid: i % 2 == 0 ? .cash : nil, parts: try f.node.pledgeParts(name: "Backer \(i)", anonymous: false, contact: Contact(), for: c))
        }
        let all = try f.node.store.pledgePage(campaign: id, filter: PledgeFilter(), offset: 0, limit: 1_000)
        let online = try f.node.store.pledgePage(campaign: id, filter: PledgeFilter(channel: .online), offset: 0, limit: 1_000)
        let unpaid = try f.node.store.pledgePage(campaign: id, filter: PledgeFilter(collected: false), offset: 0, limit: 1_000)
        #expect(all.total == 120 && online.total == 40 && online.rows.allSatisfy { $0.channel == "online" })
        #expect(unpaid.total == all.rows.filter { $0.collected.minor < $0.amount.minor }.count)
        try await f.app.test(.router) { client in
            let (cookie, _) = try await f.signIn(client)
            try await client.execute(uri: "/console/campaigns/\(id.hex)/pledges?page=3", method: .get, headers: [.cookie: cookie]) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("Page 3 of 3") && html.contains(all.rows[100].publicName))
                #expect(!html.contains(">\(all.rows[99].publicName)<") && html.contains("Previous") && !html.contains(">Next<"))
            }
        }
    }

    @Test func aDraftCancelledBeforePublishingNeverShowsInPublic() async throws {
        let f = try Fixture()
        let info = try f.node.community(nil)
        let draft = try f.node.createCampaign(CampaignForm(title: "Secret plan", goal: "100", closes: "2027-12-31"), in: info).id
        _ = try await f.node.emit(info.id, .campaignCancelled(CampaignCancelled(campaign: draft, reason: "never mind")))
        let published = try f.node.createCampaign(CampaignForm(title: "Open plan", goal: "100", closes: "2027-12-31"), in: info).id
        _ = try await f.node.emit(info.id, .campaignPublished(CampaignRef(campaign: published)))
        _ = try await f.node.emit(info.id, .campaignCancelled(CampaignCancelled(campaign: published, reason: "rained off")))
        try await f.app.test(.router) { client in
            for path in [
                "/campaigns/\(draft.hex)", "/display/\(draft.hex)", "/api/v1/campaigns/\(draft.hex)", "/api/v1/campaigns/\(draft.hex)/stream",
            ] {
                try await client.execute(uri: path, method: .get) { r in #expect(r.status == .notFound, "\(path)") }
            }
            try await client.execute(uri: "/api/v1/campaigns/\(published.hex)", method: .get) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/campaigns/\(published.hex)", method: .get) { r in #expect(r.status == .ok) }
            for path in ["/", "/feed.atom"] {
                try await client.execute(uri: path, method: .get) { r in
                    let text = String(buffer: r.body)
                    #expect(!text.contains("Secret plan") && text.contains("Open plan"), "\(path)")
                }
            }
        }
    }

    @Test func storedTextIsShownAsTextOnEveryConsolePage() async throws {
        let f = try Fixture()
        let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
        let info = try f.node.community(nil)
        var form = CampaignForm(title: hostile, goal: "100", closes: "2027-12-31")
        form.description = hostile
        let id = try f.node.createCampaign(form, in: info).id
        let c = try f.node.campaign(id.hex)
        _ = try f.node.addTier(c, title: hostile, minimum: "5", limit: nil, description: hostile, benefit: nil)
        _ = try await f.node.emit(info.id, .campaignPublished(CampaignRef(campaign: id)))
        let live = try f.node.campaign(id.hex)
        let p = try f.node.recordPledge(
            live, amount: Money(minor: 500, currency: live.goal.currency), tier: nil, channel: .inPerson, paid: nil,
            parts: try f.node.pledgeParts(name: hostile, anonymous: false, contact: Contact(), for: live))
        _ = try await f.node.emit(info.id, .pledgeRejected(PledgeRejected(campaign: id, pledge: p.id, reason: hostile)))
        try await f.app.test(.router) { client in
            let (cookie, _) = try await f.signIn(client)
            for path in ["/console", "/console/campaigns/\(id.hex)", "/console/campaigns/\(id.hex)/pledges", "/console/health"] {
                try await client.execute(uri: path, method: .get, headers: [.cookie: cookie]) { r in
                    let html = String(buffer: r.body)
                    #expect(r.status == .ok, "\(path)")
                    #expect(!html.contains("<script") && !html.contains("<img"), "\(path)")
                }
            }
        }
    }
}
