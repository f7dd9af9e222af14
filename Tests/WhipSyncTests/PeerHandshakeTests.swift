import Testing
import WhipCore
import WhipCrypto
import WhipNoise
import WhipSync
import WhipTestSupport

@Suite(.timeLimit(.minutes(10))) struct PeerHandshakeTests {
    let elm = (id: FixedKeys.community.publicKey, networkKey: [UInt8](repeating: 1, count: 32))
    let oak = (id: FixedKeys.key(0xC1).publicKey, networkKey: [UInt8](repeating: 2, count: 32))

    func run(
        initiatorKey: [UInt8], responderCommunities: [(id: PublicKey, networkKey: [UInt8])], tamper: ((Int, inout [UInt8]) -> Void)? = nil
    ) throws(HandshakeError) -> (EstablishedSession, EstablishedSession) {
        let (aNoise, bNoise) = (NoiseKeyPair.generate(), NoiseKeyPair.generate())
        var (a, m1) = try PeerHandshake.initiate(
            community: elm.id, networkKey: initiatorKey, noiseKey: aNoise, identity: FixedKeys.collectorA)
        tamper?(1, &m1)
        var (b, m2) = try PeerHandshake.respond(
            to: m1, communities: responderCommunities, noiseKey: bNoise, identity: FixedKeys.founder)
        tamper?(2, &m2)
        guard case .sendAndEstablish(var m3, let aSession) = try a.receive(m2) else { fatalError("initiator did not establish") }
        tamper?(3, &m3)
        guard case .established(let bSession) = try b.receive(m3) else { fatalError("responder did not establish") }
        return (aSession, bSession)
    }

    @Test func membersEstablishAndLearnEachOthersIdentity() throws {
        var (a, b) = try run(initiatorKey: elm.networkKey, responderCommunities: [oak, elm])
        #expect(a.community == elm.id && b.community == elm.id)
        #expect(a.peerIdentity == FixedKeys.founder.publicKey)
        #expect(b.peerIdentity == FixedKeys.collectorA.publicKey)
        let sealed = try a.transport.encrypt(Array("hello".utf8))
        #expect(try b.transport.decrypt(sealed) == Array("hello".utf8))
    }

    @Test func wrongNetworkKeyFailsAtTheFirstMessage() {
        #expect(throws: HandshakeError(.notMemberOfAny, "the first message opens with none of this node's network keys")) {
            _ = try run(initiatorKey: [UInt8](repeating: 9, count: 32), responderCommunities: [oak, elm])
        }
    }

    /// Each protocol version changes the prologue (PROTOCOL.md §0): a node of an earlier version, with the right
    /// network key, fails at the first message exactly as a stranger does, and a version-3 one still gets in.
    @Test func aNodeOfAnEarlierVersionCannotConnect() throws {
        #expect(PeerHandshake.prologue == Array("whipround/3".utf8))
        for (prologue, opens) in [("whipround/1", false), ("whipround/2", false), ("whipround/3", true)] {
            let (_, m1) = try PeerHandshake.initiate(
                community: elm.id, networkKey: elm.networkKey, noiseKey: NoiseKeyPair.generate(), identity: FixedKeys.collectorA,
                prologue: Array(prologue.utf8))
            let answer = Result { () throws(HandshakeError) in
                try PeerHandshake.respond(to: m1, communities: [elm], noiseKey: NoiseKeyPair.generate(), identity: FixedKeys.founder)
            }
            switch answer {
            case .success: #expect(opens, "\(prologue) should not open")
            case .failure(let e):
                #expect(!opens, "\(prologue): \(e)")
                #expect(e.code == .notMemberOfAny)
            }
        }
    }

    @Test func anyFlippedByteInAnyMessageFails() {
        for message in 1...3 {
            for position in [0, 5, 31, 32, 40, 47, 60, 100] {
                var flipped = false
                do {
                    _ = try run(initiatorKey: elm.networkKey, responderCommunities: [elm]) { n, bytes in
                        if n == message, position < bytes.count {
                            bytes[position] ^= 0x20
                            flipped = true
                        }
                    }
                    if flipped { Issue.record("message \(message) flipped at \(position) still established") }
                } catch {
                    #expect(["handshake.noise", "handshake.not_member_of_any", "handshake.bad_proof"].contains(error.code.rawValue))
                }
            }
        }
    }

    @Test func truncatedOrReplayedMessagesFail() throws {
        #expect(throws: HandshakeError.self) {
            _ = try run(initiatorKey: elm.networkKey, responderCommunities: [elm]) { n, b in if n == 2 { b.removeLast() } }
        }
        // A second message 2 for an initiator that is already done is refused.
        let (aNoise, bNoise) = (NoiseKeyPair.generate(), NoiseKeyPair.generate())
        var (a, m1) = try PeerHandshake.initiate(community: elm.id, networkKey: elm.networkKey, noiseKey: aNoise, identity: FixedKeys.collectorA)
        let (_, m2) = try PeerHandshake.respond(to: m1, communities: [elm], noiseKey: bNoise, identity: FixedKeys.founder)
        _ = try a.receive(m2)
        #expect(throws: HandshakeError.self) { _ = try a.receive(m2) }
    }

    @Test func lowOrderEphemeralKeyIsRefused() throws {
        // An all-zero ephemeral key in message 1 (the first 32 bytes): refused before any DH result is used.
        let (aNoise, bNoise) = (NoiseKeyPair.generate(), NoiseKeyPair.generate())
        var (_, m1) = try PeerHandshake.initiate(community: elm.id, networkKey: elm.networkKey, noiseKey: aNoise, identity: FixedKeys.collectorA)
        for i in 0..<32 { m1[i] = 0 }
        #expect(throws: HandshakeError.self) {
            _ = try PeerHandshake.respond(to: m1, communities: [elm], noiseKey: bNoise, identity: FixedKeys.founder)
        }
    }
}
