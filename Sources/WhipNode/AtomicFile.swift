import Foundation
public import WhipCore

/// Writes an output file so that it is either wholly the new content or untouched.
///
/// The bytes go to a fresh temporary file beside the target (same directory, so the same file system),
/// which is flushed with fsync and then renamed over the target with rename(2); the directory is fsynced
/// after. Nothing is ever deleted: a target that is a directory, ends in `/` or is not a regular file is
/// refused, and on any failure only the temporary file this writer created is removed.
public enum AtomicFile {
    /// Bytes buffered before each write(2).
    public static let bufferBytes = 64 * 1024

    /// Checks that `path` may be written: call it before expensive work so a bad `--out` fails at once.
    /// Returns the path to write (a symbolic link is followed, so the file it points at is replaced, not the link).
    @discardableResult
    public static func checkTarget(_ path: String) throws(WhipError) -> String {
        guard !path.isEmpty else { throw WhipError(.invalidArgument, "the output file name is empty") }
        if path.hasSuffix("/") {
            throw WhipError(.invalidArgument, "\(path) is a directory name; give the name of a file to write, e.g. \(path)whipround.out")
        }
        var target = path
        var st = stat()
        if lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFLNK, let resolved = realpath(path, nil) {
            target = String(cString: resolved)
            free(resolved)
        }
        if stat(target, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                throw WhipError(.invalidArgument, "\(path) is a directory; give the name of a file to write, e.g. \(path)/whipround.out")
            case S_IFREG: break
            default: throw WhipError(.invalidArgument, "\(path) is not a regular file; give the name of a file to write")
            }
        } else if errno != ENOENT {
            throw WhipError(errno == EACCES ? .permissionDenied : .io, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let dir = directory(of: target)
        if stat(dir, &st) != 0 || st.st_mode & S_IFMT != S_IFDIR {
            throw WhipError(.notFound, "cannot write \(path): the directory \(dir) does not exist")
        }
        return target
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws(WhipError) {
        try write(to: path) { (w: Writer) throws(WhipError) in try w.write(bytes) }
    }

    /// Writes what `body` produces to `path` atomically: `body` writes chunks to the `Writer` it is given; if it
    /// throws, the target is left as it was and the error is rethrown.
    public static func write(to path: String, _ body: (Writer) throws(WhipError) -> Void) throws(WhipError) {
        let target = try checkTarget(path)
        let dir = directory(of: target)
        let name = (target as NSString).lastPathComponent
        var template = Array("\(dir)/.\(name).partial-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw WhipError(errno == EACCES ? .permissionDenied : .io, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let tmp = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var renamed = false
        defer {
            if !renamed { unlink(tmp) }
        }
        let writer = Writer(fd: fd, path: path)
        do throws(WhipError) {
            try body(writer)
            try writer.flush()
            // A replaced file keeps its permissions; a new one is private (0600), as mkstemp(3) made it.
            var st = stat()
            if stat(target, &st) == 0 { fchmod(fd, st.st_mode & 0o7777) }
            guard fsync(fd) == 0 else { throw writer.failure() }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw writer.failure() }
        guard rename(tmp, target) == 0 else { throw writer.failure() }
        renamed = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    static func directory(of path: String) -> String {
        let d = (path as NSString).deletingLastPathComponent
        if d.isEmpty { return "." }
        return d
    }

    /// Takes the chunks of one atomic write.
    public final class Writer {
        let fd: Int32
        let path: String
        var buffer: [UInt8] = []
        /// Bytes written so far.
        public private(set) var count = 0

        init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
            buffer.reserveCapacity(AtomicFile.bufferBytes)
        }

        /// Appends bytes.
        public func write(_ bytes: some Sequence<UInt8>) throws(WhipError) {
            let before = buffer.count
            buffer.append(contentsOf: bytes)
            count += buffer.count - before
            if buffer.count >= AtomicFile.bufferBytes { try flush() }
        }

        /// Appends a string as UTF-8.
        public func write(_ text: String) throws(WhipError) { try write(text.utf8) }

        func flush() throws(WhipError) {
            var done = 0
            while done < buffer.count {
                let n = buffer.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure()
                }
                done += n
            }
            buffer.removeAll(keepingCapacity: true)
        }

        func failure() -> WhipError {
            let e = errno
            return WhipError(e == EACCES ? .permissionDenied : .io, "cannot write \(path): \(String(cString: strerror(e)))")
        }
    }
}

/// write(2), out of reach of `Writer.write`'s name.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
