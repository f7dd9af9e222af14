import Foundation
import GRDB
public import WhipCore
public import WhipCrypto

/// A pledge desk as stored: local to this node, never synced (migration `v12-desks`).
public struct DeskRow: Sendable, Equatable {
    /// Random id (hex), which sessions and pledges refer to.
    public let id: String
    /// The name the volunteers know it by ("Tombola stall"); unique among open desks.
    public let name: String
    /// The one campaign this desk records pledges for.
    public let campaign: EventID
    /// That campaign's community.
    public let community: PublicKey
    /// When it was opened (ms).
    public let opened: UInt64
    /// When it stops taking pledges by itself (ms); nil for never.
    public let until: UInt64?
    /// When it was closed (ms); nil while not closed.
    public let closed: UInt64?
    /// Pledges it has recorded.
    public let pledges: Int

    /// A row.
    public init(
        id: String, name: String, campaign: EventID, community: PublicKey, opened: UInt64, until: UInt64?, closed: UInt64?, pledges: Int
    ) {
        self.id = id
        self.name = name
        self.campaign = campaign
        self.community = community
        self.opened = opened
        self.until = until
        self.closed = closed
        self.pledges = pledges
    }
}

/// What a desk pledge's idempotency key is bound to.
public struct DeskMark: Sendable {
    /// The desk's id.
    public let desk: String
    /// The phone's idempotency key for this pledge.
    public let key: String
    /// When it was recorded (ms).
    public let at: UInt64

    /// A mark.
    public init(desk: String, key: String, at: UInt64) {
        self.desk = desk
        self.key = key
        self.at = at
    }
}

/// A desk pledge ready to be signed and committed with others (`Store.appendDeskPledges`).
public struct DeskPledgeDraft: Sendable {
    /// The campaign's community.
    public let community: PublicKey
    /// Events the pledge must come after (its body's references).
    public let after: [EventID]
    /// Its personal parts.
    public let parts: [PartDraft]
    /// The desk and idempotency key it is bound to.
    public let mark: DeskMark

    /// A draft.
    public init(community: PublicKey, after: [EventID], parts: [PartDraft], mark: DeskMark) {
        self.community = community
        self.after = after
        self.parts = parts
        self.mark = mark
    }
}

extension Store {
    private static let deskColumns = """
        d.id, d.name, d.campaign, d.community, d.opened, d.until, d.closed,
        (SELECT count(*) FROM desk_pledges dp WHERE dp.desk = d.id) AS pledges
        """

    private static func deskRow(_ r: Row) throws -> DeskRow {
        DeskRow(
            id: try r.value("id"), name: try r.value("name"), campaign: try r.value("campaign"), community: try r.value("community"),
            opened: UInt64(try r.value("opened") as Int64), until: (r["until"] as Int64?).map(UInt64.init),
            closed: (r["closed"] as Int64?).map(UInt64.init), pledges: try r.value("pledges"))
    }

    /// Stores a new desk and its first pairing code's hash; `alreadyExists` if an open desk has the name.
    public func insertDesk(_ d: DeskRow, codeHash: [UInt8], codeExpires: UInt64) throws(WhipError) {
        try write { db in
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM desks WHERE name = ? AND closed IS NULL"), arguments: [d.name]) == true {
                throw WhipError(.alreadyExists, "a desk called '\(d.name)' is already open: close it first or choose another name")
            }
            try db.execute(
                sql: "INSERT INTO desks (id, name, campaign, community, opened, until, closed) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                arguments: [d.id, d.name, d.campaign, d.community, Int64(d.opened), d.until.map(Int64.init)])
            try db.execute(
                sql: "INSERT INTO desk_codes (code_hash, desk, expires, used) VALUES (?, ?, ?, NULL)",
                arguments: [Data(codeHash), d.id, Int64(codeExpires)])
        }
    }

    /// Adds another pairing code to a desk.
    public func insertDeskCode(desk: String, codeHash: [UInt8], expires: UInt64) throws(WhipError) {
        try write { db in
            try db.execute(
                sql: "INSERT INTO desk_codes (code_hash, desk, expires, used) VALUES (?, ?, ?, NULL)",
                arguments: [Data(codeHash), desk, Int64(expires)])
        }
    }

    /// Desks, newest first; closed ones only with `includeClosed`.
    public func desks(includeClosed: Bool) throws(WhipError) -> [DeskRow] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.deskColumns) FROM desks d \(includeClosed ? "" : "WHERE d.closed IS NULL") ORDER BY d.opened DESC, d.name"
            ).map(Self.deskRow)
        }
    }

    /// The open desk with this name, else the most recently closed one, else nil.
    public func desk(named name: String) throws(WhipError) -> DeskRow? {
        try read { db in
            try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT \(Self.deskColumns) FROM desks d WHERE d.name = ? ORDER BY d.closed IS NULL DESC, d.closed DESC LIMIT 1"),
                arguments: [name]
            ).map(Self.deskRow)
        }
    }

    /// The desk with this id.
    public func desk(id: String) throws(WhipError) -> DeskRow? {
        try read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.deskColumns) FROM desks d WHERE d.id = ?"), arguments: [id]).map(Self.deskRow)
        }
    }

    /// Closes a desk at `now` and drops its unused codes; its sessions stay, so its phones are told it closed.
    public func closeDesk(id: String, now: UInt64) throws(WhipError) {
        try write { db in
            try db.execute(sql: "UPDATE desks SET closed = ? WHERE id = ? AND closed IS NULL", arguments: [Int64(now), id])
            try db.execute(sql: "DELETE FROM desk_codes WHERE desk = ?", arguments: [id])
        }
    }

    /// Uses up a pairing code (by hash) and stores the new session in one transaction; returns the desk id, or nil
    /// when the code is unknown, used or expired.
    public func redeemDeskCode(codeHash: [UInt8], now: UInt64, tokenHash: [UInt8], csrf: String) throws(WhipError) -> String? {
        try write { db in
            guard
                let desk = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT desk FROM desk_codes WHERE code_hash = ? AND used IS NULL AND expires > ?"),
                    arguments: [Data(codeHash), Int64(now)])
            else { return nil }
            try db.execute(sql: "UPDATE desk_codes SET used = ? WHERE code_hash = ?", arguments: [Int64(now), Data(codeHash)])
            try db.execute(
                sql: "INSERT INTO desk_sessions (token_hash, desk, csrf, created) VALUES (?, ?, ?, ?)",
                arguments: [Data(tokenHash), desk, csrf, Int64(now)])
            return desk
        }
    }

    /// The desk id and CSRF token of a session (by token hash).
    public func deskSession(tokenHash: [UInt8]) throws(WhipError) -> (desk: String, csrf: String)? {
        try read { db in
            guard
                let r = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT desk, csrf FROM desk_sessions WHERE token_hash = ?"), arguments: [Data(tokenHash)])
            else { return nil }
            return (try r.value("desk"), try r.value("csrf"))
        }
    }

    /// The pledge a desk already recorded under an idempotency key.
    public func deskPledge(desk: String, key: String) throws(WhipError) -> EventID? {
        try read { db in
            try EventID.fetchOne(db.cachedStatement(sql: "SELECT pledge FROM desk_pledges WHERE desk = ? AND key = ?"), arguments: [desk, key])
        }
    }

    /// The pledges a desk recorded, newest first.
    public func deskPledges(desk: String, limit: Int) throws(WhipError) -> [EventID] {
        try read { db in
            try EventID.fetchAll(
                db.cachedStatement(sql: "SELECT pledge FROM desk_pledges WHERE desk = ? ORDER BY at DESC LIMIT ?"), arguments: [desk, limit])
        }
    }

    /// Records several desks' pledges in one transaction, one savepoint each (group commit: one durable sync for
    /// all of them). For each, in order: the earlier pledge when its key was used before; a refusal (`WhipError`)
    /// when its desk has closed or run out, or the rules refuse it, which leaves the others untouched; or the new
    /// pledge's id. `make` signs item `i` at the clock value it is given.
    public func appendDeskPledges(
        _ items: [DeskPledgeDraft], now: UInt64, author: PublicKey, make: (Int, HLC) -> Event
    ) throws(WhipError) -> [Result<(id: EventID, duplicate: Bool), WhipError>] {
        try write { db in
            var results: [Result<(id: EventID, duplicate: Bool), WhipError>] = []
            for (i, item) in items.enumerated() {
                var outcome: Result<(id: EventID, duplicate: Bool), WhipError>!
                try db.inSavepoint {
                    do {
                        outcome = .success(try self.appendDeskPledge(db, item, index: i, now: now, author: author, make: make))
                        return .commit
                    } catch let e as WhipError {
                        outcome = .failure(e)
                        return .rollback
                    }
                }
                results.append(outcome)
            }
            return results
        }
    }

    private func appendDeskPledge(
        _ db: Database, _ item: DeskPledgeDraft, index: Int, now: UInt64, author: PublicKey, make: (Int, HLC) -> Event
    ) throws -> (id: EventID, duplicate: Bool) {
        let mark = item.mark
        if let earlier = try EventID.fetchOne(
            db.cachedStatement(sql: "SELECT pledge FROM desk_pledges WHERE desk = ? AND key = ?"), arguments: [mark.desk, mark.key])
        {
            return (earlier, true)
        }
        // The desk may have been closed (by `desk close` in another process, too) since the request was checked.
        guard let desk = try Row.fetchOne(db.cachedStatement(sql: "SELECT name, until, closed FROM desks WHERE id = ?"), arguments: [mark.desk])
        else { throw WhipError(.notFound, "this phone is not paired with a desk: scan the desk's QR code or type its pairing code") }
        let name: String = try desk.value("name")
        if (desk["closed"] as Int64?) != nil { throw WhipError(.rejected, "the desk '\(name)' was closed: it takes no more pledges") }
        if let until = desk["until"] as Int64?, Int64(clamping: now) >= until {
            throw WhipError(.rejected, "the desk '\(name)' has expired: it takes no more pledges")
        }
        var erasures = 0
        let event = try self.appendLocal(
            db, community: item.community, now: now, after: item.after, author: author, parts: item.parts, erasures: &erasures
        ) { hlc in make(index, hlc) }
        try db.cachedStatement(sql: "INSERT INTO desk_pledges (desk, key, pledge, at) VALUES (?, ?, ?, ?)")
            .execute(arguments: [mark.desk, mark.key, event.id, Int64(mark.at)])
        return (event.id, false)
    }

    /// A number that changes whenever an event is stored (the newest event's row id), for live views to poll.
    public func changeMark() throws(WhipError) -> Int64 {
        try read { db in try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(max(seq), 0) FROM events")) ?? 0 }
    }
}
