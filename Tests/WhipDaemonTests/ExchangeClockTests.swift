import Foundation
import Logging
import Testing
import WhipCore
import WhipCrypto
import WhipNode
import WhipTestSupport

@testable import WhipNet

/// The exchange's timed rules on a manual clock: the one-hour refusal window and the want patience.
@Suite(.timeLimit(.minutes(10))) struct ExchangeClockTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    let clock = VirtualClock()
    let peer = try! SigningKey(seed: [UInt8](repeating: 5, count: 32)).publicKey

    func exchange() throws -> Exchange {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-clock-\(UUID().uuidString)").path
        let node = try Node.initialise(dir: DataDir(path: dir), name: "n", logger: Self.logger)
        return try Exchange(node: node, logger: Self.logger, clock: clock)
    }

    @Test func aPeerOverTheLimitIsCutOffWithinTheHour() async throws {
        let x = try exchange()
        #expect(await !x.recordRefusals(600, from: peer, limit: 1_000))
        #expect(await !x.isCutOff(peer, limit: 1_000))
        clock.advance(by: .seconds(1_800))
        #expect(await x.recordRefusals(401, from: peer, limit: 1_000), "1,001 refused within the hour")
        #expect(await x.isCutOff(peer, limit: 1_000))
        clock.advance(by: .seconds(1_799))
        #expect(await x.isCutOff(peer, limit: 1_000), "still within the hour of the first refusal")
        let other = try SigningKey(seed: [UInt8](repeating: 6, count: 32)).publicKey
        #expect(await !x.isCutOff(other, limit: 1_000), "the tally is per peer")
    }

    @Test func refusalsExpireAfterAnHour() async throws {
        let x = try exchange()
        #expect(await !x.recordRefusals(1_000, from: peer, limit: 1_000))
        clock.advance(by: .seconds(3_600))
        #expect(await !x.isCutOff(peer, limit: 1_000))
        #expect(await !x.recordRefusals(1_000, from: peer, limit: 1_000), "the window restarted: the old refusals no longer count")
        clock.advance(by: .seconds(3_599))
        #expect(await x.recordRefusals(1, from: peer, limit: 1_000))
    }

    @Test func anIdAskedForIsNotAskedAgainUntilThePatienceRunsOut() async throws {
        let x = try exchange()
        let ids = (1...3).map { EventID(bytes: [UInt8](repeating: UInt8($0), count: 32))! }
        #expect(await x.claim(ids) == ids)
        #expect(await x.claim(ids).isEmpty)
        clock.advance(by: Exchange.wantPatience - .milliseconds(1))
        #expect(await x.claim([ids[0]]).isEmpty)
        clock.advance(by: .milliseconds(1))
        #expect(await x.claim(ids) == ids, "after \(Exchange.wantPatience) another peer may be asked")
    }
}
