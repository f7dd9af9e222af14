import Testing
import WhipCore
import WhipSync
import WhipTestSupport

/// Personal-part records ride in `events` messages beside their events (PROTOCOL.md §16).
@Suite(.timeLimit(.minutes(10)))
struct PartsOnTheWireTests {
    @Test func eventsWithPartsRoundTripAndAnEmptyPartListIsLeftOut() throws {
        let m = SessionMessage.events([[0x82, 0x40]], parts: [[1, 2, 3], [4]])
        #expect(m.encoded() == [0x83, 0x03, 0x81, 0x42, 0x82, 0x40, 0x82, 0x43, 1, 2, 3, 0x41, 4])
        #expect(try SessionMessage.decode(m.encoded()) == m)
        #expect(SessionMessage.events([[0x82, 0x40]], parts: []).encoded() == [0x82, 0x03, 0x81, 0x42, 0x82, 0x40])
        // The end of an answer is still `82 03 80`.
        #expect(SessionMessage.events([]).encoded() == [0x82, 0x03, 0x80])
    }

    @Test func malformedPartListsEndTheSession() {
        let bad: [[UInt8]] = [
            [0x83, 0x03, 0x80, 0x80],  // an empty part list is left out, never sent
            [0x83, 0x03, 0x80, 0x81, 0x01],  // a part record is a byte string
            [0x83, 0x03, 0x80, 0x41],  // the parts are a list
            [0x84, 0x03, 0x80, 0x81, 0x41, 0x00, 0x80],  // nothing after the parts
            CBOR.array([.unsigned(3), .array([]), .array([.bytes([UInt8](repeating: 0, count: SessionMessage.maxPartRecordBytes + 1))])])
                .encoded(),
        ]
        for b in bad { #expect(throws: SessionError.self, "\(b)") { try SessionMessage.decode(b) } }
        let largest = CBOR.array([
            .unsigned(3), .array([]), .array([.bytes([UInt8](repeating: 0, count: SessionMessage.maxPartRecordBytes))]),
        ])
        #expect(throws: Never.self) { try SessionMessage.decode(largest.encoded()) }
    }

    /// An event never travels without its parts, and the parts count against the message budget.
    @Test func packingKeepsEachEventWithItsParts() {
        let ships = (0..<6).map { i in
            Shipment(wire: [UInt8](repeating: UInt8(i), count: 100), parts: i % 2 == 0 ? [[UInt8](repeating: 0xF0 + UInt8(i), count: 50)] : [])
        }
        var rules = LiveSessionMachine<VirtualClock, SplitMix64>.Rules()
        rules.eventsMessageBytes = 300
        var m = LiveSessionMachine<VirtualClock, SplitMix64>(isInitiator: true, rules: rules, maxRefusedEvents: 1_000, random: SplitMix64(seed: 1))
        let ids = (0..<6).map { i in EventID(bytes: [UInt8](repeating: UInt8(i), count: 32))! }
        _ = m.localEventsStored(ids, now: VirtualClock().now)
        var seenWires = [[UInt8]]()
        var seenParts = [[UInt8]]()
        var messages = 0
        for action in m.eventsFetched(ships) {
            guard case .send(.events(let wires, let parts)) = action else { continue }
            messages += 1
            // An event with a part costs 104 + 54; without, 104: within 300 unless one event alone is larger.
            let cost = wires.reduce(0) { $0 + $1.count + 4 } + parts.reduce(0) { $0 + $1.count + 4 }
            #expect(cost <= 300)
            for p in parts { #expect(wires.contains { $0.first! == p.first! - 0xF0 }, "a part left its event behind") }
            seenWires += wires
            seenParts += parts
        }
        #expect(messages == 3)
        #expect(seenWires == ships.map(\.wire))
        #expect(seenParts == ships.flatMap(\.parts))
    }
}
