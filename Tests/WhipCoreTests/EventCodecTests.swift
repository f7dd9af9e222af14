import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

/// One event of every kind, with every optional field set, plus variants with the optional fields absent.
func sampleEvents() throws -> [Event] {
    var f = EventFactory()
    let campaign = EventID(bytes: [UInt8](repeating: 0xCA, count: 32))!
    let tier = EventID(bytes: [UInt8](repeating: 0x71, count: 32))!
    let pledge = EventID(bytes: [UInt8](repeating: 0x9D, count: 32))!
    let sealed = try SealedBox.seal(Array("bob@example.org".utf8), to: K.organiser.publicKey)
    let sealed2 = try SealedBox.seal(Array("bob@example.org".utf8), to: K.founder.publicKey)

    var update = CampaignUpdated(campaign: campaign)
    update.title = "Reopen the lido, again"
    update.description = "Line one\nline two"
    update.goal = 750_000
    update.currency = eur
    update.model = .keepWhatYouRaise
    update.opens = 1_798_761_600_000
    update.closes = 1_893_456_000_000
    update.timeZone = "America/Argentina/Buenos_Aires"
    update.organisers = [K.organiser.publicKey, K.founder.publicKey]
    var titleOnly = CampaignUpdated(campaign: campaign)
    titleOnly.title = "Just the title"

    var tierUpdate = TierUpdated(campaign: campaign, tier: tier)
    tierUpdate.title = "Lido hoodie"
    tierUpdate.description = "Warm"
    tierUpdate.minimum = 0
    tierUpdate.limit = 250
    var limitOnly = TierUpdated(campaign: campaign, tier: tier)
    limitOnly.limit = 1

    var revision = PledgeRevised(campaign: campaign, pledge: pledge)
    revision.amount = 2_500
    revision.currency = gbp
    revision.tier = tier
    revision.backerName = "Robert"
    revision.anonymous = true
    var nameOnly = PledgeRevised(campaign: campaign, pledge: pledge)
    nameOnly.backerName = "Bobby"
    var revisionV2 = PledgeRevisedV2(campaign: campaign, pledge: pledge)
    revisionV2.amount = 3_000
    revisionV2.currency = gbp
    revisionV2.name = Bytes32([UInt8](repeating: 4, count: 32))!

    var matchOffer = MatchOffered(campaign: campaign, funderName: "Elm Council", currency: gbp, mode: .match, campaignCap: 60_000)
    matchOffer.factor = MatchFactor(numerator: 1, denominator: 2)
    matchOffer.pledgeCap = 2_500
    matchOffer.from = 1_798_761_600_000
    matchOffer.until = 1_800_000_000_000
    matchOffer.tier = tier
    matchOffer.channel = .online
    matchOffer.minPercent = 25
    matchOffer.minBackers = 10
    let bodies: [(SigningKey, EventBody)] = [
        (K.community, .communityCreated(CommunityCreated(name: "Elm Street", founder: K.founder.publicKey))),
        (K.founder, .roleGranted(RoleGranted(member: K.collectorA.publicKey, role: .collector, expires: 1_800_000_000_000))),
        (K.founder, .roleGranted(RoleGranted(member: K.organiser.publicKey, role: .organiser))),
        (K.founder, .roleRevoked(RoleRevoked(member: K.collectorB.publicKey, role: .collector))),
        (
            K.organiser,
            .campaignCreated(
                CampaignCreated(
                    title: "Reopen the lido", description: "Our lido has been shut since 2019.", goal: 500_000, currency: gbp,
                    model: .allOrNothing, opens: 0, closes: 1_893_456_000_000, timeZone: "Europe/London",
                    organisers: [K.founder.publicKey, K.collectorA.publicKey]))
        ),
        (
            K.organiser,
            .campaignCreated(
                CampaignCreated(
                    title: "Yen drive", description: "", goal: 1, currency: jpy, model: .keepWhatYouRaise, opens: 5, closes: 6,
                    timeZone: "Asia/Tokyo", organisers: []))
        ),
        (K.organiser, .campaignUpdated(update)),
        (K.organiser, .campaignUpdated(titleOnly)),
        (K.organiser, .campaignPublished(CampaignRef(campaign: campaign))),
        (K.organiser, .campaignClosed(CampaignRef(campaign: campaign))),
        (K.organiser, .campaignCancelled(CampaignCancelled(campaign: campaign, reason: "The pool is being demolished"))),
        (K.organiser, .campaignCancelled(CampaignCancelled(campaign: campaign))),
        (K.organiser, .tierAdded(TierAdded(campaign: campaign, title: "T-shirt", description: "Cotton", minimum: 2_000, limit: 100))),
        (K.organiser, .tierAdded(TierAdded(campaign: campaign, title: "Thanks", minimum: 0))),
        (K.organiser, .tierUpdated(tierUpdate)),
        (K.organiser, .tierUpdated(limitOnly)),
        (
            K.collectorA,
            .pledgeMade(
                PledgeMade(
                    campaign: campaign, backerName: "Bob", anonymous: false, amount: 1_050, currency: gbp, tier: tier,
                    channel: .inPerson, paid: .cash,
                    contact: [
                        SealedContact(recipient: K.organiser.publicKey, ciphertext: sealed),
                        SealedContact(recipient: K.founder.publicKey, ciphertext: sealed2),
                    ]))
        ),
        (
            K.collectorA,
            .pledgeMade(
                PledgeMade(campaign: campaign, backerName: "Cat", anonymous: true, amount: Int64.max, currency: gbp, channel: .online))
        ),
        (K.collectorA, .pledgeRevised(revision)),
        (K.collectorA, .pledgeRevised(nameOnly)),
        (K.collectorA, .pledgeWithdrawn(PledgeRef(campaign: campaign, pledge: pledge))),
        (
            K.collectorB,
            .pledgeCollected(PledgeCollected(campaign: campaign, pledge: pledge, amount: 1_050, currency: gbp, method: .transfer))
        ),
        (
            K.collectorB,
            .pledgeCollected(PledgeCollected(campaign: campaign, pledge: pledge, amount: 300, currency: gbp, method: .contactless))
        ),
        (K.organiser, .pledgeRejected(PledgeRejected(campaign: campaign, pledge: pledge, reason: "Duplicate of an online pledge"))),
        (K.organiser, .tierAdded(TierAdded(campaign: campaign, title: "Mug", minimum: 2_000, benefit: 500))),
        (K.founder, .charityRecognised(CharityRecognised(reference: "AB12345", legalName: "Elm Street Trust", yearEndMonth: 3, yearEndDay: 31))),
        (K.founder, .giftAidClaimed(GiftAidClaimed(campaign: campaign, tags: [pledge.raw, tier.raw]))),
        (K.founder, .charityWithdrawn(CharityWithdrawn(reason: "Removed from the register\non 2028-04-01"))),
        (K.founder, .giftAidConfirmed(GiftAidConfirmed(campaign: campaign, tag: pledge.raw, sent: CivilDate(iso: "2027-01-05")!))),
        (
            K.collectorA,
            .pledgeMadeV2(
                PledgeMadeV2(
                    campaign: campaign, amount: 2_500, currency: gbp, tier: tier, channel: .online, paid: .transfer,
                    commitments: [
                        Bytes32([UInt8](repeating: 1, count: 32))!, Bytes32([UInt8](repeating: 2, count: 32))!,
                        Bytes32([UInt8](repeating: 3, count: 32))!,
                    ]))
        ),
        (K.collectorA, .pledgeRevisedV2(revisionV2)),
        (K.organiser, .personalErased(PersonalErased(campaign: campaign, pledge: pledge, reason: .retentionExpired, slots: [.contact, .giftAid]))),
        (K.founder, .matchOffered(matchOffer)),
        (
            K.founder,
            .matchOffered(MatchOffered(campaign: campaign, funderName: "Oak Trust", currency: gbp, mode: .lumpSum, campaignCap: 50_000))
        ),
        (K.organiser, .matchAccepted(MatchRef(campaign: campaign, offer: pledge))),
        (K.founder, .matchWithdrawn(MatchRef(campaign: campaign, offer: pledge))),
        (
            K.founder,
            .matchSettled(
                MatchSettled(campaign: campaign, offer: pledge, page: 0, pages: 2, entries: [SettledMatch(pledge: pledge, amount: 1_050)]))
        ),
        (K.founder, .matchSettled(MatchSettled(campaign: campaign, offer: pledge, lumpSum: 0))),
        (K.founder, .funderBudget(FunderBudget(currency: gbp, amount: 250_000))),
        (K.organiser, .updatePosted(UpdatePosted(campaign: campaign, title: "The roof is fixed", text: "Thank you!\n\n- new tiles\n"))),
    ]
    return bodies.map { author, body in
        f.tick(7)
        return f.make(author, body)
    }
}

/// A CBOR map written from already-encoded values, in the order given (so a test can break the rules).
func rawMap(_ pairs: [(UInt64, [UInt8])]) -> [UInt8] {
    var out = CBOR.array(Array(repeating: CBOR.bool(false), count: pairs.count)).encoded()
    out.removeLast(pairs.count)
    out[0] = out[0] & 0x1f | 0xa0  // major type 5, same length head
    for (k, v) in pairs { out += CBOR.unsigned(k).encoded() + v }
    return out
}

@Suite("Event encoding and decoding", .timeLimit(.minutes(10)))
struct EventCodecTests {
    @Test("every event kind round trips through its wire bytes")
    func roundTripEveryKind() throws {
        let events = try sampleEvents()
        #expect(Set(events.map(\.kind)) == Set(EventKind.allCases))
        for e in events {
            let d = try Event.decode(wire: e.wire)
            #expect(d.id == e.id)
            #expect(d.id == EventID.of(payload: e.payload))
            #expect(d.body == e.body, "\(e.kind)")
            #expect(d.kind == e.kind)
            #expect(d.hlc == e.hlc)
            #expect(d.author == e.author)
            #expect(d.community == e.community)
            #expect(d.payload == e.payload)
            #expect(d.signature == e.signature)
            #expect(d.wire == e.wire)
            #expect(d.verifySignature())
            #expect(d.campaign == e.campaign)
            #expect(Event.sign(community: e.community, author: keyFor(e.author), hlc: e.hlc, body: d.body).wire == e.wire)
        }
    }

    func keyFor(_ pk: PublicKey) -> SigningKey {
        [K.community, K.founder, K.organiser, K.collectorA, K.collectorB, K.stranger].first { $0.publicKey == pk }!
    }

    @Test("an event's campaign is its own id when it creates one, the referenced one otherwise, none at community level")
    func campaignOfEvent() throws {
        for e in try sampleEvents() {
            switch e.kind {
            case .communityCreated, .roleGranted, .roleRevoked, .charityRecognised, .funderBudget, .charityWithdrawn:
                #expect(e.campaign == nil)
            case .campaignCreated: #expect(e.campaign == e.id)
            default: #expect(e.campaign == EventID(bytes: [UInt8](repeating: 0xCA, count: 32)))
            }
        }
    }

    @Test("the hand-built forge helper produces exactly what Event.sign does")
    func forgeMatchesEncoder() throws {
        let wire = Forge.pledgeWire(Forge.pledgeFields())
        let e = try Event.decode(wire: wire)
        #expect(e.verifySignature())
        let body = PledgeMade(campaign: Forge.campaign, backerName: "Bob", anonymous: false, amount: 1_050, currency: gbp, channel: .inPerson)
        #expect(e.body == .pledgeMade(body))
        let signed = Event.sign(community: K.community.publicKey, author: K.collectorA, hlc: e.hlc, body: .pledgeMade(body))
        #expect(signed.wire == wire)
    }

    @Test("trailing bytes after the event are refused")
    func trailingBytes() throws {
        let e = try #require(try sampleEvents().first { $0.kind == .pledgeMade })
        #expect(decodeCode(e.wire + [0x00]) == "decode.trailing_bytes")
        #expect(decodeCode(e.wire + e.wire) == "decode.trailing_bytes")
        // Trailing bytes inside the signed payload too.
        #expect(decodeCode(Forge.wire(e.payload + [0x00])) == "decode.trailing_bytes")
    }

    @Test("an unknown version is refused, even with a valid signature")
    func unknownVersion() {
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(), version: 1)) == "ok")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(), version: 2)) == "decode.unknown_version")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(), version: 0)) == "decode.unknown_version")
    }

    /// A pledge with eight sealed contacts, the last `lastContact` bytes long: a way to size an event exactly.
    func bigPledge(lastContact: Int) -> Event {
        let contacts = (1...8).map { i in
            SealedContact(recipient: K.key(UInt8(i)).publicKey, ciphertext: [UInt8](repeating: UInt8(i), count: i == 8 ? lastContact : 1_000))
        }
        var f = EventFactory()
        return f.make(
            K.collectorA,
            .pledgeMade(
                PledgeMade(
                    campaign: Forge.campaign, backerName: "Bob", anonymous: false, amount: 100, currency: gbp, channel: .online,
                    contact: contacts)))
    }

    @Test("events over 8 KiB are refused; an event of exactly 8 KiB is accepted")
    func sizeLimit() throws {
        #expect(EventLimits.maxEventBytes == 8192)
        let probe = bigPledge(lastContact: 300).wire.count
        let exact = 300 + EventLimits.maxEventBytes - probe
        try #require((256...EventLimits.maxSealedContactBytes - 1).contains(exact))
        let fits = bigPledge(lastContact: exact)
        #expect(fits.wire.count == EventLimits.maxEventBytes)
        let decoded = try Event.decode(wire: fits.wire)
        #expect(decoded.verifySignature())
        let over = bigPledge(lastContact: exact + 1)
        #expect(over.wire.count == EventLimits.maxEventBytes + 1)
        #expect(decodeCode(over.wire) == "decode.too_large")
        #expect(decodeCode([UInt8](repeating: 0, count: 100_000)) == "decode.too_large")
    }

    @Test("a string that is not valid UTF-8 is refused, even inside a validly signed payload")
    func invalidUTF8() throws {
        let payload = Forge.payload(kind: EventKind.pledgeMade.rawValue, body: .map(Forge.pledgeFields(name: "ZZZZ")))
        let marker: [UInt8] = [0x64] + Array("ZZZZ".utf8)
        let at = try #require((0...(payload.count - marker.count)).first { Array(payload[$0..<$0 + marker.count]) == marker })
        for bad: [UInt8] in [[0xff, 0xfe, 0xfd, 0xfc], [0x41, 0xc3, 0x28, 0x41], [0xed, 0xa0, 0x80, 0x41], [0xc0, 0x80, 0x41, 0x41]] {
            var patched = payload
            patched.replaceSubrange((at + 1)..<(at + 5), with: bad)
            #expect(decodeCode(Forge.wire(patched)) == "decode.bad_utf8")
        }
        #expect(decodeCode(Forge.wire(payload)) == "ok")
    }

    @Test("an amount over Int64.max is refused, even when properly signed")
    func amountOverflow() {
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(amount: .unsigned(UInt64(Int64.max))))) == "ok")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(amount: .unsigned(1 << 63)))) == "decode.amount_overflow")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(amount: .unsigned(UInt64.max)))) == "decode.amount_overflow")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(amount: .negative(0)))) == "decode.bad_type")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(amount: .unsigned(0)))) == "decode.not_positive")
        // Overflowing goals, minimums and collected amounts too.
        let goal = Forge.payload(
            kind: EventKind.campaignUpdated.rawValue, body: .map([(0, .bytes(Forge.campaign.bytes)), (3, .unsigned(1 << 63))]))
        #expect(decodeCode(Forge.wire(goal)) == "decode.amount_overflow")
        let collected = Forge.payload(
            kind: EventKind.pledgeCollected.rawValue,
            body: .map([
                (0, .bytes(Forge.campaign.bytes)), (1, .bytes(Forge.campaign.bytes)), (2, .unsigned(1 << 63)), (3, .text("GBP")),
                (4, .unsigned(1)),
            ]))
        #expect(decodeCode(Forge.wire(collected)) == "decode.amount_overflow")
    }

    @Test("unknown kinds, unknown fields, missing fields, unknown currencies are refused")
    func badFields() {
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(), kind: 99)) == "decode.unknown_kind")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(), kind: 0)) == "decode.unknown_kind")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields() + [(9, .unsigned(1))])) == "decode.unknown_field")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields().filter { $0.0 != 1 })) == "decode.missing_field")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields().filter { $0.0 != 6 })) == "decode.missing_field")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(currency: "XYZ"))) == "decode.bad_currency")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(currency: "gbp"))) == "decode.bad_currency")
        #expect(decodeCode(Forge.pledgeWire(Forge.pledgeFields(currency: "GBPX"))) == "decode.too_long")
        // An unknown field in the envelope, and a missing envelope field.
        let extra = Forge.payload(kind: EventKind.pledgeMade.rawValue, body: .map(Forge.pledgeFields()), extra: [(7, .unsigned(0))])
        #expect(decodeCode(Forge.wire(extra)) == "decode.unknown_field")
        let noBody = CBOR.map([
            (0, .unsigned(1)), (1, .bytes(K.community.publicKey.bytes)), (2, .bytes(K.collectorA.publicKey.bytes)),
            (3, .unsigned(30)), (4, .unsigned(1)), (5, .unsigned(0)),
        ]).encoded()
        #expect(decodeCode(Forge.wire(noBody)) == "decode.missing_field")
        // A counter beyond 32 bits.
        let counter = Forge.payload(kind: EventKind.pledgeMade.rawValue, counter: 1 << 32, body: .map(Forge.pledgeFields()))
        #expect(decodeCode(Forge.wire(counter)) == "decode.out_of_range")
    }

    @Test("a signature of the wrong length, or a malformed envelope, is refused")
    func badEnvelope() throws {
        let payload = Forge.payload(kind: EventKind.pledgeMade.rawValue, body: .map(Forge.pledgeFields()))
        let sig = K.collectorA.sign(payload)
        #expect(decodeCode(CBOR.array([.bytes(payload), .bytes(sig)]).encoded()) == "ok")
        #expect(decodeCode(CBOR.array([.bytes(payload), .bytes(Array(sig.dropLast()))]).encoded()) == "decode.bad_length")
        #expect(decodeCode(CBOR.array([.bytes(payload), .bytes(sig + [0])]).encoded()) == "decode.bad_length")
        #expect(decodeCode(CBOR.array([.bytes(payload), .bytes([])]).encoded()) == "decode.bad_length")
        #expect(decodeCode(CBOR.array([.bytes(payload), .text("sig")]).encoded()) == "decode.bad_type")
        #expect(decodeCode(CBOR.array([.bytes(payload)]).encoded()) == "decode.bad_envelope")
        #expect(decodeCode(CBOR.array([.bytes(payload), .bytes(sig), .bytes([])]).encoded()) == "decode.bad_envelope")
        #expect(decodeCode(CBOR.bytes(payload).encoded()) == "decode.bad_envelope")
        #expect(decodeCode(CBOR.array([.bytes(sig), .bytes(sig)]).encoded()) != "ok")
        // The payload nested as a value rather than as signed bytes.
        let nested = CBOR.array([try CBOR.decode(payload), .bytes(sig)]).encoded()
        #expect(decodeCode(nested) != "ok")
        // A wrong-length key.
        let shortKey = CBOR.map([
            (0, .unsigned(1)), (1, .bytes(Array(K.community.publicKey.bytes.dropLast()))), (2, .bytes(K.collectorA.publicKey.bytes)),
            (3, .unsigned(30)), (4, .unsigned(1)), (5, .unsigned(0)), (6, .map(Forge.pledgeFields())),
        ]).encoded()
        #expect(decodeCode(Forge.wire(shortKey)) == "decode.bad_length")
    }

    @Test("non-canonical bytes are refused, in the envelope and in the signed payload")
    func nonCanonical() throws {
        let payload = Forge.payload(kind: EventKind.pledgeMade.rawValue, body: .map(Forge.pledgeFields()))
        let sig = K.collectorA.sign(payload)
        // The payload's length written in 3 bytes instead of 2.
        try #require(payload.count >= 24 && payload.count < 256)
        let long = [0x82, 0x59, 0x00, UInt8(payload.count)] + payload + [0x58, 0x40] + sig
        #expect(decodeCode(long) == "decode.non_canonical")
        #expect(decodeCode([0x82, 0x58, UInt8(payload.count)] + payload + [0x58, 0x40] + sig) == "ok")
        // The counter 0 written as 0x18 0x00 inside a payload that is then signed.
        let envelope: [(UInt64, [UInt8])] = [
            (0, CBOR.unsigned(1).encoded()), (1, CBOR.bytes(K.community.publicKey.bytes).encoded()),
            (2, CBOR.bytes(K.collectorA.publicKey.bytes).encoded()), (3, CBOR.unsigned(30).encoded()),
            (4, CBOR.unsigned(1_798_761_600_100).encoded()), (5, [0x00]), (6, CBOR.map(Forge.pledgeFields()).encoded()),
        ]
        #expect(rawMap(envelope) == payload)
        #expect(decodeCode(Forge.wire(rawMap(envelope.map { $0.0 == 5 ? (5, [0x18, 0x00]) : $0 }))) == "decode.non_canonical")
        #expect(decodeCode(Forge.wire(rawMap(envelope.map { $0.0 == 0 ? (0, [0x18, 0x01]) : $0 }))) == "decode.non_canonical")
        // Body keys out of order, and envelope keys out of order.
        var fields = Forge.pledgeFields().map { ($0.0, $0.1.encoded()) }
        fields.swapAt(1, 2)
        #expect(decodeCode(Forge.wire(rawMap(envelope.map { $0.0 == 6 ? (6, rawMap(fields)) : $0 }))) == "decode.key_order")
        var swapped = envelope
        swapped.swapAt(3, 4)
        #expect(decodeCode(Forge.wire(rawMap(swapped))) == "decode.key_order")
        // Organisers unsorted.
        let org = [K.organiser.publicKey, K.founder.publicKey].sorted()
        let campaign = Forge.payload(
            kind: EventKind.campaignCreated.rawValue,
            body: .map([
                (0, .text("T")), (1, .text("")), (2, .unsigned(100)), (3, .text("GBP")), (4, .unsigned(1)), (5, .unsigned(0)),
                (6, .unsigned(10)), (7, .text("Europe/London")), (8, .array(org.reversed().map { .bytes($0.bytes) })),
            ]))
        #expect(decodeCode(Forge.wire(campaign)) == "decode.non_canonical")
    }

    @Test(
        "static validation of bodies",
        arguments: [
            ("empty name", "decode.empty"), ("control character", "decode.control_char"), ("long name", "decode.too_long"),
            ("closes before opens", "decode.bad_dates"), ("bad time zone", "decode.bad_time_zone"), ("zero limit", "decode.not_positive"),
            ("empty campaign update", "decode.empty_update"), ("empty tier update", "decode.empty_update"),
            ("empty revision", "decode.empty_update"), ("amount without currency", "decode.missing_field"),
            ("unknown role", "decode.bad_enum"), ("unknown channel", "decode.bad_enum"), ("zero goal", "decode.not_positive"),
            ("bool as integer", "decode.bad_type"), ("body not a map", "decode.bad_type"),
        ])
    func staticValidation(what: String, code: String) {
        let c = CBOR.bytes(Forge.campaign.bytes)
        func campaign(opens: UInt64 = 0, closes: UInt64 = 10, tz: String = "Europe/London", goal: UInt64 = 100) -> CBOR {
            .map([
                (0, .text("T")), (1, .text("")), (2, .unsigned(goal)), (3, .text("GBP")), (4, .unsigned(1)), (5, .unsigned(opens)),
                (6, .unsigned(closes)), (7, .text(tz)), (8, .array([])),
            ])
        }
        func m(_ pairs: [(UInt64, CBOR)]) -> CBOR { .map(pairs) }
        let (kind, body): (EventKind, CBOR) =
            switch what {
            case "empty name": (.pledgeMade, .map(Forge.pledgeFields(name: "")))
            case "control character": (.pledgeMade, .map(Forge.pledgeFields(name: "Bob\u{7}")))
            case "long name": (.pledgeMade, .map(Forge.pledgeFields(name: String(repeating: "b", count: EventLimits.maxNameBytes + 1))))
            case "closes before opens": (.campaignCreated, campaign(opens: 10, closes: 10))
            case "bad time zone": (.campaignCreated, campaign(tz: "Europe/Lon don"))
            case "zero goal": (.campaignCreated, campaign(goal: 0))
            case "zero limit": (.tierAdded, m([(0, c), (1, .text("T")), (3, .unsigned(0)), (4, .unsigned(0))]))
            case "empty campaign update": (.campaignUpdated, m([(0, c)]))
            case "empty tier update": (.tierUpdated, m([(0, c), (1, c)]))
            case "empty revision": (.pledgeRevised, m([(0, c), (1, c)]))
            case "amount without currency": (.pledgeRevised, m([(0, c), (1, c), (2, .unsigned(5))]))
            case "unknown role": (.roleGranted, m([(0, .bytes(K.stranger.publicKey.bytes)), (1, .unsigned(9))]))
            case "unknown channel":
                (.pledgeMade, .map(Forge.pledgeFields().map { $0.0 == 6 ? (6, .unsigned(3)) : $0 }))
            case "bool as integer":
                (.pledgeMade, .map(Forge.pledgeFields().map { $0.0 == 2 ? (2, .unsigned(0)) : $0 }))
            default: (.pledgeMade, .array([]))
            }
        #expect(decodeCode(Forge.wire(Forge.payload(kind: kind.rawValue, body: body))) == code)
    }

    @Test("signature verification rejects any flipped bit of the wire bytes", arguments: 0..<40)
    func everyFlippedBit(index: Int) throws {
        let events = try sampleEvents()
        try #require(events.count == 40)
        let e = events[index]
        #expect(e.verifySignature())
        var decodedVariants = 0
        var accepted: [Int] = []
        for bit in 0..<(e.wire.count * 8) {
            var w = e.wire
            w[bit / 8] ^= 1 << UInt8(bit % 8)
            guard let d = try? Event.decode(wire: w) else { continue }
            decodedVariants += 1
            if d.verifySignature() { accepted.append(bit) }
        }
        #expect(accepted.isEmpty, "\(e.kind): flipping bit(s) \(accepted.prefix(10)) still gives a valid event")
        // At least every bit of the signature leaves a decodable event, so verification really was exercised.
        #expect(decodedVariants >= 64 * 8)
    }

    @Test("an event signed for one community cannot be replayed into another")
    func communityBound() throws {
        var f = EventFactory()
        let e = f.make(
            K.collectorA,
            .pledgeMade(PledgeMade(campaign: Forge.campaign, backerName: "Bob", anonymous: false, amount: 1, currency: gbp, channel: .online)))
        let other = K.key(0xC1).publicKey
        var payload = e.payload
        let at = try #require((0...(payload.count - 32)).first { Array(payload[$0..<$0 + 32]) == K.community.publicKey.bytes })
        payload.replaceSubrange(at..<at + 32, with: other.bytes)
        let moved = try Event.decode(wire: CBOR.array([.bytes(payload), .bytes(e.signature)]).encoded())
        #expect(moved.community == other)
        #expect(!moved.verifySignature())
        #expect(moved.id != e.id)
        // And a derivation for one community ignores another community's events.
        #expect(CommunityState(community: other, events: [e]).eventCount == 0)
    }
}
