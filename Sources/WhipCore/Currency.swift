/// An ISO 4217 currency and the number of digits in its minor unit.
public struct Currency: Hashable, Sendable, CustomStringConvertible {
    /// Three upper-case letters, e.g. `GBP`.
    public let code: String
    /// Digits after the decimal point (GBP 2, JPY 0, KWD 3).
    public let exponent: Int

    /// Looks up an active ISO 4217 code; nil when unknown.
    public init?(code: String) {
        guard let exp = Currency.table[code] else { return nil }
        self.code = code
        self.exponent = exp
    }

    public var description: String { code }

    // Active ISO 4217 codes (list 1). Minor-unit exponent 2 unless listed otherwise.
    private static let two =
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
    private static let zero = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
    private static let three = "BHD IQD JOD KWD LYD OMR TND"
    private static let four = "CLF UYW"

    private static let table: [String: Int] = {
        var t = [String: Int]()
        for (list, exp) in [(two, 2), (zero, 0), (three, 3), (four, 4)] {
            for code in list.split(separator: " ") { t[String(code)] = exp }
        }
        return t
    }()
}

/// An amount of money: integer minor units in one currency.
public struct Money: Hashable, Sendable {
    /// Minor units (pence for GBP).
    public let minor: Int64
    /// The currency.
    public let currency: Currency

    /// Creates an amount from minor units.
    public init(minor: Int64, currency: Currency) {
        self.minor = minor
        self.currency = currency
    }

    /// Parses what a person types, `25`, `25.5` or `25.50`, in `currency`'s minor units.
    public init(parsing text: String, currency: Currency) throws(WhipError) {
        let trimmed = text.trimmingSpaces
        let parts = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        func bad(_ why: String) -> WhipError {
            WhipError(.invalidArgument, "'\(text)' is not an amount of \(currency.code): \(why)")
        }
        if trimmed.hasPrefix("-") { throw bad("an amount must be positive") }
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit) else {
            throw bad("write it like 25 or 25.50")
        }
        let frac = parts.count == 2 ? parts[1] : ""
        guard frac.allSatisfy(\.isASCIIDigit), parts.count == 1 || !frac.isEmpty else {
            throw bad("write it like 25 or 25.50")
        }
        guard frac.count <= currency.exponent else {
            throw bad(currency.exponent == 0 ? "\(currency.code) has no minor unit" : "at most \(currency.exponent) decimal places")
        }
        var value: Int64 = 0
        for ch in whole + frac + String(repeating: "0", count: currency.exponent - frac.count) {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(ch.asciiValue! - 48))
            guard !o1, !o2 else { throw bad("too large") }
            value = s
        }
        self.minor = value
        self.currency = currency
    }

    /// Decimal text in major units, e.g. `10.50`.
    public var formatted: String { Money.format(minor: minor, exponent: currency.exponent) }

    /// Formats minor units with `exponent` decimal places.
    public static func format(minor: Int64, exponent: Int) -> String {
        let negative = minor < 0
        let magnitude = minor.magnitude
        guard exponent > 0 else { return (negative ? "-" : "") + String(magnitude) }
        var scale: UInt64 = 1
        for _ in 0..<exponent { scale *= 10 }
        var frac = String(magnitude % scale)
        while frac.count < exponent { frac = "0" + frac }
        return (negative ? "-" : "") + "\(magnitude / scale).\(frac)"
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) && isASCII }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
