import Foundation
import Mustache
import Testing

@testable import WhipWeb

/// The page assets: compiled in, parse as templates, escape by default, keep to the CSP and the page weight.
@Suite(.timeLimit(.minutes(2))) struct AssetsTests {
    static let templates = Assets.names.filter { $0.hasSuffix(".mustache") }
    static let scripts = Assets.names.filter { $0.hasSuffix(".js") }

    static let hostileName = "<script>alert(1)</script>"
    static let hostileTitle = "\"><img src=x onerror=alert(1)>"

    /// A desk page's values as the lead's renderer passes them, with hostile user strings.
    static func deskValues(tiers: [[String: Any]], giftAid: Bool = true) -> [String: Any] {
        [
            "csrf": "csrf-token-1",
            "desk": ["name": hostileName, "until": "18:00"] as [String: Any],
            "campaign": [
                "id": "ab12", "title": hostileTitle, "total": "£120.00", "goal": "£500.00", "currency": "GBP",
                "backers": 12, "percent": 24,
            ] as [String: Any],
            "tiers": tiers,
            "quick_amounts": [["amount": "10.00", "label": "£10.00"], ["amount": "25.00", "label": "£25.00"]],
            "gift_aid": giftAid,
            "gift_aid_wording": "I want Hall & Pool <Trust> to treat this donation as Gift Aid donations.",
            "gift_aid_wording_future": "I want Hall & Pool <Trust> to treat this donation, any donations… as Gift Aid donations.",
        ]
    }

    static var twoTiers: [[String: Any]] {
        [
            ["id": "gold", "title": "Gold", "minimum": "£25.00", "minimum_minor": 2500, "limited": true, "places_left": 3, "full": false],
            ["id": "pool", "title": hostileName, "minimum": "£10.00", "minimum_minor": 1000, "limited": true, "places_left": 0, "full": true],
        ]
    }

    static func render(_ name: String, _ values: [String: Any]) throws -> String {
        let text = try #require(Assets.text(name))
        let html = try MustacheTemplate(string: text).render(values)
        #expect(html.drop { $0.isWhitespace }.hasPrefix("<!doctype html>"), "\(name) renders text before the page")
        #expect(html.hasSuffix("</html>\n"))
        return html
    }

    @Test func everyAssetIsCompiledIn() throws {
        for name in Assets.names {
            let bytes = try #require(Assets.bytes(name), "\(name) is not embedded")
            #expect(bytes.count > 100, "\(name) is nearly empty")
        }
        #expect(Assets.bytes("missing.css") == nil)
    }

    @Test(arguments: templates) func templateParses(_ name: String) throws {
        let text = try #require(Assets.text(name))
        _ = try MustacheTemplate(string: text)
    }

    /// Every variable a template reads is named in its leading `{{! ... }}` comment, which is what the renderer follows.
    @Test(arguments: templates) func templateDocumentsItsVariables(_ name: String) throws {
        let text = try #require(Assets.text(name))
        #expect(text.hasPrefix("{{!"))
        let end = try #require(text.firstRange(of: "}}"))
        let doc = String(text[..<end.lowerBound])
        #expect(doc.contains("Variables:"))
        let body = text[end.upperBound...]
        // A stray "}}" inside the comment would end it early and leak the rest of it into the page.
        #expect(body.drop { $0.isWhitespace }.hasPrefix("<!doctype html>"), "\(name): the comment ends early")
        var used = Set<String>()
        for match in body.matches(of: #/\{\{[#^/]?\s*([A-Za-z_][A-Za-z0-9_.()]*)\s*\}\}/#) {
            var n = String(match.output.1)
            if let open = n.firstIndex(of: "("), n.hasSuffix(")") { n = String(n[n.index(after: open)..<n.index(before: n.endIndex)]) }
            used.insert(String(n.split(separator: ".").last ?? ""))
        }
        #expect(!used.isEmpty)
        for n in used.sorted() {
            #expect(doc.contains(n), "\(name) uses {{\(n)}} without documenting it")
        }
    }

    /// No inline script, event-handler attribute, style attribute or unescaped mustache in any asset (CSP:
    /// script-src 'self', style-src 'self'; swift-mustache escapes `{{x}}` but not `{{{x}}}` or `{{&x}}`).
    @Test(arguments: Assets.names) func noInlineCodeOrUnescapedOutput(_ name: String) throws {
        let text = try #require(Assets.text(name))
        // Only markup the server builds from escaped text may go out unescaped: `{{{x_html}}}` or `{{{x_svg}}}`.
        let trusted = text.replacing(#/\{\{\{[a-z_]+_(html|svg)\}\}\}/#, with: "")
        #expect(!trusted.contains("{{{"), "\(name) has a triple mustache of a value the server does not build")
        #expect(!text.contains("{{&"), "\(name) has an unescaped {{& }}")
        #expect(text.firstMatch(of: #/(?i)\sstyle\s*=/#) == nil, "\(name) has a style attribute")
        if name.hasSuffix(".mustache") {
            #expect(text.firstMatch(of: #/(?i)<[^>]*\son[a-z]+\s*=/#) == nil, "\(name) has an on...= attribute")
        }
        for match in text.matches(of: #/(?is)<script\b([^>]*)>(.*?)</script\s*>/#) {
            let body = match.output.2
            #expect(body.allSatisfy { $0.isWhitespace }, "\(name) has a script with a body")
            #expect(match.output.1.contains("src=\"/static/"), "\(name) loads a script from elsewhere")
        }
        #expect(text.firstMatch(of: #/(?i)(src|href)\s*=\s*"(https?:)?//"/#) == nil, "\(name) loads from another host")
    }

    @Test(arguments: scripts) func scriptsNeedNoSecureContext(_ name: String) throws {
        let text = try #require(Assets.text(name))
        #expect(!text.contains("serviceWorker"))
        #expect(!text.contains("crypto.subtle"))
        #expect(!text.contains("innerHTML"), "\(name) writes HTML: use textContent")
        #expect(!text.contains("eval("))
        #expect(text.contains("EventSource("))
    }

    @Test func deskKeysAndQueueFollowTheContract() throws {
        let js = try #require(Assets.text("desk.js"))
        #expect(js.contains("crypto.getRandomValues"))
        #expect(js.contains("'whipround.queue.' + deskName"))
        #expect(js.contains("'X-Whipround-CSRF'"))
        #expect(js.contains("'/api/v1/desk/pledges'"))
        #expect(js.contains("'/api/v1/desk/undo'"))
        #expect(js.contains("meta('whipround-csrf')"))
        #expect(js.contains("meta('whipround-campaign')"))
    }

    /// The limit on the desk's page weight (HTML, CSS and JS, uncompressed); the rendered HTML is the
    /// template plus the values, so the template stands for it with a margin.
    @Test func deskPageWeightIsUnder50KB() throws {
        let html = try Self.render("desk.mustache", Self.deskValues(tiers: Self.twoTiers))
        let weight = html.utf8.count + (Assets.bytes("desk.css")?.count ?? .max / 2) + (Assets.bytes("desk.js")?.count ?? .max / 2)
        let templateWeight = Assets.names.filter { $0.hasPrefix("desk.") }.reduce(0) { $0 + (Assets.bytes($1)?.count ?? 0) }
        #expect(templateWeight < 50_000, "desk.mustache + desk.css + desk.js: \(templateWeight) bytes")
        #expect(weight < 50_000, "rendered desk page + desk.css + desk.js: \(weight) bytes")
    }

    @Test func deskRendersTheContractIdsAndEscapes() throws {
        let html = try Self.render("desk.mustache", Self.deskValues(tiers: Self.twoTiers))
        for id in [
            "summary", "total", "backers", "progress", "queue", "status", "pledge-form", "name", "anonymous", "amount",
            "tier", "email", "phone", "address", "gift-aid", "ga-title", "ga-first", "ga-last", "ga-house", "ga-postcode",
            "ga-scope", "ga-oral", "ga-wording", "tier-full-warning", "review", "confirm", "confirm-send", "confirm-back",
            "receipt", "reference", "new-pledge", "undo", "error",
        ] {
            #expect(html.contains("id=\"\(id)\""), "desk page lacks #\(id)")
        }
        for payment in ["cash", "transfer", "contactless", "promised"] {
            #expect(html.contains("name=\"payment\" value=\"\(payment)\""))
        }
        #expect(html.contains("<meta name=\"whipround-csrf\" content=\"csrf-token-1\">"))
        #expect(html.contains("<meta name=\"whipround-campaign\" content=\"ab12\">"))
        #expect(html.contains("class=\"quick-amount\" data-amount=\"10.00\">£10.00</button>"))
        #expect(
            html.contains(
                "<option value=\"gold\" data-title=\"Gold\" data-minimum=\"£25.00\" data-minimum-minor=\"2500\" data-full=\"0\">Gold: from £25.00, 3 places left</option>"
            ))
        #expect(html.contains("data-full=\"1\">&lt;script&gt;alert(1)&lt;/script&gt;: from £10.00, full (waitlist)</option>"))
        #expect(html.contains("<span id=\"backers\">12 backers</span>") || html.contains("id=\"backers\">12 backers<"))
        #expect(html.contains("value=\"24\""))
        #expect(html.contains("(open until 18:00)"))
        #expect(html.contains("<p id=\"matched\" class=\"muted\" hidden>"), "no match funding: the line is hidden")
        #expect(html.contains("Hall &amp; Pool &lt;Trust&gt;"))
        #expect(!html.contains("{{"), "a tag was left unrendered")
        // The hostile strings arrive only escaped.
        #expect(!html.contains(Self.hostileName))
        #expect(!html.contains("<img"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"))
        #expect(html.firstMatch(of: #/(?i)<[^>]*\son[a-z]+\s*=/#) == nil)
    }

    @Test func deskWithoutTiersOrGiftAidHasNeither() throws {
        var values = Self.deskValues(tiers: [], giftAid: false)
        values["desk"] = ["name": "Tombola"]
        let html = try Self.render("desk.mustache", values)
        #expect(!html.contains("id=\"tier\""))
        #expect(!html.contains("id=\"tier-full-warning\""))
        #expect(!html.contains("id=\"gift-aid\""))
        #expect(!html.contains("open until"))
        #expect(html.contains("id=\"pledge-form\""))
        values["campaign"] = [
            "id": "ab12", "title": "T", "total": "£5.00", "goal": "£9.00", "currency": "GBP", "backers": 1, "one_backer": true, "percent": 55,
            "has_match": true, "matched": "£2.00",
        ]
        let one = try Self.render("desk.mustache", values)
        #expect(one.contains("id=\"backers\">1 backer<"))
        #expect(one.contains("<p id=\"matched\" class=\"muted\">including <span id=\"matched-amount\">£2.00</span> match funding</p>"))
    }

    @Test func displayRendersLiveIdsAndEscapes() throws {
        let html = try Self.render(
            "display.mustache",
            [
                "campaign": [
                    "id": "ab12", "title": Self.hostileTitle, "total": "£1.00", "goal": "£2.00", "currency": "GBP", "backers": 3, "percent": 50,
                ] as [String: Any]
            ])
        for id in ["display-title", "display-total", "display-backers", "display-progress"] {
            #expect(html.contains("id=\"\(id)\""))
        }
        #expect(html.contains("<script src=\"/static/display.js\" defer></script>"))
        #expect(!html.contains("<img"))
        #expect(html.contains("3 backers"))
    }

    @Test func homeShowsSetupFormsOnlyToTheNodeItself() throws {
        let local = try Self.render("home.mustache", ["setup": true, "local": true, "csrf": "tok"])
        #expect(local.contains("action=\"/setup/community\" method=\"post\""))
        #expect(local.contains("action=\"/setup/join\" method=\"post\""))
        #expect(local.contains("name=\"csrf\" value=\"tok\""))
        #expect(local.contains("name=\"invite\""))
        let remote = try Self.render("home.mustache", ["setup": true, "local": false, "csrf": "tok"])
        #expect(!remote.contains("<form"))
        #expect(!remote.contains("tok"))
        #expect(remote.contains("only be set up at the node itself"))
        let list = try Self.render(
            "home.mustache",
            [
                "setup": false,
                "campaigns": [["id": "ab12", "title": Self.hostileName, "total": "£1.00", "goal": "£2.00", "percent": 50, "backers": 2]],
            ])
        #expect(list.contains("href=\"/display/ab12\""))
        #expect(!list.contains("<form"))
        #expect(!list.contains(Self.hostileName))
        let none = try Self.render("home.mustache", ["setup": false, "campaigns": [[String: Any]]()])
        #expect(none.contains("No campaign is live"))
    }

    @Test func pairAndMessagePagesEscape() throws {
        let pair = try Self.render("pair.mustache", ["error": "This pairing code is not valid.", "code": Self.hostileTitle])
        #expect(pair.contains("action=\"/pair\" method=\"get\""))
        #expect(pair.contains("This pairing code is not valid."))
        #expect(!pair.contains("<img"))
        let message = try Self.render(
            "message.mustache",
            [
                "title": "This desk is closed", "text": Self.hostileName, "hint": "Ask the organiser.",
                "link": ["href": "/pair", "label": "Pair again"],
            ])
        #expect(message.contains("<h1 id=\"message-title\">This desk is closed</h1>"))
        #expect(message.contains("href=\"/pair\">Pair again</a>"))
        #expect(!message.contains(Self.hostileName))
    }

    @Test func theOpenAPIDocumentIsCompiledInAndDescribesAPIv1() throws {
        let bytes = try #require(Assets.bytes("openapi.json"))
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(doc["openapi"] as? String == "3.1.0")
        let paths = try #require(doc["paths"] as? [String: Any])
        #expect(
            Set(paths.keys) == [
                "/api/v1/openapi.json", "/api/v1/campaigns/{id}", "/api/v1/campaigns/{id}/stream", "/api/v1/desk",
                "/api/v1/desk/pledges", "/api/v1/desk/undo",
            ])
        // No answer is undocumented: every operation lists the 500 the API falls back to, in the Error shape.
        let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let error = try #require(schemas["Error"] as? [String: Any])
        let detail = try #require(((error["properties"] as? [String: Any])?["error"] as? [String: Any])?["properties"] as? [String: Any])
        #expect(
            (detail["code"] as? [String: Any])?["enum"] as? [String] ?? [] == [
                "request.malformed", "request.host", "request.too_large", "request.rate_limited", "desk.no_session", "desk.expired", "desk.closed",
                "desk.csrf", "pledge.invalid", "pledge.refused", "not_found", "internal",
            ])
        var operations = 0
        for (path, item) in paths {
            for (method, op) in try #require(item as? [String: [String: Any]]) {
                operations += 1
                let responses = try #require(op["responses"] as? [String: Any])
                let answer = try #require(responses["500"] as? [String: Any], "\(method) \(path) has no 500")
                let schema = ((answer["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                #expect(schema?["$ref"] as? String == "#/components/schemas/Error", "\(method) \(path)")
                #expect((answer["description"] as? String)?.contains("`internal`") == true, "\(method) \(path)")
            }
        }
        #expect(operations == 6)
    }
}
