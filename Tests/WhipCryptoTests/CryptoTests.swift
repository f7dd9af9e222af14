import Testing
import WhipCrypto
import WhipTestSupport

private func hex(_ s: String) -> [UInt8] { Hex.decode(s)! }

@Suite("Ed25519 signatures", .timeLimit(.minutes(10)))
struct SignatureTests {
    @Test("sign then verify round trips; another key or message fails")
    func roundTrip() {
        let key = FixedKeys.key(1)
        let message = Array("a pledge of 10.50 GBP".utf8)
        let signature = key.sign(message)
        #expect(signature.count == 64)
        #expect(key.publicKey.verify(signature: signature, message: message))
        #expect(!FixedKeys.key(2).publicKey.verify(signature: signature, message: message))
        #expect(!key.publicKey.verify(signature: signature, message: message + [0]))
        #expect(!key.publicKey.verify(signature: Array(signature.dropLast()), message: message))
        #expect(!key.publicKey.verify(signature: signature + [0], message: message))
        #expect(key.publicKey.verify(signature: key.sign([]), message: []))
    }

    @Test("RFC 8032 test 1 (empty message) known answer")
    func rfc8032() throws {
        let key = try SigningKey(seed: hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(key.publicKey.hex == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = key.sign([])
        #expect(
            Hex.encode(signature)
                == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        )
        #expect(key.publicKey.verify(signature: signature, message: []))
    }

    @Test("flipping any single bit of the message or the signature fails verification")
    func everyFlippedBitFails() {
        let key = FixedKeys.key(3)
        let message = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let signature = key.sign(message)
        var failures = 0
        for i in 0..<(message.count * 8) {
            var m = message
            m[i / 8] ^= 1 << UInt8(i % 8)
            if key.publicKey.verify(signature: signature, message: m) { failures += 1 }
        }
        for i in 0..<(signature.count * 8) {
            var s = signature
            s[i / 8] ^= 1 << UInt8(i % 8)
            if key.publicKey.verify(signature: s, message: message) { failures += 1 }
        }
        #expect(failures == 0, "\(failures) flipped variant(s) still verified")
    }

    @Test("seed round trip, and a seed of the wrong length is refused")
    func seeds() throws {
        let key = FixedKeys.key(4)
        let again = try SigningKey(seed: key.seed)
        #expect(again.publicKey == key.publicKey)
        #expect(key.seed == [UInt8](repeating: 4, count: 32))
        #expect(SigningKey.generate().publicKey != SigningKey.generate().publicKey)
        let error = #expect(throws: CryptoError.self) { try SigningKey(seed: [UInt8](repeating: 1, count: 31)) }
        #expect(error?.code.rawValue == "crypto.bad_seed")
        #expect(PublicKey(bytes: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(PublicKey(bytes: [UInt8](repeating: 1, count: 33)) == nil)
    }
}

@Suite("Sealed boxes to Ed25519 identities", .timeLimit(.minutes(10)))
struct SealedBoxTests {
    @Test("round trip to the recipient")
    func roundTrip() throws {
        let organiser = FixedKeys.organiser
        let message = Array("bob@example.org, 07700 900123".utf8)
        let sealed = try SealedBox.seal(message, to: organiser.publicKey)
        #expect(sealed.count == message.count + SealedBox.overhead)
        #expect(SealedBox.overhead == 48)
        #expect(try organiser.openSealed(sealed) == message)
        // Sealing is randomised: the same message never gives the same box twice.
        #expect(try SealedBox.seal(message, to: organiser.publicKey) != sealed)
        #expect(try organiser.openSealed(try SealedBox.seal([], to: organiser.publicKey)) == [])
    }

    @Test("the wrong recipient, a tampered box or a short box cannot be opened")
    func failures() throws {
        let sealed = try SealedBox.seal(Array("address for Gift Aid".utf8), to: FixedKeys.organiser.publicKey)
        let wrong = #expect(throws: CryptoError.self) { try FixedKeys.collectorA.openSealed(sealed) }
        #expect(wrong?.code.rawValue == "crypto.seal_open")
        for i in [0, 31, 32, 47, 48, sealed.count - 1] {
            var tampered = sealed
            tampered[i] ^= 0x01
            let e = #expect(throws: CryptoError.self) { try FixedKeys.organiser.openSealed(tampered) }
            #expect(e?.code.rawValue == "crypto.seal_open")
        }
        let short = #expect(throws: CryptoError.self) { try FixedKeys.organiser.openSealed(Array(sealed.prefix(47))) }
        #expect(short?.code.rawValue == "crypto.seal_short")
    }

    @Test("a key that is not a valid Ed25519 point cannot be sealed to")
    func badRecipient() throws {
        // The identity point: small order, refused by libsodium's Ed25519-to-X25519 conversion.
        let identity = try #require(PublicKey(bytes: [1] + [UInt8](repeating: 0, count: 31)))
        let e = #expect(throws: CryptoError.self) { try SealedBox.seal([1, 2, 3], to: identity) }
        #expect(e?.code.rawValue == "crypto.bad_key")
        #expect(try FixedKeys.organiser.publicKey.curve25519().count == 32)
    }
}

@Suite("BLAKE2b", .timeLimit(.minutes(10)))
struct Blake2bTests {
    @Test("BLAKE2b-256 of the empty string")
    func emptyString() {
        #expect(Hex.encode(Blake2b.hash([])) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
    }

    @Test("BLAKE2b-512 of \"abc\" (RFC 7693 appendix A)")
    func rfc7693() {
        #expect(
            Hex.encode(Blake2b.hash(Array("abc".utf8), length: 64))
                == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
    }

    @Test("incremental hashing equals one-shot hashing, keyed and unkeyed")
    func incremental() {
        var g = SplitMix64(seed: 7)
        let data = g.bytes(1_000)
        for key in [[], g.bytes(32)] {
            var h = Blake2b.Hasher(length: 32, key: key)
            h.update(Array(data[0..<1]))
            h.update(Array(data[1..<500]))
            h.update([])
            h.update(Array(data[500...]))
            #expect(h.finalize() == Blake2b.hash(data, length: 32, key: key))
        }
        #expect(Blake2b.hash(data, key: g.bytes(16)) != Blake2b.hash(data))
        #expect(Blake2b.hash(data, length: 16).count == 16)
    }
}

@Suite("Hex and helpers", .timeLimit(.minutes(10)))
struct HexTests {
    @Test("hex round trip, either case in, lower case out")
    func roundTrip() {
        var g = SplitMix64(seed: 99)
        for n in [0, 1, 2, 31, 32, 33, 255] {
            let bytes = g.bytes(n)
            let text = Hex.encode(bytes)
            #expect(text.count == 2 * n)
            #expect(text == text.lowercased())
            #expect(Hex.decode(text) == bytes)
            #expect(Hex.decode(text.uppercased()) == bytes)
        }
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.decode("DeadBeef") == [0xde, 0xad, 0xbe, 0xef])
    }

    @Test("hex decoding refuses odd lengths and non-hex characters")
    func rejects() {
        for bad in ["0", "abc", "0g", "zz", " 00", "00 ", "0x00", "é0"] {
            #expect(Hex.decode(bad) == nil, "\(bad)")
        }
    }

    @Test("constant-time comparison")
    func constantTime() {
        #expect(Sodium.constantTimeEqual([], []))
        #expect(Sodium.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Sodium.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Sodium.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(Sodium.randomBytes(16).count == 16)
        #expect(!Sodium.version.isEmpty)
    }
}

@Suite("SplitMix64", .timeLimit(.minutes(10)))
struct SplitMix64Tests {
    @Test("known answers for seed 0, and reproducibility")
    func knownAnswer() {
        var g = SplitMix64(seed: 0)
        #expect(g.next() == 0xe220_a839_7b1d_cdaf)
        #expect(g.next() == 0x6e78_9e6a_a1b9_65f4)
        #expect(g.next() == 0x06c4_5d18_8009_454f)
        var a = SplitMix64(seed: 42)
        var b = SplitMix64(seed: 42)
        #expect(a.shuffled(Array(0..<50)) == b.shuffled(Array(0..<50)))
    }

    @Test("bounded draws stay in range and cover it")
    func bounded() {
        var g = SplitMix64(seed: 1)
        var seen = Set<Int>()
        for _ in 0..<1_000 {
            let v = g.below(7)
            #expect((0..<7).contains(v))
            seen.insert(v)
        }
        #expect(seen.count == 7)
        for _ in 0..<100 {
            #expect((5...9).contains(g.int(in: 5...9)))
            #expect((10...12).contains(g.uint64(in: 10...12)))
        }
        #expect(g.shuffled(Array(0..<20)).sorted() == Array(0..<20))
    }
}
