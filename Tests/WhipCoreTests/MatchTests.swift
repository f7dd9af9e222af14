import Foundation
import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

/// A scenario with a funder (Elm Council) holding the funder role, and helpers for match events.
struct MatchScenario {
    static let funder = FixedKeys.key(0xFD)
    static let otherFunder = FixedKeys.key(0xFE)
    var s: Scenario

    init(closes: UInt64 = 1_893_456_000_000, goal: Int64? = nil, model: FundingModel? = nil) {
        s = Scenario(closes: closes)
        s.events.append(s.make(K.founder, .roleGranted(RoleGranted(member: Self.funder.publicKey, role: .funder))))
        s.events.append(s.make(K.founder, .roleGranted(RoleGranted(member: Self.otherFunder.publicKey, role: .funder))))
        if goal != nil || model != nil {
            var u = CampaignUpdated(campaign: s.campaign)
            u.goal = goal
            u.model = model
            s.events.append(s.make(K.organiser, .campaignUpdated(u)))
        }
    }

    var campaign: EventID { s.campaign }

    func offerBody(
        factor: (UInt64, UInt64) = (1, 1), cap: Int64 = 100_000, pledgeCap: Int64? = nil, mode: MatchMode = .match,
        edit: (inout MatchOffered) -> Void = { _ in }
    ) -> EventBody {
        var o = MatchOffered(campaign: campaign, funderName: "Elm Council", currency: gbp, mode: mode, campaignCap: cap)
        if mode == .match {
            o.factor = MatchFactor(numerator: factor.0, denominator: factor.1)
            o.pledgeCap = pledgeCap
        }
        edit(&o)
        return .matchOffered(o)
    }

    /// Adds an accepted offer; returns the offer event.
    mutating func acceptedOffer(
        factor: (UInt64, UInt64) = (1, 1), cap: Int64 = 100_000, pledgeCap: Int64? = nil, mode: MatchMode = .match,
        edit: (inout MatchOffered) -> Void = { _ in }
    ) -> Event {
        let o = s.make(Self.funder, offerBody(factor: factor, cap: cap, pledgeCap: pledgeCap, mode: mode, edit: edit))
        s.events.append(o)
        s.events.append(s.make(K.organiser, .matchAccepted(MatchRef(campaign: campaign, offer: o.id))))
        return o
    }

    /// Adds a pledge by collector A; returns it.
    mutating func pledge(_ name: String, _ pence: Int64, tier: EventID? = nil) -> Event {
        let p = s.make(K.collectorA, s.pledge(name, pence, tier: tier))
        s.events.append(p)
        return p
    }

    func outcome(_ offer: Event, _ extra: [Event] = []) -> OfferOutcome? { s.campaign(extra)?.matchOutcomes[offer.id] }

    func match(_ offer: Event, _ pledge: Event, _ extra: [Event] = []) -> PledgeMatch? { outcome(offer, extra)?.pledges[pledge.id] }
}

@Suite("Match funding: bodies and limits", .timeLimit(.minutes(10)))
struct MatchCodecTests {
    let m = MatchScenario()

    func roundTrip(_ body: EventBody) throws -> EventBody {
        let e = Event.sign(community: K.community.publicKey, author: MatchScenario.funder, hlc: HLC(wall: 1_798_761_700_000), body: body)
        return try Event.decode(wire: e.wire).body
    }

    func code(_ kind: EventKind, _ fields: [(UInt64, CBOR)]) -> String {
        decodeCode(Forge.wire(Forge.payload(author: MatchScenario.funder, kind: kind.rawValue, body: .map(fields)), by: MatchScenario.funder))
    }

    var offerFields: [(UInt64, CBOR)] {
        [
            (0, .bytes(m.campaign.bytes)), (1, .text("Elm Council")), (2, .text("GBP")), (3, .unsigned(1)),
            (4, .array([.unsigned(1), .unsigned(1)])), (6, .unsigned(50_000)),
        ]
    }

    @Test func everyKindRoundTrips() throws {
        let full = m.offerBody(pledgeCap: 2_500) {
            $0.from = 1_798_761_600_000
            $0.until = 1_798_900_000_000
            $0.tier = m.s.tier
            $0.channel = .online
            $0.minPercent = 25
            $0.minBackers = 10
        }
        let bodies: [EventBody] = [
            full, m.offerBody(mode: .lumpSum),
            .matchAccepted(MatchRef(campaign: m.campaign, offer: m.s.tier)),
            .matchWithdrawn(MatchRef(campaign: m.campaign, offer: m.s.tier)),
            .matchSettled(
                MatchSettled(campaign: m.campaign, offer: m.s.tier, page: 1, pages: 2, entries: [SettledMatch(pledge: m.campaign, amount: 0)])),
            .matchSettled(MatchSettled(campaign: m.campaign, offer: m.s.tier, lumpSum: 30_000)),
        ]
        for b in bodies { #expect(try roundTrip(b) == b) }
    }

    @Test func offerLimits() {
        #expect(code(.matchOffered, offerFields) == "ok")
        func with(_ key: UInt64, _ v: CBOR?) -> [(UInt64, CBOR)] {
            var f = offerFields.filter { $0.0 != key }
            if let v { f.append((key, v)) }
            return f.sorted { $0.0 < $1.0 }
        }
        #expect(code(.matchOffered, with(4, .array([.unsigned(0), .unsigned(1)]))) == "decode.out_of_range")
        #expect(code(.matchOffered, with(4, .array([.unsigned(1001), .unsigned(1000)]))) == "decode.out_of_range")
        #expect(code(.matchOffered, with(4, .array([.unsigned(11), .unsigned(1)]))) == "decode.out_of_range")
        #expect(code(.matchOffered, with(4, .array([.unsigned(10), .unsigned(1)]))) == "ok")
        #expect(code(.matchOffered, with(4, .array([.unsigned(1)]))) == "decode.bad_type")
        #expect(code(.matchOffered, with(4, nil)) == "decode.missing_field")
        #expect(code(.matchOffered, with(6, .unsigned(0))) == "decode.not_positive")
        #expect(code(.matchOffered, with(5, .unsigned(0))) == "decode.not_positive")
        #expect(code(.matchOffered, with(11, .unsigned(0))) == "decode.non_canonical")
        #expect(code(.matchOffered, with(11, .unsigned(101))) == "decode.out_of_range")
        #expect(code(.matchOffered, with(11, .unsigned(100))) == "ok")
        #expect(code(.matchOffered, with(12, .unsigned(0))) == "decode.non_canonical")
        #expect(code(.matchOffered, with(3, .unsigned(3))) == "decode.bad_enum")
        #expect(code(.matchOffered, with(1, .text(String(repeating: "x", count: 201)))) == "decode.too_long")
        let window = with(7, .unsigned(2_000)).filter { $0.0 != 8 } + [(8, .unsigned(2_000))]
        #expect(code(.matchOffered, window) == "decode.bad_dates")
        // Lump sums take no factor, cap per pledge, window or filter.
        let lump = with(3, .unsigned(2)).filter { $0.0 != 4 }
        #expect(code(.matchOffered, lump) == "ok")
        #expect(code(.matchOffered, with(3, .unsigned(2))) == "decode.unknown_field")
        #expect(code(.matchOffered, (lump + [(10, .unsigned(1))]).sorted { $0.0 < $1.0 }) == "decode.unknown_field")
        #expect(code(.matchOffered, offerFields + [(13, .unsigned(1))]) == "decode.unknown_field")
    }

    @Test func settlementLimits() throws {
        let base: [(UInt64, CBOR)] = [(0, .bytes(m.campaign.bytes)), (1, .bytes(m.s.tier.bytes)), (2, .unsigned(0)), (3, .unsigned(1))]
        #expect(code(.matchSettled, base) == "ok")
        func entries(_ n: Int, sorted: Bool = true) -> CBOR {
            var ids = (0..<n).map { i in [UInt8](repeating: 0, count: 30) + [UInt8(i >> 8), UInt8(i & 0xff)] }
            if !sorted { ids.reverse() }
            return .array(ids.map { .array([.bytes($0), .unsigned(UInt64.max >> 1)]) })
        }
        #expect(code(.matchSettled, base + [(4, entries(2, sorted: false))]) == "decode.non_canonical")
        #expect(code(.matchSettled, base + [(4, .array([]))]) == "decode.bad_type")
        #expect(code(.matchSettled, base + [(4, entries(EventLimits.maxSettlementEntries + 1))]) == "decode.too_long")
        #expect(code(.matchSettled, base + [(4, entries(1)), (5, .unsigned(1))]) == "decode.unknown_field")
        let page2of2: [(UInt64, CBOR)] = Array(base.prefix(2)) + [(2, .unsigned(2)), (3, .unsigned(2))]
        #expect(code(.matchSettled, page2of2) == "decode.out_of_range")
        let noPages: [(UInt64, CBOR)] = Array(base.prefix(3)) + [(3, .unsigned(0))]
        #expect(code(.matchSettled, noPages) == "decode.out_of_range")
        // A full page with the largest amounts fits in one event.
        let full = Forge.wire(
            Forge.payload(
                author: MatchScenario.funder, kind: EventKind.matchSettled.rawValue,
                body: .map(base + [(4, entries(EventLimits.maxSettlementEntries))])),
            by: MatchScenario.funder)
        #expect(full.count <= EventLimits.maxEventBytes)
        #expect(decodeCode(full) == "ok")
    }

    @Test func factorFloorsAndNeverOverflows() {
        #expect(MatchFactor(numerator: 1, denominator: 2).apply(1_001) == 500)
        #expect(MatchFactor(numerator: 2, denominator: 3).apply(100) == 66)
        #expect(MatchFactor(numerator: 10, denominator: 1).apply(Int64.max) == Int64.max)
        #expect(MatchFactor(numerator: 1, denominator: 1).apply(0) == 0)
    }

    @Test func funderRoleIsGrantedByAdmins() {
        #expect(Role(name: "funder") == .funder)
        #expect(Role.funder.rawValue == 4)
        var s = Scenario()
        let byCollector = s.make(K.collectorA, .roleGranted(RoleGranted(member: K.stranger.publicKey, role: .funder)))
        let byFounder = s.make(K.founder, .roleGranted(RoleGranted(member: K.stranger.publicKey, role: .funder)))
        let st = s.state([byCollector, byFounder])
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(byFounder) == "applied")
    }
}

@Suite("Match funding: rules and allocation", .timeLimit(.minutes(10)))
struct MatchRuleTests {
    @Test func onlyFundersOfferAndOnlyOrganisersAccept() {
        var m = MatchScenario()
        let byCollector = m.s.make(K.collectorA, m.offerBody())
        let offer = m.s.make(MatchScenario.funder, m.offerBody())
        let acceptByCollector = m.s.make(K.collectorA, .matchAccepted(MatchRef(campaign: m.campaign, offer: offer.id)))
        let accept = m.s.make(K.organiser, .matchAccepted(MatchRef(campaign: m.campaign, offer: offer.id)))
        let again = m.s.make(K.organiser, .matchAccepted(MatchRef(campaign: m.campaign, offer: offer.id)))
        let unknown = m.s.make(K.organiser, .matchAccepted(MatchRef(campaign: m.campaign, offer: byCollector.id)))
        let st = m.s.state([byCollector, offer, acceptByCollector, accept, again, unknown])
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(offer) == "applied")
        #expect(st.code(acceptByCollector) == "unauthorised")
        #expect(st.code(accept) == "applied")
        #expect(st.code(again) == "already_accepted")
        #expect(st.code(unknown) == "unknown_offer")
    }

    @Test func anOfferCountsOnlyOnceAccepted() {
        var m = MatchScenario()
        let offer = m.s.make(MatchScenario.funder, m.offerBody())
        m.s.events.append(offer)
        let p = m.pledge("Ann", 1_000)
        #expect(m.outcome(offer)?.status == .pending)
        #expect(m.s.campaign([])?.matched == 0)
        let accept = m.s.make(K.organiser, .matchAccepted(MatchRef(campaign: m.campaign, offer: offer.id)))
        #expect(m.match(offer, p, [accept]) == PledgeMatch(amount: 1_000, status: .matched))
        #expect(m.s.campaign([accept])?.matched == 1_000)
        #expect(m.outcome(offer, [accept])?.provisional == true)
    }

    @Test func offersMustMatchTheCampaign() {
        var m = MatchScenario()
        let euro = m.s.make(
            MatchScenario.funder,
            .matchOffered(MatchOffered(campaign: m.campaign, funderName: "Elm Council", currency: eur, mode: .lumpSum, campaignCap: 1)))
        let badTier = m.s.make(MatchScenario.funder, m.offerBody { $0.tier = m.campaign })
        let st = m.s.state([euro, badTier])
        #expect(st.code(euro) == "currency_mismatch")
        #expect(st.code(badTier) == "unknown_tier")
    }

    @Test func capsGiveMatchedPartMatchedAndCapReached() {
        var m = MatchScenario()
        let offer = m.acceptedOffer(factor: (1, 2), cap: 1_500, pledgeCap: 800)
        let a = m.pledge("Ann", 1_000)  // wants 500
        let b = m.pledge("Bob", 2_000)  // wants 1,000, capped to 800
        let c = m.pledge("Cat", 1_000)  // wants 500, 200 left
        let d = m.pledge("Dan", 1_000)  // nothing left
        let e = m.pledge("Eve", 1)  // half a penny floors to 0
        #expect(m.match(offer, a) == PledgeMatch(amount: 500, status: .matched))
        #expect(m.match(offer, b) == PledgeMatch(amount: 800, status: .matched))
        #expect(m.match(offer, c) == PledgeMatch(amount: 200, status: .partMatched))
        #expect(m.match(offer, d) == PledgeMatch(amount: 0, status: .capReached))
        #expect(m.match(offer, e) == PledgeMatch(amount: 0, status: .tooSmall))
        #expect(m.outcome(offer)?.matched == 1_500)
        // A withdrawn pledge frees its cap for the next one.
        let w = m.s.make(K.collectorA, m.s.withdraw(b))
        #expect(m.match(offer, c, [w]) == PledgeMatch(amount: 500, status: .matched))
        #expect(m.match(offer, d, [w]) == PledgeMatch(amount: 500, status: .matched))
        #expect(m.match(offer, b, [w]) == nil)
        // So does a reduced one.
        let r = m.s.make(K.collectorA, m.s.revise(a, amount: 200))
        #expect(m.match(offer, a, [r]) == PledgeMatch(amount: 100, status: .matched))
        #expect(m.match(offer, c, [r]) == PledgeMatch(amount: 500, status: .matched))
        #expect(m.match(offer, d, [r]) == PledgeMatch(amount: 100, status: .partMatched))
    }

    @Test func matchingFollowsSignedTimestampCounterThenId() {
        var m = MatchScenario()
        let offer = m.acceptedOffer(cap: 1_000)
        let t = HLC(wall: m.s.factory.now + 10, counter: 3)
        // Collector B's pledge is stamped one counter earlier though made later.
        let late = m.s.factory.make(K.collectorA, m.s.pledge("Ann", 1_000), at: HLC(wall: t.wall, counter: 4))
        let early = m.s.factory.make(K.collectorB, m.s.pledge("Bob", 1_000), at: t)
        let st = m.s.campaign([late, early])!.matchOutcomes[offer.id]!
        #expect(st.pledges[early.id]?.status == .matched)
        #expect(st.pledges[late.id]?.status == .capReached)
        // Same stamp: the lower pledge id goes first.
        let x = m.s.factory.make(K.collectorA, m.s.pledge("Cat", 1_000), at: HLC(wall: t.wall + 1))
        let y = m.s.factory.make(K.collectorB, m.s.pledge("Dan", 1_000), at: HLC(wall: t.wall + 1))
        let (first, second) = x.id < y.id ? (x, y) : (y, x)
        var m2 = MatchScenario()
        let offer2 = m2.acceptedOffer(cap: 1_000)
        let o2 = m2.s.campaign([x, y])!.matchOutcomes[offer2.id]!
        #expect(o2.pledges[first.id]?.status == .matched)
        #expect(o2.pledges[second.id]?.status == .capReached)
    }

    @Test func crowdThresholdNeverCountsTheMatch() {
        var m = MatchScenario()  // goal £5,000
        let offer = m.acceptedOffer(cap: 1_000_000) {
            $0.minPercent = 25  // £1,250 from the crowd
            $0.minBackers = 2
        }
        let a = m.pledge("Ann", 100_000)  // £1,000: below 25 %
        #expect(m.match(offer, a) == PledgeMatch(amount: 0, status: .beforeThreshold))
        #expect(m.outcome(offer)?.status == .conditionsNotMet)
        let b = m.pledge("Bob", 25_000)  // crowd £1,250 from 2 backers: unlocks, this pledge included
        let c = m.pledge("Cat", 1_000)
        #expect(m.match(offer, a) == PledgeMatch(amount: 0, status: .beforeThreshold))
        #expect(m.match(offer, b) == PledgeMatch(amount: 25_000, status: .matched))
        #expect(m.match(offer, c) == PledgeMatch(amount: 1_000, status: .matched))
        #expect(m.outcome(offer)?.status == .open)
        #expect(m.s.campaign([])?.pledged == 126_000)
    }

    @Test func windowTierAndChannelFilters() {
        var m = MatchScenario()
        let start = m.s.factory.now + 100
        let windowed = m.acceptedOffer { $0.from = start }
        let tier = m.s.tier
        let tiered = m.acceptedOffer { $0.tier = tier }
        let online = m.acceptedOffer { $0.channel = .online }
        let before = m.pledge("Ann", 5_000)
        m.s.factory.tick(200)
        let inTier = m.pledge("Bob", 5_000, tier: tier)
        #expect(m.match(windowed, before)?.status == .outsideWindow)
        #expect(m.match(windowed, inTier)?.status == .matched)
        #expect(m.match(tiered, before)?.status == .otherTier)
        #expect(m.match(tiered, inTier)?.status == .matched)
        #expect(m.match(online, before)?.status == .otherChannel)
        #expect(m.s.campaign([])?.matched == 10_000)  // both in person: the online-only offer matches neither
    }

    @Test func withdrawalIsProspective() throws {
        var m = MatchScenario()
        let offer = m.acceptedOffer()
        let before = m.pledge("Ann", 1_000)
        let byOther = m.s.make(MatchScenario.otherFunder, .matchWithdrawn(MatchRef(campaign: m.campaign, offer: offer.id)))
        let w = m.s.make(MatchScenario.funder, .matchWithdrawn(MatchRef(campaign: m.campaign, offer: offer.id)))
        m.s.events += [byOther, w]
        let after = m.pledge("Bob", 1_000)
        let again = m.s.make(MatchScenario.funder, .matchWithdrawn(MatchRef(campaign: m.campaign, offer: offer.id)))
        let st = m.s.state([again])
        #expect(st.code(byOther) == "not_author")
        #expect(st.code(w) == "applied")
        #expect(st.code(again) == "offer_withdrawn")
        #expect(m.match(offer, before) == PledgeMatch(amount: 1_000, status: .matched))
        #expect(m.match(offer, after) == PledgeMatch(amount: 0, status: .afterWithdrawal))
        #expect(m.outcome(offer)?.status == .withdrawn)
        // A withdrawn offer can no longer be accepted.
        var m2 = MatchScenario()
        let o2 = m2.s.make(MatchScenario.funder, m2.offerBody())
        let w2 = m2.s.make(MatchScenario.funder, .matchWithdrawn(MatchRef(campaign: m2.campaign, offer: o2.id)))
        let acc = m2.s.make(K.organiser, .matchAccepted(MatchRef(campaign: m2.campaign, offer: o2.id)))
        #expect(m2.s.state([o2, w2, acc]).code(acc) == "offer_withdrawn")
        // Nor is it shown as waiting for an organiser.
        let never = try #require(m2.s.campaign([o2, w2, acc])?.matchOutcomes[o2.id])
        #expect(never.status == .withdrawn && never.matched == 0 && never.pledges.isEmpty)
    }

    @Test func matchCountsTowardsTheGoal() {
        var m = MatchScenario(goal: 10_000)
        _ = m.acceptedOffer(cap: 4_000)
        _ = m.pledge("Ann", 6_000)
        let c = m.s.campaign([])!
        #expect(c.pledged == 6_000)
        #expect(c.matched == 4_000)
        #expect(c.funded)
        #expect(c.standing(now: c.closes) == .closedFunded)
        // Without the offer the crowd alone fails.
        var bare = MatchScenario(goal: 10_000)
        _ = bare.pledge("Ann", 6_000)
        #expect(bare.s.campaign([])!.standing(now: c.closes) == .closedUnfunded)
    }

    @Test func lumpSumIsPaidWhenCrowdConditionsHold() {
        var m = MatchScenario(goal: 10_000)
        let lump = m.acceptedOffer(cap: 3_000, mode: .lumpSum) {
            $0.minPercent = 50
            $0.minBackers = 2
        }
        _ = m.pledge("Ann", 6_000)
        #expect(m.outcome(lump)?.status == .conditionsNotMet)
        #expect(m.outcome(lump)?.matched == 0)
        _ = m.pledge("Bob", 100)
        #expect(m.outcome(lump)?.status == .open)
        #expect(m.outcome(lump)?.matched == 3_000)
        #expect(m.outcome(lump)?.pledges.isEmpty == true)
        #expect(m.s.campaign([])!.funded == false)  // 6,100 + 3,000 < 10,000
    }

    @Test func cancelledCampaignPaysNothing() {
        var m = MatchScenario()
        let offer = m.acceptedOffer()
        _ = m.pledge("Ann", 1_000)
        let cancel = m.s.make(K.organiser, .campaignCancelled(CampaignCancelled(campaign: m.campaign)))
        #expect(m.outcome(offer, [cancel])?.status == .cancelled)
        #expect(m.s.campaign([cancel])?.matched == 0)
    }

    @Test func noOfferAfterTheClose() {
        var m = MatchScenario()
        let close = m.s.make(K.organiser, .campaignClosed(CampaignRef(campaign: m.campaign)))
        let offer = m.s.make(MatchScenario.funder, m.offerBody())
        #expect(m.s.state([close, offer]).code(offer) == "closed")
    }

    @Test func failedAllOrNothingCampaignPaysNoMatch() throws {
        let closes = 1_798_761_700_000 as UInt64
        var m = MatchScenario(closes: closes, goal: 10_000)
        let offer = m.acceptedOffer(cap: 3_000)
        let lump = m.acceptedOffer(cap: 1_000, mode: .lumpSum)
        let ann = m.pledge("Ann", 2_000)
        // An offline pledge stamped before the close, delivered later.
        let offline = m.s.make(K.collectorB, m.s.pledge("Cat", 5_000))
        // Before the close a campaign short of its goal is live: its match counts and shows.
        #expect(m.outcome(offer)?.status == .open)
        #expect(m.s.campaign([])?.matched == 3_000)  // 2,000 matched + the 1,000 lump
        // Closed by an organiser, 2,000 + 3,000 short of 10,000: nothing is matched and the reservation is freed,
        // in the derived state itself, whatever the time of reading.
        let close = m.s.make(K.organiser, .campaignClosed(CampaignRef(campaign: m.campaign)))
        let c = try #require(m.s.campaign([close]))
        let failed = try #require(c.matchOutcomes[offer.id])
        #expect(failed.status == .failed && failed.matched == 0 && failed.pledges == [ann.id: PledgeMatch(amount: 0, status: .campaignFailed)])
        let failedLump = try #require(c.matchOutcomes[lump.id])
        #expect(failedLump.status == .failed && failedLump.matched == 0 && failedLump.pledges.isEmpty)
        #expect(c.matched == 0 && !c.funded && c.matchOutcomes[offer.id]?.provisional == true)
        // Without a close event, an event stamped at or after the deadline shows the close just as well.
        m.s.factory.now = closes
        let late = m.s.make(K.collectorA, m.s.pledge("Bob", 100))
        #expect(m.outcome(offer, [late])?.status == .failed)
        #expect(m.s.state([late]).campaign(m.campaign)?.pledges[late.id]?.status == .late)
        // A rejected event stamped after the deadline shows nothing: only applied events count.
        let stranger = m.s.make(K.stranger, .campaignClosed(CampaignRef(campaign: m.campaign)))
        #expect(m.outcome(offer, [stranger])?.status == .open)
        // A keep-what-you-raise campaign never fails this way.
        var kwyr = MatchScenario(closes: closes, goal: 10_000, model: .keepWhatYouRaise)
        let kOffer = kwyr.acceptedOffer(cap: 3_000)
        _ = kwyr.pledge("Ann", 2_000)
        #expect(kwyr.outcome(kOffer, [kwyr.s.make(K.organiser, .campaignClosed(CampaignRef(campaign: kwyr.campaign)))])?.matched == 2_000)
        // The offline pledge arrives: 7,000 + 3,000 + 1,000 reaches the goal, so the match stands again.
        let saved = try #require(m.s.campaign([close, offline]))
        #expect(saved.matchOutcomes[offer.id]?.status == .open)
        #expect(saved.matched == 4_000 && saved.funded)
    }

    @Test func settlementFreezesTheAllocation() {
        let closes = 1_798_761_700_000 as UInt64
        // Keep-what-you-raise, so that the crowd's 3,000 is a success and the settlement stands.
        var m = MatchScenario(closes: closes, model: .keepWhatYouRaise)
        let offer = m.acceptedOffer(cap: 1_500)
        let a = m.pledge("Ann", 1_000)
        let b = m.pledge("Bob", 1_000)
        let early = m.s.make(
            MatchScenario.funder,
            .matchSettled(MatchSettled(campaign: m.campaign, offer: offer.id, entries: [SettledMatch(pledge: a.id, amount: 1_000)])))
        #expect(m.s.state([early]).code(early) == "not_closed")
        // An offline pledge stamped before the close, not yet seen by the funder.
        let offline = m.s.make(K.collectorB, m.s.pledge("Cat", 1_000))
        m.s.factory.now = closes + 1_000
        let entries = [SettledMatch(pledge: a.id, amount: 1_000), SettledMatch(pledge: b.id, amount: 500)]
        let page0 = m.s.make(
            MatchScenario.funder, .matchSettled(MatchSettled(campaign: m.campaign, offer: offer.id, page: 0, pages: 2, entries: [entries[0]])))
        let page1 = m.s.make(
            MatchScenario.funder, .matchSettled(MatchSettled(campaign: m.campaign, offer: offer.id, page: 1, pages: 2, entries: [entries[1]])))
        // Half the pages: still provisional.
        #expect(m.outcome(offer, [page0])?.status == .open)
        let st = m.s.state([page0, page1, offline])
        #expect(st.code(page1) == "applied")
        let o = st.campaign(m.campaign)!.matchOutcomes[offer.id]!
        #expect(o.status == .settled)
        #expect(!o.provisional)
        #expect(o.pledges[a.id] == PledgeMatch(amount: 1_000, status: .matched))
        #expect(o.pledges[b.id] == PledgeMatch(amount: 500, status: .partMatched))
        #expect(o.pledges[offline.id] == PledgeMatch(amount: 0, status: .lateForMatch))
        #expect(o.matched == 1_500)
        // Without the settlement the offline pledge would have moved the provisional allocation.
        #expect(m.match(offer, offline, [offline])?.status == .capReached)
        #expect(m.outcome(offer, [offline])?.provisional == true)
        // Duplicated pages, wrong page counts, caps and modes are refused.
        let dup = m.s.make(MatchScenario.funder, .matchSettled(MatchSettled(campaign: m.campaign, offer: offer.id, page: 1, pages: 2)))
        let wrongPages = m.s.make(MatchScenario.funder, .matchSettled(MatchSettled(campaign: m.campaign, offer: offer.id, page: 2, pages: 3)))
        let byOther = m.s.make(MatchScenario.otherFunder, .matchSettled(MatchSettled(campaign: m.campaign, offer: offer.id)))
        let lump = m.s.make(MatchScenario.funder, .matchSettled(MatchSettled(campaign: m.campaign, offer: offer.id, lumpSum: 1)))
        let st2 = m.s.state([page0, page1, dup, wrongPages, byOther, lump])
        #expect(st2.code(dup) == "already_settled")
        #expect(st2.code(wrongPages) == "settlement_mismatch")
        #expect(st2.code(byOther) == "not_author")
        #expect(st2.code(lump) == "settlement_mismatch")
    }

    @Test func settlementsStayWithinTheOffer() {
        let closes = 1_798_761_700_000 as UInt64
        var m = MatchScenario(closes: closes)
        let offer = m.acceptedOffer(factor: (1, 2), cap: 600)
        let pending = m.s.make(MatchScenario.funder, m.offerBody())
        m.s.events.append(pending)
        let a = m.pledge("Ann", 1_000)
        let b = m.pledge("Bob", 1_000)
        m.s.factory.now = closes
        func settle(_ o: Event, _ e: [SettledMatch]) -> Event {
            m.s.make(MatchScenario.funder, .matchSettled(MatchSettled(campaign: m.campaign, offer: o.id, entries: e)))
        }
        let aboveFactor = settle(offer, [SettledMatch(pledge: a.id, amount: 501)])
        let aboveCap = settle(offer, [SettledMatch(pledge: a.id, amount: 500), SettledMatch(pledge: b.id, amount: 500)])
        let unknown = settle(offer, [SettledMatch(pledge: m.campaign, amount: 1)])
        let notAccepted = settle(pending, [])
        let st = m.s.state([aboveFactor, aboveCap, unknown, notAccepted])
        #expect(st.code(aboveFactor) == "over_cap")
        #expect(st.code(aboveCap) == "over_cap")
        #expect(st.code(unknown) == "unknown_pledge")
        #expect(st.code(notAccepted) == "not_accepted")
    }

    @Test func campaignsWithoutOffersKeepTheirDigest() {
        // The digest of a campaign without offers is computed exactly as before match funding: the same
        // event set gives the same partition digest whether or not a rejected offer sits beside it.
        var m = MatchScenario()
        _ = m.pledge("Ann", 1_000)
        let before = m.s.state([])
        let c = before.campaign(m.campaign)!
        #expect(
            StateDigest.partition(before.partitions[m.campaign]!)
                == StateDigest.partition(campaign: c, sums: StateDigest.sums(before.partitions[m.campaign]!)))
        let offer = m.s.make(MatchScenario.funder, m.offerBody())
        let after = m.s.state([offer])
        #expect(StateDigest.partition(after.partitions[m.campaign]!) != StateDigest.partition(before.partitions[m.campaign]!))
    }
}

@Suite("Match funding: convergence", .timeLimit(.minutes(10)))
struct MatchPropertyTests {
    /// A random campaign with funders, offers, acceptances, withdrawals, pledges by two collectors (some
    /// revised, withdrawn or rejected), a close and a settlement that may miss late offline pledges.
    static func events(seed: UInt64) -> [Event] {
        var g = SplitMix64(seed: seed)
        let closes: UInt64 = 1_798_761_600_000 + 5_000
        var m = MatchScenario(closes: closes, goal: Int64(g.int(in: 1...40)) * 1_000, model: g.chance(50) ? .allOrNothing : .keepWhatYouRaise)
        var offers: [Event] = []
        for _ in 0..<g.int(in: 1...3) {
            let mode: MatchMode = g.chance(75) ? .match : .lumpSum
            let funder = g.chance(80) ? MatchScenario.funder : MatchScenario.otherFunder
            let body = m.offerBody(
                factor: (UInt64(g.int(in: 1...3)), UInt64(g.int(in: 1...3))), cap: Int64(g.int(in: 1...20)) * 500,
                pledgeCap: mode == .match && g.chance(50) ? Int64(g.int(in: 1...10)) * 200 : nil, mode: mode
            ) { o in
                if g.chance(30) { o.minPercent = UInt64(g.int(in: 1...60)) }
                if g.chance(30) { o.minBackers = UInt32(g.int(in: 1...4)) }
                if o.mode == .match, g.chance(20) { o.channel = .inPerson }
                if o.mode == .match, g.chance(20) { o.tier = m.s.tier }
            }
            let o = m.s.make(funder, body)
            offers.append(o)
            m.s.events.append(o)
            if g.chance(85) { m.s.events.append(m.s.make(K.organiser, .matchAccepted(MatchRef(campaign: m.campaign, offer: o.id)))) }
        }
        var pledges: [Event] = []
        for i in 0..<g.int(in: 0...14) {
            let who = g.chance(50) ? K.collectorA : K.collectorB
            let p = m.s.make(who, m.s.pledge("Backer \(i)", Int64(g.int(in: 1...40)) * 250, tier: g.chance(30) ? m.s.tier : nil))
            m.s.events.append(p)
            pledges.append(p)
            if g.chance(15), let o = g.chance(50) ? offers.first : nil {
                m.s.events.append(m.s.make(MatchScenario.funder, .matchWithdrawn(MatchRef(campaign: m.campaign, offer: o.id))))
            }
            if g.chance(20), let q = pledges.last {
                let author = q.author == K.collectorA.publicKey ? K.collectorA : K.collectorB
                let body = g.chance(50) ? m.s.withdraw(q) : m.s.revise(q, amount: Int64(g.int(in: 1...40)) * 250)
                m.s.events.append(m.s.make(author, body))
            }
            if g.chance(8), let q = pledges.first { m.s.events.append(m.s.make(K.organiser, m.s.reject(q))) }
        }
        // Offline pledges stamped before the close that the funder will not see before settling.
        var offline: [Event] = []
        for i in 0..<g.int(in: 0...2) { offline.append(m.s.make(K.collectorB, m.s.pledge("Offline \(i)", 1_000))) }
        m.s.factory.now = closes + 10
        if g.chance(70) {
            let c = m.s.campaign([])!
            for o in offers where c.offers[o.id]?.accepted == true && o.author == MatchScenario.funder.publicKey {
                let outcome = c.matchOutcomes[o.id]!
                let entries = outcome.pledges.filter { $0.value.status.passedFiltersForTests }.map {
                    SettledMatch(pledge: $0.key, amount: $0.value.amount)
                }
                .sorted { $0.pledge < $1.pledge }
                let pageSize = g.int(in: 1...4)
                let pages = max(1, (entries.count + pageSize - 1) / pageSize)
                for page in 0..<pages {
                    let slice = Array(entries.dropFirst(page * pageSize).prefix(pageSize))
                    let body = MatchSettled(
                        campaign: m.campaign, offer: o.id, page: UInt32(page), pages: UInt32(pages), entries: slice,
                        lumpSum: c.offers[o.id]!.terms.mode == .lumpSum ? outcome.matched : nil)
                    m.s.events.append(m.s.make(MatchScenario.funder, .matchSettled(body)))
                }
            }
        }
        return m.s.events + offline
    }

    @Test(arguments: 0..<4)
    func anyOrderDuplicatesAndPartialDeliveryGiveTheSameMatches(shard: Int) {
        var checked = 0
        var settledOffers = 0
        var withMatches = 0
        var failedCampaigns = 0
        for index in stride(from: shard, to: 200, by: 4) {
            let seed = SplitMix64.seed(base: 0x4D41_5443_4821, index: UInt64(index))
            let events = Self.events(seed: seed)
            let reference = derive(events)
            let expected = Snapshot(reference)
            var g = SplitMix64(seed: seed ^ 0xA5A5)
            func same(_ what: String, _ input: [Event]) {
                let got = Snapshot(derive(input))
                #expect(got == expected, "seed \(PropertyRun.hex(seed)): \(what): \(got.difference(from: expected))")
            }
            same("a random permutation", g.shuffled(events))
            same("the reverse order", events.reversed())
            same("with duplicates", g.shuffled(events + events.prefix(g.int(in: 0...events.count))))
            // Partial delivery, then the rest.
            let order = g.shuffled(events)
            let cut = g.below(order.count + 1)
            let partial = derive(Array(order[..<cut]))
            #expect(partial.digest == derive(g.shuffled(Array(order[..<cut]))).digest)
            same("a part, then the rest", Array(order[..<cut]) + Array(order[cut...]))
            for c in reference.campaigns {
                // Never silent: every active pledge has a status from every accepted match offer.
                for (id, o) in c.offers where o.accepted && o.terms.mode == .match && c.phase != .cancelled {
                    let r = c.matchOutcomes[id]!
                    #expect(Set(r.pledges.keys) == Set(c.pledges.values.filter(\.counts).map(\.id)))
                    #expect(r.matched <= o.terms.campaignCap)
                    for (pid, pm) in r.pledges { #expect(pm.amount <= o.bound(c.pledges[pid]!.amount)) }
                    if r.status == .settled { settledOffers += 1 }
                }
                if c.matched > 0 { withMatches += 1 }
                // A failed all-or-nothing campaign pays no match from any offer, and is not funded.
                if c.matchOutcomes.values.contains(where: { $0.status == .failed }) {
                    #expect(c.model == .allOrNothing && c.matched == 0 && !c.funded)
                    #expect(
                        c.matchOutcomes.values.allSatisfy { $0.status == .failed && $0.pledges.values.allSatisfy { $0.status == .campaignFailed } })
                    failedCampaigns += 1
                }
            }
            checked += 1
        }
        #expect(checked == 50)
        // The generator reaches the interesting cases.
        #expect(settledOffers > 0)
        #expect(withMatches > 0)
        #expect(failedCampaigns > 0)
    }
}

extension PledgeMatchStatus {
    /// Statuses a funder settles (the pledge passed the offer's filters).
    var passedFiltersForTests: Bool {
        switch self {
        case .matched, .partMatched, .capReached, .beforeThreshold, .tooSmall: true
        default: false
        }
    }
}

@Suite("Match funding: vectors", .timeLimit(.minutes(10)))
struct MatchVectorTests {
    struct NotInVectors: Error { let what: String }

    func id(_ v: Any?) throws -> EventID {
        guard let hex = v as? String, let id = EventID(hex: hex) else { throw NotInVectors(what: "an id") }
        return id
    }

    /// The independent Python matcher's per-pledge outcome for the vector set is the Swift one.
    @Test func matchesAgreeWithThePythonGenerator() throws {
        let url = try #require(Bundle.module.url(forResource: "events", withExtension: "json", subdirectory: "Vectors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let file = try VectorTests.load()
        let events = try file.events.map { try Event.decode(wire: try VectorTests.raw($0.wire)) }
        #expect(Set(events.map(\.kind)).isSuperset(of: [.matchOffered, .matchAccepted, .matchWithdrawn, .matchSettled]))
        let community = try #require(PublicKey(bytes: try VectorTests.raw(file.digest.community)))
        let state = CommunityState(community: community, events: events)
        let partitions = (json?["digest"] as? [String: Any])?["partitions"] as? [[String: Any]] ?? []
        var compared = 0
        for p in partitions {
            guard let s = p["state"] as? [String: Any], let matches = s["matches"] as? [[String: Any]] else { continue }
            let c = try #require(state.campaign(try id(p["campaign"])))
            for m in matches {
                let o = try #require(c.matchOutcomes[try id(m["offer"])])
                #expect(o.status.rawValue == m["status"] as? String)
                #expect(o.matched == (m["matched"] as? Int).map(Int64.init))
                let pledges = m["pledges"] as? [[String: Any]] ?? []
                #expect(pledges.count == o.pledges.count)
                for pm in pledges {
                    let got = try #require(o.pledges[try id(pm["pledge"])])
                    #expect(got.status.rawValue == pm["status"] as? String)
                    #expect(got.amount == (pm["matched"] as? Int).map(Int64.init))
                    compared += 1
                }
            }
        }
        #expect(compared == 5)
    }
}

@Suite("Match funding: a funder's budget", .timeLimit(.minutes(10)))
struct FunderBudgetTests {
    func budget(_ amount: Int64, _ currency: Currency = gbp) -> EventBody { .funderBudget(FunderBudget(currency: currency, amount: amount)) }

    @Test func aFunderStatesItsBudgetPerCurrencyAndTheLastOneCounts() {
        var m = MatchScenario()
        let first = m.s.make(MatchScenario.funder, budget(100_000))
        let euros = m.s.make(MatchScenario.funder, budget(5_000, eur))
        let second = m.s.make(MatchScenario.funder, budget(0))
        let other = m.s.make(MatchScenario.otherFunder, budget(20_000))
        let st = m.s.state([second, other, euros, first])
        for e in [first, euros, second, other] { #expect(st.code(e) == "applied") }
        let current = st.authority.currentBudgets.map { [$0.funder.hex, $0.budget.currency.code, "\($0.budget.amount)"] }
        let expected = [
            [MatchScenario.funder.publicKey.hex, "EUR", "5000"], [MatchScenario.funder.publicKey.hex, "GBP", "0"],
            [MatchScenario.otherFunder.publicKey.hex, "GBP", "20000"],
        ].sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }
        #expect(current == expected)
        // Budgets are not a campaign's: no campaign's state or digest changes.
        #expect(StateDigest.partition(st.partitions[m.campaign]!) == StateDigest.partition(m.s.state([]).partitions[m.campaign]!))
    }

    @Test func onlyFundersStateBudgets() {
        var m = MatchScenario()
        let byOrganiser = m.s.make(K.organiser, budget(100))
        let byFounder = m.s.make(K.founder, budget(100))
        let st = m.s.state([byOrganiser, byFounder])
        #expect(st.code(byOrganiser) == "unauthorised")
        #expect(st.code(byFounder) == "applied")  // root holds every right
        // Before the genesis nobody holds a right.
        var f = EventFactory(now: 1_798_761_600_000 - 10_000)
        let early = f.make(MatchScenario.funder, budget(100))
        #expect(m.s.state([early]).code(early) == "unknown_community")
    }

    @Test func theDigestCoversBudgetsAndOnlyThen() {
        var m = MatchScenario()
        let base = m.s.state([])
        let b = m.s.make(MatchScenario.funder, budget(100_000))
        let with = m.s.state([b])
        #expect(StateDigest.authority(with.authority) != StateDigest.authority(base.authority))
        // Without a budget or a charity, the authority digest has its five items, as before either existed.
        #expect(base.authority.budgets.isEmpty && base.authority.charity.isEmpty)
        let changed = m.s.make(MatchScenario.funder, budget(100_001))
        #expect(StateDigest.authority(m.s.state([b, changed]).authority) != StateDigest.authority(with.authority))
    }

    @Test func budgetBodiesAreChecked() {
        func code(_ fields: [(UInt64, CBOR)]) -> String {
            decodeCode(
                Forge.wire(
                    Forge.payload(author: MatchScenario.funder, kind: EventKind.funderBudget.rawValue, body: .map(fields)), by: MatchScenario.funder))
        }
        #expect(code([(0, .text("GBP")), (1, .unsigned(0))]) == "ok")
        #expect(code([(0, .text("GBP")), (1, .unsigned(UInt64(Int64.max) + 1))]) == "decode.amount_overflow")
        #expect(code([(0, .text("XXX")), (1, .unsigned(1))]) == "decode.bad_currency")
        #expect(code([(1, .unsigned(1))]) == "decode.missing_field")
        #expect(code([(0, .text("GBP"))]) == "decode.missing_field")
        #expect(code([(0, .text("GBP")), (1, .unsigned(1)), (2, .unsigned(1))]) == "decode.unknown_field")
    }
}
