/// The chaining key, handshake hash and cipher of a handshake (Noise section 5.2).
public struct SymmetricState: Sendable {
    var cipher: CipherState
    var chainingKey: Secret
    /// The handshake hash `h`; after the handshake it identifies the session (channel binding).
    public private(set) var handshakeHash: [UInt8]

    /// InitializeSymmetric: `h` is the padded name, or its hash when longer than 64 bytes; `ck = h`.
    public init(protocolName: String) {
        let name = Array(protocolName.utf8)
        let h: [UInt8]
        if name.count <= Noise.hashLength {
            h = name + [UInt8](repeating: 0, count: Noise.hashLength - name.count)
        } else {
            h = NoiseCrypto.hash(name)
        }
        handshakeHash = h
        chainingKey = Secret(copying: h)
        cipher = CipherState()
    }

    /// Whether the cipher has a key, so that payloads and static keys are encrypted.
    public var hasKey: Bool { cipher.hasKey }

    /// MixKey with input key material held in a buffer.
    mutating func mixKey(_ ikm: UnsafeBufferPointer<UInt8>) {
        let out = NoiseCrypto.hkdf(chainingKey: chainingKey, inputKeyMaterial: ikm, outputs: 2)
        chainingKey = out[0]
        cipher = CipherState(key: out[1].prefix(Noise.keyLength))
    }

    /// MixKey(input_key_material): derives a new chaining key and cipher key.
    public mutating func mixKey(_ ikm: [UInt8]) {
        ikm.withUnsafeBufferPointer { mixKey($0) }
    }

    /// MixKey with a DH output or other secret.
    mutating func mixKey(_ ikm: Secret) {
        ikm.withBytes { mixKey($0) }
    }

    /// MixHash(data): `h = HASH(h || data)`.
    public mutating func mixHash(_ data: [UInt8]) {
        data.withUnsafeBufferPointer { mixHash($0) }
    }

    mutating func mixHash(_ data: UnsafeBufferPointer<UInt8>) {
        handshakeHash = NoiseCrypto.hash(handshakeHash, data)
    }

    /// MixKeyAndHash with a secret such as a pre-shared key.
    mutating func mixKeyAndHash(_ ikm: Secret) {
        let out = ikm.withBytes { NoiseCrypto.hkdf(chainingKey: chainingKey, inputKeyMaterial: $0, outputs: 3) }
        chainingKey = out[0]
        out[1].withBytes { mixHash($0) }
        cipher = CipherState(key: out[2].prefix(Noise.keyLength))
    }

    /// MixKeyAndHash(input_key_material): used for pre-shared keys.
    public mutating func mixKeyAndHash(_ ikm: [UInt8]) {
        mixKeyAndHash(Secret(copying: ikm))
    }

    /// EncryptAndHash: encrypts with `h` as associated data (if keyed), then mixes the ciphertext.
    public mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipher.encrypt(ad: handshakeHash, plaintext: plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    /// DecryptAndHash: decrypts with `h` as associated data (if keyed), then mixes the ciphertext.
    public mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipher.decrypt(ad: handshakeHash, ciphertext: ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// Split: the initiator-to-responder and responder-to-initiator cipher states.
    public func split() -> (initiatorToResponder: CipherState, responderToInitiator: CipherState) {
        let out = NoiseCrypto.hkdf(
            chainingKey: chainingKey, inputKeyMaterial: UnsafeBufferPointer(start: nil, count: 0), outputs: 2)
        return (CipherState(key: out[0].prefix(Noise.keyLength)), CipherState(key: out[1].prefix(Noise.keyLength)))
    }
}
