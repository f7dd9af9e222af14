import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import WhipCore
import WhipCrypto
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore

/// Real nodes over loopback TCP: handshake, reconciliation, transfer and durable commit.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LoopbackTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func node(_ name: String) throws -> Node {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-loop-\(UUID().uuidString)/\(name)").path
        return try Node.initialise(dir: DataDir(path: dir), name: name, logger: Self.logger)
    }

    /// Runs `node` as a listening daemon on an ephemeral loopback port for the duration of `body`.
    func serving<T: Sendable>(_ node: Node, _ body: (HostPort) async throws -> T) async throws -> T {
        try await serveForTest(node, config: DaemonConfig(), logger: Self.logger, body)
    }

    func sync(_ from: Node, _ to: HostPort, _ community: PublicKey) async throws -> SyncReport {
        try await PeerSession.syncOnce(
            address: to, community: community, exchange: try Exchange(node: from, logger: Self.logger),
            credentials: try NodeCredentials(node: from), settings: SessionSettings(), logger: Self.logger)
    }

    func digest(_ n: Node, _ c: PublicKey) throws -> String { try n.store.communities().first { $0.id == c }!.digest }

    /// Hub and laptop each record pledges; one sync each way leaves both with the same events and digest.
    @Test func twoNodesConvergeOverTCP() async throws {
        let hub = try node("hub")
        let laptop = try node("laptop")
        let c = try hub.createCommunity(name: "Elm Street")
        _ = try laptop.join(hub.invite(c))
        _ = try hub.grant(c, member: laptop.identity.publicKey, role: .collector, expires: nil)
        let campaign = try await hub.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "", goal: 500_000, currency: Currency(code: "GBP")!, model: .allOrNothing, opens: 0,
                    closes: 1_900_000_000_000, timeZone: "UTC", organisers: [])))
        try await hub.emit(c.id, .campaignPublished(CampaignRef(campaign: campaign.id)))
        try await serving(hub) { (address: HostPort) async throws in
            let first = try await sync(laptop, address, c.id)
            #expect(first.received.accepted == 4 && first.sent == 0)
            // Offline pledges on both sides.
            let gbp = Currency(code: "GBP")!
            for i in 0..<30 {
                try await laptop.emit(
                    c.id,
                    .pledgeMade(
                        PledgeMade(campaign: campaign.id, backerName: "L\(i)", anonymous: false, amount: 100, currency: gbp, channel: .inPerson)))
            }
            for i in 0..<20 {
                try await hub.emit(
                    c.id,
                    .pledgeMade(
                        PledgeMade(campaign: campaign.id, backerName: "H\(i)", anonymous: false, amount: 100, currency: gbp, channel: .inPerson)))
            }
            let second = try await sync(laptop, address, c.id)
            #expect(second.sent == 30 && second.peerAccepted == 30)
            #expect(second.received.accepted == 20)
            #expect(try digest(hub, c.id) == digest(laptop, c.id))
            #expect(try hub.store.campaign(campaign.id)?.backers == 50)
            // Nothing left to do: a third sync moves nothing.
            let third = try await sync(laptop, address, c.id)
            #expect(third.sent == 0 && third.received.accepted == 0)
        }
    }

    /// A node with the wrong network key never completes the handshake; one with the key but no role is
    /// told it is not a member; neither receives any event.
    @Test func nonMembersGetNothing() async throws {
        let hub = try node("hub")
        let c = try hub.createCommunity(name: "Elm Street")
        let stranger = try node("stranger")
        var forged = hub.invite(c)
        forged.networkKey = [UInt8](repeating: 0x42, count: 32)
        _ = try stranger.join(forged)
        let roleless = try node("roleless")
        _ = try roleless.join(hub.invite(c))
        try await serving(hub) { (address: HostPort) async throws in
            await #expect(throws: WhipError.self) { _ = try await sync(stranger, address, c.id) }
            #expect(try stranger.store.eventCount() == 0)
            await #expect(throws: (any Error).self) { _ = try await sync(roleless, address, c.id) }
            #expect(try roleless.store.eventCount() == 0)
        }
    }

    /// Two communities on one hub stay apart: a member of one never receives the other's events.
    @Test func communitiesStayIsolated() async throws {
        let hub = try node("hub")
        let elm = try hub.createCommunity(name: "Elm Street")
        let oak = try hub.createCommunity(name: "Oak Road")
        let oakMember = try node("oak")
        _ = try oakMember.join(hub.invite(oak))
        _ = try hub.grant(oak, member: oakMember.identity.publicKey, role: .collector, expires: nil)
        _ = try hub.grant(elm, member: FixedMember.key, role: .collector, expires: nil)
        try await serving(hub) { (address: HostPort) async throws in
            let r = try await sync(oakMember, address, oak.id)
            #expect(r.received.accepted == 2)  // Oak's genesis and grant
            let elmEvents = try oakMember.store.exportEvents(community: elm.id)
            #expect(elmEvents.isEmpty)
            #expect(try oakMember.store.eventCount() == 2)
        }
    }
}

enum FixedMember {
    static let key = try! SigningKey(seed: [UInt8](repeating: 0x33, count: 32)).publicKey
}
