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
    /// An event id's local `seq`, for every event the current derivation touches.
    typealias Seqs = [EventID: Int64]

    /// Re-derives what `newEvents` (already inserted, with their `seqs`) affect; returns each re-derived event's status.
    static func apply(
        _ db: Database, newEvents: [Event], seqs: Seqs, forceFull: Bool = false, authorities: AuthorityCache? = nil
    ) throws -> [EventID: EventStatus] {
        var statuses = [EventID: EventStatus]()
        let byCommunity = Dictionary(grouping: newEvents, by: \.community)
        for (community, events) in byCommunity {
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT ref, fingerprint, max_wall, max_counter, event_count, authority_digest FROM communities WHERE id = ?"),
                    arguments: [Data(community.bytes)])
            else { continue }
            let cref: Int64 = try row.value("ref")
            var fp = EventSetFingerprint(bytes: try row.bytes("fingerprint")) ?? EventSetFingerprint()
            var maxHLC = HLC(wall: try row.unsigned("max_wall"), counter: try row.counter("max_counter"))
            for e in events {
                fp.add(e.id)
                maxHLC = max(maxHLC, e.hlc)
            }
            let authorityChanged = forceFull || events.contains { Authority.isCommunityLevel($0.kind) }
            let (authority, authoritySeqs) = try (authorities ?? AuthorityCache()).authority(db, community: community, cref: cref, store: false)
            var byPartition = Dictionary(grouping: events.filter { $0.campaign != nil }, by: { $0.campaign! })
            if authorityChanged {
                for p in try EventID.fetchAll(db.cachedStatement(sql: "SELECT campaign FROM partitions WHERE community = ?"), arguments: [cref]) {
                    byPartition[p, default: []] += []
                }
                try writeAuthority(db, authority, cref, authoritySeqs)
                statuses.merge(authority.statuses) { $1 }
            }
            for (p, pevents) in byPartition {
                statuses.merge(try derivePartition(db, p, pevents, seqs: seqs, authority: authority, full: authorityChanged, cref)) { $1 }
            }
            let authorityDigest: [UInt8] =
                if !authorityChanged, let stored = try row.value("authority_digest", as: Data?.self) {
                    [UInt8](stored)
                } else {
                    StateDigest.authority(authority)
                }
            let parts = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT campaign, digest FROM partitions WHERE community = ? AND digest IS NOT NULL"), arguments: [cref]
            )
            .map { r throws in (try r.value("campaign", as: EventID.self), try r.bytes("digest")) }
            let count = (try row.value("event_count", as: Int.self)) + events.count
            let digest = StateDigest.community(community, authority: authorityDigest, partitions: parts, eventCount: count, fingerprint: fp)
            try db.execute(
                sql: """
                    UPDATE communities SET fingerprint = ?, event_count = ?, authority_digest = ?, digest = ?, founder = ?,
                        max_wall = ?, max_counter = ?, name = coalesce(?, name) WHERE ref = ?
                    """,
                arguments: [
                    Data(fp.bytes), count, Data(authorityDigest), Data(digest), authority.founder.map { Data($0.bytes) },
                    Int64(maxHLC.wall), Int64(maxHLC.counter), authority.name, cref,
                ])
        }
        return statuses
    }

    /// Rebuilds every derived row of a community from its events.
    static func rebuild(_ db: Database, community: PublicKey) throws {
        guard let cref = try Int64.fetchOne(db.cachedStatement(sql: "SELECT ref FROM communities WHERE id = ?"), arguments: [Data(community.bytes)])
        else { return }
        try db.execute(sql: "DELETE FROM pledges WHERE partition IN (SELECT ref FROM partitions WHERE community = ?)", arguments: [cref])
        try db.execute(sql: "DELETE FROM tiers WHERE partition IN (SELECT ref FROM partitions WHERE community = ?)", arguments: [cref])
        for table in ["match_offers", "pledge_matches", "giftaid_claims", "giftaid_confirmations", "updates"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE partition IN (SELECT ref FROM partitions WHERE community = ?)", arguments: [cref])
        }
        for table in ["rule_rejections", "roles", "campaigns", "funder_budgets"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE community = ?", arguments: [cref])
        }
        try db.execute(
            sql: """
                UPDATE partitions SET digest = NULL, max_wall = 0, max_counter = 0, max_author = x'', max_id = x'',
                    pledge_sum = zeroblob(32), pledge_count = 0, status_sum = zeroblob(32), status_count = 0 WHERE community = ?
                """, arguments: [cref])
        try db.execute(
            sql: """
                UPDATE communities SET fingerprint = zeroblob(32), event_count = 0, authority_digest = NULL, digest = NULL,
                    max_wall = 0, max_counter = 0 WHERE ref = ?
                """, arguments: [cref])
        let (all, seqs) = try loadEvents(db, sql: "SELECT seq, raw FROM events WHERE community = ?", cref)
        _ = try apply(db, newEvents: all, seqs: seqs, forceFull: true)
    }

    /// Decodes stored events and records their seqs.
    static func loadEvents(_ db: Database, sql: String, _ arg: Int64) throws -> ([Event], Seqs) {
        var out = [Event]()
        var seqs = Seqs()
        let cursor = try Row.fetchCursor(db, sql: sql, arguments: [arg])
        while let row = try cursor.next() {
            // Stored events were verified on entry; decoding re-checks their form and recomputes the id.
            let e: Event
            do { e = try Event.decode(wire: try row.bytes("raw")) } catch { throw DamagedData("a stored event cannot be decoded: \(error)") }
            out.append(e)
            seqs[e.id] = try row.value("seq")
        }
        return (out, seqs)
    }

    static func writeAuthority(_ db: Database, _ a: Authority, _ cref: Int64, _ seqs: Seqs) throws {
        try db.execute(sql: "DELETE FROM roles WHERE community = ?", arguments: [cref])
        try db.execute(sql: "DELETE FROM rule_rejections WHERE community = ? AND partition IS NULL", arguments: [cref])
        let ins = try db.cachedStatement(
            sql: "INSERT INTO roles (community, member, role, granted, by, at_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
        for (mr, entries) in a.timeline {
            guard let last = entries.last else { continue }
            try ins.execute(arguments: [
                cref, Data(mr.member.bytes), mr.role.name, last.granted, Data(last.by.bytes), Int64(last.at.hlc.wall),
                last.expires.map { Int64(clamping: $0) },
            ])
        }
        try writeRuleRejections(db, a.statuses, seqs, cref, partition: nil)
        try db.execute(sql: "DELETE FROM funder_budgets WHERE community = ?", arguments: [cref])
        let budget = try db.cachedStatement(
            sql: "INSERT INTO funder_budgets (community, funder, currency, amount_minor, seq) VALUES (?, ?, ?, ?, ?)")
        for b in a.currentBudgets {
            guard let seq = seqs[b.event] else { continue }
            try budget.execute(arguments: [cref, Data(b.funder.bytes), b.budget.currency.code, b.budget.amount, seq])
        }
    }

    static func writeRuleRejections(_ db: Database, _ statuses: [EventID: EventStatus], _ seqs: Seqs, _ cref: Int64, partition: Int64?) throws {
        let ins = try db.cachedStatement(
            sql: "INSERT OR REPLACE INTO rule_rejections (seq, community, partition, code, message) VALUES (?, ?, ?, ?, ?)")
        for (id, s) in statuses {
            if case .rejected(let v) = s, let seq = seqs[id] { try ins.execute(arguments: [seq, cref, partition, v.code.rawValue, v.message]) }
        }
    }

    struct PartitionRow {
        var ref: Int64
        var derived: Bool
        var maxKey: OrderKey
        var sums: PartitionSums
    }

    /// The partition row, created empty if this campaign id is new.
    static func partition(_ db: Database, _ p: EventID, _ cref: Int64) throws -> PartitionRow {
        if let r = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM partitions WHERE campaign = ?"), arguments: [Data(p.bytes)]) {
            var sums = PartitionSums()
            sums.pledges = Sum256(bytes: try r.bytes("pledge_sum")) ?? Sum256()
            sums.statuses = Sum256(bytes: try r.bytes("status_sum")) ?? Sum256()
            sums.pledgeCount = try r.value("pledge_count")
            sums.statusCount = try r.value("status_count")
            let key = OrderKey(
                hlc: HLC(wall: try r.unsigned("max_wall"), counter: try r.counter("max_counter")),
                author: try r.bytes("max_author"), id: try r.bytes("max_id"))
            return PartitionRow(ref: try r.value("ref"), derived: try r.value("digest", as: Data?.self) != nil, maxKey: key, sums: sums)
        }
        try db.execute(sql: "INSERT INTO partitions (campaign, community) VALUES (?, ?)", arguments: [Data(p.bytes), cref])
        return PartitionRow(
            ref: db.lastInsertedRowID, derived: false, maxKey: OrderKey(hlc: HLC(wall: 0), author: [], id: []), sums: PartitionSums())
    }

    /// Re-derives one campaign partition after `newEvents` were stored.
    static func derivePartition(
        _ db: Database, _ p: EventID, _ newEvents: [Event], seqs: Seqs, authority: Authority, full: Bool, _ cref: Int64
    ) throws -> [EventID: EventStatus] {
        let stored = try partition(db, p, cref)
        // Matching needs every pledge of the campaign (like tier places, but for every pledge), so a campaign
        // with match offers is always replayed whole. A Gift Aid claim needs every claimed tag: replayed whole too.
        if !full, stored.derived, !newEvents.isEmpty, newEvents.allSatisfy({ $0.orderKey > stored.maxKey }),
            !newEvents.contains(where: { MatchRows.isMatchKind($0.kind) || GiftAidRows.isGiftAidKind($0.kind) }),
            try !MatchRows.hasOffers(db, stored.ref)
        {
            return try resumePartition(db, p, newEvents, seqs, stored, authority: authority, cref)
        }
        let (all, allSeqs) = try loadEvents(db, sql: "SELECT seq, raw FROM events WHERE partition = ?", stored.ref)
        let result = CampaignLedger.derive(id: p, events: all, authority: authority)
        for table in [
            "pledges", "tiers", "campaigns", "rule_rejections", "match_offers", "pledge_matches", "giftaid_claims", "giftaid_confirmations",
            "updates",
        ] {
            try db.execute(sql: "DELETE FROM \(table) WHERE partition = ?", arguments: [stored.ref])
        }
        try writeRuleRejections(db, result.statuses, allSeqs, cref, partition: stored.ref)
        if let c = result.campaign {
            try writeCampaign(db, c, stored.ref, cref, allSeqs)
            for p in c.pledges.values { try writePledge(db, p, stored.ref, allSeqs) }
            try MatchRows.write(db, c, stored.ref, allSeqs)
            try GiftAidRows.write(db, c, stored.ref, allSeqs)
            try UpdateRows.write(db, c, stored.ref, allSeqs)
        }
        let maxKey = all.map(\.orderKey).max() ?? stored.maxKey
        try writePartitionRow(db, stored.ref, result.campaign, StateDigest.sums(result), maxKey)
        return result.statuses
    }

    /// The fast path: resume the rules from the stored state.
    static func resumePartition(
        _ db: Database, _ p: EventID, _ newEvents: [Event], _ newSeqs: Seqs, _ stored: PartitionRow, authority: Authority, _ cref: Int64
    ) throws -> [EventID: EventStatus] {
        var seqs = newSeqs
        var state = try loadCampaign(db, p, stored.ref, &seqs)
        var before = [EventID: PledgeState]()
        if state != nil {
            for id in CampaignLedger.referencedPledges(newEvents) {
                if let pl = try loadPledge(db, id, stored.ref, tiers: seqs, &seqs) { before[id] = pl }
            }
            state!.pledges = before
        }
        let tiersBefore = state?.tiers ?? [:]
        let result = CampaignLedger.resume(id: p, from: state, events: newEvents, authority: authority)
        var sums = stored.sums
        for (id, s) in result.statuses { sums.statuses.add(StateDigest.status(id, s)) }
        sums.statusCount += result.statuses.count
        try writeRuleRejections(db, result.statuses, seqs, cref, partition: stored.ref)
        var campaign = result.campaign
        if var c = campaign {
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
                try writePledge(db, pl, stored.ref, seqs)
            }
            for (id, t) in c.tiers where tiersBefore[id] != t { touchedTiers.insert(id) }
            for t in touchedTiers {
                guard var tier = c.tiers[t], let seq = seqs[t] else { continue }
                try allocate(db, &tier, seq)
                c.tiers[t] = tier
            }
            try writeCampaign(db, c, stored.ref, cref, seqs)
            // Only the updates these events posted: earlier ones are stored, and later events cannot change them.
            try UpdateRows.write(db, c, stored.ref, seqs)
            campaign = c  // with the tier places just allocated
        }
        let maxKey = newEvents.map(\.orderKey).reduce(stored.maxKey, max)
        try writePartitionRow(db, stored.ref, campaign, sums, maxKey)
        return result.statuses
    }

    /// Decides a tier's places from the stored pledges: earliest active (timestamp, then id) win.
    static func allocate(_ db: Database, _ tier: inout TierState, _ tierSeq: Int64) throws {
        guard let limit = tier.limit.map(Int.init) else {
            tier.claimed = tier.active
            tier.waitlisted = 0
            return
        }
        let rows = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT p.seq, p.waitlisted FROM pledges p JOIN events e ON e.seq = p.seq
                    WHERE p.tier = ? AND p.status = 0 ORDER BY p.made_ms, p.made_counter, e.id
                    """),
            arguments: [tierSeq])
        let update = try db.cachedStatement(sql: "UPDATE pledges SET waitlisted = ? WHERE seq = ?")
        for (i, r) in rows.enumerated() {
            let want = i >= limit
            if try r.value("waitlisted", as: Bool.self) != want { try update.execute(arguments: [want, try r.value("seq", as: Int64.self)]) }
        }
        tier.claimed = min(rows.count, limit)
        tier.waitlisted = max(0, rows.count - limit)
    }

    static func writePartitionRow(_ db: Database, _ ref: Int64, _ c: CampaignState?, _ sums: PartitionSums, _ maxKey: OrderKey) throws {
        try db.execute(
            sql: """
                UPDATE partitions SET digest = ?, max_wall = ?, max_counter = ?, max_author = ?, max_id = ?,
                    pledge_sum = ?, pledge_count = ?, status_sum = ?, status_count = ? WHERE ref = ?
                """,
            arguments: [
                Data(StateDigest.partition(campaign: c, sums: sums)), Int64(clamping: maxKey.hlc.wall), Int64(maxKey.hlc.counter),
                Data(maxKey.author), Data(maxKey.id), Data(sums.pledges.bytes), sums.pledgeCount, Data(sums.statuses.bytes),
                sums.statusCount, ref,
            ])
    }

    static func writeCampaign(_ db: Database, _ c: CampaignState, _ pref: Int64, _ cref: Int64, _ seqs: Seqs) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO campaigns (partition, community, title, description, goal_minor, currency, minor_digits, model,
                    opens_ms, closes_ms, time_zone, phase, cancel_reason, pledged_minor, collected_minor, backers, created_by, created_ms,
                    created_counter, organisers, has_pledges, matched_minor)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                pref, cref, c.title, c.description, c.goal, c.currency.code, c.currency.exponent, c.model.name, Int64(clamping: c.opens),
                Int64(clamping: c.closes), c.timeZone, c.phase.rawValue, c.cancelReason, c.pledged, c.collected, c.backers,
                Data(c.createdBy.bytes), Int64(clamping: c.createdAt.wall), Int64(c.createdAt.counter), Data(c.organisers.flatMap(\.bytes)),
                c.hasPledges, c.matched,
            ])
        let tierIns = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO tiers (seq, partition, title, description, minimum_minor, quantity_limit, active, claimed, waitlisted,
                    benefit_minor)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for t in c.tiers.values {
            guard let seq = seqs[t.id] else { continue }
            try tierIns.execute(arguments: [
                seq, pref, t.title, t.description, t.minimum, t.limit.map { Int64($0) }, t.active, t.claimed, t.waitlisted, t.benefit,
            ])
        }
    }

    static func memberRef(_ db: Database, _ key: PublicKey) throws -> Int64 {
        let k = Data(key.bytes)
        if let ref = try Int64.fetchOne(db.cachedStatement(sql: "SELECT ref FROM members WHERE key = ?"), arguments: [k]) { return ref }
        try db.execute(sql: "INSERT INTO members (key) VALUES (?)", arguments: [k])
        return db.lastInsertedRowID
    }

    static func statusCode(_ s: PledgeStatus) -> Int {
        switch s {
        case .active: 0
        case .late: 1
        case .withdrawn: 2
        case .rejected: 3
        }
    }

    static let statuses: [PledgeStatus] = [.active, .late, .withdrawn, .rejected]

    /// A pledge row's status.
    static func status(_ r: Row) throws -> PledgeStatus {
        let code = try r.value("status", as: Int.self)
        guard statuses.indices.contains(code) else { throw DamagedData("a pledge status is not one this version knows") }
        return statuses[code]
    }

    /// A pledge row's channel.
    static func channel(_ r: Row) throws -> Channel {
        guard let c = Channel(rawValue: try r.unsigned("channel")) else { throw DamagedData("a pledge channel is not one this version knows") }
        return c
    }

    /// A pledge row's payment method, if collected.
    static func method(_ r: Row) throws -> PaymentMethod? { try method(code: try r.value("collected_method")) }

    /// A stored payment method code, if collected.
    static func method(code: Int64?) throws -> PaymentMethod? {
        guard let code else { return nil }
        guard code >= 0, let m = PaymentMethod(rawValue: UInt64(code)) else {
            throw DamagedData("a payment method is not one this version knows")
        }
        return m
    }

    static func writePledge(_ db: Database, _ p: PledgeState, _ pref: Int64, _ seqs: Seqs) throws {
        guard let seq = seqs[p.id] else { return }
        let contact: Data? =
            p.contact.isEmpty
            ? nil : Data(CBOR.array(p.contact.map { .array([.bytes($0.recipient.bytes), .bytes($0.ciphertext)]) }).encoded())
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO pledges (seq, partition, author, made_ms, made_counter, backer_name, anonymous, amount_minor, tier,
                    channel, status, waitlisted, collected_minor, collected_by, collected_method, reject_reason, contact,
                    commitments, name_event, erased)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            seq, pref, try memberRef(db, p.author), Int64(clamping: p.madeAt.wall), Int64(p.madeAt.counter), p.backerName,
            p.anonymous, p.amount, p.tier.flatMap { seqs[$0] }, Int64(p.channel.rawValue), statusCode(p.status), p.waitlisted,
            p.collected, try p.collectedBy.map { try memberRef(db, $0) }, p.collectedMethod.map { Int64($0.rawValue) },
            p.rejectReason, contact, p.commitments.map { Data($0.flatMap(\.array)) }, p.nameEvent.flatMap { seqs[$0] },
            p.erased.reduce(0) { $0 | (1 << Int64($1.rawValue)) },
        ])
        if !p.erased.isEmpty { try erase(db, p) }
    }

    /// Deletes the erased parts of a pledge (its own and its revisions') and keeps a tombstone for each
    /// erased slot, which refuses the parts if they come again. Idempotent; the store checkpoints the WAL after
    /// a transaction that added a tombstone (`Store.checkpointAfterErasure`).
    static func erase(_ db: Database, _ p: PledgeState) throws {
        let tomb = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO tombstones (pledge, slot, erased_at) VALUES (?, ?, CAST(strftime('%s', 'now') AS INTEGER) * 1000)")
        let delete = try db.cachedStatement(sql: "DELETE FROM parts WHERE pledge = ? AND slot = ?")
        for slot in p.erased.sorted() {
            try tomb.execute(arguments: [Data(p.id.bytes), Int64(slot.rawValue)])
            try delete.execute(arguments: [Data(p.id.bytes), Int64(slot.rawValue)])
        }
    }

    /// The erased slots stored as bits (1 << slot).
    static func erasedSlots(_ bits: Int64) -> Set<PartSlot> {
        Set(PartSlot.allCases.filter { bits & (1 << Int64($0.rawValue)) != 0 })
    }

    /// Stored commitments: nil, or 3 x 32 bytes; anything else is damage.
    static func commitments(_ raw: Data?) throws -> [Bytes32]? {
        guard let raw else { return nil }
        let bytes = [UInt8](raw)
        guard bytes.count == 32 * PartSlot.allCases.count else { throw DamagedData("a pledge's commitments are damaged") }
        return try stride(from: 0, to: bytes.count, by: 32).map { i throws in
            guard let b = Bytes32(bytes[i..<i + 32]) else { throw DamagedData("a pledge's commitments are damaged") }
            return b
        }
    }

    /// The stored campaign and its tiers (whose seqs go into `seqs`), without pledges.
    static func loadCampaign(_ db: Database, _ id: EventID, _ pref: Int64, _ seqs: inout Seqs) throws -> CampaignState? {
        guard let r = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM campaigns WHERE partition = ?"), arguments: [pref]) else { return nil }
        guard let model = FundingModel(name: try r.value("model")), let phase = CampaignPhase(rawValue: try r.value("phase")) else {
            throw DamagedData("a campaign's model or phase is not one this version knows")
        }
        var c = CampaignState(
            id: id, createdBy: try r.value("created_by", as: PublicKey.self),
            createdAt: HLC(wall: try r.unsigned("created_ms"), counter: try r.counter("created_counter")),
            title: try r.value("title"), description: try r.value("description"), goal: try r.value("goal_minor"),
            currency: try Store.currency(try r.value("currency")), model: model, opens: try r.unsigned("opens_ms"),
            closes: try r.unsigned("closes_ms"), timeZone: try r.value("time_zone"),
            organisers: try Store.keys(try r.value("organisers"), "organisers"))
        c.phase = phase
        c.cancelReason = try r.value("cancel_reason")
        c.pledged = try r.value("pledged_minor")
        c.collected = try r.value("collected_minor")
        c.backers = try r.value("backers")
        c.hasPledges = try r.value("has_pledges")
        for t in try Row.fetchAll(
            db.cachedStatement(sql: "SELECT t.*, e.id FROM tiers t JOIN events e ON e.seq = t.seq WHERE t.partition = ?"), arguments: [pref])
        {
            let tid = try t.value("id", as: EventID.self)
            seqs[tid] = try t.value("seq")
            var tier = TierState(
                id: tid, title: try t.value("title"), description: try t.value("description"), minimum: try t.value("minimum_minor"),
                limit: try t.value("quantity_limit", as: Int64?.self).map { v throws in
                    guard let l = UInt32(exactly: v) else { throw DamagedData("a tier limit is out of range") }
                    return l
                })
            tier.active = try t.value("active")
            tier.claimed = try t.value("claimed")
            tier.waitlisted = try t.value("waitlisted")
            tier.benefit = try t.value("benefit_minor")
            c.tiers[tid] = tier
        }
        return c
    }

    /// A stored pledge of partition `pref`, or nil; its seq goes into `seqs`.
    static func loadPledge(_ db: Database, _ id: EventID, _ pref: Int64, tiers: Seqs, _ seqs: inout Seqs) throws -> PledgeState? {
        guard
            let r = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT p.*, m.key AS author_key, mc.key AS collector_key, ne.id AS name_event_id
                        FROM events e JOIN pledges p ON p.seq = e.seq
                        JOIN members m ON m.ref = p.author LEFT JOIN members mc ON mc.ref = p.collected_by
                        LEFT JOIN events ne ON ne.seq = p.name_event
                        WHERE e.id = ? AND p.partition = ?
                        """), arguments: [Data(id.bytes), pref])
        else { return nil }
        seqs[id] = try r.value("seq")
        let tierBySeq = Dictionary(tiers.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        var p = PledgeState(
            id: id, author: try r.value("author_key", as: PublicKey.self),
            madeAt: HLC(wall: try r.unsigned("made_ms"), counter: try r.counter("made_counter")),
            backerName: try r.value("backer_name"), anonymous: try r.value("anonymous"), amount: try r.value("amount_minor"),
            tier: try r.value("tier", as: Int64?.self).flatMap { tierBySeq[$0] }, channel: try channel(r), status: try status(r),
            contact: try decodeContact(try r.value("contact")))
        p.waitlisted = try r.value("waitlisted")
        p.collected = try r.value("collected_minor")
        p.collectedBy = try r.value("collector_key", as: PublicKey?.self)
        p.collectedMethod = try method(r)
        p.rejectReason = try r.value("reject_reason")
        p.commitments = try commitments(try r.value("commitments"))
        if let nameEvent = try r.value("name_event_id", as: EventID?.self) {
            p.nameEvent = nameEvent
            seqs[nameEvent] = try r.value("name_event")
        }
        p.erased = erasedSlots(try r.value("erased"))
        return p
    }

    /// A pledge's stored sealed contacts; anything but the list `writePledge` stores is damage.
    static func decodeContact(_ raw: Data?) throws -> [SealedContact] {
        guard let raw else { return [] }
        guard case .array(let items)? = try? CBOR.decode([UInt8](raw)) else { throw DamagedData("a pledge's contact is not a list") }
        var contact: [SealedContact] = []
        for item in items {
            guard case .array(let pair) = item, pair.count == 2, case .bytes(let k) = pair[0], case .bytes(let ct) = pair[1],
                let pk = PublicKey(bytes: k)
            else { throw DamagedData("a pledge's contact entry is damaged") }
            contact.append(SealedContact(recipient: pk, ciphertext: ct))
        }
        return contact
    }
}
