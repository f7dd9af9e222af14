import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

@Suite(.timeLimit(.minutes(10))) struct TextFieldTests {
    func roundTrip(_ body: EventBody) -> String {
        var f = EventFactory()
        return decodeCode(f.make(K.collectorA, body).wire)
    }

    /// Names and titles are single-line so they cannot forge lines in plain-text listings; descriptions may wrap.
    @Test func lineBreaksOnlyInMultiLineFields() {
        let s = Scenario()
        #expect(roundTrip(s.pledge("Bob\nTotal: £1,000,000", 500)) == "decode.control_char")
        #expect(roundTrip(s.pledge("Bob Smith", 500)) == "ok")
        var tier = TierAdded(campaign: s.campaign, title: "Shirt", minimum: 100)
        tier.description = "Organic cotton.\nSizes S to XL."
        #expect(roundTrip(.tierAdded(tier)) == "ok")
        tier.title = "Shirt\nFree"
        #expect(roundTrip(.tierAdded(tier)) == "decode.control_char")
        #expect(roundTrip(.pledgeRejected(PledgeRejected(campaign: s.campaign, pledge: s.tier, reason: "Duplicate.\nSee pledge 2."))) == "ok")
    }
}
