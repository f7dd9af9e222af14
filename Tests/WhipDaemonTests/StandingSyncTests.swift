import Foundation
import Logging
import Testing
import WhipCore
import WhipDaemon
import WhipNode
import WhipStore
import WhipTestSupport

/// `sync` reports pledges that lost (or won) a limited tier's place because of what it received (issue 7 §3).
@Suite struct StandingSyncTests {
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
        let campaign = try hub.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "", goal: 500_000, currency: gbp, model: .allOrNothing, opens: 0,
                    closes: 2_524_608_000_000, timeZone: "UTC", organisers: [])))
        let tier = try hub.emit(c.id, .tierAdded(TierAdded(campaign: campaign.id, title: "T-shirt", minimum: 500, limit: 1)))
        try hub.emit(c.id, .campaignPublished(CampaignRef(campaign: campaign.id)))
        func sell(_ n: Node, _ name: String) throws -> Event {
            try n.emit(
                c.id,
                .pledgeMade(
                    PledgeMade(
                        campaign: campaign.id, backerName: name, anonymous: false, amount: 1_000, currency: gbp, tier: tier.id,
                        channel: .inPerson)))
        }
        try await serveForTest(hub, config: DaemonConfig(), logger: Self.logger) { address in
            let replica = try Replica(node: laptop, logger: Self.logger)
            let credentials = try Daemon.credentials(for: laptop)
            // A handshake the hub dropped (a starved test machine runs past its handshake timeout) moved no
            // event, so it is tried again, at most three times in all.
            func sync() async throws -> SyncReport {
                for attempt in 1...3 {
                    do {
                        return try await PeerSession.syncOnce(
                            address: address, community: c.id, replica: replica, credentials: credentials, settings: SessionSettings(),
                            logger: Self.logger)
                    } catch let e as WhipError where attempt < 3 && e.message.contains("during the handshake") {
                        continue
                    }
                }
                throw WhipError(.internalError, "unreachable")
            }
            #expect(try await sync().received.standingChanges.isEmpty)
            // Both sell the last T-shirt offline; the hub a second earlier.
            clock.advance(1_000)
            _ = try sell(hub, "Ann")
            clock.advance(1_000)
            let mine = try sell(laptop, "Ben")
            let report = try await sync()
            #expect(report.received.standingChanges.map(\.pledge) == [mine.id])
            #expect(report.received.standingChanges.first?.waitlisted == true)
        }
    }
}
