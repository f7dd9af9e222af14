import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import WhipCore
import WhipNode
import WhipStore
import WhipTestSupport

@testable import WhipWeb

/// Online offers (issue 11): off by default, kept at this node, counted only once an organiser accepts one, which
/// records exactly one signed pledge with channel `online`.
@Suite(.serialized, .timeLimit(.minutes(5))) struct OnlineOfferTests {
    struct Fixture {
        let base: ConsoleTests.Fixture
        let campaign: CampaignRow
        var node: Node { base.node }

        init(limits: WebConfig.Limits = WebConfig.Limits()) throws {
            base = try ConsoleTests.Fixture(limits: limits)
            let info = try base.node.community(nil)
            var form = CampaignForm(title: "Mend the bandstand", goal: "800", closes: "2027-12-31")
            form.timeZone = "Europe/London"
            let id = try base.node.createCampaign(form, in: info).id
            _ = try base.node.addTier(try base.node.campaign(id.hex), title: "Plaque", minimum: "50", limit: 3, description: nil, benefit: nil)
            _ = try base.node.emit(info.id, .campaignPublished(CampaignRef(campaign: id)))
            campaign = try base.node.campaign(id.hex)
        }

        /// GETs the form; returns the cookie header and the form's token.
        func open(_ client: some TestClientProtocol) async throws -> (cookie: String, csrf: String) {
            try await client.execute(uri: "/campaigns/\(campaign.id.hex)/offer", method: .get) { r in
                #expect(r.status == .ok)
                let set = try #require(r.headers[.setCookie])
                #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict"))
                return (String(set.split(separator: ";")[0]), try #require(ConsoleTests.field("csrf", in: String(buffer: r.body))))
            }
        }

        func send(_ client: some TestClientProtocol, _ fields: [(String, String)], cookie: String) async throws -> TestResponse {
            try await base.post(client, "/campaigns/\(campaign.id.hex)/offer", fields, cookie: cookie)
        }
    }

    @Test func theFormIsOffUntilAnOrganiserTurnsItOn() async throws {
        let f = try Fixture()
        try await f.base.app.test(.router) { client in
            try await client.execute(uri: "/campaigns/\(f.campaign.id.hex)/offer", method: .get) { r in #expect(r.status == .notFound) }
            let r = try await f.send(client, [("csrf", "x"), ("name", "Ann"), ("amount", "10")], cookie: "wr_offer=x")
            #expect(r.status == .notFound)
            #expect(try f.node.store.onlineOffers(campaign: f.campaign.id).isEmpty)
            let (cookie, csrf) = try await f.base.signIn(client)
            let on = try await f.base.post(
                client, "/console/campaigns/\(f.campaign.id.hex)/online", [("csrf", csrf), ("enabled", "on")], cookie: cookie)
            #expect(on.status == .seeOther)
            try await client.execute(uri: "/campaigns/\(f.campaign.id.hex)/offer", method: .get) { r in #expect(r.status == .ok) }
            let off = try await f.base.post(client, "/console/campaigns/\(f.campaign.id.hex)/online", [("csrf", csrf)], cookie: cookie)
            #expect(off.status == .seeOther)
            try await client.execute(uri: "/campaigns/\(f.campaign.id.hex)/offer", method: .get) { r in #expect(r.status == .notFound) }
        }
    }

    @Test func anAcceptedOfferBecomesOneSignedOnlinePledge() async throws {
        let f = try Fixture()
        try f.node.setOnlineOffers(f.campaign, enabled: true)
        try await f.base.app.test(.router) { client in
            let (cookie, csrf) = try await f.open(client)
            let sent = try await f.send(
                client, [("csrf", csrf), ("name", "Ann Oak"), ("email", "ann@example.org"), ("amount", "60"), ("tier", "")], cookie: cookie)
            #expect(sent.status == .created)
            let page = String(buffer: sent.body)
            #expect(page.contains("not a pledge yet") && page.contains("does not count towards the total"))
            let reference = try #require(page.range(of: "id=\"offer-reference\">").map { String(page[$0.upperBound...].prefix(9)) })
            #expect(try f.node.campaign(f.campaign.id.hex).pledged.minor == 0, "an offer moves no total")
            #expect(try f.node.store.pledges(campaign: f.campaign.id).isEmpty)

            let (console, token) = try await f.base.signIn(client)
            try await client.execute(uri: "/console/campaigns/\(f.campaign.id.hex)", method: .get, headers: [.cookie: console]) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("Ann Oak") && html.contains("ann@example.org") && html.contains(reference))
            }
            let accepted = try await f.base.post(client, "/console/offers/\(reference)/accept", [("csrf", token)], cookie: console)
            #expect(accepted.status == .seeOther)
            let again = try await f.base.post(client, "/console/offers/\(reference)/accept", [("csrf", token)], cookie: console)
            #expect(again.status == .notFound)
            let pledges = try f.node.store.pledges(campaign: f.campaign.id)
            #expect(pledges.count == 1)
            #expect(pledges.first.map { ($0.publicName, $0.channel, $0.amount.minor) } ?? ("", "", 0) == ("Ann Oak", "online", 6_000))
            #expect(f.node.openContact(pledges[0].contact)?.email == "ann@example.org", "the email travels sealed to the organisers")
            #expect(try f.node.campaign(f.campaign.id.hex).pledged.minor == 6_000)
            let kept = try #require(try f.node.store.onlineOffer(reference: reference))
            #expect(kept.status == "accepted" && kept.name == nil && kept.email == nil && kept.pledge == pledges[0].id)
        }
    }

    @Test func aDeclinedOfferLeavesNoNameBehind() async throws {
        let f = try Fixture()
        try f.node.setOnlineOffers(f.campaign, enabled: true)
        let o = try f.node.submitOnlineOffer(f.campaign, OnlineOfferForm(name: "Bob Ash", email: "bob@example.org", amount: "5"))
        try f.node.declineOnlineOffer(reference: o.reference)
        let kept = try #require(try f.node.store.onlineOffer(reference: o.reference))
        #expect(kept.status == "declined" && kept.name == nil && kept.email == nil)
        #expect(throws: WhipError.self) { try f.node.acceptOnlineOffer(reference: o.reference) }
        #expect(try f.node.store.pledges(campaign: f.campaign.id).isEmpty)
    }

    @Test func botsForgedFormsBadInputAndFloodsAreRefused() async throws {
        var limits = WebConfig.Limits()
        limits.offersPerMinutePerAddress = 4
        let f = try Fixture(limits: limits)
        try f.node.setOnlineOffers(f.campaign, enabled: true)
        try await f.base.app.test(.router) { client in
            let (cookie, csrf) = try await f.open(client)
            // The hidden field: thanked, nothing kept.
            let bot = try await f.send(client, [("csrf", csrf), ("name", "Bot"), ("amount", "10"), ("website", "http://spam")], cookie: cookie)
            // A real visitor's reply, to the letter: status, thanks, a reference and the amount in the campaign's currency.
            let botPage = String(buffer: bot.body)
            #expect(bot.status == .created && botPage.contains("Thank you") && botPage.contains("£10.00"))
            #expect(botPage.firstMatch(of: #/id="offer-reference">[0-9A-Z]{4}-[0-9A-Z]{4}</#) != nil)
            // Another site's form cannot carry this browser's token.
            let forged = try await f.send(client, [("csrf", "forged"), ("name", "Eve"), ("amount", "10")], cookie: cookie)
            #expect(forged.status == .forbidden)
            // Wrong input is explained and what was typed is kept.
            let wrong = try await f.send(client, [("csrf", csrf), ("name", "Ann"), ("email", "not-an-email"), ("amount", "10")], cookie: cookie)
            #expect(wrong.status == .badRequest)
            let html = String(buffer: wrong.body)
            #expect(html.contains("does not look like an email address") && html.contains("value=\"Ann\""))
            // The fourth is kept; the fifth from one address in a minute is refused.
            let fourth = try await f.send(client, [("csrf", csrf), ("name", "Ann"), ("amount", "10")], cookie: cookie)
            #expect(fourth.status == .created)
            let flood = try await f.send(client, [("csrf", csrf), ("name", "Ann"), ("amount", "10")], cookie: cookie)
            #expect(flood.status == .tooManyRequests)
            #expect(try f.node.store.onlineOffers(campaign: f.campaign.id).map(\.name) == ["Ann"])
        }
        let plaque = try f.node.store.tiers(campaign: f.campaign.id)[0].id.hex
        for (form, message) in [
            (OnlineOfferForm(name: " ", amount: "10"), "give your name"),
            (OnlineOfferForm(name: "Ann", amount: "0"), "more than zero"),
            (OnlineOfferForm(name: "Ann", amount: "20000"), "at most"),
            (OnlineOfferForm(name: "Ann", amount: "10", tier: plaque), "needs at least"),
            (OnlineOfferForm(name: "Ann", amount: "10", tier: "00"), "not one of this campaign's"),
        ] {
            #expect(throws: WhipError.self, "\(message)") { try f.node.submitOnlineOffer(f.campaign, form) }
            do { _ = try f.node.submitOnlineOffer(f.campaign, form) } catch { #expect(error.message.contains(message), "\(error.message)") }
        }
    }

    @Test func waitingOffersAreCappedPerCampaign() throws {
        let f = try Fixture()
        let row = { (n: Int) in
            OnlineOfferRow(
                reference: "R\(n)", campaign: f.campaign.id, received: 0, name: "n", anonymous: false, email: nil, amountMinor: 100, tier: nil)
        }
        #expect(try f.node.store.insertOnlineOffer(row(1), max: 2))
        #expect(try f.node.store.insertOnlineOffer(row(2), max: 2))
        #expect(try !f.node.store.insertOnlineOffer(row(3), max: 2))
        #expect(OnlineOffers.maxWaitingPerCampaign == 500)
    }

    @Test func aHostileNameIsTextOnTheThanksPageAndInTheConsole() async throws {
        let f = try Fixture()
        try f.node.setOnlineOffers(f.campaign, enabled: true)
        let evil = "<script>alert(1)</script>"
        try await f.base.app.test(.router) { client in
            let (cookie, csrf) = try await f.open(client)
            let sent = try await f.send(client, [("csrf", csrf), ("name", evil), ("amount", "10")], cookie: cookie)
            #expect(sent.status == .created && !String(buffer: sent.body).contains("<script>"))
            let (console, _) = try await f.base.signIn(client)
            try await client.execute(uri: "/console/campaigns/\(f.campaign.id.hex)", method: .get, headers: [.cookie: console]) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("&lt;script&gt;") && !html.contains("<script>alert"))
            }
        }
    }
}
