/// Exactly 32 bytes held inline as four 64-bit words, with no heap allocation: the storage of `PublicKey` and
/// `EventID`, so a dictionary or a row of them is plain values rather than a separate array each.
///
/// Word `i` holds bytes `8i..<8i+8` read little-endian (the layout `EventKey` in WhipSync uses), so on a
/// little-endian machine the four words in memory are the 32 bytes in order. Order is the bytes' lexicographic order.
public struct Bytes32: Hashable, Comparable, Sendable {
    /// Bytes 0-7, 8-15, 16-23 and 24-31, each read little-endian.
    public let w0: UInt64
    public let w1: UInt64
    public let w2: UInt64
    public let w3: UInt64

    /// The 32 bytes from their four little-endian words.
    public init(littleEndianWords w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Exactly 32 bytes from a buffer; nil for any other length.
    public init?(_ buffer: UnsafeRawBufferPointer) {
        guard buffer.count == 32 else { return nil }
        self.init(
            littleEndianWords: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
            UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    /// Exactly 32 bytes; nil for any other length.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        // `withContiguousStorageIfAvailable` gives nil for a collection without contiguous storage (then copied).
        let contiguous = bytes.withContiguousStorageIfAvailable { Bytes32(UnsafeRawBufferPointer($0)) }
        guard let raw = contiguous ?? Array(bytes).withUnsafeBytes({ Bytes32($0) }) else { return nil }
        self = raw
    }

    /// Fills 32 bytes through `body` (for example a hash function writing its output).
    public init(filling body: (UnsafeMutableRawBufferPointer) -> Void) {
        var t: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &t) { body($0) }
        self.init(
            littleEndianWords: UInt64(littleEndian: t.0), UInt64(littleEndian: t.1), UInt64(littleEndian: t.2),
            UInt64(littleEndian: t.3))
    }

    /// Calls `body` with the 32 bytes in order, without allocating.
    @inline(__always)
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var t = (w0.littleEndian, w1.littleEndian, w2.littleEndian, w3.littleEndian)
        return try Swift.withUnsafeBytes(of: &t) { (p) throws(E) -> R in try body(p) }
    }

    /// Calls `body` with a pointer to the 32 bytes in order (for C functions taking `const unsigned char *`).
    @inline(__always)
    public func withUnsafeBytePointer<R>(_ body: (UnsafePointer<UInt8>) -> R) -> R {
        var t = (w0.littleEndian, w1.littleEndian, w2.littleEndian, w3.littleEndian)
        return Swift.withUnsafePointer(to: &t) { $0.withMemoryRebound(to: UInt8.self, capacity: 32) { body($0) } }
    }

    /// The 32 bytes as an array.
    public var array: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Byte `i` (0..<32).
    @inline(__always)
    public subscript(i: Int) -> UInt8 {
        let w: UInt64 =
            switch i >> 3 {
            case 0: w0
            case 1: w1
            case 2: w2
            default: w3
            }
        return UInt8(truncatingIfNeeded: w >> (8 * UInt64(i & 7)))
    }

    /// Lower-case hex, 64 characters.
    public var hex: String {
        withUnsafeBytes { b in
            String(unsafeUninitializedCapacity: 64) { out in
                for (i, byte) in b.enumerated() {
                    out[2 * i] = Hex.digit(byte >> 4)
                    out[2 * i + 1] = Hex.digit(byte & 0x0f)
                }
                return 64
            }
        }
    }

    public static func < (a: Bytes32, b: Bytes32) -> Bool {
        (a.w0.byteSwapped, a.w1.byteSwapped, a.w2.byteSwapped, a.w3.byteSwapped)
            < (b.w0.byteSwapped, b.w1.byteSwapped, b.w2.byteSwapped, b.w3.byteSwapped)
    }
}
