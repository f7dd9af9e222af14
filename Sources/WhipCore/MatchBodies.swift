/// How a funder's offer pays.
public enum MatchMode: UInt64, Sendable, CaseIterable {
    /// Each eligible pledge is matched at the offer's factor, up to the caps.
    case match = 1
    /// One sum, paid if the crowd-only conditions hold at the close.
    case lumpSum = 2

    /// The name used on the command line and in JSON.
    public var name: String { self == .match ? "match" : "lump-sum" }

    /// Parses `match` or `lump-sum`.
    public init?(name: String) {
        switch name.lowercased() {
        case "match": self = .match
        case "lump-sum", "lump", "lumpsum": self = .lumpSum
        default: return nil
        }
    }
}

/// A match factor as a fraction: the match for a pledge of `a` minor units is ⌊a × numerator / denominator⌋.
public struct MatchFactor: Hashable, Sendable, CustomStringConvertible {
    public let numerator: UInt64
    public let denominator: UInt64

    /// A factor; the codec enforces `EventLimits.maxMatchFactorTerm` and `EventLimits.maxMatchFactor`.
    public init(numerator: UInt64, denominator: UInt64) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// ⌊amount × numerator / denominator⌋, clamped to `Int64.max`; 0 for a non-positive amount.
    public func apply(_ amount: Int64) -> Int64 {
        guard amount > 0, denominator > 0 else { return 0 }
        let (hi, lo) = UInt64(amount).multipliedFullWidth(by: numerator)
        guard hi < denominator else { return Int64.max }
        let (q, _) = denominator.dividingFullWidth((hi, lo))
        return q > UInt64(Int64.max) ? Int64.max : Int64(q)
    }

    /// `1:1`, `1:2` (half), `2:1` (double).
    public var description: String { "\(numerator):\(denominator)" }
}

/// Body of `match.offered`: a funder's offer to match a campaign's pledges; the offer's id is this event's id.
public struct MatchOffered: Equatable, Sendable {
    public var campaign: EventID
    /// The funder's public name, shown beside the match ("Elm Council").
    public var funderName: String
    public var currency: Currency
    public var mode: MatchMode
    /// Match mode only.
    public var factor: MatchFactor?
    /// Most matched on one pledge (match mode only); nil for no per-pledge cap.
    public var pledgeCap: Int64?
    /// The reservation from the funder's budget: most matched in this campaign, or the lump sum.
    public var campaignCap: Int64
    /// Pledges stamped at or after this (ms) are eligible (match mode only).
    public var from: UInt64?
    /// Pledges stamped before this (ms) are eligible (match mode only).
    public var until: UInt64?
    /// Only pledges for this tier (match mode only).
    public var tier: EventID?
    /// Only pledges taken through this channel (match mode only).
    public var channel: Channel?
    /// The crowd alone must reach this percentage of the goal (0-100) before the match starts.
    public var minPercent: UInt64
    /// The crowd must count at least this many backers before the match starts.
    public var minBackers: UInt32

    /// An offer; optional terms are set afterwards.
    public init(campaign: EventID, funderName: String, currency: Currency, mode: MatchMode, campaignCap: Int64) {
        self.campaign = campaign
        self.funderName = funderName
        self.currency = currency
        self.mode = mode
        self.campaignCap = campaignCap
        self.minPercent = 0
        self.minBackers = 0
    }
}

/// Body of `funder.budget`: a funder states its budget in one currency, community-wide. The ledger shows it
/// beside the funder's reservations but never enforces it (PROTOCOL.md §6.44): the funder's own node does.
public struct FunderBudget: Equatable, Sendable {
    public var currency: Currency
    /// The whole budget in minor units; 0 says the funder makes no more offers in this currency.
    public var amount: Int64
    public init(currency: Currency, amount: Int64) {
        self.currency = currency
        self.amount = amount
    }
}

/// Body of `match.accepted` (by an organiser) and `match.withdrawn` (by the funder).
public struct MatchRef: Equatable, Sendable {
    public var campaign: EventID
    public var offer: EventID
    public init(campaign: EventID, offer: EventID) {
        self.campaign = campaign
        self.offer = offer
    }
}

/// One pledge's frozen match in a settlement.
public struct SettledMatch: Equatable, Sendable {
    public var pledge: EventID
    public var amount: Int64
    public init(pledge: EventID, amount: Int64) {
        self.pledge = pledge
        self.amount = amount
    }
}

/// Body of `match.settled`: one page of the funder's frozen allocation after the close.
///
/// An allocation with more than `EventLimits.maxSettlementEntries` pledges is split over pages; the offer is
/// settled once every page `0..<pages` is applied.
public struct MatchSettled: Equatable, Sendable {
    public var campaign: EventID
    public var offer: EventID
    public var page: UInt32
    public var pages: UInt32
    /// Every pledge the funder judged on this page, including those matched 0; sorted by pledge id.
    public var entries: [SettledMatch]
    /// Lump-sum mode: the sum paid (0 when the conditions did not hold).
    public var lumpSum: Int64?
    public init(campaign: EventID, offer: EventID, page: UInt32 = 0, pages: UInt32 = 1, entries: [SettledMatch] = [], lumpSum: Int64? = nil) {
        self.campaign = campaign
        self.offer = offer
        self.page = page
        self.pages = pages
        self.entries = entries.sorted { $0.pledge < $1.pledge }
        self.lumpSum = lumpSum
    }
}
