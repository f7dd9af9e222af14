import Foundation
import GRDB
public import WhipCore
public import WhipCrypto

/// An online offer as stored (migration `v15-online-offers`): this node's own, never synced.
public struct OnlineOfferRow: Sendable, Equatable {
    /// The reference the visitor was given, `XXXX-XXXX`.
    public let reference: String
    /// The campaign it is for.
    public let campaign: EventID
    /// When it arrived (ms).
    public let received: UInt64
    /// The name typed; nil once declined (deleted).
    public let name: String?
    /// Whether the visitor asked to be shown as anonymous.
    public let anonymous: Bool
    /// The email typed; nil when none, or once declined.
    public let email: String?
    /// The amount offered, in the campaign's minor units.
    public let amountMinor: Int64
    /// The tier chosen, if any.
    public let tier: EventID?
    /// `waiting`, `accepted` or `declined`.
    public let status: String
    /// When an organiser decided (ms).
    public let decided: UInt64?
    /// The signed pledge that accepted it.
    public let pledge: EventID?

    /// A row.
    public init(
        reference: String, campaign: EventID, received: UInt64, name: String?, anonymous: Bool, email: String?, amountMinor: Int64,
        tier: EventID?, status: String = "waiting", decided: UInt64? = nil, pledge: EventID? = nil
    ) {
        self.reference = reference
        self.campaign = campaign
        self.received = received
        self.name = name
        self.anonymous = anonymous
        self.email = email
        self.amountMinor = amountMinor
        self.tier = tier
        self.status = status
        self.decided = decided
        self.pledge = pledge
    }
}

extension Store {
    /// Turns the public offer form of a campaign on or off at this node.
    public func setOnlineOffers(campaign: EventID, enabled: Bool, now: UInt64) throws(WhipError) {
        try write { db in
            if enabled {
                try db.execute(sql: "INSERT OR IGNORE INTO online_campaigns (campaign, enabled_at) VALUES (?, ?)", arguments: [campaign, Int64(now)])
            } else {
                try db.execute(sql: "DELETE FROM online_campaigns WHERE campaign = ?", arguments: [campaign])
            }
        }
    }

    /// Whether this node takes online offers for a campaign.
    public func onlineOffersEnabled(campaign: EventID) throws(WhipError) -> Bool {
        try read { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM online_campaigns WHERE campaign = ?"), arguments: [campaign]) == true
        }
    }

    /// Stores a new offer unless `max` are already waiting for its campaign; false when full.
    public func insertOnlineOffer(_ o: OnlineOfferRow, max: Int) throws(WhipError) -> Bool {
        try write { db in
            let waiting =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM online_offers WHERE campaign = ? AND status = 'waiting'", arguments: [o.campaign]) ?? 0
            guard waiting < max else { return false }
            try db.execute(
                sql: """
                    INSERT INTO online_offers (reference, campaign, received, name, anonymous, email, amount_minor, tier, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'waiting')
                    """,
                arguments: [o.reference, o.campaign, Int64(o.received), o.name, o.anonymous, o.email, o.amountMinor, o.tier])
            return true
        }
    }

    private static func offerRow(_ r: Row) throws -> OnlineOfferRow {
        OnlineOfferRow(
            reference: try r.value("reference"), campaign: try r.value("campaign"), received: UInt64(try r.value("received") as Int64),
            name: try r.value("name"), anonymous: try r.value("anonymous"), email: try r.value("email"), amountMinor: try r.value("amount_minor"),
            tier: try r.value("tier"), status: try r.value("status"), decided: (r["decided"] as Int64?).map(UInt64.init),
            pledge: try r.value("pledge"))
    }

    /// A campaign's offers, waiting ones first, each group oldest first.
    public func onlineOffers(campaign: EventID) throws(WhipError) -> [OnlineOfferRow] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM online_offers WHERE campaign = ? ORDER BY status <> 'waiting', received", arguments: [campaign]
            ).map(Store.offerRow)
        }
    }

    /// One offer by reference.
    public func onlineOffer(reference: String) throws(WhipError) -> OnlineOfferRow? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM online_offers WHERE reference = ?", arguments: [reference]).map(Store.offerRow) }
    }

    /// Declines a waiting offer and deletes its name and email; false when it was not waiting.
    public func declineOnlineOffer(reference: String, now: UInt64) throws(WhipError) -> Bool {
        try write { db in try Store.decide(db, reference: reference, pledge: nil, now: now) }
    }

    /// Accepts a waiting offer: signs and stores its pledge (made by `make`) and marks the offer accepted, deleting its
    /// name and email here (they now travel sealed in the pledge's parts), in one transaction, so an offer can never
    /// become two pledges. `notFound` when the offer is not waiting.
    public func acceptOnlineOffer(
        reference: String, community: PublicKey, now: UInt64, after: [EventID], author: PublicKey, parts: [PartDraft], make: (HLC) -> Event
    ) throws(WhipError) -> Event {
        var erasures = 0
        return try write { db in
            guard
                try String.fetchOne(db, sql: "SELECT status FROM online_offers WHERE reference = ?", arguments: [reference]) == "waiting"
            else { throw WhipError(.notFound, "the offer \(reference) is not waiting: it was accepted or declined already") }
            let event = try self.appendLocal(
                db, community: community, now: now, after: after, author: author, parts: parts, erasures: &erasures, make: make)
            _ = try Store.decide(db, reference: reference, pledge: event.id, now: now)
            return event
        }
    }

    private static func decide(_ db: Database, reference: String, pledge: EventID?, now: UInt64) throws -> Bool {
        try db.execute(
            sql: """
                UPDATE online_offers SET status = ?, decided = ?, pledge = ?, name = NULL, email = NULL
                WHERE reference = ? AND status = 'waiting'
                """,
            arguments: [pledge == nil ? "declined" : "accepted", Int64(now), pledge, reference])
        return db.changesCount == 1
    }
}
