import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import WhipCore
import WhipDaemon
import WhipNet
import WhipNode

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `PeerMetrics` counts what it is told, per instance; `MetricsServer` serves it over HTTP and stops cleanly.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MetricsTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// The samples of a text exposition, keyed by name and labels as written, e.g. `m{result="ok"}`.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = value
        }
        return out
    }

    @Test func renderShowsEveryMetricWithItsValue() {
        let m = PeerMetrics()
        m.peerConnected()
        m.peerConnected()
        m.peerDisconnected()
        m.received(accepted: 5, duplicates: 2, rejected: ["bad_signature": 3, "community_not_joined": 1])
        m.received(accepted: 1, duplicates: 0, rejected: ["bad_signature": 1])
        m.sent(events: 7)
        m.sent(events: 4)
        m.bytes(received: 1_000)
        m.bytes(sent: 250, message: 3)
        m.bytes(sent: 40, message: 3)
        m.bytes(sent: 10, message: 5)
        m.bytes(sent: 50, message: nil)
        m.bytes(sent: 99, message: 99)  // not a message type: counted nowhere
        m.reconcileRound()
        m.reconcileRound()
        m.handshake(ok: true)
        m.handshake(ok: true)
        m.handshake(ok: false)
        m.refused(reason: "too_many_connections")
        m.refused(reason: "too_many_from_address")
        m.refused(reason: "too_many_connections")

        let text = m.render()
        let s = Self.samples(text)
        #expect(s["whipround_peers"] == 1)
        #expect(s[#"whipround_events_received_total{result="accepted"}"#] == 6)
        #expect(s[#"whipround_events_received_total{result="duplicate"}"#] == 2)
        #expect(s[#"whipround_events_received_total{result="rejected"}"#] == 5)
        #expect(s[#"whipround_events_rejected_total{reason="bad_signature"}"#] == 4)
        #expect(s[#"whipround_events_rejected_total{reason="community_not_joined"}"#] == 1)
        #expect(s["whipround_events_sent_total"] == 11)
        #expect(s["whipround_bytes_received_total"] == 1_000)
        #expect(s[#"whipround_bytes_sent_total{type="events"}"#] == 290)
        #expect(s[#"whipround_bytes_sent_total{type="announce"}"#] == 10)
        #expect(s[#"whipround_bytes_sent_total{type="handshake"}"#] == 50)
        #expect(s[#"whipround_bytes_sent_total{type="want"}"#] == 0)
        #expect(s.filter { $0.key.hasPrefix("whipround_bytes_sent_total") }.values.reduce(0, +) == 350)
        #expect(s.keys.filter { $0.hasPrefix("whipround_bytes_sent_total") }.count == 11)  // ten message types and the handshake
        #expect(s["whipround_reconcile_rounds_total"] == 2)
        #expect(s[#"whipround_handshakes_total{result="ok"}"#] == 2)
        #expect(s[#"whipround_handshakes_total{result="failed"}"#] == 1)
        #expect(s[#"whipround_connections_refused_total{reason="too_many_connections"}"#] == 2)
        #expect(s[#"whipround_connections_refused_total{reason="too_many_from_address"}"#] == 1)
        #expect(text.contains("# TYPE whipround_peers gauge\n"))
        #expect(text.contains("# TYPE whipround_events_received_total counter\n"))
        #expect(text.contains("# HELP whipround_events_sent_total "))
        #expect(s.keys.allSatisfy { $0.hasPrefix("whipround_") })
    }

    @Test func freshMetricsAreZeroAndNegativeAmountsDoNotTrap() {
        let m = PeerMetrics()
        m.sent(events: -3)
        m.bytes(received: -1)
        let s = Self.samples(m.render())
        #expect(s["whipround_peers"] == 0)
        #expect(s["whipround_events_sent_total"] == 0)
        #expect(s["whipround_bytes_received_total"] == 0)
        #expect(s[#"whipround_events_received_total{result="accepted"}"#] == 0)
        #expect(s[#"whipround_handshakes_total{result="failed"}"#] == 0)
        #expect(!s.keys.contains { $0.hasPrefix("whipround_events_rejected_total") })  // no reason seen yet
    }

    @Test func instancesAreIndependent() {
        let a = PeerMetrics()
        let b = PeerMetrics()
        a.peerConnected()
        a.sent(events: 3)
        a.received(accepted: 0, duplicates: 0, rejected: ["bad_signature": 2])
        a.refused(reason: "too_many_connections")
        let sa = Self.samples(a.render())
        let sb = Self.samples(b.render())
        #expect(sa["whipround_peers"] == 1)
        #expect(sa["whipround_events_sent_total"] == 3)
        #expect(sb["whipround_peers"] == 0)
        #expect(sb["whipround_events_sent_total"] == 0)
        #expect(sb[#"whipround_events_received_total{result="rejected"}"#] == 0)
        #expect(!sb.keys.contains { $0.contains("bad_signature") || $0.contains("too_many_connections") })
    }

    /// Runs a metrics server on an ephemeral loopback port; returns its group, the task running it, and the port.
    func start(_ metrics: PeerMetrics) async throws -> (ServiceGroup, Task<Void, any Error>, Int) {
        let port = Mutex<Int>(0)
        let server = MetricsServer(listen: HostPort(host: "127.0.0.1", port: 0), metrics: metrics, logger: Self.logger) { p in
            port.withLock { $0 = p }
        }
        let group = ServiceGroup(services: [server], logger: Self.logger)
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while port.withLock({ $0 }) == 0 {
            guard ContinuousClock.now < deadline else { throw WhipError(.io, "metrics server did not bind") }
            try await Task.sleep(for: .milliseconds(10))
        }
        return (group, running, port.withLock { $0 })
    }

    /// Each scrape reads from the replica: events stored, events held for a future timestamp, refused events
    /// on record by reason, and distinct peers connected.
    @Test func scrapeShowsStoredHeldRejectedAndConnected() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-metrics-\(UUID().uuidString)").path
        let node = try Node.initialise(dir: DataDir(path: dir), name: "n", logger: Self.logger)
        let c = try node.createCommunity(name: "Elm Street")
        let ahead = Event.sign(
            community: c.id, author: node.identity, hlc: HLC(wall: node.now + 3_600_000),
            body: .roleRevoked(RoleRevoked(member: node.identity.publicKey, role: .collector)))
        let r = try node.store.ingest([ahead.wire, [0x01, 0x02]], source: .peer, now: node.now)
        #expect(r.held == 1 && r.rejectedCount == 1)
        let metrics = PeerMetrics()
        let exchange = try Exchange(node: node, logger: Self.logger, metrics: metrics)
        let port = Mutex<Int>(0)
        let server = MetricsServer(
            listen: HostPort(host: "127.0.0.1", port: 0), metrics: metrics, logger: Self.logger, onBound: { p in port.withLock { $0 = p } },
            sample: { try? await exchange.sampleMetrics() })
        let group = ServiceGroup(services: [server], logger: Self.logger)
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while port.withLock({ $0 }) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let ok = try await RawHTTP.fetch(port: port.withLock { $0 }, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let s = Self.samples(ok.body)
        #expect(s["whipround_events_stored"] == Double(try node.store.eventCount()), "\(ok.body)")
        #expect(s["whipround_events_held"] == 1)
        #expect(s["whipround_peers_connected"] == 0)
        let refused = s.filter { $0.key.hasPrefix("whipround_rejections{reason=") }
        #expect(refused.count == 1 && refused.values.first == 1, "\(refused)")
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test func serverAnswersMetricsAndRefusesTheRest() async throws {
        let metrics = PeerMetrics()
        metrics.sent(events: 42)
        metrics.peerConnected()
        let (group, running, port) = try await start(metrics)

        let ok = try await RawHTTP.fetch(port: port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(ok.status == 200)
        #expect(ok.header("content-type") == "text/plain; version=0.0.4")
        #expect(ok.header("content-length") == "\(ok.body.utf8.count)")
        #expect(Self.samples(ok.body)["whipround_events_sent_total"] == 42)
        #expect(Self.samples(ok.body)["whipround_peers"] == 1)

        metrics.sent(events: 1)  // each scrape renders afresh
        let again = try await RawHTTP.fetch(port: port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n")
        #expect(again.status == 200)
        #expect(Self.samples(again.body)["whipround_events_sent_total"] == 43)

        let other = try await RawHTTP.fetch(port: port, "GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(other.status == 404)
        let post = try await RawHTTP.fetch(port: port, "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi")
        #expect(post.status == 405)
        #expect(post.header("allow") == "GET")

        await group.triggerGracefulShutdown()
        try await running.value
        await #expect(throws: RawHTTP.Failure.self) { try await RawHTTP.fetch(port: port, "GET /metrics HTTP/1.1\r\n\r\n") }
    }

    /// A client that connects and says nothing must not hold up shutdown.
    @Test func idleConnectionDoesNotDelayShutdown() async throws {
        let (group, running, port) = try await start(PeerMetrics())
        let idle = try RawHTTP.dial(port: port)
        defer { close(idle) }
        try await Task.sleep(for: .milliseconds(50))  // let the server accept it
        let started = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func bindFailureIsAnIOError() async throws {
        let (group, running, port) = try await start(PeerMetrics())
        let second = MetricsServer(listen: HostPort(host: "127.0.0.1", port: port), metrics: PeerMetrics(), logger: Self.logger)
        do {
            try await second.run()
            Issue.record("a second server bound a port already in use")
        } catch let e as WhipError {
            #expect(e.code == .io)
            #expect(e.message.hasPrefix("cannot listen on 127.0.0.1:\(port) for metrics: address already in use (another program"))
        }
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

/// Just enough blocking HTTP/1.x over a loopback socket: send a request, read until the server closes.
enum RawHTTP {
    struct Failure: Error { let what: String }

    struct Response {
        let status: Int
        let headers: [(String, String)]
        let body: String

        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
    }

    /// A connected socket with a 5 s receive timeout.
    static func dial(port: Int) throws -> Int32 {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(what: "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw Failure(what: "connect: errno \(e)")
        }
        return fd
    }

    /// `request` on a thread of its own: its blocking socket calls must not hold one of the few threads the
    /// server under test needs to answer (the cooperative pool has one per core).
    static func fetch(port: Int, _ text: String) async throws -> Response {
        try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread { c.resume(with: Result { try request(port: port, text) }) }
        }
    }

    static func request(port: Int, _ text: String) throws -> Response {
        let fd = try dial(port: port)
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(what: "send: errno \(errno)") }
            sent += n
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n >= 0 else { throw Failure(what: "recv: errno \(errno)") }
            if n == 0 { break }
            received += chunk[..<n]
        }
        let whole = String(decoding: received, as: UTF8.self)
        guard let split = whole.range(of: "\r\n\r\n") else { throw Failure(what: "no response head in \(whole.debugDescription)") }
        let lines = whole[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusWords = lines[0].split(separator: " ")
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else { throw Failure(what: "bad status line \(lines[0])") }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Response(status: status, headers: headers, body: String(whole[split.upperBound...]))
    }
}
