import Foundation
import GRDB
import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

@testable import WhipStore

/// A version-2 pledge of the scenario campaign and its parts: a public name unless `name` is nil, and a sealed
/// contact part (opaque bytes of the right form: the store never opens it).
func pledgeV2(
    _ s: inout Scenario, by author: SigningKey = FixedKeys.collectorA, name: String?, contact: [UInt8]? = nil, amount: Int64 = 1_000
) -> (Event, [PartRecord]) {
    let sealed = contact.map { SealedPart(boxes: [SealedContact(recipient: FixedKeys.organiser.publicKey, ciphertext: $0)]).encoded() }
    let parts = PledgeParts(name: name, contact: sealed, giftAid: nil)
    s.factory.tick()
    let e = s.factory.make(
        author,
        .pledgeMadeV2(PledgeMadeV2(campaign: s.campaign, amount: amount, currency: Scenario.gbp, channel: .inPerson, commitments: parts.commitments)))
    return (e, parts.drafts.map { $0.record(for: e.id) })
}

/// A naming revision of a v2 pledge and its name part.
func rename(_ s: inout Scenario, _ pledge: Event, to name: String, by author: SigningKey = FixedKeys.collectorA) -> (Event, PartRecord) {
    let draft = PartDraft(slot: .name, bytes: Array(name.utf8))
    var r = PledgeRevisedV2(campaign: s.campaign, pledge: pledge.id)
    r.name = draft.commitment
    s.factory.tick()
    let e = s.factory.make(author, .pledgeRevisedV2(r))
    return (e, draft.record(for: e.id))
}

func erasure(_ s: inout Scenario, _ pledge: Event, _ slots: [PartSlot], by author: SigningKey = FixedKeys.organiser) -> Event {
    s.factory.tick()
    return s.factory.make(author, .personalErased(PersonalErased(campaign: s.campaign, pledge: pledge.id, reason: .request, slots: slots)))
}

@Suite(.timeLimit(.minutes(10))) struct PartStoreTests {
    @Test func secureDeleteIsOnForEveryConnection() throws {
        let store = try tempStore()
        #expect(try store.read { db in try Int.fetchOne(db, sql: "PRAGMA secure_delete") } == 1)
        #expect(try store.write { db in try Int.fetchOne(db, sql: "PRAGMA secure_delete") } == 1)
    }

    @Test func partsAreCheckedAgainstTheirCommitments() throws {
        var s = Scenario()
        let (p, parts) = pledgeV2(&s, name: "Ann", contact: [UInt8](repeating: 9, count: 304))
        let v1 = s.factory.make(FixedKeys.collectorA, s.pledge("Old", 500))
        let store = try tempStore()
        var bad = parts[0]
        bad.bytes = Array("Anne".utf8)
        var stray = parts[0]
        stray.event = EventID(Bytes32([UInt8](repeating: 0xEE, count: 32))!)
        var onV1 = parts[0]
        onV1.event = v1.id
        var malformed = parts[1]
        malformed.slot = .giftAid
        malformed.bytes = Array("not sealed".utf8)
        malformed.salt = parts[0].salt
        let r = try store.ingest((s.events + [p, v1]).map(\.wire), parts: parts + [bad, stray, onV1, malformed, parts[0]], source: .peer, now: now)
        #expect(r.partsStored == 2)
        #expect(r.partsDuplicate == 1)
        #expect(
            r.partsRefused == ["part.mismatch": 1, "part.no_event": 1, "part.no_commitment": 1, "part.malformed": 1], "\(r.partsRefused)")
        #expect(Set(try store.parts(for: [p.id, v1.id])) == Set(parts))
        #expect(try store.part(event: p.id, slot: .name) == parts[0])
        #expect(try store.part(event: p.id, slot: .giftAid) == nil)
        let row = try #require(try store.pledge(p.id))
        #expect(row.version == 2 && row.publicName == "Ann" && row.contact.count == 1)
        #expect(try store.pledge(v1.id)?.version == 1)
    }

    @Test func namesComeFromPartsAndShowAnonymousOrErased() throws {
        var s = Scenario()
        let (named, namedParts) = pledgeV2(&s, name: "Ann")
        let (anon, _) = pledgeV2(&s, name: nil)
        let (missing, _) = pledgeV2(&s, name: "Never Arrives")
        let (renamedPledge, firstName) = pledgeV2(&s, name: "Bea")
        let (rev, revPart) = rename(&s, renamedPledge, to: "Beatrice")
        let store = try tempStore()
        try store.ingest(
            (s.events + [named, anon, missing, renamedPledge, rev]).map(\.wire), parts: namedParts + firstName + [revPart], source: .peer, now: now)
        #expect(try store.pledge(named.id)?.publicName == "Ann")
        #expect(try store.pledge(anon.id)?.publicName == "Anonymous")
        #expect(try store.pledge(missing.id)?.publicName == "Anonymous")
        #expect(try store.pledge(renamedPledge.id)?.publicName == "Beatrice")
        let erase = erasure(&s, named, [.name])
        try store.ingest([erase.wire], source: .peer, now: now)
        let row = try #require(try store.pledge(named.id))
        #expect(row.publicName == "(erased)" && row.erased == [.name])
        #expect(try store.parts(for: [named.id]).isEmpty)
        // The view the sqlite3 shell reads says the same.
        let backers = try store.read { db in try String.fetchAll(db, sql: "SELECT backer FROM pledge_list ORDER BY made_utc, pledge") }
        #expect(backers.sorted() == ["(erased)", "Anonymous", "Anonymous", "Beatrice"])
    }

    @Test func onlyAnAppliedErasureDeletesAndItsTombstoneRefusesReimport() throws {
        var s = Scenario()
        let (p, parts) = pledgeV2(&s, name: "Cal", contact: [UInt8](repeating: 3, count: 304))
        let (rev, revPart) = rename(&s, p, to: "Callum")
        let byCollector = erasure(&s, p, PartSlot.allCases, by: FixedKeys.collectorA)
        let store = try tempStore()
        try store.ingest((s.events + [p, rev, byCollector]).map(\.wire), parts: parts + [revPart], source: .peer, now: now)
        #expect(try store.parts(for: [p.id, rev.id]).count == 3, "an unauthorised erasure deletes nothing")
        let byOrganiser = erasure(&s, p, [.name])
        let r = try store.ingest([byOrganiser.wire], source: .peer, now: now)
        #expect(r.erasures == 1)
        #expect(Set(try store.parts(for: [p.id, rev.id])) == [parts[1]], "the name goes from the pledge and its revision")
        #expect(try store.tombstones(pledge: p.id) == [.name])
        let again = try store.ingest([], parts: parts + [revPart], source: .bundle, now: now)
        #expect(again.partsRefused == ["part.erased": 2])
        #expect(again.partsDuplicate == 1)
        // A rebuild of the derived tables keeps the tombstones.
        _ = try store.rebuild(community: FixedKeys.community.publicKey)
        #expect(try store.ingest([], parts: [parts[0]], source: .bundle, now: now).partsRefused == ["part.erased": 1])
        #expect(try store.pledge(p.id)?.publicName == "(erased)")
    }

    @Test func anErasureThatArrivesFirstStillRefusesTheParts() throws {
        var s = Scenario()
        let (p, parts) = pledgeV2(&s, name: "Dot")
        let erase = erasure(&s, p, [.name, .contact])
        let store = try tempStore()
        let first = try store.ingest((s.events + [erase]).map(\.wire), source: .peer, now: now)
        #expect(first.notApplied == ["unknown_pledge": 1])
        let second = try store.ingest([p.wire], parts: parts, source: .peer, now: now)
        #expect(second.partsRefused == ["part.erased": 1])
        #expect(try store.parts(for: [p.id]).isEmpty)
    }

    @Test func partsOfAHeldEventWaitBesideItAndAreJudgedWhenItIsRetried() throws {
        var s = Scenario()
        let store = try tempStore()
        try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        s.factory.now = now + Store.maxFutureSkewMs + 60_000
        let (ahead, parts) = pledgeV2(&s, name: "Eve", contact: [UInt8](repeating: 5, count: 304))
        let (aheadToo, partsToo) = pledgeV2(&s, name: "Fay")
        var wrong = parts[0]
        wrong.bytes = Array("Eva".utf8)
        let first = try store.ingest([ahead.wire, aheadToo.wire], parts: parts + partsToo + [wrong], source: .bundle, now: now)
        #expect(first.held == 2)
        #expect(first.partsHeld == 3 && first.partsRefused == ["part.mismatch": 1], "\(first.partsRefused)")
        #expect(try store.parts(for: [ahead.id]).isEmpty, "a held event's parts are not served before the event is")
        // Sent again while still held: waiting already, so a duplicate.
        #expect(try store.ingest([], parts: parts, source: .peer, now: now).partsDuplicate == 2)

        // One pledge's name is erased while both are held (the erasure is stamped later still, and arrives
        // once the clock has caught up with the pledges but not yet the erasure).
        s.factory.now += 1
        let erase = erasure(&s, aheadToo, [.name])
        let later = now + 2 * Store.maxFutureSkewMs
        let retried = try store.retryHeld(now: later)
        #expect(retried.accepted == 2 && retried.partsStored == 3)
        #expect(Set(try store.parts(for: [ahead.id])) == Set(parts))
        #expect(try store.pledge(aheadToo.id)?.publicName == "Fay")
        try store.ingest([erase.wire], source: .peer, now: later)
        #expect(try store.parts(for: [aheadToo.id]).isEmpty)
        #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM held_parts") } == 0)
    }

    @Test func aHeldEventsPartsAreRefusedWhenItsSlotWasErasedMeanwhile() throws {
        var s = Scenario()
        let store = try tempStore()
        try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        s.factory.now = now + Store.maxFutureSkewMs + 60_000
        let (ahead, parts) = pledgeV2(&s, name: "Gus")
        let erase = erasure(&s, ahead, [.name])
        // Both held; the erasure is judged first in replay order when both are retried together.
        let first = try store.ingest([ahead.wire, erase.wire], parts: parts, source: .bundle, now: now)
        #expect(first.held == 2 && first.partsHeld == 1)
        let retried = try store.retryHeld(now: now + 3 * Store.maxFutureSkewMs)
        #expect(retried.accepted == 2)
        #expect(retried.partsRefused == ["part.erased": 1], "\(retried.partsRefused)")
        #expect(try store.parts(for: [ahead.id]).isEmpty)
        #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM held_parts") } == 0)
    }

    /// Any order of events, parts early (dropped), with their event, late, twice or never: the digest is the
    /// pure derivation's and the stored parts are exactly those delivered with or after their event and not
    /// erased.
    @Test(arguments: 0..<12)
    func partsConvergeInAnyDeliveryOrder(seed: UInt64) throws {
        var rng = SplitMix64(seed: 0x9A27 &+ seed)
        var s = Scenario(tierLimit: 2)
        var extra: [Event] = []
        var parts: [PartRecord] = []
        var pledges: [Event] = []
        for i in 0..<6 {
            let author = rng.chance(50) ? FixedKeys.collectorA : FixedKeys.collectorB
            let (p, ps) = pledgeV2(
                &s, by: author, name: rng.chance(70) ? "Backer \(i)" : nil,
                contact: rng.chance(60) ? (0..<304).map { _ in UInt8(truncatingIfNeeded: rng.next()) } : nil)
            extra.append(p)
            parts += ps
            pledges.append(p)
            if rng.chance(40) {
                let (rev, part) = rename(&s, p, to: "Renamed \(i)", by: author)
                extra.append(rev)
                parts.append(part)
            }
        }
        for _ in 0..<3 {
            let target = rng.pick(pledges)
            let slots = PartSlot.allCases.filter { _ in rng.chance(50) }
            extra.append(erasure(&s, target, slots.isEmpty ? [.name] : slots, by: rng.chance(80) ? FixedKeys.organiser : FixedKeys.collectorA))
        }
        let all = s.events + extra
        let state = CommunityState(community: FixedKeys.community.publicKey, events: all)
        let campaign = try #require(state.partitions[s.campaign]?.campaign)

        // Deliver the events in random batches; each part early, with its event, late, twice or never.
        let shuffled = rng.shuffled(all)
        let batchCount = rng.int(in: 2...5)
        var batches = [[Event]](repeating: [], count: batchCount)
        for e in shuffled { batches[rng.below(batchCount)].append(e) }
        let batchOf = Dictionary(uniqueKeysWithValues: batches.enumerated().flatMap { i, b in b.map { ($0.id, i) } })
        var partBatches = [[PartRecord]](repeating: [], count: batchCount + 1)
        var expected = Set<PartRecord>()
        for part in parts {
            let home = try #require(batchOf[part.event])
            let pledge = try #require(
                extra.first { $0.id == part.event }.flatMap { e -> EventID? in
                    if case .pledgeRevisedV2(let r) = e.body { return r.pledge }
                    return e.id
                })
            let erased = campaign.pledges[pledge]?.erased.contains(part.slot) ?? false
            switch rng.below(5) {
            case 0 where home > 0: partBatches[rng.below(home)].append(part)  // early: dropped
            case 1: continue  // never
            case 2:
                partBatches[rng.int(in: home...batchCount)].append(part)
                partBatches[rng.int(in: home...batchCount)].append(part)
                if !erased { expected.insert(part) }
            default:
                partBatches[rng.int(in: home...batchCount)].append(part)
                if !erased { expected.insert(part) }
            }
        }
        let store = try tempStore()
        let withoutParts = try tempStore()
        for i in 0...batchCount {
            let wires = i < batchCount ? batches[i].map(\.wire) : []
            try store.ingest(wires, parts: partBatches[i], source: .peer, now: now)
            try withoutParts.ingest(wires, source: .peer, now: now)
        }
        #expect(try digest(store) == pureDigest(all))
        #expect(try digest(withoutParts) == pureDigest(all), "parts never change the digest")
        #expect(Set(try store.parts(for: extra.map(\.id))) == expected)
        for p in pledges {
            let row = try #require(try store.pledge(p.id))
            #expect(row.erased == campaign.pledges[p.id]?.erased)
        }
    }

    /// The raw-file check on one node: after an erasure, the erased name's bytes (and the sealed contact's)
    /// appear nowhere in the database file or its WAL, though they were there before.
    @Test func erasedBytesLeaveTheDatabaseAndItsWAL() throws {
        var s = Scenario()
        let name = "Zebediah Quillfeather-Erasable"
        let contact = Array("SEALED-CONTACT-MARKER-".utf8) + [UInt8](repeating: 0x7E, count: 282)
        let (p, parts) = pledgeV2(&s, name: name, contact: contact)
        let (kept, keptParts) = pledgeV2(&s, name: "Kept Backer Marker")
        let store = try tempStore()
        try store.ingest((s.events + [p, kept]).map(\.wire), parts: parts + keptParts, source: .peer, now: now)
        // Some of it in the database file proper, some in the WAL.
        try store.checkpoint()
        let (later, laterParts) = pledgeV2(&s, name: name + " Again", contact: contact)
        try store.ingest([later.wire], parts: laterParts, source: .peer, now: now)
        let files = [store.path, store.path + "-wal"]
        func found(_ needle: [UInt8]) -> Bool {
            files.contains { path in
                guard let data = FileManager.default.contents(atPath: path) else { return false }
                return data.range(of: Data(needle)) != nil
            }
        }
        #expect(found(Array(name.utf8)), "the name is on disk before the erasure (else this test proves nothing)")
        #expect(found(Array("SEALED-CONTACT-MARKER-".utf8)))
        try store.ingest([erasure(&s, p, [.name, .contact]).wire, erasure(&s, later, [.name, .contact]).wire], source: .peer, now: now)
        #expect(try store.pledge(p.id)?.publicName == "(erased)")
        #expect(!(found(Array(name.utf8))), "the erased name is still on disk")
        #expect(!(found(Array("SEALED-CONTACT-MARKER-".utf8))), "the erased contact is still on disk")
        #expect(found(Array("Kept Backer Marker".utf8)), "other backers' names stay")
    }
}
