import Foundation
import Logging
import Testing
import WhipCore
import WhipCrypto
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore

/// Personal parts over real loopback TCP between three nodes: they travel beside their events in the first sync
/// and in answers to `want`, an erasure reaches every node, and afterwards the erased name's bytes are in no
/// node's database or WAL file (issue 9, PROTOCOL.md §16).
@Suite(.serialized, .timeLimit(.minutes(10))) struct PartsSyncTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func node(_ name: String) throws -> Node {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-parts-\(UUID().uuidString)/\(name)").path
        return try Node.initialise(dir: DataDir(path: dir), name: name, logger: Self.logger)
    }

    func sync(_ from: Node, _ to: HostPort, _ community: PublicKey) async throws -> SyncReport {
        try await PeerSession.syncOnce(
            address: to, community: community, exchange: try Exchange(node: from, logger: Self.logger),
            credentials: try NodeCredentials(node: from), settings: SessionSettings(), logger: Self.logger)
    }

    func digest(_ n: Node, _ c: PublicKey) throws -> String { try n.store.communities().first { $0.id == c }!.digest }

    /// The database file and its WAL, as the disk holds them now.
    func bytesOnDisk(_ n: Node) -> Data {
        var all = Data()
        for f in [n.dir.databaseFile, n.dir.databaseFile + "-wal"] { all += FileManager.default.contents(atPath: f) ?? Data() }
        return all
    }

    @Test func partsTravelWithTheirEventsAndAnErasureLeavesNoBytesOnAnyNode() async throws {
        let hub = try node("hub")
        let laptop = try node("laptop")
        let desk = try node("desk")
        let c = try hub.createCommunity(name: "Elm Street")
        for n in [laptop, desk] {
            _ = try n.join(hub.invite(c))
            _ = try hub.grant(c, member: n.identity.publicKey, role: .collector, expires: nil)
        }
        let created = try await hub.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "", goal: 500_000, currency: Currency(code: "GBP")!, model: .allOrNothing, opens: 0,
                    closes: 1_900_000_000_000, timeZone: "UTC", organisers: [])))
        try await hub.emit(c.id, .campaignPublished(CampaignRef(campaign: created.id)))

        let name = "Zebedee Quillfeather"
        let email = "zebedee@example.org"
        try await serveForTest(hub, config: DaemonConfig(), logger: Self.logger) { (address: HostPort) async throws in
            _ = try await sync(laptop, address, c.id)
            let campaign = try laptop.campaign(created.id.hex)
            let gbp = Currency(code: "GBP")!
            let erasable = try laptop.recordPledge(
                campaign, amount: Money(minor: 1_200, currency: gbp), tier: nil, channel: .inPerson, paid: nil,
                parts: try laptop.pledgeParts(name: name, anonymous: false, contact: Contact(email: email), for: campaign))
            let kept = try laptop.recordPledge(
                campaign, amount: Money(minor: 500, currency: gbp), tier: nil, channel: .inPerson, paid: nil,
                parts: try laptop.pledgeParts(name: "Mabel Okonjo", anonymous: false, contact: Contact(), for: campaign))
            // The laptop sends its pledges and their parts in its first sync; the desk pulls them from the hub.
            let pushed = try await sync(laptop, address, c.id)
            #expect(pushed.sent == 2)
            _ = try await sync(desk, address, c.id)
            for n in [hub, laptop, desk] {
                let p = try #require(try n.store.pledge(erasable.id))
                #expect(p.publicName == name, "\(n.dir.path)")
                #expect(try n.store.part(event: erasable.id, slot: .contact) != nil, "the sealed contact travels too")
                #expect(try n.store.part(event: kept.id, slot: .name)?.bytes == Array("Mabel Okonjo".utf8))
                // So the check after the erasure can fail.
                #expect(bytesOnDisk(n).range(of: Data(name.utf8)) != nil)
                // Sealed: the address is never on disk in clear.
                #expect(bytesOnDisk(n).range(of: Data(email.utf8)) == nil)
            }
            // Only an organiser of the hub's campaign opens the contact: the hub's founder created it.
            #expect(hub.openContact(try #require(try hub.store.pledge(erasable.id)).contact)?.email == email)
            #expect(desk.openContact(try #require(try desk.store.pledge(erasable.id)).contact) == nil)

            // A copy made before the erasure: what a USB stick in a drawer still holds.
            let staleBundle = try desk.exportBundle(community: c.id).bytes
            #expect(Data(staleBundle).range(of: Data(name.utf8)) != nil)
            let before = try digest(hub, c.id)
            let hubCampaign = try hub.campaign(created.id.hex)
            _ = try hub.erase(try #require(try hub.store.pledge(erasable.id)), of: hubCampaign, reason: .request, slots: [.name, .contact])
            _ = try await sync(laptop, address, c.id)
            _ = try await sync(desk, address, c.id)
            var digests = Set<String>()
            for n in [hub, laptop, desk] {
                let p = try #require(try n.store.pledge(erasable.id))
                #expect(p.publicName == "(erased)")
                #expect(p.erased == [.name, .contact])
                #expect(try n.store.part(event: erasable.id, slot: .name) == nil)
                #expect(try n.store.part(event: erasable.id, slot: .contact) == nil)
                #expect(try n.store.pledge(kept.id)?.publicName == "Mabel Okonjo")
                #expect(bytesOnDisk(n).range(of: Data(name.utf8)) == nil, "\(n.dir.path) still holds the erased name")
                #expect(try n.store.campaign(created.id)?.backers == 2, "an erasure changes no total")
                digests.insert(try digest(n, c.id))
            }
            #expect(digests.count == 1)
            #expect(digests.first != before)

            // The old copy, imported again, cannot bring the parts back: each node's tombstone refuses them.
            let reimport = try laptop.importBundle(staleBundle)
            #expect(reimport.partsRefused["part.erased"] == 2, "\(reimport.partsRefused)")
            #expect(try laptop.store.part(event: erasable.id, slot: .name) == nil)
            #expect(bytesOnDisk(laptop).range(of: Data(name.utf8)) == nil)
        }
    }
}
