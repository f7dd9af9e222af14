import Foundation
import GRDB
public import WhipCore
import WhipCrypto

/// Why a personal part was dropped on arrival (PROTOCOL.md §6.35): counted in `IngestReport.partsRefused`, never
/// logged with its bytes.
public enum PartRefusal: String, Sendable {
    /// Its event is neither stored, nor held for a future timestamp, nor in the same batch.
    case noEvent = "part.no_event"
    /// Its event commits to no part in that slot (not a version-2 pledge, or a revision without a name).
    case noCommitment = "part.no_commitment"
    /// `BLAKE2b-256(salt ‖ bytes)` is not the event's commitment.
    case mismatch = "part.mismatch"
    /// The slot was erased: the tombstone refuses it for ever.
    case erased = "part.erased"
    /// Not a valid part for its slot.
    case malformed = "part.malformed"
}

extension Store {
    /// Stores the parts whose event is stored (by this batch or earlier) and whose commitment they open, unless
    /// their slot was erased; keeps those of a held event beside it (`held_parts`); drops and counts the rest.
    static func admitParts(_ db: Database, _ parts: [PartRecord], now: UInt64, into report: inout IngestReport) throws {
        let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO parts (event, slot, pledge, salt, bytes) VALUES (?, ?, ?, ?, ?)")
        let hold = try db.cachedStatement(sql: "INSERT OR IGNORE INTO held_parts (event_id, slot, salt, bytes) VALUES (?, ?, ?, ?)")
        // Cached: these run once or twice per part, and compiling each again cost more than the insert.
        let eventByID = try db.cachedStatement(sql: "SELECT seq, raw FROM events WHERE id = ?")
        let tombstone = try db.cachedStatement(sql: "SELECT 1 FROM tombstones WHERE pledge = ? AND slot = ?")
        // nil seq: the event is held for a future timestamp, and its parts wait beside it.
        var events: [EventID: (seq: Int64?, event: Event)?] = [:]
        for part in parts {
            func refuse(_ r: PartRefusal) { report.partsRefused[r.rawValue, default: 0] += 1 }
            if events[part.event] == nil {
                let id = Data(part.event.bytes)
                let row =
                    try Row.fetchOne(eventByID, arguments: [id])
                    ?? Row.fetchOne(
                        db, sql: "SELECT NULL AS seq, raw FROM rejections WHERE event_id = ? AND retry_at IS NOT NULL LIMIT 1", arguments: [id])
                events[part.event] = try row.map { r throws in
                    do { return (try r.value("seq"), try Event.decode(wire: try r.bytes("raw"))) } catch {
                        throw DamagedData("a stored event cannot be decoded: \(error)")
                    }
                }
            }
            guard case .some(.some(let stored)) = events[part.event] else {
                refuse(.noEvent)
                continue
            }
            guard let (pledge, commitment) = Store.commitment(of: stored.event, slot: part.slot) else {
                refuse(.noCommitment)
                continue
            }
            do { try part.validate() } catch {
                refuse(.malformed)
                continue
            }
            guard part.commitment == commitment else {
                refuse(.mismatch)
                continue
            }
            let erased =
                try Bool.fetchOne(tombstone, arguments: [Data(pledge.bytes), Int64(part.slot.rawValue)])
                ?? false
            guard !erased else {
                refuse(.erased)
                continue
            }
            guard let seq = stored.seq else {
                try hold.execute(arguments: [Data(part.event.bytes), Int64(part.slot.rawValue), Data(part.salt.array), Data(part.bytes)])
                if db.changesCount == 1 { report.partsHeld += 1 } else { report.partsDuplicate += 1 }
                continue
            }
            try insert.execute(arguments: [
                seq, Int64(part.slot.rawValue), Data(pledge.bytes), Data(part.salt.array), Data(part.bytes),
            ])
            if db.changesCount == 1 { report.partsStored += 1 } else { report.partsDuplicate += 1 }
        }
    }

    /// The pledge an event's part in `slot` belongs to and the commitment it must open, or nil when the event
    /// commits to no part there.
    static func commitment(of e: Event, slot: PartSlot) -> (pledge: EventID, commitment: Bytes32)? {
        switch e.body {
        case .pledgeMadeV2(let b): (e.id, b.commitments[Int(slot.rawValue)])
        case .pledgeRevisedV2(let b) where slot == .name: b.name.map { (b.pledge, $0) }
        default: nil
        }
    }

    /// The stored parts of `events` that are not erased, for sync and bundles: each event's parts in slot order.
    public func parts(for events: [EventID]) throws(WhipError) -> [PartRecord] {
        try read { db in
            var out: [PartRecord] = []
            let stmt = try db.cachedStatement(
                sql: "SELECT p.slot, p.salt, p.bytes FROM events e JOIN parts p ON p.event = e.seq WHERE e.id = ? ORDER BY p.slot")
            for id in events {
                for r in try Row.fetchAll(stmt, arguments: [Data(id.bytes)]) {
                    out.append(try Store.partRecord(r, event: id))
                }
            }
            return out
        }
    }

    /// One stored part, or nil (never received, or erased).
    public func part(event: EventID, slot: PartSlot) throws(WhipError) -> PartRecord? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT p.slot, p.salt, p.bytes FROM events e JOIN parts p ON p.event = e.seq WHERE e.id = ? AND p.slot = ?",
                arguments: [Data(event.bytes), Int64(slot.rawValue)]
            ).map { r throws in try Store.partRecord(r, event: event) }
        }
    }

    /// The erased slots of a pledge, by this node's tombstones.
    public func tombstones(pledge: EventID) throws(WhipError) -> Set<PartSlot> {
        try read { db in
            Set(
                try Int64.fetchAll(db, sql: "SELECT slot FROM tombstones WHERE pledge = ?", arguments: [Data(pledge.bytes)])
                    .compactMap { PartSlot(rawValue: UInt64(clamping: $0)) })
        }
    }

    /// Takes the parts waiting beside held events `ids` out of `held_parts`, to be judged with their events.
    static func takeHeldParts(_ db: Database, events ids: [EventID]) throws -> [PartRecord] {
        var out: [PartRecord] = []
        for id in ids {
            let rows = try Row.fetchAll(
                db, sql: "SELECT slot, salt, bytes FROM held_parts WHERE event_id = ? ORDER BY slot", arguments: [Data(id.bytes)])
            out += try rows.map { r throws in try Store.partRecord(r, event: id) }
            try db.execute(sql: "DELETE FROM held_parts WHERE event_id = ?", arguments: [Data(id.bytes)])
        }
        return out
    }

    static func partRecord(_ r: Row, event: EventID) throws -> PartRecord {
        guard let slot = PartSlot(rawValue: UInt64(clamping: try r.value("slot", as: Int64.self))),
            let salt = Bytes32([UInt8](try r.value("salt", as: Data.self)))
        else { throw DamagedData("a stored part is damaged") }
        return PartRecord(event: event, slot: slot, salt: salt, bytes: [UInt8](try r.value("bytes", as: Data.self)))
    }
}
