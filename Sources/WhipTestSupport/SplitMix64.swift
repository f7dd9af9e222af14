/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny seedable generator, so a failing random test can be
/// replayed from the seed it prints.
///
/// The helpers below (`below`, `shuffle`, ...) are implemented here rather than through the standard
/// library's `random(in:using:)` and `shuffled(using:)`, whose algorithms are not promised to stay the
/// same across Swift releases: a seed gives the same cases on every toolchain.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's whole state.
    public private(set) var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<n` (`n > 0`), without modulo bias.
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "below(_:) needs a positive bound")
        let bound = UInt64(n)
        let threshold = (0 &- bound) % bound  // 2^64 mod n: values under it would bias the result
        while true {
            let r = next()
            if r >= threshold { return Int(r % bound) }
        }
    }

    /// A uniform integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.count)
    }

    /// A uniform 64-bit value in `range`.
    public mutating func uint64(in range: ClosedRange<UInt64>) -> UInt64 {
        let span = range.upperBound - range.lowerBound
        if span == UInt64.max { return next() }
        let bound = span + 1
        let threshold = (0 &- bound) % bound
        while true {
            let r = next()
            if r >= threshold { return range.lowerBound + r % bound }
        }
    }

    /// True with probability `percent`/100.
    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// A uniformly chosen element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T {
        precondition(!items.isEmpty, "pick(_:) needs a non-empty array")
        return items[below(items.count)]
    }

    /// An index chosen with the given relative weights (all non-negative, at least one positive).
    public mutating func weighted(_ weights: [Int]) -> Int {
        let total = weights.reduce(0, +)
        precondition(total > 0, "weighted(_:) needs a positive total weight")
        var r = below(total)
        for (i, w) in weights.enumerated() {
            if r < w { return i }
            r -= w
        }
        return weights.count - 1
    }

    /// Shuffles `items` in place (Fisher-Yates).
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, below(i + 1))
        }
    }

    /// A shuffled copy of `items`.
    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        var copy = items
        shuffle(&copy)
        return copy
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            var word = next()
            for _ in 0..<min(8, count - out.count) {
                out.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return out
    }

    /// Derives the seed of case `index` from a base seed, so neighbouring cases are unrelated.
    public static func seed(base: UInt64, index: UInt64) -> UInt64 {
        var g = SplitMix64(seed: base ^ (index &* 0xd1b5_4a32_d192_ed03))
        return g.next()
    }
}
