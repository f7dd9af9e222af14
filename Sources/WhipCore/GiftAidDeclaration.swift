public import WhipCrypto

/// A donor's Gift Aid declaration: the plaintext of a pledge's slot-2 part, sealed to the community's treasurers.
///
/// Canonical CBOR map (PROTOCOL.md §6.52); every text field obeys HMRC's schedule limits so that a declaration
/// that decodes can always be written to a claim.
public struct GiftAidDeclaration: Equatable, Sendable {
    /// What the declaration covers.
    public enum Scope: UInt64, Sendable, CaseIterable {
        /// This donation only.
        case thisDonation = 0
        /// This donation, any made in the past 4 years, and all future ones until cancelled.
        case thisPastAndFuture = 1

        /// The name used on the command line and in JSON.
        public var name: String { self == .thisDonation ? "this-donation" : "past-and-future" }

        /// Parses `this-donation` or `past-and-future`.
        public init?(name: String) {
            switch name.lowercased() {
            case "this-donation", "this", "single": self = .thisDonation
            case "past-and-future", "enduring", "all": self = .thisPastAndFuture
            default: return nil
            }
        }
    }

    /// Optional title, e.g. `Mr`, `Dr`, `Rev` (at most 4 characters).
    public var title: String?
    /// First name or initial (at most 35 characters).
    public var firstName: String
    /// Last name (at most 35 characters).
    public var lastName: String
    /// House name or number (at most 40 characters); for a donor outside the UK, the whole address.
    public var house: String
    /// UK postcode in capitals with its space (`S19 2BD`), or `X` for a donor who lives outside the UK.
    public var postcode: String
    public var scope: Scope
    /// The day the declaration was made.
    public var date: CivilDate
    /// Which wording (`GiftAidWording`) the donor was shown or read.
    public var wordingVersion: UInt64
    /// Taken by a volunteer by word of mouth: a written confirmation must be sent, and the donor may cancel
    /// within 30 days of it.
    public var oral: Bool
    /// The day the written confirmation of an oral declaration was sent; nil until it is.
    public var confirmationSent: CivilDate?
    /// 32 random bytes chosen with the pledge: the key of its claim tag (`GiftAid.claimTag`).
    public var claimKey: Bytes32

    public init(
        title: String? = nil, firstName: String, lastName: String, house: String, postcode: String, scope: Scope, date: CivilDate,
        wordingVersion: UInt64 = GiftAidWording.current.version, oral: Bool = false, confirmationSent: CivilDate? = nil,
        claimKey: Bytes32 = GiftAid.newClaimKey()
    ) {
        self.title = title
        self.firstName = firstName
        self.lastName = lastName
        self.house = house
        self.postcode = postcode
        self.scope = scope
        self.date = date
        self.wordingVersion = wordingVersion
        self.oral = oral
        self.confirmationSent = confirmationSent
        self.claimKey = claimKey
    }

    /// This donation's claim tag.
    public var tag: Bytes32 { GiftAid.claimTag(key: claimKey) }

    /// Field limits in characters, from HMRC's schedule guidance (house: ours; HMRC gives none).
    public static let maxTitle = 4
    public static let maxName = 35
    public static let maxHouse = 40
    /// Days an oral declaration's donor may cancel after the written confirmation was sent.
    public static let cancellationDays = 30

    enum Field: UInt64 {
        case title = 0, firstName = 1, lastName = 2, house = 3, postcode = 4, scope = 5, date = 6, wording = 7, oral = 8
        case confirmationSent = 9, claimKey = 10
    }

    /// The canonical CBOR map.
    public func cbor() -> CBOR {
        var m = MapBuilder()
        m.add(Field.title, title.map(CBOR.text))
        m.add(Field.firstName, .text(firstName))
        m.add(Field.lastName, .text(lastName))
        m.add(Field.house, .text(house))
        m.add(Field.postcode, .text(postcode))
        m.add(Field.scope, .unsigned(scope.rawValue))
        m.add(Field.date, .text(date.iso))
        m.add(Field.wording, .unsigned(wordingVersion))
        m.add(Field.oral, oral ? .bool(true) : nil)
        m.add(Field.confirmationSent, confirmationSent.map { .text($0.iso) })
        m.add(Field.claimKey, .bytes(claimKey.array))
        return .map(m.pairs)
    }

    /// The encoded plaintext.
    public func encoded() -> [UInt8] { cbor().encoded() }

    /// Decodes and validates a declaration's plaintext.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> GiftAidDeclaration {
        try decode(try CBOR.decode(bytes))
    }

    /// Decodes and validates a declaration map.
    public static func decode(_ value: CBOR) throws(DecodingError) -> GiftAidDeclaration {
        var f = try Fields(value, context: "gift aid declaration")
        let title = try f.optional(Field.title).map { (v: CBOR) throws(DecodingError) in try v.text("title", max: 64) }
        let first = try f.required(Field.firstName, "first name").text("first name", max: 256)
        let last = try f.required(Field.lastName, "last name").text("last name", max: 256)
        let house = try f.required(Field.house, "house").text("house name or number", max: 256)
        let postcode = try f.required(Field.postcode, "postcode").text("postcode", max: 64)
        let scope = try f.required(Field.scope, "scope").enumValue("scope", Scope.self)
        let date = try civil(try f.required(Field.date, "date"), "date")
        let wording = try f.required(Field.wording, "wording version").uint("wording version")
        let oralField = try f.optional(Field.oral).map { (v: CBOR) throws(DecodingError) in try v.bool("oral") }
        if oralField == false { throw DecodingError(.nonCanonical, "oral is left out when false") }
        let oral = oralField ?? false
        let sent = try f.optional(Field.confirmationSent).map { (v: CBOR) throws(DecodingError) in try civil(v, "confirmation sent") }
        let key = try f.required(Field.claimKey, "claim key").bytes32("claim key")
        try f.finish()
        let d = GiftAidDeclaration(
            title: title, firstName: first, lastName: last, house: house, postcode: postcode, scope: scope, date: date,
            wordingVersion: wording, oral: oral, confirmationSent: sent, claimKey: key)
        try d.validate()
        return d
    }

    static func civil(_ v: CBOR, _ name: String) throws(DecodingError) -> CivilDate {
        let s = try v.text(name, max: 10)
        guard let d = CivilDate(iso: s) else { throw DecodingError(.outOfRange, "\(name) '\(s)' is not a date YYYY-MM-DD") }
        return d
    }

    /// Checks the fields against HMRC's limits and the wording versions this build knows.
    public func validate() throws(DecodingError) {
        func check(_ s: String, _ name: String, max: Int) throws(DecodingError) {
            guard !s.isEmpty, s.first != " ", s.last != " " else {
                throw DecodingError(.empty, "\(name) must not be empty or start or end with a space")
            }
            guard let f = s.unicodeScalars.first, !"=+-@".unicodeScalars.contains(f) else {
                throw DecodingError(.outOfRange, "\(name) must not start with =, +, - or @ (a spreadsheet would read a formula)")
            }
            guard s.count <= max else { throw DecodingError(.tooLong, "\(name) is longer than \(max) characters") }
            guard !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                throw DecodingError(.controlChar, "\(name) contains a control character or a line break")
            }
        }
        if let title { try check(title, "title", max: Self.maxTitle) }
        try check(firstName, "first name", max: Self.maxName)
        try check(lastName, "last name", max: Self.maxName)
        try check(house, "house name or number", max: Self.maxHouse)
        guard postcode == "X" || Self.isUKPostcode(postcode) else {
            throw DecodingError(
                .outOfRange, "postcode '\(postcode)' is not a UK postcode in capitals with its space (e.g. S19 2BD), nor X for abroad")
        }
        guard GiftAidWording.version(wordingVersion) != nil else {
            throw DecodingError(.badEnum, "wording version \(wordingVersion) is not one this build knows")
        }
        if !oral, confirmationSent != nil { throw DecodingError(.outOfRange, "only an oral declaration has a confirmation date") }
        if let sent = confirmationSent, sent < date {
            throw DecodingError(.outOfRange, "the confirmation cannot be sent before the declaration was made")
        }
    }

    /// The shape of a UK postcode: outward code (2-4 characters, starting with a letter), one space, inward code
    /// (a digit then two letters). Not a check that the postcode exists.
    public static func isUKPostcode(_ s: String) -> Bool {
        let parts = s.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let out = Array(parts[0].utf8)
        let inw = Array(parts[1].utf8)
        func upper(_ c: UInt8) -> Bool { c >= 0x41 && c <= 0x5a }
        func digit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        guard (2...4).contains(out.count), upper(out[0]), out.allSatisfy({ upper($0) || digit($0) }), out.contains(where: digit) else {
            return false
        }
        return inw.count == 3 && digit(inw[0]) && upper(inw[1]) && upper(inw[2])
    }

    /// A postcode as typed, in HMRC's form: capitals, one space before the last three characters.
    public static func normalisePostcode(_ s: String) -> String {
        let compact = s.uppercased().filter { $0 != " " }
        if compact == "X" || compact.count < 5 { return compact }
        return String(compact.dropLast(3)) + " " + String(compact.suffix(3))
    }

    /// The first day a donation under this declaration may be claimed: at once for a written one, and for an
    /// oral one the day after the donor's 30 days to cancel have run from the confirmation; nil while no
    /// confirmation was sent.
    public var claimableFrom: CivilDate? { claimableFrom(confirmedLater: nil) }

    /// As `claimableFrom`, the confirmation being the earlier of the one in the declaration and `confirmedLater`
    /// (the earliest `giftaid.confirmed` of this declaration's tag).
    public func claimableFrom(confirmedLater: CivilDate?) -> CivilDate? {
        guard oral else { return date }
        let sent = [confirmationSent, confirmedLater].compactMap { $0 }.min()
        return sent?.adding(days: Self.cancellationDays + 1)
    }
}

/// The plaintext of a pledge's slot-2 part: a declaration, or "no declaration" (a map holding only the claim key,
/// key 10), which the reference client writes for every pledge of a recognised charity without a declaration so
/// that neither the part's presence nor its size tells anyone but a treasurer whether the backer made one.
public enum GiftAidPart: Equatable, Sendable {
    case declaration(GiftAidDeclaration)
    case noDeclaration(claimKey: Bytes32)

    /// The claim key, in either form.
    public var claimKey: Bytes32 {
        switch self {
        case .declaration(let d): d.claimKey
        case .noDeclaration(let k): k
        }
    }

    /// The claim tag, in either form.
    public var tag: Bytes32 { GiftAid.claimTag(key: claimKey) }

    /// The declaration, if there is one.
    public var declaration: GiftAidDeclaration? {
        if case .declaration(let d) = self { return d }
        return nil
    }

    /// The canonical CBOR plaintext.
    public func encoded() -> [UInt8] {
        switch self {
        case .declaration(let d): d.encoded()
        case .noDeclaration(let k): CBOR.map([(GiftAidDeclaration.Field.claimKey.rawValue, .bytes(k.array))]).encoded()
        }
    }

    /// Decodes a slot-2 plaintext: a map with only key 10 is "no declaration", anything else must be a declaration.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> GiftAidPart {
        let value = try CBOR.decode(bytes)
        if case .map(let pairs) = value, pairs.count == 1, pairs[0].0 == GiftAidDeclaration.Field.claimKey.rawValue {
            return .noDeclaration(claimKey: try pairs[0].1.bytes32("claim key"))
        }
        return .declaration(try GiftAidDeclaration.decode(value))
    }
}

/// The versions of the declaration wording shown or read to donors. A version's text never changes; new wording
/// gets a new version, and each declaration records the one its donor saw.
public struct GiftAidWording: Sendable, Equatable {
    public let version: UInt64
    /// The statement, with `{charity}` for the charity's legal name and `{scope}` for what it covers.
    public let template: String

    /// Every version this build knows.
    public static let all: [GiftAidWording] = [
        GiftAidWording(
            version: 1,
            template: """
                I want {charity} to treat {scope} as Gift Aid donations. I am a UK taxpayer and understand that if I pay \
                less Income Tax and/or Capital Gains Tax in the current tax year than the amount of Gift Aid claimed on all \
                my donations, it is my responsibility to pay any difference. I will tell {charity} if I want to cancel this \
                declaration, change my name or home address, or no longer pay enough tax.
                """)
    ]

    /// The wording new declarations use.
    public static var current: GiftAidWording { all[all.count - 1] }

    /// The wording of `version`, if known.
    public static func version(_ v: UInt64) -> GiftAidWording? { all.first { $0.version == v } }

    /// The statement for `charity` and `scope`.
    public func text(charity: String, scope: GiftAidDeclaration.Scope) -> String {
        let s =
            switch scope {
            case .thisDonation: "this donation"
            case .thisPastAndFuture: "this donation, any donations I have made in the past 4 years and all donations I make in future"
            }
        return template.replacingAll("{charity}", with: charity).replacingAll("{scope}", with: s)
    }

    /// What the written confirmation of an oral declaration must add (HMRC: the donor may cancel within 30 days).
    public static let oralConfirmationNote =
        "You gave this declaration by word of mouth. You may cancel it within 30 days of the date this confirmation was sent, and it will then be as if it was never made."
}

extension String {
    /// Every occurrence of `target` replaced (WhipCore has no Foundation).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[rest.startIndex..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
