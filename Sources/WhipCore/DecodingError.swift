public import WhipCrypto

/// The family of `DecodingError`.
public enum DecodingFailure: ErrorFamily {
    public static let describesWithCode = false
}

/// Why a byte string is not a valid canonical encoding or a valid event.
public typealias DecodingError = CodedError<DecodingFailure>

/// The `decode.*` codes: published in the rejection log and docs/PROTOCOL.md (section 3.5).
extension ErrorCode where Family == DecodingFailure {
    /// The input ends in the middle of a value (or a length runs past it).
    public static let truncated = Self("decode.truncated")
    /// Bytes remain after the value.
    public static let trailingBytes = Self("decode.trailing_bytes")
    /// An indefinite-length item.
    public static let indefinite = Self("decode.indefinite")
    /// A reserved additional-information value.
    public static let reserved = Self("decode.reserved")
    /// Not the one canonical encoding: a long-form integer or length, or an unsorted or duplicated key list.
    public static let nonCanonical = Self("decode.non_canonical")
    /// Values nest deeper than allowed.
    public static let tooDeep = Self("decode.too_deep")
    /// A tag, float or simple value other than true and false.
    public static let unsupported = Self("decode.unsupported")
    /// A text string that is not valid UTF-8.
    public static let badUTF8 = Self("decode.bad_utf8")
    /// A map key that is not an unsigned integer.
    public static let badKey = Self("decode.bad_key")
    /// Map keys not unique or not ascending.
    public static let keyOrder = Self("decode.key_order")
    /// An event over `EventLimits.maxEventBytes`.
    public static let tooLarge = Self("decode.too_large")
    /// An event that is not `[payload, signature]`.
    public static let badEnvelope = Self("decode.bad_envelope")
    /// An event version this build does not read.
    public static let unknownVersion = Self("decode.unknown_version")
    /// An event kind this build does not know.
    public static let unknownKind = Self("decode.unknown_kind")
    /// A field of the wrong CBOR type.
    public static let badType = Self("decode.bad_type")
    /// A required field is absent (or one of two fields that go together).
    public static let missingField = Self("decode.missing_field")
    /// A field number the kind does not define.
    public static let unknownField = Self("decode.unknown_field")
    /// An amount that overflows a 64-bit signed integer.
    public static let amountOverflow = Self("decode.amount_overflow")
    /// A number outside its field's range.
    public static let outOfRange = Self("decode.out_of_range")
    /// A text, byte string or list over its limit.
    public static let tooLong = Self("decode.too_long")
    /// A text that must not be empty is.
    public static let empty = Self("decode.empty")
    /// A text holds a control character (or a line break where none is allowed).
    public static let controlChar = Self("decode.control_char")
    /// A byte string of the wrong fixed length.
    public static let badLength = Self("decode.bad_length")
    /// Not an active ISO 4217 currency code.
    public static let badCurrency = Self("decode.bad_currency")
    /// An enumerated value this build does not know.
    public static let badEnum = Self("decode.bad_enum")
    /// A number that must be greater than zero is not.
    public static let notPositive = Self("decode.not_positive")
    /// Not an IANA time zone name.
    public static let badTimeZone = Self("decode.bad_time_zone")
    /// A campaign that closes before it opens.
    public static let badDates = Self("decode.bad_dates")
    /// An update event that changes nothing.
    public static let emptyUpdate = Self("decode.empty_update")
}
