import GRDB
import Testing
import WhipCore
import WhipTestSupport

@testable import WhipStore

/// The readable views a treasurer uses from the sqlite3 shell must run and agree with the tables.
@Suite struct ViewTests {
    @Test func viewsRunAndShowReadableValues() throws {
        var s = Scenario()
        let store = try tempStore()
        let p1 = s.factory.make(FixedKeys.collectorA, s.pledge("Bob", 2_500, tier: s.tier, paid: .cash))
        let p2 = s.factory.make(FixedKeys.collectorB, s.pledge("Cat", 1_000))
        s.factory.tick()
        let w = s.factory.make(FixedKeys.collectorB, .pledgeWithdrawn(PledgeRef(campaign: s.campaign, pledge: p2.id)))
        let stranger = s.factory.make(FixedKeys.stranger, s.pledge("Sneaky", 5))
        try store.ingest((s.events + [p1, p2, w, stranger]).map(\.wire), source: .bundle, now: now)
        try store.read { db in
            let totals = try Row.fetchOne(db, sql: "SELECT * FROM campaign_totals")!
            #expect(totals["campaign"] as String == s.campaign.hex)
            #expect(totals["pledged_minor"] as Int == 2_500 && totals["collected_minor"] as Int == 2_500)
            let pledges = try Row.fetchAll(db, sql: "SELECT * FROM pledge_list ORDER BY made_utc, pledge")
            #expect(Set(pledges.map { $0["pledge"] as String }) == [p1.id.hex, p2.id.hex])
            let bob = pledges.first { ($0["pledge"] as String) == p1.id.hex }!
            #expect(bob["status"] as String == "active" && bob["collected_method"] as String == "cash")
            #expect(bob["tier"] as String == "Lido T-shirt" && bob["channel"] as String == "in-person")
            #expect(pledges.first { ($0["pledge"] as String) == p2.id.hex }!["status"] as String == "withdrawn")
            let log = try Row.fetchAll(db, sql: "SELECT * FROM rejection_log")
            #expect(log.map { $0["event"] as String } == [stranger.id.hex])
            let events = try Row.fetchAll(db, sql: "SELECT * FROM event_log ORDER BY seq")
            #expect(events.count == s.events.count + 4)
            #expect(events.last!["author"] as String == FixedKeys.stranger.publicKey.hex)
            #expect(events.last!["rejected_code"] as String == "unauthorised")
        }
    }
}
