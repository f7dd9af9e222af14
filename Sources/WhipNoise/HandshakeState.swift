/// One party's side of a Noise handshake (section 5.3), as a pure state machine.
///
/// Call `writeMessage` and `readMessage` in the order `next` says, then `finish()` for the
/// transport keys. Any failure while reading (a bad tag, a low-order key, a short message) or a
/// failed DH while writing leaves the state failed: every later call throws
/// `noise.handshake_failed`. A payload too large to send is refused without changing the state.
public struct HandshakeState: Sendable {
    /// What the state machine expects next.
    public enum Next: Sendable, Equatable {
        /// This party sends the next handshake message.
        case write
        /// This party receives the next handshake message.
        case read
        /// The handshake is complete; call `finish()`.
        case finish
        /// `finish()` was called; the state holds nothing more.
        case done
        /// A step failed; discard the state.
        case failed
    }

    /// The parsed protocol name.
    public let protocolName: NoiseProtocolName
    /// Whether this party initiates.
    public let role: NoiseRole
    var symmetric: SymmetricState
    let localStatic: NoiseKeyPair?
    var localEphemeral: NoiseKeyPair?
    /// The peer's static public key, once known (from the pre-message or a handshake message).
    public private(set) var remoteStaticKey: [UInt8]?
    /// The peer's ephemeral public key, once received.
    public private(set) var remoteEphemeralKey: [UInt8]?
    let psks: [Secret]
    var pskIndex = 0
    var messageIndex = 0
    var failed = false
    var finished = false
    let fixedEphemeral: NoiseKeyPair?
    var splitStates: (initiatorToResponder: CipherState, responderToInitiator: CipherState)?

    /// Starts a handshake for `protocolName` (for example `Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b`).
    ///
    /// `staticKeyPair` is needed when the pattern sends or pre-shares this party's static key;
    /// `remoteStaticKey` only when the pattern pre-shares the peer's (the `K` of `XK`, `IK`) and is
    /// refused otherwise (check `remoteStaticKey` after the handshake instead); `psks` are the
    /// 32-byte pre-shared keys in the order the pattern's psk tokens use them.
    public init(
        protocolName: String,
        role: NoiseRole,
        prologue: [UInt8] = [],
        staticKeyPair: NoiseKeyPair? = nil,
        remoteStaticKey: [UInt8]? = nil,
        psks: [[UInt8]] = []
    ) throws(NoiseError) {
        try self.init(
            protocolName: protocolName, role: role, prologue: prologue, staticKeyPair: staticKeyPair,
            remoteStaticKey: remoteStaticKey, psks: psks, ephemeralKeyPair: nil)
    }

    /// As the public initialiser, with a fixed ephemeral key pair for test vectors; never in production.
    package init(
        protocolName: String,
        role: NoiseRole,
        prologue: [UInt8] = [],
        staticKeyPair: NoiseKeyPair? = nil,
        remoteStaticKey: [UInt8]? = nil,
        psks: [[UInt8]] = [],
        ephemeralKeyPair: NoiseKeyPair?
    ) throws(NoiseError) {
        let parsed = try NoiseProtocolName(protocolName)
        let pattern = parsed.pattern
        if pattern.needsLocalStatic(role), staticKeyPair == nil {
            throw NoiseError.missingKey("\(pattern) needs the \(role)'s static key pair")
        }
        if pattern.needsRemoteStatic(role) {
            guard let remoteStaticKey else {
                throw NoiseError.missingKey("\(pattern) needs the peer's static public key before the handshake")
            }
            guard remoteStaticKey.count == Noise.dhLength else {
                throw NoiseError.badKey("an X25519 public key is 32 bytes, got \(remoteStaticKey.count)")
            }
            guard !NoiseCrypto.isLowOrder(remoteStaticKey) else {
                throw NoiseError.badDH("the peer's static public key has low order")
            }
        } else if remoteStaticKey != nil {
            throw NoiseError.badKey(
                "\(pattern) does not pre-share the peer's static key; compare remoteStaticKey after the handshake")
        }
        guard psks.count == pattern.pskCount else {
            throw NoiseError.badPSK("\(pattern) uses \(pattern.pskCount) pre-shared keys, got \(psks.count)")
        }
        guard psks.allSatisfy({ $0.count == Noise.keyLength }) else {
            throw NoiseError.badPSK("a pre-shared key is \(Noise.keyLength) bytes")
        }

        self.protocolName = parsed
        self.role = role
        self.localStatic = staticKeyPair
        self.remoteStaticKey = remoteStaticKey
        self.psks = psks.map { Secret(copying: $0) }
        self.fixedEphemeral = ephemeralKeyPair
        symmetric = SymmetricState(protocolName: protocolName)
        symmetric.mixHash(prologue)
        // Pre-messages: the initiator's keys, then the responder's. Only `s` occurs in the supported patterns.
        for (owner, tokens) in [(NoiseRole.initiator, pattern.initiatorPremessage), (.responder, pattern.responderPremessage)] {
            for token in tokens where token == .s {
                let key = owner == role ? staticKeyPair!.publicKey : remoteStaticKey!
                symmetric.mixHash(key)
            }
        }
    }

    var pattern: HandshakePattern { protocolName.pattern }

    /// What the state machine expects next.
    public var next: Next {
        if failed { return .failed }
        if finished { return .done }
        if messageIndex == pattern.messages.count { return .finish }
        return (messageIndex % 2 == 0) == (role == .initiator) ? .write : .read
    }

    /// Whether every handshake message has been written or read.
    public var isHandshakeComplete: Bool { messageIndex == pattern.messages.count && !failed }

    /// The handshake hash `h` so far; after the last message, a unique session identifier.
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    private func expect(_ wanted: Next, for operation: String) throws(NoiseError) {
        let actual = next
        if actual == .failed { throw NoiseError.handshakeFailed }
        guard actual == wanted else {
            throw NoiseError.outOfOrder("\(operation) called when the \(role) should \(actual)")
        }
    }

    /// Writes the next handshake message carrying `payload` (encrypted once a key is set).
    public mutating func writeMessage(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        try expect(.write, for: "writeMessage")
        guard payload.count <= Noise.maxMessageLength else { throw NoiseError.messageTooLong(payload.count) }
        // Work on a copy so that a refused payload leaves this state untouched.
        var next = self
        do throws(NoiseError) {
            let message = try next.writeTokens(payload: payload)
            self = next
            return message
        } catch {
            if error.code != NoiseError.Code.messageTooLong { failed = true }
            throw error
        }
    }

    /// Reads the next handshake message and returns its decrypted payload.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        try expect(.read, for: "readMessage")
        do throws(NoiseError) {
            return try readTokens(message)
        } catch {
            failed = true
            throw error
        }
    }

    /// Ends the handshake and returns the transport state; callable once, after the last message.
    public mutating func finish() throws(NoiseError) -> TransportState {
        try expect(.finish, for: "finish")
        guard let (i2r, r2i) = splitStates else {
            throw NoiseError.outOfOrder("the handshake has not produced transport keys")
        }
        finished = true
        splitStates = nil
        let oneWay = pattern.isOneWay
        switch role {
        case .initiator:
            return TransportState(
                role: role, handshakeHash: handshakeHash, remoteStaticKey: remoteStaticKey,
                sender: i2r, receiver: oneWay ? nil : r2i)
        case .responder:
            return TransportState(
                role: role, handshakeHash: handshakeHash, remoteStaticKey: remoteStaticKey,
                sender: oneWay ? nil : r2i, receiver: i2r)
        }
    }

    private mutating func writeTokens(payload: [UInt8]) throws(NoiseError) -> [UInt8] {
        var out: [UInt8] = []
        for token in pattern.messages[messageIndex] {
            switch token {
            case .e:
                let ephemeral = fixedEphemeral ?? NoiseKeyPair.generate()
                localEphemeral = ephemeral
                out += ephemeral.publicKey
                symmetric.mixHash(ephemeral.publicKey)
                if pattern.usesPSK { symmetric.mixKey(ephemeral.publicKey) }
            case .s:
                guard let localStatic else { throw NoiseError.missingKey("no static key pair to send") }
                out += try symmetric.encryptAndHash(localStatic.publicKey)
            case .ee, .es, .se, .ss:
                try mixDH(token)
            case .psk:
                symmetric.mixKeyAndHash(psks[pskIndex])
                pskIndex += 1
            }
        }
        if out.count + payload.count + (symmetric.hasKey ? Noise.tagLength : 0) > Noise.maxMessageLength {
            throw NoiseError.messageTooLong(out.count + payload.count + (symmetric.hasKey ? Noise.tagLength : 0))
        }
        out += try symmetric.encryptAndHash(payload)
        advance()
        return out
    }

    private mutating func readTokens(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard message.count <= Noise.maxMessageLength else { throw NoiseError.messageTooLong(message.count) }
        var offset = 0
        func take(_ count: Int, _ what: String) throws(NoiseError) -> [UInt8] {
            guard message.count - offset >= count else {
                throw NoiseError.messageTooShort("the handshake message ends before its \(what)")
            }
            defer { offset += count }
            return Array(message[offset..<offset + count])
        }
        for token in pattern.messages[messageIndex] {
            switch token {
            case .e:
                let key = try take(Noise.dhLength, "ephemeral key")
                guard !NoiseCrypto.isLowOrder(key) else {
                    throw NoiseError.badDH("the peer's ephemeral public key has low order")
                }
                remoteEphemeralKey = key
                symmetric.mixHash(key)
                if pattern.usesPSK { symmetric.mixKey(key) }
            case .s:
                let sealed = try take(Noise.dhLength + (symmetric.hasKey ? Noise.tagLength : 0), "static key")
                let key = try symmetric.decryptAndHash(sealed)
                guard !NoiseCrypto.isLowOrder(key) else {
                    throw NoiseError.badDH("the peer's static public key has low order")
                }
                remoteStaticKey = key
            case .ee, .es, .se, .ss:
                try mixDH(token)
            case .psk:
                symmetric.mixKeyAndHash(psks[pskIndex])
                pskIndex += 1
            }
        }
        if symmetric.hasKey, message.count - offset < Noise.tagLength {
            throw NoiseError.messageTooShort("the handshake message ends before its payload tag")
        }
        let payload = try symmetric.decryptAndHash(Array(message[offset...]))
        advance()
        return payload
    }

    private mutating func mixDH(_ token: HandshakePattern.Token) throws(NoiseError) {
        let local: NoiseKeyPair?
        let remote: [UInt8]?
        switch (token, role) {
        case (.ee, _): (local, remote) = (localEphemeral, remoteEphemeralKey)
        case (.es, .initiator), (.se, .responder): (local, remote) = (localEphemeral, remoteStaticKey)
        case (.es, .responder), (.se, .initiator): (local, remote) = (localStatic, remoteEphemeralKey)
        case (.ss, _): (local, remote) = (localStatic, remoteStaticKey)
        default: preconditionFailure("not a DH token: \(token)")
        }
        guard let local, let remote else {
            throw NoiseError.missingKey("the \(token) token needs a key that is not known yet")
        }
        symmetric.mixKey(try NoiseCrypto.dh(local, remote))
    }

    private mutating func advance() {
        messageIndex += 1
        if messageIndex == pattern.messages.count {
            splitStates = symmetric.split()
            localEphemeral = nil
        }
    }
}
