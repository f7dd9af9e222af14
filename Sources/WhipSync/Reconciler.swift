public import WhipCore

/// The initiator of a reconciliation: it sends the first message and, at the end, knows the differences.
///
/// ```
/// var a = SyncInitiator(store: mine)
/// var b = SyncResponder(store: theirs)   // on the other node
/// var message = try a.initiate()
/// while true {
///     let reply = try b.reconcile(message)          // over the wire
///     let step = try a.reconcile(reply)
///     push(step.have); fetch(step.need)
///     guard let next = step.next else { break }
///     message = next
/// }
/// ```
public struct SyncInitiator<Store: ReconcileIndex> {
    enum State { case ready, waiting, done, failed }

    var engine: Engine<Store>
    var state = State.ready

    /// An initiator reading `store` (which must not change during the session) with `parameters`.
    public init(store: Store, parameters: SyncParameters = SyncParameters()) {
        engine = Engine(store: store, parameters: parameters, isInitiator: true)
    }

    /// Messages sent so far; each is answered by one responder message, so this is the round-trip count.
    public private(set) var messagesSent = 0

    /// The first message.
    public mutating func initiate() throws(SyncError) -> [UInt8] {
        guard state == .ready else { throw SyncError(.state, "initiate() may be called once, before reconcile(_:)") }
        state = .waiting
        messagesSent = 1
        return engine.initiate()
    }

    /// Processes the responder's reply. `have`: keys we hold that the responder lacks; `need`: ids the
    /// responder holds that we lack (only timestamps of our own items are known). Both hold what this step
    /// learnt, and no id is reported twice in a session. `next` is the message to send, or nil when the
    /// reconciliation is complete.
    public mutating func reconcile(_ message: [UInt8]) throws(SyncError) -> (next: [UInt8]?, have: [EventKey], need: [EventID]) {
        guard state == .waiting else {
            throw SyncError(.state, state == .ready ? "reconcile(_:) before initiate()" : "the reconciliation is over")
        }
        do {
            let r = try engine.process(message)
            if r.ranges == 0 {
                state = .done
                return (nil, r.have, r.need.map(\.id))
            }
            messagesSent += 1
            return (r.out, r.have, r.need.map(\.id))
        } catch {
            state = .failed
            throw error
        }
    }

    /// True once `reconcile(_:)` has returned a nil `next`.
    public var isDone: Bool { state == .done }
}

/// The responder of a reconciliation: it answers each message and learns nothing itself.
public struct SyncResponder<Store: ReconcileIndex> {
    var engine: Engine<Store>

    /// A responder reading `store` (which must not change during the session) with `parameters`.
    public init(store: Store, parameters: SyncParameters = SyncParameters()) {
        engine = Engine(store: store, parameters: parameters, isInitiator: false)
    }

    /// The reply to one initiator message.
    public mutating func reconcile(_ message: [UInt8]) throws(SyncError) -> [UInt8] {
        try engine.process(message).out
    }
}

extension SyncInitiator: Sendable where Store: Sendable {}
extension SyncResponder: Sendable where Store: Sendable {}
extension Engine: Sendable where Store: Sendable {}

/// Both roles' message processing. Follows negentropy v1 (ranges of Skip / Fingerprint / IdList) with these
/// changes: a compact reply to id lists (mode 3); fan-out planned for the fewest messages, then bytes, and
/// narrowed under frame pressure; and a Deferred mode (4) so that a side short of frame space postpones work
/// at the level it reached instead of restarting the rest of the key space from the top.
struct Engine<Store: ReconcileIndex> {
    let store: Store
    let parameters: SyncParameters
    let isInitiator: Bool
    /// Items below infinity: the whole key space.
    let end: Int
    /// Initiator only: the id lists sent in the last message, by (lower bound, upper bound), awaiting mode 3 replies.
    var pending: [PendingKey: [EventKey]] = [:]
    /// Initiator only: every id reported in `have` or `need` so far, so that none is reported twice (after a
    /// restart, see `process`). About 64 bytes per reported id, for the session.
    var reported = Set<RawID>()

    struct PendingKey: Hashable {
        let lower: EventKey
        let upper: EventKey
    }

    /// Room kept free while filling a message so that, if a side must give up part-way, a Skip and a final
    /// "rest of the key space" fingerprint still fit: a skip range (bound ≤ 10 + 1 + 32 bytes, mode 1) and a
    /// fingerprint range to infinity (bound 2, mode 1, fingerprint 16).
    static var reserve: Int { (10 + 1 + 32 + 1) + (2 + 1 + Sync.fingerprintSize) }

    init(store: Store, parameters: SyncParameters, isInitiator: Bool) {
        self.store = store
        self.parameters = parameters
        self.isInitiator = isInitiator
        end = store.lowerBound(of: Bound.infinity.key, in: 0..<store.count)
    }

    var limit: Int { parameters.frameLimit }

    mutating func initiate() -> [UInt8] {
        var w = Writer()
        w.bytes.append(Sync.version)
        var lists: [(PendingKey, [EventKey])] = []
        split(0..<end, lower: .zero, upper: .infinity, into: &w, lists: &lists)
        pending = [:]
        for (k, v) in lists { pending[k] = v }
        return w.bytes
    }

    struct Result {
        var out: [UInt8]
        /// Number of ranges in `out` (0: everything is settled).
        var ranges: Int
        var have: [EventKey]
        var need: [RawID]
    }

    /// One range of an incoming message, parsed and checked.
    struct Incoming {
        let lower: Bound
        let upper: Bound
        let payload: Payload
        /// Our items in the range.
        let items: Range<Int>
        /// Bytes the range took in the message.
        let size: Int
        /// Whether it needs an answer from us (a range description), as opposed to settling silently.
        let needy: Bool
    }

    enum Payload {
        case skip
        case fingerprint
        case idList([RawID])
        case idListReply(ids: [RawID], bits: [UInt8], ours: [EventKey])
        case deferred
    }

    /// Parses and checks a whole message before acting on any of it.
    func parse(_ message: [UInt8]) throws(SyncError) -> [Incoming]? {
        guard message.count <= max(Sync.maxMessageSize, limit) else {
            throw SyncError(.frameTooLarge, "message of \(message.count) bytes exceeds \(Sync.maxMessageSize)")
        }
        var r = Reader(message)
        let v = try r.byte()
        guard Sync.versionFamily.contains(v) else { throw .malformed("not a reconciliation message (version byte \(hex(v)))") }
        if v != Sync.version {
            if isInitiator {
                throw SyncError(.unsupportedVersion, "the peer speaks version \(hex(v)), we speak \(hex(Sync.version))")
            }
            return nil
        }
        var ranges: [Incoming] = []
        var lower = Bound.zero
        var index = 0
        while !r.atEnd {
            let start = r.position
            let upper = try r.bound()
            guard lower < upper else { throw .malformed("range bounds do not ascend at byte \(start)") }
            let modeValue = try r.varint()
            guard let mode = Mode(rawValue: modeValue) else { throw .malformed("unknown mode \(modeValue) at byte \(start)") }
            let items = index..<store.lowerBound(of: upper.key, in: index..<end)
            let payload: Payload
            var needy = false
            switch mode {
            case .skip:
                payload = .skip
            case .fingerprint:
                let theirs = try r.take(Sync.fingerprintSize)
                payload = .fingerprint
                needy = store.fingerprint(of: items).elementsEqual(theirs) == false
            case .idList:
                let ids = try readIdList(&r)
                payload = .idList(ids)
                if !isInitiator {
                    needy = !parameters.compactReplies || store.fingerprint(of: items) != Sync.fingerprint(sum: Self.sum(ids), count: ids.count)
                }
            case .idListReply:
                guard isInitiator else { throw SyncError(.protocolViolation, "the responder was sent an id list reply (mode 3)") }
                payload = try readReply(&r, lower: lower, upper: upper)
            case .deferred:
                payload = .deferred
                needy = true
            }
            ranges.append(Incoming(lower: lower, upper: upper, payload: payload, items: items, size: r.position - start, needy: needy))
            lower = upper
            index = items.upperBound
        }
        return ranges
    }

    /// Processes one message from the peer and builds the reply.
    ///
    /// Frame budget. Any range that needs an answer can instead be answered with Deferred, which costs no
    /// more than the range took in the incoming message (its bound and a mode byte, plus a Skip over the
    /// silent ranges before it, whose bounds took at least as many bytes): `later[i]` sums that worst case
    /// over ranges i and beyond. A range gets a real answer if the reply still has room to defer the later
    /// ranges, counting at most half a frame for them, so that at least half of every frame does real work.
    /// The first range that needs an answer always gets one if it fits at all, so every message makes
    /// progress. When even Deferred no longer fits, the reply ends with one fingerprint from that range to
    /// infinity (negentropy's behaviour); that restarts the rest of the key space, which can make the
    /// initiator meet ranges it already settled, so the initiator drops ids it has already reported.
    mutating func process(_ message: [UInt8]) throws(SyncError) -> Result {
        var result = Result(out: [Sync.version], ranges: 0, have: [], need: [])
        guard let ranges = try parse(message) else {
            return result  // a responder answers an unknown version with its own version and no ranges
        }
        var later = [Int](repeating: 0, count: ranges.count + 1)
        var run = 0
        var costs = [Int](repeating: 0, count: ranges.count)
        for (i, rg) in ranges.enumerated() {
            if rg.needy {
                costs[i] = rg.size + run
                run = 0
            } else {
                run += rg.size
            }
        }
        for i in stride(from: ranges.count - 1, through: 0, by: -1) { later[i] = later[i + 1] + costs[i] }

        let breadth = ranges.count { $0.needy }
        var out = Writer()
        out.bytes.append(Sync.version)
        var newPending: [(PendingKey, [EventKey])] = []
        var skipping = false  // a Skip up to the current range's lower bound is owed before the next range we write
        var answeredAny = false
        var stopped = false  // the reply has ended with a fingerprint to infinity: only settle what costs nothing

        for (i, rg) in ranges.enumerated() {
            switch rg.payload {
            case .idList(let ids) where isInitiator:
                settle(rg.items, theirs: ids, into: &result)
            case .idListReply(let ids, let bits, let ours):
                for id in ids where reported.insert(id).inserted { result.need.append(id) }
                for (j, key) in ours.enumerated() where bits.indices.contains(j >> 3) && bits[j >> 3] & (1 << UInt8(j & 7)) != 0 {
                    if reported.insert(key.raw).inserted { result.have.append(key) }
                }
            default:
                break
            }
            if stopped { continue }
            guard rg.needy else {
                skipping = true
                continue
            }
            let budget = limit - Self.reserve - (answeredAny ? min(later[i + 1], limit / 2) : 0)
            let start = Writer(lastTimestamp: out.lastTimestamp)
            var o = start
            if skipping { o.range(rg.lower, .skip) }
            var lists: [(PendingKey, [EventKey])] = []
            var answered = false
            switch rg.payload {
            case .idList(let ids):
                answered = answer(rg.items, theirs: ids, upper: rg.upper, into: &o, room: budget - out.count)
            default:  // a fingerprint that differs, or a deferred range: describe our side of it
                split(rg.items, lower: rg.lower, upper: rg.upper, into: &o, lists: &lists, breadth: breadth)
                answered = out.count + o.count <= budget
            }
            if answered {
                out.append(o)
                newPending += lists
                result.ranges += 1
                skipping = false
                answeredAny = true
                continue
            }
            var d = start
            if skipping { d.range(rg.lower, .skip) }
            d.range(rg.upper, .deferred)
            if out.count + d.count <= limit - Self.reserve {
                out.append(d)
                result.ranges += 1
                skipping = false
                continue
            }
            if skipping { out.range(rg.lower, .skip) }
            out.range(.infinity, .fingerprint)
            out.bytes += store.fingerprint(of: rg.items.lowerBound..<end)
            result.ranges += 1
            stopped = true
        }
        if isInitiator {
            pending = [:]
            for (k, v) in newPending { pending[k] = v }
        }
        result.out = out.bytes
        return result
    }

    func hex(_ b: UInt8) -> String { "0x" + String(b, radix: 16) }

    // MARK: Splitting

    /// Describes our items in `range` (between `lower` and `upper`): an id list if few, else fingerprints of
    /// sub-ranges.
    func split(
        _ range: Range<Int>, lower: Bound, upper: Bound, into w: inout Writer, lists: inout [(PendingKey, [EventKey])], breadth: Int = 1
    ) {
        let m = range.count
        // Under frame pressure (more ranges to describe than `maxBuckets`-way splits of each would fit in a
        // frame), bytes, not levels, decide the round trips: split fewer ways and list at most 4 ids, the
        // cheapest way to pin down many isolated differences.
        let cap = max(2, limit / max(1, breadth * 22))
        let pressed = parameters.adaptiveSplit && cap < parameters.maxBuckets
        if m <= (pressed ? min(parameters.idListThreshold, 4) : parameters.idListThreshold) {
            w.range(upper, .idList)
            w.varint(UInt64(m))
            let keys = store.items(in: range)
            for k in keys { w.id(k.raw) }
            if isInitiator { lists.append((PendingKey(lower: lower.key, upper: upper.key), keys)) }
            return
        }
        let k = pressed ? min(cap, buckets(for: m)) : buckets(for: m)
        let per = m / k
        let extra = m % k
        var start = range.lowerBound
        for i in 0..<k {
            let size = per + (i < extra ? 1 : 0)
            let stop = start + size
            let b = stop == range.upperBound ? upper : Bound.between(store.item(at: stop - 1), store.item(at: stop))
            w.range(b, .fingerprint)
            w.bytes += store.fingerprint(of: start..<stop)
            start = stop
        }
    }

    /// How many sub-ranges to split `m` items into (`m` > the id-list threshold).
    ///
    /// Fixed (negentropy): `maxBuckets`. Adaptive: plan the fewest messages, then the fewest bytes. Let r be
    /// the fewest levels of `maxBuckets`-way splits that bring the range down to the id-list threshold, less
    /// an eighth for slack (the peer may hold a few more items in a bucket than we do). The last id list is
    /// sent by whoever receives the r-th split. If that is the initiator, the responder must still reply,
    /// so r + 1 levels, ending in the responder's list, take as many messages: both are candidates. For each
    /// candidate level count and each bucket count k that reaches the target, estimate the bytes (22 per
    /// fingerprint range, 32 per listed id) and take the cheapest k. The peer re-plans at the next level from
    /// its own count, which lands on the same plan one level shorter.
    func buckets(for m: Int) -> Int {
        let b = parameters.maxBuckets
        guard parameters.adaptiveSplit else { return min(b, m) }
        let t = parameters.idListThreshold
        let target = max(1, t - max(1, t / 8))
        var r = 1
        while Self.leaf(m, b, r) > target { r += 1 }
        // r odd: the peer receives the last split and sends the id list; r even: we do.
        let listByInitiator = r % 2 == 1 ? !isInitiator : isInitiator
        var best = (cost: Int.max, k: b)
        for levels in listByInitiator ? [r, r + 1] : [r] {
            for k in 2...b {
                let leaf = Self.leaf(m, k, levels)
                guard leaf <= target else { continue }
                let reply = levels == r && listByInitiator ? 45 : 0  // the responder's answer to the initiator's list
                let cost = levels * k * 22 + leaf * 32 + reply
                if cost < best.cost { best = (cost, k) }
            }
        }
        return min(best.k, m)
    }

    /// The size of a bucket after `levels` splits of `m` items into `k`.
    static func leaf(_ m: Int, _ k: Int, _ levels: Int) -> Int {
        var x = m
        for _ in 0..<levels { x = (x + k - 1) / k }
        return x
    }

    // MARK: Id lists

    func readIdList(_ r: inout Reader) throws(SyncError) -> [RawID] {
        let n = try r.count(unit: Sync.idSize, "id list")
        var ids = [RawID]()
        ids.reserveCapacity(n)
        for _ in 0..<n { ids.append(try r.id()) }
        if Set(ids).count != n { throw .malformed("an id list repeats an id") }
        return ids
    }

    /// Initiator: the responder's complete id list for `range` settles it. Memory is proportional to the
    /// list, not to the range (which may hold a million of our items if the responder has none there).
    mutating func settle(_ range: Range<Int>, theirs: [RawID], into result: inout Result) {
        let theirSet = Set(theirs)
        var found = Set<RawID>()  // their ids that we hold too
        store.forEach(in: range) { k in
            if theirSet.contains(k.raw) {
                found.insert(k.raw)
            } else if reported.insert(k.raw).inserted {
                result.have.append(k)
            }
        }
        for id in theirs where !found.contains(id) && reported.insert(id).inserted { result.need.append(id) }
    }

    /// Responder: answers the initiator's id list for `range` (whose sets differ), appending to `o` at most
    /// `room` bytes; false if not even part of an answer fits.
    func answer(_ range: Range<Int>, theirs: [RawID], upper: Bound, into o: inout Writer, room: Int) -> Bool {
        let base = o.count
        if parameters.compactReplies && range.count - theirs.count < room / Sync.idSize {
            let theirSet = Set(theirs)
            var found = Set<RawID>()  // their ids that we hold too
            var missing = [RawID]()  // ours, not theirs
            store.forEach(in: range) { k in
                if theirSet.contains(k.raw) { found.insert(k.raw) } else { missing.append(k.raw) }
            }
            var bits = [UInt8](repeating: 0, count: (theirs.count + 7) / 8)
            for (j, id) in theirs.enumerated() where !found.contains(id) { bits[j >> 3] |= 1 << UInt8(j & 7) }
            while bits.last == 0 { bits.removeLast() }
            var d = o
            d.range(upper, .idListReply)
            d.varint(UInt64(missing.count))
            for id in missing { d.id(id) }
            d.varint(UInt64(bits.count))
            d.bytes += bits
            if d.count - base <= room {
                o = d
                return true
            }
        }
        // Our whole list for the range, cut short where the frame runs out, the rest of the range deferred.
        if o.boundSize(upper) + 1 + Varint.size(UInt64(range.count)) + range.count * Sync.idSize <= room {
            o.range(upper, .idList)
            o.varint(UInt64(range.count))
            store.forEach(in: range) { o.id($0.raw) }
            return true
        }
        // Worst cases: the cut bound (43), mode (1), count (3); the deferred rest: bound (43), mode (1).
        let fit = min(range.count - 1, max(0, (room - (43 + 1 + 3 + 43 + 1)) / Sync.idSize))
        guard fit > 0 else { return false }
        let cut = range.lowerBound + fit
        o.range(Bound.between(store.item(at: cut - 1), store.item(at: cut)), .idList)
        o.varint(UInt64(fit))
        store.forEach(in: range.lowerBound..<cut) { o.id($0.raw) }
        o.range(upper, .deferred)
        return true
    }

    static func sum(_ ids: [RawID]) -> IdSum {
        var s = IdSum()
        for id in ids { s.add(id.w0, id.w1, id.w2, id.w3) }
        return s
    }

    /// Initiator: reads and checks a mode 3 reply to one of our id lists.
    func readReply(_ r: inout Reader, lower: Bound, upper: Bound) throws(SyncError) -> Payload {
        guard let ours = pending[PendingKey(lower: lower.key, upper: upper.key)] else {
            throw SyncError(.protocolViolation, "an id list reply (mode 3) for a range we sent no id list for")
        }
        let n = try r.count(unit: Sync.idSize, "id list reply")
        var theirs = [RawID]()
        theirs.reserveCapacity(n)
        for _ in 0..<n { theirs.append(try r.id()) }
        let length = try r.varint()
        guard length <= UInt64((ours.count + 7) / 8) else {
            throw .malformed("id list reply bitfield of \(length) bytes for \(ours.count) ids")
        }
        let bits = Array(try r.take(Int(length)))
        if let last = bits.last {
            if last == 0 { throw .malformed("id list reply bitfield ends in a zero byte") }
            if bits.count == (ours.count + 7) / 8 && ours.count % 8 != 0 && last >> UInt8(ours.count % 8) != 0 {
                throw .malformed("id list reply bitfield marks ids past the end of the list")
            }
        }
        let ourSet = Set(ours.map(\.raw))
        var seen = Set<RawID>()
        for id in theirs {
            guard !ourSet.contains(id) else { throw SyncError(.protocolViolation, "an id list reply offers an id we sent") }
            guard seen.insert(id).inserted else { throw .malformed("an id list reply repeats an id") }
        }
        return .idListReply(ids: theirs, bits: bits, ours: ours)
    }
}
