import Foundation
import Testing

/// The command line as the README documents it: one `error:` line and exit 2 for a mistyped command line,
/// the user's words in messages, and a benchmark that refuses what would crash it.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CommandLineTests {
    func expectOneLine(_ r: CLI.Output, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test func parserErrorsAreOneLineAndExit2() throws {
        let cli = try CLI()
        for args in [
            ["campaign", "show"], ["--no-such-flag"], ["nosuchcommand"], ["pledge", "add", "--campaign"], ["status", "--limit", "3"],
            ["help", "nosuchcommand"], ["help", "pledge", "nosuch"],
        ] {
            let r = try cli.run(args, expect: 2)
            expectOneLine(r)
            #expect(r.stdout.isEmpty && !r.stderr.contains("USAGE"), "\(args): \(r.stderr)")
        }
        #expect(try cli.run(["campaign", "show"], expect: 2).stderr.contains("whipround help campaign show"))
    }

    @Test func helpAndVersionStillPrint() throws {
        let cli = try CLI()
        #expect(try cli.run(["--help"]).stdout.contains("USAGE"))
        #expect(try cli.run(["help"]).stdout.contains("USAGE"))
        #expect(try cli.run(["help", "pledge", "add"]).stdout.contains("--amount"))
        #expect(try cli.run(["pledge", "add", "--help"]).stdout.contains("--amount"))
        #expect(try cli.run(["--version"]).stdout.contains("0.1.0"))
    }

    @Test func aNegativeAmountIsRefusedInWords() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let campaign = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--title", "Lido", "--goal", "100", "--closes", "2030-01-01"])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])
        let r = try cli.run(["pledge", "add", "--data", "hub", "--campaign", campaign, "--name", "Bob", "--amount", "-5"], expect: 2)
        expectOneLine(r)
        #expect(r.stderr.contains("must be positive") && !r.stderr.contains("Missing value"), "\(r.stderr)")
        let g = try cli.run(["campaign", "create", "--data", "hub", "--title", "T", "--goal", "-100", "--closes", "2030-01-01"], expect: 2)
        #expect(g.stderr.contains("must be positive"), "\(g.stderr)")
    }

    @Test func refusalsSpeakTheUsersWords() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["init", "--data", "laptop", "--name", "Laptop"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let campaign = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--title", "Lido", "--goal", "100", "--closes", "2030-01-01"])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])
        let invite = try #require(try cli.json(["community", "invite", "--data", "hub"])["invite"] as? String)
        try cli.run(["community", "join", "--data", "laptop", invite])
        try cli.run(["bundle", "export", "--data", "hub", "--out", "hub.bundle"])
        try cli.run(["bundle", "import", "--data", "laptop", "hub.bundle"])
        // The laptop holds no role yet.
        let r = try cli.run(["pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "Bob", "--amount", "5"], expect: 4)
        expectOneLine(r)
        #expect(r.stderr.contains("cannot record the pledge") && !r.stderr.contains("pledge.made"), "\(r.stderr)")
    }

    @Test func benchRefusesCountsThatWouldCrashIt() throws {
        let cli = try CLI()
        for args in [
            ["bench", "--events", "0"], ["bench", "--events", "-1"], ["bench", "--samples", "0"], ["bench", "--events", "100000000000"],
            ["bench", "--memory-only", "--memory-events", "0"], ["bench", "--network", "--mesh-nodes", "3", "--mesh-degree", "0"],
            ["bench", "--network", "--mesh-nodes", "3", "--mesh-degree", "3"], ["bench", "--network", "--events", "-5"],
        ] {
            expectOneLine(try cli.run(args, expect: 2))
        }
    }

    @Test func benchWorksUnderDataAndLeavesNothingBehind() throws {
        let cli = try CLI()
        let parent = cli.path("scratch")
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        // What a killed run left (its process is gone), and a file that is not a run's.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let stale = parent + "/run-\(gone.processIdentifier)-bulk"
        try FileManager.default.createDirectory(atPath: stale + "/gen", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: parent + "/keep.txt", contents: Data("mine".utf8)))
        let r = try cli.run(["bench", "--data", "scratch", "--events", "50", "--samples", "2"])
        #expect(r.stdout.contains("bulk ingest:"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == ["keep.txt"])
    }

    @Test func anInterruptedBenchRemovesItsDirectory() throws {
        let cli = try CLI()
        let parent = cli.path("scratch")
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["bench", "--data", parent, "--events", "2000000", "--samples", "1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait (bounded) until the run has made its directory, then interrupt it.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).isEmpty {
            usleep(20_000)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).count == 1)
        p.interrupt()
        p.waitUntilExit()
        #expect(p.terminationStatus == 130)
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).isEmpty)
    }
}
