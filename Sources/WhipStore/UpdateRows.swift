import Foundation
import GRDB
public import WhipCore
public import WhipCrypto

/// A campaign update (`update.posted`, PROTOCOL.md §6.15) as stored: news for backers, immutable once posted.
public struct UpdateRow: Sendable, Equatable {
    /// The event's id.
    public let id: EventID
    public let campaign: EventID
    public let author: PublicKey
    /// When it was posted, ms since the epoch (the event's timestamp).
    public let postedAt: UInt64
    public let title: String
    /// Markdown source: render it with a sanitising renderer, never as HTML.
    public let text: String
}

/// The derived `updates` table: one row per applied `update.posted`.
enum UpdateRows {
    /// Writes the updates of `c` that are not stored yet (a resumed derivation holds only its new ones).
    static func write(_ db: Database, _ c: CampaignState, _ pref: Int64, _ seqs: Materializer.Seqs) throws {
        guard !c.updates.isEmpty else { return }
        let ins = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO updates (seq, partition, author, posted_ms, posted_counter, title, text)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        for u in c.updates.values {
            guard let seq = seqs[u.id] else { continue }
            try ins.execute(arguments: [
                seq, pref, Data(u.author.bytes), Int64(clamping: u.postedAt.wall), Int64(u.postedAt.counter), u.title, u.text,
            ])
        }
    }
}

extension Store {
    /// A campaign's updates, newest first (the reverse of replay order: timestamp, then author, then id).
    public func updates(campaign: EventID) throws(WhipError) -> [UpdateRow] {
        try read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT e.id, u.author, u.posted_ms, u.title, u.text FROM updates u
                        JOIN events e ON e.seq = u.seq JOIN partitions p ON p.ref = u.partition
                        WHERE p.campaign = ? ORDER BY u.posted_ms DESC, u.posted_counter DESC, u.author DESC, e.id DESC
                        """),
                arguments: [Data(campaign.bytes)]
            ).map { r throws in
                let ms = try r.value("posted_ms", as: Int64.self)
                guard ms >= 0 else { throw DamagedData("an update's timestamp is negative") }
                return UpdateRow(
                    id: try r.value("id"), campaign: campaign, author: try r.value("author"), postedAt: UInt64(ms),
                    title: try r.value("title"), text: try r.value("text"))
            }
        }
    }
}
