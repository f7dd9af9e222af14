import Foundation
import GRDB
public import WhipCore
public import WhipCrypto

extension Store {
    /// The community's authority (roles and charity recognition) replayed from its community-level events.
    public func authority(community: PublicKey) throws(WhipError) -> Authority {
        try read { db in
            guard let cref = try Int64.fetchOne(db, sql: "SELECT ref FROM communities WHERE id = ?", arguments: [Data(community.bytes)]) else {
                return Authority(community: community, events: [])
            }
            return try authorities.authority(db, community: community, cref: cref, store: true).0
        }
    }

    /// When each pledge of a campaign last had money received, in ms: the latest applied `pledge.collected` naming
    /// it, or its `pledge.made` when paid on the spot. The Gift Aid donation date.
    public func collectionTimes(campaign: EventID) throws(WhipError) -> [EventID: UInt64] {
        try read { db in
            guard let (pref, _) = try Store.partitionRef(db, campaign) else { return [:] }
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT e.raw FROM events e LEFT JOIN rule_rejections r ON r.seq = e.seq
                    WHERE e.partition = ? AND e.kind IN (?, ?, ?) AND r.seq IS NULL
                    """,
                arguments: [
                    pref, Int64(EventKind.pledgeMade.rawValue), Int64(EventKind.pledgeCollected.rawValue), Int64(EventKind.pledgeMadeV2.rawValue),
                ])
            var out: [EventID: UInt64] = [:]
            while let row = try cursor.next() {
                let e: Event
                do { e = try Event.decode(wire: try row.bytes("raw")) } catch { throw DamagedData("a stored event cannot be decoded: \(error)") }
                switch e.body {
                case .pledgeMade(let b) where b.paid != nil: out[e.id] = max(out[e.id] ?? 0, e.hlc.wall)
                case .pledgeMadeV2(let b) where b.paid != nil: out[e.id] = max(out[e.id] ?? 0, e.hlc.wall)
                case .pledgeCollected(let b): out[b.pledge] = max(out[b.pledge] ?? 0, e.hlc.wall)
                default: break
                }
            }
            return out
        }
    }
}

extension Store {
    /// A stored event's rule status: `applied` or its rule code (PROTOCOL.md §6); nil when the event is not stored.
    public func ruleCode(event: EventID) throws(WhipError) -> String? {
        try read { db in
            guard let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM events WHERE id = ?", arguments: [Data(event.bytes)]) else { return nil }
            return try String.fetchOne(db, sql: "SELECT code FROM rule_rejections WHERE seq = ?", arguments: [seq]) ?? "applied"
        }
    }
}

/// A Gift Aid claim of a tag, as the store keeps it: the claim event and its timestamp (ms).
public struct GiftAidClaimRow: Sendable, Equatable {
    public let claim: EventID
    public let at: UInt64
}

extension Store {
    /// Every claimed tag of a campaign, with the claim that claimed it. Which pledge a tag is, only a node that can
    /// open the declarations (a treasurer's) can tell.
    public func giftAidClaims(campaign: EventID) throws(WhipError) -> [Bytes32: GiftAidClaimRow] {
        try read { db in
            guard let (pref, _) = try Store.partitionRef(db, campaign) else { return [:] }
            var out: [Bytes32: GiftAidClaimRow] = [:]
            for r in try Row.fetchAll(
                db, sql: "SELECT g.tag, e.id, e.hlc_wall FROM giftaid_claims g JOIN events e ON e.seq = g.claim WHERE g.partition = ?",
                arguments: [pref])
            {
                guard let tag = Bytes32([UInt8](try r.value(at: 0, as: Data.self))) else { throw DamagedData("a claimed Gift Aid tag is damaged") }
                out[tag] = GiftAidClaimRow(claim: try r.value(at: 1), at: UInt64(max(0, try r.value(at: 2, as: Int64.self))))
            }
            return out
        }
    }

    /// What anyone may know of a campaign's Gift Aid claims: how many donations in how many claims.
    public func giftAidClaimSummary(campaign: EventID) throws(WhipError) -> (donations: Int, claims: Int) {
        try read { db in
            guard let (pref, _) = try Store.partitionRef(db, campaign) else { return (0, 0) }
            let r = try Row.fetchOne(
                db, sql: "SELECT count(*), count(DISTINCT claim) FROM giftaid_claims WHERE partition = ?", arguments: [pref])
            return (try r?.value(at: 0) ?? 0, try r?.value(at: 1) ?? 0)
        }
    }

    /// The earliest confirmation date recorded by `giftaid.confirmed` for each tag of a campaign.
    public func giftAidConfirmations(campaign: EventID) throws(WhipError) -> [Bytes32: CivilDate] {
        try read { db in
            guard let (pref, _) = try Store.partitionRef(db, campaign) else { return [:] }
            var out: [Bytes32: CivilDate] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT tag, sent FROM giftaid_confirmations WHERE partition = ?", arguments: [pref]) {
                guard let tag = Bytes32([UInt8](try r.value(at: 0, as: Data.self))), let sent = CivilDate(iso: try r.value(at: 1)) else {
                    throw DamagedData("a Gift Aid confirmation is damaged")
                }
                out[tag] = sent
            }
            return out
        }
    }
}

/// The derived Gift Aid rows of a campaign: claimed tags and confirmation dates.
enum GiftAidRows {
    static func isGiftAidKind(_ k: EventKind) -> Bool { k == .giftAidClaimed || k == .giftAidConfirmed }

    /// Writes the claimed tags and confirmations of `c` (the partition's old rows are already deleted).
    static func write(_ db: Database, _ c: CampaignState, _ pref: Int64, _ seqs: Materializer.Seqs) throws {
        let claim = try db.cachedStatement(sql: "INSERT INTO giftaid_claims (tag, claim, partition) VALUES (?, ?, ?)")
        for (tag, event) in c.giftAidClaims {
            guard let seq = seqs[event] else { continue }
            try claim.execute(arguments: [Data(tag.array), seq, pref])
        }
        let confirmed = try db.cachedStatement(sql: "INSERT INTO giftaid_confirmations (tag, partition, sent) VALUES (?, ?, ?)")
        for (tag, sent) in c.giftAidConfirmed { try confirmed.execute(arguments: [Data(tag.array), pref, sent.iso]) }
    }
}
