import Foundation
import Testing

/// The acceptance script from the issue, plus both-ways offline collection.
@Suite(.serialized, .timeLimit(.minutes(10))) struct EndToEndTests {
    func setUp(_ cli: CLI) throws -> (campaign: String, laptop: String) {
        let laptop = try cli.hubAndLaptop(hub: "Elm Street Hub", laptop: "Fete laptop")
        #expect(laptop.hasPrefix("wrk1"))
        let campaign = try #require(
            try cli.json([
                "campaign", "create", "--data", "hub", "--title", "Reopen the lido", "--goal", "5000", "--currency", "GBP",
                "--closes", "2030-03-31", "--model", "all-or-nothing",
            ])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])
        try cli.run(["bundle", "export", "--data", "hub", "--out", "hub.bundle"])
        try cli.run(["bundle", "import", "--data", "laptop", "hub.bundle"])
        return (campaign, laptop)
    }

    func status(_ cli: CLI, _ node: String) throws -> [String: Any] {
        let s = try cli.json(["status", "--data", node])
        return try #require((s["communities"] as? [[String: Any]])?.first)
    }

    @Test func acceptanceScriptAndTwoWayOfflineMerge() throws {
        let cli = try CLI()
        let (campaign, _) = try setUp(cli)
        // Both nodes collect offline.
        try cli.run(["pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "Bob", "--amount", "10.50"])
        try cli.run(["pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "Cat", "--amount", "100", "--anonymous"])
        try cli.run(["pledge", "add", "--data", "hub", "--campaign", campaign, "--name", "Dee", "--amount", "25", "--paid", "cash"])
        // Exchange both ways.
        try cli.run(["bundle", "export", "--data", "laptop", "--out", "laptop.bundle"])
        try cli.run(["bundle", "export", "--data", "hub", "--out", "hub2.bundle"])
        let toHub = try cli.json(["bundle", "import", "--data", "hub", "laptop.bundle"])
        #expect(toHub["accepted"] as? Int == 2)
        try cli.run(["bundle", "import", "--data", "laptop", "hub2.bundle"])

        let hub = try cli.json(["campaign", "show", "--data", "hub", campaign])
        let lap = try cli.json(["campaign", "show", "--data", "laptop", campaign])
        #expect(hub["pledged"] as? String == "135.50")
        #expect(hub["collected"] as? String == "25.00")
        #expect(hub["backers"] as? Int == 3)
        for key in ["pledged", "collected", "backers", "state"] {
            #expect("\(hub[key]!)" == "\(lap[key]!)", "\(key) differs")
        }
        let names = (hub["pledges"] as? [[String: Any]] ?? []).compactMap { $0["backer"] as? String }
        #expect(names.contains("Anonymous") && !names.contains("Cat"))

        let hubStatus = try status(cli, "hub")
        let lapStatus = try status(cli, "laptop")
        #expect(hubStatus["digest"] as? String == lapStatus["digest"] as? String)
        #expect((hubStatus["digest"] as? String)?.count == 64)

        // Importing the same bundle again changes nothing.
        let again = try cli.json(["bundle", "import", "--data", "hub", "laptop.bundle"])
        #expect(again["accepted"] as? Int == 0)
        #expect(try status(cli, "hub")["digest"] as? String == hubStatus["digest"] as? String)

        // One flipped byte: refused with a clear message, nothing changes.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: cli.path("laptop.bundle")))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: cli.path("flipped.bundle")))
        let refused = try cli.run(["bundle", "import", "--data", "hub", "flipped.bundle"], expect: 5)
        #expect(refused.stderr.contains("damaged"))
        #expect(!refused.stderr.contains("Fatal") && !refused.stderr.contains("Stack"))
        #expect(try status(cli, "hub")["digest"] as? String == hubStatus["digest"] as? String)

        // The derived tables equal a rebuild from events.
        #expect(try cli.json(["doctor", "--data", "hub"])["ok"] as? Bool == true)
    }

    @Test func clearErrorsForCommonMistakes() throws {
        let cli = try CLI()
        let (campaign, laptop) = try setUp(cli)
        let noNode = try cli.run(["status", "--data", "nowhere"], expect: 3)
        #expect(noNode.stderr.contains("whipround init"))
        var typo = Array(laptop)
        typo[20] = typo[20] == "a" ? "b" : "a"
        let badKey = try cli.run(["community", "grant", "--data", "hub", "--role", "collector", String(typo)], expect: 2)
        #expect(badKey.stderr.contains("checksum"))
        let badAmount = try cli.run(["pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "X", "--amount", "1.234"], expect: 2)
        #expect(badAmount.stderr.contains("decimal places"))
        let notMine = try cli.run(["community", "grant", "--data", "laptop", "--role", "organiser", laptop], expect: 4)
        #expect(notMine.stderr.contains("founder or an admin"))
        let badDate = try cli.run(
            ["campaign", "create", "--data", "hub", "--title", "T", "--goal", "5", "--closes", "2030-02-30"], expect: 2)
        #expect(badDate.stderr.contains("date"))
        let pledge = try #require(
            try cli.json(["pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "Bob", "--amount", "5"])["id"] as? String)
        try cli.run(["bundle", "export", "--data", "laptop", "--out", "l.bundle"])
        try cli.run(["bundle", "import", "--data", "hub", "l.bundle"])
        let withdraw = try cli.run(["pledge", "withdraw", "--data", "hub", pledge], expect: 4)
        #expect(withdraw.stderr.contains("author"))
        let newline = try cli.run(
            ["pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "Bob\nTotal: 1000", "--amount", "5"], expect: 2)
        #expect(newline.stderr.contains("line break"))
        for r in [noNode, badKey, badAmount, notMine, badDate, withdraw, newline] {
            #expect(r.stderr.hasPrefix("error: "))
        }
    }

    @Test func contactsAreSealedToOrganisersAndExportsRespectPrivacy() throws {
        let cli = try CLI()
        let (campaign, _) = try setUp(cli)
        try cli.run([
            "pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "Eve", "--amount", "30", "--anonymous",
            "--email", "eve@example.org",
        ])
        // The collector's replica holds only ciphertext.
        let db = try Data(contentsOf: URL(fileURLWithPath: cli.path("laptop/whipround.sqlite")))
        #expect(db.range(of: Data("eve@example.org".utf8)) == nil)
        let refused = try cli.run(["export", "--data", "laptop", "--campaign", campaign, "--organiser"], expect: 4)
        #expect(refused.stderr.contains("not an organiser"))
        try cli.run(["bundle", "export", "--data", "laptop", "--out", "l.bundle"])
        try cli.run(["bundle", "import", "--data", "hub", "l.bundle"])
        let publicCSV = try cli.run(["export", "--data", "hub", "--campaign", campaign]).stdout
        #expect(publicCSV.contains("Anonymous") && !publicCSV.contains("Eve") && !publicCSV.contains("eve@"))
        let organiserCSV = try cli.run(["export", "--data", "hub", "--campaign", campaign, "--organiser"]).stdout
        #expect(organiserCSV.contains("Eve") && organiserCSV.contains("eve@example.org"))
    }

    @Test func identityKeyIsPrivateAndNeverPrinted() throws {
        let cli = try CLI()
        let out = try cli.run(["init", "--data", "n", "--name", "N"])
        let attrs = try FileManager.default.attributesOfItem(atPath: cli.path("n/identity.key"))
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        let seed = try String(contentsOfFile: cli.path("n/identity.key"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!out.stdout.contains(seed) && !out.stderr.contains(seed))
        let id = try cli.run(["id", "--data", "n", "--json", "--verbose"])
        #expect(!id.stdout.contains(seed) && !id.stderr.contains(seed))
        try cli.run(["init", "--data", "n", "--name", "again"], expect: 6)
    }
}
