import Foundation
import Logging
import Testing
import WhipCore
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore
import WhipTestSupport

/// `sync` reports pledges that lost (or won) a limited tier's place because of what it received (issue 7 §3).
@Suite(.timeLimit(.minutes(10))) struct StandingSyncTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func syncReportsAPledgeThatLostItsTierPlace() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-standing-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let clock = ManualClock(start: Dates.nowMs())
        let hub = try Node.initialise(dir: DataDir(path: base + "/hub"), name: "hub", logger: Self.logger, clock: { clock.now })
        let laptop = try Node.initialise(dir: DataDir(path: base + "/laptop"), name: "laptop", logger: Self.logger, clock: { clock.now })
        let c = try hub.createCommunity(name: "Elm Street")
        _ = try laptop.join(hub.invite(c))
        _ = try hub.grant(c, member: laptop.identity.publicKey, role: .collector, expires: nil)
        let gbp = Currency(code: "GBP")!
        let campaign = try await hub.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "", goal: 500_000, currency: gbp, model: .allOrNothing, opens: 0,
                    closes: 2_524_608_000_000, timeZone: "UTC", organisers: [])))
        let tier = try await hub.emit(c.id, .tierAdded(TierAdded(campaign: campaign.id, title: "T-shirt", minimum: 500, limit: 1)))
        try await hub.emit(c.id, .campaignPublished(CampaignRef(campaign: campaign.id)))
        func sell(_ n: Node, _ name: String) throws -> Event {
            try n.emit(
                c.id,
                .pledgeMade(
                    PledgeMade(
                        campaign: campaign.id, backerName: name, anonymous: false, amount: 1_000, currency: gbp, tier: tier.id,
                        channel: .inPerson)))
        }
        // The laptop takes the hub's events through the replica, as a sync session hands them over (no sockets:
        // a starved test machine must not make this flaky).
        let exchange = try Exchange(node: laptop, logger: Self.logger)
        func pull() async throws -> IngestReport {
            try await exchange.ingest(try hub.store.exportEvents(community: c.id), community: c.id, from: nil)
        }
        #expect(try await pull().standingChanges.isEmpty)
        // Both sell the last T-shirt offline; the hub a second earlier.
        clock.advance(1_000)
        _ = try sell(hub, "Ann")
        clock.advance(1_000)
        let mine = try sell(laptop, "Ben")
        let report = try await pull()
        #expect(report.standingChanges.map(\.pledge) == [mine.id])
        #expect(report.standingChanges.first?.waitlisted == true)
    }
}
