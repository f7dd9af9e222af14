import Foundation
public import WhipCore
public import WhipStore

/// Pledges as CSV, in a public or an organiser view.
public enum CSVExport {
    /// The CSV text for a campaign's pledges.
    public static func pledges(node: Node, campaign c: CampaignRow, organiserView: Bool) throws(WhipError) -> String {
        let tiers = Dictionary(uniqueKeysWithValues: try node.store.tiers(campaign: c.id).map { ($0.id, $0.title) })
        var header = ["pledge", "backer", "amount", "currency", "tier", "status", "waitlisted", "collected", "channel", "made_utc"]
        if organiserView { header += ["backer_name", "anonymous", "email", "phone", "address", "gift_aid"] }
        var lines = [header.joined(separator: ",")]
        for p in try node.store.pledges(campaign: c.id) {
            var row = [
                p.id.hex, p.anonymous ? "Anonymous" : p.backerName, p.amount.formatted, p.amount.currency.code,
                p.tier.flatMap { tiers[$0] } ?? "", p.status, p.waitlisted ? "yes" : "no", p.collected.formatted, p.channel,
                Dates.format(p.madeAt, timeZone: "UTC"),
            ]
            if organiserView {
                let contact = node.openContact(p.contact)
                let sealed = contact == nil && !p.contact.isEmpty ? "(sealed to another organiser)" : ""
                row += [
                    p.backerName, p.anonymous ? "yes" : "no", contact?.email ?? sealed, contact?.phone ?? "", contact?.address ?? "",
                    (contact?.giftAid ?? false) ? "yes" : "no",
                ]
            }
            lines.append(row.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Quotes a CSV field, and defuses spreadsheet formulas.
    static func field(_ s: String) -> String {
        var v = s
        if let f = v.first, "=+-@\t\r".contains(f), Double(v) == nil { v = "'" + v }
        if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }
}
