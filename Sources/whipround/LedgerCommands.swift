import ArgumentParser
import Foundation
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore

struct CampaignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign", abstract: "Create and run campaigns.",
        subcommands: [Create.self, Update.self, Publish.self, Close.self, Cancel.self, Post.self, Updates.self, List.self, Show.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a draft campaign (publish it to take pledges).")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "Title.") var title: String
        @Option(help: "Description.") var description: String = ""
        @Option(help: "Funding goal, e.g. 5000 or 5000.50.") var goal: String
        @Option(help: "ISO 4217 currency code.") var currency: String = "GBP"
        @Option(help: "all-or-nothing or keep-what-you-raise.") var model: String = "all-or-nothing"
        @Option(help: "First day of pledging (YYYY-MM-DD); default now.") var opens: String?
        @Option(help: "Last day of pledging (YYYY-MM-DD, inclusive, in --timezone).") var closes: String
        @Option(help: "IANA time zone of the dates.") var timezone: String = Dates.localTimeZone
        @Option(name: .customLong("organiser"), help: "Another organiser's member id (repeatable).") var organisers: [String] = []

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            var form = CampaignForm(title: title, goal: goal, closes: closes)
            form.description = description
            form.currency = currency
            form.model = model
            form.opens = opens
            form.timeZone = timezone
            form.organisers = organisers
            let e = try n.createCampaign(form, in: c)
            guard case .campaignCreated(let created) = e.body else { throw WhipError(.internalError, "create signed another kind of event") }
            let closesMs = created.closes
            if output.json {
                printJSON([
                    "id": e.id.hex, "title": title, "state": "draft", "closes": Dates.format(closesMs, timeZone: "UTC"),
                    "closes_local": Dates.localForm(closesMs, timeZone: timezone), "time_zone": timezone,
                ])
            } else {
                print("Created draft campaign '\(title)': \(e.id.hex)")
                print("Pledging closes \(Dates.describeDeadline(closesMs, timeZone: timezone)).")
                print("Publish it with `whipround campaign publish \(e.id.hex.prefix(12))`.")
            }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a campaign. Goal, currency, model and deadline are frozen once anyone has pledged.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Campaign id (or a unique prefix).") var campaign: String
        @Option var title: String?
        @Option var description: String?
        @Option var goal: String?
        @Option var model: String?
        @Option var opens: String?
        @Option var closes: String?
        @Option var timezone: String?
        @Option(name: .customLong("organiser"), help: "Replace the organisers (repeatable).") var organisers: [String] = []

        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            var u = CampaignUpdated(campaign: c.id)
            let tz = timezone ?? c.timeZone
            u.title = title
            u.description = description
            u.goal = try goal.map { (s: String) throws(WhipError) in try Money(parsing: s, currency: c.goal.currency).minor }
            if let model {
                guard let m = FundingModel(name: model) else { throw WhipError(.invalidArgument, "'\(model)' is not a funding model") }
                u.model = m
            }
            u.opens = try opens.map { (s: String) throws(WhipError) in try Dates.parse(s, timeZone: tz, endOfDay: false) }
            u.closes = try closes.map { (s: String) throws(WhipError) in try Dates.parse(s, timeZone: tz, endOfDay: true) }
            if let timezone {
                guard Dates.isValidTimeZone(timezone) else {
                    throw WhipError(.invalidArgument, "'\(timezone)' is not a known time zone (use an IANA name such as Europe/London, or UTC)")
                }
                u.timeZone = timezone
            }
            if !organisers.isEmpty { u.organisers = try organisers.map { (s: String) throws(WhipError) in try parseMember(s) } }
            guard u != CampaignUpdated(campaign: c.id) else { throw WhipError(.invalidArgument, "nothing to change: give at least one option") }
            let e = try n.emit(c.community, .campaignUpdated(u))
            output.report(["event": e.id.hex, "campaign": c.id.hex], "Updated '\(c.title)'.")
        }
    }

    struct Publish: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a draft campaign for pledges.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Campaign id (or a unique prefix).") var campaign: String
        func run() throws {
            try changePhase(node, output, campaign, to: .live) { .campaignPublished(CampaignRef(campaign: $0)) }
        }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a live campaign early; later pledges are kept but marked late.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Campaign id (or a unique prefix).") var campaign: String
        func run() throws {
            try changePhase(node, output, campaign, to: .closed) { .campaignClosed(CampaignRef(campaign: $0)) }
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a draft or live campaign.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Campaign id (or a unique prefix).") var campaign: String
        @Option(help: "Why, for backers.") var reason: String?
        func run() throws {
            try changePhase(node, output, campaign, to: .cancelled) { .campaignCancelled(CampaignCancelled(campaign: $0, reason: reason)) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List campaigns with their totals.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this community (name or wrc1… id).") var community: String?
        func run() throws {
            let n = try node.open()
            let cid = try community.map { (s: String) throws(WhipError) in try n.community(s).id }
            let all = try n.store.campaigns(community: cid)
            let now = n.now
            if output.json {
                printJSON(all.map { $0.json(now: now) })
            } else {
                if all.isEmpty { print("No campaigns yet.") }
                for c in all {
                    print(
                        "\(c.id.hex.prefix(12))  \(c.title)  [\(c.stateText(now: now))]  \(money(c.pledged)) of \(money(c.goal)) from \(c.backers) backer(s)"
                            + (c.matched.minor > 0 ? " + \(money(c.matched)) matched" : "")
                    )
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a campaign: its totals, its tiers and how many pledges it has, with the latest few (public view).",
            discussion: "The text lists the latest \(Show.latestShown) pledges; `whipround pledge list` lists them all. --json includes every pledge."
        )
        /// Pledges the text output lists (the latest); `pledge list` lists every one.
        static let latestShown = 5
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Campaign id (or a unique prefix).") var campaign: String
        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            let tiers = try n.store.tiers(campaign: c.id)
            let names = Dictionary(uniqueKeysWithValues: tiers.map { ($0.id, $0.title) })
            let now = n.now
            // What every member may know of Gift Aid: how many donations were claimed, in how many claims.
            let giftAid = try n.store.giftAidClaimSummary(campaign: c.id)
            if output.json {
                var d = c.json(now: now)
                if giftAid.claims > 0 { d["gift_aid"] = ["donations_claimed": giftAid.donations, "claims": giftAid.claims] }
                d["updates"] = try n.store.updates(campaign: c.id).map { $0.json(timeZone: c.timeZone) }
                d["tiers"] = tiers.map { t -> [String: Any] in
                    var td: [String: Any] = [
                        "id": t.id.hex, "title": t.title, "minimum": t.minimum.formatted, "minimum_minor": t.minimum.minor,
                        "claimed": t.claimed, "waitlisted": t.waitlisted,
                    ]
                    if let l = t.limit { td["limit"] = l }
                    if let desc = t.description { td["description"] = desc }
                    if let b = t.benefit {
                        td["benefit"] = b.formatted
                        td["benefit_minor"] = b.minor
                    }
                    return td
                }
                let standing = c.standing(now: now)
                // Streamed from the database when its turn comes among the sorted keys.
                d["pledges"] = JSONText.Deferred { (out, level) throws(WhipError) in
                    let array = JSONText.ArrayWriter(out: out, level: level)
                    try n.store.forEachPledge(campaign: c.id) { (p) throws(WhipError) in
                        try p.writePublicJSON(to: array, tiers: names, standing: standing)
                    }
                    try array.finish()
                }
                let out = OutputBuffer.standardOutput()
                try JSONText.write(d, to: out)
                try out.write("\n")
                try out.flush()
            } else {
                let standing = c.standing(now: now)
                print("\(c.title)  [\(c.stateText(now: now))]  \(c.id.hex)")
                if !c.description.isEmpty { print(c.description) }
                print("Goal \(money(c.goal)) (\(c.model.name)), closes \(Dates.describeDeadline(c.closes, timeZone: c.timeZone))")
                print("Pledged \(money(c.pledged)) from \(c.backers) backer(s)\(try matchLine(n, c, standing)); collected \(money(c.collected))")
                if giftAid.claims > 0 {
                    print("Gift Aid: \(giftAid.donations) donation(s) claimed in \(giftAid.claims) claim(s).")
                }
                let updates = try n.store.updates(campaign: c.id)
                if let latest = updates.first {
                    print(
                        "\(updates.count) update(s); the latest, \(Dates.localForm(latest.postedAt, timeZone: c.timeZone, midnightAsEndOfDay: false)): "
                            + "'\(latest.title)'. Read them with `whipround campaign updates \(c.id.hex.prefix(12))`.")
                }
                // Money due back, summed pledge by pledge from the cursor (only when the campaign owes refunds).
                var due: [Int64] = []
                if standing.refundsDue {
                    try n.store.forEachPledge(campaign: c.id) { (p) throws(WhipError) in
                        if let d = p.refundDue(in: standing) { due.append(d.minor) }
                    }
                }
                if !due.isEmpty {
                    print(
                        "Refund due: \(money(Money(minor: due.reduce(0, +), currency: c.goal.currency))) received on \(due.count) pledge(s); "
                            + "record each refund with `whipround pledge refund PLEDGE`")
                }
                for t in tiers {
                    let lim = t.limit.map { "\(t.claimed)/\($0) claimed" } ?? "\(t.claimed) claimed"
                    print(
                        "  tier \(t.id.hex.prefix(12)) \(t.title): from \(money(t.minimum)), \(lim)\(t.waitlisted > 0 ? ", \(t.waitlisted) waitlisted" : "")"
                    )
                }
                // A summary: the full list, which can run to tens of thousands of lines, is `pledge list`'s.
                let counts = try n.store.pledgeCounts(campaign: c.id)
                let total = counts.byStatus.values.reduce(0, +)
                if total == 0 {
                    print("No pledges yet.")
                } else {
                    let byStatus = counts.byStatus.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
                    let waitlisted = counts.waitlisted > 0 ? "; \(counts.waitlisted) waitlisted" : ""
                    print("\(total) pledge(s): \(byStatus.joined(separator: ", "))\(waitlisted)")
                    let latest = try n.store.latestPledges(campaign: c.id, limit: Show.latestShown)
                    if total > latest.count { print("Latest \(latest.count):") }
                    for p in latest {
                        let flags = [
                            p.status == "active" ? nil : p.status, p.waitlisted ? "waitlisted" : nil, p.collected.minor > 0 ? "collected" : nil,
                            p.refundDue(in: standing) == nil ? nil : "refund due",
                        ]
                        .compactMap { $0 }
                        print(
                            "  \(p.id.hex.prefix(12)) \(p.publicName): \(money(p.amount))\(flags.isEmpty ? "" : " (" + flags.joined(separator: ", ") + ")")"
                        )
                    }
                    if total > latest.count { print("List them all with `whipround pledge list --campaign \(c.id.hex.prefix(12))`.") }
                }
            }
        }
    }
}

struct TierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tier", abstract: "Add and change reward tiers.", subcommands: [Add.self, Update.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a reward tier to a campaign.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Campaign id (or a unique prefix).") var campaign: String
        @Option var title: String
        @Option(help: "Smallest pledge that earns it, e.g. 20.") var minimum: String
        @Option(help: "How many are available (default: unlimited).") var limit: UInt32?
        @Option var description: String?
        @Option(help: "What the reward is worth to a backer, e.g. 5 (for Gift Aid's donor-benefit limits; 0 for none).")
        var benefit: String?
        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            let e = try n.addTier(c, title: title, minimum: minimum, limit: limit, description: description, benefit: benefit)
            output.report(["id": e.id.hex, "campaign": c.id.hex, "title": title], "Added tier '\(title)': \(e.id.hex)")
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a tier; its limit may rise but never drop below what is claimed.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Tier id (or a unique prefix).") var tier: String
        @Option var title: String?
        @Option var minimum: String?
        @Option var limit: UInt32?
        @Option var description: String?
        @Option(help: "What the reward is worth to a backer (Gift Aid donor benefit); fixed after the deadline.") var benefit: String?
        func run() throws {
            let n = try node.open()
            let tid = try n.store.resolve(tier, in: "tiers", what: "tier")
            guard let cid = try n.store.tierCampaign(tid) else { throw WhipError(.notFound, "no tier \(tier)") }
            let c = try n.campaign(cid.hex)
            var u = TierUpdated(campaign: c.id, tier: tid)
            u.title = title
            u.description = description
            u.minimum = try minimum.map { (s: String) throws(WhipError) in try Money(parsing: s, currency: c.goal.currency).minor }
            if limit == 0 { throw WhipError(.invalidArgument, "--limit must be at least 1") }
            u.limit = limit
            u.benefit = try benefit.map { (s: String) throws(WhipError) in try Money(parsing: s, currency: c.goal.currency).minor }
            guard u != TierUpdated(campaign: c.id, tier: tid) else {
                throw WhipError(.invalidArgument, "nothing to change: give at least one option")
            }
            let e = try n.emit(c.community, .tierUpdated(u))
            output.report(["event": e.id.hex, "tier": tid.hex], "Updated tier.")
        }
    }
}

/// Publish, close and cancel: sign the phase change and report it.
func changePhase(
    _ node: NodeOptions, _ output: OutputOptions, _ campaign: String, to phase: CampaignPhase, _ body: (EventID) -> EventBody
) throws {
    let n = try node.open()
    let c = try n.campaign(campaign)
    let e = try n.emit(c.community, body(c.id))
    let state = try n.campaign(c.id.hex).standing(now: n.now)
    output.report(
        ["event": e.id.hex, "campaign": c.id.hex, "state": state.rawValue], "'\(c.title)' is \(try n.campaign(c.id.hex).stateText(now: n.now)).")
}

/// " + 600.00 GBP matched by Elm Council (provisional)": the match shown apart from the crowd, or nothing.
func matchLine(_ n: Node, _ c: CampaignRow, _ standing: CampaignStanding) throws(WhipError) -> String {
    let all = try n.store.matchOffers(campaign: c.id)
    let failed = all.filter { $0.status == .failed && $0.accepted }
    if !failed.isEmpty {
        return " (nothing matched by \(failed.map(\.funderName).joined(separator: " and ")): the campaign did not reach its goal)"
    }
    let offers = all.filter { $0.matched.minor > 0 }
    guard !offers.isEmpty else { return "" }
    let names = offers.map(\.funderName).joined(separator: " and ")
    // The deadline has passed at this node, but no event stamped after it has arrived yet (PROTOCOL.md §7.7).
    if standing.refundsDue { return " (the \(money(c.matched)) matched by \(names) is not paid: the campaign did not succeed)" }
    return " + \(money(c.matched)) matched by \(names)\(offers.contains(where: \.provisional) ? " (provisional until settled)" : "")"
}
