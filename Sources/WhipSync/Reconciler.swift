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
public struct SyncInitiator<Store: SyncStore> {
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
        guard state == .ready else { throw SyncError(SyncError.state, "initiate() may be called once, before reconcile(_:)") }
        state = .waiting
        messagesSent = 1
        return engine.initiate()
    }

    /// Processes the responder's reply. `have`: ids we hold that the responder lacks; `need`: ids the
    /// responder holds that we lack (learnt in this step only). `next` is the message to send, or nil when
    /// the reconciliation is complete.
    public mutating func reconcile(_ message: [UInt8]) throws(SyncError) -> (next: [UInt8]?, have: [EventKey], need: [EventID]) {
        guard state == .waiting else {
            throw SyncError(SyncError.state, state == .ready ? "reconcile(_:) before initiate()" : "the reconciliation is over")
        }
        do {
            let r = try engine.process(message)
            if r.ranges == 0 {
                state = .done
                return (nil, r.have, r.need.map { EventID(bytes: $0.bytes)! })
            }
            messagesSent += 1
            return (r.out, r.have, r.need.map { EventID(bytes: $0.bytes)! })
        } catch {
            state = .failed
            throw error
        }
    }

    /// True once `reconcile(_:)` has returned a nil `next`.
    public var isDone: Bool { state == .done }
}

/// The responder of a reconciliation: it answers each message and learns nothing itself.
public struct SyncResponder<Store: SyncStore> {
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

/// Both roles' message processing. Follows negentropy v1 (ranges of Skip / Fingerprint / IdList), with a
/// compact reply to id lists (mode 3), planned fan-out, and frame-limit overflow that defers work at the
/// level it reached instead of restarting from the top.
struct Engine<Store: SyncStore> {
    let store: Store
    let parameters: SyncParameters
    let isInitiator: Bool
    /// Items below infinity: the whole key space.
    let end: Int
    /// Initiator only: the id lists sent in the last message, by (lower bound, upper bound), awaiting mode 3 replies.
    var pending: [PendingKey: [EventKey]] = [:]

    struct PendingKey: Hashable {
        let lower: EventKey
        let upper: EventKey
    }

    /// Room kept free while filling a message so that a Skip and a final "rest of the key space"
    /// fingerprint always fit: a skip range (bound ≤ 10 + 1 + 32 bytes, mode 1) and a fingerprint range to
    /// infinity (bound 2, mode 1, fingerprint 16).
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

    /// Processes one message from the peer and builds the reply.
    mutating func process(_ message: [UInt8]) throws(SyncError) -> Result {
        guard message.count <= max(Sync.maxMessageSize, limit) else {
            throw SyncError(SyncError.frameTooLarge, "message of \(message.count) bytes exceeds \(Sync.maxMessageSize)")
        }
        var r = Reader(message)
        var result = Result(out: [Sync.version], ranges: 0, have: [], need: [])
        let v = try r.byte()
        guard Sync.versionFamily.contains(v) else { throw .malformed("not a reconciliation message (version byte \(hex(v)))") }
        if v != Sync.version {
            if isInitiator {
                throw SyncError(SyncError.unsupportedVersion, "the peer speaks version \(hex(v)), we speak \(hex(Sync.version))")
            }
            // A responder answers an unknown version with its own version and no ranges.
            return result
        }

        var out = Writer()
        out.bytes.append(Sync.version)
        var newPending: [(PendingKey, [EventKey])] = []
        var prevBound = Bound.zero
        var prevIndex = 0
        var skipping = false  // a Skip up to prevBound is owed before the next range we write
        var stopped = false  // the reply has ended with a fingerprint to infinity; the rest is only parsed

        while !r.atEnd {
            let bound = try r.bound()
            guard prevBound < bound else { throw .malformed("range bounds do not ascend at byte \(r.position)") }
            let modeValue = try r.varint()
            guard let mode = Mode(rawValue: modeValue) else { throw .malformed("unknown mode \(modeValue)") }
            let lower = prevBound
            let range = stopped ? prevIndex..<prevIndex : prevIndex..<store.lowerBound(of: bound.key, in: prevIndex..<end)
            prevIndex = range.upperBound
            prevBound = bound

            // What this range needs from us, written after what the reply holds so far.
            let start = Writer(lastTimestamp: out.lastTimestamp)
            var outcome = Outcome.none
            var lists: [(PendingKey, [EventKey])] = []
            switch mode {
            case .skip:
                break
            case .fingerprint:
                let theirs = try r.take(Sync.fingerprintSize)
                if !stopped && store.fingerprint(of: range) != Array(theirs) {
                    var o = start
                    if skipping { o.range(lower, .skip) }
                    split(range, lower: lower, upper: bound, into: &o, lists: &lists)
                    outcome = .write(o)
                }
            case .idList:
                let theirs = try readIdList(&r)
                if stopped { break }
                if isInitiator {
                    settle(range, theirs: theirs, into: &result)
                } else {
                    outcome = answer(range, theirs: theirs, lower: lower, upper: bound, skipping: skipping, from: start, used: out.count)
                }
            case .idListDiff:
                guard isInitiator else { throw SyncError(SyncError.protocolViolation, "the responder was sent an id list reply (mode 3)") }
                try applyDiff(&r, lower: lower, upper: bound, into: &result, apply: !stopped)
            }

            switch outcome {
            case .none:
                if !stopped { skipping = true }
                continue
            case .write(let o) where out.count + o.count + Self.reserve <= limit:
                out.append(o)
                newPending += lists
                result.ranges += 1
                skipping = false
                continue
            case .write, .deferRange:
                break
            }
            // Over the frame limit: defer this range at the level it reached by sending our own fingerprint of
            // it; the peer sees the mismatch and splits the range again next round.
            var e = start
            if skipping { e.range(lower, .skip) }
            e.range(bound, .fingerprint)
            e.bytes += store.fingerprint(of: range)
            if out.count + e.count + Self.reserve <= limit {
                out.append(e)
                result.ranges += 1
                skipping = false
                continue
            }
            // Not even that: one fingerprint from here to infinity, and stop.
            if skipping { out.range(lower, .skip) }
            out.range(.infinity, .fingerprint)
            out.bytes += store.fingerprint(of: range.lowerBound..<end)
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

    /// What one incoming range asks of us.
    enum Outcome {
        /// Nothing: the range is settled (it becomes part of a Skip).
        case none
        /// These bytes, if they fit in the frame.
        case write(Writer)
        /// More than fits: defer the range.
        case deferRange
    }

    // MARK: Splitting

    /// Describes our items in `range` (between `lower` and `upper`): an id list if few, else fingerprints of
    /// sub-ranges.
    func split(_ range: Range<Int>, lower: Bound, upper: Bound, into w: inout Writer, lists: inout [(PendingKey, [EventKey])]) {
        let m = range.count
        if m <= parameters.idListThreshold {
            w.range(upper, .idList)
            w.varint(UInt64(m))
            let keys = store.items(in: range)
            for k in keys { w.id(k.raw) }
            if isInitiator { lists.append((PendingKey(lower: lower.key, upper: upper.key), keys)) }
            return
        }
        let k = buckets(for: m)
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
    /// Adaptive: find the fewest levels r of `maxBuckets`-way splits that bring the range down to id-list
    /// size. The last id list is sent by whoever receives the r-th split; if that is the initiator, one
    /// more message (the responder's reply) is needed, which also pays for one more level of splitting at
    /// no cost in round trips, so use r + 1. Then split into the smallest k with k^r ≥ m / threshold.
    func buckets(for m: Int) -> Int {
        let b = parameters.maxBuckets
        let t = parameters.idListThreshold
        guard parameters.adaptiveSplit else { return min(b, m) }
        var r = 0
        var reach = t  // items r levels of b-way splits bring down to t
        while reach < m {
            reach = reach.multipliedReportingOverflow(by: b).overflow ? Int.max : reach * b
            r += 1
        }
        // r odd: the peer receives the last split and sends the id list; r even: we do.
        let listByInitiator = r % 2 == 1 ? !isInitiator : isInitiator
        if listByInitiator { r += 1 }
        var k = 2
        while k < b && !Self.power(k, r, times: t, reaches: m) { k += 1 }
        return min(k, m)
    }

    /// Whether t · k^r ≥ m (without overflow).
    static func power(_ k: Int, _ r: Int, times t: Int, reaches m: Int) -> Bool {
        var v = t
        for _ in 0..<r {
            if v >= m { return true }
            v *= k
        }
        return v >= m
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

    /// Initiator: the responder's complete id list for `range` settles it.
    func settle(_ range: Range<Int>, theirs: [RawID], into result: inout Result) {
        let theirSet = Set(theirs)
        var ours = Set<RawID>()
        ours.reserveCapacity(range.count)
        store.forEach(in: range) { k in
            ours.insert(k.raw)
            if !theirSet.contains(k.raw) { result.have.append(k) }
        }
        for id in theirs where !ours.contains(id) { result.need.append(id) }
    }

    /// Responder: answers the initiator's id list for `range` (between `lower` and `upper`), writing into
    /// a copy of `o`, when `used` bytes are already in the reply. `.none` when there is nothing to say: the
    /// sets agree (compact replies only; the negentropy reference always sends its list).
    func answer(_ range: Range<Int>, theirs: [RawID], lower: Bound, upper: Bound, skipping: Bool, from o: Writer, used: Int) -> Outcome {
        let room = limit - Self.reserve - used
        if parameters.compactReplies && range.count - theirs.count < room / Sync.idSize {
            let theirSet = Set(theirs)
            var ours = Set<RawID>()
            var missing = [RawID]()  // ours, not theirs
            store.forEach(in: range) { k in
                ours.insert(k.raw)
                if !theirSet.contains(k.raw) { missing.append(k.raw) }
            }
            var bits = [UInt8](repeating: 0, count: (theirs.count + 7) / 8)
            for (j, id) in theirs.enumerated() where !ours.contains(id) { bits[j >> 3] |= 1 << UInt8(j & 7) }
            while bits.last == 0 { bits.removeLast() }
            if missing.isEmpty && bits.isEmpty { return .none }
            var d = o
            if skipping { d.range(lower, .skip) }
            d.range(upper, .idListDiff)
            d.varint(UInt64(missing.count))
            for id in missing { d.id(id) }
            d.varint(UInt64(bits.count))
            d.bytes += bits
            if d.count <= room { return .write(d) }
        }
        // Our whole list for the range, cut short where the frame runs out; the rest of the range is then
        // deferred with our fingerprint of it.
        var d = o
        if skipping { d.range(lower, .skip) }
        let whole = d.count + d.boundSize(upper) + 1 + Varint.size(UInt64(range.count)) + range.count * Sync.idSize
        if whole <= room {
            d.range(upper, .idList)
            d.varint(UInt64(range.count))
            store.forEach(in: range) { d.id($0.raw) }
            return .write(d)
        }
        // Worst cases: the cut bound (43), mode (1), count (3); the rest: bound (43), mode (1), fingerprint.
        let fixed = d.count + 43 + 1 + 3 + 43 + 1 + Sync.fingerprintSize
        let fit = min(range.count - 1, max(0, (room - fixed) / Sync.idSize))
        guard fit > 0 else { return .deferRange }
        let cut = range.lowerBound + fit
        d.range(Bound.between(store.item(at: cut - 1), store.item(at: cut)), .idList)
        d.varint(UInt64(fit))
        store.forEach(in: range.lowerBound..<cut) { d.id($0.raw) }
        d.range(upper, .fingerprint)
        d.bytes += store.fingerprint(of: cut..<range.upperBound)
        return .write(d)
    }

    /// Initiator: reads a mode 3 reply to one of our id lists and records its differences.
    func applyDiff(_ r: inout Reader, lower: Bound, upper: Bound, into result: inout Result, apply: Bool) throws(SyncError) {
        guard let ours = pending[PendingKey(lower: lower.key, upper: upper.key)] else {
            throw SyncError(SyncError.protocolViolation, "an id list reply (mode 3) for a range we sent no id list for")
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
        if let last = bits.last, last == 0 { throw .malformed("id list reply bitfield ends in a zero byte") }
        if !bits.isEmpty, ours.count % 8 != 0, bits.count == (ours.count + 7) / 8, bits[bits.count - 1] >> UInt8(ours.count % 8) != 0 {
            throw .malformed("id list reply bitfield marks ids past the end of the list")
        }
        let ourSet = Set(ours.map(\.raw))
        var seen = Set<RawID>()
        for id in theirs {
            guard !ourSet.contains(id) else {
                throw SyncError(SyncError.protocolViolation, "an id list reply offers an id we sent")
            }
            guard seen.insert(id).inserted else { throw .malformed("an id list reply repeats an id") }
        }
        guard apply else { return }
        result.need += theirs
        for (j, key) in ours.enumerated() where j >> 3 < bits.count && bits[j >> 3] & (1 << UInt8(j & 7)) != 0 {
            result.have.append(key)
        }
    }
}
