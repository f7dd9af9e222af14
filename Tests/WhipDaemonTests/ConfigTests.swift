import Foundation
import Testing
import WhipCore
import WhipDaemon
import WhipNet
import WhipWeb

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
        ("[web]\nlisten = \"nohost\"", "web.listen: 'nohost' is not an address"),
        ("[web]\nlisten = 8480", "web.listen must be a string"),
        ("[web]\nlisen = \"127.0.0.1:8480\"", "unknown key web.lisen"),
        ("[web]\npublic_url = \"ftp://hall.local\"", "web.public_url must be an http:// or https:// URL"),
        ("[web]\npublic_url = \"http://\"", "web.public_url must be an http:// or https:// URL"),
        ("[web]\npublic_url = \"http://a b\"", "web.public_url must be an http:// or https:// URL"),
        ("[web]\nmax_body_bytes = 100", "web.max_body_bytes must be a whole number from 1024 to 1048576"),
        ("[web]\nrequests_per_minute_per_address = 0", "web.requests_per_minute_per_address must be a whole number from 1"),
        ("[web]\npledges_per_minute_per_desk = -1", "web.pledges_per_minute_per_desk must be a whole number from 1"),
        (
            "[web]\npairing_attempts_per_minute_per_address = 5000",
            "web.pairing_attempts_per_minute_per_address must be a whole number from 1 to 1000"
        ),
        ("[web]\nmax_event_streams = 0", "web.max_event_streams must be a whole number from 1"),
        ("[web]\nidle_timeout_seconds = 0", "web.idle_timeout_seconds must be a number of seconds"),
        ("web = \"on\"", "web must be a table"),
        ("[web]\ntrusted_proxies = [\"proxy.local\"]", "trusted_proxies: 'proxy.local' is not an IP address"),
        ("[web]\noffers_per_minute_per_address = 0", "web.offers_per_minute_per_address must be a whole number from 1 to 1000"),
    ])
    func badConfigNamesTheKey(toml: String, expected: String) {
        do {
            _ = try DaemonConfig.parse(toml: toml)
            Issue.record("accepted: \(toml)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    /// `[web]`: an address, "" for off, a public URL and every limit are read; unset keys keep the defaults.
    @Test func webTableIsRead() throws {
        let d = DaemonConfig()
        #expect(d.web.host == "127.0.0.1" && d.web.port == 8480 && d.web.publicURL == nil && d.webListenIsDefault)
        #expect(d.web.limits.maxBodyBytes == 16_384 && d.web.limits.pairingAttemptsPerMinutePerAddress == 10)
        let c = try DaemonConfig.parse(
            toml: """
                [web]
                listen = "0.0.0.0:9090"
                public_url = "http://192.168.1.20:9090/"
                max_body_bytes = 4096
                requests_per_minute_per_address = 100
                pledges_per_minute_per_desk = 30
                pairing_attempts_per_minute_per_address = 5
                max_event_streams = 16
                idle_timeout_seconds = 2.5
                trusted_proxies = ["127.0.0.1", "::1"]
                offers_per_minute_per_address = 7
                """)
        #expect(c.web.host == "0.0.0.0" && c.web.port == 9090 && !c.webListenIsDefault)
        #expect(c.web.publicURL == "http://192.168.1.20:9090", "stored without the trailing slash")
        let l = c.web.limits
        #expect(l.maxBodyBytes == 4096 && l.requestsPerMinutePerAddress == 100 && l.pledgesPerMinutePerDesk == 30)
        #expect(l.pairingAttemptsPerMinutePerAddress == 5 && l.maxEventStreams == 16 && l.idleTimeoutSeconds == 2.5)
        #expect(c.web.trustedProxies == ["127.0.0.1", "::1"] && l.offersPerMinutePerAddress == 7 && d.web.trustedProxies.isEmpty)
        let off = try DaemonConfig.parse(toml: "[web]\nlisten = \"\"\npublic_url = \"\"")
        #expect(off.web.host == nil && off.web.publicURL == nil && !off.webListenIsDefault)
        #expect(off.web.limits == DaemonConfig().web.limits)
        let v6 = try DaemonConfig.parse(toml: "[web]\nlisten = \"[::]:0\"")
        #expect(v6.web.host == "::" && v6.web.port == 0)
    }

    /// The URL phones are given: the configured one, else the bound host; where someone at the node should look.
    @Test func webAddressForPhones() throws {
        var w = WebConfig()
        #expect(WebAddress.url(config: w, boundPort: 8480) == "http://127.0.0.1:8480")
        w.host = "fe80::1"
        #expect(WebAddress.url(config: w, boundPort: 81) == "http://[fe80::1]:81")
        w.host = "0.0.0.0"
        let lan = WebAddress.url(config: w, boundPort: 8480)
        #expect(lan.hasPrefix("http://") && lan.hasSuffix(":8480") && !lan.contains("0.0.0.0"), "\(lan)")
        w.publicURL = "http://hall.local:8480/"
        #expect(WebAddress.url(config: w, boundPort: 8480) == "http://hall.local:8480")
        #expect(WebAddress.localURL(host: "0.0.0.0", port: 8480) == "http://127.0.0.1:8480/")
        #expect(WebAddress.localURL(host: "127.0.0.1", port: 1) == "http://127.0.0.1:1/")
        #expect(WebAddress.isLoopback("127.0.0.1") && WebAddress.isLoopback("::1") && !WebAddress.isLoopback("0.0.0.0"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("weburl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(WebAddress.read(dataDir: dir) == nil)
        try "http://192.168.1.20:8480\n".write(toFile: dir + "/web.url", atomically: true, encoding: .utf8)
        #expect(WebAddress.read(dataDir: dir) == "http://192.168.1.20:8480")
    }

    @Test func addresses() throws {
        #expect(try HostPort(parsing: "127.0.0.1:7878") == HostPort(host: "127.0.0.1", port: 7878))
        #expect(try HostPort(parsing: "[fe80::1]:1").description == "[fe80::1]:1")
        for bad in ["", ":1", "host", "host:", "host:65536", "fe80::1:7878", "[::1]7878"] {
            #expect(throws: WhipError.self, "\(bad)") { try HostPort(parsing: bad) }
        }
    }
}
