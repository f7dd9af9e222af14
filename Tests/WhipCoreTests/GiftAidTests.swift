import Foundation
import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

/// A treasurer's key for the Gift Aid scenarios.
let treasurerKey = FixedKeys.key(0x7E)

/// A version-2 pledge body (its commitments are arbitrary: the rules never open the parts).
func v2Pledge(_ campaign: EventID, _ pence: Int64, tier: EventID? = nil, paid: PaymentMethod? = nil) -> EventBody {
    .pledgeMadeV2(
        PledgeMadeV2(
            campaign: campaign, amount: pence, currency: gbp, tier: tier, channel: .inPerson, paid: paid,
            commitments: (0..<3).map { Bytes32(littleEndianWords: UInt64($0), 1, 2, 3) }))
}

/// The scenario community recognised as a charity, with a treasurer, a tier worth £5 to its backers and a funded
/// campaign's pledges; `close` closes it.
struct GiftAidScenario {
    var s = Scenario()
    var setup: [Event] = []
    var benefitTier: EventID
    var big: Event
    var small: Event
    var tiered: Event
    var close: Event

    init(recognise: Bool = true, close closeIt: Bool = true) {
        var s = Scenario()
        var setup: [Event] = []
        if recognise {
            setup.append(
                s.make(
                    K.founder,
                    .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31))))
        }
        setup.append(s.make(K.founder, .roleGranted(RoleGranted(member: treasurerKey.publicKey, role: .treasurer))))
        let tierEvent = s.make(
            K.organiser, .tierAdded(TierAdded(campaign: s.campaign, title: "Mug", minimum: 2_000, limit: nil, benefit: 500)))
        setup.append(tierEvent)
        big = s.make(K.collectorA, v2Pledge(s.campaign, 480_000, paid: .cash))
        small = s.make(K.collectorA, v2Pledge(s.campaign, 1_500, paid: .cash))
        tiered = s.make(K.collectorB, v2Pledge(s.campaign, 20_000, tier: tierEvent.id, paid: .transfer))
        close = s.make(K.organiser, .campaignClosed(CampaignRef(campaign: s.campaign)))
        setup += [big, small, tiered]
        if closeIt { setup.append(close) }
        self.s = s
        self.setup = setup
        self.benefitTier = tierEvent.id
    }

    mutating func claim(_ pledges: [Event], by key: SigningKey = treasurerKey) -> Event {
        s.make(key, .giftAidClaimed(GiftAidClaimed(campaign: s.campaign, pledges: pledges.map(\.id))))
    }

    func state(_ extra: [Event]) -> CommunityState { s.state(setup + extra) }
}

@Suite("Gift Aid: figures, declarations, claims and the schedule", .timeLimit(.minutes(10)))
struct GiftAidTests {
    // MARK: Donor benefit

    @Test("the donor-benefit limit is 25% of the first £100 plus 5% of the rest, at most £2,500")
    func benefitLimit() {
        #expect(GiftAid.maxBenefit(donation: 1_000) == 250)
        #expect(GiftAid.maxBenefit(donation: 10_000) == 2_500)
        #expect(GiftAid.maxBenefit(donation: 20_000) == 3_000)
        #expect(GiftAid.maxBenefit(donation: 100_000) == 7_000)
        #expect(GiftAid.maxBenefit(donation: 4_950_000) == 249_500)
        #expect(GiftAid.maxBenefit(donation: 5_000_000) == 250_000)
        #expect(GiftAid.maxBenefit(donation: Int64.max) == 250_000)
        #expect(GiftAid.maxBenefit(donation: 3) == 0)  // 0.75p rounds down
        #expect(GiftAid.benefitAllowed(donation: 2_000, benefit: 500))
        #expect(!GiftAid.benefitAllowed(donation: 2_000, benefit: 501))
        #expect(!GiftAid.benefitAllowed(donation: 2_000, benefit: nil))
        #expect(GiftAid.benefitAllowed(donation: 1, benefit: 0))
    }

    // MARK: Dates

    @Test("civil dates round-trip through days, ISO text and HMRC's DD/MM/YY")
    func civilDates() throws {
        let d = try #require(CivilDate(iso: "2027-03-31"))
        #expect(d.hmrc == "31/03/27")
        #expect(CivilDate(daysSinceEpoch: d.daysSinceEpoch) == d)
        #expect(CivilDate(utcMs: 1_798_761_600_000) == CivilDate(year: 2027, month: 1, day: 1))
        #expect(CivilDate(iso: "2027-02-29") == nil)
        #expect(CivilDate(iso: "2028-02-29") != nil)
        #expect(CivilDate(iso: "27-03-31") == nil)
        #expect(CivilDate(year: 2028, month: 2, day: 29)!.adding(years: 1) == CivilDate(year: 2029, month: 2, day: 28))
        for days in stride(from: -800, to: 30_000, by: 37) {
            #expect(CivilDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
        #expect(GiftAid.taxYearEnding(CivilDate(iso: "2027-04-05")!) == 2027)
        #expect(GiftAid.taxYearEnding(CivilDate(iso: "2027-04-06")!) == 2028)
    }

    @Test("a declaration is kept until 6 years after the end of the accounting period of its last claimed donation")
    func retention() {
        let march = CharityRecognised(reference: "AB1", legalName: "T", yearEndMonth: 3, yearEndDay: 31)
        #expect(march.accountingYearEnd(containing: CivilDate(iso: "2027-03-31")!) == CivilDate(iso: "2027-03-31"))
        #expect(march.accountingYearEnd(containing: CivilDate(iso: "2027-04-01")!) == CivilDate(iso: "2028-03-31"))
        #expect(march.retentionEnds(lastDonation: CivilDate(iso: "2027-06-15")!) == CivilDate(iso: "2034-04-01"))
        let december = CharityRecognised(reference: "AB1", legalName: "T", yearEndMonth: 12, yearEndDay: 31)
        #expect(december.retentionEnds(lastDonation: CivilDate(iso: "2027-12-31")!) == CivilDate(iso: "2034-01-01"))
    }

    // MARK: Declarations

    static let declaration = GiftAidDeclaration(
        title: "Mrs", firstName: "Ann", lastName: "Smith-Jones", house: "12", postcode: "S19 2BD", scope: .thisPastAndFuture,
        date: CivilDate(iso: "2027-01-02")!)

    @Test("a declaration encodes canonically and decodes to itself")
    func declarationRoundTrip() throws {
        var oral = Self.declaration
        oral.oral = true
        oral.confirmationSent = CivilDate(iso: "2027-01-03")
        for d in [Self.declaration, oral] {
            let bytes = d.encoded()
            #expect(try GiftAidDeclaration.decode(bytes) == d)
            #expect(try CBOR.decode(bytes).encoded() == bytes)
        }
        #expect(Self.declaration.claimableFrom == Self.declaration.date)
        #expect(oral.claimableFrom == CivilDate(iso: "2027-02-03"))
        var unsent = oral
        unsent.confirmationSent = nil
        #expect(unsent.claimableFrom == nil)
    }

    @Test("declarations outside HMRC's limits are refused with a decode code")
    func declarationValidation() {
        func code(_ edit: (inout GiftAidDeclaration) -> Void) -> String {
            var d = Self.declaration
            edit(&d)
            do {
                _ = try GiftAidDeclaration.decode(d.encoded())
                return "ok"
            } catch { return error.code.rawValue }
        }
        #expect(code { _ in } == "ok")
        #expect(code { $0.title = "Major" } == "decode.too_long")
        #expect(code { $0.firstName = String(repeating: "A", count: 36) } == "decode.too_long")
        #expect(code { $0.firstName = String(repeating: "é", count: 35) } == "ok")
        #expect(code { $0.lastName = "" } == "decode.empty")
        #expect(code { $0.lastName = "=SUM(A1)" } == "decode.out_of_range")
        #expect(code { $0.house = "12\nEvil" } == "decode.control_char")
        #expect(code { $0.postcode = "s19 2bd" } == "decode.out_of_range")
        #expect(code { $0.postcode = "S192BD" } == "decode.out_of_range")
        #expect(code { $0.postcode = "X" } == "ok")
        #expect(code { $0.wordingVersion = 99 } == "decode.bad_enum")
        #expect(code { $0.confirmationSent = CivilDate(iso: "2027-01-05") } == "decode.out_of_range")
        #expect(
            code {
                $0.oral = true
                $0.confirmationSent = CivilDate(iso: "2026-12-31")
            } == "decode.out_of_range")
        // `oral: false` is written by leaving the field out; an explicit false is not canonical.
        var m = Self.declaration.cbor()
        if case .map(var pairs) = m {
            pairs.append((8, .bool(false)))
            m = .map(pairs)
        }
        #expect(throws: DecodingError.self) { try GiftAidDeclaration.decode(m.encoded()) }
        #expect(GiftAidDeclaration.normalisePostcode("s19 2bd") == "S19 2BD")
        #expect(GiftAidDeclaration.normalisePostcode("ec1a1bb") == "EC1A 1BB")
    }

    @Test("the wording names the charity and the scope, and each version's text is fixed")
    func wording() throws {
        let w = try #require(GiftAidWording.version(1))
        let text = w.text(charity: "Elm Street Trust", scope: .thisDonation)
        #expect(text.hasPrefix("I want Elm Street Trust to treat this donation as Gift Aid donations."))
        #expect(text.contains("it is my responsibility to pay any difference"))
        #expect(!text.contains("{"))
        #expect(GiftAidWording.current.version == 1)
    }

    // MARK: Codec

    @Test("the Gift Aid kinds and the tier benefit field round-trip, and malformed ones are refused")
    func codec() throws {
        var f = EventFactory()
        let tier = f.make(K.organiser, .tierAdded(TierAdded(campaign: Forge.campaign, title: "Mug", minimum: 100, benefit: 0)))
        var u = TierUpdated(campaign: Forge.campaign, tier: tier.id)
        u.benefit = 250
        let update = f.make(K.organiser, .tierUpdated(u))
        let charity = f.make(
            K.founder, .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm", yearEndMonth: 12, yearEndDay: 31)))
        let claim = f.make(treasurerKey, .giftAidClaimed(GiftAidClaimed(campaign: Forge.campaign, pledges: [tier.id, update.id])))
        for e in [tier, update, charity, claim] {
            #expect(try Event.decode(wire: e.wire) == e)
        }
        func body(_ kind: EventKind, _ fields: [(UInt64, CBOR)]) -> String {
            decodeCode(Forge.wire(Forge.payload(author: K.founder, kind: kind.rawValue, body: .map(fields)), by: K.founder))
        }
        let id = { (b: UInt8) in CBOR.bytes([UInt8](repeating: b, count: 32)) }
        #expect(body(.charityRecognised, [(0, .text("AB1")), (1, .text("Elm")), (2, .unsigned(3)), (3, .unsigned(31))]) == "ok")
        #expect(body(.charityRecognised, [(0, .text("ab1")), (1, .text("Elm")), (2, .unsigned(3)), (3, .unsigned(31))]) == "decode.out_of_range")
        #expect(body(.charityRecognised, [(0, .text("AB1")), (1, .text("Elm")), (2, .unsigned(2)), (3, .unsigned(29))]) == "decode.out_of_range")
        #expect(body(.charityRecognised, [(0, .text("AB1")), (1, .text("Elm")), (2, .unsigned(13)), (3, .unsigned(1))]) == "decode.out_of_range")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array([id(1), id(2)]))]) == "ok")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array([id(2), id(1)]))]) == "decode.non_canonical")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array([id(1), id(1)]))]) == "decode.non_canonical")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array([]))]) == "decode.too_long")
        let many = (0...GiftAid.maxClaimPledges).map { i in CBOR.bytes([UInt8](repeating: 0, count: 30) + [UInt8(i >> 8), UInt8(i & 0xff)]) }
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array(many))]) == "decode.too_long")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array(Array(many.prefix(GiftAid.maxClaimPledges))))]) == "ok")
        #expect(body(.tierAdded, [(0, id(0xCA)), (1, .text("Mug")), (3, .unsigned(100)), (5, .negative(0))]) == "decode.bad_type")
    }

    // MARK: Rules

    @Test("only the founder or an admin records the charity; without it no claim applies")
    func recognition() throws {
        var g = GiftAidScenario(recognise: false)
        let byOrganiser = g.s.make(
            K.organiser, .charityRecognised(CharityRecognised(reference: "AB1", legalName: "X", yearEndMonth: 3, yearEndDay: 31)))
        let claim = g.claim([g.big])
        let st = g.state([byOrganiser, claim])
        #expect(st.code(byOrganiser) == "unauthorised")
        #expect(st.code(claim) == "not_recognised")
        #expect(st.authority.currentCharity == nil)
        let st2 = GiftAidScenario().state([])
        #expect(st2.authority.currentCharity?.reference == "AB12345")
    }

    @Test("a claim needs a treasurer, a closed funded sterling campaign and fully collected pledges")
    func claimRules() throws {
        var g = GiftAidScenario()
        let byCollector = g.claim([g.big], by: K.collectorA)
        let ok = g.claim([g.big, g.small])
        let again = g.claim([g.small])
        let st = g.state([byCollector, ok, again])
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(ok) == "applied")
        #expect(st.code(again) == "already_claimed")
        let c = try #require(st.campaign(g.s.campaign))
        #expect(c.pledges[g.big.id]?.giftAidClaim == ok.id)
        #expect(c.pledges[g.small.id]?.giftAidClaim == ok.id)
        #expect(c.pledges[g.tiered.id]?.giftAidClaim == nil)

        var open = GiftAidScenario(close: false)
        let early = open.claim([open.big])
        #expect(open.state([early]).code(early) == "not_funded")
    }

    @Test("a reward worth more than the donor-benefit limit, or of no stated value, makes a pledge ineligible")
    func benefitRule() throws {
        var g = GiftAidScenario()
        // Cat's £200 pledge with a £5 mug: allowed (limit £30).
        let ok = g.claim([g.tiered])
        #expect(g.state([ok]).code(ok) == "applied")

        // The same pledge when the mug was declared worth £31 before the deadline.
        var h = GiftAidScenario(close: false)
        var u = TierUpdated(campaign: h.s.campaign, tier: h.benefitTier)
        u.benefit = 3_100
        let raise = h.s.make(K.organiser, .tierUpdated(u))
        let close = h.s.make(K.organiser, .campaignClosed(CampaignRef(campaign: h.s.campaign)))
        let over = h.claim([h.tiered])
        let st = h.state([raise, close, over])
        #expect(st.code(raise) == "applied")
        #expect(st.code(over) == "benefit_over_limit")

        // The base scenario's T-shirt tier states no value.
        var k = GiftAidScenario(close: false)
        let shirt = k.s.make(K.collectorA, v2Pledge(k.s.campaign, 5_000, tier: k.s.tier, paid: .cash))
        let close2 = k.s.make(K.organiser, .campaignClosed(CampaignRef(campaign: k.s.campaign)))
        let unknown = k.claim([shirt])
        #expect(k.state([shirt, close2, unknown]).code(unknown) == "benefit_over_limit")

        // After the deadline the benefit is frozen.
        var m = GiftAidScenario()
        var late = TierUpdated(campaign: m.s.campaign, tier: m.benefitTier)
        late.benefit = 100
        let frozen = m.s.make(K.organiser, .tierUpdated(late), at: HLC(wall: 1_893_456_000_000))
        #expect(m.state([frozen]).code(frozen) == "closed")
    }

    @Test("an old-format pledge, or one whose declaration was erased, cannot be claimed")
    func claimNeedsADeclarationPart() throws {
        var g = GiftAidScenario(close: false)
        let old = g.s.make(K.collectorA, g.s.pledge("Old", 2_000, paid: .cash))
        let erase = g.s.make(
            K.organiser, .personalErased(PersonalErased(campaign: g.s.campaign, pledge: g.small.id, reason: .request, slots: [.giftAid])))
        let close = g.s.make(K.organiser, .campaignClosed(CampaignRef(campaign: g.s.campaign)))
        let claimOld = g.claim([old])
        let claimErased = g.claim([g.small])
        let st = g.state([old, erase, close, claimOld, claimErased])
        #expect(st.code(erase) == "applied")  // not claimed yet: nothing to retain
        #expect(st.code(claimOld) == "wrong_version")
        #expect(st.code(claimErased) == "erased")
    }

    @Test("a claimed declaration is kept 6 years after its accounting period: erasing it earlier is under_retention")
    func retentionRule() throws {
        var g = GiftAidScenario()
        let claim = g.claim([g.big])
        // The claim is stamped in 2027 (UTC); the accounting year ends 31 March 2027 or 2028.
        let claimedOn = CivilDate(utcMs: claim.hlc.wall)
        let charity = CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31)
        let ends = charity.retentionEnds(lastDonation: claimedOn)
        func erase(_ pledge: Event, _ reason: ErasureReason, on day: CivilDate, slots: [PartSlot] = [.giftAid]) -> Event {
            g.s.make(
                K.organiser, .personalErased(PersonalErased(campaign: g.s.campaign, pledge: pledge.id, reason: reason, slots: slots)),
                at: HLC(wall: day.utcStartMs + 1))
        }
        let tooEarly = erase(g.big, .retentionExpired, on: ends.adding(days: -1))
        let requested = erase(g.big, .request, on: ends.adding(days: -1))
        let nameOnly = erase(g.big, .request, on: ends.adding(days: -1), slots: [.name])
        let onTime = erase(g.big, .retentionExpired, on: ends)
        let unclaimed = erase(g.small, .request, on: ends.adding(days: -1))
        let st = g.state([claim, tooEarly, requested, nameOnly, onTime, unclaimed])
        #expect(st.code(claim) == "applied")
        #expect(st.code(tooEarly) == "under_retention")
        #expect(st.code(requested) == "under_retention")
        #expect(st.code(nameOnly) == "applied")
        #expect(st.code(onTime) == "applied")
        #expect(st.code(unclaimed) == "applied")
        #expect(ends.month == 4 && ends.day == 1)
    }

    @Test("the declaration vector of the independent generator decodes to the same fields and re-encodes byte for byte")
    func declarationVector() throws {
        let url = try #require(Bundle.module.url(forResource: "events", withExtension: "json", subdirectory: "Vectors"))
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let vector = try #require(doc["gift_aid_declaration"] as? [String: Any])
        let hex = try #require(vector["plaintext"] as? String)
        let bytes = try #require(Hex.decode(hex))
        let d = try GiftAidDeclaration.decode(bytes)
        #expect(
            d
                == GiftAidDeclaration(
                    title: "Mrs", firstName: "Amy", lastName: "Oak-Smith", house: "12", postcode: "S19 2BD", scope: .thisPastAndFuture,
                    date: CivilDate(iso: "2027-01-01")!, wordingVersion: 1, oral: true, confirmationSent: CivilDate(iso: "2027-01-02")))
        #expect(d.encoded() == bytes)
    }

    @Test("claims and eligibility converge: any order or duplication of the events gives the same state and digest")
    func convergence() {
        var g = GiftAidScenario()
        let claimA = g.claim([g.big])
        let claimB = g.claim([g.big, g.small])  // already_claimed, whichever arrives first
        let claimC = g.claim([g.tiered])
        let all = g.s.events + g.setup + [claimA, claimB, claimC]
        let reference = derive(all)
        #expect(reference.code(claimB) == "already_claimed")
        var rng = SplitMix64(seed: 9)
        for _ in 0..<200 {
            var shuffled = all + all.prefix(Int(rng.next() % UInt64(all.count)))
            shuffled.shuffle(using: &rng)
            let st = derive(shuffled)
            #expect(st.digest == reference.digest)
            #expect(st.statuses == reference.statuses)
        }
    }

    // MARK: Schedule

    @Test("a hand-worked schedule: individual rows, aggregated £20-or-less rows capped at £1,000 per accounting period")
    func schedule() throws {
        let charity = CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31)
        func id(_ b: UInt8) -> EventID { EventID(bytes: [UInt8](repeating: b, count: 32))! }
        let camp = id(0xCA)
        let ann = Self.declaration
        var bob = GiftAidDeclaration(
            firstName: "B", lastName: "O'Neill", house: "Rose Cottage", postcode: "EC1A 1BB", scope: .thisDonation,
            date: CivilDate(iso: "2027-03-01")!, oral: true, confirmationSent: CivilDate(iso: "2027-03-02"))
        var late = bob
        late.confirmationSent = CivilDate(iso: "2027-04-20")  // cancellation period runs to 20 May
        bob.title = "Dr"
        var donations = [
            GiftAidDonation(pledge: id(1), campaign: camp, amount: 25_000, date: CivilDate(iso: "2027-03-10")!, declaration: ann),
            GiftAidDonation(pledge: id(2), campaign: camp, amount: 2_000, date: CivilDate(iso: "2027-03-05")!, declaration: bob),
            GiftAidDonation(pledge: id(9), campaign: camp, amount: 500, date: CivilDate(iso: "2027-05-01")!, declaration: late),
        ]
        // 51 donations of £20 in March 2027 (one accounting year): £1,020 splits into £1,000 and £20.
        for i in 0..<51 {
            donations.append(
                GiftAidDonation(pledge: id(UInt8(10 + i)), campaign: camp, amount: 2_000, date: CivilDate(iso: "2027-03-20")!, declaration: ann))
        }
        // A £15 donation in April 2027 is in the next accounting year: its own aggregated row.
        donations.append(GiftAidDonation(pledge: id(100), campaign: camp, amount: 1_500, date: CivilDate(iso: "2027-04-02")!, declaration: ann))
        // £20.01 is over the aggregation limit: a row of its own.
        donations.append(GiftAidDonation(pledge: id(101), campaign: camp, amount: 2_001, date: CivilDate(iso: "2027-04-03")!, declaration: ann))

        let built = GiftAidSchedule.rows(donations.reversed(), charity: charity, today: CivilDate(iso: "2027-05-10")!)
        let expected: [[String]] = [
            ["1", "Mrs", "Ann", "Smith Jones", "12", "S19 2BD", "", "", "10/03/27", "250.00"],
            ["2", "", "", "", "", "", "Small pledges", "", "20/03/27", "1000.00"],
            ["3", "", "", "", "", "", "Small pledges", "", "20/03/27", "40.00"],
            ["4", "", "", "", "", "", "Small pledges", "", "02/04/27", "15.00"],
            ["5", "Mrs", "Ann", "Smith Jones", "12", "S19 2BD", "", "", "03/04/27", "20.01"],
        ]
        #expect(built.rows.count == expected.count)
        for (row, want) in zip(built.rows, expected) {
            #expect(row.cells.count == GiftAidSchedule.columns.count)
            for (i, (cell, w)) in zip(row.cells, want).enumerated() {
                #expect(cell == w, "row \(want[0]) column \(GiftAidSchedule.columns[i])")
            }
        }
        // Bob's oral £20 declaration was confirmed on 2 March, so it is claimable from 2 April: it opens the first
        // aggregated row of the year ending 31 March 2027 with 49 of the 20 March donations (£1,000, dated by the
        // last); the other two make the next row.
        #expect(built.rows[1].pledges == [id(2)] + (10...58).map { id(UInt8($0)) })
        #expect(built.rows[2].pledges == [id(59), id(60)])
        #expect(built.rows[3].pledges == [id(100)])
        #expect(built.skipped.map(\.0.pledge) == [id(9)])
        let total: Int64 = built.rows.reduce(0) { $0 + $1.amount }
        #expect(total == 132_501)  // 250.00 + 20.00 + 51 x 20.00 + 15.00 + 20.01; the £5 in its cancellation period is left out

        let unaggregated = GiftAidSchedule.rows(Array(donations.prefix(2)), charity: charity, today: CivilDate(iso: "2027-05-10")!, aggregate: false)
        #expect(
            unaggregated.rows.map(\.cells) == [
                ["1", "Dr", "B", "O'Neill", "Rose Cottage", "EC1A 1BB", "", "", "05/03/27", "20.00"],
                ["2", "Mrs", "Ann", "Smith Jones", "12", "S19 2BD", "", "", "10/03/27", "250.00"],
            ])
        let csv = GiftAidSchedule.csv(unaggregated.rows)
        #expect(
            csv
                == "Item,Title,First name or initial,Last name,House name or number,Postcode,Aggregated donations,Sponsored event,Donation date,Donation amount\r\n"
                + "1,Dr,B,O'Neill,Rose Cottage,EC1A 1BB,,,05/03/27,20.00\r\n2,Mrs,Ann,Smith Jones,12,S19 2BD,,,10/03/27,250.00\r\n")
    }
}
