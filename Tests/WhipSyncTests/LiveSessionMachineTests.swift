import Testing
import WhipCore
import WhipSync
import WhipTestSupport

/// The live session's push and pull rules, without sockets: each test feeds the machine inputs and checks
/// the actions it returns. Time is a manual clock's instants and jitter a seeded generator.
@Suite(.timeLimit(.minutes(10))) struct LiveSessionMachineTests {
    typealias Machine = LiveSessionMachine<VirtualClock, SplitMix64>

    let clock = VirtualClock()

    func machine(initiator: Bool = true, seed: UInt64 = 1, _ change: (inout Machine.Rules) -> Void = { _ in }) -> Machine {
        var rules = Machine.Rules()
        change(&rules)
        return Machine(isInitiator: initiator, rules: rules, maxRefusedEvents: 1_000, random: SplitMix64(seed: seed))
    }

    /// `count` distinct ids starting at `from`.
    func ids(_ count: Int, from: Int = 0) -> [EventID] {
        (from..<from + count).map { i in
            EventID(bytes: [UInt8](repeating: 0, count: 28) + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: i >> $0) })!
        }
    }

    /// Stand-ins for the events' signed bytes (the machine only counts and batches them).
    func wires(_ count: Int, size: Int = 100) -> [[UInt8]] { (0..<count).map { [UInt8](repeating: UInt8(truncatingIfNeeded: $0), count: size) } }

    /// Pushes `ids` to an eager peer and returns the actions of the push.
    func push(_ m: inout Machine, _ ids: [EventID]) -> [Machine.Action] {
        let first = m.localEventsStored(ids, now: clock.now)
        guard first == [.log(.pushing(events: ids.count)), .fetchEvents(ids)] else { return first }
        return m.eventsFetched(wires(ids.count).map { Shipment(wire: $0) })
    }

    /// Makes the link lazy: a push answered with only duplicates.
    func prune(_ m: inout Machine) {
        _ = push(&m, ids(1, from: 9_000))
        _ = try? m.received(.ack(accepted: 0, duplicates: 1, rejected: 0), now: clock.now)
    }

    @Test func newEventsArePushedInFullToAnEagerPeerOnce() {
        var m = machine()
        let new = ids(3)
        #expect(m.localEventsStored(new, now: clock.now) == [.log(.pushing(events: 3)), .fetchEvents(new)])
        #expect(m.eventsFetched(wires(3).map { Shipment(wire: $0) }) == [.send(.events(wires(3)))])
        #expect(m.unacked == 1)
        #expect(m.localEventsStored(new, now: clock.now).isEmpty, "ids already sent are not offered again")
    }

    @Test func aPushLargerThanOneMessageGoesInSeveral() {
        var m = machine { $0.eventsMessageBytes = 250 }
        _ = m.localEventsStored(ids(3), now: clock.now)
        #expect(m.eventsFetched(wires(3).map { Shipment(wire: $0) }) == [.send(.events(Array(wires(3)[0..<2]))), .send(.events([wires(3)[2]]))])
        #expect(m.unacked == 2)
    }

    @Test func anAckOfOnlyDuplicatesPrunesTheLink() throws {
        var m = machine()
        _ = push(&m, ids(2))
        #expect(try m.received(.ack(accepted: 1, duplicates: 1, rejected: 0), now: clock.now).isEmpty)
        #expect(m.eager, "an ack with something new keeps the link eager")
        _ = push(&m, ids(2, from: 10))
        #expect(try m.received(.ack(accepted: 0, duplicates: 2, rejected: 0), now: clock.now) == [.log(.pruned)])
        #expect(!m.eager)
        #expect(m.unacked == 0)
        guard case .scheduleFlush = m.localEventsStored(ids(1, from: 20), now: clock.now).first else {
            Issue.record("a lazy link announces instead of pushing")
            return
        }
    }

    @Test func aPushOfWhatWeHadPrunesFromThisSide() throws {
        var m = machine()
        #expect(try m.received(.events(wires(2)), now: clock.now) == [.ingest(wires(2), parts: [])])
        #expect(m.ingested(accepted: 0, duplicates: 2, rejected: 0) == [.send(.ack(accepted: 0, duplicates: 2, rejected: 0))])
        #expect(!m.eager)
    }

    @Test func aWantGraftsALazyLinkAndIsAnsweredWithinTheBudget() throws {
        var m = machine { $0.answerBytes = 250 }
        prune(&m)
        #expect(!m.eager)
        let wanted = ids(3)
        #expect(try m.received(.want(wanted), now: clock.now) == [.fetchEvents(wanted)])
        #expect(m.eager, "a peer that lacks what we announce is pushed to again")
        // 250 bytes: two 100-byte events, then the end of the answer; the asker asks again for the third.
        #expect(m.eventsFetched(wires(3).map { Shipment(wire: $0) }) == [.send(.events(Array(wires(3)[0..<2]))), .send(.events([]))])
        #expect(m.localEventsStored(wanted, now: clock.now).isEmpty, "what was wanted is not offered again")
    }

    @Test func aLazyPeerGetsOneAnnouncementAfterAJitteredDelay() throws {
        var m = machine(seed: 42)
        prune(&m)
        let start = clock.now
        let first = ids(3)
        var g = SplitMix64(seed: 42)
        let delay = 0.1 * Double.random(in: 1...3, using: &g)
        let due = start.advanced(by: .milliseconds(Int64(delay * 1000)))
        #expect(m.localEventsStored(first, now: start) == [.scheduleFlush(at: due)])
        clock.advance(by: .milliseconds(50))
        #expect(m.localEventsStored(ids(2, from: 3), now: clock.now).isEmpty, "one flush is scheduled at a time")
        // Meanwhile the peer announced one of them itself: it is not announced back.
        #expect(try m.received(.announce([first[0]]), now: clock.now) == [.findWanted([first[0]])])
        #expect(m.wantedFound([]) == [.log(.announced(events: 1, wanted: 0))])
        clock.advance(by: start.duration(to: due))
        let rest = Array(first[1...]) + ids(2, from: 3)
        #expect(m.timerFired() == [.log(.announcing(events: 4)), .send(.announce(rest))])
        #expect(!m.flushScheduled)
    }

    @Test func theAnnounceDelayIsJitteredBetweenOnceAndThreeTimes() {
        var delays = Set<Duration>()
        for seed in UInt64(0)..<50 {
            var m = machine(seed: seed)
            prune(&m)
            guard case .scheduleFlush(let at) = m.localEventsStored(ids(1), now: clock.now).first else {
                Issue.record("expected a flush")
                return
            }
            let d = clock.now.duration(to: at)
            #expect(d >= .milliseconds(100) && d <= .milliseconds(300))
            delays.insert(d)
        }
        #expect(delays.count > 10, "the delay varies with the generator")
    }

    @Test func pastTheUnackedCapNewEventsAreAnnounced() throws {
        var m = machine { $0.maxUnackedPushes = 2 }
        _ = push(&m, ids(1, from: 0))
        _ = push(&m, ids(1, from: 1))
        #expect(m.unacked == 2)
        guard case .scheduleFlush = m.localEventsStored(ids(1, from: 2), now: clock.now).first else {
            Issue.record("past the cap, events are announced")
            return
        }
        #expect(m.eager, "the link is still on the tree")
        _ = try m.received(.ack(accepted: 1, duplicates: 0, rejected: 0), now: clock.now)
        #expect(m.localEventsStored(ids(1, from: 3), now: clock.now) == [.log(.pushing(events: 1)), .fetchEvents(ids(1, from: 3))])
    }

    @Test func eventsAreHeldUntilThePeerGoesLiveUpToTheCap() throws {
        var m = machine(initiator: false)
        #expect(m.localEventsStored(ids(4_000), now: clock.now).isEmpty)
        #expect(m.localEventsStored(ids(200, from: 4_000), now: clock.now).isEmpty)
        #expect(m.held.count == 4_000, "a batch past the cap of \(Machine.maxHeld) is left to the backstop")
        _ = m.localEventsStored(ids(96, from: 5_000), now: clock.now)
        #expect(m.held.count == Machine.maxHeld)
        let held = m.held
        #expect(try m.received(.live, now: clock.now) == [.wentLive, .log(.pushing(events: held.count)), .fetchEvents(held)])
        #expect(m.held.isEmpty)
        #expect(m.synced)
    }

    @Test func theWantQueueIsCappedAndTheRestLeftToReconciliation() throws {
        var m = machine()
        let announced = ids(SessionMessage.maxIDs)
        #expect(try m.received(.announce(announced), now: clock.now) == [.findWanted(announced)])
        let claimed = ids(20_000)
        let dropped = 20_000 - Machine.maxQueuedWants
        #expect(
            m.wantedFound(claimed) == [
                .log(.announced(events: announced.count, wanted: 20_000)), .log(.wantQueueFull(dropped: dropped)),
                .send(.want(Array(claimed.prefix(SessionMessage.maxIDs)))),
            ])
        #expect(m.wantQueue.count == Machine.maxQueuedWants - SessionMessage.maxIDs)
        _ = try m.received(.announce(ids(1, from: 30_000)), now: clock.now)
        #expect(
            m.wantedFound(ids(2_000, from: 30_000)) == [
                .log(.announced(events: 1, wanted: 2_000)), .log(.wantQueueFull(dropped: 2_000 - SessionMessage.maxIDs)),
            ])
        #expect(m.wantQueue.count == Machine.maxQueuedWants)
    }

    @Test func oneWantIsOutstandingAtATime() throws {
        var m = machine()
        _ = try m.received(.announce(ids(2)), now: clock.now)
        #expect(m.wantedFound(ids(2)) == [.log(.announced(events: 2, wanted: 2)), .send(.want(ids(2)))])
        _ = try m.received(.announce(ids(2, from: 2)), now: clock.now)
        #expect(m.wantedFound(ids(2, from: 2)) == [.log(.announced(events: 2, wanted: 2))], "no second want while one is out")
        #expect(m.asked == ids(2))
        // The peer had none of them after all: its empty answer lets the next want go.
        #expect(try m.received(.events([]), now: clock.now) == [.send(.want(ids(2, from: 2)))])
    }

    @Test func whatAnAnswerLeftOutIsAskedForAgainFirst() throws {
        var m = machine()
        _ = try m.received(.announce(ids(3)), now: clock.now)
        _ = m.wantedFound(ids(3))
        _ = try m.received(.announce(ids(1, from: 3)), now: clock.now)
        _ = m.wantedFound(ids(1, from: 3))
        #expect(try m.received(.events([wires(1)[0]]), now: clock.now) == [.ingest([wires(1)[0]], parts: [])])
        #expect(m.ingested(accepted: 1, duplicates: 0, rejected: 0) == [.send(.ack(accepted: 1, duplicates: 0, rejected: 0))])
        #expect(m.eager, "an answer to our want is not a duplicate push")
        #expect(try m.received(.events([]), now: clock.now) == [.findMissing(ids(3))])
        let leftOut = Array(ids(3)[1...])
        #expect(m.missingFound(leftOut) == [.send(.want(leftOut + ids(1, from: 3)))])
    }

    @Test func askingGraftsTheLink() throws {
        var m = machine()
        prune(&m)
        _ = try m.received(.announce(ids(1)), now: clock.now)
        _ = m.wantedFound(ids(1))
        #expect(m.eager, "the tree missed us here")
    }

    @Test func refusedEventsAreCountedAndTooManyEndTheSession() throws {
        var m = machine()
        _ = try m.received(.events(wires(3)), now: clock.now)
        #expect(m.ingested(accepted: 0, duplicates: 0, rejected: 3) == [.send(.ack(accepted: 0, duplicates: 0, rejected: 3)), .recordRefusals(3)])
        #expect(m.refusalsRecorded(overLimit: false).isEmpty)
        _ = try m.received(.events(wires(3)), now: clock.now)
        _ = m.ingested(accepted: 0, duplicates: 0, rejected: 3)
        #expect(
            m.refusalsRecorded(overLimit: true) == [
                .close(goodbye: "too many refused events", failure: "peer sent more refused events than the limit of 1000 an hour")
            ])
    }

    @Test func keepAliveLetsAnExMemberGoAndPingsOnlyALivePeer() {
        var live = machine()
        #expect(live.keepAlive() == [.checkMembership])
        #expect(live.membershipChecked(true) == [.send(.ping)])
        _ = live.keepAlive()
        #expect(live.membershipChecked(false) == [.log(.noLongerMember), .close(goodbye: "no longer a member of this community", failure: nil)])
        var early = machine(initiator: false)
        _ = early.keepAlive()
        #expect(early.membershipChecked(true).isEmpty, "no ping before live: the initiator reads only answers")
    }

    @Test func theInitiatorRunsOneBackstopReconciliationAtATime() throws {
        let keys = (0..<5).map { EventKey(timestamp: 1_800_000_000_000 + UInt64($0), id: ids(5)[$0]) }
        var initiator = machine()
        var responder = machine(initiator: false)
        #expect(responder.reconcileRequested().isEmpty, "only the initiator reconciles")
        #expect(initiator.reconcileRequested() == [.loadIndex])
        guard case .sendReconcile(var message, round: true) = try initiator.indexLoaded(SortedIndex()).first else {
            Issue.record("expected the first reconciliation message")
            return
        }
        #expect(initiator.reconciling)
        #expect(initiator.reconcileRequested().isEmpty, "one at a time")
        var wanted: [EventID] = []
        for _ in 0..<10 {
            #expect(try responder.received(.reconcile(message), now: clock.now) == [.loadIndex])
            guard case .sendReconcile(let answer, round: false) = try responder.indexLoaded(SortedIndex(keys)).first else {
                Issue.record("expected the responder's answer")
                return
            }
            let actions = try initiator.received(.reconcile(answer), now: clock.now)
            for case .send(.want(let ids)) in actions { wanted += ids }
            if actions.contains(.reconciled) { break }
            guard case .sendReconcile(let next, round: true)? = actions.first(where: { if case .sendReconcile = $0 { true } else { false } }) else {
                Issue.record("expected the next round")
                return
            }
            message = next
        }
        #expect(!initiator.reconciling)
        #expect(Set(wanted) == Set(ids(5)), "what the peer has and we lack is wanted")
        #expect(try responder.received(.goodbye("sync complete"), now: clock.now) == [.peerLeft(reason: "sync complete")])
        #expect(responder.synced, "a one-off sync: reconciled, then goodbye")
    }

    @Test func aReconciliationMessageOverTheLimitIsRefused() throws {
        var m = machine()
        let part = [UInt8](repeating: 0, count: SessionMessage.reconcilePartBytes)
        #expect(throws: WhipError.self) {
            for _ in 0...(Sync.maxMessageSize / part.count) { _ = try m.received(.reconcilePart(part), now: clock.now) }
        }
    }

    @Test func shutdownSaysGoodbye() {
        var m = machine()
        #expect(m.shutdown() == [.close(goodbye: "shutting down", failure: nil)])
    }
}
