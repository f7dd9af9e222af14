import Foundation
import Testing

/// `campaign post` and `campaign updates`: news for backers (PROTOCOL.md §6.15), from the command line.
@Suite(.timeLimit(.minutes(10))) struct UpdateCLITests {
    @Test func organisersPostUpdatesThatTravelAndList() throws {
        let cli = try CLI()
        try cli.hubAndLaptop()
        let create = ["campaign", "create", "--data", "hub", "--goal", "5000", "--currency", "GBP", "--closes", "2030-03-31"]
        let campaign = try #require(try cli.json(create + ["--title", "Reopen the lido"])["id"] as? String)
        let post = ["campaign", "post", "--data", "hub", campaign]

        // A draft has no backers: refused before anything is signed, and the message says what to do.
        let draft = try cli.run(post + ["--title", "Too early", "--text", "Hello"], expect: 4)
        #expect(draft.stderr.contains("publish it first"), "\(draft.stderr)")
        try cli.run(["campaign", "publish", "--data", "hub", campaign])

        let first = try cli.json(post + ["--title", "Open day", "--text", "Come on **Saturday**.\n\n- tea\n- cake"])
        #expect((first["event"] as? String)?.count == 64 && first["campaign"] as? String == campaign)
        #expect((first["posted"] as? String)?.hasSuffix("Z") == true)

        // From a file: Windows line endings become line feeds and tabs four spaces.
        let file = cli.path("news.md")
        try Data("Line one\r\n\r\n\tindented\r\n".utf8).write(to: URL(fileURLWithPath: file))
        try cli.run(post + ["--title", "From a file", "--file", file])
        // From standard input.
        var piped = cli
        piped.launcher = ["/bin/sh", "-c", "printf 'From *stdin*\\n' | \"$0\" \"$@\""]
        try piped.run(post + ["--title", "Piped", "--file", "-"])

        let listed = try #require(
            try JSONSerialization.jsonObject(with: Data(cli.run(["campaign", "updates", "--data", "hub", campaign, "--json"]).stdout.utf8))
                as? [[String: Any]])
        #expect(listed.map { $0["title"] as? String } == ["Piped", "From a file", "Open day"])
        #expect(listed[1]["text"] as? String == "Line one\n\n    indented\n")
        #expect(listed[0]["text"] as? String == "From *stdin*\n")
        #expect(listed[2]["id"] as? String == first["event"] as? String)
        let hubID = try #require(try cli.json(["id", "--data", "hub"])["id"] as? String)
        #expect(listed.allSatisfy { $0["author"] as? String == hubID })

        let text = try cli.run(["campaign", "updates", "--data", "hub", campaign]).stdout
        #expect(text.contains("Open day") && text.contains("Come on **Saturday**."))
        let shown = try cli.run(["campaign", "show", "--data", "hub", campaign]).stdout
        #expect(shown.contains("3 update(s); the latest") && shown.contains("'Piped'"), "\(shown)")
        #expect((try cli.json(["campaign", "show", "--data", "hub", campaign])["updates"] as? [Any])?.count == 3)

        // The updates travel with the events: the laptop, a collector, sees them, and may not post.
        try cli.run(["bundle", "export", "--data", "hub", "--out", "hub.bundle"])
        try cli.run(["bundle", "import", "--data", "laptop", "hub.bundle"])
        let onLaptop = try cli.run(["campaign", "updates", "--data", "laptop", campaign, "--json"]).stdout
        #expect(onLaptop == (try cli.run(["campaign", "updates", "--data", "hub", campaign, "--json"]).stdout))
        let collector = try cli.run(["campaign", "post", "--data", "laptop", campaign, "--title", "Hi", "--text", "x"], expect: 4)
        #expect(collector.stderr.contains("only this campaign's organisers"), "\(collector.stderr)")

        // A cancelled campaign takes no news.
        let other = try #require(try cli.json(create + ["--title", "Bunting"])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", other])
        try cli.run(["campaign", "cancel", "--data", "hub", other, "--reason", "rain"])
        let cancelled = try cli.run(["campaign", "post", "--data", "hub", other, "--title", "Hi", "--text", "x"], expect: 4)
        #expect(cancelled.stderr.contains("cancelled"), "\(cancelled.stderr)")
        #expect(try cli.run(["campaign", "updates", "--data", "hub", other]).stdout.contains("No updates"))
    }

    @Test func badTitlesAndTextsAreRefusedInWords() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let campaign = try #require(
            try cli.json([
                "campaign", "create", "--data", "hub", "--title", "Lido", "--goal", "5000", "--currency", "GBP", "--closes", "2030-03-31",
            ])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])
        let post = ["campaign", "post", "--data", "hub", campaign]
        let cases: [([String], String)] = [
            (["--title", String(repeating: "t", count: 121), "--text", "x"], "at most 120 bytes"),
            (["--title", "News", "--text", String(repeating: "x", count: 7_001)], "at most 7000 bytes"),
            (["--title", "News", "--text", "   \n  "], "needs some text"),
            (["--title", "  ", "--text", "x"], "needs a title"),
            (["--title", "News", "--text", "bell\u{7}"], "control character"),
            (["--title", "News"], "--text, or --file"),
            (["--title", "News", "--text", "x", "--file", "f"], "not both"),
        ]
        for (args, words) in cases {
            let out = try cli.run(post + args, expect: 2)
            #expect(out.stderr.contains(words), "\(args.map { String($0.prefix(20)) }): \(out.stderr)")
        }
        try cli.run(post + ["--title", "News", "--file", "missing.md"], expect: 3)
        try Data(repeating: 0x78, count: 20_000).write(to: URL(fileURLWithPath: cli.path("huge.md")))
        #expect(try cli.run(post + ["--title", "News", "--file", "huge.md"], expect: 2).stderr.contains("at most 7000 bytes"))
        // Exactly at the limits: accepted.
        let title = String(repeating: "é", count: 60)
        try cli.run(post + ["--title", title, "--text", String(repeating: "x", count: 7_000)])
        #expect(try cli.run(["campaign", "updates", "--data", "hub", campaign]).stdout.contains(title))
    }
}
