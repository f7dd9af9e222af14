import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

/// Decodes hex that the test itself wrote.
func bytes(_ hex: String) -> [UInt8] {
    Hex.decode(hex.filter { !$0.isWhitespace })!
}

/// The error code `CBOR.decode` throws for `input`, or "ok".
func cborCode(_ input: [UInt8], maxDepth: Int = 8) -> String {
    do {
        _ = try CBOR.decode(input, maxDepth: maxDepth)
        return "ok"
    } catch {
        return error.code.rawValue
    }
}

@Suite("Canonical CBOR", .timeLimit(.minutes(10)))
struct CBORTests {
    /// RFC 8949 appendix A examples that fall inside Whipround's subset, with their only encoding.
    static let known: [(CBOR, String)] = [
        (.unsigned(0), "00"), (.unsigned(1), "01"), (.unsigned(10), "0a"), (.unsigned(23), "17"),
        (.unsigned(24), "1818"), (.unsigned(25), "1819"), (.unsigned(100), "1864"), (.unsigned(255), "18ff"),
        (.unsigned(256), "190100"), (.unsigned(1000), "1903e8"), (.unsigned(65535), "19ffff"),
        (.unsigned(65536), "1a00010000"), (.unsigned(1_000_000), "1a000f4240"),
        (.unsigned(0xffff_ffff), "1affffffff"), (.unsigned(0x1_0000_0000), "1b0000000100000000"),
        (.unsigned(1_000_000_000_000), "1b000000e8d4a51000"), (.unsigned(UInt64.max), "1bffffffffffffffff"),
        (.negative(0), "20"), (.negative(9), "29"), (.negative(99), "3863"), (.negative(999), "3903e7"),
        (.negative(UInt64.max), "3bffffffffffffffff"),
        (.bytes([]), "40"), (.bytes([1, 2, 3, 4]), "4401020304"),
        (.text(""), "60"), (.text("a"), "6161"), (.text("IETF"), "6449455446"), (.text("\"\\"), "62225c"),
        (.text("\u{00fc}"), "62c3bc"), (.text("\u{6c34}"), "63e6b0b4"), (.text("\u{10151}"), "64f0908591"),
        (.array([]), "80"), (.array([.unsigned(1), .unsigned(2), .unsigned(3)]), "83010203"),
        (.array([.unsigned(1), .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])]), "8301820203820405"),
        (.array((1...25).map { CBOR.unsigned($0) }), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
        (.map([]), "a0"), (.map([(1, .unsigned(2)), (3, .unsigned(4))]), "a201020304"),
        (.bool(false), "f4"), (.bool(true), "f5"),
    ]

    @Test("known encodings (RFC 8949 appendix A) encode and decode both ways")
    func knownEncodings() throws {
        for (value, hex) in Self.known {
            #expect(Hex.encode(value.encoded()) == hex, "\(value)")
            #expect(try CBOR.decode(bytes(hex)) == value, "\(hex)")
        }
    }

    @Test("lengths at the head-size boundaries round trip")
    func lengthBoundaries() throws {
        for n in [0, 23, 24, 255, 256, 65535, 65536] {
            let b = CBOR.bytes([UInt8](repeating: 0xab, count: n))
            #expect(try CBOR.decode(b.encoded()) == b)
            let t = CBOR.text(String(repeating: "x", count: n))
            #expect(try CBOR.decode(t.encoded()) == t)
        }
        let big = CBOR.map((0..<300).map { (UInt64($0) * 1_000, CBOR.unsigned(UInt64($0))) })
        #expect(try CBOR.decode(big.encoded()) == big)
    }

    @Test(
        "the decoder rejects non-canonical and out-of-subset input with the right code",
        arguments: [
            // Integers and lengths not in their shortest form.
            ("1805", "decode.non_canonical"), ("1817", "decode.non_canonical"), ("190005", "decode.non_canonical"),
            ("1900ff", "decode.non_canonical"), ("1a0000ffff", "decode.non_canonical"),
            ("1b00000000ffffffff", "decode.non_canonical"), ("3800", "decode.non_canonical"),
            ("580100", "decode.non_canonical"), ("780161", "decode.non_canonical"), ("980100", "decode.non_canonical"),
            ("b8010000", "decode.non_canonical"),
            // Indefinite lengths.
            ("5f", "decode.indefinite"), ("5f4100ff", "decode.indefinite"), ("7f", "decode.indefinite"),
            ("9f", "decode.indefinite"), ("9f01ff", "decode.indefinite"), ("bf", "decode.indefinite"),
            ("bf0100ff", "decode.indefinite"),
            // Map keys: unsorted, duplicated, not unsigned integers.
            ("a2020001 00", "decode.key_order"), ("a2010001 00", "decode.key_order"), ("a3000102000102", "decode.key_order"),
            ("a1616100", "decode.bad_key"), ("a12000", "decode.bad_key"), ("a14000", "decode.bad_key"),
            ("a18000", "decode.bad_key"), ("a1f500", "decode.bad_key"),
            // Floats, simple values, null and undefined.
            ("f93c00", "decode.unsupported"), ("f90000", "decode.unsupported"), ("fa3f800000", "decode.unsupported"),
            ("fa00000000", "decode.unsupported"), ("fb3ff199999999999a", "decode.unsupported"),
            ("fb0000000000000000", "decode.unsupported"), ("f6", "decode.unsupported"), ("f7", "decode.unsupported"),
            ("f0", "decode.unsupported"), ("f820", "decode.unsupported"), ("f818", "decode.unsupported"),
            ("ff", "decode.unsupported"),
            // Tags.
            ("c000", "decode.unsupported"), ("c074323031332d30332d32315432303a30343a30305a", "decode.unsupported"),
            ("c11a514b67b0", "decode.unsupported"), ("d818456449455446", "decode.unsupported"),
            ("d9d9f700", "decode.unsupported"), ("8201c000", "decode.unsupported"), ("a101c000", "decode.unsupported"),
            // Reserved additional information.
            ("1c", "decode.reserved"), ("1d", "decode.reserved"), ("3e", "decode.reserved"), ("5c", "decode.reserved"),
            // Text that is not UTF-8: a bad continuation, a lone continuation, an overlong form, a surrogate, 0xff.
            ("62c328", "decode.bad_utf8"), ("6180", "decode.bad_utf8"), ("62c080", "decode.bad_utf8"),
            ("63eda080", "decode.bad_utf8"), ("61ff", "decode.bad_utf8"), ("64f4908080", "decode.bad_utf8"),
            ("8161ff", "decode.bad_utf8"), ("a10161ff", "decode.bad_utf8"),
            // Trailing bytes.
            ("0000", "decode.trailing_bytes"), ("8100 00", "decode.trailing_bytes"), ("a0a0", "decode.trailing_bytes"),
            ("f4f5", "decode.trailing_bytes"),
            // Truncated input.
            ("", "decode.truncated"), ("18", "decode.truncated"), ("1901", "decode.truncated"), ("1b000000", "decode.truncated"),
            ("41", "decode.truncated"), ("6261", "decode.truncated"), ("8201", "decode.truncated"), ("a101", "decode.truncated"),
            ("a2010203", "decode.truncated"), ("5affffffff00", "decode.truncated"), ("9bffffffffffffffff", "decode.truncated"),
            ("bbffffffffffffffff", "decode.truncated"), ("7bffffffffffffffff", "decode.truncated"),
        ])
    func rejects(hex: String, code: String) {
        #expect(cborCode(bytes(hex)) == code)
    }

    @Test("nesting deeper than the limit is refused")
    func depth() {
        let nine = [UInt8](repeating: 0x81, count: 9) + [0x00]
        #expect(cborCode(nine, maxDepth: 8) == "decode.too_deep")
        #expect(cborCode(nine, maxDepth: 9) == "ok")
        #expect(cborCode(Array(nine.dropFirst()), maxDepth: 8) == "ok")
        #expect(cborCode([0xa1, 0x00, 0x81, 0x00], maxDepth: 1) == "decode.too_deep")
    }

    /// A random value of the subset, at most `depth` levels deep.
    static func randomValue(_ g: inout SplitMix64, depth: Int = 3) -> CBOR {
        let atomsOnly = depth == 0
        switch g.below(atomsOnly ? 5 : 7) {
        case 0:
            let widths: [UInt64] = [23, 255, 65_535, 0xffff_ffff, UInt64.max]
            return .unsigned(g.uint64(in: 0...g.pick(widths)))
        case 1: return .negative(g.uint64(in: 0...g.pick([23, 300, UInt64.max])))
        case 2: return .bytes(g.bytes(g.pick([0, 1, 23, 24, 40, 300])))
        case 3:
            let pieces = ["", "a", "é", "水", "𐅑", "Elm Street", "\n"]
            return .text((0..<g.below(6)).map { _ in g.pick(pieces) }.joined())
        case 4: return .bool(g.chance(50))
        case 5: return .array((0..<g.below(5)).map { _ in randomValue(&g, depth: depth - 1) })
        default:
            var key: UInt64 = 0
            var pairs: [(UInt64, CBOR)] = []
            for _ in 0..<g.below(5) {
                key += g.uint64(in: 0...g.pick([3, 30, 70_000, 1 << 40]))
                pairs.append((key, randomValue(&g, depth: depth - 1)))
                key += 1
            }
            return .map(pairs)
        }
    }

    @Test("random values round trip and re-encode to the same bytes")
    func randomRoundTrips() throws {
        var g = SplitMix64(seed: 0xCB0B)
        for i in 0..<3_000 {
            let value = Self.randomValue(&g)
            let encoded = value.encoded()
            let decoded = try CBOR.decode(encoded)
            #expect(decoded == value, "case \(i)")
            #expect(decoded.encoded() == encoded, "case \(i)")
        }
    }

    @Test("one encoding per value: whatever random or mutated bytes decode, they re-encode to themselves")
    func canonicalFuzz() {
        var g = SplitMix64(seed: 0xF022)
        var accepted = 0
        var mismatches: [String] = []
        for _ in 0..<20_000 {
            var input: [UInt8]
            if g.chance(50) {
                input = g.bytes(g.below(10))
            } else {
                input = Self.randomValue(&g, depth: 2).encoded()
                for _ in 0..<g.int(in: 1...2) where !input.isEmpty {
                    let i = g.below(input.count)
                    switch g.below(3) {
                    case 0: input[i] ^= UInt8(1 << g.below(8))
                    case 1: input[i] = UInt8(g.below(256))
                    default: input.insert(UInt8(g.below(256)), at: i)
                    }
                }
            }
            guard let value = try? CBOR.decode(input) else { continue }
            accepted += 1
            if value.encoded() != input { mismatches.append(Hex.encode(input)) }
        }
        #expect(mismatches.isEmpty, "decoded but not canonical: \(mismatches.prefix(5))")
        #expect(accepted > 500)
    }

    @Test("equality tells kinds and keys apart")
    func equality() {
        // Map equality is order-sensitive on purpose: only ascending keys are a valid value.
        #expect(CBOR.map([(1, .bool(true))]) != CBOR.map([(2, .bool(true))]))
        #expect(CBOR.map([(1, .bool(true))]) != CBOR.array([.unsigned(1), .bool(true)]))
        #expect(CBOR.unsigned(1) != CBOR.negative(1))
        #expect(CBOR.text("a") != CBOR.bytes([0x61]))
    }
}
