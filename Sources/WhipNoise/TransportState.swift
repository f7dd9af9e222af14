/// The two transport cipher states after a handshake: one to send, one to receive.
///
/// Messages are at most 65,535 bytes (a payload of at most 65,519); nonces count up from 0 and
/// never wrap. Decrypting a tampered or out-of-sequence message throws `noise.decrypt_failed`
/// and leaves the receive nonce where it was; the session should then be closed.
public struct TransportState: Sendable {
    /// Whether this party initiated the handshake.
    public let role: NoiseRole
    /// The final handshake hash, identical on both sides: a session identifier for channel binding.
    public let handshakeHash: [UInt8]
    /// The peer's static public key, if the pattern has one.
    public let remoteStaticKey: [UInt8]?
    var sender: CipherState?
    var receiver: CipherState?

    init(
        role: NoiseRole, handshakeHash: [UInt8], remoteStaticKey: [UInt8]?, sender: CipherState?,
        receiver: CipherState?
    ) {
        self.role = role
        self.handshakeHash = handshakeHash
        self.remoteStaticKey = remoteStaticKey
        self.sender = sender
        self.receiver = receiver
    }

    /// The nonce of the next message sent, or nil when this side cannot send (one-way pattern).
    public var sendNonce: UInt64? { sender?.nonce }
    /// The nonce of the next message received, or nil when this side cannot receive.
    public var receiveNonce: UInt64? { receiver?.nonce }

    /// Encrypts one transport message (payload plus a 16-byte tag).
    public mutating func encrypt(_ payload: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard payload.count <= Noise.maxPayloadLength else {
            throw NoiseError.messageTooLong(payload.count + Noise.tagLength)
        }
        guard sender != nil else {
            throw NoiseError(code: .oneWay, message: "the responder of a one-way pattern cannot send")
        }
        return try sender!.encrypt(ad: [], plaintext: payload)
    }

    /// Decrypts one transport message and returns its payload.
    public mutating func decrypt(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard message.count <= Noise.maxMessageLength else { throw NoiseError.messageTooLong(message.count) }
        guard message.count >= Noise.tagLength else {
            throw NoiseError.messageTooShort("a transport message is at least \(Noise.tagLength) bytes")
        }
        guard receiver != nil else {
            throw NoiseError(
                code: .oneWay, message: "the initiator of a one-way pattern cannot receive")
        }
        return try receiver!.decrypt(ad: [], ciphertext: message)
    }

    /// Rekeys the sending cipher (both sides must agree when to, for example by a message).
    public mutating func rekeySender() {
        sender?.rekey()
    }

    /// Rekeys the receiving cipher, matching the peer's `rekeySender()`.
    public mutating func rekeyReceiver() {
        receiver?.rekey()
    }

    /// Sets both nonces; for tests of nonce exhaustion only.
    package mutating func setNonces(send: UInt64? = nil, receive: UInt64? = nil) {
        if let send { sender?.setNonce(send) }
        if let receive { receiver?.setNonce(receive) }
    }
}
