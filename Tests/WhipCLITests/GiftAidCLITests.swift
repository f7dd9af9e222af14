import Foundation
import Testing

/// The Gift Aid commands as a treasurer uses them, and their `--json` against docs/CLI.md.
@Suite(.serialized, .timeLimit(.minutes(10))) struct GiftAidCLITests {
    @Test func charityTreasurerClaimAndSmallDonations() throws {
        let contract = try JSONContractTests.contract()
        let cli = try CLI()
        func run(_ name: String, _ args: [String]) throws -> [String: Any] {
            try #require(try JSONContractTests.run(cli, contract, name, args) as? [String: Any])
        }
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let dates = ["--from", "2000-01-01", "--to", "2099-12-31"]

        // Not a charity yet: Gift Aid is refused in words, exit 4.
        let refused = try cli.run(["giftaid", "claim", "--data", "hub", "--out", "claim.csv"] + dates, expect: 4)
        #expect(refused.stderr.contains("not recorded as a charity recognised by HMRC"))
        #expect(try run("charity show --json", ["charity", "show", "--data", "hub"])["recognised"] as? Bool == false)
        let bad = try cli.run(
            ["charity", "recognise", "--data", "hub", "--reference", "AB12345", "--legal-name", "Elm Street Trust", "--year-end", "02-29"],
            expect: 2)
        #expect(bad.stderr.contains("not a day of every year"))

        _ = try run(
            "charity recognise --json",
            ["charity", "recognise", "--data", "hub", "--reference", "ab 12345", "--legal-name", "Elm Street Trust", "--year-end", "03-31"])
        let me = try #require(try cli.json(["id", "--data", "hub"])["id"] as? String)
        try cli.run(["community", "grant", "--data", "hub", "--role", "treasurer", me])
        let shown = try run("charity show --json", ["charity", "show", "--data", "hub"])
        #expect(shown["reference"] as? String == "AB12345")
        #expect(shown["treasurers"] as? [String] == [me])

        let campaign = try #require(
            try cli.json([
                "campaign", "create", "--data", "hub", "--title", "Paint the hall", "--goal", "100", "--model", "keep-what-you-raise",
                "--closes", "2099-03-31",
            ])["id"] as? String)
        let tier = try #require(
            try cli.json(["tier", "add", "--data", "hub", "--campaign", campaign, "--title", "Mug", "--minimum", "20", "--benefit", "4"])["id"]
                as? String)
        try cli.run(["tier", "update", "--data", "hub", tier, "--benefit", "5"])
        try cli.run(["campaign", "publish", "--data", "hub", campaign])
        let add = ["pledge", "add", "--data", "hub", "--campaign", campaign]
        let small = try #require(try cli.json(add + ["--name", "Bob", "--amount", "12", "--paid", "cash"])["id"] as? String)
        try cli.run(add + ["--name", "Cat", "--amount", "31", "--paid", "cash"])
        try cli.run(add + ["--name", "Dee", "--amount", "25", "--tier", tier, "--paid", "transfer"])
        let tap = try #require(try cli.json(add + ["--name", "Eve", "--amount", "8", "--paid", "contactless"])["id"] as? String)
        let show = try cli.json(["campaign", "show", "--data", "hub", campaign])
        let tiers = try #require(show["tiers"] as? [[String: Any]])
        #expect(tiers.first?["benefit"] as? String == "5.00")

        // Still live: nothing is claimable and no small donation is listed yet.
        let early = try run("giftaid small-donations --json", ["giftaid", "small-donations", "--data", "hub"] + dates)
        #expect((early["donations"] as? [Any])?.isEmpty == true)
        try cli.run(["campaign", "close", "--data", "hub", campaign])

        let list = try run("giftaid small-donations --json", ["giftaid", "small-donations", "--data", "hub"] + dates)
        let donations = try #require(list["donations"] as? [[String: Any]])
        // £31 is over £30; a transfer is neither cash nor contactless.
        #expect(Set(donations.compactMap { $0["pledge"] as? String }) == [small, tap])
        let years = try #require(list["tax_years"] as? [[String: Any]])
        #expect(years.count == 1)
        #expect(years.first?["total"] as? String == "20.00")
        #expect(years.first?["claimable"] as? String == "0.00")  // 10 x no Gift Aid donations claimed that year

        // No declaration can be read yet, so the schedule has its header only and no claim is recorded.
        let claim = try run("giftaid claim --json", ["giftaid", "claim", "--data", "hub", "--out", "claim.csv"] + dates)
        #expect(claim["rows"] as? Int == 0)
        #expect((claim["claim_events"] as? [Any])?.isEmpty == true)
        let csv = try String(contentsOf: cli.cwd.appendingPathComponent("claim.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("Item,Title,First name or initial,Last name,House name or number,Postcode,Aggregated donations,"))

        let retention = try run("giftaid retention --json", ["giftaid", "retention", "--data", "hub"])
        #expect((retention["declarations"] as? [Any])?.isEmpty == true)
        let wording = try run("giftaid wording --json", ["giftaid", "wording", "--data", "hub", "--scope", "this-donation"])
        #expect((wording["text"] as? String)?.hasPrefix("I want Elm Street Trust to treat this donation as Gift Aid donations.") == true)
        try cli.run(["giftaid", "wording", "--data", "hub", "--version", "7"], expect: 3)
    }

    /// Declarations taken at the pledge desk reach the treasurer sealed, and become the schedule's rows.
    @Test func declarationsBecomeTheSchedule() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let add0 = ["pledge", "add", "--data", "hub", "--name", "Ann", "--amount", "5", "--gift-aid", "--first-name", "Ann"]

        // Gift Aid options are refused in words until the community is a charity with a treasurer.
        let campaign = try #require(
            try cli.json([
                "campaign", "create", "--data", "hub", "--title", "Paint the hall", "--goal", "100", "--model", "keep-what-you-raise",
                "--closes", "2099-03-31",
            ])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])
        let early = try cli.run(add0 + ["--campaign", campaign, "--last-name", "Smith", "--house", "1", "--postcode", "S1 2BD"], expect: 4)
        #expect(early.stderr.contains("not recorded as a charity"))
        try cli.run([
            "charity", "recognise", "--data", "hub", "--reference", "AB12345", "--legal-name", "Elm Street Trust", "--year-end", "12-31",
        ])
        let noTreasurer = try cli.run(add0 + ["--campaign", campaign, "--last-name", "Smith", "--house", "1", "--postcode", "S1 2BD"], expect: 4)
        #expect(noTreasurer.stderr.contains("no treasurer"))
        let me = try #require(try cli.json(["id", "--data", "hub"])["id"] as? String)
        try cli.run(["community", "grant", "--data", "hub", "--role", "treasurer", me])
        let missing = try cli.run(add0 + ["--campaign", campaign], expect: 2)
        #expect(missing.stderr.contains("needs --first-name, --last-name, --house and --postcode"))
        let badPostcode = try cli.run(add0 + ["--campaign", campaign, "--last-name", "Smith", "--house", "1", "--postcode", "12345"], expect: 2)
        #expect(badPostcode.stderr.contains("not a UK postcode"))

        let add = ["pledge", "add", "--data", "hub", "--campaign", campaign, "--paid", "cash", "--gift-aid"]
        let ann = try #require(
            try cli.json(
                add + [
                    "--name", "Ann", "--amount", "250", "--ga-title", "Mrs", "--first-name", "Ann", "--last-name", "Smith-Jones", "--house", "12",
                    "--postcode", "s19 2bd", "--ga-scope", "past-and-future",
                ])["id"] as? String)
        // Oral, confirmed long ago: claimable. Oral, not confirmed: left out, and said so.
        let bob = try #require(
            try cli.json(
                add + [
                    "--name", "Bob", "--amount", "15", "--first-name", "B", "--last-name", "Oak", "--house", "Rose Cottage", "--postcode", "EC1A1BB",
                    "--oral", "--declared", "2020-01-01", "--confirmation-sent", "2020-01-02",
                ])["id"] as? String)
        let cat = try #require(
            try cli.json(
                add + ["--name", "Cat", "--amount", "10", "--first-name", "Cat", "--last-name", "Elm", "--house", "3", "--postcode", "X", "--oral"])[
                    "id"] as? String)
        let plain = try #require(
            try cli.json(["pledge", "add", "--data", "hub", "--campaign", campaign, "--name", "Dee", "--amount", "9", "--paid", "cash"])["id"]
                as? String)
        // The declaration is not in the database in clear.
        let db = try Data(contentsOf: cli.cwd.appendingPathComponent("hub/whipround.sqlite"))
        #expect(db.range(of: Data("Smith-Jones".utf8)) == nil)
        try cli.run(["campaign", "close", "--data", "hub", campaign])

        let dates = ["--from", "2000-01-01", "--to", "2099-12-31"]
        let claim = try cli.json(["giftaid", "claim", "--data", "hub", "--out", "claim.csv"] + dates)
        #expect(claim["donations"] as? Int == 2)
        #expect(claim["total"] as? String == "265.00")
        #expect((claim["claim_events"] as? [Any])?.count == 1)
        let skipped = try #require(claim["skipped"] as? [[String: Any]])
        #expect(skipped.map { $0["pledge"] as? String } == [cat])
        let today =
            try #require(try cli.json(["giftaid", "retention", "--data", "hub"])["declarations"] as? [[String: Any]]).first?["claimed"] as? String
        let date = try #require(today.map { "\($0.suffix(2))/\($0.dropFirst(5).prefix(2))/\($0.dropFirst(2).prefix(2))" })
        let csv = try String(contentsOf: cli.cwd.appendingPathComponent("claim.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == 3)
        // Sorted by date then pledge id: both today, so the aggregated row and Ann's row in pledge-id order.
        let annRow = ["Mrs", "Ann", "Smith Jones", "12", "S19 2BD", "", "", date, "250.00"]
        let bobRow = ["", "", "", "", "", "Small pledges", "", date, "15.00"]
        let body = rows.dropFirst().map { Array($0.dropFirst()) }
        #expect(Set(body) == Set([annRow, bobRow]))
        #expect(rows.dropFirst().map(\.first) == ["1", "2"])

        // Claimed once: a second run finds nothing; the plain pledge is a small donation, the claimed ones are not.
        let again = try cli.json(["giftaid", "claim", "--data", "hub", "--out", "again.csv"] + dates)
        #expect(again["donations"] as? Int == 0)
        let small = try #require(try cli.json(["giftaid", "small-donations", "--data", "hub"] + dates)["donations"] as? [[String: Any]])
        #expect(small.map { $0["pledge"] as? String } == [plain])
        let kept = try #require(try cli.json(["giftaid", "retention", "--data", "hub"])["declarations"] as? [[String: Any]])
        #expect(Set(kept.compactMap { $0["pledge"] as? String }) == [ann, bob])
        #expect(kept.allSatisfy { $0["due_for_retention_expired"] as? Bool == false })

        // The treasurer's node notes the claim beside the pledge; a pledge without a declaration gets no note.
        let contract = try JSONContractTests.contract()
        let listed = try #require(
            try JSONContractTests.run(cli, contract, "pledge list --json", ["pledge", "list", "--data", "hub", "--campaign", campaign])
                as? [[String: Any]])
        let annNote = try #require(listed.first { $0["id"] as? String == ann }?["gift_aid"] as? [String: Any])
        #expect(annNote["claimed"] as? Bool == true && annNote["due_for_retention_expired"] as? Bool == false)
        #expect(listed.first { $0["id"] as? String == plain }?["gift_aid"] == nil)
        let text = try cli.run(["pledge", "list", "--data", "hub", "--campaign", campaign]).stdout
        #expect(text.contains("gift aid: claimed, keep until"))
        let shown = try cli.json(["campaign", "show", "--data", "hub", campaign])
        #expect((shown["gift_aid"] as? [String: Any])?["donations_claimed"] as? Int == 2)

        // Cat's confirmation is sent now: claimable only after the 30 days to cancel.
        let confirmed = try #require(
            try JSONContractTests.run(cli, contract, "giftaid confirm --json", ["giftaid", "confirm", "--data", "hub", cat, "--sent", "2099-01-01"])
                as? [String: Any])
        #expect(confirmed["claimable_from"] as? String == "2099-02-01")
        try cli.run(["giftaid", "confirm", "--data", "hub", plain, "--sent", "2099-01-01"], expect: 4)
        let stillOut = try cli.json(["giftaid", "claim", "--data", "hub", "--out", "third.csv"] + dates)
        #expect((stillOut["skipped"] as? [[String: Any]])?.map { $0["pledge"] as? String } == [cat])

        // A claimed declaration is kept for HMRC: erasing it now is refused with the date; the rest goes.
        let tooSoon = try cli.run(["pledge", "erase", "--data", "hub", ann, "--reason", "request", "--slots", "gift-aid"], expect: 4)
        #expect(tooSoon.stderr.contains("under_retention") && tooSoon.stderr.contains("must be kept until"))
        let erased = try #require(
            try JSONContractTests.run(
                cli, contract, "pledge erase --json", ["pledge", "erase", "--data", "hub", ann, "--reason", "request", "--slots", "name", "contact"])
                as? [String: Any])
        #expect(erased["gift_aid_kept"] as? Bool == true)

        // The charity loses its recognition: nothing offers Gift Aid any more, but what was claimed is still kept.
        let withdrawn = try #require(
            try JSONContractTests.run(
                cli, contract, "charity withdraw --json", ["charity", "withdraw", "--data", "hub", "--reason", "Removed from the register"])
                as? [String: Any])
        #expect(withdrawn["event"] is String)
        let status = try #require(
            try JSONContractTests.run(cli, contract, "charity show --json", ["charity", "show", "--data", "hub"]) as? [String: Any])
        #expect(status["recognised"] as? Bool == false && status["withdrawn"] as? Bool == true)
        let refusedAdd = try cli.run(
            add + ["--late", "--name", "Fay", "--amount", "5", "--first-name", "Fay", "--last-name", "Ash", "--house", "1", "--postcode", "S1 2BD"],
            expect: 4)
        #expect(refusedAdd.stderr.contains("no longer recognised"))
        try cli.run(["giftaid", "claim", "--data", "hub", "--out", "none.csv"] + dates, expect: 4)
        let stillKept = try #require(try cli.json(["giftaid", "retention", "--data", "hub"])["declarations"] as? [[String: Any]])
        #expect(Set(stillKept.compactMap { $0["pledge"] as? String }) == [ann, bob])
        try cli.run(["charity", "withdraw", "--data", "hub", "--reason", "Twice"], expect: 4)
    }
}
