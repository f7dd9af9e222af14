import WhipCore
import WhipNode
import WhipStore

/// An Atom feed (RFC 4287), written by hand: every text is escaped, every date is RFC 3339 in UTC.
struct AtomFeed {
    /// One entry: a campaign now; a campaign's update (news) later, with its own id scheme and link.
    struct Entry {
        /// A permanent URI: `urn:whipround:campaign:HEX` for a campaign.
        let id: String
        let title: String
        /// ms since the epoch.
        let updated: UInt64
        /// The page the entry is about (absolute).
        let link: String
        let summary: String
    }

    let id: String
    let title: String
    /// The feed's own absolute URL (`rel="self"`).
    let selfLink: String
    /// The site it describes (`rel="alternate"`).
    let siteLink: String
    var entries: [Entry]
    /// Used for `<updated>` when there is no entry.
    let now: UInt64

    /// The newest entry's time, or `now` for an empty feed.
    var updated: UInt64 { entries.map(\.updated).max() ?? now }

    static func date(_ ms: UInt64) -> String { Dates.format(ms, timeZone: "UTC") }

    var xml: String {
        let e = Pages.escapeXML
        var out = """
            <?xml version="1.0" encoding="utf-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom">
            <id>\(e(id))</id>
            <title>\(e(title))</title>
            <updated>\(Self.date(updated))</updated>
            <link rel="self" type="application/atom+xml" href="\(e(selfLink))"/>
            <link rel="alternate" type="text/html" href="\(e(siteLink))"/>
            <author><name>\(e(title))</name></author>
            <generator>Whipround</generator>

            """
        for entry in entries.sorted(by: { ($0.updated, $0.id) > ($1.updated, $1.id) }) {
            out += """
                <entry>
                <id>\(e(entry.id))</id>
                <title type="text">\(e(entry.title))</title>
                <updated>\(Self.date(entry.updated))</updated>
                <link rel="alternate" type="text/html" href="\(e(entry.link))"/>
                <summary type="text">\(e(entry.summary))</summary>
                </entry>

                """
        }
        return out + "</feed>\n"
    }

    /// The entry of an organiser's update: its own id, a link to it on the campaign's page, and its text (Markdown
    /// source, as plain text) cut to 500 characters.
    static func updateEntry(_ u: UpdateRow, campaign: String, base: String) -> Entry {
        let text = u.text.count > 500 ? String(u.text.prefix(499)) + "…" : u.text
        return Entry(
            id: "urn:whipround:update:\(u.id.hex)", title: "\(campaign): \(u.title)", updated: u.postedAt,
            link: "\(base)/campaigns/\(u.campaign.hex)#update-\(u.id.hex)", summary: text)
    }

    /// The entry of a published campaign.
    static func campaignEntry(_ p: PublicCampaign, base: String) -> Entry {
        Entry(
            id: "urn:whipround:campaign:\(p.row.id.hex)", title: p.row.title, updated: p.updated,
            link: "\(base)/campaigns/\(p.row.id.hex)", summary: "\(p.progressSentence). \(p.standingSentence)")
    }
}
