import Foundation
import Testing
import WhipCore
import WhipCrypto
import WhipStore
import WhipTestSupport

/// The derived `updates` table (PROTOCOL.md §6.15): a pure function of the event set, like every derived table.
@Suite(.timeLimit(.minutes(10))) struct UpdateStoreTests {
    static let cases = Int(ProcessInfo.processInfo.environment["WHIPROUND_STORE_PROPERTY_CASES"] ?? "") ?? 60

    /// A random community (RandomCommunity's, unchanged) with random `update.posted` events on top: by organisers,
    /// admins and people without the right, to live, draft, closed, cancelled and unknown campaigns, at random times.
    static func eventsWithUpdates(seed: UInt64) throws -> [Event] {
        var events = try RandomCommunity.events(seed: seed)
        var rng = SplitMix64(seed: seed ^ 0x0D_A7E5)
        let campaigns = events.filter { $0.kind == .campaignCreated }.map(\.id)
        let authors = [
            FixedKeys.organiser, RandomCommunity.organiser2, FixedKeys.founder, RandomCommunity.admin, FixedKeys.collectorA, FixedKeys.stranger,
        ]
        let walls = events.map(\.hlc.wall)
        for i in 0..<rng.int(in: 1...8) {
            let campaign =
                campaigns.isEmpty || rng.chance(5)
                ? EventID(Bytes32(littleEndianWords: rng.next(), rng.next(), rng.next(), rng.next())) : rng.pick(campaigns)
            let author = authors[rng.weighted([50, 10, 15, 10, 10, 5])]
            // Often exactly another event's time (a tie), else anywhere in the span.
            let wall = rng.chance(30) ? rng.pick(walls) : RandomCommunity.start + UInt64(rng.below(Int(RandomCommunity.span)))
            let text = rng.chance(20) ? String(repeating: "x", count: EventLimits.maxUpdateTextBytes) : "News *\(i)*\n\n- item"
            let body = EventBody.updatePosted(UpdatePosted(campaign: campaign, title: "Update \(i)", text: text))
            let e = Event.sign(
                community: FixedKeys.community.publicKey, author: author, hlc: HLC(wall: wall, counter: UInt32(rng.below(3))), body: body)
            events.append(try Event.decode(wire: e.wire))
        }
        return events
    }

    /// The applied updates of the pure derivation, per campaign, newest first.
    static func pureUpdates(_ events: [Event]) -> [EventID: [EventID]] {
        let state = CommunityState(community: FixedKeys.community.publicKey, events: events)
        var out: [EventID: [EventID]] = [:]
        for (id, p) in state.partitions {
            guard let c = p.campaign else { continue }
            out[id] = c.updates.values.sorted { a, b in
                OrderKey(hlc: a.postedAt, author: a.author.bytes, id: a.id.bytes) > OrderKey(hlc: b.postedAt, author: b.author.bytes, id: b.id.bytes)
            }.map(\.id)
        }
        return out
    }

    @Test func anyOrderAndDuplicatesGiveTheSameUpdatesAndDigest() throws {
        var sawApplied = 0
        var sawRefused = 0
        for seed in UInt64(0)..<UInt64(Self.cases) {
            let events = try Self.eventsWithUpdates(seed: 0x0D_A7E + seed)
            let pure = pureDigest(events)
            let expected = Self.pureUpdates(events)
            let state = CommunityState(community: FixedKeys.community.publicKey, events: events)
            for e in events where e.kind == .updatePosted {
                if state.statuses[e.id]?.code == "applied" { sawApplied += 1 } else { sawRefused += 1 }
            }
            var rng = SplitMix64(seed: seed)
            let now = events.map(\.hlc.wall).max()!
            var tables: [[EventID: [UpdateRow]]] = []
            // In order (the fast path), shuffled (the replay path), and shuffled again with duplicates.
            for pass in 0..<3 {
                let order = pass == 0 ? events : rng.shuffled(events)
                let store = try tempStore()
                var i = 0
                while i < order.count {
                    let n = rng.int(in: 1...10)
                    try store.ingest(order[i..<min(order.count, i + n)].map(\.wire), source: .peer, now: now)
                    if pass == 2 { try store.ingest([order[rng.below(i + 1)].wire], source: .peer, now: now) }
                    i += n
                }
                #expect(try digest(store) == pure, "seed \(seed) pass \(pass): digest")
                var table: [EventID: [UpdateRow]] = [:]
                for campaign in expected.keys { table[campaign] = try store.updates(campaign: campaign) }
                for (campaign, ids) in expected {
                    #expect(table[campaign]?.map(\.id) == ids, "seed \(seed) pass \(pass): updates of \(campaign.hex.prefix(8)) newest first")
                }
                let rebuilt = try store.rebuild(community: FixedKeys.community.publicKey)
                #expect(rebuilt.tablesIdentical, "seed \(seed) pass \(pass): derived tables differ from a rebuild")
                #expect(rebuilt.after == pure)
                tables.append(table)
            }
            #expect(tables.allSatisfy { $0 == tables[0] }, "seed \(seed): the updates tables differ between arrival orders")
        }
        // The generator reaches both outcomes, so the property covers applied and refused updates alike.
        #expect(sawApplied > 10 && sawRefused > 10, "applied \(sawApplied), refused \(sawRefused)")
    }

    /// What a version-2 node does with a version-3 bundle (PROTOCOL.md §0): an event of a kind it does not know is
    /// refused alone (`decode.unknown_kind`), and the rest is stored. Shown here with kind 99, which no version knows.
    @Test func anEventOfAnUnknownKindIsRefusedAloneFromABundle() throws {
        var s = Scenario()
        let news = s.factory.make(FixedKeys.organiser, .updatePosted(UpdatePosted(campaign: s.campaign, title: "News", text: "Hello")))
        let payload = CBOR.map([
            (0, .unsigned(Event.version)), (1, .bytes(FixedKeys.community.publicKey.bytes)), (2, .bytes(FixedKeys.organiser.publicKey.bytes)),
            (3, .unsigned(99)), (4, .unsigned(news.hlc.wall)), (5, .unsigned(1)), (6, .map([(0, .bytes(s.campaign.bytes))])),
        ]).encoded()
        let unknown = CBOR.array([.bytes(payload), .bytes(FixedKeys.organiser.sign(payload))]).encoded()
        let store = try tempStore()
        let report = try store.ingest(s.events.map(\.wire) + [unknown, news.wire], source: .bundle, now: news.hlc.wall)
        #expect(report.accepted == s.events.count + 1)
        #expect(report.rejected == ["decode.unknown_kind": 1])
        #expect(try store.updates(campaign: s.campaign).map(\.id) == [news.id])
    }

    @Test func updatesAreListedNewestFirstWithTheirText() throws {
        var s = Scenario()
        let first = s.factory.make(FixedKeys.organiser, .updatePosted(UpdatePosted(campaign: s.campaign, title: "First", text: "one")))
        s.factory.tick()
        let second = s.factory.make(FixedKeys.founder, .updatePosted(UpdatePosted(campaign: s.campaign, title: "Second", text: "two\n\n*2*")))
        let store = try tempStore()
        try store.ingest((s.events + [second, first]).map(\.wire), source: .peer, now: second.hlc.wall)
        let rows = try store.updates(campaign: s.campaign)
        #expect(rows.map(\.title) == ["Second", "First"])
        #expect(rows[0].text == "two\n\n*2*" && rows[0].author == FixedKeys.founder.publicKey && rows[0].postedAt == second.hlc.wall)
        #expect(rows[0].id == second.id && rows[0].campaign == s.campaign)
        #expect(try store.updates(campaign: EventID(Bytes32(littleEndianWords: 1, 2, 3, 4))).isEmpty)
    }
}
