public import WhipCrypto

/// Rule codes of match funding (PROTOCOL.md §6.15-6.18); hashed into the state digest, so never to be changed.
extension ErrorCode where Family == RuleFailure {
    /// No match offer of that id in this campaign.
    public static let unknownOffer = Self("unknown_offer")
    /// The offer was withdrawn.
    public static let offerWithdrawn = Self("offer_withdrawn")
    /// The offer was already accepted.
    public static let alreadyAccepted = Self("already_accepted")
    /// The offer was never accepted by an organiser.
    public static let notAccepted = Self("not_accepted")
    /// A settlement before the campaign closed.
    public static let notClosed = Self("not_closed")
    /// That settlement page is already applied.
    public static let alreadySettled = Self("already_settled")
    /// A settlement page that disagrees with the offer or the pages before it.
    public static let settlementMismatch = Self("settlement_mismatch")
    /// A settled amount above what the offer's factor and caps allow.
    public static let overCap = Self("over_cap")
}

extension Authority {
    /// May offer match funding: funders and root.
    public func mayFund(_ key: PublicKey, at: OrderKey, wall: UInt64) -> Bool {
        isRoot(key) || has(.funder, key, at: at, wall: wall)
    }
}

/// A match offer's derived state: its terms and what organisers and the funder did with it.
public struct MatchOfferState: Equatable, Sendable {
    public let id: EventID
    public let funder: PublicKey
    public let madeAt: HLC
    public let terms: MatchOffered
    /// Accepted by an organiser or admin before the close.
    public var accepted = false
    /// The withdrawal's timestamp: pledges stamped before it keep their match.
    public var withdrawnAt: HLC?
    /// The number of settlement pages, once the first page is applied.
    public var settlementPages: UInt32?
    /// Pages applied so far.
    public var settledPages: Set<UInt32> = []
    /// Frozen match per pledge, over every applied page.
    public var settled: [EventID: Int64] = [:]
    /// A lump-sum settlement's amount.
    public var settledLump: Int64?

    /// An offer as made.
    public init(id: EventID, funder: PublicKey, madeAt: HLC, terms: MatchOffered) {
        self.id = id
        self.funder = funder
        self.madeAt = madeAt
        self.terms = terms
    }

    /// Every page of the settlement is applied: the allocation is frozen.
    public var isSettled: Bool { settlementPages.map { settledPages.count == Int($0) } ?? false }

    /// The most this offer can add to one pledge of `amount`: the factor, then the per-pledge cap.
    public func bound(_ amount: Int64) -> Int64 {
        guard let factor = terms.factor else { return 0 }
        return min(factor.apply(amount), terms.pledgeCap ?? Int64.max)
    }
}

extension CampaignLedger {
    static func offer(_ c: CampaignState, _ id: EventID) throws(RuleViolation) -> MatchOfferState {
        guard let o = c.offers[id] else { throw fail(.unknownOffer, "no match offer \(id.hex.prefix(12)) in this campaign") }
        return o
    }

    /// Draft or live, and before the deadline at the event's timestamp.
    static func requireBeforeClose(_ c: CampaignState, _ e: Event, _ what: String) throws(RuleViolation) {
        try requireOpen(c, what)
        if e.hlc.wall >= c.closes { throw fail(.closed, "the campaign closed before this event; \(what) is not allowed") }
    }

    /// The rules of `match.offered`, `match.accepted`, `match.withdrawn` and `match.settled` (PROTOCOL.md §7.7).
    static func applyMatch(_ e: Event, _ c: inout CampaignState, _ auth: Authority) throws(RuleViolation) {
        switch e.body {
        case .matchOffered(let b):
            guard auth.mayFund(e.author, at: e.orderKey, wall: e.hlc.wall) else {
                throw fail(.unauthorised, "only members holding the funder role may offer match funding")
            }
            try requireBeforeClose(c, e, "offering a match")
            try currencyCheck(c, b.currency)
            if let t = b.tier, c.tiers[t] == nil { throw fail(.unknownTier, "tier \(t.hex.prefix(12)) is not a tier of this campaign") }
            c.offers[e.id] = MatchOfferState(id: e.id, funder: e.author, madeAt: e.hlc, terms: b)

        case .matchAccepted(let r):
            try mayEdit(e, c, auth)
            var o = try offer(c, r.offer)
            try requireBeforeClose(c, e, "accepting a match")
            guard o.withdrawnAt == nil else { throw fail(.offerWithdrawn, "the funder withdrew this offer") }
            guard !o.accepted else { throw fail(.alreadyAccepted, "the offer was already accepted") }
            o.accepted = true
            c.offers[r.offer] = o

        case .matchWithdrawn(let r):
            var o = try offer(c, r.offer)
            guard o.funder == e.author else { throw fail(.notAuthor, "only the funder who made the offer may withdraw it") }
            guard auth.mayFund(e.author, at: e.orderKey, wall: e.hlc.wall) else {
                throw fail(.unauthorised, "only members holding the funder role may withdraw match funding")
            }
            try requireBeforeClose(c, e, "withdrawing a match (the allocation stands after the close)")
            guard o.withdrawnAt == nil else { throw fail(.offerWithdrawn, "the offer was already withdrawn") }
            o.withdrawnAt = e.hlc
            c.offers[r.offer] = o

        case .matchSettled(let s):
            var o = try offer(c, s.offer)
            guard o.funder == e.author else { throw fail(.notAuthor, "only the funder who made the offer may settle it") }
            guard auth.mayFund(e.author, at: e.orderKey, wall: e.hlc.wall) else {
                throw fail(.unauthorised, "only members holding the funder role may settle match funding")
            }
            switch c.phase {
            case .cancelled: throw fail(.cancelled, "the campaign was cancelled; nothing is matched")
            case .draft: throw fail(.notClosed, "the campaign has not closed yet")
            case .live where e.hlc.wall < c.closes: throw fail(.notClosed, "the campaign has not closed yet")
            case .live, .closed: break
            }
            guard o.accepted else { throw fail(.notAccepted, "no organiser accepted this offer") }
            if let pages = o.settlementPages, pages != s.pages {
                throw fail(.settlementMismatch, "the settlement has \(pages) page(s), not \(s.pages)")
            }
            guard !o.settledPages.contains(s.page) else { throw fail(.alreadySettled, "page \(s.page) of this settlement is already applied") }
            switch o.terms.mode {
            case .lumpSum:
                guard let lump = s.lumpSum else { throw fail(.settlementMismatch, "a lump-sum offer is settled with a lump sum") }
                guard lump <= o.terms.campaignCap else { throw fail(.overCap, "the lump sum is above the offer's") }
                o.settledLump = lump
            case .match:
                guard s.lumpSum == nil else { throw fail(.settlementMismatch, "a match offer is settled pledge by pledge") }
                var total = o.settled.values.reduce(0, +)
                for entry in s.entries {
                    guard let p = c.pledges[entry.pledge] else {
                        throw fail(.unknownPledge, "no pledge \(entry.pledge.hex.prefix(12)) in this campaign")
                    }
                    guard o.settled[entry.pledge] == nil else {
                        throw fail(.settlementMismatch, "pledge \(entry.pledge.hex.prefix(12)) is on an earlier page")
                    }
                    guard entry.amount <= o.bound(p.amount) else {
                        throw fail(.overCap, "the match for pledge \(entry.pledge.hex.prefix(12)) is above the factor or the pledge cap")
                    }
                    total = try checkedAdd(total, entry.amount)
                }
                guard total <= o.terms.campaignCap else { throw fail(.overCap, "the settlement is above the offer's campaign cap") }
                for entry in s.entries { o.settled[entry.pledge] = entry.amount }
            }
            o.settlementPages = s.pages
            o.settledPages.insert(s.page)
            c.offers[s.offer] = o

        default:
            throw fail(.wrongPartition, "not a match event")
        }
    }
}

/// What one offer adds to one pledge, and why.
public enum PledgeMatchStatus: String, Sendable, CaseIterable {
    case matched = "matched"
    case partMatched = "part matched"
    case capReached = "not matched (cap reached)"
    case beforeThreshold = "not matched (before the crowd threshold)"
    case tooSmall = "not matched (too small)"
    case outsideWindow = "not matched (outside the window)"
    case otherTier = "not matched (other tier)"
    case otherChannel = "not matched (other channel)"
    case afterWithdrawal = "not matched (after the withdrawal)"
    case lateForMatch = "late for match"
    /// The all-or-nothing campaign closed short of its goal, crowd plus match: no match is paid.
    case campaignFailed = "not matched (campaign failed)"

    /// Eligible by the offer's filters (window, tier, channel, withdrawal): the pledge was in the funder's reckoning.
    var passedFilters: Bool {
        switch self {
        case .matched, .partMatched, .capReached, .beforeThreshold, .tooSmall, .lateForMatch, .campaignFailed: true
        case .outsideWindow, .otherTier, .otherChannel, .afterWithdrawal: false
        }
    }
}

/// One pledge's match from one offer.
public struct PledgeMatch: Equatable, Sendable {
    public var amount: Int64
    public var status: PledgeMatchStatus
    public init(amount: Int64, status: PledgeMatchStatus) {
        self.amount = amount
        self.status = status
    }
}

/// Where an offer stands.
public enum OfferStatus: String, Sendable, CaseIterable {
    /// Waiting for an organiser to accept it: counts for nothing yet.
    case pending
    /// Accepted; the allocation is provisional until the funder settles.
    case open
    /// Withdrawn by the funder: pledges stamped before the withdrawal keep the match of an accepted offer.
    case withdrawn
    /// The crowd-only conditions do not hold (yet): nothing is matched.
    case conditionsNotMet = "conditions not met"
    /// Every settlement page is applied: the allocation is frozen.
    case settled
    /// The campaign was cancelled: nothing is paid and the reservation is freed.
    case cancelled
    /// The all-or-nothing campaign closed short of its goal (crowd plus match): nothing is paid and the
    /// reservation is freed. Provisional like any unsettled outcome: a late offline pledge can still save it.
    case failed
}

/// One offer's derived allocation.
public struct OfferOutcome: Equatable, Sendable {
    public let offer: EventID
    public var status: OfferStatus
    /// The total added to the campaign (the lump sum in lump-sum mode).
    public var matched: Int64
    /// Every active pledge's match, for an accepted match-mode offer.
    public var pledges: [EventID: PledgeMatch]
    /// Provisional until settled: a late offline pledge can still move it.
    public var provisional: Bool { status != .settled && status != .cancelled && status != .pending }
}

/// Derives the match funding of a campaign from its final state: a pure function of the pledges and offers,
/// so every replica computes the same matches from the same event set (PROTOCOL.md §7.7).
///
/// Only pledges active in the final state count. Each accepted offer walks them in the order (signed
/// timestamp, counter, pledge id), gives each eligible one ⌊amount × factor⌋ capped by the per-pledge cap, and
/// stops at the campaign cap. The crowd-only threshold is judged on running crowd totals in the same order,
/// never counting any match. The outcome does not depend on the time of reading: an all-or-nothing campaign
/// whose event set shows it closed (`closed`) short of its goal, crowd plus match, has every offer `failed`.
public enum MatchLedger {
    /// The outcomes of every offer of `c`, keyed by offer id. `closed`: the event set shows the campaign closed
    /// (`closedByEvents`), so that an all-or-nothing campaign short of its goal has failed and pays no match.
    public static func derive(_ c: CampaignState, closed: Bool = false) -> [EventID: OfferOutcome] {
        guard !c.offers.isEmpty else { return [:] }
        let active = c.pledges.values.filter(\.counts).sorted { ($0.madeAt, $0.id) < ($1.madeAt, $1.id) }
        var out = [EventID: OfferOutcome]()
        for o in c.offers.values { out[o.id] = outcome(o, c, active) }
        guard closed, c.model == .allOrNothing, c.phase != .cancelled else { return out }
        // Judged with the match the offers would pay: setting it to 0 then cannot make the campaign funded.
        guard saturatingSum([c.pledged] + out.values.map(\.matched)) < c.goal else { return out }
        for (id, r) in out {
            out[id] = OfferOutcome(
                offer: id, status: .failed, matched: 0, pledges: r.pledges.mapValues { _ in PledgeMatch(amount: 0, status: .campaignFailed) })
        }
        return out
    }

    /// Whether the event set of a campaign shows it closed: phase `closed`, or an applied event of the campaign
    /// stamped at or after its deadline (PROTOCOL.md §7.7). Never the time of reading, so every replica agrees.
    public static func closedByEvents(_ c: CampaignState, events: [Event], statuses: [EventID: EventStatus]) -> Bool {
        c.phase == .closed || events.contains { $0.hlc.wall >= c.closes && statuses[$0.id] == .applied }
    }

    /// Sets `c.matchOutcomes` and `c.matched` from `derive`.
    public static func apply(_ c: inout CampaignState, closed: Bool = false) {
        c.matchOutcomes = derive(c, closed: closed)
        c.matched = saturatingSum(c.matchOutcomes.values.map(\.matched))
    }

    static func saturatingSum(_ values: [Int64]) -> Int64 {
        var total: Int64 = 0
        for v in values {
            let (s, overflow) = total.addingReportingOverflow(v)
            total = overflow ? Int64.max : s
        }
        return total
    }

    /// Crowd `crowd` from `backers` reaches the offer's threshold of goal `goal`.
    static func thresholdMet(_ t: MatchOffered, crowd: Int64, backers: Int, goal: Int64) -> Bool {
        guard backers >= Int(t.minBackers) else { return false }
        guard t.minPercent > 0 else { return true }
        // crowd × 100 ≥ percent × goal, without overflow.
        let lhs = UInt64(max(crowd, 0)).multipliedFullWidth(by: 100)
        let rhs = t.minPercent.multipliedFullWidth(by: UInt64(max(goal, 0)))
        return (lhs.high, lhs.low) >= (rhs.high, rhs.low)
    }

    static func outcome(_ o: MatchOfferState, _ c: CampaignState, _ active: [PledgeState]) -> OfferOutcome {
        var r = OfferOutcome(offer: o.id, status: .pending, matched: 0, pledges: [:])
        guard c.phase != .cancelled else {
            r.status = .cancelled
            return r
        }
        guard o.accepted else {
            // Withdrawn before any organiser accepted it: it can no longer be accepted, so it is not waiting.
            if o.withdrawnAt != nil { r.status = .withdrawn }
            return r
        }
        let t = o.terms
        let crowd = active.reduce(Int64(0)) { a, p in a.addingReportingOverflow(p.amount).overflow ? Int64.max : a + p.amount }
        if t.mode == .lumpSum {
            if o.isSettled {
                r.status = .settled
                r.matched = o.settledLump ?? 0
            } else if o.withdrawnAt != nil {
                r.status = .withdrawn
            } else if thresholdMet(t, crowd: crowd, backers: active.count, goal: c.goal) {
                r.status = .open
                r.matched = t.campaignCap
            } else {
                r.status = .conditionsNotMet
            }
            return r
        }
        var remaining = t.campaignCap
        var unlocked = thresholdMet(t, crowd: 0, backers: 0, goal: c.goal)
        var runCrowd: Int64 = 0
        for (i, p) in active.enumerated() {
            runCrowd = runCrowd.addingReportingOverflow(p.amount).overflow ? Int64.max : runCrowd + p.amount
            if !unlocked { unlocked = thresholdMet(t, crowd: runCrowd, backers: i + 1, goal: c.goal) }
            let status: PledgeMatchStatus
            var give: Int64 = 0
            if let from = t.from, p.madeAt.wall < from {
                status = .outsideWindow
            } else if let until = t.until, p.madeAt.wall >= until {
                status = .outsideWindow
            } else if let tier = t.tier, p.tier != tier {
                status = .otherTier
            } else if let ch = t.channel, p.channel != ch {
                status = .otherChannel
            } else if let w = o.withdrawnAt, p.madeAt >= w {
                status = .afterWithdrawal
            } else if !unlocked {
                status = .beforeThreshold
            } else {
                let want = o.bound(p.amount)
                give = min(want, remaining)
                remaining -= give
                status = want == 0 ? .tooSmall : give == want ? .matched : give > 0 ? .partMatched : .capReached
            }
            r.pledges[p.id] = PledgeMatch(amount: give, status: status)
        }
        if o.isSettled {
            for p in active {
                let computed = r.pledges[p.id]!
                if let amount = o.settled[p.id] {
                    let status: PledgeMatchStatus =
                        amount == 0
                        ? (computed.amount == 0 ? computed.status : .capReached)
                        : amount >= o.bound(p.amount) ? .matched : .partMatched
                    r.pledges[p.id] = PledgeMatch(amount: amount, status: status)
                } else if computed.status.passedFilters {
                    r.pledges[p.id] = PledgeMatch(amount: 0, status: .lateForMatch)
                } else {
                    r.pledges[p.id] = PledgeMatch(amount: 0, status: computed.status)
                }
            }
            r.status = .settled
        } else if o.withdrawnAt != nil {
            r.status = .withdrawn
        } else {
            r.status = unlocked ? .open : .conditionsNotMet
        }
        r.matched = r.pledges.values.reduce(0) { $0 + $1.amount }
        return r
    }
}

extension StateDigest {
    /// The match funding part of a campaign's digest (PROTOCOL.md §11): nothing for a campaign without offers,
    /// so the digest of every such campaign is what it was before match funding existed.
    static func matches(_ c: CampaignState) -> [CBOR] {
        guard !c.offers.isEmpty else { return [] }
        let offers: [CBOR] = c.offers.values.sorted { $0.id < $1.id }.map { o in
            let r = c.matchOutcomes[o.id]
            let pledges: [CBOR] = (r?.pledges ?? [:]).sorted { $0.key < $1.key }.map {
                .array([.bytes($0.key.bytes), int($0.value.amount), .text($0.value.status.rawValue)])
            }
            return .array([
                .bytes(o.id.bytes), .bytes(o.funder.bytes), hlc(o.madeAt), .bool(o.accepted), o.withdrawnAt.map(hlc) ?? .array([]),
                opt(o.settlementPages.map(UInt64.init)), .array(o.settledPages.sorted().map { .unsigned(UInt64($0)) }),
                .text(r?.status.rawValue ?? OfferStatus.pending.rawValue), int(r?.matched ?? 0), .array(pledges),
            ])
        }
        return [.array(offers)]
    }
}
