import Foundation
public import WhipCore
public import WhipStore

/// A campaign as typed into the CLI or the console's form: text, checked and turned into a signed event by
/// `Node.createCampaign`.
public struct CampaignForm: Sendable {
    /// Title.
    public var title: String
    /// The story (Markdown).
    public var description: String = ""
    /// The goal as typed, e.g. `5000` or `5000.50`.
    public var goal: String
    /// ISO 4217 code.
    public var currency: String = "GBP"
    /// `all-or-nothing` or `keep-what-you-raise`.
    public var model: String = "all-or-nothing"
    /// First day of pledging, `YYYY-MM-DD`; nil for now.
    public var opens: String?
    /// Last day of pledging, `YYYY-MM-DD`, inclusive, in `timeZone`.
    public var closes: String
    /// IANA time zone of the dates.
    public var timeZone: String = Dates.localTimeZone
    /// Other organisers' member ids (`wrm1…`).
    public var organisers: [String] = []

    /// A form with the required fields.
    public init(title: String, goal: String, closes: String) {
        self.title = title
        self.goal = goal
        self.closes = closes
    }
}

/// Money recorded against a pledge, and where the pledge then stands.
public struct Collection: Sendable {
    /// The signed `pledge.collected`.
    public let event: Event
    /// This payment.
    public let received: Money
    /// All received for the pledge so far.
    public let total: Money
    /// Still owed.
    public let outstanding: Money
}

extension Node {
    /// The currency of `code`, or a message naming it.
    public static func currency(_ code: String) throws(WhipError) -> Currency {
        guard let c = Currency(code: code.trimmingCharacters(in: .whitespaces).uppercased()) else {
            throw WhipError(.invalidArgument, "'\(code)' is not an ISO 4217 currency code (for example GBP, EUR, USD)")
        }
        return c
    }

    /// Checks a campaign form and signs its `campaign.created` (a draft) in community `c`.
    public func createCampaign(_ f: CampaignForm, in c: CommunityInfo) throws(WhipError) -> Event {
        let cur = try Node.currency(f.currency)
        guard let m = FundingModel(name: f.model) else {
            throw WhipError(.invalidArgument, "'\(f.model)' is not a funding model: use all-or-nothing or keep-what-you-raise")
        }
        guard Dates.isValidTimeZone(f.timeZone) else {
            throw WhipError(.invalidArgument, "'\(f.timeZone)' is not a known time zone (use an IANA name such as Europe/London, or UTC)")
        }
        let goal = try Money(parsing: f.goal.trimmingCharacters(in: .whitespaces), currency: cur)
        guard goal.minor > 0 else { throw WhipError(.invalidArgument, "the goal must be more than zero") }
        let closes = try Dates.parse(f.closes, timeZone: f.timeZone, endOfDay: true)
        let opens =
            try f.opens.flatMap { $0.isEmpty ? nil : $0 }.map { (s: String) throws(WhipError) in
                try Dates.parse(s, timeZone: f.timeZone, endOfDay: false)
            } ?? now
        guard closes > opens else { throw WhipError(.invalidArgument, "the closing date must be after the opening date (and after today)") }
        let organisers = try f.organisers.map { (s: String) throws(WhipError) in try KeyText.decode(s, as: .member) }
        return try emit(
            c.id,
            .campaignCreated(
                CampaignCreated(
                    title: f.title, description: f.description, goal: goal.minor, currency: cur, model: m, opens: opens, closes: closes,
                    timeZone: f.timeZone, organisers: organisers)))
    }

    /// Signs a `tier.added` for campaign `c`; amounts as typed, in the campaign's currency.
    public func addTier(
        _ c: CampaignRow, title: String, minimum: String, limit: UInt32?, description: String?, benefit: String?
    ) throws(WhipError) -> Event {
        if limit == 0 { throw WhipError(.invalidArgument, "a tier's limit must be at least 1 (leave it out for no limit)") }
        let min = try Money(parsing: minimum.trimmingCharacters(in: .whitespaces), currency: c.goal.currency)
        let value = try benefit.map { (s: String) throws(WhipError) in
            try Money(parsing: s.trimmingCharacters(in: .whitespaces), currency: c.goal.currency).minor
        }
        return try emit(
            c.community,
            .tierAdded(TierAdded(campaign: c.id, title: title, description: description, minimum: min.minor, limit: limit, benefit: value)))
    }

    /// Records money received for pledge `p`: `amount` as typed, nil for all still owed. More than is owed is refused
    /// unless `over`; money for an all-or-nothing campaign that closed unfunded, unless `unfunded`.
    public func collect(
        _ p: PledgeRow, of c: CampaignRow, amount: String?, method: PaymentMethod, over: Bool = false, unfunded: Bool = false
    ) throws(WhipError) -> Collection {
        func money(_ m: Money) -> String { "\(m.formatted) \(m.currency.code)" }
        if c.standing(now: now) == .closedUnfunded && !unfunded {
            throw WhipError(
                .rejected,
                "'\(c.title)' closed unfunded (\(money(c.pledged)) of \(money(c.goal)), \(c.model.name)): backers do not pay; "
                    + "if money was received anyway, record it with `whipround pledge collect --unfunded` and refund it")
        }
        let owed = p.amount.minor - p.collected.minor
        let typed = amount.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        let amt = try typed.map { (s: String) throws(WhipError) in
            try Money(parsing: s.trimmingCharacters(in: .whitespaces), currency: c.goal.currency)
        }
        if amt == nil && owed <= 0 {
            throw WhipError(
                .rejected,
                "\(money(p.collected)) was already received for this \(money(p.amount)) pledge; to record more, give the amount and "
                    + "mark it as more than owed (`--amount` and `--over` on the command line)")
        }
        let received = amt ?? Money(minor: owed, currency: c.goal.currency)
        guard received.minor > 0 else { throw WhipError(.invalidArgument, "the amount must be more than zero") }
        if received.minor > owed && !over {
            throw WhipError(
                .rejected,
                "\(money(received)) is more than the \(money(Money(minor: max(0, owed), currency: c.goal.currency))) still owed on this "
                    + "\(money(p.amount)) pledge (\(money(p.collected)) received so far); if that is right, mark it as more than owed "
                    + "(`--over` on the command line)")
        }
        let e = try emit(
            c.community,
            .pledgeCollected(PledgeCollected(campaign: c.id, pledge: p.id, amount: received.minor, currency: received.currency, method: method)))
        let total = Money(minor: p.collected.minor + received.minor, currency: c.goal.currency)
        return Collection(
            event: e, received: received, total: total, outstanding: Money(minor: max(0, p.amount.minor - total.minor), currency: c.goal.currency))
    }
}
