public import WhipCore

/// The decisions of a session after the handshake (and, for the initiator, after the first sync), in the
/// style of plumtree: new events go in full to an "eager" peer and as an `announce` of ids to a "lazy" one;
/// a peer that answers a push with only duplicates becomes lazy, and one that asks for announced ids becomes
/// eager again, so pushes settle onto a spanning tree and every other link carries only ids. Each side has
/// at most one `want` outstanding, and answers are bounded, so neither can flood the other; the initiator
/// runs backstop reconciliations over the same session.
///
/// Pure: every input returns the actions to perform, in order. An action that asks for data (`loadIndex`,
/// `fetchEvents`, `ingest`, `recordRefusals`, `findWanted`, `findMissing`, `checkMembership`) is always the
/// last of its list, and its result must be handed back through the matching input before any other input.
/// Time comes in as instants of `C` (the machine never reads a clock) and jitter from `R`.
public struct LiveSessionMachine<C: Clock, R: RandomNumberGenerator> where C.Duration == Duration {
    /// The limits the machine works within (the daemon takes them from its configuration).
    public struct Rules: Sendable {
        /// Payload budget of one `events` message.
        public var eventsMessageBytes = SessionMessage.eventsBudgetBytes
        /// Most bytes of an answer to one `want`.
        public var answerBytes = 256_000
        /// Seconds before new events are announced to a lazy peer (jittered ×1 to ×3).
        public var announceDelay: Double = 0.1
        /// Unacknowledged `events` messages beyond which new events are announced, not pushed.
        public var maxUnackedPushes = 16

        /// Defaults.
        public init() {}
    }

    /// What to do; see the type's summary for the order and the inputs that answer requests.
    public enum Action: Equatable {
        /// Send one message.
        case send(SessionMessage)
        /// Send a reconciliation message (in as many frames as it needs); `round` for the initiator's own.
        case sendReconcile([UInt8], round: Bool)
        /// Request: a snapshot of the community's reconciliation index, for `indexLoaded`.
        case loadIndex
        /// Request: the stored events among these ids, for `eventsFetched`.
        case fetchEvents([EventID])
        /// Request: verify and commit these events and part records from the peer, for `ingested`.
        case ingest([[UInt8]], parts: [[UInt8]])
        /// Request: add refused events to the peer's tally, for `refusalsRecorded`.
        case recordRefusals(Int)
        /// Request: of these ids, the ones this node lacks and no session has asked for lately (marked as
        /// asked now), for `wantedFound`.
        case findWanted([EventID])
        /// Request: of these ids, the ones this node lacks, for `missingFound`.
        case findMissing([EventID])
        /// Request: whether the peer is still a member, for `membershipChecked`.
        case checkMembership
        /// Call `timerFired()` at this instant (the announcements held for a lazy peer are due).
        case scheduleFlush(at: C.Instant)
        /// The peer went live: mark the session live.
        case wentLive
        /// A backstop reconciliation finished.
        case reconciled
        /// Something worth logging.
        case log(Note)
        /// The peer said goodbye: the session is over.
        case peerLeft(reason: String)
        /// Send `goodbye` (ignoring a failure to send it), then end the session; with `failure` set, by throwing
        /// a `.rejected` error with that message.
        case close(goodbye: String, failure: String?)
    }

    /// What the machine tells the log.
    public enum Note: Equatable, Sendable {
        case pushing(events: Int)
        case announcing(events: Int)
        case pruned
        case announced(events: Int, wanted: Int)
        case wantQueueFull(dropped: Int)
        case noLongerMember
    }

    /// Most ids waiting to be asked for on one session: a peer announcing ids faster than it answers for them
    /// cannot grow the queue without bound; what is dropped is left to the next reconciliation.
    public static var maxQueuedWants: Int { 16_384 }
    /// Most local events held for a peer that has not gone live yet; beyond that the backstop reconciles.
    public static var maxHeld: Int { 4_096 }
    /// Recently sent or announced ids remembered per session, so they are not offered again.
    public static var recentCapacity: Int { 8_192 }

    /// Which request the next input answers.
    enum Pending {
        case answerReconcile([UInt8]), startReconcile, push([EventID]), answerWant([EventID]), ingest(count: Int)
        case refusals(limit: Int), announce(count: Int), reAsk([EventID]), keepAlive
    }

    public let isInitiator: Bool
    public let rules: Rules
    /// Refused events a peer may send within the refusal window before it is cut off.
    public let maxRefusedEvents: Int
    var random: R
    var pending: Pending?

    /// The peer asked for pushes (sent `live`).
    public private(set) var peerLive = false
    /// Push new events in full (true) or announce their ids (false).
    public private(set) var eager = true
    /// `events` messages sent and not yet acknowledged.
    public private(set) var unacked = 0
    var peerHas = RecentIDs(capacity: LiveSessionMachine.recentCapacity)
    /// Local events offered before the peer went live.
    public private(set) var held: [EventID] = []
    /// Ids to announce to a lazy peer at the next flush.
    public private(set) var toAnnounce: [EventID] = []
    public private(set) var flushScheduled = false
    var initiator: SyncInitiator<SortedIndex>?
    var assembly = ReconcileAssembly()
    /// Ids to ask the peer for, one `want` at a time.
    public private(set) var wantQueue: [EventID] = []
    /// The ids of the outstanding `want`.
    public private(set) var asked: [EventID]?
    var answered = 0
    var answeredReconcile = false
    var peerSaidGoodbye = false

    /// The peer completed a sync with this side: it went live, or it reconciled and then said goodbye (a
    /// one-off sync).
    public var synced: Bool { peerLive || (answeredReconcile && peerSaidGoodbye) }
    /// A backstop reconciliation is running.
    public var reconciling: Bool { initiator != nil }

    /// A machine; the initiator's starts with the peer live (it sent `live` after its first sync).
    public init(isInitiator: Bool, rules: Rules, maxRefusedEvents: Int, random: R) {
        self.isInitiator = isInitiator
        self.rules = rules
        self.maxRefusedEvents = maxRefusedEvents
        self.random = random
        self.peerLive = isInitiator
    }

    // MARK: Inputs

    /// A message from the peer.
    public mutating func received(_ m: SessionMessage, now: C.Instant) throws -> [Action] {
        precondition(pending == nil, "an input arrived while a request was unanswered")
        switch m {
        case .reconcilePart(let part):
            try assembly.add(part)
            return []
        case .reconcile(let last):
            let bytes = try assembly.finish(last)
            guard initiator != nil else {
                pending = .answerReconcile(bytes)
                return [.loadIndex]
            }
            let r = try initiator!.reconcile(bytes)
            var actions = queueWants(r.need)
            actions += announce(r.have.map(\.id))
            if let next = r.next {
                actions.append(.sendReconcile(next, round: true))
            } else {
                initiator = nil
                actions.append(.reconciled)
            }
            return actions + askNext()
        case .want(let ids):
            if peerLive { eager = true }  // it lacks what we announce: push to it again
            pending = .answerWant(ids)
            return [.fetchEvents(ids)]
        case .events(let wires, let parts):
            if wires.isEmpty && parts.isEmpty { return answerEnded() }
            pending = .ingest(count: wires.count)
            return [.ingest(wires, parts: parts)]
        case .ack(let accepted, let duplicates, let rejected):
            unacked = max(0, unacked - 1)
            if accepted == 0 && duplicates > 0 && rejected == 0 && eager {  // it had them all: prune
                eager = false
                return [.log(.pruned)]
            }
            return []
        case .announce(let ids):
            peerHas.insert(ids)
            pending = .announce(count: ids.count)
            return [.findWanted(ids)]
        case .live:
            peerLive = true
            unacked = 0
            let waiting = held
            held = []
            return [.wentLive] + offer(waiting, now: now)
        case .ping:
            return [.send(.pong)]
        case .pong:
            return []
        case .goodbye(let reason):
            peerSaidGoodbye = true
            return [.peerLeft(reason: reason)]
        }
    }

    /// Events committed here (by any session or process) that the peer may lack.
    public mutating func localEventsStored(_ ids: [EventID], now: C.Instant) -> [Action] {
        precondition(pending == nil, "an input arrived while a request was unanswered")
        return offer(ids, now: now)
    }

    /// The flush scheduled with `scheduleFlush` is due: announce what was held back for a lazy peer.
    public mutating func timerFired() -> [Action] {
        precondition(pending == nil, "an input arrived while a request was unanswered")
        flushScheduled = false
        let ids = toAnnounce.filter { !peerHas.contains($0) }
        toAnnounce = []
        return announce(ids)
    }

    /// Time for a backstop reconciliation (or local events overflowed the mailbox): the initiator starts one
    /// unless one is running.
    public mutating func reconcileRequested() -> [Action] {
        precondition(pending == nil, "an input arrived while a request was unanswered")
        guard isInitiator && initiator == nil else { return [] }
        pending = .startReconcile
        return [.loadIndex]
    }

    /// Time to check the peer is still there (and still a member).
    public mutating func keepAlive() -> [Action] {
        precondition(pending == nil, "an input arrived while a request was unanswered")
        pending = .keepAlive
        return [.checkMembership]
    }

    /// This node is shutting down.
    public mutating func shutdown() -> [Action] {
        // Whatever was being committed is committed: inputs are handled one at a time.
        [.close(goodbye: "shutting down", failure: nil)]
    }

    // MARK: Answers to requests

    /// The index snapshot asked for with `loadIndex`.
    public mutating func indexLoaded(_ index: SortedIndex) throws -> [Action] {
        switch take() {
        case .answerReconcile(let bytes):
            var responder = SyncResponder(store: index)
            let answer = try responder.reconcile(bytes)
            answeredReconcile = true
            return [.sendReconcile(answer, round: false)]
        case .startReconcile:
            var i = SyncInitiator(store: index)
            let first = try i.initiate()
            initiator = i
            return [.sendReconcile(first, round: true)]
        default: preconditionFailure("indexLoaded answers loadIndex")
        }
    }

    /// The stored events, with their parts, asked for with `fetchEvents`.
    public mutating func eventsFetched(_ shipments: [Shipment]) -> [Action] {
        switch take() {
        case .push(let fresh):
            var actions: [Action] = []
            for message in eventMessages(shipments, budget: rules.eventsMessageBytes) {
                actions.append(.send(message))
                unacked += 1
            }
            peerHas.insert(fresh)
            return actions
        case .answerWant(let ids):
            // Up to `answerBytes` (at least one event), then an empty `events` to end the answer.
            var budget = rules.answerBytes
            var sent = 0
            for s in shipments {
                budget -= s.cost - 4
                if budget < 0 && sent > 0 { break }
                sent += 1
            }
            var actions: [Action] = []
            for message in eventMessages(Array(shipments.prefix(sent)), budget: rules.eventsMessageBytes) {
                actions.append(.send(message))
                unacked += 1
            }
            peerHas.insert(ids)
            return actions + [.send(.events([]))]
        default: preconditionFailure("eventsFetched answers fetchEvents")
        }
    }

    /// What committing the peer's events (asked for with `ingest`) did.
    public mutating func ingested(accepted: Int, duplicates: Int, rejected: Int) -> [Action] {
        guard case .ingest(let count) = take() else { preconditionFailure("ingested answers ingest") }
        answered += count
        if asked == nil && accepted == 0 && duplicates > 0 && rejected == 0 {
            eager = false  // a push of what we had: this link is off the tree both ways (the ack prunes theirs)
        }
        var actions: [Action] = [.send(.ack(accepted: accepted, duplicates: duplicates, rejected: rejected))]
        if rejected > 0 {
            pending = .refusals(limit: maxRefusedEvents)
            actions.append(.recordRefusals(rejected))
        }
        return actions
    }

    /// Whether the peer's refusal tally (asked for with `recordRefusals`) is now over the limit.
    public mutating func refusalsRecorded(overLimit: Bool) -> [Action] {
        guard case .refusals(let limit) = take() else { preconditionFailure("refusalsRecorded answers recordRefusals") }
        guard overLimit else { return [] }
        return [
            .close(
                goodbye: "too many refused events",
                failure: "peer sent more refused events than the limit of \(limit) an hour")
        ]
    }

    /// The announced ids worth asking for (asked for with `findWanted`).
    public mutating func wantedFound(_ ids: [EventID]) -> [Action] {
        guard case .announce(let count) = take() else { preconditionFailure("wantedFound answers findWanted") }
        return [.log(.announced(events: count, wanted: ids.count))] + queueWants(ids) + askNext()
    }

    /// The ids of the last `want` still missing after its answer (asked for with `findMissing`).
    public mutating func missingFound(_ ids: [EventID]) -> [Action] {
        guard case .reAsk = take() else { preconditionFailure("missingFound answers findMissing") }
        wantQueue.insert(contentsOf: ids, at: 0)
        answered = 0
        return askNext()
    }

    /// Whether the peer is still a member (asked for with `checkMembership`).
    public mutating func membershipChecked(_ member: Bool) -> [Action] {
        guard case .keepAlive = take() else { preconditionFailure("membershipChecked answers checkMembership") }
        // A peer whose role was revoked since the handshake is let go.
        guard member else { return [.log(.noLongerMember), .close(goodbye: "no longer a member of this community", failure: nil)] }
        // Not before `live`: during its first sync the initiator reads only answers.
        return peerLive ? [.send(.ping)] : []
    }

    // MARK: Rules

    private mutating func take() -> Pending? {
        defer { pending = nil }
        return pending
    }

    /// Offers newly committed events: in full when the link is eager, else by id after a jittered delay.
    mutating func offer(_ ids: [EventID], now: C.Instant) -> [Action] {
        guard peerLive else {
            if held.count + ids.count <= LiveSessionMachine.maxHeld { held += ids }  // beyond that, the backstop reconciles
            return []
        }
        let fresh = ids.filter { !peerHas.contains($0) }
        guard !fresh.isEmpty else { return [] }
        if eager && unacked < rules.maxUnackedPushes {
            pending = .push(fresh)
            return [.log(.pushing(events: fresh.count)), .fetchEvents(fresh)]
        }
        toAnnounce += fresh
        guard !flushScheduled else { return [] }
        flushScheduled = true
        // Jittered, so that of two lazy neighbours that both got an event from the tree, one usually
        // announces first and the other, having heard it, stays quiet.
        let delay = rules.announceDelay * Double.random(in: 1...3, using: &random)
        return [.scheduleFlush(at: now.advanced(by: .milliseconds(Int64(delay * 1000))))]
    }

    func announce(_ ids: [EventID]) -> [Action] {
        guard !ids.isEmpty else { return [] }
        var actions: [Action] = [.log(.announcing(events: ids.count))]
        var rest = ids[...]
        while !rest.isEmpty {
            actions.append(.send(.announce(Array(rest.prefix(SessionMessage.maxIDs)))))
            rest = rest.dropFirst(SessionMessage.maxIDs)
        }
        return actions
    }

    /// The peer finished answering our `want`: ask again for what it left out, then for the next ids.
    mutating func answerEnded() -> [Action] {
        guard let ids = asked else { return [] }
        asked = nil
        if answered > 0 {
            pending = .reAsk(ids)
            return [.findMissing(ids)]
        }
        answered = 0
        return askNext()
    }

    /// Queues ids to ask for, up to `maxQueuedWants`.
    mutating func queueWants(_ ids: [EventID]) -> [Action] {
        let room = max(0, LiveSessionMachine.maxQueuedWants - wantQueue.count)
        wantQueue += ids.prefix(room)
        return ids.count > room ? [.log(.wantQueueFull(dropped: ids.count - room))] : []
    }

    mutating func askNext() -> [Action] {
        guard asked == nil, !wantQueue.isEmpty else { return [] }
        let ids = Array(wantQueue.prefix(SessionMessage.maxIDs))
        wantQueue.removeFirst(ids.count)
        asked = ids
        answered = 0
        if peerLive { eager = true }  // the tree missed us here: graft this link both ways
        return [.send(.want(ids))]
    }
}

/// A bounded set of recent ids, oldest forgotten first.
struct RecentIDs {
    let capacity: Int
    private var set = Set<EventID>()
    private var order: [EventID] = []
    private var head = 0

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ id: EventID) -> Bool { set.contains(id) }

    mutating func insert(_ ids: some Sequence<EventID>) {
        for id in ids where set.insert(id).inserted {
            if order.count < capacity {
                order.append(id)
            } else {
                set.remove(order[head])
                order[head] = id
                head = (head + 1) % capacity
            }
        }
    }
}
