public import WhipCore
import WhipCrypto
public import WhipNode
import WhipNoise

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
