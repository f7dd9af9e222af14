import Foundation
import Logging
import Testing
import WhipBench
import WhipCore
import WhipTestSupport

@testable import WhipNode

/// A campaign with thousands of pledges lists and exports every pledge once, streamed, and `campaign show`
/// summarises it instead of printing every pledge. (How fast and how small is measured by `whipround bench`.)
@Suite(.serialized, .timeLimit(.minutes(10))) struct LargeCampaignTests {
    static let benchPledges = 2_000

    /// A node with a live campaign of `benchPledges` pledges, plus one through the CLI with a tier and sealed
    /// contact details, and one bench pledge withdrawn. Returns the campaign id and every pledge id, in made order.
    static func largeCampaign(_ cli: CLI) throws -> (campaign: String, pledges: [String]) {
        let logger = Logger(label: "large-campaign-test") { _ in SwiftLogNoOpLogHandler() }
        let (node, community, campaign) = try Bench.setUp(cli.path("node"), logger: logger)
        let wires = Bench.pledges(
            benchPledges, community: community.id, campaign: campaign, author: node.identity, start: Dates.nowMs() + 1_000)
        let report = try node.store.ingest(wires, source: .bundle, now: Dates.nowMs())
        try #require(report.accepted == benchPledges && report.notApplied.isEmpty, "\(report)")
        var ids = try wires.map { try Event.decode(wire: $0).id.hex }

        let tier = try #require(
            try cli.json(["tier", "add", "--data", "node", "--campaign", campaign.hex, "--title", "Mug, \"large\"", "--minimum", "20"])["id"]
                as? String)
        let added = try cli.json([
            "pledge", "add", "--data", "node", "--campaign", campaign.hex, "--name", "Ann, of \"No. 4\"", "--amount", "25", "--tier", tier,
            "--email", "ann@example.org",
        ])
        ids.append(try #require(added["id"] as? String))
        try cli.run(["pledge", "withdraw", "--data", "node", String(ids[3].prefix(12))])
        return (campaign.hex, ids)
    }

    @Test func pledgeListJSONHasEveryPledgeExactlyOnceInOrder() throws {
        let cli = try CLI()
        let (campaign, ids) = try Self.largeCampaign(cli)
        let out = try cli.run(["pledge", "list", "--data", "node", "--campaign", campaign, "--json"]).stdout
        let list = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]], "not a JSON array")
        #expect(list.count == ids.count)
        #expect(list.compactMap { $0["id"] as? String } == ids)
        #expect(list[3]["status"] as? String == "withdrawn")
        let last = try #require(list.last)
        #expect(last["backer"] as? String == "Ann, of \"No. 4\"" && last["tier_title"] as? String == "Mug, \"large\"")
        #expect(last["amount_minor"] as? Int == 2_500 && last["anonymous"] as? Bool == false)
        #expect(list[0]["backer"] as? String == "Anonymous")  // every 7th bench pledge is anonymous

        let text = try cli.run(["pledge", "list", "--data", "node", "--campaign", campaign]).stdout
        #expect(text.split(separator: "\n").map { String($0.prefix(12)) } == ids.map { String($0.prefix(12)) })
    }

    @Test func exportHasAHeaderAndOneLinePerPledge() throws {
        let cli = try CLI()
        let (campaign, ids) = try Self.largeCampaign(cli)
        let csv = try cli.run(["export", "--data", "node", "--campaign", campaign]).stdout
        var lines = csv.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.removeLast() == "")
        #expect(lines.first?.hasPrefix("pledge,backer,amount,") == true)
        #expect(lines.dropFirst().map { String($0.prefix(64)) } == ids)
        #expect(lines.last?.contains("\"Ann, of \"\"No. 4\"\"\"") == true)

        // The organiser's view opens the contact details sealed to this node; --out streams into a temporary
        // file that replaces the old one, and leaves nothing else behind.
        try Data("old".utf8).write(to: URL(fileURLWithPath: cli.path("backers.csv")))
        try cli.run(["export", "--data", "node", "--campaign", campaign, "--organiser", "--out", "backers.csv"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.cwd.path).sorted() == ["backers.csv", "node"])
        let file = try String(contentsOfFile: cli.path("backers.csv"), encoding: .utf8)
        #expect(file.split(separator: "\n").count == ids.count + 1)
        #expect(file.split(separator: "\n").last?.contains("ann@example.org") == true)
    }

    @Test func campaignShowSummarisesInsteadOfListingEveryPledge() throws {
        let cli = try CLI()
        let (campaign, ids) = try Self.largeCampaign(cli)
        let text = try cli.run(["campaign", "show", "--data", "node", campaign]).stdout
        let lines = text.split(separator: "\n")
        #expect(lines.count < 20, "campaign show printed \(lines.count) lines")
        #expect(text.contains("\(ids.count) pledge(s): \(ids.count - 1) active, 1 withdrawn"))
        // The latest five, oldest first, then where the rest are.
        let shown = lines.filter { l in ids.contains { l.hasPrefix("  \($0.prefix(12)) ") } }
        #expect(shown.map { String($0.dropFirst(2).prefix(12)) } == ids.suffix(5).map { String($0.prefix(12)) })
        #expect(text.contains("whipround pledge list --campaign \(campaign.prefix(12))"))

        // The JSON keeps every pledge.
        let json = try cli.json(["campaign", "show", "--data", "node", campaign])
        #expect((json["pledges"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ids)
        #expect(json["backers"] as? Int == ids.count - 1)
    }

    @Test func streamedListsKeepStoredNamesOffTheTerminal() throws {
        let cli = try CLI()
        let logger = Logger(label: "large-campaign-test") { _ in SwiftLogNoOpLogHandler() }
        let (_, _, campaign) = try Bench.setUp(cli.path("node"), logger: logger)
        let name = "Caf\u{9B}2J\u{202E}e"
        try cli.run(["pledge", "add", "--data", "node", "--campaign", campaign.hex, "--name", name, "--amount", "5"])
        let text = try cli.run(["pledge", "list", "--data", "node", "--campaign", campaign.hex]).stdout
        #expect(!text.unicodeScalars.contains { $0.value == 0x9B || $0.value == 0x202E })
        #expect(text.contains("Caf\\u{9B}2J\\u{202E}e"))
        for args in [["pledge", "list", "--campaign", campaign.hex], ["campaign", "show", campaign.hex]] {
            let json = try cli.run(args + ["--data", "node", "--json"]).stdout
            #expect(!json.unicodeScalars.contains { $0.value == 0x9B || $0.value == 0x202E })
            #expect(json.contains("Caf\\u009b2J\\u202ee"))
        }
        let parsed = try JSONSerialization.jsonObject(
            with: Data(try cli.run(["pledge", "list", "--data", "node", "--campaign", campaign.hex, "--json"]).stdout.utf8))
        #expect((parsed as? [[String: Any]])?.first?["backer"] as? String == name)
    }

    @Test func anEmptyCampaignListsAsAnEmptyArray() throws {
        let cli = try CLI()
        let logger = Logger(label: "large-campaign-test") { _ in SwiftLogNoOpLogHandler() }
        let (_, _, campaign) = try Bench.setUp(cli.path("node"), logger: logger)
        let out = try cli.run(["pledge", "list", "--data", "node", "--campaign", campaign.hex, "--json"]).stdout
        #expect((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [Any])?.isEmpty == true)
        #expect(try cli.run(["pledge", "list", "--data", "node", "--campaign", campaign.hex]).stdout == "No pledges yet.\n")
        #expect(try cli.run(["campaign", "show", "--data", "node", campaign.hex]).stdout.hasSuffix("No pledges yet.\n"))
        #expect(try cli.run(["export", "--data", "node", "--campaign", campaign.hex]).stdout.split(separator: "\n").count == 1)
        #expect((try cli.json(["campaign", "show", "--data", "node", campaign.hex])["pledges"] as? [Any])?.isEmpty == true)
    }
}

/// The streamed JSON is laid out byte for byte as `JSONSerialization` lays it out, so `--json` output did not change.
@Suite(.timeLimit(.minutes(10))) struct JSONTextTests {
    func streamed(_ value: Any) throws -> String {
        let out = OutputBuffer()
        try JSONText.write(value, to: out)
        return String(decoding: out.contents, as: UTF8.self)
    }

    /// What the CLI's printJSON prints: JSONSerialization's text, with what it leaves raw but a terminal must not
    /// see (DEL, C1 controls, bidirectional marks) escaped.
    func serialized(_ value: Any) throws -> String {
        let text = String(
            decoding: try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]),
            as: UTF8.self)
        var out = ""
        for u in text.unicodeScalars {
            if SafeText.needsEscape(u) {
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    @Test func matchesJSONSerialization() throws {
        let values: [Any] = [
            [Any](), [String: Any](), ["a": [Any](), "b": [String: Any]()],
            [
                "id": "ab12", "backer": "Ann \"Nan\" O'Neil\\ / \u{1}\u{1f}\u{7f}\u{85}\u{9B}\u{202E}\u{2066}\t\n\r\u{8}\u{c} é 💷",
                "anonymous": false, "waitlisted": true,
                "amount_minor": Int64(-2_500), "count": 3, "tier": "x", "tier_title": "", "a_b": 1, "ab": 2, "Zed": "z", "_u": 0,
                "nested": [["k": [1, 2, [String: Any]()] as [Any]] as [String: Any], [Any](), "s"] as [Any],
            ],
            [["id": 1], ["id": 2]],
        ]
        for v in values { #expect(try streamed(v) == serialized(v)) }
    }

    @Test func deferredValuesAreWrittenInPlace() throws {
        let deferred = JSONText.Deferred { (out, level) throws(WhipError) in
            let a = JSONText.ArrayWriter(out: out, level: level)
            for i in 0..<3 { try a.append(["n": i, "s": "\(i)"]) }
            try a.finish()
        }
        let expected: [String: Any] = ["a": 1, "list": (0..<3).map { ["n": $0, "s": "\($0)"] }, "z": true]
        #expect(try streamed(["a": 1, "list": deferred, "z": true]) == serialized(expected))
    }

    @Test func unknownValuesAreAnErrorNotAGuess() {
        #expect(throws: WhipError.self) { try streamed(["date": Date()]) }
    }
}

/// Listing formats one UTC time per pledge without building a formatter each time, with the same text.
@Suite(.timeLimit(.minutes(10))) struct UTCFormatTests {
    @Test func matchesTheFormatter() {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")!
        var rng = SplitMix64(seed: 7)
        let edges: [UInt64] = [0, 999, 1_000, 86_399_999, 86_400_000, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, 253_402_300_799_999]
        let random = (0..<2_000).map { _ in rng.uint64(in: 0...253_402_300_799_999) }
        for ms in edges + random {
            #expect(Dates.format(ms, timeZone: "UTC") == f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)), "\(ms)")
        }
        // Past the year 9999 it falls back to the formatter.
        #expect(!Dates.format(253_402_300_800_000, timeZone: "UTC").isEmpty)
    }

    /// In other zones too, across daylight-saving changes and half-hour offsets.
    @Test func matchesTheFormatterInOtherZones() {
        var rng = SplitMix64(seed: 11)
        let edges: [UInt64] = [0, 1_000, 1_774_746_000_000, 1_774_749_599_999, 1_774_749_600_000, 1_792_890_000_000, 253_402_300_799_999]
        let random = (0..<500).map { _ in rng.uint64(in: 0...4_107_542_400_000) }
        for zone in ["Europe/London", "America/St_Johns", "Asia/Kolkata", "Pacific/Chatham", "America/Los_Angeles", "Australia/Sydney"] {
            let f = ISO8601DateFormatter()
            f.timeZone = TimeZone(identifier: zone)!
            for ms in edges + random {
                #expect(Dates.format(ms, timeZone: zone) == f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)), "\(zone) \(ms)")
            }
        }
    }
}

/// CSV fields are quoted and defused byte by byte.
@Suite(.timeLimit(.minutes(10))) struct CSVFieldTests {
    @Test func quotesAndDefuses() {
        #expect(CSVExport.field("Ann") == "Ann")
        #expect(CSVExport.field("25.00") == "25.00")
        #expect(CSVExport.field("-5") == "-5")
        #expect(CSVExport.field("=SUM(A1)") == "'=SUM(A1)")
        #expect(CSVExport.field("@cmd") == "'@cmd")
        #expect(CSVExport.field("a,b") == "\"a,b\"")
        #expect(CSVExport.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVExport.field("two\r\nlines") == "\"two\r\nlines\"")  // \r\n is one Character: once missed
        #expect(CSVExport.field("+1,2") == "\"'+1,2\"")
        #expect(CSVExport.field("café") == "café")
    }
}
