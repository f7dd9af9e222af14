public import WhipCore
import WhipCrypto

/// The key an event is reconciled under: a 64-bit timestamp, then its 32-byte id.
///
/// Whipround's timestamp is the event's HLC packed so that key order is replay order:
/// `wall << 20 | min(counter, 2^20 − 1)` (`EventKey.timestamp(of:)`).
///
/// Keys order by timestamp, then by id bytes compared lexicographically. The id is held as four
/// 64-bit words (bytes 0-7, 8-15, 16-23, 24-31, each read little-endian), 40 bytes inline with no
/// heap allocation, so a set of a million keys is one 40 MB array rather than a million arrays.
public struct EventKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The timestamp; `UInt64.max` is reserved by the protocol.
    public let timestamp: UInt64
    let w0: UInt64
    let w1: UInt64
    let w2: UInt64
    let w3: UInt64

    /// A key from a timestamp and an event id.
    public init(timestamp: UInt64, id: EventID) {
        self.init(timestamp: timestamp, w0: id.raw.w0, w1: id.raw.w1, w2: id.raw.w2, w3: id.raw.w3)
    }

    /// The key of an event: its packed HLC and its id.
    public init(event: Event) {
        self.init(timestamp: Self.timestamp(of: event.hlc), id: event.id)
    }

    /// An HLC packed into a timestamp that orders like it: `wall << 20 | min(counter, 2^20 − 1)` (walls
    /// from 2^44 ms, in the year 2527, all map to the largest timestamp below the reserved one).
    public static func timestamp(of hlc: HLC) -> UInt64 {
        guard hlc.wall < 1 << 44 else { return Sync.infinity - 1 }
        return hlc.wall << 20 | UInt64(min(hlc.counter, (1 << 20) - 1))
    }

    /// A key from a timestamp and exactly 32 id bytes; nil for any other length.
    public init?(timestamp: UInt64, idBytes: ArraySlice<UInt8>) {
        guard idBytes.count == 32 else { return nil }
        let s = idBytes.startIndex
        self.init(
            timestamp: timestamp, w0: Self.word(idBytes, s), w1: Self.word(idBytes, s + 8), w2: Self.word(idBytes, s + 16),
            w3: Self.word(idBytes, s + 24))
    }

    /// A key from a timestamp and exactly 32 id bytes in a buffer; nil for any other length.
    public init?(timestamp: UInt64, idBuffer b: UnsafeRawBufferPointer) {
        guard b.count == 32 else { return nil }
        self.init(
            timestamp: timestamp, w0: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
            w1: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            w2: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            w3: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    package init(timestamp: UInt64, w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.timestamp = timestamp
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    init(timestamp: UInt64, raw: RawID) {
        self.init(timestamp: timestamp, w0: raw.w0, w1: raw.w1, w2: raw.w2, w3: raw.w3)
    }

    @inline(__always)
    static func word(_ b: ArraySlice<UInt8>, _ i: Int) -> UInt64 {
        var w: UInt64 = 0
        for j in 0..<8 { w |= UInt64(b[i + j]) << (8 * UInt64(j)) }
        return w
    }

    /// The 32 id bytes.
    public var idBytes: [UInt8] { raw.bytes }

    /// The event id.
    public var id: EventID { raw.id }

    /// The id alone, as four words.
    var raw: RawID { RawID(w0: w0, w1: w1, w2: w2, w3: w3) }

    public var description: String { "\(timestamp):\(id.hex.prefix(16))" }

    public static func < (a: EventKey, b: EventKey) -> Bool {
        if a.timestamp != b.timestamp { return a.timestamp < b.timestamp }
        return a.raw < b.raw
    }
}

/// A 32-byte id as four little-endian words: hashable, and ordered like its bytes.
struct RawID: Hashable, Comparable, Sendable {
    var w0: UInt64
    var w1: UInt64
    var w2: UInt64
    var w3: UInt64

    static let zero = RawID(w0: 0, w1: 0, w2: 0, w3: 0)

    /// The event id these words hold (the same little-endian word layout as `Bytes32`).
    var id: EventID { EventID(Bytes32(littleEndianWords: w0, w1, w2, w3)) }

    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Reads 32 bytes at `offset` (the caller checks the length).
    init(_ b: [UInt8], at offset: Int) {
        let s = b[offset..<(offset + 32)]
        self.init(
            w0: EventKey.word(s, offset), w1: EventKey.word(s, offset + 8), w2: EventKey.word(s, offset + 16),
            w3: EventKey.word(s, offset + 24))
    }

    /// Byte `i` (0..<32).
    @inline(__always)
    func byte(_ i: Int) -> UInt8 {
        let w: UInt64
        switch i >> 3 {
        case 0: w = w0
        case 1: w = w1
        case 2: w = w2
        default: w = w3
        }
        return UInt8(truncatingIfNeeded: w >> (8 * UInt64(i & 7)))
    }

    /// Appends the 32 bytes to `out`.
    func append(to out: inout [UInt8]) {
        for w in [w0, w1, w2, w3] {
            for j in 0..<8 { out.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(j)))) }
        }
    }

    var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        append(to: &out)
        return out
    }

    /// The first `length` bytes, the rest zero.
    func prefix(_ length: Int) -> RawID {
        var b = bytes
        for i in length..<32 { b[i] = 0 }
        return RawID(b, at: 0)
    }

    static func < (a: RawID, b: RawID) -> Bool {
        // A little-endian word, byte-swapped, compares like its bytes read in order.
        if a.w0 != b.w0 { return a.w0.byteSwapped < b.w0.byteSwapped }
        if a.w1 != b.w1 { return a.w1.byteSwapped < b.w1.byteSwapped }
        if a.w2 != b.w2 { return a.w2.byteSwapped < b.w2.byteSwapped }
        return a.w3.byteSwapped < b.w3.byteSwapped
    }
}

/// The sum of a set of ids, each read as a 256-bit little-endian integer, modulo 2^256.
///
/// Byte for byte the same value as WhipCore's `Sum256`, held in four words so that adding an id
/// costs four additions with carry and no allocation.
public struct IdSum: Hashable, Sendable {
    var w0: UInt64 = 0
    var w1: UInt64 = 0
    var w2: UInt64 = 0
    var w3: UInt64 = 0

    /// Zero: the sum of the empty set.
    public init() {}

    /// Adds the id of `key`.
    @inline(__always)
    public mutating func add(_ key: EventKey) {
        add(key.w0, key.w1, key.w2, key.w3)
    }

    /// Adds another sum.
    @inline(__always)
    public mutating func add(_ s: IdSum) {
        add(s.w0, s.w1, s.w2, s.w3)
    }

    /// Subtracts another sum.
    @inline(__always)
    public mutating func subtract(_ s: IdSum) {
        // a - b = a + (~b + 1) mod 2^256
        var n = IdSum()
        n.w0 = ~s.w0
        n.w1 = ~s.w1
        n.w2 = ~s.w2
        n.w3 = ~s.w3
        n.add(1, 0, 0, 0)
        add(n)
    }

    @inline(__always)
    mutating func add(_ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64) {
        let (s0, c0) = w0.addingReportingOverflow(a0)
        var (s1, c1) = w1.addingReportingOverflow(a1)
        var c1b = false
        if c0 { (s1, c1b) = s1.addingReportingOverflow(1) }
        var (s2, c2) = w2.addingReportingOverflow(a2)
        var c2b = false
        if c1 || c1b { (s2, c2b) = s2.addingReportingOverflow(1) }
        var s3 = w3 &+ a3
        if c2 || c2b { s3 &+= 1 }
        w0 = s0
        w1 = s1
        w2 = s2
        w3 = s3
    }

    /// The sum of `a` and `b`.
    public static func + (a: IdSum, b: IdSum) -> IdSum {
        var r = a
        r.add(b)
        return r
    }

    /// The difference `a - b`.
    public static func - (a: IdSum, b: IdSum) -> IdSum {
        var r = a
        r.subtract(b)
        return r
    }

    /// The 32 bytes, little-endian (the same layout as `Sum256.bytes`).
    public var bytes: [UInt8] { RawID(w0: w0, w1: w1, w2: w2, w3: w3).bytes }
}
