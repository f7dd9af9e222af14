public import WhipCrypto

/// Life-cycle phase of a campaign, as set by its events.
public enum CampaignPhase: String, Sendable {
    case draft, live, closed, cancelled
}

/// What a campaign is, as people see it at a given time: the one state shown by the CLI, its JSON and the
/// `campaign_totals` view (PROTOCOL.md §7.5). Derived from the phase, the deadline, the totals and `now`;
/// not part of the digest.
public enum CampaignStanding: String, Sendable, CaseIterable {
    /// Not published yet: no pledges.
    case draft
    /// Published and before its deadline: taking pledges.
    case live
    /// Closed (deadline passed, or closed early) and funded by its model: the money is collected.
    case closedFunded = "closed-funded"
    /// Closed and not funded: under all-or-nothing, nobody pays, and money already received is due back.
    case closedUnfunded = "closed-unfunded"
    /// Cancelled: money already received is due back.
    case cancelled

    /// The state of a campaign in `phase`, closing at `closes` (ms), `funded` by its model, at `now` (ms).
    public static func at(now: UInt64, phase: CampaignPhase, closes: UInt64, funded: Bool) -> CampaignStanding {
        switch phase {
        case .draft: .draft
        case .cancelled: .cancelled
        case .live where now < closes: .live
        case .live, .closed: funded ? .closedFunded : .closedUnfunded
        }
    }

    /// Whether money received for counted pledges is due back to the backers.
    public var refundsDue: Bool { self == .closedUnfunded || self == .cancelled }
}

/// What happened to a pledge.
public enum PledgeStatus: String, Sendable {
    /// Counts towards the totals.
    case active
    /// Stamped at or after the close: kept, but not counted.
    case late
    /// Withdrawn by its author.
    case withdrawn
    /// Rejected by an organiser, with a reason.
    case rejected
}

/// A reward tier's derived state.
public struct TierState: Equatable, Sendable {
    public let id: EventID
    public var title: String
    public var description: String?
    public var minimum: Int64
    public var limit: UInt32?
    /// Counted pledges that chose this tier, winners and waitlisted alike.
    public var active: Int = 0
    /// Active pledges that won a place (all of them when there is no limit).
    public var claimed: Int = 0
    /// Active pledges beyond the limit, in order of their timestamps.
    public var waitlisted: Int = 0
    /// The reward's value to a backer (Gift Aid donor benefit), minor units; nil when not stated.
    public var benefit: Int64?

    /// A tier with no pledges yet.
    public init(id: EventID, title: String, description: String?, minimum: Int64, limit: UInt32?) {
        self.id = id
        self.title = title
        self.description = description
        self.minimum = minimum
        self.limit = limit
    }
}

/// A pledge's derived state.
public struct PledgeState: Equatable, Sendable {
    public let id: EventID
    public let author: PublicKey
    public let madeAt: HLC
    public var backerName: String
    public var anonymous: Bool
    public var amount: Int64
    public var tier: EventID?
    public let channel: Channel
    public var status: PledgeStatus
    /// In a limited tier but after the winners: kept and counted, but without the reward.
    public var waitlisted = false
    public var collected: Int64 = 0
    public var collectedBy: PublicKey?
    public var collectedMethod: PaymentMethod?
    public var rejectReason: String?
    public let contact: [SealedContact]
    /// Version-2 pledges: the current commitment of each `PartSlot`, in slot order (the name slot as replaced by
    /// the latest naming revision); nil for version-1 pledges, whose name and contact are in clear above.
    public var commitments: [Bytes32]?
    /// Version-2 pledges: the event whose name part holds the current name (the pledge, or its latest naming
    /// revision).
    public var nameEvent: EventID?
    /// Slots erased by `personal.erased`; not part of the digest (an erasure changes no pledge's contribution).
    public var erased: Set<PartSlot> = []
    /// True while the pledge counts towards totals.
    public var counts: Bool { status == .active }

    /// A pledge as made, before any later event.
    public init(
        id: EventID, author: PublicKey, madeAt: HLC, backerName: String, anonymous: Bool, amount: Int64, tier: EventID?,
        channel: Channel, status: PledgeStatus, contact: [SealedContact]
    ) {
        self.id = id
        self.author = author
        self.madeAt = madeAt
        self.backerName = backerName
        self.anonymous = anonymous
        self.amount = amount
        self.tier = tier
        self.channel = channel
        self.status = status
        self.contact = contact
    }

    /// A version-2 pledge as made: its personal data is in parts, committed to by `commitments`.
    public init(
        id: EventID, author: PublicKey, madeAt: HLC, amount: Int64, tier: EventID?, channel: Channel, status: PledgeStatus,
        commitments: [Bytes32]
    ) {
        self.init(
            id: id, author: author, madeAt: madeAt, backerName: "", anonymous: false, amount: amount, tier: tier, channel: channel,
            status: status, contact: [])
        self.commitments = commitments
        self.nameEvent = id
    }

    /// True for a version-2 pledge (`pledge.made.v2`).
    public var hasParts: Bool { commitments != nil }

    /// The events whose parts hold this pledge's current personal data, with their slots.
    public var partEvents: [(event: EventID, slot: PartSlot)] {
        guard commitments != nil else { return [] }
        return [(nameEvent ?? id, .name), (id, .contact), (id, .giftAid)]
    }
}

/// An applied `update.posted`: news for backers (PROTOCOL.md §6.15). Immutable once posted.
public struct UpdateState: Equatable, Sendable {
    /// The event's id.
    public let id: EventID
    public let author: PublicKey
    public let postedAt: HLC
    public let title: String
    /// Markdown source.
    public let text: String
    public init(id: EventID, author: PublicKey, postedAt: HLC, title: String, text: String) {
        self.id = id
        self.author = author
        self.postedAt = postedAt
        self.title = title
        self.text = text
    }
}

/// A campaign's derived state: fields, tiers, pledges and totals.
public struct CampaignState: Equatable, Sendable {
    public let id: EventID
    public let createdBy: PublicKey
    public let createdAt: HLC
    public var title: String
    public var description: String
    public var goal: Int64
    public var currency: Currency
    public var model: FundingModel
    public var opens: UInt64
    public var closes: UInt64
    public var timeZone: String
    /// The author and the named organisers, sorted.
    public var organisers: [PublicKey]
    public var phase: CampaignPhase = .draft
    public var cancelReason: String?
    public var tiers: [EventID: TierState] = [:]
    public var pledges: [EventID: PledgeState] = [:]
    /// Sum of counted pledges, minor units.
    public var pledged: Int64 = 0
    /// Sum of money received on counted pledges, minor units.
    public var collected: Int64 = 0
    /// Number of counted pledges.
    public var backers: Int = 0
    /// Set once any pledge is applied: goal, currency, model and deadline are then frozen.
    public var hasPledges = false
    /// Match funding offers, keyed by offer id.
    public var offers: [EventID: MatchOfferState] = [:]
    /// Each offer's allocation (`MatchLedger`); needs every pledge, so only a full derivation sets it.
    public var matchOutcomes: [EventID: OfferOutcome] = [:]
    /// Sum of every offer's match, minor units (provisional until each offer is settled).
    public var matched: Int64 = 0
    /// Gift Aid: each claimed tag with the applied `giftaid.claimed` that claimed it. Which pledge a tag is, only a
    /// treasurer can tell; full derivations set it (the fast path never applies a claim).
    public var giftAidClaims: [Bytes32: EventID] = [:]
    /// Applied `giftaid.claimed` events.
    public var giftAidClaimCount = 0
    /// Gift Aid: the earliest day a confirmation was sent for each oral declaration's tag (`giftaid.confirmed`).
    public var giftAidConfirmed: [Bytes32: CivilDate] = [:]
    /// Applied `update.posted` events, keyed by event id. Not hashed into the digest (each enters only through its
    /// status); a resumed derivation holds only the updates its new events posted.
    public var updates: [EventID: UpdateState] = [:]

    /// A draft campaign as created.
    public init(
        id: EventID, createdBy: PublicKey, createdAt: HLC, title: String, description: String, goal: Int64, currency: Currency,
        model: FundingModel, opens: UInt64, closes: UInt64, timeZone: String, organisers: [PublicKey]
    ) {
        self.id = id
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.title = title
        self.description = description
        self.goal = goal
        self.currency = currency
        self.model = model
        self.opens = opens
        self.closes = closes
        self.timeZone = timeZone
        self.organisers = organisers
    }

    /// The funding outcome once closed: funded or not, by the funding model. Crowd plus match counts.
    public var funded: Bool {
        let (total, overflow) = pledged.addingReportingOverflow(matched)
        let raised = overflow ? Int64.max : total
        return switch model {
        case .allOrNothing: raised >= goal
        case .keepWhatYouRaise: raised > 0
        }
    }

    /// The phase a person sees at `now` (ms): a live campaign past its deadline shows as closed.
    public func effectivePhase(now: UInt64) -> CampaignPhase {
        phase == .live && now >= closes ? .closed : phase
    }

    /// The one state people see at `now` (ms).
    public func standing(now: UInt64) -> CampaignStanding {
        CampaignStanding.at(now: now, phase: phase, closes: closes, funded: funded)
    }
}

/// Derives one campaign from all events that name it, given the community's authority timeline.
///
/// A pure function of the event set: events are replayed in `OrderKey` order, so any arrival order,
/// duplicates or partial delivery followed by the rest give the same result.
public struct CampaignLedger {
    /// The result of a derivation.
    public struct Result: Sendable, Equatable {
        /// The campaign, or nil when no valid `campaign.created` is among the events.
        public var campaign: CampaignState?
        /// Status of every event given.
        public var statuses: [EventID: EventStatus]
    }

    /// Replays the events of campaign `id`.
    public static func derive(id: EventID, events: [Event], authority: Authority) -> Result {
        var result = resume(id: id, from: nil, events: events, authority: authority)
        if var s = result.campaign {
            allocateTiers(&s)
            MatchLedger.apply(&s, closed: MatchLedger.closedByEvents(s, events: events, statuses: result.statuses))
            result.campaign = s
        }
        return result
    }

    /// Applies `events` on top of `state`, which must be the result of replaying every earlier event in order.
    ///
    /// `state.pledges` need only hold the pledges these events refer to: every other rule reads the
    /// campaign's fields, tiers and running totals. Tier places are not allocated here (see `allocateTiers`).
    /// Returns the new state and the status of each given event.
    public static func resume(id: EventID, from state: CampaignState?, events: [Event], authority: Authority) -> Result {
        var seen = Set<EventID>()
        let ordered = events.filter { seen.insert($0.id).inserted }.sorted { $0.orderKey < $1.orderKey }
        var state = state
        var statuses = [EventID: EventStatus]()
        for event in ordered {
            do {
                try apply(event, to: &state, id: id, authority: authority)
                statuses[event.id] = .applied
            } catch {
                statuses[event.id] = .rejected(error)
            }
        }
        return Result(campaign: state, statuses: statuses)
    }

    /// The pledge ids that `events` refer to (revisions, withdrawals, collections, rejections).
    public static func referencedPledges(_ events: [Event]) -> Set<EventID> {
        var out = Set<EventID>()
        for e in events {
            switch e.body {
            case .pledgeRevised(let b): out.insert(b.pledge)
            case .pledgeWithdrawn(let b): out.insert(b.pledge)
            case .pledgeCollected(let b): out.insert(b.pledge)
            case .pledgeRejected(let b): out.insert(b.pledge)
            case .pledgeRevisedV2(let b): out.insert(b.pledge)
            case .personalErased(let b): out.insert(b.pledge)
            default: break
            }
        }
        return out
    }

    static func fail(_ code: RuleViolation.Code, _ message: String) -> RuleViolation { RuleViolation(code, message) }

    static func checkedAdd(_ a: Int64, _ b: Int64) throws(RuleViolation) -> Int64 {
        let (s, o) = a.addingReportingOverflow(b)
        if o { throw fail(.overflow, "the campaign total would overflow") }
        return s
    }

    static func mayEdit(_ e: Event, _ c: CampaignState, _ auth: Authority) throws(RuleViolation) {
        let k = e.orderKey
        if auth.isAdmin(e.author, at: k, wall: e.hlc.wall) { return }
        guard auth.mayOrganise(e.author, at: k, wall: e.hlc.wall), c.organisers.contains(e.author) else {
            throw fail(.unauthorised, "only this campaign's organisers (holding the organiser role) or an admin may do this")
        }
    }

    static func requireOpen(_ c: CampaignState, _ what: String) throws(RuleViolation) {
        switch c.phase {
        case .cancelled: throw fail(.cancelled, "the campaign was cancelled; \(what) is not allowed")
        case .closed: throw fail(.closed, "the campaign is closed; \(what) is not allowed")
        case .draft, .live: return
        }
    }

    /// Live and before the deadline at the event's timestamp.
    static func requireLive(_ c: CampaignState, _ e: Event, _ what: String) throws(RuleViolation) {
        switch c.phase {
        case .draft: throw fail(.notLive, "the campaign is not published yet; \(what) is not allowed")
        case .cancelled: throw fail(.cancelled, "the campaign was cancelled; \(what) is not allowed")
        case .closed: throw fail(.closed, "the campaign is closed; \(what) is not allowed")
        case .live:
            if e.hlc.wall >= c.closes { throw fail(.closed, "the campaign closed before this event; \(what) is not allowed") }
        }
    }

    static func tierCheck(_ c: CampaignState, tier: EventID?, amount: Int64) throws(RuleViolation) {
        guard let tier else { return }
        guard let t = c.tiers[tier] else { throw fail(.unknownTier, "tier \(tier.hex.prefix(12)) is not a tier of this campaign") }
        if amount < t.minimum {
            throw fail(
                .belowTierMinimum,
                "the tier '\(t.title)' needs at least \(Money.format(minor: t.minimum, exponent: c.currency.exponent)) \(c.currency.code)")
        }
    }

    static func currencyCheck(_ c: CampaignState, _ currency: Currency) throws(RuleViolation) {
        guard currency == c.currency else {
            throw fail(.currencyMismatch, "the campaign is in \(c.currency.code), not \(currency.code)")
        }
    }

    /// Moves a counted pledge between tiers' active counts.
    static func count(_ c: inout CampaignState, from old: EventID?, to new: EventID?) {
        if let old { c.tiers[old]?.active -= 1 }
        if let new { c.tiers[new]?.active += 1 }
    }

    static func apply(_ e: Event, to state: inout CampaignState?, id: EventID, authority auth: Authority) throws(RuleViolation) {
        if case .campaignCreated(let b) = e.body {
            guard e.id == id else { throw fail(.wrongPartition, "event does not belong to this campaign") }
            guard auth.mayOrganise(e.author, at: e.orderKey, wall: e.hlc.wall) else {
                throw fail(.unauthorised, "only organisers and admins may create campaigns")
            }
            state = CampaignState(
                id: e.id, createdBy: e.author, createdAt: e.hlc, title: b.title, description: b.description,
                goal: b.goal, currency: b.currency, model: b.model, opens: b.opens, closes: b.closes,
                timeZone: b.timeZone, organisers: Array(Set(b.organisers + [e.author])).sorted())
            return
        }
        guard e.body.referencedCampaign == id, state != nil else {
            throw fail(.unknownCampaign, "no campaign \(id.hex.prefix(12)) is ordered before this event")
        }
        // Taken, not copied: `c` is then the only reference to the campaign's pledges, so changing one pledge
        // does not copy them all (a copy per event made replaying a campaign quadratic). Every case below
        // throws, if it does, before it changes `c`, so an event refused half-way leaves no trace.
        var c = state.take()!
        defer { state = c }
        let at = e.orderKey
        let wall = e.hlc.wall
        switch e.body {
        case .communityCreated, .roleGranted, .roleRevoked, .campaignCreated, .charityRecognised, .funderBudget, .charityWithdrawn:
            throw fail(.wrongPartition, "not a campaign event")

        case .campaignUpdated(let u):
            try mayEdit(e, c, auth)
            try requireOpen(c, "editing")
            let touchesFrozen =
                (u.goal.map { $0 != c.goal } ?? false) || (u.currency.map { $0 != c.currency } ?? false)
                || (u.model.map { $0 != c.model } ?? false) || (u.closes.map { $0 != c.closes } ?? false)
            if touchesFrozen && c.hasPledges {
                throw fail(.frozen, "goal, currency, funding model and deadline cannot change once there are pledges")
            }
            var n = c
            if let v = u.title { n.title = v }
            if let v = u.description { n.description = v }
            if let v = u.goal { n.goal = v }
            if let v = u.currency { n.currency = v }
            if let v = u.model { n.model = v }
            if let v = u.opens { n.opens = v }
            if let v = u.closes { n.closes = v }
            if let v = u.timeZone { n.timeZone = v }
            if let v = u.organisers { n.organisers = Array(Set(v + [c.createdBy])).sorted() }
            guard n.closes > n.opens else { throw fail(.badDates, "a campaign must close after it opens") }
            c = n

        case .campaignPublished:
            try mayEdit(e, c, auth)
            guard c.phase == .draft else { throw fail(.badPhase, "only a draft can be published (it is \(c.phase.rawValue))") }
            c.phase = .live

        case .campaignClosed:
            try mayEdit(e, c, auth)
            guard c.phase == .live else { throw fail(.badPhase, "only a live campaign can be closed (it is \(c.phase.rawValue))") }
            c.phase = .closed

        case .campaignCancelled(let b):
            try mayEdit(e, c, auth)
            guard c.phase == .draft || c.phase == .live else {
                throw fail(.badPhase, "a \(c.phase.rawValue) campaign cannot be cancelled")
            }
            c.phase = .cancelled
            c.cancelReason = b.reason

        case .updatePosted(let b):
            try UpdateRules.check(e, c, auth)
            c.updates[e.id] = UpdateState(id: e.id, author: e.author, postedAt: e.hlc, title: b.title, text: b.text)

        case .tierAdded(let b):
            try mayEdit(e, c, auth)
            try requireOpen(c, "adding a tier")
            var tier = TierState(id: e.id, title: b.title, description: b.description, minimum: b.minimum, limit: b.limit)
            tier.benefit = b.benefit
            c.tiers[e.id] = tier

        case .tierUpdated(let b):
            try mayEdit(e, c, auth)
            try requireOpen(c, "editing a tier")
            guard var t = c.tiers[b.tier] else { throw fail(.unknownTier, "tier \(b.tier.hex.prefix(12)) is not a tier of this campaign") }
            // Gift Aid claims need the deadline passed; freezing the benefit then means no claim is judged on a
            // value that changes after it.
            if b.benefit != nil, b.benefit != t.benefit, wall >= c.closes {
                throw fail(.closed, "a reward's benefit value cannot change after the campaign's deadline")
            }
            if let limit = b.limit {
                // Places claimed are the winners so far; waitlisted pledges have not claimed one.
                let claimed = min(t.active, t.limit.map(Int.init) ?? Int.max)
                if Int(limit) < claimed {
                    throw fail(.limitBelowClaimed, "the limit cannot go below the \(claimed) place(s) already claimed")
                }
                t.limit = limit
            }
            if let v = b.title { t.title = v }
            if let v = b.description { t.description = v }
            if let v = b.minimum { t.minimum = v }
            if let v = b.benefit { t.benefit = v }
            c.tiers[b.tier] = t

        case .pledgeMade(let b):
            let late = try admitPledge(e, c, auth, currency: b.currency, tier: b.tier, amount: b.amount)
            try recordPledge(
                PledgeState(
                    id: e.id, author: e.author, madeAt: e.hlc, backerName: b.backerName, anonymous: b.anonymous,
                    amount: b.amount, tier: b.tier, channel: b.channel, status: late ? .late : .active,
                    contact: b.contact), paid: b.paid, by: e.author, in: &c)

        case .pledgeMadeV2(let b):
            let late = try admitPledge(e, c, auth, currency: b.currency, tier: b.tier, amount: b.amount)
            try recordPledge(
                PledgeState(
                    id: e.id, author: e.author, madeAt: e.hlc, amount: b.amount, tier: b.tier, channel: b.channel,
                    status: late ? .late : .active, commitments: b.commitments), paid: b.paid, by: e.author, in: &c)

        case .pledgeRevised(let r):
            var p = try revisable(e, c, auth, pledge: r.pledge)
            if (r.backerName != nil || r.anonymous != nil) && p.hasParts {
                throw fail(.wrongVersion, "this pledge keeps its name in a part: rename it with pledge.revised.v2")
            }
            try revise(&p, in: &c, amount: r.amount, currency: r.currency, tier: r.tier)
            if let v = r.backerName { p.backerName = v }
            if let v = r.anonymous { p.anonymous = v }
            c.pledges[r.pledge] = p

        case .pledgeRevisedV2(let r):
            var p = try revisable(e, c, auth, pledge: r.pledge)
            if r.name != nil {
                guard p.hasParts else {
                    throw fail(.wrongVersion, "a version-1 pledge's name is inside its signed event and cannot move to a part")
                }
                guard !p.erased.contains(.name) else { throw fail(.erased, "this pledge's name was erased; record a new pledge instead") }
            }
            try revise(&p, in: &c, amount: r.amount, currency: r.currency, tier: r.tier)
            if let name = r.name {
                p.commitments?[Int(PartSlot.name.rawValue)] = name
                p.nameEvent = e.id
            }
            c.pledges[r.pledge] = p

        case .personalErased(let b):
            try GiftAidRules.mayErase(e, b, c, auth)
            guard var p = c.pledges[b.pledge] else { throw fail(.unknownPledge, "no pledge \(b.pledge.hex.prefix(12)) in this campaign") }
            guard p.hasParts else {
                throw fail(.notErasable, "a version-1 pledge's personal data is inside its signed event and cannot be erased (docs/PRIVACY.md)")
            }
            p.erased.formUnion(b.slots)
            c.pledges[b.pledge] = p

        case .pledgeWithdrawn(let r):
            guard auth.mayRecordPledges(e.author, at: at, wall: wall) else {
                throw fail(.unauthorised, "only collectors, organisers and admins may withdraw pledges")
            }
            guard var p = c.pledges[r.pledge] else { throw fail(.unknownPledge, "no pledge \(r.pledge.hex.prefix(12)) in this campaign") }
            guard p.author == e.author else { throw fail(.notAuthor, "only the pledge's author may withdraw it") }
            try requireLive(c, e, "withdrawing a pledge")
            guard p.status == .active else { throw fail(.pledgeInactive, "the pledge is \(p.status.rawValue)") }
            guard p.collectedBy == nil else {
                throw fail(.alreadyCollected, "the money was already received; refund it and ask an organiser to reject the pledge")
            }
            p.status = .withdrawn
            c.pledged -= p.amount
            c.backers -= 1
            count(&c, from: p.tier, to: nil)
            c.pledges[r.pledge] = p

        case .pledgeCollected(let r):
            guard auth.mayRecordPledges(e.author, at: at, wall: wall) else {
                throw fail(.unauthorised, "only collectors, organisers and admins may record money received")
            }
            guard var p = c.pledges[r.pledge] else { throw fail(.unknownPledge, "no pledge \(r.pledge.hex.prefix(12)) in this campaign") }
            guard c.phase != .cancelled else { throw fail(.cancelled, "the campaign was cancelled") }
            guard p.status == .active else { throw fail(.pledgeInactive, "the pledge is \(p.status.rawValue)") }
            try currencyCheck(c, r.currency)
            // Part payments add up: each collection adds its amount. The first one (in replay order) names
            // who collected and how.
            let pledgeCollected = try checkedAdd(p.collected, r.amount)
            c.collected = try checkedAdd(c.collected, r.amount)
            p.collected = pledgeCollected
            if p.collectedBy == nil {
                p.collectedBy = e.author
                p.collectedMethod = r.method
            }
            c.pledges[r.pledge] = p

        case .pledgeRejected(let r):
            try mayEdit(e, c, auth)
            guard var p = c.pledges[r.pledge] else { throw fail(.unknownPledge, "no pledge \(r.pledge.hex.prefix(12)) in this campaign") }
            guard p.status == .active || p.status == .late else { throw fail(.pledgeInactive, "the pledge is \(p.status.rawValue)") }
            if p.status == .active {
                c.pledged -= p.amount
                c.collected -= p.collected
                c.backers -= 1
                count(&c, from: p.tier, to: nil)
            }
            p.status = .rejected
            p.rejectReason = r.reason
            c.pledges[r.pledge] = p

        case .giftAidClaimed(let b):
            try GiftAidRules.claim(b, e, &c, auth)
        case .giftAidConfirmed(let b):
            try GiftAidRules.confirm(b, e, &c, auth)
        case .matchOffered, .matchAccepted, .matchWithdrawn, .matchSettled:
            try applyMatch(e, &c, auth)
        }
    }

    /// Checks the recording of a pledge and says whether it is late (kept, not counted).
    static func admitPledge(
        _ e: Event, _ c: CampaignState, _ auth: Authority, currency: Currency, tier: EventID?, amount: Int64
    ) throws(RuleViolation) -> Bool {
        guard auth.mayRecordPledges(e.author, at: e.orderKey, wall: e.hlc.wall) else {
            throw fail(.unauthorised, "only collectors, organisers and admins may record pledges")
        }
        switch c.phase {
        case .draft: throw fail(.notLive, "the campaign is not published yet")
        case .cancelled: throw fail(.cancelled, "the campaign was cancelled")
        case .live, .closed: break
        }
        if e.hlc.wall < c.opens { throw fail(.notOpen, "the campaign does not open until later") }
        try currencyCheck(c, currency)
        try tierCheck(c, tier: tier, amount: amount)
        return c.phase == .closed || e.hlc.wall >= c.closes
    }

    /// Adds a pledge as made (`p.status` says whether it counts) to the campaign.
    static func recordPledge(_ pledge: PledgeState, paid: PaymentMethod?, by author: PublicKey, in c: inout CampaignState) throws(RuleViolation) {
        var p = pledge
        if p.status == .active {
            let pledged = try checkedAdd(c.pledged, p.amount)
            let collected = paid == nil ? c.collected : try checkedAdd(c.collected, p.amount)
            c.pledged = pledged
            c.collected = collected
            c.backers += 1
            count(&c, from: nil, to: p.tier)
            if let method = paid {
                p.collected = p.amount
                p.collectedBy = author
                p.collectedMethod = method
            }
        }
        c.hasPledges = true
        c.pledges[p.id] = p
    }

    /// The pledge a revision names, if its author may revise it now.
    static func revisable(_ e: Event, _ c: CampaignState, _ auth: Authority, pledge: EventID) throws(RuleViolation) -> PledgeState {
        guard auth.mayRecordPledges(e.author, at: e.orderKey, wall: e.hlc.wall) else {
            throw fail(.unauthorised, "only collectors, organisers and admins may revise pledges")
        }
        guard let p = c.pledges[pledge] else { throw fail(.unknownPledge, "no pledge \(pledge.hex.prefix(12)) in this campaign") }
        guard p.author == e.author else { throw fail(.notAuthor, "only the pledge's author may revise it") }
        try requireLive(c, e, "revising a pledge")
        guard p.status == .active else { throw fail(.pledgeInactive, "the pledge is \(p.status.rawValue)") }
        return p
    }

    /// Applies a revision's amount, currency and tier to an active pledge and the campaign's totals.
    static func revise(
        _ p: inout PledgeState, in c: inout CampaignState, amount newAmount: Int64?, currency: Currency?, tier newTier: EventID?
    ) throws(RuleViolation) {
        let amount = newAmount ?? p.amount
        let tier = newTier ?? p.tier
        if let cur = currency { try currencyCheck(c, cur) }
        if (amount != p.amount || tier != p.tier) && p.collectedBy != nil {
            throw fail(.alreadyCollected, "a collected pledge's amount and tier cannot change")
        }
        // A tier's minimum binds when the amount or tier changes, not when only the name or anonymity does.
        if amount != p.amount || tier != p.tier { try tierCheck(c, tier: tier, amount: amount) }
        c.pledged = try checkedAdd(c.pledged - p.amount, amount)
        count(&c, from: p.tier, to: tier)
        p.amount = amount
        p.tier = tier
    }

    /// Decides limited tiers: the earliest active pledges (timestamp, then id) win; the rest wait.
    /// Needs every pledge of the campaign in `c.pledges`.
    public static func allocateTiers(_ c: inout CampaignState) {
        var byTier = [EventID: [PledgeState]]()
        for p in c.pledges.values where p.counts {
            if let t = p.tier { byTier[t, default: []].append(p) }
        }
        for id in c.pledges.keys { c.pledges[id]!.waitlisted = false }
        for tid in c.tiers.keys {
            let ps = (byTier[tid] ?? []).sorted { ($0.madeAt, $0.id) < ($1.madeAt, $1.id) }
            let limit = c.tiers[tid]!.limit.map(Int.init) ?? Int.max
            c.tiers[tid]!.claimed = min(ps.count, limit)
            c.tiers[tid]!.waitlisted = max(0, ps.count - limit)
            for (i, p) in ps.enumerated() where i >= limit {
                c.pledges[p.id]!.waitlisted = true
            }
        }
    }
}
