import Dispatch
import Foundation
import Hummingbird
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

/// `whipround bench --pages`: the organiser console's pledge list of a large campaign (first page, through the
/// running web server) beside the store's own query for it; and the public campaign page of a campaign of many
/// pledges under `wrk` with 50 connections, beside a Hummingbird route returning a fixed string in the same run.
public enum PagesBench {
    /// What `wrk` measured.
    struct Load {
        let requestsPerSecond: Double
        let p99Ms: Double
        let non2xx: Int
    }

    /// Runs the figures in a scratch node under `parent`, printing each line. `seconds` is each wrk run's length.
    public static func run(
        listPledges: Int, pagePledges: Int, seconds: Int, connections: Int = 50, parent: String, logger: Logger,
        print out: @escaping @Sendable (String) -> Void
    ) async throws {
        let base = try BenchDirectory.make(parent: parent, label: "pages")
        defer { try? FileManager.default.removeItem(atPath: base) }
        out("whipround bench --pages: console list of \(listPledges) pledges, public page of \(pagePledges) pledges, \(System.coreCount) cores")
        let (node, info, list) = try Bench.setUp(base + "/node", logger: logger)
        let now = Dates.nowMs()
        let ingestStart = DispatchTime.now().uptimeNanoseconds
        try fill(node, info, list, count: listPledges, start: now + 1_000)
        let ingestRate = Double(listPledges) / (Double(DispatchTime.now().uptimeNanoseconds - ingestStart) / 1e9)
        let page = try await node.emit(
            info.id,
            .campaignCreated(
                CampaignCreated(
                    title: "Reopen the lido", description: "The lido needs **new** tiles.\n\nEvery pound helps.", goal: 5_000_000,
                    currency: Currency(code: "GBP")!, model: .keepWhatYouRaise, opens: 0, closes: UInt64.max / 2, timeZone: "Europe/London",
                    organisers: [])))
        let published = try await node.emit(info.id, .campaignPublished(CampaignRef(campaign: page.id)))
        try fill(node, info, page.id, count: pagePledges, start: published.hlc.wall + 1)

        var config = WebConfig()
        config.host = "127.0.0.1"
        config.port = 0
        config.limits.requestsPerMinutePerAddress = 100_000_000
        var quiet = logger
        quiet.logLevel = .critical
        let serverLogger = quiet
        let bound = Mutex<Int?>(nil)
        let fixedPort = Mutex<Int?>(nil)
        // The bound: the same framework answering a fixed string, on the same machine in the same run.
        let router = Router()
        router.get("/fixed") { _, _ in "Reopen the lido: £1,234.00 from 56 neighbours" }
        let fixedApp = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in fixedPort.withLock { $0 = channel.localAddress?.port } }, logger: serverLogger)
        let web = WebServer(node: node, config: config, logger: serverLogger, onBound: { port in bound.withLock { $0 = port } })
        // Both servers stop by graceful shutdown, never by cancelling their tasks: cancelling a server with
        // connections still queued (wrk's) is a fatal error in NIO's async writer.
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: web), .init(service: fixedApp)], gracefulShutdownSignals: [], logger: serverLogger))
        let servers = Task { try await group.run() }
        do {
            let port = try await waitFor(bound)
            let fixedAt = try await waitFor(fixedPort)

            // The console's first page: the store's query alone, then the page through HTTP with a session.
            let storeMs = try timed(times: 20) { _ = try node.store.pledgePage(campaign: list, filter: PledgeFilter(), offset: 0, limit: 50) }
            let login = try node.consoleLogin()
            let cookie = try signIn(port: port, token: login.token)
            let pageMs = try timed(times: 20) {
                let a = try HTTP.get(port: port, path: "/console/campaigns/\(list.hex)/pledges", cookie: cookie)
                guard a.status == 200 else { throw WhipError(.internalError, "the console's pledge list answered \(a.status)") }
            }
            let filteredMs = try timed(times: 20) {
                let a = try HTTP.get(port: port, path: "/console/campaigns/\(list.hex)/pledges?collected=no&page=400", cookie: cookie)
                guard a.status == 200 else { throw WhipError(.internalError, "the console's pledge list answered \(a.status)") }
            }
            out("  bound: bulk ingest in this run \(Int(ingestRate)) events/s; the store's first-page query alone: median \(fmt(storeMs.median)) ms")
            out(
                "  console pledge list of \(listPledges) pledges, first page over HTTP: median \(fmt(pageMs.median)) ms, max \(fmt(pageMs.max)) ms "
                    + "over 20 requests (issue: under 200 ms); a filtered deep page: median \(fmt(filteredMs.median)) ms")

            // The public page under load.
            guard let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                out("  public page: wrk is not installed (apt-get install wrk), so the load figures were not measured")
                throw CancellationError()
            }
            let publicPath = "/campaigns/\(page.id.hex)"
            let check = try HTTP.get(port: port, path: publicPath, cookie: nil)
            guard check.status == 200 else { throw WhipError(.internalError, "the public page answered \(check.status)") }
            let bound = try load(wrk, url: "http://127.0.0.1:\(fixedAt)/fixed", seconds: seconds, connections: connections)
            let measured = try load(wrk, url: "http://127.0.0.1:\(port)\(publicPath)", seconds: seconds, connections: connections)
            out(
                "  bound: a Hummingbird route returning a fixed string: \(Int(bound.requestsPerSecond)) requests/s, p99 \(fmt(bound.p99Ms)) ms "
                    + "(wrk, \(connections) connections, \(seconds) s)")
            let share = Int((measured.requestsPerSecond / bound.requestsPerSecond * 100).rounded())
            let bytes = check.body.utf8.count
            let rps = Int(measured.requestsPerSecond)
            let p99 = fmt(measured.p99Ms)
            out(
                "  public page of a campaign of \(pagePledges) pledges (\(bytes) bytes): \(rps) requests/s = \(share)% of the bound (issue: at least 50%),"
            )
            out("    p99 \(p99) ms (issue: under 50 ms), \(measured.non2xx) answers not 2xx")
        } catch is CancellationError {
        } catch {
            await group.triggerGracefulShutdown()
            _ = await servers.result
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = await servers.result
    }

    static func fill(_ node: Node, _ info: CommunityInfo, _ campaign: EventID, count: Int, start: UInt64) throws {
        var done = 0
        while done < count {
            let n = min(Node.importBatch, count - done)
            let batch = Bench.pledges(n, community: info.id, campaign: campaign, author: node.identity, start: start + UInt64(done / 4))
            let r = try node.store.ingest(batch, source: .bundle, now: Dates.nowMs())
            guard r.accepted == n, r.notApplied.isEmpty else { throw WhipError(.internalError, "pages set-up: \(r)") }
            done += n
        }
    }

    static func waitFor(_ port: borrowing Mutex<Int?>) async throws -> Int {
        for _ in 0..<500 {
            if let p = port.withLock({ $0 }) { return p }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw WhipError(.io, "a web server did not start")
    }

    /// The console cookie a one-time link gives.
    static func signIn(port: Int, token: String) throws -> String {
        let c = try HTTP.Connection(port: port)
        defer { c.close() }
        let a = try c.request("GET", "/console/login?token=\(token)", headers: [], body: nil)
        guard a.status == 303, let cookie = a.setCookie?.split(separator: ";").first else {
            throw WhipError(.internalError, "the console sign-in answered \(a.status)")
        }
        return String(cookie)
    }

    /// Milliseconds of `times` runs of `body`: median and max.
    static func timed(times: Int, _ body: () throws -> Void) throws -> (median: Double, max: Double) {
        var ms: [Double] = []
        for _ in 0..<times {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            ms.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        ms.sort()
        return (ms[ms.count / 2], ms.last ?? .nan)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Runs wrk against `url` and reads its requests per second and 99th percentile latency.
    static func load(_ wrk: String, url: String, seconds: Int, connections: Int) throws -> Load {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: wrk)
        p.arguments = ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency", url]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0, let rps = text.firstMatch(of: #/Requests/sec:\s+([0-9.]+)/#).flatMap({ Double($0.output.1) }),
            let p99 = text.firstMatch(of: #/\s99%\s+([0-9.]+)(us|ms|s)/#)
        else { throw WhipError(.internalError, "wrk said: \(text.prefix(400))") }
        let scale: Double =
            switch p99.output.2 {
            case "us": 0.001
            case "s": 1_000
            default: 1
            }
        let non2xx = text.firstMatch(of: #/Non-2xx or 3xx responses:\s+(\d+)/#).flatMap { Int($0.output.1) } ?? 0
        return Load(requestsPerSecond: rps, p99Ms: (Double(p99.output.1) ?? .nan) * scale, non2xx: non2xx)
    }
}
