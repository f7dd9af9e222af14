import Foundation
import Logging
import Testing
import WhipNode

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `whipround desk open|pair|list|close` as an organiser uses them at the event, and their refusals.
@Suite(.timeLimit(.minutes(10))) struct DeskCLITests {
    /// A hub with a live campaign; returns the campaign id.
    static func liveCampaign(_ cli: CLI, publish: Bool = true) throws -> String {
        try cli.hubAndLaptop(grant: false)
        let c = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--title", "Reopen the lido", "--goal", "5000", "--closes", "2030-03-31"])["id"]
                as? String)
        if publish { try cli.run(["campaign", "publish", "--data", "hub", c]) }
        return c
    }

    static func isCode(_ s: String) -> Bool {
        let groups = s.split(separator: "-", omittingEmptySubsequences: false)
        return groups.count == 3 && groups.allSatisfy { $0.count == 4 && $0.allSatisfy { $0.isASCII && ($0.isNumber || $0.isUppercase) } }
    }

    @Test func openPairListClose() throws {
        let cli = try CLI()
        let campaign = try Self.liveCampaign(cli)
        // No serve on this data: the desk opens, with a code to type and a warning saying how to serve the pages.
        let opened = try cli.run([
            "desk", "open", "--data", "hub", "--campaign", String(campaign.prefix(8)), "--name", "Tombola stall", "--until", "2030-01-01T18:00",
            "--timezone", "UTC",
        ])
        #expect(opened.stdout.contains("Opened desk 'Tombola stall' for 'Reopen the lido', until 2030-01-01 18:00 (UTC)."), "\(opened.stdout)")
        #expect(opened.stderr.hasPrefix("warning: no `whipround serve` is serving the web pages"), "\(opened.stderr)")
        #expect(opened.stderr.contains("whipround serve --web 0.0.0.0:8480"))
        #expect(!opened.stdout.contains("http://"))
        // Pages served on loopback only: the link works on the node alone, and the warning says so.
        try "http://127.0.0.1:8480\n".write(toFile: cli.path("hub/web.url"), atomically: true, encoding: .utf8)
        let local = try cli.run(["desk", "pair", "--data", "hub", "Tombola stall"])
        #expect(local.stderr.hasPrefix("warning: phones cannot reach http://127.0.0.1:8480"), "\(local.stderr)")
        // With pages served (the file `serve` writes), the link and a QR code of it; plain blocks off a terminal.
        try "http://192.168.1.20:8480\n".write(toFile: cli.path("hub/web.url"), atomically: true, encoding: .utf8)
        let paired = try cli.run(["desk", "pair", "--data", "hub", "Tombola stall"])
        #expect(paired.stderr.isEmpty, "\(paired.stderr)")
        let link = try #require(paired.stdout.split(separator: "\n").first { $0.contains("/pair?code=") })
        let code = String(try #require(link.components(separatedBy: "/pair?code=").last))
        #expect(link.contains("open http://192.168.1.20:8480/pair?code=") && Self.isCode(code), "\(paired.stdout)")
        #expect(paired.stdout.contains("█") && !paired.stdout.contains("\u{1B}["), "a QR code in blocks, no escape codes into a pipe")
        #expect(paired.stdout.contains("type the code: \(code)"))
        let contract = try JSONContractTests.contract()
        let json = try #require(
            try JSONContractTests.run(cli, contract, "desk pair --json", ["desk", "pair", "--data", "hub", "Tombola stall"]) as? [String: Any])
        let jsonCode = try #require(json["code"] as? String)
        #expect(Self.isCode(jsonCode) && jsonCode != code, "every pairing is a new code")
        #expect(json["url"] as? String == "http://192.168.1.20:8480/pair?code=\(jsonCode)" && json["served"] as? Bool == true)
        #expect(json["state"] as? String == "open" && json["until"] as? String == "2030-01-01T18:00:00Z" && json["campaign"] as? String == campaign)

        let list = try #require(try JSONContractTests.run(cli, contract, "desk list --json", ["desk", "list", "--data", "hub"]) as? [[String: Any]])
        #expect(list.count == 1 && list.first?["name"] as? String == "Tombola stall" && list.first?["pledges"] as? Int == 0)
        #expect(try cli.run(["desk", "list", "--data", "hub"]).stdout.contains("Tombola stall  [open]  'Reopen the lido'  0 pledge(s)"))

        let closed = try #require(
            try JSONContractTests.run(cli, contract, "desk close --json", ["desk", "close", "--data", "hub", "Tombola stall"]) as? [String: Any])
        #expect(closed["state"] as? String == "closed" && closed["closed"] != nil)
        #expect(try cli.run(["desk", "list", "--data", "hub"]).stdout.contains("No open desks"))
        let all = try #require(
            try JSONContractTests.run(cli, contract, "desk list --json", ["desk", "list", "--data", "hub", "--all"]) as? [[String: Any]])
        #expect(all.count == 1 && all.first?["state"] as? String == "closed")
        // A closed desk's name may be used again.
        let again = try #require(
            try JSONContractTests.run(
                cli, contract, "desk open --json", ["desk", "open", "--data", "hub", "--campaign", campaign, "--name", "Tombola stall"])
                as? [String: Any])
        #expect(again["state"] as? String == "open" && again["until"] == nil && Self.isCode(again["code"] as? String ?? ""))
    }

    @Test func refusals() throws {
        let cli = try CLI()
        let campaign = try Self.liveCampaign(cli)
        let open = ["desk", "open", "--data", "hub", "--campaign", campaign, "--name"]
        for (until, words) in [
            ("25:00", "is not a time for --until"), ("tomorrow", "is not a time for --until"), ("2030-02-30T10:00", "is not a time for --until"),
            ("2020-01-01T10:00", "has already passed"),
        ] {
            let r = try cli.run(open + ["Gate", "--until", until, "--timezone", "UTC"], expect: 2)
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(words), "\(until): \(r.stderr)")
        }
        let unknown = try cli.run(["desk", "close", "--data", "hub", "Tombola"], expect: 3)
        #expect(unknown.stderr.contains("Tombola"), "\(unknown.stderr)")
        try cli.run(["desk", "pair", "--data", "hub", "Tombola"], expect: 3)
        try cli.run(["desk", "open", "--data", "hub", "--campaign", "ffffffff", "--name", "Gate"], expect: 3)
        try cli.run(open + ["Gate"])
        let twice = try cli.run(open + ["Gate"], expect: 6)
        #expect(twice.stderr.contains("Gate"), "\(twice.stderr)")
        try cli.run(open + [String(repeating: "x", count: 41)], expect: 2)
        // A campaign that is not live yet.
        let draft = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--title", "Later", "--goal", "10", "--closes", "2030-03-31"])["id"] as? String)
        let notLive = try cli.run(["desk", "open", "--data", "hub", "--campaign", draft, "--name", "Gate 2"], expect: 4)
        #expect(notLive.stderr.contains("live"), "\(notLive.stderr)")
        // A member without a role that may record pledges.
        try cli.run(["bundle", "export", "--data", "hub", "--out", cli.path("hub.bundle")])
        try cli.run(["bundle", "import", "--data", "laptop", cli.path("hub.bundle")])
        let roleless = try cli.run(["desk", "open", "--data", "laptop", "--campaign", campaign, "--name", "Gate"], expect: 4)
        #expect(roleless.stderr.contains("collector"), "\(roleless.stderr)")
    }

    /// An expired desk that was never closed still holds its name: `desk open` says so and gives the command that
    /// frees it, and that command does (for an open desk too, the refusal names it).
    @Test func anExpiredDeskKeepsItsNameUntilClosed() throws {
        let cli = try CLI()
        let campaign = try Self.liveCampaign(cli)
        // A desk whose --until has passed: opened by a node with its clock an hour behind, until half an hour ago.
        do {
            let hourAgo = Dates.nowMs() - 3_600_000
            let n = try Node.open(dir: DataDir(path: cli.path("hub")), logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }) { hourAgo }
            _ = try n.openDesk(campaign: try n.campaign(campaign), name: "Tombola stall", until: hourAgo + 1_800_000)
        }
        let desks = try #require(
            try JSONSerialization.jsonObject(with: Data(try cli.run(["desk", "list", "--data", "hub", "--all", "--json"]).stdout.utf8))
                as? [[String: Any]])
        #expect(desks.count == 1 && desks.first?["state"] as? String == "expired", "\(desks)")

        let open = ["desk", "open", "--data", "hub", "--campaign", campaign, "--name"]
        let taken = try cli.run(open + ["Tombola stall", "--timezone", "UTC"], expect: 6)
        #expect(
            taken.stderr.hasPrefix("error: the name 'Tombola stall' is still taken by a desk for 'Reopen the lido' that expired at "),
            "\(taken.stderr)")
        #expect(
            taken.stderr.contains("a desk's name stays taken until `whipround desk close 'Tombola stall'`, even after it expires"), "\(taken.stderr)")
        // An open desk's name: the same exit code, and the command that would free it.
        try cli.run(open + ["Gate"])
        let twice = try cli.run(open + ["Gate"], expect: 6)
        #expect(twice.stderr.contains("a desk called 'Gate' is already open for 'Reopen the lido'"), "\(twice.stderr)")
        #expect(twice.stderr.contains("`whipround desk close 'Gate'`"), "\(twice.stderr)")

        // The command the refusal names frees the expired desk's name.
        let closed = try cli.run(["desk", "close", "--data", "hub", "Tombola stall", "--timezone", "UTC"])
        #expect(closed.stdout.contains("Closed desk 'Tombola stall' ('Reopen the lido'), which had expired at "), "\(closed.stdout)")
        #expect(closed.stdout.contains("its name is free again"), "\(closed.stdout)")
        let again = try cli.run(open + ["Tombola stall", "--json"])
        #expect(try again.json()["state"] as? String == "open")
        // A closed desk is still refused by `desk close`, as an unknown one is.
        try cli.run(["desk", "close", "--data", "hub", "Gate"])
        let closedTwice = try cli.run(["desk", "close", "--data", "hub", "Gate"], expect: nil)
        #expect(closedTwice.status != 0 && closedTwice.stderr.contains("Gate"), "\(closedTwice.stderr)")
    }

    /// With `serve` running on the same data, `desk open` prints the address the daemon is bound to, and that
    /// link pairs a browser: it lands on the desk page with the code gone from the address.
    @Test func linkFromARunningServePairs() async throws {
        let cli = try CLI()
        let campaign = try Self.liveCampaign(cli)
        let d = try DaemonProcessTests.Daemon(cli, ["--data", "hub"])
        let port = try await d.logged(port: "web.port=")
        let opened = try cli.run(["desk", "open", "--data", "hub", "--campaign", campaign, "--name", "Gate", "--json"])
        #expect(opened.stderr.isEmpty, "\(opened.stderr)")
        let url = try #require(try opened.json()["url"] as? String)
        #expect(url.hasPrefix("http://127.0.0.1:\(port)/pair?code="), "\(url)")
        let session = URLSession(configuration: .ephemeral)
        let (_, response) = try await session.data(from: try #require(URL(string: url)))
        let http = try #require(response as? HTTPURLResponse)
        #expect(http.statusCode == 200 && http.url?.path == "/desk" && http.url?.query == nil, "\(http)")
        // Used once: the same link again is refused.
        let (_, again) = try await URLSession(configuration: .ephemeral).data(from: try #require(URL(string: url)))
        #expect((again as? HTTPURLResponse)?.statusCode == 400)
        #expect(d.stop() == 0)
    }
}
