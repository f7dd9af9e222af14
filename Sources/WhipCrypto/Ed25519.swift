import CSodium

/// An Ed25519 public key (32 bytes).
public struct PublicKey: Hashable, Sendable, Comparable {
    /// Raw key bytes.
    public let bytes: [UInt8]

    /// Wraps 32 raw bytes; fails on any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Hashes the 32 bytes in one call (the synthesised hash feeds the array to the hasher a byte at a time).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Checks an Ed25519 signature over `message` (libsodium's strict verification).
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        Sodium.ready()
        guard signature.count == 64 else { return false }
        return message.withUnsafeBufferPointer { m in
            crypto_sign_verify_detached(signature, m.baseAddress, UInt64(m.count), bytes) == 0
        }
    }

    /// Lower-case hex of the key.
    public var hex: String { Hex.encode(bytes) }

    public static func < (a: PublicKey, b: PublicKey) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// The X25519 form of this key, used for sealed boxes.
    public func curve25519() throws(CryptoError) -> [UInt8] {
        Sodium.ready()
        var out = [UInt8](repeating: 0, count: 32)
        guard crypto_sign_ed25519_pk_to_curve25519(&out, bytes) == 0 else {
            throw CryptoError(code: "crypto.bad_key", message: "not a valid Ed25519 public key")
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
            throw CryptoError(code: "crypto.bad_seed", message: "a signing key seed is 32 bytes, got \(seed.count)")
        }
        self.init(uncheckedSeed: seed)
    }

    private init(uncheckedSeed seed: [UInt8]) {
        Sodium.ready()
        var pk = [UInt8](repeating: 0, count: 32)
        var sk = [UInt8](repeating: 0, count: 64)
        _ = crypto_sign_seed_keypair(&pk, &sk, seed)
        self.publicKey = PublicKey(bytes: pk)!
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
            throw CryptoError(code: "crypto.seal_short", message: "sealed box is too short")
        }
        var xpk = [UInt8](repeating: 0, count: 32)
        var xsk = [UInt8](repeating: 0, count: 32)
        _ = crypto_sign_ed25519_pk_to_curve25519(&xpk, publicKey.bytes)
        _ = crypto_sign_ed25519_sk_to_curve25519(&xsk, secret)
        defer { sodium_memzero(&xsk, 32) }
        var out = [UInt8](repeating: 0, count: sealed.count - Int(crypto_box_sealbytes()))
        let rc = sealed.withUnsafeBufferPointer { s in
            crypto_box_seal_open(&out, s.baseAddress!, UInt64(s.count), xpk, xsk)
        }
        guard rc == 0 else {
            throw CryptoError(code: "crypto.seal_open", message: "sealed box is not addressed to this key or is corrupted")
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
