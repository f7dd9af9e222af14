import Foundation
import GRDB
public import Logging
public import WhipCore
public import WhipCrypto

/// Where a batch of events came from.
public enum EventSource: String, Sendable {
    case local, bundle, peer, retry
}

/// An event that a batch newly stored.
public struct StoredEvent: Sendable, Equatable {
    /// Its community.
    public let community: PublicKey
    /// Its HLC wall time (ms), the reconciliation timestamp.
    public let wall: UInt64
    /// Its id.
    public let id: EventID
}

/// A pledge in a limited tier that won or lost its place because of events that arrived (PROTOCOL.md §7.6).
public struct StandingChange: Sendable, Equatable {
    /// The pledge.
    public let pledge: EventID
    /// Its campaign.
    public let campaign: EventID
    /// The backer's name as shown publicly ("Anonymous" when they asked).
    public let backer: String
    /// The tier's title.
    public let tier: String
    /// True when the pledge is now waitlisted (it had a place); false when it now has a place.
    public let waitlisted: Bool
}

/// What happened to a batch handed to `Store.ingest`.
public struct IngestReport: Sendable, Equatable {
    /// New events stored.
    public var accepted = 0
    /// Events already stored (or repeated within the batch).
    public var duplicates = 0
    /// Events refused at the door, by reason code.
    public var rejected: [String: Int] = [:]
    /// Events held because their timestamp is too far ahead; retried later.
    public var held = 0
    /// Newly stored events the rules did not apply (yet), by reason code.
    public var notApplied: [String: Int] = [:]
    /// Up to ten example refusals, for messages.
    public var examples: [String] = []
    /// The events newly stored, so sync indexes can follow without rereading the database.
    public var stored: [StoredEvent] = []
    /// Pledges already held whose place in a limited tier changed (counted with the reward, or waitlisted)
    /// because of events from a bundle or a peer. Local commands report their own pledge's standing instead.
    public var standingChanges: [StandingChange] = []
    /// Personal parts newly stored.
    public var partsStored = 0
    /// Personal parts already stored (or already waiting beside their held event).
    public var partsDuplicate = 0
    /// Personal parts of events held for a future timestamp, kept beside them and judged when they are retried.
    public var partsHeld = 0
    /// Personal parts dropped, by reason code (`part.*`, PROTOCOL.md §6.35); their bytes are never logged.
    public var partsRefused: [String: Int] = [:]
    /// Slots newly erased (tombstones added) by this batch; the store checkpoints the WAL after such a batch.
    public var erasures = 0

    /// An empty report.
    public init() {}

    /// Total refused at the door.
    public var rejectedCount: Int { rejected.values.reduce(0, +) }

    mutating func reject(_ code: String, _ message: String) {
        rejected[code, default: 0] += 1
        if examples.count < 10 { examples.append("\(code): \(message)") }
    }

    /// Adds another report's counts.
    public mutating func merge(_ o: IngestReport) {
        accepted += o.accepted
        duplicates += o.duplicates
        held += o.held
        rejected.merge(o.rejected, uniquingKeysWith: +)
        notApplied.merge(o.notApplied, uniquingKeysWith: +)
        examples += o.examples.prefix(max(0, 10 - examples.count))
        stored += o.stored
        standingChanges += o.standingChanges
        partsStored += o.partsStored
        partsDuplicate += o.partsDuplicate
        partsHeld += o.partsHeld
        partsRefused.merge(o.partsRefused, uniquingKeysWith: +)
        erasures += o.erasures
    }
}

/// The node's SQLite replica: the event log plus tables derived from it.
///
/// Thread-safe: GRDB's `DatabasePool` serialises writes and allows concurrent reads.
public final class Store: Sendable {
    /// Events stamped more than this far ahead of the local clock are held and retried later.
    public static let maxFutureSkewMs: UInt64 = 10 * 60 * 1000

    /// The database file.
    public let path: String
    /// Opened read-only (a copy on read-only media, or a file this user may not change): writes fail.
    public let readOnly: Bool
    let pool: DatabasePool
    let authorities = AuthorityCache()
    let logger: Logger
    /// The thread async code's writes run on, one after another (see `writing(_:)`).
    let writer: DispatchQueue

    /// Opens (creating and migrating if needed) the database at `path`, in WAL mode with `synchronous=FULL`.
    ///
    /// With `readOnly`, nothing is created, migrated or written: the file must exist and be current.
    public init(path: String, logger: Logger, readOnly: Bool = false) throws(WhipError) {
        self.path = path
        self.logger = logger
        self.readOnly = readOnly
        writer = DispatchQueue(label: "whipround.store.write", qos: .userInitiated)
        do {
            var config = Configuration()
            config.busyMode = .timeout(10)
            config.readonly = readOnly
            config.prepareDatabase { db in
                try db.execute(sql: "PRAGMA foreign_keys = ON")
                // Deleted content is overwritten, so an erased personal part leaves no bytes in the file
                // (docs/PRIVACY.md); the WAL is checkpointed after each erasure for the same reason.
                try db.execute(sql: "PRAGMA secure_delete = ON")
            }
            pool = try DatabasePool(path: readOnly ? Store.readOnlyLocation(path) : path, configuration: config)
            if readOnly {
                guard try pool.read({ try Schema.migrator().hasCompletedMigrations($0) }) else {
                    throw WhipError(
                        .storage,
                        "the replica \(path) needs upgrading, which cannot be done while it is read-only; open it once where it can be written")
                }
            } else {
                // DatabasePool switches to synchronous=NORMAL when it enables WAL, after prepareDatabase.
                // An acknowledged pledge must survive power loss, so set FULL on the writer afterwards.
                try pool.barrierWriteWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = FULL")
                }
                try Schema.migrator().migrate(pool)
                try Store.rederiveIfRulesChanged(pool, logger: logger)
            }
        } catch {
            throw Store.explain(error, path: path, logger: logger)
        }
    }

    /// The version of the rules that compute the derived tables and digests from the events. Bump it in a release
    /// that computes them differently from the same events (issue 9's follow-up changed the Gift Aid claim rules,
    /// the match failure rule and the digest): each replica then re-derives them once when it is opened, instead
    /// of showing, and comparing with its peers, a state the new rules would not give.
    static let derivationVersion = 1

    /// Re-derives every community's tables once, after an upgrade that changed `derivationVersion`.
    static func rederiveIfRulesChanged(_ pool: DatabasePool, logger: Logger) throws {
        try pool.write { db in
            let done = try Int.fetchOne(db.cachedStatement(sql: "SELECT value FROM store_meta WHERE key = 'derivation'")) ?? 0
            guard done < derivationVersion else { return }
            let communities = try Data.fetchAll(db.cachedStatement(sql: "SELECT id FROM communities")).compactMap { PublicKey(bytes: $0) }
            if !communities.isEmpty {
                logger.notice(
                    "re-deriving the state of this replica once, for the rules of this release",
                    metadata: ["store.communities": "\(communities.count)", "store.derivation": "\(done) -> \(derivationVersion)"])
            }
            for community in communities { try Materializer.rebuild(db, community: community) }
            try db.execute(
                sql: "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('derivation', ?)", arguments: [derivationVersion])
        }
    }

    /// Where SQLite should open a replica read-only. A WAL-mode file with no `-shm` beside it, in a directory this
    /// user cannot write (a backup on read-only media), can only be read as `immutable`; with a `-shm` there
    /// (another process has it open), a plain read-only open shares it safely instead.
    static func readOnlyLocation(_ path: String) -> String {
        guard !FileManager.default.fileExists(atPath: path + "-shm"), !FileManager.default.fileExists(atPath: path + "-wal") else { return path }
        var escaped = ""
        for ch in path.unicodeScalars {
            switch ch {
            case "%": escaped += "%25"
            case "?": escaped += "%3F"
            case "#": escaped += "%23"
            default: escaped.unicodeScalars.append(ch)
            }
        }
        return "file:" + escaped + "?immutable=1"
    }

    /// The value of `PRAGMA synchronous` on the writer connection (2 = FULL).
    public func synchronousSetting() throws(WhipError) -> Int {
        try write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// The value of `PRAGMA journal_mode`.
    public func journalMode() throws(WhipError) -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    func read<T>(_ body: (Database) throws -> T) throws(WhipError) -> T {
        do { return try pool.read(body) } catch { throw wrap(error) }
    }

    func write<T>(_ body: (Database) throws -> T) throws(WhipError) -> T {
        do { return try pool.write(body) } catch { throw wrap(error) }
    }

    func wrap(_ error: any Error) -> WhipError { Store.explain(error, path: path, logger: logger) }

    /// What to do after a database failure, in one line for a person: the SQL and library details go to the
    /// log (`--verbose`), never into the message. A `WhipError` thrown inside a transaction passes unchanged.
    static func explain(_ error: any Error, path: String, logger: Logger) -> WhipError {
        if let w = error as? WhipError { return w }
        logger.info("database error", metadata: ["db.path": "\(path)", "error": "\(error)"])
        let damaged = WhipError(
            .storage,
            "the database \(path) is damaged; restore it from a backup, or rebuild it from a peer or a bundle (README: Damaged or lost data)",
            cause: error)
        if error is DamagedData || error is RowDecodingError { return damaged }
        guard let db = error as? DatabaseError else {
            return WhipError(.storage, "cannot use the database \(path); run with --verbose for details", cause: error)
        }
        switch db.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_FORMAT, .SQLITE_SCHEMA, .SQLITE_ERROR, .SQLITE_MISMATCH, .SQLITE_RANGE:
            // Our statements are fixed: one failing to prepare or bind means the file is not what we made.
            return damaged
        case .SQLITE_READONLY:
            return WhipError(.io, "cannot change \(path): the replica is read-only here (permission denied or read-only media)", cause: error)
        case .SQLITE_PERM, .SQLITE_AUTH:
            return WhipError(.io, "cannot use the database \(path): permission denied", cause: error)
        case .SQLITE_CANTOPEN:
            let dir = (path as NSString).deletingLastPathComponent
            if access(path, R_OK) != 0 && errno == EACCES || access(dir, W_OK | X_OK) != 0 && errno == EACCES {
                return WhipError(.io, "cannot open the database \(path): permission denied", cause: error)
            }
            return WhipError(.io, "cannot open the database \(path)", cause: error)
        case .SQLITE_FULL:
            return WhipError(.io, "the disk holding \(path) is full; free some space and try again (nothing was changed)", cause: error)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return WhipError(.io, "the database \(path) is busy (another whipround process is writing); try again", cause: error)
        case .SQLITE_IOERR:
            return WhipError(.io, "input/output error on \(path); check the disk, then run `whipround doctor`", cause: error)
        default:
            return WhipError(.storage, "cannot use the database \(path); run with --verbose for details", cause: error)
        }
    }

    // MARK: Ingest

    /// Verifies (in parallel), validates and stores a batch in one transaction; idempotent on duplicates.
    ///
    /// With `requireApplied`, the whole batch is rolled back unless every new event is applied by the rules;
    /// local commands use this so a user is told at once that they lack a role.
    @discardableResult
    public func ingest(
        _ wires: [[UInt8]], parts: [PartRecord] = [], source: EventSource, now: UInt64, requireApplied: Bool = false
    ) throws(WhipError) -> IngestReport {
        let checked = Verifier.check(wires)
        return try afterErasure(
            try write { db in
                try self.admit(
                    db, checked: zip(wires, checked).map { ($0, $1) }, parts: parts, source: source, now: now, requireApplied: requireApplied)
            })
    }

    /// Stores a batch already decoded and verified by `Verifier.check` (the two in the same order), in one
    /// transaction: for callers that verify the next batch while this one commits.
    @discardableResult
    public func ingest(
        checked: [[UInt8]], results: [Result<Event, Admission>], parts: [PartRecord] = [], source: EventSource, now: UInt64
    ) throws(WhipError) -> IngestReport {
        precondition(checked.count == results.count)
        return try afterErasure(
            try write { db in
                try self.admit(db, checked: zip(checked, results).map { ($0, $1) }, parts: parts, source: source, now: now, requireApplied: false)
            })
    }

    /// Ingests many batches, verifying the next batch on the other cores while the current one commits.
    /// It blocks its thread throughout: for synchronous callers (the CLI's import); async code commits with
    /// `Node.ingest` or `Node.commit`.
    ///
    /// Each batch is its own transaction; the report sums them. Signature checks are the bottleneck
    /// (about 13k/s per core), so overlapping them with the single-threaded SQLite writer keeps both busy.
    ///
    /// `parts`, when given, holds the personal parts sent with each batch (the same count as `batches`).
    public func ingest(batches: [[[UInt8]]], parts: [[PartRecord]] = [], source: EventSource, now: UInt64) throws(WhipError) -> IngestReport {
        precondition(parts.isEmpty || parts.count == batches.count)
        var report = IngestReport()
        guard !batches.isEmpty else { return report }
        var pending = Verifier.check(batches[0])
        for i in batches.indices {
            let next = i + 1 < batches.count ? Prefetch { Verifier.check(batches[i + 1]) } : nil
            let checked = zip(batches[i], pending).map { ($0, $1) }
            let batchParts = parts.isEmpty ? [] : parts[i]
            let r = try write { db in try self.admit(db, checked: checked, parts: batchParts, source: source, now: now, requireApplied: false) }
            report.merge(try afterErasure(r))
            if let next { pending = next.wait() }
        }
        return report
    }

    /// After a transaction that erased personal parts: checkpoints the WAL and truncates it, so the erased
    /// bytes (overwritten in the database by `secure_delete`) do not linger in WAL frames either.
    func afterErasure(_ report: IngestReport) throws(WhipError) -> IngestReport {
        if report.erasures > 0 { try checkpoint() }
        return report
    }

    /// Copies every WAL frame into the database and truncates the WAL to zero bytes. Fails (`storage`) when a
    /// reader holds an old snapshot that keeps frames in use; the next erasure or `checkpoint` tries again.
    public func checkpoint() throws(WhipError) {
        let busy: Bool
        do {
            busy = try pool.writeWithoutTransaction { db in
                let r = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                return try r?.value(at: 0, as: Int.self) != 0
            }
        } catch { throw wrap(error) }
        if busy {
            logger.warning("WAL checkpoint after an erasure was blocked by a reader; erased bytes may remain in the WAL until the next one")
        }
    }

    /// Signs and stores one local event at the next hybrid logical timestamp, all in one transaction.
    /// Throws (and stores nothing) if the rules would not apply it.
    ///
    /// The new event is stamped after the events its validity depends on, whatever the clock says: those in
    /// `after` (the campaign, tier or pledge it refers to), the publication of a campaign in `after`, and the
    /// newest grant of a role to `author`. A node's own event is never held for being ahead of its clock
    /// (PROTOCOL.md §8): a node can always record.
    ///
    /// `parts` are the new event's personal parts (`PartDraft.record(for:)` gives their records once the event
    /// is signed); they are stored in the same transaction.
    public func appendLocal(
        community: PublicKey, now: UInt64, after: [EventID] = [], author: PublicKey? = nil, parts: [PartDraft] = [],
        make: (HLC) -> Event
    ) throws(WhipError) -> Event {
        var erasures = 0
        let event = try write { db in
            try self.appendLocal(db, community: community, now: now, after: after, author: author, parts: parts, erasures: &erasures, make: make)
        }
        if erasures > 0 { try checkpoint() }
        return event
    }

    /// Joins a new community and stores its first local event (its genesis) in one transaction: both or neither.
    public func createCommunity(
        id: PublicKey, name: String, networkKey: [UInt8], now: UInt64, genesis make: (HLC) -> Event
    ) throws(WhipError) -> Event {
        try write { db in
            try Store.insertCommunity(db, id: id, name: name, networkKey: networkKey, hubs: [], now: now)
            var erasures = 0
            return try self.appendLocal(db, community: id, now: now, erasures: &erasures, make: make)
        }
    }

    func appendLocal(
        _ db: Database, community: PublicKey, now: UInt64, after: [EventID] = [], author: PublicKey? = nil, parts: [PartDraft] = [],
        erasures: inout Int, make: (HLC) -> Event
    ) throws -> Event {
        let hlc = try self.nextHLC(db, community: community, now: now, after: after, author: author)
        let event = make(hlc)
        // Local events pass the same decode and signature checks as everyone else's, so a node never
        // stores (and later hands out) an event its peers would refuse.
        let checked = Verifier.checkOne(event.wire)
        if case .failure(let a) = checked { throw WhipError(.invalidArgument, "cannot \(event.kind.userAction): \(a.message)") }
        let report = try self.admit(
            db, checked: [(event.wire, checked)], parts: parts.map { $0.record(for: event.id) }, source: .local, now: now, requireApplied: true)
        if report.duplicates == 1 { throw WhipError(.alreadyExists, "this change is already stored") }
        if report.accepted != 1 { throw WhipError(.rejected, "cannot \(event.kind.userAction): the change was refused") }
        if report.partsStored != parts.count {
            throw WhipError(.internalError, "cannot \(event.kind.userAction): its personal parts were refused (\(report.partsRefused))")
        }
        erasures = report.erasures
        return event
    }

    /// Retries held events whose time has come.
    @discardableResult
    public func retryHeld(now: UInt64) throws(WhipError) -> IngestReport {
        try afterErasure(try retryHeldBatch(now: now))
    }

    private func retryHeldBatch(now: UInt64) throws(WhipError) -> IngestReport {
        try write { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT seq, raw, event_id FROM rejections WHERE retry_at IS NOT NULL AND retry_at <= ?"),
                arguments: [Int64(now)])
            guard !rows.isEmpty else { return IngestReport() }
            try db.execute(sql: "DELETE FROM rejections WHERE retry_at IS NOT NULL AND retry_at <= ?", arguments: [Int64(now)])
            let wires = try rows.map { r throws in try r.bytes("raw") }
            let ids = try rows.compactMap { r throws in try r.value("event_id", as: Data?.self).flatMap { EventID(bytes: [UInt8]($0)) } }
            let parts = try Store.takeHeldParts(db, events: ids)
            let checked = Verifier.check(wires)
            return try self.admit(db, checked: zip(wires, checked).map { ($0, $1) }, parts: parts, source: .retry, now: now, requireApplied: false)
        }
    }

    private func admit(
        _ db: Database, checked: [([UInt8], Result<Event, Admission>)], parts: [PartRecord], source: EventSource, now: UInt64,
        requireApplied: Bool
    ) throws -> IngestReport {
        var report = IngestReport()
        let tombstonesBefore = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM tombstones")) ?? 0
        let joined = Dictionary(
            try Row.fetchAll(db.cachedStatement(sql: "SELECT id, ref FROM communities")).map { r throws in
                (try r.bytes("id"), try r.value("ref", as: Int64.self))
            },
            uniquingKeysWith: { a, _ in a })
        var partitions = [EventID: Int64]()
        var members = [PublicKey: Int64]()
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO events (id, community, author, partition, kind, hlc_wall, hlc_counter, raw, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let reject = try db.cachedStatement(
            sql: """
                INSERT INTO rejections (event_id, community, code, message, raw, source, received_at, retry_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
        var fresh: [Event] = []
        var seqs = Materializer.Seqs()
        for (wire, result) in checked {
            switch result {
            case .failure(let a):
                report.reject(a.code.rawValue, a.message)
                try reject.execute(arguments: [
                    nil, nil, a.code.rawValue, a.message, Data(wire.prefix(EventLimits.maxEventBytes)), source.rawValue, Int64(now), nil,
                ])
            case .success(let e):
                guard let cref = joined[e.community.bytes] else {
                    let msg = "event belongs to community \(KeyText.encode(e.community, as: .community)), which this node has not joined"
                    report.reject(Admission.Code.communityNotJoined.rawValue, msg)
                    try reject.execute(arguments: [
                        Data(e.id.bytes), Data(e.community.bytes), Admission.Code.communityNotJoined.rawValue, msg, Data(wire), source.rawValue,
                        Int64(now), nil,
                    ])
                    continue
                }
                // A node's own events are not held: the stamping rule (nextHLC) bounds them already, and one
                // that follows a far-ahead event it depends on must still be recorded (PROTOCOL.md §8).
                if source != .local && e.hlc.wall > now &+ Store.maxFutureSkewMs {
                    let held =
                        try Bool.fetchOne(
                            db.cachedStatement(sql: "SELECT 1 FROM rejections WHERE event_id = ? AND retry_at IS NOT NULL"),
                            arguments: [Data(e.id.bytes)]) ?? false
                    report.held += 1
                    if !held {
                        let msg = "timestamp is \((e.hlc.wall - now) / 1000) s ahead of this node's clock; held and retried later"
                        try reject.execute(arguments: [
                            Data(e.id.bytes), Data(e.community.bytes), Admission.Code.futureTimestamp.rawValue, msg, Data(wire), source.rawValue,
                            Int64(now),
                            Int64(e.hlc.wall - Store.maxFutureSkewMs),
                        ])
                    }
                    continue
                }
                var pref: Int64? = nil
                if let campaign = e.campaign {
                    if partitions[campaign] == nil { partitions[campaign] = try Materializer.partition(db, campaign, cref).ref }
                    pref = partitions[campaign]
                }
                if members[e.author] == nil { members[e.author] = try Materializer.memberRef(db, e.author) }
                try insert.execute(arguments: [
                    Data(e.id.bytes), cref, members[e.author], pref, Int64(e.kind.rawValue), Int64(e.hlc.wall), Int64(e.hlc.counter), Data(wire),
                    Int64(now),
                ])
                if db.changesCount == 1 {
                    report.accepted += 1
                    report.stored.append(StoredEvent(community: e.community, wall: e.hlc.wall, id: e.id))
                    seqs[e.id] = db.lastInsertedRowID
                    fresh.append(e)
                } else {
                    report.duplicates += 1
                }
            }
        }
        if !fresh.isEmpty {
            // Pledges of limited tiers in the partitions these events can change (every partition of a
            // community when a role event arrives), to tell people whose place was won or lost.
            var watched: [Int64] = []
            var before: [Int64: Bool] = [:]
            if source != .local {
                let communityLevel = Set(fresh.filter { $0.campaign == nil }.compactMap { joined[$0.community.bytes] })
                watched = Array(Set(partitions.values))
                for cref in communityLevel {
                    watched += try Int64.fetchAll(db.cachedStatement(sql: "SELECT ref FROM partitions WHERE community = ?"), arguments: [cref])
                }
                before = try Store.limitedTierPlaces(db, partitions: watched)
            }
            let statuses = try Materializer.apply(db, newEvents: fresh, seqs: seqs, authorities: authorities)
            if !before.isEmpty {
                let after = try Store.limitedTierPlaces(db, partitions: watched)
                let changed = before.filter { seq, was in after[seq].map { $0 != was } ?? false }.keys.sorted()
                report.standingChanges = try Store.standingChanges(db, seqs: changed, after: after)
            }
            for e in fresh {
                if case .rejected(let v) = statuses[e.id] ?? .applied {
                    report.notApplied[v.code.rawValue, default: 0] += 1
                    if requireApplied {
                        throw WhipError(.rejected, "cannot \(e.kind.userAction): \(v.message)")
                    }
                }
            }
        }
        report.erasures = (try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM tombstones")) ?? 0) - tombstonesBefore
        if !parts.isEmpty { try Store.admitParts(db, parts, now: now, into: &report) }
        if report.accepted + report.duplicates + report.held + report.rejectedCount > 0 {
            logger.debug(
                "ingested batch",
                metadata: [
                    "batch.source": "\(source.rawValue)", "batch.accepted": "\(report.accepted)",
                    "batch.duplicates": "\(report.duplicates)", "batch.rejected": "\(report.rejectedCount)",
                ])
        }
        return report
    }

    /// Whether each pledge (by seq) of a limited tier in `partitions` is waitlisted, for counted pledges.
    static func limitedTierPlaces(_ db: Database, partitions: [Int64]) throws -> [Int64: Bool] {
        var out: [Int64: Bool] = [:]
        for pref in Set(partitions) {
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT p.seq AS seq, p.waitlisted AS waitlisted FROM pledges p JOIN tiers t ON t.seq = p.tier
                        WHERE p.partition = ? AND p.status = 0 AND t.quantity_limit IS NOT NULL
                        """), arguments: [pref])
            for r in rows { out[try r.value("seq", as: Int64.self)] = try r.value("waitlisted", as: Int64.self) != 0 }
        }
        return out
    }

    static func standingChanges(_ db: Database, seqs: [Int64], after: [Int64: Bool]) throws -> [StandingChange] {
        try seqs.compactMap { seq throws -> StandingChange? in
            guard
                let r = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT e.id AS id, pt.campaign AS campaign,
                                   \(Schema.backerSQL) AS backer, t.title AS tier
                            FROM pledges p JOIN events e ON e.seq = p.seq JOIN partitions pt ON pt.ref = p.partition
                            JOIN tiers t ON t.seq = p.tier WHERE p.seq = ?
                            """), arguments: [seq])
            else { return nil }
            return StandingChange(
                pledge: try r.value("id", as: EventID.self), campaign: try r.value("campaign", as: EventID.self), backer: try r.value("backer"),
                tier: try r.value("tier"),
                waitlisted: after[seq] ?? false)
        }
    }

    /// The next timestamp for a local event (PROTOCOL.md §8): after the node's last own timestamp and the
    /// newest event it holds for the community, except those more than `maxFutureSkewMs` ahead of its clock
    /// (one event stamped by a wrong clock must not drag every later one with it), and after the events it
    /// depends on (`after`, a campaign's publication, `author`'s newest grant) whatever their timestamps.
    private func nextHLC(_ db: Database, community: PublicKey, now: UInt64, after: [EventID], author: PublicKey?) throws -> HLC {
        let bound = now &+ Store.maxFutureSkewMs
        var last: HLC? = nil
        func consider(_ h: HLC) { if last == nil || h > last! { last = h } }
        func hlc(_ r: Row) throws -> HLC { HLC(wall: try r.unsigned("hlc_wall"), counter: try r.counter("hlc_counter")) }
        if let raw = try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'hlc'")), raw.count == 12 {
            let b = [UInt8](raw)
            let own = HLC(wall: b[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, counter: b[8..<12].reduce(0) { $0 << 8 | UInt32($1) })
            if own.wall <= bound { consider(own) }
        }
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT ref, max_wall, max_counter FROM communities WHERE id = ?"),
            arguments: [Data(community.bytes)])
        {
            let cref = try row.value("ref", as: Int64.self)
            let seen = HLC(wall: try row.unsigned("max_wall"), counter: try row.counter("max_counter"))
            if seen.wall <= bound {
                consider(seen)
            } else if let newest = try Row.fetchOne(
                // Rare (the clock disagrees with the data), so a scan is fine: the newest event within the bound.
                db,
                sql: """
                    SELECT hlc_wall, hlc_counter FROM events WHERE community = ? AND hlc_wall <= ?
                    ORDER BY hlc_wall DESC, hlc_counter DESC LIMIT 1
                    """, arguments: [cref, Int64(clamping: bound)])
            {
                consider(try hlc(newest))
            }
            if let author,
                let granted = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT max(at_ms) FROM roles WHERE community = ? AND member = ? AND granted = 1"),
                    arguments: [cref, Data(author.bytes)]), granted >= 0
            {
                // The roles table keeps the grant's wall time only: after every event of that millisecond.
                consider(HLC(wall: UInt64(granted), counter: UInt32.max))
            }
        }
        for id in after {
            if let r = try Row.fetchOne(db.cachedStatement(sql: "SELECT hlc_wall, hlc_counter FROM events WHERE id = ?"), arguments: [Data(id.bytes)])
            {
                consider(try hlc(r))
            }
            // The campaign's publication: it can only be later than the timestamp so far when the campaign's
            // newest applied event is, which is rare (the clock is behind the campaign), so the scan of the
            // campaign's events is skipped otherwise and a pledge on a large campaign stays cheap.
            if let p = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT ref, max_wall, max_counter FROM partitions WHERE campaign = ?"), arguments: [Data(id.bytes)]),
                HLC(wall: try p.unsigned("max_wall"), counter: try p.counter("max_counter")) >= HLC.next(after: last, now: now),
                let r = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT hlc_wall, hlc_counter FROM events WHERE partition = ? AND kind = ?
                            ORDER BY hlc_wall, hlc_counter LIMIT 1
                            """), arguments: [try p.value("ref", as: Int64.self), Int64(EventKind.campaignPublished.rawValue)])
            {
                consider(try hlc(r))
            }
        }
        let next = HLC.next(after: last, now: now)
        var bytes = [UInt8]()
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((next.wall >> UInt64(s)) & 0xff)) }
        for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((next.counter >> UInt32(s)) & 0xff)) }
        try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('hlc', ?)", arguments: [Data(bytes)])
        return next
    }

    /// How far the newest event this node holds is ahead of its clock, in ms, when that is more than
    /// `maxFutureSkewMs`: the clock is behind, or was ahead when some events were recorded. Nil when they agree.
    public func clockDisagreement(now: UInt64) throws(WhipError) -> (newest: UInt64, aheadMs: UInt64)? {
        let newest = try read { db in try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(max_wall) FROM communities")) ?? 0 }
        let wall = UInt64(max(0, newest))
        guard wall > now &+ Store.maxFutureSkewMs else { return nil }
        return (wall, wall - now)
    }
}
