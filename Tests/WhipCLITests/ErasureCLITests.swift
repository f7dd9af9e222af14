import Foundation
import Testing

/// `pledge add` writes version-2 pledges, `pledge erase` erases their personal parts, and listings say so.
@Suite(.timeLimit(.minutes(10))) struct ErasureCLITests {
    /// One node that founded the community and a live campaign; returns the campaign id.
    func campaign(_ cli: CLI) throws -> String {
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let campaign = try #require(
            try cli.json([
                "campaign", "create", "--data", "hub", "--title", "Reopen the lido", "--goal", "5000", "--currency", "GBP",
                "--closes", "2030-03-31",
            ])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])
        return campaign
    }

    func list(_ cli: CLI, _ campaign: String) throws -> [[String: Any]] {
        let out = try cli.run(["pledge", "list", "--data", "hub", "--campaign", campaign, "--json"]).stdout
        return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
    }

    @Test func erasedNamesShowAsErasedAndLeaveTheReplica() throws {
        let cli = try CLI()
        let campaign = try campaign(cli)
        let add = ["pledge", "add", "--data", "hub", "--campaign", campaign, "--amount", "10"]
        let zed = try #require(try cli.json(add + ["--name", "Zebediah Erasable", "--email", "zed@example.org"])["id"] as? String)
        let ann = try #require(try cli.json(add + ["--name", "Ann Anonymous-Backer", "--anonymous"])["id"] as? String)
        let before = try list(cli, campaign)
        #expect(before.map { $0["backer"] as? String } == ["Zebediah Erasable", "Anonymous"])
        // An anonymous backer's name is sealed, not stored in clear anywhere.
        let db = try Data(contentsOf: URL(fileURLWithPath: cli.path("hub/whipround.sqlite")))
        #expect(db.range(of: Data("Ann Anonymous-Backer".utf8)) == nil)
        // The organiser's export opens the sealed name and contact details.
        let csv = try cli.run(["export", "--data", "hub", "--campaign", campaign, "--organiser"]).stdout
        #expect(csv.contains("Ann Anonymous-Backer") && csv.contains("zed@example.org"))

        let erased = try cli.json(["pledge", "erase", "--data", "hub", zed, "--reason", "request"])
        #expect(erased["slots"] as? [String] == ["name", "contact", "gift-aid"])
        #expect(erased["reason"] as? String == "request")
        let after = try list(cli, campaign)
        #expect(after.first?["backer"] as? String == "(erased)")
        #expect(after.first?["erased"] as? [String] == ["name", "contact", "gift-aid"])
        #expect(after.last?["erased"] == nil, "\(ann) was not erased")
        #expect(try cli.run(["pledge", "list", "--data", "hub", "--campaign", campaign]).stdout.contains("(erased)"))
        let csvAfter = try cli.run(["export", "--data", "hub", "--campaign", campaign, "--organiser"]).stdout
        #expect(!csvAfter.contains("Zebediah") && !csvAfter.contains("zed@example.org"))
        for file in ["hub/whipround.sqlite", "hub/whipround.sqlite-wal"] {
            let bytes = FileManager.default.contents(atPath: cli.path(file)) ?? Data()
            #expect(bytes.range(of: Data("Zebediah Erasable".utf8)) == nil, "\(file) still holds the erased name")
        }
        // The totals stay.
        let shown = try cli.json(["campaign", "show", "--data", "hub", campaign])
        #expect(shown["backers"] as? Int == 2)
    }

    @Test func erasureRefusesClearly() throws {
        let cli = try CLI()
        let campaign = try campaign(cli)
        let p = try #require(
            try cli.json(["pledge", "add", "--data", "hub", "--campaign", campaign, "--amount", "5", "--name", "Bo"])["id"] as? String)
        let badReason = try cli.run(["pledge", "erase", "--data", "hub", p, "--reason", "because"], expect: 2)
        #expect(badReason.stderr.contains("request or retention_expired"))
        let badSlot = try cli.run(["pledge", "erase", "--data", "hub", p, "--reason", "request", "--slots", "email"], expect: 2)
        #expect(badSlot.stderr.contains("name, contact or gift-aid"))
        // Erasing the name, then everything: the second erasure signs only the parts still there, and a third
        // signs nothing and says so.
        let cy = try #require(
            try cli.json(["pledge", "add", "--data", "hub", "--campaign", campaign, "--amount", "5", "--name", "Cy"])["id"] as? String)
        let name = try cli.json(["pledge", "erase", "--data", "hub", cy, "--reason", "request", "--slots", "name"])
        #expect(name["slots"] as? [String] == ["name"])
        let rest = try cli.json(["pledge", "erase", "--data", "hub", cy, "--reason", "request"])
        #expect(rest["slots"] as? [String] == ["contact", "gift-aid"])
        let again = try cli.run(["pledge", "erase", "--data", "hub", cy, "--reason", "request"], expect: 6)
        #expect(again.stderr.contains("already erased; nothing was signed"), "\(again.stderr)")
        // A collector may record pledges but not erase them.
        try cli.run(["init", "--data", "laptop", "--name", "Laptop"])
        let invite = try #require(try cli.json(["community", "invite", "--data", "hub"])["invite"] as? String)
        try cli.run(["community", "join", "--data", "laptop", invite])
        let laptop = try #require(try cli.json(["id", "--data", "laptop"])["id"] as? String)
        try cli.run(["community", "grant", "--data", "hub", "--role", "collector", laptop])
        try cli.run(["bundle", "export", "--data", "hub", "--out", "hub.bundle"])
        try cli.run(["bundle", "import", "--data", "laptop", "hub.bundle"])
        let refused = try cli.run(["pledge", "erase", "--data", "laptop", p, "--reason", "request"], expect: 4)
        #expect(refused.stderr.contains("organisers") && refused.stderr.hasPrefix("error: "))
        // A version-2 pledge's name changes with a new part.
        try cli.run(["pledge", "revise", "--data", "hub", p, "--name", "Bob"])
        let rows = try list(cli, campaign)
        #expect(rows.first?["backer"] as? String == "Bob")
    }
}
