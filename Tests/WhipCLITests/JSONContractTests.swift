import Foundation
import Testing

/// The `--json` outputs against their contract in docs/CLI.md: every field an output has is documented with
/// its type, and every field documented as always present is there.
@Suite(.serialized, .timeLimit(.minutes(10))) struct JSONContractTests {
    /// One documented field.
    struct Field {
        let type: String
        let always: Bool
    }

    /// The documented shape of one command's output: field path to field.
    typealias Shape = [String: Field]

    /// Parses docs/CLI.md: each `### ` heading names one or more commands in backticks, and the table under
    /// it lists `| path | type | present | meaning |`.
    static func contract() throws -> [String: Shape] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/CLI.md"), encoding: .utf8)
        var shapes = [String: Shape]()
        var current: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("### ") {
                current = line.split(separator: "`", omittingEmptySubsequences: false).enumerated()
                    .filter { $0.offset % 2 == 1 }.map { String($0.element) }
                for c in current { shapes[c] = [:] }
                continue
            }
            guard line.hasPrefix("| `"), !current.isEmpty else { continue }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3 else { continue }
            let path = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            for c in current { shapes[c]![path] = Field(type: cells[1], always: cells[2] == "always") }
        }
        // `campaign show` has the fields of one `campaign list` element, and its pledges those of `pledge list`.
        if let list = shapes["campaign list --json"], let pledges = shapes["pledge list --json"] {
            for (path, f) in list { shapes["campaign show --json", default: [:]][String(path.dropFirst(3))] = f }
            for (path, f) in pledges { shapes["campaign show --json", default: [:]]["pledges" + path] = f }
        }
        return shapes
    }

    /// The JSON type name of a value, in the contract's words.
    static func typeName(_ v: Any) -> String {
        if let n = v as? NSNumber {
            // JSONSerialization gives booleans and integers as NSNumber; their encoding tells them apart.
            let t = String(cString: n.objCType)
            return t == "c" || t == "B" ? "boolean" : "integer"
        }
        if v is String { return "string" }
        if let a = v as? [Any] { return !a.isEmpty && a.allSatisfy({ $0 is String }) ? "strings" : "array" }
        if v is [String: Any] { return "object" }
        return "unknown"
    }

    /// What is wrong with one output against its documented shape (nothing when it matches).
    static func problems(_ command: String, _ value: Any, _ shape: Shape) -> [String] {
        var found = [String]()
        func walk(_ v: Any, _ path: String) {
            if let d = v as? [String: Any] {
                for (k, x) in d {
                    let p = path.isEmpty ? k : path + "." + k
                    guard let f = shape[p] else {
                        found.append("\(command): field \(p) is not in docs/CLI.md")
                        continue
                    }
                    var type = typeName(x)
                    if type == "array" && (x as? [Any])?.isEmpty == true && f.type == "strings" { type = "strings" }
                    if f.type == "counts" {
                        if type != "object" || (x as? [String: Any])?.values.allSatisfy({ typeName($0) == "integer" }) != true {
                            found.append("\(command): \(p) should be counts")
                        }
                        continue
                    }
                    if type != f.type { found.append("\(command): \(p) is \(type), documented as \(f.type)") }
                    walk(x, p)
                }
                // Every field documented as always present directly under this object is here.
                let prefix = path.isEmpty ? "" : path + "."
                for (p, f) in shape where f.always && p.hasPrefix(prefix) && !p.dropFirst(prefix.count).contains(".") {
                    if d[String(p.dropFirst(prefix.count))] == nil { found.append("\(command): \(p) is missing") }
                }
            } else if let a = v as? [Any] {
                for x in a where x is [String: Any] { walk(x, path + "[]") }
            }
        }
        walk(value, "")
        return found.sorted()
    }

    /// Runs a command with `--json` and checks its output against the contract.
    @discardableResult
    static func run(_ cli: CLI, _ contract: [String: Shape], _ name: String, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation)
        throws -> Any
    {
        let out = try cli.run(args + ["--json"], sourceLocation: sourceLocation)
        let value = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8))
        let shape = try #require(contract[name], "docs/CLI.md documents no `\(name)`", sourceLocation: sourceLocation)
        for p in problems(name, value, shape) { Issue.record(Comment(rawValue: p), sourceLocation: sourceLocation) }
        return value
    }

    @Test func everyDocumentedOutputMatchesItsContract() throws {
        let contract = try Self.contract()
        let cli = try CLI()
        func run(_ name: String, _ args: [String]) throws -> Any { try Self.run(cli, contract, name, args) }
        func object(_ name: String, _ args: [String]) throws -> [String: Any] { try #require(try run(name, args) as? [String: Any]) }

        _ = try run("init --json", ["init", "--data", "hub", "--name", "Elm Street Hub"])
        try cli.run(["init", "--data", "laptop", "--name", "Fete laptop"])
        try cli.run(["init", "--data", "other", "--name", "Oak Road"])
        _ = try run("id --json", ["id", "--data", "hub"])
        _ = try run("community create --json", ["community", "create", "--data", "hub", "Elm Street"])
        let invite = try #require(
            try object("community invite --json", ["community", "invite", "--data", "hub", "--hub", "127.0.0.1:7878"])["invite"] as? String)
        _ = try run("community join --json", ["community", "join", "--data", "laptop", invite])
        let laptop = try #require(try cli.json(["id", "--data", "laptop"])["id"] as? String)
        _ = try run("community grant --json", ["community", "grant", "--data", "hub", "--role", "collector", laptop])
        _ = try run("community grant --json", ["community", "grant", "--data", "hub", "--role", "organiser", laptop, "--until", "2099-01-01"])
        _ = try run("community revoke --json", ["community", "revoke", "--data", "hub", "--role", "organiser", laptop])
        _ = try run("community roles --json", ["community", "roles", "--data", "hub"])
        _ = try run("community list --json", ["community", "list", "--data", "hub"])

        let create = ["campaign", "create", "--data", "hub", "--goal", "5000", "--currency", "GBP", "--closes", "2030-03-31"]
        let campaign = try #require(try object("campaign create --json", create + ["--title", "Reopen the lido"])["id"] as? String)
        _ = try run("campaign update --json", ["campaign", "update", "--data", "hub", campaign, "--description", "Summer 2030"])
        let tier = try #require(
            try object(
                "tier add --json", ["tier", "add", "--data", "hub", "--campaign", campaign, "--title", "T-shirt", "--minimum", "20", "--limit", "1"])[
                    "id"]
                as? String)
        _ = try run("tier update --json", ["tier", "update", "--data", "hub", tier, "--limit", "2"])
        _ = try run("campaign publish --json", ["campaign", "publish", "--data", "hub", campaign])
        _ = try run("campaign post --json", ["campaign", "post", "--data", "hub", campaign, "--title", "Open day", "--text", "See *you* there."])
        #expect((try run("campaign updates --json", ["campaign", "updates", "--data", "hub", campaign]) as? [Any])?.count == 1)
        let other = try #require(try cli.json(create + ["--title", "New goalposts"])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", other])
        _ = try run("campaign close --json", ["campaign", "close", "--data", "hub", other])
        let third = try #require(try cli.json(create + ["--title", "Bunting"])["id"] as? String)
        _ = try run("campaign cancel --json", ["campaign", "cancel", "--data", "hub", third, "--reason", "rain"])

        let add = ["pledge", "add", "--data", "hub", "--campaign", campaign]
        let bob = try #require(try object("pledge add --json", add + ["--name", "Bob", "--amount", "25", "--tier", tier])["id"] as? String)
        let cat = try #require(try cli.json(add + ["--name", "Cat", "--amount", "30", "--anonymous", "--tier", tier])["id"] as? String)
        let dee = try #require(try cli.json(add + ["--name", "Dee", "--amount", "5"])["id"] as? String)
        let eve = try #require(try cli.json(add + ["--name", "Eve", "--amount", "6"])["id"] as? String)
        _ = try run("pledge revise --json", ["pledge", "revise", "--data", "hub", cat, "--name", "Cath"])
        _ = try run("pledge collect --json", ["pledge", "collect", "--data", "hub", bob, "--method", "cash"])
        let fay = try #require(try cli.json(add + ["--name", "Fay", "--amount", "7", "--paid", "cash"])["id"] as? String)
        _ = try run("pledge refund --json", ["pledge", "refund", "--data", "hub", fay, "--note", "changed her mind"])
        _ = try run("pledge withdraw --json", ["pledge", "withdraw", "--data", "hub", dee])
        _ = try run("pledge reject --json", ["pledge", "reject", "--data", "hub", eve, "--reason", "duplicate"])
        _ = try run("pledge erase --json", ["pledge", "erase", "--data", "hub", eve, "--reason", "request", "--slots", "name"])
        let pledges = try #require(try run("pledge list --json", ["pledge", "list", "--data", "hub", "--campaign", campaign]) as? [Any])
        #expect(pledges.count == 5)
        // The streamed listings are laid out exactly as JSONSerialization lays out the same value, keys sorted.
        for args in [["pledge", "list", "--data", "hub", "--campaign", campaign], ["campaign", "show", "--data", "hub", campaign]] {
            let text = try cli.run(args + ["--json"]).stdout
            let again = try JSONSerialization.data(
                withJSONObject: try JSONSerialization.jsonObject(with: Data(text.utf8)),
                options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            #expect(text == String(decoding: again, as: UTF8.self) + "\n", "\(args[0]) \(args[1]): not in JSONSerialization's layout")
        }
        let shown = try object("campaign show --json", ["campaign", "show", "--data", "hub", campaign])
        #expect((shown["tiers"] as? [Any])?.count == 1)
        let all = try #require(try run("campaign list --json", ["campaign", "list", "--data", "hub"]) as? [Any])
        #expect(all.count == 3)

        // Match funding: the hub is the founder, who holds every right, the funder's included.
        let offer = try #require(
            try object(
                "match offer --json",
                [
                    "match", "offer", "--data", "hub", "--campaign", campaign, "--funder-name", "Elm Council", "--factor", "1:2", "--cap", "10",
                    "--pledge-cap", "5", "--min-backers", "1",
                ])["id"] as? String)
        _ = try run("match accept --json", ["match", "accept", "--data", "hub", offer])
        let lump = try #require(
            try object(
                "match offer --json",
                [
                    "match", "offer", "--data", "hub", "--campaign", campaign, "--funder-name", "Oak Trust", "--lump-sum", "--cap", "20",
                    "--min-percent", "1",
                ])[
                    "id"] as? String)
        _ = try run("match withdraw --json", ["match", "withdraw", "--data", "hub", lump])
        let offers = try #require(try run("match list --json", ["match", "list", "--data", "hub", "--campaign", campaign]) as? [[String: Any]])
        #expect(offers.count == 2)
        #expect(offers.first?["matched_minor"] as? Int == 1_000)  // Bob 25 -> 5 (pledge cap), Cath 30 -> 5 (campaign cap)
        #expect(try object("campaign show --json", ["campaign", "show", "--data", "hub", campaign])["matched_minor"] as? Int == 1_000)
        let shownText = try cli.run(["campaign", "show", "--data", "hub", campaign]).stdout
        #expect(shownText.contains("+ 10.00 GBP matched by Elm Council (provisional until settled)"))
        // Settled after the close: frozen.
        // A goal the crowd and the match reach together: a failed all-or-nothing campaign would pay no match.
        let fourth = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--goal", "15", "--currency", "GBP", "--closes", "2030-03-31", "--title", "Benches"]
            )[
                "id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", fourth])
        let benches = try #require(
            try cli.json(["match", "offer", "--data", "hub", "--campaign", fourth, "--funder-name", "Elm Council", "--factor", "1:1", "--cap", "50"])[
                "id"]
                as? String)
        try cli.run(["match", "accept", "--data", "hub", benches])
        try cli.run(["pledge", "add", "--data", "hub", "--campaign", fourth, "--name", "Gus", "--amount", "8"])
        try cli.run(["campaign", "close", "--data", "hub", fourth])
        let settled = try object("match settle --json", ["match", "settle", "--data", "hub", benches])
        #expect(settled["status"] as? String == "settled" && settled["provisional"] as? Bool == false && settled["pages"] as? Int == 1)
        _ = try run("match list --json", ["match", "list", "--data", "hub"])
        // The funder's budget: the lido offer reserves its 10.00 cap, the withdrawn lump sum freed its 20.00, and the
        // benches offer paid 8.00 and freed the other 42.00 of its cap.
        let budget = try object("match budget --json", ["match", "budget", "--data", "hub", "--set", "100", "--currency", "GBP"])
        #expect(budget["budget_minor"] as? Int == 10_000 && budget["remaining_minor"] as? Int == 8_200)
        let budgets = try #require(try run("match budget --json", ["match", "budget", "--data", "hub"]) as? [[String: Any]])
        #expect(budgets.count == 1)
        let row = try #require(budgets.first)
        #expect(
            [row["reserved_minor"], row["paid_minor"], row["freed_minor"], row["offers"]].map { $0 as? Int } == [1_000, 800, 6_200, 3],
            "\(row)")
        #expect(row["funder_name"] as? String == "Elm Council")
        // An offer beyond what is left is refused before it is signed.
        func eventCount() throws -> Int? { (try cli.json(["status", "--data", "hub"])["communities"] as? [[String: Any]])?.first?["events"] as? Int }
        let events = try #require(try eventCount())
        let overBudget = try cli.run(
            ["match", "offer", "--data", "hub", "--campaign", campaign, "--funder-name", "Elm Council", "--factor", "1:1", "--cap", "82.01"],
            expect: 4)
        #expect(
            overBudget.stderr.contains("only 82.00 GBP of your 100.00 GBP budget is left (10.00 GBP reserved, 8.00 GBP paid)"), "\(overBudget.stderr)"
        )
        #expect(try eventCount() == events)
        try cli.run(["match", "offer", "--data", "hub", "--campaign", campaign, "--funder-name", "Elm Council", "--factor", "1:1", "--cap", "82"])
        // A failed all-or-nothing campaign: closed 20.00 + 20.00 matched short of 100.00, so nothing is matched and
        // the funder's settlement pays nothing.
        let shed = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--goal", "100", "--currency", "GBP", "--closes", "2030-03-31", "--title", "Shed"])[
                "id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", shed])
        try cli.run(["match", "budget", "--data", "hub", "--set", "200", "--currency", "GBP"])
        let shedOffer = try #require(
            try cli.json(["match", "offer", "--data", "hub", "--campaign", shed, "--funder-name", "Elm Council", "--factor", "1:1", "--cap", "30"])[
                "id"] as? String)
        try cli.run(["match", "accept", "--data", "hub", shedOffer])
        try cli.run(["pledge", "add", "--data", "hub", "--campaign", shed, "--name", "Hal", "--amount", "20"])
        #expect(
            try cli.run(["campaign", "show", "--data", "hub", shed]).stdout.contains("+ 20.00 GBP matched by Elm Council (provisional until settled)")
        )
        try cli.run(["campaign", "close", "--data", "hub", shed])
        #expect(
            try cli.run(["campaign", "show", "--data", "hub", shed]).stdout.contains(
                "(nothing matched by Elm Council: the campaign did not reach its goal)"))
        let failedSettlement = try object("match settle --json", ["match", "settle", "--data", "hub", shedOffer])
        #expect(failedSettlement["status"] as? String == "failed" && failedSettlement["matched_minor"] as? Int == 0)
        let shedPledges = try #require(
            try run("match list --json", ["match", "list", "--data", "hub", "--campaign", shed]) as? [[String: Any]])
        #expect((shedPledges.first?["pledges"] as? [[String: Any]])?.map { $0["status"] as? String } == ["not matched (campaign failed)"])

        _ = try run("bundle export --json", ["bundle", "export", "--data", "hub", "--out", "hub.bundle"])
        _ = try run("bundle import --json", ["bundle", "import", "--data", "laptop", "hub.bundle"])
        // A bundle of a community the hub has not joined: refused at the door, so the rejection log has rows.
        try cli.run(["community", "create", "--data", "other", "Oak Road"])
        try cli.run(["bundle", "export", "--data", "other", "--out", "other.bundle"])
        let refused = try object("bundle import --json", ["bundle", "import", "--data", "hub", "other.bundle"])
        #expect(!((refused["rejected"] as? [String: Any]) ?? [:]).isEmpty)
        let log = try #require(try run("rejections --json", ["rejections", "--data", "hub"]) as? [Any])
        #expect(!log.isEmpty)

        try cli.run(["peer", "add", "--data", "hub", "127.0.0.1:1"])
        #expect((try run("peer list --json", ["peer", "list", "--data", "hub"]) as? [Any])?.count == 1)
        _ = try run("status --json", ["status", "--data", "hub"])
        _ = try run("doctor --json", ["doctor", "--data", "hub"])
    }

    /// The checker itself: an undocumented field, a wrong type and a missing field are each caught.
    @Test func theCheckerCatchesDrift() {
        let shape: Shape = ["a": Field(type: "string", always: true), "b": Field(type: "integer", always: false)]
        #expect(Self.problems("x", ["a": "ok", "c": 1] as [String: Any], shape) == ["x: field c is not in docs/CLI.md"])
        #expect(Self.problems("x", ["a": 1] as [String: Any], shape) == ["x: a is integer, documented as string"])
        #expect(Self.problems("x", ["b": 2] as [String: Any], shape) == ["x: a is missing"])
        #expect(Self.problems("x", ["a": "ok", "b": true] as [String: Any], shape) == ["x: b is boolean, documented as integer"])
        #expect(Self.problems("x", [["a": "ok"]] as [Any], ["[].a": Field(type: "string", always: true)]).isEmpty)
        #expect(Self.problems("x", ["a": "ok", "b": 2] as [String: Any], shape).isEmpty)
    }
}
