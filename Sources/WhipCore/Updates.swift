/// The rule for campaign news (`update.posted`, PROTOCOL.md §6.15): pure, no I/O.
public enum UpdateRules {
    /// Checks, in the order of PROTOCOL.md §6.15, whether `e` may post news to campaign `c` at its position:
    /// whoever may edit the campaign (`unauthorised`), once it is published (`not_live` for a draft, which has no
    /// backers) and not cancelled (`cancelled`). A closed campaign, funded or not, may still tell its backers how
    /// the money was spent; so may a live one past its deadline.
    public static func check(_ e: Event, _ c: CampaignState, _ auth: Authority) throws(RuleViolation) {
        try CampaignLedger.mayEdit(e, c, auth)
        switch c.phase {
        case .draft:
            throw RuleViolation(.notLive, "the campaign is not published yet: a draft has no backers to tell; publish it first")
        case .cancelled:
            throw RuleViolation(.cancelled, "the campaign was cancelled; its cancellation reason is its last word")
        case .live, .closed:
            return
        }
    }
}
