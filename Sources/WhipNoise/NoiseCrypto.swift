import CSodium
import WhipCrypto

/// Secret bytes in their own allocation, immutable once built and wiped with `sodium_memzero` on release.
///
/// Immutability after `init` is what makes the unchecked `Sendable` sound.
final class Secret: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<UInt8>

    /// `count` bytes written by `fill` (which sees them zeroed first).
    init(count: Int, _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(count, 1))
        buffer.initialize(repeating: 0)
        fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
        storage = buffer
        self.count = count
    }

    /// A copy of `bytes`.
    convenience init(copying bytes: UnsafeBufferPointer<UInt8>) {
        self.init(count: bytes.count) { out in
            if let base = bytes.baseAddress { out.baseAddress!.update(from: base, count: bytes.count) }
        }
    }

    /// A copy of `bytes` (the caller remains responsible for wiping its own array).
    convenience init(copying bytes: [UInt8]) {
        self.init(count: bytes.count) { out in
            bytes.withUnsafeBufferPointer { b in
                if let base = b.baseAddress { out.baseAddress!.update(from: base, count: b.count) }
            }
        }
    }

    let count: Int

    deinit {
        sodium_memzero(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    /// Read access to the bytes; the pointer must not escape `body`.
    func withBytes<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(rebasing: storage[0..<count]))
    }

    /// A new secret holding the first `n` bytes.
    func prefix(_ n: Int) -> Secret {
        withBytes { Secret(copying: UnsafeBufferPointer(rebasing: $0[0..<n])) }
    }

    /// The bytes as an array, for export only.
    var bytes: [UInt8] { withBytes { Array($0) } }
}

/// Incremental BLAKE2b-512 whose state is wiped on release.
struct HashState: ~Copyable {
    private let state: UnsafeMutableRawPointer
    private static let stateBytes = crypto_generichash_statebytes()

    init() {
        Sodium.ready()
        state = UnsafeMutableRawPointer.allocate(byteCount: Self.stateBytes, alignment: 64)
        _ = crypto_generichash_init(OpaquePointer(state), nil, 0, Noise.hashLength)
    }

    deinit {
        sodium_memzero(state, Self.stateBytes)
        state.deallocate()
    }

    mutating func update(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        _ = crypto_generichash_update(OpaquePointer(state), base, UInt64(bytes.count))
    }

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { update($0) }
    }

    /// Writes the 64-byte digest to `out`; the state must not be updated afterwards.
    mutating func finalize(into out: UnsafeMutablePointer<UInt8>) {
        _ = crypto_generichash_final(OpaquePointer(state), out, Noise.hashLength)
    }
}

/// The functions of Noise section 4 for 25519, ChaChaPoly and BLAKE2b.
enum NoiseCrypto {
    /// Overwrites `bytes` with zeros in a way the optimiser cannot drop.
    static func wipe(_ bytes: inout [UInt8]) { sodium_memzero(&bytes, bytes.count) }

    static let blockLength = 128

    /// HASH(a || b) with BLAKE2b-512.
    static func hash(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var hs = HashState()
        hs.update(a)
        hs.update(b)
        var out = [UInt8](repeating: 0, count: Noise.hashLength)
        out.withUnsafeMutableBufferPointer { hs.finalize(into: $0.baseAddress!) }
        return out
    }

    /// HASH(data) with BLAKE2b-512.
    static func hash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBufferPointer { hash([], $0) }
    }

    /// HMAC-BLAKE2b per RFC 2104 with the 128-byte block (not BLAKE2b's own keyed mode).
    static func hmac(key: UnsafeBufferPointer<UInt8>, _ parts: [UnsafeBufferPointer<UInt8>]) -> Secret {
        var block = [UInt8](repeating: 0, count: blockLength)
        var inner = [UInt8](repeating: 0, count: Noise.hashLength)
        defer {
            sodium_memzero(&block, block.count)
            sodium_memzero(&inner, inner.count)
        }
        block.withUnsafeMutableBufferPointer { b in
            if key.count > blockLength {
                var hs = HashState()
                hs.update(key)
                hs.finalize(into: b.baseAddress!)
            } else if let base = key.baseAddress {
                b.baseAddress!.update(from: base, count: key.count)
            }
            for i in 0..<blockLength { b[i] ^= 0x36 }
        }
        var hs = HashState()
        hs.update(block)
        for part in parts { hs.update(part) }
        inner.withUnsafeMutableBufferPointer { hs.finalize(into: $0.baseAddress!) }
        for i in 0..<blockLength { block[i] ^= 0x36 ^ 0x5c }
        return Secret(count: Noise.hashLength) { out in
            var outer = HashState()
            outer.update(block)
            outer.update(inner)
            outer.finalize(into: out.baseAddress!)
        }
    }

    /// HKDF(chaining_key, input_key_material, num_outputs) as Noise section 4.3 defines it.
    static func hkdf(chainingKey: Secret, inputKeyMaterial ikm: UnsafeBufferPointer<UInt8>, outputs: Int) -> [Secret] {
        precondition(outputs == 2 || outputs == 3)
        let tempKey = chainingKey.withBytes { hmac(key: $0, [ikm]) }
        var results: [Secret] = []
        tempKey.withBytes { tk in
            var previous: Secret?
            for i in 1...outputs {
                var counter = UInt8(i)
                let next = withUnsafeBytes(of: &counter) { c in
                    let cb = c.bindMemory(to: UInt8.self)
                    if let previous {
                        return previous.withBytes { hmac(key: tk, [$0, cb]) }
                    }
                    return hmac(key: tk, [cb])
                }
                results.append(next)
                previous = next
            }
        }
        return results
    }

    /// A fresh X25519 key pair from the system CSPRNG.
    static func generateKeyPair() -> NoiseKeyPair {
        Sodium.ready()
        let secret = Secret(count: Noise.dhLength) { randombytes_buf($0.baseAddress!, $0.count) }
        return NoiseKeyPair(uncheckedSecret: secret)
    }

    /// The X25519 public key for `secret`.
    static func publicKey(for secret: Secret) -> [UInt8] {
        Sodium.ready()
        var pk = [UInt8](repeating: 0, count: Noise.dhLength)
        secret.withBytes { sk in _ = crypto_scalarmult_base(&pk, sk.baseAddress!) }
        return pk
    }

    /// DH(key_pair, public_key); the all-zero output of a low-order point is an error.
    static func dh(_ keyPair: NoiseKeyPair, _ publicKey: [UInt8]) throws(NoiseError) -> Secret {
        Sodium.ready()
        guard publicKey.count == Noise.dhLength else {
            throw NoiseError.badKey("an X25519 public key is 32 bytes, got \(publicKey.count)")
        }
        var rc: Int32 = 0
        let out = Secret(count: Noise.dhLength) { q in
            keyPair.secret.withBytes { sk in
                rc = crypto_scalarmult(q.baseAddress!, sk.baseAddress!, publicKey)
            }
        }
        guard rc == 0 else {
            throw NoiseError.badDH("the DH output is all zero: the peer's public key has low order")
        }
        return out
    }

    /// A fixed clamped scalar: any X25519 output with it is zero exactly when the point has low order.
    private static let probeScalar = [UInt8](repeating: 0x5a, count: Noise.dhLength)

    /// Whether `publicKey` is a low-order (or all-zero) point, which no DH may use.
    static func isLowOrder(_ publicKey: [UInt8]) -> Bool {
        Sodium.ready()
        var q = [UInt8](repeating: 0, count: Noise.dhLength)
        return crypto_scalarmult(&q, probeScalar, publicKey) != 0
    }

    /// The 96-bit ChaChaPoly nonce: 32 zero bits then `n` little-endian.
    private static func nonceBytes(_ n: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { out[4 + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
        return out
    }

    /// ENCRYPT(k, n, ad, plaintext) with ChaCha20-Poly1305 IETF.
    static func encrypt(key: Secret, nonce: UInt64, ad: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + Noise.tagLength)
        var clen: UInt64 = 0
        let npub = nonceBytes(nonce)
        key.withBytes { k in
            _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                &out, &clen, plaintext, UInt64(plaintext.count), ad, UInt64(ad.count), nil, npub, k.baseAddress!)
        }
        return out
    }

    /// DECRYPT(k, n, ad, ciphertext); a failed tag check is `noise.decrypt_failed`.
    static func decrypt(key: Secret, nonce: UInt64, ad: [UInt8], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard ciphertext.count >= Noise.tagLength else {
            throw NoiseError.decryptFailed("a ciphertext is at least \(Noise.tagLength) bytes, got \(ciphertext.count)")
        }
        var out = [UInt8](repeating: 0, count: ciphertext.count - Noise.tagLength)
        var mlen: UInt64 = 0
        let npub = nonceBytes(nonce)
        let rc = key.withBytes { k in
            crypto_aead_chacha20poly1305_ietf_decrypt(
                &out, &mlen, nil, ciphertext, UInt64(ciphertext.count), ad, UInt64(ad.count), npub, k.baseAddress!)
        }
        guard rc == 0 else { throw NoiseError.decryptFailed() }
        return out
    }
}
