public import WhipCrypto

/// Printable, copy-pasteable public keys: a prefix naming what the key is, then base32 of the key and a
/// 4-byte BLAKE2b checksum over prefix and key. A mistyped character or a key of the wrong kind fails clearly.
///
/// `wrk1…` is a member (node) key; `wrc1…` is a community id.
public enum KeyText {
    /// What a printable key names.
    public enum Kind: String, Sendable {
        case member = "wrk1"
        case community = "wrc1"

        var what: String { self == .member ? "member key" : "community id" }
    }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// The printable form of `key`.
    public static func encode(_ key: PublicKey, as kind: Kind) -> String {
        kind.rawValue + base32(key.bytes + checksum(key.bytes, kind))
    }

    /// Parses a printable key of `kind`, with a message that says what is wrong.
    public static func decode(_ text: String, as kind: Kind) throws(WhipError) -> PublicKey {
        let t = text.trimmingSpaces.lowercased()
        let other: Kind = kind == .member ? .community : .member
        if t.hasPrefix(other.rawValue) {
            throw WhipError(.invalidArgument, "'\(text)' is a \(other.what), but a \(kind.what) (starting \(kind.rawValue)) is needed here")
        }
        guard t.hasPrefix(kind.rawValue) else {
            throw WhipError(.invalidArgument, "'\(text)' is not a \(kind.what): it should start with \(kind.rawValue)")
        }
        let body = String(t.dropFirst(kind.rawValue.count))
        guard body.count == 58, body.utf8.allSatisfy({ (97...122).contains($0) || (50...55).contains($0) }) else {
            throw WhipError(
                .invalidArgument,
                "'\(text)' is not a \(kind.what): it should be \(kind.rawValue) and 58 characters from a-z, 2-7; check it was copied whole")
        }
        guard let raw = unbase32(body), raw.count == 36 else {
            throw WhipError(.invalidArgument, "'\(text)' has a bad checksum: a character was mistyped; copy it again")
        }
        let key = Array(raw[0..<32])
        guard Array(raw[32...]) == checksum(key, kind), let decoded = PublicKey(bytes: key) else {
            throw WhipError(.invalidArgument, "'\(text)' has a bad checksum: a character was mistyped; copy it again")
        }
        return decoded
    }

    static func checksum(_ key: [UInt8], _ kind: Kind) -> [UInt8] {
        Array(Blake2b.hash(Array(kind.rawValue.utf8) + key, length: 16).prefix(4))
    }

    /// RFC 4648 base32, lower case, no padding.
    public static func base32(_ data: [UInt8]) -> String {
        var out = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for byte in data {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Inverse of `base32`; nil on a bad character or non-zero padding bits.
    public static func unbase32(_ text: String) -> [UInt8]? {
        var out = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case 97...122: v = UInt32(c - 97)
            case 50...55: v = UInt32(c - 50 + 26)
            default: return nil
            }
            buffer = (buffer << 5 | v) & 0xfff
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xff))
                bits -= 8
            }
        }
        guard bits < 5, buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
