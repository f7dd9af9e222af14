import ServiceLifecycle
import Synchronization
import WhipCore
import WhipNode

/// Commits the desks' pledges in groups: pledges that arrive while a commit runs wait for the next one, which
/// takes up to `maxBatch` of them in one transaction (one durable sync), so twenty desks at once cost little more
/// than one. A `Service` beside the web server, which stops it after the last request has been answered.
final class PledgeQueue: Service, Sendable {
    /// Most pledges committed in one transaction.
    static let maxBatch = 64

    typealias Outcome = Result<(id: EventID, duplicate: Bool), WhipError>
    private struct Job {
        let pledge: PreparedDeskPledge
        let reply: CheckedContinuation<Outcome, Never>
    }
    private struct State {
        var pending: [Job] = []
        var closed = false
    }
    private let node: Node
    private let state = Mutex(State())
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(node: Node) {
        self.node = node
        (wakes, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Waits for `pledge` to be committed with whatever else is queued, and returns its id (or the earlier pledge's,
    /// with `duplicate`, when its key was used before).
    func submit(_ pledge: PreparedDeskPledge) async throws(WhipError) -> (id: EventID, duplicate: Bool) {
        let outcome = await withCheckedContinuation { (reply: CheckedContinuation<Outcome, Never>) in
            let queued = state.withLock { s -> Bool in
                guard !s.closed else { return false }
                s.pending.append(Job(pledge: pledge, reply: reply))
                return true
            }
            if queued {
                wake.yield()
            } else {
                reply.resume(returning: .failure(WhipError(.io, "the node is shutting down: the pledge was not recorded, send it again shortly")))
            }
        }
        return try outcome.get()
    }

    func run() async {
        await withGracefulShutdownHandler {
            for await _ in wakes { await drain() }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        state.withLock { $0.closed = true }
        // Whatever was queued before the door closed is still committed.
        await drain()
    }

    private func drain() async {
        while true {
            let batch = state.withLock { s -> [Job] in
                let n = min(s.pending.count, Self.maxBatch)
                defer { s.pending.removeFirst(n) }
                return Array(s.pending.prefix(n))
            }
            guard !batch.isEmpty else { return }
            let node = self.node
            let pledges = batch.map(\.pledge)
            let outcomes: [Outcome]
            do {
                outcomes = try await node.write { _ throws(WhipError) in try node.commitDeskPledges(pledges) }
            } catch {
                outcomes = batch.map { _ in .failure(error) }
            }
            for (job, outcome) in zip(batch, outcomes) { job.reply.resume(returning: outcome) }
        }
    }
}
