import WhipCrypto

/// A file of events and their personal-part records: the offline path between nodes (USB stick, email).
///
/// Layout (PROTOCOL.md §12): `"WHIPBNDL"`, version byte `0x02`, event count (u32 big-endian), then for each event
/// its length (u32 big-endian) and wire bytes; then the part-record count and the records, framed the same way;
/// then BLAKE2b-256 of everything before it. Version `0x01` is the same without the part section, and is still
/// read. Any damage refuses the whole file.
public enum EventBundle {
    /// The 8 magic bytes.
    public static let magic = Array("WHIPBNDL".utf8)
    /// The format version this build writes.
    public static let version: UInt8 = 2
    /// The format versions this build reads: version 1 has no part section.
    public static let readable: ClosedRange<UInt8> = 1...2
    /// The most events one bundle may hold, and the most part records.
    public static let maxEvents = 10_000_000
    /// The largest entry the framing accepts. Entries over `EventLimits.maxEventBytes` but within this are passed
    /// on, so the importer can refuse that one event by reason (`decode.too_large`) and keep the rest.
    public static let maxEntryBytes = 1 << 20

    /// Serialises events and part records into a bundle.
    public static func encode(_ events: [[UInt8]], parts: [[UInt8]] = []) -> [UInt8] {
        var out = magic + [version]
        out.reserveCapacity((events + parts).reduce(64) { $0 + $1.count + 4 })
        for section in [events, parts] {
            append32(UInt32(section.count), &out)
            for e in section {
                append32(UInt32(e.count), &out)
                out.append(contentsOf: e)
            }
        }
        out.append(contentsOf: Blake2b.hash(out, length: 32))
        return out
    }

    static func unsupported(_ v: UInt8) -> WhipError {
        WhipError(
            .corrupt,
            "bundle format version \(v) is not supported (this build reads versions \(readable.lowerBound) to \(readable.upperBound)); "
                + "nothing was imported")
    }

    /// Parses a bundle into its events and part records, refusing it whole if it is damaged in any way.
    public static func decode(_ data: [UInt8]) throws(WhipError) -> (events: [[UInt8]], parts: [[UInt8]]) {
        func corrupt(_ why: String) -> WhipError {
            WhipError(.corrupt, "the bundle is damaged (\(why)); nothing was imported. Export it again from the source node")
        }
        guard data.count >= magic.count, Array(data[0..<magic.count]) == magic else {
            throw WhipError(.corrupt, "this is not a Whipround bundle (wrong magic bytes); nothing was imported")
        }
        guard data.count >= 13 + 32 else { throw corrupt("truncated") }
        guard readable.contains(data[8]) else { throw unsupported(data[8]) }
        let body = Array(data[0..<(data.count - 32)])
        guard Sodium.constantTimeEqual(Blake2b.hash(body, length: 32), Array(data[(data.count - 32)...])) else {
            throw corrupt("checksum mismatch: truncated or modified in transit")
        }
        var offset = 9
        func section(_ what: String) throws(WhipError) -> [[UInt8]] {
            guard offset + 4 <= body.count else { throw corrupt("truncated before the \(what) count") }
            let count = Int(read32(body, offset))
            offset += 4
            guard count <= maxEvents else { throw corrupt("claims \(count) \(what)s, more than the \(maxEvents) limit") }
            var out = [[UInt8]]()
            out.reserveCapacity(min(count, 1_000_000))
            for i in 0..<count {
                guard offset + 4 <= body.count else { throw corrupt("truncated at \(what) \(i + 1) of \(count)") }
                let len = Int(read32(body, offset))
                offset += 4
                guard len <= maxEntryBytes else {
                    throw corrupt("\(what) \(i + 1) claims \(len) bytes, over the \(maxEntryBytes)-byte framing limit")
                }
                guard offset + len <= body.count else { throw corrupt("truncated at \(what) \(i + 1) of \(count)") }
                out.append(Array(body[offset..<offset + len]))
                offset += len
            }
            return out
        }
        let events = try section("event")
        let parts = data[8] >= 2 ? try section("part record") : []
        guard offset == body.count else { throw corrupt("\(body.count - offset) unexpected bytes after the last entry") }
        return (events, parts)
    }

    static func append32(_ v: UInt32, _ out: inout [UInt8]) {
        out.append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)])
    }

    static func read32(_ d: [UInt8], _ at: Int) -> UInt32 {
        UInt32(d[at]) << 24 | UInt32(d[at + 1]) << 16 | UInt32(d[at + 2]) << 8 | UInt32(d[at + 3])
    }
}

extension EventBundle {
    /// Reads a bundle from a byte source in pieces, so a bundle of millions of events needs little memory.
    ///
    /// `verify` checks magic, version, size and checksum over the whole source first; only then does
    /// `next(upTo:)` hand out events. The source is read twice.
    public struct StreamReader {
        /// Reads up to `count` bytes at `offset`; returns fewer only at the end.
        public typealias ReadAt = (_ offset: Int, _ count: Int) throws -> [UInt8]

        let read: ReadAt
        let size: Int
        var offset = 13
        var remaining = 0
        var version: UInt8 = 0
        /// True once the event section is read and the part section (if any) is next.
        var inParts = false
        /// Events the header announces.
        public private(set) var count = 0

        /// A reader over `size` bytes served by `read`.
        public init(size: Int, read: @escaping ReadAt) {
            self.size = size
            self.read = read
        }

        static func corrupt(_ why: String) -> WhipError {
            WhipError(.corrupt, "the bundle is damaged (\(why)); nothing was imported. Export it again from the source node")
        }

        static func io(_ error: any Error) -> WhipError {
            WhipError(.io, "cannot read the bundle (an input/output error; --verbose shows it)", cause: error)
        }

        /// Checks the header and the checksum of the whole source.
        public mutating func verify() throws(WhipError) {
            let head: [UInt8]
            do { head = try read(0, 13) } catch { throw Self.io(error) }
            guard head.count >= 8, Array(head[0..<8]) == EventBundle.magic else {
                throw WhipError(.corrupt, "this is not a Whipround bundle (wrong magic bytes); nothing was imported")
            }
            guard size >= 13 + 32, head.count == 13 else { throw Self.corrupt("truncated") }
            guard EventBundle.readable.contains(head[8]) else { throw EventBundle.unsupported(head[8]) }
            version = head[8]
            var hasher = Blake2b.Hasher(length: 32)
            var at = 0
            let end = size - 32
            do {
                while at < end {
                    let chunk = try read(at, min(1 << 20, end - at))
                    guard !chunk.isEmpty else { throw Self.corrupt("truncated") }
                    hasher.update(chunk)
                    at += chunk.count
                }
                let expected = try read(end, 32)
                guard Sodium.constantTimeEqual(hasher.finalize(), expected) else {
                    throw Self.corrupt("checksum mismatch: truncated or modified in transit")
                }
            } catch let e as WhipError {
                throw e
            } catch {
                throw Self.io(error)
            }
            count = Int(EventBundle.read32(head, 9))
            guard count <= EventBundle.maxEvents else { throw Self.corrupt("claims \(count) events, more than the \(EventBundle.maxEvents) limit") }
            remaining = count
        }

        /// The next up to `limit` events; empty when done. Framing errors refuse the rest of the bundle.
        public mutating func next(upTo limit: Int) throws(WhipError) -> [[UInt8]] {
            if inParts { return [] }
            let out = try entries(upTo: limit, what: "event")
            if remaining == 0 { try startParts() }
            return out
        }

        /// The next up to `limit` part records, once every event has been read; empty when done.
        public mutating func nextParts(upTo limit: Int) throws(WhipError) -> [[UInt8]] {
            guard inParts else { return [] }
            return try entries(upTo: limit, what: "part record")
        }

        /// Moves past the event section: reads the part count (version 2), and checks nothing else follows.
        mutating func startParts() throws(WhipError) {
            inParts = true
            let end = size - 32
            if version >= 2 {
                guard offset + 4 <= end else { throw Self.corrupt("truncated before the part record count") }
                do { remaining = Int(EventBundle.read32(try read(offset, 4), 0)) } catch { throw Self.io(error) }
                offset += 4
                guard remaining <= EventBundle.maxEvents else {
                    throw Self.corrupt("claims \(remaining) part records, more than the \(EventBundle.maxEvents) limit")
                }
            }
            if remaining == 0 && offset != end { throw Self.corrupt("\(end - offset) unexpected bytes after the last entry") }
        }

        mutating func entries(upTo limit: Int, what: String) throws(WhipError) -> [[UInt8]] {
            var out = [[UInt8]]()
            let end = size - 32
            do {
                while remaining > 0 && out.count < limit {
                    guard offset + 4 <= end else { throw Self.corrupt("truncated at \(what) \(count - remaining + 1)") }
                    let len = Int(EventBundle.read32(try read(offset, 4), 0))
                    guard len <= EventBundle.maxEntryBytes, offset + 4 + len <= end else {
                        throw Self.corrupt("bad length at \(what) \(out.count + 1) of this read")
                    }
                    out.append(try read(offset + 4, len))
                    offset += 4 + len
                    remaining -= 1
                }
                if inParts && remaining == 0 && offset != end {
                    throw Self.corrupt("\(end - offset) unexpected bytes after the last entry")
                }
            } catch let e as WhipError {
                throw e
            } catch {
                throw Self.io(error)
            }
            return out
        }
    }
}
