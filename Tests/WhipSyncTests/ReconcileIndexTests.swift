import Testing
import WhipCore
import WhipCrypto
import WhipSync
import WhipTestSupport

@Suite(.timeLimit(.minutes(10))) struct ReconcileIndexTests {
    /// `IdSum` is byte for byte WhipCore's `Sum256`, including carries across words and wrap-around.
    @Test func idSumMatchesSum256() {
        var rng = SplitMix64(seed: 20)
        var fast = IdSum()
        var reference = Sum256()
        var keys: [EventKey] = []
        let edge: [[UInt8]] = [
            [UInt8](repeating: 0xff, count: 32), [UInt8](repeating: 0xff, count: 8) + [UInt8](repeating: 0, count: 24),
            [1] + [UInt8](repeating: 0, count: 31), [UInt8](repeating: 0, count: 31) + [0x80],
        ]
        for i in 0..<2_000 {
            let id = i < edge.count * 3 ? edge[i % edge.count] : rng.bytes(32)
            let k = EventKey(timestamp: 1, idBytes: id[...])!
            keys.append(k)
            fast.add(k)
            reference.add(id)
            #expect(fast.bytes == reference.bytes, "after \(i + 1) ids")
        }
        // Subtracting undoes adding, in any order.
        var back = fast
        for k in keys.reversed().prefix(1_000) {
            var one = IdSum()
            one.add(k)
            back.subtract(one)
            reference.subtract(k.idBytes)
        }
        #expect(back.bytes == reference.bytes)
        #expect(fast - fast == IdSum())
    }

    /// The fingerprint is the first 16 bytes of BLAKE2b-256(sum ‖ varint(count)).
    @Test func fingerprintDefinition() {
        #expect(Sync.fingerprint(sum: IdSum(), count: 0) == Array(Blake2b.hash([UInt8](repeating: 0, count: 33), length: 32)[0..<16]))
        let id = [UInt8](1...32)
        let k = EventKey(timestamp: 7, idBytes: id[...])!
        let store = SortedIndex([k])
        #expect(store.fingerprint(of: 0..<1) == Array(Blake2b.hash(id + [0x01], length: 32)[0..<16]))
        // Counts of 128 and more take a two-byte varint.
        var keys: [EventKey] = []
        var sum = Sum256()
        var rng = SplitMix64(seed: 21)
        for _ in 0..<200 {
            let b = rng.bytes(32)
            keys.append(EventKey(timestamp: 1, idBytes: b[...])!)
            sum.add(b)
        }
        let big = SortedIndex(keys)
        #expect(big.fingerprint(of: 0..<200) == Array(Blake2b.hash(sum.bytes + [0x81, 0x48], length: 32)[0..<16]))
    }

    /// Random inserts (at the front, in the middle, at the end, duplicates, the reserved timestamp) keep
    /// the store equal to a plain sorted array in every query.
    @Test(arguments: 0..<6)
    func memoryStoreMatchesASortedArray(seed: UInt64) {
        var rng = SplitMix64(seed: 100 + seed)
        let shape = TimestampShape.allCases[Int(seed) % TimestampShape.allCases.count]
        var initial: [EventKey] = []
        for _ in 0..<rng.pick([0, 1, 500, 3_000]) { initial.append(rng.key(shape)) }
        initial += initial.prefix(10)  // duplicates are dropped
        var store = SortedIndex(initial)
        var plain = Array(Set(initial)).sorted()
        check(store, plain, &rng)
        for step in 0..<3_000 {
            let k: EventKey
            switch rng.below(10) {
            case 0: k = EventKey(timestamp: 0, idBytes: rng.bytes(32)[...])!  // before everything
            case 1: k = EventKey(timestamp: UInt64.max - 1, idBytes: rng.bytes(32)[...])!  // after everything
            case 2 where !plain.isEmpty: k = rng.pick(plain)  // a duplicate
            case 3: k = EventKey(timestamp: UInt64.max, idBytes: rng.bytes(32)[...])!  // reserved
            case 4, 5: k = EventKey(timestamp: (plain.last?.timestamp ?? 0) &+ rng.next() % 3, idBytes: rng.bytes(32)[...])!  // at the end
            default: k = rng.key(shape)
            }
            let fresh = k.timestamp != UInt64.max && !plain.contains(k)
            let inserted = store.insert(k)
            #expect(inserted == fresh)
            if fresh {
                plain.insert(k, at: plain.firstIndex { $0 > k } ?? plain.count)
            }
            #expect(store.contains(k) == fresh || plain.contains(k))
            if step % 500 == 0 { check(store, plain, &rng) }
        }
        check(store, plain, &rng)
    }

    func check(_ store: SortedIndex, _ plain: [EventKey], _ rng: inout SplitMix64) {
        #expect(store.count == plain.count)
        var all: [EventKey] = []
        store.forEach(in: 0..<store.count) { all.append($0) }
        #expect(all == plain)
        for _ in 0..<200 where !plain.isEmpty {
            let i = rng.below(plain.count)
            #expect(store.item(at: i) == plain[i])
            let a = rng.below(plain.count + 1)
            let b = rng.int(in: a...plain.count)
            var sum = Sum256()
            for k in plain[a..<b] { sum.add(k.idBytes) }
            #expect(store.idSum(of: a..<b).bytes == sum.bytes, "sum of \(a)..<\(b)")
            var part: [EventKey] = []
            store.forEach(in: a..<b) { part.append($0) }
            #expect(part == Array(plain[a..<b]))
            // lowerBound against a key in the set, a key between, and the clamp to the range.
            let probe = rng.chance(50) ? plain[rng.below(plain.count)] : rng.key()
            let expected = plain.firstIndex { $0 >= probe } ?? plain.count
            #expect(store.lowerBound(of: probe, in: 0..<plain.count) == expected)
            #expect(store.lowerBound(of: probe, in: a..<b) == min(max(expected, a), b))
        }
    }

    @Test func emptyStore() {
        var store = SortedIndex()
        #expect(store.count == 0)
        #expect(store.idSum(of: 0..<0) == IdSum())
        #expect(store.lowerBound(of: EventKey(timestamp: 5, idBytes: [UInt8](repeating: 1, count: 32)[...])!, in: 0..<0) == 0)
        let inserted = store.insert(EventKey(timestamp: 5, idBytes: [UInt8](repeating: 1, count: 32)[...])!)
        #expect(inserted && store.count == 1)
    }
}
