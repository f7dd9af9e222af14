extension EventKind {
    /// What a person asked for, in their words, for messages: "record the pledge", never `pledge.made`.
    public var userAction: String {
        switch self {
        case .communityCreated: "create the community"
        case .roleGranted: "grant the role"
        case .roleRevoked: "revoke the role"
        case .campaignCreated: "create the campaign"
        case .campaignUpdated: "update the campaign"
        case .campaignPublished: "publish the campaign"
        case .campaignClosed: "close the campaign"
        case .campaignCancelled: "cancel the campaign"
        case .updatePosted: "post the update"
        case .tierAdded: "add the tier"
        case .tierUpdated: "update the tier"
        case .pledgeMade: "record the pledge"
        case .pledgeRevised: "revise the pledge"
        case .pledgeWithdrawn: "withdraw the pledge"
        case .pledgeCollected: "record the collection"
        case .pledgeRejected: "reject the pledge"
        case .charityRecognised: "record the charity's HMRC recognition"
        case .giftAidClaimed: "record the Gift Aid claim"
        case .giftAidConfirmed: "record that a Gift Aid confirmation was sent"
        case .pledgeMadeV2: "record the pledge"
        case .pledgeRevisedV2: "revise the pledge"
        case .personalErased: "erase the personal data"
        case .matchOffered: "offer the match"
        case .matchAccepted: "accept the match offer"
        case .matchWithdrawn: "withdraw the match offer"
        case .matchSettled: "settle the match"
        case .funderBudget: "state the funder's budget"
        case .charityWithdrawn: "record that the charity's recognition ended"
        }
    }
}
