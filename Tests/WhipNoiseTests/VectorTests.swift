import Foundation
import Testing
import WhipCrypto
import WhipNoise

/// The published cacophony and snow vectors (Noise_*_25519_ChaChaPoly_BLAKE2b), run through both
/// parties: every handshake and transport ciphertext byte for byte, every payload, and the
/// handshake hash where the file gives it.
@Suite(.timeLimit(.minutes(10))) struct VectorTests {
    struct File: Decodable {
        let source: String?
        let vectors: [Vector]
    }

    struct Vector: Decodable {
        struct Message: Decodable {
            let payload: String
            let ciphertext: String
        }

        let protocolName: String
        let initPrologue: String
        let initPsks: [String]?
        let initStatic: String?
        let initEphemeral: String?
        let initRemoteStatic: String?
        let respPrologue: String
        let respPsks: [String]?
        let respStatic: String?
        let respEphemeral: String?
        let respRemoteStatic: String?
        let handshakeHash: String?
        let messages: [Message]

        enum CodingKeys: String, CodingKey {
            case protocolName = "protocol_name"
            case initPrologue = "init_prologue"
            case initPsks = "init_psks"
            case initStatic = "init_static"
            case initEphemeral = "init_ephemeral"
            case initRemoteStatic = "init_remote_static"
            case respPrologue = "resp_prologue"
            case respPsks = "resp_psks"
            case respStatic = "resp_static"
            case respEphemeral = "resp_ephemeral"
            case respRemoteStatic = "resp_remote_static"
            case handshakeHash = "handshake_hash"
            case messages
        }
    }

    static func hex(_ text: String) throws -> [UInt8] {
        try #require(Hex.decode(text), "bad hex in vector: \(text)")
    }

    static func keyPair(_ text: String?) throws -> NoiseKeyPair? {
        guard let text else { return nil }
        return try NoiseKeyPair(secretKey: hex(text))
    }

    static func load(_ name: String) throws -> File {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors"),
            "vector file \(name).json is not in the test bundle")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    }

    /// Runs one vector through both parties; returns the number of messages checked.
    static func run(_ v: Vector) throws -> Int {
        var initiator = try HandshakeState(
            protocolName: v.protocolName, role: .initiator, prologue: hex(v.initPrologue),
            staticKeyPair: keyPair(v.initStatic), remoteStaticKey: v.initRemoteStatic.map(hex),
            psks: (v.initPsks ?? []).map(hex), ephemeralKeyPair: keyPair(v.initEphemeral))
        var responder = try HandshakeState(
            protocolName: v.protocolName, role: .responder, prologue: hex(v.respPrologue),
            staticKeyPair: keyPair(v.respStatic), remoteStaticKey: v.respRemoteStatic.map(hex),
            psks: (v.respPsks ?? []).map(hex), ephemeralKeyPair: keyPair(v.respEphemeral))
        let pattern = initiator.protocolName.pattern
        var initiatorTransport: TransportState?
        var responderTransport: TransportState?

        for (i, m) in v.messages.enumerated() {
            let payload = try hex(m.payload)
            let expected = try hex(m.ciphertext)
            // One-way patterns send everything from the initiator; others alternate.
            let fromInitiator = pattern.isOneWay || i % 2 == 0
            let ciphertext: [UInt8]
            let decrypted: [UInt8]
            if i < pattern.messages.count {
                if fromInitiator {
                    #expect(initiator.next == .write && responder.next == .read)
                    ciphertext = try initiator.writeMessage(payload: payload)
                    decrypted = try responder.readMessage(ciphertext)
                } else {
                    #expect(responder.next == .write && initiator.next == .read)
                    ciphertext = try responder.writeMessage(payload: payload)
                    decrypted = try initiator.readMessage(ciphertext)
                }
                if i == pattern.messages.count - 1 {
                    #expect(initiator.next == .finish && responder.next == .finish)
                    #expect(initiator.handshakeHash == responder.handshakeHash)
                    if let hash = v.handshakeHash {
                        #expect(Hex.encode(initiator.handshakeHash) == hash, "\(v.protocolName): handshake hash")
                    }
                    initiatorTransport = try initiator.finish()
                    responderTransport = try responder.finish()
                    #expect(initiatorTransport?.handshakeHash == responderTransport?.handshakeHash)
                }
            } else {
                guard initiatorTransport != nil, responderTransport != nil else {
                    throw NoiseError(code: NoiseError.Code("test.no_transport"), message: "no transport state")
                }
                if fromInitiator {
                    ciphertext = try initiatorTransport!.encrypt(payload)
                    decrypted = try responderTransport!.decrypt(ciphertext)
                } else {
                    ciphertext = try responderTransport!.encrypt(payload)
                    decrypted = try initiatorTransport!.decrypt(ciphertext)
                }
            }
            #expect(Hex.encode(ciphertext) == Hex.encode(expected), "\(v.protocolName) message \(i): ciphertext")
            #expect(decrypted == payload, "\(v.protocolName) message \(i): payload")
        }
        // Every vector must get past the handshake, so transport encryption is checked too.
        #expect(initiatorTransport != nil && responderTransport != nil, "\(v.protocolName): handshake incomplete")
        #expect(v.messages.count > pattern.messages.count, "\(v.protocolName): no transport messages")
        return v.messages.count
    }

    @Test(arguments: [
        ("cacophony-25519-chachapoly-blake2b", 9),
        ("snow-25519-chachapoly-blake2b", 6),
    ])
    func everyVectorPasses(file: String, expectedCount: Int) throws {
        let vectors = try Self.load(file).vectors
        #expect(vectors.count == expectedCount, "\(file): vector count")
        var passed = 0
        for v in vectors {
            do {
                _ = try Self.run(v)
                passed += 1
            } catch {
                Issue.record("\(file): \(v.protocolName) failed: \(error)")
            }
        }
        #expect(passed == vectors.count, "\(file): \(passed) of \(vectors.count) vectors ran")
        #expect(passed == expectedCount)
    }

    @Test func everyVectorPatternParses() throws {
        var names: Set<String> = []
        for file in ["cacophony-25519-chachapoly-blake2b", "snow-25519-chachapoly-blake2b"] {
            for v in try Self.load(file).vectors {
                _ = try NoiseProtocolName(v.protocolName)
                names.insert(v.protocolName)
            }
        }
        #expect(
            names
                == Set(
                    [
                        "NN", "XK", "IK", "XX", "NNpsk0", "NNpsk2", "XKpsk3", "XXpsk3", "IKpsk2", "XKpsk0+psk3",
                        "XXpsk0+psk3",
                    ].map { "Noise_\($0)_25519_ChaChaPoly_BLAKE2b" }))
    }
}
