public import WhipCore
public import WhipCrypto

/// Random, reproducible event sets for one community, for property tests of the derived state.
///
/// Every generated event is statically valid (it survives `Event.decode` of its own wire bytes) and
/// properly signed; whether the rules accept it is left to chance. A set has several authors with their
/// own hybrid logical clocks (the founder, an admin, two organisers, two collectors, a stranger), clocks
/// that interleave and step back, and every event kind: concurrent campaign edits, tiers and limit
/// changes, pledges with and without tiers, revisions, withdrawals, collections, rejections, grants with
/// expiry and revocations, match funding: offers, acceptances, withdrawals, settlements and budgets, and campaign
/// updates. A few amounts are near `Int64.max`, a few events name unknown campaigns or
/// tiers, and a few belong to another community.
public struct RandomCommunity {
    /// The community every set belongs to (the same as `Scenario`'s).
    public static let community = FixedKeys.community
    /// Another community, whose events must be ignored.
    public static let otherCommunity = FixedKeys.key(0xC1)
    /// A member who may be made an admin.
    public static let admin = FixedKeys.key(0xAD)
    /// A second organiser.
    public static let organiser2 = FixedKeys.key(0x0B)
    /// The treasurer, who claims Gift Aid.
    public static let treasurer = FixedKeys.key(0x7E)
    /// The funder, who offers to match pledges.
    public static let funder = FixedKeys.key(0xF0)
    /// Wall-clock start of every set (2027-01-01T00:00:00Z).
    public static let start: UInt64 = 1_798_761_600_000
    /// Milliseconds over which the random events are spread.
    public static let span: UInt64 = 3_000

    /// Everyone who signs events besides the community key.
    public static let people: [SigningKey] = [
        FixedKeys.founder, admin, FixedKeys.organiser, organiser2, FixedKeys.collectorA, FixedKeys.collectorB,
        FixedKeys.stranger, funder,
    ]

    /// One random event set from `seed`, with a size in `count` (the setup events count towards it).
    public static func events(seed: UInt64, count: ClosedRange<Int> = 10...60) throws(DecodingError) -> [Event] {
        var g = RandomCommunity(seed: seed)
        // The charity, treasurer and funder events of every set come on top of the drawn size, and so do match
        // events (within the upper bound), so that they leave the other kinds about as many events as before.
        let target = min(g.rng.int(in: count) + 3, count.upperBound)
        try g.setUp()
        // A step makes at most 4 events (a rush), so stopping 4 short of the bound keeps the set within it.
        while g.events.count - g.matchEvents < target, g.events.count < max(target, count.upperBound - 4) { try g.step() }
        if g.events.count + 2 <= count.upperBound { try g.withdrawRecognition() }
        if g.events.count < count.upperBound { try g.postUpdates(upTo: count.upperBound - g.events.count) }
        return g.events
    }

    /// The generator's random source.
    public var rng: SplitMix64
    /// The events made so far, in the order they were made.
    public private(set) var events: [Event] = []

    private var clocks: [PublicKey: HLC] = [:]
    private var campaigns: [(id: EventID, currency: Currency, closes: UInt64)] = []
    private var tiers: [(id: EventID, campaign: EventID)] = []
    /// Pledges made so far; `likely` marks those with a fair chance of being valid (recorded by someone
    /// with a role, to a setup campaign, in its currency), which follow-up events prefer.
    private var pledges: [(id: EventID, campaign: EventID, author: SigningKey, amount: Int64, wall: UInt64, likely: Bool)] = []
    private var nameCounter = 0
    /// Pledges made in the version-2 format.
    private var v2Pledges = Set<EventID>()
    private var setupCampaigns = 0
    /// Match funding events made so far (offers, acceptances, withdrawals, settlements and budgets).
    private(set) var matchEvents = 0
    /// Match offers made so far.
    private var offers: [(id: EventID, campaign: EventID, author: SigningKey, wall: UInt64)] = []
    /// The derived state of the events made so far, refreshed now and then: a hint for choosing targets
    /// that are valid (say, an active pledge to revise), so that enough random events are applied.
    private var view: CommunityState?
    private var viewedCount = 0

    static let gbp = Currency(code: "GBP")!
    static let eur = Currency(code: "EUR")!

    /// A generator with no events yet.
    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    // MARK: - Time

    /// A wall time for a random event: usually spread over `span` on a 5 ms grid (so authors often share
    /// a millisecond), sometimes an existing event's time, sometimes right at a campaign's deadline.
    mutating func randomWall() -> UInt64 {
        switch rng.weighted([70, 15, 10, 5]) {
        case 0: return Self.start + 20 + 5 * UInt64(rng.below(Int(Self.span / 5)))
        case 1 where !events.isEmpty: return rng.pick(events).hlc.wall
        case 2 where !campaigns.isEmpty:
            let c = rng.pick(campaigns).closes
            return c &+ UInt64(rng.int(in: 0...2)) &- 1
        default: return Self.start + UInt64(rng.below(Int(Self.span)))
        }
    }

    /// Signs `body` by `author` at its next HLC for `wall` (monotonic per author, as a real node does),
    /// then decodes it back from its wire bytes so only statically valid events come out.
    @discardableResult
    mutating func emit(_ author: SigningKey, _ body: EventBody, wall: UInt64, community: SigningKey = RandomCommunity.community)
        throws(DecodingError) -> Event
    {
        var hlc = HLC.next(after: clocks[author.publicKey], now: wall)
        if rng.chance(8) {
            // Exactly another author's timestamp (two laptops in the same millisecond), when that keeps this
            // author's clock monotonic: ties are then broken by author key, and tier places by event id.
            let last = clocks[author.publicKey]
            let later = events.filter { e in e.author != author.publicKey && last.map { e.hlc > $0 } ?? true }
            if !later.isEmpty { hlc = rng.pick(later).hlc }
        }
        clocks[author.publicKey] = hlc
        let signed = Event.sign(community: community.publicKey, author: author, hlc: hlc, body: body)
        let event = try Event.decode(wire: signed.wire)
        events.append(event)
        return event
    }

    mutating func name(_ prefix: String) -> String {
        nameCounter += 1
        return "\(prefix) \(nameCounter)"
    }

    // MARK: - Setup: a community that mostly works

    mutating func setUp() throws(DecodingError) {
        let k = FixedKeys.self
        var w = early(0)
        try emit(Self.community, .communityCreated(CommunityCreated(name: "Elm Street", founder: k.founder.publicKey)), wall: w)
        var grants: [(SigningKey, Role)] = [(k.organiser, .organiser), (k.collectorA, .collector), (k.collectorB, .collector)]
        if rng.chance(60) { grants.append((Self.admin, .admin)) }
        if rng.chance(50) { grants.append((Self.organiser2, .organiser)) }
        for (member, role) in grants {
            w = early(1 + UInt64(rng.below(4)))
            let expires: UInt64? = rng.chance(10) ? randomWall() : nil
            try emit(k.founder, .roleGranted(RoleGranted(member: member.publicKey, role: role, expires: expires)), wall: w)
        }
        // Every set's community is a charity with a treasurer, at fixed times so the random stream is unchanged.
        try emit(
            k.founder, .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31)),
            wall: Self.start + 2)
        try emit(k.founder, .roleGranted(RoleGranted(member: Self.treasurer.publicKey, role: .treasurer)), wall: Self.start + 2)
        try emit(k.founder, .roleGranted(RoleGranted(member: Self.funder.publicKey, role: .funder)), wall: Self.start + 2)

        for _ in 0..<rng.int(in: 1...2) {
            try createCampaign(author: k.organiser, wall: early(10))
            let campaign = campaigns.last!.id
            for _ in 0..<(rng.chance(85) ? rng.int(in: 1...2) : 0) {
                // Mostly small limits, so that random pledges oversell them.
                let limit: UInt32? = rng.chance(75) ? UInt32(rng.int(in: 1...2)) : nil
                let tier = try emit(
                    k.organiser,
                    .tierAdded(TierAdded(campaign: campaign, title: name("Tier"), minimum: Int64(rng.int(in: 0...1_000)), limit: limit)),
                    wall: early(12))
                tiers.append((tier.id, campaign))
            }
            if rng.chance(85) {
                try emit(k.organiser, .campaignPublished(CampaignRef(campaign: campaign)), wall: early(15))
            }
        }
        setupCampaigns = campaigns.count
    }

    /// `start + offset` most of the time; a random time otherwise (then setup events may be ordered
    /// after events that need them, and get rejected).
    /// The charity's recognition is withdrawn for part of the window most Gift Aid claims fall in, then recorded
    /// again. Made last, and signed by the community key (root, which signs nothing else after the genesis), so the
    /// random stream and every other author's clock stay as they were.
    mutating func withdrawRecognition() throws(DecodingError) {
        try emit(Self.community, .charityWithdrawn(CharityWithdrawn(reason: "Removed from the register")), wall: Self.start + 1_000_000_500)
        try emit(
            Self.community,
            .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31)),
            wall: Self.start + 1_000_000_800)
    }

    /// One or two campaign updates (`update.posted`, protocol version 3), mostly by the organiser, at random times.
    /// Made last, so every event before them is as it was before updates existed.
    mutating func postUpdates(upTo room: Int) throws(DecodingError) {
        for i in 0..<min(room, rng.int(in: 1...2)) {
            let text = rng.chance(10) ? String(repeating: "x", count: EventLimits.maxUpdateTextBytes) : "News *\(i)*\n\n- item"
            try emit(editor(), .updatePosted(UpdatePosted(campaign: campaignID(), title: name("Update"), text: text)), wall: randomWall())
        }
    }

    mutating func early(_ offset: UInt64) -> UInt64 {
        rng.chance(96) ? Self.start + offset : randomWall()
    }

    mutating func createCampaign(author: SigningKey, wall: UInt64) throws(DecodingError) {
        let opens: UInt64 = rng.chance(80) ? 0 : Self.start + UInt64(rng.below(500))
        var closes: UInt64 = rng.chance(70) ? Self.start + 1_000_000_000 : Self.start + 20 + UInt64(rng.below(Int(Self.span)))
        if closes <= opens { closes = opens + 1 }
        let currency = rng.chance(85) ? Self.gbp : Self.eur
        let organisers: [PublicKey] = rng.chance(30) ? [Self.organiser2.publicKey] : []
        let body = CampaignCreated(
            title: name("Campaign"), description: rng.chance(50) ? "" : "A description", goal: Int64(rng.int(in: 1_000...100_000)),
            currency: currency, model: rng.chance(50) ? .allOrNothing : .keepWhatYouRaise, opens: opens, closes: closes,
            timeZone: "Europe/London", organisers: organisers)
        let e = try emit(author, .campaignCreated(body), wall: wall)
        campaigns.append((e.id, currency, closes))
    }

    // MARK: - Random steps

    /// Someone who edits campaigns: mostly organisers, sometimes people without the right.
    mutating func editor() -> SigningKey {
        let k = FixedKeys.self
        return [k.organiser, Self.organiser2, k.founder, Self.admin, k.collectorA, k.stranger][rng.weighted([45, 15, 15, 10, 10, 5])]
    }

    /// Someone who records pledges: mostly collectors.
    mutating func recorder() -> SigningKey {
        let k = FixedKeys.self
        return [k.collectorA, k.collectorB, k.organiser, k.founder, Self.admin, k.stranger][rng.weighted([38, 38, 10, 5, 4, 5])]
    }

    /// A campaign to refer to: mostly one made during setup (so most references resolve), sometimes a
    /// later one (which random timestamps may order after the reference), rarely one that does not exist.
    mutating func campaignID() -> EventID {
        if campaigns.isEmpty || rng.chance(3) {
            // The same 32 bytes `rng.bytes(32)` would give: four words, each little-endian.
            return EventID(Bytes32(littleEndianWords: rng.next(), rng.next(), rng.next(), rng.next()))
        }
        if setupCampaigns > 0, rng.chance(85) { return campaigns[rng.below(setupCampaigns)].id }
        return rng.pick(campaigns).id
    }

    mutating func currency(for campaign: EventID) -> Currency {
        let own = campaigns.first { $0.id == campaign }?.currency ?? Self.gbp
        if rng.chance(92) { return own }
        return own == Self.gbp ? Self.eur : Self.gbp
    }

    mutating func amount() -> Int64 {
        switch rng.weighted([82, 10, 8]) {
        case 0: Int64(rng.int(in: 100...5_000))
        case 1: Int64(rng.int(in: 1...100))
        default: Int64.max - Int64(rng.below(1_000))
        }
    }

    mutating func tier(for campaign: EventID) -> EventID? {
        let own = tiers.filter { $0.campaign == campaign }
        switch rng.weighted([35, 60, 5]) {
        case 0: return nil
        case 1 where !own.isEmpty: return rng.pick(own).id
        case 2 where !tiers.isEmpty: return rng.pick(tiers).id
        default: return nil
        }
    }

    /// The derived state of the events so far, recomputed after every few new events.
    mutating func currentView() -> CommunityState {
        if let view, events.count - viewedCount < 6 { return view }
        let v = CommunityState(community: Self.community.publicKey, events: events)
        view = v
        viewedCount = events.count
        return v
    }

    /// A pledge for a follow-up event (revision, withdrawal, collection, rejection): mostly one that is
    /// active in the current view, else one that looked likely to be valid, else any.
    mutating func followUp() -> (id: EventID, campaign: EventID, author: SigningKey, amount: Int64, wall: UInt64, likely: Bool) {
        let v = currentView()
        let active = pledges.filter { v.partitions[$0.campaign]?.campaign?.pledges[$0.id]?.status == .active }
        if !active.isEmpty, rng.chance(70) { return rng.pick(active) }
        let likely = pledges.filter(\.likely)
        return !likely.isEmpty && rng.chance(60) ? rng.pick(likely) : rng.pick(pledges)
    }

    /// A rush at a limited tier: both collectors, offline, record pledges for it in the same millisecond,
    /// overselling it; the winners are then decided by timestamp and event id.
    mutating func rush() throws(DecodingError) {
        let v = currentView()
        let open = v.campaigns.filter { $0.phase == .live }.flatMap { c in
            c.tiers.values.filter { $0.limit != nil }.map { (campaign: c, tier: $0) }
        }
        guard !open.isEmpty else { return try pledge(wall: randomWall()) }
        let target = rng.pick(open.sorted { $0.tier.id < $1.tier.id })
        let wall = randomWall()
        for author in rng.shuffled([FixedKeys.collectorA, FixedKeys.collectorB, FixedKeys.collectorA, FixedKeys.collectorB]).prefix(
            rng.int(in: 2...4))
        {
            let amount = max(1, target.tier.minimum) + Int64(rng.below(500))
            let body = PledgeMade(
                campaign: target.campaign.id, backerName: name("Backer"), anonymous: false, amount: amount,
                currency: target.campaign.currency, tier: target.tier.id, channel: .inPerson, paid: rng.chance(30) ? .cash : nil)
            let e = try emit(author, .pledgeMade(body), wall: wall)
            pledges.append((e.id, target.campaign.id, author, amount, e.hlc.wall, true))
        }
    }

    mutating func pledge(wall: UInt64) throws(DecodingError) {
        let k = FixedKeys.self
        let c = campaignID()
        let author = recorder()
        let paid: PaymentMethod? = rng.chance(30) ? rng.pick(PaymentMethod.allCases) : nil
        let e: Event
        let pledgeCurrency = currency(for: c)
        if rng.chance(40) {
            // A version-2 pledge: its commitments are random bytes here, as good as any for the rules.
            let body = PledgeMadeV2(
                campaign: c, amount: amount(), currency: pledgeCurrency, tier: tier(for: c), channel: rng.pick(Channel.allCases), paid: paid,
                commitments: PartSlot.allCases.map { _ in commitment() })
            e = try emit(author, .pledgeMadeV2(body), wall: wall)
            v2Pledges.insert(e.id)
        } else {
            let body = PledgeMade(
                campaign: c, backerName: name("Backer"), anonymous: rng.chance(20), amount: amount(), currency: pledgeCurrency,
                tier: tier(for: c), channel: rng.pick(Channel.allCases), paid: paid)
            e = try emit(author, .pledgeMade(body), wall: wall)
        }
        let likely =
            author.publicKey != k.stranger.publicKey && author.publicKey != Self.admin.publicKey
            && campaigns.prefix(setupCampaigns).contains { $0.id == c && $0.currency == pledgeCurrency }
        guard let amount = e.body.pledgeAmount else { return }
        pledges.append((e.id, c, author, amount, e.hlc.wall, likely))
    }

    /// 32 random bytes from the generator, standing for a part commitment.
    mutating func commitment() -> Bytes32 {
        Bytes32(littleEndianWords: rng.next(), rng.next(), rng.next(), rng.next())
    }

    /// Usually a little after `wall` (a follow-up made soon after its pledge); otherwise `random`.
    mutating func after(_ wall: UInt64, else random: UInt64) -> UInt64 {
        rng.chance(70) ? wall + UInt64(rng.int(in: 0...300)) : random
    }

    mutating func step() throws(DecodingError) {
        let k = FixedKeys.self
        let wall = randomWall()
        if rng.chance(1) {
            // An event of another community, which the derivation must ignore.
            try emit(k.founder, .roleGranted(RoleGranted(member: k.stranger.publicKey, role: .admin)), wall: wall, community: Self.otherCommunity)
            return
        }
        enum Op: CaseIterable {
            case pledge, revise, withdraw, collect, reject, update, publish, close, cancel, addTier, updateTier, grant, revoke, create, rush
            case claimGiftAid, erase, offer, accept, withdrawOffer, settle, budget
        }
        let weights = [30, 10, 6, 8, 5, 10, 4, 3, 2, 5, 5, 4, 3, 3, 4, 2, 4, 4, 3, 2, 3, 1]
        var op = Op.allCases[rng.weighted(weights)]
        if pledges.isEmpty, [.revise, .withdraw, .collect, .reject, .claimGiftAid, .erase].contains(op) { op = .pledge }
        if offers.isEmpty, [.accept, .withdrawOffer, .settle].contains(op) { op = .offer }
        if tiers.isEmpty, op == .updateTier { op = .addTier }
        if campaigns.isEmpty, op != .grant, op != .revoke { op = .create }

        switch op {
        case .create:
            try createCampaign(author: editor(), wall: wall)

        case .update:
            var u = CampaignUpdated(campaign: campaignID())
            if rng.chance(40) { u.title = name("Title") }
            if rng.chance(20) { u.description = rng.chance(50) ? "" : name("About") }
            if rng.chance(25) { u.goal = Int64(rng.int(in: 1_000...100_000)) }
            if rng.chance(10) { u.currency = rng.chance(50) ? Self.gbp : Self.eur }
            if rng.chance(15) { u.model = rng.chance(50) ? .allOrNothing : .keepWhatYouRaise }
            if rng.chance(10) { u.opens = rng.chance(70) ? 0 : Self.start + UInt64(rng.below(Int(Self.span))) }
            if rng.chance(20) { u.closes = rng.chance(50) ? Self.start + 1_000_000_000 : Self.start + 20 + UInt64(rng.below(Int(Self.span))) }
            if rng.chance(10) { u.timeZone = rng.pick(["Europe/London", "Europe/Paris", "America/New_York"]) }
            if rng.chance(15) { u.organisers = rng.chance(50) ? [Self.organiser2.publicKey] : [k.collectorA.publicKey, Self.organiser2.publicKey] }
            if u == CampaignUpdated(campaign: u.campaign) { u.title = name("Title") }
            try emit(editor(), .campaignUpdated(u), wall: wall)

        case .publish:
            try emit(editor(), .campaignPublished(CampaignRef(campaign: campaignID())), wall: wall)
        case .close:
            try emit(editor(), .campaignClosed(CampaignRef(campaign: campaignID())), wall: wall)
        case .cancel:
            try emit(editor(), .campaignCancelled(CampaignCancelled(campaign: campaignID(), reason: rng.chance(50) ? "Rained off" : nil)), wall: wall)

        case .addTier:
            let c = campaignID()
            let limit: UInt32? = rng.chance(40) ? nil : UInt32(rng.int(in: 1...3))
            let e = try emit(
                editor(),
                .tierAdded(
                    TierAdded(
                        campaign: c, title: name("Tier"), description: rng.chance(30) ? "Reward" : nil,
                        minimum: Int64(rng.int(in: 0...3_000)), limit: limit)),
                wall: wall)
            tiers.append((e.id, c))

        case .updateTier:
            let t = rng.pick(tiers)
            var u = TierUpdated(campaign: rng.chance(95) ? t.campaign : campaignID(), tier: t.id)
            if rng.chance(60) { u.limit = UInt32(rng.pick([1, 1, 1, 2, 2, 3, 4, 5])) }
            if rng.chance(30) { u.title = name("Tier") }
            if rng.chance(20) { u.description = "Better reward" }
            if rng.chance(30) { u.minimum = Int64(rng.int(in: 0...3_000)) }
            if rng.chance(30) { u.benefit = Int64(rng.int(in: 0...400)) }
            if u == TierUpdated(campaign: u.campaign, tier: u.tier) { u.limit = UInt32(rng.int(in: 1...5)) }
            // Often late in the span, after most pledges, so that a lower limit meets claimed places.
            let late = Self.start + Self.span - UInt64(rng.below(300))
            try emit(editor(), .tierUpdated(u), wall: rng.chance(50) ? late : wall)

        case .pledge:
            try pledge(wall: wall)

        case .rush:
            try rush()

        case .revise where rng.chance(40):
            let p = followUp()
            var r = PledgeRevisedV2(campaign: p.campaign, pledge: p.id)
            if rng.chance(50) {
                r.amount = amount()
                r.currency = currency(for: p.campaign)
            }
            if rng.chance(30) { r.tier = tier(for: p.campaign) }
            if rng.chance(40) || r == PledgeRevisedV2(campaign: p.campaign, pledge: p.id) { r.name = commitment() }
            try emit(rng.chance(85) ? p.author : recorder(), .pledgeRevisedV2(r), wall: after(p.wall, else: wall))

        case .erase:
            // Mostly of version-2 pledges, by an organiser or admin; sometimes of a version-1 one, or by a collector.
            let v2 = pledges.filter { v2Pledges.contains($0.id) }
            let p = !v2.isEmpty && rng.chance(85) ? rng.pick(v2) : followUp()
            let author = [k.organiser, k.founder, k.collectorA, Self.organiser2][rng.weighted([60, 15, 15, 10])]
            let slots = PartSlot.allCases.filter { _ in rng.chance(50) }
            try emit(
                author,
                .personalErased(
                    PersonalErased(
                        campaign: p.campaign, pledge: p.id, reason: rng.pick(ErasureReason.allCases),
                        slots: slots.isEmpty ? [.name] : slots)),
                wall: after(p.wall, else: wall))

        case .revise:
            let p = followUp()
            var r = PledgeRevised(campaign: p.campaign, pledge: p.id)
            if rng.chance(50) {
                r.amount = amount()
                r.currency = currency(for: p.campaign)
            }
            if rng.chance(30) { r.tier = tier(for: p.campaign) }
            if rng.chance(30) { r.backerName = name("Backer") }
            if rng.chance(20) { r.anonymous = rng.chance(50) }
            if r == PledgeRevised(campaign: p.campaign, pledge: p.id) { r.backerName = name("Backer") }
            try emit(rng.chance(85) ? p.author : recorder(), .pledgeRevised(r), wall: after(p.wall, else: wall))

        case .withdraw:
            let p = followUp()
            try emit(
                rng.chance(85) ? p.author : recorder(), .pledgeWithdrawn(PledgeRef(campaign: p.campaign, pledge: p.id)),
                wall: after(p.wall, else: wall))

        case .collect:
            let p = followUp()
            let amount: Int64 =
                switch rng.weighted([75, 15, 10]) {
                case 0: p.amount
                case 1: Int64(rng.int(in: 1...5_000))
                default: Int64.max - Int64(rng.below(1_000))
                }
            try emit(
                recorder(),
                .pledgeCollected(
                    PledgeCollected(
                        campaign: p.campaign, pledge: p.id, amount: amount, currency: currency(for: p.campaign),
                        method: rng.pick(PaymentMethod.allCases))),
                wall: after(p.wall, else: wall))

        case .reject:
            let p = followUp()
            let author = [k.organiser, k.founder, k.collectorA, Self.organiser2][rng.weighted([60, 15, 15, 10])]
            try emit(
                author, .pledgeRejected(PledgeRejected(campaign: p.campaign, pledge: p.id, reason: "Duplicate entry")),
                wall: after(p.wall, else: wall))

        case .grant, .revoke:
            let author = [k.founder, Self.admin, k.organiser, k.stranger, Self.community][rng.weighted([50, 25, 10, 5, 10])]
            let member = rng.pick(Self.people).publicKey
            let role = rng.pick(Role.allCases)
            if op == .grant {
                let expires: UInt64? = rng.chance(15) ? randomWall() : nil
                try emit(author, .roleGranted(RoleGranted(member: member, role: role, expires: expires)), wall: wall)
            } else {
                try emit(author, .roleRevoked(RoleRevoked(member: member, role: role)), wall: wall)
            }

        case .claimGiftAid:
            // Mostly by the treasurer, after the long deadline; one or two pledges of a campaign.
            let p = followUp()
            var ids = [p.id]
            if rng.chance(30), let other = pledges.first(where: { $0.campaign == p.campaign && $0.id != p.id }) { ids.append(other.id) }
            let author = rng.chance(85) ? Self.treasurer : editor()
            let when = rng.chance(80) ? Self.start + 1_000_000_000 + UInt64(rng.below(1_000)) : wall
            // A pledge's stand-in claim tag, so that claims overlap as they would.
            let tags = ids.map { Blake2b.hash32($0.bytes) }
            try emit(author, .giftAidClaimed(GiftAidClaimed(campaign: p.campaign, tags: tags)), wall: when)
            if rng.chance(30) {
                // A confirmation sent after the pledge, for the same stand-in tag.
                let sent = CivilDate(utcMs: when).adding(days: rng.below(40) - 20)
                try emit(author, .giftAidConfirmed(GiftAidConfirmed(campaign: p.campaign, tag: tags[0], sent: sent)), wall: when)
            }

        case .offer:
            matchEvents += 1
            try offer(wall: wall)

        case .accept:
            matchEvents += 1
            let o = rng.pick(offers)
            try emit(
                editor(), .matchAccepted(MatchRef(campaign: rng.chance(95) ? o.campaign : campaignID(), offer: o.id)),
                wall: after(o.wall, else: wall))

        case .withdrawOffer:
            matchEvents += 1
            let o = rng.pick(offers)
            let author = rng.chance(85) ? o.author : [Self.funder, k.organiser][rng.below(2)]
            try emit(author, .matchWithdrawn(MatchRef(campaign: o.campaign, offer: o.id)), wall: after(o.wall, else: wall))

        case .settle:
            matchEvents += 1
            try settle(wall: wall)

        case .budget:
            matchEvents += 1
            let author = rng.chance(85) ? Self.funder : rng.pick([k.organiser, k.founder, k.stranger])
            let currency = rng.chance(85) ? Self.gbp : Self.eur
            try emit(author, .funderBudget(FunderBudget(currency: currency, amount: Int64(rng.int(in: 0...40)) * 1_000)), wall: wall)
        }
    }

    /// A match offer, mostly by the funder: a factor or a lump sum, with random caps, window, filters and
    /// crowd conditions.
    mutating func offer(wall: UInt64) throws(DecodingError) {
        let k = FixedKeys.self
        let c = campaignID()
        let lump = rng.chance(25)
        var o = MatchOffered(
            campaign: c, funderName: name("Funder"), currency: currency(for: c), mode: lump ? .lumpSum : .match,
            campaignCap: Int64(rng.int(in: 1...40)) * 250)
        if !lump {
            o.factor = MatchFactor(numerator: UInt64(rng.int(in: 1...3)), denominator: UInt64(rng.int(in: 1...3)))
            if rng.chance(40) { o.pledgeCap = Int64(rng.int(in: 1...20)) * 100 }
            if rng.chance(15) {
                let from = Self.start + UInt64(rng.below(Int(Self.span)))
                o.from = from
                if rng.chance(50) { o.until = from + 1 + UInt64(rng.below(Int(Self.span))) }
            }
            if rng.chance(15) { o.tier = tier(for: c) }
            if rng.chance(15) { o.channel = rng.pick(Channel.allCases) }
        }
        if rng.chance(25) { o.minPercent = UInt64(rng.int(in: 1...60)) }
        if rng.chance(25) { o.minBackers = UInt32(rng.int(in: 1...4)) }
        let author = rng.chance(85) ? Self.funder : rng.pick([k.organiser, k.stranger])
        let e = try emit(author, .matchOffered(o), wall: wall)
        offers.append((e.id, c, author, e.hlc.wall))
    }

    /// A settlement page of an offer, mostly by its funder after its campaign's deadline, naming what the
    /// current view allocates (or random pledges of the campaign with random amounts).
    mutating func settle(wall: UInt64) throws(DecodingError) {
        let o = rng.pick(offers)
        let v = currentView()
        let state = v.partitions[o.campaign]?.campaign
        let outcome = state?.matchOutcomes[o.id]
        let lump = state?.offers[o.id]?.terms.mode == .lumpSum
        var entries: [SettledMatch] = []
        if !lump {
            if let outcome, rng.chance(80) {
                entries = outcome.pledges.filter { $0.value.status != .lateForMatch }.map { SettledMatch(pledge: $0.key, amount: $0.value.amount) }
            } else {
                entries = pledges.filter { $0.campaign == o.campaign }.prefix(3).map {
                    SettledMatch(pledge: $0.id, amount: Int64(rng.int(in: 0...500)))
                }
            }
        }
        let pages: UInt32 = rng.chance(80) ? 1 : 2
        let closes = campaigns.first { $0.id == o.campaign }?.closes ?? Self.start
        // Mostly just after a near deadline. After a far one only rarely: every later event of the funder is then
        // stamped after it too. A campaign closed by an organiser may be settled at any time.
        let near = closes < Self.start + 2 * Self.span
        let when = rng.chance(near ? 75 : 30) ? closes &+ UInt64(rng.below(1_000)) : wall
        let author = rng.chance(85) ? o.author : Self.funder
        try emit(
            author,
            .matchSettled(
                MatchSettled(
                    campaign: o.campaign, offer: o.id, page: pages == 1 ? 0 : UInt32(rng.below(2)), pages: pages,
                    entries: Array(entries.prefix(EventLimits.maxSettlementEntries)),
                    lumpSum: lump ? (rng.chance(80) ? outcome?.matched ?? 0 : Int64(rng.int(in: 0...10_000))) : nil)),
            wall: when)
    }
}
