import Foundation
import Testing

/// A node in several communities keeps them apart.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CommunityTests {
    @Test func severalCommunitiesStayApart() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["init", "--data", "laptop", "--name", "Laptop"])
        let elm = try #require(try cli.json(["community", "create", "--data", "hub", "Elm Street"])["id"] as? String)
        let oak = try #require(try cli.json(["community", "create", "--data", "hub", "Oak Road"])["id"] as? String)
        #expect(elm != oak && elm.hasPrefix("wrc1"))

        // With two communities, commands that need one say so.
        let ambiguous = try cli.run(["campaign", "create", "--data", "hub", "--title", "T", "--goal", "10", "--closes", "2030-01-01"], expect: 2)
        #expect(ambiguous.stderr.contains("--community"))
        let oakCampaign = try #require(
            try cli.json([
                "campaign", "create", "--data", "hub", "--community", "Oak Road", "--title", "Oak fence", "--goal", "10", "--closes", "2030-01-01",
            ])["id"] as? String)
        try cli.run(["campaign", "create", "--data", "hub", "--community", elm, "--title", "Elm lido", "--goal", "10", "--closes", "2030-01-01"])

        // The laptop joins Elm Street only; Oak Road's events in a whole-node bundle are refused by reason.
        let invite = try #require(try cli.json(["community", "invite", "--data", "hub", "--community", "Elm Street"])["invite"] as? String)
        try cli.run(["community", "join", "--data", "laptop", invite])
        try cli.run(["bundle", "export", "--data", "hub", "--out", "all.bundle"])
        let report = try cli.json(["bundle", "import", "--data", "laptop", "all.bundle"])
        #expect(report["accepted"] as? Int == 2)  // Elm's genesis and campaign
        #expect((report["rejected"] as? [String: Int])?["community_not_joined"] == 2)  // Oak's genesis and campaign
        let titles = try cli.run(["campaign", "list", "--data", "laptop"]).stdout
        #expect(titles.contains("Elm lido") && !titles.contains("Oak fence"))
        try cli.run(["campaign", "show", "--data", "laptop", oakCampaign], expect: 3)

        // A per-community bundle carries only that community.
        try cli.run(["bundle", "export", "--data", "hub", "--community", "Oak Road", "--out", "oak.bundle"])
        #expect(try cli.json(["bundle", "export", "--data", "hub", "--community", "Oak Road", "--out", "oak2.bundle"])["events"] as? Int == 2)
        let listed = try JSONSerialization.jsonObject(with: Data(try cli.run(["community", "list", "--data", "hub", "--json"]).stdout.utf8))
        #expect((listed as? [[String: Any]])?.count == 2)
    }
}
