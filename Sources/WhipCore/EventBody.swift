public import WhipCrypto

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

/// Body of `update.posted`: news for a campaign's backers, by its organisers (PROTOCOL.md §6.15). Immutable: there is
/// no edit or retraction.
public struct UpdatePosted: Equatable, Sendable {
    public var campaign: EventID
    /// One line, at most `EventLimits.maxUpdateTitleBytes` bytes.
    public var title: String
    /// Markdown source, line feeds allowed, at most `EventLimits.maxUpdateTextBytes` bytes.
    public var text: String
    public init(campaign: EventID, title: String, text: String) {
        self.campaign = campaign
        self.title = title
        self.text = text
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
    /// What the reward is worth to the backer, in minor units, for the Gift Aid donor-benefit limits; nil when not stated.
    public var benefit: Int64?
    public init(
        campaign: EventID, title: String, description: String? = nil, minimum: Int64, limit: UInt32? = nil, benefit: Int64? = nil
    ) {
        self.campaign = campaign
        self.title = title
        self.description = description
        self.minimum = minimum
        self.limit = limit
        self.benefit = benefit
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
    /// The reward's value to the backer (Gift Aid donor benefit), minor units.
    public var benefit: Int64?
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

/// Body of `pledge.made.v2`: a pledge whose personal data travels beside it as parts (PROTOCOL.md §6.35); the
/// pledge's id is this event's id.
public struct PledgeMadeV2: Equatable, Sendable {
    public var campaign: EventID
    public var amount: Int64
    public var currency: Currency
    public var tier: EventID?
    public var channel: Channel
    /// Set when the author received the money on the spot.
    public var paid: PaymentMethod?
    /// One commitment per `PartSlot`, in slot order (name, contact, Gift Aid); a dummy for an absent part.
    public var commitments: [Bytes32]
    public init(
        campaign: EventID, amount: Int64, currency: Currency, tier: EventID? = nil, channel: Channel, paid: PaymentMethod? = nil,
        commitments: [Bytes32]
    ) {
        self.campaign = campaign
        self.amount = amount
        self.currency = currency
        self.tier = tier
        self.channel = channel
        self.paid = paid
        self.commitments = commitments
    }
}

/// Body of `pledge.revised.v2` by the pledge's author: as `pledge.revised`, but a new name travels as a part.
public struct PledgeRevisedV2: Equatable, Sendable {
    public var campaign: EventID
    public var pledge: EventID
    public var amount: Int64?
    public var currency: Currency?
    public var tier: EventID?
    /// A commitment to the new name part (attached to this event), replacing the pledge's name slot.
    public var name: Bytes32?
    public init(campaign: EventID, pledge: EventID) {
        self.campaign = campaign
        self.pledge = pledge
    }
}

/// Why personal parts were erased.
public enum ErasureReason: UInt64, Sendable, CaseIterable {
    /// The backer asked (UK GDPR article 17).
    case request = 0
    /// The data's retention period is over.
    case retentionExpired = 1

    /// `request` or `retention_expired`.
    public var name: String {
        switch self {
        case .request: "request"
        case .retentionExpired: "retention_expired"
        }
    }

    /// The reason named `name`, or nil.
    public init?(name: String) {
        guard let r = ErasureReason.allCases.first(where: { $0.name == name }) else { return nil }
        self = r
    }
}

/// Body of `personal.erased`: every node deletes the named parts of a version-2 pledge and keeps their
/// commitments as tombstones.
public struct PersonalErased: Equatable, Sendable {
    public var campaign: EventID
    public var pledge: EventID
    public var reason: ErasureReason
    /// The slots erased: non-empty, ascending, no duplicates.
    public var slots: [PartSlot]
    public init(campaign: EventID, pledge: EventID, reason: ErasureReason, slots: [PartSlot]) {
        self.campaign = campaign
        self.pledge = pledge
        self.reason = reason
        self.slots = Array(Set(slots)).sorted()
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
    case updatePosted(UpdatePosted)
    case tierAdded(TierAdded)
    case tierUpdated(TierUpdated)
    case pledgeMade(PledgeMade)
    case pledgeRevised(PledgeRevised)
    case pledgeWithdrawn(PledgeRef)
    case pledgeCollected(PledgeCollected)
    case pledgeRejected(PledgeRejected)
    case charityRecognised(CharityRecognised)
    case giftAidClaimed(GiftAidClaimed)
    case giftAidConfirmed(GiftAidConfirmed)
    case pledgeMadeV2(PledgeMadeV2)
    case pledgeRevisedV2(PledgeRevisedV2)
    case personalErased(PersonalErased)
    case matchOffered(MatchOffered)
    case matchAccepted(MatchRef)
    case matchWithdrawn(MatchRef)
    case matchSettled(MatchSettled)
    case funderBudget(FunderBudget)
    case charityWithdrawn(CharityWithdrawn)

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
        case .updatePosted: .updatePosted
        case .tierAdded: .tierAdded
        case .tierUpdated: .tierUpdated
        case .pledgeMade: .pledgeMade
        case .pledgeRevised: .pledgeRevised
        case .pledgeWithdrawn: .pledgeWithdrawn
        case .pledgeCollected: .pledgeCollected
        case .pledgeRejected: .pledgeRejected
        case .charityRecognised: .charityRecognised
        case .giftAidClaimed: .giftAidClaimed
        case .giftAidConfirmed: .giftAidConfirmed
        case .pledgeMadeV2: .pledgeMadeV2
        case .pledgeRevisedV2: .pledgeRevisedV2
        case .personalErased: .personalErased
        case .matchOffered: .matchOffered
        case .matchAccepted: .matchAccepted
        case .matchWithdrawn: .matchWithdrawn
        case .matchSettled: .matchSettled
        case .funderBudget: .funderBudget
        case .charityWithdrawn: .charityWithdrawn
        }
    }

    /// The campaign this body refers to, other than through its own id; nil for community-level kinds.
    public var referencedCampaign: EventID? {
        switch self {
        case .communityCreated, .roleGranted, .roleRevoked, .campaignCreated: nil
        case .charityRecognised, .funderBudget, .charityWithdrawn: nil
        case .campaignUpdated(let b): b.campaign
        case .campaignPublished(let b), .campaignClosed(let b): b.campaign
        case .campaignCancelled(let b): b.campaign
        case .updatePosted(let b): b.campaign
        case .tierAdded(let b): b.campaign
        case .tierUpdated(let b): b.campaign
        case .pledgeMade(let b): b.campaign
        case .pledgeRevised(let b): b.campaign
        case .pledgeWithdrawn(let b): b.campaign
        case .pledgeCollected(let b): b.campaign
        case .pledgeRejected(let b): b.campaign
        case .giftAidClaimed(let b): b.campaign
        case .giftAidConfirmed(let b): b.campaign
        case .pledgeMadeV2(let b): b.campaign
        case .pledgeRevisedV2(let b): b.campaign
        case .personalErased(let b): b.campaign
        case .matchOffered(let b): b.campaign
        case .matchAccepted(let b), .matchWithdrawn(let b): b.campaign
        case .matchSettled(let b): b.campaign
        }
    }

    /// The amount of a pledge as made (`pledge.made` or `pledge.made.v2`); nil for other kinds.
    public var pledgeAmount: Int64? {
        switch self {
        case .pledgeMade(let b): b.amount
        case .pledgeMadeV2(let b): b.amount
        default: nil
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
        case .pledgeMadeV2(let b): if let t = b.tier { out.append(t) }
        case .pledgeRevisedV2(let b):
            out.append(b.pledge)
            if let t = b.tier { out.append(t) }
        case .personalErased(let b): out.append(b.pledge)
        case .matchOffered(let b): if let t = b.tier { out.append(t) }
        case .matchAccepted(let b), .matchWithdrawn(let b): out.append(b.offer)
        case .matchSettled(let b): out.append(b.offer)
        default: break
        }
        return out
    }
}
