/// A ChaChaPoly key and its 64-bit nonce (Noise section 5.1).
///
/// The nonce never wraps: 2^64-1 is reserved, and an operation that would use it fails with
/// `noise.nonce_exhausted`. A failed decryption does not advance the nonce.
public struct CipherState: Sendable {
    var key: Secret?
    /// The nonce the next encryption or decryption will use.
    public private(set) var nonce: UInt64 = 0

    init() {}

    init(key: Secret) {
        self.key = key
    }

    /// A cipher state with a 32-byte key and nonce 0 (InitializeKey).
    public init(key: [UInt8]) throws(NoiseError) {
        guard key.count == Noise.keyLength else {
            throw NoiseError.badKey("a cipher key is \(Noise.keyLength) bytes, got \(key.count)")
        }
        self.key = Secret(copying: key)
    }

    /// Whether a key is set; without one, encryption and decryption are the identity.
    public var hasKey: Bool { key != nil }

    /// Sets the nonce (SetNonce); for tests and out-of-order transports, never to reuse a nonce.
    package mutating func setNonce(_ nonce: UInt64) {
        self.nonce = nonce
    }

    /// EncryptWithAd: seals `plaintext` under the current nonce, then advances it.
    public mutating func encrypt(ad: [UInt8], plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext }
        guard plaintext.count <= Noise.maxPayloadLength else {
            throw NoiseError.messageTooLong(plaintext.count + Noise.tagLength)
        }
        guard nonce < UInt64.max else { throw NoiseError.nonceExhausted }
        let out = NoiseCrypto.encrypt(key: key, nonce: nonce, ad: ad, plaintext: plaintext)
        nonce += 1
        return out
    }

    /// DecryptWithAd: opens `ciphertext` under the current nonce, advancing it only on success.
    public mutating func decrypt(ad: [UInt8], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return ciphertext }
        guard ciphertext.count <= Noise.maxMessageLength else {
            throw NoiseError.messageTooLong(ciphertext.count)
        }
        guard nonce < UInt64.max else { throw NoiseError.nonceExhausted }
        let out = try NoiseCrypto.decrypt(key: key, nonce: nonce, ad: ad, ciphertext: ciphertext)
        nonce += 1
        return out
    }

    /// Rekey: replaces the key with the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes).
    public mutating func rekey() {
        guard let key else { return }
        var stream = NoiseCrypto.encrypt(
            key: key, nonce: UInt64.max, ad: [], plaintext: [UInt8](repeating: 0, count: Noise.keyLength))
        defer { NoiseCrypto.wipe(&stream) }
        self.key = stream.withUnsafeBufferPointer { Secret(copying: UnsafeBufferPointer(rebasing: $0[0..<Noise.keyLength])) }
    }
}
