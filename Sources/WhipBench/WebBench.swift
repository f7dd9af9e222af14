import Dispatch
import Foundation
public import Logging
import ServiceLifecycle
import Synchronization
import WhipCore
import WhipNode
import WhipStore
import WhipWeb

#if canImport(Glibc)
    import Glibc
#endif

/// `whipround bench --web`: the pledge desk's HTTP API under 20 desks at once, beside the `Node.emit` rate of the
/// same run; the delay from a desk's POST to the progress update another page's event stream receives; page
/// weight; and what the web server adds to the node's memory.
public enum WebBench {
    /// Runs the figures in a scratch node under `parent`, printing each line.
    public static func run(pledges: Int, desks: Int, parent: String, logger: Logger, print out: @escaping @Sendable (String) -> Void)
        async throws
    {
        let base = try BenchDirectory.make(parent: parent, label: "web")
        defer { try? FileManager.default.removeItem(atPath: base) }
        out("whipround bench --web: \(pledges) pledges from \(desks) desks over loopback, \(System.coreCount) cores")
        let node = try Node.initialise(dir: DataDir(path: base + "/node"), name: "bench", logger: logger)
        let info = try node.createCommunity(name: "Bench")
        func campaign(_ title: String) throws -> CampaignRow {
            let created = try node.emit(
                info.id,
                .campaignCreated(
                    CampaignCreated(
                        title: title, description: "", goal: 100_000_000, currency: Currency(code: "GBP")!, model: .keepWhatYouRaise, opens: 0,
                        closes: node.now + 30 * 86_400_000, timeZone: "Europe/London", organisers: [])))
            _ = try node.emit(info.id, .campaignPublished(CampaignRef(campaign: created.id)))
            return try node.campaign(created.id.hex)
        }

        // The bound: pledges with a name and sealed contact signed and committed one after another by Node.emit
        // (recordPledge), as the CLI's `pledge add` does, off the cooperative pool.
        let direct = try campaign("Direct")
        let boundCount = max(200, pledges / 2)
        let boundStart = DispatchTime.now().uptimeNanoseconds
        for i in 0..<boundCount {
            _ = try await node.write { _ throws(WhipError) in
                let parts = try node.pledgeParts(name: "Backer \(i)", anonymous: false, contact: Contact(email: "b\(i)@example.org"), for: direct)
                return try node.recordPledge(
                    direct, amount: Money(minor: 1_000, currency: direct.goal.currency), tier: nil, channel: .inPerson, paid: .cash, parts: parts)
            }
        }
        let boundRate = Double(boundCount) / (Double(DispatchTime.now().uptimeNanoseconds - boundStart) / 1e9)

        let c = try campaign("Desks")
        let rssBefore = rssBytes()
        var config = WebConfig()
        config.host = "127.0.0.1"
        config.port = 0
        config.limits.requestsPerMinutePerAddress = 10_000_000
        config.limits.pledgesPerMinutePerDesk = 10_000_000
        let bound = Mutex<Int?>(nil)
        // Cancelling the server at the end is expected: its logger stays quiet about it.
        var quiet = logger
        quiet.logLevel = .critical
        let serverLogger = quiet
        // Stopped by graceful shutdown, never by cancelling its task: cancelling a server with connections still
        // queued is a fatal error in NIO's async writer.
        let web = WebServer(node: node, config: config, logger: serverLogger, onBound: { port in bound.withLock { $0 = port } })
        let group = ServiceGroup(configuration: .init(services: [.init(service: web)], gracefulShutdownSignals: [], logger: serverLogger))
        let server = Task { try await group.run() }
        // The server holds the node (and its SQLite files) until it has stopped: wait for that before the caller
        // removes the run directory, or a late write can leave files behind.
        do {
            var port = 0
            for _ in 0..<500 {
                if let p = bound.withLock({ $0 }) {
                    port = p
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            guard port > 0 else { throw WhipError(.io, "the web server did not start") }
            let serverPort = port

            let sessions = try (0..<desks).map { i in try node.redeemDeskCode(try node.openDesk(campaign: c, name: "Desk \(i)", until: nil).code) }
            // Page weight: the desk page as the first desk's phone gets it, with its stylesheet and script.
            let page = try HTTP.get(port: port, path: "/desk", cookie: "wr_desk=\(sessions[0].token)")
            let css = try HTTP.get(port: port, path: "/static/desk.css", cookie: nil)
            let js = try HTTP.get(port: port, path: "/static/desk.js", cookie: nil)
            let weight = page.body.count + css.body.count + js.body.count
            let rssIdle = rssBytes()

            // Another page's live view: every progress event's arrival time and backer count.
            let stream = try HTTP.Stream(port: port, path: "/api/v1/campaigns/\(c.id.hex)/stream")
            let seen = Mutex<[(at: UInt64, backers: Int)]>([])
            let reader = Thread {
                while let data = stream.nextData() {
                    let at = DispatchTime.now().uptimeNanoseconds
                    guard let json = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any], let n = json["backers"] as? Int
                    else {
                        continue
                    }
                    seen.withLock { $0.append((at, n)) }
                }
            }
            reader.start()
            try await Task.sleep(for: .milliseconds(200))

            let perDesk = max(1, pledges / desks)
            let sent = Mutex<[(start: UInt64, backers: Int)]>([])
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            let start = DispatchTime.now().uptimeNanoseconds
            for (d, s) in sessions.enumerated() {
                group.enter()
                Thread {
                    defer { group.leave() }
                    do {
                        let conn = try HTTP.Connection(port: serverPort)
                        for i in 0..<perDesk {
                            let body =
                                #"{"key":"desk\#(d)-pledge-\#(i)","name":"Backer \#(d)-\#(i)","amount":"5","payment":"cash","email":"x@example.org"}"#
                            let t0 = DispatchTime.now().uptimeNanoseconds
                            let r = try conn.request(
                                "POST", "/api/v1/desk/pledges",
                                headers: ["Cookie: wr_desk=\(s.token)", "X-Whipround-CSRF: \(s.csrf)", "Content-Type: application/json"],
                                body: body)
                            guard r.status == 201, let json = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
                                let campaign = json["campaign"] as? [String: Any], let n = campaign["backers"] as? Int
                            else {
                                failures.withLock { $0.append("HTTP \(r.status): \(r.body.prefix(200))") }
                                continue
                            }
                            sent.withLock { $0.append((t0, n)) }
                        }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }.start()
            }
            await withCheckedContinuation { (k: CheckedContinuation<Void, Never>) in group.notify(queue: .global()) { k.resume() } }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let total = sent.withLock { $0.count }
            // Let the last updates arrive, then match each pledge to the first event that counts it.
            try await Task.sleep(for: .milliseconds(500))
            stream.close()
            let events = seen.withLock { $0 }
            var delays: [Double] = []
            for p in sent.withLock({ $0 }) {
                guard let e = events.first(where: { $0.backers >= p.backers && $0.at >= p.start }) else { continue }
                delays.append(Double(e.at - p.start) / 1e6)
            }
            delays.sort()
            func pct(_ q: Double) -> Double { delays.isEmpty ? .nan : delays[min(delays.count - 1, Int(Double(delays.count) * q))] }
            let rate = Double(total) / elapsed
            if let f = failures.withLock({ $0.first }) { out("  FAILED requests: \(failures.withLock { $0.count }), first: \(f)") }
            out(String(format: "  bound: Node.emit (recordPledge, one after another): %.0f pledges/s", boundRate))
            out(
                String(
                    format: "  HTTP API: %d pledges from %d desks at once in %.2f s: %.0f pledges/s = %.0f%% of the bound (issue: at least 50%%)",
                    total,
                    desks, elapsed, rate, 100 * rate / boundRate))
            out(
                String(
                    format:
                        "  POST to durable commit to SSE update on another page: p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d pledges (issue: p99 under 100 ms)",
                    pct(0.5), pct(0.99), delays.last ?? .nan, delays.count))
            out(
                String(
                    format: "  desk page weight: %d bytes (HTML %d + CSS %d + JS %d; issue: under 50 KB)", weight, page.body.count, css.body.count,
                    js.body.count))
            out(
                String(
                    format: "  memory: RSS %.1f MB before the web server, %.1f MB with it serving and idle: +%.1f MB (issue: at most 20 MB)",
                    Double(rssBefore) / 1_048_576, Double(rssIdle) / 1_048_576, Double(rssIdle - rssBefore) / 1_048_576))
        } catch {
            await group.triggerGracefulShutdown()
            _ = await server.result
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = await server.result
    }

    static func rssBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) * 1024
        }
        return 0
    }
}

/// A minimal blocking HTTP/1.1 client over loopback sockets, for the benchmark's simulated phones (a client library
/// would be a dependency for one benchmark; this reads only what the node sends: Content-Length or chunked bodies).
enum HTTP {
    struct Answer {
        let status: Int
        let body: String
        var setCookie: String? = nil
    }

    static func get(port: Int, path: String, cookie: String?) throws -> Answer {
        let c = try Connection(port: port)
        defer { c.close() }
        return try c.request("GET", path, headers: cookie.map { ["Cookie: \($0)"] } ?? [], body: nil)
    }

    final class Connection: @unchecked Sendable {
        let fd: Int32
        var buffer: [UInt8] = []

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw WhipError(.io, "socket: \(String(cString: strerror(errno)))") }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else {
                Glibc.close(fd)
                throw WhipError(.io, "connect: \(String(cString: strerror(errno)))")
            }
        }

        func close() { Glibc.close(fd) }

        func send(_ text: String) throws {
            var bytes = Array(text.utf8)
            while !bytes.isEmpty {
                let n = write(fd, bytes, bytes.count)
                guard n > 0 else { throw WhipError(.io, "write: \(String(cString: strerror(errno)))") }
                bytes.removeFirst(n)
            }
        }

        func fill() throws {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { throw WhipError(.io, "the server closed the connection") }
            buffer += chunk[0..<n]
        }

        func line() throws -> String {
            while true {
                if let i = buffer.firstIndex(of: 10) {
                    let l = String(decoding: buffer[0..<i], as: UTF8.self).trimmingCharacters(in: .init(charactersIn: "\r"))
                    buffer.removeFirst(i + 1)
                    return l
                }
                try fill()
            }
        }

        func bytes(_ count: Int) throws -> [UInt8] {
            while buffer.count < count { try fill() }
            let out = Array(buffer[0..<count])
            buffer.removeFirst(count)
            return out
        }

        /// The status line and headers; returns the status and the headers in lower case.
        func head() throws -> (Int, [String: String]) {
            let status = Int(try line().split(separator: " ").dropFirst().first ?? "") ?? 0
            var headers: [String: String] = [:]
            while true {
                let l = try line()
                if l.isEmpty { break }
                if let colon = l.firstIndex(of: ":") {
                    headers[l[..<colon].lowercased()] = l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return (status, headers)
        }

        func request(_ method: String, _ path: String, headers: [String], body: String?) throws -> Answer {
            var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            for h in headers { text += h + "\r\n" }
            if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
            text += "\r\n" + (body ?? "")
            try send(text)
            let (status, h) = try head()
            if let length = h["content-length"].flatMap(Int.init) {
                return Answer(status: status, body: String(decoding: try bytes(length), as: UTF8.self), setCookie: h["set-cookie"])
            }
            var out: [UInt8] = []
            while true {
                let size = Int(try line(), radix: 16) ?? 0
                if size == 0 {
                    _ = try line()
                    break
                }
                out += try bytes(size)
                _ = try line()
            }
            return Answer(status: status, body: String(decoding: out, as: UTF8.self), setCookie: h["set-cookie"])
        }
    }

    /// A server-sent-event stream read line by line.
    final class Stream: @unchecked Sendable {
        let connection: Connection
        private let closed = Atomic<Bool>(false)

        init(port: Int, path: String) throws {
            connection = try Connection(port: port)
            try connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            _ = try connection.head()
        }

        /// The next event's `data:` text, or nil when the stream ends.
        func nextData() -> String? {
            // The body is chunked; an event's lines may span chunks, so chunk sizes are skipped as lines.
            while !closed.load(ordering: .relaxed) {
                guard let l = try? connection.line() else { return nil }
                if l.hasPrefix("data: ") { return String(l.dropFirst(6)) }
            }
            return nil
        }

        func close() {
            closed.store(true, ordering: .relaxed)
            shutdown(connection.fd, Int32(SHUT_RDWR))
        }
    }
}
