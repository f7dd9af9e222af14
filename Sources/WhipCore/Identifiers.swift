public import WhipCrypto

/// An event's id: BLAKE2b-256 of its signed payload bytes. Campaigns, tiers and pledges are named by
/// the id of the event that created them. 32 bytes held inline (`Bytes32`), no heap allocation.
public struct EventID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 32 id bytes.
    public let raw: Bytes32

    /// Wraps 32 bytes.
    public init(_ raw: Bytes32) { self.raw = raw }

    /// Wraps 32 raw bytes; nil on any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard let raw = Bytes32(bytes) else { return nil }
        self.raw = raw
    }

    /// Parses 64 hex characters.
    public init?(hex: String) {
        guard let b = Hex.decode(hex), let raw = Bytes32(b) else { return nil }
        self.raw = raw
    }

    /// The id of a payload.
    public static func of(payload: [UInt8]) -> EventID {
        EventID(Blake2b.hash32(payload))
    }

    /// The id bytes as an array (allocates; `raw.withUnsafeBytes` does not).
    public var bytes: [UInt8] { raw.array }

    /// Lower-case hex, 64 characters.
    public var hex: String { raw.hex }
    public var description: String { hex }

    public static func < (a: EventID, b: EventID) -> Bool { a.raw < b.raw }
}

/// A hybrid logical timestamp: milliseconds of wall clock plus a counter for events in the same millisecond.
public struct HLC: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var wall: UInt64
    /// Tie-breaker within one `wall` millisecond.
    public var counter: UInt32

    /// Creates a timestamp.
    public init(wall: UInt64, counter: UInt32 = 0) {
        self.wall = wall
        self.counter = counter
    }

    /// The next timestamp to issue: after both `last` (and anything observed) and the wall clock `now`,
    /// so it is monotonic per author even when the wall clock steps back.
    public static func next(after last: HLC?, now: UInt64) -> HLC {
        guard let last, last.wall >= now else { return HLC(wall: now, counter: 0) }
        if last.counter == UInt32.max { return HLC(wall: last.wall + 1, counter: 0) }
        return HLC(wall: last.wall, counter: last.counter + 1)
    }

    public static func < (a: HLC, b: HLC) -> Bool { (a.wall, a.counter) < (b.wall, b.counter) }
    public var description: String { "\(wall).\(counter)" }
}

/// The total order events are replayed in: timestamp, then author key, then event id.
public struct OrderKey: Hashable, Comparable, Sendable {
    /// The event's timestamp.
    public let hlc: HLC
    /// The author's key bytes.
    public let author: [UInt8]
    /// The event id bytes.
    public let id: [UInt8]

    /// Creates an order key.
    public init(hlc: HLC, author: [UInt8], id: [UInt8]) {
        self.hlc = hlc
        self.author = author
        self.id = id
    }

    public static func < (a: OrderKey, b: OrderKey) -> Bool {
        if a.hlc != b.hlc { return a.hlc < b.hlc }
        if a.author != b.author { return a.author.lexicographicallyPrecedes(b.author) }
        return a.id.lexicographicallyPrecedes(b.id)
    }
}

/// A community role, granted by signed events.
public enum Role: UInt64, Sendable, CaseIterable, CustomStringConvertible {
    /// May grant and revoke organiser and collector roles, and do anything an organiser may.
    case admin = 1
    /// May create and edit campaigns, reject pledges, and record pledges.
    case organiser = 2
    /// May record and collect pledges.
    case collector = 3
    /// Reads the Gift Aid declarations sealed to treasurers and signs Gift Aid claims (`giftaid.claimed`).
    case treasurer = 5
    /// May offer, withdraw and settle match funding for campaigns (a council, a trust, a local business).
    case funder = 4

    /// The role's name as typed on the command line.
    public var name: String {
        switch self {
        case .admin: "admin"
        case .organiser: "organiser"
        case .collector: "collector"
        case .treasurer: "treasurer"
        case .funder: "funder"
        }
    }

    /// Parses a role name (accepts the US spelling `organizer`).
    public init?(name: String) {
        switch name.lowercased() {
        case "admin": self = .admin
        case "organiser", "organizer": self = .organiser
        case "collector": self = .collector
        case "treasurer": self = .treasurer
        case "funder": self = .funder
        default: return nil
        }
    }

    public var description: String { name }
}

/// How a campaign's outcome is decided.
public enum FundingModel: UInt64, Sendable, CaseIterable {
    /// Funded only when the goal is met by the close.
    case allOrNothing = 1
    /// The campaign keeps whatever it raised.
    case keepWhatYouRaise = 2

    /// The name used on the command line and in the database.
    public var name: String { self == .allOrNothing ? "all-or-nothing" : "keep-what-you-raise" }

    /// Parses `all-or-nothing` or `keep-what-you-raise`.
    public init?(name: String) {
        switch name.lowercased() {
        case "all-or-nothing", "aon": self = .allOrNothing
        case "keep-what-you-raise", "kwyr", "flexible": self = .keepWhatYouRaise
        default: return nil
        }
    }
}

/// Where a pledge was taken.
public enum Channel: UInt64, Sendable, CaseIterable {
    /// Face to face, for example at a fete.
    case inPerson = 1
    /// Online.
    case online = 2

    /// The name used on the command line and in the database.
    public var name: String { self == .inPerson ? "in-person" : "online" }

    /// Parses `in-person` or `online`.
    public init?(name: String) {
        switch name.lowercased() {
        case "in-person", "in_person", "inperson": self = .inPerson
        case "online": self = .online
        default: return nil
        }
    }
}

/// How pledged money was received.
public enum PaymentMethod: UInt64, Sendable, CaseIterable {
    /// Cash in hand.
    case cash = 1
    /// A bank transfer.
    case transfer = 2
    /// A contactless card payment (protocol version 2): with cash, what the Gift Aid Small Donations Scheme covers.
    case contactless = 3

    /// The name used on the command line and in the database.
    public var name: String {
        switch self {
        case .cash: "cash"
        case .transfer: "transfer"
        case .contactless: "contactless"
        }
    }

    /// Parses `cash`, `transfer` or `contactless`.
    public init?(name: String) {
        switch name.lowercased() {
        case "cash": self = .cash
        case "transfer", "bank", "bank-transfer": self = .transfer
        case "contactless", "card": self = .contactless
        default: return nil
        }
    }
}
