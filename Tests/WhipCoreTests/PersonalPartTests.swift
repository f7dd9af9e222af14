import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

/// Version-2 pledges, their personal parts and `personal.erased` (PROTOCOL.md §6.35).
@Suite(.timeLimit(.minutes(10))) struct PersonalPartTests {
    static let salt = Bytes32([UInt8](repeating: 0x5A, count: 32))!

    /// A v2 pledge body for the scenario campaign with a real name commitment.
    static func pledgeV2(_ s: Scenario, name: String? = "Bob", amount: Int64 = 1_000) -> (EventBody, [Bytes32]) {
        let commitments = [
            name.map { PartCommitment.of(salt: salt, bytes: Array($0.utf8)) } ?? PartCommitment.dummy(), PartCommitment.dummy(),
            PartCommitment.dummy(),
        ]
        let body = EventBody.pledgeMadeV2(
            PledgeMadeV2(campaign: s.campaign, amount: amount, currency: gbp, channel: .inPerson, commitments: commitments))
        return (body, commitments)
    }

    static func erase(_ s: Scenario, _ pledge: Event, _ slots: [PartSlot] = PartSlot.allCases) -> EventBody {
        .personalErased(PersonalErased(campaign: s.campaign, pledge: pledge.id, reason: .request, slots: slots))
    }

    @Test func commitmentIsBlake2bOfSaltThenPart() {
        let part = Array("Bob".utf8)
        #expect(PartCommitment.of(salt: Self.salt, bytes: part) == Blake2b.hash32(Self.salt.array + part))
        #expect(PartRecord(event: Forge.campaign, slot: .name, salt: Self.salt, bytes: part).commitment == Blake2b.hash32(Self.salt.array + part))
        // Dummies are fresh each time: two absent parts cannot be told apart from two different real ones.
        #expect(PartCommitment.dummy() != PartCommitment.dummy())
        #expect(PartCommitment.salt() != PartCommitment.salt())
    }

    @Test func partRecordRoundTripsCanonically() throws {
        let sealed = try #require(try SealedPart.seal(Array("bob@example.org".utf8), to: [K.organiser.publicKey, K.founder.publicKey]))
        for r in [
            PartRecord(event: Forge.campaign, slot: .name, salt: Self.salt, bytes: Array("Zoë".utf8)),
            PartRecord(event: Forge.campaign, slot: .contact, salt: Self.salt, bytes: sealed.encoded()),
            PartRecord(event: Forge.campaign, slot: .giftAid, salt: Self.salt, bytes: sealed.encoded()),
        ] {
            let bytes = r.encoded()
            #expect(try PartRecord.decode(bytes) == r)
            #expect(bytes == CBOR.array([.bytes(r.event.bytes), .unsigned(r.slot.rawValue), .bytes(Self.salt.array), .bytes(r.bytes)]).encoded())
        }
        #expect(sealed.boxes.map(\.recipient) == [K.organiser.publicKey, K.founder.publicKey].sorted())
    }

    @Test(arguments: ["bad slot", "short salt", "control char", "empty name", "unsorted boxes", "not sealed", "too long", "not array"])
    func badPartRecordsAreRefused(_ what: String) throws {
        let e = CBOR.bytes(Forge.campaign.bytes), salt = CBOR.bytes(Self.salt.array)
        let box: (SigningKey) -> CBOR = { .array([.bytes($0.publicKey.bytes), .bytes([1, 2, 3])]) }
        let (value, code): (CBOR, String) =
            switch what {
            case "bad slot": (.array([e, .unsigned(3), salt, .bytes([0x42])]), "decode.bad_enum")
            case "short salt": (.array([e, .unsigned(0), .bytes([1, 2]), .bytes([0x42])]), "decode.bad_length")
            case "control char": (.array([e, .unsigned(0), salt, .bytes(Array("Bo\u{7}b".utf8))]), "decode.control_char")
            case "empty name": (.array([e, .unsigned(0), salt, .bytes([])]), "decode.empty")
            case "unsorted boxes":
                (
                    .array([
                        e, .unsigned(1), salt,
                        .bytes(CBOR.array([K.organiser, K.founder].sorted { $0.publicKey > $1.publicKey }.map(box)).encoded()),
                    ]), "decode.non_canonical"
                )
            case "not sealed": (.array([e, .unsigned(2), salt, .bytes(Array("Bob".utf8))]), "decode.bad_type")
            case "too long": (.array([e, .unsigned(1), salt, .bytes([UInt8](repeating: 0, count: EventLimits.maxPartBytes + 1))]), "decode.too_long")
            default: (.map([]), "decode.bad_type")
            }
        #expect(throws: DecodingError.self) { try PartRecord.decode(value) }
        do {
            _ = try PartRecord.decode(value)
        } catch {
            #expect(error.code.rawValue == code)
        }
    }

    @Test func paddingHidesWhichFieldsWereFilled() throws {
        #expect(SealedPart.pad([])?.count == EventLimits.partPaddingBlock)
        #expect(SealedPart.pad(Array(repeating: 1, count: 255))?.count == 256)
        #expect(SealedPart.pad(Array(repeating: 1, count: 256))?.count == 512)
        #expect(SealedPart.pad(Array(repeating: 1, count: SealedPart.maxPlaintext + 1)) == nil)
        let longest = try #require(SealedPart.pad(Array(repeating: 7, count: SealedPart.maxPlaintext)))
        #expect(longest.count + SealedBox.overhead <= EventLimits.maxSealedContactBytes)
        for n in [0, 1, 100, 255, 256, 700] {
            let plain = [UInt8](repeating: 0x80, count: n)
            #expect(SealedPart.unpad(try #require(SealedPart.pad(plain))) == plain)
        }
        #expect(SealedPart.unpad([1, 2, 0]) == nil)
    }

    @Test func newKindsRoundTripThroughTheWire() throws {
        var s = Scenario()
        let (made, _) = Self.pledgeV2(s)
        let p = s.factory.make(K.collectorA, made)
        var rev = PledgeRevisedV2(campaign: s.campaign, pledge: p.id)
        rev.name = Self.salt
        rev.amount = 2_000
        rev.currency = gbp
        for body in [made, .pledgeRevisedV2(rev), Self.erase(s, p, [.name, .giftAid])] {
            let e = s.factory.make(K.organiser, body)
            let back = try Event.decode(wire: e.wire)
            #expect(back.body == body)
            #expect(back.id == e.id)
        }
    }

    @Test(arguments: ["two commitments", "short commitment", "empty slots", "unsorted slots", "bad reason", "empty revision"])
    func badNewBodiesAreRefused(_ what: String) {
        let c = CBOR.bytes(Forge.campaign.bytes), h = CBOR.bytes(Self.salt.array)
        let v2: [(UInt64, CBOR)] = [(0, c), (1, .unsigned(500)), (2, .text("GBP")), (4, .unsigned(1))]
        func erasure(_ slots: [CBOR], reason: UInt64 = 0) -> CBOR {
            let fields: [(UInt64, CBOR)] = [(0, c), (1, c), (2, .unsigned(reason)), (3, .array(slots))]
            return .map(fields)
        }
        let (tail1, tail2): ([(UInt64, CBOR)], [(UInt64, CBOR)]) = ([(6, .array([h, h]))], [(6, .array([h, h, .bytes([1])]))])
        let revision: [(UInt64, CBOR)] = [(0, c), (1, c)]
        let (kind, body, code): (EventKind, CBOR, String) =
            switch what {
            case "two commitments": (.pledgeMadeV2, .map(v2 + tail1), "decode.bad_type")
            case "short commitment": (.pledgeMadeV2, .map(v2 + tail2), "decode.bad_length")
            case "empty slots": (.personalErased, erasure([]), "decode.bad_type")
            case "unsorted slots":
                (.personalErased, erasure([.unsigned(1), .unsigned(0)]), "decode.non_canonical")
            case "bad reason":
                (.personalErased, erasure([.unsigned(0)], reason: 2), "decode.bad_enum")
            default: (.pledgeRevisedV2, .map(revision), "decode.empty_update")
            }
        #expect(decodeCode(Forge.wire(Forge.payload(kind: kind.rawValue, body: body))) == code)
    }

    @Test func v2PledgeCountsLikeV1AndHoldsNoPersonalData() {
        var s = Scenario()
        let (body, commitments) = Self.pledgeV2(s, amount: 2_500)
        let p = s.make(K.collectorA, body)
        let c = s.campaign([p])
        #expect(c?.pledged == 2_500)
        #expect(c?.backers == 1)
        let st = c?.pledges[p.id]
        #expect(st?.commitments == commitments)
        #expect(st?.nameEvent == p.id)
        #expect(st?.backerName == "")
        #expect(st?.contact == [])
    }

    @Test func onlyOrganisersAndAdminsEraseAndOnlyV2Pledges() {
        var s = Scenario()
        let (body, _) = Self.pledgeV2(s)
        let p2 = s.make(K.collectorA, body)
        let p1 = s.make(K.collectorA, s.pledge("Alice", 1_000))
        let byCollector = s.make(K.collectorA, Self.erase(s, p2))
        let byStranger = s.make(K.stranger, Self.erase(s, p2))
        let v1 = s.make(K.organiser, Self.erase(s, p1, [.name, .contact]))
        // The Gift Aid declaration only by one who may claim Gift Aid (a treasurer or root), not an organiser.
        let giftByOrganiser = s.make(K.organiser, Self.erase(s, p2, [.giftAid]))
        let byOrganiser = s.make(K.organiser, Self.erase(s, p2, [.name]))
        let byFounder = s.make(K.founder, Self.erase(s, p2, [.contact, .giftAid]))
        let unknown = s.make(K.organiser, .personalErased(PersonalErased(campaign: s.campaign, pledge: s.tier, reason: .request, slots: [.name])))
        let st = s.state([p2, p1, byCollector, byStranger, v1, giftByOrganiser, byOrganiser, byFounder, unknown])
        #expect(st.code(byCollector) == "unauthorised")
        #expect(st.code(giftByOrganiser) == "unauthorised")
        #expect(st.code(byStranger) == "unauthorised")
        #expect(st.code(v1) == "not_erasable")
        #expect(st.code(byOrganiser) == "applied")
        #expect(st.code(byFounder) == "applied")
        #expect(st.code(unknown) == "unknown_pledge")
        let c = st.campaign(s.campaign)
        #expect(c?.pledges[p2.id]?.erased == Set(PartSlot.allCases))
        #expect(c?.pledges[p1.id]?.erased == [])
        // Erasure changes no total.
        #expect(c?.pledged == 2_000)
        #expect(c?.backers == 2)
    }

    @Test func erasureWorksAfterTheCloseAndOnWithdrawnPledges() {
        var s = Scenario()
        let (body, _) = Self.pledgeV2(s)
        let p = s.make(K.collectorA, body)
        let withdrawn = s.make(K.collectorA, s.withdraw(p))
        let closed = s.make(K.organiser, s.close)
        let erased = s.make(K.founder, Self.erase(s, p))
        let st = s.state([p, withdrawn, closed, erased])
        #expect([st.code(withdrawn), st.code(closed), st.code(erased)] == ["applied", "applied", "applied"])
    }

    @Test func revisionsKeepToTheirFormat() {
        var s = Scenario()
        let (body, commitments) = Self.pledgeV2(s)
        let p2 = s.make(K.collectorA, body)
        let p1 = s.make(K.collectorA, s.pledge("Alice", 1_000))
        let clearName = s.make(K.collectorA, s.revise(p2) { $0.backerName = "Robert" })
        let clearAnon = s.make(K.collectorA, s.revise(p2) { $0.anonymous = true })
        let clearAmount = s.make(K.collectorA, s.revise(p2, amount: 1_500))
        var nameOnV1 = PledgeRevisedV2(campaign: s.campaign, pledge: p1.id)
        nameOnV1.name = Self.salt
        let partName = s.make(K.collectorA, .pledgeRevisedV2(nameOnV1))
        var amountOnV1 = PledgeRevisedV2(campaign: s.campaign, pledge: p1.id)
        amountOnV1.amount = 3_000
        amountOnV1.currency = gbp
        let v2Amount = s.make(K.collectorA, .pledgeRevisedV2(amountOnV1))
        var rename = PledgeRevisedV2(campaign: s.campaign, pledge: p2.id)
        rename.name = Self.salt
        let renamed = s.make(K.collectorA, .pledgeRevisedV2(rename))
        let notAuthor = s.make(K.collectorB, .pledgeRevisedV2(rename))
        let st = s.state([p2, p1, clearName, clearAnon, clearAmount, partName, v2Amount, renamed, notAuthor])
        #expect(st.code(clearName) == "wrong_version")
        #expect(st.code(clearAnon) == "wrong_version")
        #expect(st.code(clearAmount) == "applied")
        #expect(st.code(partName) == "wrong_version")
        #expect(st.code(v2Amount) == "applied")
        #expect(st.code(renamed) == "applied")
        #expect(st.code(notAuthor) == "not_author")
        let c = st.campaign(s.campaign)
        #expect(c?.pledges[p1.id]?.amount == 3_000)
        #expect(c?.pledges[p1.id]?.commitments == nil)
        #expect(c?.pledges[p2.id]?.amount == 1_500)
        #expect(c?.pledges[p2.id]?.commitments == [Self.salt] + commitments.dropFirst())
        #expect(c?.pledges[p2.id]?.nameEvent == renamed.id)
        #expect(c?.pledged == 4_500)
    }

    @Test func anErasedNameCannotBeReplaced() {
        var s = Scenario()
        let (body, _) = Self.pledgeV2(s)
        let p = s.make(K.collectorA, body)
        let erased = s.make(K.organiser, Self.erase(s, p, [.name]))
        var rename = PledgeRevisedV2(campaign: s.campaign, pledge: p.id)
        rename.name = Self.salt
        let renamed = s.make(K.collectorA, .pledgeRevisedV2(rename))
        var raise = PledgeRevisedV2(campaign: s.campaign, pledge: p.id)
        raise.amount = 5_000
        raise.currency = gbp
        let raised = s.make(K.collectorA, .pledgeRevisedV2(raise))
        let st = s.state([p, erased, renamed, raised])
        #expect(st.code(renamed) == "erased")
        #expect(st.code(raised) == "applied")
    }

    /// The erasure leaves every pledge's digest contribution as it was: the digest changes only by the
    /// erasure event's own status, like any other event's.
    @Test func erasureDoesNotChangeAPledgesDigest() throws {
        var s = Scenario()
        let (body, _) = Self.pledgeV2(s)
        let p = s.make(K.collectorA, body)
        // The founder (root) may erase every slot; the Gift Aid slot needs one who may claim Gift Aid.
        let erased = s.make(K.founder, Self.erase(s, p))
        let before = try #require(s.campaign([p])?.pledges[p.id])
        let after = try #require(s.campaign([p, erased])?.pledges[p.id])
        #expect(after.erased == Set(PartSlot.allCases))
        #expect(StateDigest.pledge(before) == StateDigest.pledge(after))
        // A v2 pledge's digest covers its commitments: another name commitment is another digest.
        var renamed = before
        renamed.commitments?[0] = Self.salt
        #expect(StateDigest.pledge(renamed) != StateDigest.pledge(before))
    }

    /// Any order and any duplication of a set with v2 pledges, revisions and erasures gives the same state.
    @Test func v2EventsConvergeInAnyOrder() {
        var s = Scenario(tierLimit: 1)
        let (b1, _) = Self.pledgeV2(s, name: "Ann", amount: 2_000)
        let p1 = s.make(K.collectorA, b1)
        let (b2, _) = Self.pledgeV2(s, name: nil, amount: 2_500)
        let p2 = s.make(K.collectorB, b2)
        var rename = PledgeRevisedV2(campaign: s.campaign, pledge: p1.id)
        rename.name = Self.salt
        let extra = [
            p1, p2, s.make(K.collectorA, .pledgeRevisedV2(rename)), s.make(K.organiser, Self.erase(s, p1, [.name])),
            s.make(K.collectorA, .pledgeRevisedV2(rename)), s.make(K.founder, Self.erase(s, p2, [.contact])),
            s.make(K.collectorB, s.withdraw(p2)),
        ]
        let reference = s.state(extra)
        var rng = SplitMix64(seed: 0x9E7A)
        for _ in 0..<50 {
            var shuffled = rng.shuffled(s.events + extra)
            if rng.chance(50) { shuffled += rng.shuffled(extra).prefix(3) }
            let st = derive(shuffled)
            #expect(st.digest == reference.digest)
            #expect(st.campaigns == reference.campaigns)
        }
        let c = reference.campaign(s.campaign)
        #expect(c?.pledges[p1.id]?.erased == [.name])
        #expect(c?.pledges[p2.id]?.erased == [.contact])
        #expect(c?.pledges[p2.id]?.status == .withdrawn)
    }
}
