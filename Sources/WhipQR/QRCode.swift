import CQRencode
public import WhipCore

/// A QR code made by Debian's libqrencode, as a square of modules, drawn for a terminal or as SVG.
public struct QRCode: Sendable, Equatable {
    /// Modules per side, quiet zone excluded.
    public let size: Int
    /// Row-major modules; true is dark.
    public let modules: [Bool]

    /// Modules of light border QR readers need around the code (ISO/IEC 18004 asks for four).
    public static let quietZone = 4
    /// The longest text encoded: a desk link is far shorter, and a longer code is hard to scan from a screen.
    public static let maxTextBytes = 1_024

    /// Encodes `text` (byte mode, error correction M: readable from a laptop screen at an angle).
    public init(_ text: String) throws(WhipError) {
        guard !text.isEmpty, text.utf8.count <= Self.maxTextBytes, !text.utf8.contains(0) else {
            throw WhipError(.invalidArgument, "a QR code holds 1 to \(Self.maxTextBytes) bytes of text without NUL")
        }
        guard let code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M) else {
            throw WhipError(.internalError, "libqrencode could not encode \(text.utf8.count) bytes")
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        // Bit 0 of each byte is the module's colour; the other bits describe what the module is part of.
        let data = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        size = width
        modules = data.map { $0 & 1 == 1 }
    }

    /// Whether the module at `row`, `column` is dark; outside the code (the quiet zone) is light.
    public func isDark(row: Int, column: Int) -> Bool {
        guard row >= 0, column >= 0, row < size, column < size else { return false }
        return modules[row * size + column]
    }

    /// The code as text for a terminal, two module rows per line in UTF-8 half blocks, with its quiet zone.
    ///
    /// With `ansi`, each line forces black on white, so it scans whatever the terminal's colours; without, dark
    /// modules are drawn as blocks, which reads correctly only on a light background (paper, a file).
    public func terminalText(ansi: Bool) -> String {
        let q = Self.quietZone
        var out = ""
        var row = -q
        while row < size + q {
            if ansi { out += "\u{1B}[30;47m" }
            for column in -q..<(size + q) {
                switch (isDark(row: row, column: column), isDark(row: row + 1, column: column)) {
                case (true, true): out += "█"
                case (true, false): out += "▀"
                case (false, true): out += "▄"
                case (false, false): out += " "
                }
            }
            if ansi { out += "\u{1B}[0m" }
            out += "\n"
            row += 2
        }
        return out
    }

    /// The code as a standalone SVG drawing, one path of unit squares, with its quiet zone, `pixels` wide.
    public func svg(pixels: Int = 256) -> String {
        let side = size + 2 * Self.quietZone
        var path = ""
        for row in 0..<size {
            var column = 0
            while column < size {
                guard isDark(row: row, column: column) else {
                    column += 1
                    continue
                }
                // Runs of dark modules become one rectangle, which keeps the drawing small.
                var end = column
                while end < size && isDark(row: row, column: end) { end += 1 }
                path += "M\(column + Self.quietZone) \(row + Self.quietZone)h\(end - column)v1h-\(end - column)z"
                column = end
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(side) \(side)" width="\(pixels)" height="\(pixels)" \
            shape-rendering="crispEdges" role="img" aria-label="QR code"><rect width="\(side)" height="\(side)" fill="#fff"/>\
            <path d="\(path)" fill="#000"/></svg>
            """
    }
}
