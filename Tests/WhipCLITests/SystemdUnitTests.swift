import Foundation
import Testing

/// `systemd-analyze verify` accepts the shipped unit (with ExecStart pointed at the built binary).
@Suite(.timeLimit(.minutes(10))) struct SystemdUnitTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: analyze != nil, "systemd-analyze is not installed"))
    func unitVerifies() throws {
        let unit = try String(contentsOf: Self.root.appendingPathComponent("systemd/whipround.service"), encoding: .utf8)
        #expect(unit.contains("DynamicUser=yes") && unit.contains("StateDirectory=whipround"))
        #expect(unit.contains("ProtectSystem=strict") && unit.contains("NoNewPrivileges=yes") && unit.contains("Restart=on-failure"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let local = unit.replacingOccurrences(of: "/usr/local/bin/whipround", with: CLI.binary.path)
        let file = dir.appendingPathComponent("whipround.service")
        try local.write(to: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.analyze!)
        p.arguments = ["verify", file.path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = err
        try p.run()
        let out = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "systemd-analyze verify: \(out)")
        #expect(!out.contains("whipround.service:"), "warnings: \(out)")
    }
}
