import Testing
import WhipCore
import WhipSync
import WhipTestSupport

@Suite struct SessionMessageTests {
    let id = EventID(bytes: [UInt8](repeating: 7, count: 32))!

    @Test func everyMessageRoundTrips() throws {
        let all: [SessionMessage] = [
            .reconcile([1, 2, 3]), .want([id, id]), .events([[0x82, 0x40], [1]]), .ack(accepted: 3, duplicates: 1, rejected: 0),
            .announce([id]), .ping, .pong, .live, .reconcilePart([9, 9]), .goodbye("shutting down"), .want([]), .events([]),
        ]
        for m in all { #expect(try SessionMessage.decode(m.encoded()) == m) }
    }

    @Test func malformedMessagesAreErrorsNotCrashes() {
        let bad: [[UInt8]] = [
            [], [0x80], [0x81, 0x0a], [0x82, 0x09, 0x00], [0x82, 0x01, 0x01], [0x82, 0x02, 0x81, 0x41, 0x00], [0x83, 0x04, 0x01, 0x01],
            [0x81, 0x06, 0x00], [0xa0], [0x82, 0x08, 0x01],
            CBOR.array([.unsigned(3), .array([.bytes([UInt8](repeating: 0, count: 9000))])]).encoded(),
        ]
        for b in bad { #expect(throws: SessionError.self, "\(b)") { try SessionMessage.decode(b) } }
        // Random bytes never crash the decoder.
        var rng = SplitMix64(seed: 11)
        for _ in 0..<20_000 {
            let b = (0..<rng.int(in: 0...12)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? SessionMessage.decode(b)
        }
    }

    /// A long reconciliation message travels as parts that each fit a frame, and joins back exactly.
    @Test func longReconcileMessagesSplitIntoFrames() throws {
        var rng = SplitMix64(seed: 5)
        for size in [0, 1, SessionMessage.reconcilePartBytes, SessionMessage.reconcilePartBytes + 1, 250_001, Sync.maxMessageSize] {
            let message = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let frames = SessionMessage.reconcileFrames(message)
            #expect(frames.count == max(1, (size + SessionMessage.reconcilePartBytes - 1) / SessionMessage.reconcilePartBytes))
            var joined = [UInt8]()
            for (i, f) in frames.enumerated() {
                #expect(f.encoded().count <= 65_519 - 16)
                switch f {
                case .reconcilePart(let p): #expect(i < frames.count - 1); joined += p
                case .reconcile(let p): #expect(i == frames.count - 1); joined += p
                default: Issue.record("not a reconcile frame")
                }
            }
            #expect(joined == message)
        }
    }

    @Test func idListsAreBounded() {
        let many = SessionMessage.want(Array(repeating: id, count: SessionMessage.maxIDs + 1)).encoded()
        #expect(throws: SessionError.self) { try SessionMessage.decode(many) }
    }
}
