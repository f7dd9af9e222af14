import Foundation
import Testing
import WhipCore
import WhipCrypto
import WhipSync
import WhipTestSupport

@Suite(.timeLimit(.minutes(10))) struct SessionMessageTests {
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

    /// The session messages of the independent implementation (Vectors/events.json) decode to what their
    /// fields say and encode back byte for byte, and PROTOCOL.md §16 quotes the short ones exactly.
    @Test func sessionMessageVectors() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("Tests/WhipCoreTests/Vectors/events.json"))
        let file = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let vectors = try #require(file["session_messages"] as? [[String: Any]])
        let doc = try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        func bytes(_ v: Any?) throws -> [UInt8] {
            let text = try #require(v as? String)
            return try #require(Hex.decode(text))
        }
        func ids(_ v: Any?) throws -> [EventID] {
            let texts = try #require(v as? [String])
            return try texts.map { try #require(EventID(hex: $0)) }
        }
        #expect(vectors.count == 13)
        for v in vectors {
            let name = try #require(v["name"] as? String)
            let hex = try #require(v["hex"] as? String)
            let f = try #require(v["fields"] as? [String: Any])
            let expected: SessionMessage
            switch name {
            case "reconcile": expected = .reconcile(try bytes(f["message"]))
            case "reconcile_part": expected = .reconcilePart(try bytes(f["part"]))
            case "want", "want, no ids": expected = .want(try ids(f["ids"]))
            case "announce": expected = .announce(try ids(f["ids"]))
            case "events", "events, the end of an answer", "events, with parts":
                let texts = try #require(f["events"] as? [String])
                let parts = f["parts"] as? [String] ?? []
                expected = .events(try texts.map { try bytes($0) }, parts: try parts.map { try bytes($0) })
            case "ack":
                expected = .ack(
                    accepted: try #require(f["accepted"] as? Int), duplicates: try #require(f["duplicates"] as? Int),
                    rejected: try #require(f["rejected"] as? Int))
            case "ping": expected = .ping
            case "pong": expected = .pong
            case "goodbye": expected = .goodbye(try #require(f["reason"] as? String))
            case "live": expected = .live
            default:
                Issue.record("unknown session message vector \(name)")
                continue
            }
            #expect(Hex.encode(expected.encoded()) == hex, "\(name): encoding")
            #expect(try SessionMessage.decode(try #require(Hex.decode(hex))) == expected, "\(name): decoding")
            if hex.count <= 200 {
                let spaced = stride(from: 0, to: hex.count, by: 2).map { i in
                    String(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 2)])
                }.joined(separator: " ")
                #expect(doc.contains(spaced), "\(name): PROTOCOL.md §16 must quote `\(spaced)`")
            }
        }
    }

    /// The largest message a conforming sender emits fits the protocol's frame floor (PROTOCOL.md §14), so no
    /// receiver may set its frame limit below what a legal peer sends.
    @Test func largestMessagesFitTheFrameFloor() {
        let tag = 16  // ChaChaPoly tag on every transport message
        let part = SessionMessage.reconcilePart([UInt8](repeating: 0xab, count: SessionMessage.reconcilePartBytes))
        let want = SessionMessage.want(Array(repeating: id, count: SessionMessage.maxIDs))
        let goodbye = SessionMessage.goodbye(String(repeating: "x", count: 500))
        // An events message as senders pack it: the sum of (length + 4) stays within the budget.
        var packed = [[UInt8]]()
        var used = 0
        for size in [255, 256, 23, 24, 8_192, 1_000] {
            while used + size + 4 <= SessionMessage.eventsBudgetBytes {
                packed.append([UInt8](repeating: 1, count: size))
                used += size + 4
            }
        }
        let events = SessionMessage.events(packed)
        for m in [part, want, goodbye, events] {
            #expect(m.encoded().count + tag <= SessionMessage.frameFloorBytes, "\(m.type): \(m.encoded().count + tag) bytes")
        }
        #expect(SessionMessage.frameFloorBytes <= 65_535)
    }

    /// A reconciliation message that is an exact multiple of the part size ends with a full `reconcile`,
    /// never with an empty one (PROTOCOL.md §16).
    @Test func exactMultipleOfThePartSizeEndsWithAFullReconcile() {
        let n = SessionMessage.reconcilePartBytes
        let frames = SessionMessage.reconcileFrames([UInt8](repeating: 3, count: 2 * n))
        #expect(frames == [.reconcilePart([UInt8](repeating: 3, count: n)), .reconcile([UInt8](repeating: 3, count: n))])
        #expect(SessionMessage.reconcileFrames([]) == [.reconcile([])])
    }
}
