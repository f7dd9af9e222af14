import Foundation
import GRDB
import WhipCore
import WhipCrypto

/// Keeps the derived tables equal to a full replay of the event log, touching only what a batch affects.
///
/// Fast path: when every new event of a campaign sorts after the last event applied to it and no role
/// changed, the rules resume from the stored campaign, tiers and running totals, loading only the pledges
/// the new events refer to. Otherwise the campaign is replayed from all its events. Both write the same rows
/// and the same digest; tests and `whipround doctor` check that against a full rebuild.
enum Materializer {
    /// Re-derives what `newEvents` (already inserted) affect and returns the status of every re-derived event.
    static func apply(_ db: Database, newEvents: [Event], forceFull: Bool = false) throws -> [EventID: EventStatus] {
        var statuses = [EventID: EventStatus]()
        let byCommunity = Dictionary(grouping: newEvents, by: \.community)
        for (community, events) in byCommunity {
            let cid = Data(community.bytes)
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT fingerprint, max_wall, max_counter, event_count, authority_digest FROM communities WHERE id = ?",
                    arguments: [cid])
            else {
                continue
            }
            var fp = EventSetFingerprint(bytes: [UInt8](row["fingerprint"] as Data)) ?? EventSetFingerprint()
            var maxHLC = HLC(wall: UInt64(row["max_wall"] as Int64), counter: UInt32(row["max_counter"] as Int64))
            for e in events {
                fp.add(e.id)
                maxHLC = max(maxHLC, e.hlc)
            }
            let authorityChanged = forceFull || events.contains { Authority.isCommunityLevel($0.kind) }
            let authority = Authority(
                community: community, events: try loadEvents(db, sql: "SELECT raw FROM events WHERE community = ? AND campaign IS NULL", cid))
            var byPartition = Dictionary(grouping: events.filter { $0.campaign != nil }, by: { $0.campaign! })
            if authorityChanged {
                for p in try Data.fetchAll(db, sql: "SELECT campaign FROM partitions WHERE community = ?", arguments: [cid]) {
                    byPartition[EventID(bytes: [UInt8](p))!, default: []] += []
                }
                try writeAuthority(db, authority, cid)
                statuses.merge(authority.statuses) { $1 }
            }
            for (p, pevents) in byPartition {
                statuses.merge(try derivePartition(db, p, pevents, authority: authority, full: authorityChanged, cid)) { $1 }
            }
            let authorityDigest: [UInt8] =
                if authorityChanged || row["authority_digest"] == nil { StateDigest.authority(authority) } else {
                    [UInt8](row["authority_digest"] as Data)
                }
            let parts = try Row.fetchAll(db, sql: "SELECT campaign, digest FROM partitions WHERE community = ?", arguments: [cid]).map {
                (EventID(bytes: [UInt8]($0[0] as Data))!, [UInt8]($0[1] as Data))
            }
            let count = (row["event_count"] as Int) + events.count
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
            sql:
                "UPDATE communities SET fingerprint = zeroblob(32), event_count = 0, authority_digest = NULL, digest = NULL, max_wall = 0, max_counter = 0 WHERE id = ?",
            arguments: [cid])
        let all = try loadEvents(db, sql: "SELECT raw FROM events WHERE community = ?", cid)
        _ = try apply(db, newEvents: all, forceFull: true)
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
        let ins = try db.cachedStatement(
            sql: "INSERT INTO roles (community, member, role, granted, by, at_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
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
        let ins = try db.cachedStatement(
            sql: "INSERT OR REPLACE INTO rule_rejections (event_id, community, campaign, code, message) VALUES (?, ?, ?, ?, ?)")
        for (id, s) in statuses {
            if case .rejected(let v) = s { try ins.execute(arguments: [Data(id.bytes), cid, campaign, v.code, v.message]) }
        }
    }

    struct PartitionRow {
        var maxKey: OrderKey
        var sums: PartitionSums
    }

    static func loadPartition(_ db: Database, _ pid: Data) throws -> PartitionRow? {
        guard let r = try Row.fetchOne(db, sql: "SELECT * FROM partitions WHERE campaign = ?", arguments: [pid]) else { return nil }
        var sums = PartitionSums()
        sums.pledges = Sum256(bytes: [UInt8](r["pledge_sum"] as Data)) ?? Sum256()
        sums.statuses = Sum256(bytes: [UInt8](r["status_sum"] as Data)) ?? Sum256()
        sums.pledgeCount = r["pledge_count"]
        sums.statusCount = r["status_count"]
        let key = OrderKey(
            hlc: HLC(wall: UInt64(r["max_wall"] as Int64), counter: UInt32(r["max_counter"] as Int64)),
            author: [UInt8](r["max_author"] as Data), id: [UInt8](r["max_id"] as Data))
        return PartitionRow(maxKey: key, sums: sums)
    }

    /// Re-derives one campaign partition after `newEvents` were stored.
    static func derivePartition(
        _ db: Database, _ p: EventID, _ newEvents: [Event], authority: Authority, full: Bool, _ cid: Data
    ) throws -> [EventID: EventStatus] {
        let pid = Data(p.bytes)
        let stored = full ? nil : try loadPartition(db, pid)
        if let stored, !newEvents.isEmpty, newEvents.allSatisfy({ $0.orderKey > stored.maxKey }) {
            return try resumePartition(db, p, newEvents, stored, authority: authority, cid)
        }
        let all = try loadEvents(db, sql: "SELECT raw FROM events WHERE campaign = ?", pid)
        let result = CampaignLedger.derive(id: p, events: all, authority: authority)
        try db.execute(sql: "DELETE FROM pledges WHERE campaign = ?", arguments: [pid])
        try db.execute(sql: "DELETE FROM tiers WHERE campaign = ?", arguments: [pid])
        try db.execute(sql: "DELETE FROM campaigns WHERE id = ?", arguments: [pid])
        try db.execute(sql: "DELETE FROM rule_rejections WHERE campaign = ?", arguments: [pid])
        try writeRuleRejections(db, result.statuses, cid, campaign: pid)
        if let c = result.campaign {
            try writeCampaign(db, c, cid)
            for p in c.pledges.values { try writePledge(db, p, pid) }
        }
        let maxKey = all.map(\.orderKey).max() ?? OrderKey(hlc: HLC(wall: 0), author: [], id: [])
        try writePartitionRow(db, pid, cid, result.campaign, StateDigest.sums(result), maxKey)
        return result.statuses
    }

    /// The fast path: resume the rules from the stored state.
    static func resumePartition(
        _ db: Database, _ p: EventID, _ newEvents: [Event], _ stored: PartitionRow, authority: Authority, _ cid: Data
    ) throws -> [EventID: EventStatus] {
        let pid = Data(p.bytes)
        var state = try loadCampaign(db, p)
        var before = [EventID: PledgeState]()
        if state != nil {
            for id in CampaignLedger.referencedPledges(newEvents) {
                if let pl = try loadPledge(db, id, campaign: pid) { before[id] = pl }
            }
            state!.pledges = before
        }
        let tiersBefore = state?.tiers ?? [:]
        let result = CampaignLedger.resume(id: p, from: state, events: newEvents, authority: authority)
        var sums = stored.sums
        for (id, s) in result.statuses { sums.statuses.add(StateDigest.status(id, s)) }
        sums.statusCount += result.statuses.count
        try writeRuleRejections(db, result.statuses, cid, campaign: pid)
        if var c = result.campaign {
            var touchedTiers = Set<EventID>()
            for (id, var pl) in c.pledges {
                if !pl.counts { pl.waitlisted = false }
                if let old = before[id] {
                    guard old != pl else { continue }
                    sums.pledges.subtract(StateDigest.pledge(old))
                    if let t = old.tier { touchedTiers.insert(t) }
                } else {
                    sums.pledgeCount += 1
                }
                sums.pledges.add(StateDigest.pledge(pl))
                if let t = pl.tier { touchedTiers.insert(t) }
                try writePledge(db, pl, pid)
            }
            for (id, t) in c.tiers where tiersBefore[id] != t { touchedTiers.insert(id) }
            for t in touchedTiers {
                guard var tier = c.tiers[t] else { continue }
                try allocate(db, &tier, pid)
                c.tiers[t] = tier
            }
            try writeCampaign(db, c, cid, pledgesToo: false)
        }
        let maxKey = max(stored.maxKey, newEvents.map(\.orderKey).max()!)
        try writePartitionRow(db, pid, cid, result.campaign, sums, maxKey)
        return result.statuses
    }

    /// Decides a tier's places from the stored pledges: earliest active (timestamp, then id) win.
    static func allocate(_ db: Database, _ tier: inout TierState, _ pid: Data) throws {
        guard let limit = tier.limit.map(Int.init) else {
            tier.claimed = tier.active
            tier.waitlisted = 0
            return
        }
        let rows = try Row.fetchAll(
            db, sql: "SELECT id, waitlisted FROM pledges WHERE tier = ? AND status = 'active' ORDER BY made_ms, made_counter, id",
            arguments: [Data(tier.id.bytes)])
        let update = try db.cachedStatement(sql: "UPDATE pledges SET waitlisted = ? WHERE id = ?")
        for (i, r) in rows.enumerated() {
            let want = i >= limit
            if (r["waitlisted"] as Bool) != want { try update.execute(arguments: [want, r["id"] as Data]) }
        }
        tier.claimed = min(rows.count, limit)
        tier.waitlisted = max(0, rows.count - limit)
    }

    static func writePartitionRow(_ db: Database, _ pid: Data, _ cid: Data, _ c: CampaignState?, _ sums: PartitionSums, _ maxKey: OrderKey) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO partitions (campaign, community, digest, max_wall, max_counter, max_author, max_id,
                    pledge_sum, pledge_count, status_sum, status_count)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                pid, cid, Data(StateDigest.partition(campaign: c, sums: sums)), Int64(clamping: maxKey.hlc.wall), Int64(maxKey.hlc.counter),
                Data(maxKey.author), Data(maxKey.id), Data(sums.pledges.bytes), sums.pledgeCount, Data(sums.statuses.bytes), sums.statusCount,
            ])
    }

    static func writeCampaign(_ db: Database, _ c: CampaignState, _ cid: Data, pledgesToo: Bool = true) throws {
        let pid = Data(c.id.bytes)
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO campaigns (id, community, title, description, goal_minor, currency, minor_digits, model, opens_ms,
                    closes_ms, time_zone, phase, cancel_reason, pledged_minor, collected_minor, backers, created_by, created_ms,
                    created_counter, organisers, has_pledges)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                pid, cid, c.title, c.description, c.goal, c.currency.code, c.currency.exponent, c.model.name, Int64(clamping: c.opens),
                Int64(clamping: c.closes), c.timeZone, c.phase.rawValue, c.cancelReason, c.pledged, c.collected, c.backers,
                Data(c.createdBy.bytes), Int64(clamping: c.createdAt.wall), Int64(c.createdAt.counter), Data(c.organisers.flatMap(\.bytes)),
                c.hasPledges,
            ])
        let tierIns = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO tiers (id, campaign, title, description, minimum_minor, quantity_limit, active, claimed, waitlisted)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for t in c.tiers.values {
            try tierIns.execute(arguments: [
                Data(t.id.bytes), pid, t.title, t.description, t.minimum, t.limit.map { Int64($0) }, t.active, t.claimed, t.waitlisted,
            ])
        }
    }

    static func writePledge(_ db: Database, _ p: PledgeState, _ pid: Data) throws {
        let contact: Data? =
            p.contact.isEmpty ? nil : Data(CBOR.array(p.contact.map { .array([.bytes($0.recipient.bytes), .bytes($0.ciphertext)]) }).encoded())
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO pledges (id, campaign, author, made_ms, made_counter, backer_name, anonymous, amount_minor, tier,
                    channel, status, waitlisted, collected_minor, collected_by, collected_method, reject_reason, contact)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            Data(p.id.bytes), pid, Data(p.author.bytes), Int64(clamping: p.madeAt.wall), Int64(p.madeAt.counter), p.backerName,
            p.anonymous, p.amount, p.tier.map { Data($0.bytes) }, p.channel.name, p.status.rawValue, p.waitlisted, p.collected,
            p.collectedBy.map { Data($0.bytes) }, p.collectedMethod?.name, p.rejectReason, contact,
        ])
    }

    static func key(_ d: Data) -> PublicKey { PublicKey(bytes: [UInt8](d))! }

    /// The stored campaign and its tiers, without pledges.
    static func loadCampaign(_ db: Database, _ id: EventID) throws -> CampaignState? {
        guard let r = try Row.fetchOne(db, sql: "SELECT * FROM campaigns WHERE id = ?", arguments: [Data(id.bytes)]) else { return nil }
        let org = [UInt8](r["organisers"] as Data)
        var c = CampaignState(
            id: id, createdBy: key(r["created_by"]),
            createdAt: HLC(wall: UInt64(r["created_ms"] as Int64), counter: UInt32(r["created_counter"] as Int64)),
            title: r["title"], description: r["description"], goal: r["goal_minor"], currency: Currency(code: r["currency"])!,
            model: FundingModel(name: r["model"])!, opens: UInt64(r["opens_ms"] as Int64), closes: UInt64(r["closes_ms"] as Int64),
            timeZone: r["time_zone"], organisers: stride(from: 0, to: org.count, by: 32).map { PublicKey(bytes: Array(org[$0..<$0 + 32]))! })
        c.phase = CampaignPhase(rawValue: r["phase"])!
        c.cancelReason = r["cancel_reason"]
        c.pledged = r["pledged_minor"]
        c.collected = r["collected_minor"]
        c.backers = r["backers"]
        c.hasPledges = r["has_pledges"]
        for t in try Row.fetchAll(db, sql: "SELECT * FROM tiers WHERE campaign = ?", arguments: [Data(id.bytes)]) {
            let tid = EventID(bytes: [UInt8](t["id"] as Data))!
            var tier = TierState(
                id: tid, title: t["title"], description: t["description"], minimum: t["minimum_minor"],
                limit: (t["quantity_limit"] as Int64?).map { UInt32($0) })
            tier.active = t["active"]
            tier.claimed = t["claimed"]
            tier.waitlisted = t["waitlisted"]
            c.tiers[tid] = tier
        }
        return c
    }

    /// A stored pledge of campaign `pid`, or nil.
    static func loadPledge(_ db: Database, _ id: EventID, campaign pid: Data) throws -> PledgeState? {
        guard let r = try Row.fetchOne(db, sql: "SELECT * FROM pledges WHERE id = ? AND campaign = ?", arguments: [Data(id.bytes), pid]) else {
            return nil
        }
        var contact: [SealedContact] = []
        if let raw = r["contact"] as Data?, case .array(let items) = try CBOR.decode([UInt8](raw)) {
            for case .array(let pair) in items where pair.count == 2 {
                if case .bytes(let k) = pair[0], case .bytes(let ct) = pair[1], let pk = PublicKey(bytes: k) {
                    contact.append(SealedContact(recipient: pk, ciphertext: ct))
                }
            }
        }
        var p = PledgeState(
            id: id, author: key(r["author"]), madeAt: HLC(wall: UInt64(r["made_ms"] as Int64), counter: UInt32(r["made_counter"] as Int64)),
            backerName: r["backer_name"], anonymous: r["anonymous"], amount: r["amount_minor"],
            tier: (r["tier"] as Data?).flatMap { EventID(bytes: [UInt8]($0)) }, channel: Channel(name: r["channel"])!,
            status: PledgeStatus(rawValue: r["status"])!, contact: contact)
        p.waitlisted = r["waitlisted"]
        p.collected = r["collected_minor"]
        p.collectedBy = (r["collected_by"] as Data?).map(key)
        p.collectedMethod = (r["collected_method"] as String?).flatMap(PaymentMethod.init(name:))
        p.rejectReason = r["reject_reason"]
        return p
    }
}
