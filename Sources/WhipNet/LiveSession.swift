import Logging
import WhipCore
import WhipCrypto
import WhipSync

/// A session after the handshake (and, for the initiator, after the first sync): feeds the mailbox's inputs
/// to the pure `LiveSessionMachine`, which decides pushes, announcements, wants and refusals, and performs
/// the actions it returns over the link and the exchange.
struct LiveSession {
    typealias Machine = LiveSessionMachine<ContinuousClock, SystemRandomNumberGenerator>

    let id: Int
    let community: PublicKey
    /// The peer's member identity, checked again at every keep-alive.
    let peer: PublicKey
    let exchange: Exchange
    let logger: Logger
    var link: Link
    var machine: Machine
    var onReconciled: @Sendable () -> Void = {}
    /// Runs when the peer sends `live` (it finished its first sync with us).
    var onLive: @Sendable () -> Void = {}
    /// The peer completed a sync with this side (see `LiveSessionMachine.synced`).
    var synced: Bool { machine.synced }

    init(
        id: Int, isInitiator: Bool, community: PublicKey, peer: PublicKey, exchange: Exchange, settings: SessionSettings, logger: Logger,
        link: Link
    ) {
        self.id = id
        self.community = community
        self.peer = peer
        self.exchange = exchange
        self.logger = logger
        self.link = link
        var rules = Machine.Rules()
        rules.eventsMessageBytes = settings.eventsMessageBytes
        rules.answerBytes = settings.answerBytes
        rules.announceDelay = settings.announceDelay
        rules.maxUnackedPushes = settings.maxUnackedPushes
        machine = Machine(isInitiator: isInitiator, rules: rules, maxRefusedEvents: settings.maxRefusedEvents, random: SystemRandomNumberGenerator())
    }

    /// Handles inputs until the session ends: normally on goodbye or shutdown, by throwing on a broken link.
    mutating func run() async throws {
        while true {
            let actions: [Machine.Action]
            switch await link.mailbox.next() {
            case .frame(let f): actions = try machine.received(try link.open(f), now: .now)
            case .ended(let e): throw e ?? Link.closed
            case .local(let ids, let c):
                guard c == community else { continue }
                actions = machine.localEventsStored(ids, now: .now)
            case .overflow, .reconcile: actions = machine.reconcileRequested()
            case .flushAnnouncements: actions = machine.timerFired()
            case .keepAlive: actions = machine.keepAlive()
            case .shutdown: actions = machine.shutdown()
            }
            if try await perform(actions) { return }
        }
    }

    /// Performs `actions` in order, handing each request's result back to the machine; true when the session
    /// is over.
    mutating func perform(_ actions: [Machine.Action]) async throws -> Bool {
        var queue = actions[...]
        while let action = queue.popFirst() {
            switch action {
            case .send(let m):
                try await link.send(m)
                if case .events(let batch, _) = m, !batch.isEmpty { exchange.metrics.sent(events: batch.count) }
            case .sendReconcile(let bytes, let round):
                try await link.sendReconcile(bytes)
                if round { exchange.metrics.reconcileRound() }
            case .loadIndex:
                queue += try machine.indexLoaded(try await exchange.index(of: community))
            case .fetchEvents(let ids):
                queue += machine.eventsFetched(try await exchange.events(of: community, ids: ids))
            case .ingest(let wires, let parts):
                let r = try await exchange.ingest(wires, parts: parts, community: community, from: id)
                if r.rejectedCount > 0 {
                    logger.notice(
                        "peer sent events we refuse", metadata: ["events.refused": "\(r.rejected)", "events.example": "\(r.examples.first ?? "")"])
                }
                queue += machine.ingested(accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejectedCount)
            case .recordRefusals(let count):
                let over = await exchange.recordRefusals(count, from: peer, limit: machine.maxRefusedEvents)
                queue += machine.refusalsRecorded(overLimit: over)
            case .findWanted(let ids):
                queue += machine.wantedFound(await exchange.claim(try await exchange.missing(ids)))
            case .findMissing(let ids):
                queue += machine.missingFound(try await exchange.missing(ids))
            case .checkMembership:
                queue += machine.membershipChecked(try await exchange.isMember(peer, of: community))
            case .scheduleFlush(let at):
                let mailbox = link.mailbox
                Task {
                    try? await ContinuousClock().sleep(until: at)
                    mailbox.requestFlush()
                }
            case .wentLive:
                exchange.sessions.markLive(id)
                onLive()
            case .reconciled:
                onReconciled()
            case .log(let note):
                log(note)
            case .peerLeft(let reason):
                logger.info("peer said goodbye", metadata: ["peer.reason": "\(reason)"])
                return true
            case .close(let goodbye, let failure):
                try? await link.send(.goodbye(goodbye))
                if let failure { throw WhipError(.rejected, failure) }
                return true
            }
        }
        return false
    }

    func log(_ note: Machine.Note) {
        switch note {
        case .pushing(let n): logger.debug("pushing events", metadata: ["events.count": "\(n)"])
        case .announcing(let n): logger.debug("announcing events", metadata: ["events.count": "\(n)"])
        case .pruned: logger.debug("peer had what we pushed; announcing from now on")
        case .announced(let n, let wanted):
            logger.debug("peer announced events", metadata: ["events.count": "\(n)", "events.wanted": "\(wanted)"])
        case .wantQueueFull(let dropped):
            logger.notice("want queue full; leaving the rest to reconciliation", metadata: ["events.dropped": "\(dropped)"])
        case .noLongerMember: logger.notice("peer is no longer a member; closing its session")
        }
    }
}
