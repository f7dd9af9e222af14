import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import WhipCore
import WhipNode
import WhipStore

/// What everyone may see of a campaign's progress: the public view, never personal data.
struct CampaignSummary: Codable, Sendable, Equatable {
    struct Tier: Codable, Sendable, Equatable {
        let id: String
        let title: String
        let description: String?
        let minimum: String
        let minimumMinor: Int64
        let limit: Int?
        let claimed: Int
        /// Nil when the tier has no limit.
        let placesLeft: Int?
    }

    let id: String
    let title: String
    let currency: String
    let minorUnit: Int
    let goal: String
    let goalMinor: Int64
    let pledged: String
    let pledgedMinor: Int64
    let backers: Int
    let matched: String
    let matchedMinor: Int64
    /// Crowd plus match as a share of the goal, 0 to 100 (more is shown as 100).
    let percent: Int
    let standing: String
    let closes: String
    let tiers: [Tier]

    init(_ c: CampaignRow, tiers: [TierRow], now: UInt64) {
        id = c.id.hex
        title = c.title
        currency = c.goal.currency.code
        minorUnit = Int(c.goal.currency.exponent)
        goal = c.goal.formatted
        goalMinor = c.goal.minor
        pledged = c.pledged.formatted
        pledgedMinor = c.pledged.minor
        backers = c.backers
        matched = c.matched.formatted
        matchedMinor = c.matched.minor
        let raised = Double(c.pledged.minor) + Double(c.matched.minor)
        percent = c.goal.minor > 0 ? min(100, Int(raised * 100 / Double(c.goal.minor))) : 100
        standing = c.standing(now: now).rawValue
        closes = Dates.format(c.closes, timeZone: c.timeZone)
        self.tiers = tiers.sorted { ($0.minimum.minor, $0.title) < ($1.minimum.minor, $1.title) }.map { t in
            Tier(
                id: t.id.hex, title: t.title, description: t.description, minimum: t.minimum.formatted, minimumMinor: t.minimum.minor,
                limit: t.limit, claimed: t.claimed, placesLeft: t.limit.map { max(0, $0 - t.claimed) })
        }
    }

    /// The summary of campaign `id`, read off the cooperative pool; nil when the replica has no such campaign.
    static func load(_ node: Node, _ id: EventID, publicOnly: Bool = false) async throws(WhipError) -> CampaignSummary? {
        try await loadProgress(node, id, publicOnly: publicOnly)?.summary
    }

    /// The summary of campaign `id` with the change mark it was read at; nil when there is no such campaign, and
    /// with `publicOnly` for one that was never published (a draft, or a draft that was cancelled).
    static func loadProgress(
        _ node: Node, _ id: EventID, publicOnly: Bool = false
    ) async throws(WhipError) -> (summary: CampaignSummary, mark: Int64)? {
        let now = node.now
        return try await node.read { store throws(WhipError) -> (summary: CampaignSummary, mark: Int64)? in
            guard let p = try store.progress(id) else { return nil }
            if publicOnly {
                let standing = p.campaign.standing(now: now)
                if standing == .draft { return nil }
                if standing == .cancelled, try !store.wasPublished(campaign: id) { return nil }
            }
            return (CampaignSummary(p.campaign, tiers: p.tiers, now: now), p.mark)
        }
    }
}

/// Live progress for the desks and the display: one server-sent-event stream per open page, fed whenever the
/// replica changes (a desk's pledge at once; others, from gossip or the CLI, within `pollInterval`).
final class ProgressHub: Service, Sendable {
    let node: Node
    let logger: Logger
    let maxStreams: Int
    let pollInterval: Duration
    /// A comment line sent this often keeps proxies and the idle timer from closing a quiet stream.
    static let keepAlive: Duration = .seconds(15)
    /// How often every open stream's summary is read again even when no event arrived.
    static let refresh: Duration = .seconds(5)

    private struct State {
        var streams: [EventID: [UUID: AsyncStream<String>.Continuation]] = [:]
        var count = 0
        /// The newest summary sent to each campaign's streams and the change mark it was read at.
        var last: [EventID: (summary: CampaignSummary, mark: Int64)] = [:]
        var closed = false
    }
    private let state = Mutex(State())
    /// The newest change mark seen, or -1 while the hub is not running (then nothing may be served from a cache).
    private let mark = Atomic<Int64>(-1)

    /// The replica's change mark as of at most `pollInterval` ago, or nil when the hub is not running.
    var currentMark: Int64? {
        let m = mark.load(ordering: .acquiring)
        return m < 0 ? nil : m
    }

    init(node: Node, maxStreams: Int, pollInterval: Duration = .milliseconds(100), logger: Logger) {
        self.node = node
        self.maxStreams = maxStreams
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Streams currently open.
    var streamCount: Int { state.withLock { $0.count } }

    /// A new stream of SSE messages for `campaign`, starting with `first` (read at change mark `mark`), or with
    /// the newer summary the other streams were sent; nil when `maxStreams` are open.
    func subscribe(_ campaign: EventID, first: CampaignSummary, mark: Int64) -> AsyncStream<String>? {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let opening = state.withLock { s -> CampaignSummary? in
            guard !s.closed, s.count < maxStreams else { return nil }
            s.streams[campaign, default: [:]][id] = continuation
            s.count += 1
            if let last = s.last[campaign], last.mark >= mark { return last.summary }
            s.last[campaign] = (first, mark)
            return first
        }
        guard let opening else { return nil }
        continuation.yield(Self.message(opening))
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { s in
                if s.streams[campaign]?.removeValue(forKey: id) != nil { s.count -= 1 }
                if s.streams[campaign]?.isEmpty == true {
                    s.streams[campaign] = nil
                    s.last[campaign] = nil
                }
            }
        }
        return stream
    }

    /// One SSE message carrying `summary`.
    static func message(_ summary: CampaignSummary) -> String {
        "event: progress\ndata: \(API.json(summary))\n\n"
    }

    /// Sends the campaign's summary to its streams if it changed since the last one sent.
    func publish(_ campaign: EventID) async {
        guard state.withLock({ $0.streams[campaign] != nil }) else { return }
        guard let (summary, mark) = try? await CampaignSummary.loadProgress(node, campaign) else { return }
        publish(campaign, summary, mark: mark)
    }

    /// Sends `summary`, read at change mark `mark`, to the campaign's streams unless they were sent the same or a
    /// newer one: summaries read concurrently may arrive out of order, and a bar must never step back.
    func publish(_ campaign: EventID, _ summary: CampaignSummary, mark: Int64) {
        let targets = state.withLock { s -> [AsyncStream<String>.Continuation] in
            guard let streams = s.streams[campaign] else { return [] }
            if let last = s.last[campaign] {
                // The same mark with another summary: time alone moved the campaign on (its deadline passed).
                guard mark >= last.mark else { return [] }
                s.last[campaign] = (summary, mark)
                guard last.summary != summary else { return [] }
            } else {
                s.last[campaign] = (summary, mark)
            }
            return Array(streams.values)
        }
        guard !targets.isEmpty else { return }
        let text = Self.message(summary)
        for c in targets { c.yield(text) }
    }

    func run() async throws {
        var mark = (try? await node.read { store throws(WhipError) in try store.changeMark() }) ?? 0
        self.mark.store(mark, ordering: .releasing)
        defer { self.mark.store(-1, ordering: .releasing) }
        var sinceKeepAlive: Duration = .zero
        var sinceRefresh: Duration = .zero
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.pollInterval) }
            sinceKeepAlive += pollInterval
            sinceRefresh += pollInterval
            let now = (try? await node.read { store throws(WhipError) in try store.changeMark() }) ?? mark
            // A deadline passing changes a campaign's standing without any new event: look again now and then.
            if now != mark || sinceRefresh >= Self.refresh {
                mark = now
                self.mark.store(now, ordering: .releasing)
                sinceRefresh = .zero
                for campaign in state.withLock({ Array($0.streams.keys) }) { await publish(campaign) }
            }
            if sinceKeepAlive >= Self.keepAlive {
                sinceKeepAlive = .zero
                for c in state.withLock({ $0.streams.values.flatMap(\.values) }) { c.yield(": keep-alive\n\n") }
            }
        }
        // Ends every open stream, so the server's graceful shutdown does not wait for pages that never leave.
        let all = state.withLock { s -> [AsyncStream<String>.Continuation] in
            s.closed = true
            return s.streams.values.flatMap(\.values)
        }
        for c in all { c.finish() }
    }
}
