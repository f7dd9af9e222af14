/// Unsigned integers as base-128 digits, most significant first, high bit set on every byte but the last,
/// in as few bytes as possible (negentropy's Varint).
enum Varint {
    /// Appends the encoding of `v`.
    static func append(_ v: UInt64, to out: inout [UInt8]) {
        var digits = 1
        var t = v >> 7
        while t != 0 {
            digits += 1
            t >>= 7
        }
        for i in stride(from: digits - 1, through: 0, by: -1) {
            let d = UInt8((v >> (7 * UInt64(i))) & 0x7f)
            out.append(i == 0 ? d : d | 0x80)
        }
    }

    /// The encoded length of `v`.
    static func size(_ v: UInt64) -> Int {
        var n = 1
        var t = v >> 7
        while t != 0 {
            n += 1
            t >>= 7
        }
        return n
    }
}

/// The kind of a range in a message.
enum Mode: UInt64 {
    /// Nothing (more) to do in this range.
    case skip = 0
    /// The sender's fingerprint of the range.
    case fingerprint = 1
    /// Every id the sender holds in the range.
    case idList = 2
    /// Only from the responder, answering the initiator's id list for the same range: the ids the initiator
    /// lacks, and a bitfield of the initiator's ids that the responder lacks.
    case idListReply = 3
    /// The sender did not get to this range within its frame limit: the receiver describes it again (as if
    /// the fingerprints had differed) in its next message.
    case deferred = 4
}

/// A range boundary: a timestamp and an id prefix (the rest of the id taken as zero bytes).
///
/// `key` is the bound as a point of the key space (timestamp, prefix padded with zeros); items below it
/// are inside the ranges that end at this bound.
struct Bound: Comparable {
    let key: EventKey
    /// How many leading id bytes are significant (0...32).
    let prefixLength: Int

    static let zero = Bound(key: EventKey(timestamp: 0, raw: .zero), prefixLength: 0)
    static let infinity = Bound(key: EventKey(timestamp: Sync.infinity, raw: .zero), prefixLength: 0)

    var isInfinity: Bool { key.timestamp == Sync.infinity }

    /// The shortest bound that is above `prev` and at or below `curr` (`prev < curr`).
    static func between(_ prev: EventKey, _ curr: EventKey) -> Bound {
        if prev.timestamp != curr.timestamp {
            return Bound(key: EventKey(timestamp: curr.timestamp, raw: .zero), prefixLength: 0)
        }
        let a = prev.raw
        let b = curr.raw
        var shared = 0
        while shared < 31 && a.byte(shared) == b.byte(shared) { shared += 1 }
        return Bound(key: EventKey(timestamp: curr.timestamp, raw: b.prefix(shared + 1)), prefixLength: shared + 1)
    }

    static func < (a: Bound, b: Bound) -> Bool { a.key < b.key }
    static func == (a: Bound, b: Bound) -> Bool { a.key == b.key }
}

/// Builds a message. Timestamps are delta-encoded from the previous bound written to the same message.
struct Writer {
    var bytes: [UInt8] = []
    var lastTimestamp: UInt64 = 0

    init(lastTimestamp: UInt64 = 0) {
        self.lastTimestamp = lastTimestamp
    }

    var count: Int { bytes.count }

    mutating func varint(_ v: UInt64) { Varint.append(v, to: &bytes) }

    mutating func bound(_ b: Bound) {
        if b.isInfinity {
            varint(0)
            lastTimestamp = Sync.infinity
        } else {
            // Bounds ascend within a message, so the offset is never negative.
            varint(b.key.timestamp - lastTimestamp + 1)
            lastTimestamp = b.key.timestamp
        }
        varint(UInt64(b.prefixLength))
        let raw = b.key.raw
        for i in 0..<b.prefixLength { bytes.append(raw.byte(i)) }
    }

    mutating func range(_ b: Bound, _ mode: Mode) {
        bound(b)
        varint(mode.rawValue)
    }

    /// The encoded size of `b` if written next.
    func boundSize(_ b: Bound) -> Int {
        let ts = b.isInfinity ? 1 : Varint.size(b.key.timestamp - lastTimestamp + 1)
        return ts + 1 + b.prefixLength
    }

    mutating func id(_ raw: RawID) { raw.append(to: &bytes) }

    /// Appends another writer's bytes, which were written starting from this writer's state.
    mutating func append(_ other: Writer) {
        bytes.append(contentsOf: other.bytes)
        lastTimestamp = other.lastTimestamp
    }
}

/// Reads a message, throwing `sync.malformed` on anything out of bounds or non-canonical.
struct Reader {
    let bytes: [UInt8]
    var position = 0
    var lastTimestamp: UInt64 = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }
    var remaining: Int { bytes.count - position }

    mutating func byte() throws(SyncError) -> UInt8 {
        guard position < bytes.count else { throw .malformed("message truncated at byte \(position)") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws(SyncError) -> UInt64 {
        let start = position
        var v: UInt64 = 0
        var first = true
        while true {
            let b = try byte()
            if first && b == 0x80 { throw .malformed("non-minimal varint at byte \(start)") }
            first = false
            if v >> 57 != 0 { throw .malformed("varint over 64 bits at byte \(start)") }
            v = (v << 7) | UInt64(b & 0x7f)
            if b & 0x80 == 0 { return v }
        }
    }

    /// A count of items that each take at least `unit` more bytes: checked against what is left.
    mutating func count(unit: Int, _ what: String) throws(SyncError) -> Int {
        let n = try varint()
        guard n <= UInt64(remaining / unit) else { throw .malformed("\(what) count \(n) exceeds the \(remaining) bytes left") }
        return Int(n)
    }

    mutating func take(_ n: Int) throws(SyncError) -> ArraySlice<UInt8> {
        guard n <= remaining else { throw .malformed("message truncated: \(n) bytes wanted at byte \(position), \(remaining) left") }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    mutating func id() throws(SyncError) -> RawID {
        guard remaining >= Sync.idSize else { throw .malformed("message truncated inside an id at byte \(position)") }
        defer { position += Sync.idSize }
        return RawID(bytes, at: position)
    }

    mutating func bound() throws(SyncError) -> Bound {
        let start = position
        let encoded = try varint()
        let timestamp: UInt64
        if encoded == 0 {
            timestamp = Sync.infinity
        } else {
            let (t, overflow) = lastTimestamp.addingReportingOverflow(encoded - 1)
            guard !overflow, t != Sync.infinity else { throw .malformed("bound timestamp out of range at byte \(start)") }
            timestamp = t
        }
        lastTimestamp = timestamp
        let length = try varint()
        guard length <= UInt64(Sync.idSize) else { throw .malformed("bound id prefix of \(length) bytes at byte \(start)") }
        let prefix = try take(Int(length))
        if timestamp == Sync.infinity && length != 0 { throw .malformed("infinity bound with an id prefix at byte \(start)") }
        if let last = prefix.last, last == 0 { throw .malformed("bound id prefix ends in a zero byte at byte \(start)") }
        var padded = [UInt8](repeating: 0, count: 32)
        padded.replaceSubrange(0..<prefix.count, with: prefix)
        return Bound(key: EventKey(timestamp: timestamp, raw: RawID(padded, at: 0)), prefixLength: Int(length))
    }
}
