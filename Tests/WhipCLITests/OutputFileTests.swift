import Foundation
import Testing
import WhipCore
import WhipNode

/// `--out` writes a file by an atomic rename and never deletes anything else.
@Suite(.serialized, .timeLimit(.minutes(10))) struct OutputFileTests {
    /// A node with one community and one campaign; returns the campaign id.
    func setUp(_ cli: CLI) throws -> String {
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        return try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--title", "Lido", "--goal", "10", "--closes", "2030-01-01"])["id"] as? String)
    }

    /// A directory holding one precious file.
    func backups(_ cli: CLI) throws -> String {
        let dir = cli.path("backups")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: dir + "/old.bundle"))
        return dir
    }

    func leftovers(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".partial") }
    }

    @Test func aDirectoryIsRefusedAndKept() throws {
        let cli = try CLI()
        let campaign = try setUp(cli)
        let dir = try backups(cli)
        for out in ["backups", "backups/", dir, dir + "/"] {
            for args in [["bundle", "export", "--data", "hub", "--out", out], ["export", "--data", "hub", "--campaign", campaign, "--out", out]] {
                let r = try cli.run(args, expect: 2)
                #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains("directory"), "\(r.stderr)")
                #expect(r.stderr.split(separator: "\n").count == 1)
                #expect(try String(contentsOfFile: dir + "/old.bundle", encoding: .utf8) == "precious")
            }
        }
        #expect(try leftovers(dir).isEmpty && leftovers(cli.cwd.path).isEmpty)
    }

    @Test func aFileIsReplacedWholeAndNothingIsLeftBehind() throws {
        let cli = try CLI()
        let campaign = try setUp(cli)
        try Data("old".utf8).write(to: URL(fileURLWithPath: cli.path("out.bundle")))
        try Data("not mine".utf8).write(to: URL(fileURLWithPath: cli.path("out.bundle.partial")))
        try cli.run(["bundle", "export", "--data", "hub", "--out", "out.bundle"])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: cli.path("out.bundle"))))
        #expect(try EventBundle.decode(bytes).events.count == 2)
        // A file that only looks like a temporary file is someone else's: untouched.
        #expect(try String(contentsOfFile: cli.path("out.bundle.partial"), encoding: .utf8) == "not mine")
        try cli.run(["export", "--data", "hub", "--campaign", campaign, "--out", "pledges.csv"])
        #expect(try String(contentsOfFile: cli.path("pledges.csv"), encoding: .utf8).hasPrefix("pledge,backer,"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.cwd.path).filter { $0.hasPrefix(".") }.isEmpty)
        // A missing directory is a clear error.
        let r = try cli.run(["bundle", "export", "--data", "hub", "--out", "nowhere/x.bundle"], expect: 3)
        #expect(r.stderr.contains("does not exist"))
    }

    @Test func aFailedWriteLeavesTheTargetAsItWas() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-atomic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/file"
        try AtomicFile.write(Array("first".utf8), to: target)
        #expect(throws: WhipError.self) {
            try AtomicFile.write(to: target) { (w: AtomicFile.Writer) throws(WhipError) in
                try w.write(String(repeating: "x", count: 3 * AtomicFile.bufferBytes))
                throw WhipError(.io, "the stream broke")
            }
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "first")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["file"])
        try AtomicFile.write(to: target) { (w: AtomicFile.Writer) throws(WhipError) in
            for i in 0..<100_000 { try w.write("\(i)\n") }
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8).hasSuffix("99999\n"))
        // A symbolic link is followed: the file it names is replaced, the link stays.
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: target)
        try AtomicFile.write(Array("via link".utf8), to: dir + "/link")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "via link")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link") == target)
    }
}
