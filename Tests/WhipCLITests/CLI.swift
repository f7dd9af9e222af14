import Foundation
import Testing

/// Runs the built `whipround` binary, as a user would.
struct CLI {
    let cwd: URL

    static let binary: URL = {
        // Tests/WhipCLITests/CLI.swift → package root → .build/debug/whipround
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for config in ["debug", "release"] {
            let url = root.appendingPathComponent(".build/\(config)/whipround")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return root.appendingPathComponent(".build/debug/whipround")
    }()

    init() throws {
        cwd = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
    }

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
        func json() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], "not JSON: \(stdout) \(stderr)")
        }
    }

    @discardableResult
    func run(_ args: [String], expect: Int32? = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> Output {
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = args
        p.currentDirectoryURL = cwd
        var env = ProcessInfo.processInfo.environment
        env["WHIPROUND_DATA"] = nil
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let result = Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
        if let expect {
            #expect(result.status == expect, "whipround \(args.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        }
        return result
    }

    func json(_ args: [String]) throws -> [String: Any] { try run(args + ["--json"]).json() }

    func path(_ name: String) -> String { cwd.appendingPathComponent(name).path }
}
