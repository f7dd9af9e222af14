/// Named size limits of the event format (PROTOCOL.md section 3). Each is checked when an event is decoded.
public enum EventLimits {
    /// The largest event on the wire, signature included.
    public static let maxEventBytes = 8192
    /// Names, titles, backer names.
    public static let maxNameBytes = 200
    /// Campaign and tier descriptions.
    public static let maxDescriptionBytes = 4000
    /// Rejection and cancellation reasons.
    public static let maxReasonBytes = 500
    /// The title of a campaign update (`update.posted`, PROTOCOL.md §6.15).
    public static let maxUpdateTitleBytes = 120
    /// The Markdown text of a campaign update: the largest `update.posted` (both fields at their limits, the widest
    /// timestamp) is then 7,325 bytes on the wire, under `maxEventBytes`.
    public static let maxUpdateTextBytes = 7000
    /// IANA time zone names.
    public static let maxTimeZoneBytes = 64
    /// Organisers of one campaign, and sealed-contact recipients of one pledge.
    public static let maxOrganisers = 16
    /// One sealed contact ciphertext.
    public static let maxSealedContactBytes = 1024
    /// One personal part (PROTOCOL.md §6.35): bounds what the per-slot formats allow (16 boxes of 1,024 bytes).
    public static let maxPartBytes = 17_408
    /// Sealed parts' plaintext is padded to a multiple of this, so a box's length shows only the bucket.
    public static let partPaddingBlock = 256
    /// Personal parts sent beside one event (one per slot).
    public static let maxPartsPerEvent = 3
    /// Pledges named on one page of a `match.settled` (a full page stays well under `maxEventBytes`).
    public static let maxSettlementEntries = 150
    /// Pages of one settlement (1.5 million pledges).
    public static let maxSettlementPages: UInt32 = 10_000
    /// Numerator and denominator of a match factor.
    public static let maxMatchFactorTerm: UInt64 = 1000
    /// A match factor is at most this many times the pledge.
    public static let maxMatchFactor: UInt64 = 10
}
