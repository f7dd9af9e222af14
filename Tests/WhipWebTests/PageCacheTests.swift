import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WhipCore
import WhipNode
import WhipStore
import WhipTestSupport

@testable import WhipWeb

/// The public page's cache: served only at the change mark it was rendered at, never past its expiry, and emptied
/// by the console's online-offer switch, which is not an event.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PageCacheTests {
    @Test func anEntryIsGoodOnlyAtItsMarkAndBeforeItExpires() {
        let cache = PageCache()
        cache.put("a", mark: 5, expires: 1_000, body: ByteBuffer(string: "page"))
        #expect(cache.get("a", mark: 5, now: 999).map { String(buffer: $0) } == "page")
        #expect(cache.get("a", mark: 6, now: 10) == nil, "a new event")
        #expect(cache.get("a", mark: 5, now: 1_000) == nil, "expired")
        #expect(cache.get("b", mark: 5, now: 10) == nil)
        cache.invalidate()
        #expect(cache.get("a", mark: 5, now: 10) == nil)
        for i in 0...PageCache.maxEntries { cache.put("k\(i)", mark: 1, expires: 100, body: ByteBuffer()) }
        #expect(cache.get("k0", mark: 1, now: 0) == nil, "a full cache starts again rather than grow")
    }

    @Test func theCachedPageFollowsNewPledgesAndTheOfferSwitch() async throws {
        let f = try OnlineOfferTests.Fixture()
        let hub = ProgressHub(node: f.node, maxStreams: 4, pollInterval: .milliseconds(20), logger: ConsoleTests.logger)
        let queue = PledgeQueue(node: f.node)
        let app = Application(
            router: WebServer.router(node: f.node, config: WebConfig(), hub: hub, queue: queue, logger: ConsoleTests.logger), services: [hub, queue])
        let path = "/campaigns/\(f.campaign.id.hex)"
        try await app.test(.router) { client in
            for _ in 0..<100 where hub.currentMark == nil { try await Task.sleep(for: .milliseconds(10)) }
            #expect(hub.currentMark != nil)
            let first = try await client.execute(uri: path, method: .get) { String(buffer: $0.body) }
            #expect(first.contains("£0.00 from 0 neighbours") || first.contains("£0.00"))
            try f.node.recordPledge(
                f.campaign, amount: Money(minor: 1_500, currency: f.campaign.goal.currency), tier: nil, channel: .inPerson, paid: nil,
                parts: try f.node.pledgeParts(name: "Ann Oak", anonymous: false, contact: Contact(), for: f.campaign))
            var seen = false
            for _ in 0..<100 where !seen {
                seen = try await client.execute(uri: path, method: .get) { String(buffer: $0.body).contains("Ann Oak") }
                if !seen { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(seen, "a new pledge reaches the cached page within the hub's poll")
            // The switch is not an event: the console empties the cache, so the link shows at once.
            let (cookie, csrf) = try await f.base.signIn(client)
            #expect(try await client.execute(uri: path, method: .get) { !String(buffer: $0.body).contains("back-online") })
            _ = try await f.base.post(client, "/console/campaigns/\(f.campaign.id.hex)/online", [("csrf", csrf), ("enabled", "on")], cookie: cookie)
            #expect(try await client.execute(uri: path, method: .get) { String(buffer: $0.body).contains("back-online") })
        }
    }
}
