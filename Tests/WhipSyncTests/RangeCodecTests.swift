import Testing
import WhipCore
import WhipCrypto
import WhipSync
import WhipTestSupport

/// A key with a repeated id byte, for readable examples.
func key(_ timestamp: UInt64, _ byte: UInt8) -> EventKey {
    EventKey(timestamp: timestamp, idBytes: [UInt8](repeating: byte, count: 32)[...])!
}

func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex.filter { !$0.isWhitespace })! }

/// The error code `body` throws, or nil if it does not throw.
func code(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let e as SyncError {
        return e.code.rawValue
    } catch {
        return "not a SyncError: \(error)"
    }
}

@Suite(.timeLimit(.minutes(10))) struct RangeCodecTests {
    static let a1 = key(1_000, 0x11)
    static let a2 = key(1_000, 0x22)
    static let a3 = key(2_000, 0x33)
    static let a4 = key(3_000, 0x44)
    static var id1: [UInt8] { a1.idBytes }
    static var id2: [UInt8] { a2.idBytes }
    static var id3: [UInt8] { a3.idBytes }
    static var id4: [UInt8] { a4.idBytes }

    /// Example 1 of RECONCILIATION.md: an id list over the whole key space, answered with a mode 3 reply.
    @Test func exampleIdListAndReply() throws {
        var initiator = SyncInitiator(store: SortedIndex([Self.a1, Self.a2, Self.a3]))
        let first = try initiator.initiate()
        #expect(first == bytes("71 00 00 02 03") + Self.id1 + Self.id2 + Self.id3)
        var responder = SyncResponder(store: SortedIndex([Self.a1, Self.a3, Self.a4]))
        let reply = try responder.reconcile(first)
        #expect(reply == bytes("71 00 00 03 01") + Self.id4 + bytes("01 02"))
        let step = try initiator.reconcile(reply)
        #expect(step.next == nil)
        #expect(step.have == [Self.a2])
        #expect(step.need == [Self.a4.id])
    }

    /// Example 2 of RECONCILIATION.md: fingerprints, a split with a timestamp bound, and an id list back.
    @Test func exampleFingerprintsAndSplit() throws {
        let small = try SyncParameters(maxBuckets: 2, idListThreshold: 1)
        let mine = SortedIndex([Self.a1, Self.a2, Self.a3])
        var initiator = SyncInitiator(store: mine, parameters: small)
        let first = try initiator.initiate()
        var expected = MessageBuilder()
        expected.fingerprint(2_000, [], mine.fingerprint(of: 0..<2))
        expected.fingerprint(nil, [], mine.fingerprint(of: 2..<3))
        #expect(first == expected.bytes)
        #expect(first == bytes("71 8f 51 00 01 ca48278790112fd0356600a30870bd61 00 00 01 1dfb76a8dbc70c56dcf7dab01245f8fd"))
        var responder = SyncResponder(store: SortedIndex([Self.a1, Self.a3]), parameters: small)
        let reply = try responder.reconcile(first)
        #expect(reply == bytes("71 8f 51 00 02 01") + Self.id1)
        let step = try initiator.reconcile(reply)
        #expect(step.next == nil && step.have == [Self.a2] && step.need.isEmpty)
    }

    /// Bounds between items of the same millisecond carry the shortest distinguishing id prefix.
    @Test func idPrefixBounds() throws {
        let b1 = EventKey(timestamp: 5, idBytes: ([0xAB, 0xCD, 0x01] + [UInt8](repeating: 0, count: 29))[...])!
        let b2 = EventKey(timestamp: 5, idBytes: ([0xAB, 0xCD, 0x02] + [UInt8](repeating: 0, count: 29))[...])!
        let store = SortedIndex([b1, b2])
        let p = try SyncParameters(maxBuckets: 2, idListThreshold: 1)
        var initiator = SyncInitiator(store: store, parameters: p)
        var expected = MessageBuilder()
        expected.fingerprint(5, [0xAB, 0xCD, 0x02], store.fingerprint(of: 0..<1))
        expected.fingerprint(nil, [], store.fingerprint(of: 1..<2))
        #expect(try initiator.initiate() == expected.bytes)
    }

    /// A responder that does not speak the version answers with its own version byte and no ranges; an
    /// initiator that gets such an answer stops with `sync.unsupported_version`.
    @Test func versionNegotiation() throws {
        var responder = SyncResponder(store: SortedIndex())
        #expect(try responder.reconcile([0x72, 0x01, 0x02]) == [0x71])
        var initiator = SyncInitiator(store: SortedIndex())
        _ = try initiator.initiate()
        #expect(code { _ = try initiator.reconcile([0x72]) } == SyncError.Code.unsupportedVersion.rawValue)
        #expect(code { _ = try responder.reconcile([0x61, 0x00, 0x00, 0x00]) } == SyncError.Code.malformed.rawValue)  // negentropy v1 is not us
    }

    @Test func stateMachineMisuse() throws {
        var i = SyncInitiator(store: SortedIndex())
        #expect(code { _ = try i.reconcile([0x71]) } == SyncError.Code.state.rawValue)
        _ = try i.initiate()
        #expect(code { _ = try i.initiate() } == SyncError.Code.state.rawValue)
        #expect(try i.reconcile([0x71]).next == nil)
        #expect(i.isDone)
        #expect(code { _ = try i.reconcile([0x71]) } == SyncError.Code.state.rawValue)
        var j = SyncInitiator(store: SortedIndex())
        _ = try j.initiate()
        #expect(code { _ = try j.reconcile([0x71, 0x80]) } == SyncError.Code.malformed.rawValue)
        #expect(code { _ = try j.reconcile([0x71]) } == SyncError.Code.state.rawValue, "a failed session stays failed")
        #expect(code { _ = try SyncParameters(maxBuckets: 1) } == SyncError.Code.parameters.rawValue)
        #expect(code { _ = try SyncParameters(idListThreshold: 65) } == SyncError.Code.parameters.rawValue)
        #expect(code { _ = try SyncParameters(frameLimit: 4_095) } == SyncError.Code.parameters.rawValue)
    }

    /// Every kind of malformed message a responder can be sent gets its error code.
    @Test func malformedMessagesToTheResponder() {
        let store = SortedIndex([Self.a1, Self.a2, Self.a3])
        let fp = [UInt8](repeating: 0xEE, count: 16)
        var cases: [(String, [UInt8], String)] = [
            ("empty", [], SyncError.Code.malformed.rawValue),
            ("not our family", [0x61], SyncError.Code.malformed.rawValue),
            ("non-minimal varint", [0x71, 0x80, 0x01, 0x00, 0x00], SyncError.Code.malformed.rawValue),
            ("varint over 64 bits", [0x71] + [UInt8](repeating: 0xff, count: 10) + [0x7f, 0x00, 0x00], SyncError.Code.malformed.rawValue),
            ("truncated bound", [0x71, 0x05], SyncError.Code.malformed.rawValue),
            ("prefix of 33 bytes", [0x71, 0x05, 0x21] + [UInt8](repeating: 1, count: 33) + [0x00], SyncError.Code.malformed.rawValue),
            ("prefix runs past the end", [0x71, 0x05, 0x04, 0x01], SyncError.Code.malformed.rawValue),
            ("infinity with a prefix", [0x71, 0x00, 0x01, 0x05, 0x00], SyncError.Code.malformed.rawValue),
            ("prefix ending in zero", [0x71, 0x05, 0x02, 0x01, 0x00, 0x00], SyncError.Code.malformed.rawValue),
            ("first bound at the zero bound", [0x71, 0x01, 0x00, 0x00], SyncError.Code.malformed.rawValue),
            ("bounds repeat", [0x71, 0x05, 0x00, 0x00, 0x01, 0x00, 0x00], SyncError.Code.malformed.rawValue),
            ("range after infinity", [0x71, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00], SyncError.Code.malformed.rawValue),
            ("timestamp overflow", [0x71] + MessageBuilder.varint(UInt64.max) + [0x00, 0x00, 0x03, 0x00, 0x00], SyncError.Code.malformed.rawValue),
            (
                "timestamp reaches infinity", [0x71] + MessageBuilder.varint(UInt64.max) + [0x00, 0x00, 0x02, 0x00, 0x00],
                SyncError.Code.malformed.rawValue
            ),
            ("unknown mode", [0x71, 0x00, 0x00, 0x05], SyncError.Code.malformed.rawValue),
            ("missing mode", [0x71, 0x00, 0x00], SyncError.Code.malformed.rawValue),
            ("short fingerprint", [0x71, 0x00, 0x00, 0x01] + fp.prefix(8), SyncError.Code.malformed.rawValue),
            ("id list longer than the message", [0x71, 0x00, 0x00, 0x02, 0x02] + Self.id1, SyncError.Code.malformed.rawValue),
            (
                "id list with a huge count", [0x71, 0x00, 0x00, 0x02] + MessageBuilder.varint(UInt64.max) + Self.id1,
                SyncError.Code.malformed.rawValue
            ),
            ("id list repeats an id", [0x71, 0x00, 0x00, 0x02, 0x02] + Self.id1 + Self.id1, SyncError.Code.malformed.rawValue),
            ("mode 3 sent to a responder", [0x71, 0x00, 0x00, 0x03, 0x00, 0x00], SyncError.Code.protocolViolation.rawValue),
            ("frame too large", [0x71] + [UInt8](repeating: 0, count: Sync.maxMessageSize), SyncError.Code.frameTooLarge.rawValue),
        ]
        var ok = MessageBuilder()
        ok.fingerprint(1_500, [], fp)
        ok.skip(nil)
        cases.append(("trailing garbage", ok.bytes + [0x07], SyncError.Code.malformed.rawValue))
        for (name, message, expected) in cases {
            var responder = SyncResponder(store: store)
            #expect(code { _ = try responder.reconcile(message) } == expected, "\(name)")
        }
        // And these are fine: an explicit final skip, and a message with no ranges.
        var responder = SyncResponder(store: store)
        #expect(code { _ = try responder.reconcile(ok.bytes) } == nil)
        #expect(code { _ = try responder.reconcile([0x71]) } == nil)
    }

    /// Mode 3 replies are checked against the id list the initiator sent.
    @Test func malformedRepliesToTheInitiator() throws {
        let mine = SortedIndex([Self.a1, Self.a2, Self.a3])  // initiate() sends one id list of 3
        func reply(_ ids: [[UInt8]], _ bits: [UInt8], bound: UInt64? = nil) -> [UInt8] {
            var m = MessageBuilder()
            m.idListDiff(bound, [], ids, bits: bits)
            return m.bytes
        }
        let cases: [(String, [UInt8], String?)] = [
            ("a good reply", reply([Self.id4], [0x02]), nil),
            ("bitfield too long", reply([], [0x01, 0x01]), SyncError.Code.malformed.rawValue),
            ("bitfield ends in zero", reply([Self.id4], [0x00]), SyncError.Code.malformed.rawValue),
            ("bit past the list", reply([], [0x08]), SyncError.Code.malformed.rawValue),
            ("offers an id we sent", reply([Self.id2], []), SyncError.Code.protocolViolation.rawValue),
            ("repeats an id", reply([Self.id4, Self.id4], []), SyncError.Code.malformed.rawValue),
            ("for a range we sent no list for", reply([Self.id4], [], bound: 5_000), SyncError.Code.protocolViolation.rawValue),
            ("truncated", Array(reply([Self.id4], [0x02]).dropLast(3)), SyncError.Code.malformed.rawValue),
        ]
        for (name, message, expected) in cases {
            var initiator = SyncInitiator(store: mine)
            _ = try initiator.initiate()
            #expect(code { _ = try initiator.reconcile(message) } == expected, "\(name)")
        }
    }

    /// Random bytes, and random mutations and truncations of real messages, never crash either side: each
    /// gives a `SyncError` or a reply within the frame limit.
    @Test(arguments: 0..<8)
    func fuzz(shard: UInt64) throws {
        var rng = SplitMix64(seed: 0xF0_22 &+ shard)
        // Real traffic to mutate: every message of a few reconciliations.
        var samples: [(toResponder: Bool, message: [UInt8], pair: SetPair, parameters: SyncParameters)] = []
        for _ in 0..<4 {
            let pair = SetPair(
                shared: rng.pick([0, 10, 300, 2_000]), onlyA: rng.pick([0, 1, 5, 60]), onlyB: rng.pick([0, 2, 7, 80]),
                shape: rng.pick(TimestampShape.allCases), rng: &rng)
            let p = rng.chance(50) ? SyncParameters() : rng.parameters()
            var i = SyncInitiator(store: pair.a, parameters: p)
            var r = SyncResponder(store: pair.b, parameters: p)
            var m = try i.initiate()
            var first = true
            while true {
                samples.append((true, m, pair, p))
                let reply = try r.reconcile(m)
                if first { samples.append((false, reply, pair, p)) }  // the initiator's state fits only the first reply
                first = false
                guard let next = try i.reconcile(reply).next else { break }
                m = next
            }
        }
        for round in 0..<1_500 {
            let s = rng.pick(samples)
            var m = s.message
            switch rng.below(6) {
            case 0: m = [0x71] + rng.bytes(rng.below(200))
            case 1: m = Array(m.prefix(rng.below(m.count + 1)))
            case 2:
                for _ in 0..<rng.int(in: 1...4) where !m.isEmpty { m[rng.below(m.count)] ^= UInt8(1 << rng.below(8)) }
            case 3:
                for _ in 0..<rng.int(in: 1...4) where !m.isEmpty { m[rng.below(m.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            case 4: m.insert(contentsOf: rng.bytes(rng.int(in: 1...40)), at: rng.below(m.count + 1))
            default:
                if m.count > 1 {
                    let a = rng.int(in: 1...(m.count - 1))
                    m.removeSubrange(a..<min(m.count, a + rng.int(in: 1...40)))
                }
            }
            do {
                if s.toResponder {
                    var r = SyncResponder(store: s.pair.b, parameters: s.parameters)
                    let out = try r.reconcile(m)
                    #expect(out.count <= s.parameters.frameLimit, "round \(round)")
                } else {
                    var i = SyncInitiator(store: s.pair.a, parameters: s.parameters)
                    _ = try i.initiate()
                    if let out = try i.reconcile(m).next { #expect(out.count <= s.parameters.frameLimit, "round \(round)") }
                }
            } catch {
                #expect(error.code.rawValue.hasPrefix("sync."), "round \(round): \(error)")
            }
        }
    }
}
