import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

@Suite("Rules: who may do what, and when", .timeLimit(.minutes(10)))
struct AuthorityRuleTests {
    @Test("a pledge by someone without a role is rejected as unauthorised")
    func strangerPledge() throws {
        var s = Scenario()
        let bad = s.make(K.stranger, s.pledge("Eve", 1_000))
        let good = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let st = s.state([bad, good])
        #expect(st.code(bad) == "unauthorised")
        #expect(st.code(good) == "applied")
        let c = try #require(st.campaign(s.campaign))
        #expect(c.pledged == 1_000)
        #expect(c.backers == 1)
        #expect(c.pledges[bad.id] == nil)
    }

    @Test("collectors and strangers cannot create campaigns; organisers, the founder and the community key can")
    func whoCreatesCampaigns() {
        var s = Scenario()
        let byCollector = s.make(K.collectorA, newCampaign("Collector's"))
        let byStranger = s.make(K.stranger, newCampaign("Stranger's"))
        let byOrganiser = s.make(K.organiser, newCampaign("Organiser's"))
        let byFounder = s.make(K.founder, newCampaign("Founder's"))
        let byCommunity = s.make(K.community, newCampaign("Community's"))
        let st = s.state([byCollector, byStranger, byOrganiser, byFounder, byCommunity])
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(byStranger) == "unauthorised")
        #expect(st.campaign(byCollector.id) == nil)
        #expect(st.code(byOrganiser) == "applied")
        #expect(st.code(byFounder) == "applied")
        #expect(st.code(byCommunity) == "applied")
        #expect(st.campaign(byOrganiser.id)?.organisers == [K.organiser.publicKey])
    }

    @Test("an admin appointed by the founder may grant organiser and collector, but not admin")
    func adminRights() {
        var s = Scenario()
        let admin = K.key(0xAD)
        let newOrganiser = K.key(0x0B)
        let early = s.make(admin, .roleGranted(RoleGranted(member: newOrganiser.publicKey, role: .collector)))
        s.factory.tick()
        let appoint = s.make(K.founder, .roleGranted(RoleGranted(member: admin.publicKey, role: .admin)))
        s.factory.tick()
        let grantOrganiser = s.make(admin, .roleGranted(RoleGranted(member: newOrganiser.publicKey, role: .organiser)))
        let grantAdmin = s.make(admin, .roleGranted(RoleGranted(member: K.stranger.publicKey, role: .admin)))
        let revokeAdmin = s.make(admin, .roleRevoked(RoleRevoked(member: admin.publicKey, role: .admin)))
        let byOrganiser = s.make(K.organiser, .roleGranted(RoleGranted(member: K.stranger.publicKey, role: .collector)))
        let byCollector = s.make(K.collectorA, .roleGranted(RoleGranted(member: K.stranger.publicKey, role: .collector)))
        s.factory.tick()
        let created = s.make(newOrganiser, newCampaign("Newcomer's"))
        let strangerPledge = s.make(K.stranger, s.pledge("Eve", 500))
        let adminEdit = s.make(admin, s.update { $0.title = "Edited by the admin" })
        let st = s.state([early, appoint, grantOrganiser, grantAdmin, revokeAdmin, byOrganiser, byCollector, created, strangerPledge, adminEdit])
        #expect(st.code(early) == "unauthorised")  // ordered before the appointment
        #expect(st.code(appoint) == "applied")
        #expect(st.code(grantOrganiser) == "applied")
        #expect(st.code(grantAdmin) == "unauthorised")
        #expect(st.code(revokeAdmin) == "unauthorised")
        #expect(st.code(byOrganiser) == "unauthorised")
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(created) == "applied")
        #expect(st.code(strangerPledge) == "unauthorised")  // the admin's grant of admin never happened
        #expect(st.code(adminEdit) == "applied")  // an admin may edit any campaign
        #expect(st.campaign(s.campaign)?.title == "Edited by the admin")
    }

    @Test("a revoked collector's events before the revocation stay applied; after it they are rejected")
    func revocation() throws {
        var s = Scenario()
        let before = s.make(K.collectorA, s.pledge("Bob", 1_000))
        let beforeCollect = s.make(K.collectorA, s.pledge("Cat", 400))
        s.factory.tick()
        let revoke = s.make(K.founder, .roleRevoked(RoleRevoked(member: K.collectorA.publicKey, role: .collector)))
        s.factory.tick()
        let after = s.make(K.collectorA, s.pledge("Dan", 2_000))
        let collectAfter = s.make(K.collectorA, s.collect(beforeCollect, 400))
        let reviseAfter = s.make(K.collectorA, s.revise(before, amount: 9_000))
        let withdrawAfter = s.make(K.collectorA, s.withdraw(before))
        let events = [after, revoke, collectAfter, reviseAfter, withdrawAfter, before, beforeCollect]
        // Delivered in a scrambled order, the outcome is decided by the order keys alone.
        for st in [s.state(events), derive(events.reversed() + s.events.reversed())] {
            #expect(st.code(before) == "applied")
            #expect(st.code(beforeCollect) == "applied")
            #expect(st.code(revoke) == "applied")
            #expect(st.code(after) == "unauthorised")
            #expect(st.code(collectAfter) == "unauthorised")
            #expect(st.code(reviseAfter) == "unauthorised")
            #expect(st.code(withdrawAfter) == "unauthorised")
            let c = try #require(st.campaign(s.campaign))
            #expect(c.pledged == 1_400)
            #expect(c.collected == 0)
            #expect(c.pledges[before.id]?.amount == 1_000)
            #expect(c.pledges[before.id]?.status == .active)
        }
        // A grant after the revocation restores the right from then on.
        s.factory.tick()
        let regrant = s.make(K.founder, .roleGranted(RoleGranted(member: K.collectorA.publicKey, role: .collector)))
        s.factory.tick()
        let again = s.make(K.collectorA, s.pledge("Eve", 700))
        let st = s.state(events + [regrant, again])
        #expect(st.code(again) == "applied")
        #expect(st.code(after) == "unauthorised")
    }

    @Test("an expired grant stops events stamped at or after the expiry; earlier ones stay applied")
    func expiry() throws {
        var s = Scenario()
        let temp = K.key(0x1C)
        let expires = s.factory.now + 1_000
        let grant = s.make(K.founder, .roleGranted(RoleGranted(member: temp.publicKey, role: .collector, expires: expires)))
        let inTime = s.make(temp, s.pledge("Bob", 1_000), at: HLC(wall: expires - 1, counter: 7))
        let atExpiry = s.make(temp, s.pledge("Cat", 1_000), at: HLC(wall: expires))
        let later = s.make(temp, s.pledge("Dan", 1_000), at: HLC(wall: expires + 60_000))
        let st = s.state([later, atExpiry, inTime, grant])
        #expect(st.code(grant) == "applied")
        #expect(st.code(inTime) == "applied")
        #expect(st.code(atExpiry) == "unauthorised")
        #expect(st.code(later) == "unauthorised")
        #expect(try #require(st.campaign(s.campaign)).pledged == 1_000)
        // An expired admin cannot grant any more.
        let admin = K.key(0xAD)
        let appoint = s.make(K.founder, .roleGranted(RoleGranted(member: admin.publicKey, role: .admin, expires: expires)))
        let lateGrant = s.make(admin, .roleGranted(RoleGranted(member: K.stranger.publicKey, role: .collector)), at: HLC(wall: expires + 1))
        let st2 = s.state([appoint, lateGrant])
        #expect(st2.code(appoint) == "applied")
        #expect(st2.code(lateGrant) == "unauthorised")
    }

    @Test("the founder and the community key cannot lose their rights")
    func rootCannotBeRevoked() {
        var s = Scenario()
        let admin = K.key(0xAD)
        let appoint = s.make(K.founder, .roleGranted(RoleGranted(member: admin.publicKey, role: .admin)))
        s.factory.tick()
        let revokeFounder = s.make(admin, .roleRevoked(RoleRevoked(member: K.founder.publicKey, role: .organiser)))
        s.factory.tick()
        let founderCampaign = s.make(K.founder, newCampaign("Still mine"))
        let founderGrant = s.make(K.founder, .roleGranted(RoleGranted(member: K.stranger.publicKey, role: .admin)))
        let st = s.state([appoint, revokeFounder, founderCampaign, founderGrant])
        #expect(st.code(revokeFounder) == "applied")
        #expect(st.code(founderCampaign) == "applied")
        #expect(st.code(founderGrant) == "applied")
    }

    @Test("the genesis must be signed by the community key, exactly once, before any role event")
    func genesis() {
        var f = EventFactory()
        let forged = f.make(K.founder, .communityCreated(CommunityCreated(name: "Mine", founder: K.founder.publicKey)))
        let grantTooEarly = f.make(K.founder, .roleGranted(RoleGranted(member: K.collectorA.publicKey, role: .collector)))
        f.tick()
        let genesis = f.make(K.community, .communityCreated(CommunityCreated(name: "Elm Street", founder: K.founder.publicKey)))
        f.tick()
        let second = f.make(K.community, .communityCreated(CommunityCreated(name: "Other", founder: K.stranger.publicKey)))
        let byStranger = f.make(K.stranger, .roleGranted(RoleGranted(member: K.stranger.publicKey, role: .organiser)))
        let st = derive([second, byStranger, grantTooEarly, genesis, forged])
        #expect(st.code(forged) == "bad_genesis")
        #expect(st.code(grantTooEarly) == "unknown_community")
        #expect(st.code(genesis) == "applied")
        #expect(st.code(second) == "duplicate_genesis")
        #expect(st.code(byStranger) == "unauthorised")
        #expect(st.authority.name == "Elm Street")
        #expect(st.authority.founder == K.founder.publicKey)
        // Without a genesis nobody has any right.
        let noGenesis = derive(Scenario().events.filter { $0.kind != .communityCreated })
        #expect(noGenesis.campaigns.isEmpty)
    }

    @Test("the authority timeline is a function of the event set: duplicates and order change nothing")
    func authorityIsASetFunction() {
        var s = Scenario()
        let revoke = s.make(K.founder, .roleRevoked(RoleRevoked(member: K.collectorB.publicKey, role: .collector)))
        let regrant = s.make(K.founder, .roleGranted(RoleGranted(member: K.collectorB.publicKey, role: .collector, expires: 1_900_000_000_000)))
        let levels = (s.events + [revoke, regrant]).filter { Authority.isCommunityLevel($0.kind) }
        let once = Authority(community: K.community.publicKey, events: levels)
        #expect(Authority(community: K.community.publicKey, events: levels.reversed()) == once)
        #expect(Authority(community: K.community.publicKey, events: levels + levels.reversed()) == once)
        let entries = once.timeline.first { $0.key.member == K.collectorB.publicKey && $0.key.role == .collector }?.value
        #expect(entries?.map(\.granted) == [true, false, true])
        #expect(
            !once.has(
                .collector, K.collectorB.publicKey, at: OrderKey(hlc: HLC(wall: 1_900_000_000_000), author: [], id: []), wall: 1_900_000_000_000))
    }
}
