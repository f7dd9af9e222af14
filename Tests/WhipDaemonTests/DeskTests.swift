import Foundation
import Logging
import Testing
import WhipCore
import WhipCrypto
import WhipNode
import WhipStore
import WhipTestSupport

/// Pledge desks as the application API offers them (issue 10): pairing, sessions, idempotent pledges, undo, and
/// the desk's name sealed to the organisers without a change to the signed format.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DeskTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let minute: UInt64 = 60_000

    /// A hub (founder) with a live campaign, and a second node that is a member without a role.
    struct Hall {
        let clock = ManualClock()
        let hub: Node
        let stranger: Node
        let info: CommunityInfo
        let campaign: CampaignRow

        init() throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-desk-\(UUID().uuidString)").path
            let clock = self.clock
            hub = try Node.initialise(dir: DataDir(path: base + "/hub"), name: "hub", logger: DeskTests.logger, clock: { clock.now })
            stranger = try Node.initialise(dir: DataDir(path: base + "/stranger"), name: "s", logger: DeskTests.logger, clock: { clock.now })
            info = try hub.createCommunity(name: "Elm Street")
            _ = try stranger.join(hub.invite(info))
            let created = try hub.emit(
                info.id,
                .campaignCreated(
                    CampaignCreated(
                        title: "Pool roof", description: "", goal: 100_000, currency: Currency(code: "GBP")!, model: .keepWhatYouRaise, opens: 0,
                        closes: clock.now + 10 * 86_400_000, timeZone: "Europe/London", organisers: [])))
            _ = try hub.emit(info.id, .campaignPublished(CampaignRef(campaign: created.id)))
            _ = try stranger.importBundle(hub.exportBundle(community: info.id).bytes)
            campaign = try hub.campaign(created.id.hex)
        }
    }

    @Test func aDeskIsOpenedOnlyByANodeThatMayRecordPledgesAndOnlyForALiveCampaign() throws {
        let h = try Hall()
        let refused = #expect(throws: WhipError.self) {
            try h.stranger.openDesk(campaign: try h.stranger.campaign(h.campaign.id.hex), name: "Tombola", until: nil)
        }
        #expect(refused?.code == .permissionDenied && refused?.message.contains("--role collector") == true)
        let pairing = try h.hub.openDesk(campaign: h.campaign, name: "  Tombola stall ", until: nil)
        #expect(pairing.desk.name == "Tombola stall")
        #expect(pairing.code.count == 14 && pairing.code.split(separator: "-").count == 3)
        let twice = #expect(throws: WhipError.self) { try h.hub.openDesk(campaign: h.campaign, name: "Tombola stall", until: nil) }
        #expect(twice?.code == .alreadyExists)
        #expect(throws: WhipError.self) { try h.hub.openDesk(campaign: h.campaign, name: "", until: nil) }
        #expect(throws: WhipError.self) { try h.hub.openDesk(campaign: h.campaign, name: String(repeating: "x", count: 41), until: nil) }
        #expect(throws: WhipError.self) { try h.hub.openDesk(campaign: h.campaign, name: "Late", until: h.clock.now) }
        // Closed, the name is free again.
        try h.hub.closeDesk(name: "Tombola stall")
        _ = try h.hub.openDesk(campaign: h.campaign, name: "Tombola stall", until: nil)
        #expect(try h.hub.desks(includeClosed: true).count == 2 && h.hub.desks().count == 1)
        let missing = #expect(throws: WhipError.self) { try h.hub.closeDesk(name: "Tombola") }
        #expect(missing?.code == .notFound && missing?.message.contains("open desks: Tombola stall") == true)
    }

    @Test func aPairingCodeWorksOnceAndOnlyBeforeItExpires() throws {
        let h = try Hall()
        let pairing = try h.hub.openDesk(campaign: h.campaign, name: "Cakes", until: nil)
        // Typed in lower case, with O for 0 and spaces: still the code.
        let typed = pairing.code.lowercased().replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: "0", with: "o")
        let session = try h.hub.redeemDeskCode(typed)
        #expect(session.desk.name == "Cakes" && session.token.count >= 40 && session.csrf.count >= 30)
        #expect(try h.hub.deskSession(token: session.token).desk.id == pairing.desk.id)
        let again = #expect(throws: WhipError.self) { try h.hub.redeemDeskCode(pairing.code) }
        #expect(again?.code == .permissionDenied)
        #expect(throws: WhipError.self) { try h.hub.redeemDeskCode("not a code") }
        let late = try h.hub.pairDesk(name: "Cakes")
        h.clock.advance(Int64(Desk.codeLifetimeMs))
        #expect(throws: WhipError.self) { try h.hub.redeemDeskCode(late.code) }
        // A forged cookie is nobody's session.
        let forged = #expect(throws: WhipError.self) { try h.hub.deskSession(token: session.token + "x") }
        #expect(forged?.code == .notFound)
    }

    @Test func aClosedOrExpiredDeskRefusesItsPhones() throws {
        let h = try Hall()
        let closing = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Gate", until: nil).code)
        let expiring = try h.hub.redeemDeskCode(
            try h.hub.openDesk(campaign: h.campaign, name: "Pool", until: h.clock.now + 60 * Self.minute).code)
        try h.hub.closeDesk(name: "Gate")
        let closed = #expect(throws: WhipError.self) { try h.hub.deskSession(token: closing.token) }
        #expect(closed?.message.contains("closed") == true)
        #expect(try h.hub.deskSession(token: expiring.token).desk.name == "Pool")
        h.clock.advance(Int64(60 * Self.minute))
        let expired = #expect(throws: WhipError.self) { try h.hub.deskSession(token: expiring.token) }
        #expect(expired?.message.contains("expired") == true)
        // Nothing new is recorded through a session that was valid a moment ago; a resend of a pledge recorded
        // before the desk closed still gets its receipt.
        #expect(throws: WhipError.self) { try h.hub.takeDeskPledge(expiring, DeskPledgeRequest(key: "key-00000001", name: "Ann", amount: "5")) }
        #expect(try h.hub.campaign(h.campaign.id.hex).backers == 0)
        // An expired desk keeps its name until it is closed; closing it frees the name, and closing twice is refused.
        #expect(throws: WhipError.self) { try h.hub.openDesk(campaign: h.campaign, name: "Pool", until: nil) }
        #expect(try h.hub.closeDesk(name: "Pool").closed != nil)
        let twice = #expect(throws: WhipError.self) { try h.hub.closeDesk(name: "Pool") }
        #expect(twice?.code == .rejected)
        _ = try h.hub.openDesk(campaign: h.campaign, name: "Pool", until: nil)
        let before = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Bar", until: nil).code)
        let taken = try h.hub.takeDeskPledge(before, DeskPledgeRequest(key: "key-00000002", name: "Bo", amount: "5"))
        try h.hub.closeDesk(name: "Bar")
        let resent = try h.hub.takeDeskPledge(before, DeskPledgeRequest(key: "key-00000002", name: "Bo", amount: "5"))
        #expect(resent.duplicate && resent.pledge.id == taken.pledge.id)
        #expect(throws: WhipError.self) { try h.hub.takeDeskPledge(before, DeskPledgeRequest(key: "key-00000003", name: "Bo", amount: "5")) }
        #expect(try h.hub.campaign(h.campaign.id.hex).backers == 1)
    }

    /// Pledges from several desks committed in one transaction: a key sent twice in the same group is recorded once,
    /// a desk closed between the check and the commit is refused, and the others are kept.
    @Test func aGroupCommitRecordsEachPledgeOnceAndRefusesOnlyWhatItMust() throws {
        let h = try Hall()
        let a = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Gate", until: nil).code)
        let b = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Bar", until: nil).code)
        let first = try h.hub.prepareDeskPledge(a, DeskPledgeRequest(key: "gate-0001", name: "Ann", amount: "5"))
        let twice = try h.hub.prepareDeskPledge(a, DeskPledgeRequest(key: "gate-0001", name: "Ann", amount: "5"))
        let atBar = try h.hub.prepareDeskPledge(b, DeskPledgeRequest(key: "bar-00001", name: "Bo", amount: "7"))
        let last = try h.hub.prepareDeskPledge(a, DeskPledgeRequest(key: "gate-0002", name: "Cy", amount: "9"))
        try h.hub.closeDesk(name: "Bar")
        let results = try h.hub.commitDeskPledges([first, twice, atBar, last])
        let one = try results[0].get()
        let again = try results[1].get()
        #expect(!one.duplicate && again.duplicate && again.id == one.id)
        #expect(throws: WhipError.self) { try results[2].get() }
        if case .failure(let e) = results[2] { #expect(e.code == .rejected && e.message.contains("'Bar' was closed")) }
        #expect(try results[3].get().duplicate == false)
        let c = try h.hub.campaign(h.campaign.id.hex)
        #expect(c.backers == 2 && c.pledged.minor == 1_400)
        // The refused pledge left nothing behind: its key is free, and a resend of the others records nothing.
        #expect(try h.hub.store.deskPledge(desk: b.desk.id, key: "bar-00001") == nil)
        let resent = try h.hub.commitDeskPledges([first, last]).map { try $0.get() }
        #expect(resent.allSatisfy { $0.duplicate })
        #expect(try h.hub.campaign(h.campaign.id.hex).backers == 2)
    }

    /// The authority a node reads is cached between community-level events: a role granted later is seen at once.
    @Test func aRoleGrantedAfterARefusalIsSeen() throws {
        let h = try Hall()
        let stranger = try h.stranger.campaign(h.campaign.id.hex)
        #expect(throws: WhipError.self) { try h.stranger.openDesk(campaign: stranger, name: "Gate", until: nil) }
        _ = try h.hub.grant(h.info, member: h.stranger.identity.publicKey, role: .collector, expires: nil)
        _ = try h.stranger.importBundle(h.hub.exportBundle(community: h.info.id).bytes)
        #expect(try h.stranger.openDesk(campaign: stranger, name: "Gate", until: nil).desk.name == "Gate")
    }

    @Test func aRepeatedKeyNeverRecordsAPledgeTwice() throws {
        let h = try Hall()
        let s = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Tombola", until: nil).code)
        var r = DeskPledgeRequest(key: "phone-a-0001", name: "Ann Oak", amount: "12.50")
        r.paid = .cash
        r.contact = Contact(email: "ann@example.org")
        let first = try h.hub.takeDeskPledge(s, r)
        #expect(!first.duplicate && first.pledge.amount.minor == 1_250 && first.campaign.backers == 1)
        #expect(first.reference.count == 9 && first.pledge.id.hex.uppercased().hasPrefix(first.reference.replacingOccurrences(of: "-", with: "")))
        let again = try h.hub.takeDeskPledge(s, r)
        #expect(again.duplicate && again.pledge.id == first.pledge.id && again.campaign.backers == 1)
        // The organiser (the hub) opens the contact part and sees which desk took it.
        let contact = try #require(h.hub.openContact(first.pledge.contact))
        #expect(contact.desk == "Tombola" && contact.email == "ann@example.org")
        #expect(try h.hub.desks().first?.pledges == 1)
    }

    @Test func badRequestsStoreNothing() throws {
        let h = try Hall()
        let s = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Tombola", until: nil).code)
        let bad: [(DeskPledgeRequest, String)] = [
            (DeskPledgeRequest(key: "short", name: "Ann", amount: "5"), "key"),
            (DeskPledgeRequest(key: "key-000000001", name: " ", amount: "5"), "name"),
            (DeskPledgeRequest(key: "key-000000002", name: "Ann", amount: "5.001"), "2 decimal places"),
            (DeskPledgeRequest(key: "key-000000003", name: "Ann", amount: "0"), "amount"),
            (DeskPledgeRequest(key: "key-000000004", name: "Ann", amount: "-5"), "positive"),
            (DeskPledgeRequest(key: "key/0000005", name: "Ann", amount: "5"), "key"),
            (DeskPledgeRequest(key: "key-000000006", name: String(repeating: "n", count: 5_000), amount: "5"), "name"),
        ]
        for (request, words) in bad {
            let e = #expect(throws: WhipError.self) { try h.hub.takeDeskPledge(s, request) }
            #expect(e?.message.contains(words) == true, "\(request.key): \(e?.message ?? "")")
        }
        var wrongTier = DeskPledgeRequest(key: "key-000000007", name: "Ann", amount: "5")
        wrongTier.tier = String(repeating: "ab", count: 32)
        #expect(throws: WhipError.self) { try h.hub.takeDeskPledge(s, wrongTier) }
        #expect(try h.hub.campaign(h.campaign.id.hex).backers == 0)
    }

    @Test func undoWithdrawsTheDesksOwnLastPledge() throws {
        let h = try Hall()
        let s = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Tombola", until: nil).code)
        let other = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Gate", until: nil).code)
        let a = try h.hub.takeDeskPledge(s, DeskPledgeRequest(key: "phone-a-0001", name: "Ann", amount: "5"))
        h.clock.advance(1_000)
        let b = try h.hub.takeDeskPledge(s, DeskPledgeRequest(key: "phone-a-0002", name: "Bob", amount: "7"))
        _ = try h.hub.takeDeskPledge(other, DeskPledgeRequest(key: "phone-b-0001", name: "Cy", amount: "9"))
        let undone = try h.hub.undoLastDeskPledge(s)
        #expect(undone.pledge.id == b.pledge.id && undone.pledge.status == "withdrawn" && undone.campaign.backers == 2)
        #expect(try h.hub.undoLastDeskPledge(s).pledge.id == a.pledge.id)
        let none = #expect(throws: WhipError.self) { try h.hub.undoLastDeskPledge(s) }
        #expect(none?.code == .notFound)
        #expect(try h.hub.campaign(h.campaign.id.hex).backers == 1)
        // A paid pledge cannot be withdrawn by the rules: the organiser's node rejects it instead.
        var paid = DeskPledgeRequest(key: "phone-a-0003", name: "Di", amount: "20")
        paid.paid = .cash
        _ = try h.hub.takeDeskPledge(s, paid)
        let rejected = try h.hub.undoLastDeskPledge(s)
        #expect(rejected.pledge.status == "rejected" && rejected.campaign.backers == 1)
    }

    /// The contact part of the release before desks, which knew no `desk` key.
    struct ContactBeforeDesks: Codable, Equatable {
        var name: String?
        var email: String?
        var phone: String?
        var address: String?
        var giftAid: Bool
    }

    @Test func theDeskNameNeedsNoFormatChangeAndOldNodesConverge() throws {
        let h = try Hall()
        let s = try h.hub.redeemDeskCode(try h.hub.openDesk(campaign: h.campaign, name: "Tombola", until: nil).code)
        var r = DeskPledgeRequest(key: "phone-a-0001", name: "Ann", amount: "5")
        r.contact.phone = "07700 900123"
        let taken = try h.hub.takeDeskPledge(s, r)
        // The event is an ordinary version-2 pledge; the previous release's decoder reads its sealed contact.
        let mine = try #require(taken.pledge.contact.first { $0.recipient == h.hub.identity.publicKey })
        let plain = try #require(SealedPart.unpad(try h.hub.identity.openSealed(mine.ciphertext)))
        let old = try JSONDecoder().decode(ContactBeforeDesks.self, from: Data(plain))
        #expect(old == ContactBeforeDesks(name: nil, email: nil, phone: "07700 900123", address: nil, giftAid: false))
        // Another replica (which knows nothing of desks) applies it and reaches the same digest.
        _ = try h.stranger.importBundle(h.hub.exportBundle(community: h.info.id).bytes)
        let id = KeyText.encode(h.info.id, as: .community)
        #expect(try h.stranger.community(id).digest == h.hub.community(id).digest)
        #expect(try h.stranger.campaign(h.campaign.id.hex).backers == 1)
    }
}
