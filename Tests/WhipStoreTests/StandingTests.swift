import Foundation
import Testing
import WhipCore
import WhipStore
import WhipTestSupport

/// Ingest reports pledges whose place in a limited tier changed (issue 7 §3): an oversold tier merged from
/// two laptops tells the node which of its pledges lost the place, and which won it back.
@Suite(.timeLimit(.minutes(10))) struct StandingTests {
    @Test func ingestReportsPledgesThatLostOrWonATierPlace() throws {
        var s = Scenario(tierLimit: 1)
        let store = try tempStore()
        try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        // This node's collector sold the last T-shirt; another laptop sold it a millisecond earlier.
        s.factory.tick(5)
        let mine = s.factory.make(FixedKeys.collectorA, s.pledge("Ann", 2_500, tier: s.tier))
        let earlier = s.factory.make(
            FixedKeys.collectorB, s.pledge("Ben", 2_500, tier: s.tier), at: HLC(wall: mine.hlc.wall - 1, counter: 0))
        let first = try store.ingest([mine.wire], source: .bundle, now: now)
        #expect(first.standingChanges.isEmpty)
        let merged = try store.ingest([earlier.wire], source: .peer, now: now)
        let lost = try #require(merged.standingChanges.first)
        #expect(merged.standingChanges.count == 1)
        #expect(lost.pledge == mine.id && lost.waitlisted && lost.backer == "Ann" && lost.tier == "Lido T-shirt")
        // The earlier pledge is withdrawn by its collector: Ann has the place again, and is told so.
        s.factory.tick()
        let withdraw = s.factory.make(FixedKeys.collectorB, .pledgeWithdrawn(PledgeRef(campaign: s.campaign, pledge: earlier.id)))
        let back = try store.ingest([withdraw.wire], source: .bundle, now: now)
        #expect(back.standingChanges.map(\.pledge) == [mine.id])
        #expect(back.standingChanges.first?.waitlisted == false)
        // A duplicate changes nothing, and reports nothing.
        let again = try store.ingest([withdraw.wire], source: .bundle, now: now)
        #expect(again.standingChanges.isEmpty)
    }
}
