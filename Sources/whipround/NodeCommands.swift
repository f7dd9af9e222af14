import ArgumentParser
import Foundation
import WhipCore
import WhipCrypto
import WhipNet
import WhipNode
import WhipStore

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a node: a new identity and an empty replica in the data directory.")

    @OptionGroup var node: NodeOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "A name for this node, e.g. \"Elm Street Hub\".") var name: String = "Whipround node"
    @Flag(help: "Keep this node's identity.key and create only an empty replica, in place of a lost or empty whipround.sqlite.")
    var newReplica = false

    func run() throws {
        let n = try Node.initialise(dir: node.dataDir, name: name, newReplica: newReplica, logger: node.logger())
        if newReplica {
            output.report(
                ["id": n.memberID, "name": n.name, "data": n.dir.path, "new_replica": true],
                "Created an empty replica for node \(n.memberID) in \(n.dir.path).",
                "Join your communities again (`whipround community join INVITE`), then fetch their events with",
                "`whipround sync HOST:PORT` or `whipround bundle import FILE`.")
            return
        }
        output.report(
            ["id": n.memberID, "name": n.name, "data": n.dir.path],
            "Created node '\(n.name)' in \(n.dir.path)",
            "Its member id (give this to your community's founder to be granted a role):",
            "  \(n.memberID)")
    }
}

struct IDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "id", abstract: "Print this node's member id (public key).")

    @OptionGroup var node: NodeOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let n = try node.open()
        output.report(["id": n.memberID, "name": n.name, "public_key_hex": n.identity.publicKey.hex, "data": n.dir.path], n.memberID)
    }
}

struct CommunityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "community", abstract: "Create, join and manage communities and their members' roles.",
        subcommands: [Create.self, Invite.self, Join.self, Grant.self, Revoke.self, List.self, Roles.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a community, with this node as its founder.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The community's name.") var name: String
        @Flag(help: "Allow a name this node already uses for another community (then select them by wrc1… id).")
        var allowDuplicateName = false

        func run() throws {
            let n = try node.open()
            let c = try n.createCommunity(name: name, allowDuplicateName: allowDuplicateName)
            let id = KeyText.encode(c.id, as: .community)
            output.report(
                ["id": id, "name": c.name, "founder": n.memberID],
                "Created community '\(c.name)' (\(id)); you are its founder.",
                "Invite others with `whipround community invite`.")
        }
    }

    struct Invite: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an invite string that lets another node join.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id (needed if this node is in several).") var community: String?
        @Option(name: .customLong("hub"), help: "A hub address HOST:PORT to include (repeatable).") var hubs: [String] = []

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            // Hubs go into the invite and then into every joiner's peer list: only well-formed HOST:PORT.
            let checked = try hubs.map { (h: String) throws(WhipError) -> String in
                let a = try HostPort(parsing: h)
                let hostChars = a.host.unicodeScalars.allSatisfy {
                    $0.properties.isASCIIHexDigit || "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:".unicodeScalars.contains($0)
                }
                guard hostChars, !a.host.hasPrefix("-"), !a.host.hasPrefix(".") else {
                    throw WhipError(.invalidArgument, "'\(h)' is not an address: write HOST:PORT, e.g. 192.168.1.10:7878 or hub.local:7878")
                }
                return a.description
            }
            let inv = n.invite(c, hubs: checked)
            if output.json {
                printJSON(["invite": inv.text, "community": KeyText.encode(c.id, as: .community), "name": c.name, "hubs": inv.hubs])
            } else {
                print(inv.text)
                FileHandle.standardError.write(
                    Data("Keep it private: anyone holding it can join the gossip network of '\(SafeText.printable(c.name))'.\n".utf8))
            }
        }
    }

    struct Join: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Join a community from an invite string.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The invite (wri1…).") var invite: String

        func run() throws {
            let n = try node.open()
            let c = try n.join(try WhipCore.Invite(text: invite))
            let id = KeyText.encode(c.id, as: .community)
            output.report(
                ["id": id, "name": c.name, "member": n.memberID],
                "Joined '\(c.name)' (\(id)).",
                "Ask an admin to grant you a role: whipround community grant --role collector \(n.memberID)")
        }
    }

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a role (admin, organiser, collector, treasurer, funder) to a member.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "admin, organiser, collector, treasurer or funder.") var role: String
        @Option(help: "Last day the role is valid (YYYY-MM-DD, in --timezone).") var until: String?
        @Option(help: "Time zone for --until.") var timezone: String = Dates.localTimeZone
        @Argument(help: "The member's id (wrk1…), as printed by `whipround id`.") var memberID: String

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            let r = try parseRole(role)
            let m = try parseMember(memberID)
            let expires = try until.map { (s: String) throws(WhipError) in try Dates.parse(s, timeZone: timezone, endOfDay: true) }
            let e = try n.grant(c, member: m, role: r, expires: expires)
            output.report(["event": e.id.hex, "member": memberID, "role": r.name], "Granted \(r.name) to \(memberID) in '\(c.name)'.")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a member's role. Their events stamped before the revocation stay valid.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?
        @Option(help: "admin, organiser, collector, treasurer or funder.") var role: String
        @Argument(help: "The member's id (wrk1…).") var memberID: String

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            let r = try parseRole(role)
            let e = try n.revoke(c, member: try parseMember(memberID), role: r)
            output.report(["event": e.id.hex, "member": memberID, "role": r.name], "Revoked \(r.name) from \(memberID) in '\(c.name)'.")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the communities this node belongs to.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let n = try node.open()
            let all = try n.store.communities()
            if output.json {
                printJSON(
                    all.map { c -> [String: Any] in
                        [
                            "id": KeyText.encode(c.id, as: .community), "name": c.name, "events": c.eventCount, "digest": c.digest,
                            "founder": c.founder.map(member) ?? "", "is_founder": c.founder == n.identity.publicKey,
                        ]
                    })
            } else if all.isEmpty {
                print("No communities yet: create one with `whipround community create NAME` or join with an invite.")
            } else {
                for c in all {
                    print("\(c.name)  \(KeyText.encode(c.id, as: .community))  \(c.eventCount) events")
                }
            }
        }
    }

    struct Roles: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List members' roles in a community.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Community name or wrc1… id.") var community: String?

        func run() throws {
            let n = try node.open()
            let c = try n.community(community)
            let rows = try n.store.roles(community: c.id).filter(\.granted)
            let now = n.now
            if output.json {
                printJSON(
                    rows.map { r -> [String: Any] in
                        var d: [String: Any] = ["member": member(r.member), "role": r.role.name, "active": r.expires.map { now < $0 } ?? true]
                        if let e = r.expires { d["expires"] = Dates.format(e, timeZone: "UTC") }
                        return d
                    })
            } else {
                if let f = c.founder { print("founder    \(member(f))") }
                for r in rows {
                    let exp = r.expires.map { " (until \(Dates.format($0, timeZone: "UTC")))" } ?? ""
                    print("\(r.role.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(member(r.member))\(exp)")
                }
            }
        }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each community's event count and state digest: two nodes with the same events print the same digest.")
    @OptionGroup var node: NodeOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let n = try node.open(quiet: true)
        let comms = try n.store.communities()
        let held = try n.store.heldCount()
        let clockWarning = try n.clockWarning()
        let rows = try comms.map { c -> [String: Any] in
            let campaigns = try n.store.campaigns(community: c.id)
            return [
                "id": KeyText.encode(c.id, as: .community), "name": c.name, "digest": c.digest, "events": c.eventCount,
                "campaigns": campaigns.count,
            ]
        }
        let peers = try n.store.peers()
        if output.json {
            var d: [String: Any] = [
                "node": ["id": n.memberID, "name": n.name, "data": n.dir.path], "communities": rows, "held_events": held,
                "peers": peers.map(peerJSON),
            ]
            if let clockWarning { d["clock_warning"] = clockWarning }
            printJSON(d)
        } else {
            if let clockWarning { print("Warning: \(clockWarning)") }
            print("Node '\(n.name)' \(n.memberID)")
            print("Data: \(n.dir.path)")
            if comms.isEmpty { print("No communities yet.") }
            for r in rows {
                print("\(r["name"]!)  \(r["id"]!)")
                print("  events: \(r["events"]!)  campaigns: \(r["campaigns"]!)  digest: \(r["digest"]!)")
            }
            if held > 0 { print("\(held) event(s) held with timestamps ahead of this clock; they are retried automatically.") }
            for p in peers { print("peer \(peerLine(p))") }
        }
    }
}

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the database file, rebuild the derived tables from the events and check they were identical.",
        discussion: """
            First SQLite's integrity check of the whole file; then, with --verify, every stored event's id and signature             again; then (unless the replica is read-only) a rebuild of each community's derived tables. Exits 74 if the             file or an event is damaged, 5 if derived tables differed (they are rebuilt).
            """)
    @OptionGroup var node: NodeOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Also re-check every stored event's id and signature (slower: about as long as importing them).") var verify = false

    func run() throws {
        let n = try node.open()
        let restore = "restore the replica from a backup, or rebuild it from a peer or a bundle (README: Damaged or lost data)"
        let sync = try n.store.synchronousSetting()
        let journal = try n.store.journalMode()
        let problems = try n.store.integrityProblems()
        var report: [String: Any] = [
            "integrity": problems.isEmpty ? "ok" : "damaged", "read_only": n.store.readOnly, "journal_mode": journal, "synchronous": sync,
            "ok": false, "communities": [Any](),
        ]
        if !problems.isEmpty {
            report["integrity_problems"] = problems
            if output.json { printJSON(report) } else { for p in problems.prefix(10) { print("integrity: \(p)") } }
            throw WhipError(.storage, "the database \(n.store.path) failed SQLite's integrity check (\(problems.count) problem(s)); \(restore)")
        }
        if !output.json { print("integrity: ok") }
        if verify {
            let (checked, bad) = try n.store.verifyEvents()
            report["verified_events"] = checked
            report["bad_events"] = bad.map { ["seq": $0.seq, "id": $0.id, "reason": $0.reason] }
            if !output.json {
                print("verified \(checked) event(s): \(bad.isEmpty ? "every id and signature checks out" : "\(bad.count) fail")")
                for b in bad.prefix(10) { print("  event \(b.seq) \(b.id.prefix(12)): \(b.reason)") }
            }
            if !bad.isEmpty {
                if output.json { printJSON(report) }
                throw WhipError(.storage, "\(bad.count) stored event(s) no longer match their signature or id; \(restore)")
            }
        }
        var results: [[String: Any]] = []
        var allGood = true
        if n.store.readOnly {
            if !output.json { print("the replica is read-only here: derived tables not rebuilt") }
        } else {
            for c in try n.store.communities() {
                let r = try n.store.rebuild(community: c.id)
                let ok = r.tablesIdentical && r.before == r.after
                allGood = allGood && ok
                results.append([
                    "id": KeyText.encode(c.id, as: .community), "name": c.name, "digest_before": r.before, "digest_after": r.after, "identical": ok,
                ])
            }
        }
        report["communities"] = results
        report["ok"] = allGood
        if output.json {
            printJSON(report)
        } else {
            print("journal_mode=\(journal) synchronous=\(sync == 2 ? "FULL" : String(sync))")
            for r in results {
                print("\(r["name"]!): \((r["identical"] as? Bool) == true ? "derived tables match a full rebuild" : "MISMATCH (now rebuilt)")")
            }
        }
        if !allGood { throw WhipError(.corrupt, "derived tables differed from a rebuild; they have been rebuilt from the events") }
    }
}

struct RejectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rejections", abstract: "Show the rejection log: events refused, held, or not applied by the rules.")
    @OptionGroup var node: NodeOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "At most this many entries.") var limit: Int = 100

    func run() throws {
        let n = try node.open()
        let rows = try n.store.rejections(limit: limit)
        if output.json {
            printJSON(rows.map { ["event": $0.eventID ?? "", "code": $0.code, "message": $0.message, "stage": $0.stage] })
        } else {
            if rows.isEmpty { print("The rejection log is empty.") }
            for r in rows { print("[\(r.stage)] \(r.code) \(r.eventID.map { String($0.prefix(12)) } ?? "-"): \(r.message)") }
        }
    }
}
