import NIOCore
import Synchronization

/// Rendered public pages, kept while the replica has not changed: a page of a campaign of 10,000 pledges costs a
/// dictionary lookup instead of reads and a render. An entry is good while the change mark it was rendered at is
/// still the hub's (`ProgressHub.currentMark`, polled every 100 ms, so a page lags a new event by at most that),
/// and until it expires: at most `maxAgeMs` (time-left text, and personal parts, which arrive without a new
/// event), and never past the campaign's deadline, when its standing changes with no event at all.
final class PageCache: Sendable {
    /// Pages kept at once; past this the cache is emptied and refilled (a node serves a handful of campaigns).
    static let maxEntries = 256
    /// The longest a page is served from the cache.
    static let maxAgeMs: UInt64 = 60_000

    struct Entry: Sendable {
        let mark: Int64
        let expires: UInt64
        let body: ByteBuffer
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// The page under `key` rendered at change mark `mark`, if it has not expired at `now`.
    func get(_ key: String, mark: Int64, now: UInt64) -> ByteBuffer? {
        entries.withLock { e in
            guard let entry = e[key], entry.mark == mark, now < entry.expires else { return nil }
            return entry.body
        }
    }

    /// Keeps `body`, rendered from data read at change mark `mark`, until `expires` (ms).
    func put(_ key: String, mark: Int64, expires: UInt64, body: ByteBuffer) {
        entries.withLock { e in
            if e.count >= Self.maxEntries, e[key] == nil { e.removeAll() }
            e[key] = Entry(mark: mark, expires: expires, body: body)
        }
    }

    /// Forgets every page: for a change that is not an event (the console's online-offer switch).
    func invalidate() {
        entries.withLock { $0.removeAll() }
    }
}
