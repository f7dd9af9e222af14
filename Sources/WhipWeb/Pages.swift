import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import WhipCore
import WhipNode
import WhipStore

/// The server-rendered pages: Mustache templates compiled into the binary, which escape every value by default.
struct Pages: Sendable {
    let node: Node
    let logger: Logger
    let library: MustacheLibrary
    /// `public_url` from the configuration: the base of the public pages' absolute links, when set.
    let publicURL: String?

    /// The first-run forms' cookie, matched against the token in the form (a site elsewhere cannot send it).
    static let setupCookie = "wr_setup"

    init(node: Node, logger: Logger, publicURL: String? = nil) {
        self.node = node
        self.logger = logger
        self.publicURL = publicURL
        var library = MustacheLibrary()
        for name in Assets.templates {
            guard let bytes = Assets.bytes("\(name).mustache") else { continue }
            do { try library.register(String(decoding: bytes, as: UTF8.self), named: name) } catch {
                logger.error("a page template does not parse", metadata: ["web.template": "\(name)", "error": "\(error)"])
            }
        }
        self.library = library
    }

    /// `template` rendered with `data` as an HTML answer.
    func page(_ template: String, _ data: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        guard let html = library.render(data, withTemplate: template) else {
            return Response(
                status: .internalServerError, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "The page '\(template)' is missing from this build.")))
        }
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// A full-page message: what happened and what to do.
    func message(
        _ status: HTTPResponse.Status, title: String, text: String, hint: String? = nil, link: (href: String, label: String)? = nil
    ) -> Response {
        var data: [String: Any] = ["title": title, "text": text, "hint": hint].compactMapValues { $0 }
        if let link { data["link"] = ["href": link.href, "label": link.label] }
        return page("message", data, status: status)
    }

    /// An amount as the pages show it (and desk.js formats it): `£120.00`, `€5.00`, `$3.50`, else `CHF 12.50`.
    static func money(_ minor: Int64, _ currency: String) -> String {
        let amount = Currency(code: currency).map { Money(minor: minor, currency: $0).formatted } ?? "\(minor)"
        switch currency {
        case "GBP": return "£" + amount
        case "EUR": return "€" + amount
        case "USD": return "$" + amount
        default: return "\(currency) \(amount)"
        }
    }

    /// The figures every page shows of a campaign.
    static func figures(_ s: CampaignSummary) -> [String: Any] {
        [
            "id": s.id, "title": s.title, "total": money(s.pledgedMinor, s.currency), "goal": money(s.goalMinor, s.currency),
            "currency": s.currency, "backers": s.backers, "one_backer": s.backers == 1, "percent": s.percent,
            "matched": money(s.matchedMinor, s.currency), "has_match": s.matchedMinor > 0, "standing": s.standing,
        ]
    }

    // MARK: Home and first run

    func home(_ request: Request, _ context: WebContext) async throws -> Response {
        let communities = try await node.read { store throws(WhipError) in try store.communities() }
        let now = node.now
        if communities.isEmpty {
            guard context.isLocal else { return page("home", ["setup": true, "local": false]) }
            let token = Desk.newToken()
            var r = page("home", ["setup": true, "local": true, "csrf": token])
            r.setCookie(Cookie(name: Self.setupCookie, value: token, path: "/setup", httpOnly: true, sameSite: .strict))
            return r
        }
        // Published campaigns only: live ones first (with the big-screen display), then the closed and cancelled.
        let all = try await PublicCampaign.all(node)
        func item(_ p: PublicCampaign) -> [String: Any] {
            var f = Self.figures(p.summary)
            f["standing_sentence"] = p.standingSentence
            f["progress_sentence"] = p.progressSentence
            f["time_left"] = p.timeLeft(now: now) ?? ""
            return f
        }
        var data: [String: Any] = [
            "setup": false, "campaigns": all.filter { $0.standing == .live }.map(item),
            "closed": all.filter { $0.standing != .live }.map(item), "has_closed": all.contains { $0.standing != .live },
        ]
        if communities.count == 1 { data["community"] = ["name": communities[0].name] }
        return page("home", data)
    }

    struct SetupForm: Decodable {
        let csrf: String
        let name: String?
        let invite: String?
    }

    func setup(_ request: Request, _ context: WebContext, join: Bool, maxBody: Int) async throws -> Response {
        guard context.isLocal else {
            return message(
                .forbidden, title: "Only at the node",
                text: "A community can be created or joined only from the machine the node runs on (http://127.0.0.1).")
        }
        var request = request
        let form: SetupForm
        do {
            let buffer = try await request.collectBody(upTo: maxBody)
            form = try URLEncodedFormDecoder().decode(SetupForm.self, from: String(buffer: buffer))
        } catch {
            return message(.badRequest, title: "Something was missing", text: "The form did not arrive whole. Go back and try again.")
        }
        guard let cookie = request.cookies[Self.setupCookie]?.value, WebServer.constantTimeEqual(cookie, form.csrf) else {
            return message(.forbidden, title: "Please try again", text: "The form has expired. Go back to the start page and send it again.")
        }
        do {
            let info: CommunityInfo
            if join {
                let invite = try WhipCore.Invite(text: (form.invite ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
                info = try await node.write { _ throws(WhipError) in try node.join(invite) }
            } else {
                let name = (form.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                info = try await node.write { _ throws(WhipError) in try node.createCommunity(name: name) }
            }
            logger.info("community set up from the web page", metadata: ["community.name": "\(info.name)"])
            return message(
                .ok, title: join ? "Joined \(info.name)" : "Created \(info.name)",
                text: join
                    ? "This node is now a member of \(info.name). Give its member id to an admin to be granted a role: \(node.memberID)"
                    : "This node founded \(info.name). Next, create a campaign and open a desk for it at the node's terminal.",
                hint: join
                    ? "whipround id"
                    : "whipround campaign create --title \"Pool roof\" --goal 5000 --closes 2027-06-30, then campaign publish and desk open")
        } catch {
            return message(.badRequest, title: join ? "Could not join" : "Could not create the community", text: error.message)
        }
    }

    // MARK: Pairing and the desk

    /// The API's messages start in lower case, to follow a code; on a page they read as a sentence.
    static func sentence(_ message: String) -> String {
        message.prefix(1).uppercased() + message.dropFirst() + (message.hasSuffix(".") ? "" : ".")
    }

    func pairForm(error: String?, code: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        page("pair", ["error": error.map(Self.sentence), "code": code].compactMapValues { $0 }, status: status)
    }

    func deskRefusal(status: HTTPResponse.Status, code: String, message: String) -> Response {
        let text = Self.sentence(message)
        switch code {
        case "desk.no_session":
            return self.message(
                status, title: "This phone is not paired with a desk",
                text: "Scan the desk's QR code, or type its pairing code.", hint: "Ask the organiser for a code (whipround desk pair NAME).",
                link: ("/pair", "Type a pairing code"))
        case "desk.closed":
            return self.message(status, title: "This desk is closed", text: text, hint: "Thank you for helping. Pledges already taken are safe.")
        default: return self.message(status, title: "This desk has finished", text: text, hint: "Pledges already taken are safe.")
        }
    }

    func desk(_ s: DeskSession) async throws -> Response {
        let campaign = s.desk.campaign
        let community = s.desk.community
        let (summary, charity) = try await node.read { store throws(WhipError) -> (CampaignSummary?, CharityRecognised?) in
            guard let c = try store.campaign(campaign) else { return (nil, nil) }
            let auth = try store.authority(community: community)
            // Gift Aid is offered only where a declaration can be sealed: a recognised charity with a treasurer.
            let hasTreasurer = auth.currentRoles(wall: node.now).contains { $0.role == .treasurer }
            return (CampaignSummary(c, tiers: try store.tiers(campaign: campaign), now: node.now), hasTreasurer ? auth.currentCharity : nil)
        }
        guard let summary else {
            return message(.notFound, title: "Campaign missing", text: "The desk's campaign is not in this node's replica.")
        }
        let tiers = summary.tiers.map { t -> [String: Any] in
            [
                "id": t.id, "title": t.title, "description": t.description ?? "", "minimum": Self.money(t.minimumMinor, summary.currency),
                "minimum_minor": t.minimumMinor,
                "places_left": t.placesLeft ?? 0, "limited": t.placesLeft != nil, "full": t.placesLeft == 0,
            ]
        }
        let quick = Array(Set(summary.tiers.map(\.minimumMinor))).sorted().prefix(4).map { minor -> [String: Any] in
            let plain = Currency(code: summary.currency).map { Money(minor: minor, currency: $0).formatted } ?? "\(minor)"
            return ["amount": plain, "label": Self.money(minor, summary.currency)]
        }
        var data: [String: Any] = [
            "desk": ["name": s.desk.name, "until": s.desk.until.map(Desk.describe)].compactMapValues { $0 },
            "campaign": Self.figures(summary),
            "tiers": tiers, "has_tiers": !tiers.isEmpty, "quick_amounts": quick, "csrf": s.csrf, "gift_aid": charity != nil,
        ]
        if let charity {
            data["gift_aid_wording"] = GiftAidWording.current.text(charity: charity.legalName, scope: .thisDonation)
            data["gift_aid_wording_future"] = GiftAidWording.current.text(charity: charity.legalName, scope: .thisPastAndFuture)
            data["gift_aid_wording_version"] = Int(GiftAidWording.current.version)
            data["oral_confirmation_note"] = GiftAidWording.oralConfirmationNote
        }
        return page("desk", data)
    }

    func display(_ s: CampaignSummary) -> Response {
        page("display", ["campaign": Self.figures(s)])
    }
}
