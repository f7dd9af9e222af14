public import WhipCore
public import WhipCrypto
import WhipStore

extension Node {
    /// Refuses an offer this node's member would sign beyond what is left of its stated budget in the offer's
    /// currency (PROTOCOL.md §6.44): the ledger cannot enforce a budget across campaigns, so the funder's own
    /// node does, before it signs. Without a stated budget there is nothing to check.
    public func checkBudget(for offer: MatchOffered, community: PublicKey) throws(WhipError) {
        let rows = try store.funderBudgets(community: community, now: now)
        guard let row = rows.first(where: { $0.funder == identity.publicKey && $0.currency == offer.currency }),
            let budget = row.budget, let left = row.remaining
        else { return }
        guard offer.campaignCap <= left.minor else {
            func text(_ m: Money) -> String { "\(m.formatted) \(m.currency.code)" }
            throw WhipError(
                .rejected,
                "this offer would reserve \(text(Money(minor: offer.campaignCap, currency: offer.currency))), but only "
                    + "\(text(Money(minor: max(left.minor, 0), currency: offer.currency))) of your \(text(budget)) budget is left "
                    + "(\(text(row.reserved)) reserved, \(text(row.paid)) paid): lower --cap, or raise the budget with "
                    + "`whipround match budget --set AMOUNT --currency \(offer.currency.code)`")
        }
    }
}
