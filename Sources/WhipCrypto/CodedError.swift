/// A family of `CodedError`s: one per layer (crypto, decoding, rules, Noise, reconciliation, ...), so that
/// each layer's errors are their own type while sharing one shape.
public protocol ErrorFamily: Sendable {
    /// Whether `description` reads `code: message` (true) or the message alone (false).
    static var describesWithCode: Bool { get }
}

/// Any error that carries a stable machine-readable code, whatever its family.
public protocol ErrorWithCode: Error {
    /// Stable code, e.g. `sync.malformed`.
    var code: String { get }
    /// What happened, for a person.
    var message: String { get }
}

/// An error with a stable machine-readable `code`, a `message` for a person, and the lower-level error that
/// caused it, if any. Each layer names its own family (`CryptoError`, `DecodingError`, `SyncError`, ...);
/// equality and hashing look at the code and message only.
public struct CodedError<Family: ErrorFamily>: ErrorWithCode, Sendable, Hashable, CustomStringConvertible {
    /// Stable code, e.g. `sync.malformed`.
    public let code: String
    /// What happened, for a person.
    public let message: String
    /// The underlying error, when this one wraps another.
    public let cause: (any Error)?

    /// Creates an error.
    public init(_ code: String, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// Creates an error (labelled form).
    public init(code: String, message: String, cause: (any Error)? = nil) {
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
