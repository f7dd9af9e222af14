import Foundation
import Testing
import WhipCore
import WhipCrypto

/// The bundle file of PROTOCOL.md §12: version 2 carries part records after the events, version 1 is still read.
@Suite(.timeLimit(.minutes(10)))
struct BundleFormatTests {
    let events: [[UInt8]] = (0..<5).map { i in [UInt8](repeating: UInt8(i), count: 10 + i) }
    let parts: [[UInt8]] = (0..<3).map { i in [UInt8](repeating: 0xA0 + UInt8(i), count: 40 + i) }

    func stream(_ bytes: [UInt8], batch: Int) throws(WhipError) -> (events: [[UInt8]], parts: [[UInt8]]) {
        var r = EventBundle.StreamReader(size: bytes.count) { at, n in Array(bytes[at..<min(bytes.count, at + n)]) }
        try r.verify()
        var out: (events: [[UInt8]], parts: [[UInt8]]) = ([], [])
        while case let next = try r.next(upTo: batch), !next.isEmpty { out.events += next }
        while case let next = try r.nextParts(upTo: batch), !next.isEmpty { out.parts += next }
        return out
    }

    /// The version-1 layout, written by hand as PROTOCOL.md §12 gives it.
    func versionOne(_ events: [[UInt8]]) -> [UInt8] {
        func be32(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] }
        var out = Array("WHIPBNDL".utf8) + [1] + be32(events.count)
        for e in events { out += be32(e.count) + e }
        return out + Blake2b.hash(out, length: 32)
    }

    @Test func versionTwoCarriesPartsAfterTheEvents() throws {
        let bundle = EventBundle.encode(events, parts: parts)
        #expect(bundle[8] == 2)
        let whole = try EventBundle.decode(bundle)
        #expect(whole.events == events)
        #expect(whole.parts == parts)
        for batch in [1, 2, 4, 100] {
            let s = try stream(bundle, batch: batch)
            #expect(s.events == events)
            #expect(s.parts == parts)
        }
        let none = EventBundle.encode(events)
        #expect(try EventBundle.decode(none).parts.isEmpty)
        #expect(try stream(none, batch: 2).events == events)
    }

    @Test func versionOneIsStillRead() throws {
        let old = versionOne(events)
        let whole = try EventBundle.decode(old)
        #expect(whole.events == events)
        #expect(whole.parts.isEmpty)
        for batch in [1, 3, 100] {
            let s = try stream(old, batch: batch)
            #expect(s.events == events)
            #expect(s.parts.isEmpty)
        }
        // A version-1 file must end after its events: a part section there is damage.
        var extra = Array(old.dropLast(32)) + [0, 0, 0, 0]
        extra += Blake2b.hash(extra, length: 32)
        #expect(throws: WhipError.self) { try EventBundle.decode(extra) }
        #expect(throws: WhipError.self) { try stream(extra, batch: 2) }
    }

    /// The independent generator's bundles (PROTOCOL.md §13): version 1 and version 2 with part records.
    @Test func generatedBundlesDecode() throws {
        let url = try #require(Bundle.module.url(forResource: "events", withExtension: "json", subdirectory: "Vectors"))
        let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for (key, version) in [("bundle", 1), ("bundle_v2", 2)] {
            let v = try #require(file[key] as? [String: Any], "\(key)")
            let hex = try #require(v["hex"] as? String)
            let bytes = try #require(Hex.decode(hex))
            #expect(Int(bytes[8]) == version)
            let decoded = try EventBundle.decode(bytes)
            let ids = try decoded.events.map { try Event.decode(wire: $0).id.hex }
            #expect(ids == v["event_ids"] as? [String], "\(key)")
            #expect(decoded.parts.map { Hex.encode($0) } == (v["parts"] as? [String] ?? []), "\(key)")
            for record in decoded.parts {
                let r = try PartRecord.decode(record)
                #expect(ids.contains(r.event.hex), "a part of an event in the file")
            }
            #expect(try stream(bytes, batch: 1).parts == decoded.parts)
        }
    }

    @Test func unknownVersionsAreRefusedWithTheRangeRead() throws {
        var future = Array(EventBundle.encode(events, parts: parts).dropLast(32))
        future[8] = 3
        future += Blake2b.hash(future, length: 32)
        let whole = #expect(throws: WhipError.self) { try EventBundle.decode(future) }
        #expect(whole?.message.contains("version 3 is not supported") == true)
        #expect(whole?.message.contains("versions 1 to 2") == true)
        #expect(throws: WhipError.self) { try stream(future, batch: 2) }
    }

    @Test func anyDamageRefusesTheWholeFile() throws {
        let bundle = EventBundle.encode(events, parts: parts)
        for i in stride(from: 0, to: bundle.count, by: 7) {
            var bad = bundle
            bad[i] ^= 0x10
            #expect(throws: WhipError.self) { try EventBundle.decode(bad) }
            #expect(throws: WhipError.self) { try stream(bad, batch: 2) }
        }
        #expect(throws: WhipError.self) { try EventBundle.decode(Array(bundle.dropLast())) }
        // Bytes after the part section, under a correct checksum, are damage too.
        var trailing = Array(bundle.dropLast(32)) + [0]
        trailing += Blake2b.hash(trailing, length: 32)
        #expect(throws: WhipError.self) { try EventBundle.decode(trailing) }
        #expect(throws: WhipError.self) { try stream(trailing, batch: 2) }
    }
}
