import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import WhipCore
import WhipNode
import WhipQR
import WhipStore

/// What the public campaign page, its card, poster and feed entry show of a published campaign: the public view
/// only (no contact details, no anonymous or erased names), read in one go.
struct PublicCampaign: Sendable {
    let row: CampaignRow
    let summary: CampaignSummary
    let standing: CampaignStanding
    /// The newest backers' public names (active pledges, named, not erased), newest first.
    let names: [String]
    /// Match funding by funder, in the order the offers were made.
    let matches: [(funder: String, minor: Int64)]
    /// The community's state digest (hex), which the served bundle reproduces.
    let digest: String
    let communityName: String
    /// When the campaign last changed as far as a reader can see: its newest pledge, else when it opened.
    let updated: UInt64
    /// Whether this node's page takes online offers for it (an organiser turned the form on, and it is live).
    let takesOffers: Bool
    /// The organisers' news, newest first (read for the page only).
    let updates: [UpdateRow]

    /// Most names listed on the page; the rest are counted ("and 312 others").
    static let maxNames = 200

    /// Backers not named on the page (anonymous, erased, or past the list's cap).
    var others: Int { max(0, row.backers - names.count) }

    /// The published campaign `id` (nil for a draft or an unknown id), read on a reader off the cooperative pool.
    static func load(_ node: Node, _ id: EventID, names: Bool = true) async throws(WhipError) -> PublicCampaign? {
        let now = node.now
        return try await node.read { store throws(WhipError) -> PublicCampaign? in
            guard let p = try store.progress(id) else { return nil }
            return try Self.make(store, p.campaign, tiers: p.tiers, now: now, names: names)
        }
    }

    /// The public view of `c`; with `names` false (lists of campaigns), no backer is named.
    static func make(_ store: Store, _ c: CampaignRow, tiers: [TierRow], now: UInt64, names: Bool = true) throws(WhipError) -> PublicCampaign? {
        let standing = c.standing(now: now)
        guard standing != .draft else { return nil }
        // A draft cancelled before it was published was never public, and is not now.
        if standing == .cancelled, try !store.wasPublished(campaign: c.id) { return nil }
        let recent = try store.latestPledges(campaign: c.id, limit: names ? maxNames : 1)
        let shown =
            names
            ? recent.reversed().filter { $0.status == "active" && !$0.anonymous && !$0.erased.contains(.name) && !$0.backerName.isEmpty }
                .map(\.backerName) : []
        var matches: [(funder: String, minor: Int64)] = []
        for o in try store.matchOffers(campaign: c.id) where o.matched.minor > 0 {
            if let i = matches.firstIndex(where: { $0.funder == o.funderName }) {
                matches[i].minor += o.matched.minor
            } else {
                matches.append((o.funderName, o.matched.minor))
            }
        }
        let community = try store.communities().first { $0.id == c.community }
        let offers = standing == .live && names ? try store.onlineOffersEnabled(campaign: c.id) : false
        let updates = names ? try store.updates(campaign: c.id) : []
        return PublicCampaign(
            row: c, summary: CampaignSummary(c, tiers: tiers, now: now), standing: standing, names: shown, matches: matches,
            digest: community?.digest ?? "", communityName: community?.name ?? "",
            // A closed campaign changed last at its deadline; a cancelled one's moment is not kept, so its last pledge.
            updated: max(c.opens, recent.last?.madeAt ?? 0, standing == .live || standing == .cancelled ? 0 : min(c.closes, now)),
            takesOffers: offers, updates: updates)
    }

    /// Every published campaign (never drafts): live ones first, soonest deadline first, then the others, the
    /// most recently closed first.
    static func all(_ node: Node) async throws(WhipError) -> [PublicCampaign] {
        let now = node.now
        return try await node.read { store throws(WhipError) -> [PublicCampaign] in
            var out: [PublicCampaign] = []
            for c in try store.campaigns() where c.standing(now: now) != .draft {
                if let p = try Self.make(store, c, tiers: [], now: now, names: false) { out.append(p) }
            }
            return out.sorted { a, b in
                let (la, lb) = (a.standing == .live, b.standing == .live)
                if la != lb { return la }
                if la { return (a.row.closes, a.row.id.hex) < (b.row.closes, b.row.id.hex) }
                return (a.row.closes, a.row.id.hex) > (b.row.closes, b.row.id.hex)
            }
        }
    }

    // MARK: Words

    var currency: String { row.goal.currency.code }

    func money(_ minor: Int64) -> String { Pages.money(minor, currency) }

    /// "£1200.00 from 48 neighbours": the crowd alone.
    var crowdSentence: String {
        "\(money(row.pledged.minor)) from \(row.backers) \(row.backers == 1 ? "neighbour" : "neighbours")"
    }

    /// "£600.00 matched by Elm Council": each funder's match, apart from the crowd.
    var matchSentences: [String] { matches.map { "\(money($0.minor)) matched by \($0.funder)" } }

    /// "£1200.00 from 48 neighbours + £600.00 matched by Elm Council, of a £5000.00 goal (36%)".
    var progressSentence: String {
        ([crowdSentence] + matchSentences).joined(separator: " + ") + ", of a \(money(row.goal.minor)) goal (\(summary.percent)%)"
    }

    /// Where the campaign stands, in a sentence a neighbour understands.
    var standingSentence: String {
        // Closed by its organisers (maybe before the deadline: the event does not say when) or by its deadline.
        let closed = row.phase == .closed ? "closed" : "closed on \(deadline)"
        switch standing {
        case .draft: return "Not published yet."
        case .live: return "Taking pledges until \(deadline)."
        case .closedFunded:
            return row.model == .allOrNothing
                ? "Funded: this campaign reached its goal and \(closed)."
                : "This campaign \(closed): everything pledged goes to the project."
        case .closedUnfunded:
            return row.model == .allOrNothing
                ? "Not funded: this campaign \(closed) short of its goal, so nobody pays."
                : "This campaign \(closed) with nothing pledged."
        case .cancelled:
            return "Cancelled by the organisers\(row.cancelReason.map { ": \($0)" } ?? ""). Nobody pays; money received is given back."
        }
    }

    /// The deadline in the campaign's own time zone: `2030-03-31 (end of day, Europe/London)`.
    var deadline: String { Dates.describeDeadline(row.closes, timeZone: row.timeZone) }

    /// "12 days left", or nil once closed.
    func timeLeft(now: UInt64) -> String? {
        guard standing == .live, now < row.closes else { return nil }
        return Dates.describe(durationMs: row.closes - now) + " left"
    }
}

extension Pages {
    // MARK: Text helpers

    /// `text` safe inside HTML or XML text and attribute values; characters XML 1.0 forbids are dropped, so a
    /// hostile title cannot make the feed or the card unreadable.
    static func escapeXML(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            switch s {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(s)
            default:
                let v = s.value
                guard v >= 0x20, !(0x7F...0x9F).contains(v), v != 0xFFFE, v != 0xFFFF else { continue }
                out.unicodeScalars.append(s)
            }
        }
        return out
    }

    /// The story as HTML: Markdown through the sanitiser (Markdown.swift), the one place a story becomes markup.
    static func storyHTML(_ story: String) -> String { Markdown.html(story) }

    /// RFC 3986 unreserved characters: everything else in a query value is percent-encoded (UTF-8).
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// The base of absolute links (Open Graph, the feed, the QR code): `public_url` when set, else the request's
    /// Host (HostCheckMiddleware has already refused any Host that is not this node's).
    func baseURL(_ request: Request) -> String {
        if let u = publicURL?.trimmingCharacters(in: .whitespaces), !u.isEmpty {
            return u.hasSuffix("/") ? String(u.dropLast()) : u
        }
        return "http://\(request.head.authority ?? "127.0.0.1")"
    }

    static func notFound(_ pages: Pages) -> Response {
        pages.message(
            .notFound, title: "No such campaign", text: "This node has no published campaign at that address.",
            link: ("/", "See the campaigns"))
    }

    // MARK: The campaign page

    /// The share links of a campaign's page: each works without JavaScript.
    static func shareLinks(url: String, title: String, sentence: String) -> [String: String] {
        let text = "\(title): \(sentence). \(url)"
        return [
            "mailto": "mailto:?subject=\(percentEncode(title))&body=\(percentEncode(text))",
            "whatsapp": "https://wa.me/?text=\(percentEncode(text))",
        ]
    }

    /// `GET /campaigns/{id}`.
    func campaignPage(_ p: PublicCampaign, request: Request) -> Response {
        guard let html = campaignHTML(p, request: request) else { return page("campaign", [:]) }
        return Self.html(ByteBuffer(string: html))
    }

    /// An HTML page answer.
    static func html(_ body: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: body))
    }

    /// The campaign page's HTML, or nil when the template is missing from the build.
    func campaignHTML(_ p: PublicCampaign, request: Request) -> String? {
        let base = baseURL(request)
        let id = p.row.id.hex
        let url = "\(base)/campaigns/\(id)"
        let now = node.now
        let tiers = p.summary.tiers.map { t -> [String: Any] in
            [
                "title": t.title, "description": t.description ?? "", "has_description": !(t.description ?? "").isEmpty,
                "minimum": Self.money(t.minimumMinor, p.currency), "limited": t.placesLeft != nil, "places_left": t.placesLeft ?? 0,
                "one_place": t.placesLeft == 1, "full": t.placesLeft == 0,
            ]
        }
        let data: [String: Any] = [
            "campaign": Self.figures(p.summary),
            "community": p.communityName,
            "story_html": Self.storyHTML(p.row.description),
            "crowd": p.crowdSentence,
            "matches": p.matchSentences.map { ["text": $0] },
            "has_match": !p.matches.isEmpty,
            "progress_sentence": p.progressSentence,
            "standing_sentence": p.standingSentence,
            "live": p.standing == .live,
            "takes_offers": p.takesOffers,
            "updates": p.updates.map { u -> [String: Any] in
                [
                    "id": u.id.hex, "title": u.title, "text_html": Markdown.html(u.text),
                    "posted": Dates.localForm(u.postedAt, timeZone: p.row.timeZone, midnightAsEndOfDay: false).replacingOccurrences(
                        of: "T", with: " "),
                ]
            },
            "has_updates": !p.updates.isEmpty,
            "funded": p.standing == .closedFunded,
            "deadline": p.deadline,
            "time_left": p.timeLeft(now: now) ?? "", "has_time_left": p.timeLeft(now: now) != nil,
            "tiers": tiers, "has_tiers": !tiers.isEmpty,
            "names": p.names.map { ["name": $0] }, "has_names": !p.names.isEmpty,
            "others": p.others, "has_others": p.others > 0, "one_other": p.others == 1,
            "digest": p.digest,
            // A blank network key: the invite admits a node's bundle imports, never a peer to the gossip network.
            "verify_invite": Invite(community: p.row.community, networkKey: [UInt8](repeating: 0, count: 32), name: p.communityName).text,
            "url": url, "image": "\(url)/card.svg", "feed": "\(base)/feed.atom",
            "share": Self.shareLinks(url: url, title: p.row.title, sentence: p.progressSentence),
        ]
        return library.render(data, withTemplate: "campaign")
    }

    // MARK: The card

    /// `GET /campaigns/{id}/card.svg`: a 1200×630 progress card for link previews, every text escaped.
    static func cardSVG(_ p: PublicCampaign) -> String {
        func clip(_ s: String, _ n: Int) -> String { s.count > n ? String(s.prefix(n - 1)) + "…" : s }
        let lines = wrap(p.row.title, width: 30, lines: 2)
        let filled = 1040 * p.summary.percent / 100
        var text = ""
        for (i, line) in lines.enumerated() {
            text += "<text x=\"80\" y=\"\(140 + i * 72)\" font-size=\"60\" font-weight=\"700\">\(escapeXML(line))</text>\n"
        }
        text += "<text x=\"80\" y=\"330\" font-size=\"40\">\(escapeXML(clip(p.crowdSentence, 48)))</text>\n"
        if !p.matchSentences.isEmpty {
            text +=
                "<text x=\"80\" y=\"385\" font-size=\"34\" fill=\"#124d1f\">+ \(escapeXML(clip(p.matchSentences.joined(separator: " + "), 56)))</text>\n"
        }
        let standing: String =
            switch p.standing {
            case .live: "Goal \(p.money(p.row.goal.minor)) · \(p.summary.percent)%"
            case .closedFunded: "Funded · goal \(p.money(p.row.goal.minor))"
            case .closedUnfunded: "Closed · goal \(p.money(p.row.goal.minor))"
            case .cancelled: "Cancelled"
            case .draft: ""
            }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630" role="img" \
            aria-label="\(escapeXML(clip(p.row.title, 80))): \(escapeXML(p.progressSentence))">
            <rect width="1200" height="630" fill="#fafaf7"/>
            <rect width="1200" height="24" fill="#1f3a5f"/>
            <g font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" fill="#1a1a1a">
            \(text)<text x="80" y="450" font-size="34" fill="#4d4d4d">\(escapeXML(standing))</text>
            <text x="80" y="580" font-size="28" fill="#4d4d4d">\(escapeXML(clip(p.communityName, 40))) · Whipround: check the totals yourself</text>
            </g>
            <rect x="80" y="480" width="1040" height="48" rx="24" fill="#e6e6e0" stroke="#6b6b6b" stroke-width="2"/>
            <rect x="80" y="480" width="\(filled)" height="48" rx="24" fill="#1d6b2f"/>
            </svg>

            """
    }

    /// `text` in at most `lines` lines of about `width` characters, broken at spaces; the last line ends in "…"
    /// when the text is longer.
    static func wrap(_ text: String, width: Int, lines: Int) -> [String] {
        var out: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if candidate.count <= width || line.isEmpty {
                line = candidate
            } else {
                out.append(line)
                line = String(word)
            }
        }
        if !line.isEmpty { out.append(line) }
        out = out.map { $0.count > width ? String($0.prefix(width - 1)) + "…" : $0 }
        if out.count > lines {
            out = Array(out.prefix(lines))
            out[lines - 1] = String(out[lines - 1].prefix(width - 1)) + "…"
        }
        return out
    }

    // MARK: The poster

    /// `GET /campaigns/{id}/poster`: a printable A4 page with a QR code to the campaign page.
    func poster(_ p: PublicCampaign, request: Request) -> Response {
        let url = "\(baseURL(request))/campaigns/\(p.row.id.hex)"
        let qr = (try? QRCode(url).svg(pixels: 280)) ?? ""
        return page(
            "poster",
            [
                "campaign": Self.figures(p.summary), "story_html": Self.storyHTML(p.row.description), "qr_svg": qr, "url": url,
                "progress_sentence": p.progressSentence, "standing_sentence": p.standingSentence, "community": p.communityName,
                "loopback": WebAddress.isLoopback(URL(string: url)?.host ?? ""),
            ])
    }

    // MARK: The bundle

    /// The signed events of campaign `id`'s community as a bundle, with the digest they reproduce; nil when the
    /// campaign is not published. Events only: no personal part (names, sealed contacts, Gift Aid declarations)
    /// is in it, and the digest does not depend on parts (PROTOCOL.md §11). Refused when the community holds an
    /// old-format pledge, whose sealed contact details are inside the signed event itself.
    static func publicBundle(_ node: Node, _ id: EventID, cache: BundleCache? = nil) async throws(WhipError) -> PublicBundle? {
        let now = node.now
        let found = try await node.read { store throws(WhipError) -> BundleCache.Entry? in
            guard let c = try store.campaign(id), c.standing(now: now) != .draft else { return nil }
            let key = KeyText.encode(c.community, as: .community)
            // Read before the events: a bundle cached under this mark is never older than the mark says.
            let mark = try store.changeMark()
            if let hit = cache?.get(key, mark: mark) { return hit }
            let events = try store.exportEvents(community: c.community)
            var entry = BundleCache.Entry.refused
            let old = events.contains { wire in
                guard let kind = try? Event.decode(wire: wire).kind else { return false }
                return kind == .pledgeMade || kind == .pledgeRevised
            }
            if !old {
                let digest = try store.communities().first { $0.id == c.community }?.digest ?? ""
                entry = .bundle(PublicBundle(bytes: EventBundle.encode(events), digest: digest, events: events.count))
            }
            cache?.put(key, mark: mark, entry)
            return entry
        }
        switch found {
        case nil: return nil
        case .refused:
            throw WhipError(.rejected, "this community holds pledges in the old format, whose sealed contact details are inside the signed events")
        case .bundle(let b): return b
        }
    }
}

/// A community's public bundle: its events without parts, and the digest they reproduce.
struct PublicBundle: Sendable {
    let bytes: [UInt8]
    let digest: String
    let events: Int
}

/// The last public bundle of each community, kept until the replica changes: a bundle costs a read of every event
/// of the community (about 150 ms and 3 MB for 10,000 pledges in a debug build), and the page invites anyone to
/// download it.
final class BundleCache: Sendable {
    enum Entry: Sendable {
        case bundle(PublicBundle)
        /// The community holds an old-format pledge: no public bundle.
        case refused
    }

    private let entries = Mutex<[String: (mark: Int64, entry: Entry)]>([:])

    func get(_ community: String, mark: Int64) -> Entry? {
        entries.withLock { e in e[community].flatMap { $0.mark == mark ? $0.entry : nil } }
    }

    func put(_ community: String, mark: Int64, _ entry: Entry) {
        entries.withLock { $0[community] = (mark, entry) }
    }
}
