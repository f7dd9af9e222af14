import Foundation
public import WhipCore

#if canImport(Glibc)
    import Glibc
#endif

/// Output gathered in pieces of `chunkBytes`, each handed on as it fills (to standard output, or to an atomic
/// file writer), or kept whole. Listing a large campaign so never holds its whole text.
public final class OutputBuffer {
    /// Bytes gathered before they are handed on.
    public static let chunkBytes = 65_536

    // Appended to per field of every pledge; the class is used from one thread, so the dynamic exclusivity
    // check on each access (a tenth of a listing's time) buys nothing.
    @exclusivity(unchecked) private var buffer: [UInt8] = []
    private let sink: (([UInt8]) throws(WhipError) -> Void)?

    /// Output handed to `sink` a piece at a time, and the rest at `flush()`.
    public init(sink: @escaping ([UInt8]) throws(WhipError) -> Void) {
        self.sink = sink
        buffer.reserveCapacity(Self.chunkBytes + 4_096)
    }

    /// Output kept in memory, read back with `contents`.
    public init() { sink = nil }

    /// Output that goes to standard output, a piece at a time.
    public static func standardOutput() -> OutputBuffer { OutputBuffer(sink: writeToStandardOutput) }

    /// Everything written, for output kept in memory.
    public var contents: [UInt8] { buffer }

    /// Appends a decimal integer without making a `String` of it.
    public func write(_ value: Int64) throws(WhipError) {
        if value < 0 { buffer.append(0x2D) }
        var m = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for the 20 digits of UInt64.max
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            repeat {
                i -= 1
                d[i] = 0x30 + UInt8(m % 10)
                m /= 10
            } while m > 0
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[i...]))
        }
        if sink != nil && buffer.count >= Self.chunkBytes { try flush() }
    }

    /// Appends text, handing on a full piece when one is ready.
    public func write(_ text: String) throws(WhipError) {
        append(text)
        if sink != nil && buffer.count >= Self.chunkBytes { try flush() }
    }

    /// Appends a string's UTF-8 bytes in one copy (a native string's bytes are contiguous; the generic append
    /// of a `String.UTF8View` went byte by byte).
    @inline(__always)
    func append(_ text: String) {
        var text = text
        text.withUTF8 { buffer.append(contentsOf: $0) }
    }

    /// Appends bytes without handing on a full piece (the caller does, once per value).
    @inline(__always)
    func append(_ bytes: UnsafeBufferPointer<UInt8>) { buffer.append(contentsOf: bytes) }

    /// Hands on a full piece, if one is ready.
    @inline(__always)
    func flushIfFull() throws(WhipError) {
        if sink != nil && buffer.count >= Self.chunkBytes { try flush() }
    }

    /// Appends a literal (a JSON key).
    public func write(_ text: StaticString) throws(WhipError) {
        text.withUTF8Buffer { buffer.append(contentsOf: $0) }
        if sink != nil && buffer.count >= Self.chunkBytes { try flush() }
    }

    /// Hands on what is gathered (output kept in memory keeps it).
    public func flush() throws(WhipError) {
        guard let sink, !buffer.isEmpty else { return }
        defer { buffer.removeAll(keepingCapacity: true) }
        try sink(buffer)
    }

    static func writeToStandardOutput(_ bytes: [UInt8]) throws(WhipError) {
        // Anything print() left in the C library's buffer goes first, so the order on the terminal is kept.
        fflush(nil)
        let failure: Int32? = bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(1, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return nil
        }
        if let failure { throw WhipError(.io, "cannot write to standard output: \(String(cString: strerror(failure)))") }
    }
}

/// JSON written value by value, laid out exactly as `JSONSerialization` lays it out with
/// `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`, and escaped as the CLI's `printJSON` escapes it
/// (DEL, C1 controls and bidirectional marks as `\u00XX` too), so streamed output reads the same as printed.
///
/// Values are `String`, `Bool`, integers, `Double`, `NSNull`, arrays and dictionaries of these, and `JSONText.Deferred`,
/// whose writer is called in its place (a long array read from a cursor). Keys sort case-insensitively, as
/// `JSONSerialization` sorts them, which for the keys used here (lowercase letters and `_`) is plain byte order.
public enum JSONText {
    /// A value written by a closure when its turn comes, given the output and the current indentation level.
    public struct Deferred {
        let write: (OutputBuffer, Int) throws(WhipError) -> Void
        /// A deferred value.
        public init(_ write: @escaping (OutputBuffer, Int) throws(WhipError) -> Void) { self.write = write }
    }

    /// Writes `value` at indentation `level` (the first line is not indented: the caller placed it).
    public static func write(_ value: Any, level: Int = 0, to out: OutputBuffer) throws(WhipError) {
        // The common types first; a cast to a class (NSNull) bridges the value to Objective-C, which costs more
        // than writing it, so it is tried last.
        switch value {
        case let s as String: try writeString(s, to: out)
        case let b as Bool: try out.write(b ? "true" : "false")
        case let i as Int64: try out.write(String(i))
        case let i as Int: try out.write(String(i))
        case let d as [String: Any]: try writeObject(sortedByKey(d).map { ($0.key, $0.value) }, level: level, to: out)
        case let a as [Any]:
            let array = ArrayWriter(out: out, level: level)
            for element in a { try array.append(element) }
            try array.finish()
        case let d as Deferred: try d.write(out, level)
        case let i as UInt64: try out.write(String(i))
        case let i as Int32: try out.write(String(i))
        case let i as UInt32: try out.write(String(i))
        case let x as Double: try out.write(x.description)
        case is NSNull: try out.write("null")
        default:
            throw WhipError(.internalError, "cannot write a \(type(of: value)) as JSON")
        }
    }

    /// Writes an object's entries in the order given.
    static func writeObject(_ pairs: [(String, Any)], level: Int, to out: OutputBuffer) throws(WhipError) {
        try out.write("{\n")
        var first = true
        for (key, value) in pairs {
            try out.write(first ? "" : ",\n")
            try out.write(indent(level + 1))
            try writeString(key, to: out)
            try out.write(" : ")
            first = false
            try write(value, level: level + 1, to: out)
        }
        try out.write("\n")
        try out.write(indent(level))
        try out.write("}")
    }

    /// An object written one typed field at a time, in the order given (which must be `JSONSerialization`'s
    /// key order), with no dictionary, array of pairs or dynamic cast per field: for each of thousands of rows.
    /// Keys must be plain ASCII without quotes or backslashes (they are the CLI's own field names).
    public struct ObjectWriter: ~Copyable {
        private let out: OutputBuffer
        private let level: Int
        private var first = true

        init(out: OutputBuffer, level: Int) throws(WhipError) {
            self.out = out
            self.level = level
            try out.write("{\n")
        }

        private mutating func key(_ key: StaticString) throws(WhipError) {
            if !first { out.append(",\n") }
            first = false
            out.append(indent(level + 1))
            out.append("\"")
            key.withUTF8Buffer { out.append($0) }
            out.append("\" : ")
        }

        /// A string field.
        public mutating func field(_ name: StaticString, _ value: String) throws(WhipError) {
            try key(name)
            try writeString(value, to: out)
        }

        /// An integer field.
        public mutating func field(_ name: StaticString, _ value: Int64) throws(WhipError) {
            try key(name)
            try out.write(value)
        }

        /// A true or false field.
        public mutating func field(_ name: StaticString, _ value: Bool) throws(WhipError) {
            try key(name)
            try out.write(value ? "true" : "false")
        }

        /// A list of strings.
        public mutating func field(_ name: StaticString, _ value: [String]) throws(WhipError) {
            try key(name)
            try JSONText.write(value, level: level + 1, to: out)
        }

        /// A nested object, its keys sorted like every object's.
        public mutating func field(_ name: StaticString, _ value: [String: Any]) throws(WhipError) {
            try key(name)
            try JSONText.write(value, level: level + 1, to: out)
        }

        /// Closes the object.
        public consuming func finish() throws(WhipError) {
            try out.write("\n")
            try out.write(indent(level))
            try out.write("}")
        }
    }

    /// An array written one element at a time.
    public final class ArrayWriter {
        private let out: OutputBuffer
        private let level: Int
        private var count = 0

        /// Starts an array at indentation `level`.
        public init(out: OutputBuffer, level: Int = 0) {
            self.out = out
            self.level = level
        }

        /// Writes the next element.
        public func append(_ element: Any) throws(WhipError) {
            try out.write(count == 0 ? "[\n" : ",\n")
            try out.write(indent(level + 1))
            count += 1
            try JSONText.write(element, level: level + 1, to: out)
        }

        /// Writes the next element, an object whose fields `body` writes.
        public func appendObject(_ body: (inout ObjectWriter) throws(WhipError) -> Void) throws(WhipError) {
            try out.write(count == 0 ? "[\n" : ",\n")
            try out.write(indent(level + 1))
            count += 1
            var object = try ObjectWriter(out: out, level: level + 1)
            try body(&object)
            try object.finish()
        }

        /// Closes the array.
        public func finish() throws(WhipError) {
            try out.write((count == 0 ? "[\n" : "") + "\n" + indent(level) + "]")
        }
    }

    /// The entries in JSONSerialization's order: case-insensitive, then exact. Keys without upper-case ASCII
    /// or other scripts (all of ours) compare as they are, without lower-cased copies.
    static func sortedByKey(_ d: [String: Any]) -> [(key: String, value: Any)] {
        if d.keys.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 && !(0x41...0x5A).contains($0) } }) {
            return d.sorted { $0.key < $1.key }
        }
        return d.sorted { keyOrder($0.key, $1.key) }
    }

    static func keyOrder(_ a: String, _ b: String) -> Bool {
        let (la, lb) = (a.lowercased(), b.lowercased())
        return la == lb ? a < b : la < lb
    }

    static let indents = (0..<16).map { String(repeating: "  ", count: $0) }

    static func indent(_ level: Int) -> String { level < indents.count ? indents[level] : String(repeating: "  ", count: level) }

    static func writeString(_ s: String, to out: OutputBuffer) throws(WhipError) {
        // Printable ASCII without quotes or backslashes (nearly every value) is written as it is, checked and
        // copied from the string's own bytes.
        var s = s
        let plain = s.withUTF8 { bytes in
            for b in bytes where b < 0x20 || b >= 0x7f || b == 0x22 || b == 0x5C { return false }
            quote.withUnsafeBufferPointer { out.append($0) }
            out.append(bytes)
            quote.withUnsafeBufferPointer { out.append($0) }
            return true
        }
        if !plain { out.append(quoted(s)) }
        try out.flushIfFull()
    }

    static let quote: [UInt8] = [0x22]

    /// A JSON string literal, escaped as `JSONSerialization` escapes it (slashes left alone), and as `printJSON`.
    static func quoted(_ s: String) -> String {
        var r = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\u{8}": r += "\\b"
            case "\u{c}": r += "\\f"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            case _ where scalar.value < 0x20 || SafeText.needsEscape(scalar):
                // C0 controls as JSON requires; DEL, C1 controls and bidirectional marks as the CLI's printJSON
                // escapes them, so no value can drive a terminal.
                let hex = String(scalar.value, radix: 16)
                r += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: r.unicodeScalars.append(scalar)
            }
        }
        return r + "\""
    }
}
