import Foundation
import Testing
import WhipCrypto
import WhipTestSupport

@Suite("Bytes32: ids and keys held inline", .timeLimit(.minutes(10)))
struct Bytes32Tests {
    @Test("bytes round-trip from arrays, slices and Data; any other length is refused")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 32)
        let b = rng.bytes(32)
        let raw = try #require(Bytes32(b))
        #expect(raw.array == b)
        #expect(Bytes32(([0] + b)[1...]) == raw)
        #expect(Bytes32(Data(b)) == raw)
        #expect(raw.hex == Hex.encode(b))
        #expect((0..<32).map { raw[$0] } == b)
        #expect(Bytes32(b.dropLast()) == nil && Bytes32(b + [0]) == nil)
        #expect(PublicKey(bytes: b)?.bytes == b)
    }

    @Test("order is the bytes' lexicographic order")
    func order() throws {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<500 {
            var a = rng.bytes(32)
            var b = rng.bytes(32)
            // Often equal up to some byte, so every word boundary is crossed.
            let shared = Int(rng.next() % 33)
            b.replaceSubrange(0..<shared, with: a[0..<shared])
            if shared == 32 { a = b }
            let (x, y) = (try #require(Bytes32(a)), try #require(Bytes32(b)))
            #expect((x < y) == a.lexicographicallyPrecedes(b))
            #expect((x == y) == (a == b))
        }
    }
}
