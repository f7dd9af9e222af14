import Foundation
import Logging
import Testing
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore
import WhipTestSupport

/// Gift Aid as the nodes see it (issue 9, PROTOCOL.md §6.51-6.53): a node that is not a treasurer cannot tell
/// which pledges have a declaration or were claimed; the treasurer's node checks what the ledger cannot before
/// it signs, with the match counting towards the goal, and keeps a claimed declaration for HMRC.
@Suite(.serialized, .timeLimit(.minutes(10))) struct GiftAidPrivacyTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let gbp = Currency(code: "GBP")!
    static let day: UInt64 = 86_400_000

    /// A hub (founder and organiser), a treasurer, a pledge desk (collector), an observer (collector) and a funder,
    /// each its own node on one manual clock; events move between them by bundle.
    struct Community {
        let clock = ManualClock()
        let hub: Node
        let treasurer: Node
        let desk: Node
        let observer: Node
        let funder: Node
        let info: CommunityInfo

        init() throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-giftaid-\(UUID().uuidString)").path
            let clock = self.clock
            func node(_ name: String) throws -> Node {
                try Node.initialise(dir: DataDir(path: base + "/" + name), name: name, logger: GiftAidPrivacyTests.logger, clock: { clock.now })
            }
            hub = try node("hub")
            treasurer = try node("treasurer")
            desk = try node("desk")
            observer = try node("observer")
            funder = try node("funder")
            info = try hub.createCommunity(name: "Elm Street")
            _ = try hub.emit(
                info.id,
                .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31)))
            for (n, role) in [(treasurer, Role.treasurer), (desk, .collector), (observer, .collector), (funder, .funder)] {
                _ = try n.join(hub.invite(info))
                _ = try hub.grant(info, member: n.identity.publicKey, role: role, expires: nil)
            }
            try spread(from: hub)
        }

        var all: [Node] { [hub, treasurer, desk, observer, funder] }

        /// Every event and part `from` holds, imported by every other node.
        func spread(from: Node) throws {
            let bundle = try from.exportBundle(community: info.id).bytes
            for n in all where n !== from { _ = try n.importBundle(bundle) }
        }

        /// A published GBP campaign closing in ten days.
        func campaign(goal: Int64, model: FundingModel = .keepWhatYouRaise) throws -> CampaignRow {
            let created = try hub.emit(
                info.id,
                .campaignCreated(
                    CampaignCreated(
                        title: "Paint the hall", description: "", goal: goal, currency: GiftAidPrivacyTests.gbp, model: model, opens: 0,
                        closes: clock.now + 10 * GiftAidPrivacyTests.day, timeZone: "Europe/London", organisers: [])))
            _ = try hub.emit(info.id, .campaignPublished(CampaignRef(campaign: created.id)))
            try spread(from: hub)
            return try desk.campaign(created.id.hex)
        }

        /// A paid pledge recorded at the desk as the reference client records it, with or without a declaration.
        func pledge(_ campaign: CampaignRow, name: String, pence: Int64, declaration: GiftAidDeclaration?) throws -> Event {
            let gift = try desk.giftAidPart(declaration, community: info)
            return try desk.recordPledge(
                campaign, amount: Money(minor: pence, currency: GiftAidPrivacyTests.gbp), tier: nil, channel: .inPerson, paid: .cash,
                parts: try desk.pledgeParts(
                    name: name, anonymous: false, contact: Contact(email: "\(name.lowercased())@example.org"), giftAid: gift, for: campaign))
        }
    }

    static func declaration(_ first: String) -> GiftAidDeclaration {
        GiftAidDeclaration(
            title: "Mrs", firstName: first, lastName: "Okonjo-Smith", house: "12", postcode: "S19 2BD", scope: .thisPastAndFuture,
            date: CivilDate(iso: "2027-01-01")!)
    }

    @Test func aNonTreasurerCannotTellWhichPledgesDeclaredOrWereClaimed() throws {
        let w = try Community()
        let c = try w.campaign(goal: 10_000)
        let declared = try w.pledge(c, name: "Ann Oak", pence: 2_500, declaration: Self.declaration("Ann"))
        let plain = try w.pledge(c, name: "Bob Elm", pence: 2_500, declaration: nil)
        try w.spread(from: w.desk)
        w.clock.advance(Int64(11 * Self.day))

        // The treasurer's node opens both slot-2 parts: one declaration, one "no declaration".
        #expect(try w.treasurer.giftAidDeclaration(pledge: plain.id) == .declined)
        guard case .found(let d) = try w.treasurer.giftAidDeclaration(pledge: declared.id) else {
            Issue.record("the treasurer cannot open the declaration")
            return
        }
        let found = try w.treasurer.giftAidDonations(w.info, from: CivilDate(iso: "2000-01-01")!, to: CivilDate(iso: "2099-12-31")!)
        #expect(found.donations.map(\.pledge) == [declared.id])
        let claims = try w.treasurer.recordGiftAidClaim(w.info, donations: found.donations)
        #expect(claims.count == 1)
        try w.spread(from: w.treasurer)

        for n in [w.hub, w.observer] {
            // The events: same kind, same size; the claim names a tag, never a pledge, commitment or salt.
            let stored = try n.store.exportEvents(community: w.info.id).map { try Event.decode(wire: $0) }
            let a = try #require(stored.first { $0.id == declared.id })
            let b = try #require(stored.first { $0.id == plain.id })
            #expect(a.kind == .pledgeMadeV2 && b.kind == .pledgeMadeV2)
            #expect(a.wire.count == b.wire.count)
            let claim = try #require(stored.first { $0.kind == .giftAidClaimed })
            #expect(try n.store.ruleCode(event: claim.id) == "applied")
            guard case .giftAidClaimed(let body) = claim.body else { throw WhipError(.internalError, "not a claim") }
            #expect(body.tags == [d.tag])
            let wire = Data(claim.wire)
            let parts = try n.store.exportParts(community: w.info.id)
            for e in [a, b] {
                #expect(wire.range(of: Data(e.id.bytes)) == nil)
                guard case .pledgeMadeV2(let p) = e.body else { continue }
                for commitment in p.commitments { #expect(wire.range(of: Data(commitment.array)) == nil) }
            }
            for r in parts where r.event == a.id || r.event == b.id { #expect(wire.range(of: Data(r.salt.array)) == nil) }
            // The part records: the same slots, and each slot's record the same size.
            func records(_ id: EventID) -> [PartSlot: Int] {
                Dictionary(uniqueKeysWithValues: parts.filter { $0.event == id }.map { ($0.slot, $0.encoded().count) })
            }
            #expect(Set(records(a.id).keys) == [.name, .contact, .giftAid])
            #expect(records(a.id) == records(b.id))
            // Neither slot-2 part opens here, and the node shows no Gift Aid for either pledge.
            #expect(try n.giftAidDeclaration(pledge: declared.id) == .sealedToOthers)
            #expect(try n.giftAidDeclaration(pledge: plain.id) == .sealedToOthers)
            #expect(try n.giftAidNotes(campaign: try n.campaign(c.id.hex)).isEmpty)
            let rows = try n.store.pledges(campaign: c.id)
            let ra = try #require(rows.first { $0.id == declared.id })
            let rb = try #require(rows.first { $0.id == plain.id })
            #expect(
                (ra.amount, ra.status, ra.collected, ra.collectedMethod, ra.erased) == (
                    rb.amount, rb.status, rb.collected, rb.collectedMethod, rb.erased
                ))
            // All a member learns: one donation was claimed, in one claim.
            #expect(try n.store.giftAidClaimSummary(campaign: c.id) == (1, 1))
        }
        // The organisers' contact part does not say either (the hub created the campaign: it is its organiser).
        for id in [declared.id, plain.id] {
            let row = try #require(try w.hub.store.pledge(id))
            let contact = try #require(w.hub.openContact(row.contact))
            #expect(contact.giftAid == false && contact.email != nil)
        }
        // The treasurer's node links the claim to its pledge.
        let ledger = try w.treasurer.giftAidLedger(campaign: c.id)
        #expect(ledger[declared.id]?.claim?.claim == claims[0].id)
        #expect(ledger[plain.id] == nil)
        #expect(try w.treasurer.giftAidDonations(w.info, from: CivilDate(iso: "2000-01-01")!, to: CivilDate(iso: "2099-12-31")!).donations.isEmpty)
    }

    @Test func aClaimBeforeTheCampaignClosesSaysWhyItsDeclarationsAreLeftOut() throws {
        let w = try Community()
        let c = try w.campaign(goal: 10_000)
        let declared = try w.pledge(c, name: "Ann Oak", pence: 2_500, declaration: Self.declaration("Ann"))
        _ = try w.pledge(c, name: "Bob Elm", pence: 2_500, declaration: nil)
        try w.spread(from: w.desk)
        let all = (CivilDate(iso: "2000-01-01")!, CivilDate(iso: "2099-12-31")!)
        let early = try w.treasurer.giftAidDonations(w.info, from: all.0, to: all.1)
        #expect(early.donations.isEmpty)
        #expect(early.skipped.map(\.pledge) == [declared.id])
        #expect(early.skipped.first?.reason.contains("still live") == true)
        w.clock.advance(Int64(11 * Self.day))
        let late = try w.treasurer.giftAidDonations(w.info, from: all.0, to: all.1)
        #expect(late.donations.map(\.pledge) == [declared.id] && late.skipped.isEmpty)
    }

    @Test func aCampaignFundedOnlyByItsMatchCanBeClaimed() throws {
        let w = try Community()
        // All or nothing, £100 goal: £60 from the crowd, matched 1:1 up to £50.
        let c = try w.campaign(goal: 10_000, model: .allOrNothing)
        var offer = MatchOffered(campaign: c.id, funderName: "Elm Council", currency: Self.gbp, mode: .match, campaignCap: 5_000)
        offer.factor = MatchFactor(numerator: 1, denominator: 1)
        let offered = try w.funder.emit(w.info.id, .matchOffered(offer))
        try w.spread(from: w.funder)
        _ = try w.hub.emit(w.info.id, .matchAccepted(MatchRef(campaign: c.id, offer: offered.id)))
        try w.spread(from: w.hub)
        let declared = try w.pledge(c, name: "Ann Oak", pence: 6_000, declaration: Self.declaration("Ann"))
        try w.spread(from: w.desk)
        w.clock.advance(Int64(11 * Self.day))

        let row = try w.treasurer.campaign(c.id.hex)
        #expect(row.pledged.minor < row.goal.minor, "the crowd alone does not fund it")
        #expect(row.standing(now: w.clock.now) == .closedFunded)
        let found = try w.treasurer.giftAidDonations(w.info, from: CivilDate(iso: "2000-01-01")!, to: CivilDate(iso: "2099-12-31")!)
        #expect(found.donations.map(\.pledge) == [declared.id])
        let claims = try w.treasurer.recordGiftAidClaim(w.info, donations: found.donations)
        try w.spread(from: w.treasurer)
        for n in w.all { #expect(try n.store.ruleCode(event: claims[0].id) == "applied") }
        let digests = try w.all.map { n in try n.store.communities().first { $0.id == w.info.id }!.digest }
        #expect(Set(digests).count == 1)
    }

    @Test func aClaimedDeclarationIsKeptForHMRCAndOnlyATreasurerErasesIt() throws {
        let w = try Community()
        let c = try w.campaign(goal: 10_000)
        let declared = try w.pledge(c, name: "Ann Oak", pence: 2_500, declaration: Self.declaration("Ann"))
        try w.spread(from: w.desk)
        w.clock.advance(Int64(11 * Self.day))
        let found = try w.treasurer.giftAidDonations(w.info, from: CivilDate(iso: "2000-01-01")!, to: CivilDate(iso: "2099-12-31")!)
        _ = try w.treasurer.recordGiftAidClaim(w.info, donations: found.donations)
        try w.spread(from: w.treasurer)

        // A node that is not a treasurer's cannot erase the declaration (the ledger refuses an organiser's erasure
        // too: GiftAidTests), and root's node, which may, cannot open it, so cannot tell whether it must be kept.
        let (dp, drow) = try w.desk.pledge(declared.id.hex)
        let notTreasurer = #expect(throws: WhipError.self) { try w.desk.checkGiftAidErasure(dp, of: drow) }
        #expect(notTreasurer?.message.contains("only a treasurer may erase a Gift Aid declaration") == true)
        let (hp, hrow) = try w.hub.pledge(declared.id.hex)
        let sealed = #expect(throws: WhipError.self) { try w.hub.checkGiftAidErasure(hp, of: hrow) }
        #expect(sealed?.message.contains("cannot open") == true)
        // The treasurer's node refuses until 6 years after the end of the claim's accounting period.
        let (tp, trow) = try w.treasurer.pledge(declared.id.hex)
        let notes = try w.treasurer.giftAidNotes(campaign: trow)
        #expect(notes[declared.id]?["due_for_retention_expired"] as? Bool == false)
        let keepUntil = try #require(notes[declared.id]?["keep_until"] as? String)
        do {
            try w.treasurer.checkGiftAidErasure(tp, of: trow)
            Issue.record("a claimed declaration was erasable at once")
        } catch {
            #expect(error.message.contains("under_retention") && error.message.contains(keepUntil))
        }
        // A claimed pledge rejected (refunded) afterwards is flagged at the treasurer's node, for the next claim.
        _ = try w.hub.emit(w.info.id, .pledgeRejected(PledgeRejected(campaign: c.id, pledge: declared.id, reason: "refunded 25.00 GBP")))
        try w.spread(from: w.hub)
        #expect(try w.treasurer.giftAidNotes(campaign: trow)[declared.id]?["adjust"] as? String == "claimed, now rejected: adjust the next claim")
        // Node.erase makes the same check, so no client of the node can sign the erasure early.
        #expect(throws: WhipError.self) { try w.treasurer.erase(tp, of: trow, reason: .request, slots: [.giftAid]) }
        let until = try #require(CivilDate(iso: keepUntil))
        w.clock.advance(Int64(until.adding(days: 1).utcStartMs - w.clock.now) + 1)
        #expect(try w.treasurer.giftAidNotes(campaign: trow)[declared.id]?["due_for_retention_expired"] as? Bool == true)
        try w.treasurer.checkGiftAidErasure(tp, of: trow)
        let erased = try w.treasurer.erase(tp, of: trow, reason: .retentionExpired, slots: [.giftAid])
        #expect(try w.treasurer.store.ruleCode(event: erased.id) == "applied")
    }

    @Test func aConfirmationSentAfterThePledgeMakesAnOralDeclarationClaimable30DaysLater() throws {
        let w = try Community()
        let c = try w.campaign(goal: 10_000)
        var oral = Self.declaration("Ann")
        oral.oral = true
        let declared = try w.pledge(c, name: "Ann Oak", pence: 2_500, declaration: oral)
        try w.spread(from: w.desk)
        w.clock.advance(Int64(11 * Self.day))
        let all = (CivilDate(iso: "2000-01-01")!, CivilDate(iso: "2099-12-31")!)
        let today = CivilDate(utcMs: w.clock.now)
        let charity = try #require(try w.treasurer.charity(w.info))
        func claimable() throws -> Int {
            let found = try w.treasurer.giftAidDonations(w.info, from: all.0, to: all.1)
            return GiftAidSchedule.rows(found.donations, charity: charity, today: CivilDate(utcMs: w.clock.now)).rows.count
        }
        #expect(try claimable() == 0, "no confirmation sent yet")
        let (p, row) = try w.treasurer.pledge(declared.id.hex)
        // Only a node that can open the declaration can sign its confirmation.
        #expect(throws: WhipError.self) { try w.hub.confirmGiftAid(p, of: row, sent: today) }
        let confirmed = try w.treasurer.confirmGiftAid(p, of: row, sent: today)
        try w.spread(from: w.treasurer)
        #expect(try w.observer.store.ruleCode(event: confirmed.id) == "applied")
        #expect(try claimable() == 0, "the donor's 30 days to cancel")
        w.clock.advance(Int64(31 * Self.day))
        #expect(try claimable() == 1)
    }
}
