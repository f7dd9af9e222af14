import WhipCrypto

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

/// Body of `giftaid.claimed` (51): a treasurer claimed Gift Aid on these pledges of one campaign.
public struct GiftAidClaimed: Equatable, Sendable {
    public var campaign: EventID
    /// The pledges claimed, sorted, without duplicates; 1 to `GiftAid.maxClaimPledges`.
    public var pledges: [EventID]
    public init(campaign: EventID, pledges: [EventID]) {
        self.campaign = campaign
        self.pledges = Array(Set(pledges)).sorted()
    }
}

/// HMRC's Gift Aid figures and the rules Whipround derives from them (PROTOCOL.md §6.18, README "Funders and Gift Aid").
public enum GiftAid {
    /// Pledges named by one `giftaid.claimed` event: 200 ids of 34 bytes keep the event well inside
    /// `EventLimits.maxEventBytes`.
    public static let maxClaimPledges = 200
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

/// The rule for `giftaid.claimed` (PROTOCOL.md §6.18): judged in replay order like every campaign event.
enum GiftAidRules {
    static func fail(_ code: RuleViolation.Code, _ message: String) -> RuleViolation { RuleViolation(code, message) }

    /// Checks every named pledge, then marks them all claimed; throws before changing anything.
    static func claim(_ b: GiftAidClaimed, _ e: Event, _ c: inout CampaignState, _ auth: Authority) throws(RuleViolation) {
        let at = e.orderKey
        let wall = e.hlc.wall
        guard auth.mayClaimGiftAid(e.author, at: at, wall: wall) else {
            throw fail(.unauthorised, "only a treasurer may claim Gift Aid")
        }
        guard auth.charity(at: at) != nil else {
            throw fail(.notRecognised, "the community is not recorded as a charity recognised by HMRC; only a charity can claim Gift Aid")
        }
        guard c.currency.code == "GBP" else { throw fail(.notSterling, "Gift Aid is claimed on donations in pounds, not \(c.currency.code)") }
        let closedByThen = c.phase == .closed || (c.phase == .live && wall >= c.closes)
        guard closedByThen, c.funded else {
            throw fail(.notFunded, "Gift Aid is claimed only once the campaign has closed funded")
        }
        for id in b.pledges {
            guard let p = c.pledges[id] else { throw fail(.unknownPledge, "no pledge \(id.hex.prefix(12)) in this campaign") }
            guard p.hasParts else {
                throw fail(.wrongVersion, "pledge \(id.hex.prefix(12)) is in the old format, which has no Gift Aid declaration part")
            }
            guard !p.erased.contains(.giftAid) else {
                throw fail(.erased, "pledge \(id.hex.prefix(12)): its Gift Aid declaration was erased")
            }
            guard p.status == .active else { throw fail(.pledgeInactive, "pledge \(id.hex.prefix(12)) is \(p.status.rawValue)") }
            guard p.collected >= p.amount else {
                throw fail(.notCollected, "pledge \(id.hex.prefix(12)): its money has not all been received")
            }
            guard p.giftAidClaim == nil else {
                throw fail(.alreadyClaimed, "pledge \(id.hex.prefix(12)) was already claimed by \(p.giftAidClaim!.hex.prefix(12))")
            }
            if let t = p.tier {
                let benefit = c.tiers[t]?.benefit
                guard GiftAid.benefitAllowed(donation: p.amount, benefit: benefit) else {
                    throw fail(
                        .benefitOverLimit,
                        benefit == nil
                            ? "pledge \(id.hex.prefix(12)): its reward's value is not stated"
                            : "pledge \(id.hex.prefix(12)): its reward is worth more than the donor-benefit limit")
                }
            }
        }
        for id in b.pledges {
            c.pledges[id]!.giftAidClaim = e.id
            c.pledges[id]!.giftAidClaimedAt = e.hlc
        }
    }

    /// `under_retention`: erasing a claimed pledge's Gift Aid declaration (slot 2), whatever the reason, before
    /// the day after 6 years from the end of the accounting period that contains its claim's UTC date, by the
    /// charity recognition in force at the erasure.
    static func retention(_ e: Event, _ b: PersonalErased, _ p: PledgeState, _ auth: Authority) throws(RuleViolation) {
        guard b.slots.contains(.giftAid), let claimed = p.giftAidClaimedAt,
            let charity = auth.charity(at: e.orderKey) ?? auth.currentCharity
        else { return }
        let ends = charity.retentionEnds(lastDonation: CivilDate(utcMs: claimed.wall))
        guard CivilDate(utcMs: e.hlc.wall) >= ends else {
            throw fail(
                .underRetention,
                "the Gift Aid declaration was claimed and must be kept until \(ends.adding(days: -1).iso) (6 years after its accounting period)")
        }
    }
}
