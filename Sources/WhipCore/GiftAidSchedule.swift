/// One donation a treasurer may put on a Gift Aid claim: a collected pledge with its opened declaration.
public struct GiftAidDonation: Equatable, Sendable {
    public let pledge: EventID
    public let campaign: EventID
    /// Pence.
    public let amount: Int64
    /// The day the money was received (UK date).
    public let date: CivilDate
    public let declaration: GiftAidDeclaration
    /// The earliest `giftaid.confirmed` of an oral declaration, when its confirmation was sent after the pledge.
    public let confirmedLater: CivilDate?
    public init(
        pledge: EventID, campaign: EventID, amount: Int64, date: CivilDate, declaration: GiftAidDeclaration, confirmedLater: CivilDate? = nil
    ) {
        self.pledge = pledge
        self.campaign = campaign
        self.amount = amount
        self.date = date
        self.declaration = declaration
        self.confirmedLater = confirmedLater
    }
}

/// One row of HMRC's Charities Online Gift Aid schedule, as its cells are written.
public struct GiftAidScheduleRow: Equatable, Sendable {
    /// The ten cells, in `GiftAidSchedule.columns` order.
    public let cells: [String]
    /// The pledges this row claims (one, or several for an aggregated row).
    public let pledges: [EventID]
    /// Pence.
    public let amount: Int64
}

/// Builds the Charities Online Gift Aid donation schedule (gov.uk "Schedule spreadsheet to claim back tax on Gift Aid
/// donations"; README "Funders and Gift Aid" cites the figures).
public enum GiftAidSchedule {
    /// The schedule's columns, in HMRC's order.
    public static let columns = [
        "Item", "Title", "First name or initial", "Last name", "House name or number", "Postcode", "Aggregated donations",
        "Sponsored event", "Donation date", "Donation amount",
    ]
    /// Donations of at most this many pence may be added together on one row without donor details. HMRC's
    /// guidance has said £20 since 2013 (its 2019 change to £30 was withdrawn as an error); a 2025 revision of the
    /// gov.uk page mentions £30. The lower figure is safe under both.
    public static let maxAggregatedDonation: Int64 = 2_000
    /// An aggregated row totals at most this many pence (£1,000).
    public static let maxAggregatedRow: Int64 = 100_000
    /// HMRC's limit on the aggregated-donations description.
    public static let maxDescription = 35

    /// Why a donation was left off a schedule.
    public enum Skip: String, Sendable {
        /// An oral declaration whose confirmation was not sent, or whose 30 days to cancel have not run out.
        case cancellationPeriod = "oral declaration: confirmation not sent, or its 30 days to cancel have not run out"
    }

    /// The rows for `donations` as of `today`: donations of £20 or less are aggregated per accounting period (at most
    /// £1,000 a row), the rest get a row each. Rows are sorted by date, then pledge id, so the same donations always
    /// give the same file. Returns the rows and the donations left off, with why.
    public static func rows(
        _ donations: [GiftAidDonation], charity: CharityRecognised, today: CivilDate, aggregate: Bool = true,
        description: String = "Small pledges"
    ) -> (rows: [GiftAidScheduleRow], skipped: [(GiftAidDonation, Skip)]) {
        var skipped: [(GiftAidDonation, Skip)] = []
        var individual: [GiftAidDonation] = []
        var small: [CivilDate: [GiftAidDonation]] = [:]  // by accounting year end
        for d in donations.sorted(by: { ($0.date, $0.pledge) < ($1.date, $1.pledge) }) {
            guard let from = d.declaration.claimableFrom(confirmedLater: d.confirmedLater), from <= today else {
                skipped.append((d, .cancellationPeriod))
                continue
            }
            if aggregate && d.amount <= maxAggregatedDonation {
                small[charity.accountingYearEnd(containing: d.date), default: []].append(d)
            } else {
                individual.append(d)
            }
        }
        var unnumbered: [(date: CivilDate, key: EventID, cells: [String], pledges: [EventID], amount: Int64)] = []
        for d in individual {
            let x = d.declaration
            unnumbered.append(
                (
                    d.date, d.pledge,
                    [
                        x.title ?? "", x.firstName, x.lastName.replacingAll("-", with: " "), x.house, x.postcode, "", "", d.date.hmrc,
                        pounds(d.amount),
                    ], [d.pledge], d.amount
                ))
        }
        let label = String(description.prefix(maxDescription))
        for (_, group) in small.sorted(by: { $0.key < $1.key }) {
            var current: [GiftAidDonation] = []
            var total: Int64 = 0
            func flush() {
                guard let last = current.last else { return }
                unnumbered.append(
                    (last.date, current[0].pledge, ["", "", "", "", "", label, "", last.date.hmrc, pounds(total)], current.map(\.pledge), total))
                current = []
                total = 0
            }
            for d in group {
                if total + d.amount > maxAggregatedRow { flush() }
                current.append(d)
                total += d.amount
            }
            flush()
        }
        unnumbered.sort { ($0.date, $0.key) < ($1.date, $1.key) }
        let rows = unnumbered.enumerated().map { i, r in
            GiftAidScheduleRow(cells: [String(i + 1)] + r.cells, pledges: r.pledges, amount: r.amount)
        }
        return (rows, skipped)
    }

    /// Pence as HMRC wants amounts: pounds with two decimals, no sign (`200.00`).
    public static func pounds(_ pence: Int64) -> String {
        let p = pence % 100
        return "\(pence / 100).\(p < 10 ? "0" : "")\(p)"
    }

    /// The schedule as CSV: the header row, then one line per row. No cell can start a spreadsheet formula (the
    /// declaration's fields are checked on entry); a comma or quote is quoted.
    public static func csv(_ rows: [GiftAidScheduleRow]) -> String {
        func field(_ s: String) -> String {
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
            return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
        }
        var out = columns.map(field).joined(separator: ",") + "\r\n"
        for r in rows { out += r.cells.map(field).joined(separator: ",") + "\r\n" }
        return out
    }
}
