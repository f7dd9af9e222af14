import Foundation
import Testing
import WhipCore
import WhipCrypto
import WhipStore
import WhipTestSupport

/// The store keeps match funding equal to the pure derivation, whatever order the events arrive in.
@Suite(.timeLimit(.minutes(10))) struct MatchStoreTests {
    static let funder = FixedKeys.key(0xFD)

    /// A campaign with an accepted 1:1 offer capped at £15 and three pledges, the last partly matched.
    static func events() -> (all: [Event], offer: Event, pledges: [Event]) {
        var s = Scenario()
        s.factory.tick()
        let grant = s.factory.make(FixedKeys.founder, .roleGranted(RoleGranted(member: funder.publicKey, role: .funder)))
        var o = MatchOffered(campaign: s.campaign, funderName: "Elm Council", currency: Scenario.gbp, mode: .match, campaignCap: 1_500)
        o.factor = MatchFactor(numerator: 1, denominator: 1)
        s.factory.tick()
        let offer = s.factory.make(funder, .matchOffered(o))
        s.factory.tick()
        let accept = s.factory.make(FixedKeys.organiser, .matchAccepted(MatchRef(campaign: s.campaign, offer: offer.id)))
        var pledges: [Event] = []
        for (i, amount) in [500, 700, 900].enumerated() {
            s.factory.tick()
            pledges.append(s.factory.make(FixedKeys.collectorA, s.pledge("Backer \(i)", Int64(amount))))
        }
        return (s.events + [grant, offer, accept] + pledges, offer, pledges)
    }

    @Test func matchRowsFollowThePureDerivationInAnyOrder() throws {
        let (all, offer, pledges) = Self.events()
        let expected = pureDigest(all)
        // One at a time in order (fast path until the offer, then whole replays), then in reverse, then in one batch.
        for order in [all, all.reversed(), all.shuffled()] {
            let store = try tempStore()
            for e in order { try store.ingest([e.wire], source: .bundle, now: now) }
            #expect(try digest(store) == expected)
            let c = try #require(try store.campaign(Scenario().campaign))
            #expect(c.pledged.minor == 2_100)
            #expect(c.matched.minor == 1_500)
            let offers = try store.matchOffers(campaign: c.id)
            #expect(offers.map(\.id) == [offer.id])
            #expect(offers.first?.status == .open)
            #expect(offers.first?.provisional == true)
            #expect(offers.first?.funderName == "Elm Council")
            let matches = try store.pledgeMatches(campaign: c.id)
            #expect(matches.map(\.pledge) == pledges.map(\.id))
            #expect(matches.map(\.matched.minor) == [500, 700, 300])
            #expect(matches.map(\.status) == [.matched, .matched, .partMatched])
            let rebuilt = try store.rebuild(community: FixedKeys.community.publicKey)
            #expect(rebuilt.tablesIdentical)
            #expect(rebuilt.before == rebuilt.after)
        }
    }

    @Test func aWithdrawnPledgeFreesCapInTheStore() throws {
        var (all, _, pledges) = Self.events()
        var f = EventFactory(now: now + 10)
        let withdraw = f.make(FixedKeys.collectorA, .pledgeWithdrawn(PledgeRef(campaign: Scenario().campaign, pledge: pledges[1].id)))
        all.append(withdraw)
        let store = try tempStore()
        try store.ingest(all.map(\.wire), source: .bundle, now: now)
        #expect(try digest(store) == pureDigest(all))
        let matches = try store.pledgeMatches(campaign: Scenario().campaign)
        #expect(matches.map(\.matched.minor) == [500, 900])
        #expect(try store.campaign(Scenario().campaign)?.matched.minor == 1_400)
    }

    @Test func aFundersBudgetShowsWhatItsOffersReservePayAndFree() throws {
        var (all, _, _) = Self.events()
        let campaign = Scenario().campaign
        var f = EventFactory(now: now + 10)
        all.append(f.make(Self.funder, .funderBudget(FunderBudget(currency: Scenario.gbp, amount: 10_000))))
        var pending = MatchOffered(campaign: campaign, funderName: "Elm Trust", currency: Scenario.gbp, mode: .lumpSum, campaignCap: 400)
        pending.minBackers = 1
        f.tick()
        all.append(f.make(Self.funder, .matchOffered(pending)))
        // Accepted, then withdrawn after every pledge: the 2,100 it matched stays reserved, the other 400 is freed.
        var o = MatchOffered(campaign: campaign, funderName: "Elm Trust", currency: Scenario.gbp, mode: .match, campaignCap: 2_500)
        o.factor = MatchFactor(numerator: 1, denominator: 1)
        f.tick()
        let withdrawn = f.make(Self.funder, .matchOffered(o))
        f.tick()
        let accepted = f.make(FixedKeys.organiser, .matchAccepted(MatchRef(campaign: campaign, offer: withdrawn.id)))
        f.tick()
        all += [withdrawn, accepted, f.make(Self.funder, .matchWithdrawn(MatchRef(campaign: campaign, offer: withdrawn.id)))]
        let store = try tempStore()
        try store.ingest(all.map(\.wire), source: .bundle, now: now)
        let rows = try store.funderBudgets(now: now)
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.funder == Self.funder.publicKey && row.funderName == "Elm Trust" && row.offers == 3)
        #expect([row.budget?.minor, row.reserved.minor, row.paid.minor, row.freed.minor, row.remaining?.minor] == [10_000, 4_000, 0, 400, 6_000])
        // The campaign closes 2,100 + 3,500 matched short of its 5,000.00 goal: every offer failed, all is freed.
        f.tick()
        let close = f.make(FixedKeys.organiser, .campaignClosed(CampaignRef(campaign: campaign)))
        try store.ingest([close.wire], source: .bundle, now: now)
        #expect(try digest(store) == pureDigest(all + [close]))
        #expect(try store.matchOffers(campaign: campaign).allSatisfy { $0.status == .failed && $0.matched.minor == 0 })
        #expect(try store.pledgeMatches(campaign: campaign).allSatisfy { $0.status == .campaignFailed && $0.matched.minor == 0 })
        #expect(try store.campaign(campaign)?.matched.minor == 0)
        let after = try #require(try store.funderBudgets(now: now).first)
        #expect([after.reserved.minor, after.paid.minor, after.freed.minor, after.remaining?.minor] == [0, 0, 4_400, 10_000])
        #expect(try store.rebuild(community: FixedKeys.community.publicKey).tablesIdentical)
    }
}
