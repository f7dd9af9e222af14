import Foundation
import GRDB
public import WhipCore
public import WhipCrypto

/// Events with the personal parts that travel beside them (PROTOCOL.md §12 and §16): what sync sends and
/// bundles carry. Erased parts are deleted, so they are never among them.
extension Store {
    /// Stored events of `community` among `ids`, in the order of `ids` (those not stored are left out), each
    /// with its stored parts in slot order.
    public func eventsWithParts(community: PublicKey, ids: [EventID]) throws(WhipError) -> [(wire: [UInt8], parts: [PartRecord])] {
        try read { db in
            guard let cref = try Int64.fetchOne(db, sql: "SELECT ref FROM communities WHERE id = ?", arguments: [Data(community.bytes)]) else {
                return []
            }
            let event = try db.cachedStatement(sql: "SELECT seq, kind, raw FROM events WHERE id = ? AND community = ?")
            let parts = try db.cachedStatement(sql: "SELECT slot, salt, bytes FROM parts WHERE event = ? ORDER BY slot")
            var out: [(wire: [UInt8], parts: [PartRecord])] = []
            for id in ids {
                guard let row = try Row.fetchOne(event, arguments: [Data(id.bytes), cref]) else { continue }
                let kind = try row.value("kind", as: Int64.self)
                var records: [PartRecord] = []
                // Only these kinds commit to parts; asking only for them keeps a first sync of 100,000 events
                // from making 100,000 empty lookups.
                if kind == Int64(EventKind.pledgeMadeV2.rawValue) || kind == Int64(EventKind.pledgeRevisedV2.rawValue) {
                    records = try Row.fetchAll(parts, arguments: [try row.value("seq", as: Int64.self)]).map { r throws in
                        try Store.partRecord(r, event: id)
                    }
                }
                out.append((try row.bytes("raw"), records))
            }
            return out
        }
    }

    /// Every stored part (optionally of one community's events), in the replay order of their events and then
    /// by slot, as `exportEvents` lists the events.
    public func exportParts(community: PublicKey? = nil) throws(WhipError) -> [PartRecord] {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.id, p.slot, p.salt, p.bytes FROM parts p JOIN events e ON e.seq = p.event
                    JOIN members m ON m.ref = e.author JOIN communities c ON c.ref = e.community
                    WHERE ?1 IS NULL OR c.id = ?1
                    ORDER BY e.community, e.hlc_wall, e.hlc_counter, m.key, e.id, p.slot
                    """,
                arguments: [community.map { Data($0.bytes) }])
            return try rows.map { r throws in try Store.partRecord(r, event: try r.value("id", as: EventID.self)) }
        }
    }
}
