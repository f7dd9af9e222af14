/// A sorted set of `EventKey`s that reconciliation reads by index.
///
/// Indices run over the keys in strictly ascending order (no duplicates); keys with the reserved timestamp
/// `UInt64.max` are ignored by reconciliation. A reconciliation reads one store throughout, so the store
/// must not change while a session uses it; `SortedIndex` is a value type, so a session's copy is a
/// snapshot and inserting into the original copies only what it touches.
public protocol ReconcileIndex {
    /// The number of keys.
    var count: Int { get }
    /// The key at `index` (`0..<count`).
    func item(at index: Int) -> EventKey
    /// The first index in `range` whose key is not below `key`, or `range.upperBound` if there is none.
    func lowerBound(of key: EventKey, in range: Range<Int>) -> Int
    /// The sum of the ids of the keys in `range` (a subrange of `0..<count`).
    func idSum(of range: Range<Int>) -> IdSum
    /// Calls `body` with each key in `range`, in order.
    func forEach(in range: Range<Int>, _ body: (EventKey) -> Void)
}

extension ReconcileIndex {
    /// The protocol fingerprint of the keys in `range`.
    public func fingerprint(of range: Range<Int>) -> [UInt8] {
        Sync.fingerprint(sum: idSum(of: range), count: range.count)
    }

    /// Calls `body` with each key in `range` by `item(at:)`.
    public func forEach(in range: Range<Int>, _ body: (EventKey) -> Void) {
        for i in range { body(item(at: i)) }
    }

    /// The keys in `range`.
    func items(in range: Range<Int>) -> [EventKey] {
        var out = [EventKey]()
        out.reserveCapacity(range.count)
        forEach(in: range) { out.append($0) }
        return out
    }
}

/// An in-memory `ReconcileIndex` with an incremental fingerprint cache.
///
/// Keys live in sorted chunks of at most `maxChunk` (256) keys; each chunk caches the sum of its ids, and
/// two Fenwick trees over the chunks hold prefix counts and prefix sums. With n keys in C ≈ n/192 chunks:
/// - `idSum(of:)` and `fingerprint(of:)`: O(log C + maxChunk/2): two prefix sums, each a Fenwick query plus
///   at most half a chunk summed from whichever end of it is nearer; nothing is rehashed.
/// - `item(at:)`: O(log C); `lowerBound(of:in:)`: O(log C + log maxChunk); `forEach`: O(log C + k).
/// - `insert(_:)`: O(maxChunk + log C) to place the key and update the chunk sum and both trees. A full chunk
///   splits in two; splitting the last chunk (where new events arrive) appends to the trees in O(log C), a
///   split elsewhere rebuilds them in O(C), at most once per `maxChunk/2` inserts into that region, so
///   O(C/maxChunk) amortised.
/// - `init(_:)`: O(n log n) to sort, then O(n) to build.
///
/// Memory: 40 bytes per key plus about 100 bytes per chunk (under 1 byte per key).
public struct SortedIndex: ReconcileIndex, Sendable {
    /// The largest chunk; a chunk that grows past it splits in two halves.
    static let maxChunk = 256
    /// Chunk size when building from a list.
    static let buildChunk = 192

    struct Chunk: Sendable {
        var items: [EventKey]
        var sum: IdSum
        init(_ items: [EventKey]) {
            self.items = items
            var s = IdSum()
            for k in items { s.add(k) }
            sum = s
        }
    }

    var chunks: [Chunk] = []
    /// Fenwick tree (1-based) over chunk sizes.
    var countTree: [Int] = [0]
    /// Fenwick tree (1-based) over chunk id sums.
    var sumTree: [IdSum] = [IdSum()]
    /// The number of keys.
    public private(set) var count = 0

    /// An empty store.
    public init() {}

    /// A store holding `keys` (any order; duplicates and keys with the reserved timestamp `UInt64.max` are dropped).
    public init(_ keys: some Sequence<EventKey>) {
        self.init(consuming: Array(keys))
    }

    /// A store holding `keys` (any order), sorted and de-duplicated in place: no copy of the list is made, so
    /// building an index of a million keys costs the list and the store, not four lists.
    public init(consuming keys: consuming [EventKey]) {
        var all = consume keys
        all.sort()
        var kept = 0
        for i in all.indices {
            let k = all[i]
            if k.timestamp == Sync.infinity { break }  // the reserved timestamp sorts last
            if kept > 0 && all[kept - 1] == k { continue }
            all[kept] = k
            kept += 1
        }
        all.removeLast(all.count - kept)
        self.init(sortedUnique: all)
    }

    /// A store from keys already sorted ascending without duplicates (not checked).
    init(sortedUnique keys: [EventKey]) {
        var i = 0
        while i < keys.count {
            let j = min(keys.count, i + Self.buildChunk)
            chunks.append(Chunk(Array(keys[i..<j])))
            i = j
        }
        count = keys.count
        rebuildTrees()
    }

    // MARK: Fenwick trees

    mutating func rebuildTrees() {
        let c = chunks.count
        countTree = [Int](repeating: 0, count: c + 1)
        sumTree = [IdSum](repeating: IdSum(), count: c + 1)
        for i in 1...max(1, c) where i <= c {
            countTree[i] += chunks[i - 1].items.count
            sumTree[i].add(chunks[i - 1].sum)
            let parent = i + (i & -i)
            if parent <= c {
                countTree[parent] += countTree[i]
                sumTree[parent].add(sumTree[i])
            }
        }
    }

    /// Adds `dc` and `ds` to chunk `c` (0-based) in both trees.
    mutating func treeAdd(_ c: Int, count dc: Int, sum ds: IdSum, subtract: Bool = false) {
        var i = c + 1
        while i < countTree.count {
            countTree[i] += dc
            if subtract { sumTree[i].subtract(ds) } else { sumTree[i].add(ds) }
            i += i & -i
        }
    }

    /// Appends a node for a new last chunk (already in `chunks`) in O(log C).
    mutating func treeAppend() {
        let i = countTree.count  // 1-based index of the new node
        let low = i - (i & -i)
        // Node i covers chunks (low, i]: the prefix up to i-1 minus the prefix up to low, plus chunk i.
        let (cHigh, sHigh) = prefix(chunks: i - 1)
        let (cLow, sLow) = prefix(chunks: low)
        countTree.append(cHigh - cLow + chunks[i - 1].items.count)
        sumTree.append(sHigh - sLow + chunks[i - 1].sum)
    }

    /// Count and id sum of the first `n` chunks.
    func prefix(chunks n: Int) -> (Int, IdSum) {
        var c = 0
        var s = IdSum()
        var i = n
        while i > 0 {
            c += countTree[i]
            s.add(sumTree[i])
            i -= i & -i
        }
        return (c, s)
    }

    /// The chunk holding global index `index` (`0..<count`) and the index within it.
    func locate(_ index: Int) -> (chunk: Int, offset: Int) {
        var pos = 0
        var rest = index
        var step = 1
        while step * 2 < countTree.count { step *= 2 }
        while step > 0 {
            let next = pos + step
            if next < countTree.count && countTree[next] <= rest {
                pos = next
                rest -= countTree[next]
            }
            step /= 2
        }
        return (pos, rest)
    }

    /// Sum of the ids of the first `index` keys (`0...count`).
    func prefixSum(_ index: Int) -> IdSum {
        if index == 0 { return IdSum() }
        if index == count { return prefix(chunks: chunks.count).1 }
        let (c, offset) = locate(index)
        var s = prefix(chunks: c).1
        let items = chunks[c].items
        if offset <= items.count / 2 {
            for k in items[0..<offset] { s.add(k) }
        } else {
            s.add(chunks[c].sum)
            var tail = IdSum()
            for k in items[offset...] { tail.add(k) }
            s.subtract(tail)
        }
        return s
    }

    // MARK: ReconcileIndex

    public func item(at index: Int) -> EventKey {
        precondition(index >= 0 && index < count, "index \(index) out of 0..<\(count)")
        let (c, o) = locate(index)
        return chunks[c].items[o]
    }

    public func lowerBound(of key: EventKey, in range: Range<Int>) -> Int {
        let (c, o) = position(of: key)
        let global = c < chunks.count ? prefix(chunks: c).0 + o : count
        return min(max(global, range.lowerBound), range.upperBound)
    }

    /// The chunk and offset where `key` is or would be inserted (chunk == chunks.count past the end).
    func position(of key: EventKey) -> (Int, Int) {
        // First chunk whose last key is not below `key`.
        var lo = 0
        var hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if chunks[mid].items[chunks[mid].items.count - 1] < key { lo = mid + 1 } else { hi = mid }
        }
        if lo == chunks.count { return (lo, 0) }
        let items = chunks[lo].items
        var a = 0
        var b = items.count
        while a < b {
            let mid = (a + b) / 2
            if items[mid] < key { a = mid + 1 } else { b = mid }
        }
        return (lo, a)
    }

    public func idSum(of range: Range<Int>) -> IdSum {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) out of 0..<\(count)")
        if range.isEmpty { return IdSum() }
        return prefixSum(range.upperBound) - prefixSum(range.lowerBound)
    }

    public func forEach(in range: Range<Int>, _ body: (EventKey) -> Void) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) out of 0..<\(count)")
        if range.isEmpty { return }
        var (c, o) = locate(range.lowerBound)
        var left = range.count
        while left > 0 {
            let items = chunks[c].items
            let n = min(left, items.count - o)
            for k in items[o..<(o + n)] { body(k) }
            left -= n
            c += 1
            o = 0
        }
    }

    // MARK: Updates

    /// Whether `key` is in the store.
    public func contains(_ key: EventKey) -> Bool {
        let (c, o) = position(of: key)
        return c < chunks.count && chunks[c].items[o] == key
    }

    /// Inserts `key`; false if it was already present or has the reserved timestamp `UInt64.max`.
    @discardableResult
    public mutating func insert(_ key: EventKey) -> Bool {
        if key.timestamp == Sync.infinity { return false }
        if chunks.isEmpty {
            chunks.append(Chunk([key]))
            count = 1
            rebuildTrees()
            return true
        }
        var (c, o) = position(of: key)
        if c < chunks.count && chunks[c].items[o] == key { return false }
        if c == chunks.count {
            // Past the last key: append to the last chunk.
            c -= 1
            o = chunks[c].items.count
        }
        chunks[c].items.insert(key, at: o)
        chunks[c].sum.add(key)
        count += 1
        var one = IdSum()
        one.add(key)
        treeAdd(c, count: 1, sum: one)
        if chunks[c].items.count > Self.maxChunk { split(c) }
        return true
    }

    /// Splits chunk `c` into two halves.
    mutating func split(_ c: Int) {
        let items = chunks[c].items
        let half = items.count / 2
        let right = Chunk(Array(items[half...]))
        if c == chunks.count - 1 {
            // The common case: new events arrive at the end. Shrink the last node, then append one.
            treeAdd(c, count: -right.items.count, sum: right.sum, subtract: true)
            chunks[c] = Chunk(Array(items[..<half]))
            chunks.append(right)
            treeAppend()
        } else {
            chunks[c] = Chunk(Array(items[..<half]))
            chunks.insert(right, at: c + 1)
            rebuildTrees()
        }
    }
}
