public import WhipCrypto
public import WhipNoise

/// Who this node is on the wire.
public struct NodeCredentials: Sendable {
    /// The member identity.
    public let identity: SigningKey
    /// The Noise static key, bound to the identity in every handshake.
    public let noiseKey: NoiseKeyPair

    /// Credentials from keys.
    public init(identity: SigningKey, noiseKey: NoiseKeyPair) {
        self.identity = identity
        self.noiseKey = noiseKey
    }
}
