import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

@Suite("Rules: campaigns, tiers and pledges", .timeLimit(.minutes(10)))
struct CampaignRuleTests {
    // MARK: Campaign life cycle

    @Test("a pledge before the campaign is published is rejected as not_live")
    func pledgeBeforePublish() throws {
        var s = Scenario()
        let draft = s.make(K.organiser, newCampaign())
        let early = s.make(K.collectorA, pledge(to: draft.id))
        s.factory.tick()
        let publish = s.make(K.organiser, .campaignPublished(CampaignRef(campaign: draft.id)))
        s.factory.tick()
        let onTime = s.make(K.collectorA, pledge(to: draft.id, "Cat", 2_000))
        let st = s.state([onTime, publish, early, draft])
        #expect(st.code(early) == "not_live")
        #expect(st.code(onTime) == "applied")
        let c = try #require(st.campaign(draft.id))
        #expect(c.phase == .live)
        #expect(c.pledged == 2_000)
        // Publishing twice, or closing a draft, is a phase error.
        let again = s.make(K.organiser, .campaignPublished(CampaignRef(campaign: draft.id)))
        let draft2 = s.make(K.organiser, newCampaign("Second"))
        let closeDraft = s.make(K.organiser, .campaignClosed(CampaignRef(campaign: draft2.id)))
        let st2 = s.state([draft, publish, again, draft2, closeDraft])
        #expect(st2.code(again) == "bad_phase")
        #expect(st2.code(closeDraft) == "bad_phase")
    }

    @Test("a pledge stamped before the campaign opens is rejected as not_open")
    func pledgeBeforeOpening() {
        var s = Scenario()
        let opens = s.factory.now + 10_000
        let future = s.make(K.organiser, newCampaign(opens: opens))
        let publish = s.make(K.organiser, .campaignPublished(CampaignRef(campaign: future.id)))
        let early = s.make(K.collectorA, pledge(to: future.id))
        let onTime = s.make(K.collectorA, pledge(to: future.id), at: HLC(wall: opens))
        let st = s.state([future, publish, early, onTime])
        #expect(st.code(early) == "not_open")
        #expect(st.code(onTime) == "applied")
    }

    @Test("a pledge stamped at or after the deadline is kept as late and not counted")
    func latePledge() throws {
        var s = Scenario(closes: 1_798_761_700_000)
        let closes: UInt64 = 1_798_761_700_000
        let justInTime = s.make(K.collectorA, s.pledge("Bob", 1_000, paid: .cash), at: HLC(wall: closes - 1, counter: 5))
        let atDeadline = s.make(K.collectorB, s.pledge("Cat", 2_000, paid: .cash), at: HLC(wall: closes))
        let afterDeadline = s.make(K.collectorB, s.pledge("Dan", 4_000, tier: s.tier), at: HLC(wall: closes + 86_400_000))
        let st = s.state([afterDeadline, atDeadline, justInTime])
        #expect(st.code(justInTime) == "applied")
        #expect(st.code(atDeadline) == "applied")
        #expect(st.code(afterDeadline) == "applied")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.pledges[justInTime.id]?.status == .active)
        #expect(c.pledges[atDeadline.id]?.status == .late)
        #expect(c.pledges[afterDeadline.id]?.status == .late)
        #expect(c.pledges[atDeadline.id]?.counts == false)
        #expect(c.pledged == 1_000)
        #expect(c.collected == 1_000)
        #expect(c.backers == 1)
        #expect(c.tiers[s.tier]?.claimed == 0)
        #expect(c.phase == .live)
        #expect(c.effectivePhase(now: closes - 1) == .live)
        #expect(c.effectivePhase(now: closes) == .closed)
    }

    @Test("a pledge after an explicit close is late; one stamped before the close but delivered after counts")
    func pledgeAfterClose() throws {
        var s = Scenario()
        let offline = s.make(K.collectorB, s.pledge("Bob", 1_000))
        s.factory.tick()
        let close = s.make(K.organiser, s.close)
        s.factory.tick()
        let after = s.make(K.collectorA, s.pledge("Cat", 2_000))
        let st = s.state([close, after, offline])
        let c = try #require(st.campaign(s.campaign))
        #expect(c.phase == .closed)
        #expect(st.code(after) == "applied")
        #expect(c.pledges[after.id]?.status == .late)
        #expect(c.pledges[offline.id]?.status == .active)
        #expect(c.pledged == 1_000)
        #expect(c.backers == 1)
        // Closing twice, or cancelling a closed campaign, is a phase error.
        let closeAgain = s.make(K.organiser, s.close)
        let cancel = s.make(K.organiser, s.cancel)
        let st2 = s.state([close, closeAgain, cancel])
        #expect(st2.code(closeAgain) == "bad_phase")
        #expect(st2.code(cancel) == "bad_phase")
    }

    @Test("pledges, collections and edits to a cancelled campaign are rejected as cancelled")
    func cancelled() throws {
        var s = Scenario()
        let before = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let cancel = s.make(K.organiser, s.cancel)
        let after = s.make(K.collectorA, s.pledge("Cat", 1_000))
        let collect = s.make(K.collectorA, s.collect(before, 1_000))
        let edit = s.make(K.organiser, s.update { $0.title = "Too late" })
        let tier = s.make(K.organiser, .tierAdded(TierAdded(campaign: s.campaign, title: "Mug", minimum: 500)))
        let st = s.state([before, cancel, after, collect, edit, tier])
        #expect(st.code(cancel) == "applied")
        #expect(st.code(after) == "cancelled")
        #expect(st.code(collect) == "cancelled")
        #expect(st.code(edit) == "cancelled")
        #expect(st.code(tier) == "cancelled")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.phase == .cancelled)
        #expect(c.cancelReason == "Pool sold")
    }

    @Test("a pledge, revision or collection in another currency is rejected as currency_mismatch")
    func currencyMismatch() throws {
        var s = Scenario()
        let euro = s.make(K.collectorA, pledge(to: s.campaign, "Bob", 1_000, currency: eur))
        let pound = s.make(K.collectorA, s.pledge("Cat", 1_000))
        let revise = s.make(K.collectorA, s.revise(pound, amount: 2_000, currency: eur))
        let collect = s.make(K.collectorB, s.collect(pound, 1_000, currency: eur))
        let st = s.state([euro, pound, revise, collect])
        #expect(st.code(euro) == "currency_mismatch")
        #expect(st.code(revise) == "currency_mismatch")
        #expect(st.code(collect) == "currency_mismatch")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.pledged == 1_000)
        #expect(c.collected == 0)
    }

    @Test("a pledge to an unknown campaign is rejected as unknown_campaign")
    func unknownCampaign() {
        var s = Scenario()
        let ghost = EventID(bytes: [UInt8](repeating: 0x77, count: 32))!
        let p = s.make(K.collectorA, pledge(to: ghost))
        let st = s.state([p])
        #expect(st.code(p) == "unknown_campaign")
        #expect(st.campaign(ghost) == nil)
        #expect(st.campaigns.count == 1)
    }

    @Test("the funding outcome follows the model")
    func fundingModel() throws {
        var s = Scenario()
        let p = s.make(K.collectorA, s.pledge("Bob", 499_999))
        var c = try #require(s.campaign([p]))
        #expect(!c.funded)
        c.model = .keepWhatYouRaise
        #expect(c.funded)
        let q = s.make(K.collectorA, s.pledge("Cat", 1))
        #expect(try #require(s.campaign([p, q])).funded)
        #expect(try #require(s.campaign([])).funded == false)
    }

    // MARK: Tiers

    @Test("a pledge below its tier's minimum, or naming an unknown tier, is rejected")
    func tierChecks() throws {
        var s = Scenario()
        let other = s.make(K.organiser, newCampaign("Other"))
        let otherTier = s.make(K.organiser, .tierAdded(TierAdded(campaign: other.id, title: "Badge", minimum: 1)))
        let below = s.make(K.collectorA, s.pledge("Bob", 1_999, tier: s.tier))
        let exact = s.make(K.collectorA, s.pledge("Cat", 2_000, tier: s.tier))
        let unknown = s.make(K.collectorA, s.pledge("Dan", 5_000, tier: EventID(bytes: [UInt8](repeating: 0x42, count: 32))!))
        let foreign = s.make(K.collectorA, s.pledge("Eve", 5_000, tier: otherTier.id))
        let reviseBelow = s.make(K.collectorA, s.revise(exact, amount: 1_500))
        let reviseUnknown = s.make(K.collectorA, s.revise(exact) { $0.tier = otherTier.id })
        let st = s.state([other, otherTier, below, exact, unknown, foreign, reviseBelow, reviseUnknown])
        #expect(st.code(below) == "below_tier_minimum")
        #expect(st.code(exact) == "applied")
        #expect(st.code(unknown) == "unknown_tier")
        #expect(st.code(foreign) == "unknown_tier")
        #expect(st.code(reviseBelow) == "below_tier_minimum")
        #expect(st.code(reviseUnknown) == "unknown_tier")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.pledged == 2_000)
        #expect(c.tiers[s.tier]?.claimed == 1)
    }

    @Test("a tier's limit may be raised, but not lowered below the places claimed")
    func tierLimit() throws {
        var s = Scenario(tierLimit: 3)
        let a = s.make(K.collectorA, s.pledge("Bob", 2_000, tier: s.tier))
        let b = s.make(K.collectorB, s.pledge("Cat", 2_000, tier: s.tier))
        let toOne = s.make(K.organiser, s.tierLimit(1))
        let toTwo = s.make(K.organiser, s.tierLimit(2))
        let toTen = s.make(K.organiser, s.tierLimit(10))
        let back = s.make(K.organiser, s.tierLimit(3))
        let st = s.state([a, b, toOne, toTwo, toTen, back])
        #expect(st.code(toOne) == "limit_below_claimed")
        #expect(st.code(toTwo) == "applied")
        #expect(st.code(toTen) == "applied")
        #expect(st.code(back) == "applied")
        let t = try #require(st.campaign(s.campaign)?.tiers[s.tier])
        #expect(t.limit == 3)
        #expect(t.claimed == 2)
        #expect(t.waitlisted == 0)
        // Only organisers may change tiers.
        let byCollector = s.make(K.collectorA, s.tierLimit(50))
        #expect(s.state([byCollector]).code(byCollector) == "unauthorised")
    }

    @Test("raising the limit of an oversold tier is allowed and promotes waitlisted pledges")
    func raiseOversoldLimit() throws {
        var s = Scenario(tierLimit: 3)
        var pledges: [Event] = []
        for (i, collector) in [K.collectorA, K.collectorB, K.collectorA, K.collectorB, K.collectorA].enumerated() {
            pledges.append(s.make(collector, s.pledge("Backer \(i)", 2_000, tier: s.tier)))
            s.factory.tick()
        }
        let before = try #require(s.campaign(pledges)?.tiers[s.tier])
        #expect(before.claimed == 3)
        #expect(before.waitlisted == 2)
        let raise = s.make(K.organiser, s.tierLimit(4))
        let lower = s.make(K.organiser, s.tierLimit(3))
        let st = s.state(pledges + [raise, lower])
        #expect(st.code(raise) == "applied")
        #expect(st.code(lower) == "limit_below_claimed")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.tiers[s.tier]?.claimed == 4)
        #expect(c.tiers[s.tier]?.waitlisted == 1)
        #expect(c.pledges[pledges[3].id]?.waitlisted == false)
        #expect(c.pledges[pledges[4].id]?.waitlisted == true)
    }

    @Test("an oversold limited tier: the earliest pledges by (timestamp, id) win, the rest are waitlisted but counted")
    func oversoldTier() throws {
        var s = Scenario(tierLimit: 3)
        let t = s.factory.now
        // Two collectors offline, each with its own clock; their pledges interleave in time.
        let a1 = s.make(K.collectorA, s.pledge("A1", 2_000, tier: s.tier), at: HLC(wall: t + 10))
        let b1 = s.make(K.collectorB, s.pledge("B1", 2_500, tier: s.tier), at: HLC(wall: t + 20))
        let a2 = s.make(K.collectorA, s.pledge("A2", 3_000, tier: s.tier), at: HLC(wall: t + 30))
        let b2 = s.make(K.collectorB, s.pledge("B2", 3_500, tier: s.tier), at: HLC(wall: t + 40))
        let a3 = s.make(K.collectorA, s.pledge("A3", 4_000, tier: s.tier), at: HLC(wall: t + 50))
        // B's laptop syncs first, then A's.
        let st = s.state([b1, b2, a1, a2, a3])
        let c = try #require(st.campaign(s.campaign))
        for e in [a1, b1, a2] { #expect(c.pledges[e.id]?.waitlisted == false, "\(c.pledges[e.id]?.backerName ?? "")") }
        for e in [b2, a3] { #expect(c.pledges[e.id]?.waitlisted == true, "\(c.pledges[e.id]?.backerName ?? "")") }
        #expect(c.tiers[s.tier]?.claimed == 3)
        #expect(c.tiers[s.tier]?.waitlisted == 2)
        #expect(c.pledged == 15_000)
        #expect(c.backers == 5)
        #expect(c.pledges.values.allSatisfy { $0.status == .active })
        #expect(st.digest == s.state([a3, a2, a1, b2, b1]).digest)
    }

    @Test("pledges at the same timestamp compete by event id, whoever signed them")
    func oversoldTieBreak() throws {
        var s = Scenario(tierLimit: 1)
        let at = HLC(wall: s.factory.now + 5)
        let a = s.make(K.collectorA, s.pledge("A", 2_000, tier: s.tier), at: at)
        let b = s.make(K.collectorB, s.pledge("B", 2_000, tier: s.tier), at: at)
        let (winner, loser) = a.id < b.id ? (a, b) : (b, a)
        let c = try #require(s.campaign([a, b]))
        #expect(c.pledges[winner.id]?.waitlisted == false)
        #expect(c.pledges[loser.id]?.waitlisted == true)
    }

    @Test("withdrawing a winning pledge promotes the first waitlisted one")
    func withdrawalPromotes() throws {
        var s = Scenario(tierLimit: 2)
        let t = s.factory.now
        let p1 = s.make(K.collectorA, s.pledge("P1", 2_000, tier: s.tier), at: HLC(wall: t + 10))
        let p2 = s.make(K.collectorB, s.pledge("P2", 2_000, tier: s.tier), at: HLC(wall: t + 20))
        let p3 = s.make(K.collectorB, s.pledge("P3", 2_000, tier: s.tier), at: HLC(wall: t + 30))
        let p4 = s.make(K.collectorA, s.pledge("P4", 2_000, tier: s.tier), at: HLC(wall: t + 40))
        let withdraw = s.make(K.collectorA, s.withdraw(p1), at: HLC(wall: t + 50))
        let before = try #require(s.campaign([p1, p2, p3, p4]))
        #expect(before.pledges[p3.id]?.waitlisted == true)
        let after = try #require(s.campaign([p1, p2, p3, p4, withdraw]))
        #expect(after.pledges[p1.id]?.status == .withdrawn)
        #expect(after.pledges[p1.id]?.waitlisted == false)
        #expect(after.pledges[p2.id]?.waitlisted == false)
        #expect(after.pledges[p3.id]?.waitlisted == false)
        #expect(after.pledges[p4.id]?.waitlisted == true)
        #expect(after.tiers[s.tier]?.claimed == 2)
        #expect(after.tiers[s.tier]?.waitlisted == 1)
        #expect(after.pledged == 6_000)
        #expect(after.backers == 3)
        // An organiser's rejection frees a place the same way.
        let reject = s.make(K.organiser, s.reject(p2), at: HLC(wall: t + 60))
        let rejected = try #require(s.campaign([p1, p2, p3, p4, withdraw, reject]))
        #expect(rejected.pledges[p4.id]?.waitlisted == false)
        #expect(rejected.tiers[s.tier]?.waitlisted == 0)
    }

    // MARK: Pledges

    @Test("only a pledge's author may revise or withdraw it")
    func onlyAuthor() throws {
        var s = Scenario()
        let p = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let byOther = s.make(K.collectorB, s.revise(p, amount: 50))
        let byOrganiser = s.make(K.organiser, s.revise(p) { $0.backerName = "Robert" })
        let withdrawByOther = s.make(K.collectorB, s.withdraw(p))
        let withdrawByFounder = s.make(K.founder, s.withdraw(p))
        let byAuthor = s.make(
            K.collectorA,
            s.revise(p) {
                $0.amount = 3_000
                $0.currency = gbp
                $0.backerName = "Robert"
                $0.anonymous = true
            })
        let st = s.state([p, byOther, byOrganiser, withdrawByOther, withdrawByFounder, byAuthor])
        for e in [byOther, byOrganiser, withdrawByOther, withdrawByFounder] { #expect(st.code(e) == "not_author") }
        #expect(st.code(byAuthor) == "applied")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.pledges[p.id]?.amount == 3_000)
        #expect(c.pledges[p.id]?.backerName == "Robert")
        #expect(c.pledges[p.id]?.anonymous == true)
        #expect(c.pledged == 3_000)
        let withdraw = s.make(K.collectorA, s.withdraw(p))
        let again = s.make(K.collectorA, s.withdraw(p))
        let st2 = s.state([p, byAuthor, withdraw, again])
        #expect(st2.code(withdraw) == "applied")
        #expect(st2.code(again) == "pledge_inactive")
        let c2 = try #require(st2.campaign(s.campaign))
        #expect(c2.pledges[p.id]?.status == .withdrawn)
        #expect(c2.pledged == 0)
        #expect(c2.backers == 0)
    }

    @Test("revising or withdrawing after the close, or after the deadline, is rejected")
    func reviseAfterClose() throws {
        var s = Scenario()
        let p = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let close = s.make(K.organiser, s.close)
        let revise = s.make(K.collectorA, s.revise(p, amount: 5_000))
        let withdraw = s.make(K.collectorA, s.withdraw(p))
        let st = s.state([p, close, revise, withdraw])
        #expect(st.code(revise) == "closed")
        #expect(st.code(withdraw) == "closed")
        #expect(try #require(st.campaign(s.campaign)).pledged == 1_000)

        let closes: UInt64 = 1_798_761_700_000
        var d = Scenario(closes: closes)
        let q = d.make(K.collectorA, d.pledge("Cat", 1_000))
        let lateRevise = d.make(K.collectorA, d.revise(q, amount: 5_000), at: HLC(wall: closes))
        let lateWithdraw = d.make(K.collectorA, d.withdraw(q), at: HLC(wall: closes + 1))
        let inTime = d.make(K.collectorA, d.revise(q) { $0.backerName = "Catherine" }, at: HLC(wall: closes - 1))
        let st2 = d.state([q, lateRevise, lateWithdraw, inTime])
        #expect(st2.code(lateRevise) == "closed")
        #expect(st2.code(lateWithdraw) == "closed")
        #expect(st2.code(inTime) == "applied")
    }

    @Test("an organiser's rejection marks the pledge rejected, keeps the reason, and drops it from the totals")
    func organiserRejects() throws {
        var s = Scenario()
        let p = s.make(K.collectorA, s.pledge("Bob", 2_500, tier: s.tier, paid: .cash))
        let q = s.make(K.collectorB, s.pledge("Cat", 1_000))
        let before = try #require(s.campaign([p, q]))
        #expect(before.pledged == 3_500)
        #expect(before.collected == 2_500)
        #expect(before.backers == 2)
        let reject = s.make(K.organiser, s.reject(p, "Counterfeit note"))
        let byCollector = s.make(K.collectorB, s.reject(q))
        let rejectTwice = s.make(K.organiser, s.reject(p))
        let st = s.state([p, q, reject, byCollector, rejectTwice])
        #expect(st.code(reject) == "applied")
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(rejectTwice) == "pledge_inactive")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.pledges[p.id]?.status == .rejected)
        #expect(c.pledges[p.id]?.rejectReason == "Counterfeit note")
        #expect(c.pledges[p.id]?.amount == 2_500)
        #expect(c.pledged == 1_000)
        #expect(c.collected == 0)
        #expect(c.backers == 1)
        #expect(c.tiers[s.tier]?.claimed == 0)
        // The author cannot bring a rejected pledge back.
        let revive = s.make(K.collectorA, s.revise(p, amount: 2_600))
        #expect(s.state([p, q, reject, revive]).code(revive) == "pledge_inactive")
    }

    @Test("only the campaign's own organisers (or an admin) may reject; an organiser of other campaigns may not")
    func rejectNeedsThisCampaign() throws {
        var s = Scenario()
        let other = K.key(0x0B)
        let grant = s.make(K.founder, .roleGranted(RoleGranted(member: other.publicKey, role: .organiser)))
        s.factory.tick()
        let p = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let byOther = s.make(other, s.reject(p))
        let edit = s.make(other, s.update { $0.title = "Hijacked" })
        let addOther = s.make(K.organiser, s.update { $0.organisers = [other.publicKey] })
        s.factory.tick()
        let editNow = s.make(other, s.update { $0.title = "Co-organised" })
        let st = s.state([grant, p, byOther, edit, addOther, editNow])
        #expect(st.code(byOther) == "unauthorised")
        #expect(st.code(edit) == "unauthorised")
        #expect(st.code(addOther) == "applied")
        #expect(st.code(editNow) == "applied")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.title == "Co-organised")
        #expect(c.organisers == [K.organiser.publicKey, other.publicKey].sorted())
    }

    @Test("a late pledge can be rejected and still counts for nothing")
    func rejectLate() throws {
        var s = Scenario()
        let close = s.make(K.organiser, s.close)
        let late = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let reject = s.make(K.organiser, s.reject(late))
        let st = s.state([close, late, reject])
        #expect(st.code(reject) == "applied")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.pledges[late.id]?.status == .rejected)
        #expect(c.pledged == 0)
        #expect(c.backers == 0)
    }

    @Test("goal, currency, model and deadline freeze at the first pledge; the title stays editable")
    func frozenFields() throws {
        var s = Scenario()
        let goalBefore = s.make(K.organiser, s.update { $0.goal = 600_000 })
        s.factory.tick()
        let p = s.make(K.collectorA, s.pledge("Bob", 1_000))
        s.factory.tick()
        let goal = s.make(K.organiser, s.update { $0.goal = 700_000 })
        let currency = s.make(K.organiser, s.update { $0.currency = eur })
        let model = s.make(K.organiser, s.update { $0.model = .keepWhatYouRaise })
        let closes = s.make(K.organiser, s.update { $0.closes = 1_900_000_000_000 })
        let mixed = s.make(
            K.organiser,
            s.update {
                $0.title = "Sneaky"
                $0.goal = 1
            })
        let sameGoal = s.make(K.organiser, s.update { $0.goal = 600_000 })
        let title = s.make(
            K.organiser,
            s.update {
                $0.title = "Reopen the lido!"
                $0.description = "Now with a diving board"
            })
        let st = s.state([goalBefore, p, goal, currency, model, closes, mixed, sameGoal, title])
        #expect(st.code(goalBefore) == "applied")
        for e in [goal, currency, model, closes, mixed] { #expect(st.code(e) == "frozen") }
        #expect(st.code(sameGoal) == "applied")
        #expect(st.code(title) == "applied")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.goal == 600_000)
        #expect(c.currency == gbp)
        #expect(c.model == .allOrNothing)
        #expect(c.closes == 1_893_456_000_000)
        #expect(c.title == "Reopen the lido!")
        #expect(c.description == "Now with a diving board")
        #expect(c.hasPledges)
        // Frozen even when the only pledge has been withdrawn.
        let withdraw = s.make(K.collectorA, s.withdraw(p))
        let goalAfterWithdraw = s.make(K.organiser, s.update { $0.goal = 800_000 })
        #expect(s.state([p, withdraw, goalAfterWithdraw]).code(goalAfterWithdraw) == "frozen")
    }

    @Test("an update that would close the campaign before it opens is rejected")
    func badDates() {
        var s = Scenario()
        let bad = s.make(K.organiser, s.update { $0.opens = 1_893_456_000_000 })
        #expect(s.state([bad]).code(bad) == "bad_dates")
    }

    @Test("part payments add up, in any order; a collected pledge's amount and tier stay fixed")
    func partPayments() throws {
        var s = Scenario()
        let paid = s.make(K.collectorA, s.pledge("Bob", 1_000, paid: .cash))
        let unpaid = s.make(K.collectorA, s.pledge("Cat", 2_500))
        let collectPaid = s.make(K.collectorB, s.collect(paid, 1_000))
        let first = s.make(K.collectorB, s.collect(unpaid, 1_000, method: .transfer))
        let second = s.make(K.collectorA, s.collect(unpaid, 1_500))
        let reviseCollected = s.make(K.collectorA, s.revise(unpaid, amount: 2_600))
        let withdrawCollected = s.make(K.collectorA, s.withdraw(paid))
        let renameCollected = s.make(K.collectorA, s.revise(paid) { $0.backerName = "Robert" })
        let all = [paid, unpaid, collectPaid, first, second, reviseCollected, withdrawCollected, renameCollected]
        let st = s.state(all)
        #expect(st.code(collectPaid) == "applied")
        #expect(st.code(first) == "applied")
        #expect(st.code(second) == "applied")
        #expect(st.code(reviseCollected) == "already_collected")
        #expect(st.code(withdrawCollected) == "already_collected")
        #expect(st.code(renameCollected) == "applied")
        let c = try #require(st.campaign(s.campaign))
        // 1,000 paid on the spot plus 1,000 more (over-paid), and 1,000 + 1,500 in two parts.
        #expect(c.collected == 4_500)
        #expect(c.pledged == 3_500)
        let cat = try #require(c.pledges[unpaid.id])
        #expect(cat.collected == 2_500)
        // The first collection in replay order names who collected and how.
        #expect(cat.collectedBy == K.collectorB.publicKey)
        #expect(cat.collectedMethod == .transfer)
        // The same events in the reverse order give the same state.
        #expect(s.state(all.reversed()).campaign(s.campaign) == c)
    }

    @Test("a collection adds to the collected total and records who received it")
    func collectAdds() throws {
        var s = Scenario()
        let p = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let q = s.make(K.collectorA, s.pledge("Cat", 4_000))
        let before = try #require(s.campaign([p, q]))
        #expect(before.collected == 0)
        #expect(before.pledges[p.id]?.collectedBy == nil)
        let collect = s.make(K.collectorB, s.collect(p, 1_000, method: .transfer))
        let byStranger = s.make(K.stranger, s.collect(q, 4_000))
        let st = s.state([p, q, collect, byStranger])
        #expect(st.code(byStranger) == "unauthorised")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.collected == 1_000)
        #expect(c.pledged == 5_000)
        #expect(c.pledges[p.id]?.collected == 1_000)
        #expect(c.pledges[p.id]?.collectedBy == K.collectorB.publicKey)
        #expect(c.pledges[p.id]?.collectedMethod == .transfer)
        // Money received on the spot counts at once.
        let cash = s.make(K.collectorA, s.pledge("Dan", 700, paid: .cash))
        let c2 = try #require(s.campaign([p, q, collect, cash]))
        #expect(c2.collected == 1_700)
        #expect(c2.pledges[cash.id]?.collectedBy == K.collectorA.publicKey)
    }

    @Test("a revision that arrives before its pledge ends in the same state as one that arrives after")
    func revisionBeforePledge() throws {
        var s = Scenario()
        let p = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let r = s.make(K.collectorA, s.revise(p, amount: 3_000))
        let onlyRevision = s.state([r])
        #expect(onlyRevision.code(r) == "unknown_pledge")
        #expect(try #require(onlyRevision.campaign(s.campaign)).pledged == 0)
        let inOrder = s.state([p, r])
        let revisionFirst = derive([r] + s.events.reversed() + [p])
        #expect(revisionFirst.code(r) == "applied")
        #expect(revisionFirst.digest == inOrder.digest)
        #expect(revisionFirst.campaigns == inOrder.campaigns)
        #expect(try #require(revisionFirst.campaign(s.campaign)).pledged == 3_000)
        // Events for a campaign that arrive before the campaign itself.
        let beforeCampaign = derive([p, r] + s.events.reversed())
        #expect(beforeCampaign.digest == inOrder.digest)
    }

    @Test("concurrent edits of one field resolve by (timestamp, author, event id): the last in that order wins")
    func concurrentEdits() throws {
        var s = Scenario()
        let at = HLC(wall: s.factory.now + 100)
        let byOrganiser = s.make(K.organiser, s.update { $0.title = "Organiser's title" }, at: at)
        let byFounder = s.make(K.founder, s.update { $0.title = "Founder's title" }, at: at)
        let descriptionEdit = s.make(K.founder, s.update { $0.description = "Founder's description" }, at: HLC(wall: at.wall - 50))
        let expected = K.organiser.publicKey < K.founder.publicKey ? "Founder's title" : "Organiser's title"
        let edits = [byOrganiser, byFounder, descriptionEdit]
        for order in [edits, edits.reversed(), [byFounder, descriptionEdit, byOrganiser]] {
            let c = try #require(s.campaign(order))
            #expect(c.title == expected)
            #expect(c.description == "Founder's description")
        }
        // A later timestamp beats any author.
        let smaller = K.organiser.publicKey < K.founder.publicKey ? K.organiser : K.founder
        let later = s.make(smaller, s.update { $0.title = "Later" }, at: HLC(wall: at.wall, counter: 1))
        #expect(try #require(s.campaign([later] + edits)).title == "Later")
        // The same author at the same timestamp: the larger event id wins.
        let same = HLC(wall: at.wall + 10)
        let x = s.make(K.organiser, s.update { $0.title = "X" }, at: same)
        let y = s.make(K.organiser, s.update { $0.title = "Y" }, at: same)
        let winner = x.id < y.id ? "Y" : "X"
        #expect(try #require(s.campaign([x, y])).title == winner)
        #expect(try #require(s.campaign([y, x])).title == winner)
    }

    @Test("sums that would overflow are rejected as overflow")
    func overflow() throws {
        var s = Scenario()
        let huge = s.make(K.collectorA, s.pledge("Croesus", Int64.max))
        let one = s.make(K.collectorB, s.pledge("Bob", 1))
        let st = s.state([huge, one])
        #expect(st.code(huge) == "applied")
        #expect(st.code(one) == "overflow")
        #expect(try #require(st.campaign(s.campaign)).pledged == Int64.max)

        var t = Scenario()
        let a = t.make(K.collectorA, t.pledge("A", Int64.max - 1))
        let b = t.make(K.collectorB, t.pledge("B", 1))
        let grow = t.make(K.collectorB, t.revise(b, amount: 2))
        let st2 = t.state([a, b, grow])
        #expect(st2.code(b) == "applied")
        #expect(st2.code(grow) == "overflow")
        #expect(try #require(st2.campaign(t.campaign)).pledges[b.id]?.amount == 1)

        var u = Scenario()
        let p = u.make(K.collectorA, u.pledge("P", 1))
        let q = u.make(K.collectorA, u.pledge("Q", 1))
        let collectHuge = u.make(K.collectorB, u.collect(p, Int64.max))
        let collectMore = u.make(K.collectorB, u.collect(q, 1))
        let st3 = u.state([p, q, collectHuge, collectMore])
        #expect(st3.code(collectHuge) == "applied")
        #expect(st3.code(collectMore) == "overflow")
    }

    @Test("a rejected event leaves no trace in the state, even when it fails half-way")
    func rejectedEventsAreInert() throws {
        var s = Scenario()
        let p = s.make(K.collectorA, s.pledge("P", 1))
        let collectHuge = s.make(K.collectorB, s.collect(p, Int64.max))
        // Its pledged amount fits, but the cash it carries overflows the collected total.
        let paidPledge = s.make(K.collectorA, s.pledge("Q", 5, tier: nil, paid: .cash))
        let st = s.state([p, collectHuge, paidPledge])
        #expect(st.code(paidPledge) == "overflow")
        let c = try #require(st.campaign(s.campaign))
        let without = try #require(s.campaign([p, collectHuge]))
        #expect(c == without)
        #expect(c.pledged == 1)
        #expect(c.backers == 1)
        #expect(c.collected == Int64.max)
    }
}
