import Foundation
public import WhipCore
public import WhipStore

/// Pledges as CSV, in a public or an organiser view.
public enum CSVExport {
    /// The CSV text for a campaign's pledges, whole (for a small campaign or a test).
    public static func pledges(node: Node, campaign c: CampaignRow, organiserView: Bool) throws(WhipError) -> String {
        let out = OutputBuffer()
        try write(node: node, campaign: c, organiserView: organiserView, to: out)
        return String(decoding: out.contents, as: UTF8.self)
    }

    /// Writes a campaign's pledges as CSV, a header and then one line per pledge as it is read from the database.
    public static func write(node: Node, campaign c: CampaignRow, organiserView: Bool, to out: OutputBuffer) throws(WhipError) {
        let tiers = Dictionary(uniqueKeysWithValues: try node.store.tiers(campaign: c.id).map { ($0.id, $0.title) })
        var header = ["pledge", "backer", "amount", "currency", "tier", "status", "waitlisted", "collected", "channel", "made_utc"]
        if organiserView { header += ["backer_name", "anonymous", "email", "phone", "address", "gift_aid"] }
        try out.write(header.joined(separator: ",") + "\n")
        try node.store.forEachPledge(campaign: c.id) { (p) throws(WhipError) in
            var row = [
                p.id.hex, p.publicName, p.amount.formatted, p.amount.currency.code,
                p.tier.flatMap { tiers[$0] } ?? "", p.status, p.waitlisted ? "yes" : "no", p.collected.formatted, p.channel,
                Dates.format(p.madeAt, timeZone: "UTC"),
            ]
            if organiserView {
                let contact = node.openContact(p.contact)
                let sealed = contact == nil && !p.contact.isEmpty ? "(sealed to another organiser)" : ""
                // A version-2 anonymous backer's name is sealed with the contact details.
                let name = p.erased.contains(.name) ? "(erased)" : p.backerName.isEmpty ? contact?.name ?? "" : p.backerName
                row += [
                    name, p.anonymous ? "yes" : "no", contact?.email ?? sealed, contact?.phone ?? "", contact?.address ?? "",
                    // Version 2: only the treasurers can tell (the declaration is sealed to them alone), so blank.
                    p.version == 2 ? "" : (contact?.giftAid ?? false) ? "yes" : "no",
                ]
            }
            try out.write(row.map(field).joined(separator: ",") + "\n")
        }
    }

    /// Quotes a CSV field, and defuses spreadsheet formulas. Looks at bytes, not characters: it runs for every
    /// field of every pledge, and a field holding `\r\n` (one character) is quoted too.
    static func field(_ s: String) -> String {
        var v = s
        if let f = v.utf8.first, f == 0x3D || f == 0x2B || f == 0x2D || f == 0x40 || f == 0x09 || f == 0x0D, Double(v) == nil { v = "'" + v }
        if v.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }
}
