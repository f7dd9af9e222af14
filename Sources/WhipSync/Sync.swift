public import WhipCrypto

/// Range-based set reconciliation (in the style of negentropy) and its wire format.
///
/// Two replicas each hold a set of `EventKey`s. The initiator and the responder exchange messages that
/// describe ranges of the key space by fingerprint or by id list, splitting the ranges whose fingerprints
/// differ, until the initiator knows which ids it has that the responder lacks and which it lacks.
/// Everything here is pure: no sockets, no clock. The byte format is in `docs/RECONCILIATION.md`.
public enum Sync {
    /// The protocol version byte that starts every message ("Whipround reconciliation v1").
    public static let version: UInt8 = 0x71
    /// Version bytes `0x70...0x7f` belong to this protocol family; anything else is not a message of ours.
    public static let versionFamily: ClosedRange<UInt8> = 0x70...0x7f
    /// The largest message either side may send or accept, in bytes: 1 MiB. The session layer carries a
    /// message in as many transport frames as it needs (PROTOCOL.md §16), so this bounds memory, not frames;
    /// at this size a million-item reconciliation finds 1,000 differences in 3 round trips.
    public static let maxMessageSize = 1 << 20
    /// The smallest frame limit a sender may be configured with.
    public static let minFrameLimit = 4_096
    /// Length of a range fingerprint in bytes.
    public static let fingerprintSize = 16
    /// Length of an id in bytes.
    public static let idSize = 32
    /// The reserved "infinity" timestamp: the upper bound of the whole key space.
    public static let infinity = UInt64.max

    /// The fingerprint of a range: the first 16 bytes of BLAKE2b-256(sum of its ids mod 2^256, 32 bytes
    /// little-endian, followed by the Varint of its item count).
    public static func fingerprint(sum: IdSum, count: Int) -> [UInt8] {
        var input = sum.bytes
        Varint.append(UInt64(count), to: &input)
        return Array(Blake2b.hash(input, length: 32)[0..<fingerprintSize])
    }
}

/// The family of `SyncError`.
public enum SyncFailure: ErrorFamily {
    public static let describesWithCode = true
}

/// Why a message could not be processed, with a stable machine-readable `code` (one of the codes below).
public typealias SyncError = CodedError<SyncFailure>

extension ErrorCode where Family == SyncFailure {
    /// The bytes do not parse as a message: truncated, bad varint, unknown mode, bounds out of order, ...
    public static let malformed = Self("sync.malformed")
    /// A message is longer than `Sync.maxMessageSize`.
    public static let frameTooLarge = Self("sync.frame_too_large")
    /// The peer speaks a version of this protocol we do not.
    public static let unsupportedVersion = Self("sync.unsupported_version")
    /// The message parses but breaks the protocol: a mode this role may not receive, a reply to an id list never sent.
    public static let protocolViolation = Self("sync.protocol")
    /// The state machine was driven out of order (for example `reconcile` before `initiate`, or after it finished).
    public static let state = Self("sync.state")
    /// Parameters out of their allowed ranges.
    public static let parameters = Self("sync.parameters")
}

extension CodedError where Family == SyncFailure {
    static func malformed(_ m: String) -> SyncError { SyncError(.malformed, m) }
}

/// How a side splits ranges and sizes its messages. Any two parameter sets interoperate: they only change
/// what a side chooses to send, never how a message is read.
public struct SyncParameters: Sendable, Equatable {
    /// The most sub-ranges a mismatching range is split into (2...64).
    public let maxBuckets: Int
    /// A range holding at most this many of our items is sent as an id list rather than split (1...64).
    public let idListThreshold: Int
    /// The largest message this side sends, in bytes (at least `Sync.minFrameLimit`). Values above
    /// `Sync.maxMessageSize` are for measurement only: a conforming peer rejects such messages.
    public let frameLimit: Int
    /// Answer an initiator's id list with only the differences (mode 3) rather than our whole id list.
    public let compactReplies: Bool
    /// Choose each split's bucket count so that the last id list is sent by the responder, which saves a
    /// message, rather than always using `maxBuckets`.
    public let adaptiveSplit: Bool

    /// The defaults: 16 buckets at most, id lists for ranges of up to 32 items, 1 MiB messages,
    /// compact replies and adaptive splits.
    public init() {
        maxBuckets = 16
        idListThreshold = 32
        frameLimit = Sync.maxMessageSize
        compactReplies = true
        adaptiveSplit = true
    }

    /// Custom parameters; throws `sync.parameters` when one is out of range.
    public init(
        maxBuckets: Int = 16, idListThreshold: Int = 32, frameLimit: Int = Sync.maxMessageSize, compactReplies: Bool = true,
        adaptiveSplit: Bool = true
    ) throws(SyncError) {
        guard (2...64).contains(maxBuckets) else { throw SyncError(.parameters, "maxBuckets must be 2...64, not \(maxBuckets)") }
        guard (1...64).contains(idListThreshold) else {
            throw SyncError(.parameters, "idListThreshold must be 1...64, not \(idListThreshold)")
        }
        guard frameLimit >= Sync.minFrameLimit else {
            throw SyncError(.parameters, "frameLimit must be at least \(Sync.minFrameLimit), not \(frameLimit)")
        }
        self.maxBuckets = maxBuckets
        self.idListThreshold = idListThreshold
        self.frameLimit = frameLimit
        self.compactReplies = compactReplies
        self.adaptiveSplit = adaptiveSplit
    }

    /// The reference negentropy v1 choices: always 16 buckets, id lists below 32 items, full id lists in reply.
    public static let negentropy = try! SyncParameters(maxBuckets: 16, idListThreshold: 31, compactReplies: false, adaptiveSplit: false)
}
