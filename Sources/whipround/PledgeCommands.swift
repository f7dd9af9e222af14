import ArgumentParser
import Foundation
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore

struct PledgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pledge", abstract: "Record and manage pledges.",
        subcommands: [Add.self, Revise.self, Withdraw.self, Collect.self, Reject.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a pledge (works offline; share it later by bundle or sync).",
            discussion: "Contact details (--email, --phone, --address) are sealed to the campaign's organisers: nobody else can read them.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Campaign id (or a unique prefix).") var campaign: String
        @Option(help: "The backer's display name.") var name: String
        @Option(help: "Amount, e.g. 10 or 10.50, in the campaign's currency.") var amount: String
        @Flag(help: "Hide the backer's name in public views and exports.") var anonymous = false
        @Option(help: "Reward tier id (or a unique prefix).") var tier: String?
        @Option(help: "in-person or online.") var channel: String = "in-person"
        @Option(help: "Money received now: cash or transfer.") var paid: String?
        @Option var email: String?
        @Option var phone: String?
        @Option var address: String?
        @Flag(help: "The backer made a Gift Aid declaration.") var giftAid = false

        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            let amt = try Money(parsing: amount, currency: c.goal.currency)
            guard amt.minor > 0 else { throw WhipError(.invalidArgument, "the amount must be more than zero") }
            let tierID = try tier.map { (s: String) throws(WhipError) in try n.store.resolve(s, in: "tiers", what: "tier") }
            guard let ch = Channel(name: channel) else { throw WhipError(.invalidArgument, "'\(channel)' is not a channel: use in-person or online") }
            let method = try paid.map { (s: String) throws(WhipError) -> PaymentMethod in
                guard let m = PaymentMethod(name: s) else {
                    throw WhipError(.invalidArgument, "'\(s)' is not a payment method: use cash or transfer")
                }
                return m
            }
            let contact = try n.seal(Contact(email: email, phone: phone, address: address, giftAid: giftAid), for: c)
            let e = try n.emit(
                c.community,
                .pledgeMade(
                    PledgeMade(
                        campaign: c.id, backerName: name, anonymous: anonymous, amount: amt.minor, currency: amt.currency, tier: tierID,
                        channel: ch, paid: method, contact: contact)))
            let after = try n.campaign(c.id.hex)
            if output.json {
                printJSON([
                    "id": e.id.hex, "campaign": c.id.hex, "amount": amt.formatted, "currency": amt.currency.code, "pledged": after.pledged.formatted,
                    "backers": after.backers,
                ])
            } else {
                print("Recorded \(money(amt)) from \(anonymous ? "an anonymous backer" : name): \(e.id.hex)")
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
        @Option var name: String?
        @Flag(inversion: .prefixedNo, help: "Hide or show the backer's name.") var anonymous: Bool?
        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            var r = PledgeRevised(campaign: c.id, pledge: p.id)
            if let amount {
                let m = try Money(parsing: amount, currency: c.goal.currency)
                r.amount = m.minor
                r.currency = m.currency
            }
            r.tier = try tier.map { (s: String) throws(WhipError) in try n.store.resolve(s, in: "tiers", what: "tier") }
            r.backerName = name
            r.anonymous = anonymous
            guard r != PledgeRevised(campaign: c.id, pledge: p.id) else {
                throw WhipError(.invalidArgument, "nothing to change: give at least one option")
            }
            let e = try n.emit(c.community, .pledgeRevised(r))
            if output.json { printJSON(["event": e.id.hex, "pledge": p.id.hex]) } else { print("Revised pledge \(p.id.hex.prefix(12)).") }
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
            if output.json {
                printJSON(["event": e.id.hex, "pledge": p.id.hex, "status": "withdrawn"])
            } else {
                print("Withdrew pledge \(p.id.hex.prefix(12)).")
            }
        }
    }

    struct Collect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record money received for a pledge (cash or transfer).")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Pledge id (or a unique prefix).") var pledge: String
        @Option(help: "Amount received (default: the pledged amount).") var amount: String?
        @Option(help: "cash or transfer.") var method: String = "cash"
        func run() throws {
            let n = try node.open()
            let (p, c) = try n.pledge(pledge)
            guard let m = PaymentMethod(name: method) else {
                throw WhipError(.invalidArgument, "'\(method)' is not a payment method: use cash or transfer")
            }
            let amt = try amount.map { (s: String) throws(WhipError) in try Money(parsing: s, currency: c.goal.currency) } ?? p.amount
            guard amt.minor > 0 else { throw WhipError(.invalidArgument, "the amount must be more than zero") }
            let e = try n.emit(
                c.community, .pledgeCollected(PledgeCollected(campaign: c.id, pledge: p.id, amount: amt.minor, currency: amt.currency, method: m)))
            if output.json {
                printJSON(["event": e.id.hex, "pledge": p.id.hex, "collected": amt.formatted])
            } else {
                print("Recorded \(money(amt)) received by \(m.name).")
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
            if output.json {
                printJSON(["event": e.id.hex, "pledge": p.id.hex, "status": "rejected"])
            } else {
                print("Rejected pledge \(p.id.hex.prefix(12)).")
            }
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
            let pledges = try n.store.pledges(campaign: c.id)
            if output.json {
                printJSON(pledges.map { $0.publicJSON(tiers: names) })
            } else {
                if pledges.isEmpty { print("No pledges yet.") }
                for p in pledges {
                    print(
                        "\(p.id.hex.prefix(12))  \(p.anonymous ? "Anonymous" : p.backerName)  \(money(p.amount))  \(p.status)\(p.waitlisted ? " waitlisted" : "")"
                    )
                }
            }
        }
    }
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
        let csv = try CSVExport.pledges(node: n, campaign: c, organiserView: organiser)
        if let out {
            try writeFile(out, Array(csv.utf8))
            FileHandle.standardError.write(Data("Wrote \(out)\n".utf8))
        } else {
            print(csv, terminator: "")
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
            if output.json { printJSON(["file": out, "events": count, "bytes": bytes.count]) } else { print("Wrote \(count) event(s) to \(out).") }
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
                    "not_applied": r.notApplied, "examples": r.examples,
                ])
            } else {
                print("accepted \(r.accepted), duplicate \(r.duplicates), rejected \(r.rejectedCount), held \(r.held)")
                for (code, count) in r.rejected.sorted(by: { $0.key < $1.key }) { print("  rejected \(code): \(count)") }
                for (code, count) in r.notApplied.sorted(by: { $0.key < $1.key }) { print("  stored but not applied (\(code)): \(count)") }
                for ex in r.examples { print("  e.g. \(ex)") }
            }
        }
    }
}
