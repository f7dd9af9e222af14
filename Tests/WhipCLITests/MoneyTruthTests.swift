import Foundation
import Testing

/// Telling people the truth about their money (issue 7 §3): one campaign state, late and waitlisted pledges
/// said out loud, refunds, part payments, and arguments that used to be accepted silently.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MoneyTruthTests {
    /// A node with a community, and a published campaign; returns the campaign id.
    func campaign(
        _ cli: CLI, goal: String = "100", opens: String? = nil, closes: String = "2030-03-31", extra: [String] = []
    ) throws -> String {
        if !FileManager.default.fileExists(atPath: cli.path("hub")) {
            try cli.run(["init", "--data", "hub", "--name", "Hub"])
            try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        }
        let id = try #require(
            try cli.json(
                ["campaign", "create", "--data", "hub", "--title", "Lido", "--goal", goal, "--closes", closes, "--timezone", "Europe/London"]
                    + (opens.map { ["--opens", $0] } ?? []) + extra)["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", id])
        return id
    }

    func pledgeID(_ cli: CLI, _ args: [String]) throws -> String {
        try #require(try cli.json(["pledge", "add", "--data", "hub"] + args)["id"] as? String)
    }

    @Test func oneStateAndUnfundedSaidInWordsAndDatesAsTyped() throws {
        let cli = try CLI()
        let past = try campaign(cli, opens: "2020-01-01", closes: "2020-02-01")
        let show = try cli.run(["campaign", "show", "--data", "hub", past]).stdout
        #expect(show.contains("unfunded"))
        #expect(show.contains("closes 2020-02-01 (end of day, Europe/London)"))
        let json = try cli.json(["campaign", "show", "--data", "hub", past])
        #expect(json["state"] as? String == "closed-unfunded")
        #expect(json["phase"] == nil && json["status"] == nil && json["outcome"] == nil)
        #expect(json["closes_local"] as? String == "2020-02-01T24:00")
        #expect(json["closes"] as? String == "2020-02-02T00:00:00Z")
        #expect(json["time_zone"] as? String == "Europe/London")
        #expect(try cli.run(["campaign", "list", "--data", "hub"]).stdout.contains("unfunded"))

        // British Summer Time: the end of 31 March is 23:00 UTC, shown as typed.
        let summer = try campaign(cli, closes: "2030-03-31")
        let s = try cli.json(["campaign", "show", "--data", "hub", summer])
        #expect(s["state"] as? String == "live")
        #expect(s["closes_local"] as? String == "2030-03-31T24:00")
        #expect(s["closes"] as? String == "2030-03-31T23:00:00Z")
        #expect(try cli.run(["campaign", "show", "--data", "hub", summer]).stdout.contains("2030-03-31 (end of day, Europe/London)"))

        // Abbreviations are not time zones (Linux would read BST as Bangladesh).
        let bst = try cli.run(
            ["campaign", "create", "--data", "hub", "--title", "T", "--goal", "5", "--closes", "2030-03-31", "--timezone", "BST"], expect: 2)
        #expect(bst.stderr.contains("IANA"))
        try cli.run(["campaign", "create", "--data", "hub", "--title", "T", "--goal", "5", "--closes", "2030-03-31", "--timezone", "UTC"])
    }

    @Test func latePledgeRefusedUnlessAskedAndThenSaysNotCounted() throws {
        let cli = try CLI()
        let past = try campaign(cli, opens: "2020-01-01", closes: "2020-02-01")
        let refused = try cli.run(["pledge", "add", "--data", "hub", "--campaign", past, "--name", "Bob", "--amount", "5"], expect: 4)
        #expect(refused.stderr.contains("--late") && refused.stderr.hasPrefix("error: "))
        let late = try cli.run(["pledge", "add", "--data", "hub", "--campaign", past, "--name", "Bob", "--amount", "5", "--late"])
        #expect(late.stdout.contains("not counted"))
        let json = try cli.json(["pledge", "add", "--data", "hub", "--campaign", past, "--name", "Cat", "--amount", "5", "--late"])
        #expect(json["status"] as? String == "late" && json["counted"] as? Bool == false)
        #expect(try cli.json(["campaign", "show", "--data", "hub", past])["backers"] as? Int == 0)
    }

    @Test func waitlistedSaidOnAddAndStandingChangesReportedOnImport() throws {
        let cli = try CLI()
        let id = try campaign(cli)
        let tier = try #require(
            try cli.json(["tier", "add", "--data", "hub", "--campaign", id, "--title", "T-shirt", "--minimum", "5", "--limit", "1"])["id"] as? String)
        try cli.run(["init", "--data", "laptop", "--name", "Laptop"])
        let invite = try #require(try cli.json(["community", "invite", "--data", "hub"])["invite"] as? String)
        try cli.run(["community", "join", "--data", "laptop", invite])
        let laptop = try #require(try cli.json(["id", "--data", "laptop"])["id"] as? String)
        try cli.run(["community", "grant", "--data", "hub", "--role", "collector", laptop])
        try cli.run(["bundle", "export", "--data", "hub", "--out", "setup.bundle"])
        try cli.run(["bundle", "import", "--data", "laptop", "setup.bundle"])

        // Both sell the last T-shirt offline: the hub first.
        let first = try pledgeID(cli, ["--campaign", id, "--name", "Ann", "--amount", "10", "--tier", tier])
        let second = try cli.run(["pledge", "add", "--data", "hub", "--campaign", id, "--name", "Ben", "--amount", "10", "--tier", tier])
        #expect(second.stdout.contains("WAITLISTED"))
        let secondJSON = try cli.json(["pledge", "add", "--data", "hub", "--campaign", id, "--name", "Cy", "--amount", "10", "--tier", tier])
        #expect(secondJSON["waitlisted"] as? Bool == true && secondJSON["counted"] as? Bool == true)
        // Moving a pledge into the full tier says so too.
        let plain = try pledgeID(cli, ["--campaign", id, "--name", "Eli", "--amount", "10"])
        let moved = try cli.run(["pledge", "revise", "--data", "hub", plain, "--tier", tier])
        #expect(moved.stdout.contains("WAITLISTED"))
        let mine = try #require(
            try cli.json(["pledge", "add", "--data", "laptop", "--campaign", id, "--name", "Dee", "--amount", "10", "--tier", tier])["id"] as? String)
        #expect(first != mine)

        // The laptop's pledge had the place there; the hub's earlier one arrives and takes it: the laptop is told.
        try cli.run(["bundle", "export", "--data", "hub", "--out", "hub.bundle"])
        let text = try cli.run(["bundle", "import", "--data", "laptop", "hub.bundle"]).stdout
        #expect(text.contains("WAITLISTED") && text.contains("Dee"))
        let hub2 = try cli.json(["bundle", "export", "--data", "laptop", "--out", "laptop.bundle"])
        #expect(hub2["events"] as? Int ?? 0 > 0)
        let changes = try #require(try cli.json(["bundle", "import", "--data", "hub", "laptop.bundle"])["standing_changes"] as? [[String: Any]])
        // On the hub the laptop's pledge is new (waitlisted from the start): no pledge the hub held changed.
        #expect(changes.isEmpty)
        let pledges = try cli.run(["pledge", "list", "--data", "hub", "--campaign", id, "--json"]).stdout
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(pledges.utf8)) as? [[String: Any]])
        #expect(rows.filter { $0["waitlisted"] as? Bool == true }.count == 4)
    }

    @Test func partPaymentsAddUpAndOverpaymentNeedsOver() throws {
        let cli = try CLI()
        let id = try campaign(cli)
        let p = try pledgeID(cli, ["--campaign", id, "--name", "Bob", "--amount", "25"])
        let over = try cli.run(["pledge", "collect", "--data", "hub", p, "--amount", "1000"], expect: 4)
        #expect(over.stderr.contains("--over"))
        try cli.run(["pledge", "collect", "--data", "hub", p, "--amount", "10"])
        let rest = try cli.json(["pledge", "collect", "--data", "hub", p])
        #expect(rest["collected"] as? String == "15.00" && rest["outstanding"] as? String == "0.00")
        #expect(try cli.json(["campaign", "show", "--data", "hub", id])["collected"] as? String == "25.00")
        try cli.run(["pledge", "collect", "--data", "hub", p], expect: 4)
        try cli.run(["pledge", "collect", "--data", "hub", p, "--amount", "5", "--over"])
        #expect(try cli.json(["campaign", "show", "--data", "hub", id])["collected"] as? String == "30.00")
    }

    @Test func unfundedCollectionNeedsOverrideAndRefundIsDueThenRecorded() throws {
        let cli = try CLI()
        let id = try campaign(cli, goal: "1000")
        let p = try pledgeID(cli, ["--campaign", id, "--name", "Bob", "--amount", "25"])
        try cli.run(["campaign", "close", "--data", "hub", id])
        let refused = try cli.run(["pledge", "collect", "--data", "hub", p], expect: 4)
        #expect(refused.stderr.contains("unfunded"))
        try cli.run(["pledge", "collect", "--data", "hub", p, "--unfunded"])
        let show = try cli.run(["campaign", "show", "--data", "hub", id]).stdout
        #expect(show.contains("Refund due") && show.contains("refund due"))
        let rows = try #require(
            try JSONSerialization.jsonObject(with: Data(try cli.run(["pledge", "list", "--data", "hub", "--campaign", id, "--json"]).stdout.utf8))
                as? [[String: Any]])
        #expect(rows.first?["refund_due"] as? String == "25.00")
        try cli.run(["pledge", "refund", "--data", "hub", p, "--note", "cash back at the door"])
        #expect(!(try cli.run(["campaign", "show", "--data", "hub", id]).stdout.contains("Refund due")))
        try cli.run(["pledge", "refund", "--data", "hub", p], expect: 4)

        // Cancelled: money received is due back too.
        let other = try campaign(cli)
        let q = try pledgeID(cli, ["--campaign", other, "--name", "Cat", "--amount", "5", "--paid", "cash"])
        try cli.run(["campaign", "cancel", "--data", "hub", other])
        let c = try cli.json(["campaign", "show", "--data", "hub", other])
        #expect(c["state"] as? String == "cancelled")
        #expect((c["pledges"] as? [[String: Any]])?.first { $0["id"] as? String == q }?["refund_due"] as? String == "5.00")
    }

    @Test func rolesInvitesAndCommunityNamesRefuseMistakes() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["init", "--data", "laptop", "--name", "Laptop"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let laptop = try #require(try cli.json(["id", "--data", "laptop"])["id"] as? String)
        try cli.run(["community", "grant", "--data", "hub", "--role", "collector", laptop])
        let past = try cli.run(["community", "grant", "--data", "hub", "--role", "collector", "--until", "2020-01-01", laptop], expect: 2)
        #expect(past.stderr.contains("already passed"))
        let roles = try cli.run(["community", "roles", "--data", "hub", "--json"]).stdout
        #expect(!roles.contains("expires"))
        let never = try cli.run(["community", "revoke", "--data", "hub", "--role", "organiser", laptop], expect: 3)
        #expect(never.stderr.contains("does not hold"))
        try cli.run(["community", "revoke", "--data", "hub", "--role", "collector", laptop])
        try cli.run(["community", "revoke", "--data", "hub", "--role", "collector", laptop], expect: 3)

        for garbage in ["not an address", "hub", "hub:0", "hub:99999", "a,b:7878", "-x:1", "hub:80:80"] {
            try cli.run(["community", "invite", "--data", "hub", "--hub=\(garbage)"], expect: 2)
        }
        try cli.run(["community", "invite", "--data", "hub", "--hub", "hub.local:7878"])

        let dup = try cli.run(["community", "create", "--data", "hub", "elm street"], expect: 6)
        #expect(dup.stderr.contains("--allow-duplicate-name"))
        let second = try #require(
            try cli.json(["community", "create", "--data", "hub", "Elm Street", "--allow-duplicate-name"])["id"] as? String)
        try cli.run(["community", "invite", "--data", "hub", "--community", "Elm Street"], expect: 2)
        let byPrefix = try cli.json(["community", "invite", "--data", "hub", "--community", String(second.prefix(12))])
        #expect(byPrefix["community"] as? String == second)
        try cli.run(["community", "invite", "--data", "hub", "--community", "wrc1ab"], expect: 2)
    }
}
