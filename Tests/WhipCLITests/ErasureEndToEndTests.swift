import Foundation
import Testing

/// An erasure made on the hub reaches every node over the wire, and afterwards the erased name's bytes are in
/// no replica's database or WAL file (issue 9; docs/PRIVACY.md).
@Suite(.timeLimit(.minutes(10))) struct ErasureEndToEndTests {
    /// Every byte of a node's SQLite files: the database and, when present, its WAL.
    func bytesOnDisk(_ cli: CLI, _ node: String) throws -> Data {
        var all = Data()
        for file in ["whipround.sqlite", "whipround.sqlite-wal"] {
            let url = URL(fileURLWithPath: cli.path(node)).appendingPathComponent(file)
            if let d = FileManager.default.contents(atPath: url.path) { all += d }
        }
        return all
    }

    func digest(_ cli: CLI, _ node: String) throws -> String {
        let s = try cli.json(["status", "--data", node])
        return ((s["communities"] as? [[String: Any]])?.first?["digest"] as? String) ?? ""
    }

    /// The backer name `pledge list` shows for `pledge`.
    func backer(_ cli: CLI, _ node: String, campaign: String, _ pledge: String) throws -> String {
        let out = try cli.run(["pledge", "list", "--data", node, "--campaign", campaign, "--json"]).stdout
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
        return rows.first { $0["id"] as? String == pledge }?["backer"] as? String ?? "(not listed)"
    }

    @Test func anErasureReachesThreeNodesAndLeavesNoBytesOnDisk() async throws {
        let cli = try CLI()
        try cli.hubAndLaptop()
        try cli.run(["init", "--data", "desk", "--name", "Desk"])
        let invite = try #require(try cli.json(["community", "invite", "--data", "hub"])["invite"] as? String)
        try cli.run(["community", "join", "--data", "desk", invite])
        let deskID = try #require(try cli.json(["id", "--data", "desk"])["id"] as? String)
        try cli.run(["community", "grant", "--data", "hub", "--role", "collector", deskID])
        let campaign = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--title", "Lido", "--goal", "100", "--closes", "2030-01-01"])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])

        let hub = try DaemonProcessTests.Daemon(cli, ["--data", "hub"])
        defer { _ = hub.stop() }
        let port = try await hub.port()
        try cli.run(["sync", "--data", "laptop", "127.0.0.1:\(port)"])

        let name = "Zebedee Quillfeather"
        let nameBytes = Data(name.utf8)
        let pledge = try #require(
            try cli.json([
                "pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", name, "--amount", "12",
                "--email", "zebedee@example.org",
            ])["id"] as? String)
        let kept = try #require(
            try cli.json(["pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "Mabel Okonjo", "--amount", "5"])["id"]
                as? String)
        for node in ["laptop", "desk"] { try cli.run(["sync", "--data", node, "127.0.0.1:\(port)"]) }
        // Before the erasure the name is shown and stored on every node, so the check below can fail.
        for node in ["hub", "laptop", "desk"] {
            #expect(try backer(cli, node, campaign: campaign, pledge) == name, "\(node)")
            #expect(try bytesOnDisk(cli, node).range(of: nameBytes) != nil, "\(node) should hold the name before the erasure")
        }
        let before = try digest(cli, "hub")

        // The hub's founder (an organiser of every campaign it created) erases the backer's data on request.
        let erased = try cli.json(["pledge", "erase", "--data", "hub", pledge, "--reason", "request"])
        #expect(erased["pledge"] as? String == pledge)
        for node in ["laptop", "desk"] { try cli.run(["sync", "--data", node, "127.0.0.1:\(port)"]) }

        var digests = Set<String>()
        for node in ["hub", "laptop", "desk"] {
            #expect(try backer(cli, node, campaign: campaign, pledge) != name, "\(node) still shows the name")
            #expect(try backer(cli, node, campaign: campaign, kept) == "Mabel Okonjo", "\(node) lost another backer's name")
            #expect(try bytesOnDisk(cli, node).range(of: nameBytes) == nil, "\(node) still holds the erased name's bytes")
            digests.insert(try digest(cli, node))
        }
        #expect(digests.count == 1, "the replicas agree")
        // The erasure is one more event: it changes the digest as any event does, but not the pledge's id or totals.
        #expect(digests.first != before)
        let show = try cli.json(["campaign", "show", "--data", "desk", campaign])
        #expect(show["backers"] as? Int == 2)

        // A bundle exported after the erasure leaves the erased part out.
        try cli.run(["bundle", "export", "--data", "hub", "--out", "after.wrb"])
        let bundle = try #require(FileManager.default.contents(atPath: cli.path("after.wrb")))
        #expect(bundle.range(of: nameBytes) == nil)
        #expect(bundle.range(of: Data("Mabel Okonjo".utf8)) != nil)
    }
}
