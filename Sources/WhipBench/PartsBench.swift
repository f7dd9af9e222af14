import Dispatch
import Foundation
public import Logging
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore

extension Bench {
    /// `count` signed version-2 pledges by `author`, each with a name part and a contact part sealed to
    /// `organiser` (a real libsodium sealed box of the padded JSON), made in parallel.
    static func pledgesWithParts(
        _ count: Int, community: PublicKey, campaign: EventID, author: SigningKey, organiser: PublicKey, start: UInt64
    ) -> [(wire: [UInt8], parts: [PartRecord])] {
        let gbp = Currency(code: "GBP")!
        return parallel(count) { i in
            let contact = Array(#"{"email":"backer\#(i)@example.org","phone":"07700 900\#(i % 1000)"}"#.utf8)
            let sealed = try! SealedPart.seal(contact, to: [organiser])!.encoded()
            let parts = PledgeParts(name: "Backer \(i)", contact: sealed, giftAid: nil)
            let body = EventBody.pledgeMadeV2(
                PledgeMadeV2(campaign: campaign, amount: Int64(500 + i % 5_000), currency: gbp, channel: .inPerson, commitments: parts.commitments))
            let e = Event.sign(community: community, author: author, hlc: HLC(wall: start + UInt64(i / 4), counter: UInt32(i % 4)), body: body)
            return (e.wire, parts.drafts.map { $0.record(for: e.id) })
        }
    }

    /// What personal parts cost (PROTOCOL.md §6.35): bulk ingest of `count` version-2 pledges with their two parts
    /// against the same number of version-1 pledges (name inside the signed event), on fresh replicas in the same
    /// run, with the database size of each.
    public static func parts(
        _ count: Int, base: String, logger: Logger, print out: (String) -> Void
    ) throws {
        let (node, community, campaign) = try setUp(base + "/parts-gen", logger: logger)
        let now = Dates.nowMs()
        let v1 = pledges(count, community: community.id, campaign: campaign, author: node.identity, start: now + 1_000)
        var v2: [(wire: [UInt8], parts: [PartRecord])] = []
        let genTime = seconds {
            v2 = pledgesWithParts(
                count, community: community.id, campaign: campaign, author: node.identity, organiser: node.identity.publicKey, start: now + 1_000)
        }
        let v1Bytes = v1.reduce(0) { $0 + $1.count }
        let v2Bytes = v2.reduce(0) { $0 + $1.wire.count }
        let partBytes = v2.reduce(0) { $0 + $1.parts.reduce(0) { $0 + $1.encoded().count } }
        out(
            "parts: generated \(count) version-2 pledges with a name and a sealed contact part in \(String(format: "%.2f", genTime)) s "
                + "(event \(v2Bytes / count) bytes + parts \(partBytes / count) bytes, against \(v1Bytes / count) bytes for version 1)")

        let setup = try node.store.exportEvents(community: community.id)
        func replica(_ name: String) throws -> Node {
            let n = try Node.initialise(dir: DataDir(path: base + "/" + name), name: name, logger: logger)
            try n.store.joinCommunity(id: community.id, name: "Bench", networkKey: community.networkKey, hubs: [], now: now)
            try n.store.ingest(setup, source: .bundle, now: now)
            return n
        }
        let batch = Node.importBatch
        let starts = Array(stride(from: 0, to: count, by: batch))

        let plain = try replica("parts-v1")
        let tV1 = try seconds {
            let r = try plain.store.ingest(batches: starts.map { Array(v1[$0..<min(count, $0 + batch)]) }, source: .bundle, now: now)
            precondition(r.accepted == count && r.notApplied.isEmpty, "parts bench v1: \(r)")
        }
        let withParts = try replica("parts-v2")
        let tV2 = try seconds {
            let r = try withParts.store.ingest(
                batches: starts.map { v2[$0..<min(count, $0 + batch)].map(\.wire) },
                parts: starts.map { v2[$0..<min(count, $0 + batch)].flatMap(\.parts) }, source: .bundle, now: now)
            precondition(r.accepted == count && r.partsStored == 2 * count && r.notApplied.isEmpty, "parts bench v2: \(r)")
        }
        let eventsOnly = try replica("parts-v2-events")
        let tEvents = try seconds {
            let r = try eventsOnly.store.ingest(batches: starts.map { v2[$0..<min(count, $0 + batch)].map(\.wire) }, source: .bundle, now: now)
            precondition(r.accepted == count && r.notApplied.isEmpty, "parts bench v2 events: \(r)")
        }
        out("parts: the same version-2 events without their parts: \(fmt(Double(count) / tEvents)) pledges/s")
        let rateV1 = Double(count) / tV1
        let rateV2 = Double(count) / tV2
        out(
            "parts: bulk ingest of version-2 pledges with 2 parts each: \(fmt(rateV2)) pledges/s = "
                + String(format: "%.0f%%", 100 * rateV2 / rateV1) + " of version-1 pledges ingested in the same run (\(fmt(rateV1))/s)")
        let sizeV1 = Double(try plain.store.databaseBytes()) / Double(count)
        let sizeV2 = Double(try withParts.store.databaseBytes()) / Double(count)
        out(String(format: "parts: database size %.0f bytes/pledge with parts, %.0f without (%.2fx)", sizeV2, sizeV1, sizeV2 / sizeV1))

        // The read side: the parts a sync answer or a bundle export attaches, for every pledge.
        let ids = v2.map { try! Event.decode(wire: $0.wire).id }
        var served = 0
        let tRead = try seconds { served = try withParts.store.parts(for: ids).count }
        precondition(served == 2 * count)
        out("parts: reading every pledge's parts for sync or export: \(fmt(Double(served) / tRead)) parts/s")
    }
}
