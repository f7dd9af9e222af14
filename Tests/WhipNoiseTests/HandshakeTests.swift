import Testing
import WhipCrypto
import WhipNoise

/// Handshake and transport behaviour beyond the vectors: every pattern with random keys,
/// tampering, wrong PSKs, low-order keys, nonce exhaustion, size limits and call order.
@Suite(.timeLimit(.minutes(10))) struct HandshakeTests {
    static func name(_ pattern: String) -> String { "Noise_\(pattern)_25519_ChaChaPoly_BLAKE2b" }

    struct Parties {
        var initiator: HandshakeState
        var responder: HandshakeState
        let initiatorStatic: NoiseKeyPair
        let responderStatic: NoiseKeyPair
    }

    /// Both parties of `pattern` with fresh static keys and the given PSKs (the responder's default to the initiator's).
    static func parties(
        _ pattern: String, prologue: [UInt8] = Array("whipround".utf8), psks: [[UInt8]]? = nil,
        responderPsks: [[UInt8]]? = nil
    ) throws -> Parties {
        let protocolName = name(pattern)
        let parsed = try NoiseProtocolName(protocolName).pattern
        let psks = psks ?? (0..<parsed.pskCount).map { _ in Sodium.randomBytes(32) }
        let iStatic = NoiseKeyPair.generate()
        let rStatic = NoiseKeyPair.generate()
        let initiator = try HandshakeState(
            protocolName: protocolName, role: .initiator, prologue: prologue,
            staticKeyPair: parsed.needsLocalStatic(.initiator) ? iStatic : nil,
            remoteStaticKey: parsed.needsRemoteStatic(.initiator) ? rStatic.publicKey : nil, psks: psks)
        let responder = try HandshakeState(
            protocolName: protocolName, role: .responder, prologue: prologue,
            staticKeyPair: parsed.needsLocalStatic(.responder) ? rStatic : nil,
            remoteStaticKey: parsed.needsRemoteStatic(.responder) ? iStatic.publicKey : nil,
            psks: responderPsks ?? psks)
        return Parties(initiator: initiator, responder: responder, initiatorStatic: iStatic, responderStatic: rStatic)
    }

    /// Runs the handshake to completion and returns both transport states.
    static func complete(_ p: inout Parties) throws -> (initiator: TransportState, responder: TransportState) {
        var i = 0
        while p.initiator.next != .finish {
            let payload = Array("handshake payload \(i)".utf8)
            if p.initiator.next == .write {
                #expect(p.responder.next == .read)
                let message = try p.initiator.writeMessage(payload: payload)
                #expect(try p.responder.readMessage(message) == payload)
            } else {
                #expect(p.responder.next == .write)
                let message = try p.responder.writeMessage(payload: payload)
                #expect(try p.initiator.readMessage(message) == payload)
            }
            i += 1
        }
        #expect(p.responder.next == .finish)
        return (try p.initiator.finish(), try p.responder.finish())
    }

    static func expectError(
        _ code: NoiseError.Code, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        let error = #expect(throws: NoiseError.self, comment, sourceLocation: sourceLocation) { try body() }
        #expect(error?.code == code, comment, sourceLocation: sourceLocation)
    }

    /// Every supported pattern, plain and with psk modifiers, between two parties with random keys.
    @Test func everyPatternRoundTrips() throws {
        var count = 0
        for base in HandshakePattern.supportedBaseNames {
            let messageCount = try HandshakePattern.named(base).messages.count
            var variants = [base, "\(base)psk0", "\(base)psk\(messageCount)", "\(base)psk0+psk\(messageCount)"]
            if messageCount > 1 { variants.append("\(base)psk1") }
            for variant in variants {
                var p = try Self.parties(variant)
                let pattern = p.initiator.protocolName.pattern
                var (i, r) = try Self.complete(&p)
                #expect(i.handshakeHash == r.handshakeHash, "\(variant)")
                #expect(i.handshakeHash.count == 64)
                let responderSendsStatic =
                    pattern.responderPremessage.contains(.s)
                    || pattern.messages.indices.contains { $0 % 2 == 1 && pattern.messages[$0].contains(.s) }
                let initiatorSendsStatic = pattern.needsLocalStatic(.initiator)
                #expect(i.remoteStaticKey == (responderSendsStatic ? p.responderStatic.publicKey : nil), "\(variant)")
                #expect(r.remoteStaticKey == (initiatorSendsStatic ? p.initiatorStatic.publicKey : nil), "\(variant)")
                for n in 0..<4 {
                    let payload = Sodium.randomBytes(n * 100)
                    #expect(try r.decrypt(i.encrypt(payload)) == payload)
                    if pattern.isOneWay {
                        Self.expectError(NoiseError.Code.oneWay) { _ = try r.encrypt(payload) }
                    } else {
                        #expect(try i.decrypt(r.encrypt(payload)) == payload)
                    }
                }
                count += 1
            }
        }
        #expect(count >= 15 * 4)
    }

    @Test func prologueMismatchFailsAtFirstEncryptedPayload() throws {
        var p = try Self.parties("XX")
        p.responder = try HandshakeState(
            protocolName: Self.name("XX"), role: .responder, prologue: Array("other".utf8),
            staticKeyPair: p.responderStatic)
        // Message 1 of XX carries no tag, so the mismatch shows at message 2.
        let m1 = try p.initiator.writeMessage()
        _ = try p.responder.readMessage(m1)
        let m2 = try p.responder.writeMessage()
        Self.expectError(NoiseError.Code.decryptFailed) { _ = try p.initiator.readMessage(m2) }
    }

    /// Flipping any single bit of any XXpsk0 handshake message makes the receiver fail, and the failure sticks.
    @Test func tamperedHandshakeMessagesFail() throws {
        for messageIndex in 0..<3 {
            var probe = try Self.parties("XXpsk0")
            // Learn the length of the message at `messageIndex`.
            var length = 0
            for k in 0...messageIndex {
                let m = try (k % 2 == 0 ? probe.initiator.writeMessage() : probe.responder.writeMessage())
                if k == messageIndex { length = m.count; break }
                _ = try (k % 2 == 0 ? probe.responder.readMessage(m) : probe.initiator.readMessage(m))
            }
            for position in 0..<length {
                var p = try Self.parties("XXpsk0")
                for k in 0...messageIndex {
                    let fromInitiator = k % 2 == 0
                    var m = try (fromInitiator ? p.initiator.writeMessage() : p.responder.writeMessage())
                    if k == messageIndex {
                        m[position] ^= 0x01 << UInt8(position % 8)
                        let error = #expect(throws: NoiseError.self, "message \(k) byte \(position)") {
                            _ = try (fromInitiator ? p.responder.readMessage(m) : p.initiator.readMessage(m))
                        }
                        #expect(
                            error.map { [NoiseError.Code.decryptFailed, .badDH].contains($0.code) } == true,
                            "message \(k) byte \(position): \(String(describing: error))")
                        let reader = fromInitiator ? p.responder : p.initiator
                        #expect(reader.next == .failed)
                    } else {
                        _ = try (fromInitiator ? p.responder.readMessage(m) : p.initiator.readMessage(m))
                    }
                }
            }
        }
    }

    @Test func failedHandshakeStaysFailed() throws {
        var p = try Self.parties("XX")
        var m1 = try p.initiator.writeMessage(payload: [1, 2, 3])
        _ = try p.responder.readMessage(m1)
        var m2 = try p.responder.writeMessage(payload: [4])
        m2[m2.count - 1] ^= 0xff
        Self.expectError(NoiseError.Code.decryptFailed) { _ = try p.initiator.readMessage(m2) }
        #expect(p.initiator.next == .failed)
        Self.expectError(NoiseError.Code.handshakeFailed) { _ = try p.initiator.readMessage(m2) }
        Self.expectError(NoiseError.Code.handshakeFailed) { _ = try p.initiator.writeMessage() }
        Self.expectError(NoiseError.Code.handshakeFailed) { _ = try p.initiator.finish() }
        // A truncated message fails too.
        var q = try Self.parties("XX")
        m1 = try q.initiator.writeMessage()
        Self.expectError(NoiseError.Code.messageTooShort) { _ = try q.responder.readMessage(Array(m1.prefix(31))) }
        #expect(q.responder.next == .failed)
    }

    /// With a wrong PSK the reader of the first message that mixes the PSK fails, and not before.
    @Test(arguments: ["NNpsk0", "XXpsk0", "NNpsk2", "XXpsk3", "XKpsk3", "IKpsk2", "XXpsk0+psk3", "XKpsk0+psk3"])
    func wrongPSKFailsAtFirstPSKMessage(pattern: String) throws {
        let parsed = try HandshakePattern.named(pattern)
        let psks = (0..<parsed.pskCount).map { _ in Sodium.randomBytes(32) }
        var wrong = psks
        wrong[0][0] ^= 0x80
        var p = try Self.parties(pattern, psks: psks, responderPsks: wrong)
        let failing = try #require(parsed.messages.firstIndex { $0.contains(.psk) })
        for k in 0..<parsed.messages.count {
            let fromInitiator = k % 2 == 0
            let m = try (fromInitiator ? p.initiator.writeMessage(payload: [7]) : p.responder.writeMessage(payload: [7]))
            if k == failing {
                Self.expectError(NoiseError.Code.decryptFailed, "\(pattern) message \(k)") {
                    _ = try (fromInitiator ? p.responder.readMessage(m) : p.initiator.readMessage(m))
                }
                return
            }
            _ = try (fromInitiator ? p.responder.readMessage(m) : p.initiator.readMessage(m))
        }
        Issue.record("\(pattern): no message failed")
    }

    @Test func psk0DropsNonMemberAtFirstMessageBeforeAnyDH() throws {
        // The responder of XXpsk0 can try each of several network keys against message 1.
        let keys = (0..<3).map { _ in Sodium.randomBytes(32) }
        var p = try Self.parties("XXpsk0", psks: [keys[2]])
        let m1 = try p.initiator.writeMessage(payload: Array("hello".utf8))
        var matched: [Int] = []
        for (index, key) in keys.enumerated() {
            var candidate = try HandshakeState(
                protocolName: Self.name("XXpsk0"), role: .responder, prologue: Array("whipround".utf8),
                staticKeyPair: p.responderStatic, psks: [key])
            if let payload = try? candidate.readMessage(m1) {
                #expect(payload == Array("hello".utf8))
                matched.append(index)
            }
        }
        #expect(matched == [2])
    }

    static let lowOrderPoints: [[UInt8]] = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ].map { Hex.decode($0)! }

    @Test func lowOrderPublicKeysAreRejected() throws {
        for point in Self.lowOrderPoints {
            // As a peer's ephemeral key in message 1.
            var p = try Self.parties("XX")
            var m1 = try p.initiator.writeMessage()
            m1.replaceSubrange(0..<32, with: point)
            Self.expectError(NoiseError.Code.badDH, "\(Hex.encode(point))") { _ = try p.responder.readMessage(m1) }
            // As a pre-shared remote static key.
            Self.expectError(NoiseError.Code.badDH, "\(Hex.encode(point))") {
                _ = try HandshakeState(
                    protocolName: Self.name("XK"), role: .initiator, staticKeyPair: .generate(), remoteStaticKey: point)
            }
            // In an NN handshake, where message 1 carries nothing else.
            var nn = try Self.parties("NN")
            var n1 = try nn.initiator.writeMessage()
            n1.replaceSubrange(0..<32, with: point)
            Self.expectError(NoiseError.Code.badDH) { _ = try nn.responder.readMessage(n1) }
        }
    }

    @Test func nonceExhaustionIsAnError() throws {
        var p = try Self.parties("NN")
        var (i, r) = try Self.complete(&p)
        i.setNonces(send: UInt64.max - 1)
        r.setNonces(receive: UInt64.max - 1)
        let last = try i.encrypt([1, 2, 3])
        #expect(try r.decrypt(last) == [1, 2, 3])
        #expect(i.sendNonce == UInt64.max && r.receiveNonce == UInt64.max)
        Self.expectError(NoiseError.Code.nonceExhausted) { _ = try i.encrypt([4]) }
        Self.expectError(NoiseError.Code.nonceExhausted) { _ = try r.decrypt(last) }
        // The bare cipher state too.
        var c = try CipherState(key: Sodium.randomBytes(32))
        c.setNonce(UInt64.max)
        Self.expectError(NoiseError.Code.nonceExhausted) { _ = try c.encrypt(ad: [], plaintext: []) }
    }

    @Test func oversizedMessagesAreRefused() throws {
        var p = try Self.parties("XX")
        // Message 1 of XX is e (32 bytes) and a plaintext payload: at most 65,503 payload bytes.
        Self.expectError(NoiseError.Code.messageTooLong) {
            _ = try p.initiator.writeMessage(payload: [UInt8](repeating: 0, count: 65_504))
        }
        #expect(p.initiator.next == .write)  // refused, not failed
        let m1 = try p.initiator.writeMessage(payload: [UInt8](repeating: 0, count: 65_503))
        #expect(m1.count == 65_535)
        _ = try p.responder.readMessage(m1)
        // Message 2 is e, s+tag, payload+tag: at most 65,535 - 32 - 48 - 16 payload bytes.
        Self.expectError(NoiseError.Code.messageTooLong) {
            _ = try p.responder.writeMessage(payload: [UInt8](repeating: 0, count: 65_535 - 96 + 1))
        }
        #expect(p.responder.next == .write)
        let m2 = try p.responder.writeMessage(payload: [UInt8](repeating: 0, count: 65_535 - 96))
        #expect(m2.count == 65_535)
        _ = try p.initiator.readMessage(m2)
        _ = try p.responder.readMessage(p.initiator.writeMessage())
        var i = try p.initiator.finish()
        var r = try p.responder.finish()
        Self.expectError(NoiseError.Code.messageTooLong) { _ = try i.encrypt([UInt8](repeating: 0, count: 65_520)) }
        let big = try i.encrypt([UInt8](repeating: 9, count: Noise.maxPayloadLength))
        #expect(big.count == Noise.maxMessageLength)
        #expect(try r.decrypt(big).count == Noise.maxPayloadLength)
        Self.expectError(NoiseError.Code.messageTooLong) { _ = try r.decrypt([UInt8](repeating: 0, count: 65_536)) }
        Self.expectError(NoiseError.Code.messageTooShort) { _ = try r.decrypt([UInt8](repeating: 0, count: 15)) }
        // An oversized inbound handshake message.
        var q = try Self.parties("XX")
        Self.expectError(NoiseError.Code.messageTooLong) {
            _ = try q.responder.readMessage([UInt8](repeating: 1, count: 65_536))
        }
    }

    @Test func transportRejectsTamperingAndReplay() throws {
        var p = try Self.parties("XXpsk0")
        var (i, r) = try Self.complete(&p)
        let m = try i.encrypt(Array("pledge".utf8))
        var bad = m
        bad[0] ^= 1
        Self.expectError(NoiseError.Code.decryptFailed) { _ = try r.decrypt(bad) }
        #expect(r.receiveNonce == 0)  // a failure does not advance the nonce
        #expect(try r.decrypt(m) == Array("pledge".utf8))
        Self.expectError(NoiseError.Code.decryptFailed) { _ = try r.decrypt(m) }  // replay
        // Reordering fails too.
        let a = try r.encrypt([1])
        let b = try r.encrypt([2])
        Self.expectError(NoiseError.Code.decryptFailed) { _ = try i.decrypt(b) }
        #expect(try i.decrypt(a) == [1])
        #expect(try i.decrypt(b) == [2])
    }

    @Test func rekeyKeepsBothSidesInStep() throws {
        var p = try Self.parties("NN")
        var (i, r) = try Self.complete(&p)
        i.rekeySender()
        let m = try i.encrypt([42])
        var stale = r
        Self.expectError(NoiseError.Code.decryptFailed) { _ = try stale.decrypt(m) }
        r.rekeyReceiver()
        #expect(try r.decrypt(m) == [42])
    }

    @Test func callsOutOfOrderAreRefused() throws {
        var p = try Self.parties("XX")
        Self.expectError(NoiseError.Code.outOfOrder) { _ = try p.responder.writeMessage() }
        Self.expectError(NoiseError.Code.outOfOrder) { _ = try p.initiator.readMessage([]) }
        Self.expectError(NoiseError.Code.outOfOrder) { _ = try p.initiator.finish() }
        #expect(p.initiator.next == .write && p.responder.next == .read)
        _ = try Self.complete(&p)
        #expect(p.initiator.next == .done)
        Self.expectError(NoiseError.Code.outOfOrder) { _ = try p.initiator.finish() }
        Self.expectError(NoiseError.Code.outOfOrder) { _ = try p.initiator.writeMessage() }
    }

    @Test func badConfigurationIsRefused() throws {
        for bad in [
            "Noise_XX_448_ChaChaPoly_BLAKE2b", "Noise_XX_25519_AESGCM_BLAKE2b", "Noise_XX_25519_ChaChaPoly_SHA256",
            "Noise_XXfallback_25519_ChaChaPoly_BLAKE2b", "Noise_XXpsk4_25519_ChaChaPoly_BLAKE2b",
            "Noise_XXpsk0+psk0_25519_ChaChaPoly_BLAKE2b", "Noise_ZZ_25519_ChaChaPoly_BLAKE2b",
            "Noise_XXpsk_25519_ChaChaPoly_BLAKE2b", "Noise_XXpsk01_25519_ChaChaPoly_BLAKE2b",
            "Noise_XX+psk0_25519_ChaChaPoly_BLAKE2b", "Noise_XX_25519_ChaChaPoly", "NoiseXX",
        ] {
            Self.expectError(NoiseError.Code.unsupportedProtocol, "\(bad)") {
                _ = try HandshakeState(protocolName: bad, role: .initiator, staticKeyPair: .generate())
            }
        }
        Self.expectError(NoiseError.Code.missingKey) {
            _ = try HandshakeState(protocolName: Self.name("XX"), role: .initiator)
        }
        Self.expectError(NoiseError.Code.missingKey) {
            _ = try HandshakeState(protocolName: Self.name("IK"), role: .initiator, staticKeyPair: .generate())
        }
        Self.expectError(NoiseError.Code.badKey) {
            _ = try HandshakeState(
                protocolName: Self.name("XX"), role: .initiator, staticKeyPair: .generate(),
                remoteStaticKey: NoiseKeyPair.generate().publicKey)
        }
        Self.expectError(NoiseError.Code.badPSK) {
            _ = try HandshakeState(protocolName: Self.name("XXpsk3"), role: .initiator, staticKeyPair: .generate())
        }
        Self.expectError(NoiseError.Code.badPSK) {
            _ = try HandshakeState(
                protocolName: Self.name("XXpsk3"), role: .initiator, staticKeyPair: .generate(),
                psks: [[UInt8](repeating: 1, count: 31)])
        }
        Self.expectError(NoiseError.Code.badKey) { _ = try NoiseKeyPair(secretKey: [1, 2, 3]) }
        Self.expectError(NoiseError.Code.badKey) { _ = try CipherState(key: [1]) }
    }

    @Test func patternParsingAppliesModifiers() throws {
        let p = try HandshakePattern.named("XXpsk0+psk3")
        #expect(p.messages == [[.psk, .e], [.e, .ee, .s, .es], [.s, .se, .psk]])
        #expect(p.pskCount == 2 && p.usesPSK && !p.isOneWay)
        let ik = try HandshakePattern.named("IKpsk2")
        #expect(ik.responderPremessage == [.s] && ik.messages[1] == [.e, .ee, .se, .psk])
        #expect(try HandshakePattern.named("N").isOneWay)
    }

    @Test func keyPairRoundTripsThroughItsSecret() throws {
        let k = NoiseKeyPair.generate()
        let again = try NoiseKeyPair(secretKey: k.exportSecretKey())
        #expect(again.publicKey == k.publicKey)
        #expect(k.publicKey.count == 32)
    }
}
