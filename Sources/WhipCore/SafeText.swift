/// Text checks and escapes shared by every layer that takes a name from a person or shows one on a terminal.
public enum SafeText {
    /// Whether the event rules refuse this scalar in a single-line field (C0 controls, line breaks, DEL).
    public static func isForbidden(_ s: Unicode.Scalar, multiline: Bool = false) -> Bool {
        (s.value < 0x20 && !(multiline && s == "\n")) || s.value == 0x7f
    }

    /// Refuses a name the event rules would refuse for a control character, before anything is written.
    public static func checkName(_ text: String, what: String) throws(WhipError) {
        if let bad = text.unicodeScalars.first(where: { isForbidden($0) }) {
            throw WhipError(
                .invalidArgument, "\(what) contains a control character (\(escape(bad))); use letters, digits, spaces and punctuation")
        }
    }

    /// Whether a scalar must not reach a terminal raw: C0 controls but line feed, DEL, C1 controls, and the
    /// bidirectional overrides and isolates that reorder what is shown.
    public static func needsEscape(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x0a: false
        case 0x00..<0x20, 0x7f..<0xa0, 0x200e, 0x200f, 0x202a...0x202e, 0x2066...0x2069: true
        default: false
        }
    }

    /// `text` with every scalar that `needsEscape` written as `\u{…}`, so a stored name cannot move the
    /// cursor, recolour the screen or reorder a line.
    public static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if needsEscape(s) { out.append(contentsOf: escape(s).unicodeScalars) } else { out.append(s) }
        }
        return String(out)
    }

    /// One line for an error message: escaped like `printable`, and line breaks written as `\n`.
    public static func oneLine(_ text: String) -> String {
        String(printable(text).split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n"))
    }

    static func escape(_ s: Unicode.Scalar) -> String {
        "\\u{" + String(s.value, radix: 16, uppercase: true) + "}"
    }
}
