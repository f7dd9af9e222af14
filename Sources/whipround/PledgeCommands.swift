import ArgumentParser
import Foundation
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore

struct PledgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pledge", abstract: "Record and manage pledges.",
        subcommands: [Add.self, Revise.self, Withdraw.self, Collect.self, Refund.self, Reject.self, Erase.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a pledge (works offline; share it later by bundle or sync).",
            discussion: """
                The backer's name and contact details are stored beside the signed pledge, so that they can be erased later \
                (`whipround pledge erase`). Contact details (--email, --phone, --address) are sealed to the campaign's organisers: \
                nobody else can read them. With --anonymous the name is sealed with them instead of being public.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Campaign id (or a unique prefix).") var campaign: String
        @Option(help: "The backer's display name.") var name: String
        @Option(help: "Amount, e.g. 10 or 10.50, in the campaign's currency.") var amount: String
        @Flag(help: "Hide the backer's name in public views and exports.") var anonymous = false
        @Option(help: "Reward tier id (or a unique prefix).") var tier: String?
        @Option(help: "in-person or online.") var channel: String = "in-person"
        @Option(help: "Money received now: cash, transfer or contactless.") var paid: String?
        @Option var email: String?
        @Option var phone: String?
        @Option var address: String?
        @OptionGroup(title: "Gift Aid (a charity's pledges)") var gift: GiftAidOptions
        @Flag(help: "Record it although the campaign has closed: it is kept, but not counted.") var late = false

        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            if !late, c.phase == .closed || (c.phase == .live && n.now >= c.closes) {
                throw WhipError(
                    .rejected,
                    "'\(c.title)' closed \(Dates.describeDeadline(c.closes, timeZone: c.timeZone)): a pledge recorded now is kept but "
                        + "not counted; record it anyway with --late")
            }
            let amt = try Money(parsing: amount, currency: c.goal.currency)
            guard amt.minor > 0 else { throw WhipError(.invalidArgument, "the amount must be more than zero") }
            let tierID = try tier.map { (s: String) throws(WhipError) in try n.store.resolve(s, in: "tiers", what: "tier") }
            guard let ch = Channel(name: channel) else { throw WhipError(.invalidArgument, "'\(channel)' is not a channel: use in-person or online") }
            let method = try paid.map { (s: String) throws(WhipError) -> PaymentMethod in
                guard let m = PaymentMethod(name: s) else {
                    throw WhipError(.invalidArgument, "'\(s)' is not a payment method: use cash, transfer or contactless")
                }
                return m
            }
            // Always a version-2 pledge. Its slot-2 part, sealed to the treasurers, holds the declaration or says there is
            // none; the organisers' contact part does not say, so only a treasurer can tell (PROTOCOL.md §6.52).
            let declaration = try gift.declaration(today: n.ukDate(n.now))
            let sealed = try n.giftAidPart(declaration, community: try n.communityInfo(c.community))
            let parts = try n.pledgeParts(
                name: name, anonymous: anonymous, contact: Contact(email: email, phone: phone, address: address), giftAid: sealed, for: c)
            let e = try n.recordPledge(c, amount: amt, tier: tierID, channel: ch, paid: method, parts: parts)
            let after = try n.campaign(c.id.hex)
            let (p, _) = try n.pledge(e.id.hex)
            if output.json {
                printJSON([
                    "id": e.id.hex, "campaign": c.id.hex, "amount": amt.formatted, "currency": amt.currency.code, "pledged": after.pledged.formatted,
                    "backers": after.backers, "status": p.status, "counted": p.status == "active", "waitlisted": p.waitlisted,
                    "gift_aid": gift.giftAid,
                ])
            } else {
                let who = anonymous ? "an anonymous backer" : name
                if p.status == "late" {
                    print("Recorded \(money(amt)) from \(who) LATE, after the campaign closed: kept but not counted: \(e.id.hex)")
                } else {
                    print("Recorded \(money(amt)) from \(who): \(e.id.hex)")
                }
                if p.waitlisted {
                    print("The tier is full: this pledge is WAITLISTED (counted, but without the reward unless a place frees up).")
                }
                print("'\(c.title)' now has \(money(after.pledged)) from \(after.backers) backer(s).")
            }
        }
    }

    struct Revise: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a pledge you recorded, while the campaign is live.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Pledge id (or a unique prefix).") var pledge: String
        @Option var amount: String?
        @Option var tier: String?
        @Option(help: "A new public name (pledges in the current format only).") var name: String?
        @Flag(help: "Hide the backer's name from now on (pledges in the current format only).") var anonymous = false
        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            var r = PledgeRevisedV2(campaign: c.id, pledge: p.id)
            if let amount {
                let m = try Money(parsing: amount, currency: c.goal.currency)
                r.amount = m.minor
                r.currency = m.currency
            }
            r.tier = try tier.map { (s: String) throws(WhipError) in try n.store.resolve(s, in: "tiers", what: "tier") }
            var parts: [PartDraft] = []
            if name != nil || anonymous {
                guard p.version == 2 else {
                    throw WhipError(
                        .rejected,
                        "pledge \(p.id.hex.prefix(12)) is in the old format, whose name is inside its signed event: its name cannot change "
                            + "(docs/PRIVACY.md)")
                }
                guard !(name != nil && anonymous) else { throw WhipError(.invalidArgument, "give --name or --anonymous, not both") }
                if let name {
                    let pp = try n.pledgeParts(name: name, anonymous: false, contact: Contact(), for: c)
                    parts = pp.drafts
                    r.name = pp.commitments[Int(PartSlot.name.rawValue)]
                } else {
                    // No name part: the pledge shows as anonymous.
                    r.name = PartCommitment.dummy()
                }
            }
            guard r != PledgeRevisedV2(campaign: c.id, pledge: p.id) else {
                throw WhipError(.invalidArgument, "nothing to change: give at least one option")
            }
            let e = try n.emit(c.community, .pledgeRevisedV2(r), parts: parts)
            let (after, _) = try n.pledge(p.id.hex)
            if output.json {
                printJSON(["event": e.id.hex, "pledge": p.id.hex, "waitlisted": after.waitlisted])
            } else {
                print("Revised pledge \(p.id.hex.prefix(12)).")
                if after.waitlisted {
                    print("Its tier is full: the pledge is WAITLISTED (counted, but without the reward unless a place frees up).")
                }
            }
        }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw a pledge you recorded, while the campaign is live.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Pledge id (or a unique prefix).") var pledge: String
        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            let e = try n.emit(c.community, .pledgeWithdrawn(PledgeRef(campaign: c.id, pledge: p.id)))
            output.report(["event": e.id.hex, "pledge": p.id.hex, "status": "withdrawn"], "Withdrew pledge \(p.id.hex.prefix(12)).")
        }
    }

    struct Collect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record money received for a pledge (cash or transfer); part payments add up.",
            discussion: """
                Without --amount, records what is still owed. More than is owed is refused unless --over. On an \
                all-or-nothing campaign that closed unfunded, backers do not pay: refused unless --unfunded.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Pledge id (or a unique prefix).") var pledge: String
        @Option(help: "Amount received (default: what is still owed).") var amount: String?
        @Option(help: "cash, transfer or contactless.") var method: String = "cash"
        @Flag(help: "Record more than is still owed on the pledge.") var over = false
        @Flag(help: "Record money for a campaign that closed unfunded (it is then due back).") var unfunded = false
        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            guard let m = PaymentMethod(name: method) else {
                throw WhipError(.invalidArgument, "'\(method)' is not a payment method: use cash, transfer or contactless")
            }
            let r = try n.collect(p, of: c, amount: amount, method: m, over: over, unfunded: unfunded)
            let (e, received, total, left) = (r.event, r.received, r.total, r.outstanding)
            if output.json {
                printJSON([
                    "event": e.id.hex, "pledge": p.id.hex, "collected": received.formatted, "collected_minor": received.minor,
                    "pledge_collected": total.formatted, "pledge_collected_minor": total.minor, "outstanding": left.formatted,
                    "outstanding_minor": left.minor,
                ])
            } else {
                print(
                    "Recorded \(money(received)) received by \(m.name): \(money(total)) of \(money(p.amount)) received, \(money(left)) outstanding.")
            }
        }
    }

    struct Refund: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that the money received for a pledge was paid back (organisers): the pledge is rejected as refunded.",
            discussion: """
                Pledges of a cancelled campaign, or of one that closed unfunded, that had money received show as "refund due" \
                until this is recorded.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Pledge id (or a unique prefix).") var pledge: String
        @Option(help: "A note for the record, e.g. how it was paid back.") var note: String?
        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            guard p.collected.minor > 0, p.status == "active" else {
                throw WhipError(
                    .rejected,
                    p.status == "active"
                        ? "no money was received for this pledge, so there is nothing to refund; to drop it, use `whipround pledge reject`"
                        : "this pledge is \(p.status), so there is nothing to refund")
            }
            let reason = "refunded \(money(p.collected))" + (note.map { ": \($0)" } ?? "")
            let e = try n.emit(c.community, .pledgeRejected(PledgeRejected(campaign: c.id, pledge: p.id, reason: reason)))
            if output.json {
                printJSON([
                    "event": e.id.hex, "pledge": p.id.hex, "status": "rejected", "refunded": p.collected.formatted,
                    "refunded_minor": p.collected.minor,
                ])
            } else {
                print("Recorded the refund of \(money(p.collected)) for pledge \(p.id.hex.prefix(12)); it no longer counts.")
            }
        }
    }

    struct Reject: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a pledge (organisers only), with a reason. Its amount is never changed.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Pledge id (or a unique prefix).") var pledge: String
        @Option(help: "Why, for the record.") var reason: String
        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            let e = try n.emit(c.community, .pledgeRejected(PledgeRejected(campaign: c.id, pledge: p.id, reason: reason)))
            output.report(["event": e.id.hex, "pledge": p.id.hex, "status": "rejected"], "Rejected pledge \(p.id.hex.prefix(12)).")
        }
    }

    struct Erase: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a backer's personal data from every node (organisers and admins).",
            discussion: """
                Signs a personal.erased event: every node that receives it deletes the named parts of the pledge (name, contact \
                details, Gift Aid declaration) and refuses them for ever after. The amount, totals, ids and signatures stay. \
                Pledges in the old format (recorded before version 2) cannot be erased: their name is inside the signed event. \
                Bundles already written and backups keep what they held (docs/PRIVACY.md).
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Pledge id (or a unique prefix).") var pledge: String
        @Option(help: "Why: request (the backer asked) or retention_expired.") var reason: String
        @Option(
            parsing: .upToNextOption,
            help: "Parts to erase: name, contact, gift-aid (default: name and contact, and gift-aid at a treasurer's node that can open it).")
        var slots: [String] = []
        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            guard let why = ErasureReason(name: reason) else {
                throw WhipError(.invalidArgument, "'\(reason)' is not a reason: use request or retention_expired")
            }
            let chosen = try slots.map { (s: String) throws(WhipError) -> PartSlot in
                guard let slot = PartSlot(name: s) else { throw WhipError(.invalidArgument, "'\(s)' is not a part: use name, contact or gift-aid") }
                return slot
            }
            // Only a treasurer may erase the Gift Aid declaration (it may have to be kept for HMRC); by default an
            // organiser erases the rest and the declaration stays with the treasurers.
            let treasurer = try n.mayClaimGiftAid(community: c.community) && n.giftAidDeclaration(pledge: p.id) != .sealedToOthers
            let wanted = chosen.isEmpty ? (treasurer ? PartSlot.allCases : [.name, .contact]) : chosen
            let e = try n.erase(p, of: c, reason: why, slots: wanted)
            guard case .personalErased(let body) = e.body else { throw WhipError(.internalError, "erase signed another kind of event") }
            let erased = body.slots
            let kept = !erased.contains(.giftAid) && !p.erased.contains(.giftAid)
            output.report(
                ["event": e.id.hex, "pledge": p.id.hex, "reason": why.name, "slots": erased.map(\.name), "gift_aid_kept": kept],
                "Erased the \(erased.map(\.name).joined(separator: ", ")) of pledge \(p.id.hex.prefix(12)) on this node; "
                    + "other nodes erase them when they receive this change."
                    + (kept ? " Any Gift Aid declaration is kept by the treasurers, who erase it when HMRC no longer needs it." : ""))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a campaign's pledges (public view).")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Campaign id (or a unique prefix).") var campaign: String
        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            let names = Dictionary(uniqueKeysWithValues: try n.store.tiers(campaign: c.id).map { ($0.id, $0.title) })
            let standing = c.standing(now: n.now)
            // Only at a treasurer's node, which can open the declarations: retention and claimed-then-refunded notes.
            let notes = try n.giftAidNotes(campaign: c)
            // Streamed: each pledge is written as it is read, so a campaign of any size lists in constant memory.
            let out = OutputBuffer.standardOutput()
            if output.json {
                let array = JSONText.ArrayWriter(out: out)
                try n.store.forEachPledge(campaign: c.id) { (p) throws(WhipError) in
                    try p.writePublicJSON(to: array, tiers: names, standing: standing, giftAid: notes[p.id])
                }
                try array.finish()
                try out.write("\n")
            } else {
                var any = false
                try n.store.forEachPledge(campaign: c.id) { (p) throws(WhipError) in
                    any = true
                    let due = p.refundDue(in: standing).map { " refund due \(money($0))" } ?? ""
                    let note = notes[p.id].map(giftAidNote) ?? ""
                    // Escaped as `print` escapes text: a stored name cannot drive the terminal.
                    try out.write(
                        SafeText.printable(
                            "\(p.id.hex.prefix(12))  \(p.publicName)  \(money(p.amount))  \(p.status)\(p.waitlisted ? " waitlisted" : "")\(due)\(note)"
                        ) + "\n")
                }
                if !any { try out.write("No pledges yet.\n") }
            }
            try out.flush()
        }
    }
}

/// A treasurer's note on a pledge's Gift Aid, for `pledge list`.
func giftAidNote(_ n: [String: Any]) -> String {
    guard n["claimed"] as? Bool == true else { return "  gift aid: declared, not claimed" }
    var out = "  gift aid: claimed"
    if n["due_for_retention_expired"] as? Bool == true {
        out += ", due for retention_expired"
    } else if let until = n["keep_until"] as? String {
        out += ", keep until \(until)"
    }
    if let adjust = n["adjust"] as? String { out += "; \(adjust)" }
    return out
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a campaign's pledges as CSV.",
        discussion: """
            The public view hides anonymous backers' names and never includes contact details. With --organiser,
            backers' names and the contact details sealed to this node are included: keep that file private.
            """)
    @OptionGroup var node: NodeOptions
    @Option(help: "Campaign id (or a unique prefix).") var campaign: String
    @Flag(help: "Include names and decrypted contact details (organisers only).") var organiser = false
    @Option(help: "Write to this file instead of standard output.") var out: String?

    func run() throws {
        if let out { try AtomicFile.checkTarget(out) }
        let n = try node.open()
        let c = try n.campaign(campaign)
        if organiser && !c.organisers.contains(n.identity.publicKey) {
            throw WhipError(.permissionDenied, "this node is not an organiser of '\(c.title)', so it cannot read backers' contact details")
        }
        if let out {
            // Streamed into a temporary file that replaces the target in one rename once it is whole.
            try AtomicFile.write(to: out) { (file) throws(WhipError) in
                let csv = OutputBuffer { (bytes) throws(WhipError) in try file.write(bytes) }
                try CSVExport.write(node: n, campaign: c, organiserView: organiser, to: csv)
                try csv.flush()
            }
            FileHandle.standardError.write(Data("Wrote \(out)\n".utf8))
        } else {
            let stdout = OutputBuffer.standardOutput()
            try CSVExport.write(node: n, campaign: c, organiserView: organiser, to: stdout)
            try stdout.flush()
        }
    }
}

struct BundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle", abstract: "Move events between nodes by file (USB stick, email).", subcommands: [Export.self, Import.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write every stored event (or one community's) to a bundle file.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "The bundle file to write.") var out: String
        @Option(help: "Only this community (name or wrc1… id).") var community: String?
        func run() throws {
            try AtomicFile.checkTarget(out)
            let n = try node.open()
            let cid = try community.map { (s: String) throws(WhipError) in try n.community(s).id }
            let (bytes, count) = try n.exportBundle(community: cid)
            try writeFile(out, bytes)
            output.report(["file": out, "events": count, "bytes": bytes.count], "Wrote \(count) event(s) to \(out).")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a bundle file; a damaged bundle is refused whole.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The bundle file.") var file: String
        func run() throws {
            let n = try node.open()
            let r = try n.importBundle(path: file)
            if output.json {
                printJSON([
                    "accepted": r.accepted, "duplicates": r.duplicates, "rejected": r.rejected, "held": r.held,
                    "not_applied": r.notApplied, "examples": r.examples, "standing_changes": r.standingChanges.map(standingJSON),
                ])
            } else {
                print("accepted \(r.accepted), duplicate \(r.duplicates), rejected \(r.rejectedCount), held \(r.held)")
                for line in r.standingChanges.map(standingLine) { print(line) }
                for (code, count) in r.rejected.sorted(by: { $0.key < $1.key }) { print("  rejected \(code): \(count)") }
                for (code, count) in r.notApplied.sorted(by: { $0.key < $1.key }) { print("  stored but not applied (\(code)): \(count)") }
                for ex in r.examples { print("  e.g. \(ex)") }
            }
        }
    }
}
