import ArgumentParser
import Foundation
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore

struct MatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match", abstract: "Match funding: a funder's offers to match a campaign's pledges (PROTOCOL.md §7.7).",
        subcommands: [Offer.self, Accept.self, Withdraw.self, Settle.self, List.self, Budget.self])

    /// The offer named by an id or unique prefix, with its campaign.
    static func offer(_ n: Node, _ text: String) throws(WhipError) -> (MatchOfferRow, CampaignRow) {
        for c in try n.store.campaigns() {
            let hits = try n.store.matchOffers(campaign: c.id).filter { $0.id.hex.hasPrefix(text.lowercased()) }
            if let o = hits.first, hits.count == 1, text.count >= 4 { return (o, c) }
        }
        throw WhipError(.notFound, "no match offer \(text): see `whipround match list`")
    }

    struct Offer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Offer to match a campaign's pledges (needs the funder role); counts once an organiser accepts it.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Campaign id (or a unique prefix).") var campaign: String
        @Option(help: "The funder's public name, e.g. \"Elm Council\".") var funderName: String
        @Option(help: "Match factor N:D: each eligible pledge gets ⌊amount × N / D⌋, e.g. 1:1, 1:2.") var factor: String?
        @Flag(help: "Pay one sum (--cap) if the crowd-only conditions hold at the close, instead of matching pledges.") var lumpSum = false
        @Option(help: "The reservation: most matched in this campaign (or the lump sum).") var cap: String
        @Option(help: "Most matched on one pledge.") var pledgeCap: String?
        @Option(help: "Only pledges made from this date (YYYY-MM-DD[THH:MM], campaign time zone).") var from: String?
        @Option(help: "Only pledges made before this date.") var until: String?
        @Option(help: "Only pledges for this tier.") var tier: String?
        @Option(help: "Only pledges taken in-person or online.") var channel: String?
        @Option(help: "The crowd alone must first reach this percentage of the goal (1-100).") var minPercent: UInt64?
        @Option(help: "The crowd must first count this many backers.") var minBackers: UInt32?

        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            let capMoney = try Money(parsing: cap, currency: c.goal.currency)
            var o = MatchOffered(
                campaign: c.id, funderName: funderName, currency: c.goal.currency, mode: lumpSum ? .lumpSum : .match,
                campaignCap: capMoney.minor)
            if lumpSum {
                guard factor == nil, pledgeCap == nil, from == nil, until == nil, tier == nil, channel == nil else {
                    throw WhipError(.invalidArgument, "a lump sum takes no --factor, --pledge-cap, --from, --until, --tier or --channel")
                }
            } else {
                guard let factor else { throw WhipError(.invalidArgument, "give --factor N:D (for example 1:1), or --lump-sum") }
                let terms = factor.split(separator: ":").compactMap { UInt64($0) }
                guard terms.count == 2 else { throw WhipError(.invalidArgument, "'\(factor)' is not a factor: write N:D, e.g. 1:2") }
                o.factor = MatchFactor(numerator: terms[0], denominator: terms[1])
                o.pledgeCap = try pledgeCap.map { (s: String) throws(WhipError) in try Money(parsing: s, currency: c.goal.currency).minor }
                o.from = try from.map { (s: String) throws(WhipError) in try Dates.parse(s, timeZone: c.timeZone, endOfDay: false) }
                o.until = try until.map { (s: String) throws(WhipError) in try Dates.parse(s, timeZone: c.timeZone, endOfDay: true) }
                o.tier = try tier.map { (s: String) throws(WhipError) in try n.store.resolve(s, in: "tiers", what: "tier") }
                o.channel = try channel.map { (s: String) throws(WhipError) -> Channel in
                    guard let ch = Channel(name: s) else { throw WhipError(.invalidArgument, "'\(s)' is not a channel: use in-person or online") }
                    return ch
                }
            }
            o.minPercent = minPercent ?? 0
            o.minBackers = minBackers ?? 0
            try n.checkBudget(for: o, community: c.community)
            let e = try n.emit(c.community, .matchOffered(o))
            let row = try MatchCommand.offer(n, e.id.hex).0
            output.report(
                row.json, "Offered \(lumpSum ? "a lump sum of" : "to match up to") \(money(capMoney)) as \(funderName) to '\(c.title)': \(e.id.hex)",
                "It counts once an organiser accepts it: `whipround match accept \(e.id.hex.prefix(12))`.")
        }
    }

    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept a funder's offer (an organiser of the campaign, or an admin).")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Offer id (or a unique prefix).") var offer: String
        func run() throws {
            let n = try node.open()
            let (o, c) = try MatchCommand.offer(n, offer)
            _ = try n.emit(c.community, .matchAccepted(MatchRef(campaign: c.id, offer: o.id)))
            let row = try MatchCommand.offer(n, o.id.hex).0
            output.report(row.json, "Accepted \(o.funderName)'s offer for '\(c.title)': now \(money(row.matched)) matched (provisional).")
        }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw your offer before the close: pledges made before the withdrawal keep their match.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Offer id (or a unique prefix).") var offer: String
        func run() throws {
            let n = try node.open()
            let (o, c) = try MatchCommand.offer(n, offer)
            _ = try n.emit(c.community, .matchWithdrawn(MatchRef(campaign: c.id, offer: o.id)))
            let row = try MatchCommand.offer(n, o.id.hex).0
            output.report(row.json, "Withdrew the offer for '\(c.title)': \(money(row.matched)) stays matched on earlier pledges.")
        }
    }

    struct Settle: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "After the close, sign your offer's allocation as this node sees it: it is then frozen.",
            discussion:
                "Pledges that reach the ledger later are `late for match`. A long allocation is signed as pages of \(EventLimits.maxSettlementEntries) pledges."
        )
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Offer id (or a unique prefix).") var offer: String
        func run() throws {
            let n = try node.open()
            let (o, c) = try MatchCommand.offer(n, offer)
            // A campaign short of its goal at the deadline pays nothing, even before an event stamped after the
            // deadline has made every node derive it as failed: this settlement is such an event.
            let failed = try n.campaign(c.id.hex).standing(now: n.now) == .closedUnfunded
            let bodies: [MatchSettled]
            if o.mode == .lumpSum {
                bodies = [MatchSettled(campaign: c.id, offer: o.id, lumpSum: failed ? 0 : o.matched.minor)]
            } else {
                let judged = try n.store.pledgeMatches(campaign: c.id).filter { $0.offer == o.id && $0.status.inReckoning }
                let entries = judged.map { SettledMatch(pledge: $0.pledge, amount: failed ? 0 : $0.matched.minor) }.sorted { $0.pledge < $1.pledge }
                let size = EventLimits.maxSettlementEntries
                let pages = max(1, (entries.count + size - 1) / size)
                bodies = (0..<pages).map { page in
                    MatchSettled(
                        campaign: c.id, offer: o.id, page: UInt32(page), pages: UInt32(pages),
                        entries: Array(entries.dropFirst(page * size).prefix(size)))
                }
            }
            for b in bodies { _ = try n.emit(c.community, .matchSettled(b)) }
            let row = try MatchCommand.offer(n, o.id.hex).0
            var d = row.json
            d["pages"] = bodies.count
            output.report(d, "Settled \(o.funderName)'s match for '\(c.title)': \(money(row.matched)) in \(bodies.count) page(s).")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List match offers with where each stands and what it adds.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this campaign's offers, with every pledge's match.") var campaign: String?
        func run() throws {
            let n = try node.open()
            let c = try campaign.map { (s: String) throws(WhipError) in try n.campaign(s) }
            let offers = try c.map { (c: CampaignRow) throws(WhipError) in try n.store.matchOffers(campaign: c.id) } ?? n.store.allMatchOffers()
            let pledges = try c.map { (c: CampaignRow) throws(WhipError) in try n.store.pledgeMatches(campaign: c.id) } ?? []
            if output.json {
                printJSON(
                    offers.map { o -> [String: Any] in
                        var d = o.json
                        if c != nil {
                            d["pledges"] = pledges.filter { $0.offer == o.id }.map {
                                [
                                    "pledge": $0.pledge.hex, "matched": $0.matched.formatted, "matched_minor": $0.matched.minor,
                                    "status": $0.status.rawValue,
                                ]
                            }
                        }
                        return d
                    })
                return
            }
            if offers.isEmpty { print("No match offers.") }
            for o in offers {
                let terms = o.mode == .lumpSum ? "lump sum" : "\(o.factor?.description ?? "?") up to \(money(o.campaignCap))"
                print(
                    "\(o.id.hex.prefix(12))  \(o.funderName): \(terms)  [\(o.status.rawValue)\(o.provisional ? ", provisional" : "")]  matched \(money(o.matched))"
                )
                for p in pledges where p.offer == o.id { print("    pledge \(p.pledge.hex.prefix(12)): \(money(p.matched)) \(p.status.rawValue)") }
            }
        }
    }
}

extension MatchCommand {
    struct Budget: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each funder's budget beside what its offers reserve, pay and free; or state your own budget.",
            discussion:
                "With --set, signs a funder.budget (needs the funder role) that replaces your earlier one in that currency. "
                + "The ledger shows budgets but does not enforce them across campaigns; this node refuses to sign an offer beyond yours."
        )
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "State your budget: the whole amount you may reserve across campaigns (0: no more offers).") var set: String?
        @Option(help: "The budget's currency (ISO 4217), with --set.") var currency: String?

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            if let set {
                guard let code = currency, let cur = Currency(code: code.uppercased()) else {
                    throw WhipError(.invalidArgument, "give the budget's currency, e.g. --currency GBP")
                }
                let amount = try Money(parsing: set, currency: cur)
                let e = try n.emit(c.id, .funderBudget(FunderBudget(currency: cur, amount: amount.minor)))
                let rows = try n.store.funderBudgets(community: c.id, now: n.now)
                guard let row = rows.first(where: { $0.funder == n.identity.publicKey && $0.currency == cur }) else {
                    throw WhipError(
                        .rejected, "the budget was signed (\(e.id.hex)) but not applied: only members holding the funder role may state one")
                }
                var d = row.json
                d["event"] = e.id.hex
                output.report(
                    d,
                    "Your budget is now \(money(amount)): \(money(row.reserved)) reserved, \(money(row.paid)) paid, "
                        + "\(money(row.remaining ?? amount)) left.")
                return
            }
            guard currency == nil else { throw WhipError(.invalidArgument, "--currency goes with --set") }
            let rows = try n.store.funderBudgets(community: c.id, now: n.now)
            if output.json {
                printJSON(rows.map(\.json))
                return
            }
            if rows.isEmpty { print("No funder has stated a budget or made an offer.") }
            for r in rows {
                let who = r.funderName.map { "\($0) (\(member(r.funder)))" } ?? member(r.funder)
                let budget = r.budget.map { "budget \(money($0))" } ?? "no budget stated"
                print(
                    "\(who): \(budget); reserved \(money(r.reserved)), paid \(money(r.paid)), freed \(money(r.freed))"
                        + (r.remaining.map { ", left \(money($0))" } ?? "") + " over \(r.offers) offer(s)")
            }
        }
    }
}

extension FunderBudgetRow {
    /// The `match budget --json` object (docs/CLI.md).
    var json: [String: Any] {
        var d: [String: Any] = [
            "community": KeyText.encode(community, as: .community), "funder": member(funder), "currency": currency.code,
            "reserved": reserved.formatted, "reserved_minor": reserved.minor, "paid": paid.formatted, "paid_minor": paid.minor,
            "freed": freed.formatted, "freed_minor": freed.minor, "offers": offers,
        ]
        if let funderName { d["funder_name"] = funderName }
        if let budget {
            d["budget"] = budget.formatted
            d["budget_minor"] = budget.minor
        }
        if let remaining {
            d["remaining"] = remaining.formatted
            d["remaining_minor"] = remaining.minor
        }
        return d
    }
}

extension PledgeMatchStatus {
    /// The pledge passed the offer's filters, so a settlement names it (0 included).
    var inReckoning: Bool {
        switch self {
        case .matched, .partMatched, .capReached, .beforeThreshold, .tooSmall, .campaignFailed: true
        case .outsideWindow, .otherTier, .otherChannel, .afterWithdrawal, .lateForMatch: false
        }
    }
}

extension MatchOfferRow {
    /// The `match … --json` object (docs/CLI.md).
    var json: [String: Any] {
        var d: [String: Any] = [
            "id": id.hex, "campaign": campaign.hex, "funder": member(funder), "funder_name": funderName, "mode": mode.name,
            "campaign_cap": campaignCap.formatted, "campaign_cap_minor": campaignCap.minor, "accepted": accepted, "status": status.rawValue,
            "provisional": provisional, "matched": matched.formatted, "matched_minor": matched.minor, "currency": matched.currency.code,
        ]
        if let factor { d["factor"] = factor.description }
        if let pledgeCap {
            d["pledge_cap"] = pledgeCap.formatted
            d["pledge_cap_minor"] = pledgeCap.minor
        }
        if minPercent > 0 { d["min_percent"] = minPercent }
        if minBackers > 0 { d["min_backers"] = minBackers }
        return d
    }
}
