import Testing
import WhipCore
import WhipSync
import WhipTestSupport

@Suite struct SessionMessageTests {
    let id = EventID(bytes: [UInt8](repeating: 7, count: 32))!

    @Test func everyMessageRoundTrips() throws {
        let all: [SessionMessage] = [
            .reconcile([1, 2, 3]), .want([id, id]), .events([[0x82, 0x40], [1]]), .ack(accepted: 3, duplicates: 1, rejected: 0),
            .announce([id]), .ping, .pong, .live, .goodbye("shutting down"), .want([]), .events([]),
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

    @Test func idListsAreBounded() {
        let many = SessionMessage.want(Array(repeating: id, count: SessionMessage.maxIDs + 1)).encoded()
        #expect(throws: SessionError.self) { try SessionMessage.decode(many) }
    }
}
