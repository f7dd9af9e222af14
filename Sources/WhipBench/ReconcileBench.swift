import WhipCore
import WhipCrypto
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore
public import WhipSync

/// Measures reconciliation of two large sets: round trips, bytes each way and wall time. Prints figures; it
/// is not a timed test.
public enum ReconcileBench {
    /// One measured reconciliation.
    public struct Figure: Sendable {
        /// Differences between the sets (split across both sides).
        public let differences: Int
        /// Items in the initiator's and the responder's set.
        public let initiatorItems: Int
        public let responderItems: Int
        /// Initiator messages, each answered by the responder.
        public let roundTrips: Int
        /// Bytes the initiator sent, and the responder sent.
        public let bytesSent: Int
        public let bytesReceived: Int
        /// The largest single message.
        public let largestMessage: Int
        /// Wall time of the message exchange (both sides, in one process), in seconds.
        public let seconds: Double
        /// Whether `have` and `need` came out exactly equal to the true differences.
        public let exact: Bool
    }

    /// Builds a shared set of `items` keys and, for each entry of `differences`, two sets that each add
    /// half of that many keys of their own (the initiator the odd one; a single difference is measured on
    /// each side in turn), then reconciles them and prints one line per case, after a line of store
    /// timings. Timestamps are packed HLCs (`EventKey.timestamp(of:)`) whose walls advance by random gaps
    /// of 0-4999 ms (about a month for a million items); ids are random.
    @discardableResult
    public static func run(
        items: Int = 1_000_000, differences: [Int] = [1, 10, 1_000], parameters: SyncParameters = SyncParameters(), seed: UInt64 = 1,
        print: (String) -> Void
    ) -> [Figure] {
        var rng = Generator(seed: seed)
        let clock = ContinuousClock()
        let t0 = clock.now
        var keys = [EventKey]()
        keys.reserveCapacity(items)
        var wall: UInt64 = 1_700_000_000_000
        for _ in 0..<items {
            wall += rng.next() % 5_000
            keys.append(rng.key(timestamp: EventKey.timestamp(of: HLC(wall: wall))))
        }
        let base = SortedIndex(keys)
        let span: (UInt64, UInt64) = (1_700_000_000_000, wall)
        print(
            "reconcile: \(base.count) shared items built in \(ms(clock.now - t0)) ms; buckets ≤ \(parameters.maxBuckets), "
                + "id lists ≤ \(parameters.idListThreshold) items, frames ≤ \(parameters.frameLimit) bytes"
                + (parameters.compactReplies ? "" : ", full id-list replies") + (parameters.adaptiveSplit ? "" : ", fixed splits"))
        print(storeFigures(base, span: span, rng: &rng))
        var figures = [Figure]()
        for d in differences {
            // One difference is measured both ways round: held by the initiator, then by the responder.
            for mirrored in d == 1 ? [false, true] : [false] {
                var a = base
                var b = base
                var onlyA = Set<EventKey>()
                var onlyB = Set<EventKey>()
                for i in 0..<d {
                    let k = rng.key(wallIn: span)
                    if (i % 2 == 0) != mirrored {
                        if a.insert(k) { onlyA.insert(k) }
                    } else {
                        if b.insert(k) { onlyB.insert(k) }
                    }
                }
                let f = reconcile(a, b, parameters: parameters, differences: d, onlyA: onlyA, onlyB: onlyB)
                figures.append(f)
                let side = d == 1 ? (mirrored ? " (responder holds it)" : " (initiator holds it)") : ""
                print(
                    "reconcile \(f.initiatorItems) vs \(f.responderItems) items, \(d) difference\(d == 1 ? "" : "s")\(side): "
                        + "\(f.roundTrips) round trip\(f.roundTrips == 1 ? "" : "s"), \(f.bytesSent) bytes sent, "
                        + "\(f.bytesReceived) bytes received, largest message \(f.largestMessage) bytes, "
                        + "\(tenths(f.seconds * 1_000)) ms" + (f.exact ? "" : "  RESULT WRONG"))
            }
        }
        return figures
    }

    /// The incremental cache at work: inserts into a copy of `base` (which copies only what they touch) at
    /// random places and at the end, and fingerprints of random ranges.
    static func storeFigures(_ base: SortedIndex, span: (UInt64, UInt64), rng: inout Generator) -> String {
        // `span`: the first and last wall-clock milliseconds of the base set.
        let clock = ContinuousClock()
        var store = base
        let n = 10_000
        var t = clock.now
        for _ in 0..<n { store.insert(rng.key(wallIn: span)) }
        let random = seconds(clock.now - t) / Double(n)
        t = clock.now
        for i in 0..<n { store.insert(rng.key(timestamp: EventKey.timestamp(of: HLC(wall: span.1 + UInt64(i))))) }
        let append = seconds(clock.now - t) / Double(n)
        t = clock.now
        var sink = 0
        for _ in 0..<n {
            let a = Int(rng.next() % UInt64(store.count))
            let b = a + Int(rng.next() % UInt64(store.count - a + 1))
            sink &+= Int(store.fingerprint(of: a..<b)[0])
        }
        let fingerprint = seconds(clock.now - t) / Double(n)
        return "reconcile: store of \(store.count) items: insert \(tenths(random * 1e6)) µs at a random place, "
            + "\(tenths(append * 1e6)) µs at the end; fingerprint of a random range \(tenths(fingerprint * 1e6)) µs"
            + (sink == -1 ? "" : "")
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func reconcile(
        _ a: SortedIndex, _ b: SortedIndex, parameters: SyncParameters, differences: Int, onlyA: Set<EventKey>,
        onlyB: Set<EventKey>
    ) -> Figure {
        let clock = ContinuousClock()
        let start = clock.now
        var initiator = SyncInitiator(store: a, parameters: parameters)
        var responder = SyncResponder(store: b, parameters: parameters)
        var sent = 0
        var received = 0
        var largest = 0
        var have = [EventKey]()
        var need = [EventID]()
        var ok = true
        do {
            var message = try initiator.initiate()
            while true {
                sent += message.count
                largest = max(largest, message.count)
                let reply = try responder.reconcile(message)
                received += reply.count
                largest = max(largest, reply.count)
                let step = try initiator.reconcile(reply)
                have += step.have
                need += step.need
                guard let next = step.next else { break }
                message = next
            }
        } catch {
            ok = false
        }
        let seconds = seconds(clock.now - start)
        let exact =
            ok && have.count == onlyA.count && Set(have) == onlyA && need.count == onlyB.count && Set(need) == Set(onlyB.map(\.id))
        return Figure(
            differences: differences, initiatorItems: a.count, responderItems: b.count, roundTrips: initiator.messagesSent, bytesSent: sent,
            bytesReceived: received, largestMessage: largest, seconds: seconds, exact: exact)
    }

    /// `v` with one decimal.
    static func tenths(_ v: Double) -> String {
        let t = Int((v * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }

    static func ms(_ d: Duration) -> Int {
        Int(d.components.seconds * 1_000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    /// SplitMix64, so the bench needs nothing from the test support module.
    struct Generator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func key(timestamp: UInt64) -> EventKey {
            EventKey(timestamp: timestamp, w0: next(), w1: next(), w2: next(), w3: next())
        }
        /// A key whose wall is uniform in `span` (counter 0).
        mutating func key(wallIn span: (UInt64, UInt64)) -> EventKey {
            key(timestamp: EventKey.timestamp(of: HLC(wall: span.0 + next() % (span.1 - span.0 + 1))))
        }
    }
}
