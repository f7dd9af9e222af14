import Foundation
import GRDB
import WhipCore
import WhipCrypto

/// Keeps the derived tables equal to a full replay of the event log, touching only what a batch affects:
/// the campaign partitions its events name, or every partition of a community when roles change.
enum Materializer {
    /// Re-derives what `newEvents` (already inserted) affect and returns the status of every re-derived event.
    static func apply(_ db: Database, newEvents: [Event]) throws -> [EventID: EventStatus] {
        var statuses = [EventID: EventStatus]()
        let byCommunity = Dictionary(grouping: newEvents, by: \.community)
        for (community, events) in byCommunity {
            let cid = Data(community.bytes)
            guard let row = try Row.fetchOne(db, sql: "SELECT fingerprint, max_wall, max_counter FROM communities WHERE id = ?", arguments: [cid]) else {
                continue
            }
            var fp = EventSetFingerprint(bytes: [UInt8](row["fingerprint"] as Data)) ?? EventSetFingerprint()
            var maxHLC = HLC(wall: UInt64(row["max_wall"] as Int64), counter: UInt32(row["max_counter"] as Int64))
            for e in events {
                fp.add(e.id)
                maxHLC = max(maxHLC, e.hlc)
            }
            let authorityChanged = events.contains { Authority.isCommunityLevel($0.kind) }
            let authority = Authority(community: community, events: try loadEvents(db, sql: "SELECT raw FROM events WHERE community = ? AND campaign IS NULL", cid))
            var partitions = Set(events.compactMap(\.campaign))
            if authorityChanged {
                partitions.formUnion(try Data.fetchAll(db, sql: "SELECT campaign FROM partitions WHERE community = ?", arguments: [cid]).map { EventID(bytes: [UInt8]($0))! })
                try writeAuthority(db, authority, cid)
                statuses.merge(authority.statuses) { $1 }
            }
            for p in partitions {
                let evs = try loadEvents(db, sql: "SELECT raw FROM events WHERE campaign = ?", Data(p.bytes))
                let result = CampaignLedger.derive(id: p, events: evs, authority: authority)
                try writePartition(db, p, result, cid)
                statuses.merge(result.statuses) { $1 }
            }
            let authorityDigest = authorityChanged ? StateDigest.authority(authority) : try [UInt8](
                Data.fetchOne(db, sql: "SELECT authority_digest FROM communities WHERE id = ?", arguments: [cid]) ?? Data(StateDigest.authority(authority)))
            let parts = try Row.fetchAll(db, sql: "SELECT campaign, digest FROM partitions WHERE community = ?", arguments: [cid]).map {
                (EventID(bytes: [UInt8]($0[0] as Data))!, [UInt8]($0[1] as Data))
            }
            let count = try Int.fetchOne(db, sql: "SELECT event_count FROM communities WHERE id = ?", arguments: [cid])! + events.count
            let digest = StateDigest.community(community, authority: authorityDigest, partitions: parts, eventCount: count, fingerprint: fp)
            try db.execute(
                sql: """
                    UPDATE communities SET fingerprint = ?, event_count = ?, authority_digest = ?, digest = ?, founder = ?,
                        max_wall = ?, max_counter = ?, name = coalesce(?, name) WHERE id = ?
                    """,
                arguments: [
                    Data(fp.bytes), count, Data(authorityDigest), Data(digest), authority.founder.map { Data($0.bytes) },
                    Int64(maxHLC.wall), Int64(maxHLC.counter), authority.name, cid,
                ])
        }
        return statuses
    }

    /// Rebuilds every derived row of a community from its events.
    static func rebuild(_ db: Database, community: PublicKey) throws {
        let cid = Data(community.bytes)
        for table in ["rule_rejections", "roles", "partitions"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE community = ?", arguments: [cid])
        }
        try db.execute(sql: "DELETE FROM pledges WHERE campaign IN (SELECT id FROM campaigns WHERE community = ?)", arguments: [cid])
        try db.execute(sql: "DELETE FROM tiers WHERE campaign IN (SELECT id FROM campaigns WHERE community = ?)", arguments: [cid])
        try db.execute(sql: "DELETE FROM campaigns WHERE community = ?", arguments: [cid])
        try db.execute(
            sql: "UPDATE communities SET fingerprint = zeroblob(32), event_count = 0, authority_digest = NULL, digest = NULL, max_wall = 0, max_counter = 0 WHERE id = ?",
            arguments: [cid])
        let all = try loadEvents(db, sql: "SELECT raw FROM events WHERE community = ?", cid)
        // The authority pass must see every role event, so feed them all in one call.
        _ = try apply(db, newEvents: all)
    }

    static func loadEvents(_ db: Database, sql: String, _ arg: Data) throws -> [Event] {
        var out = [Event]()
        let cursor = try Data.fetchCursor(db, sql: sql, arguments: [arg])
        while let raw = try cursor.next() {
            // Stored events were verified on entry; decoding re-checks their form and recomputes the id.
            out.append(try Event.decode(wire: [UInt8](raw)))
        }
        return out
    }

    static func writeAuthority(_ db: Database, _ a: Authority, _ cid: Data) throws {
        try db.execute(sql: "DELETE FROM roles WHERE community = ?", arguments: [cid])
        try db.execute(sql: "DELETE FROM rule_rejections WHERE community = ? AND campaign IS NULL", arguments: [cid])
        let ins = try db.cachedStatement(sql: "INSERT INTO roles (community, member, role, granted, by, at_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
        for (mr, entries) in a.timeline {
            guard let last = entries.last else { continue }
            try ins.execute(arguments: [
                cid, Data(mr.member.bytes), mr.role.name, last.granted, Data(last.by.bytes), Int64(last.at.hlc.wall),
                last.expires.map { Int64(clamping: $0) },
            ])
        }
        try writeRuleRejections(db, a.statuses, cid, campaign: nil)
    }

    static func writeRuleRejections(_ db: Database, _ statuses: [EventID: EventStatus], _ cid: Data, campaign: Data?) throws {
        let ins = try db.cachedStatement(sql: "INSERT OR REPLACE INTO rule_rejections (event_id, community, campaign, code, message) VALUES (?, ?, ?, ?, ?)")
        for (id, s) in statuses {
            if case .rejected(let v) = s { try ins.execute(arguments: [Data(id.bytes), cid, campaign, v.code, v.message]) }
        }
    }

    static func writePartition(_ db: Database, _ p: EventID, _ r: CampaignLedger.Result, _ cid: Data) throws {
        let pid = Data(p.bytes)
        try db.execute(sql: "DELETE FROM pledges WHERE campaign = ?", arguments: [pid])
        try db.execute(sql: "DELETE FROM tiers WHERE campaign = ?", arguments: [pid])
        try db.execute(sql: "DELETE FROM campaigns WHERE id = ?", arguments: [pid])
        try db.execute(sql: "DELETE FROM rule_rejections WHERE campaign = ?", arguments: [pid])
        try writeRuleRejections(db, r.statuses, cid, campaign: pid)
        try db.execute(
            sql: "INSERT OR REPLACE INTO partitions (campaign, community, digest) VALUES (?, ?, ?)",
            arguments: [pid, cid, Data(StateDigest.partition(r))])
        guard let c = r.campaign else { return }
        try db.execute(
            sql: """
                INSERT INTO campaigns (id, community, title, description, goal_minor, currency, minor_digits, model, opens_ms, closes_ms,
                    time_zone, phase, cancel_reason, pledged_minor, collected_minor, backers, created_by, created_ms, organisers)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                pid, cid, c.title, c.description, c.goal, c.currency.code, c.currency.exponent, c.model.name, Int64(clamping: c.opens),
                Int64(clamping: c.closes), c.timeZone, c.phase.rawValue, c.cancelReason, c.pledged, c.collected, c.backers,
                Data(c.createdBy.bytes), Int64(clamping: c.createdAt.wall), Data(c.organisers.flatMap(\.bytes)),
            ])
        let tierIns = try db.cachedStatement(
            sql: "INSERT INTO tiers (id, campaign, title, description, minimum_minor, quantity_limit, claimed, waitlisted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        for t in c.tiers.values {
            try tierIns.execute(arguments: [Data(t.id.bytes), pid, t.title, t.description, t.minimum, t.limit.map { Int64($0) }, t.claimed, t.waitlisted])
        }
        let pledgeIns = try db.cachedStatement(
            sql: """
                INSERT INTO pledges (id, campaign, author, made_ms, made_counter, backer_name, anonymous, amount_minor, tier, channel,
                    status, waitlisted, collected_minor, collected_by, collected_method, reject_reason, contact)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for p in c.pledges.values {
            let contact: Data? =
                p.contact.isEmpty
                ? nil : Data(CBOR.array(p.contact.map { .array([.bytes($0.recipient.bytes), .bytes($0.ciphertext)]) }).encoded())
            try pledgeIns.execute(arguments: [
                Data(p.id.bytes), pid, Data(p.author.bytes), Int64(clamping: p.madeAt.wall), Int64(p.madeAt.counter), p.backerName,
                p.anonymous, p.amount, p.tier.map { Data($0.bytes) }, p.channel.name, p.status.rawValue, p.waitlisted, p.collected,
                p.collectedBy.map { Data($0.bytes) }, p.collectedMethod?.name, p.rejectReason, contact,
            ])
        }
    }
}
