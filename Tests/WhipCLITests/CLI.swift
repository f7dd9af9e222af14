import Foundation
import Testing

/// Runs the built `whipround` binary, as a user would.
struct CLI {
    let cwd: URL
    /// A program and its arguments that run the binary (e.g. `setpriv …`), or none to run it directly.
    var launcher: [String] = []

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
        if let program = launcher.first {
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = launcher.dropFirst() + [CLI.binary.path] + args
        } else {
            p.executableURL = CLI.binary
            p.arguments = args
        }
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

    /// The same binary without root's override of file permissions, so read-only and unreadable data behave
    /// for root (as in a container) as they do for everyone else.
    var unprivileged: CLI {
        var c = self
        if getuid() == 0 { c.launcher = ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"] }
        return c
    }

    /// Two nodes in `hub` and `laptop`, in one community "Elm Street" the hub founded, the laptop a member that
    /// the hub made a collector (unless `grant` is false); returns the laptop's member id.
    @discardableResult
    func hubAndLaptop(hub: String = "Hub", laptop: String = "Laptop", grant: Bool = true) throws -> String {
        try run(["init", "--data", "hub", "--name", hub])
        try run(["init", "--data", "laptop", "--name", laptop])
        try run(["community", "create", "--data", "hub", "Elm Street"])
        let invite = try #require(try json(["community", "invite", "--data", "hub"])["invite"] as? String)
        try run(["community", "join", "--data", "laptop", invite])
        let id = try #require(try json(["id", "--data", "laptop"])["id"] as? String)
        if grant { try run(["community", "grant", "--data", "hub", "--role", "collector", id]) }
        return id
    }

    func json(_ args: [String]) throws -> [String: Any] { try run(args + ["--json"]).json() }

    func path(_ name: String) -> String { cwd.appendingPathComponent(name).path }
}
