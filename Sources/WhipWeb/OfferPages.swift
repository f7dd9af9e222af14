import Foundation
import HTTPTypes
import Hummingbird
import Logging
import WhipCore
import WhipNode
import WhipStore

/// The public offer form (issue 11): off unless an organiser turns it on for a campaign in the console. An offer
/// is kept at this node until accepted (a signed pledge, channel `online`) or declined.
struct OfferPages: Sendable {
    let node: Node
    let pages: Pages
    let logger: Logger

    /// The form's double-submit cookie, matched against the token in the form.
    static let cookie = "wr_offer"

    static func add(to router: Router<WebContext>, node: Node, pages: Pages, limiter: RateLimiter, maxBody: Int, logger: Logger) {
        let offers = OfferPages(node: node, pages: pages, logger: logger)
        router.get("/campaigns/:campaign/offer") { _, context in
            try await offers.form(context.parameters.get("campaign") ?? "", error: nil, typed: nil, status: .ok)
        }
        router.post("/campaigns/:campaign/offer") { request, context in
            let id = context.parameters.get("campaign") ?? ""
            var request = request
            guard let buffer = try? await request.collectBody(upTo: maxBody) else {
                return try await offers.form(id, error: "The form was too large.", typed: nil, status: .contentTooLarge)
            }
            let form = ConsolePages.Form(String(buffer: buffer))
            // What was typed is shown again, so a visitor refused for sending too fast loses nothing.
            guard limiter.allow(context.address) else {
                return try await offers.form(
                    id, error: "Too many offers from this address: wait a minute and send it again.", typed: form, status: .tooManyRequests)
            }
            return try await offers.submit(id, form, cookie: request.cookies[Self.cookie]?.value)
        }
    }

    /// A published campaign that takes offers here, or nil.
    func campaign(_ text: String) async throws -> (CampaignRow, [TierRow])? {
        guard let id = EventID(hex: text) else { return nil }
        return try await node.read { store throws(WhipError) -> (CampaignRow, [TierRow])? in
            guard let c = try store.campaign(id), c.phase != .draft, try store.onlineOffersEnabled(campaign: id) else { return nil }
            return (c, try store.tiers(campaign: id))
        }
    }

    func form(_ text: String, error: String?, typed: ConsolePages.Form?, status: HTTPResponse.Status) async throws -> Response {
        guard let (c, tiers) = try await campaign(text) else {
            return pages.message(
                .notFound, title: "No online offers here",
                text: "This campaign does not take offers online at this node. Ask its organisers how to back it.")
        }
        let token = Desk.newToken()
        var data: [String: Any] = [
            "campaign": Pages.figures(CampaignSummary(c, tiers: [], now: node.now)), "csrf": token, "has_tiers": !tiers.isEmpty,
            "tiers": tiers.map { ["id": $0.id.hex, "title": $0.title, "minimum": Pages.money($0.minimum.minor, c.goal.currency.code)] },
        ]
        if let error { data["error"] = error }
        if let typed {
            data["form"] = ["name": typed.first("name") ?? "", "email": typed.first("email") ?? "", "amount": typed.first("amount") ?? ""]
        }
        var r = pages.page("offer", data, status: status)
        r.setCookie(Cookie(name: Self.cookie, value: token, path: "/campaigns", httpOnly: true, sameSite: .strict))
        return r
    }

    func submit(_ text: String, _ form: ConsolePages.Form, cookie: String?) async throws -> Response {
        guard let (c, _) = try await campaign(text) else { return try await self.form(text, error: nil, typed: nil, status: .notFound) }
        guard let cookie, let sent = form.first("csrf"), WebServer.constantTimeEqual(cookie, sent) else {
            return try await self.form(text, error: "The form had expired. Please send it again.", typed: form, status: .forbidden)
        }
        let summary = Pages.figures(CampaignSummary(c, tiers: [], now: node.now))
        // A bot fills every field: thank it as a person would be thanked, and keep nothing.
        if let trap = form.first("website"), !trap.isEmpty {
            logger.info("an online offer filled the hidden field: dropped", metadata: ["campaign.id": "\(c.id.hex)"])
            let typed = try? Money(parsing: (form.first("amount") ?? "").trimmingCharacters(in: .whitespaces), currency: c.goal.currency)
            let sent: [String: Any] = ["reference": OnlineOffers.decoyReference(), "amount": Pages.money(typed?.minor ?? 0, c.goal.currency.code)]
            return pages.page("offer", ["campaign": summary, "sent": sent], status: .created)
        }
        let offer = OnlineOfferForm(
            name: form.first("name") ?? "", anonymous: form.first("anonymous") == "on", email: form.first("email"),
            amount: form.first("amount") ?? "",
            tier: form.first("tier"))
        do {
            let row = try await node.write { _ throws(WhipError) in try node.submitOnlineOffer(c, offer) }
            logger.info("online offer kept", metadata: ["campaign.id": "\(c.id.hex)", "offer.reference": "\(row.reference)"])
            return pages.page(
                "offer",
                ["campaign": summary, "sent": ["reference": row.reference, "amount": Pages.money(row.amountMinor, c.goal.currency.code)]],
                status: .created)
        } catch {
            return try await self.form(text, error: Pages.sentence(error.message), typed: form, status: ConsolePages.status(error))
        }
    }
}
