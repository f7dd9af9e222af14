import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

/// `update.posted` (PROTOCOL.md §6.15): campaign news, its field limits and its rule.
@Suite("update.posted: limits and rule", .timeLimit(.minutes(5)))
struct UpdateTests {
    static func body(_ campaign: EventID, title: String = "The roof is fixed", text: String = "We met the roofer on **Saturday**.")
        -> EventBody
    {
        .updatePosted(UpdatePosted(campaign: campaign, title: title, text: text))
    }

    /// A correctly signed `update.posted` wire with the given title and text.
    static func wire(title: String, text: String) -> [UInt8] {
        Forge.wire(
            Forge.payload(
                author: K.organiser, kind: EventKind.updatePosted.rawValue,
                body: .map([(0, .bytes(Forge.campaign.bytes)), (1, .text(title)), (2, .text(text))])),
            by: K.organiser)
    }

    @Test("kind 15 round-trips through its canonical encoding")
    func roundTrip() throws {
        var s = Scenario()
        let e = s.make(K.organiser, Self.body(s.campaign, text: "Line one\n\n- a list\n- [link](https://example.org)"))
        #expect(e.kind.rawValue == 15 && e.kind.name == "update.posted")
        let back = try Event.decode(wire: e.wire)
        #expect(back.body == e.body && back.id == e.id && back.verifySignature())
        #expect(back.campaign == s.campaign)
        #expect(back.body.references == [s.campaign])
    }

    @Test("title and text: exactly at the limit accepted, one byte over refused")
    func limits() {
        let title = String(repeating: "é", count: EventLimits.maxUpdateTitleBytes / 2)  // 2 bytes each
        let text = String(repeating: "x", count: EventLimits.maxUpdateTextBytes - 1) + "\n"
        #expect(title.utf8.count == 120 && text.utf8.count == 7_000)
        let largest = Self.wire(title: title, text: text)
        #expect(decodeCode(largest) == "ok")
        #expect(largest.count <= EventLimits.maxEventBytes)
        #expect(decodeCode(Self.wire(title: title + "a", text: "ok")) == "decode.too_long")
        #expect(decodeCode(Self.wire(title: "News", text: text + "y")) == "decode.too_long")
    }

    @Test("text fields: control characters, line breaks in the title, empty values")
    func textChecks() {
        #expect(decodeCode(Self.wire(title: "News\nmore", text: "ok")) == "decode.control_char")
        #expect(decodeCode(Self.wire(title: "News", text: "one\ntwo\n\nthree")) == "ok")
        for bad in ["tab\there", "cr\r\n", "nul\u{0}", "esc\u{1B}[31m", "del\u{7F}"] {
            #expect(decodeCode(Self.wire(title: "News", text: bad)) == "decode.control_char", "\(bad.debugDescription)")
        }
        #expect(decodeCode(Self.wire(title: "", text: "ok")) == "decode.empty")
        #expect(decodeCode(Self.wire(title: "News", text: "")) == "decode.empty")
        let missing = Forge.wire(
            Forge.payload(
                author: K.organiser, kind: EventKind.updatePosted.rawValue, body: .map([(0, .bytes(Forge.campaign.bytes)), (1, .text("News"))])),
            by: K.organiser)
        #expect(decodeCode(missing) == "decode.missing_field")
        let extra = Forge.wire(
            Forge.payload(
                author: K.organiser, kind: EventKind.updatePosted.rawValue,
                body: .map([(0, .bytes(Forge.campaign.bytes)), (1, .text("News")), (2, .text("t")), (3, .unsigned(0))])),
            by: K.organiser)
        #expect(decodeCode(extra) == "decode.unknown_field")
    }

    @Test("an organiser posts to a live campaign; the update is in the campaign's state")
    func applied() throws {
        var s = Scenario()
        let news = s.make(K.organiser, Self.body(s.campaign))
        let st = s.state([news])
        #expect(st.code(news) == "applied")
        let u = try #require(st.campaign(s.campaign)?.updates[news.id])
        #expect(u.title == "The roof is fixed" && u.author == K.organiser.publicKey && u.postedAt == news.hlc)
    }

    @Test("refusals: not an organiser, a draft, a cancelled campaign, an unknown campaign")
    func refusals() throws {
        var s = Scenario()
        // A collector holds no right to edit the campaign; a stranger none at all.
        let byCollector = s.make(K.collectorA, Self.body(s.campaign))
        let byStranger = s.make(K.stranger, Self.body(s.campaign))
        // The founder is root, so an admin: allowed though not one of the campaign's organisers.
        let byFounder = s.make(K.founder, Self.body(s.campaign))
        let draft = s.make(K.organiser, newCampaign("Draft"))
        let toDraft = s.make(K.organiser, Self.body(draft.id))
        let doomed = s.make(K.organiser, newCampaign("Doomed"))
        let publish = s.make(K.organiser, .campaignPublished(CampaignRef(campaign: doomed.id)))
        let beforeCancel = s.make(K.organiser, Self.body(doomed.id))
        let cancel = s.make(K.organiser, .campaignCancelled(CampaignCancelled(campaign: doomed.id, reason: "Rained off")))
        let afterCancel = s.make(K.organiser, Self.body(doomed.id))
        let nowhere = s.make(K.organiser, Self.body(Forge.campaign))
        let st = s.state([byCollector, byStranger, byFounder, draft, toDraft, doomed, publish, beforeCancel, cancel, afterCancel, nowhere])
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(byStranger) == "unauthorised")
        #expect(st.code(byFounder) == "applied")
        #expect(st.code(toDraft) == "not_live")
        #expect(st.code(beforeCancel) == "applied")
        #expect(st.code(afterCancel) == "cancelled")
        #expect(st.code(nowhere) == "unknown_campaign")
        #expect(st.campaign(doomed.id)?.updates.keys.sorted() == [beforeCancel.id])
        #expect(st.campaign(draft.id)?.updates.isEmpty == true)
    }

    @Test("a closed campaign, funded or not, and one past its deadline still take updates")
    func afterTheClose() throws {
        var s = Scenario(closes: 1_798_761_700_000)
        let late = s.make(K.organiser, Self.body(s.campaign), at: HLC(wall: 1_798_761_700_000 + 86_400_000))
        let close = s.make(K.organiser, .campaignClosed(CampaignRef(campaign: s.campaign)), at: HLC(wall: 1_798_761_700_000 + 86_400_001))
        let afterClose = s.make(K.organiser, Self.body(s.campaign, title: "Spent"), at: HLC(wall: 1_798_761_700_000 + 86_400_002))
        let st = s.state([afterClose, close, late])
        #expect(st.code(late) == "applied" && st.code(afterClose) == "applied")
        #expect(st.campaign(s.campaign)?.updates.count == 2)
    }

    @Test("an organiser whose role was revoked can no longer post; updates before the revocation stand")
    func revocation() {
        var s = Scenario()
        let before = s.make(K.organiser, Self.body(s.campaign))
        let revoke = s.make(K.founder, .roleRevoked(RoleRevoked(member: K.organiser.publicKey, role: .organiser)))
        let after = s.make(K.organiser, Self.body(s.campaign, title: "Too late"))
        let st = s.state([after, revoke, before])
        #expect(st.code(before) == "applied")
        #expect(st.code(after) == "unauthorised")
    }

    @Test("an update changes the digest only through its own status")
    func digest() throws {
        var s = Scenario()
        let news = s.make(K.organiser, Self.body(s.campaign))
        let without = s.state([])
        let with = s.state([news])
        #expect(without.digest != with.digest)
        // The campaign's hashed state is the same: only the status sum and the event count differ.
        var c = try #require(with.campaign(s.campaign))
        c.updates = [:]
        #expect(c == without.campaign(s.campaign))
    }
}
