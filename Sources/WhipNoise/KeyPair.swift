/// An X25519 key pair for Noise static or ephemeral keys; the secret half is wiped when released.
public struct NoiseKeyPair: Sendable {
    /// The 32-byte X25519 public key.
    public let publicKey: [UInt8]
    let secret: Secret

    init(uncheckedSecret secret: Secret) {
        self.secret = secret
        self.publicKey = NoiseCrypto.publicKey(for: secret)
    }

    /// A new random key pair from libsodium's CSPRNG.
    public static func generate() -> NoiseKeyPair {
        NoiseCrypto.generateKeyPair()
    }

    /// Rebuilds a key pair from its 32-byte secret key, deriving the public key.
    public init(secretKey: [UInt8]) throws(NoiseError) {
        guard secretKey.count == Noise.dhLength else {
            throw NoiseError.badKey("an X25519 secret key is 32 bytes, got \(secretKey.count)")
        }
        self.init(uncheckedSecret: Secret(copying: secretKey))
    }

    /// The 32-byte secret key, for writing to protected storage only.
    public func exportSecretKey() -> [UInt8] {
        secret.bytes
    }
}
