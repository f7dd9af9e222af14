import Foundation
import Ink

/// Markdown for campaign stories and updates, rendered to HTML that is safe to put in a public page.
///
/// Ink parses the Markdown but passes raw HTML and entities through, and puts link targets in attributes as they
/// are. So before Ink sees the source, every `<`, `&` and `"` in it is swapped for a private-use stand-in: Ink can
/// then neither find a tag nor an entity, nor end an attribute early, and after rendering each stand-in becomes
/// `&lt;`, `&amp;` or `&quot;` (in text and code alike, so code shows `<b>` once escaped, never twice). Ink's
/// modifiers then rebuild what carries a value:
///
/// - **links** keep only `http:`, `https:` and `mailto:` targets (any case, after trimming), written escaped and
///   quoted, with `rel="nofollow noopener ugc"`; any other target (`javascript:`, `data:`, `vbscript:`, a relative
///   or entity-encoded one, an undefined reference) leaves the link's text without a link;
/// - **images are never embedded**: a public page that loads a third-party image tells that server who is reading
///   it. An image becomes a link to it (text: its alt text, or "image"), under the same rules as links;
/// - **headings** `#` become `<h2>`: the page's own title is its only `<h1>`;
/// - **code blocks** keep a `language-…` class only when the name is letters, digits and `+-_.#`.
///
/// Finally the output is checked tag by tag against the allow-list `allowedTags`; anything else (which the steps
/// above should make impossible) makes the whole source render as escaped plain text instead.
public enum Markdown {
    /// The HTML of `source`: only allow-listed tags, every attribute value quoted and escaped.
    public static func html(_ source: String) -> String {
        let rendered = parser.html(from: shield(source))
        let html = unshield(rendered)
        return isAllowed(html) ? html : plain(source)
    }

    /// Tags the renderer may emit, with the attributes each may carry (values are checked apart).
    public static let allowedTags: [String: Set<String>] = [
        "p": [], "br": [], "hr": [], "em": [], "strong": [], "s": [], "del": [], "code": ["class"], "pre": [],
        "blockquote": [], "ul": [], "ol": ["start"], "li": [], "h2": [], "h3": [], "h4": [], "h5": [], "h6": [],
        "a": ["href", "rel"], "table": [], "thead": [], "tbody": [], "tr": [], "th": ["align"], "td": ["align"],
    ]

    /// The `rel` of every link: no ranking credit, no `window.opener`, user-generated content.
    public static let linkRel = "nofollow noopener ugc"

    // MARK: - Stand-ins

    static let lt: Character = "\u{E000}"
    static let amp: Character = "\u{E001}"
    static let quot: Character = "\u{E002}"
    /// A `[` that starts no link Ink may parse: shown as `[`, never parsed.
    static let bracket: Character = "\u{E003}"

    /// The source with `<`, `&` and `"` swapped for stand-ins (stand-ins already there become U+FFFD), line breaks
    /// made `\n`, and every `[` that does not start a simple link (`plainBrackets`) made a stand-in.
    static func shield(_ source: String) -> String {
        plainBrackets(shieldCharacters(source))
    }

    /// The source with `<`, `&` and `"` swapped for stand-ins, and line breaks made `\n`.
    static func shieldCharacters(_ source: String) -> String {
        var out = ""
        out.reserveCapacity(source.utf8.count)
        // A CRLF (a browser's form sends them) is one line break, not two: a lone CR becomes one too.
        var afterCR = false
        for s in source.unicodeScalars {
            defer { afterCR = s == "\r" }
            if s == "\n" && afterCR { continue }
            switch s {
            case "<": out.append(lt)
            case "&": out.append(amp)
            case "\"": out.append(quot)
            case "\r": out.append("\n")
            case "\u{E000}"..."\u{E003}": out.append("\u{FFFD}")
            // Other C0 controls and DEL mean nothing in Markdown; a tab stays (Ink reads it as indentation).
            case "\u{0}"..."\u{8}", "\u{B}"..."\u{1F}", "\u{7F}": out.append("\u{FFFD}")
            default: out.unicodeScalars.append(s)
            }
        }
        return out
    }

    /// `text` with every `[` made a stand-in unless it starts a link Ink reads in one pass: `[text](url)`,
    /// `[text][name]` or `[name]: url`, on one line, with no `[`, `]`, backtick or backslash in the text (the `url` as
    /// Ink reads it: up to the `)` that balances its parentheses). Ink parses a `[` by reading the text after it as
    /// Markdown until a `]`, nesting for every `[` inside and starting again one character on after every failed
    /// attempt, which takes exponential time on text such as 5,000 `[`; a link whose text holds no bracket cannot
    /// nest and cannot fail. Works on `Character`s, as Ink does, so both see the same brackets.
    static func plainBrackets(_ text: String) -> String {
        guard text.contains("[") else { return text }
        let c = Array(text)
        var out = c
        var i = 0
        while i < c.count {
            guard c[i] == "[" else {
                i += 1
                continue
            }
            var j = i + 1
            while j < c.count, !c[j].isNewline, !["[", "]", "`", "\\"].contains(c[j]) { j += 1 }
            var end: Int? = nil
            if j < c.count, c[j] == "]", j + 1 < c.count {
                switch c[j + 1] {
                case "(":
                    var k = j + 2
                    var balance = 0
                    while k < c.count, !c[k].isNewline {
                        if c[k] == ")" {
                            if balance == 0 {
                                end = k
                                break
                            }
                            balance -= 1
                        } else if c[k] == "(" {
                            balance += 1
                        }
                        k += 1
                    }
                case "[":
                    var k = j + 2
                    while k < c.count, !c[k].isNewline, c[k] != "]" { k += 1 }
                    if k < c.count, c[k] == "]" { end = k }
                case ":":
                    end = j + 1
                default:
                    break
                }
            }
            if let end {
                i = end + 1
            } else {
                out[i] = bracket
                i += 1
            }
        }
        return String(out)
    }

    /// Rendered HTML with each stand-in escaped.
    static func unshield(_ html: String) -> String {
        var out = ""
        out.reserveCapacity(html.utf8.count)
        for c in html {
            switch c {
            case lt: out += "&lt;"
            case amp: out += "&amp;"
            case quot: out += "&quot;"
            case bracket: out += "["
            default: out.append(c)
            }
        }
        return out
    }

    /// A raw string (stand-ins turned back into what they stood for).
    static func raw(_ shielded: Substring) -> String {
        String(
            shielded.map { c -> Character in
                switch c {
                case lt: "<"
                case amp: "&"
                case quot: "\""
                case bracket: "["
                default: c
                }
            })
    }

    /// Text for an HTML text node or a quoted attribute value: the pages' one escaper (`Pages.escapeXML`).
    public static func escape(_ s: String) -> String { Pages.escapeXML(s) }

    /// The whole source as escaped paragraphs: the fallback when the rendered output fails the allow-list.
    static func plain(_ source: String) -> String {
        let paragraphs = source.replacingCR().split(separator: "\n\n", omittingEmptySubsequences: true)
        return paragraphs.map { "<p>" + escape(String($0)).replacingLF(with: "<br>") + "</p>" }.joined()
    }

    // MARK: - Links and images

    /// `target` as an href when it is an `http:`, `https:` or `mailto:` URL, else nil. Surrounding whitespace and
    /// `<…>` are dropped, and so is a title after the URL (`[x](url "title")`); a URL holding a control character,
    /// a backslash, a quote, a backtick, `<` or `>` is refused.
    public static func safeURL(_ target: String) -> String? {
        var t = Substring(target).trimmingASCIIWhitespace()
        if t.hasPrefix("<") && t.hasSuffix(">") && t.count >= 2 { t = t.dropFirst().dropLast().trimmingASCIIWhitespace() }
        if let space = t.firstIndex(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) { t = t[..<space] }
        // Never valid unencoded in a URL, and the stuff of attribute and tag injection.
        let refused: Set<Unicode.Scalar> = ["\\", "\"", "<", ">", "`"]
        guard !t.isEmpty, !t.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f || refused.contains($0) }) else { return nil }
        let lower = t.lowercased()
        let schemes = ["http://", "https://", "mailto:"]
        guard let scheme = schemes.first(where: { lower.hasPrefix($0) }), t.count > scheme.count else { return nil }
        return String(t)
    }

    /// `<a href="…" rel="…">text</a>`, or `text` alone when the target is not allowed.
    static func link(_ target: String, text: String) -> String {
        guard let url = safeURL(target) else { return text }
        return "<a href=\"\(escape(url))\" rel=\"\(linkRel)\">\(text)</a>"
    }

    /// Ink's `<a href="URL">TEXT</a>`, rebuilt. URL holds no `"` (it is a stand-in), so the first `">` ends it.
    static func rebuildLink(_ html: String) -> String {
        let prefix = "<a href=\""
        guard html.hasPrefix(prefix), html.hasSuffix("</a>"),
            let end = html.range(of: "\">", range: html.index(html.startIndex, offsetBy: prefix.count)..<html.endIndex)
        else { return "" }
        let target = raw(html[html.index(html.startIndex, offsetBy: prefix.count)..<end.lowerBound])
        let text = stripAnchors(String(html[end.upperBound..<html.index(html.endIndex, offsetBy: -4)]))
        return link(target, text: text)
    }

    /// Ink's `<img src="URL" alt="ALT"/>` (alt absent when empty), rebuilt as a link to the image.
    static func rebuildImage(_ html: String) -> String {
        let prefix = "<img src=\""
        guard html.hasPrefix(prefix), html.hasSuffix("/>") else { return "" }
        let afterPrefix = html.index(html.startIndex, offsetBy: prefix.count)
        guard let urlEnd = html[afterPrefix...].firstIndex(of: "\"") else { return "" }
        let target = raw(html[afterPrefix..<urlEnd])
        var alt = ""
        let rest = html[html.index(after: urlEnd)..<html.index(html.endIndex, offsetBy: -2)]
        let altPrefix = " alt=\""
        if rest.hasPrefix(altPrefix), rest.hasSuffix("\""), rest.count > altPrefix.count {
            alt = stripAnchors(String(rest.dropFirst(altPrefix.count).dropLast()))
        }
        return link(target, text: alt.isEmpty ? "image" : alt)
    }

    /// `html` without `<a …>` and `</a>` tags (an image's link inside a link's text: anchors do not nest).
    static func stripAnchors(_ html: String) -> String {
        guard html.contains("<a ") || html.contains("</a>") else { return html }
        var out = ""
        var i = html.startIndex
        while i < html.endIndex {
            let rest = html[i...]
            if rest.hasPrefix("<a "), let close = rest.firstIndex(of: ">") {
                i = html.index(after: close)
            } else if rest.hasPrefix("</a>") {
                i = html.index(i, offsetBy: 4)
            } else {
                out.append(html[i])
                i = html.index(after: i)
            }
        }
        return out
    }

    // MARK: - Headings and code

    /// `<h1>` becomes `<h2>`; other levels stay.
    static func clampHeading(_ html: String) -> String {
        guard html.hasPrefix("<h1>"), html.hasSuffix("</h1>") else { return html }
        return "<h2>" + html.dropFirst(4).dropLast(5) + "</h2>"
    }

    /// A fenced block's `language-…` class kept only for a plain language name.
    static func rebuildCodeBlock(_ html: String) -> String {
        let prefix = "<pre><code class=\"language-"
        guard html.hasPrefix(prefix), let end = html.range(of: "\">", range: html.index(html.startIndex, offsetBy: prefix.count)..<html.endIndex)
        else { return html }
        let language = html[html.index(html.startIndex, offsetBy: prefix.count)..<end.lowerBound]
        let plainName =
            !language.isEmpty && language.count <= 32
            && language.unicodeScalars.allSatisfy { s in
                ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || "+-_.#".unicodeScalars.contains(s)
            }
        let open = plainName ? "<pre><code class=\"language-\(language)\">" : "<pre><code>"
        return open + html[end.upperBound...]
    }

    /// A parser with the modifiers above; made per call (Ink's parser is not `Sendable`, and it is cheap to make).
    static var parser: MarkdownParser {
        MarkdownParser(modifiers: [
            // No raw HTML can reach Ink (`<` is a stand-in), but should any fragment be taken for HTML, it is shown as text.
            Modifier(target: .html) { input in escape(raw(input.markdown)) },
            Modifier(target: .links) { input in rebuildLink(input.html) },
            Modifier(target: .images) { input in rebuildImage(input.html) },
            Modifier(target: .headings) { input in clampHeading(input.html) },
            Modifier(target: .codeBlocks) { input in rebuildCodeBlock(input.html) },
        ])
    }

    // MARK: - The allow-list

    /// Whether every tag of `html` is an allowed one with allowed attributes (each once), each value double-quoted,
    /// free of `<`, `>` and raw `"`, every link with an allowed `href` and our `rel`; and no `<` starts anything but a
    /// tag.
    public static func isAllowed(_ html: String) -> Bool {
        var i = html.startIndex
        while let open = html[i...].firstIndex(of: "<") {
            guard let close = html[open...].firstIndex(of: ">") else { return false }
            guard checkTag(html[html.index(after: open)..<close]) else { return false }
            i = html.index(after: close)
        }
        return true
    }

    static func checkTag(_ tag: Substring) -> Bool {
        var t = tag
        let closing = t.hasPrefix("/")
        if closing { t = t.dropFirst() }
        let name = t.prefix { $0.isLetter || $0.isNumber }
        guard let attributes = allowedTags[String(name)], !name.isEmpty, name.allSatisfy(\.isASCII) else { return false }
        var rest = t.dropFirst(name.count)
        if closing { return rest.isEmpty }
        var seen: Set<Substring> = []
        while !rest.isEmpty {
            guard rest.hasPrefix(" ") else { return false }
            rest = rest.dropFirst()
            let attr = rest.prefix { $0.isLetter }
            guard attributes.contains(String(attr)), seen.insert(attr).inserted else { return false }
            rest = rest.dropFirst(attr.count)
            guard rest.hasPrefix("=\"") else { return false }
            rest = rest.dropFirst(2)
            guard let end = rest.firstIndex(of: "\"") else { return false }
            let value = rest[..<end]
            guard !value.contains("<"), !value.contains(">") else { return false }
            switch attr {
            case "href": guard safeURL(unescapeAttribute(value)) != nil else { return false }
            case "rel": guard value == linkRel else { return false }
            case "start": guard !value.isEmpty, value.allSatisfy(\.isASCII), value.allSatisfy(\.isNumber) else { return false }
            case "align": guard ["left", "center", "right"].contains(value) else { return false }
            case "class": guard value.hasPrefix("language-"), !value.contains("&") else { return false }
            default: return false
            }
            rest = rest[rest.index(after: end)...]
        }
        // Every link has a target and our rel.
        return name != "a" || seen == ["href", "rel"]
    }

    /// An attribute value as the browser reads it, for the entities `escape` writes.
    static func unescapeAttribute(_ v: Substring) -> String {
        v.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}

extension Substring {
    fileprivate func trimmingASCIIWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0C}" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}

extension String {
    fileprivate func replacingCR() -> String {
        replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
    }

    fileprivate func replacingLF(with s: String) -> String { replacingOccurrences(of: "\n", with: s) }
}
