import Foundation
public import WhipCore
import WhipCrypto
public import WhipStore

/// Online offers (issue 11): a visitor's offer typed into a campaign's public page. It is not a signed pledge and
/// counts for nothing until an organiser or collector accepts it, which records a signed pledge with channel
/// `online`; until then it is kept only at the node that received it.
public enum OnlineOffers {
    /// Offers that may wait for a decision per campaign; the form says "try later" past this.
    public static let maxWaitingPerCampaign = 500
    /// Longest name, in characters.
    public static let maxNameCharacters = 80
    /// Longest email address, in characters (RFC 5321's path limit).
    public static let maxEmailCharacters = 254
    /// Largest offer, in the campaign's minor units (£10,000.00): a larger gift is a conversation, not a form.
    public static let maxAmountMinor: Int64 = 1_000_000
    /// Crockford base32, as desk codes: easy to read out over the phone.
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A reference for the reply to a bot (the hidden field was filled): shaped like a real one, never stored.
    public static func decoyReference() -> String { newReference() }

    /// A new random reference, `XXXX-XXXX` (40 bits).
    static func newReference() -> String {
        let chars = Sodium.randomBytes(8).map { alphabet[Int($0 & 31)] }
        return String(chars[0..<4]) + "-" + String(chars[4..<8])
    }
}

/// What a visitor typed into the offer form.
public struct OnlineOfferForm: Sendable {
    /// Their name.
    public var name: String
    /// Show them as anonymous in public.
    public var anonymous: Bool
    /// An email address, so the organisers can say how to pay; optional.
    public var email: String?
    /// The amount as typed, e.g. `25` or `25.50`.
    public var amount: String
    /// A tier id (hex), if one was chosen.
    public var tier: String?

    /// A form.
    public init(name: String, anonymous: Bool = false, email: String? = nil, amount: String, tier: String? = nil) {
        self.name = name
        self.anonymous = anonymous
        self.email = email
        self.amount = amount
        self.tier = tier
    }
}

extension Node {
    /// Turns the public offer form of campaign `c` on or off at this node; only a node that may record its pledges.
    public func setOnlineOffers(_ c: CampaignRow, enabled: Bool) throws(WhipError) {
        if enabled { try checkMayRecordPledges(c) }
        try store.setOnlineOffers(campaign: c.id, enabled: enabled, now: now)
    }

    /// Checks and keeps a visitor's offer; returns its reference. Refused when the form is off, the campaign is not
    /// live, a field is wrong, or too many offers are waiting.
    public func submitOnlineOffer(_ c: CampaignRow, _ f: OnlineOfferForm) throws(WhipError) -> OnlineOfferRow {
        guard try store.onlineOffersEnabled(campaign: c.id) else {
            throw WhipError(.rejected, "'\(c.title)' does not take offers online at this node: ask the organisers how to back it")
        }
        guard c.standing(now: now) == .live else { throw WhipError(.rejected, "'\(c.title)' is not taking pledges now") }
        let name = f.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= OnlineOffers.maxNameCharacters,
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw WhipError(.invalidArgument, "give your name (1 to \(OnlineOffers.maxNameCharacters) characters)") }
        let email = f.email.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        if let email {
            let parts = email.split(separator: "@", omittingEmptySubsequences: false)
            guard email.count <= OnlineOffers.maxEmailCharacters, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
                !email.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" })
            else { throw WhipError(.invalidArgument, "'\(email.prefix(60))' does not look like an email address") }
        }
        let amount = try Money(parsing: f.amount.trimmingCharacters(in: .whitespaces), currency: c.goal.currency)
        guard amount.minor > 0, amount.minor <= OnlineOffers.maxAmountMinor else {
            throw WhipError(
                .invalidArgument,
                "the amount must be more than zero and at most \(Money(minor: OnlineOffers.maxAmountMinor, currency: c.goal.currency).formatted)")
        }
        var tier: EventID? = nil
        if let t = f.tier.flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let id = EventID(hex: t), let row = try store.tiers(campaign: c.id).first(where: { $0.id == id }) else {
                throw WhipError(.invalidArgument, "that reward tier is not one of this campaign's")
            }
            guard amount.minor >= row.minimum.minor else {
                throw WhipError(.invalidArgument, "'\(row.title)' needs at least \(row.minimum.formatted): raise the amount or choose no reward")
            }
            tier = id
        }
        let offer = OnlineOfferRow(
            reference: OnlineOffers.newReference(), campaign: c.id, received: now, name: name, anonymous: f.anonymous, email: email,
            amountMinor: amount.minor, tier: tier)
        guard try store.insertOnlineOffer(offer, max: OnlineOffers.maxWaitingPerCampaign) else {
            throw WhipError(.rejected, "this campaign has too many offers waiting to be checked: please try again in a day or two")
        }
        return offer
    }

    /// Accepts a waiting offer: records it as a signed pledge with channel `online` (the email sealed to the
    /// organisers), in the same transaction that marks the offer accepted.
    public func acceptOnlineOffer(reference: String) throws(WhipError) -> Event {
        guard let o = try store.onlineOffer(reference: reference) else { throw WhipError(.notFound, "there is no offer \(reference)") }
        guard o.status == "waiting" else { throw WhipError(.notFound, "the offer \(reference) was \(o.status) already") }
        let c = try campaign(o.campaign.hex)
        try checkMayRecordPledges(c)
        let parts = try pledgeParts(name: o.name ?? "", anonymous: o.anonymous, contact: Contact(email: o.email), for: c)
        let body = EventBody.pledgeMadeV2(
            PledgeMadeV2(
                campaign: c.id, amount: o.amountMinor, currency: c.goal.currency, tier: o.tier, channel: .online, paid: nil,
                commitments: parts.commitments))
        return try store.acceptOnlineOffer(
            reference: reference, community: c.community, now: now, after: body.references, author: identity.publicKey, parts: parts.drafts
        ) { hlc in
            Event.sign(community: c.community, author: identity, hlc: hlc, body: body)
        }
    }

    /// Declines a waiting offer; its name and email are deleted at once.
    public func declineOnlineOffer(reference: String) throws(WhipError) {
        guard try store.declineOnlineOffer(reference: reference, now: now) else {
            throw WhipError(.notFound, "the offer \(reference) is not waiting: it was accepted or declined already")
        }
    }

    /// Refused unless this node may record pledges in `c`'s community (a collector, organiser, admin or founder).
    func checkMayRecordPledges(_ c: CampaignRow) throws(WhipError) {
        let auth = try store.authority(community: c.community)
        let me = identity.publicKey
        let roles = auth.currentRoles(wall: now).filter { $0.member == me }.map(\.role)
        guard auth.isRoot(me) || roles.contains(where: { [.collector, .organiser, .admin].contains($0) }) else {
            throw WhipError(
                .permissionDenied,
                "this node (\(memberID)) may not record pledges in this community: an admin grants it a role with "
                    + "`whipround community grant \(memberID) --role collector`")
        }
    }
}
