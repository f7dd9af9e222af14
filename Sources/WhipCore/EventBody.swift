public import WhipCrypto

/// Named size limits of the event format. Each is checked when an event is decoded.
public enum Limits {
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

/// Every kind of event, with its number on the wire.
public enum EventKind: UInt64, Sendable, CaseIterable, CustomStringConvertible {
    case communityCreated = 1
    case roleGranted = 2
    case roleRevoked = 3
    case campaignCreated = 10
    case campaignUpdated = 11
    case campaignPublished = 12
    case campaignClosed = 13
    case campaignCancelled = 14
    case tierAdded = 20
    case tierUpdated = 21
    case pledgeMade = 30
    case pledgeRevised = 31
    case pledgeWithdrawn = 32
    case pledgeCollected = 33
    case pledgeRejected = 34

    /// Dotted name, e.g. `pledge.made`.
    public var name: String {
        switch self {
        case .communityCreated: "community.created"
        case .roleGranted: "role.granted"
        case .roleRevoked: "role.revoked"
        case .campaignCreated: "campaign.created"
        case .campaignUpdated: "campaign.updated"
        case .campaignPublished: "campaign.published"
        case .campaignClosed: "campaign.closed"
        case .campaignCancelled: "campaign.cancelled"
        case .tierAdded: "tier.added"
        case .tierUpdated: "tier.updated"
        case .pledgeMade: "pledge.made"
        case .pledgeRevised: "pledge.revised"
        case .pledgeWithdrawn: "pledge.withdrawn"
        case .pledgeCollected: "pledge.collected"
        case .pledgeRejected: "pledge.rejected"
        }
    }

    public var description: String { name }
}

/// Body of `community.created`, signed by the community key itself.
public struct CommunityCreated: Equatable, Sendable {
    public var name: String
    public var founder: PublicKey
    public init(name: String, founder: PublicKey) {
        self.name = name
        self.founder = founder
    }
}

/// Body of `role.granted`.
public struct RoleGranted: Equatable, Sendable {
    public var member: PublicKey
    public var role: Role
    /// Milliseconds since the epoch after which the grant no longer counts; nil for never.
    public var expires: UInt64?
    public init(member: PublicKey, role: Role, expires: UInt64? = nil) {
        self.member = member
        self.role = role
        self.expires = expires
    }
}

/// Body of `role.revoked`.
public struct RoleRevoked: Equatable, Sendable {
    public var member: PublicKey
    public var role: Role
    public init(member: PublicKey, role: Role) {
        self.member = member
        self.role = role
    }
}

/// Body of `campaign.created`; the campaign's id is this event's id.
public struct CampaignCreated: Equatable, Sendable {
    public var title: String
    public var description: String
    public var goal: Int64
    public var currency: Currency
    public var model: FundingModel
    /// Milliseconds since the epoch when pledging opens.
    public var opens: UInt64
    /// Milliseconds since the epoch when pledging closes (exclusive).
    public var closes: UInt64
    /// IANA time zone the dates are shown in.
    public var timeZone: String
    /// Organisers besides the author, who is always one.
    public var organisers: [PublicKey]
    public init(
        title: String, description: String, goal: Int64, currency: Currency, model: FundingModel,
        opens: UInt64, closes: UInt64, timeZone: String, organisers: [PublicKey]
    ) {
        self.title = title
        self.description = description
        self.goal = goal
        self.currency = currency
        self.model = model
        self.opens = opens
        self.closes = closes
        self.timeZone = timeZone
        self.organisers = Array(Set(organisers)).sorted()
    }
}

/// Body of `campaign.updated`: each present field replaces the campaign's value.
public struct CampaignUpdated: Equatable, Sendable {
    public var campaign: EventID
    public var title: String?
    public var description: String?
    public var goal: Int64?
    public var currency: Currency?
    public var model: FundingModel?
    public var opens: UInt64?
    public var closes: UInt64?
    public var timeZone: String?
    public var organisers: [PublicKey]?
    public init(campaign: EventID) { self.campaign = campaign }
}

/// Body of `campaign.published`, `campaign.closed`.
public struct CampaignRef: Equatable, Sendable {
    public var campaign: EventID
    public init(campaign: EventID) { self.campaign = campaign }
}

/// Body of `campaign.cancelled`.
public struct CampaignCancelled: Equatable, Sendable {
    public var campaign: EventID
    public var reason: String?
    public init(campaign: EventID, reason: String? = nil) {
        self.campaign = campaign
        self.reason = reason
    }
}

/// Body of `tier.added`; the tier's id is this event's id.
public struct TierAdded: Equatable, Sendable {
    public var campaign: EventID
    public var title: String
    public var description: String?
    /// Smallest pledge, in the campaign currency's minor units, that earns this reward.
    public var minimum: Int64
    /// How many backers may claim it; nil for no limit.
    public var limit: UInt32?
    public init(campaign: EventID, title: String, description: String? = nil, minimum: Int64, limit: UInt32? = nil) {
        self.campaign = campaign
        self.title = title
        self.description = description
        self.minimum = minimum
        self.limit = limit
    }
}

/// Body of `tier.updated`.
public struct TierUpdated: Equatable, Sendable {
    public var campaign: EventID
    public var tier: EventID
    public var title: String?
    public var description: String?
    public var minimum: Int64?
    public var limit: UInt32?
    public init(campaign: EventID, tier: EventID) {
        self.campaign = campaign
        self.tier = tier
    }
}

/// A backer's contact details sealed to one organiser.
public struct SealedContact: Equatable, Sendable {
    public var recipient: PublicKey
    public var ciphertext: [UInt8]
    public init(recipient: PublicKey, ciphertext: [UInt8]) {
        self.recipient = recipient
        self.ciphertext = ciphertext
    }
}

/// Body of `pledge.made`; the pledge's id is this event's id.
public struct PledgeMade: Equatable, Sendable {
    public var campaign: EventID
    public var backerName: String
    public var anonymous: Bool
    public var amount: Int64
    public var currency: Currency
    public var tier: EventID?
    public var channel: Channel
    /// Set when the author received the money on the spot.
    public var paid: PaymentMethod?
    /// Contact details, sealed to each organiser; sorted by recipient.
    public var contact: [SealedContact]
    public init(
        campaign: EventID, backerName: String, anonymous: Bool, amount: Int64, currency: Currency,
        tier: EventID? = nil, channel: Channel, paid: PaymentMethod? = nil, contact: [SealedContact] = []
    ) {
        self.campaign = campaign
        self.backerName = backerName
        self.anonymous = anonymous
        self.amount = amount
        self.currency = currency
        self.tier = tier
        self.channel = channel
        self.paid = paid
        self.contact = contact.sorted { $0.recipient < $1.recipient }
    }
}

/// Body of `pledge.revised` by the pledge's author.
public struct PledgeRevised: Equatable, Sendable {
    public var campaign: EventID
    public var pledge: EventID
    public var amount: Int64?
    public var currency: Currency?
    public var tier: EventID?
    public var backerName: String?
    public var anonymous: Bool?
    public init(campaign: EventID, pledge: EventID) {
        self.campaign = campaign
        self.pledge = pledge
    }
}

/// Body of `pledge.withdrawn`.
public struct PledgeRef: Equatable, Sendable {
    public var campaign: EventID
    public var pledge: EventID
    public init(campaign: EventID, pledge: EventID) {
        self.campaign = campaign
        self.pledge = pledge
    }
}

/// Body of `pledge.collected`: money received by a collector.
public struct PledgeCollected: Equatable, Sendable {
    public var campaign: EventID
    public var pledge: EventID
    public var amount: Int64
    public var currency: Currency
    public var method: PaymentMethod
    public init(campaign: EventID, pledge: EventID, amount: Int64, currency: Currency, method: PaymentMethod) {
        self.campaign = campaign
        self.pledge = pledge
        self.amount = amount
        self.currency = currency
        self.method = method
    }
}

/// Body of `pledge.rejected` by an organiser.
public struct PledgeRejected: Equatable, Sendable {
    public var campaign: EventID
    public var pledge: EventID
    public var reason: String
    public init(campaign: EventID, pledge: EventID, reason: String) {
        self.campaign = campaign
        self.pledge = pledge
        self.reason = reason
    }
}

/// The typed body of an event.
public enum EventBody: Equatable, Sendable {
    case communityCreated(CommunityCreated)
    case roleGranted(RoleGranted)
    case roleRevoked(RoleRevoked)
    case campaignCreated(CampaignCreated)
    case campaignUpdated(CampaignUpdated)
    case campaignPublished(CampaignRef)
    case campaignClosed(CampaignRef)
    case campaignCancelled(CampaignCancelled)
    case tierAdded(TierAdded)
    case tierUpdated(TierUpdated)
    case pledgeMade(PledgeMade)
    case pledgeRevised(PledgeRevised)
    case pledgeWithdrawn(PledgeRef)
    case pledgeCollected(PledgeCollected)
    case pledgeRejected(PledgeRejected)

    /// The wire kind of this body.
    public var kind: EventKind {
        switch self {
        case .communityCreated: .communityCreated
        case .roleGranted: .roleGranted
        case .roleRevoked: .roleRevoked
        case .campaignCreated: .campaignCreated
        case .campaignUpdated: .campaignUpdated
        case .campaignPublished: .campaignPublished
        case .campaignClosed: .campaignClosed
        case .campaignCancelled: .campaignCancelled
        case .tierAdded: .tierAdded
        case .tierUpdated: .tierUpdated
        case .pledgeMade: .pledgeMade
        case .pledgeRevised: .pledgeRevised
        case .pledgeWithdrawn: .pledgeWithdrawn
        case .pledgeCollected: .pledgeCollected
        case .pledgeRejected: .pledgeRejected
        }
    }

    /// The campaign this body refers to, other than through its own id; nil for community-level kinds.
    public var referencedCampaign: EventID? {
        switch self {
        case .communityCreated, .roleGranted, .roleRevoked, .campaignCreated: nil
        case .campaignUpdated(let b): b.campaign
        case .campaignPublished(let b), .campaignClosed(let b): b.campaign
        case .campaignCancelled(let b): b.campaign
        case .tierAdded(let b): b.campaign
        case .tierUpdated(let b): b.campaign
        case .pledgeMade(let b): b.campaign
        case .pledgeRevised(let b): b.campaign
        case .pledgeWithdrawn(let b): b.campaign
        case .pledgeCollected(let b): b.campaign
        case .pledgeRejected(let b): b.campaign
        }
    }

    /// The earlier events this body names (its campaign, tier or pledge): a new event must be stamped after
    /// them, or the rules could not apply it.
    public var references: [EventID] {
        var out: [EventID] = referencedCampaign.map { [$0] } ?? []
        switch self {
        case .tierUpdated(let b): out.append(b.tier)
        case .pledgeMade(let b): if let t = b.tier { out.append(t) }
        case .pledgeRevised(let b):
            out.append(b.pledge)
            if let t = b.tier { out.append(t) }
        case .pledgeWithdrawn(let b): out.append(b.pledge)
        case .pledgeCollected(let b): out.append(b.pledge)
        case .pledgeRejected(let b): out.append(b.pledge)
        default: break
        }
        return out
    }
}

// MARK: - Encoding

extension EventBody {
    /// The body as a canonical CBOR map.
    public func cbor() -> CBOR {
        var m = MapBuilder()
        switch self {
        case .communityCreated(let b):
            m.add(0, .text(b.name))
            m.add(1, .bytes(b.founder.bytes))
        case .roleGranted(let b):
            m.add(0, .bytes(b.member.bytes))
            m.add(1, .unsigned(b.role.rawValue))
            m.add(2, b.expires.map(CBOR.unsigned))
        case .roleRevoked(let b):
            m.add(0, .bytes(b.member.bytes))
            m.add(1, .unsigned(b.role.rawValue))
        case .campaignCreated(let b):
            m.add(0, .text(b.title))
            m.add(1, .text(b.description))
            m.add(2, .amount(b.goal))
            m.add(3, .text(b.currency.code))
            m.add(4, .unsigned(b.model.rawValue))
            m.add(5, .unsigned(b.opens))
            m.add(6, .unsigned(b.closes))
            m.add(7, .text(b.timeZone))
            m.add(8, .keys(b.organisers))
        case .campaignUpdated(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, b.title.map(CBOR.text))
            m.add(2, b.description.map(CBOR.text))
            m.add(3, b.goal.map(CBOR.amount))
            m.add(4, b.currency.map { .text($0.code) })
            m.add(5, b.model.map { .unsigned($0.rawValue) })
            m.add(6, b.opens.map(CBOR.unsigned))
            m.add(7, b.closes.map(CBOR.unsigned))
            m.add(8, b.timeZone.map(CBOR.text))
            m.add(9, b.organisers.map { CBOR.keys(Array(Set($0)).sorted()) })
        case .campaignPublished(let b), .campaignClosed(let b):
            m.add(0, .bytes(b.campaign.bytes))
        case .campaignCancelled(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, b.reason.map(CBOR.text))
        case .tierAdded(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, .text(b.title))
            m.add(2, b.description.map(CBOR.text))
            m.add(3, .amount(b.minimum))
            m.add(4, b.limit.map { .unsigned(UInt64($0)) })
        case .tierUpdated(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, .bytes(b.tier.bytes))
            m.add(2, b.title.map(CBOR.text))
            m.add(3, b.description.map(CBOR.text))
            m.add(4, b.minimum.map(CBOR.amount))
            m.add(5, b.limit.map { .unsigned(UInt64($0)) })
        case .pledgeMade(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, .text(b.backerName))
            m.add(2, .bool(b.anonymous))
            m.add(3, .amount(b.amount))
            m.add(4, .text(b.currency.code))
            m.add(5, b.tier.map { .bytes($0.bytes) })
            m.add(6, .unsigned(b.channel.rawValue))
            m.add(7, b.paid.map { .unsigned($0.rawValue) })
            if !b.contact.isEmpty {
                m.add(8, .array(b.contact.map { .array([.bytes($0.recipient.bytes), .bytes($0.ciphertext)]) }))
            }
        case .pledgeRevised(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, .bytes(b.pledge.bytes))
            m.add(2, b.amount.map(CBOR.amount))
            m.add(3, b.currency.map { .text($0.code) })
            m.add(4, b.tier.map { .bytes($0.bytes) })
            m.add(5, b.backerName.map(CBOR.text))
            m.add(6, b.anonymous.map(CBOR.bool))
        case .pledgeWithdrawn(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, .bytes(b.pledge.bytes))
        case .pledgeCollected(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, .bytes(b.pledge.bytes))
            m.add(2, .amount(b.amount))
            m.add(3, .text(b.currency.code))
            m.add(4, .unsigned(b.method.rawValue))
        case .pledgeRejected(let b):
            m.add(0, .bytes(b.campaign.bytes))
            m.add(1, .bytes(b.pledge.bytes))
            m.add(2, .text(b.reason))
        }
        return .map(m.pairs)
    }
}

struct MapBuilder {
    var pairs: [(UInt64, CBOR)] = []
    mutating func add(_ key: UInt64, _ value: CBOR?) {
        if let value { pairs.append((key, value)) }
    }
}

extension CBOR {
    static func amount(_ v: Int64) -> CBOR { .unsigned(UInt64(v)) }
    static func keys(_ ks: [PublicKey]) -> CBOR { .array(ks.map { .bytes($0.bytes) }) }
}

// MARK: - Decoding

/// Reads a canonical map's fields in ascending key order and rejects any left over.
struct Fields {
    let pairs: [(UInt64, CBOR)]
    var index = 0
    let context: String

    init(_ value: CBOR, context: String) throws(DecodingError) {
        guard case .map(let pairs) = value else {
            throw DecodingError(.badType, "\(context) must be a map")
        }
        self.pairs = pairs
        self.context = context
    }

    mutating func optional(_ key: UInt64) -> CBOR? {
        guard index < pairs.count, pairs[index].0 == key else { return nil }
        defer { index += 1 }
        return pairs[index].1
    }

    mutating func required(_ key: UInt64, _ name: String) throws(DecodingError) -> CBOR {
        guard let v = optional(key) else {
            throw DecodingError(.missingField, "\(context): required field \(key) (\(name)) is missing")
        }
        return v
    }

    func finish() throws(DecodingError) {
        guard index == pairs.count else {
            throw DecodingError(.unknownField, "\(context): unknown field \(pairs[index].0)")
        }
    }
}

extension CBOR {
    func uint(_ name: String) throws(DecodingError) -> UInt64 {
        guard case .unsigned(let n) = self else { throw DecodingError(.badType, "\(name) must be an unsigned integer") }
        return n
    }

    func amount(_ name: String) throws(DecodingError) -> Int64 {
        let n = try uint(name)
        guard n <= UInt64(Int64.max) else {
            throw DecodingError(.amountOverflow, "\(name) \(n) overflows a 64-bit signed amount")
        }
        return Int64(n)
    }

    func u32(_ name: String) throws(DecodingError) -> UInt32 {
        let n = try uint(name)
        guard n <= UInt64(UInt32.max) else { throw DecodingError(.outOfRange, "\(name) is out of range") }
        return UInt32(n)
    }

    func bool(_ name: String) throws(DecodingError) -> Bool {
        guard case .bool(let b) = self else { throw DecodingError(.badType, "\(name) must be true or false") }
        return b
    }

    /// A text field. Only multi-line fields (descriptions, reasons) may hold a line feed: a name or title
    /// with one could forge extra lines in plain-text listings.
    func text(_ name: String, max: Int, allowEmpty: Bool = false, multiline: Bool = false) throws(DecodingError) -> String {
        guard case .text(let s) = self else { throw DecodingError(.badType, "\(name) must be a text string") }
        guard s.utf8.count <= max else { throw DecodingError(.tooLong, "\(name) is longer than \(max) bytes") }
        guard allowEmpty || !s.isEmpty else { throw DecodingError(.empty, "\(name) must not be empty") }
        guard !s.unicodeScalars.contains(where: { ($0.value < 0x20 && !(multiline && $0 == "\n")) || $0.value == 0x7f }) else {
            throw DecodingError(.controlChar, "\(name) contains a control character\(multiline ? "" : " or a line break")")
        }
        return s
    }

    func byteString(_ name: String, count: Int? = nil, max: Int = Int.max) throws(DecodingError) -> [UInt8] {
        guard case .bytes(let b) = self else { throw DecodingError(.badType, "\(name) must be a byte string") }
        if let count, b.count != count { throw DecodingError(.badLength, "\(name) must be \(count) bytes") }
        guard b.count <= max else { throw DecodingError(.tooLong, "\(name) is longer than \(max) bytes") }
        return b
    }

    func bytes32(_ name: String) throws(DecodingError) -> Bytes32 {
        guard case .bytes(let b) = self else { throw DecodingError(.badType, "\(name) must be a byte string") }
        guard let raw = Bytes32(b) else { throw DecodingError(.badLength, "\(name) must be 32 bytes") }
        return raw
    }

    func key(_ name: String) throws(DecodingError) -> PublicKey { PublicKey(try bytes32(name)) }
    func id(_ name: String) throws(DecodingError) -> EventID { EventID(try bytes32(name)) }

    func currency(_ name: String) throws(DecodingError) -> Currency {
        let code = try text(name, max: 3)
        guard let c = Currency(code: code) else {
            throw DecodingError(.badCurrency, "\(name) '\(code)' is not an active ISO 4217 currency code")
        }
        return c
    }

    func enumValue<E: RawRepresentable>(_ name: String, _: E.Type) throws(DecodingError) -> E where E.RawValue == UInt64 {
        let n = try uint(name)
        guard let e = E(rawValue: n) else { throw DecodingError(.badEnum, "\(name) \(n) is not a known value") }
        return e
    }

    func keyList(_ name: String) throws(DecodingError) -> [PublicKey] {
        guard case .array(let items) = self else { throw DecodingError(.badType, "\(name) must be an array") }
        guard items.count <= Limits.maxOrganisers else {
            throw DecodingError(.tooLong, "\(name) has more than \(Limits.maxOrganisers) keys")
        }
        var keys = [PublicKey]()
        for item in items { keys.append(try item.key(name)) }
        guard zip(keys, keys.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw DecodingError(.nonCanonical, "\(name) must be sorted and without duplicates")
        }
        return keys
    }
}

func positive(_ v: Int64, _ name: String) throws(DecodingError) -> Int64 {
    guard v > 0 else { throw DecodingError(.notPositive, "\(name) must be greater than zero") }
    return v
}

func timeZoneName(_ v: CBOR) throws(DecodingError) -> String {
    let s = try v.text("time zone", max: Limits.maxTimeZoneBytes)
    guard s.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || "/_-+".utf8.contains($0) })
    else {
        throw DecodingError(.badTimeZone, "time zone '\(s)' is not an IANA zone name")
    }
    return s
}

extension EventBody {
    /// Decodes and statically validates a body of `kind`.
    public static func decode(kind: EventKind, _ value: CBOR) throws(DecodingError) -> EventBody {
        var f = try Fields(value, context: kind.name)
        let body: EventBody
        switch kind {
        case .communityCreated:
            body = .communityCreated(
                CommunityCreated(
                    name: try f.required(0, "name").text("community name", max: Limits.maxNameBytes),
                    founder: try f.required(1, "founder").key("founder")))
        case .roleGranted:
            body = .roleGranted(
                RoleGranted(
                    member: try f.required(0, "member").key("member"),
                    role: try f.required(1, "role").enumValue("role", Role.self),
                    expires: try f.optional(2)?.uint("expires")))
        case .roleRevoked:
            body = .roleRevoked(
                RoleRevoked(
                    member: try f.required(0, "member").key("member"),
                    role: try f.required(1, "role").enumValue("role", Role.self)))
        case .campaignCreated:
            let c = CampaignCreated(
                title: try f.required(0, "title").text("title", max: Limits.maxNameBytes),
                description: try f.required(1, "description").text("description", max: Limits.maxDescriptionBytes, allowEmpty: true, multiline: true),
                goal: try positive(try f.required(2, "goal").amount("goal"), "goal"),
                currency: try f.required(3, "currency").currency("currency"),
                model: try f.required(4, "model").enumValue("model", FundingModel.self),
                opens: try f.required(5, "opens").uint("opens"),
                closes: try f.required(6, "closes").uint("closes"),
                timeZone: try timeZoneName(try f.required(7, "time zone")),
                organisers: try f.required(8, "organisers").keyList("organisers"))
            guard c.closes > c.opens else { throw DecodingError(.badDates, "a campaign must close after it opens") }
            body = .campaignCreated(c)
        case .campaignUpdated:
            var u = CampaignUpdated(campaign: try f.required(0, "campaign").id("campaign"))
            u.title = try f.optional(1)?.text("title", max: Limits.maxNameBytes)
            u.description = try f.optional(2)?.text("description", max: Limits.maxDescriptionBytes, allowEmpty: true, multiline: true)
            if let g = try f.optional(3)?.amount("goal") { u.goal = try positive(g, "goal") }
            u.currency = try f.optional(4)?.currency("currency")
            u.model = try f.optional(5)?.enumValue("model", FundingModel.self)
            u.opens = try f.optional(6)?.uint("opens")
            u.closes = try f.optional(7)?.uint("closes")
            if let tz = f.optional(8) { u.timeZone = try timeZoneName(tz) }
            u.organisers = try f.optional(9)?.keyList("organisers")
            guard f.pairs.count > 1 else { throw DecodingError(.emptyUpdate, "campaign.updated changes nothing") }
            body = .campaignUpdated(u)
        case .campaignPublished:
            body = .campaignPublished(CampaignRef(campaign: try f.required(0, "campaign").id("campaign")))
        case .campaignClosed:
            body = .campaignClosed(CampaignRef(campaign: try f.required(0, "campaign").id("campaign")))
        case .campaignCancelled:
            body = .campaignCancelled(
                CampaignCancelled(
                    campaign: try f.required(0, "campaign").id("campaign"),
                    reason: try f.optional(1)?.text("reason", max: Limits.maxReasonBytes, multiline: true)))
        case .tierAdded:
            let campaign = try f.required(0, "campaign").id("campaign")
            let title = try f.required(1, "title").text("title", max: Limits.maxNameBytes)
            let description = try f.optional(2)?.text("description", max: Limits.maxDescriptionBytes, multiline: true)
            let minimum = try f.required(3, "minimum").amount("minimum")
            let limit = try f.optional(4)?.u32("limit")
            if limit == 0 { throw DecodingError(.notPositive, "limit must be greater than zero") }
            body = .tierAdded(TierAdded(campaign: campaign, title: title, description: description, minimum: minimum, limit: limit))
        case .tierUpdated:
            var u = TierUpdated(campaign: try f.required(0, "campaign").id("campaign"), tier: try f.required(1, "tier").id("tier"))
            u.title = try f.optional(2)?.text("title", max: Limits.maxNameBytes)
            u.description = try f.optional(3)?.text("description", max: Limits.maxDescriptionBytes, multiline: true)
            u.minimum = try f.optional(4)?.amount("minimum")
            u.limit = try f.optional(5)?.u32("limit")
            if u.limit == 0 { throw DecodingError(.notPositive, "limit must be greater than zero") }
            guard f.pairs.count > 2 else { throw DecodingError(.emptyUpdate, "tier.updated changes nothing") }
            body = .tierUpdated(u)
        case .pledgeMade:
            var p = PledgeMade(
                campaign: try f.required(0, "campaign").id("campaign"),
                backerName: try f.required(1, "backer name").text("backer name", max: Limits.maxNameBytes),
                anonymous: try f.required(2, "anonymous").bool("anonymous"),
                amount: try positive(try f.required(3, "amount").amount("amount"), "amount"),
                currency: try f.required(4, "currency").currency("currency"),
                tier: try f.optional(5)?.id("tier"),
                channel: try f.required(6, "channel").enumValue("channel", Channel.self),
                paid: try f.optional(7)?.enumValue("paid", PaymentMethod.self))
            if let c = f.optional(8) {
                guard case .array(let items) = c, !items.isEmpty, items.count <= Limits.maxOrganisers else {
                    throw DecodingError(.badType, "contact must be a non-empty array of at most \(Limits.maxOrganisers) entries")
                }
                for item in items {
                    guard case .array(let pair) = item, pair.count == 2 else {
                        throw DecodingError(.badType, "contact entries are [recipient, ciphertext]")
                    }
                    p.contact.append(
                        SealedContact(
                            recipient: try pair[0].key("contact recipient"),
                            ciphertext: try pair[1].byteString("sealed contact", max: Limits.maxSealedContactBytes)))
                }
                guard zip(p.contact, p.contact.dropFirst()).allSatisfy({ $0.recipient < $1.recipient }) else {
                    throw DecodingError(.nonCanonical, "contact entries must be sorted by recipient, without duplicates")
                }
            }
            body = .pledgeMade(p)
        case .pledgeRevised:
            var r = PledgeRevised(campaign: try f.required(0, "campaign").id("campaign"), pledge: try f.required(1, "pledge").id("pledge"))
            if let a = try f.optional(2)?.amount("amount") { r.amount = try positive(a, "amount") }
            r.currency = try f.optional(3)?.currency("currency")
            r.tier = try f.optional(4)?.id("tier")
            r.backerName = try f.optional(5)?.text("backer name", max: Limits.maxNameBytes)
            r.anonymous = try f.optional(6)?.bool("anonymous")
            guard (r.amount == nil) == (r.currency == nil) else {
                throw DecodingError(.missingField, "pledge.revised: amount and currency go together")
            }
            guard f.pairs.count > 2 else { throw DecodingError(.emptyUpdate, "pledge.revised changes nothing") }
            body = .pledgeRevised(r)
        case .pledgeWithdrawn:
            body = .pledgeWithdrawn(
                PledgeRef(campaign: try f.required(0, "campaign").id("campaign"), pledge: try f.required(1, "pledge").id("pledge")))
        case .pledgeCollected:
            body = .pledgeCollected(
                PledgeCollected(
                    campaign: try f.required(0, "campaign").id("campaign"),
                    pledge: try f.required(1, "pledge").id("pledge"),
                    amount: try positive(try f.required(2, "amount").amount("amount"), "amount"),
                    currency: try f.required(3, "currency").currency("currency"),
                    method: try f.required(4, "method").enumValue("method", PaymentMethod.self)))
        case .pledgeRejected:
            body = .pledgeRejected(
                PledgeRejected(
                    campaign: try f.required(0, "campaign").id("campaign"),
                    pledge: try f.required(1, "pledge").id("pledge"),
                    reason: try f.required(2, "reason").text("reason", max: Limits.maxReasonBytes, multiline: true)))
        }
        try f.finish()
        return body
    }
}
