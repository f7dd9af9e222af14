public import WhipCrypto
public import WhipStore

/// What one sync with a peer did.
public struct SyncReport: Sendable {
    /// The community synced.
    public var community: PublicKey
    /// The peer's member identity.
    public var peer: PublicKey
    /// Reconciliation messages this side sent.
    public var reconcileMessages = 0
    /// Events sent to the peer, and what it said it committed.
    public var sent = 0
    public var peerAccepted = 0
    /// What we committed from the peer.
    public var received = IngestReport()
}

/// How far a sync has got, for a progress display.
public struct SyncProgress: Sendable, Equatable {
    /// What the sync is doing.
    public enum Phase: String, Sendable {
        case reconciling, sending, receiving
    }
    /// The phase.
    public var phase: Phase
    /// Events done in this phase, of `total` (both 0 while reconciling).
    public var done: Int
    public var total: Int

    /// A progress report.
    public init(_ phase: Phase, done: Int = 0, total: Int = 0) {
        self.phase = phase
        self.done = done
        self.total = total
    }
}
