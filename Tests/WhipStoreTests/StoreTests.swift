import Foundation
import Logging
import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

@testable import WhipStore

let now: UInt64 = 1_798_761_700_000

func tempStore(join: Bool = true) throws -> Store {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let store = try Store(path: dir.appendingPathComponent("db.sqlite").path, logger: Logger(label: "test"))
    if join {
        try store.joinCommunity(
            id: FixedKeys.community.publicKey, name: "Elm Street", networkKey: [UInt8](repeating: 7, count: 32), hubs: [], now: now)
    }
    return store
}

func digest(_ store: Store) throws -> String {
    try store.communities().first { $0.id == FixedKeys.community.publicKey }!.digest
}

func pureDigest(_ events: [Event]) -> String {
    Hex.encode(CommunityState(community: FixedKeys.community.publicKey, events: events).digest)
}

@Suite(.timeLimit(.minutes(10))) struct StoreTests {
    @Test func durableWALSettings() throws {
        let store = try tempStore()
        #expect(try store.journalMode() == "wal")
        #expect(try store.synchronousSetting() == 2)  // FULL, not the NORMAL GRDB sets with WAL
    }

    @Test func ingestIsIdempotentAndMatchesPureDerivation() throws {
        var s = Scenario()
        for i in 0..<5 { s.events.append(s.factory.make(FixedKeys.collectorA, s.pledge("B\(i)", 1_000 + Int64(i)))) }
        let store = try tempStore()
        let first = try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        #expect(first.accepted == s.events.count)
        #expect(first.rejectedCount == 0 && first.notApplied.isEmpty)
        let d1 = try digest(store)
        let again = try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        #expect(again.accepted == 0 && again.duplicates == s.events.count)
        #expect(try digest(store) == d1)
        #expect(d1 == pureDigest(s.events))
        let c = try #require(try store.campaign(s.campaign))
        #expect(c.pledged.minor == 5_010 && c.backers == 5)
    }

    @Test("a community this node has not joined and a role event before the genesis have distinct codes")
    func notJoinedIsNotUnknownCommunity() throws {
        let store = try tempStore()
        var f = EventFactory()
        let tooEarly = f.make(FixedKeys.founder, .roleGranted(RoleGranted(member: FixedKeys.collectorA.publicKey, role: .collector)))
        var foreign = EventFactory(community: FixedKeys.key(0x77))
        let elsewhere = foreign.make(FixedKeys.founder, .roleGranted(RoleGranted(member: FixedKeys.collectorA.publicKey, role: .collector)))
        let r = try store.ingest([tooEarly.wire, elsewhere.wire], source: .bundle, now: now)
        #expect(r.accepted == 1)
        #expect(r.notApplied == ["unknown_community": 1])  // the rule code, hashed into the digest
        #expect(r.rejected == ["community_not_joined": 1])  // the admission code, never stored
        let log = try store.rejections()
        #expect(log.map(\.code).sorted() == ["community_not_joined", "unknown_community"])
    }

    @Test func incrementalBatchesEqualFullRebuild() throws {
        var rng = SeededRandom(seed: 42)
        var s = Scenario(tierLimit: 2)
        var pledges: [Event] = []
        for i in 0..<40 {
            let author = i % 2 == 0 ? FixedKeys.collectorA : FixedKeys.collectorB
            s.factory.tick(UInt64(rng.next() % 5))
            let e = s.factory.make(author, s.pledge("P\(i)", 2_000 + Int64(i), tier: i % 3 == 0 ? s.tier : nil))
            pledges.append(e)
            s.events.append(e)
        }
        for p in pledges.prefix(6) {
            let author = p.author == FixedKeys.collectorA.publicKey ? FixedKeys.collectorA : FixedKeys.collectorB
            s.events.append(s.factory.make(author, .pledgeWithdrawn(PledgeRef(campaign: s.campaign, pledge: p.id))))
        }
        s.events.append(s.factory.make(FixedKeys.founder, .roleRevoked(RoleRevoked(member: FixedKeys.collectorB.publicKey, role: .collector))))
        for i in 0..<5 { s.events.append(s.factory.make(FixedKeys.collectorB, s.pledge("late\(i)", 500))) }

        let shuffled = s.events.shuffled(using: &rng)
        let store = try tempStore()
        var start = 0
        while start < shuffled.count {
            let n = Int(rng.next() % 7) + 1
            try store.ingest(shuffled[start..<min(shuffled.count, start + n)].map(\.wire), source: .peer, now: now)
            start += n
        }
        let incremental = try digest(store)
        #expect(incremental == pureDigest(s.events))
        let rebuilt = try store.rebuild(community: FixedKeys.community.publicKey)
        #expect(rebuilt.tablesIdentical)
        #expect(rebuilt.before == rebuilt.after)
        #expect(rebuilt.after == incremental)
    }

    @Test func badInputIsRefusedWithReasonAndNothingIsLost() throws {
        var s = Scenario()
        let store = try tempStore()
        try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        let before = try digest(store)
        let good = s.factory.make(FixedKeys.collectorA, s.pledge("Good", 1_000))

        var forged = good.wire
        forged[forged.count - 1] ^= 0x01  // last byte of the signature
        let other = EventFactory(community: FixedKeys.key(0x77)).self
        var otherFactory = other
        let foreign = otherFactory.make(FixedKeys.collectorA, s.pledge("Elsewhere", 1_000))
        let oversized = [UInt8](repeating: 0x80, count: EventLimits.maxEventBytes + 1)
        var future = s.factory
        future.now = now + Store.maxFutureSkewMs + 60_000
        let ahead = future.make(FixedKeys.collectorB, s.pledge("Ahead", 1_000))

        let r = try store.ingest([forged, foreign.wire, oversized, [0x82, 0x18, 0x01], ahead.wire], source: .bundle, now: now)
        #expect(r.accepted == 0)
        #expect(r.rejected["bad_signature"] == 1)
        #expect(r.rejected["community_not_joined"] == 1)
        #expect(r.rejected["decode.too_large"] == 1)
        #expect(r.rejected["decode.non_canonical"] == 1)
        #expect(r.held == 1)
        #expect(try digest(store) == before)

        // The good event still goes in afterwards; the held one is retried once its time comes.
        #expect(try store.ingest([good.wire], source: .bundle, now: now).accepted == 1)
        #expect(try store.retryHeld(now: now).accepted == 0)
        #expect(try store.heldCount() == 1)
        let retried = try store.retryHeld(now: now + 2 * 60_000 + 1)
        #expect(retried.accepted == 1)
        #expect(try store.heldCount() == 0)
        #expect(try store.campaign(s.campaign)?.backers == 2)
        let log = try store.rejections()
        #expect(log.contains { $0.code == "bad_signature" && $0.stage == "admission" })
    }

    @Test func aReplicaFromAnEarlierReleaseIsRederivedOnceWhenOpened() throws {
        let s = Scenario()
        let store = try tempStore()
        try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        let digestBefore = try digest(store)
        let backers = try #require(try store.campaign(s.campaign)).backers
        // What an earlier release would have left: derived rows its rules computed differently, and no record of
        // the derivation version.
        try store.write { db in
            try db.execute(sql: "UPDATE campaigns SET backers = backers + 5, pledged_minor = 0")
            try db.execute(sql: "UPDATE communities SET digest = zeroblob(32)")
            try db.execute(sql: "DELETE FROM store_meta")
        }
        let reopened = try Store(path: store.path, logger: Logger(label: "test"))
        #expect(try reopened.campaign(s.campaign)?.backers == backers)
        #expect(try digest(reopened) == digestBefore)
        #expect(
            try reopened.read { db in try Int.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'derivation'") } == Store.derivationVersion)
        // Once done, opening again does not re-derive: a change to the derived rows stays (as a rebuild would show).
        try reopened.write { db in try db.execute(sql: "UPDATE campaigns SET backers = 99") }
        #expect(try Store(path: store.path, logger: Logger(label: "test")).campaign(s.campaign)?.backers == 99)
    }

    @Test func ruleViolationsAreStoredButNotApplied() throws {
        var s = Scenario()
        let store = try tempStore()
        try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        let mine = s.factory.make(FixedKeys.collectorA, s.pledge("Mine", 1_000))
        let usd = s.factory.make(
            FixedKeys.collectorA,
            .pledgeMade(
                PledgeMade(
                    campaign: s.campaign, backerName: "Dollar", anonymous: false, amount: 500, currency: Currency(code: "USD")!, channel: .online)))
        s.factory.tick()  // after the pledge, as the HLC receive rule would stamp it
        let theirs = s.factory.make(FixedKeys.collectorB, .pledgeWithdrawn(PledgeRef(campaign: s.campaign, pledge: mine.id)))
        let unknown = s.factory.make(
            FixedKeys.collectorA,
            .pledgeMade(
                PledgeMade(
                    campaign: EventID(bytes: [UInt8](repeating: 9, count: 32))!, backerName: "Lost", anonymous: false, amount: 5,
                    currency: Scenario.gbp, channel: .online)))
        let stranger = s.factory.make(FixedKeys.stranger, s.pledge("Sneaky", 99_999))
        var edit = CampaignUpdated(campaign: s.campaign)
        edit.goal = 1
        let unauthorisedEdit = s.factory.make(FixedKeys.collectorA, .campaignUpdated(edit))
        // An amount of 2^63 overflows a signed 64-bit amount: refused at decoding even though properly signed.
        var body = s.pledge("Huge", 1).cborForTest()
        body = body.replacing(key: 3, with: .unsigned(1 << 63))
        let payload = CBOR.map([
            (0, .unsigned(1)), (1, .bytes(FixedKeys.community.publicKey.bytes)), (2, .bytes(FixedKeys.collectorA.publicKey.bytes)),
            (3, .unsigned(EventKind.pledgeMade.rawValue)), (4, .unsigned(now)), (5, .unsigned(7)), (6, body),
        ]).encoded()
        let overflow = CBOR.array([.bytes(payload), .bytes(FixedKeys.collectorA.sign(payload))]).encoded()
        let r = try store.ingest([mine, usd, theirs, unknown, stranger, unauthorisedEdit].map(\.wire) + [overflow], source: .peer, now: now)
        #expect(r.accepted == 6)
        #expect(r.rejected == ["decode.amount_overflow": 1])
        #expect(r.notApplied == ["currency_mismatch": 1, "not_author": 1, "unknown_campaign": 1, "unauthorised": 2])
        #expect(try store.campaign(s.campaign)?.goal.minor == 500_000)
        let c = try #require(try store.campaign(s.campaign))
        #expect(c.pledged.minor == 1_000 && c.backers == 1)
        #expect(try store.rejections().filter { $0.stage == "rule" }.count == 5)
    }

    @Test func localAppendRefusesWhatRulesReject() throws {
        let s = Scenario()
        let store = try tempStore()
        try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        let count = try store.eventCount()
        #expect(throws: WhipError.self) {
            try store.appendLocal(community: FixedKeys.community.publicKey, now: now) { hlc in
                Event.sign(community: FixedKeys.community.publicKey, author: FixedKeys.stranger, hlc: hlc, body: s.pledge("X", 100))
            }
        }
        #expect(try store.eventCount() == count)
        let e = try store.appendLocal(community: FixedKeys.community.publicKey, now: now) { hlc in
            Event.sign(community: FixedKeys.community.publicKey, author: FixedKeys.collectorA, hlc: hlc, body: s.pledge("Y", 100))
        }
        // Local timestamps follow the newest event seen (HLC receive rule), so they sort after it.
        #expect(e.hlc > s.events.map(\.hlc).max()!)
    }

    @Test func bundlesRoundTripAndRefuseDamage() throws {
        let s = Scenario()
        let bundle = EventBundle.encode(s.events.map(\.wire))
        #expect(try EventBundle.decode(bundle).events == s.events.map(\.wire))
        for i in stride(from: 0, to: bundle.count, by: max(1, bundle.count / 50)) {
            var bad = bundle
            bad[i] ^= 0x10
            #expect(throws: WhipError.self) { try EventBundle.decode(bad) }
        }
        #expect(throws: WhipError.self) { try EventBundle.decode(Array(bundle.prefix(bundle.count - 1))) }
        #expect(throws: WhipError.self) { try EventBundle.decode(bundle + [0]) }
        #expect(throws: WhipError.self) { try EventBundle.decode(Array("not a bundle".utf8)) }
    }

    /// Bundles list events in replay order (PROTOCOL.md §12), not in the order they arrived.
    @Test func exportListsEventsInReplayOrder() throws {
        var s = Scenario()
        for i in 0..<30 {
            s.factory.tick(1)
            s.events.append(s.factory.make(i % 2 == 0 ? FixedKeys.collectorA : FixedKeys.collectorB, s.pledge("R\(i)", 500 + Int64(i))))
        }
        let store = try tempStore()
        var rng = SeededRandom(seed: 9)
        var shuffled = s.events
        for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        #expect(shuffled.map(\.id) != s.events.map(\.id), "the arrival order must differ from replay order for this test to mean anything")
        for e in shuffled { _ = try store.ingest([e.wire], source: .bundle, now: now) }
        let exported = try store.exportEvents(community: FixedKeys.community.publicKey).map { try Event.decode(wire: $0) }
        #expect(exported.map(\.id) == s.events.sorted { $0.orderKey < $1.orderKey }.map(\.id))
        #expect(try store.exportEvents().map { try Event.decode(wire: $0).id } == exported.map(\.id))
    }

    func stream(_ bytes: [UInt8], batch: Int) throws(WhipError) -> [[UInt8]] {
        var r = EventBundle.StreamReader(size: bytes.count) { at, n in Array(bytes[at..<min(bytes.count, at + n)]) }
        try r.verify()
        var all = [[UInt8]]()
        while true {
            let next = try r.next(upTo: batch)
            if next.isEmpty { return all }
            all += next
        }
    }

    @Test func streamingReaderMatchesWholeFileReader() throws {
        let s = Scenario()
        let wires = s.events.map(\.wire)
        let bundle = EventBundle.encode(wires)
        for batch in [1, 2, 3, 100] { #expect(try stream(bundle, batch: batch) == wires) }
        var bad = bundle
        bad[bad.count / 2] ^= 0x04
        #expect(throws: WhipError.self) { try stream(bad, batch: 2) }
        #expect(throws: WhipError.self) { try stream(Array(bundle.dropLast()), batch: 2) }
        #expect(throws: WhipError.self) { try stream([], batch: 2) }
        // An oversized entry in an intact bundle is passed through, to be refused on its own by the importer.
        let big = EventBundle.encode([wires[0], [UInt8](repeating: 0x80, count: EventLimits.maxEventBytes + 10)])
        #expect(try stream(big, batch: 10).count == 2)
        #expect(try EventBundle.decode(big).events.count == 2)
    }
}

/// SplitMix64: a small seeded generator so failures reproduce.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension EventBody {
    func cborForTest() -> CBOR { cbor() }
}

extension CBOR {
    func replacing(key: UInt64, with value: CBOR) -> CBOR {
        guard case .map(let pairs) = self else { return self }
        return .map(pairs.map { $0.0 == key ? ($0.0, value) : $0 })
    }
}
