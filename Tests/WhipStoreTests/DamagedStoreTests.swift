import Foundation
import GRDB
import Logging
import Testing
import WhipCore
import WhipTestSupport

@testable import WhipStore

/// A damaged database is an error naming the damage, never a trap in a row decoder or a force-unwrap.
@Suite(.timeLimit(.minutes(10))) struct DamagedStoreTests {
    /// A store holding the base scenario, one pledge and a collection.
    func filled() throws -> (Store, Scenario) {
        var s = Scenario()
        let p = s.factory.make(FixedKeys.collectorA, s.pledge("Bob", 2_500, tier: s.tier, paid: .cash))
        s.events.append(p)
        let store = try tempStore()
        try store.ingest(s.events.map(\.wire), source: .bundle, now: now)
        return (store, s)
    }

    /// Every read a command makes, each expected to throw a storage error (and none to trap).
    func expectEveryReadFails(_ store: Store, _ s: Scenario, sourceLocation: SourceLocation = #_sourceLocation) {
        let reads: [(String, () throws -> Void)] = [
            ("communities", { _ = try store.communities() }), ("campaigns", { _ = try store.campaigns() }),
            ("campaign", { _ = try store.campaign(s.campaign) }), ("pledges", { _ = try store.pledges(campaign: s.campaign) }),
            ("tiers", { _ = try store.tiers(campaign: s.campaign) }), ("rejections", { _ = try store.rejections() }),
            ("roles", { _ = try store.roles(community: FixedKeys.community.publicKey) }),
            ("resolve", { _ = try store.resolve(String(s.campaign.hex.prefix(8)), in: "campaigns", what: "campaign") }),
            // Last: a rebuild rewrites the derived tables.
            ("rebuild", { _ = try store.rebuild(community: FixedKeys.community.publicKey) }),
        ]
        var failed = 0
        for (name, read) in reads {
            do {
                try read()
            } catch let e as WhipError {
                failed += 1
                #expect(e.code == .storage && e.message.contains("damaged"), "\(name): \(e.message)", sourceLocation: sourceLocation)
                #expect(!e.message.contains("SELECT") && !e.message.contains("\n"), "\(name): \(e.message)", sourceLocation: sourceLocation)
            } catch {
                Issue.record("\(name): \(error)", sourceLocation: sourceLocation)
            }
        }
        #expect(failed > 0, sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        "ALTER TABLE pledges RENAME COLUMN backer_name TO bccker_name", "ALTER TABLE campaigns RENAME COLUMN phase TO phasse",
        "UPDATE campaigns SET goal_minor = 'lots'", "UPDATE campaigns SET organisers = x'0102'", "UPDATE pledges SET status = 7",
        "UPDATE pledges SET collected_method = 9", "UPDATE events SET raw = x'00'", "UPDATE members SET key = substr(key, 1, 31)",
        "DROP VIEW rejection_log", "DROP TABLE tiers",
        // Ids and keys are read as 32-byte blobs or not at all; an unknown role or currency is damage, not a default.
        "UPDATE events SET id = substr(id, 1, 31)", "UPDATE roles SET role = 'overlord'",
        "UPDATE roles SET member = substr(member, 1, 31)", "UPDATE campaigns SET currency = 'QQQ'", "UPDATE pledges SET contact = x'00'",
    ])
    func damageIsAnErrorNotACrash(_ sql: String) throws {
        let (store, s) = try filled()
        try store.write { db in try db.execute(sql: sql) }
        expectEveryReadFails(store, s)
    }

    @Test func integrityCheckAndVerifyFindDamage() throws {
        let (store, s) = try filled()
        #expect(try store.integrityProblems().isEmpty)
        let clean = try store.verifyEvents()
        #expect(clean.checked == s.events.count && clean.bad.isEmpty)
        try store.write { db in
            try db.execute(sql: "UPDATE events SET raw = CAST(substr(raw, 1, length(raw) - 1) || x'00' AS BLOB) WHERE seq = 3")
        }
        let v = try store.verifyEvents()
        #expect(v.bad.map(\.seq) == [3] && v.bad.first?.reason == "bad_signature")
    }

    @Test func aReadOnlyStoreReadsAndRefusesWrites() throws {
        let (store, s) = try filled()
        let ro = try Store(path: store.path, logger: Logger(label: "test"), readOnly: true)
        #expect(try ro.campaign(s.campaign)?.backers == 1)
        #expect(throws: WhipError.self) { try ro.setMeta("name", "x") }
    }
}
