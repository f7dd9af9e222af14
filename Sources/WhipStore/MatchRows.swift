import Foundation
import GRDB
public import WhipCore
public import WhipCrypto

/// A match offer as stored: its terms, where it stands and what it adds to the campaign.
public struct MatchOfferRow: Sendable {
    public let id: EventID
    public let campaign: EventID
    public let funder: PublicKey
    public let funderName: String
    public let mode: MatchMode
    public let factor: MatchFactor?
    public let pledgeCap: Money?
    public let campaignCap: Money
    public let from: UInt64?
    public let until: UInt64?
    public let tier: EventID?
    public let channel: Channel?
    public let minPercent: Int
    public let minBackers: Int
    public let madeAt: UInt64
    public let accepted: Bool
    public let withdrawnAt: UInt64?
    public let settlementPages: Int?
    public let settledPages: Int
    public let status: OfferStatus
    public let matched: Money

    /// Provisional until settled: a late offline pledge can still move it.
    public var provisional: Bool { status != .settled && status != .cancelled && status != .pending }
}

/// One pledge's match from one offer.
public struct PledgeMatchRow: Sendable {
    public let pledge: EventID
    public let offer: EventID
    public let matched: Money
    public let status: PledgeMatchStatus
}

/// Writes and reads the derived match funding rows (`match_offers`, `pledge_matches`).
enum MatchRows {
    static func isMatchKind(_ k: EventKind) -> Bool {
        k == .matchOffered || k == .matchAccepted || k == .matchWithdrawn || k == .matchSettled
    }

    static func hasOffers(_ db: Database, _ pref: Int64) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM match_offers WHERE partition = ?)", arguments: [pref]) ?? false
    }

    /// Writes every offer of `c` and every pledge's match (the partition's old rows are already deleted).
    static func write(_ db: Database, _ c: CampaignState, _ pref: Int64, _ seqs: Materializer.Seqs) throws {
        guard !c.offers.isEmpty else { return }
        let ins = try db.cachedStatement(
            sql: """
                INSERT INTO match_offers (seq, partition, funder, funder_name, mode, factor_num, factor_den, pledge_cap_minor,
                    campaign_cap_minor, from_ms, until_ms, tier, channel, min_percent, min_backers, made_ms, accepted, withdrawn_ms,
                    settlement_pages, settled_pages, status, matched_minor)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let pm = try db.cachedStatement(
            sql: "INSERT INTO pledge_matches (pledge, offer, partition, matched_minor, status) VALUES (?, ?, ?, ?, ?)")
        for o in c.offers.values {
            guard let seq = seqs[o.id] else { continue }
            let t = o.terms
            let r = c.matchOutcomes[o.id]
            try ins.execute(arguments: [
                seq, pref, Data(o.funder.bytes), t.funderName, t.mode.name, t.factor.map { Int64($0.numerator) },
                t.factor.map { Int64($0.denominator) }, t.pledgeCap, t.campaignCap, t.from.map { Int64(clamping: $0) },
                t.until.map { Int64(clamping: $0) }, t.tier.flatMap { seqs[$0] }, t.channel.map { Int64($0.rawValue) },
                Int64(t.minPercent), Int64(t.minBackers), Int64(clamping: o.madeAt.wall), o.accepted,
                o.withdrawnAt.map { Int64(clamping: $0.wall) }, o.settlementPages.map { Int64($0) }, o.settledPages.count,
                (r?.status ?? .pending).rawValue, r?.matched ?? 0,
            ])
            for (pledge, m) in r?.pledges ?? [:] {
                guard let pseq = seqs[pledge] else { continue }
                try pm.execute(arguments: [pseq, seq, pref, m.amount, m.status.rawValue])
            }
        }
    }
}

extension Store {
    /// The match offers of a campaign, oldest first.
    public func matchOffers(campaign: EventID) throws(WhipError) -> [MatchOfferRow] {
        try read { db in
            guard let (pref, cur) = try Store.partitionRef(db, campaign) else { return [] }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT o.*, e.id AS offer_id, te.id AS tier_id FROM match_offers o JOIN events e ON e.seq = o.seq
                    LEFT JOIN events te ON te.seq = o.tier WHERE o.partition = ? ORDER BY o.made_ms, e.id
                    """, arguments: [pref])
            return try rows.map { r in try Store.matchOffer(r, campaign: campaign, currency: cur) }
        }
    }

    /// Every match offer of every campaign of a community (or all), oldest first.
    public func allMatchOffers(community: PublicKey? = nil) throws(WhipError) -> [MatchOfferRow] {
        var out: [MatchOfferRow] = []
        for c in try campaigns(community: community) { out += try matchOffers(campaign: c.id) }
        return out.sorted { ($0.madeAt, $0.id) < ($1.madeAt, $1.id) }
    }

    static func matchOffer(_ r: Row, campaign: EventID, currency cur: Currency) throws -> MatchOfferRow {
        guard let mode = MatchMode(name: try r.value("mode")), let status = OfferStatus(rawValue: try r.value("status")) else {
            throw DamagedData("a match offer's mode or status is not one this version knows")
        }
        let num = try r.value("factor_num", as: Int64?.self)
        let den = try r.value("factor_den", as: Int64?.self)
        let channel = try r.value("channel", as: Int64?.self)
        return MatchOfferRow(
            id: try r.value("offer_id", as: EventID.self), campaign: campaign, funder: try r.value("funder", as: PublicKey.self),
            funderName: try r.value("funder_name"), mode: mode,
            factor: num.flatMap { n in den.map { MatchFactor(numerator: UInt64(clamping: n), denominator: UInt64(clamping: $0)) } },
            pledgeCap: try r.value("pledge_cap_minor", as: Int64?.self).map { Money(minor: $0, currency: cur) },
            campaignCap: Money(minor: try r.value("campaign_cap_minor"), currency: cur),
            from: try r.value("from_ms", as: Int64?.self).map { UInt64(clamping: $0) },
            until: try r.value("until_ms", as: Int64?.self).map { UInt64(clamping: $0) },
            tier: try r.value("tier_id", as: EventID?.self),
            channel: channel.flatMap { Channel(rawValue: UInt64(clamping: $0)) },
            minPercent: try r.value("min_percent"), minBackers: try r.value("min_backers"),
            madeAt: try r.unsigned("made_ms"), accepted: try r.value("accepted"),
            withdrawnAt: try r.value("withdrawn_ms", as: Int64?.self).map { UInt64(clamping: $0) },
            settlementPages: try r.value("settlement_pages"), settledPages: try r.value("settled_pages"), status: status,
            matched: Money(minor: try r.value("matched_minor"), currency: cur))
    }

    /// Every pledge's match from every accepted match-mode offer of a campaign.
    public func pledgeMatches(campaign: EventID) throws(WhipError) -> [PledgeMatchRow] {
        try read { db in
            guard let (pref, cur) = try Store.partitionRef(db, campaign) else { return [] }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT pe.id AS pledge_id, oe.id AS offer_id, x.matched_minor, x.status FROM pledge_matches x
                    JOIN events pe ON pe.seq = x.pledge JOIN events oe ON oe.seq = x.offer
                    JOIN pledges p ON p.seq = x.pledge
                    WHERE x.partition = ? ORDER BY p.made_ms, p.made_counter, pe.id, oe.id
                    """, arguments: [pref])
            return try rows.map { r in
                guard let status = PledgeMatchStatus(rawValue: try r.value("status")) else {
                    throw DamagedData("a pledge match status is not one this version knows")
                }
                return PledgeMatchRow(
                    pledge: try r.value("pledge_id", as: EventID.self), offer: try r.value("offer_id", as: EventID.self),
                    matched: Money(minor: try r.value("matched_minor"), currency: cur), status: status)
            }
        }
    }
}

/// A funder's budget in one currency beside what its offers hold of it (PROTOCOL.md §6.44, §7.7): shown by
/// every node, enforced only by the funder's own node before it signs an offer.
public struct FunderBudgetRow: Sendable {
    public let community: PublicKey
    public let funder: PublicKey
    /// The name on the funder's latest offer, if it made any.
    public let funderName: String?
    public let currency: Currency
    /// The stated budget; nil when the funder never signed a `funder.budget` in this currency.
    public let budget: Money?
    /// Campaign caps that offers may still pay: pending and open offers on campaigns not yet over, and the
    /// provisional match of withdrawn offers until they are settled.
    public let reserved: Money
    /// What settled offers pay.
    public let paid: Money
    /// What went back to the budget: caps of withdrawn, failed, cancelled and expired offers, and the part of a
    /// settled or withdrawn offer's cap it does not pay.
    public let freed: Money
    /// Offers made in this currency.
    public let offers: Int

    /// The budget less reserved and paid (negative when over-committed); nil without a budget.
    public var remaining: Money? {
        budget.map { b in
            let (a, o1) = b.minor.subtractingReportingOverflow(reserved.minor)
            let (r, o2) = a.subtractingReportingOverflow(paid.minor)
            return Money(minor: o1 || o2 ? Int64.min : r, currency: currency)
        }
    }
}

extension Store {
    /// Every funder's budget, reservations and payments per currency, at `now` (ms), sorted by funder then
    /// currency: the funders with a stated budget and those with offers.
    public func funderBudgets(community: PublicKey? = nil, now: UInt64) throws(WhipError) -> [FunderBudgetRow] {
        struct Key: Hashable {
            let community: PublicKey
            let funder: PublicKey
            let currency: String
        }
        struct Tally {
            var name: String?
            var named: (UInt64, EventID)?
            var budget: Int64?
            var reserved: Int64 = 0
            var paid: Int64 = 0
            var freed: Int64 = 0
            var offers = 0
        }
        func add(_ a: inout Int64, _ b: Int64) {
            let (s, o) = a.addingReportingOverflow(b)
            a = o ? Int64.max : s
        }
        var tallies: [Key: Tally] = [:]
        let stated = try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT c.id AS community_id, b.funder, b.currency, b.amount_minor FROM funder_budgets b
                    JOIN communities c ON c.ref = b.community
                    """
            ).map { r in
                (
                    Key(
                        community: try r.value("community_id", as: PublicKey.self), funder: try r.value("funder", as: PublicKey.self),
                        currency: try r.value("currency", as: String.self)), try r.value("amount_minor", as: Int64.self)
                )
            }
        }
        for (key, amount) in stated { tallies[key, default: Tally()].budget = amount }
        for c in try campaigns(community: community) {
            let standing = c.standing(now: now)
            let over = standing != .draft && standing != .live
            for o in try matchOffers(campaign: c.id) {
                let key = Key(community: c.community, funder: o.funder, currency: o.campaignCap.currency.code)
                var t = tallies[key, default: Tally()]
                t.offers += 1
                if t.named.map({ ($0.0, $0.1) < (o.madeAt, o.id) }) ?? true {
                    t.name = o.funderName
                    t.named = (o.madeAt, o.id)
                }
                let cap = o.campaignCap.minor
                let matched = o.matched.minor
                switch o.status {
                case .settled:
                    add(&t.paid, matched)
                    add(&t.freed, cap - matched)
                case .failed, .cancelled:
                    add(&t.freed, cap)
                case _ where standing.refundsDue:
                    // Closed short of the goal at this node's clock, before an event shows it (§7.7).
                    add(&t.freed, cap)
                case .withdrawn:
                    add(&t.reserved, matched)
                    add(&t.freed, cap - matched)
                case .pending where over || o.withdrawnAt != nil:
                    // Never accepted before the close, or withdrawn before it was: it can no longer count.
                    add(&t.freed, cap)
                case .pending, .open, .conditionsNotMet:
                    add(&t.reserved, cap)
                }
                tallies[key] = t
            }
        }
        return tallies.compactMap { key, t -> FunderBudgetRow? in
            guard community == nil || key.community == community, let currency = Currency(code: key.currency) else { return nil }
            return FunderBudgetRow(
                community: key.community, funder: key.funder, funderName: t.name, currency: currency,
                budget: t.budget.map { Money(minor: $0, currency: currency) }, reserved: Money(minor: t.reserved, currency: currency),
                paid: Money(minor: t.paid, currency: currency), freed: Money(minor: t.freed, currency: currency), offers: t.offers)
        }
        .sorted { ($0.community, $0.funder, $0.currency.code) < ($1.community, $1.funder, $1.currency.code) }
    }
}
