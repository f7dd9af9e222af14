public import Logging
import Synchronization
public import WhipCore
public import WhipCrypto
public import WhipNode
import WhipNoise
public import WhipStore
public import WhipSync

#if canImport(CMalloc) && os(Linux)
    import CMalloc
#endif

/// The node's replica as the network sees it: per community, the reconciliation index kept in step with every
/// commit, so a session never rescans the database; the live sessions to offer new events to; and what peers
/// were asked and refused.
///
/// It reads and writes events only through the node's async API (`Node.read`, `Node.ingest`), which runs store
/// transactions and signature checks on threads of their own: no method holds a cooperative thread while
/// SQLite commits or libsodium verifies.
public actor Exchange {
    /// The node.
    public nonisolated let node: Node
    let logger: Logger
    /// The daemon's counters.
    public nonisolated let metrics: PeerMetrics
    /// Live peer sessions, told about every newly committed event.
    package nonisolated let sessions = Sessions()
    private var indexes: [PublicKey: SortedIndex] = [:]
    private var lastSeq: Int64 = 0
    /// Time since this exchange was made, on its clock (injected, so tests can move it).
    private let elapsed: @Sendable () -> Duration
    /// Ids asked of some peer recently (and when), so that announces from several peers fetch an event once.
    private var requested: [EventID: Duration] = [:]
    /// How long a `want` is trusted to bring its events before another peer may be asked.
    static let wantPatience: Duration = .seconds(5)
    /// Refused events per peer identity, across its sessions.
    private var refusals: [PublicKey: (count: Int, since: Duration)] = [:]
    /// How long a peer's refused events count against it.
    static let refusalWindow: Duration = .seconds(3_600)
    /// Whether a commit or a refresh of the indexes is under way; they take turns (see `enter()`).
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Loads the reconciliation index of every joined community; `clock` times the want patience and the
    /// refusal window.
    public init(node: Node, logger: Logger, metrics: PeerMetrics = PeerMetrics(), clock: any Clock<Duration> = ContinuousClock()) throws(WhipError) {
        self.node = node
        self.logger = logger
        self.metrics = metrics
        self.elapsed = Exchange.stopwatch(clock)
        var keys: [PublicKey: [EventKey]] = [:]
        lastSeq = try node.store.forEachEventKey(after: 0) { community, hlc, id in
            if let k = Exchange.key(hlc, idBuffer: id) { keys[community, default: []].append(k) }
        }
        for community in Array(keys.keys) {
            // Taken out of the dictionary so the store sorts the only copy in place.
            indexes[community] = SortedIndex(consuming: keys.removeValue(forKey: community)!)
        }
        Exchange.returnFreedMemory()
    }

    /// A function that returns the time passed on `clock` since it was made.
    static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// Gives the memory freed after loading the indexes back to the system: the load's temporaries would
    /// otherwise stay in the allocator's heap for the daemon's whole life.
    static func returnFreedMemory() {
        #if canImport(CMalloc) && os(Linux)
            malloc_trim(0)
        #endif
    }

    /// Adds events stored since the last look (by a peer session, the CLI or an import) to the indexes, and
    /// offers them to every live session of their community, except that events in `cameFrom.ids` are not
    /// offered back to the session they came from.
    /// Runs between `enter()` and `leave()`.
    private func refresh(cameFrom: (session: Int, ids: Set<EventID>)? = nil) async throws(WhipError) {
        var fresh: [PublicKey: (theirs: [EventID], others: [EventID])] = [:]
        let after = lastSeq
        let (last, found) = try await node.read { store throws(WhipError) in
            var found: [(PublicKey, EventKey)] = []
            let last = try store.forEachEventKey(after: after) { community, hlc, id in
                if let k = Exchange.key(hlc, idBuffer: id) { found.append((community, k)) }
            }
            return (last, found)
        }
        guard last != lastSeq else { return }
        lastSeq = last
        for (community, k) in found {
            _ = indexes[community, default: SortedIndex()].insert(k)
            let id = k.id
            if let c = cameFrom, c.ids.contains(id) {
                fresh[community, default: ([], [])].theirs.append(id)
            } else {
                fresh[community, default: ([], [])].others.append(id)
            }
            requested[id] = nil
        }
        for (community, ids) in fresh {
            sessions.offer(ids.others, community: community, except: nil)
            sessions.offer(ids.theirs, community: community, except: cameFrom?.session)
        }
    }

    /// Waits until no other commit or refresh is under way. The actor is reentrant while they await the store,
    /// but a commit and the refresh that offers its events must not interleave with another: a poll in between
    /// would offer a session's events back to the session they came from, and two refreshes would offer the
    /// same events twice. Turns are taken in arrival order.
    private func enter() async {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
    }

    /// Hands the turn to the next waiter, if any.
    private func leave() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }

    /// Peer sessions past their first sync now, in both directions.
    public nonisolated var liveSessions: Int { sessions.live }

    /// Picks up events other processes stored (the CLI, an import) and offers them to peers.
    public func poll() async throws(WhipError) {
        await enter()
        defer { leave() }
        try await refresh()
    }

    /// Admits held events (stamped too far ahead when they arrived) whose time has come, and offers those
    /// admitted to peers. Cheap when nothing is due: one indexed read.
    @discardableResult
    public func admitHeld() async throws(WhipError) -> IngestReport {
        let node = self.node
        guard let due = try await node.read({ store throws(WhipError) in try store.nextHeldRetry() }), due <= node.now else {
            return IngestReport()
        }
        await enter()
        defer { leave() }
        let report = try await node.write { store throws(WhipError) in try store.retryHeld(now: node.now) }
        if report.accepted > 0 {
            logger.info("admitted held events whose time has come", metadata: ["events.count": "\(report.accepted)"])
        }
        try await refresh()
        return report
    }

    /// Sets the metrics read from the store (events stored and held, refusals by reason) and the connected
    /// peers; run before each scrape.
    public nonisolated func sampleMetrics() async throws(WhipError) {
        let (stored, held, rejections) = try await node.read { store throws(WhipError) in
            (try store.storedEventCount(), try store.heldCount(), try store.rejectionCounts())
        }
        metrics.sample(stored: stored, held: held, rejections: rejections, connectedPeers: sessions.connectedPeers)
    }

    /// Of `ids`, those not asked of any peer within `wantPatience`; they are marked as asked now.
    func claim(_ ids: [EventID]) -> [EventID] {
        let now = elapsed()
        if requested.count > 100_000 { requested = requested.filter { now - $0.value < Exchange.wantPatience } }
        return ids.filter { id in
            if let t = requested[id], now - t < Exchange.wantPatience { return false }
            requested[id] = now
            return true
        }
    }

    /// The reconciliation key of an event: timestamp = wall ms × 2^20 + min(counter, 2^20 − 1), so the
    /// reconciliation order follows the replay order and pulled events mostly arrive in it (which lets the
    /// store resume a campaign instead of replaying it).
    public static func key(_ hlc: HLC, _ id: EventID) -> EventKey {
        EventKey(timestamp: hlc.wall << 20 | UInt64(min(hlc.counter, (1 << 20) - 1)), id: id)
    }

    /// The reconciliation key from an id in a buffer.
    static func key(_ hlc: HLC, idBuffer: UnsafeRawBufferPointer) -> EventKey? {
        EventKey(timestamp: hlc.wall << 20 | UInt64(min(hlc.counter, (1 << 20) - 1)), idBuffer: idBuffer)
    }

    /// Communities and their network keys, for answering handshakes.
    public nonisolated func communities() async throws(WhipError) -> [(id: PublicKey, networkKey: [UInt8])] {
        try await node.read { store throws(WhipError) in try store.communities() }.map { (id: $0.id, networkKey: $0.networkKey) }
    }

    /// A snapshot of a community's reconciliation index.
    public func index(of community: PublicKey) async throws(WhipError) -> SortedIndex {
        await enter()
        defer { leave() }
        try await refresh()
        return indexes[community] ?? SortedIndex()
    }

    /// Stored events of `community` among `ids`, each with the personal parts stored for it.
    public nonisolated func events(of community: PublicKey, ids: [EventID]) async throws(WhipError) -> [Shipment] {
        try await node.read { store throws(WhipError) in
            try store.eventsWithParts(community: community, ids: ids).map { Shipment(wire: $0.wire, parts: $0.parts.map { $0.encoded() }) }
        }
    }

    /// The ids among `ids` this node does not store.
    public nonisolated func missing(_ ids: [EventID]) async throws(WhipError) -> [EventID] {
        try await node.read { store throws(WhipError) in try store.missing(ids) }
    }

    /// Verifies, validates and commits events a peer sent for `community`; events of any other community are
    /// refused (`wrong_community`), so a session for one community can never write into another.
    public func ingest(
        _ wires: [[UInt8]], parts: [[UInt8]] = [], community: PublicKey, from session: Int? = nil
    ) async throws(WhipError) -> IngestReport {
        try await ingest(verified: wires, results: Verifier.verify(wires, community: community), parts: parts, from: session)
    }

    /// Commits a batch a session already verified (with `Verifier.verify(_:community:)`), so that the next
    /// batch's signatures are checked while this one commits.
    func ingest(
        verified wires: [[UInt8]], results: [Result<Event, Admission>], parts: [[UInt8]], from session: Int?
    ) async throws(WhipError) -> IngestReport {
        await enter()
        defer { leave() }
        // A record that does not decode is dropped and counted like any other unusable part, never logged with
        // its bytes and never counted against the peer as a refused event (PROTOCOL.md §16).
        let (records, malformed) = Node.partRecords(parts)
        var report = try await node.commit(wires, checked: results, parts: records, source: .peer)
        if malformed > 0 { report.partsRefused[PartRefusal.malformed.rawValue, default: 0] += malformed }
        metrics.received(accepted: report.accepted, duplicates: report.duplicates, rejected: report.rejected)
        try await refresh(cameFrom: session.map { ($0, Set(report.stored.map(\.id))) })
        return report
    }

    /// Adds `count` refused events to `peer`'s tally (kept for `refusalWindow` from its first refusal) and
    /// says whether the tally is now over `limit`, so that a peer cannot reset it by reconnecting.
    func recordRefusals(_ count: Int, from peer: PublicKey, limit: Int) -> Bool {
        let now = elapsed()
        var entry = refusals[peer].flatMap { now - $0.since < Exchange.refusalWindow ? $0 : nil } ?? (count: 0, since: now)
        entry.count += count
        refusals[peer] = entry
        return entry.count > limit
    }

    /// Whether `peer` has had more than `limit` events refused within `refusalWindow`.
    func isCutOff(_ peer: PublicKey, limit: Int) -> Bool {
        guard let e = refusals[peer], elapsed() - e.since < Exchange.refusalWindow else { return false }
        return e.count > limit
    }

    /// Whether `key` may sync `community`: its founder or root key, or a member holding a role. A community
    /// whose genesis has not arrived yet admits any holder of its network key (they are how it arrives).
    public nonisolated func isMember(_ key: PublicKey, of community: PublicKey) async throws(WhipError) -> Bool {
        let now = node.now
        return try await node.read { store throws(WhipError) in
            guard let info = try store.communities().first(where: { $0.id == community }) else { return false }
            guard let founder = info.founder else { return true }
            if key == founder || key == community { return true }
            return try store.roles(community: community).contains { $0.member == key && $0.granted && ($0.expires.map { now < $0 } ?? true) }
        }
    }
}

/// The live sessions of a replica: whom to offer new events, whom to ask for a backstop reconciliation, and
/// whom to say goodbye to at shutdown.
package final class Sessions: Sendable {
    private struct Entry {
        let mailbox: Mailbox
        let community: PublicKey
        let peer: PublicKey?
        let outbound: Bool
        /// Past the first sync (`live` sent or received).
        var live = false
    }
    private struct State {
        var entries: [Int: Entry] = [:]
        var next = 0
        var shuttingDown = false
    }
    private let state = Mutex(State())

    /// Adds a session; after shutdown has begun it is told to shut down at once.
    package func register(_ mailbox: Mailbox, community: PublicKey, peer: PublicKey? = nil, outbound: Bool) -> Int {
        let (id, late) = state.withLock { s in
            s.next += 1
            s.entries[s.next] = Entry(mailbox: mailbox, community: community, peer: peer, outbound: outbound)
            return (s.next, s.shuttingDown)
        }
        if late { mailbox.requestShutdown() }
        return id
    }

    /// Removes a session.
    func unregister(_ id: Int) { state.withLock { _ = $0.entries.removeValue(forKey: id) } }

    /// Marks a session as past its first sync.
    func markLive(_ id: Int) { state.withLock { $0.entries[id]?.live = true } }

    /// Sessions past their first sync now.
    var live: Int { state.withLock { $0.entries.values.filter(\.live).count } }

    /// Distinct peer identities with a session now.
    var connectedPeers: Int { state.withLock { Set($0.entries.values.compactMap(\.peer)).count } }

    /// Sessions registered now, live or still in their first sync.
    var count: Int { state.withLock { $0.entries.count } }

    /// Offers new events of `community` to every session of it but `except`.
    func offer(_ ids: [EventID], community: PublicKey, except: Int?) {
        let targets = state.withLock { s in s.entries.filter { $0.key != except && $0.value.community == community }.map(\.value.mailbox) }
        for m in targets { m.post(ids, community: community) }
    }

    /// Asks one random session this node opened to reconcile; false when there is none.
    @discardableResult
    package func requestBackstop() -> Bool {
        guard let m = state.withLock({ s in s.entries.values.filter { $0.outbound && $0.live }.randomElement()?.mailbox }) else {
            return false
        }
        m.requestReconcile()
        return true
    }

    /// Tells every session to finish what it is doing, say goodbye and close; later sessions too.
    package func shutdownAll() {
        let all = state.withLock { s in
            s.shuttingDown = true
            return s.entries.values.map(\.mailbox)
        }
        for m in all { m.requestShutdown() }
    }
}
