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
            let (events, _) = try Materializer.loadEvents(db, sql: "SELECT seq, raw FROM events WHERE community = ? AND partition IS NULL", cref)
            return Authority(community: community, events: events)
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
