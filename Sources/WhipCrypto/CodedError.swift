/// A family of `CodedError`s: one per layer (crypto, decoding, rules, Noise, reconciliation, ...), so that
/// each layer's errors are their own type while sharing one shape.
public protocol ErrorFamily: Sendable {
    /// Whether `description` reads `code: message` (true) or the message alone (false).
    static var describesWithCode: Bool { get }
}

/// Any error that carries a stable machine-readable code, whatever its family.
public protocol ErrorWithCode: Error {
    /// The type of the code; its description is the published code string.
    associatedtype Code: CustomStringConvertible
    /// Stable code, e.g. `sync.malformed`.
    var code: Code { get }
    /// What happened, for a person.
    var message: String { get }
}

/// A stable, published error code of one family (`ErrorCode<DecodingFailure>` for `decode.*`, ...).
///
/// Each family declares its codes once, as static members of a constrained extension (as swift-service-lifecycle's
/// `ServiceGroupError.Code` and GRDB's `ResultCode` do), so a throw site names `.badType`, never a string. The
/// strings are a contract: they appear in the rejection log, the state digest (rule codes) and the docs.
public struct ErrorCode<Family: ErrorFamily>: Hashable, Sendable, CustomStringConvertible {
    /// The published code string, e.g. `decode.bad_type`.
    public let rawValue: String

    /// Declares a code; used only where a family lists its codes.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
}

/// An error with a stable machine-readable `code`, a `message` for a person, and the lower-level error that
/// caused it, if any. Each layer names its own family (`CryptoError`, `DecodingError`, `SyncError`, ...);
/// equality and hashing look at the code and message only.
public struct CodedError<Family: ErrorFamily>: ErrorWithCode, Sendable, Hashable, CustomStringConvertible {
    /// This family's codes.
    public typealias Code = ErrorCode<Family>

    /// Stable code, e.g. `sync.malformed`.
    public let code: Code
    /// What happened, for a person.
    public let message: String
    /// The underlying error, when this one wraps another.
    public let cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// Creates an error (labelled form).
    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.init(code, message, cause: cause)
    }

    public var description: String { Family.describesWithCode ? "\(code): \(message)" : message }

    public static func == (a: Self, b: Self) -> Bool { a.code == b.code && a.message == b.message }

    public func hash(into h: inout Hasher) {
        h.combine(code)
        h.combine(message)
    }
}

/// The family of `CryptoError`.
public enum CryptoFailure: ErrorFamily {
    public static let describesWithCode = false
}

/// Errors raised by the libsodium wrapper.
public typealias CryptoError = CodedError<CryptoFailure>

extension ErrorCode where Family == CryptoFailure {
    /// A public key libsodium refuses (not a valid Ed25519 point).
    public static let badKey = Self("crypto.bad_key")
    /// A signing key seed of the wrong length.
    public static let badSeed = Self("crypto.bad_seed")
    /// A sealed box shorter than its overhead.
    public static let sealShort = Self("crypto.seal_short")
    /// A sealed box that does not open with this key (another recipient, or corrupted).
    public static let sealOpen = Self("crypto.seal_open")
}
