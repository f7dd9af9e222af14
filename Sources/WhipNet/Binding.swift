import Foundation
import NIOCore
import NIOPosix
public import WhipCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a socket could not be bound, in the user's words (the library's own text goes to the logs).
package enum BindFailure {
    /// A short reason, e.g. "address already in use", and whether the address was taken.
    package static func reason(_ error: any Error) -> (text: String, inUse: Bool) {
        if let io = error as? IOError {
            switch io.errnoCode {
            case EADDRINUSE: return ("address already in use", true)
            case EADDRNOTAVAIL: return ("that address is not on this host", false)
            case EACCES, EPERM: return ("permission denied (ports below 1024 need privileges)", false)
            default: return (String(cString: strerror(io.errnoCode)).lowercased(), false)
            }
        }
        if error is SocketAddressError || error is SocketAddressError.UnknownHost {
            return ("the host name cannot be resolved", false)
        }
        return ("\(error)", false)
    }

    /// The error for an address that cannot be listened on; `what` is e.g. "" or " for metrics".
    package static func error(_ error: any Error, address: HostPort, what: String = "") -> WhipError {
        let (text, taken) = reason(error)
        // The usual cause: a second node on this machine with the default address (another `serve` holds it).
        let hint = taken ? " (another program, such as a second `whipround serve`, holds it: give this one another address)" : ""
        return WhipError(.io, "cannot listen on \(address)\(what): \(text)\(hint)", cause: error)
    }
}

/// Why a connection to a peer could not be opened, in the user's words.
package enum ConnectFailure {
    package static func reason(_ error: any Error) -> String {
        if let e = error as? NIOConnectionError {
            if let first = e.connectionErrors.first { return reason(first.error) }
            if e.dnsAError != nil || e.dnsAAAAError != nil { return "the host name cannot be resolved" }
            return "no address to connect to"
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused (nothing is listening there)"
            case EHOSTUNREACH, ENETUNREACH: return "the host cannot be reached"
            default: return String(cString: strerror(io.errnoCode)).lowercased()
            }
        }
        if let c = error as? ChannelError, case .connectTimeout = c { return "no answer in time" }
        if error is SocketAddressError || error is SocketAddressError.UnknownHost { return "the host name cannot be resolved" }
        return "\(error)"
    }
}

/// An exclusive lock on `DATA/serve.lock`, held for as long as one `whipround serve` runs on the directory.
/// The kernel releases it when the process ends, however it ends, so a killed daemon never leaves it stale.
public final class ServeLock: Sendable {
    private let fd: Int32

    /// The lock file's name in the data directory.
    public static let fileName = "serve.lock"

    /// Takes the lock, or throws `alreadyExists` when another process holds it.
    public init(directory: String) throws(WhipError) {
        let path = (directory as NSString).appendingPathComponent(ServeLock.fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno)).lowercased()
            throw WhipError(.io, "cannot open \(path): \(reason)")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno)).lowercased()
            close(fd)
            if busy {
                throw WhipError(
                    .alreadyExists,
                    "another `whipround serve` is already running on \(directory) (it holds \(ServeLock.fileName)); stop it first")
            }
            throw WhipError(.io, "cannot lock \(path): \(reason)")
        }
        // For people looking: which process holds it.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        self.fd = fd
    }

    deinit { close(fd) }
}
