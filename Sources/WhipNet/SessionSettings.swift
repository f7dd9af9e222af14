import WhipSync

/// Per-session settings (the daemon builds them from its `DaemonConfig`).
public struct SessionSettings: Sendable {
    /// Largest frame accepted.
    public var maxFrameBytes = 65_535
    /// The handshake must finish within this many seconds.
    public var handshakeTimeout: Double = 10
    /// A connection we have read nothing from for this long is closed.
    public var idleTimeout: Double = 120
    /// A frame must be complete within this many seconds of its first byte.
    public var frameTimeout: Double = 15
    /// Payload budget of one `events` message (it must fit a Noise message with room for framing).
    public var eventsMessageBytes = SessionMessage.eventsBudgetBytes
    /// Events pulled from a peer are committed in batches of about this many.
    public var commitBatch = 10_000
    /// Most bytes of an answer to one `want`; the asker asks again for the rest. Together with one
    /// outstanding `want` per direction this bounds what either side can have in flight towards the other.
    public var answerBytes = 256_000
    /// Bytes of frames from one peer that may wait to be handled before we stop reading from it.
    public var inboundQueueBytes = 1 << 20
    /// A ping is sent this often on a live session, so a quiet link is not taken for a dead one.
    public var keepAlive: Double = 30
    /// New events for a lazy peer are announced after this many seconds, in one message: by then most peers
    /// have them from the push tree and have said so with their own announcement, so fewer ids cross.
    public var announceDelay: Double = 0.1
    /// Unacknowledged `events` messages to a peer beyond which new events are announced, not pushed.
    public var maxUnackedPushes = 16
    /// Refused events (forged, unauthorised, malformed) a member may send within an hour before it is cut off.
    public var maxRefusedEvents = 1_000

    /// Defaults.
    public init() {}
}
