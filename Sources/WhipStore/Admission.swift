public import WhipCore
public import WhipCrypto

/// The family of `Admission`.
public enum AdmissionFailure: ErrorFamily {
    public static let describesWithCode = false
}

/// Why an event was refused (or held) before it reached the event set: a `decode.*` code or one of the codes
/// below. Published in the rejection log, the `rejected` counts and docs/PROTOCOL.md section 10.
public typealias Admission = CodedError<AdmissionFailure>

extension ErrorCode where Family == AdmissionFailure {
    /// The signature does not match the event.
    public static let badSignature = Self("bad_signature")
    /// A session for one community was sent an event of another.
    public static let wrongCommunity = Self("wrong_community")
    /// The event belongs to a community this node has not joined. (Until issue 8 this was `unknown_community`,
    /// which is also the rule code for a role event with no genesis before it.)
    public static let communityNotJoined = Self("community_not_joined")
    /// Held: the timestamp is too far ahead of this node's clock; retried later.
    public static let futureTimestamp = Self("future_timestamp")
    /// `verify --events`: a stored event whose id is not the hash of its payload.
    public static let idMismatch = Self("id_mismatch")

    /// The same code as a decoding failure (`decode.*`), which refuses the event at admission.
    public init(_ decoding: DecodingError.Code) { self.init(decoding.rawValue) }
}

extension CodedError where Family == AdmissionFailure {
    /// Refuses an event that does not decode, with the decoder's code and message.
    public init(_ decoding: DecodingError) { self.init(Code(decoding.code), decoding.message, cause: decoding) }
}
