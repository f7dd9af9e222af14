/// The error type every Whipround layer throws: a stable code, a message for a person, and a cause.
public struct WhipError: Error, Sendable, CustomStringConvertible {
    /// Broad classes of failure; the CLI maps each to an exit code.
    public enum Code: String, Sendable {
        case invalidArgument = "invalid_argument"
        case notFound = "not_found"
        case alreadyExists = "already_exists"
        case permissionDenied = "permission_denied"
        case rejected = "rejected"
        case corrupt = "corrupt"
        case io = "io"
        case storage = "storage"
        case internalError = "internal"
    }

    /// The class of failure.
    public let code: Code
    /// What is wrong and, where possible, how to fix it.
    public let message: String
    /// The underlying error, if any.
    public let cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }
}
