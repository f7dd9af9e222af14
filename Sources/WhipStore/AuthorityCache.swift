import GRDB
import Synchronization
import WhipCore
import WhipCrypto

/// Communities' authorities (roles, charity, budgets) as derived from their committed community-level events,
/// reused while none arrives: every pledge needs its community's authority, and rebuilding it means decoding
/// every community-level event again.
///
/// An entry is keyed by the count and the newest seq of the community-level events it was built from. Events are
/// never deleted, so committed seqs are never reused: the key names one set of events. Entries are only stored from
/// read transactions (committed state); a write transaction may look one up, because an event it adds changes the
/// key, and a rolled-back event's seq is never seen by a reader.
final class AuthorityCache: Sendable {
    struct Key: Equatable {
        let count: Int
        let newest: Int64
    }
    private struct Entry {
        let key: Key
        let authority: Authority
        let seqs: [EventID: Int64]
    }
    private let entries = Mutex<[Int64: Entry]>([:])

    /// The authority of community `cref` and its events' seqs; `store` only from a read transaction.
    func authority(_ db: Database, community: PublicKey, cref: Int64, store: Bool) throws -> (Authority, [EventID: Int64]) {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) AS n, COALESCE(max(seq), 0) AS newest FROM events WHERE community = ? AND partition IS NULL"),
            arguments: [cref])
        let key = Key(count: try row?.value("n") ?? 0, newest: try row?.value("newest") ?? 0)
        if let hit = entries.withLock({ $0[cref] }), hit.key == key, hit.authority.community == community { return (hit.authority, hit.seqs) }
        let (events, seqs) = try Materializer.loadEvents(db, sql: "SELECT seq, raw FROM events WHERE community = ? AND partition IS NULL", cref)
        let authority = Authority(community: community, events: events)
        if store { entries.withLock { $0[cref] = Entry(key: key, authority: authority, seqs: seqs) } }
        return (authority, seqs)
    }
}
