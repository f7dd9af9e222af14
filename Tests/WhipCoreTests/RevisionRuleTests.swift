import Testing
import WhipCore
import WhipTestSupport

@Suite(.timeLimit(.minutes(10))) struct RevisionRuleTests {
    /// Raising a tier's minimum later must not stop a backer's name from being corrected.
    @Test func renameIsNotRecheckedAgainstARaisedTierMinimum() {
        var s = Scenario(tierLimit: 10)
        let pledge = s.factory.make(K.collectorA, s.pledge("Bobb", 2_000, tier: s.tier))
        s.factory.tick()
        var raise = TierUpdated(campaign: s.campaign, tier: s.tier)
        raise.minimum = 5_000
        let raised = s.factory.make(K.organiser, .tierUpdated(raise))
        s.factory.tick()
        var rename = PledgeRevised(campaign: s.campaign, pledge: pledge.id)
        rename.backerName = "Bob"
        let renamed = s.factory.make(K.collectorA, .pledgeRevised(rename))
        var lower = PledgeRevised(campaign: s.campaign, pledge: pledge.id)
        lower.amount = 2_500
        lower.currency = gbp
        s.factory.tick()
        let lowered = s.factory.make(K.collectorA, .pledgeRevised(lower))
        let state = derive(s.events + [pledge, raised, renamed, lowered])
        #expect(state.code(raised) == "applied")
        #expect(state.code(renamed) == "applied")
        #expect(state.code(lowered) == "below_tier_minimum")
        #expect(state.campaign(s.campaign)?.pledges[pledge.id]?.backerName == "Bob")
        #expect(state.campaign(s.campaign)?.pledges[pledge.id]?.amount == 2_000)
    }
}
