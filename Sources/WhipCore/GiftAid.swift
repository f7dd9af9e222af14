public import WhipCrypto

/// Body of `charity.recognised` (50): the community is recognised by HMRC as a charity and may claim Gift Aid.
///
/// Community-level, like roles: only the founder, the community key or an admin may sign it. A later one
/// replaces an earlier one (in replay order).
public struct CharityRecognised: Equatable, Sendable {
    /// HMRC's charities reference for the charity (upper-case letters and digits).
    public var reference: String
    /// The charity's legal name, as HMRC knows it.
    public var legalName: String
    /// Month (1-12) of the day the charity's accounting year ends.
    public var yearEndMonth: UInt8
    /// Day of that month (valid in a non-leap year: 29 February is refused).
    public var yearEndDay: UInt8
    public init(reference: String, legalName: String, yearEndMonth: UInt8, yearEndDay: UInt8) {
        self.reference = reference
        self.legalName = legalName
        self.yearEndMonth = yearEndMonth
        self.yearEndDay = yearEndDay
    }
}

/// Body of `charity.withdrawn` (53): the community is no longer recognised by HMRC as a charity; nothing offers or
/// claims Gift Aid after it, until a new `charity.recognised`.
public struct CharityWithdrawn: Equatable, Sendable {
    /// Why, for the record (e.g. "removed from HMRC's register on 2028-04-01").
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// Body of `giftaid.claimed` (51): a treasurer claimed Gift Aid on the donations with these claim tags, of one
/// campaign.
///
/// A tag (`GiftAid.claimTag`) can be computed only from the claim key inside a declaration sealed to the
/// treasurers, so a member who is not a treasurer cannot tell which pledges a claim covers (PROTOCOL.md §6.51).
public struct GiftAidClaimed: Equatable, Sendable {
    public var campaign: EventID
    /// The claim tags, sorted, without duplicates; 1 to `GiftAid.maxClaimTags`.
    public var tags: [Bytes32]
    public init(campaign: EventID, tags: [Bytes32]) {
        self.campaign = campaign
        self.tags = Array(Set(tags)).sorted()
    }
}

/// Body of `giftaid.confirmed` (52): a treasurer sent the written confirmation of the oral declaration with this
/// claim tag on `sent`; the donor's 30 days to cancel run from the earliest such date.
public struct GiftAidConfirmed: Equatable, Sendable {
    public var campaign: EventID
    public var tag: Bytes32
    /// The day the confirmation was sent (a UK date).
    public var sent: CivilDate
    public init(campaign: EventID, tag: Bytes32, sent: CivilDate) {
        self.campaign = campaign
        self.tag = tag
        self.sent = sent
    }
}

/// HMRC's Gift Aid figures and the rules Whipround derives from them (PROTOCOL.md §6.50-6.53, README "Funders and Gift Aid").
public enum GiftAid {
    /// Tags named by one `giftaid.claimed` event: 200 tags of 34 bytes keep the event well inside
    /// `EventLimits.maxEventBytes`.
    public static let maxClaimTags = 200
    /// What a claim tag hashes, keyed with the declaration's claim key (PROTOCOL.md §6.51).
    public static let claimTagContext = Array("whipround/2 giftaid tag".utf8)

    /// A donation's claim tag: BLAKE2b-256 keyed with its declaration's 32-byte claim key, over `claimTagContext`.
    public static func claimTag(key: Bytes32) -> Bytes32 {
        Bytes32(Blake2b.hash(claimTagContext, length: 32, key: key.array))!
    }

    /// A fresh random claim key.
    public static func newClaimKey() -> Bytes32 { PartCommitment.salt() }
    /// Longest HMRC charities reference accepted.
    public static let maxReferenceBytes = 20

    /// The largest benefit (in pence) a donor may receive for a donation of `amount` pence and the donation still
    /// qualify: 25% of the first £100, plus 5% of the rest, at most £2,500 (HMRC's "relevant value test").
    /// Rounded down to the penny, so a benefit exactly at a fractional limit is judged against the lower penny.
    public static func maxBenefit(donation amount: Int64) -> Int64 {
        guard amount > 0 else { return 0 }
        let first = min(amount, 10_000)
        let rest = amount - first
        // rest * 5 cannot overflow: amounts are at most 2^63 - 1 and the cap applies first for large ones.
        let extra = rest > 50_000_000 ? 2_500_000 : rest * 5 / 100
        return min(first * 25 / 100 + extra, 250_000)
    }

    /// Whether a donation of `amount` pence with a reward of `benefit` pence keeps Gift Aid. A tier whose benefit
    /// is not stated (nil) is not eligible: the treasurer cannot show HMRC the reward's value.
    public static func benefitAllowed(donation amount: Int64, benefit: Int64?) -> Bool {
        guard let benefit else { return false }
        return benefit <= maxBenefit(donation: amount)
    }
}

/// A calendar date (proleptic Gregorian), without a time zone.
public struct CivilDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A valid date, or nil.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= CivilDate.days(inMonth: month, year: year), (1...9999).contains(year) else {
            return nil
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`.
    public init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }), let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The UTC date of a timestamp in milliseconds since the epoch.
    public init(utcMs ms: UInt64) {
        self.init(daysSinceEpoch: Int(ms / 86_400_000))
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's civil-from-days).
    public init(daysSinceEpoch days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (m <= 2 ? 1 : 0)
        month = m
        day = d
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Milliseconds since the epoch at 00:00 UTC of this date.
    public var utcStartMs: UInt64 { UInt64(max(0, daysSinceEpoch)) * 86_400_000 }

    /// `YYYY-MM-DD`.
    public var iso: String { "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))" }
    /// `DD/MM/YY`, as HMRC's schedule wants it.
    public var hmrc: String { "\(pad(day, 2))/\(pad(month, 2))/\(pad(year % 100, 2))" }
    public var description: String { iso }

    /// The same month and day `years` later; 29 February becomes 28 February in a common year.
    public func adding(years: Int) -> CivilDate {
        let y = year + years
        return CivilDate(year: y, month: month, day: min(day, CivilDate.days(inMonth: month, year: y)))!
    }

    /// The date `n` days later.
    public func adding(days n: Int) -> CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + n) }

    static func days(inMonth m: Int, year y: Int) -> Int {
        switch m {
        case 2: (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private func pad(_ v: Int, _ n: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, n - s.count)) + s
    }

    public static func < (a: CivilDate, b: CivilDate) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
}

extension CharityRecognised {
    /// The last day of the accounting year that contains `date`.
    public func accountingYearEnd(containing date: CivilDate) -> CivilDate {
        let m = Int(yearEndMonth)
        let d = Int(yearEndDay)
        let thisYear = CivilDate(year: date.year, month: m, day: d)!
        return date <= thisYear ? thisYear : CivilDate(year: date.year + 1, month: m, day: d)!
    }

    /// The first day a Gift Aid declaration may be erased as `retention_expired`: six years after the end of the
    /// accounting period of the last donation claimed under it (HMRC), the period judged on `donation`'s UTC date.
    public func retentionEnds(lastDonation donation: CivilDate) -> CivilDate {
        accountingYearEnd(containing: donation).adding(years: GiftAid.retentionYears).adding(days: 1)
    }
}

extension GiftAid {
    /// Years a declaration is kept after the end of the accounting period of the last donation claimed under it.
    public static let retentionYears = 6

    /// The UK tax year (6 April to 5 April) a date falls in, named by the year it ends.
    public static func taxYearEnding(_ d: CivilDate) -> Int {
        d < CivilDate(year: d.year, month: 4, day: 6)! ? d.year : d.year + 1
    }
}

/// The rules for `giftaid.claimed` and `giftaid.confirmed` (PROTOCOL.md §6.51, §6.53): judged in replay order like
/// every campaign event. They see only tags; what needs the declaration (the pledge, its status and money, the
/// donor benefit, the campaign's close and funding, retention) the treasurer's node checks before it signs.
enum GiftAidRules {
    static func fail(_ code: RuleViolation.Code, _ message: String) -> RuleViolation { RuleViolation(code, message) }

    /// The author may claim Gift Aid and the community is a recognised charity.
    static func treasurer(_ e: Event, _ auth: Authority, _ what: String) throws(RuleViolation) {
        guard auth.mayClaimGiftAid(e.author, at: e.orderKey, wall: e.hlc.wall) else {
            throw fail(.unauthorised, "only a treasurer may \(what)")
        }
        guard auth.charity(at: e.orderKey) != nil else {
            throw fail(.notRecognised, "the community is not recorded as a charity recognised by HMRC; only a charity can claim Gift Aid")
        }
    }

    /// Checks the claim, then records its tags; throws before changing anything.
    static func claim(_ b: GiftAidClaimed, _ e: Event, _ c: inout CampaignState, _ auth: Authority) throws(RuleViolation) {
        try treasurer(e, auth, "claim Gift Aid")
        guard c.currency.code == "GBP" else { throw fail(.notSterling, "Gift Aid is claimed on donations in pounds, not \(c.currency.code)") }
        for tag in b.tags {
            if let earlier = c.giftAidClaims[tag] {
                throw fail(.alreadyClaimed, "a donation of this claim was already claimed by \(earlier.hex.prefix(12))")
            }
        }
        for tag in b.tags { c.giftAidClaims[tag] = e.id }
        c.giftAidClaimCount += 1
    }

    /// Records the earliest day a confirmation of the oral declaration with this tag was sent.
    static func confirm(_ b: GiftAidConfirmed, _ e: Event, _ c: inout CampaignState, _ auth: Authority) throws(RuleViolation) {
        try treasurer(e, auth, "record that a Gift Aid confirmation was sent")
        c.giftAidConfirmed[b.tag] = min(c.giftAidConfirmed[b.tag] ?? b.sent, b.sent)
    }

    /// Who may erase which slots: the name and contact by the campaign's organisers or an admin, the Gift Aid
    /// declaration by whoever may claim Gift Aid (only a treasurer can tell whether it was claimed and must be kept).
    static func mayErase(_ e: Event, _ b: PersonalErased, _ c: CampaignState, _ auth: Authority) throws(RuleViolation) {
        if b.slots.contains(where: { $0 != .giftAid }) { try CampaignLedger.mayEdit(e, c, auth) }
        if b.slots.contains(.giftAid), !auth.mayClaimGiftAid(e.author, at: e.orderKey, wall: e.hlc.wall) {
            throw fail(.unauthorised, "only a treasurer may erase a Gift Aid declaration (the treasurers keep it while HMRC requires)")
        }
    }
}
