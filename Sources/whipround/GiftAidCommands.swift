import ArgumentParser
import Foundation
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore

struct CharityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charity", abstract: "Record that the community is a charity recognised by HMRC (needed for Gift Aid).",
        subcommands: [Recognise.self, Withdraw.self, Show.self])

    struct Recognise: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record the community's HMRC charity recognition (founder or admin); a later record replaces it.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "HMRC charities reference, e.g. AB12345.") var reference: String
        @Option(name: .customLong("legal-name"), help: "The charity's legal name, as HMRC knows it.") var legalName: String
        @Option(name: .customLong("year-end"), help: "Last day of the accounting year, MM-DD, e.g. 03-31.") var yearEnd: String

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            let ref = reference.uppercased().filter { $0 != " " }
            let parts = yearEnd.split(separator: "-").map { UInt8($0) }
            guard parts.count == 2, let m = parts[0], let d = parts[1], CivilDate(year: 2001, month: Int(m), day: Int(d)) != nil else {
                throw WhipError(.invalidArgument, "--year-end '\(yearEnd)' is not a day of every year: write it as MM-DD, e.g. 03-31")
            }
            guard !ref.isEmpty, ref.utf8.count <= GiftAid.maxReferenceBytes, ref.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
            else {
                throw WhipError(
                    .invalidArgument,
                    "--reference '\(reference)' is not an HMRC charities reference (letters and digits, at most \(GiftAid.maxReferenceBytes))")
            }
            let e = try n.emit(
                c.id, .charityRecognised(CharityRecognised(reference: ref, legalName: legalName, yearEndMonth: m, yearEndDay: d)))
            output.report(
                [
                    "event": e.id.hex, "community": KeyText.encode(c.id, as: .community), "reference": ref, "legal_name": legalName,
                    "year_end": yearEnd,
                ],
                "Recorded '\(c.name)' as the charity \(legalName) (HMRC reference \(ref), year ending \(yearEnd)): Gift Aid can now be offered.")
        }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that the community is no longer recognised by HMRC as a charity (founder or admin).",
            discussion: """
                Signs charity.withdrawn: from then on nothing offers or claims Gift Aid (new pledges get no Gift Aid part, and \
                every node refuses a claim), until a new `charity recognise`. Declarations already claimed are still kept for \
                HMRC's 6 years.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "Why, for the record.") var reason: String

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            _ = try n.requireCharity(c)
            let e = try n.emit(c.id, .charityWithdrawn(CharityWithdrawn(reason: reason)))
            output.report(
                ["event": e.id.hex, "community": KeyText.encode(c.id, as: .community), "reason": reason],
                "Recorded that '\(c.name)' is no longer a recognised charity: Gift Aid is no longer offered or claimed.")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the community's charity recognition and its treasurers.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            let charity = try n.charity(c)
            let withdrawn = try charity == nil && n.store.authority(community: c.id).lastRecognition != nil
            let treasurers = try n.treasurers(c).map { KeyText.encode($0, as: .member) }
            if output.json {
                var out: [String: Any] = [
                    "community": KeyText.encode(c.id, as: .community), "recognised": charity != nil, "withdrawn": withdrawn,
                    "treasurers": treasurers,
                ]
                if let charity {
                    out["reference"] = charity.reference
                    out["legal_name"] = charity.legalName
                    out["year_end"] = yearEndText(charity)
                }
                printJSON(out)
            } else if let charity {
                print(
                    "'\(c.name)' is the charity \(charity.legalName), HMRC reference \(charity.reference), accounting year ending \(yearEndText(charity))."
                )
                print(
                    treasurers.isEmpty
                        ? "No treasurer yet: grant one with `whipround community grant MEMBER --role treasurer`."
                        : "Treasurers: \(treasurers.joined(separator: ", "))")
            } else if withdrawn {
                print("'\(c.name)' is no longer recognised by HMRC as a charity (withdrawn): it cannot offer or claim Gift Aid.")
            } else {
                print("'\(c.name)' is not recorded as a charity recognised by HMRC: it cannot offer or claim Gift Aid.")
            }
        }
    }
}

func yearEndText(_ c: CharityRecognised) -> String {
    (c.yearEndMonth < 10 ? "0" : "") + "\(c.yearEndMonth)-" + (c.yearEndDay < 10 ? "0" : "") + "\(c.yearEndDay)"
}

struct GiftAidCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "giftaid", abstract: "Claim Gift Aid (treasurers), list small donations, and see declarations' retention.",
        subcommands: [Claim.self, Confirm.self, SmallDonationsList.self, Retention.self, Wording.self])

    struct Claim: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write HMRC's Charities Online Gift Aid schedule and record the claim (treasurers).",
            discussion: """
                Takes the collected pledges of GBP campaigns that closed funded, received between --from and --to (UK dates, \
                inclusive), whose Gift Aid declaration this node can open and whose reward keeps within the donor-benefit \
                limits, and that no earlier claim took (the campaign's match counts towards its goal). Donations of £20 or less are added together per accounting period, at \
                most £1,000 a row. The schedule is written as CSV in HMRC's column order (paste it into HMRC's spreadsheet); \
                then a giftaid.claimed event per campaign records the claim by the donations' claim tags, so no donation is \
                claimed twice and only treasurers can tell which pledges were claimed.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "First day of donations to claim, YYYY-MM-DD.") var from: String
        @Option(help: "Last day of donations to claim, YYYY-MM-DD (inclusive).") var to: String
        @Option(help: "The schedule file to write (CSV).") var out: String
        @Option(help: "Description of aggregated rows (at most 35 characters).") var description: String = "Small pledges"
        @Flag(help: "Give every donation its own row.") var noAggregate = false
        @Flag(help: "Write the schedule but record no claim.") var dryRun = false

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            let fromDate = try Node.civilDate(from, option: "--from")
            let toDate = try Node.civilDate(to, option: "--to")
            guard fromDate <= toDate else { throw WhipError(.invalidArgument, "--from must not be after --to") }
            guard description.count <= GiftAidSchedule.maxDescription, !description.isEmpty else {
                throw WhipError(.invalidArgument, "--description must be 1 to \(GiftAidSchedule.maxDescription) characters")
            }
            _ = try n.requireCharity(c)
            guard try dryRun || n.mayClaimGiftAid(community: c.id) else {
                throw WhipError(.permissionDenied, "only a treasurer may claim Gift Aid (try --dry-run to see the schedule)")
            }
            let draft = try n.prepareGiftAidClaim(c, from: fromDate, to: toDate, aggregate: !noAggregate, description: description)
            let path = try AtomicFile.checkTarget(out)
            try AtomicFile.write(Array(GiftAidSchedule.csv(draft.rows).utf8), to: path)
            let claimed = draft.donations
            let events = dryRun || claimed.isEmpty ? [] : try n.recordGiftAidClaim(c, donations: claimed)
            let total = draft.total
            let skipped = draft.skipped.map { (pledge: $0.pledge.hex, reason: $0.reason) }
            if output.json {
                printJSON([
                    "file": path, "rows": draft.rows.count, "donations": claimed.count, "total": GiftAidSchedule.pounds(total),
                    "total_minor": total, "gift_aid_due": GiftAidSchedule.pounds(total / 4), "gift_aid_due_minor": total / 4,
                    "aggregated_rows": draft.rows.filter { !$0.cells[6].isEmpty }.count, "claim_events": events.map(\.id.hex),
                    "dry_run": dryRun, "skipped": skipped.map { ["pledge": $0.pledge, "reason": $0.reason] },
                ])
            } else {
                print("Wrote \(draft.rows.count) row(s), \(claimed.count) donation(s), £\(GiftAidSchedule.pounds(total)) to \(path).")
                if !claimed.isEmpty { print("Gift Aid on them at 25p per £1: about £\(GiftAidSchedule.pounds(total / 4)).") }
                if dryRun {
                    print("Dry run: no claim recorded.")
                } else if !events.isEmpty {
                    print("Recorded the claim in \(events.count) giftaid.claimed event(s): these donations will not be claimed again.")
                }
                for s in skipped { print("Left out \(s.pledge.prefix(12)): \(s.reason).") }
            }
        }
    }

    struct Confirm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that the written confirmation of an oral Gift Aid declaration was sent (treasurers).",
            discussion: """
                Signs giftaid.confirmed with the declaration's claim tag (not the pledge) and the day the confirmation was sent. \
                The donor may cancel within 30 days of it; the donation is claimable from the day after.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Pledge id (or a unique prefix).") var pledge: String
        @Option(help: "The day the confirmation was sent, YYYY-MM-DD.") var sent: String

        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            let day = try Node.civilDate(sent, option: "--sent")
            guard try n.mayClaimGiftAid(community: c.community) else {
                throw WhipError(.permissionDenied, "only a treasurer may record a Gift Aid confirmation")
            }
            let e = try n.confirmGiftAid(p, of: c, sent: day)
            // From the earliest confirmation known: the declaration's own, an earlier giftaid.confirmed, or this one.
            guard case .found(let d) = try n.giftAidDeclaration(pledge: p.id),
                let claimable = d.claimableFrom(confirmedLater: try n.store.giftAidConfirmations(campaign: c.id)[d.tag] ?? day)
            else { throw WhipError(.internalError, "the confirmed declaration cannot be read back") }
            output.report(
                ["event": e.id.hex, "pledge": p.id.hex, "sent": day.iso, "claimable_from": claimable.iso],
                "Recorded that the confirmation for pledge \(p.id.hex.prefix(12)) was sent on \(day.iso): claimable from \(claimable.iso) "
                    + "unless the donor cancels.")
        }
    }

    struct SmallDonationsList: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "small-donations",
            abstract: "List cash and contactless pledges of £30 or less without a declaration (Small Donations Scheme), by tax year.",
            discussion: """
                Totals are per UK tax year (6 April to 5 April) against the scheme's £8,000 a year and the matching rule \
                (at most 10 times the Gift Aid donations claimed in the same tax year). Cash and contactless payments count; \
                bank transfers do not. Run it at a treasurer's node: only a treasurer can tell which pledges have a declaration.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "First day, YYYY-MM-DD.") var from: String
        @Option(help: "Last day, YYYY-MM-DD (inclusive).") var to: String

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            _ = try n.requireCharity(c)
            let fromDate = try Node.civilDate(from, option: "--from")
            let toDate = try Node.civilDate(to, option: "--to")
            guard fromDate <= toDate else { throw WhipError(.invalidArgument, "--from must not be after --to") }
            let list = try n.smallDonations(c, from: fromDate, to: toDate)
            let giftAid = try n.giftAidClaimedByTaxYear(c)
            var years: [Int: Int64] = [:]
            for d in list { years[GiftAid.taxYearEnding(d.date), default: 0] += d.amount }
            let yearRows: [[String: Any]] = years.keys.sorted().map { y in
                let cap = min(Node.SmallDonations.maxPerTaxYear, Node.SmallDonations.matchingFactor * (giftAid[y] ?? 0))
                return [
                    "tax_year_ending": "\(y)-04-05", "total": GiftAidSchedule.pounds(years[y]!), "total_minor": years[y]!,
                    "claimable": GiftAidSchedule.pounds(min(years[y]!, cap)), "claimable_minor": min(years[y]!, cap),
                    "gift_aid_claimed": GiftAidSchedule.pounds(giftAid[y] ?? 0),
                ]
            }
            if output.json {
                printJSON([
                    "donations": list.map {
                        [
                            "pledge": $0.pledge.hex, "campaign": $0.campaign.hex, "amount": GiftAidSchedule.pounds($0.amount),
                            "amount_minor": $0.amount,
                            "date": $0.date.iso,
                        ] as [String: Any]
                    }, "tax_years": yearRows,
                ])
            } else {
                for d in list { print("\(d.date.iso)  £\(GiftAidSchedule.pounds(d.amount))  \(d.pledge.hex.prefix(12))") }
                for y in yearRows {
                    print(
                        "Tax year ending \(y["tax_year_ending"]!): £\(y["total"]!) in small donations; claimable £\(y["claimable"]!) "
                            + "(at most £8,000, and 10 x the £\(y["gift_aid_claimed"]!) of Gift Aid donations claimed that year).")
                }
                if list.isEmpty {
                    print(
                        "No small donations between \(fromDate.iso) and \(toDate.iso) "
                            + "(collected cash or contactless pledges of £30 or less, without a declaration, of campaigns that closed funded)."
                    )
                }
            }
        }
    }

    struct Retention: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List claimed pledges' declarations and when each may be erased (6 years after its accounting period).")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Flag(help: "Only those due for `pledge erase --reason retention_expired`.") var due = false

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            // The last recognition, also once withdrawn: what was claimed is still kept for HMRC.
            guard let charity = try n.store.authority(community: c.id).lastRecognition else { _ = try n.requireCharity(c); return }
            let today = CivilDate(utcMs: n.now)
            var rows: [[String: Any]] = []
            // Only declarations this node can open: which pledges a claim covers, only a treasurer can tell.
            for campaign in try n.store.campaigns(community: c.id) {
                for (pledge, entry) in try n.giftAidLedger(campaign: campaign.id).sorted(by: { $0.key < $1.key }) {
                    guard let claim = entry.claim else { continue }
                    let ends = charity.retentionEnds(lastDonation: CivilDate(utcMs: claim.at))
                    if due && today < ends { continue }
                    rows.append([
                        "pledge": pledge.hex, "campaign": campaign.id.hex, "claim": claim.claim.hex, "claimed": CivilDate(utcMs: claim.at).iso,
                        "keep_until": ends.adding(days: -1).iso, "due_for_retention_expired": today >= ends,
                    ])
                }
            }
            if output.json {
                printJSON(["declarations": rows])
            } else {
                for r in rows {
                    let pledge = (r["pledge"] as? String ?? "").prefix(12)
                    print(
                        (r["due_for_retention_expired"] as? Bool ?? false)
                            ? "\(pledge): kept until \(r["keep_until"]!); DUE for `pledge erase --reason retention_expired`"
                            : "\(pledge): claimed \(r["claimed"]!); must be kept until \(r["keep_until"]!)")
                }
                if rows.isEmpty { print(due ? "No declaration is due for erasure." : "No claimed declarations.") }
            }
        }
    }

    struct Wording: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the Gift Aid declaration wording to show or read to a donor.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "this-donation or past-and-future.") var scope: String = "past-and-future"
        @Option(help: "Wording version (default: the current one).") var version: UInt64?

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            let charity = try n.requireCharity(c)
            guard let s = GiftAidDeclaration.Scope(name: scope) else {
                throw WhipError(.invalidArgument, "'\(scope)' is not a scope: use this-donation or past-and-future")
            }
            let v = version ?? GiftAidWording.current.version
            guard let w = GiftAidWording.version(v) else { throw WhipError(.notFound, "no declaration wording version \(v)") }
            let text = w.text(charity: charity.legalName, scope: s)
            output.report(
                ["version": v, "scope": s.name, "text": text, "oral_confirmation_note": GiftAidWording.oralConfirmationNote],
                "Wording version \(v):", text)
        }
    }
}

/// The Gift Aid declaration options of `pledge add`.
struct GiftAidOptions: ParsableArguments {
    @Flag(help: "The backer makes a Gift Aid declaration (needs --first-name, --last-name, --house and --postcode).")
    var giftAid = false
    @Option(name: .customLong("ga-title"), help: "Gift Aid: the backer's title, e.g. Mrs (at most 4 characters).") var title: String?
    @Option(name: .customLong("first-name"), help: "Gift Aid: first name or initial.") var firstName: String?
    @Option(name: .customLong("last-name"), help: "Gift Aid: last name.") var lastName: String?
    @Option(help: "Gift Aid: house name or number (the whole address for a backer outside the UK).") var house: String?
    @Option(help: "Gift Aid: UK postcode, or X for a backer outside the UK.") var postcode: String?
    @Option(name: .customLong("ga-scope"), help: "Gift Aid: this-donation or past-and-future.") var scope: String = "this-donation"
    @Option(name: .customLong("declared"), help: "Gift Aid: the day it was made, YYYY-MM-DD (default today).") var declared: String?
    @Flag(help: "Gift Aid: given by word of mouth to a volunteer (a written confirmation must be sent).") var oral = false
    @Option(name: .customLong("confirmation-sent"), help: "Gift Aid: the day the written confirmation of an oral declaration was sent.")
    var confirmationSent: String?

    /// Whether any Gift Aid option was given.
    var given: Bool {
        giftAid || title != nil || firstName != nil || lastName != nil || house != nil || postcode != nil || declared != nil || oral
            || confirmationSent != nil
    }

    /// The declaration the options describe, checked against HMRC's limits; nil without `--gift-aid`.
    func declaration(today: CivilDate) throws(WhipError) -> GiftAidDeclaration? {
        guard given else { return nil }
        guard giftAid else { throw WhipError(.invalidArgument, "the Gift Aid details need --gift-aid") }
        guard let firstName, let lastName, let house, let postcode else {
            throw WhipError(.invalidArgument, "a Gift Aid declaration needs --first-name, --last-name, --house and --postcode")
        }
        guard let s = GiftAidDeclaration.Scope(name: scope) else {
            throw WhipError(.invalidArgument, "'\(scope)' is not a Gift Aid scope: use this-donation or past-and-future")
        }
        if confirmationSent != nil && !oral { throw WhipError(.invalidArgument, "--confirmation-sent goes with --oral") }
        let d = GiftAidDeclaration(
            title: title, firstName: firstName, lastName: lastName, house: house,
            postcode: GiftAidDeclaration.normalisePostcode(postcode), scope: s,
            date: try declared.map { (t: String) throws(WhipError) in try Node.civilDate(t, option: "--declared") } ?? today, oral: oral,
            confirmationSent: try confirmationSent.map { (t: String) throws(WhipError) in try Node.civilDate(t, option: "--confirmation-sent") })
        do { try d.validate() } catch { throw WhipError(.invalidArgument, "the Gift Aid declaration: \(error.message)") }
        return d
    }
}
