import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Real `whipround serve` processes on loopback: they find each other, converge, and stop cleanly on SIGTERM.
@Suite(.serialized) struct DaemonProcessTests {
    final class LogBuffer: Sendable {
        let text = Mutex("")
        func append(_ s: String) { text.withLock { $0 += s } }
        var value: String { text.withLock { $0 } }
    }

    final class Daemon {
        let process: Process
        let log = LogBuffer()

        init(_ cli: CLI, _ args: [String]) throws {
            process = Process()
            process.executableURL = CLI.binary
            process.arguments = ["serve", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--log-level", "info"] + args
            process.currentDirectoryURL = cli.cwd
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            let log = self.log
            err.fileHandleForReading.readabilityHandler = { h in
                let d = h.availableData
                log.append(String(decoding: d, as: UTF8.self))
            }
            try process.run()
        }

        /// The port from the "ready" log line.
        func port() async throws -> Int {
            for _ in 0..<200 {
                let text = log.value
                if let r = text.range(of: "listen.port=") {
                    let digits = text[r.upperBound...].prefix { $0.isNumber }
                    if let p = Int(digits) { return p }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw CancellationError()
        }

        /// The text of GET /metrics, on the port from the "metrics ready" log line.
        func metrics() async throws -> String {
            var port: Int?
            for _ in 0..<100 where port == nil {
                let text = log.value
                if let r = text.range(of: "metrics.port=") { port = Int(text[r.upperBound...].prefix { $0.isNumber }) }
                if port == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(try #require(port))/metrics")!)
            return String(decoding: data, as: UTF8.self)
        }

        func stop() -> Int32 {
            process.terminate()  // SIGTERM
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    func digest(_ cli: CLI, _ node: String) throws -> String {
        let s = try cli.json(["status", "--data", node])
        return ((s["communities"] as? [[String: Any]])?.first?["digest"] as? String) ?? ""
    }

    @Test func daemonsConvergeAndStopCleanly() async throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "hub", "--name", "Hub"])
        try cli.run(["init", "--data", "laptop", "--name", "Laptop"])
        try cli.run(["community", "create", "--data", "hub", "Elm Street"])
        let invite = try #require(try cli.json(["community", "invite", "--data", "hub"])["invite"] as? String)
        try cli.run(["community", "join", "--data", "laptop", invite])
        let laptop = try #require(try cli.json(["id", "--data", "laptop"])["id"] as? String)
        try cli.run(["community", "grant", "--data", "hub", "--role", "collector", laptop])
        let campaign = try #require(
            try cli.json(["campaign", "create", "--data", "hub", "--title", "Lido", "--goal", "100", "--closes", "2030-01-01"])["id"] as? String)
        try cli.run(["campaign", "publish", "--data", "hub", campaign])

        let hub = try Daemon(cli, ["--data", "hub"])
        let hubPort = try await hub.port()
        // The laptop only knows the hub from `peer add`; its daemon syncs with it at start.
        try cli.run(["peer", "add", "--data", "laptop", "127.0.0.1:\(hubPort)"])
        let lap = try Daemon(cli, ["--data", "laptop"])
        _ = try await lap.port()
        var converged = false
        for _ in 0..<100 where !converged {
            try await Task.sleep(for: .milliseconds(100))
            converged = try digest(cli, "hub") == digest(cli, "laptop") && !digest(cli, "hub").isEmpty
        }
        #expect(converged, "hub: \(hub.log.value)\nlaptop: \(lap.log.value)")
        let peers = try cli.run(["peer", "list", "--data", "laptop", "--json"]).stdout
        #expect(peers.contains("last_sync"))
        #expect(peers.contains("events_since_sync"))
        let statusText = try cli.run(["status", "--data", "laptop"]).stdout
        #expect(statusText.contains("last in sync") && statusText.contains("stored since"), "\(statusText)")

        // A pledge recorded with the CLI on the laptop reaches the hub over the live session, with no sync run.
        try cli.run(["pledge", "add", "--data", "laptop", "--campaign", campaign, "--name", "Bob", "--amount", "5"])
        var pushed = false
        for _ in 0..<100 where !pushed {
            try await Task.sleep(for: .milliseconds(100))
            pushed = try digest(cli, "hub") == digest(cli, "laptop")
        }
        #expect(pushed, "hub: \(hub.log.value)\nlaptop: \(lap.log.value)")
        // So a one-shot sync from the CLI against the running hub finds nothing to move.
        let sync = try cli.json(["sync", "--data", "laptop", "127.0.0.1:\(hubPort)"])
        let first = try #require((sync["communities"] as? [[String: Any]])?.first)
        #expect(first["sent"] as? Int == 0 && first["received"] as? Int == 0)

        // The hub's metrics endpoint counts the laptop's session and the pledge it pushed.
        let metrics = try await hub.metrics()
        #expect(metrics.contains("whipround_peers 1"), "\(metrics)")
        #expect(metrics.contains("whipround_events_received_total{result=\"accepted\"} 1"), "\(metrics)")

        // Stopping the hub says goodbye to the laptop's session: a clean end, not a cut connection.
        #expect(hub.stop() == 0)
        #expect(hub.log.value.contains("whipround stopped"))
        for _ in 0..<50 where !lap.log.value.contains("peer said goodbye") { try await Task.sleep(for: .milliseconds(100)) }
        #expect(lap.log.value.contains("peer said goodbye"), "\(lap.log.value)")
        #expect(lap.stop() == 0)
    }

    /// A sync that cannot happen fails with one line and a documented exit code, never a stack trace:
    /// nothing listening (74, I/O), and a daemon that is not a hub of our community (4, refused).
    @Test func failedSyncsExitWithADocumentedCode() async throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "laptop", "--name", "Laptop"])
        try cli.run(["community", "create", "--data", "laptop", "Elm Street"])
        let nobody = try cli.run(["sync", "--data", "laptop", "127.0.0.1:1"], expect: 74)
        #expect(nobody.stderr.hasPrefix("error: cannot connect to 127.0.0.1:1"), "\(nobody.stderr)")
        try cli.run(["init", "--data", "other", "--name", "Other"])
        try cli.run(["community", "create", "--data", "other", "Oak Road"])
        let other = try Daemon(cli, ["--data", "other"])
        let port = try await other.port()
        let stranger = try cli.run(["sync", "--data", "laptop", "127.0.0.1:\(port)"], expect: 4)
        #expect(stranger.stderr.hasPrefix("error: ") && stranger.stderr.contains("during the handshake"), "\(stranger.stderr)")
        #expect(!stranger.stderr.contains("Fatal") && stranger.stderr.split(separator: "\n").count == 1)
        #expect(other.stop() == 0)
    }

    @Test func serveRefusesBadSettingsClearly() throws {
        let cli = try CLI()
        try cli.run(["init", "--data", "n", "--name", "N"])
        let r = try cli.run(["serve", "--data", "n", "--listen", "nonsense"], expect: 2)
        #expect(r.stderr.contains("not an address"))
        let l = try cli.run(["serve", "--data", "n", "--log-level", "loud"], expect: 2)
        #expect(l.stderr.contains("log level"))
    }
}
