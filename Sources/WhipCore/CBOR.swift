public import WhipCrypto

/// A value in Whipround's canonical subset of CBOR (RFC 8949, deterministic encoding, section 4.2.1).
///
/// Allowed: unsigned and negative integers, byte strings, UTF-8 text strings, arrays, maps whose keys
/// are unsigned integers in strictly ascending order, `true` and `false`. Nothing else: no floats,
/// tags, `null`, `undefined` or indefinite lengths. Every value has exactly one encoding.
public indirect enum CBOR: Equatable, Sendable {
    case unsigned(UInt64)
    case negative(UInt64)  // the value is -1 - n
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    case map([(UInt64, CBOR)])
    case bool(Bool)

    public static func == (a: CBOR, b: CBOR) -> Bool {
        switch (a, b) {
        case (.unsigned(let x), .unsigned(let y)), (.negative(let x), .negative(let y)): x == y
        case (.bytes(let x), .bytes(let y)): x == y
        case (.text(let x), .text(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.map(let x), .map(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

extension CBOR {
    /// The canonical encoding of this value.
    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(128)
        encode(into: &out)
        return out
    }

    /// Appends the canonical encoding of this value to `out`.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .unsigned(let n): Self.head(0, n, &out)
        case .negative(let n): Self.head(1, n, &out)
        case .bytes(let b):
            Self.head(2, UInt64(b.count), &out)
            out.append(contentsOf: b)
        case .text(let s):
            let u = Array(s.utf8)
            Self.head(3, UInt64(u.count), &out)
            out.append(contentsOf: u)
        case .array(let items):
            Self.head(4, UInt64(items.count), &out)
            for item in items { item.encode(into: &out) }
        case .map(let pairs):
            precondition(zip(pairs, pairs.dropFirst()).allSatisfy { $0.0 < $1.0 }, "map keys must ascend")
            Self.head(5, UInt64(pairs.count), &out)
            for (k, v) in pairs {
                Self.head(0, k, &out)
                v.encode(into: &out)
            }
        case .bool(let b): out.append(b ? 0xf5 : 0xf4)
        }
    }

    static func head(_ major: UInt8, _ n: UInt64, _ out: inout [UInt8]) {
        let m = major << 5
        switch n {
        case 0..<24: out.append(m | UInt8(n))
        case 24...0xff: out.append(contentsOf: [m | 24, UInt8(n)])
        case 0x100...0xffff: out.append(contentsOf: [m | 25, UInt8(n >> 8), UInt8(n & 0xff)])
        case 0x1_0000...0xffff_ffff:
            out.append(m | 26)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((n >> UInt64(shift)) & 0xff)) }
        default:
            out.append(m | 27)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((n >> UInt64(shift)) & 0xff)) }
        }
    }

    /// Decodes exactly one canonical value spanning all of `bytes`.
    ///
    /// Rejects non-shortest integer heads, indefinite lengths, unsorted or duplicate map keys,
    /// non-integer map keys, invalid UTF-8, unsupported major types and trailing bytes.
    public static func decode(_ bytes: [UInt8], maxDepth: Int = 8) throws(DecodingError) -> CBOR {
        var reader = Reader(bytes: bytes, maxDepth: maxDepth)
        let value = try reader.value(depth: 0)
        guard reader.offset == bytes.count else {
            throw DecodingError(.trailingBytes, "\(bytes.count - reader.offset) trailing byte(s) after the value")
        }
        return value
    }

    struct Reader {
        let bytes: [UInt8]
        let maxDepth: Int
        var offset = 0

        mutating func byte() throws(DecodingError) -> UInt8 {
            guard offset < bytes.count else { throw DecodingError(.truncated, "input ends in the middle of a value") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func take(_ n: UInt64) throws(DecodingError) -> ArraySlice<UInt8> {
            guard n <= UInt64(bytes.count - offset) else {
                throw DecodingError(.truncated, "input ends in the middle of a value")
            }
            let start = offset
            offset += Int(n)
            return bytes[start..<offset]
        }

        mutating func head() throws(DecodingError) -> (UInt8, UInt64) {
            let first = try byte()
            let major = first >> 5
            let info = first & 0x1f
            let n: UInt64
            switch info {
            case 0..<24: n = UInt64(info)
            case 24:
                n = UInt64(try byte())
                if n < 24 { throw Self.nonCanonical() }
            case 25, 26, 27:
                let len = 1 << (info - 24)  // 2, 4, 8
                var v: UInt64 = 0
                for _ in 0..<len { v = v << 8 | UInt64(try byte()) }
                let minimum: UInt64 = info == 25 ? 0x100 : info == 26 ? 0x1_0000 : 0x1_0000_0000
                if v < minimum { throw Self.nonCanonical() }
                n = v
            case 31:
                throw DecodingError(.indefinite, "indefinite-length items are not allowed")
            default:
                throw DecodingError(.reserved, "reserved additional-information value \(info)")
            }
            return (major, n)
        }

        static func nonCanonical() -> DecodingError {
            DecodingError(.nonCanonical, "an integer or length is not in its shortest form")
        }

        mutating func value(depth: Int) throws(DecodingError) -> CBOR {
            guard depth <= maxDepth else { throw DecodingError(.tooDeep, "values nest deeper than \(maxDepth)") }
            // Tags, floats and simple values are outside the subset whatever their argument; say so
            // before reading the argument, which for a float such as 0xf9 0x00 0x00 is not an integer.
            if offset < bytes.count, bytes[offset] >> 5 >= 6, bytes[offset] != 0xf4, bytes[offset] != 0xf5 {
                let first = bytes[offset]
                throw first >> 5 == 6
                    ? DecodingError(.unsupported, "tags (major type 6) are not allowed")
                    : DecodingError(.unsupported, "simple value or float 0x\(String(first, radix: 16)) is not allowed")
            }
            let start = offset
            let (major, n) = try head()
            switch major {
            case 0: return .unsigned(n)
            case 1: return .negative(n)
            case 2: return .bytes(Array(try take(n)))
            case 3:
                let raw = try take(n)
                guard let s = String(validating: raw, as: UTF8.self) else {
                    throw DecodingError(.badUTF8, "a text string is not valid UTF-8")
                }
                return .text(s)
            case 4:
                guard n <= UInt64(bytes.count - offset) else { throw DecodingError(.truncated, "array longer than input") }
                var items = [CBOR]()
                items.reserveCapacity(Int(n))
                for _ in 0..<n { items.append(try value(depth: depth + 1)) }
                return .array(items)
            case 5:
                guard n <= UInt64(bytes.count - offset) / 2 else { throw DecodingError(.truncated, "map longer than input") }
                var pairs = [(UInt64, CBOR)]()
                pairs.reserveCapacity(Int(n))
                for _ in 0..<n {
                    let (km, k) = try head()
                    guard km == 0 else { throw DecodingError(.badKey, "map keys must be unsigned integers") }
                    if let last = pairs.last?.0, k <= last {
                        throw DecodingError(.keyOrder, "map keys must be unique and in ascending order")
                    }
                    pairs.append((k, try value(depth: depth + 1)))
                }
                return .map(pairs)
            case 7:
                let first = bytes[start]
                if first == 0xf4 { return .bool(false) }
                if first == 0xf5 { return .bool(true) }
                throw DecodingError(.unsupported, "simple value or float 0x\(String(first, radix: 16)) is not allowed")
            default:
                throw DecodingError(.unsupported, "tags (major type 6) are not allowed")
            }
        }
    }
}
