import Foundation
import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

/// A treasurer's key for the Gift Aid scenarios.
let treasurerKey = FixedKeys.key(0x7E)
/// A second treasurer, for claims made offline at the same time.
let secondTreasurerKey = FixedKeys.key(0x7F)

/// A pledge's stand-in claim tag in the rule tests (the ledger never links a tag to a pledge).
func tag(_ e: Event) -> Bytes32 { Blake2b.hash32(e.id.bytes) }

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
        setup.append(s.make(K.founder, .roleGranted(RoleGranted(member: secondTreasurerKey.publicKey, role: .treasurer))))
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
        s.make(key, .giftAidClaimed(GiftAidClaimed(campaign: s.campaign, tags: pledges.map(tag))))
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
        date: CivilDate(iso: "2027-01-02")!, claimKey: Bytes32(littleEndianWords: 1, 2, 3, 4))

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
        // A confirmation recorded later (giftaid.confirmed) counts; the earlier of the two wins.
        #expect(unsent.claimableFrom(confirmedLater: CivilDate(iso: "2027-01-10")) == CivilDate(iso: "2027-02-10"))
        #expect(oral.claimableFrom(confirmedLater: CivilDate(iso: "2027-01-10")) == CivilDate(iso: "2027-02-03"))
        // The claim key is required, and a map with only the claim key is "no declaration".
        var m = Self.declaration.cbor()
        if case .map(let pairs) = m { m = .map(pairs.filter { $0.0 != 10 }) }
        #expect(throws: DecodingError.self) { try GiftAidDeclaration.decode(m.encoded()) }
        let none = GiftAidPart.noDeclaration(claimKey: Self.declaration.claimKey)
        #expect(try GiftAidPart.decode(none.encoded()) == none)
        #expect(try GiftAidPart.decode(Self.declaration.encoded()) == .declaration(Self.declaration))
        #expect(none.tag == Self.declaration.tag)
        #expect(GiftAid.claimTag(key: GiftAid.newClaimKey()) != Self.declaration.tag)
    }

    @Test("every Gift Aid part seals to one size, declaration or not")
    func partsHaveOneSize() throws {
        var long = Self.declaration
        long.firstName = String(repeating: "\u{1F600}", count: 35)
        long.lastName = String(repeating: "\u{1F600}", count: 35)
        long.house = String(repeating: "\u{1F600}", count: 40)
        let parts: [GiftAidPart] = [.noDeclaration(claimKey: GiftAid.newClaimKey()), .declaration(Self.declaration), .declaration(long)]
        #expect(long.encoded().count > EventLimits.partPaddingBlock, "so that the test can fail")
        let sizes = try parts.map { p in
            try #require(try SealedPart.seal(p.encoded(), to: [treasurerKey.publicKey], minimumPadded: SealedPart.largestPadded)).encoded().count
        }
        #expect(Set(sizes).count == 1)
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
        if case .map(let pairs) = m { m = .map((pairs + [(8, .bool(false))]).sorted { $0.0 < $1.0 }) }
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
        let claim = f.make(treasurerKey, .giftAidClaimed(GiftAidClaimed(campaign: Forge.campaign, tags: [tag(tier), tag(update)])))
        let confirmed = f.make(
            treasurerKey, .giftAidConfirmed(GiftAidConfirmed(campaign: Forge.campaign, tag: tag(tier), sent: CivilDate(iso: "2027-01-05")!)))
        for e in [tier, update, charity, claim, confirmed] {
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
        #expect(body(.charityWithdrawn, [(0, .text("Removed"))]) == "ok")
        #expect(body(.charityWithdrawn, []) == "decode.missing_field")
        #expect(body(.charityWithdrawn, [(0, .text(""))]) == "decode.empty")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array([id(1), id(2)]))]) == "ok")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array([id(2), id(1)]))]) == "decode.non_canonical")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array([id(1), id(1)]))]) == "decode.non_canonical")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array([]))]) == "decode.too_long")
        #expect(body(.giftAidConfirmed, [(0, id(0xCA)), (1, id(1)), (2, .text("2027-01-05"))]) == "ok")
        #expect(body(.giftAidConfirmed, [(0, id(0xCA)), (1, id(1)), (2, .text("2027-02-30"))]) == "decode.out_of_range")
        #expect(body(.giftAidConfirmed, [(0, id(0xCA)), (1, .bytes([1, 2])), (2, .text("2027-01-05"))]) == "decode.bad_length")
        #expect(body(.giftAidConfirmed, [(0, id(0xCA)), (1, id(1))]) == "decode.missing_field")
        let many = (0...GiftAid.maxClaimTags).map { i in CBOR.bytes([UInt8](repeating: 0, count: 30) + [UInt8(i >> 8), UInt8(i & 0xff)]) }
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array(many))]) == "decode.too_long")
        #expect(body(.giftAidClaimed, [(0, id(0xCA)), (1, .array(Array(many.prefix(GiftAid.maxClaimTags))))]) == "ok")
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

    @Test("the ledger sees only tags: a claim needs a treasurer, a recognised charity and sterling, and claims each tag once")
    func claimRules() throws {
        var g = GiftAidScenario()
        let byCollector = g.claim([g.big], by: K.collectorA)
        let ok = g.claim([g.big, g.small])
        let again = g.claim([g.small, g.tiered])
        let st = g.state([byCollector, ok, again])
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(ok) == "applied")
        #expect(st.code(again) == "already_claimed")
        let c = try #require(st.campaign(g.s.campaign))
        #expect(c.giftAidClaims == [tag(g.big): ok.id, tag(g.small): ok.id])
        #expect(c.giftAidClaimCount == 1)

        // Whether the campaign closed funded (crowd plus match), and each pledge's money and benefit, are the
        // treasurer's node's checks (it can open the declarations); the ledger applies a claim on an open campaign.
        var open = GiftAidScenario(close: false)
        let early = open.claim([open.big])
        #expect(open.state([early]).code(early) == "applied")

        var euro = Scenario()
        let charity = euro.make(
            K.founder, .charityRecognised(CharityRecognised(reference: "AB1", legalName: "T", yearEndMonth: 3, yearEndDay: 31)))
        let created = euro.make(
            K.organiser,
            .campaignCreated(
                CampaignCreated(
                    title: "Fête", description: "", goal: 100, currency: Currency(code: "EUR")!, model: .keepWhatYouRaise, opens: 0,
                    closes: 1_900_000_000_000, timeZone: "UTC", organisers: [])))
        let euroClaim = euro.make(K.founder, .giftAidClaimed(GiftAidClaimed(campaign: created.id, tags: [tag(created)])))
        #expect(euro.state([charity, created, euroClaim]).code(euroClaim) == "not_sterling")
    }

    @Test("recognition can be withdrawn: no claim or confirmation applies after it, until a new recognition")
    func withdrawal() throws {
        var g = GiftAidScenario()
        let before = g.claim([g.big])
        let byOrganiser = g.s.make(K.organiser, .charityWithdrawn(CharityWithdrawn(reason: "Removed")))
        let withdrawn = g.s.make(K.founder, .charityWithdrawn(CharityWithdrawn(reason: "Removed from HMRC's register")))
        let again = g.s.make(K.founder, .charityWithdrawn(CharityWithdrawn(reason: "Twice")))
        let after = g.claim([g.small])
        let confirm = g.s.make(
            treasurerKey, .giftAidConfirmed(GiftAidConfirmed(campaign: g.s.campaign, tag: tag(g.small), sent: CivilDate(iso: "2027-01-05")!)))
        let recognised = g.s.make(
            K.founder, .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31)))
        let later = g.claim([g.tiered])
        let all = [before, byOrganiser, withdrawn, again, after, confirm, recognised, later]
        let st = g.state(all)
        #expect(st.code(before) == "applied")
        #expect(st.code(byOrganiser) == "unauthorised")
        #expect(st.code(withdrawn) == "applied")
        #expect(st.code(again) == "not_recognised")
        #expect(st.code(after) == "not_recognised")
        #expect(st.code(confirm) == "not_recognised")
        #expect(st.code(later) == "applied")
        #expect(st.authority.currentCharity?.reference == "AB12345")
        // Just after the withdrawal: nothing in force, but the last recognition still sets retention.
        let mid = g.state([before, withdrawn])
        #expect(mid.authority.currentCharity == nil)
        #expect(mid.authority.lastRecognition?.yearEndMonth == 3)
        #expect(mid.digest != g.state([before]).digest)
        var rng = SplitMix64(seed: 53)
        let events = g.s.events + g.setup + all
        let reference = derive(events)
        for _ in 0..<50 {
            var shuffled = events
            shuffled.shuffle(using: &rng)
            #expect(derive(shuffled).digest == reference.digest)
        }
    }

    @Test("two treasurers claim the same donation offline: the later claim is already_claimed on every replica, in any order")
    func doubleClaim() throws {
        var g = GiftAidScenario()
        // Both offline: each stamps its claim from its own clock; neither has seen the other's.
        let first = g.s.make(treasurerKey, .giftAidClaimed(GiftAidClaimed(campaign: g.s.campaign, tags: [tag(g.big)])))
        let second = g.s.make(
            secondTreasurerKey, .giftAidClaimed(GiftAidClaimed(campaign: g.s.campaign, tags: [tag(g.big), tag(g.small)])),
            at: HLC(wall: first.hlc.wall + 1))
        let all = g.s.events + g.setup + [first, second]
        let reference = derive(all)
        #expect(reference.code(first) == "applied")
        #expect(reference.code(second) == "already_claimed")
        // The refused claim records none of its tags: Bob's £15 can still be claimed.
        #expect(reference.campaign(g.s.campaign)?.giftAidClaims[tag(g.small)] == nil)
        var rng = SplitMix64(seed: 51)
        for _ in 0..<100 {
            var replica = all + all.prefix(Int(rng.next() % UInt64(all.count)))
            replica.shuffle(using: &rng)
            let st = derive(replica)
            #expect(st.code(second) == "already_claimed")
            #expect(st.digest == reference.digest)
        }
    }

    @Test("the benefit value is frozen at the deadline")
    func benefitFrozen() throws {
        var m = GiftAidScenario()
        var late = TierUpdated(campaign: m.s.campaign, tier: m.benefitTier)
        late.benefit = 100
        let frozen = m.s.make(K.organiser, .tierUpdated(late), at: HLC(wall: 1_893_456_000_000))
        #expect(m.state([frozen]).code(frozen) == "closed")
    }

    @Test("only a treasurer erases a Gift Aid declaration, only an organiser or admin a name or contact")
    func erasureAuthority() throws {
        var g = GiftAidScenario()
        func erase(_ by: SigningKey, _ slots: [PartSlot]) -> Event {
            g.s.make(by, .personalErased(PersonalErased(campaign: g.s.campaign, pledge: g.big.id, reason: .request, slots: slots)))
        }
        let organiserGift = erase(K.organiser, [.giftAid])
        let organiserAll = erase(K.organiser, [.name, .contact, .giftAid])
        let treasurerName = erase(treasurerKey, [.name])
        let organiserName = erase(K.organiser, [.name, .contact])
        let treasurerGift = erase(treasurerKey, [.giftAid])
        let st = g.state([organiserGift, organiserAll, treasurerName, organiserName, treasurerGift])
        #expect(st.code(organiserGift) == "unauthorised")
        #expect(st.code(organiserAll) == "unauthorised")
        #expect(st.code(treasurerName) == "unauthorised")
        #expect(st.code(organiserName) == "applied")
        #expect(st.code(treasurerGift) == "applied")
        #expect(st.campaign(g.s.campaign)?.pledges[g.big.id]?.erased == [.name, .contact, .giftAid])
    }

    @Test("a confirmation needs a treasurer; the earliest date counts, in any order")
    func confirmations() throws {
        var g = GiftAidScenario()
        func confirm(_ by: SigningKey, _ day: String) -> Event {
            g.s.make(by, .giftAidConfirmed(GiftAidConfirmed(campaign: g.s.campaign, tag: tag(g.big), sent: CivilDate(iso: day)!)))
        }
        let byOrganiser = confirm(K.organiser, "2027-01-01")
        let later = confirm(treasurerKey, "2027-01-09")
        let earlier = confirm(secondTreasurerKey, "2027-01-03")
        let st = g.state([byOrganiser, later, earlier])
        #expect(st.code(byOrganiser) == "unauthorised")
        #expect(st.code(later) == "applied" && st.code(earlier) == "applied")
        #expect(st.campaign(g.s.campaign)?.giftAidConfirmed[tag(g.big)] == CivilDate(iso: "2027-01-03"))
        #expect(g.state([earlier, later]).digest == g.state([later, earlier]).digest)
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
                    date: CivilDate(iso: "2027-01-01")!, wordingVersion: 1, oral: true, confirmationSent: CivilDate(iso: "2027-01-02"),
                    claimKey: Bytes32([UInt8](repeating: 0xE1, count: 32))!))
        #expect(d.encoded() == bytes)
        #expect(d.tag.hex == vector["tag"] as? String)
        let none = try #require(vector["no_declaration"] as? [String: Any])
        let noneHex = try #require(none["plaintext"] as? String)
        let noneBytes = try #require(Hex.decode(noneHex))
        let part = try GiftAidPart.decode(noneBytes)
        #expect(part == .noDeclaration(claimKey: Bytes32([UInt8](repeating: 0xE3, count: 32))!))
        #expect(part.encoded() == noneBytes)
        #expect(part.tag.hex == none["tag"] as? String)
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
