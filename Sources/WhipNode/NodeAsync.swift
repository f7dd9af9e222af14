public import WhipCore
public import WhipCrypto
public import WhipStore

/// The async half of the application API, for the daemon, its peer sessions and HTTP handlers (the CLI uses the
/// synchronous methods). Store transactions run on the store's own threads and signature checks on the
/// verification threads (`Store.reading`, `Store.writing`, `Verifier.verify`), so a caller suspends instead of
/// holding one of the cooperative pool's threads (docs/ARCHITECTURE.md, Issue 8).
extension Node {
    /// Runs `body`'s reads of the replica off the cooperative pool and returns its result.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Store) throws(WhipError) -> T) async throws(WhipError) -> T {
        try await store.reading(body)
    }

    /// Runs `body`'s writes to the replica off the cooperative pool, after the writes queued before them.
    public func write<T: Sendable>(_ body: @escaping @Sendable (Store) throws(WhipError) -> T) async throws(WhipError) -> T {
        try await store.writing(body)
    }

    /// Signs and stores a local event, as `emit(_:_:)` does, off the cooperative pool.
    @discardableResult
    public func emit(_ community: PublicKey, _ body: EventBody) async throws(WhipError) -> Event {
        try await store.writing { _ throws(WhipError) -> Event in try self.emit(community, body) }
    }

    /// Decodes and verifies `wires` on the verification threads, then commits them in one transaction; with
    /// `community`, events of any other community are refused (`wrong_community`).
    public func ingest(
        _ wires: [[UInt8]], parts: [PartRecord] = [], community: PublicKey? = nil, source: EventSource
    ) async throws(WhipError) -> IngestReport {
        try await commit(wires, checked: await Verifier.verify(wires, community: community), parts: parts, source: source)
    }

    /// Commits events already checked by `Verifier.verify` (the two in the same order), and the personal parts
    /// that came with them, in one transaction: for callers that verify the next batch while this one commits.
    public func commit(
        _ wires: [[UInt8]], checked: [Result<Event, Admission>], parts: [PartRecord] = [], source: EventSource
    ) async throws(WhipError) -> IngestReport {
        let now = self.now
        return try await store.writing { store throws(WhipError) -> IngestReport in
            try store.ingest(checked: wires, results: checked, parts: parts, source: source, now: now)
        }
    }
}
