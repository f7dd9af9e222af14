import Foundation
import GRDB
import Testing

/// Damaged, missing, read-only or unreachable data: one clear line and a documented exit code, never a crash
/// and never a silent reset.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DamagedDataTests {
    /// A node with a community, a live campaign and one pledge; returns the campaign id.
    func setUp(_ cli: CLI) throws -> String {
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let campaign = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--title", "Lido", "--goal", "100", "--closes", "2030-01-01"])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])
        try cli.run(["pledge", "add", "--data", "hub", "--campaign", campaign, "--name", "Bob", "--amount", "10"])
        return campaign
    }

    /// Runs SQL on a node's database as another program would (the sqlite3 shell).
    func tamper(_ cli: CLI, _ sql: String) throws {
        let db = try DatabaseQueue(path: cli.path("hub/whipround.sqlite"))
        try db.writeWithoutTransaction { try $0.execute(sql: sql) }
        try db.close()
    }

    /// One `error:` line, nothing of SQL or the library in it.
    func expectOneCleanLine(_ r: CLI.Output, _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && r.stderr.hasPrefix("error: "), "\(r.stderr)", sourceLocation: sourceLocation)
        for w in words { #expect(r.stderr.contains(w), "\(r.stderr) lacks \(w)", sourceLocation: sourceLocation) }
        for bad in ["SELECT", "SQLite error", "GRDB", "Row.swift", "Fatal"] {
            #expect(!r.stderr.contains(bad), "\(r.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func aDamagedSchemaIsOneLineAndExit74() throws {
        let cli = try CLI()
        let campaign = try setUp(cli)
        try tamper(cli, "ALTER TABLE pledges RENAME COLUMN backer_name TO bccker_name")
        for args in [
            ["campaign", "show", "--data", "hub", campaign], ["pledge", "list", "--data", "hub", "--campaign", campaign],
            ["export", "--data", "hub", "--campaign", campaign],
            ["pledge", "add", "--data", "hub", "--campaign", campaign, "--name", "Cat", "--amount", "5"],
        ] {
            expectOneCleanLine(try cli.run(args, expect: 74), ["damaged", "backup", "peer or a bundle"])
        }
        // The library's own words are for --verbose.
        let verbose = try cli.run(["campaign", "show", "--data", "hub", campaign, "--verbose"], expect: 74)
        #expect(verbose.stderr.contains("backer_name") && verbose.stderr.split(separator: "\n").last?.hasPrefix("error: ") == true)
    }

    @Test func damagedValuesAreOneLineAndExit74() throws {
        for sql in [
            "UPDATE campaigns SET goal_minor = 'lots'", "UPDATE campaigns SET currency = 'ZZZ'", "UPDATE pledges SET status = 9",
            "UPDATE pledges SET channel = 7", "UPDATE communities SET id = x'0102'", "UPDATE campaigns SET organisers = x'01'",
            "UPDATE campaigns SET phase = 'sideways'",
        ] {
            let cli = try CLI()
            let campaign = try setUp(cli)
            try tamper(cli, sql)
            let r = try cli.run(["campaign", "show", "--data", "hub", campaign], expect: 74)
            expectOneCleanLine(r, ["damaged"])
        }
    }

    @Test func aMissingOrEmptyReplicaIsNeverReplaced() throws {
        let cli = try CLI()
        _ = try setUp(cli)
        let db = cli.path("hub/whipround.sqlite")
        try FileManager.default.removeItem(atPath: db)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        for args in [["status", "--data", "hub"], ["community", "list", "--data", "hub"], ["id", "--data", "hub"]] {
            expectOneCleanLine(try cli.run(args, expect: 74), ["missing", "backup", "--new-replica"])
            #expect(!FileManager.default.fileExists(atPath: db))
        }
        #expect(FileManager.default.createFile(atPath: db, contents: Data()))
        expectOneCleanLine(try cli.run(["status", "--data", "hub"], expect: 74), ["empty", "--new-replica"])
        #expect(try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int == 0)
        // Rebuilding keeps the identity.
        let id = try String(contentsOfFile: cli.path("hub/identity.key"), encoding: .utf8)
        try cli.run(["init", "--data", "hub", "--new-replica"])
        #expect(try String(contentsOfFile: cli.path("hub/identity.key"), encoding: .utf8) == id)
        #expect(try cli.run(["status", "--data", "hub"]).stdout.contains("No communities yet"))
        // A second --new-replica would replace a live replica: refused.
        try cli.run(["init", "--data", "hub", "--new-replica"], expect: 6)
    }

    @Test func initRefusesAReplicaWhoseIdentityIsLost() throws {
        let cli = try CLI()
        _ = try setUp(cli)
        let before = try Data(contentsOf: URL(fileURLWithPath: cli.path("hub/whipround.sqlite")))
        try FileManager.default.removeItem(atPath: cli.path("hub/identity.key"))
        expectOneCleanLine(try cli.run(["init", "--data", "hub"], expect: 6), ["identity.key", "backup"])
        #expect(!FileManager.default.fileExists(atPath: cli.path("hub/identity.key")))
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.path("hub/whipround.sqlite"))) == before)
        expectOneCleanLine(try cli.run(["status", "--data", "hub"], expect: 3), ["identity.key", "backup"])
    }

    @Test func doctorRunsTheIntegrityCheck() throws {
        let cli = try CLI()
        _ = try setUp(cli)
        #expect(try cli.run(["doctor", "--data", "hub"]).stdout.contains("integrity: ok"))
        try tamper(
            cli,
            """
            PRAGMA writable_schema = ON;
            UPDATE sqlite_schema SET sql = 'CREATE INDEX partitions_by_community ON partitions(max_wall)' WHERE name = 'partitions_by_community';
            """)
        let r = try cli.run(["doctor", "--data", "hub"], expect: 74)
        expectOneCleanLine(r, ["integrity check", "backup"])
        #expect(r.stdout.contains("missing from index"))
    }

    @Test func doctorVerifyRechecksEverySignature() throws {
        let cli = try CLI()
        _ = try setUp(cli)
        let ok = try cli.json(["doctor", "--data", "hub", "--verify"])
        #expect(ok["verified_events"] as? Int == 4 && (ok["bad_events"] as? [Any])?.isEmpty == true)
        // Flip one byte of the last stored event's signature (its last byte): it still decodes, so only
        // a signature check finds it.
        try tamper(
            cli,
            """
            UPDATE events SET raw = CAST(substr(raw, 1, length(raw) - 1) || CASE WHEN substr(raw, -1) = x'00' THEN x'01' ELSE x'00' END AS BLOB)
            WHERE seq = (SELECT max(seq) FROM events)
            """)
        try cli.run(["doctor", "--data", "hub"])
        let r = try cli.run(["doctor", "--data", "hub", "--verify"], expect: 74)
        expectOneCleanLine(r, ["1 stored event", "backup"])
        #expect(r.stdout.contains("bad_signature"))
    }

    @Test func aBadCommunityNameLeavesNothingBehind() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        for name in ["Elm\tStreet", "\u{1B}[31mRed", "Two\nLines"] {
            expectOneCleanLine(try cli.run(["community", "create", "--data", "hub", name], expect: 2), ["control character"])
        }
        #expect(try cli.run(["community", "list", "--data", "hub"]).stdout.contains("No communities yet"))
        let keys = (try? FileManager.default.contentsOfDirectory(atPath: cli.path("hub/communities"))) ?? []
        #expect(keys.isEmpty)
        // The one community made afterwards needs no --community.
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        try cli.run(["campaign", "create", "--data", "hub", "--title", "Lido", "--goal", "100", "--closes", "2030-01-01"])
    }

    @Test func namesReachTheTerminalEscaped() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        // C1 controls and bidirectional overrides pass the event rules but must not reach a terminal raw.
        try cli.run(["community", "create", "--data", "hub", "Caf\u{9B}2J\u{202E}e"])
        let text = try cli.run(["community", "list", "--data", "hub"]).stdout
        #expect(!text.unicodeScalars.contains { $0.value == 0x9B || $0.value == 0x202E })
        #expect(text.contains("Caf\\u{9B}2J\\u{202E}e"))
        let json = try cli.run(["community", "list", "--data", "hub", "--json"]).stdout
        #expect(!json.unicodeScalars.contains { $0.value == 0x9B || $0.value == 0x202E })
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(parsed.first?["name"] as? String == "Caf\u{9B}2J\u{202E}e")
    }

    @Test func theDataDirectoryMustBeADirectory() throws {
        let cli = try CLI()
        expectOneCleanLine(try cli.run(["status", "--data", ""], expect: 2), ["data directory is empty"])
        expectOneCleanLine(try cli.run(["init", "--data", "", "--name", "X"], expect: 2), ["data directory is empty"])
        #expect(FileManager.default.createFile(atPath: cli.path("afile"), contents: Data("x".utf8)))
        expectOneCleanLine(try cli.run(["status", "--data", "afile"], expect: 2), ["is a file"])
        expectOneCleanLine(try cli.run(["init", "--data", "afile"], expect: 2), ["is a file"])
        expectOneCleanLine(try cli.run(["status", "--data", "afile/sub"], expect: 2), ["not a directory"])
    }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct ReadOnlyDataTests {
    func chmod(_ path: String, _ mode: Int) throws {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    @Test func readCommandsWorkOnAReadOnlyReplica() throws {
        let cli = try CLI()
        let campaign = try DamagedDataTests().setUp(cli)
        let dir = cli.path("hub")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        for f in files where f != "communities" { try chmod(dir + "/" + f, 0o400) }
        try chmod(dir, 0o500)
        defer {
            try? chmod(dir, 0o700)
            for f in files where f != "communities" { try? chmod(dir + "/" + f, 0o600) }
        }
        let u = cli.unprivileged
        #expect(try u.run(["status", "--data", "hub"], expect: 0).stdout.contains("Elm Street"))
        #expect(try u.run(["campaign", "show", "--data", "hub", campaign], expect: 0).stdout.contains("Bob"))
        try u.run(["pledge", "list", "--data", "hub", "--campaign", campaign, "--json"], expect: 0)
        try u.run(["export", "--data", "hub", "--campaign", campaign], expect: 0)
        try u.run(["doctor", "--data", "hub", "--verify"], expect: 0)
        let write = try u.run(["pledge", "add", "--data", "hub", "--campaign", campaign, "--name", "Cat", "--amount", "5"], expect: 74)
        #expect(write.stderr.contains("read-only") && write.stderr.split(separator: "\n").count == 1, "\(write.stderr)")
        #expect(!files.contains { $0.hasSuffix("-shm") } || FileManager.default.fileExists(atPath: dir + "/whipround.sqlite-shm"))
    }

    @Test func anUnreadableDirectorySaysPermissionDenied() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        let dir = cli.path("hub")
        try chmod(dir, 0o000)
        defer { try? chmod(dir, 0o700) }
        let r = try cli.unprivileged.run(["status", "--data", "hub"], expect: 74)
        #expect(r.stderr.contains("permission denied") && !r.stderr.contains("no node"), "\(r.stderr)")
        try chmod(dir, 0o700)
        try chmod(dir + "/identity.key", 0o000)
        let k = try cli.unprivileged.run(["status", "--data", "hub"], expect: 74)
        #expect(k.stderr.contains("permission denied"), "\(k.stderr)")
    }
}
