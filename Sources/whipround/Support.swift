import ArgumentParser
import Foundation
import Logging
import Synchronization
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore

struct NodeOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (default: $WHIPROUND_DATA, $XDG_DATA_HOME/whipround or ~/.local/share/whipround).")
    var data: String?

    @Flag(name: .long, help: "Log what happens to stderr.")
    var verbose = false

    var dataDir: DataDir { DataDir.resolve(flag: data) }

    func logger() -> Logger {
        var l = Logger(label: "whipround") { StreamLogHandler.standardError(label: $0) }
        l.logLevel = verbose ? .debug : .warning
        return l
    }

    /// Opens the node; unless `quiet`, warns on stderr (one `warning:` line) when its clock disagrees with its data.
    func open(quiet: Bool = false) throws(WhipError) -> Node {
        let n = try Node.open(dir: dataDir, logger: logger())
        if !quiet, let w = try? n.clockWarning() {
            FileHandle.standardError.write(Data("warning: \(w)\n".utf8))
        }
        return n
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    /// Prints `value` as JSON with `--json`, else the lines of text.
    func report(_ value: @autoclosure () -> Any, _ lines: String...) {
        if json { printJSON(value()) } else { for line in lines { print(line) } }
    }
}

/// Every line of text output goes through here (it shadows `Swift.print` in this module), so no stored name,
/// title or reason can carry a raw control character to a terminal: they are shown escaped as `\u{1B}`.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Swift.print(SafeText.printable(items.map { "\($0)" }.joined(separator: separator)), terminator: terminator)
}

/// Writes JSON with sorted keys so output is stable.
///
/// JSON escapes C0 controls itself; the C1 controls and bidirectional marks it leaves raw are written as
/// `\u00XX` escapes too, so the value is unchanged and the terminal is safe.
func printJSON(_ value: Any) {
    do {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        var out = String.UnicodeScalarView()
        for u in String(decoding: data, as: UTF8.self).unicodeScalars {
            if SafeText.needsEscape(u) {
                let hex = String(u.value, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            } else {
                out.append(u)
            }
        }
        Swift.print(String(out))
    } catch {
        Swift.print("{}")
    }
}

/// Printable member ids already made: a list of 50,000 pledges has a handful of authors, and each id costs a hash.
private let memberIDs = Mutex<[PublicKey: String]>([:])

func member(_ k: PublicKey) -> String {
    if let known = memberIDs.withLock({ $0[k] }) { return known }
    let text = KeyText.encode(k, as: .member)
    memberIDs.withLock { if $0.count < 1_024 { $0[k] = text } }
    return text
}

func money(_ m: Money) -> String { "\(m.formatted) \(m.currency.code)" }

func parseMember(_ text: String) throws(WhipError) -> PublicKey { try KeyText.decode(text, as: .member) }

func parseRole(_ text: String) throws(WhipError) -> Role {
    guard let r = Role(name: text) else {
        throw WhipError(.invalidArgument, "'\(text)' is not a role: use admin, organiser, collector, funder or treasurer")
    }
    return r
}

func parseCurrency(_ text: String) throws(WhipError) -> Currency {
    guard let c = Currency(code: text.uppercased()) else {
        throw WhipError(.invalidArgument, "'\(text)' is not an ISO 4217 currency code (for example GBP, EUR, USD)")
    }
    return c
}

func readFile(_ path: String) throws(WhipError) -> [UInt8] {
    guard let d = FileManager.default.contents(atPath: path) else {
        throw WhipError(.notFound, "cannot read \(path): no such file or no permission")
    }
    return [UInt8](d)
}

/// Writes an output file atomically (see `AtomicFile`): a directory or anything but a regular file is refused.
func writeFile(_ path: String, _ bytes: [UInt8]) throws(WhipError) { try AtomicFile.write(bytes, to: path) }

extension CampaignRow {
    /// The campaign's JSON (README "JSON output"): one `state` (draft, live, closed-funded, closed-unfunded,
    /// cancelled) at `now`; dates as typed in the campaign's zone (`closes_local`) and as exact instants.
    func json(now: UInt64) -> [String: Any] {
        var d: [String: Any] = [
            "id": id.hex, "community": KeyText.encode(community, as: .community), "title": title, "description": description,
            "goal": goal.formatted, "goal_minor": goal.minor, "currency": goal.currency.code, "model": model.name,
            "opens": Dates.format(opens, timeZone: "UTC"), "closes": Dates.format(closes, timeZone: "UTC"),
            "opens_local": Dates.localForm(opens, timeZone: timeZone, midnightAsEndOfDay: false),
            "closes_local": Dates.localForm(closes, timeZone: timeZone), "time_zone": timeZone, "state": standing(now: now).rawValue,
            "pledged": pledged.formatted, "pledged_minor": pledged.minor, "collected": collected.formatted,
            "collected_minor": collected.minor, "backers": backers, "organisers": organisers.map(member),
            "matched": matched.formatted, "matched_minor": matched.minor,
            "created_by": member(createdBy),
        ]
        if let cancelReason { d["cancel_reason"] = cancelReason }
        return d
    }
}

extension PledgeRow {
    /// Writes the public view (an anonymous backer's name is never shown) as the next element of `array`, its
    /// keys in sorted order, so that streaming thousands of pledges builds and sorts no dictionary per pledge.
    func writePublicJSON(
        to array: JSONText.ArrayWriter, tiers: [EventID: String], standing: CampaignStanding? = nil, giftAid: [String: Any]? = nil
    ) throws(WhipError) {
        try array.appendObject { (o) throws(WhipError) in
            try o.field("amount", amount.formatted)
            try o.field("amount_minor", amount.minor)
            try o.field("anonymous", anonymous)
            try o.field("backer", publicName)
            try o.field("channel", channel)
            try o.field("collected", collected.formatted)
            if let collectedMethod { try o.field("collected_method", collectedMethod) }
            try o.field("collected_minor", collected.minor)
            try o.field("currency", amount.currency.code)
            if !erased.isEmpty { try o.field("erased", erased.sorted().map(\.name)) }
            if let giftAid { try o.field("gift_aid", giftAid) }
            try o.field("id", id.hex)
            try o.field("made", Dates.format(madeAt, timeZone: "UTC"))
            try o.field("recorded_by", member(author))
            if let standing, let due = refundDue(in: standing) {
                try o.field("refund_due", due.formatted)
                try o.field("refund_due_minor", due.minor)
            }
            if let rejectReason { try o.field("reject_reason", rejectReason) }
            try o.field("status", status)
            if let tier {
                try o.field("tier", tier.hex)
                try o.field("tier_title", tiers[tier] ?? "")
            }
            try o.field("waitlisted", waitlisted)
        }
    }
}

/// A pledge whose place in a limited tier changed, for `bundle import --json` and `sync --json`.
func standingJSON(_ c: StandingChange) -> [String: Any] {
    ["pledge": c.pledge.hex, "campaign": c.campaign.hex, "backer": c.backer, "tier": c.tier, "waitlisted": c.waitlisted]
}

/// A pledge whose place in a limited tier changed, as a line for people.
func standingLine(_ c: StandingChange) -> String {
    c.waitlisted
        ? "  pledge \(c.pledge.hex.prefix(12)) (\(c.backer)) lost its place in '\(c.tier)': now WAITLISTED (an earlier pledge arrived)"
        : "  pledge \(c.pledge.hex.prefix(12)) (\(c.backer)) now has a place in '\(c.tier)' (no longer waitlisted)"
}
