import WhipCore
public import WhipCrypto
public import WhipNoise

/// The family of `HandshakeError`.
public enum HandshakeFailure: ErrorFamily {
    public static let describesWithCode = true
}

/// Why a peer handshake failed (`handshake.not_member_of_any`, `handshake.noise`, `handshake.bad_proof`,
/// `handshake.out_of_order`). The connection is closed; no application data was exchanged.
public typealias HandshakeError = CodedError<HandshakeFailure>

/// The handshake codes.
extension ErrorCode where Family == HandshakeFailure {
    /// The Noise handshake failed.
    public static let noise = Self("handshake.noise")
    /// The first message opens with none of this node's network keys.
    public static let notMemberOfAny = Self("handshake.not_member_of_any")
    /// The peer's member proof is missing, malformed or does not verify.
    public static let badProof = Self("handshake.bad_proof")
    /// A handshake message arrived when none was expected.
    public static let outOfOrder = Self("handshake.out_of_order")
}

/// The result of a completed handshake: who the peer is, for which community, and the session keys.
public struct EstablishedSession: Sendable {
    /// The community both sides proved they hold the network key of.
    public let community: PublicKey
    /// The peer's Ed25519 member identity, bound to its Noise static key by a signature.
    public let peerIdentity: PublicKey
    /// Transport encryption for the rest of the connection.
    public var transport: TransportState
}

/// Whipround's admission handshake: `Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b`, the PSK being the community's
/// network key, so a node without it fails on the very first message and never sees application data.
///
/// Messages 2 and 3 carry a member proof: the sender's Ed25519 identity and its signature over
/// `"whipround/peer-proof/1" || community id || sender's Noise static key || handshake hash so far`,
/// which binds the member identity to the Noise key for this session only. A pure state machine: no I/O.
public struct PeerHandshake: Sendable {
    /// The Noise protocol name.
    public static let protocolName = "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b"
    /// The Noise prologue: the wire protocol name and version.
    public static let prologue = Array("whipround/3".utf8)
    static let proofContext = Array("whipround/peer-proof/1".utf8)

    /// What the caller does next.
    public enum Step: Sendable {
        /// Send these bytes as one frame, then wait for the peer.
        case send([UInt8])
        /// Send these bytes as one frame; the session is established.
        case sendAndEstablish([UInt8], EstablishedSession)
        /// The session is established; nothing more to send.
        case established(EstablishedSession)
    }

    /// The community this handshake is for.
    public let community: PublicKey
    private var noise: HandshakeState
    private let identity: SigningKey
    private let noiseKey: NoiseKeyPair
    private var peerIdentity: PublicKey?

    private init(community: PublicKey, noise: HandshakeState, identity: SigningKey, noiseKey: NoiseKeyPair) {
        self.community = community
        self.noise = noise
        self.identity = identity
        self.noiseKey = noiseKey
    }

    static func wrap(_ e: NoiseError) -> HandshakeError { HandshakeError(.noise, e.message) }

    /// Starts a handshake as the connecting side and returns it with the first message to send.
    public static func initiate(
        community: PublicKey, networkKey: [UInt8], noiseKey: NoiseKeyPair, identity: SigningKey
    ) throws(HandshakeError) -> (PeerHandshake, first: [UInt8]) {
        try initiate(community: community, networkKey: networkKey, noiseKey: noiseKey, identity: identity, prologue: prologue)
    }

    /// `initiate` under another prologue: how a node of another protocol version starts (for tests).
    package static func initiate(
        community: PublicKey, networkKey: [UInt8], noiseKey: NoiseKeyPair, identity: SigningKey, prologue: [UInt8]
    ) throws(HandshakeError) -> (PeerHandshake, first: [UInt8]) {
        do {
            var hs = try HandshakeState(
                protocolName: protocolName, role: .initiator, prologue: prologue, staticKeyPair: noiseKey, psks: [networkKey])
            let first = try hs.writeMessage()
            return (PeerHandshake(community: community, noise: hs, identity: identity, noiseKey: noiseKey), first)
        } catch {
            throw wrap(error)
        }
    }

    /// Answers a first message: finds the community whose network key opens it (trying each; the peer learns
    /// nothing about the others) and returns the handshake with the reply to send.
    public static func respond(
        to first: [UInt8], communities: [(id: PublicKey, networkKey: [UInt8])], noiseKey: NoiseKeyPair, identity: SigningKey
    ) throws(HandshakeError) -> (PeerHandshake, reply: [UInt8]) {
        for c in communities {
            guard
                var hs = try? HandshakeState(
                    protocolName: protocolName, role: .responder, prologue: prologue, staticKeyPair: noiseKey, psks: [c.networkKey]),
                (try? hs.readMessage(first)) != nil
            else { continue }
            var me = PeerHandshake(community: c.id, noise: hs, identity: identity, noiseKey: noiseKey)
            let reply = try me.writeWithProof()
            return (me, reply)
        }
        throw HandshakeError(.notMemberOfAny, "the first message opens with none of this node's network keys")
    }

    private mutating func writeWithProof() throws(HandshakeError) -> [UInt8] {
        let signed = PeerHandshake.proofContext + community.bytes + noiseKey.publicKey + noise.handshakeHash
        let proof = CBOR.array([.bytes(identity.publicKey.bytes), .bytes(identity.sign(signed))]).encoded()
        do { return try noise.writeMessage(payload: proof) } catch { throw PeerHandshake.wrap(error) }
    }

    private mutating func readWithProof(_ message: [UInt8]) throws(HandshakeError) {
        let before = noise.handshakeHash
        let payload: [UInt8]
        do { payload = try noise.readMessage(message) } catch { throw PeerHandshake.wrap(error) }
        guard let peerStatic = noise.remoteStaticKey,
            case .array(let items)? = try? CBOR.decode(payload, maxDepth: 1), items.count == 2,
            case .bytes(let key) = items[0], let identityKey = PublicKey(bytes: key),
            case .bytes(let signature) = items[1]
        else { throw HandshakeError(.badProof, "the peer's member proof is malformed") }
        let signed = PeerHandshake.proofContext + community.bytes + peerStatic + before
        guard identityKey.verify(signature: signature, message: signed) else {
            throw HandshakeError(.badProof, "the peer's member proof does not verify")
        }
        peerIdentity = identityKey
    }

    /// Handles the peer's next handshake message.
    public mutating func receive(_ message: [UInt8]) throws(HandshakeError) -> Step {
        switch (noise.role, noise.next) {
        case (.initiator, .read):
            try readWithProof(message)
            let third = try writeWithProof()
            return .sendAndEstablish(third, try established())
        case (.responder, .read):
            try readWithProof(message)
            return .established(try established())
        default:
            throw HandshakeError(.outOfOrder, "a handshake message arrived when none was expected")
        }
    }

    private mutating func established() throws(HandshakeError) -> EstablishedSession {
        guard let peerIdentity else { throw HandshakeError(.badProof, "no member proof received") }
        do {
            return EstablishedSession(community: community, peerIdentity: peerIdentity, transport: try noise.finish())
        } catch {
            throw PeerHandshake.wrap(error)
        }
    }
}
