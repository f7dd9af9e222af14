public import WhipCrypto

/// The field numbers of each body's map (PROTOCOL.md section 6), written once and used by both the encoder and
/// the decoder. Changing one changes the protocol.
enum BodyField {
    enum CommunityCreated: UInt64 {
        case name = 0, founder = 1
    }
    /// `role.granted` and `role.revoked` (which has no `expires`).
    enum RoleChange: UInt64 {
        case member = 0, role = 1, expires = 2
    }
    enum CampaignCreated: UInt64 {
        case title = 0, description = 1, goal = 2, currency = 3, model = 4, opens = 5, closes = 6, timeZone = 7, organisers = 8
    }
    enum CampaignUpdated: UInt64 {
        case campaign = 0, title = 1, description = 2, goal = 3, currency = 4, model = 5, opens = 6, closes = 7, timeZone = 8
        case organisers = 9
    }
    /// `campaign.published`, `campaign.closed` and `campaign.cancelled`.
    enum CampaignRef: UInt64 {
        case campaign = 0, reason = 1
    }
    enum UpdatePosted: UInt64 {
        case campaign = 0, title = 1, text = 2
    }
    enum TierAdded: UInt64 {
        case campaign = 0, title = 1, description = 2, minimum = 3, limit = 4, benefit = 5
    }
    enum TierUpdated: UInt64 {
        case campaign = 0, tier = 1, title = 2, description = 3, minimum = 4, limit = 5, benefit = 6
    }
    enum PledgeMade: UInt64 {
        case campaign = 0, backerName = 1, anonymous = 2, amount = 3, currency = 4, tier = 5, channel = 6, paid = 7, contact = 8
    }
    enum PledgeRevised: UInt64 {
        case campaign = 0, pledge = 1, amount = 2, currency = 3, tier = 4, backerName = 5, anonymous = 6
    }
    /// `pledge.withdrawn`.
    enum PledgeRef: UInt64 {
        case campaign = 0, pledge = 1
    }
    enum PledgeCollected: UInt64 {
        case campaign = 0, pledge = 1, amount = 2, currency = 3, method = 4
    }
    enum PledgeRejected: UInt64 {
        case campaign = 0, pledge = 1, reason = 2
    }
    enum CharityRecognised: UInt64 {
        case reference = 0, legalName = 1, yearEndMonth = 2, yearEndDay = 3
    }
    enum GiftAidClaimed: UInt64 {
        case campaign = 0, tags = 1
    }
    enum GiftAidConfirmed: UInt64 {
        case campaign = 0, tag = 1, sent = 2
    }
    enum PledgeMadeV2: UInt64 {
        case campaign = 0, amount = 1, currency = 2, tier = 3, channel = 4, paid = 5, commitments = 6
    }
    enum PledgeRevisedV2: UInt64 {
        case campaign = 0, pledge = 1, amount = 2, currency = 3, tier = 4, name = 5
    }
    enum PersonalErased: UInt64 {
        case campaign = 0, pledge = 1, reason = 2, slots = 3
    }
    enum MatchOffered: UInt64 {
        case campaign = 0, funderName = 1, currency = 2, mode = 3, factor = 4, pledgeCap = 5, campaignCap = 6, from = 7, until = 8
        case tier = 9, channel = 10, minPercent = 11, minBackers = 12
    }
    /// `match.accepted` and `match.withdrawn`.
    enum MatchRef: UInt64 {
        case campaign = 0, offer = 1
    }
    enum MatchSettled: UInt64 {
        case campaign = 0, offer = 1, page = 2, pages = 3, entries = 4, lumpSum = 5
    }
    enum CharityWithdrawn: UInt64 {
        case reason = 0
    }
    enum FunderBudget: UInt64 {
        case currency = 0, amount = 1
    }
}

// MARK: - Encoding

extension EventBody {
    /// The body as a canonical CBOR map.
    public func cbor() -> CBOR {
        var m = MapBuilder()
        switch self {
        case .communityCreated(let b):
            m.add(BodyField.CommunityCreated.name, .text(b.name))
            m.add(BodyField.CommunityCreated.founder, .bytes(b.founder.bytes))
        case .roleGranted(let b):
            m.add(BodyField.RoleChange.member, .bytes(b.member.bytes))
            m.add(BodyField.RoleChange.role, .unsigned(b.role.rawValue))
            m.add(BodyField.RoleChange.expires, b.expires.map(CBOR.unsigned))
        case .roleRevoked(let b):
            m.add(BodyField.RoleChange.member, .bytes(b.member.bytes))
            m.add(BodyField.RoleChange.role, .unsigned(b.role.rawValue))
        case .campaignCreated(let b):
            m.add(BodyField.CampaignCreated.title, .text(b.title))
            m.add(BodyField.CampaignCreated.description, .text(b.description))
            m.add(BodyField.CampaignCreated.goal, .amount(b.goal))
            m.add(BodyField.CampaignCreated.currency, .text(b.currency.code))
            m.add(BodyField.CampaignCreated.model, .unsigned(b.model.rawValue))
            m.add(BodyField.CampaignCreated.opens, .unsigned(b.opens))
            m.add(BodyField.CampaignCreated.closes, .unsigned(b.closes))
            m.add(BodyField.CampaignCreated.timeZone, .text(b.timeZone))
            m.add(BodyField.CampaignCreated.organisers, .keys(b.organisers))
        case .campaignUpdated(let b):
            m.add(BodyField.CampaignUpdated.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.CampaignUpdated.title, b.title.map(CBOR.text))
            m.add(BodyField.CampaignUpdated.description, b.description.map(CBOR.text))
            m.add(BodyField.CampaignUpdated.goal, b.goal.map(CBOR.amount))
            m.add(BodyField.CampaignUpdated.currency, b.currency.map { .text($0.code) })
            m.add(BodyField.CampaignUpdated.model, b.model.map { .unsigned($0.rawValue) })
            m.add(BodyField.CampaignUpdated.opens, b.opens.map(CBOR.unsigned))
            m.add(BodyField.CampaignUpdated.closes, b.closes.map(CBOR.unsigned))
            m.add(BodyField.CampaignUpdated.timeZone, b.timeZone.map(CBOR.text))
            m.add(BodyField.CampaignUpdated.organisers, b.organisers.map { CBOR.keys(Array(Set($0)).sorted()) })
        case .campaignPublished(let b), .campaignClosed(let b):
            m.add(BodyField.CampaignRef.campaign, .bytes(b.campaign.bytes))
        case .campaignCancelled(let b):
            m.add(BodyField.CampaignRef.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.CampaignRef.reason, b.reason.map(CBOR.text))
        case .updatePosted(let b):
            m.add(BodyField.UpdatePosted.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.UpdatePosted.title, .text(b.title))
            m.add(BodyField.UpdatePosted.text, .text(b.text))
        case .tierAdded(let b):
            m.add(BodyField.TierAdded.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.TierAdded.title, .text(b.title))
            m.add(BodyField.TierAdded.description, b.description.map(CBOR.text))
            m.add(BodyField.TierAdded.minimum, .amount(b.minimum))
            m.add(BodyField.TierAdded.limit, b.limit.map { .unsigned(UInt64($0)) })
            m.add(BodyField.TierAdded.benefit, b.benefit.map(CBOR.amount))
        case .tierUpdated(let b):
            m.add(BodyField.TierUpdated.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.TierUpdated.tier, .bytes(b.tier.bytes))
            m.add(BodyField.TierUpdated.title, b.title.map(CBOR.text))
            m.add(BodyField.TierUpdated.description, b.description.map(CBOR.text))
            m.add(BodyField.TierUpdated.minimum, b.minimum.map(CBOR.amount))
            m.add(BodyField.TierUpdated.limit, b.limit.map { .unsigned(UInt64($0)) })
            m.add(BodyField.TierUpdated.benefit, b.benefit.map(CBOR.amount))
        case .pledgeMade(let b):
            m.add(BodyField.PledgeMade.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.PledgeMade.backerName, .text(b.backerName))
            m.add(BodyField.PledgeMade.anonymous, .bool(b.anonymous))
            m.add(BodyField.PledgeMade.amount, .amount(b.amount))
            m.add(BodyField.PledgeMade.currency, .text(b.currency.code))
            m.add(BodyField.PledgeMade.tier, b.tier.map { .bytes($0.bytes) })
            m.add(BodyField.PledgeMade.channel, .unsigned(b.channel.rawValue))
            m.add(BodyField.PledgeMade.paid, b.paid.map { .unsigned($0.rawValue) })
            if !b.contact.isEmpty {
                m.add(BodyField.PledgeMade.contact, .array(b.contact.map { .array([.bytes($0.recipient.bytes), .bytes($0.ciphertext)]) }))
            }
        case .pledgeRevised(let b):
            m.add(BodyField.PledgeRevised.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.PledgeRevised.pledge, .bytes(b.pledge.bytes))
            m.add(BodyField.PledgeRevised.amount, b.amount.map(CBOR.amount))
            m.add(BodyField.PledgeRevised.currency, b.currency.map { .text($0.code) })
            m.add(BodyField.PledgeRevised.tier, b.tier.map { .bytes($0.bytes) })
            m.add(BodyField.PledgeRevised.backerName, b.backerName.map(CBOR.text))
            m.add(BodyField.PledgeRevised.anonymous, b.anonymous.map(CBOR.bool))
        case .pledgeWithdrawn(let b):
            m.add(BodyField.PledgeRef.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.PledgeRef.pledge, .bytes(b.pledge.bytes))
        case .pledgeCollected(let b):
            m.add(BodyField.PledgeCollected.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.PledgeCollected.pledge, .bytes(b.pledge.bytes))
            m.add(BodyField.PledgeCollected.amount, .amount(b.amount))
            m.add(BodyField.PledgeCollected.currency, .text(b.currency.code))
            m.add(BodyField.PledgeCollected.method, .unsigned(b.method.rawValue))
        case .pledgeRejected(let b):
            m.add(BodyField.PledgeRejected.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.PledgeRejected.pledge, .bytes(b.pledge.bytes))
            m.add(BodyField.PledgeRejected.reason, .text(b.reason))
        case .charityWithdrawn(let b):
            m.add(BodyField.CharityWithdrawn.reason, .text(b.reason))
        case .funderBudget(let b):
            m.add(BodyField.FunderBudget.currency, .text(b.currency.code))
            m.add(BodyField.FunderBudget.amount, .amount(b.amount))
        case .charityRecognised(let b):
            m.add(BodyField.CharityRecognised.reference, .text(b.reference))
            m.add(BodyField.CharityRecognised.legalName, .text(b.legalName))
            m.add(BodyField.CharityRecognised.yearEndMonth, .unsigned(UInt64(b.yearEndMonth)))
            m.add(BodyField.CharityRecognised.yearEndDay, .unsigned(UInt64(b.yearEndDay)))
        case .giftAidClaimed(let b):
            m.add(BodyField.GiftAidClaimed.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.GiftAidClaimed.tags, .array(b.tags.map { .bytes($0.array) }))
        case .giftAidConfirmed(let b):
            m.add(BodyField.GiftAidConfirmed.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.GiftAidConfirmed.tag, .bytes(b.tag.array))
            m.add(BodyField.GiftAidConfirmed.sent, .text(b.sent.iso))
        case .pledgeMadeV2(let b):
            m.add(BodyField.PledgeMadeV2.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.PledgeMadeV2.amount, .amount(b.amount))
            m.add(BodyField.PledgeMadeV2.currency, .text(b.currency.code))
            m.add(BodyField.PledgeMadeV2.tier, b.tier.map { .bytes($0.bytes) })
            m.add(BodyField.PledgeMadeV2.channel, .unsigned(b.channel.rawValue))
            m.add(BodyField.PledgeMadeV2.paid, b.paid.map { .unsigned($0.rawValue) })
            m.add(BodyField.PledgeMadeV2.commitments, .array(b.commitments.map { .bytes($0.array) }))
        case .pledgeRevisedV2(let b):
            m.add(BodyField.PledgeRevisedV2.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.PledgeRevisedV2.pledge, .bytes(b.pledge.bytes))
            m.add(BodyField.PledgeRevisedV2.amount, b.amount.map(CBOR.amount))
            m.add(BodyField.PledgeRevisedV2.currency, b.currency.map { .text($0.code) })
            m.add(BodyField.PledgeRevisedV2.tier, b.tier.map { .bytes($0.bytes) })
            m.add(BodyField.PledgeRevisedV2.name, b.name.map { .bytes($0.array) })
        case .personalErased(let b):
            m.add(BodyField.PersonalErased.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.PersonalErased.pledge, .bytes(b.pledge.bytes))
            m.add(BodyField.PersonalErased.reason, .unsigned(b.reason.rawValue))
            m.add(BodyField.PersonalErased.slots, .array(b.slots.map { .unsigned($0.rawValue) }))
        case .matchOffered(let b):
            m.add(BodyField.MatchOffered.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.MatchOffered.funderName, .text(b.funderName))
            m.add(BodyField.MatchOffered.currency, .text(b.currency.code))
            m.add(BodyField.MatchOffered.mode, .unsigned(b.mode.rawValue))
            m.add(BodyField.MatchOffered.factor, b.factor.map { .array([.unsigned($0.numerator), .unsigned($0.denominator)]) })
            m.add(BodyField.MatchOffered.pledgeCap, b.pledgeCap.map(CBOR.amount))
            m.add(BodyField.MatchOffered.campaignCap, .amount(b.campaignCap))
            m.add(BodyField.MatchOffered.from, b.from.map(CBOR.unsigned))
            m.add(BodyField.MatchOffered.until, b.until.map(CBOR.unsigned))
            m.add(BodyField.MatchOffered.tier, b.tier.map { .bytes($0.bytes) })
            m.add(BodyField.MatchOffered.channel, b.channel.map { .unsigned($0.rawValue) })
            m.add(BodyField.MatchOffered.minPercent, b.minPercent == 0 ? nil : .unsigned(b.minPercent))
            m.add(BodyField.MatchOffered.minBackers, b.minBackers == 0 ? nil : .unsigned(UInt64(b.minBackers)))
        case .matchAccepted(let b), .matchWithdrawn(let b):
            m.add(BodyField.MatchRef.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.MatchRef.offer, .bytes(b.offer.bytes))
        case .matchSettled(let b):
            m.add(BodyField.MatchSettled.campaign, .bytes(b.campaign.bytes))
            m.add(BodyField.MatchSettled.offer, .bytes(b.offer.bytes))
            m.add(BodyField.MatchSettled.page, .unsigned(UInt64(b.page)))
            m.add(BodyField.MatchSettled.pages, .unsigned(UInt64(b.pages)))
            if !b.entries.isEmpty {
                m.add(BodyField.MatchSettled.entries, .array(b.entries.map { .array([.bytes($0.pledge.bytes), .amount($0.amount)]) }))
            }
            m.add(BodyField.MatchSettled.lumpSum, b.lumpSum.map(CBOR.amount))
        }
        return .map(m.pairs)
    }
}

// MARK: - Decoding

extension EventBody {
    /// Decodes and statically validates a body of `kind`.
    public static func decode(kind: EventKind, _ value: CBOR) throws(DecodingError) -> EventBody {
        var f = try Fields(value, context: kind.name)
        let body: EventBody
        switch kind {
        case .communityCreated:
            body = .communityCreated(
                CommunityCreated(
                    name: try f.required(BodyField.CommunityCreated.name, "name").text("community name", max: EventLimits.maxNameBytes),
                    founder: try f.required(BodyField.CommunityCreated.founder, "founder").key("founder")))
        case .roleGranted:
            body = .roleGranted(
                RoleGranted(
                    member: try f.required(BodyField.RoleChange.member, "member").key("member"),
                    role: try f.required(BodyField.RoleChange.role, "role").enumValue("role", Role.self),
                    expires: try f.optional(BodyField.RoleChange.expires)?.uint("expires")))
        case .roleRevoked:
            body = .roleRevoked(
                RoleRevoked(
                    member: try f.required(BodyField.RoleChange.member, "member").key("member"),
                    role: try f.required(BodyField.RoleChange.role, "role").enumValue("role", Role.self)))
        case .campaignCreated:
            let c = CampaignCreated(
                title: try f.required(BodyField.CampaignCreated.title, "title").text("title", max: EventLimits.maxNameBytes),
                description: try f.required(BodyField.CampaignCreated.description, "description").text(
                    "description", max: EventLimits.maxDescriptionBytes, allowEmpty: true, multiline: true),
                goal: try positive(try f.required(BodyField.CampaignCreated.goal, "goal").amount("goal"), "goal"),
                currency: try f.required(BodyField.CampaignCreated.currency, "currency").currency("currency"),
                model: try f.required(BodyField.CampaignCreated.model, "model").enumValue("model", FundingModel.self),
                opens: try f.required(BodyField.CampaignCreated.opens, "opens").uint("opens"),
                closes: try f.required(BodyField.CampaignCreated.closes, "closes").uint("closes"),
                timeZone: try timeZoneName(try f.required(BodyField.CampaignCreated.timeZone, "time zone")),
                organisers: try f.required(BodyField.CampaignCreated.organisers, "organisers").keyList("organisers"))
            guard c.closes > c.opens else { throw DecodingError(.badDates, "a campaign must close after it opens") }
            body = .campaignCreated(c)
        case .campaignUpdated:
            var u = CampaignUpdated(campaign: try f.required(BodyField.CampaignUpdated.campaign, "campaign").id("campaign"))
            u.title = try f.optional(BodyField.CampaignUpdated.title)?.text("title", max: EventLimits.maxNameBytes)
            u.description = try f.optional(BodyField.CampaignUpdated.description)?.text(
                "description", max: EventLimits.maxDescriptionBytes, allowEmpty: true, multiline: true)
            if let g = try f.optional(BodyField.CampaignUpdated.goal)?.amount("goal") { u.goal = try positive(g, "goal") }
            u.currency = try f.optional(BodyField.CampaignUpdated.currency)?.currency("currency")
            u.model = try f.optional(BodyField.CampaignUpdated.model)?.enumValue("model", FundingModel.self)
            u.opens = try f.optional(BodyField.CampaignUpdated.opens)?.uint("opens")
            u.closes = try f.optional(BodyField.CampaignUpdated.closes)?.uint("closes")
            if let tz = f.optional(BodyField.CampaignUpdated.timeZone) { u.timeZone = try timeZoneName(tz) }
            u.organisers = try f.optional(BodyField.CampaignUpdated.organisers)?.keyList("organisers")
            guard f.pairs.count > 1 else { throw DecodingError(.emptyUpdate, "campaign.updated changes nothing") }
            body = .campaignUpdated(u)
        case .campaignPublished:
            body = .campaignPublished(CampaignRef(campaign: try f.required(BodyField.CampaignRef.campaign, "campaign").id("campaign")))
        case .campaignClosed:
            body = .campaignClosed(CampaignRef(campaign: try f.required(BodyField.CampaignRef.campaign, "campaign").id("campaign")))
        case .campaignCancelled:
            body = .campaignCancelled(
                CampaignCancelled(
                    campaign: try f.required(BodyField.CampaignRef.campaign, "campaign").id("campaign"),
                    reason: try f.optional(BodyField.CampaignRef.reason)?.text("reason", max: EventLimits.maxReasonBytes, multiline: true)))
        case .updatePosted:
            body = .updatePosted(
                UpdatePosted(
                    campaign: try f.required(BodyField.UpdatePosted.campaign, "campaign").id("campaign"),
                    title: try f.required(BodyField.UpdatePosted.title, "title").text("title", max: EventLimits.maxUpdateTitleBytes),
                    text: try f.required(BodyField.UpdatePosted.text, "text").text(
                        "text", max: EventLimits.maxUpdateTextBytes, multiline: true)))
        case .tierAdded:
            let campaign = try f.required(BodyField.TierAdded.campaign, "campaign").id("campaign")
            let title = try f.required(BodyField.TierAdded.title, "title").text("title", max: EventLimits.maxNameBytes)
            let description = try f.optional(BodyField.TierAdded.description)?.text(
                "description", max: EventLimits.maxDescriptionBytes, multiline: true)
            let minimum = try f.required(BodyField.TierAdded.minimum, "minimum").amount("minimum")
            let limit = try f.optional(BodyField.TierAdded.limit)?.u32("limit")
            if limit == 0 { throw DecodingError(.notPositive, "limit must be greater than zero") }
            let benefit = try f.optional(BodyField.TierAdded.benefit)?.amount("benefit")
            body = .tierAdded(
                TierAdded(campaign: campaign, title: title, description: description, minimum: minimum, limit: limit, benefit: benefit))
        case .tierUpdated:
            var u = TierUpdated(
                campaign: try f.required(BodyField.TierUpdated.campaign, "campaign").id("campaign"),
                tier: try f.required(BodyField.TierUpdated.tier, "tier").id("tier"))
            u.title = try f.optional(BodyField.TierUpdated.title)?.text("title", max: EventLimits.maxNameBytes)
            u.description = try f.optional(BodyField.TierUpdated.description)?.text(
                "description", max: EventLimits.maxDescriptionBytes, multiline: true)
            u.minimum = try f.optional(BodyField.TierUpdated.minimum)?.amount("minimum")
            u.limit = try f.optional(BodyField.TierUpdated.limit)?.u32("limit")
            if u.limit == 0 { throw DecodingError(.notPositive, "limit must be greater than zero") }
            u.benefit = try f.optional(BodyField.TierUpdated.benefit)?.amount("benefit")
            guard f.pairs.count > 2 else { throw DecodingError(.emptyUpdate, "tier.updated changes nothing") }
            body = .tierUpdated(u)
        case .pledgeMade:
            var p = PledgeMade(
                campaign: try f.required(BodyField.PledgeMade.campaign, "campaign").id("campaign"),
                backerName: try f.required(BodyField.PledgeMade.backerName, "backer name").text("backer name", max: EventLimits.maxNameBytes),
                anonymous: try f.required(BodyField.PledgeMade.anonymous, "anonymous").bool("anonymous"),
                amount: try positive(try f.required(BodyField.PledgeMade.amount, "amount").amount("amount"), "amount"),
                currency: try f.required(BodyField.PledgeMade.currency, "currency").currency("currency"),
                tier: try f.optional(BodyField.PledgeMade.tier)?.id("tier"),
                channel: try f.required(BodyField.PledgeMade.channel, "channel").enumValue("channel", Channel.self),
                paid: try f.optional(BodyField.PledgeMade.paid)?.enumValue("paid", PaymentMethod.self))
            if let c = f.optional(BodyField.PledgeMade.contact) {
                guard case .array(let items) = c, !items.isEmpty, items.count <= EventLimits.maxOrganisers else {
                    throw DecodingError(.badType, "contact must be a non-empty array of at most \(EventLimits.maxOrganisers) entries")
                }
                for item in items {
                    guard case .array(let pair) = item, pair.count == 2 else {
                        throw DecodingError(.badType, "contact entries are [recipient, ciphertext]")
                    }
                    p.contact.append(
                        SealedContact(
                            recipient: try pair[0].key("contact recipient"),
                            ciphertext: try pair[1].byteString("sealed contact", max: EventLimits.maxSealedContactBytes)))
                }
                guard zip(p.contact, p.contact.dropFirst()).allSatisfy({ $0.recipient < $1.recipient }) else {
                    throw DecodingError(.nonCanonical, "contact entries must be sorted by recipient, without duplicates")
                }
            }
            body = .pledgeMade(p)
        case .pledgeRevised:
            var r = PledgeRevised(
                campaign: try f.required(BodyField.PledgeRevised.campaign, "campaign").id("campaign"),
                pledge: try f.required(BodyField.PledgeRevised.pledge, "pledge").id("pledge"))
            if let a = try f.optional(BodyField.PledgeRevised.amount)?.amount("amount") { r.amount = try positive(a, "amount") }
            r.currency = try f.optional(BodyField.PledgeRevised.currency)?.currency("currency")
            r.tier = try f.optional(BodyField.PledgeRevised.tier)?.id("tier")
            r.backerName = try f.optional(BodyField.PledgeRevised.backerName)?.text("backer name", max: EventLimits.maxNameBytes)
            r.anonymous = try f.optional(BodyField.PledgeRevised.anonymous)?.bool("anonymous")
            guard (r.amount == nil) == (r.currency == nil) else {
                throw DecodingError(.missingField, "pledge.revised: amount and currency go together")
            }
            guard f.pairs.count > 2 else { throw DecodingError(.emptyUpdate, "pledge.revised changes nothing") }
            body = .pledgeRevised(r)
        case .pledgeWithdrawn:
            body = .pledgeWithdrawn(
                PledgeRef(
                    campaign: try f.required(BodyField.PledgeRef.campaign, "campaign").id("campaign"),
                    pledge: try f.required(BodyField.PledgeRef.pledge, "pledge").id("pledge")))
        case .pledgeCollected:
            body = .pledgeCollected(
                PledgeCollected(
                    campaign: try f.required(BodyField.PledgeCollected.campaign, "campaign").id("campaign"),
                    pledge: try f.required(BodyField.PledgeCollected.pledge, "pledge").id("pledge"),
                    amount: try positive(try f.required(BodyField.PledgeCollected.amount, "amount").amount("amount"), "amount"),
                    currency: try f.required(BodyField.PledgeCollected.currency, "currency").currency("currency"),
                    method: try f.required(BodyField.PledgeCollected.method, "method").enumValue("method", PaymentMethod.self)))
        case .pledgeRejected:
            body = .pledgeRejected(
                PledgeRejected(
                    campaign: try f.required(BodyField.PledgeRejected.campaign, "campaign").id("campaign"),
                    pledge: try f.required(BodyField.PledgeRejected.pledge, "pledge").id("pledge"),
                    reason: try f.required(BodyField.PledgeRejected.reason, "reason").text("reason", max: EventLimits.maxReasonBytes, multiline: true)
                ))
        case .charityWithdrawn:
            body = .charityWithdrawn(
                CharityWithdrawn(
                    reason: try f.required(BodyField.CharityWithdrawn.reason, "reason").text(
                        "reason", max: EventLimits.maxReasonBytes, multiline: true)))
        case .funderBudget:
            body = .funderBudget(
                FunderBudget(
                    currency: try f.required(BodyField.FunderBudget.currency, "currency").currency("currency"),
                    amount: try f.required(BodyField.FunderBudget.amount, "budget").amount("budget")))
        case .charityRecognised:
            body = .charityRecognised(try decodeCharityRecognised(&f))
        case .giftAidClaimed:
            body = .giftAidClaimed(try decodeGiftAidClaimed(&f))
        case .giftAidConfirmed:
            body = .giftAidConfirmed(
                GiftAidConfirmed(
                    campaign: try f.required(BodyField.GiftAidConfirmed.campaign, "campaign").id("campaign"),
                    tag: try f.required(BodyField.GiftAidConfirmed.tag, "tag").bytes32("claim tag"),
                    sent: try GiftAidDeclaration.civil(try f.required(BodyField.GiftAidConfirmed.sent, "sent"), "confirmation sent")))
        case .pledgeMadeV2:
            let campaign = try f.required(BodyField.PledgeMadeV2.campaign, "campaign").id("campaign")
            let amount = try positive(try f.required(BodyField.PledgeMadeV2.amount, "amount").amount("amount"), "amount")
            let currency = try f.required(BodyField.PledgeMadeV2.currency, "currency").currency("currency")
            let tier = try f.optional(BodyField.PledgeMadeV2.tier)?.id("tier")
            let channel = try f.required(BodyField.PledgeMadeV2.channel, "channel").enumValue("channel", Channel.self)
            let paid = try f.optional(BodyField.PledgeMadeV2.paid)?.enumValue("paid", PaymentMethod.self)
            guard case .array(let cs) = try f.required(BodyField.PledgeMadeV2.commitments, "commitments"), cs.count == PartSlot.allCases.count
            else {
                throw DecodingError(.badType, "commitments must be an array of \(PartSlot.allCases.count) byte strings, one per part slot")
            }
            var commitments = [Bytes32]()
            for c in cs { commitments.append(try c.bytes32("commitment")) }
            body = .pledgeMadeV2(
                PledgeMadeV2(
                    campaign: campaign, amount: amount, currency: currency, tier: tier, channel: channel, paid: paid, commitments: commitments))
        case .pledgeRevisedV2:
            var r = PledgeRevisedV2(
                campaign: try f.required(BodyField.PledgeRevisedV2.campaign, "campaign").id("campaign"),
                pledge: try f.required(BodyField.PledgeRevisedV2.pledge, "pledge").id("pledge"))
            if let a = try f.optional(BodyField.PledgeRevisedV2.amount)?.amount("amount") { r.amount = try positive(a, "amount") }
            r.currency = try f.optional(BodyField.PledgeRevisedV2.currency)?.currency("currency")
            r.tier = try f.optional(BodyField.PledgeRevisedV2.tier)?.id("tier")
            r.name = try f.optional(BodyField.PledgeRevisedV2.name)?.bytes32("name commitment")
            guard (r.amount == nil) == (r.currency == nil) else {
                throw DecodingError(.missingField, "pledge.revised.v2: amount and currency go together")
            }
            guard f.pairs.count > 2 else { throw DecodingError(.emptyUpdate, "pledge.revised.v2 changes nothing") }
            body = .pledgeRevisedV2(r)
        case .personalErased:
            let campaign = try f.required(BodyField.PersonalErased.campaign, "campaign").id("campaign")
            let pledge = try f.required(BodyField.PersonalErased.pledge, "pledge").id("pledge")
            let reason = try f.required(BodyField.PersonalErased.reason, "reason").enumValue("reason", ErasureReason.self)
            guard case .array(let items) = try f.required(BodyField.PersonalErased.slots, "slots"), !items.isEmpty,
                items.count <= PartSlot.allCases.count
            else {
                throw DecodingError(.badType, "slots must be a non-empty array of part slots")
            }
            var slots = [PartSlot]()
            for i in items { slots.append(try i.enumValue("slot", PartSlot.self)) }
            guard zip(slots, slots.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw DecodingError(.nonCanonical, "slots must be ascending, without duplicates")
            }
            body = .personalErased(PersonalErased(campaign: campaign, pledge: pledge, reason: reason, slots: slots))
        case .matchOffered:
            body = .matchOffered(try decodeMatchOffered(&f))
        case .matchAccepted:
            body = .matchAccepted(
                MatchRef(
                    campaign: try f.required(BodyField.MatchRef.campaign, "campaign").id("campaign"),
                    offer: try f.required(BodyField.MatchRef.offer, "offer").id("offer")))
        case .matchWithdrawn:
            body = .matchWithdrawn(
                MatchRef(
                    campaign: try f.required(BodyField.MatchRef.campaign, "campaign").id("campaign"),
                    offer: try f.required(BodyField.MatchRef.offer, "offer").id("offer")))
        case .matchSettled:
            body = .matchSettled(try decodeMatchSettled(&f))
        }
        try f.finish()
        return body
    }
}

// MARK: - Gift Aid kinds

extension EventBody {
    static func decodeCharityRecognised(_ f: inout Fields) throws(DecodingError) -> CharityRecognised {
        let reference = try f.required(BodyField.CharityRecognised.reference, "reference").text("HMRC reference", max: GiftAid.maxReferenceBytes)
        guard reference.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) }) else {
            throw DecodingError(.outOfRange, "the HMRC reference holds only capital letters and digits")
        }
        let name = try f.required(BodyField.CharityRecognised.legalName, "legal name").text("legal name", max: EventLimits.maxNameBytes)
        let month = try f.required(BodyField.CharityRecognised.yearEndMonth, "year-end month").uint("year-end month")
        let day = try f.required(BodyField.CharityRecognised.yearEndDay, "year-end day").uint("year-end day")
        // 2001 is a common year: 29 February is refused, so every year has the year-end day.
        guard month <= 12, day <= 31, CivilDate(year: 2001, month: Int(month), day: Int(day)) != nil else {
            throw DecodingError(.outOfRange, "the accounting year-end \(month)/\(day) is not a day of every year")
        }
        return CharityRecognised(reference: reference, legalName: name, yearEndMonth: UInt8(month), yearEndDay: UInt8(day))
    }

    static func decodeGiftAidClaimed(_ f: inout Fields) throws(DecodingError) -> GiftAidClaimed {
        let campaign = try f.required(BodyField.GiftAidClaimed.campaign, "campaign").id("campaign")
        guard case .array(let items) = try f.required(BodyField.GiftAidClaimed.tags, "tags") else {
            throw DecodingError(.badType, "tags must be an array")
        }
        guard !items.isEmpty, items.count <= GiftAid.maxClaimTags else {
            throw DecodingError(.tooLong, "a claim names 1 to \(GiftAid.maxClaimTags) tags")
        }
        var tags = [Bytes32]()
        for item in items { tags.append(try item.bytes32("claim tag")) }
        guard zip(tags, tags.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw DecodingError(.nonCanonical, "tags must be sorted and without duplicates")
        }
        return GiftAidClaimed(campaign: campaign, tags: tags)
    }
}

// MARK: - Match funding bodies

extension EventBody {
    static func decodeMatchOffered(_ f: inout Fields) throws(DecodingError) -> MatchOffered {
        typealias F = BodyField.MatchOffered
        let campaign = try f.required(F.campaign, "campaign").id("campaign")
        let name = try f.required(F.funderName, "funder name").text("funder name", max: EventLimits.maxNameBytes)
        let currency = try f.required(F.currency, "currency").currency("currency")
        let mode = try f.required(F.mode, "mode").enumValue("mode", MatchMode.self)
        var factor: MatchFactor?
        if let v = f.optional(F.factor) {
            guard case .array(let terms) = v, terms.count == 2 else {
                throw DecodingError(.badType, "factor must be [numerator, denominator]")
            }
            let n = try terms[0].uint("factor numerator")
            let d = try terms[1].uint("factor denominator")
            let most = EventLimits.maxMatchFactorTerm
            guard (1...most).contains(n), (1...most).contains(d) else {
                throw DecodingError(.outOfRange, "factor terms must be between 1 and \(most)")
            }
            guard n <= EventLimits.maxMatchFactor * d else {
                throw DecodingError(.outOfRange, "factor must be at most \(EventLimits.maxMatchFactor) times the pledge")
            }
            factor = MatchFactor(numerator: n, denominator: d)
        }
        let pledgeCap = try f.optional(F.pledgeCap)?.amount("pledge cap")
        let campaignCap = try positive(try f.required(F.campaignCap, "campaign cap").amount("campaign cap"), "campaign cap")
        let from = try f.optional(F.from)?.uint("from")
        let until = try f.optional(F.until)?.uint("until")
        let tier = try f.optional(F.tier)?.id("tier")
        let channel = try f.optional(F.channel)?.enumValue("channel", Channel.self)
        let minPercent = try f.optional(F.minPercent)?.uint("minimum percent")
        let minBackers = try f.optional(F.minBackers)?.u32("minimum backers")
        if let minPercent, minPercent == 0 || minPercent > 100 {
            throw DecodingError(
                minPercent == 0 ? .nonCanonical : .outOfRange, "minimum percent must be between 1 and 100 (absent for none)")
        }
        if minBackers == 0 { throw DecodingError(.nonCanonical, "minimum backers must be absent rather than 0") }
        if let p = pledgeCap { _ = try positive(p, "pledge cap") }
        if let from, let until, until <= from { throw DecodingError(.badDates, "a match window must end after it starts") }
        switch mode {
        case .match:
            guard factor != nil else { throw DecodingError(.missingField, "match.offered: a match offer needs a factor") }
        case .lumpSum:
            let matchOnly: [(Bool, BodyField.MatchOffered)] = [
                (factor != nil, .factor), (pledgeCap != nil, .pledgeCap), (from != nil, .from), (until != nil, .until),
                (tier != nil, .tier), (channel != nil, .channel),
            ]
            if let (_, field) = matchOnly.first(where: { $0.0 }) {
                throw DecodingError(.unknownField, "match.offered: field \(field.rawValue) is for match mode only, not a lump sum")
            }
        }
        var o = MatchOffered(campaign: campaign, funderName: name, currency: currency, mode: mode, campaignCap: campaignCap)
        o.factor = factor
        o.pledgeCap = pledgeCap
        o.from = from
        o.until = until
        o.tier = tier
        o.channel = channel
        o.minPercent = minPercent ?? 0
        o.minBackers = minBackers ?? 0
        return o
    }

    static func decodeMatchSettled(_ f: inout Fields) throws(DecodingError) -> MatchSettled {
        typealias F = BodyField.MatchSettled
        let campaign = try f.required(F.campaign, "campaign").id("campaign")
        let offer = try f.required(F.offer, "offer").id("offer")
        let page = try f.required(F.page, "page").u32("page")
        let pages = try f.required(F.pages, "pages").u32("pages")
        guard pages >= 1, pages <= EventLimits.maxSettlementPages, page < pages else {
            throw DecodingError(.outOfRange, "page must be below pages, and pages between 1 and \(EventLimits.maxSettlementPages)")
        }
        var entries: [SettledMatch] = []
        if let v = f.optional(F.entries) {
            guard case .array(let items) = v, !items.isEmpty else {
                throw DecodingError(.badType, "entries must be a non-empty array (absent for none)")
            }
            guard items.count <= EventLimits.maxSettlementEntries else {
                throw DecodingError(.tooLong, "a settlement page names at most \(EventLimits.maxSettlementEntries) pledges")
            }
            for item in items {
                guard case .array(let pair) = item, pair.count == 2 else {
                    throw DecodingError(.badType, "settlement entries are [pledge, amount]")
                }
                entries.append(SettledMatch(pledge: try pair[0].id("pledge"), amount: try pair[1].amount("matched amount")))
            }
            guard zip(entries, entries.dropFirst()).allSatisfy({ $0.pledge < $1.pledge }) else {
                throw DecodingError(.nonCanonical, "settlement entries must be sorted by pledge, without duplicates")
            }
        }
        let lump = try f.optional(F.lumpSum)?.amount("lump sum")
        if lump != nil && !entries.isEmpty {
            throw DecodingError(.unknownField, "match.settled: a lump-sum settlement names no pledges")
        }
        return MatchSettled(campaign: campaign, offer: offer, page: page, pages: pages, entries: entries, lumpSum: lump)
    }
}
