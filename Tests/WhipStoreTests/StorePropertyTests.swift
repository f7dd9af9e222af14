import Foundation
import Testing
import WhipCore
import WhipCrypto
import WhipStore
import WhipTestSupport

/// The store's incremental materialisation (fast path and replay path) against the pure derivation.
@Suite(.timeLimit(.minutes(10))) struct StorePropertyTests {
    static let cases = Int(ProcessInfo.processInfo.environment["WHIPROUND_STORE_PROPERTY_CASES"] ?? "") ?? 150

    @Test func randomBatchesInRandomOrderMatchPureDerivationAndRebuild() throws {
        for seed in UInt64(0)..<UInt64(Self.cases) {
            let events = try RandomCommunity.events(seed: 0x5704E + seed)
            var rng = SplitMix64(seed: seed)
            // Mostly in order (the fast path), sometimes shuffled (the replay path), always in random chunks.
            var order = events
            if rng.chance(50) { order = rng.shuffled(order) }
            let store = try tempStore()
            let now = events.map(\.hlc.wall).max()!  // nothing held as far-future
            var i = 0
            while i < order.count {
                let n = rng.int(in: 1...12)
                try store.ingest(order[i..<min(order.count, i + n)].map(\.wire), source: .peer, now: now)
                // A duplicate delivery now and then.
                if rng.chance(20) { try store.ingest([order[rng.below(i + 1)].wire], source: .peer, now: now) }
                i += n
            }
            let pure = pureDigest(events)
            let incremental = try digest(store)
            #expect(incremental == pure, "seed \(seed): store digest differs from the pure derivation")
            let rebuilt = try store.rebuild(community: FixedKeys.community.publicKey)
            #expect(rebuilt.tablesIdentical, "seed \(seed): derived tables differ from a rebuild")
            #expect(rebuilt.after == pure, "seed \(seed)")
            if incremental != pure || !rebuilt.tablesIdentical { return }
        }
    }
}
