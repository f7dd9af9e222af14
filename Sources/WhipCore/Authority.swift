public import WhipCrypto

/// The family of `RuleViolation`.
public enum RuleFailure: ErrorFamily {
    public static let describesWithCode = true
}

/// Why an event was not applied. Codes are stable and appear in the rejection log.
public typealias RuleViolation = CodedError<RuleFailure>

/// The rule codes: an event's status, published in the rejection log and hashed into the state digest
/// (docs/PROTOCOL.md sections 6 and 11), so never to be changed.
extension ErrorCode where Family == RuleFailure {
    /// A `community.created` not signed by the community key.
    public static let badGenesis = Self("bad_genesis")
    /// A `community.created` after the genesis.
    public static let duplicateGenesis = Self("duplicate_genesis")
    /// A campaign event judged as a community-level one.
    public static let notCommunityLevel = Self("not_community_level")
    /// A role event with no genesis ordered before it (not the admission code `community_not_joined`).
    public static let unknownCommunity = Self("unknown_community")
    /// The author lacks the right.
    public static let unauthorised = Self("unauthorised")
    /// No `campaign.created` of that id is ordered before the event.
    public static let unknownCampaign = Self("unknown_campaign")
    /// The event does not belong to this campaign.
    public static let wrongPartition = Self("wrong_partition")
    /// Terms that cannot change once there are pledges.
    public static let frozen = Self("frozen")
    /// A campaign that would close before it opens.
    public static let badDates = Self("bad_dates")
    /// A phase change the campaign's phase does not allow.
    public static let badPhase = Self("bad_phase")
    /// The campaign is not published yet.
    public static let notLive = Self("not_live")
    /// The campaign does not open until later.
    public static let notOpen = Self("not_open")
    /// The campaign was cancelled.
    public static let cancelled = Self("cancelled")
    /// The campaign is closed.
    public static let closed = Self("closed")
    /// A total would overflow.
    public static let overflow = Self("overflow")
    /// Not a tier of this campaign.
    public static let unknownTier = Self("unknown_tier")
    /// A tier limit below the places already claimed.
    public static let limitBelowClaimed = Self("limit_below_claimed")
    /// An amount below its tier's minimum.
    public static let belowTierMinimum = Self("below_tier_minimum")
    /// Not the campaign's currency.
    public static let currencyMismatch = Self("currency_mismatch")
    /// No such pledge in this campaign.
    public static let unknownPledge = Self("unknown_pledge")
    /// Only the pledge's author may do this.
    public static let notAuthor = Self("not_author")
    /// The pledge is no longer active.
    public static let pledgeInactive = Self("pledge_inactive")
    /// The pledge's money was already received.
    public static let alreadyCollected = Self("already_collected")
    /// Gift Aid: the community is not recognised by HMRC as a charity (no `charity.recognised` ordered before).
    public static let notRecognised = Self("not_recognised")
    /// Gift Aid: the campaign is not in pounds sterling.
    public static let notSterling = Self("not_sterling")
    /// Gift Aid: a tag of the claim was already claimed by an earlier `giftaid.claimed` of the campaign.
    public static let alreadyClaimed = Self("already_claimed")
    /// A pledge revision in the other pledge format's terms (a name in clear for a version-2 pledge, or a name
    /// part for a version-1 pledge).
    public static let wrongVersion = Self("wrong_version")
    /// An erasure of a version-1 pledge, whose personal data is inside its signed event.
    public static let notErasable = Self("not_erasable")
    /// A new name for a pledge whose name was erased.
    public static let erased = Self("erased")
}

/// Whether an event was applied to the derived state, and if not, why.
public enum EventStatus: Hashable, Sendable {
    case applied
    case rejected(RuleViolation)

    /// `applied` or the violation code.
    public var code: String {
        switch self {
        case .applied: "applied"
        case .rejected(let v): v.code.rawValue
        }
    }
}

/// Who may do what, and when: the role timeline of one community, derived from its genesis and role events.
///
/// Rights are judged at the event's place in the replay order: a revocation stops events ordered after
/// it, and an expiry stops events whose timestamp is at or past it. Events ordered before either stay valid.
public struct Authority: Sendable, Equatable {
    /// The community (and its root key).
    public let community: PublicKey
    /// The genesis event, once known.
    public private(set) var genesis: EventID?
    /// The community's name from its genesis.
    public private(set) var name: String?
    /// The founder named in the genesis.
    public private(set) var founder: PublicKey?
    /// Grant and revoke entries per (member, role), in replay order.
    public private(set) var timeline: [MemberRole: [RoleEntry]] = [:]
    /// Status of every community-level event.
    public private(set) var statuses: [EventID: EventStatus] = [:]
    /// Applied `charity.recognised` and `charity.withdrawn` events, in replay order: the last one before a point
    /// says whether (and how) the community is recognised there.
    public private(set) var charity: [CharityEntry] = []
    /// Applied `funder.budget` events, in replay order: a funder's last one in a currency is its budget there.
    public private(set) var budgets: [BudgetEntry] = []

    /// One applied `funder.budget`.
    public struct BudgetEntry: Equatable, Sendable {
        public let at: OrderKey
        public let event: EventID
        public let funder: PublicKey
        public let budget: FunderBudget
    }

    /// One applied `charity.recognised`, or a `charity.withdrawn` (no recognition, with its reason).
    public struct CharityEntry: Equatable, Sendable {
        public let at: OrderKey
        public let event: EventID
        public let recognition: CharityRecognised?
        public var withdrawal: String? = nil
    }

    /// A member and one of their roles.
    public struct MemberRole: Hashable, Sendable {
        public let member: PublicKey
        public let role: Role
    }

    /// One grant or revocation.
    public struct RoleEntry: Equatable, Sendable {
        public let at: OrderKey
        public let event: EventID
        public let by: PublicKey
        public let granted: Bool
        public let expires: UInt64?
    }

    /// Replays `events` (community-level kinds only; any order) into a timeline.
    public init(community: PublicKey, events: [Event]) {
        self.community = community
        var seen = Set<EventID>()
        let unique = events.filter { seen.insert($0.id).inserted }
        for event in unique.sorted(by: { $0.orderKey < $1.orderKey }) {
            statuses[event.id] = apply(event)
        }
    }

    private mutating func apply(_ e: Event) -> EventStatus {
        switch e.body {
        case .communityCreated(let b):
            guard e.author == community else {
                return .rejected(RuleViolation(.badGenesis, "community.created must be signed by the community key"))
            }
            guard genesis == nil else {
                return .rejected(RuleViolation(.duplicateGenesis, "the community was already created by an earlier event"))
            }
            genesis = e.id
            name = b.name
            founder = b.founder
            return .applied
        case .roleGranted(let b):
            if let v = mayManage(b.role, author: e.author, at: e.orderKey, wall: e.hlc.wall) { return .rejected(v) }
            timeline[MemberRole(member: b.member, role: b.role), default: []].append(
                RoleEntry(at: e.orderKey, event: e.id, by: e.author, granted: true, expires: b.expires))
            return .applied
        case .roleRevoked(let b):
            if let v = mayManage(b.role, author: e.author, at: e.orderKey, wall: e.hlc.wall) { return .rejected(v) }
            timeline[MemberRole(member: b.member, role: b.role), default: []].append(
                RoleEntry(at: e.orderKey, event: e.id, by: e.author, granted: false, expires: nil))
            return .applied
        case .charityRecognised(let b):
            guard genesis != nil else {
                return .rejected(RuleViolation(.unknownCommunity, "no community.created is ordered before this event"))
            }
            guard isAdmin(e.author, at: e.orderKey, wall: e.hlc.wall) else {
                return .rejected(RuleViolation(.unauthorised, "only the founder or an admin may record the charity's recognition"))
            }
            charity.append(CharityEntry(at: e.orderKey, event: e.id, recognition: b))
            return .applied
        case .charityWithdrawn(let b):
            guard genesis != nil else {
                return .rejected(RuleViolation(.unknownCommunity, "no community.created is ordered before this event"))
            }
            guard isAdmin(e.author, at: e.orderKey, wall: e.hlc.wall) else {
                return .rejected(RuleViolation(.unauthorised, "only the founder or an admin may record that the recognition ended"))
            }
            guard charity(at: e.orderKey) != nil else {
                return .rejected(RuleViolation(.notRecognised, "the community is not recorded as a recognised charity, so nothing can be withdrawn"))
            }
            charity.append(CharityEntry(at: e.orderKey, event: e.id, recognition: nil, withdrawal: b.reason))
            return .applied
        case .funderBudget(let b):
            guard genesis != nil else {
                return .rejected(RuleViolation(.unknownCommunity, "no community.created is ordered before this event"))
            }
            guard mayFund(e.author, at: e.orderKey, wall: e.hlc.wall) else {
                return .rejected(RuleViolation(.unauthorised, "only members holding the funder role may state a funder's budget"))
            }
            budgets.append(BudgetEntry(at: e.orderKey, event: e.id, funder: e.author, budget: b))
            return .applied
        default:
            return .rejected(RuleViolation(.notCommunityLevel, "\(e.kind.name) is not a community-level event"))
        }
    }

    private func mayManage(_ role: Role, author: PublicKey, at: OrderKey, wall: UInt64) -> RuleViolation? {
        guard genesis != nil else {
            return RuleViolation(.unknownCommunity, "no community.created is ordered before this event")
        }
        if isRoot(author) { return nil }
        if role != .admin, has(.admin, author, at: at, wall: wall) { return nil }
        return RuleViolation(
            .unauthorised,
            role == .admin
                ? "only the founder may grant or revoke the admin role"
                : "only the founder or an admin may grant or revoke roles")
    }

    /// True for the community key and the founder, who hold every right and cannot be revoked.
    public func isRoot(_ key: PublicKey) -> Bool {
        genesis != nil && (key == community || key == founder)
    }

    /// Whether `key` held `role` (exactly) at order position `at` with wall time `wall`.
    public func has(_ role: Role, _ key: PublicKey, at: OrderKey, wall: UInt64) -> Bool {
        guard let entries = timeline[MemberRole(member: key, role: role)] else { return false }
        guard let last = entries.last(where: { $0.at < at }) else { return false }
        guard last.granted else { return false }
        if let expires = last.expires, wall >= expires { return false }
        return true
    }

    /// May record, revise and collect pledges: collectors, organisers, admins and root.
    public func mayRecordPledges(_ key: PublicKey, at: OrderKey, wall: UInt64) -> Bool {
        isRoot(key) || has(.collector, key, at: at, wall: wall) || has(.organiser, key, at: at, wall: wall)
            || has(.admin, key, at: at, wall: wall)
    }

    /// May create campaigns: organisers, admins and root.
    public func mayOrganise(_ key: PublicKey, at: OrderKey, wall: UInt64) -> Bool {
        isRoot(key) || has(.organiser, key, at: at, wall: wall) || has(.admin, key, at: at, wall: wall)
    }

    /// May act as admin: admins and root.
    public func isAdmin(_ key: PublicKey, at: OrderKey, wall: UInt64) -> Bool {
        isRoot(key) || has(.admin, key, at: at, wall: wall)
    }

    /// The charity recognition in force at order position `at` (nil before any), for Gift Aid.
    public func charity(at: OrderKey) -> CharityRecognised? {
        charity.last(where: { $0.at < at })?.recognition
    }

    /// Each funder's budget per currency at the end of the timeline: its last applied `funder.budget` there.
    public var currentBudgets: [BudgetEntry] {
        var last: [String: BudgetEntry] = [:]
        for b in budgets { last[b.funder.hex + b.budget.currency.code] = b }
        return last.values.sorted { ($0.funder, $0.budget.currency.code) < ($1.funder, $1.budget.currency.code) }
    }

    /// The charity recognition in force at the end of the timeline (nil once withdrawn).
    public var currentCharity: CharityRecognised? { charity.last?.recognition }

    /// The last recognition ever applied, withdrawn or not: its accounting year still sets how long claimed
    /// declarations are kept after the recognition ends.
    public var lastRecognition: CharityRecognised? { charity.last(where: { $0.recognition != nil })?.recognition }

    /// May sign Gift Aid claims: treasurers and root.
    public func mayClaimGiftAid(_ key: PublicKey, at: OrderKey, wall: UInt64) -> Bool {
        isRoot(key) || has(.treasurer, key, at: at, wall: wall)
    }

    /// The roles each member holds at the end of the timeline, for display.
    public func currentRoles(wall: UInt64?) -> [(member: PublicKey, role: Role, entry: RoleEntry)] {
        var out: [(PublicKey, Role, RoleEntry)] = []
        for (mr, entries) in timeline {
            guard let last = entries.last, last.granted else { continue }
            if let wall, let e = last.expires, wall >= e { continue }
            out.append((mr.member, mr.role, last))
        }
        return out.sorted { ($0.0, $0.1.rawValue) < ($1.0, $1.1.rawValue) }.map { (member: $0.0, role: $0.1, entry: $0.2) }
    }

    /// Whether the event kind is judged at community level (genesis and roles) rather than per campaign.
    public static func isCommunityLevel(_ kind: EventKind) -> Bool {
        kind == .communityCreated || kind == .roleGranted || kind == .roleRevoked || kind == .charityRecognised || kind == .funderBudget
            || kind == .charityWithdrawn
    }
}
