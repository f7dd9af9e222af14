import Foundation
import GRDB
public import WhipCore

/// Which of a campaign's pledges the console lists; nil fields do not filter.
public struct PledgeFilter: Sendable, Equatable {
    /// `active`, `late`, `withdrawn` or `rejected`.
    public var status: PledgeStatus?
    /// Pledges for this tier only.
    public var tier: EventID?
    /// `in-person` or `online`.
    public var channel: Channel?
    /// True: paid in full; false: not yet paid in full (including part-paid).
    public var collected: Bool?
    /// Pledges recorded at the desk with this id (this node's own desks).
    public var desk: String?
    /// True: some funder's offer matches it (provisionally or settled); false: none does.
    public var matched: Bool?

    /// No filter.
    public init(
        status: PledgeStatus? = nil, tier: EventID? = nil, channel: Channel? = nil, collected: Bool? = nil, desk: String? = nil, matched: Bool? = nil
    ) {
        self.status = status
        self.tier = tier
        self.channel = channel
        self.collected = collected
        self.desk = desk
        self.matched = matched
    }
}

extension Store {
    /// One page of a campaign's pledges matching `filter`, in the order they were made, how many match in all,
    /// and what funders match of each pledge on the page (minor units; absent when nothing).
    public func pledgePage(campaign: EventID, filter: PledgeFilter, offset: Int, limit: Int) throws(WhipError) -> (
        rows: [PledgeRow], total: Int, matched: [EventID: Int64]
    ) {
        try read { db in
            guard let (pref, cur) = try Store.partitionRef(db, campaign) else { return ([], 0, [:]) }
            var clauses = ["p.partition = ?"]
            var arguments: [any DatabaseValueConvertible] = [pref]
            if let status = filter.status, let code = Materializer.statuses.firstIndex(of: status) {
                clauses.append("p.status = ?")
                arguments.append(code)
            }
            if let tier = filter.tier {
                clauses.append("p.tier = (SELECT seq FROM events WHERE id = ?)")
                arguments.append(tier)
            }
            if let channel = filter.channel {
                clauses.append("p.channel = ?")
                arguments.append(Int64(channel.rawValue))
            }
            if let collected = filter.collected {
                clauses.append(collected ? "p.collected_minor >= p.amount_minor" : "p.collected_minor < p.amount_minor")
            }
            if let desk = filter.desk {
                clauses.append("e.id IN (SELECT pledge FROM desk_pledges WHERE desk = ?)")
                arguments.append(desk)
            }
            if let matched = filter.matched {
                clauses.append((matched ? "" : "NOT ") + "EXISTS (SELECT 1 FROM pledge_matches x WHERE x.pledge = p.seq AND x.matched_minor > 0)")
            }
            let condition = " WHERE " + clauses.joined(separator: " AND ")
            let total =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM pledges p JOIN events e ON e.seq = p.seq" + condition, arguments: StatementArguments(arguments))
                ?? 0
            let rows = try Row.fetchAll(
                db, sql: Store.pledgeSelect + condition + " " + Store.pledgeOrder + " LIMIT ? OFFSET ?",
                arguments: StatementArguments(arguments + [max(0, limit), max(0, offset)])
            ).map { r throws in try Store.pledge(r, campaign: campaign, currency: cur) }
            var matched: [EventID: Int64] = [:]
            if !rows.isEmpty {
                let marks = Array(repeating: "?", count: rows.count).joined(separator: ",")
                for r in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT e.id, sum(x.matched_minor) AS m FROM events e JOIN pledge_matches x ON x.pledge = e.seq
                        WHERE e.id IN (\(marks)) GROUP BY e.id HAVING m > 0
                        """, arguments: StatementArguments(rows.map(\.id)))
                {
                    matched[try r.value(at: 0, as: EventID.self)] = try r.value(at: 1, as: Int64.self)
                }
            }
            return (rows, total, matched)
        }
    }
}
