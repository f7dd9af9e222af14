import WhipCore
import WhipCrypto
import WhipSync
import WhipTestSupport

/// How keys' timestamps are drawn in random sets.
enum TimestampShape: CaseIterable {
    /// Gaps of 0-4999 ms: most bounds need no id prefix.
    case spread
    /// A handful of distinct milliseconds: most bounds need an id prefix.
    case dense
    /// Ids sharing long prefixes within one millisecond, so bounds need long prefixes.
    case sharedPrefixes
}

extension SplitMix64 {
    /// A random key.
    mutating func key(_ shape: TimestampShape = .spread, near ts: UInt64 = 1_798_761_600_000) -> EventKey {
        switch shape {
        case .spread:
            return EventKey(timestamp: ts + next() % 10_000_000, idBytes: bytes(32)[...])!
        case .dense:
            return EventKey(timestamp: ts + next() % 4, idBytes: bytes(32)[...])!
        case .sharedPrefixes:
            var id = [UInt8](repeating: 0xAB, count: 32)
            let k = below(32)
            id.replaceSubrange(k..<32, with: bytes(32 - k))
            return EventKey(timestamp: ts, idBytes: id[...])!
        }
    }

    /// Random parameters across their whole allowed ranges.
    mutating func parameters() -> SyncParameters {
        try! SyncParameters(
            maxBuckets: int(in: 2...64), idListThreshold: pick([1, 2, 3, 4, 8, 16, 31, 64]),
            frameLimit: pick([Sync.minFrameLimit, 5_000, 16_384, Sync.maxMessageSize]), compactReplies: chance(70),
            adaptiveSplit: chance(70))
    }
}

/// Two sets built from a shared part and a part of each side's own.
struct SetPair {
    var a: SortedIndex
    var b: SortedIndex
    var onlyA: Set<EventKey>
    var onlyB: Set<EventKey>

    init(shared: Int, onlyA: Int, onlyB: Int, shape: TimestampShape = .spread, rng: inout SplitMix64) {
        var common = [EventKey]()
        for _ in 0..<shared { common.append(rng.key(shape)) }
        var extraA = Set<EventKey>()
        var extraB = Set<EventKey>()
        let commonSet = Set(common)
        while extraA.count < onlyA {
            let k = rng.key(shape)
            if !commonSet.contains(k) { extraA.insert(k) }
        }
        while extraB.count < onlyB {
            let k = rng.key(shape)
            if !commonSet.contains(k) && !extraA.contains(k) { extraB.insert(k) }
        }
        a = SortedIndex(common + extraA)
        b = SortedIndex(common + extraB)
        self.onlyA = extraA
        self.onlyB = extraB
    }
}

/// What one complete reconciliation produced.
struct Outcome {
    var have: [EventKey] = []
    var need: [EventID] = []
    var roundTrips = 0
    var bytesSent = 0
    var bytesReceived = 0
    var largest = 0
}

/// Runs a whole reconciliation between `a` (initiator) and `b` (responder), checking every message
/// against the sender's frame limit and failing after `maxRounds`.
func reconcile(
    _ a: SortedIndex, _ b: SortedIndex, initiator pa: SyncParameters = SyncParameters(),
    responder pb: SyncParameters = SyncParameters(), maxRounds: Int = 2_000
) throws -> Outcome {
    var i = SyncInitiator(store: a, parameters: pa)
    var r = SyncResponder(store: b, parameters: pb)
    var o = Outcome()
    var message = try i.initiate()
    while true {
        guard message.count <= pa.frameLimit else { throw SyncError(SyncError.Code("test.frame"), "initiator sent \(message.count) bytes") }
        o.bytesSent += message.count
        o.largest = max(o.largest, message.count)
        let reply = try r.reconcile(message)
        guard reply.count <= pb.frameLimit else { throw SyncError(SyncError.Code("test.frame"), "responder sent \(reply.count) bytes") }
        o.bytesReceived += reply.count
        o.largest = max(o.largest, reply.count)
        let step = try i.reconcile(reply)
        o.have += step.have
        o.need += step.need
        guard let next = step.next else { break }
        guard i.messagesSent <= maxRounds else { throw SyncError(SyncError.Code("test.rounds"), "more than \(maxRounds) rounds") }
        message = next
    }
    o.roundTrips = i.messagesSent
    return o
}

/// Whether `o` found exactly the differences of `pair`, each once.
func isExact(_ o: Outcome, _ pair: SetPair) -> Bool { mismatch(o, pair) == nil }

/// What `o` got wrong about `pair`, briefly; nil when it is exact.
func mismatch(_ o: Outcome, _ pair: SetPair) -> String? {
    let have = Set(o.have)
    let need = Set(o.need)
    let wantNeed = Set(pair.onlyB.map(\.id))
    var parts: [String] = []
    if o.have.count != have.count { parts.append("have repeats \(o.have.count - have.count) ids") }
    if o.need.count != need.count { parts.append("need repeats \(o.need.count - need.count) ids") }
    if have != pair.onlyA {
        parts.append("have: \(have.subtracting(pair.onlyA).count) extra, \(pair.onlyA.subtracting(have).count) missing of \(pair.onlyA.count)")
    }
    if need != wantNeed {
        parts.append("need: \(need.subtracting(wantNeed).count) extra, \(wantNeed.subtracting(need).count) missing of \(wantNeed.count)")
    }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
}

/// Builds messages by hand, following RECONCILIATION.md, independently of the module's encoder.
struct MessageBuilder {
    var bytes: [UInt8] = [0x71]
    var last: UInt64 = 0

    static func varint(_ v: UInt64) -> [UInt8] {
        var digits = [UInt8(v & 0x7f)]
        var t = v >> 7
        while t != 0 {
            digits.insert(UInt8(t & 0x7f) | 0x80, at: 0)
            t >>= 7
        }
        return digits
    }

    mutating func varint(_ v: UInt64) { bytes += Self.varint(v) }

    /// A bound; `timestamp` nil is infinity.
    mutating func bound(_ timestamp: UInt64?, _ prefix: [UInt8] = []) {
        if let t = timestamp {
            varint(t - last + 1)
            last = t
        } else {
            varint(0)
            last = UInt64.max
        }
        varint(UInt64(prefix.count))
        bytes += prefix
    }

    mutating func skip(_ timestamp: UInt64?, _ prefix: [UInt8] = []) {
        bound(timestamp, prefix)
        varint(0)
    }

    mutating func fingerprint(_ timestamp: UInt64?, _ prefix: [UInt8] = [], _ fp: [UInt8]) {
        bound(timestamp, prefix)
        varint(1)
        bytes += fp
    }

    mutating func idList(_ timestamp: UInt64?, _ prefix: [UInt8] = [], _ ids: [[UInt8]]) {
        bound(timestamp, prefix)
        varint(2)
        varint(UInt64(ids.count))
        for id in ids { bytes += id }
    }

    mutating func idListDiff(_ timestamp: UInt64?, _ prefix: [UInt8] = [], _ ids: [[UInt8]], bits: [UInt8]) {
        bound(timestamp, prefix)
        varint(3)
        varint(UInt64(ids.count))
        for id in ids { bytes += id }
        varint(UInt64(bits.count))
        bytes += bits
    }
}

extension Array where Element == UInt8 {
    var hex: String { Hex.encode(self) }
}
