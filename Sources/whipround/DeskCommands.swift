import ArgumentParser
import Foundation
import WhipCore
import WhipNode
import WhipQR
import WhipStore
import WhipWeb

struct DeskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "desk", abstract: "Pledge desks: volunteers' phones that take pledges for one campaign (README \"At the event\").",
        discussion: """
            A desk is paired with a phone by a one-time code (in a link and a QR code). The running `serve` on the same data \
            directory honours a desk the moment it is opened; the phones hold no keys, this node signs their pledges.
            """,
        subcommands: [Open.self, Pair.self, List.self, Close.self])

    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a desk for a live campaign and print its pairing link and QR code.",
            discussion: """
                The node must be allowed to record pledges in the campaign's community (collector, organiser, admin or founder). \
                The code works once, for 30 minutes; `desk pair NAME` makes another for a second phone.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Campaign id (or a unique prefix).") var campaign: String
        @Option(help: "The desk's name, e.g. \"Tombola stall\" (1-40 characters, unique among open desks).") var name: String
        @Option(help: "When the desk closes by itself: HH:MM (today) or YYYY-MM-DDTHH:MM, in --timezone.") var until: String?
        @Option(help: "IANA time zone of --until.") var timezone: String = Dates.localTimeZone

        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            let untilMs = try until.map { (s: String) throws(WhipError) in try DeskCommand.parseUntil(s, timeZone: timezone, now: n.now) }
            if let taken = try DeskCommand.unclosedDesk(named: name, node: n) {
                throw DeskCommand.nameTaken(taken, node: n, timeZone: timezone)
            }
            let pairing = try n.openDesk(campaign: c, name: name, until: untilMs)
            try DeskCommand.report(pairing, campaign: c, node: n, output: output, timeZone: timezone, opened: true)
        }
    }

    struct Pair: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A new one-time pairing code for another phone at an open desk.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The desk's name.") var name: String
        @Option(help: "IANA time zone for the times shown.") var timezone: String = Dates.localTimeZone

        func run() throws {
            let n = try node.open()
            let pairing = try n.pairDesk(name: name)
            let c = try n.campaign(pairing.desk.campaign.hex)
            try DeskCommand.report(pairing, campaign: c, node: n, output: output, timeZone: timezone, opened: false)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The open desks (with --all, closed and expired ones too).")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Flag(help: "Include closed and expired desks.") var all = false
        @Option(help: "IANA time zone for the times shown.") var timezone: String = Dates.localTimeZone

        func run() throws {
            let n = try node.open()
            let now = n.now
            let desks = try n.desks(includeClosed: all).filter { all || $0.state(now: now) == .open }
            var titles: [String: String] = [:]
            for d in desks where titles[d.campaign.hex] == nil { titles[d.campaign.hex] = (try? n.campaign(d.campaign.hex))?.title ?? "" }
            if output.json {
                printJSON(desks.map { DeskCommand.json($0, title: titles[$0.campaign.hex] ?? "", now: now) })
                return
            }
            if desks.isEmpty {
                print(all ? "No desks." : "No open desks: `whipround desk open --campaign ID --name NAME` opens one.")
                return
            }
            for d in desks {
                let until = d.until.map { " until \(Dates.describeDeadline($0, timeZone: timezone))" } ?? ""
                print("\(d.name)  [\(DeskCommand.stateName(d.state(now: now)))]  '\(titles[d.campaign.hex] ?? "")'  \(d.pledges) pledge(s)\(until)")
            }
        }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a desk: its phones are refused from now on (pledges already taken stay).")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The desk's name.") var name: String
        @Option(help: "IANA time zone for the times shown.") var timezone: String = Dates.localTimeZone

        func run() throws {
            let n = try node.open()
            let before = try DeskCommand.unclosedDesk(named: name, node: n)
            let expired = before.flatMap { $0.state(now: n.now) == .expired ? $0.until : nil }
            let d = try n.closeDesk(name: name)
            let title = (try? n.campaign(d.campaign.hex))?.title ?? ""
            let text =
                expired.map {
                    "Closed desk '\(d.name)' ('\(title)'), which had expired at \(Dates.describeDeadline($0, timeZone: timezone)): \(d.pledges) pledge(s) taken; its name is free again."
                }
                ?? "Closed desk '\(d.name)' ('\(title)'): \(d.pledges) pledge(s) taken; its phones are refused from now on."
            output.report(DeskCommand.json(d, title: title, now: n.now), text)
        }
    }

    static func stateName(_ s: DeskState) -> String { s.rawValue }

    /// The desk not yet closed (open or expired) that holds `name`, if any.
    static func unclosedDesk(named name: String, node n: Node) throws(WhipError) -> DeskRow? {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return try n.desks(includeClosed: false).first { $0.name == trimmed }
    }

    /// `desk open`'s refusal of a name an unclosed desk holds, saying which desk and how to free the name: an expired
    /// desk keeps its name until `desk close`, which surprises an organiser reusing "Tombola stall" the next day.
    static func nameTaken(_ desk: DeskRow, node n: Node, timeZone: String) -> WhipError {
        let free = "`whipround desk close '\(desk.name)'`"
        let title = (try? n.campaign(desk.campaign.hex))?.title ?? ""
        switch desk.state(now: n.now) {
        case .expired:
            let when = desk.until.map { " at \(Dates.describeDeadline($0, timeZone: timeZone))" } ?? ""
            return WhipError(
                .alreadyExists,
                "the name '\(desk.name)' is still taken by a desk for '\(title)' that expired\(when): a desk's name stays taken until "
                    + "\(free), even after it expires; run that to free it, or choose another name")
        default:
            return WhipError(
                .alreadyExists,
                "a desk called '\(desk.name)' is already open for '\(title)': choose another name, or close that desk with \(free) first")
        }
    }

    static func json(_ d: DeskRow, title: String, now: UInt64) -> [String: Any] {
        var o: [String: Any] = [
            "name": d.name, "campaign": d.campaign.hex, "campaign_title": title, "community": KeyText.encode(d.community, as: .community),
            "opened": Dates.format(d.opened, timeZone: "UTC"), "state": stateName(d.state(now: now)), "pledges": d.pledges,
        ]
        if let until = d.until { o["until"] = Dates.format(until, timeZone: "UTC") }
        if let closed = d.closed { o["closed"] = Dates.format(closed, timeZone: "UTC") }
        return o
    }

    /// `HH:MM` (today in `timeZone`) or `YYYY-MM-DDTHH:MM`; it must be in the future.
    static func parseUntil(_ text: String, timeZone: String, now: UInt64) throws(WhipError) -> UInt64 {
        let t = text.trimmingCharacters(in: .whitespaces)
        let full: String
        if t.count <= 5, t.contains(":"), !t.contains("T") {
            let hm = t.split(separator: ":", omittingEmptySubsequences: false)
            guard hm.count == 2, let h = Int(hm[0]), let m = Int(hm[1]), hm[1].count == 2, (0...23).contains(h), (0...59).contains(m) else {
                throw WhipError(.invalidArgument, "'\(text)' is not a time for --until: write HH:MM (today, e.g. 18:00) or YYYY-MM-DDTHH:MM")
            }
            let today = Dates.localForm(now, timeZone: timeZone, midnightAsEndOfDay: false).prefix(10)
            full = "\(today)T\(hm[0].count == 1 ? "0" : "")\(h):\(hm[1])"
        } else {
            guard t.contains("T") else {
                throw WhipError(.invalidArgument, "'\(text)' is not a time for --until: write HH:MM (today, e.g. 18:00) or YYYY-MM-DDTHH:MM")
            }
            full = t
        }
        let ms: UInt64
        do { ms = try Dates.parse(full, timeZone: timeZone, endOfDay: false) } catch {
            throw WhipError(
                .invalidArgument, "'\(text)' is not a time for --until: write HH:MM (today, e.g. 18:00) or YYYY-MM-DDTHH:MM (\(error.message))")
        }
        guard ms > now else {
            throw WhipError(
                .invalidArgument,
                "--until \(text) has already passed (it is \(Dates.localForm(now, timeZone: timeZone, midnightAsEndOfDay: false).replacingOccurrences(of: "T", with: " ")) in \(timeZone)): give a later time"
            )
        }
        return ms
    }

    /// Prints a pairing: the link, the QR code, the code to type, the expiry, and a warning when no `serve`
    /// is serving the pages.
    static func report(_ p: DeskPairing, campaign c: CampaignRow, node n: Node, output: OutputOptions, timeZone: String, opened: Bool) throws {
        let base = WebAddress.read(dataDir: n.dir.path)
        let code = p.code
        let path = "/pair?code=\(code)"
        let url = base.map { $0 + path }
        let codeExpires = p.codeExpires
        if output.json {
            var o = json(p.desk, title: c.title, now: n.now)
            o["code"] = code
            o["code_expires"] = Dates.format(codeExpires, timeZone: "UTC")
            if let url { o["url"] = url }
            o["served"] = base != nil
            printJSON(o)
            return
        }
        let until = p.desk.until.map { "until \(Dates.describeDeadline($0, timeZone: timeZone))" } ?? "until `whipround desk close` closes it"
        print(opened ? "Opened desk '\(p.desk.name)' for '\(c.title)', \(until)." : "A new pairing code for desk '\(p.desk.name)' ('\(c.title)').")
        if let url {
            print("Scan this with the volunteer's phone, or open \(url)")
            let qr = try QRCode(url)
            Swift.print(qr.terminalText(ansi: isatty(STDOUT_FILENO) == 1), terminator: "")
            print("Or open \(base!)/pair and type the code: \(code)")
        } else {
            print("Pairing code: \(code) (type it at /pair on the node's pages)")
        }
        print(
            "The code works once, until \(Dates.describeDeadline(codeExpires, timeZone: timeZone)); `whipround desk pair '\(p.desk.name)'` makes another."
        )
        if let base, WebAddress.isLoopback(URL(string: base)?.host ?? "") {
            FileHandle.standardError.write(
                Data(
                    ("warning: phones cannot reach \(base): the pages are served on this machine only; serve them on the hall's network "
                        + "(`whipround serve --web 0.0.0.0:8480`) and run `whipround desk pair '\(p.desk.name)'` for a link they can open\n").utf8))
        }
        if base == nil {
            FileHandle.standardError.write(
                Data(
                    ("warning: no `whipround serve` is serving the web pages for this data directory, so phones cannot pair yet: "
                        + "start it with `whipround serve --web 0.0.0.0:8480` (or [web] listen in the config) and run `whipround desk pair '\(p.desk.name)'`\n")
                        .utf8))
        }
    }
}
