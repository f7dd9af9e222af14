public import WhipCrypto

/// Noise Protocol Framework (revision 34) with DH 25519, ChaChaPoly and BLAKE2b, on libsodium.
///
/// A pure state machine: no sockets, no clock. `HandshakeState` turns payloads into handshake
/// messages and back; once the last handshake message is processed, `HandshakeState.finish()`
/// yields a `TransportState` that encrypts and decrypts transport messages.
public enum Noise {
    /// The largest Noise message, handshake or transport, in bytes.
    public static let maxMessageLength = 65_535
    /// The length of an X25519 public key and of a DH output.
    public static let dhLength = 32
    /// The BLAKE2b output length used by the symmetric state.
    public static let hashLength = 64
    /// The length of a ChaChaPoly key and of a pre-shared key.
    public static let keyLength = 32
    /// The length of a ChaChaPoly authentication tag.
    public static let tagLength = 16
    /// The largest transport payload: one maximal message minus its tag.
    public static let maxPayloadLength = maxMessageLength - tagLength
}

/// Which side of the handshake this party plays.
public enum NoiseRole: String, Sendable, Equatable {
    /// The party that sends the first handshake message.
    case initiator
    /// The party that receives the first handshake message.
    case responder
}

/// The family of `NoiseError`.
public enum NoiseFailure: ErrorFamily {
    public static let describesWithCode = true
}

/// An error from the Noise layer, with a stable machine-readable `code` (`NoiseError.Code`).
public typealias NoiseError = CodedError<NoiseFailure>

extension CodedError where Family == NoiseFailure {
    static func decryptFailed(_ message: String = "authentication failed") -> NoiseError {
        NoiseError(code: .decryptFailed, message: message)
    }

    static func badDH(_ message: String) -> NoiseError {
        NoiseError(code: .badDH, message: message)
    }

    static func messageTooLong(_ length: Int) -> NoiseError {
        NoiseError(
            code: .messageTooLong,
            message: "a Noise message is at most \(Noise.maxMessageLength) bytes, this one would be \(length)")
    }

    static func messageTooShort(_ message: String) -> NoiseError {
        NoiseError(code: .messageTooShort, message: message)
    }

    static var nonceExhausted: NoiseError {
        NoiseError(code: .nonceExhausted, message: "the cipher nonce is exhausted (2^64-1 is reserved); start a new session")
    }

    static func outOfOrder(_ message: String) -> NoiseError {
        NoiseError(code: .outOfOrder, message: message)
    }

    static var handshakeFailed: NoiseError {
        NoiseError(code: .handshakeFailed, message: "the handshake already failed; discard this state")
    }

    static func unsupported(_ message: String) -> NoiseError {
        NoiseError(code: .unsupportedProtocol, message: message)
    }

    static func missingKey(_ message: String) -> NoiseError {
        NoiseError(code: .missingKey, message: message)
    }

    static func badKey(_ message: String) -> NoiseError {
        NoiseError(code: .badKey, message: message)
    }

    static func badPSK(_ message: String) -> NoiseError {
        NoiseError(code: .badPSK, message: message)
    }
}

/// The stable codes of `NoiseError`.
extension ErrorCode where Family == NoiseFailure {
    /// Authentication of a ciphertext failed (wrong key or PSK, or tampered bytes).
    public static let decryptFailed = Self("noise.decrypt_failed")
    /// A DH produced the all-zero output, or a peer sent a low-order public key.
    public static let badDH = Self("noise.bad_dh")
    /// A message (or the message a payload would produce) exceeds 65,535 bytes.
    public static let messageTooLong = Self("noise.message_too_long")
    /// A message is shorter than its pattern requires.
    public static let messageTooShort = Self("noise.message_too_short")
    /// The nonce reached 2^64-1; the session must end (or rekey and restart).
    public static let nonceExhausted = Self("noise.nonce_exhausted")
    /// A method was called when the state machine expects another one.
    public static let outOfOrder = Self("noise.out_of_order")
    /// The handshake already failed; the state must be discarded.
    public static let handshakeFailed = Self("noise.handshake_failed")
    /// The protocol name, pattern, modifier or algorithm is not supported.
    public static let unsupportedProtocol = Self("noise.unsupported_protocol")
    /// A key the pattern needs (local static or remote static) was not supplied.
    public static let missingKey = Self("noise.missing_key")
    /// A key has the wrong length.
    public static let badKey = Self("noise.bad_key")
    /// The pre-shared keys do not match the pattern's psk tokens in number or length.
    public static let badPSK = Self("noise.bad_psk")
    /// A transport direction is not available (the receiving side of a one-way pattern).
    public static let oneWay = Self("noise.one_way")
}
