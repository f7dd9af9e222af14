/// A handshake pattern (Noise section 7), possibly with `pskN` modifiers (section 9).
public struct HandshakePattern: Sendable, Equatable, CustomStringConvertible {
    /// One token of a message or pre-message pattern.
    public enum Token: String, Sendable, Equatable {
        /// An ephemeral public key.
        case e
        /// A static public key (encrypted once a key is set).
        case s
        /// DH between the two ephemeral keys.
        case ee
        /// DH between the initiator's ephemeral and the responder's static key.
        case es
        /// DH between the initiator's static and the responder's ephemeral key.
        case se
        /// DH between the two static keys.
        case ss
        /// Mixes the next pre-shared key.
        case psk
    }

    /// The full pattern name with modifiers, such as `XXpsk0+psk3`.
    public let name: String
    /// Keys the initiator's peer knows before the handshake.
    public let initiatorPremessage: [Token]
    /// Keys the responder's peer knows before the handshake.
    public let responderPremessage: [Token]
    /// The handshake messages; even indices are sent by the initiator, odd by the responder.
    public let messages: [[Token]]

    public var description: String { name }

    /// Whether only the initiator sends (patterns N, K and X).
    public var isOneWay: Bool { messages.count == 1 }

    /// How many pre-shared keys the pattern consumes.
    public var pskCount: Int { messages.reduce(0) { $0 + $1.filter { $0 == .psk }.count } }

    /// Whether the pattern has a psk modifier, so that `e` tokens also call MixKey.
    public var usesPSK: Bool { pskCount > 0 }

    /// Whether `role` must hold a static key pair.
    public func needsLocalStatic(_ role: NoiseRole) -> Bool {
        let premessage = role == .initiator ? initiatorPremessage : responderPremessage
        return premessage.contains(.s)
            || messages.indices.contains { i in
                (i % 2 == 0) == (role == .initiator) && messages[i].contains(.s)
            }
    }

    /// Whether `role` must know the peer's static public key before the handshake.
    public func needsRemoteStatic(_ role: NoiseRole) -> Bool {
        (role == .initiator ? responderPremessage : initiatorPremessage).contains(.s)
    }

    /// The fundamental patterns of section 7.4 (interactive) and 7.5 (one-way).
    private static let fundamental: [String: (initiator: [Token], responder: [Token], messages: [[Token]])] = [
        "N": ([], [.s], [[.e, .es]]),
        "K": ([.s], [.s], [[.e, .es, .ss]]),
        "X": ([], [.s], [[.e, .es, .s, .ss]]),
        "NN": ([], [], [[.e], [.e, .ee]]),
        "NK": ([], [.s], [[.e, .es], [.e, .ee]]),
        "NX": ([], [], [[.e], [.e, .ee, .s, .es]]),
        "KN": ([.s], [], [[.e], [.e, .ee, .se]]),
        "KK": ([.s], [.s], [[.e, .es, .ss], [.e, .ee, .se]]),
        "KX": ([.s], [], [[.e], [.e, .ee, .se, .s, .es]]),
        "XN": ([], [], [[.e], [.e, .ee], [.s, .se]]),
        "XK": ([], [.s], [[.e, .es], [.e, .ee], [.s, .se]]),
        "XX": ([], [], [[.e], [.e, .ee, .s, .es], [.s, .se]]),
        "IN": ([], [], [[.e, .s], [.e, .ee, .se]]),
        "IK": ([], [.s], [[.e, .es, .s, .ss], [.e, .ee, .se]]),
        "IX": ([], [], [[.e, .s], [.e, .ee, .se, .s, .es]]),
    ]

    /// Names of the supported base patterns.
    public static var supportedBaseNames: [String] { fundamental.keys.sorted() }

    /// Parses a pattern name: a fundamental pattern followed by `+`-separated `pskN` modifiers.
    public static func named(_ name: String) throws(NoiseError) -> HandshakePattern {
        let baseEnd = name.firstIndex { !($0.isASCII && $0.isUppercase) } ?? name.endIndex
        let base = String(name[..<baseEnd])
        guard let pattern = fundamental[base] else {
            throw NoiseError.unsupported("unsupported handshake pattern '\(base)' in '\(name)'")
        }
        var messages = pattern.messages
        let modifierText = name[baseEnd...]
        if !modifierText.isEmpty {
            var seen = Set<Int>()
            for modifier in modifierText.split(separator: "+", omittingEmptySubsequences: false) {
                guard modifier.hasPrefix("psk"), let n = Int(modifier.dropFirst(3)), n >= 0,
                    String(n) == modifier.dropFirst(3)
                else {
                    throw NoiseError.unsupported("unsupported pattern modifier '\(modifier)' in '\(name)'")
                }
                guard n <= messages.count else {
                    throw NoiseError.unsupported("'\(modifier)' names a message that '\(base)' does not have")
                }
                guard seen.insert(n).inserted else {
                    throw NoiseError.unsupported("modifier '\(modifier)' repeated in '\(name)'")
                }
                if n == 0 {
                    messages[0].insert(.psk, at: 0)
                } else {
                    messages[n - 1].append(.psk)
                }
            }
        }
        return HandshakePattern(
            name: name, initiatorPremessage: pattern.initiator, responderPremessage: pattern.responder,
            messages: messages)
    }
}

/// A parsed protocol name such as `Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b`.
public struct NoiseProtocolName: Sendable, Equatable, CustomStringConvertible {
    /// The full name, which is also mixed into the handshake hash.
    public let name: String
    /// The handshake pattern with its modifiers.
    public let pattern: HandshakePattern

    /// Parses `name`; only the DH `25519`, cipher `ChaChaPoly` and hash `BLAKE2b` are supported.
    public init(_ name: String) throws(NoiseError) {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "Noise" else {
            throw NoiseError.unsupported("'\(name)' is not of the form Noise_PATTERN_DH_CIPHER_HASH")
        }
        guard parts[2] == "25519", parts[3] == "ChaChaPoly", parts[4] == "BLAKE2b" else {
            throw NoiseError.unsupported(
                "'\(name)': only 25519, ChaChaPoly and BLAKE2b are supported, got \(parts[2]), \(parts[3]), \(parts[4])")
        }
        self.name = name
        self.pattern = try HandshakePattern.named(String(parts[1]))
    }

    public var description: String { name }
}
