import WhipCore
import WhipCrypto
import WhipStore
import WhipSync

extension PeerSession {
    /// The first sync of a connection, driven by the initiator: reconcile, push what the peer lacks (each
    /// batch acknowledged only once the peer committed it), then pull what we lack.
    static func initialSync(
        _ c: inout Link, session: Int?, community: PublicKey, peer: PublicKey, exchange: Exchange, settings: SessionSettings,
        progress: @Sendable (SyncProgress) -> Void
    ) async throws -> SyncReport {
        var report = SyncReport(community: community, peer: peer)
        var initiator = SyncInitiator(store: try await exchange.index(of: community))
        var message: [UInt8]? = try initiator.initiate()
        var have: [EventKey] = []
        var need: [EventID] = []
        while let m = message {
            let answer: [UInt8]
            do {
                try await c.sendReconcile(m)
                report.reconcileMessages += 1
                exchange.metrics.reconcileRound()
                answer = try await c.receiveReconcile()
            } catch let e as PeerLeft where report.reconcileMessages <= 1 {
                // A goodbye instead of the first answer: the responder refused this node, and says why.
                throw PeerLeft(reason: e.reason, refused: true)
            }
            let r = try initiator.reconcile(answer)
            have += r.have
            need += r.need
            message = r.next
        }
        progress(SyncProgress(.sending, done: 0, total: have.count))

        let toSend = try await exchange.events(of: community, ids: have.map(\.id))
        for message in eventMessages(toSend, budget: settings.eventsMessageBytes) {
            guard case .events(let batch, _) = message else { continue }
            try await c.send(message)
            guard case .ack(let accepted, _, _) = try await c.receive() else { throw WhipError(.rejected, "peer broke the protocol") }
            report.sent += batch.count
            report.peerAccepted += accepted
            exchange.metrics.sent(events: batch.count)
            exchange.logger.debug("peer acknowledged a batch", metadata: ["sync.acked": "\(report.sent)", "sync.total": "\(toSend.count)"])
            progress(SyncProgress(.sending, done: report.sent, total: toSend.count))
        }
        // Pull what we lack, committing in import-sized batches: fewer, larger transactions, and events arrive in
        // reconciliation order, which follows replay order, so campaigns resume rather than replay. A peer
        // answers each `want` with at most `answerBytes`; what it left out is asked for again. Up to
        // `firstSyncWants` wants are outstanding and each batch commits while the next is fetched, so neither
        // the round trips nor the commits leave the link idle.
        var queue = need[...]
        var asked: [[EventID]] = []
        var pending = [[UInt8]]()
        var pendingParts = [[UInt8]]()
        var committing: Task<IngestReport, any Error>?
        let total = need.count
        var received = 0
        func acknowledge(_ commit: Task<IngestReport, any Error>, _ c: inout Link) async throws {
            let r = try await commit.value
            report.received.merge(r)
            try await c.send(.ack(accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejectedCount))
        }
        while !queue.isEmpty || !asked.isEmpty {
            while asked.count < PeerSession.firstSyncWants && !queue.isEmpty {
                let ids = Array(queue.prefix(SessionMessage.maxIDs))
                queue = queue.dropFirst(ids.count)
                try await c.send(.want(ids))
                asked.append(ids)
            }
            let ids = asked.removeFirst()
            var got = 0
            while true {
                guard case .events(let wires, let parts) = try await c.receive() else { throw WhipError(.rejected, "peer broke the protocol") }
                if wires.isEmpty && parts.isEmpty { break }
                got += wires.count
                pending += wires
                pendingParts += parts
            }
            received += got
            if got > 0 && got < ids.count {
                // Answered in part: ask again for the rest (ids outside the answer keep their order).
                let receivedIDs = Set(pending.suffix(got).compactMap { try? Event.decode(wire: $0).id })
                let rest = ids.filter { !receivedIDs.contains($0) }
                queue = rest[...] + queue
            }
            if pending.count >= settings.commitBatch || (queue.isEmpty && asked.isEmpty) {
                // Verify this batch (on every core, on the verification threads) while the previous one commits;
                // commits stay in order.
                let previous = committing
                let batch = pending
                let parts = pendingParts
                pending = []
                pendingParts = []
                committing = Task {
                    let results = await Verifier.verify(batch, community: community)
                    if let previous { _ = try? await previous.value }
                    return try await exchange.ingest(verified: batch, results: results, parts: parts, from: session)
                }
                if let previous { try await acknowledge(previous, &c) }
            }
            progress(SyncProgress(.receiving, done: received, total: total))
        }
        if let last = committing { try await acknowledge(last, &c) }
        return report
    }
}
