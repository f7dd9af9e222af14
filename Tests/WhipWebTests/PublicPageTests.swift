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

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The public face of a campaign (issue 11): its page, card, poster, feed and bundle, through the router
/// without a socket.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PublicPageTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let gbp = Currency(code: "GBP")!
    static let day: UInt64 = 86_400_000
    static let hostileTitle = "</text><script>alert(1)</script> & \"roof\""
    static let hostileTier = "<script>alert(2)</script>"
    static let hostileName = "<script>alert(3)</script>"

    /// A node that founded "Elm Street" with a live all-or-nothing campaign (a £50 goal, a story, two tiers, five
    /// pledges: named, anonymous, erased, hostile, withdrawn-free), a lump-sum match from "Elm Council", and a draft.
    struct Fixture {
        let clock = ManualClock()
        let node: Node
        let info: CommunityInfo
        let live: CampaignRow
        let draft: EventID
        let app: Application<RouterResponder<WebContext>>

        init(config: WebConfig = WebConfig(), title: String = PublicPageTests.hostileTitle) throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-public-\(UUID().uuidString)").path
            let clock = self.clock
            node = try Node.initialise(dir: DataDir(path: dir), name: "hall", logger: PublicPageTests.logger, clock: { clock.now })
            info = try node.createCommunity(name: "Elm Street")
            let created = try node.emit(
                info.id,
                .campaignCreated(
                    CampaignCreated(
                        title: title, description: "We fix the <b>pool</b> roof.\nBy June.\n\nThen we <script>alert(4)</script> swim.",
                        goal: 5_000, currency: PublicPageTests.gbp, model: .allOrNothing, opens: 0, closes: clock.now + 10 * PublicPageTests.day,
                        timeZone: "Europe/London", organisers: [])))
            let mug = try node.emit(
                info.id, .tierAdded(TierAdded(campaign: created.id, title: "Mug", description: "A mug with the pool on it", minimum: 2_000, limit: 3))
            ).id
            _ = try node.emit(
                info.id, .tierAdded(TierAdded(campaign: created.id, title: PublicPageTests.hostileTier, description: nil, minimum: 500, limit: nil)))
            _ = try node.emit(info.id, .campaignPublished(CampaignRef(campaign: created.id)))
            var c = try node.campaign(created.id.hex)
            try Self.pledge(node, c, "Ann Oak", pence: 2_000, tier: mug)
            try Self.pledge(node, c, "Secret Sam", anonymous: true, pence: 1_000)
            let erased = try Self.pledge(node, c, "Erin Ash", pence: 500)
            try Self.pledge(node, c, PublicPageTests.hostileName, pence: 700)
            let (row, _) = try node.pledge(erased.id.hex)
            _ = try node.erase(row, of: c, reason: .request, slots: [.name])
            // Elm Council's lump sum, accepted by this node (an admin).
            _ = try node.grant(info, member: node.identity.publicKey, role: .funder, expires: nil)
            let offer = try node.emit(
                info.id,
                .matchOffered(
                    MatchOffered(campaign: c.id, funderName: "Elm Council", currency: PublicPageTests.gbp, mode: .lumpSum, campaignCap: 1_500)))
            _ = try node.emit(info.id, .matchAccepted(MatchRef(campaign: c.id, offer: offer.id)))
            c = try node.campaign(created.id.hex)
            live = c
            draft = try node.emit(
                info.id,
                .campaignCreated(
                    CampaignCreated(
                        title: "Secret draft", description: "", goal: 1_000, currency: PublicPageTests.gbp, model: .keepWhatYouRaise, opens: 0,
                        closes: clock.now + 20 * PublicPageTests.day, timeZone: "Europe/London", organisers: []))
            ).id
            let hub = ProgressHub(node: node, maxStreams: config.limits.maxEventStreams, logger: PublicPageTests.logger)
            let queue = PledgeQueue(node: node)
            app = Application(
                router: WebServer.router(node: node, config: config, hub: hub, queue: queue, logger: PublicPageTests.logger), services: [queue])
        }

        @discardableResult
        static func pledge(_ node: Node, _ c: CampaignRow, _ name: String, anonymous: Bool = false, pence: Int64, tier: EventID? = nil) throws
            -> Event
        {
            let parts = try node.pledgeParts(name: name, anonymous: anonymous, contact: Contact(email: "x@example.org"), for: c)
            return try node.recordPledge(
                c, amount: Money(minor: pence, currency: PublicPageTests.gbp), tier: tier, channel: .inPerson, paid: nil, parts: parts)
        }
    }

    static func get(_ client: some TestClientProtocol, _ uri: String) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String)
    {
        try await client.execute(uri: uri, method: .get) { r in (r.status, r.headers, String(buffer: r.body)) }
    }

    /// The content of `<meta property|name="key" content="…">`.
    static func meta(_ html: String, _ key: String) -> String? {
        guard let m = html.firstMatch(of: try! Regex("<meta (?:property|name)=\"\(key)\" content=\"([^\"]*)\">")) else { return nil }
        return m.output[1].substring.map(String.init)
    }

    @Test func thePageShowsTheStoryTiersNamedBackersAndTheMatchApart() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (status, headers, html) = try await Self.get(client, "/campaigns/\(f.live.id.hex)")
            #expect(status == .ok && headers[.contentType]?.hasPrefix("text/html") == true)
            // The crowd and the match apart: £42 from four neighbours (one anonymous, one erased), £15 from Elm Council.
            #expect(html.contains("<p id=\"crowd\">£42.00 from 4 neighbours</p>"), "\(html)")
            #expect(html.contains("<li>+ £15.00 matched by Elm Council</li>"))
            #expect(html.contains("of a <span id=\"goal\">£50.00</span> goal"))
            #expect(html.contains("value=\"100\""), "crowd plus match pass the goal")
            // Named backers only; the anonymous and the erased are counted, never named.
            #expect(html.contains("<li>Ann Oak</li>"))
            #expect(!html.contains("Secret Sam") && !html.contains("Erin Ash"))
            #expect(html.contains("<p id=\"others\">and 2 other backers</p>"))
            // The story: Markdown through the sanitiser, the author's HTML shown as text.
            #expect(html.contains("We fix the &lt;b&gt;pool&lt;/b&gt; roof."))
            #expect(html.contains("<p>Then we &lt;script&gt;alert(4)&lt;/script&gt; swim.</p>") && !html.contains("<script>alert(4)"))
            // Tiers with what each brings and places left.
            #expect(html.contains("<h3>Mug <span class=\"muted\">from £20.00</span></h3>"))
            #expect(html.contains("<p>A mug with the pool on it</p>"))
            #expect(html.contains("<p class=\"places\">2 places left</p>"))
            // The deadline in the campaign's zone, with the time left.
            #expect(html.contains("Taking pledges until 2027-01-10 (end of day, Europe/London)."), "\(html)")
            #expect(html.contains("<strong>10 days left</strong>"))
            // Check it yourself: the digest of the community and the bundle.
            let digest = try #require(try f.node.store.communities().first?.digest)
            #expect(digest.count == 64 && html.contains("<code id=\"digest\" class=\"digest\">\(digest)</code>"))
            #expect(html.contains("href=\"/campaigns/\(f.live.id.hex)/bundle\""))
            #expect(html.contains("No other crowdfunding platform lets you check the totals"))
            // No script at all, and the security headers as everywhere.
            #expect(!html.contains("<script"))
            #expect(headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(headers[.contentSecurityPolicy]?.contains("unsafe-inline") == false)
        }
    }

    @Test func hostileTextRendersAsTextOnEveryPublicPage() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let id = f.live.id.hex
            for uri in ["/", "/campaigns/\(id)", "/campaigns/\(id)/poster", "/campaigns/\(id)/card.svg", "/feed.atom"] {
                let (status, _, body) = try await Self.get(client, uri)
                #expect(status == .ok, "\(uri)")
                #expect(!body.contains("<script"), "\(uri) carries a live script tag")
                #expect(!body.contains("</text><"), "\(uri) lets the title close an element")
                #expect(body.contains("&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;roof&quot;"), "\(uri): the title escaped")
            }
            let (_, _, page) = try await Self.get(client, "/campaigns/\(id)")
            #expect(page.contains("&lt;script&gt;alert(2)&lt;/script&gt;"), "the tier title escaped")
            #expect(page.contains("<li>&lt;script&gt;alert(3)&lt;/script&gt;</li>"), "the backer's name escaped")
        }
    }

    @Test func draftsAndUnknownIdsAreTheSame404() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let zero = String(repeating: "0", count: 64)
            for base in ["/campaigns/\(f.draft.hex)", "/campaigns/\(zero)", "/campaigns/not-hex", "/campaigns/\(f.live.id.hex.prefix(12))"] {
                for tail in ["", "/card.svg", "/poster", "/bundle"] {
                    let (status, headers, body) = try await Self.get(client, base + tail)
                    #expect(status == .notFound, "\(base + tail)")
                    #expect(headers[.contentType]?.hasPrefix("text/html") == true && body.contains("No such campaign"), "\(base + tail)")
                    #expect(!body.contains("Secret draft"))
                }
            }
            // Nor does a draft appear on the home page or in the feed.
            for uri in ["/", "/feed.atom"] {
                let (_, _, body) = try await Self.get(client, uri)
                #expect(!body.contains("Secret draft") && !body.contains(f.draft.hex), "\(uri)")
            }
        }
    }

    @Test func homeListsLiveCampaignsThenClosedOnesAndKeepsFirstRun() async throws {
        let f = try Fixture()
        // A second campaign that closes first and is then closed-unfunded.
        let other = try await f.node.emit(
            f.info.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Bench by the pond", description: "", goal: 90_000, currency: Self.gbp, model: .allOrNothing, opens: 0,
                    closes: f.clock.now + 2 * Self.day, timeZone: "Europe/London", organisers: [])))
        _ = try await f.node.emit(f.info.id, .campaignPublished(CampaignRef(campaign: other.id)))
        try await f.app.test(.router) { client in
            let (_, _, live) = try await Self.get(client, "/")
            let a = try #require(live.range(of: "href=\"/campaigns/\(other.id.hex)\""))
            let b = try #require(live.range(of: "href=\"/campaigns/\(f.live.id.hex)\""))
            #expect(a.lowerBound < b.lowerBound, "the soonest deadline first")
            #expect(!live.contains("Closed campaigns"))
            f.clock.advance(Int64(3 * Self.day))
            let (_, _, later) = try await Self.get(client, "/")
            let closed = try #require(later.range(of: "Closed campaigns"))
            let bench = try #require(later.range(of: "href=\"/campaigns/\(other.id.hex)\""))
            let pool = try #require(later.range(of: "href=\"/campaigns/\(f.live.id.hex)\""))
            #expect(pool.lowerBound < closed.lowerBound && closed.lowerBound < bench.lowerBound)
            #expect(later.contains("Not funded: this campaign closed on"))
            #expect(later.contains("href=\"/feed.atom\""))
        }
        // A node with no community still offers the first-run page (to the node itself only).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-public-\(UUID().uuidString)").path
        let fresh = try Node.initialise(dir: DataDir(path: dir), name: "fresh", logger: Self.logger, clock: { f.clock.now })
        let app = Application(
            router: WebServer.router(
                node: fresh, config: WebConfig(), hub: ProgressHub(node: fresh, maxStreams: 1, logger: Self.logger), queue: PledgeQueue(node: fresh),
                logger: Self.logger))
        try await app.test(.router) { client in
            let (status, _, body) = try await Self.get(client, "/")
            #expect(status == .ok && body.contains("id=\"setup-remote\"") && !body.contains("<form"))
        }
    }

    @Test func aClosedFundedCampaignSaysSo() async throws {
        let f = try Fixture()
        f.clock.advance(Int64(11 * Self.day))
        try await f.app.test(.router) { client in
            let (status, _, html) = try await Self.get(client, "/campaigns/\(f.live.id.hex)")
            #expect(status == .ok)
            #expect(
                html.contains(
                    "<p id=\"standing\" class=\"standing funded\">Funded: this campaign reached its goal and closed on 2027-01-10 (end of day, Europe/London).</p>"
                ))
            #expect(!html.contains("days left"))
            let (_, _, card) = try await Self.get(client, "/campaigns/\(f.live.id.hex)/card.svg")
            #expect(card.contains("Funded · goal £50.00"))
        }
        // Closed early by its organisers: funded, with no claim about the date.
        let early = try Fixture()
        _ = try await early.node.emit(early.info.id, .campaignClosed(CampaignRef(campaign: early.live.id)))
        try await early.app.test(.router) { client in
            let (_, _, html) = try await Self.get(client, "/campaigns/\(early.live.id.hex)")
            #expect(html.contains(">Funded: this campaign reached its goal and closed.</p>"), "\(html)")
        }
    }

    @Test func openGraphTagsUseThePublicURLElseTheHost() async throws {
        var config = WebConfig()
        config.publicURL = "https://elm.example/"
        let configured = try Fixture(config: config, title: "Pool & roof")
        try await configured.app.test(.router) { client in
            let (_, _, html) = try await Self.get(client, "/campaigns/\(configured.live.id.hex)")
            let url = "https://elm.example/campaigns/\(configured.live.id.hex)"
            #expect(Self.meta(html, "og:url") == url)
            #expect(Self.meta(html, "og:title") == "Pool &amp; roof")
            #expect(Self.meta(html, "og:image") == url + "/card.svg")
            #expect(Self.meta(html, "og:description") == "£42.00 from 4 neighbours + £15.00 matched by Elm Council, of a £50.00 goal (100%)")
            #expect(Self.meta(html, "twitter:card") == "summary_large_image")
            #expect(Self.meta(html, "twitter:image") == url + "/card.svg")
            #expect(html.contains("<link rel=\"canonical\" href=\"\(url)\">"))
            #expect(html.contains("<input id=\"share-url\" type=\"text\" readonly value=\"\(url)\">"))
            // Share links that work without script, every reserved character percent-encoded.
            let sentence = "£42.00 from 4 neighbours + £15.00 matched by Elm Council, of a £50.00 goal (100%)"
            let text = Pages.percentEncode("Pool & roof: \(sentence). \(url)")
            #expect(text.contains("Pool%20%26%20roof%3A%20%C2%A342.00") && !text.contains("+") && !text.contains("&"))
            #expect(html.contains("href=\"https://wa.me/?text=\(text)\""))
            #expect(html.contains("href=\"mailto:?subject=Pool%20%26%20roof&amp;body=\(text)\""))
            let (_, _, feed) = try await Self.get(client, "/feed.atom")
            #expect(feed.contains("<link rel=\"self\" type=\"application/atom+xml\" href=\"https://elm.example/feed.atom\"/>"))
        }
        // Without public_url: the request's Host (the router test's is `localhost`).
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (_, _, html) = try await Self.get(client, "/campaigns/\(f.live.id.hex)")
            #expect(Self.meta(html, "og:url") == "http://localhost/campaigns/\(f.live.id.hex)")
            #expect(Self.meta(html, "og:image") == "http://localhost/campaigns/\(f.live.id.hex)/card.svg")
        }
    }

    /// Collects the elements and texts of an XML document; nil when it does not parse.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [String] = []
        var texts: [String: [String]] = [:]
        var attributes: [[String: String]] = []
        private var current = ""
        private var path: [String] = []

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]
        ) {
            elements.append(name)
            self.attributes.append(attributes)
            path.append(name)
            current = ""
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            texts[path.joined(separator: "/"), default: []].append(current)
            path.removeLast()
            current = ""
        }

        static func parse(_ text: String) -> Collector? {
            let c = Collector()
            let parser = XMLParser(data: Data(text.utf8))
            parser.delegate = c
            return parser.parse() ? c : nil
        }
    }

    @Test func theCardIsA1200By630SVGThatEscapesAHostileTitle() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (status, headers, svg) = try await Self.get(client, "/campaigns/\(f.live.id.hex)/card.svg")
            #expect(status == .ok && headers[.contentType]?.hasPrefix("image/svg+xml") == true)
            let doc = try #require(Collector.parse(svg), "the card is not well-formed XML:\n\(svg)")
            #expect(doc.elements.first == "svg" && doc.attributes.first?["width"] == "1200" && doc.attributes.first?["height"] == "630")
            #expect(!doc.elements.contains("script"))
            let texts = doc.texts["svg/g/text"] ?? []
            #expect(texts.first?.hasPrefix("</text><script>alert(1)") == true, "\(texts)")
            #expect(texts.contains("£42.00 from 4 neighbours"))
            #expect(texts.contains("+ £15.00 matched by Elm Council"))
            // The bar: full, since crowd plus match pass the goal.
            #expect(doc.attributes.contains { $0["fill"] == "#1d6b2f" && $0["width"] == "1040" })
        }
        // Control characters XML cannot carry are dropped, so a title cannot break the document.
        #expect(Pages.escapeXML("a\u{0}b\u{1B}c\u{7F}d\te") == "abcd\te")
    }

    @Test func theAtomFeedParsesAndHasAnEntryPerPublishedCampaign() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (status, headers, xml) = try await Self.get(client, "/feed.atom")
            #expect(status == .ok && headers[.contentType] == "application/atom+xml; charset=utf-8")
            let doc = try #require(Collector.parse(xml), "the feed is not well-formed XML:\n\(xml)")
            #expect(doc.elements.first == "feed" && doc.attributes.first?["xmlns"] == "http://www.w3.org/2005/Atom")
            #expect(doc.elements.filter { $0 == "entry" }.count == 1)
            #expect(doc.texts["feed/entry/id"] == ["urn:whipround:campaign:\(f.live.id.hex)"])
            #expect(doc.texts["feed/entry/title"] == [Self.hostileTitle])
            #expect(doc.texts["feed/id"]?.first?.hasPrefix("urn:whipround:node:") == true)
            #expect(doc.texts["feed/title"] == ["Elm Street: campaigns"])
            let updated = try #require(doc.texts["feed/entry/updated"]?.first)
            #expect(updated.firstMatch(of: #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/#) != nil, "\(updated)")
            #expect(doc.texts["feed/entry/summary"]?.first?.hasPrefix("£42.00 from 4 neighbours + £15.00 matched by Elm Council") == true)
            #expect(doc.attributes.contains { $0["rel"] == "self" && $0["href"] == "http://localhost/feed.atom" })
            #expect(doc.attributes.contains { $0["rel"] == "alternate" && $0["href"] == "http://localhost/campaigns/\(f.live.id.hex)" })
        }
    }

    @Test func thePosterIsAnA4PageWithAQRCodeToTheCampaign() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let (status, _, html) = try await Self.get(client, "/campaigns/\(f.live.id.hex)/poster")
            #expect(status == .ok)
            #expect(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\"") && html.contains("aria-label=\"QR code\""))
            #expect(html.contains("http://localhost/campaigns/\(f.live.id.hex)</span>"))
            #expect(html.contains("Goal: <strong>£50.00</strong>"))
            #expect(html.contains("<link rel=\"stylesheet\" href=\"/static/public.css\">"))
            let (cssStatus, cssHeaders, css) = try await Self.get(client, "/static/public.css")
            #expect(cssStatus == .ok && cssHeaders[.contentType]?.hasPrefix("text/css") == true)
            #expect(css.contains("@page{size:A4"))
            #expect(css.contains("@media print"))
        }
    }

    /// The served bundle, imported into a fresh node, gives the digest and the totals the page shows, and carries
    /// no personal part.
    @Test func theServedBundleReproducesTheDigestAndTheTotalsOnAFreshNode() async throws {
        let f = try Fixture()
        try await f.app.test(.router) { client in
            let id = f.live.id.hex
            let (_, _, html) = try await Self.get(client, "/campaigns/\(id)")
            let digest = try #require(html.firstMatch(of: #/<code id="digest" class="digest">([0-9a-f]{64})</code>/#)?.output.1)
            let invite = try #require(html.firstMatch(of: #/community join <span class="digest">(wri1[0-9a-z]+)</span>/#)?.output.1)
            let total = try #require(html.firstMatch(of: #/<span id="total" class="total">([^<]+)</span>/#)?.output.1)
            let (bytes, disposition, served) = try await client.execute(uri: "/campaigns/\(id)/bundle", method: .get) { r in
                #expect(r.status == .ok && r.headers[.contentType] == "application/octet-stream")
                return ([UInt8](Data(buffer: r.body)), r.headers[.contentDisposition] ?? "", r.headers[HTTPField.Name("X-Whipround-Digest")!])
            }
            #expect(disposition == "attachment; filename=\"whipround-\(id.prefix(12)).bundle\"")
            #expect(served == String(digest))
            // Events only: no name, sealed contact or Gift Aid part.
            let (events, parts) = try EventBundle.decode(bytes)
            let stored = try f.node.store.communities().first?.eventCount
            #expect(parts.isEmpty && events.count == stored)
            #expect(!Data(bytes).contains(Data("Ann Oak".utf8)))
            // A stranger's node: joins with the page's invite (its network key is blank), imports, compares.
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-check-\(UUID().uuidString)").path
            let stranger = try Node.initialise(dir: DataDir(path: dir), name: "stranger", logger: Self.logger, clock: { f.clock.now })
            let parsed = try Invite(text: String(invite))
            #expect(parsed.networkKey == [UInt8](repeating: 0, count: 32) && parsed.community == f.info.id)
            _ = try stranger.join(parsed)
            let report = try stranger.importBundle(bytes)
            #expect(report.accepted == events.count && report.rejectedCount == 0)
            #expect(try stranger.store.communities().first?.digest == String(digest))
            let theirs = try stranger.campaign(id)
            #expect(Pages.money(theirs.pledged.minor, "GBP") == String(total) && theirs.backers == 4 && theirs.matched.minor == 1_500)
            // The bundle is kept until the replica changes, then made again.
            try Fixture.pledge(f.node, f.live, "Late Larch", pence: 100)
            let newer = try #require(try f.node.store.communities().first?.digest)
            #expect(newer != String(digest))
            let (again, againDigest) = try await client.execute(uri: "/campaigns/\(id)/bundle", method: .get) { r in
                ([UInt8](Data(buffer: r.body)), r.headers[HTTPField.Name("X-Whipround-Digest")!])
            }
            #expect(againDigest == newer)
            #expect(try EventBundle.decode(again).events.count == events.count + 1)
        }
    }

    /// A pledge in the old format carries its sealed contact details inside the signed event: a community that
    /// holds one is refused the public bundle, and the page still shows.
    @Test func anOldFormatPledgeKeepsTheBundleOffThePublicPages() async throws {
        let f = try Fixture()
        let sealed = try f.node.seal(Contact(email: "old@example.org"), for: f.live)
        _ = try await f.node.emit(
            f.info.id,
            .pledgeMade(
                PledgeMade(
                    campaign: f.live.id, backerName: "Old Format", anonymous: false, amount: 100, currency: Self.gbp, channel: .inPerson,
                    contact: sealed)))
        try await f.app.test(.router) { client in
            let (status, headers, body) = try await Self.get(client, "/campaigns/\(f.live.id.hex)/bundle")
            #expect(status == .forbidden && headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(body.contains("Not offered here") && !body.contains("WHIPBNDL") && headers[.contentDisposition] == nil)
            let (pageStatus, _, page) = try await Self.get(client, "/campaigns/\(f.live.id.hex)")
            #expect(pageStatus == .ok && page.contains("<li>Old Format</li>"))
        }
    }

    @Test func theStoryIsMarkdownWithItsHTMLEscaped() {
        #expect(Pages.storyHTML("") == "")
        let html = Pages.storyHTML("One\n\n\n  \nTwo <i>&</i>\r\nthree *now*")
        #expect(html.hasPrefix("<p>One</p>") && html.contains("Two &lt;i&gt;&amp;&lt;/i&gt;") && html.contains("<em>now</em>"))
        #expect(html.components(separatedBy: "<p>").count == 3, "a CRLF inside a paragraph does not start another: \(html)")
        #expect(!Pages.storyHTML("<script>alert(1)</script>").contains("<script"))
    }
}
