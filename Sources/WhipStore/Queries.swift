import Foundation
import GRDB
public import WhipCore
public import WhipCrypto

/// A community this node has joined.
public struct CommunityInfo: Sendable {
    public let id: PublicKey
    public let name: String
    public let networkKey: [UInt8]
    public let hubs: [String]
    public let eventCount: Int
    /// Hex state digest; empty before any event.
    public let digest: String
    public let founder: PublicKey?
}

/// A campaign row of the derived tables.
public struct CampaignRow: Sendable {
    public let id: EventID
    public let community: PublicKey
    public let title: String
    public let description: String
    public let goal: Money
    public let model: FundingModel
    public let opens: UInt64
    public let closes: UInt64
    public let timeZone: String
    public let phase: CampaignPhase
    public let cancelReason: String?
    public let pledged: Money
    public let collected: Money
    public let backers: Int
    public let createdBy: PublicKey
    public let organisers: [PublicKey]
    /// Match funding from accepted offers, apart from the crowd (provisional until each offer is settled).
    public var matched: Money

    /// Funded by the campaign's model, judged on the current totals: crowd plus match.
    public var funded: Bool {
        let raised = pledged.minor.addingReportingOverflow(matched.minor)
        let total = raised.overflow ? Int64.max : raised.partialValue
        return model == .allOrNothing ? total >= goal.minor : total > 0
    }
    /// The phase at `now`: live campaigns past the deadline show as closed.
    public func effectivePhase(now: UInt64) -> CampaignPhase { phase == .live && now >= closes ? .closed : phase }
    /// The one state people see at `now` (PROTOCOL.md §7.5).
    public func standing(now: UInt64) -> CampaignStanding { CampaignStanding.at(now: now, phase: phase, closes: closes, funded: funded) }

    /// The state as a person reads it: `live`, `closed, funded`, `closed, unfunded`…
    public func stateText(now: UInt64) -> String {
        switch standing(now: now) {
        case .closedFunded: "closed, funded"
        case .closedUnfunded: model == .allOrNothing ? "closed, unfunded: nobody pays" : "closed, unfunded"
        case let s: s.rawValue
        }
    }
}

/// A tier row.
public struct TierRow: Sendable {
    public let id: EventID
    public let title: String
    public let description: String?
    public let minimum: Money
    public let limit: Int?
    public let claimed: Int
    public let waitlisted: Int
    /// The reward's stated value to a backer (Gift Aid donor benefit); nil when not stated.
    public var benefit: Money? = nil
}

/// A pledge row.
public struct PledgeRow: Sendable {
    public let id: EventID
    public let campaign: EventID
    public let author: PublicKey
    public let madeAt: UInt64
    public let backerName: String
    public let anonymous: Bool
    public let amount: Money
    public let tier: EventID?
    public let channel: String
    public let status: String
    public let waitlisted: Bool
    public let collected: Money
    public let collectedBy: PublicKey?
    public let collectedMethod: String?
    public let rejectReason: String?
    /// The sealed contact details: in the event for a version-1 pledge, in its contact part for a version-2 one
    /// (empty when the part is absent, missing or erased).
    public let contact: [SealedContact]
    /// 1 for `pledge.made`, 2 for `pledge.made.v2` (personal data in parts).
    public let version: Int
    /// Version-2 pledges: the slots erased by `personal.erased`.
    public let erased: Set<PartSlot>

    /// The name everyone may see: "(erased)", "Anonymous" (asked for, or no name part), or the name.
    public var publicName: String {
        if erased.contains(.name) { return "(erased)" }
        return anonymous ? "Anonymous" : backerName
    }

    /// Money received for this pledge that is due back to the backer when the campaign is in `standing`:
    /// what was collected on a counted pledge of a cancelled or unfunded campaign (PROTOCOL.md §7.5).
    /// A refund is recorded by rejecting the pledge (`whipround pledge refund`).
    public func refundDue(in standing: CampaignStanding) -> Money? {
        guard standing.refundsDue, status == "active", collected.minor > 0 else { return nil }
        return collected
    }
}

extension PledgeRow {
    /// This version-2 pledge with its name and contact from its parts.
    func withParts(name: String?, contact: [SealedContact], erased: Set<PartSlot>) -> PledgeRow {
        PledgeRow(
            id: id, campaign: campaign, author: author, madeAt: madeAt, backerName: erased.contains(.name) ? "" : name ?? "",
            anonymous: name == nil && !erased.contains(.name), amount: amount, tier: tier, channel: channel, status: status,
            waitlisted: waitlisted, collected: collected, collectedBy: collectedBy, collectedMethod: collectedMethod, rejectReason: rejectReason,
            contact: erased.contains(.contact) ? [] : contact, version: 2, erased: erased)
    }
}

/// One entry of the rejection log.
public struct RejectionRow: Sendable {
    public let eventID: String?
    public let code: String
    public let message: String
    /// `admission`, `held` or `rule`.
    public let stage: String
}

/// One role as it stands.
public struct RoleRow: Sendable {
    public let member: PublicKey
    public let role: Role
    public let granted: Bool
    public let expires: UInt64?
}

extension Store {
    /// Records membership of a community (its events arrive by bundle or sync).
    public func joinCommunity(id: PublicKey, name: String, networkKey: [UInt8], hubs: [String], now: UInt64) throws(WhipError) {
        try write { db in try Store.insertCommunity(db, id: id, name: name, networkKey: networkKey, hubs: hubs, now: now) }
    }

    static func insertCommunity(_ db: Database, id: PublicKey, name: String, networkKey: [UInt8], hubs: [String], now: UInt64) throws {
        if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM communities WHERE id = ?"), arguments: [Data(id.bytes)]) ?? false {
            throw WhipError(.alreadyExists, "this node is already a member of '\(name)'")
        }
        try db.execute(
            sql: "INSERT INTO communities (id, id_text, name, network_key, hubs, joined_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [Data(id.bytes), KeyText.encode(id, as: .community), name, Data(networkKey), hubs.joined(separator: ","), Int64(now)])
    }

    /// Every joined community.
    public func communities() throws(WhipError) -> [CommunityInfo] {
        try read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM communities ORDER BY name, id")).map(Store.community)
        }
    }

    static func community(_ r: Row) throws -> CommunityInfo {
        let hubs = try r.value("hubs", as: String.self).split(separator: ",").map(String.init)
        return CommunityInfo(
            id: try r.value("id", as: PublicKey.self), name: try r.value("name"), networkKey: try r.bytes("network_key"), hubs: hubs,
            eventCount: try r.value("event_count"), digest: try r.value("digest", as: Data?.self).map { Hex.encode([UInt8]($0)) } ?? "",
            founder: try r.value("founder", as: PublicKey?.self))
    }

    /// Campaign columns with the campaign id and community id joined in.
    static let campaignSelect = """
        SELECT c.*, p.campaign AS id, cm.id AS community_id FROM campaigns c
        JOIN partitions p ON p.ref = c.partition JOIN communities cm ON cm.ref = c.community
        """

    static func campaign(_ r: Row) throws -> CampaignRow {
        let cur = try currency(try r.value("currency"))
        guard let model = FundingModel(name: try r.value("model")), let phase = CampaignPhase(rawValue: try r.value("phase")) else {
            throw DamagedData("a campaign's model or phase is not one this version knows")
        }
        return CampaignRow(
            id: try r.value("id", as: EventID.self), community: try r.value("community_id", as: PublicKey.self),
            title: try r.value("title"), description: try r.value("description"), goal: Money(minor: try r.value("goal_minor"), currency: cur),
            model: model, opens: try r.unsigned("opens_ms"), closes: try r.unsigned("closes_ms"),
            timeZone: try r.value("time_zone"), phase: phase, cancelReason: try r.value("cancel_reason"),
            pledged: Money(minor: try r.value("pledged_minor"), currency: cur),
            collected: Money(minor: try r.value("collected_minor"), currency: cur),
            backers: try r.value("backers"), createdBy: try r.value("created_by", as: PublicKey.self),
            organisers: try keys(try r.value("organisers"), "organisers"),
            matched: Money(minor: try r.value("matched_minor"), currency: cur))
    }

    /// Campaigns, optionally of one community, newest first.
    public func campaigns(community: PublicKey? = nil) throws(WhipError) -> [CampaignRow] {
        try read { db in
            if let community {
                return try Row.fetchAll(
                    db.cachedStatement(sql: Store.campaignSelect + " WHERE cm.id = ? ORDER BY c.created_ms DESC, p.campaign"),
                    arguments: [Data(community.bytes)]
                ).map(Store.campaign)
            }
            return try Row.fetchAll(db.cachedStatement(sql: Store.campaignSelect + " ORDER BY c.created_ms DESC, p.campaign")).map(Store.campaign)
        }
    }

    /// One campaign, or nil.
    public func campaign(_ id: EventID) throws(WhipError) -> CampaignRow? {
        try read { db in try Store.campaign(db, id) }
    }

    static func campaign(_ db: Database, _ id: EventID) throws -> CampaignRow? {
        try Row.fetchOne(db.cachedStatement(sql: Store.campaignSelect + " WHERE p.campaign = ?"), arguments: [Data(id.bytes)]).map(Store.campaign)
    }

    /// A campaign, its tiers and the replica's change mark (`changeMark()`), all read in one transaction: a live
    /// view that shows the newest mark it has seen never goes back to an older state.
    public func progress(_ id: EventID) throws(WhipError) -> CampaignProgress? {
        try read { db in
            let mark = try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(max(seq), 0) FROM events")) ?? 0
            guard let c = try Store.campaign(db, id) else { return nil }
            return CampaignProgress(campaign: c, tiers: try Store.tiers(db, id), mark: mark)
        }
    }

    static func partitionRef(_ db: Database, _ campaign: EventID) throws -> (ref: Int64, currency: Currency)? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT p.ref, c.currency FROM partitions p JOIN campaigns c ON c.partition = p.ref WHERE p.campaign = ?"),
            arguments: [campaign]
        ).map { r throws in (try r.value("ref"), try currency(try r.value("currency"))) }
    }

    /// Tiers of a campaign, cheapest first.
    public func tiers(campaign: EventID) throws(WhipError) -> [TierRow] {
        try read { db in try Store.tiers(db, campaign) }
    }

    static func tiers(_ db: Database, _ campaign: EventID) throws -> [TierRow] {
        guard let (pref, cur) = try Store.partitionRef(db, campaign) else { return [] }
        return try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT t.*, e.id FROM tiers t JOIN events e ON e.seq = t.seq WHERE t.partition = ? ORDER BY t.minimum_minor, e.id"),
            arguments: [pref]
        ).map { r throws in
            TierRow(
                id: try r.value("id", as: EventID.self), title: try r.value("title"), description: try r.value("description"),
                minimum: Money(minor: try r.value("minimum_minor"), currency: cur), limit: try r.value("quantity_limit"),
                claimed: try r.value("claimed"),
                waitlisted: try r.value("waitlisted"),
                benefit: try r.value("benefit_minor", as: Int64?.self).map { Money(minor: $0, currency: cur) })
        }
    }

    /// Pledge columns with the pledge, tier, author and collector ids joined in, in `PledgeColumn` order.
    static let pledgeSelect = """
        SELECT e.id, m.key, p.made_ms, p.backer_name, p.anonymous, p.amount_minor, te.id, p.channel, p.status, p.waitlisted,
               p.collected_minor, mc.key, p.collected_method, p.reject_reason, p.contact,
               p.commitments IS NOT NULL, p.erased, np.bytes, cp.bytes
        FROM pledges p JOIN events e ON e.seq = p.seq JOIN members m ON m.ref = p.author
        LEFT JOIN members mc ON mc.ref = p.collected_by LEFT JOIN events te ON te.seq = p.tier
        LEFT JOIN parts np ON np.event = p.name_event AND np.slot = 0 LEFT JOIN parts cp ON cp.event = p.seq AND cp.slot = 1
        """

    /// The columns of `pledgeSelect`, read by index: looking every name up in each one of 50,000 rows cost more
    /// than the query. Each read still throws on a value of the wrong type.
    enum PledgeColumn: Int {
        case id, author, madeMs, backerName, anonymous, amountMinor, tierID, channel, status, waitlisted
        case collectedMinor, collector, collectedMethod, rejectReason, contact
        case hasParts, erased, namePart, contactPart
    }

    /// The order pledges are listed in: as they were made, ties broken by id, so every replica lists them alike.
    static let pledgeOrder = "ORDER BY p.made_ms, p.made_counter, e.id"

    static func pledge(_ r: Row, campaign: EventID, currency: Currency) throws -> PledgeRow {
        typealias C = PledgeColumn
        guard r.count == 19 else { throw DamagedData("a pledge row has \(r.count) columns") }
        let made = try r.value(at: C.madeMs.rawValue, as: Int64.self)
        guard made >= 0 else { throw DamagedData("made_ms is negative") }
        let status = try r.value(at: C.status.rawValue, as: Int.self)
        guard Materializer.statuses.indices.contains(status) else { throw DamagedData("a pledge status is not one this version knows") }
        guard let channel = Channel(rawValue: UInt64(clamping: try r.value(at: C.channel.rawValue, as: Int64.self))) else {
            throw DamagedData("a pledge channel is not one this version knows")
        }
        let row = PledgeRow(
            id: try r.value(at: C.id.rawValue), campaign: campaign, author: try r.value(at: C.author.rawValue),
            madeAt: UInt64(made), backerName: try r.value(at: C.backerName.rawValue), anonymous: try r.value(at: C.anonymous.rawValue),
            amount: Money(minor: try r.value(at: C.amountMinor.rawValue), currency: currency),
            tier: try r.value(at: C.tierID.rawValue),
            channel: channel.name, status: Materializer.statuses[status].rawValue, waitlisted: try r.value(at: C.waitlisted.rawValue),
            collected: Money(minor: try r.value(at: C.collectedMinor.rawValue), currency: currency),
            collectedBy: try r.value(at: C.collector.rawValue),
            collectedMethod: try Materializer.method(code: try r.value(at: C.collectedMethod.rawValue))?.name,
            rejectReason: try r.value(at: C.rejectReason.rawValue),
            contact: try Materializer.decodeContact(try r.value(at: C.contact.rawValue)), version: 1, erased: [])
        guard try r.value(at: C.hasParts.rawValue, as: Bool.self) else { return row }
        // A version-2 pledge: the name and contact come from its parts. A name part never arrived reads as
        // anonymous (a dummy commitment and a missing part look the same, by design).
        let name = try r.value(at: C.namePart.rawValue, as: Data?.self).flatMap { String(data: $0, encoding: .utf8) }
        let contact = try r.value(at: C.contactPart.rawValue, as: Data?.self).flatMap { try? SealedPart.decode([UInt8]($0)).boxes } ?? []
        return row.withParts(
            name: name, contact: contact, erased: Materializer.erasedSlots(try r.value(at: C.erased.rawValue, as: Int64.self)))
    }

    /// Pledges of a campaign in the order they were made. For a large campaign prefer `forEachPledge`.
    public func pledges(campaign: EventID) throws(WhipError) -> [PledgeRow] {
        var all: [PledgeRow] = []
        try forEachPledge(campaign: campaign) { all.append($0) }
        return all
    }

    /// Calls `body` for each pledge of a campaign in the order they were made, reading them one at a time
    /// from a database cursor, so listing a campaign of any size holds one pledge in memory at once.
    /// An error thrown by `body` stops the walk and is rethrown.
    public func forEachPledge(campaign: EventID, _ body: (PledgeRow) throws(WhipError) -> Void) throws(WhipError) {
        try read { db in
            guard let (pref, cur) = try Store.partitionRef(db, campaign) else { return }
            let cursor = try Row.fetchCursor(db, sql: Store.pledgeSelect + " WHERE p.partition = ? " + Store.pledgeOrder, arguments: [pref])
            while let r = try cursor.next() { try body(try Store.pledge(r, campaign: campaign, currency: cur)) }
        }
    }

    /// The `limit` pledges of a campaign made last, in the order they were made.
    public func latestPledges(campaign: EventID, limit: Int) throws(WhipError) -> [PledgeRow] {
        try read { db in
            guard let (pref, cur) = try Store.partitionRef(db, campaign) else { return [] }
            return try Row.fetchAll(
                db.cachedStatement(
                    sql: Store.pledgeSelect + " WHERE p.partition = ? ORDER BY p.made_ms DESC, p.made_counter DESC, e.id DESC LIMIT ?"),
                arguments: [pref, limit]
            ).reversed().map { r throws in try Store.pledge(r, campaign: campaign, currency: cur) }
        }
    }

    /// How many pledges a campaign has, by status (`active`, `withdrawn`, …), and how many of them are waitlisted.
    public func pledgeCounts(campaign: EventID) throws(WhipError) -> (byStatus: [String: Int], waitlisted: Int) {
        try read { db in
            guard let (pref, _) = try Store.partitionRef(db, campaign) else { return ([:], 0) }
            var byStatus: [String: Int] = [:]
            var waitlisted = 0
            for r in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT status, waitlisted, count(*) AS n FROM pledges WHERE partition = ? GROUP BY status, waitlisted"),
                arguments: [pref])
            {
                let n = try r.value("n", as: Int.self)
                byStatus[try Materializer.status(r).rawValue, default: 0] += n
                if try r.value("waitlisted", as: Bool.self) { waitlisted += n }
            }
            return (byStatus, waitlisted)
        }
    }

    /// One pledge by id, with the campaign it belongs to, or nil.
    public func pledge(_ id: EventID) throws(WhipError) -> PledgeRow? {
        try read { db in
            guard
                let campaign = try EventID.fetchOne(
                    db.cachedStatement(
                        sql:
                            "SELECT pt.campaign FROM events e JOIN pledges p ON p.seq = e.seq JOIN partitions pt ON pt.ref = p.partition WHERE e.id = ?"
                    ),
                    arguments: [id]),
                let (_, cur) = try Store.partitionRef(db, campaign)
            else { return nil }
            return try Row.fetchOne(db.cachedStatement(sql: Store.pledgeSelect + " WHERE e.id = ?"), arguments: [id]).map { r throws in
                try Store.pledge(r, campaign: campaign, currency: cur)
            }
        }
    }

    /// Resolves a hex id or unique hex prefix (at least 6 characters) of a campaign, tier or pledge.
    public func resolve(_ text: String, in table: String, what: String) throws(WhipError) -> EventID {
        let t = text.lowercased()
        if let id = EventID(hex: t) { return id }
        guard t.count >= 6, t.allSatisfy({ $0.isHexDigit }) else {
            throw WhipError(.invalidArgument, "'\(text)' is not a \(what) id: give the hex id (or at least its first 6 characters)")
        }
        let sql =
            switch table {
            case "campaigns":
                "SELECT p.campaign FROM campaigns c JOIN partitions p ON p.ref = c.partition WHERE lower(hex(p.campaign)) LIKE ? LIMIT 2"
            case "tiers": "SELECT e.id FROM tiers t JOIN events e ON e.seq = t.seq WHERE lower(hex(e.id)) LIKE ? LIMIT 2"
            default: "SELECT e.id FROM pledges p JOIN events e ON e.seq = p.seq WHERE lower(hex(e.id)) LIKE ? LIMIT 2"
            }
        let matches = try read { db in try EventID.fetchAll(db, sql: sql, arguments: [t + "%"]) }
        guard let first = matches.first else {
            throw WhipError(.notFound, "no \(what) with an id starting '\(text)'; list them with `whipround \(what) list`")
        }
        guard matches.count == 1 else { throw WhipError(.invalidArgument, "'\(text)' matches several \(what)s; type more of the id") }
        return first
    }

    /// Roles in a community as they stand.
    public func roles(community: PublicKey) throws(WhipError) -> [RoleRow] {
        try read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT r.* FROM roles r JOIN communities c ON c.ref = r.community WHERE c.id = ? ORDER BY r.member, r.role"),
                arguments: [Data(community.bytes)]
            ).map { r throws in
                guard let role = Role(name: try r.value("role")) else { throw DamagedData("a role is not one this version knows") }
                return RoleRow(
                    member: try r.value("member", as: PublicKey.self), role: role, granted: try r.value("granted"),
                    expires: try r.value("expires_ms", as: Int64?.self).map { UInt64(clamping: $0) })
            }
        }
    }

    /// The rejection log, newest admission refusals last.
    public func rejections(limit: Int = 100) throws(WhipError) -> [RejectionRow] {
        try read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM rejection_log LIMIT ?"), arguments: [limit]).map { r throws in
                RejectionRow(eventID: try r.value("event"), code: try r.value("code"), message: try r.value("message"), stage: try r.value("stage"))
            }
        }
    }

    /// Count of events held for a future timestamp.
    public func heldCount() throws(WhipError) -> Int {
        try read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM rejections WHERE retry_at IS NOT NULL")) ?? 0 }
    }

    /// Wire bytes of stored events in replay order per community, optionally of one community.
    public func exportEvents(community: PublicKey? = nil) throws(WhipError) -> [[UInt8]] {
        try read { db in
            // Replay order (PROTOCOL.md §7.2) within each community, as §12 asks of writers, so a reader that
            // applies events as they come never sees an event before the ones it depends on.
            let order = "ORDER BY e.community, e.hlc_wall, e.hlc_counter, m.key, e.id"
            let rows =
                community == nil
                ? try Data.fetchAll(db.cachedStatement(sql: "SELECT e.raw FROM events e JOIN members m ON m.ref = e.author \(order)"))
                : try Data.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT e.raw FROM events e JOIN members m ON m.ref = e.author JOIN communities c ON c.ref = e.community
                            WHERE c.id = ? \(order)
                            """),
                    arguments: [Data(community!.bytes)])
            return rows.map { [UInt8]($0) }
        }
    }

    /// Number of stored events.
    /// Stored events over every community, from the per-community counts (no scan).
    public func storedEventCount() throws(WhipError) -> Int {
        try read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(SUM(event_count), 0) FROM communities")) ?? 0 }
    }

    /// Refused events on record (held ones excluded), by reason code.
    public func rejectionCounts() throws(WhipError) -> [String: Int] {
        try read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT code, count(*) AS n FROM rejections WHERE retry_at IS NULL GROUP BY code")) {
                out[try row.value("code", as: String.self)] = try row.value("n", as: Int.self)
            }
            return out
        }
    }

    public func eventCount() throws(WhipError) -> Int {
        try read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM events")) ?? 0 }
    }

    /// Rebuilds a community's derived tables from its events and reports whether they were identical before.
    public func rebuild(community: PublicKey) throws(WhipError) -> (before: String, after: String, tablesIdentical: Bool) {
        try write { db in
            let before = try Store.derivedDump(db, community)
            let digestBefore =
                try Data.fetchOne(db.cachedStatement(sql: "SELECT digest FROM communities WHERE id = ?"), arguments: [Data(community.bytes)])
                ?? Data()
            try Materializer.rebuild(db, community: community)
            let after = try Store.derivedDump(db, community)
            let digestAfter =
                try Data.fetchOne(db.cachedStatement(sql: "SELECT digest FROM communities WHERE id = ?"), arguments: [Data(community.bytes)])
                ?? Data()
            return (Hex.encode([UInt8](digestBefore)), Hex.encode([UInt8](digestAfter)), before == after)
        }
    }

    /// A hash of every derived row of a community, in a fixed order.
    static func derivedDump(_ db: Database, _ community: PublicKey) throws -> [UInt8] {
        let cref = try Int64.fetchOne(db.cachedStatement(sql: "SELECT ref FROM communities WHERE id = ?"), arguments: [Data(community.bytes)]) ?? -1
        var h = Blake2b.Hasher()
        let queries = [
            "SELECT * FROM campaigns WHERE community = ?1 ORDER BY partition",
            "SELECT t.* FROM tiers t JOIN partitions p ON p.ref = t.partition WHERE p.community = ?1 ORDER BY t.seq",
            "SELECT x.* FROM pledges x JOIN partitions p ON p.ref = x.partition WHERE p.community = ?1 ORDER BY x.seq",
            "SELECT * FROM partitions WHERE community = ?1 ORDER BY ref",
            "SELECT * FROM rule_rejections WHERE community = ?1 ORDER BY seq",
            "SELECT * FROM roles WHERE community = ?1 ORDER BY member, role",
            "SELECT * FROM funder_budgets WHERE community = ?1 ORDER BY funder, currency",
            "SELECT o.* FROM match_offers o JOIN partitions p ON p.ref = o.partition WHERE p.community = ?1 ORDER BY o.seq",
            "SELECT x.* FROM pledge_matches x JOIN partitions p ON p.ref = x.partition WHERE p.community = ?1 ORDER BY x.pledge, x.offer",
            "SELECT u.* FROM updates u JOIN partitions p ON p.ref = u.partition WHERE p.community = ?1 ORDER BY u.seq",
            "SELECT event_count, fingerprint, authority_digest, digest, founder, max_wall, max_counter FROM communities WHERE ref = ?1",
        ]
        for sql in queries {
            h.update(Array(sql.utf8))
            for row in try Row.fetchAll(db, sql: sql, arguments: [cref]) {
                h.update(Array(row.description.utf8))
            }
        }
        return h.finalize()
    }
}

extension Store {
    /// Sets a node-level setting.
    public func setMeta(_ key: String, _ value: String) throws(WhipError) {
        try write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, Data(value.utf8)])
        }
    }

    /// Reads a node-level setting.
    public func meta(_ key: String) throws(WhipError) -> String? {
        try read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM meta WHERE key = ?"), arguments: [key]).map {
                String(decoding: $0, as: UTF8.self)
            }
        }
    }

    /// The campaign a pledge belongs to.
    public func pledgeCampaign(_ id: EventID) throws(WhipError) -> EventID? {
        try read { db in
            try EventID.fetchOne(
                db.cachedStatement(
                    sql: "SELECT pt.campaign FROM events e JOIN pledges p ON p.seq = e.seq JOIN partitions pt ON pt.ref = p.partition WHERE e.id = ?"),
                arguments: [id])
        }
    }
}

extension Store {
    /// The campaign a tier belongs to.
    public func tierCampaign(_ id: EventID) throws(WhipError) -> EventID? {
        try read { db in
            try EventID.fetchOne(
                db.cachedStatement(
                    sql: "SELECT pt.campaign FROM events e JOIN tiers t ON t.seq = e.seq JOIN partitions pt ON pt.ref = t.partition WHERE e.id = ?"),
                arguments: [id])
        }
    }
}

extension Store {
    /// Bytes the database occupies after a WAL checkpoint.
    public func databaseBytes() throws(WhipError) -> Int {
        do {
            return try pool.barrierWriteWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                return try Int.fetchOne(db.cachedStatement(sql: "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")) ?? 0
            }
        } catch {
            throw wrap(error)
        }
    }
}

extension Store {
    /// The wire bytes of the stored events among `ids` (of `community`), in the order asked; unknown ids are skipped.
    public func rawEvents(community: PublicKey, ids: [EventID]) throws(WhipError) -> [[UInt8]] {
        try read { db in
            guard
                let cref = try Int64.fetchOne(db.cachedStatement(sql: "SELECT ref FROM communities WHERE id = ?"), arguments: [Data(community.bytes)])
            else {
                return []
            }
            let st = try db.cachedStatement(sql: "SELECT raw FROM events WHERE id = ? AND community = ?")
            return try ids.compactMap { id in try Data.fetchOne(st, arguments: [Data(id.bytes), cref]).map { [UInt8]($0) } }
        }
    }
}

extension Store {
    /// The ids among `ids` that are not stored.
    public func missing(_ ids: [EventID]) throws(WhipError) -> [EventID] {
        try read { db in
            let st = try db.cachedStatement(sql: "SELECT 1 FROM events WHERE id = ?")
            return try ids.filter { try Bool.fetchOne(st, arguments: [Data($0.bytes)]) == nil }
        }
    }
}

extension Store {
    /// Calls `body` for every event stored after `seq`, in arrival order, with its community, HLC and id bytes
    /// (the buffer is valid only during the call), and returns the last seq seen. Nothing is allocated per event,
    /// so loading a million keys at start-up costs no more memory than the keys themselves.
    public func forEachEventKey(
        after seq: Int64, _ body: (_ community: PublicKey, _ hlc: HLC, _ id: UnsafeRawBufferPointer) -> Void
    ) throws(WhipError) -> Int64 {
        try read { db in
            var communities: [Int64: PublicKey] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT ref, id FROM communities")) {
                communities[try row.value("ref", as: Int64.self)] = try row.value("id", as: PublicKey.self)
            }
            var last = seq
            let cursor = try Row.fetchCursor(
                db, sql: "SELECT seq, community, hlc_wall, hlc_counter, id FROM events WHERE seq > ? ORDER BY seq", arguments: [seq])
            while let row = try cursor.next() {
                last = try row.value(at: 0)
                guard let community = communities[try row.value(at: 1, as: Int64.self)] else { continue }
                let hlc = HLC(wall: try row.unsigned("hlc_wall"), counter: try row.counter("hlc_counter"))
                try row.withUnsafeData(atIndex: 4) { id in id?.withUnsafeBytes { body(community, hlc, $0) } }
            }
            return last
        }
    }
}

/// A peer the daemon keeps in step with.
public struct PeerRow: Sendable {
    public let address: String
    public let source: String
    public let lastAttempt: UInt64?
    public let lastSuccess: UInt64?
    public let lastError: String?
    public let lastPeerID: PublicKey?
    /// Events this node stored after its last successful sync with the peer (all of them if it never synced):
    /// the most the peer can be missing from us.
    public let storedSinceSync: Int

    /// Whether the daemon keeps this peer connected: not one only recorded by a one-off `whipround sync`
    /// (`sync`) or a member that connected to this node (`inbound`, its address being its member id).
    public var dialled: Bool { source != "sync" && source != "inbound" }
}

extension Store {
    /// Adds a peer (idempotent); `source` is `cli` or `invite`. A peer so far only recorded by a one-off
    /// `sync` becomes one the daemon dials.
    public func addPeer(_ address: String, source: String, now: UInt64) throws(WhipError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO peers (address, source, added_at) VALUES (?, ?, ?)
                    ON CONFLICT(address) DO UPDATE SET source = excluded.source WHERE source = 'sync'
                    """,
                arguments: [address, source, Int64(now)])
        }
    }

    /// Records that the member `peer` (connecting from `from`) synced with this node: its row, keyed by its
    /// member id with source `inbound`, says when, so `status` on a hub lists the members it serves.
    public func recordInbound(_ peer: PublicKey, from: String, now: UInt64) throws(WhipError) {
        let id = KeyText.encode(peer, as: .member)
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO peers (address, source, added_at) VALUES (?, 'inbound', ?)
                    ON CONFLICT(address) DO NOTHING
                    """,
                arguments: [id, Int64(now)])
            try db.execute(
                sql: """
                    UPDATE peers SET last_attempt_ms = ?, last_success_ms = ?, last_error = NULL, last_peer_id = ?,
                        synced_seq = (SELECT COALESCE(MAX(seq), 0) FROM events)
                    WHERE address = ?
                    """,
                arguments: [Int64(now), Int64(now), Data(peer.bytes), id])
        }
    }

    /// When the earliest held event may be admitted (its `retry_at`), or nil when none is held.
    public func nextHeldRetry() throws(WhipError) -> UInt64? {
        try read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT MIN(retry_at) FROM rejections WHERE retry_at IS NOT NULL")).map { UInt64(max(0, $0)) }
        }
    }

    /// Removes a peer; false if it was not there.
    public func removePeer(_ address: String) throws(WhipError) -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM peers WHERE address = ?", arguments: [address])
            return db.changesCount > 0
        }
    }

    /// Every stored peer.
    public func peers() throws(WhipError) -> [PeerRow] {
        try read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT p.*, (SELECT COUNT(*) FROM events e WHERE e.seq > COALESCE(p.synced_seq, 0)) AS since
                        FROM peers p ORDER BY p.address
                        """)
            ).map { r throws in
                PeerRow(
                    address: try r.value("address"), source: try r.value("source"),
                    lastAttempt: try r.value("last_attempt_ms", as: Int64?.self).map { UInt64(clamping: $0) },
                    lastSuccess: try r.value("last_success_ms", as: Int64?.self).map { UInt64(clamping: $0) }, lastError: try r.value("last_error"),
                    lastPeerID: try r.value("last_peer_id", as: PublicKey?.self), storedSinceSync: try r.value("since"))
            }
        }
    }

    /// Records how a sync attempt with `address` went, creating the peer's row with `source` if it has none
    /// (`config` for a configured peer the daemon dials, `sync` for a one-off `whipround sync`).
    public func recordSync(_ address: String, now: UInt64, peer: PublicKey?, error: String?, source: String = "config") throws(WhipError) {
        try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO peers (address, source, added_at) VALUES (?, ?, ?)", arguments: [address, source, Int64(now)])
            if let error {
                try db.execute(
                    sql: "UPDATE peers SET last_attempt_ms = ?, last_error = ? WHERE address = ?", arguments: [Int64(now), error, address])
            } else {
                try db.execute(
                    sql: """
                        UPDATE peers SET last_attempt_ms = ?, last_success_ms = ?, last_error = NULL, last_peer_id = ?,
                            synced_seq = (SELECT COALESCE(MAX(seq), 0) FROM events)
                        WHERE address = ?
                        """,
                    arguments: [Int64(now), Int64(now), peer.map { Data($0.bytes) }, address])
            }
        }
    }
}

/// A campaign as a live view shows it, with the change mark it was read at (`Store.progress`).
public struct CampaignProgress: Sendable {
    /// The campaign.
    public let campaign: CampaignRow
    /// Its tiers, cheapest first.
    public let tiers: [TierRow]
    /// The replica's change mark in the same transaction.
    public let mark: Int64
}

extension Store {
    /// Whether a `campaign.published` of this campaign was applied: a cancelled campaign that never was is a
    /// cancelled draft, which no public page shows.
    public func wasPublished(campaign: EventID) throws(WhipError) -> Bool {
        try read { db in
            try Bool.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT 1 FROM events e JOIN partitions p ON p.ref = e.partition
                        WHERE p.campaign = ? AND e.kind = ? AND NOT EXISTS (SELECT 1 FROM rule_rejections r WHERE r.seq = e.seq)
                        LIMIT 1
                        """),
                arguments: [campaign, Int64(EventKind.campaignPublished.rawValue)]) == true
        }
    }
}
