import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import WhipCore
import WhipNet
import WhipNode
import WhipTestSupport

@testable import WhipDaemon

/// The dialer's peer bookkeeping, on a manual clock (no real backoff waits).
@Suite(.timeLimit(.minutes(10))) struct DialerTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A loopback address nothing listens on (bound, then closed), so every dial fails at once.
    func deadAddress() async throws -> String {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress!.port!
        try await server.close()
        return "127.0.0.1:\(port)"
    }

    /// Polls (bounded) until `condition` holds.
    func until(_ what: String, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func aPeerRemovedAndAddedAgainIsDialledAgain() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-dialer-\(UUID().uuidString)").path
        let node = try Node.initialise(dir: DataDir(path: dir), name: "n", logger: Self.logger)
        _ = try node.createCommunity(name: "Elm Street")
        let address = try await deadAddress()
        let store = node.store
        func lastError() throws -> String? { try store.peers().first { $0.address == address }?.lastError }
        var config = DaemonConfig()
        config.metricsListen = nil
        config.peers = []
        config.timers.reconnectMin = 1
        config.timers.reconnectMax = 2
        config.timers.reconcileInterval = 1_000
        let clock = VirtualClock()
        let dialer = PeerDialer(
            config: config, exchange: try Exchange(node: node, logger: Self.logger), credentials: try NodeCredentials(node: node),
            logger: Self.logger, clock: clock)
        try store.addPeer(address, source: "cli", now: node.now)
        let running = Task { try await dialer.run() }
        defer { running.cancel() }

        try await until("the first dial") { try lastError() != nil }
        #expect(await clock.waitForSleepers(2), "the dialer's loop and the peer's backoff")
        #expect(try store.removePeer(address))
        clock.advance(by: .seconds(2))  // the backoff ends; the peer is no longer wanted
        try await until("the peer's task to end") { dialer.started.isEmpty }

        try store.addPeer(address, source: "cli", now: node.now)
        #expect(try lastError() == nil)
        clock.advance(by: .seconds(1_000))  // the dialer looks at its peers again
        try await until("the peer to be dialled again") { try lastError() != nil }
        running.cancel()
        _ = try? await running.value
    }
}
