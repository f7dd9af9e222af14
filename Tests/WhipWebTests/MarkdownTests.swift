import Foundation
import Testing
import WhipTestSupport
import WhipWeb

/// `Markdown.html`: stories and updates are Markdown from anyone who may organise, shown on public pages. Every
/// hostile input below must come out as allow-listed tags only, checked by a parser written here apart from the
/// renderer's own check.
@Suite(.timeLimit(.minutes(5))) struct MarkdownTests {
    /// Tags a story may produce, and the attributes each may carry.
    static let allowed: [String: Set<String>] = [
        "p": [], "br": [], "hr": [], "em": [], "strong": [], "s": [], "del": [], "code": ["class"], "pre": [], "blockquote": [],
        "ul": [], "ol": ["start"], "li": [], "h2": [], "h3": [], "h4": [], "h5": [], "h6": [], "a": ["href", "rel"],
        "table": [], "thead": [], "tbody": [], "tr": [], "th": ["align"], "td": ["align"],
    ]

    /// What is wrong with `html` (nothing when it is safe): each `<` must open an allowed tag whose attributes are
    /// allowed, double-quoted and free of `<`, `>` and `"`; an href must be http(s) or mailto once its entities are
    /// read; every link has our rel; no `&` starts anything but the five entities the renderer writes.
    static func problems(_ html: String) -> [String] {
        var found: [String] = []
        let chars = Array(html.unicodeScalars)
        var i = 0
        while i < chars.count {
            if chars[i] == "&" {
                let rest = String(String.UnicodeScalarView(chars[i..<min(chars.count, i + 6)]))
                if !["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].contains(where: { rest.hasPrefix($0) }) {
                    found.append("a raw & that is not an entity the renderer writes: \(rest)")
                }
                i += 1
                continue
            }
            if chars[i] == ">" { found.append("a raw > outside a tag") }
            guard chars[i] == "<" else {
                i += 1
                continue
            }
            guard let end = chars[i...].firstIndex(of: ">") else {
                found.append("an unclosed <")
                break
            }
            var tag = String(String.UnicodeScalarView(chars[(i + 1)..<end]))
            i = end + 1
            let closing = tag.hasPrefix("/")
            if closing { tag.removeFirst() }
            let name = String(tag.prefix { $0.isASCII && ($0.isLetter || $0.isNumber) })
            guard let attributes = allowed[name] else {
                found.append("tag <\(name)> is not allowed")
                continue
            }
            var rest = Substring(tag.dropFirst(name.count))
            if closing {
                if !rest.isEmpty { found.append("closing tag </\(name)\(rest)> has attributes") }
                continue
            }
            var seen: [String: String] = [:]
            while !rest.isEmpty {
                guard rest.first == " " else {
                    found.append("<\(name)>: junk \(rest)")
                    break
                }
                rest = rest.dropFirst()
                let attribute = String(rest.prefix { $0.isLetter })
                rest = rest.dropFirst(attribute.count)
                guard rest.hasPrefix("=\""), let close = rest.dropFirst(2).firstIndex(of: "\"") else {
                    found.append("<\(name)>: attribute \(attribute) is not double-quoted")
                    break
                }
                let value = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close])
                rest = rest[rest.index(after: close)...]
                guard attributes.contains(attribute) else {
                    found.append("<\(name)>: attribute \(attribute) is not allowed")
                    continue
                }
                if value.contains("<") || value.contains(">") { found.append("<\(name) \(attribute)>: < or > in the value") }
                seen[attribute] = value
            }
            if name == "a" {
                let href = (seen["href"] ?? "").replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
                    .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(
                        of: "&amp;", with: "&"
                    )
                    .lowercased()
                if !(href.hasPrefix("http://") || href.hasPrefix("https://") || href.hasPrefix("mailto:")) {
                    found.append("<a> with href \(href)")
                }
                if seen["rel"] != "nofollow noopener ugc" { found.append("<a> without rel=\"nofollow noopener ugc\"") }
            }
            if name == "code", let c = seen["class"], !c.hasPrefix("language-") || c.contains("&") {
                found.append("<code> with class \(c)")
            }
        }
        return found
    }

    /// Renders `source` and checks the output: allow-listed, no script, no event handler, no javascript: link.
    @discardableResult
    static func safe(_ source: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let html = Markdown.html(source)
        let lower = html.lowercased()
        #expect(problems(html).isEmpty, "\(source.debugDescription) → \(html): \(problems(html))", sourceLocation: sourceLocation)
        #expect(
            !lower.contains("<script") && !lower.contains("<img") && !lower.contains("<iframe") && !lower.contains("<h1"),
            sourceLocation: sourceLocation)
        #expect(
            lower.range(of: #"<[^>]*\son[a-z]+\s*="#, options: .regularExpression) == nil, "an event handler in \(html)",
            sourceLocation: sourceLocation)
        #expect(lower.range(of: #"href="\s*(javascript|data|vbscript)"#, options: .regularExpression) == nil, sourceLocation: sourceLocation)
        return html
    }

    static let hostile: [String] = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<IMG SRC=JaVaScRiPt:alert('XSS')>",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "<!-- a comment --><b>bold</b>",
        "<svg/onload=alert(1)>",
        "<BODY ONLOAD=alert('XSS')>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=http://example.org onclick=alert(1)>x</a>",
        "<style>body{display:none}</style>",
        "<form action=\"https://evil.example\"><input name=p></form>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x]( javascript:alert(1))",
        "[x](java&#x73;cript:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](<javascript:alert(1)>)",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](vbscript:msgbox(1))",
        "[x](java\tscript:alert(1))",
        "[x](%6Aavascript:alert(1))",
        "[x](https:javascript:alert(1))",
        "[x][a]\n\n[a]: javascript:alert(1)",
        "<javascript:alert(1)>",
        "![x](javascript:alert(1))",
        "![x](https://tracker.example/pixel.png)",
        "[x](https://example.org\" onmouseover=\"alert(1))",
        "[x](https://example.org\"><script>alert(1)</script>)",
        "[<img src=x onerror=alert(1)>](https://example.org)",
        "[![x](javascript:alert(1))](https://example.org)",
        "`<script>alert(1)</script>`",
        "```\n<img src=x onerror=alert(1)>\n```",
        "```js\" onmouseover=\"alert(1)\ncode\n```",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&#60;script&#62;alert(1)&#60;/script&#62;",
        "**<script>**alert(1)**</script>**",
        "> <script>alert(1)</script>",
        "| a | b |\n| --- | --- |\n| <script>x</script> | [y](javascript:alert(1)) |",
        "# <script>alert(1)</script>",
        "\u{E000}script\u{E002}>alert(1)\u{E000}/script>",
        "- <img src=x onerror=alert(1)>\n- [x](javascript:alert(1))",
        "1. <iframe srcdoc=\"<script>alert(1)</script>\">",
        "<<script>script>alert(1)<</script>/script>",
        "[x](\\javascript:alert(1))",
    ]

    @Test func hostileInputsRenderAsText() {
        #expect(Self.hostile.count >= 30)
        for source in Self.hostile { Self.safe(source) }
    }

    @Test func rawHTMLAndEntitiesShowLiterally() {
        #expect(Self.safe("<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>")
        #expect(Self.safe("<!-- hidden -->").contains("&lt;!-- hidden --&gt;"))
        // An entity is shown as typed, not decoded into markup.
        #expect(Self.safe("&lt;b&gt; &#60;i&#62;") == "<p>&amp;lt;b&amp;gt; &amp;#60;i&amp;#62;</p>")
        // Code shows HTML literally, escaped once, not twice.
        #expect(Self.safe("`<b>&</b>`") == "<p><code>&lt;b&gt;&amp;&lt;/b&gt;</code></p>")
        #expect(Self.safe("```\n<img src=x>\n```") == "<pre><code>&lt;img src=x&gt;\n</code></pre>")
        #expect(Self.safe("He said \"hi\" & left") == "<p>He said &quot;hi&quot; &amp; left</p>")
    }

    @Test func disallowedLinksKeepTheirTextOnly() {
        for source in [
            "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "[x](data:text/html,hi)", "[x][a]\n\n[a]: vbscript:x", "[x](/relative)",
        ] {
            #expect(Self.safe(source) == "<p>x</p>", "\(source)")
        }
        #expect(Self.safe("[x][nowhere]") == "<p>x</p>")
    }

    @Test func allowedLinksAreQuotedEscapedAndRel() {
        #expect(
            Self.safe("[Elm](https://example.org/?a=1&b=2)")
                == "<p><a href=\"https://example.org/?a=1&amp;b=2\" rel=\"nofollow noopener ugc\">Elm</a></p>")
        #expect(Self.safe("[mail](MAILTO:a@example.org)") == "<p><a href=\"MAILTO:a@example.org\" rel=\"nofollow noopener ugc\">mail</a></p>")
        #expect(Self.safe("[x](http://example.org \"a title\")") == "<p><a href=\"http://example.org\" rel=\"nofollow noopener ugc\">x</a></p>")
        // A quote or angle bracket is never part of a URL as typed: no link.
        #expect(Self.safe("[x](https://example.org/a\"b)") == "<p>x</p>")
        #expect(Self.safe("[x](https://example.org\"><script>alert(1)</script>)") == "<p>x</p>")
        #expect(Self.safe("[x](https://example.org/it's)") == "<p><a href=\"https://example.org/it&#39;s\" rel=\"nofollow noopener ugc\">x</a></p>")
        #expect(
            Self.safe("[x][ref]\n\n[ref]: https://example.org/r")
                == "<p><a href=\"https://example.org/r\" rel=\"nofollow noopener ugc\">x</a></p>")
    }

    @Test func imagesBecomeLinksAndAreNeverEmbedded() {
        // Ink reads an image that starts a block as a block of its own, outside any paragraph.
        #expect(
            Self.safe("![The pool](https://example.org/pool.jpg)")
                == "<a href=\"https://example.org/pool.jpg\" rel=\"nofollow noopener ugc\">The pool</a>")
        #expect(
            Self.safe("See ![](https://example.org/p.png)")
                == "<p>See <a href=\"https://example.org/p.png\" rel=\"nofollow noopener ugc\">image</a></p>")
        #expect(Self.safe("See ![alt](javascript:alert(1))") == "<p>See alt</p>")
        // An image inside a link: a link's text holds no brackets, so the outer one stays text; anchors never nest.
        let nested = Self.safe("[![badge](https://example.org/b.svg)](https://example.org)")
        #expect(nested == "<p>[<a href=\"https://example.org/b.svg\" rel=\"nofollow noopener ugc\">badge</a>](https://example.org)</p>")
    }

    @Test func headingsStartAtLevelTwo() {
        #expect(Self.safe("# Title") == "<h2>Title</h2>")
        #expect(Self.safe("## Section") == "<h2>Section</h2>")
        #expect(Self.safe("### Sub") == "<h3>Sub</h3>")
    }

    @Test func ordinaryMarkdownRenders() {
        #expect(Self.safe("Hello *world* and **you**") == "<p>Hello <em>world</em> and <strong>you</strong></p>")
        #expect(Self.safe("One\n\nTwo") == "<p>One</p><p>Two</p>")
        #expect(Self.safe("- a\n- b") == "<ul><li>a</li><li>b</li></ul>")
        #expect(Self.safe("3. c\n4. d") == "<ol start=\"3\"><li>c</li><li>d</li></ol>")
        #expect(Self.safe("> quoted") == "<blockquote><p>quoted</p></blockquote>")
        #expect(Self.safe("a `x < y` b") == "<p>a <code>x &lt; y</code> b</p>")
        #expect(Self.safe("```swift\nlet x = 1\n```") == "<pre><code class=\"language-swift\">let x = 1\n</code></pre>")
        #expect(Self.safe("```js\" onmouseover=\"x\ncode\n```") == "<pre><code>code\n</code></pre>")
        #expect(Self.safe("---") == "<hr>")
        #expect(Self.safe("~~gone~~") == "<p><s>gone</s></p>")
        #expect(Self.safe("| a | b |\n| :-- | --: |\n| 1 | 2 |").contains("<td align=\"left\">1</td>"))
        #expect(Self.safe("") == "")
    }

    /// Pathological inputs of about 8 KiB come back (no timing is asserted) and stay safe.
    @Test func pathologicalInputsReturn() {
        let inputs = [
            String(repeating: "[", count: 5_000), String(repeating: "*", count: 8_000), String(repeating: "*a ", count: 2_700),
            String(repeating: "<", count: 8_000), String(repeating: "`", count: 8_000), String(repeating: "![", count: 4_000),
            String(repeating: ">", count: 8_000), String(repeating: "#", count: 8_000), String(repeating: "|", count: 8_000),
            String(repeating: "- ", count: 4_000), String(repeating: "[x](", count: 2_000), String(repeating: "](", count: 4_000),
            String(repeating: "&", count: 8_000), String(repeating: "1. ", count: 2_700), String(repeating: "**_~~", count: 1_600),
            (0..<400).map { String(repeating: " ", count: $0 % 40) + "- item" }.joined(separator: "\n"),
        ]
        for source in inputs { Self.safe(source) }
    }

    /// Both checkers, the test's and the renderer's own last line of defence, have teeth.
    @Test func theCheckersCatchUnsafeHTML() {
        let unsafe = [
            "<script>x</script>", "<p onclick=\"x\">a</p>", "<a href=\"javascript:x\" rel=\"nofollow noopener ugc\">a</a>",
            "<a href=\"https://e.org\">a</a>", "<img src=\"https://e.org/i.png\">", "<p class=x>a</p>", "<h1>t</h1>", "<iframe>",
            "<a href=\"https://e.org\" rel=\"nofollow noopener ugc\" onmouseover=\"x\">a</a>", "<code class=\"x\">a</code>", "<p",
        ]
        for html in unsafe {
            #expect(!Self.problems(html).isEmpty, "\(html)")
            #expect(!Markdown.isAllowed(html), "\(html)")
        }
        #expect(!Self.problems("a & b").isEmpty && !Self.problems("a > b").isEmpty)
        #expect(Self.problems("<p><a href=\"https://e.org/?a=1&amp;b\" rel=\"nofollow noopener ugc\">x</a></p>").isEmpty)
        #expect(Markdown.isAllowed("<p><a href=\"https://e.org/?a=1&amp;b\" rel=\"nofollow noopener ugc\">x</a></p>"))
    }

    /// Random Markdown-ish text: every output passes the allow-list.
    @Test func randomInputsStayAllowListed() {
        var rng = SplitMix64(seed: 0x3A4D)
        let pieces = [
            "[", "]", "(", ")", "<", ">", "!", "*", "_", "~", "`", "#", "-", "|", "&", "\"", "'", "\n", " ", "\\", ":", "a", "x",
            "javascript:", "https://e.org", "mailto:", "&#x3C;", "<script>", "onerror=", "1.", ">",
        ]
        for _ in 0..<1_000 {
            let source = (0..<rng.int(in: 1...200)).map { _ in rng.pick(pieces) }.joined()
            Self.safe(source)
        }
    }
}
