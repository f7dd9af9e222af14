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
    /// The stable error codes.
    public typealias Code = NoiseErrorCode

    static func decryptFailed(_ message: String = "authentication failed") -> NoiseError {
        NoiseError(code: Code.decryptFailed, message: message)
    }

    static func badDH(_ message: String) -> NoiseError {
        NoiseError(code: Code.badDH, message: message)
    }

    static func messageTooLong(_ length: Int) -> NoiseError {
        NoiseError(
            code: Code.messageTooLong,
            message: "a Noise message is at most \(Noise.maxMessageLength) bytes, this one would be \(length)")
    }

    static func messageTooShort(_ message: String) -> NoiseError {
        NoiseError(code: Code.messageTooShort, message: message)
    }

    static var nonceExhausted: NoiseError {
        NoiseError(code: Code.nonceExhausted, message: "the cipher nonce is exhausted (2^64-1 is reserved); start a new session")
    }

    static func outOfOrder(_ message: String) -> NoiseError {
        NoiseError(code: Code.outOfOrder, message: message)
    }

    static var handshakeFailed: NoiseError {
        NoiseError(code: Code.handshakeFailed, message: "the handshake already failed; discard this state")
    }

    static func unsupported(_ message: String) -> NoiseError {
        NoiseError(code: Code.unsupportedProtocol, message: message)
    }

    static func missingKey(_ message: String) -> NoiseError {
        NoiseError(code: Code.missingKey, message: message)
    }

    static func badKey(_ message: String) -> NoiseError {
        NoiseError(code: Code.badKey, message: message)
    }

    static func badPSK(_ message: String) -> NoiseError {
        NoiseError(code: Code.badPSK, message: message)
    }
}

/// The stable codes of `NoiseError`.
public enum NoiseErrorCode {
    /// Authentication of a ciphertext failed (wrong key or PSK, or tampered bytes).
    public static let decryptFailed = "noise.decrypt_failed"
    /// A DH produced the all-zero output, or a peer sent a low-order public key.
    public static let badDH = "noise.bad_dh"
    /// A message (or the message a payload would produce) exceeds 65,535 bytes.
    public static let messageTooLong = "noise.message_too_long"
    /// A message is shorter than its pattern requires.
    public static let messageTooShort = "noise.message_too_short"
    /// The nonce reached 2^64-1; the session must end (or rekey and restart).
    public static let nonceExhausted = "noise.nonce_exhausted"
    /// A method was called when the state machine expects another one.
    public static let outOfOrder = "noise.out_of_order"
    /// The handshake already failed; the state must be discarded.
    public static let handshakeFailed = "noise.handshake_failed"
    /// The protocol name, pattern, modifier or algorithm is not supported.
    public static let unsupportedProtocol = "noise.unsupported_protocol"
    /// A key the pattern needs (local static or remote static) was not supplied.
    public static let missingKey = "noise.missing_key"
    /// A key has the wrong length.
    public static let badKey = "noise.bad_key"
    /// The pre-shared keys do not match the pattern's psk tokens in number or length.
    public static let badPSK = "noise.bad_psk"
    /// A transport direction is not available (the receiving side of a one-way pattern).
    public static let oneWay = "noise.one_way"
}
