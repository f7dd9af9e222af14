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
    /// IANA time zone names.
    public static let maxTimeZoneBytes = 64
    /// Organisers of one campaign, and sealed-contact recipients of one pledge.
    public static let maxOrganisers = 16
    /// One sealed contact ciphertext.
    public static let maxSealedContactBytes = 1024
}
