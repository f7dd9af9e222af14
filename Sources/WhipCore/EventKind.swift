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
    /// News for backers (protocol version 3, PROTOCOL.md §6.15).
    case updatePosted = 15
    case tierAdded = 20
    case tierUpdated = 21
    case pledgeMade = 30
    case pledgeRevised = 31
    case pledgeWithdrawn = 32
    case pledgeCollected = 33
    case pledgeRejected = 34
    case charityRecognised = 50
    case giftAidClaimed = 51
    case giftAidConfirmed = 52
    case pledgeMadeV2 = 35
    case pledgeRevisedV2 = 36
    case personalErased = 37
    case matchOffered = 40
    case matchAccepted = 41
    case matchWithdrawn = 42
    case matchSettled = 43
    case funderBudget = 44
    case charityWithdrawn = 53

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
        case .updatePosted: "update.posted"
        case .tierAdded: "tier.added"
        case .tierUpdated: "tier.updated"
        case .pledgeMade: "pledge.made"
        case .pledgeRevised: "pledge.revised"
        case .pledgeWithdrawn: "pledge.withdrawn"
        case .pledgeCollected: "pledge.collected"
        case .pledgeRejected: "pledge.rejected"
        case .charityRecognised: "charity.recognised"
        case .giftAidClaimed: "giftaid.claimed"
        case .giftAidConfirmed: "giftaid.confirmed"
        case .pledgeMadeV2: "pledge.made.v2"
        case .pledgeRevisedV2: "pledge.revised.v2"
        case .personalErased: "personal.erased"
        case .matchOffered: "match.offered"
        case .matchAccepted: "match.accepted"
        case .matchWithdrawn: "match.withdrawn"
        case .matchSettled: "match.settled"
        case .funderBudget: "funder.budget"
        case .charityWithdrawn: "charity.withdrawn"
        }
    }

    public var description: String { name }
}
