import Foundation
import Testing
import WhipCore
import WhipDaemon
import WhipNet

@Suite(.timeLimit(.minutes(10))) struct ConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped example documents every key with its default, so parsing it must give exactly the defaults.
    @Test func shippedExampleIsTheDefaults() throws {
        let c = try DaemonConfig.load(path: Self.root.appendingPathComponent("Config/whipround.toml").path)
        #expect(c == DaemonConfig())
    }

    @Test func valuesAreRead() throws {
        let c = try DaemonConfig.parse(
            toml: """
                data_dir = "/var/lib/whipround"
                log_level = "debug"
                [network]
                listen = "[::1]:9000"
                peers = ["hub.local:7878", "10.0.0.2:7879"]
                [metrics]
                listen = ""
                [limits]
                max_connections = 8
                max_handshakes = 5
                inbound_queue_bytes = 262144
                batch_events = 500
                max_refused_events = 20
                [timers]
                handshake_timeout_seconds = 2.5
                frame_timeout_seconds = 4
                announce_delay_seconds = 0.25
                local_poll_seconds = 2
                """)
        #expect(c.dataDir == "/var/lib/whipround" && c.logLevel == "debug")
        #expect(c.listen == HostPort(host: "::1", port: 9000))
        #expect(c.peers == [HostPort(host: "hub.local", port: 7878), HostPort(host: "10.0.0.2", port: 7879)])
        #expect(c.metricsListen == nil)
        // A metrics address set in the file (even "" for off) is the user's: it must bind. The default need not.
        #expect(!c.metricsListenIsDefault && DaemonConfig().metricsListenIsDefault)
        #expect(c.limits.maxHandshakes == 5 && DaemonConfig().limits.maxHandshakes == 32)
        #expect(c.limits.maxConnections == 8 && c.timers.handshakeTimeout == 2.5)
        #expect(c.timers.frameTimeout == 4 && DaemonConfig().timers.frameTimeout == 15)
        #expect(SessionSettings(c).frameTimeout == 4)
        let s = SessionSettings(c)
        #expect(s.inboundQueueBytes == 262_144 && s.commitBatch == 500 && s.maxRefusedEvents == 20 && s.announceDelay == 0.25)
        #expect(c.timers.localPoll == 2)
    }

    @Test(arguments: [
        ("lisen = 1", "unknown key lisen"),
        ("[network]\nlisten = 7878", "network.listen must be a string"),
        ("[network]\nlisten = \"nohost\"", "not an address"),
        ("[network]\npeers = [\"a:0\"]", "not an address"),
        ("[limits]\nmax_frame_bytes = 70000", "limits.max_frame_bytes must be a whole number from 61440 to 65535"),
        // Below the protocol's floor a legal peer's reconciliation or events frame would be refused.
        ("[limits]\nmax_frame_bytes = 4096", "limits.max_frame_bytes must be a whole number from 61440 to 65535"),
        ("[limits]\nmax_conections = 3", "unknown key limits.max_conections"),
        ("[timers]\nidle_timeout_seconds = -1", "timers.idle_timeout_seconds must be a number of seconds"),
        ("[timers]\nkeep_alive_seconds = 200", "keep_alive_seconds must be less than"),
        ("[timers]\nframe_timeout_seconds = 0", "timers.frame_timeout_seconds must be a number of seconds"),
        ("[limits]\ninbound_queue_bytes = 1000", "limits.inbound_queue_bytes must be a whole number from 65536"),
        ("[limits]\ninbound_queue_events = 2048", "unknown key limits.inbound_queue_events"),
        ("log_level = \"loud\"", "log_level must be one of"),
        ("network = 3", "network must be a table"),
        ("[network\nlisten=", "config:"),
    ])
    func badConfigNamesTheKey(toml: String, expected: String) {
        do {
            _ = try DaemonConfig.parse(toml: toml)
            Issue.record("accepted: \(toml)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func addresses() throws {
        #expect(try HostPort(parsing: "127.0.0.1:7878") == HostPort(host: "127.0.0.1", port: 7878))
        #expect(try HostPort(parsing: "[fe80::1]:1").description == "[fe80::1]:1")
        for bad in ["", ":1", "host", "host:", "host:65536", "fe80::1:7878", "[::1]7878"] {
            #expect(throws: WhipError.self, "\(bad)") { try HostPort(parsing: bad) }
        }
    }
}
