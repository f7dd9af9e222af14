import Foundation
import Testing
import WhipQR

/// QR codes come from libqrencode; these tests check what Whipround draws from its modules.
@Suite(.timeLimit(.minutes(2))) struct QRCodeTests {
    @Test func aLinkBecomesASquareCodeWithFinderPatterns() throws {
        let code = try QRCode("http://192.168.1.20:8480/desk?code=ABCD-EFGH-JKMN")
        #expect(code.size >= 21 && (code.size - 17) % 4 == 0)
        #expect(code.modules.count == code.size * code.size)
        // The three finder patterns: a dark 7x7 ring with a dark 3x3 centre at three corners.
        for (r, c) in [(0, 0), (0, code.size - 7), (code.size - 7, 0)] {
            #expect(code.isDark(row: r, column: c) && code.isDark(row: r + 6, column: c + 6))
            #expect(!code.isDark(row: r + 1, column: c + 1) && code.isDark(row: r + 3, column: c + 3))
        }
        #expect(!code.isDark(row: -1, column: 0) && !code.isDark(row: code.size, column: 0))
    }

    @Test func theTerminalDrawingHasTwoModuleRowsPerLineAndItsQuietZone() throws {
        let code = try QRCode("whipround")
        let side = code.size + 2 * QRCode.quietZone
        let lines = code.terminalText(ansi: false).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == (side + 1) / 2)
        #expect(lines.allSatisfy { $0.count == side })
        #expect(lines.first?.allSatisfy { $0 == " " } == true)
        // Line 2 holds module rows 0 and 1 (after the quiet zone's four rows): the finder's top edge is dark
        // over dark, so a full block.
        #expect(Array(lines[2])[QRCode.quietZone] == "█")
        let ansi = code.terminalText(ansi: true)
        #expect(ansi.hasPrefix("\u{1B}[30;47m") && ansi.contains("\u{1B}[0m\n"))
    }

    @Test func theSVGDrawsEveryDarkModuleOnce() throws {
        let code = try QRCode("https://example.org/c/1")
        let svg = code.svg()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        // Each run is "M x yhNv1h-Nz"; the widths add up to the dark modules.
        let widths = svg.split(separator: "h").dropFirst().compactMap { part -> Int? in
            guard !part.hasPrefix("-"), let v = part.split(separator: "v").first else { return nil }
            return Int(v)
        }
        #expect(widths.reduce(0, +) == code.modules.filter { $0 }.count)
    }

    @Test func emptyOrOversizedTextIsRefused() {
        #expect(throws: (any Error).self) { try QRCode("") }
        #expect(throws: (any Error).self) { try QRCode(String(repeating: "x", count: QRCode.maxTextBytes + 1)) }
    }

    @Test func zbarReadsTheCodeBack() throws {
        // An independent decoder (Debian's zbar-tools, installed by scripts/deps.sh), reading the modules drawn
        // into a PGM image.
        let zbar = "/usr/bin/zbarimg"
        try #require(FileManager.default.isExecutableFile(atPath: zbar), "zbarimg is missing: run scripts/deps.sh")
        let text = "http://127.0.0.1:8480/desk?code=Q7XK-M2PD-W9RT"
        let code = try QRCode(text)
        let scale = 6
        let side = (code.size + 2 * QRCode.quietZone) * scale
        var pgm = Array("P5 \(side) \(side) 255\n".utf8)
        for y in 0..<side {
            for x in 0..<side {
                let dark = code.isDark(row: y / scale - QRCode.quietZone, column: x / scale - QRCode.quietZone)
                pgm.append(dark ? 0 : 255)
            }
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-qr-\(UUID().uuidString).pgm")
        try Data(pgm).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: zbar)
        p.arguments = ["--quiet", "--raw", file.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == text)
    }
}
