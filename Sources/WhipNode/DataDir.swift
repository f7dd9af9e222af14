public import Foundation
public import WhipCore
import WhipCrypto

/// The node's data directory: identity key, community keys and the SQLite replica.
///
/// Layout: `identity.key` (0600, hex seed), `communities/<hex id>.key` (0600, founder only), `whipround.sqlite`.
public struct DataDir: Sendable {
    /// Absolute path of the directory.
    public let path: String

    /// Wraps a directory path.
    public init(path: String) { self.path = path }

    /// `--data DIR`, else `WHIPROUND_DATA`, else `$XDG_DATA_HOME/whipround`, else `~/.local/share/whipround`.
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> DataDir {
        // `--data ""` stays empty, so opening it is a clear error rather than a quiet fall-back to the default.
        if let flag { return DataDir(path: flag.isEmpty ? "" : absolute(flag)) }
        if let env = environment["WHIPROUND_DATA"], !env.isEmpty { return DataDir(path: absolute(env)) }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return DataDir(path: absolute(xdg) + "/whipround") }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return DataDir(path: home + "/.local/share/whipround")
    }

    static func absolute(_ p: String) -> String {
        p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
    }

    /// The identity key file.
    public var identityFile: String { path + "/identity.key" }
    /// The database file.
    public var databaseFile: String { path + "/whipround.sqlite" }
    /// Where community root keys live.
    public var communityKeysDir: String { path + "/communities" }

    /// Whether `init` has run here.
    public var isInitialised: Bool { FileManager.default.fileExists(atPath: identityFile) }

    /// What is at a path: its stat(2) mode bits, nil if nothing is there; a permission problem is an error.
    static func fileType(_ file: String) throws(WhipError) -> (type: mode_t, size: Int64)? {
        var st = stat()
        if stat(file, &st) == 0 { return (st.st_mode & S_IFMT, Int64(st.st_size)) }
        switch errno {
        case ENOENT: return nil
        case EACCES: throw WhipError(.io, "cannot reach \(file): permission denied")
        case ENOTDIR: throw WhipError(.invalidArgument, "\(file): part of this path is a file, not a directory")
        default: throw WhipError(.io, "cannot reach \(file): \(String(cString: strerror(errno)))")
        }
    }

    /// Checks the path can be a data directory: not empty, and a directory (or nothing yet). Returns whether it exists.
    @discardableResult
    public func check() throws(WhipError) -> Bool {
        guard !path.isEmpty else {
            throw WhipError(.invalidArgument, "the data directory is empty: give --data DIR, or leave --data out for the default")
        }
        guard let kind = try DataDir.fileType(path) else { return false }
        guard kind.type == S_IFDIR else {
            throw WhipError(.invalidArgument, "\(path) is a file, not a data directory: give --data a directory")
        }
        guard access(path, R_OK | X_OK) == 0 else { throw WhipError(.io, "cannot read the data directory \(path): permission denied") }
        return true
    }

    /// Whether this user may change the directory and its database; if not, the node opens read-only.
    public var isWritable: Bool {
        let files: [String] = [databaseFile, databaseFile + "-wal", databaseFile + "-shm"]
        return access(path, W_OK) == 0 && files.allSatisfy { access($0, F_OK) != 0 || access($0, W_OK) == 0 }
    }

    /// Creates the directory (0700) if needed.
    func create() throws(WhipError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw WhipError(.io, "cannot create the data directory \(path): \(error.localizedDescription)", cause: error)
        }
    }

    /// Writes a secret key seed to `file` with mode 0600, refusing to overwrite.
    func writeSecret(_ seed: [UInt8], to file: String) throws(WhipError) {
        let dir = (file as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw WhipError(.io, "cannot create \(dir): \(error.localizedDescription)", cause: error)
        }
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw WhipError(.alreadyExists, "\(file) already exists; refusing to overwrite a key") }
            throw WhipError(.io, "cannot create \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let text = Array((Hex.encode(seed) + "\n").utf8)
        guard write(fd, text, text.count) == text.count, fsync(fd) == 0 else {
            throw WhipError(.io, "cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a key seed written by `writeSecret`, warning-free only if the file is private.
    func readSecret(_ file: String) throws(WhipError) -> SigningKey {
        guard let data = FileManager.default.contents(atPath: file) else {
            if access(file, F_OK) == 0 { throw WhipError(.io, "cannot read \(file): permission denied") }
            throw WhipError(.notFound, "cannot read \(file): no such file")
        }
        var st = stat()
        if stat(file, &st) == 0, st.st_mode & 0o077 != 0 {
            throw WhipError(.permissionDenied, "\(file) is readable by other users; run `chmod 600 \(file)` and try again")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let seed = Hex.decode(text), seed.count == 32, let key = try? SigningKey(seed: seed) else {
            throw WhipError(.corrupt, "\(file) does not hold a valid key")
        }
        return key
    }

    /// The file holding a community's root key.
    func communityKeyFile(_ id: PublicKey) -> String { communityKeysDir + "/" + id.hex + ".key" }
}
