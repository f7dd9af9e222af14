import Foundation
public import WhipCore
public import WhipStore

extension Node {
    /// Posts news to a campaign's backers (`update.posted`, PROTOCOL.md §6.15): signed by this node, immutable, and
    /// refused before anything is signed when the title or text would be refused by the event rules, when the campaign
    /// is a draft or cancelled, or when this node may not edit the campaign.
    ///
    /// The title is trimmed of surrounding whitespace; the text (Markdown) is kept as given, but must hold more
    /// than whitespace.
    @discardableResult
    public func postUpdate(campaign: CampaignRow, title: String, text: String) throws(WhipError) -> Event {
        let title = title.trimmingCharacters(in: .whitespacesAndNewlines)
        try Node.checkUpdate(title: title, text: text)
        switch campaign.phase {
        case .draft:
            throw WhipError(
                .rejected,
                "'\(campaign.title)' is a draft: it has no backers to tell yet; publish it first (`whipround campaign publish \(campaign.id.hex.prefix(12))`)"
            )
        case .cancelled:
            throw WhipError(.rejected, "'\(campaign.title)' was cancelled: no update can be posted to it")
        case .live, .closed:
            break
        }
        return try emit(campaign.community, .updatePosted(UpdatePosted(campaign: campaign.id, title: title, text: text)))
    }

    /// The checks of `update.posted`'s title and text (PROTOCOL.md §6.15), as messages for a person.
    public static func checkUpdate(title: String, text: String) throws(WhipError) {
        let maxTitle = EventLimits.maxUpdateTitleBytes
        let maxText = EventLimits.maxUpdateTextBytes
        guard !title.isEmpty else { throw WhipError(.invalidArgument, "an update needs a title") }
        guard title.utf8.count <= maxTitle else {
            throw WhipError(.invalidArgument, "the title is \(title.utf8.count) bytes; an update's title is at most \(maxTitle) bytes")
        }
        try SafeText.checkName(title, what: "the title")
        guard text.contains(where: { !$0.isWhitespace }) else { throw WhipError(.invalidArgument, "an update needs some text") }
        guard text.utf8.count <= maxText else {
            throw WhipError(
                .invalidArgument, "the text is \(text.utf8.count) bytes; an update's text is at most \(maxText) bytes (about a page and a half)")
        }
        if let bad = text.unicodeScalars.first(where: { SafeText.isForbidden($0, multiline: true) }) {
            let hint = bad == "\t" ? "a tab: indent with spaces" : bad == "\r" ? "a carriage return: use Unix line endings" : "a control character"
            throw WhipError(.invalidArgument, "the text contains \(hint) (\(SafeText.printable(String(bad))))")
        }
    }
}
