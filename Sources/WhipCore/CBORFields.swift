import WhipCrypto

// General helpers for Whipround's CBOR maps, used by event bodies, the event envelope and invites.

/// Builds a canonical map from fields added in ascending key order, skipping absent (nil) ones.
struct MapBuilder {
    var pairs: [(UInt64, CBOR)] = []
    mutating func add(_ key: UInt64, _ value: CBOR?) {
        if let value { pairs.append((key, value)) }
    }
    mutating func add<Key: RawRepresentable<UInt64>>(_ key: Key, _ value: CBOR?) { add(key.rawValue, value) }
}

extension CBOR {
    static func amount(_ v: Int64) -> CBOR { .unsigned(UInt64(v)) }
    static func keys(_ ks: [PublicKey]) -> CBOR { .array(ks.map { .bytes($0.bytes) }) }
}

/// Reads a canonical map's fields in ascending key order and rejects any left over.
struct Fields {
    let pairs: [(UInt64, CBOR)]
    var index = 0
    let context: String

    init(_ value: CBOR, context: String) throws(DecodingError) {
        guard case .map(let pairs) = value else {
            throw DecodingError(.badType, "\(context) must be a map")
        }
        self.pairs = pairs
        self.context = context
    }

    mutating func optional(_ key: UInt64) -> CBOR? {
        guard index < pairs.count, pairs[index].0 == key else { return nil }
        defer { index += 1 }
        return pairs[index].1
    }

    mutating func required(_ key: UInt64, _ name: String) throws(DecodingError) -> CBOR {
        guard let v = optional(key) else {
            throw DecodingError(.missingField, "\(context): required field \(key) (\(name)) is missing")
        }
        return v
    }

    mutating func optional<Key: RawRepresentable<UInt64>>(_ key: Key) -> CBOR? { optional(key.rawValue) }

    mutating func required<Key: RawRepresentable<UInt64>>(_ key: Key, _ name: String) throws(DecodingError) -> CBOR {
        try required(key.rawValue, name)
    }

    func finish() throws(DecodingError) {
        guard index == pairs.count else {
            throw DecodingError(.unknownField, "\(context): unknown field \(pairs[index].0)")
        }
    }
}

extension CBOR {
    func uint(_ name: String) throws(DecodingError) -> UInt64 {
        guard case .unsigned(let n) = self else { throw DecodingError(.badType, "\(name) must be an unsigned integer") }
        return n
    }

    func amount(_ name: String) throws(DecodingError) -> Int64 {
        let n = try uint(name)
        guard n <= UInt64(Int64.max) else {
            throw DecodingError(.amountOverflow, "\(name) \(n) overflows a 64-bit signed amount")
        }
        return Int64(n)
    }

    func u32(_ name: String) throws(DecodingError) -> UInt32 {
        let n = try uint(name)
        guard n <= UInt64(UInt32.max) else { throw DecodingError(.outOfRange, "\(name) is out of range") }
        return UInt32(n)
    }

    func bool(_ name: String) throws(DecodingError) -> Bool {
        guard case .bool(let b) = self else { throw DecodingError(.badType, "\(name) must be true or false") }
        return b
    }

    /// A text field. Only multi-line fields (descriptions, reasons) may hold a line feed: a name or title
    /// with one could forge extra lines in plain-text listings.
    func text(_ name: String, max: Int, allowEmpty: Bool = false, multiline: Bool = false) throws(DecodingError) -> String {
        guard case .text(let s) = self else { throw DecodingError(.badType, "\(name) must be a text string") }
        guard s.utf8.count <= max else { throw DecodingError(.tooLong, "\(name) is longer than \(max) bytes") }
        guard allowEmpty || !s.isEmpty else { throw DecodingError(.empty, "\(name) must not be empty") }
        guard !s.unicodeScalars.contains(where: { ($0.value < 0x20 && !(multiline && $0 == "\n")) || $0.value == 0x7f }) else {
            throw DecodingError(.controlChar, "\(name) contains a control character\(multiline ? "" : " or a line break")")
        }
        return s
    }

    func byteString(_ name: String, count: Int? = nil, max: Int = Int.max) throws(DecodingError) -> [UInt8] {
        guard case .bytes(let b) = self else { throw DecodingError(.badType, "\(name) must be a byte string") }
        if let count, b.count != count { throw DecodingError(.badLength, "\(name) must be \(count) bytes") }
        guard b.count <= max else { throw DecodingError(.tooLong, "\(name) is longer than \(max) bytes") }
        return b
    }

    func bytes32(_ name: String) throws(DecodingError) -> Bytes32 {
        guard case .bytes(let b) = self else { throw DecodingError(.badType, "\(name) must be a byte string") }
        guard let raw = Bytes32(b) else { throw DecodingError(.badLength, "\(name) must be 32 bytes") }
        return raw
    }

    func key(_ name: String) throws(DecodingError) -> PublicKey { PublicKey(try bytes32(name)) }
    func id(_ name: String) throws(DecodingError) -> EventID { EventID(try bytes32(name)) }

    func currency(_ name: String) throws(DecodingError) -> Currency {
        let code = try text(name, max: 3)
        guard let c = Currency(code: code) else {
            throw DecodingError(.badCurrency, "\(name) '\(code)' is not an active ISO 4217 currency code")
        }
        return c
    }

    func enumValue<E: RawRepresentable>(_ name: String, _: E.Type) throws(DecodingError) -> E where E.RawValue == UInt64 {
        let n = try uint(name)
        guard let e = E(rawValue: n) else { throw DecodingError(.badEnum, "\(name) \(n) is not a known value") }
        return e
    }

    func keyList(_ name: String) throws(DecodingError) -> [PublicKey] {
        guard case .array(let items) = self else { throw DecodingError(.badType, "\(name) must be an array") }
        guard items.count <= EventLimits.maxOrganisers else {
            throw DecodingError(.tooLong, "\(name) has more than \(EventLimits.maxOrganisers) keys")
        }
        var keys = [PublicKey]()
        for item in items { keys.append(try item.key(name)) }
        guard zip(keys, keys.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw DecodingError(.nonCanonical, "\(name) must be sorted and without duplicates")
        }
        return keys
    }
}

func positive(_ v: Int64, _ name: String) throws(DecodingError) -> Int64 {
    guard v > 0 else { throw DecodingError(.notPositive, "\(name) must be greater than zero") }
    return v
}

func timeZoneName(_ v: CBOR) throws(DecodingError) -> String {
    let s = try v.text("time zone", max: EventLimits.maxTimeZoneBytes)
    guard s.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || "/_-+".utf8.contains($0) })
    else {
        throw DecodingError(.badTimeZone, "time zone '\(s)' is not an IANA zone name")
    }
    return s
}
