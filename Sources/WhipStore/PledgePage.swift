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

    /// No filter.
    public init(status: PledgeStatus? = nil, tier: EventID? = nil, channel: Channel? = nil, collected: Bool? = nil, desk: String? = nil) {
        self.status = status
        self.tier = tier
        self.channel = channel
        self.collected = collected
        self.desk = desk
    }
}

extension Store {
    /// One page of a campaign's pledges matching `filter`, in the order they were made, and how many match in all.
    public func pledgePage(campaign: EventID, filter: PledgeFilter, offset: Int, limit: Int) throws(WhipError) -> (
        rows: [PledgeRow], total: Int
    ) {
        try read { db in
            guard let (pref, cur) = try Store.partitionRef(db, campaign) else { return ([], 0) }
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
            let condition = " WHERE " + clauses.joined(separator: " AND ")
            let total =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM pledges p JOIN events e ON e.seq = p.seq" + condition, arguments: StatementArguments(arguments))
                ?? 0
            let rows = try Row.fetchAll(
                db, sql: Store.pledgeSelect + condition + " " + Store.pledgeOrder + " LIMIT ? OFFSET ?",
                arguments: StatementArguments(arguments + [max(0, limit), max(0, offset)])
            ).map { r throws in try Store.pledge(r, campaign: campaign, currency: cur) }
            return (rows, total)
        }
    }
}
