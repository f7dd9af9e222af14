import CSodium

/// An Ed25519 public key (32 bytes, held inline).
public struct PublicKey: Hashable, Sendable, Comparable {
    /// The 32 key bytes.
    public let raw: Bytes32

    /// Wraps 32 bytes.
    public init(_ raw: Bytes32) { self.raw = raw }

    /// Wraps 32 raw bytes; fails on any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard let raw = Bytes32(bytes) else { return nil }
        self.raw = raw
    }

    /// The key bytes as an array (allocates; `raw.withUnsafeBytes` does not).
    public var bytes: [UInt8] { raw.array }

    /// Checks an Ed25519 signature over `message` (libsodium's strict verification).
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        Sodium.ready()
        guard signature.count == 64 else { return false }
        return message.withUnsafeBufferPointer { m in
            raw.withUnsafeBytePointer { k in crypto_sign_verify_detached(signature, m.baseAddress, UInt64(m.count), k) == 0 }
        }
    }

    /// Lower-case hex of the key.
    public var hex: String { raw.hex }

    public static func < (a: PublicKey, b: PublicKey) -> Bool { a.raw < b.raw }

    /// The X25519 form of this key, used for sealed boxes.
    public func curve25519() throws(CryptoError) -> [UInt8] {
        Sodium.ready()
        var out = [UInt8](repeating: 0, count: 32)
        guard raw.withUnsafeBytePointer({ crypto_sign_ed25519_pk_to_curve25519(&out, $0) }) == 0 else {
            throw CryptoError(code: .badKey, message: "not a valid Ed25519 public key")
        }
        return out
    }
}

/// An Ed25519 signing identity; the secret never leaves this type except through `seed` for storage.
public struct SigningKey: Sendable {
    /// The public half.
    public let publicKey: PublicKey
    private let secret: [UInt8]  // libsodium's 64-byte form: seed || public key

    /// A new random key.
    public static func generate() -> SigningKey {
        SigningKey(uncheckedSeed: Sodium.randomBytes(32))
    }

    /// Rebuilds a key from its 32-byte seed.
    public init(seed: [UInt8]) throws(CryptoError) {
        guard seed.count == 32 else {
            throw CryptoError(code: .badSeed, message: "a signing key seed is 32 bytes, got \(seed.count)")
        }
        self.init(uncheckedSeed: seed)
    }

    private init(uncheckedSeed seed: [UInt8]) {
        Sodium.ready()
        var pk = [UInt8](repeating: 0, count: 32)
        var sk = [UInt8](repeating: 0, count: 64)
        _ = crypto_sign_seed_keypair(&pk, &sk, seed)
        self.publicKey = PublicKey(Bytes32(filling: { $0.copyBytes(from: pk) }))
        self.secret = sk
    }

    /// The 32-byte seed, for writing to a 0600 key file only.
    public var seed: [UInt8] { Array(secret[0..<32]) }

    /// Signs `message` (detached, 64 bytes).
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: 64)
        message.withUnsafeBufferPointer { m in
            _ = crypto_sign_detached(&sig, nil, m.baseAddress, UInt64(m.count), secret)
        }
        return sig
    }

    /// Opens a sealed box addressed to this identity's X25519 form.
    public func openSealed(_ sealed: [UInt8]) throws(CryptoError) -> [UInt8] {
        Sodium.ready()
        guard sealed.count >= Int(crypto_box_sealbytes()) else {
            throw CryptoError(code: .sealShort, message: "sealed box is too short")
        }
        var xpk = [UInt8](repeating: 0, count: 32)
        var xsk = [UInt8](repeating: 0, count: 32)
        _ = publicKey.raw.withUnsafeBytePointer { crypto_sign_ed25519_pk_to_curve25519(&xpk, $0) }
        _ = crypto_sign_ed25519_sk_to_curve25519(&xsk, secret)
        defer { sodium_memzero(&xsk, 32) }
        var out = [UInt8](repeating: 0, count: sealed.count - Int(crypto_box_sealbytes()))
        let rc = sealed.withUnsafeBufferPointer { s in
            crypto_box_seal_open(&out, s.baseAddress!, UInt64(s.count), xpk, xsk)
        }
        guard rc == 0 else {
            throw CryptoError(code: .sealOpen, message: "sealed box is not addressed to this key or is corrupted")
        }
        return out
    }
}

/// libsodium sealed boxes addressed to Ed25519 identities (converted to X25519).
public enum SealedBox {
    /// Bytes a sealed box adds to its plaintext.
    public static let overhead = Int(crypto_box_sealbytes())

    /// Encrypts `message` so only the holder of `recipient`'s secret key can read it.
    public static func seal(_ message: [UInt8], to recipient: PublicKey) throws(CryptoError) -> [UInt8] {
        let xpk = try recipient.curve25519()
        var out = [UInt8](repeating: 0, count: message.count + overhead)
        message.withUnsafeBufferPointer { m in
            _ = crypto_box_seal(&out, m.baseAddress, UInt64(m.count), xpk)
        }
        return out
    }
}

/// Lower-case hexadecimal.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The lower-case hex digit of a nibble (0...15).
    @inline(__always)
    static func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 + nibble : 87 + nibble }

    /// Encodes bytes as lower-case hex.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex (either case); nil on odd length or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
}
