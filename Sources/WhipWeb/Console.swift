import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WhipCore
import WhipNode
import WhipQR
import WhipStore

/// The organiser console (issue 11) under `/console`: server-rendered forms that act with this node's identity and
/// roles, for a browser signed in with `whipround web login`. Every answer without a session is the sign-in page;
/// every form carries the session's CSRF token.
struct ConsolePages: Sendable {
    let node: Node
    let pages: Pages
    let logger: Logger
    let maxBody: Int
    /// The public pages' cache, emptied when a switch that is not an event changes what they show.
    var cache = PageCache()

    /// The session cookie: the console's paths only, never readable by script, never sent by another site.
    static let cookie = "wr_console"
    /// Pledges per page of the console's list.
    static let pageSize = 50

    // MARK: Routes

    static func add(
        to router: Router<WebContext>, node: Node, pages: Pages, pairing: RateLimiter, maxBody: Int, logger: Logger, cache: PageCache
    ) {
        let console = ConsolePages(node: node, pages: pages, logger: logger, maxBody: maxBody, cache: cache)
        router.get("/console/login") { request, context in
            guard pairing.allow(context.address) else {
                return console.signInPage(error: "Too many tries: wait a minute before opening another sign-in link.", status: .tooManyRequests)
            }
            let token = request.uri.queryParameters["token"].map(String.init) ?? ""
            return await console.signIn(token, code: false)
        }
        router.get("/console/pair") { _, _ in console.signInPage(error: nil, status: .ok) }
        router.post("/console/pair") { request, context in
            guard pairing.allow(context.address) else {
                return console.signInPage(error: "Too many tries: wait a minute before typing another code.", status: .tooManyRequests)
            }
            let form = await console.form(request)
            return await console.signIn(form.first("code") ?? "", code: true)
        }
        router.get("/console") { request, _ in
            await console.signedIn(request) { s in try await console.home(s, notice: request.uri.queryParameters["done"].map(String.init)) }
        }
        router.get("/console/health") { request, _ in await console.signedIn(request) { s in try await console.health(s) } }
        router.get("/console/campaigns/:campaign") { request, context in
            await console.signedIn(request) { s in
                try await console.campaign(
                    s, context.parameters.get("campaign") ?? "", notice: request.uri.queryParameters["done"].map(String.init))
            }
        }
        router.get("/console/campaigns/:campaign/pledges") { request, context in
            await console.signedIn(request) { s in try await console.pledges(s, context.parameters.get("campaign") ?? "", request) }
        }
        router.get("/console/campaigns/:campaign/pledges.csv") { request, context in
            await console.signedIn(request) { _ in try await console.csv(context.parameters.get("campaign") ?? "") }
        }
        router.post("/console/logout") { request, _ in
            await console.posted(request) { s, _ in
                try await node.write { _ throws(WhipError) in try node.endConsoleSession(token: s.token) }
                var r = console.pages.message(
                    .ok, title: "Signed out", text: "This browser is signed out of the console.",
                    hint: "Run `whipround web login` at the node to sign in again.")
                r.setCookie(Cookie(name: Self.cookie, value: "", maxAge: 0, path: "/console", httpOnly: true, sameSite: .strict))
                return r
            }
        }
        router.post("/console/communities") { request, _ in
            await console.posted(request) { _, form in
                let name = (form.first("name") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                let info = try await node.write { _ throws(WhipError) in try node.createCommunity(name: name) }
                logger.info("community created from the console", metadata: ["community.name": "\(info.name)"])
                return Self.redirect("/console?done=community")
            }
        }
        router.get("/console/communities/:community") { request, context in
            await console.signedIn(request) { s in
                try await console.community(
                    s, context.parameters.get("community") ?? "", notice: request.uri.queryParameters["done"].map(String.init))
            }
        }
        router.get("/console/communities/:community/giftaid") { request, context in
            await console.signedIn(request) { s in try await console.giftAid(s, context.parameters.get("community") ?? "", request) }
        }
        router.get("/console/communities/:community/giftaid/schedule.csv") { request, context in
            await console.signedIn(request) { _ in
                let q = request.uri.queryParameters
                let fields = ["from": q["from"].map(String.init) ?? "", "to": q["to"].map(String.init) ?? ""]
                return try await console.giftAidSchedule(context.parameters.get("community") ?? "", fields, record: false)
            }
        }
        router.post("/console/communities/:community/giftaid") { request, context in
            let id = context.parameters.get("community") ?? ""
            return await console.posted(request, back: "/console/communities/\(id)/giftaid") { _, form in
                var fields: [String: String] = [:]
                for (k, v) in form.fields { fields[k] = v }
                return try await console.giftAidSchedule(id, fields, record: true)
            }
        }
        router.post("/console/communities/:community/:action") { request, context in
            let id = context.parameters.get("community") ?? ""
            let action = context.parameters.get("action") ?? ""
            return await console.posted(request, back: "/console/communities/\(id)") { _, form in try await console.roleAction(id, action, form) }
        }
        router.post("/console/campaigns") { request, _ in
            await console.posted(request) { _, form in
                let e = try await node.write { _ throws(WhipError) in
                    let c = try node.community(form.first("community"))
                    return try node.createCampaign(Self.campaignForm(form), in: c)
                }
                return Self.redirect("/console/campaigns/\(e.id.hex)?done=created")
            }
        }
        router.post("/console/campaigns/:campaign/:action") { request, context in
            let id = context.parameters.get("campaign") ?? ""
            let action = context.parameters.get("action") ?? ""
            return await console.posted(request, back: "/console/campaigns/\(id)") { s, form in
                try await console.campaignAction(s, id, action, form)
            }
        }
        router.post("/console/desks/:desk/:action") { request, context in
            let id = context.parameters.get("desk") ?? ""
            let action = context.parameters.get("action") ?? ""
            return await console.posted(request) { s, _ in try await console.deskAction(s, id, action) }
        }
        router.post("/console/offers/:reference/:action") { request, context in
            let reference = context.parameters.get("reference") ?? ""
            let action = context.parameters.get("action") ?? ""
            return await console.posted(request) { _, _ in try await console.offerAction(reference, action) }
        }
        router.post("/console/pledges/:pledge/:action") { request, context in
            let id = context.parameters.get("pledge") ?? ""
            let action = context.parameters.get("action") ?? ""
            return await console.posted(request) { _, form in try await console.pledgeAction(id, action, form) }
        }
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    // MARK: Sessions and forms

    /// The sign-in page: type the code `whipround web login` printed.
    func signInPage(error: String?, status: HTTPResponse.Status) -> Response {
        pages.page("console-signin", ["error": error].compactMapValues { $0 }, status: status)
    }

    func signIn(_ secret: String, code: Bool) async -> Response {
        do {
            let s = try await node.write { _ throws(WhipError) in try node.redeemConsoleLogin(secret, code: code) }
            var r = Self.redirect("/console")
            r.setCookie(
                Cookie(
                    name: Self.cookie, value: s.token, maxAge: Int(Console.sessionLifetimeMs / 1000), path: "/console", httpOnly: true,
                    sameSite: .strict))
            logger.info("a browser signed in to the console", metadata: ["console.by": "\(code ? "code" : "link")"])
            return r
        } catch {
            return signInPage(error: Pages.sentence(error.message), status: .forbidden)
        }
    }

    func session(_ request: Request) async -> ConsoleSession? {
        let token = request.cookies[Self.cookie]?.value ?? ""
        return try? await node.read { _ throws(WhipError) in try node.consoleSession(token: token) }
    }

    /// `body` for a signed-in browser, else the sign-in page; a refusal from the node becomes a message page.
    func signedIn(_ request: Request, _ body: (ConsoleSession) async throws -> Response) async -> Response {
        guard let s = await session(request) else {
            return signInPage(error: nil, status: .unauthorized)
        }
        do { return try await body(s) } catch let e as WhipError {
            return pages.message(
                Self.status(e), title: "That did not work", text: Pages.sentence(e.message), link: ("/console", "Back to the console"))
        } catch {
            logger.error("a console page failed", metadata: ["error": "\(error)"])
            return pages.message(.internalServerError, title: "Something went wrong", text: "The node could not show this page.")
        }
    }

    /// A form sent by a signed-in browser with its CSRF token; a refusal is shown with a link `back`.
    func posted(_ request: Request, back: String = "/console", _ body: (ConsoleSession, Form) async throws -> Response) async -> Response {
        guard let s = await session(request) else {
            return signInPage(error: "This browser is not signed in (or its session ended), so nothing was changed.", status: .forbidden)
        }
        let form = await form(request)
        // A form may say which console page to go back to (the pledge list it was sent from); only a console path.
        let back = form.first("back").flatMap { $0.hasPrefix("/console/") && !$0.contains("//") && !$0.contains("\\") ? $0 : nil } ?? back
        guard let csrf = form.first("csrf"), WebServer.constantTimeEqual(csrf, s.csrf) else {
            return pages.message(
                .forbidden, title: "Please try again",
                text: "The form had expired, so nothing was changed. Go back, reload the page and send it again.",
                link: (back, "Back"))
        }
        do { return try await body(s, form) } catch let e as WhipError {
            return pages.message(
                Self.status(e), title: "Not done", text: Pages.sentence(e.message),
                hint: "Nothing was changed. Your browser's Back button returns to the form with what you typed.", link: (back, "Back"))
        } catch {
            logger.error("a console action failed", metadata: ["error": "\(error)"])
            return pages.message(.internalServerError, title: "Something went wrong", text: "The node could not do that.", link: (back, "Back"))
        }
    }

    static func status(_ e: WhipError) -> HTTPResponse.Status {
        switch e.code {
        case .notFound: .notFound
        case .permissionDenied: .forbidden
        case .rejected, .alreadyExists: .conflict
        case .invalidArgument: .badRequest
        default: .internalServerError
        }
    }

    /// An `application/x-www-form-urlencoded` body, or an empty form when it is missing or too large.
    func form(_ request: Request) async -> Form {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: maxBody) else { return Form(fields: []) }
        return Form(String(buffer: buffer))
    }

    /// Fields of a form as sent, in order (a name may repeat).
    struct Form: Sendable {
        let fields: [(String, String)]

        init(fields: [(String, String)]) { self.fields = fields }

        init(_ text: String) {
            fields = text.split(separator: "&").map { pair in
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                func decode(_ s: Substring) -> String {
                    String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
                }
                return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
            }
        }

        /// The first value of `name`, or nil.
        func first(_ name: String) -> String? { fields.first { $0.0 == name }?.1 }
        /// The first value of `name`, trimmed, or nil when empty.
        func text(_ name: String) -> String? {
            first(name).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        /// Every value of `name`.
        func all(_ name: String) -> [String] { fields.filter { $0.0 == name }.map(\.1) }
    }

    static func campaignForm(_ form: Form) -> CampaignForm {
        var f = CampaignForm(title: form.text("title") ?? "", goal: form.text("goal") ?? "", closes: form.text("closes") ?? "")
        f.description = (form.first("story") ?? "").replacingOccurrences(of: "\r\n", with: "\n")
        f.currency = form.text("currency") ?? "GBP"
        f.model = form.text("model") ?? "all-or-nothing"
        f.opens = form.text("opens")
        f.timeZone = form.text("time_zone") ?? Dates.localTimeZone
        f.organisers = form.all("organiser").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return f
    }

    // MARK: Pages

    /// The figures and state of a campaign row for the console.
    static func row(_ c: CampaignRow, now: UInt64) -> [String: Any] {
        [
            "id": c.id.hex, "title": c.title, "state": c.stateText(now: now), "standing": c.standing(now: now).rawValue,
            "total": Pages.money(c.pledged.minor, c.goal.currency.code), "goal": Pages.money(c.goal.minor, c.goal.currency.code),
            "backers": c.backers, "one_backer": c.backers == 1, "closes": Dates.describeDeadline(c.closes, timeZone: c.timeZone),
        ]
    }

    static let notices: [String: String] = [
        "community": "The community was created.", "created": "The draft campaign was created. Add tiers, then publish it.",
        "published": "The campaign is published: it takes pledges now.", "closed": "The campaign is closed.",
        "cancelled": "The campaign is cancelled.", "edited": "The changes were saved.", "tier": "The tier was added.",
        "tier_changed": "The tier was changed.",
        "desk": "The desk is open: scan its QR code with the volunteer's phone.", "desk_closed": "The desk was closed.",
        "posted": "The update is posted: it is on the public page and goes to every node.",
        "online_on": "The campaign's public page now takes offers online.", "online_off": "The public page no longer takes offers online.",
        "offer_accepted": "The offer is now a signed pledge (channel: online).",
        "offer_declined": "The offer was declined and its name and email deleted.",
        "accepted": "The funder's offer was accepted: its match counts now (provisional until settled).", "granted": "The role was granted.",
        "revoked": "The role was revoked.", "collected": "The payment was recorded.",
        "rejected": "The pledge was rejected.", "erased": "The backer's personal data was erased.",
    ]

    func home(_ s: ConsoleSession, notice: String?) async throws -> Response {
        let now = node.now
        let me = node.identity.publicKey
        let (found, rows, warning) = try await node.read { store throws(WhipError) in
            let communities = try store.communities().map { c throws(WhipError) -> (String, String, String) in
                let auth = try store.authority(community: c.id)
                var roles = auth.currentRoles(wall: now).filter { $0.member == me }.map(\.role.name)
                if auth.isRoot(me) { roles.insert("founder", at: 0) }
                return (KeyText.encode(c.id, as: .community), c.name, roles.joined(separator: ", "))
            }
            return (communities, try store.campaigns(), try node.clockWarning())
        }
        let communities = found.map { c -> [String: Any] in ["id": c.0, "name": c.1, "roles": c.2] }
        let campaigns = rows.map { Self.row($0, now: now) }
        var data: [String: Any] = [
            "csrf": s.csrf, "node_name": node.name, "member_id": node.memberID, "communities": communities, "has_community": !communities.isEmpty,
            "one_community": communities.count == 1, "campaigns": campaigns, "has_campaigns": !campaigns.isEmpty, "time_zone": Dates.localTimeZone,
        ]
        if let warning { data["clock_warning"] = warning }
        if let notice, let text = Self.notices[notice] { data["notice"] = text }
        return pages.page("console-home", data)
    }

    func campaign(_ s: ConsoleSession, _ text: String, notice: String?, qr: DeskPairing? = nil) async throws -> Response {
        let now = node.now
        let (c, tiers, desks, offers) = try await node.read { store throws(WhipError) in
            let c = try node.campaign(text)
            return (c, try store.tiers(campaign: c.id), try node.desks().filter { $0.campaign == c.id }, try store.matchOffers(campaign: c.id))
        }
        let (online, waiting, news) = try await node.read { store throws(WhipError) in
            (try store.onlineOffersEnabled(campaign: c.id), try store.onlineOffers(campaign: c.id), try store.updates(campaign: c.id))
        }
        let cur = c.goal.currency.code
        let standing = c.standing(now: now)
        var data: [String: Any] = [
            "csrf": s.csrf, "campaign": Self.row(c, now: now), "story": c.description,
            "is_draft": standing == .draft, "is_live": standing == .live, "may_cancel": standing == .draft || standing == .live,
            "goal_plain": c.goal.formatted, "closes_date": String(Dates.localForm(c.closes, timeZone: c.timeZone).prefix(10)),
            "opens_date": String(Dates.localForm(c.opens, timeZone: c.timeZone, midnightAsEndOfDay: false).prefix(10)),
            "all_or_nothing": c.model == .allOrNothing,
            "organisers": c.organisers.map { KeyText.encode($0, as: .member) }.joined(separator: "\n"),
            "time_zone": c.timeZone, "currency": cur,
            "tiers": tiers.map { t -> [String: Any] in
                var o: [String: Any] = [
                    "id": t.id.hex, "short": String(t.id.hex.prefix(10)), "minimum_plain": t.minimum.formatted,
                    "limit_plain": t.limit.map(String.init) ?? "", "description_plain": t.description ?? "",
                    "title": t.title, "minimum": Pages.money(t.minimum.minor, cur),
                    "places": t.limit.map { "\(t.claimed) of \($0) taken" } ?? "\(t.claimed) taken, no limit",
                ]
                if let d = t.description, !d.isEmpty { o["description"] = d }
                return o
            },
            "desks": desks.map { d -> [String: Any] in
                ["id": d.id, "name": d.name, "state": d.state(now: now).rawValue, "pledges": d.pledges, "open": d.state(now: now) == .open]
            },
        ]
        data["offers"] = offers.map { o -> [String: Any] in
            let terms =
                o.mode == .lumpSum
                ? "a lump sum of \(Pages.money(o.campaignCap.minor, cur)) if the crowd reaches the conditions"
                : "\(o.factor?.description ?? "?") per pound pledged, up to \(Pages.money(o.campaignCap.minor, cur))"
                    + (o.pledgeCap.map { ", at most \(Pages.money($0.minor, cur)) per pledge" } ?? "")
            let conditions = o.minPercent > 0 || o.minBackers > 0 ? "once the crowd alone reaches \(o.minPercent)% from \(o.minBackers) backers" : ""
            let state = o.provisional ? "\(o.status.rawValue), provisional until the funder settles" : o.status.rawValue
            return [
                "id": o.id.hex, "funder": o.funderName, "terms": terms, "conditions": conditions, "state": state,
                "matched": Pages.money(o.matched.minor, cur), "pending": o.status == .pending,
            ]
        }
        data["online"] = online
        data["story_html"] = Markdown.html(c.description)
        data["may_post"] = standing != .draft && standing != .cancelled
        data["updates"] = news.map { u -> [String: Any] in
            ["title": u.title, "posted": Desk.describe(u.postedAt), "text_html": Markdown.html(u.text)]
        }
        let tierNames = Dictionary(uniqueKeysWithValues: tiers.map { ($0.id, $0.title) })
        data["online_offers"] = waiting.filter { $0.status == "waiting" }.map { o -> [String: Any] in
            [
                "reference": o.reference, "name": o.name ?? "", "anonymous": o.anonymous,
                "meta": [o.reference, o.email, o.tier.flatMap { tierNames[$0] }].compactMap { $0 }.joined(separator: " · "),
                "amount": Pages.money(o.amountMinor, cur), "received": Desk.describe(o.received),
            ]
        }
        data["decided_offers"] = waiting.filter { $0.status != "waiting" }.count
        if let notice, let text = Self.notices[notice] { data["notice"] = text }
        if let qr, let base = await deskBase() {
            let url = "\(base)/pair?code=\(qr.code)"
            data["pairing"] = [
                "desk": qr.desk.name, "code": qr.code, "url": url, "qr_svg": (try? QRCode(url).svg(pixels: 240)) ?? "",
                "expires": "\(Desk.describe(qr.codeExpires)) (\(Dates.localTimeZone))",
                "loopback": WebAddress.isLoopback(URL(string: base)?.host ?? ""),
            ]
            data["has_qr"] = true
        } else if let qr {
            data["pairing"] = ["desk": qr.desk.name, "code": qr.code, "expires": Desk.describe(qr.codeExpires)]
        }
        return pages.page("console-campaign", data)
    }

    func community(_ s: ConsoleSession, _ text: String, notice: String?) async throws -> Response {
        let now = node.now
        let (c, rows, charity) = try await node.read { store throws(WhipError) in
            let c = try node.community(text)
            return (c, try store.roles(community: c.id).filter(\.granted), try node.charity(c))
        }
        let invite = node.invite(c).text
        let me = node.identity.publicKey
        var members: [[String: Any]] = []
        if let founder = c.founder {
            members.append(["member": KeyText.encode(founder, as: .member), "role": "founder", "state": "for good", "me": founder == me])
        }
        for r in rows {
            let state =
                r.expires.map { now < $0 ? "until \(Dates.describeDeadline($0, timeZone: Dates.localTimeZone))" : "expired" } ?? "no expiry"
            members.append([
                "member": KeyText.encode(r.member, as: .member), "role": r.role.name, "state": state, "me": r.member == me, "revocable": true,
            ])
        }
        var data: [String: Any] = [
            "csrf": s.csrf, "community": ["id": KeyText.encode(c.id, as: .community), "name": c.name], "invite": invite,
            "invite_qr_svg": (try? QRCode(invite).svg(pixels: 240)) ?? "", "members": members, "member_id": node.memberID,
            "mailto":
                "mailto:?subject=\(Self.urlEncode("Join \(c.name) on Whipround"))&body=\(Self.urlEncode("Run: whipround community join \(invite)"))",
            "roles": Role.allCases.map(\.name),
        ]
        if let charity { data["charity"] = "\(charity.legalName) (HMRC reference \(charity.reference))" }
        if let notice, let text = Self.notices[notice] { data["notice"] = text }
        return pages.page("console-community", data)
    }

    func roleAction(_ id: String, _ action: String, _ form: Form) async throws -> Response {
        let c = try await node.read { _ throws(WhipError) in try node.community(id) }
        guard let role = Role(name: form.text("role") ?? "") else {
            throw WhipError(.invalidArgument, "choose a role: admin, organiser, collector, treasurer or funder")
        }
        let member = try KeyText.decode(form.text("member") ?? "", as: .member)
        switch action {
        case "grant":
            let until = try form.text("until").map { (d: String) throws(WhipError) in
                try Dates.parse(d, timeZone: Dates.localTimeZone, endOfDay: true)
            }
            _ = try await node.write { _ throws(WhipError) in try node.grant(c, member: member, role: role, expires: until) }
            return Self.redirect("/console/communities/\(KeyText.encode(c.id, as: .community))?done=granted")
        case "revoke":
            _ = try await node.write { _ throws(WhipError) in try node.revoke(c, member: member, role: role) }
            return Self.redirect("/console/communities/\(KeyText.encode(c.id, as: .community))?done=revoked")
        default:
            throw WhipError(.notFound, "there is no action '\(action)' for a community")
        }
    }

    /// The period a Gift Aid page covers: the `from` and `to` fields, else the current UK tax year so far.
    func period(_ from: String?, _ to: String?) throws(WhipError) -> (CivilDate, CivilDate) {
        let today = node.ukDate(node.now)
        let start = CivilDate(year: GiftAid.taxYearEnding(today) - 1, month: 4, day: 6)!
        let a = try from.flatMap { $0.isEmpty ? nil : $0 }.map { (t: String) throws(WhipError) in try Node.civilDate(t, option: "from") } ?? start
        let b = try to.flatMap { $0.isEmpty ? nil : $0 }.map { (t: String) throws(WhipError) in try Node.civilDate(t, option: "to") } ?? today
        return (a, b)
    }

    func giftAid(_ s: ConsoleSession, _ text: String, _ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        let (from, to) = try period(q["from"].map(String.init), q["to"].map(String.init))
        let (c, draft, small, treasurer) = try await node.read { _ throws(WhipError) in
            let c = try node.community(text)
            return (
                c, try node.prepareGiftAidClaim(c, from: from, to: to), try node.smallDonations(c, from: from, to: to),
                try node.mayClaimGiftAid(community: c.id)
            )
        }
        let query = "from=\(from.iso)&to=\(to.iso)"
        let data: [String: Any] = [
            "csrf": s.csrf, "community": ["id": KeyText.encode(c.id, as: .community), "name": c.name], "from": from.iso, "to": to.iso,
            "treasurer": treasurer, "rows": draft.rows.map { ["cells": $0.cells.map { ["cell": $0] }] }, "has_rows": !draft.rows.isEmpty,
            "columns": GiftAidSchedule.columns.map { ["name": $0] }, "donations": draft.donations.count,
            "total": "£" + GiftAidSchedule.pounds(draft.total), "due": "£" + GiftAidSchedule.pounds(draft.total / 4),
            "skipped": draft.skipped.map { ["pledge": String($0.pledge.hex.prefix(12)), "reason": Pages.sentence($0.reason)] },
            "small": small.map {
                ["pledge": String($0.pledge.hex.prefix(12)), "amount": "£" + GiftAidSchedule.pounds($0.amount), "date": $0.date.iso]
            },
            "small_total": "£" + GiftAidSchedule.pounds(small.reduce(0) { $0 + $1.amount }),
            "schedule": "/console/communities/\(KeyText.encode(c.id, as: .community))/giftaid/schedule.csv?\(query)",
        ]
        return pages.page("console-giftaid", data)
    }

    /// The schedule as CSV: a preview (`record` false), or the claim recorded by a treasurer and its schedule.
    func giftAidSchedule(_ text: String, _ fields: [String: String], record: Bool) async throws -> Response {
        let (from, to) = try period(fields["from"], fields["to"])
        let draft = try await node.write { _ throws(WhipError) in
            let c = try node.community(text)
            if record, try !node.mayClaimGiftAid(community: c.id) {
                throw WhipError(.permissionDenied, "only a treasurer may claim Gift Aid: this node can preview the schedule, not record the claim")
            }
            let draft = try node.prepareGiftAidClaim(c, from: from, to: to)
            if record {
                guard !draft.donations.isEmpty else { throw WhipError(.rejected, "no donation in this period can be claimed: nothing was recorded") }
                _ = try node.recordGiftAidClaim(c, donations: draft.donations)
            }
            return draft
        }
        if record { logger.info("Gift Aid claim recorded from the console", metadata: ["giftaid.donations": "\(draft.donations.count)"]) }
        let file = "gift-aid-\(record ? "claim" : "preview")-\(from.iso)-to-\(to.iso).csv"
        return Response(
            status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(file)\""],
            body: ResponseBody(byteBuffer: ByteBuffer(string: GiftAidSchedule.csv(draft.rows))))
    }

    /// The address phones pair at: what the running server wrote, else nothing (a test router has none).
    func deskBase() async -> String? { WebAddress.read(dataDir: node.dir.path) }

    func campaignAction(_ s: ConsoleSession, _ id: String, _ action: String, _ form: Form) async throws -> Response {
        let c = try await node.read { _ throws(WhipError) in try node.campaign(id) }
        let back = "/console/campaigns/\(c.id.hex)"
        switch action {
        case "publish", "close", "cancel":
            // Closing and cancelling cannot be undone: the form asks for a tick, and a cancellation for its reason.
            if action != "publish", form.first("sure") != "on" {
                throw WhipError(
                    .invalidArgument, "tick the box to confirm: a campaign that is \(action == "close" ? "closed" : "cancelled") cannot be reopened")
            }
            if action == "cancel", form.text("reason") == nil {
                throw WhipError(.invalidArgument, "say why the campaign is cancelled: backers see the reason")
            }
            let body: EventBody =
                switch action {
                case "publish": .campaignPublished(CampaignRef(campaign: c.id))
                case "close": .campaignClosed(CampaignRef(campaign: c.id))
                default: .campaignCancelled(CampaignCancelled(campaign: c.id, reason: form.text("reason")))
                }
            _ = try await node.write { _ throws(WhipError) in try node.emit(c.community, body) }
            return Self.redirect("\(back)?done=\(action == "publish" ? "published" : action == "close" ? "closed" : "cancelled")")
        case "edit":
            var u = CampaignUpdated(campaign: c.id)
            if let t = form.text("title"), t != c.title { u.title = t }
            if let story = form.first("story")?.replacingOccurrences(of: "\r\n", with: "\n"), story != c.description { u.description = story }
            if let g = form.text("goal") {
                let goal = try Money(parsing: g, currency: c.goal.currency)
                if goal != c.goal { u.goal = goal.minor }
            }
            if let m = form.text("model") {
                guard let model = FundingModel(name: m) else { throw WhipError(.invalidArgument, "'\(m)' is not a funding model") }
                if model != c.model { u.model = model }
            }
            let zone = form.text("time_zone") ?? c.timeZone
            guard Dates.isValidTimeZone(zone) else {
                throw WhipError(.invalidArgument, "'\(zone)' is not a known time zone (use an IANA name such as Europe/London, or UTC)")
            }
            if zone != c.timeZone { u.timeZone = zone }
            // The form shows dates, not instants: a date left as shown (in an unchanged zone) changes nothing, so
            // saving a new title never moves an opening time of 10:42 to midnight.
            let shownOpens = String(Dates.localForm(c.opens, timeZone: c.timeZone, midnightAsEndOfDay: false).prefix(10))
            let shownCloses = String(Dates.localForm(c.closes, timeZone: c.timeZone).prefix(10))
            if let d = form.text("opens"), d != shownOpens || zone != c.timeZone {
                let opens = try Dates.parse(d, timeZone: zone, endOfDay: false)
                if opens != c.opens { u.opens = opens }
            }
            if let d = form.text("closes"), d != shownCloses || zone != c.timeZone {
                let closes = try Dates.parse(d, timeZone: zone, endOfDay: true)
                if closes != c.closes { u.closes = closes }
            }
            if let list = form.first("organisers") {
                let keys = try list.split(whereSeparator: { $0.isNewline || $0 == "," }).map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }.map { (s: String) throws(WhipError) in try KeyText.decode(s, as: .member) }
                // The creator stays an organiser whatever the list says (PROTOCOL.md §6.5).
                if Set(keys + [c.createdBy]) != Set(c.organisers) { u.organisers = keys }
            }
            guard u != CampaignUpdated(campaign: c.id) else { return Self.redirect(back) }
            let update = u
            _ = try await node.write { _ throws(WhipError) in try node.emit(c.community, .campaignUpdated(update)) }
            return Self.redirect("\(back)?done=edited")
        case "post":
            let title = form.text("title") ?? ""
            let text = (form.first("text") ?? "").replacingOccurrences(of: "\r\n", with: "\n")
            _ = try await node.write { _ throws(WhipError) in try node.postUpdate(campaign: c, title: title, text: text) }
            return Self.redirect("\(back)?done=posted")
        case "online":
            let enabled = form.first("enabled") == "on"
            try await node.write { _ throws(WhipError) in try node.setOnlineOffers(c, enabled: enabled) }
            cache.invalidate()
            return Self.redirect("\(back)?done=\(enabled ? "online_on" : "online_off")")
        case "accept":
            guard let offer = form.text("offer").flatMap(EventID.init(hex:)) else { throw WhipError(.invalidArgument, "no offer was chosen") }
            _ = try await node.write { _ throws(WhipError) in try node.emit(c.community, .matchAccepted(MatchRef(campaign: c.id, offer: offer))) }
            return Self.redirect("\(back)?done=accepted")
        case "tier":
            guard let tier = form.text("tier").flatMap(EventID.init(hex:)),
                let row = try await node.read({ store throws(WhipError) in try store.tiers(campaign: c.id) }).first(where: { $0.id == tier })
            else { throw WhipError(.notFound, "that reward tier is not one of this campaign's") }
            var u = TierUpdated(campaign: c.id, tier: tier)
            if let t = form.text("title"), t != row.title { u.title = t }
            let description = (form.first("description") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if description != (row.description ?? "") { u.description = description }
            if let m = form.text("minimum") {
                let minimum = try Money(parsing: m, currency: c.goal.currency)
                if minimum != row.minimum { u.minimum = minimum.minor }
            }
            if let l = form.text("limit") {
                guard let n = UInt32(l), n > 0 else {
                    throw WhipError(
                        .invalidArgument, "'\(l)' is not a number of places: a limit is at least 1 (it may rise, never drop below the places taken)")
                }
                if Int(n) != row.limit { u.limit = n }
            }
            guard u != TierUpdated(campaign: c.id, tier: tier) else { return Self.redirect(back) }
            let update = u
            _ = try await node.write { _ throws(WhipError) in try node.emit(c.community, .tierUpdated(update)) }
            return Self.redirect("\(back)?done=tier_changed")
        case "tiers":
            let limit: UInt32?
            if let l = form.text("limit") {
                guard let n = UInt32(l) else { throw WhipError(.invalidArgument, "'\(l)' is not a number of places: leave it empty for no limit") }
                limit = n
            } else {
                limit = nil
            }
            _ = try await node.write { _ throws(WhipError) in
                try node.addTier(
                    c, title: form.text("title") ?? "", minimum: form.text("minimum") ?? "", limit: limit, description: form.text("description"),
                    benefit: form.text("benefit"))
            }
            return Self.redirect("\(back)?done=tier")
        case "desks":
            let name = form.text("name") ?? ""
            let pairing = try await node.write { _ throws(WhipError) in try node.openDesk(campaign: c, name: name, until: nil) }
            logger.info("desk opened from the console", metadata: ["desk.name": "\(pairing.desk.name)"])
            return try await campaign(s, c.id.hex, notice: "desk", qr: pairing)
        default:
            throw WhipError(.notFound, "there is no action '\(action)' for a campaign")
        }
    }

    func deskAction(_ s: ConsoleSession, _ id: String, _ action: String) async throws -> Response {
        let desk = try await node.read { store throws(WhipError) in
            guard let d = try store.desk(id: id) else { throw WhipError(.notFound, "there is no such desk") }
            return d
        }
        switch action {
        case "close":
            _ = try await node.write { _ throws(WhipError) in try node.closeDesk(name: desk.name) }
            return Self.redirect("/console/campaigns/\(desk.campaign.hex)?done=desk_closed")
        case "pair":
            let pairing = try await node.write { _ throws(WhipError) in try node.pairDesk(name: desk.name) }
            let c = try await node.read { _ throws(WhipError) in try node.campaign(desk.campaign.hex) }
            return try await campaign(s, c.id.hex, notice: "desk", qr: pairing)
        default:
            throw WhipError(.notFound, "there is no action '\(action)' for a desk")
        }
    }

    func offerAction(_ reference: String, _ action: String) async throws -> Response {
        guard let o = try await node.read({ store throws(WhipError) in try store.onlineOffer(reference: reference) }) else {
            throw WhipError(.notFound, "there is no offer \(reference)")
        }
        let back = "/console/campaigns/\(o.campaign.hex)"
        switch action {
        case "accept":
            let e = try await node.write { _ throws(WhipError) in try node.acceptOnlineOffer(reference: reference) }
            logger.info("online offer accepted", metadata: ["offer.reference": "\(reference)", "event.id": "\(e.id.hex)"])
            return Self.redirect("\(back)?done=offer_accepted")
        case "decline":
            try await node.write { _ throws(WhipError) in try node.declineOnlineOffer(reference: reference) }
            return Self.redirect("\(back)?done=offer_declined")
        default:
            throw WhipError(.notFound, "there is no action '\(action)' for an offer")
        }
    }

    func pledgeAction(_ id: String, _ action: String, _ form: Form) async throws -> Response {
        let (p, c) = try await node.read { _ throws(WhipError) in try node.pledge(id) }
        let back = "/console/campaigns/\(c.id.hex)/pledges"
        switch action {
        case "collect":
            guard let method = PaymentMethod(name: form.text("method") ?? "cash") else {
                throw WhipError(.invalidArgument, "choose how the money came: cash, transfer or contactless")
            }
            let over = form.first("over") == "on"
            _ = try await node.write { _ throws(WhipError) in try node.collect(p, of: c, amount: form.text("amount"), method: method, over: over) }
            return Self.redirect("\(back)?done=collected")
        case "reject":
            guard let reason = form.text("reason") else {
                throw WhipError(.invalidArgument, "give a reason: the backer and the other organisers see it")
            }
            _ = try await node.write { _ throws(WhipError) in
                try node.emit(c.community, .pledgeRejected(PledgeRejected(campaign: c.id, pledge: p.id, reason: reason)))
            }
            return Self.redirect("\(back)?done=rejected")
        case "erase":
            guard form.first("sure") == "on" else {
                throw WhipError(.invalidArgument, "tick the box to confirm: erasing a backer's personal data cannot be undone")
            }
            guard let reason = ErasureReason(name: form.text("reason") ?? "request") else {
                throw WhipError(.invalidArgument, "choose why: the backer asked (request) or the retention period is over (retention_expired)")
            }
            _ = try await node.write { _ throws(WhipError) in
                try node.checkGiftAidErasure(p, of: c)
                return try node.erase(p, of: c, reason: reason, slots: PartSlot.allCases)
            }
            return Self.redirect("\(back)?done=erased")
        default:
            throw WhipError(.notFound, "there is no action '\(action)' for a pledge")
        }
    }

    func pledges(_ s: ConsoleSession, _ text: String, _ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        let value = { (name: String) -> String? in
            guard let v = q[name[...]], !v.isEmpty else { return nil }
            return String(v)
        }
        var filter = PledgeFilter()
        filter.status = value("status").flatMap(PledgeStatus.init(rawValue:))
        filter.channel = value("channel").flatMap { name in Channel.allCases.first { $0.name == name } }
        filter.collected = value("collected").map { $0 == "yes" }
        filter.tier = value("tier").flatMap(EventID.init(hex:))
        filter.desk = value("desk")
        filter.matched = value("matched").map { $0 == "yes" }
        let page = max(1, value("page").flatMap(Int.init) ?? 1)
        let size = Self.pageSize
        let chosen = filter
        let (c, tiers, desks, found) = try await node.read { store throws(WhipError) in
            let c = try node.campaign(text)
            let found = try store.pledgePage(campaign: c.id, filter: chosen, offset: (page - 1) * size, limit: size)
            return (c, try store.tiers(campaign: c.id), try node.desks(includeClosed: true).filter { $0.campaign == c.id }, found)
        }
        let (rows, total) = (found.rows, found.total)
        let cur = c.goal.currency.code
        let organiser = c.organisers.contains(node.identity.publicKey)
        let tierNames = Dictionary(uniqueKeysWithValues: tiers.map { ($0.id, $0.title) })
        let items = rows.map { p in
            var o = pledgeItem(p, currency: cur, tierNames: tierNames, organiser: organiser)
            if let m = found.matched[p.id] { o["matched"] = Pages.money(m, cur) }
            return o
        }
        func option(_ v: String, _ label: String, _ selected: String?) -> [String: Any] { ["value": v, "label": label, "selected": v == selected] }
        var query: [String] = []
        for name in ["status", "channel", "collected", "tier", "desk", "matched"] {
            if let v = value(name) { query.append("\(name)=\(Self.urlEncode(v))") }
        }
        let base = "/console/campaigns/\(c.id.hex)/pledges?" + (query.isEmpty ? "" : query.joined(separator: "&") + "&")
        let pages = max(1, (total + size - 1) / size)
        var data: [String: Any] = [
            "csrf": s.csrf, "campaign": Self.row(c, now: node.now), "pledges": items, "count": total, "one": total == 1, "organiser": organiser,
            "page": page, "pages": pages, "has_prev": page > 1, "has_next": page < pages, "prev": "\(base)page=\(page - 1)",
            "next": "\(base)page=\(page + 1)", "csv": "/console/campaigns/\(c.id.hex)/pledges.csv", "filtered": !query.isEmpty,
        ]
        let status = value("status")
        data["statuses"] = [option("", "Any", status)] + ["active", "late", "withdrawn", "rejected"].map { option($0, $0.capitalized, status) }
        let channel = value("channel")
        data["channels"] = [option("", "Any", channel), option("in-person", "In person", channel), option("online", "Online", channel)]
        let collected = value("collected")
        data["collected_options"] = [
            option("", "Any", collected), option("yes", "Paid in full", collected), option("no", "Not paid in full", collected),
        ]
        let tier = value("tier")
        data["tier_options"] = [option("", "Any", tier)] + tiers.map { option($0.id.hex, $0.title, tier) }
        let matched = value("matched")
        data["matched_options"] = [option("", "Any", matched), option("yes", "Matched", matched), option("no", "Not matched", matched)]
        let desk = value("desk")
        data["desk_options"] = [option("", "Any", desk)] + desks.map { option($0.id, $0.name, desk) }
        if let notice = value("done"), let text = Self.notices[notice] { data["notice"] = text }
        return self.pages.page("console-pledges", data)
    }

    func pledgeItem(_ p: PledgeRow, currency cur: String, tierNames: [EventID: String], organiser: Bool) -> [String: Any] {
        let open = p.status == "active" || p.status == "late"
        var o: [String: Any] = [
            "id": p.id.hex, "short": String(p.id.hex.prefix(10)), "name": p.publicName, "amount": Pages.money(p.amount.minor, cur),
            "status": p.status, "waitlisted": p.waitlisted, "channel": p.channel,
        ]
        o["meta"] = [p.tier.flatMap { tierNames[$0] } ?? "", p.channel, Desk.describe(p.madeAt)].filter { !$0.isEmpty }.joined(separator: " · ")
        o["collected"] = Pages.money(p.collected.minor, cur)
        o["paid"] = p.collected.minor >= p.amount.minor
        o["owed"] = p.collected.minor < p.amount.minor && open
        if let reason = p.rejectReason, !reason.isEmpty { o["reject_reason"] = reason }
        o["may_reject"] = open
        o["may_erase"] = p.version == 2 && !p.erased.contains(.name)
        if organiser, let contact = node.openContact(p.contact) {
            o["contact"] = [contact.name, contact.email, contact.phone, contact.address].compactMap { $0 }.joined(separator: " · ")
        }
        return o
    }

    /// A query value percent-encoded (the public pages' encoder: RFC 3986 unreserved characters only).
    static func urlEncode(_ s: String) -> String { Pages.percentEncode(s) }

    func csv(_ text: String) async throws -> Response {
        let (c, body) = try await node.read { _ throws(WhipError) in
            let c = try node.campaign(text)
            return (c, try CSVExport.pledges(node: node, campaign: c, organiserView: c.organisers.contains(node.identity.publicKey)))
        }
        let file = "pledges-\(c.id.hex.prefix(12)).csv"
        return Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(file)\""],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    func health(_ s: ConsoleSession) async throws -> Response {
        let now = node.now
        let (peers, held, rejections, warning, communities) = try await node.read { store throws(WhipError) in
            (try store.peers(), try store.heldCount(), try store.rejections(limit: 50), try node.clockWarning(), try store.communities())
        }
        let path = node.dir.path
        let free = (try? FileManager.default.attributesOfFileSystem(forPath: path)[.systemFreeSize] as? Int64) ?? nil
        var data: [String: Any] = [
            "csrf": s.csrf, "version": Node.version, "held": held, "data": path,
            "free": free.map { ByteCountFormatter.string(fromByteCount: $0, countStyle: .file) } ?? "unknown",
            "peers": peers.map { p -> [String: Any] in
                [
                    "address": p.address,
                    "last_success": p.lastSuccess.map { Dates.describe(durationMs: now > $0 ? now - $0 : 0) + " ago" } ?? "never",
                    "last_error": p.lastError ?? "",
                ]
            },
            "rejections": rejections.map { r -> [String: Any] in
                ["stage": r.stage, "code": r.code, "message": Pages.sentence(r.message), "event": r.eventID.map { String($0.prefix(12)) } ?? ""]
            },
            "communities": communities.map { ["name": $0.name, "events": $0.eventCount, "digest": $0.digest] },
        ]
        if let warning { data["clock_warning"] = warning }
        return pages.page("console-health", data)
    }
}
