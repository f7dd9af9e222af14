public import WhipCore
public import WhipCrypto
public import WhipNode
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

extension NodeCredentials {
    /// The node's network credentials: its identity and its Noise static key (created on first use).
    public init(node: Node) throws(WhipError) {
        do {
            self.init(identity: node.identity, noiseKey: try NoiseKeyPair(secretKey: try node.secret(named: "noise.key")))
        } catch let e as WhipError {
            throw e
        } catch {
            throw WhipError(.corrupt, "noise.key in \(node.dir.path) is not a valid key", cause: error)
        }
    }
}
