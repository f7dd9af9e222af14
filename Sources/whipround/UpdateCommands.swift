import ArgumentParser
import Foundation
import WhipCore
import WhipNode
import WhipStore

extension CampaignCommand {
    struct Post: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "post",
            abstract: "Post an update (news) to a campaign's backers.",
            discussion: """
                The text is Markdown, at most \(EventLimits.maxUpdateTextBytes) bytes; the title one line of at most \
                \(EventLimits.maxUpdateTitleBytes) bytes. Give the text with --text, or with --file (a file, or - for standard \
                input); Windows line endings become line feeds and tabs four spaces. Only the campaign's organisers (or an \
                admin) may post, once it is published and unless it was cancelled. An update is signed and cannot be \
                changed or withdrawn afterwards: post a correction as a new update.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Campaign id (or a unique prefix).") var campaign: String
        @Option(help: "Title, one line.") var title: String
        @Option(help: "The text, in Markdown.") var text: String?
        @Option(help: "Read the text from this file (- for standard input).") var file: String?

        func run() throws {
            let body = try Post.text(text: text, file: file)
            let n = try node.open()
            let c = try n.campaign(campaign)
            let e = try n.postUpdate(campaign: c, title: title, text: body)
            output.report(
                ["event": e.id.hex, "campaign": c.id.hex, "posted": Dates.format(e.hlc.wall, timeZone: "UTC")],
                "Posted the update to '\(c.title)': \(e.id.hex)")
        }

        /// The text from `--text` or `--file`, line endings made line feeds and tabs four spaces.
        static func text(text: String?, file: String?) throws(WhipError) -> String {
            let raw: String
            switch (text, file) {
            case (let t?, nil): raw = t
            case (nil, let f?):
                let handle = f == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: f)
                guard let handle else { throw WhipError(.notFound, "cannot read \(f): no such file or no permission") }
                // Enough for any text the rules accept even with every line ending CRLF, without reading a huge file.
                let most = 2 * EventLimits.maxUpdateTextBytes
                let data: Data
                do { data = try handle.read(upToCount: most + 1) ?? Data() } catch { throw WhipError(.io, "cannot read \(f)", cause: error) }
                guard data.count <= most else {
                    throw WhipError(
                        .invalidArgument, "\(f) holds more than \(most) bytes; an update's text is at most \(EventLimits.maxUpdateTextBytes) bytes")
                }
                guard let s = String(data: data, encoding: .utf8) else { throw WhipError(.invalidArgument, "\(f) is not UTF-8 text") }
                raw = s
            case (nil, nil): throw WhipError(.invalidArgument, "give the update's text with --text, or --file (- for standard input)")
            case (_?, _?): throw WhipError(.invalidArgument, "give the text with --text or with --file, not both")
            }
            return raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\t", with: "    ")
        }
    }

    struct Updates: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a campaign's updates, newest first, with their Markdown text.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Campaign id (or a unique prefix).") var campaign: String

        func run() throws {
            let n = try node.open()
            let c = try n.campaign(campaign)
            let all = try n.store.updates(campaign: c.id)
            if output.json {
                printJSON(all.map { $0.json(timeZone: c.timeZone) })
                return
            }
            if all.isEmpty { print("No updates to '\(c.title)' yet.") }
            for (i, u) in all.enumerated() {
                if i > 0 { print("") }
                print("\(Dates.localForm(u.postedAt, timeZone: c.timeZone, midnightAsEndOfDay: false))  \(u.title)  (\(u.id.hex.prefix(12)))")
                print(u.text)
            }
        }
    }
}

extension UpdateRow {
    /// The JSON of one update (docs/CLI.md, `campaign updates --json`).
    func json(timeZone: String) -> [String: Any] {
        [
            "id": id.hex, "title": title, "text": text, "author": member(author), "posted": Dates.format(postedAt, timeZone: "UTC"),
            "posted_local": Dates.localForm(postedAt, timeZone: timeZone, midnightAsEndOfDay: false),
        ]
    }
}
