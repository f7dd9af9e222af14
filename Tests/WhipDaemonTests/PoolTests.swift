import Dispatch
import Foundation
import Logging
import Synchronization
import Testing
import WhipCore
import WhipCrypto
import WhipNet
import WhipNode

@testable import WhipStore

/// Async code never holds one of the cooperative pool's threads (one per core) while SQLite or libsodium
/// works: store transactions and signature checks run on threads of their own, which callers await.
@Suite(.serialized, .timeLimit(.minutes(10))) struct PoolTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func node(_ name: String) throws -> Node {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-pool-\(UUID().uuidString)/\(name)").path
        return try Node.initialise(dir: DataDir(path: dir), name: name, logger: Self.logger)
    }

    /// More store reads than the machine has cores, every one stuck in its transaction: the callers are
    /// suspended, not blocked, so a trivial task still runs. (Had the reads held cooperative threads, it would
    /// wait until the suite's time limit.)
    @Test func stuckReadsLeaveThePoolFree() async throws {
        let n = try node("reader")
        let gate = DispatchSemaphore(value: 0)
        let started = Count()
        let readers = 4 * System.coreCount
        let tasks = (0..<readers).map { _ in
            Task {
                try await n.read { store throws(WhipError) -> Int in
                    started.value.add(1, ordering: .relaxed)
                    gate.wait()
                    return try store.eventCount()
                }
            }
        }
        while started.value.load(ordering: .relaxed) == 0 { await Task.yield() }
        #expect(await Task.detached { 7 }.value == 7)
        for _ in 0..<readers { gate.signal() }
        for t in tasks { #expect(try await t.value == 0) }
    }

    /// While the store's writer is stuck in a transaction, peers' batches wait their turn to commit without
    /// holding the pool or the exchange: a trivial task runs, and reads through the exchange (which need no
    /// writer) are answered. (When the exchange committed on its own thread, the read waited behind the stuck
    /// commit until the time limit.) Then every batch commits, each event once.
    @Test func commitsWaitingForTheWriterLeaveThePoolFree() async throws {
        let hub = try node("hub")
        let laptop = try node("laptop")
        let c = try hub.createCommunity(name: "Elm Street")
        _ = try laptop.join(hub.invite(c))
        _ = try hub.grant(c, member: laptop.identity.publicKey, role: .organiser, expires: nil)
        try laptop.store.ingest(try hub.store.exportEvents(community: c.id), source: .bundle, now: hub.now)
        let gbp = Currency(code: "GBP")!
        let campaign = try await laptop.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "", goal: 500_000, currency: gbp, model: .allOrNothing, opens: 0,
                    closes: 1_900_000_000_000, timeZone: "UTC", organisers: [])))
        try await laptop.emit(c.id, .campaignPublished(CampaignRef(campaign: campaign.id)))
        for i in 0..<40 {
            try await laptop.emit(
                c.id,
                .pledgeMade(PledgeMade(campaign: campaign.id, backerName: "B\(i)", anonymous: false, amount: 100, currency: gbp, channel: .inPerson)))
        }
        let wires = try laptop.store.exportEvents(community: c.id)
        let exchange = try Exchange(node: hub, logger: Self.logger)

        let gate = DispatchSemaphore(value: 0)
        let writerStuck = Count()
        // Stuck inside SQLite's one write transaction, as a long commit would be.
        let stuck = Task {
            try await hub.write { store throws(WhipError) in
                try store.write { _ in
                    writerStuck.value.add(1, ordering: .relaxed)
                    gate.wait()
                }
            }
        }
        while writerStuck.value.load(ordering: .relaxed) == 0 { await Task.yield() }
        let batches = 4 * System.coreCount
        let ingests = (0..<batches).map { i in
            Task { try await exchange.ingest(Array(wires[(i * wires.count / batches)..<((i + 1) * wires.count / batches)]), community: c.id) }
        }
        #expect(await Task.detached { 7 }.value == 7)
        #expect(try await exchange.missing([campaign.id]) == [campaign.id])
        gate.signal()
        try await stuck.value
        var accepted = 0
        for t in ingests { accepted += try await t.value.accepted }
        #expect(accepted == wires.count - 2)  // the genesis and the grant were already there
        #expect(try await exchange.missing([campaign.id]).isEmpty)
        #expect(try hub.store.communities()[0].digest == laptop.store.communities()[0].digest)
    }

    /// The awaited check gives what the synchronous one gives, in order, refusals included.
    @Test func verifyingOffThePoolMatchesTheSynchronousCheck() async throws {
        let n = try node("verifier")
        let c = try n.createCommunity(name: "Elm Street")
        var wires = try n.store.exportEvents(community: c.id)
        var forged = wires[0]
        forged[forged.count - 1] ^= 1
        wires += [forged, [0xFF]]
        let other = SigningKey.generate().publicKey
        #expect(await Verifier.verify(wires) == Verifier.check(wires))
        #expect(await Verifier.verify(wires, community: other) == Verifier.check(wires, community: other))
        #expect(await Verifier.verify([]).isEmpty)
    }
}

/// A counter tasks share.
final class Count: Sendable {
    let value = Atomic<Int>(0)
}
