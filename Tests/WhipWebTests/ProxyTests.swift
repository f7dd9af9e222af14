import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import WhipCore
import WhipNode
import WhipTestSupport

@testable import WhipWeb

/// Behind a reverse proxy on the node (README "The public campaign page"), requests arrive from loopback on behalf
/// of the internet: they must never count as "at the node", and with `trusted_proxies` each client gets its own
/// rate limit. Real sockets on loopback (Hummingbird's live test mode), so the peer address is 127.0.0.1.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ProxyTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func app(trusted: [String], perMinute: Int = 240) throws -> (Node, Application<RouterResponder<WebContext>>) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-proxy-\(UUID().uuidString)").path
        let node = try Node.initialise(dir: DataDir(path: dir), name: "hall", logger: logger)
        var config = WebConfig()
        config.trustedProxies = trusted
        config.limits.requestsPerMinutePerAddress = perMinute
        let hub = ProgressHub(node: node, maxStreams: 4, logger: logger)
        let queue = PledgeQueue(node: node)
        let router = WebServer.router(node: node, config: config, hub: hub, queue: queue, logger: logger)
        return (node, Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), services: [queue]))
    }

    @Test func aProxiedRequestIsNeverAtTheNode() async throws {
        let (node, app) = try Self.app(trusted: [])
        try await app.test(.live) { client in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(String(buffer: r.body).contains("id=\"setup-community\""), "a browser at the node gets the first-run forms")
            }
            for header in ["X-Forwarded-For", "Forwarded"] {
                let h = HTTPField.Name(header)!
                let value = header == "Forwarded" ? "for=203.0.113.5" : "203.0.113.5"
                try await client.execute(uri: "/", method: .get, headers: [h: value]) { r in
                    let html = String(buffer: r.body)
                    #expect(html.contains("id=\"setup-remote\"") && !html.contains("id=\"setup-community\""), "\(header)")
                }
                try await client.execute(
                    uri: "/setup/community", method: .post, headers: [h: value, .contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "csrf=x&name=Hijack")
                ) { r in #expect(r.status == .forbidden) }
            }
            #expect(try node.store.communities().isEmpty)
        }
    }

    @Test func behindATrustedProxyEachClientHasItsOwnLimit() async throws {
        let xff = HTTPField.Name("X-Forwarded-For")!
        let (_, trusting) = try Self.app(trusted: ["127.0.0.1"], perMinute: 3)
        try await trusting.test(.live) { client in
            for _ in 0..<3 {
                try await client.execute(uri: "/feed.atom", method: .get, headers: [xff: "198.51.100.1"]) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/feed.atom", method: .get, headers: [xff: "198.51.100.1"]) { #expect($0.status == .tooManyRequests) }
            // Another client behind the same proxy; the proxy's own entry is the last one, which is the one read.
            try await client.execute(uri: "/feed.atom", method: .get, headers: [xff: "10.0.0.9, 198.51.100.2"]) { #expect($0.status == .ok) }
        }
        // Not trusted: the header is not believed, so every client behind the proxy shares one allowance.
        let (_, plain) = try Self.app(trusted: [], perMinute: 3)
        try await plain.test(.live) { client in
            for i in 0..<3 {
                try await client.execute(uri: "/feed.atom", method: .get, headers: [xff: "198.51.100.\(i)"]) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/feed.atom", method: .get, headers: [xff: "198.51.100.9"]) { #expect($0.status == .tooManyRequests) }
        }
    }
}
