import GRDB
import Testing
import WhipCore
import WhipTestSupport

@testable import WhipStore

/// The readable views a treasurer uses from the sqlite3 shell must run and agree with the tables.
@Suite(.timeLimit(.minutes(10))) struct ViewTests {
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

    /// The view shows the same one state as the CLI, judged by SQLite's clock: a live campaign past its
    /// deadline is closed (and unfunded here), not `live`; and money received is due back.
    @Test func campaignTotalsShowTheStateAtTheSQLiteClock() throws {
        let past = Scenario(closes: 1_600_000_000_000)
        let store = try tempStore()
        try store.ingest(past.events.map(\.wire), source: .bundle, now: now)
        var future = Scenario(tierLimit: 2)
        let paid = future.factory.make(FixedKeys.collectorA, future.pledge("Bob", 2_500, paid: .cash))
        future.factory.tick()
        let cancel = future.factory.make(FixedKeys.organiser, .campaignCancelled(CampaignCancelled(campaign: future.campaign, reason: nil)))
        let other = try tempStore()
        try other.ingest(future.events.map(\.wire), source: .bundle, now: now)
        try store.read { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT state, closes_ms, time_zone FROM campaign_totals"))
            #expect(row["state"] as String == "closed-unfunded")
            #expect(row["closes_ms"] as Int64 == 1_600_000_000_000)
            #expect(row["time_zone"] as String == "Europe/London")
        }
        let live = try other.read { db in try String.fetchOne(db, sql: "SELECT state FROM campaign_totals") }
        #expect(live == "live")
        try other.ingest([paid.wire, cancel.wire], source: .bundle, now: now)
        let (state, due) = try other.read { db in
            (try String.fetchOne(db, sql: "SELECT state FROM campaign_totals"), try Int.fetchOne(db, sql: "SELECT refund_due_minor FROM pledge_list"))
        }
        #expect(state == "cancelled")
        #expect(due == 2_500)
    }
}
