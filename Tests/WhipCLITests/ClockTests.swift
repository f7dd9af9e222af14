import Foundation
import Logging
import Testing
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore
import WhipTestSupport

/// Wrong clocks (PROTOCOL.md §8, THREAT_MODEL T15): a node can always record its own events, one event stamped
/// by a wrong clock does not drag later ones with it, and every node converges once the time comes.
@Suite(.timeLimit(.minutes(10))) struct ClockTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let day: Int64 = 86_400_000
    static let minute: Int64 = 60_000
    static let gbp = Currency(code: "GBP")!

    func node(_ base: String, _ name: String, _ clock: ManualClock) throws -> Node {
        try Node.initialise(dir: DataDir(path: base + "/" + name), name: name, logger: Self.logger, clock: { clock.now })
    }

    func digest(_ n: Node) throws -> String { try #require(try n.store.communities().first).digest }

    func pledge(_ n: Node, _ campaign: EventID, _ name: String) throws -> Event {
        try n.emit(
            try #require(try n.store.communities().first).id,
            .pledgeMade(PledgeMade(campaign: campaign, backerName: name, anonymous: false, amount: 1_000, currency: Self.gbp, channel: .inPerson)))
    }

    /// Exchanges every node's bundle with every other node.
    func exchange(_ nodes: [Node]) throws {
        let bundles = try nodes.map { try $0.exportBundle(community: nil).bytes }
        for n in nodes { for b in bundles { _ = try n.importBundle(b) } }
    }

    @Test func wrongClocksStillRecordAndConverge() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-clock-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let real = ManualClock()
        let start = real.now
        // The hub set the campaign up two days ago, with a right clock.
        real.advance(-2 * Self.day)
        let hub = try node(base, "hub", real)
        let c = try hub.createCommunity(name: "Elm Street")
        let campaign = try hub.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "", goal: 500_000, currency: Self.gbp, model: .allOrNothing, opens: 0,
                    closes: 2_524_608_000_000, timeZone: "Europe/London", organisers: [])))
        try hub.emit(c.id, .campaignPublished(CampaignRef(campaign: campaign.id)))

        let offsets: [Int64] = [-Self.day, 11 * Self.minute, Self.day, 3_652 * Self.day]
        var clocks: [ManualClock] = []
        var laptops: [Node] = []
        for (i, _) in offsets.enumerated() {
            let clock = ManualClock(start: start)
            let n = try node(base, "laptop\(i)", clock)
            _ = try n.join(hub.invite(c))
            _ = try hub.grant(c, member: n.identity.publicKey, role: .collector, expires: nil)
            clocks.append(clock)
            laptops.append(n)
        }
        real.advance(2 * Self.day)
        // One more laptop, granted its role just now, whose clock will also be a day behind.
        let newcomerClock = ManualClock(start: start)
        let newcomer = try node(base, "newcomer", newcomerClock)
        _ = try newcomer.join(hub.invite(c))
        let grant = try hub.grant(c, member: newcomer.identity.publicKey, role: .collector, expires: nil)
        let setup = try hub.exportBundle(community: nil).bytes
        for n in laptops + [newcomer] { #expect(try n.importBundle(setup).accepted == 4 + laptops.count) }
        // Each laptop takes a pledge with a right clock, then its clock goes wrong.
        var early: [Event] = []
        for n in laptops { early.append(try pledge(n, campaign.id, "before")) }
        for (clock, offset) in zip(clocks, offsets) { clock.advance(offset) }

        // With the wrong clock: every node records, twice (the second write used to be refused).
        var wrong: [Event] = []
        for (i, n) in laptops.enumerated() {
            wrong.append(try pledge(n, campaign.id, "wrong \(i)"))
            let second = try pledge(n, campaign.id, "wrong again \(i)")
            // Stamped by the node's clock, never dragged ahead by the events it holds.
            #expect(second.hlc.wall <= clocks[i].now + UInt64(Self.minute * 10))
        }
        // The laptop one day behind stamps by its own clock, and says its clock disagrees with its data.
        #expect(wrong[0].hlc.wall == clocks[0].now)
        #expect(try laptops[0].clockWarning() != nil)
        #expect(try laptops[1].clockWarning() == nil)
        // The newcomer a day behind stamps its pledge after the grant that lets it record (or the rules would
        // refuse it), so its peers take it at once.
        newcomerClock.advance(-Self.day)
        let followed = try pledge(newcomer, campaign.id, "newcomer")
        #expect(followed.hlc > grant.hlc && followed.hlc.wall <= real.now + 1)
        newcomerClock.advance(Self.day)

        // Clocks corrected: every node records, and a new event is stamped by the clock, not years ahead.
        for (clock, offset) in zip(clocks, offsets) { clock.advance(-offset) }
        for (i, n) in laptops.enumerated() {
            let after = try pledge(n, campaign.id, "corrected \(i)")
            #expect(after.hlc.wall <= real.now + UInt64(Self.minute * 10), "laptop \(i) stamped \(after.hlc)")
            #expect(after.hlc.wall >= real.now)
            // Money received for the pledge taken while the clock was wrong: stamped after that pledge, so it applies.
            let collected = try n.emit(
                c.id, .pledgeCollected(PledgeCollected(campaign: campaign.id, pledge: wrong[i].id, amount: 1_000, currency: Self.gbp, method: .cash)))
            #expect(collected.hlc > wrong[i].hlc)
            _ = try n.emit(
                c.id,
                .pledgeCollected(PledgeCollected(campaign: campaign.id, pledge: early[i].id, amount: 1_000, currency: Self.gbp, method: .cash)))
        }
        // The nodes whose clocks were ahead say so until real time catches up.
        #expect(try laptops[2].clockWarning() != nil)
        #expect(try laptops[3].clockWarning() != nil)
        #expect(try laptops[0].clockWarning() == nil)

        // Peers with right clocks hold what is too far ahead, as before: each of the three laptops whose clock
        // was ahead sent two wrong-clock pledges and the collection that follows them.
        let all = [hub] + laptops + [newcomer]
        try exchange(all)
        #expect(try hub.store.heldCount() == 3 * 3)
        // Counted: every laptop's first and corrected pledges, the one-day-behind laptop's two, the newcomer's.
        #expect(try hub.store.campaign(campaign.id)?.backers == 4 + 4 + 2 + 1)

        // When real time reaches the furthest timestamp, held events are admitted and every node agrees.
        for clock in [real, newcomerClock] + clocks { clock.advance(3_653 * Self.day) }
        for n in all { try n.store.retryHeld(now: n.now) }
        try exchange(all)
        let digests = try Set(all.map(digest))
        #expect(digests.count == 1)
        #expect(try hub.store.campaign(campaign.id)?.backers == 4 * 4 + 1)
    }

    /// The report, through the command line: a pledge recorded with the clock a day ahead, then the
    /// clock put right. Later writes used to fail with exit 4; now they succeed, and the node says its clock
    /// disagrees with its data (stderr line, `status` text and JSON).
    @Test func commandLineRecordsAndWarnsAfterAWrongClock() throws {
        let cli = try CLI()
        let ahead = ManualClock(start: Dates.nowMs())
        let n = try Node.initialise(dir: DataDir(path: cli.path("hub")), name: "Hub", logger: Self.logger, clock: { ahead.now })
        let c = try n.createCommunity(name: "Elm Street")
        let campaign = try n.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "", goal: 500_000, currency: Self.gbp, model: .allOrNothing, opens: 0,
                    closes: 2_524_608_000_000, timeZone: "Europe/London", organisers: [])))
        try n.emit(c.id, .campaignPublished(CampaignRef(campaign: campaign.id)))
        ahead.advance(Self.day)
        let ann = try pledge(n, campaign.id, "Ann")

        let add = try cli.run(["pledge", "add", "--data", "hub", "--campaign", campaign.id.hex, "--name", "Ben", "--amount", "5"])
        #expect(add.stderr.hasPrefix("warning: ") && add.stderr.contains("clock"))
        #expect(add.stderr.split(separator: "\n").count == 1)
        let status = try cli.run(["status", "--data", "hub"])
        #expect(status.stdout.contains("Warning: this node's clock") && status.stderr.isEmpty)
        #expect(try cli.json(["status", "--data", "hub"])["clock_warning"] as? String != nil)
        let shown = try cli.json(["campaign", "show", "--data", "hub", campaign.id.hex])
        #expect(shown["backers"] as? Int == 2)
        // Ben's pledge is stamped by the right clock, not dragged a day ahead behind Ann's.
        let ben = try #require(try n.store.pledges(campaign: campaign.id).first { $0.backerName == "Ben" })
        #expect(ben.madeAt < ann.hlc.wall - UInt64(Self.day) / 2)
    }

    /// A node whose clock goes back a day just after publishing still takes pledges: each is stamped after the
    /// publication it depends on (before it, the rules would say the campaign is not live).
    @Test func aPledgeFollowsThePublicationItNeeds() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-clock-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let clock = ManualClock()
        let n = try node(base, "hub", clock)
        let c = try n.createCommunity(name: "Elm Street")
        let campaign = try n.emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Lido", description: "", goal: 500_000, currency: Self.gbp, model: .allOrNothing, opens: 0,
                    closes: 2_524_608_000_000, timeZone: "UTC", organisers: [])))
        clock.advance(1_000)
        let published = try n.emit(c.id, .campaignPublished(CampaignRef(campaign: campaign.id)))
        clock.advance(-Self.day)
        let p = try pledge(n, campaign.id, "Ann")
        #expect(p.hlc > published.hlc)
        #expect(try n.store.campaign(campaign.id)?.backers == 1)
    }
}
