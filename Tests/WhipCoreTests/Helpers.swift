import WhipCore
import WhipCrypto
import WhipTestSupport

typealias K = FixedKeys

let gbp = Currency(code: "GBP")!
let eur = Currency(code: "EUR")!
let jpy = Currency(code: "JPY")!

/// The derived state of the scenario community from `events` (any order).
func derive(_ events: [Event]) -> CommunityState {
    CommunityState(community: K.community.publicKey, events: events)
}

extension CommunityState {
    /// `applied`, a rule violation code, or `missing` when the event was not seen at all.
    func code(_ e: Event) -> String { statuses[e.id]?.code ?? "missing" }

    /// The campaign with `id`, if it exists.
    func campaign(_ id: EventID) -> CampaignState? { partitions[id]?.campaign }
}

/// The error code of decoding `wire`, or "ok".
func decodeCode(_ wire: [UInt8]) -> String {
    do {
        _ = try Event.decode(wire: wire)
        return "ok"
    } catch {
        return error.code.rawValue
    }
}

/// Hand-built event payloads, signed properly, so a test can make exactly one thing wrong.
enum Forge {
    /// The envelope map `{0: version, 1: community, 2: author, 3: kind, 4: wall, 5: counter, 6: body}`.
    static func payload(
        version: UInt64 = Event.version, community: PublicKey = K.community.publicKey, author: SigningKey = K.collectorA,
        kind: UInt64, wall: UInt64 = 1_798_761_600_100, counter: UInt64 = 0, body: CBOR, extra: [(UInt64, CBOR)] = []
    ) -> [UInt8] {
        CBOR.map(
            [
                (0, .unsigned(version)), (1, .bytes(community.bytes)), (2, .bytes(author.publicKey.bytes)),
                (3, .unsigned(kind)), (4, .unsigned(wall)), (5, .unsigned(counter)), (6, body),
            ] + extra
        ).encoded()
    }

    /// `[payload, signature]` with a valid signature by `author`.
    static func wire(_ payload: [UInt8], by author: SigningKey = K.collectorA) -> [UInt8] {
        CBOR.array([.bytes(payload), .bytes(author.sign(payload))]).encoded()
    }

    static let campaign = EventID(bytes: [UInt8](repeating: 0xCA, count: 32))!

    /// The fields of a `pledge.made` body, for a test to change one.
    static func pledgeFields(amount: CBOR = .unsigned(1_050), currency: String = "GBP", name: String = "Bob") -> [(UInt64, CBOR)] {
        [
            (0, .bytes(campaign.bytes)), (1, .text(name)), (2, .bool(false)), (3, amount), (4, .text(currency)),
            (6, .unsigned(Channel.inPerson.rawValue)),
        ]
    }

    /// A correctly signed `pledge.made` wire from the given body fields.
    static func pledgeWire(_ fields: [(UInt64, CBOR)], version: UInt64 = Event.version, kind: UInt64 = EventKind.pledgeMade.rawValue)
        -> [UInt8]
    {
        wire(payload(version: version, kind: kind, body: .map(fields)))
    }
}

/// A campaign body with sensible defaults.
func newCampaign(
    _ title: String = "Summer fete", goal: Int64 = 100_000, currency: Currency = gbp, model: FundingModel = .allOrNothing,
    opens: UInt64 = 0, closes: UInt64 = 1_893_456_000_000, organisers: [PublicKey] = []
) -> EventBody {
    .campaignCreated(
        CampaignCreated(
            title: title, description: "", goal: goal, currency: currency, model: model, opens: opens, closes: closes,
            timeZone: "Europe/London", organisers: organisers))
}

/// A pledge body for any campaign.
func pledge(to campaign: EventID, _ name: String = "Bob", _ amount: Int64 = 1_000, currency: Currency = gbp, tier: EventID? = nil)
    -> EventBody
{
    .pledgeMade(
        PledgeMade(campaign: campaign, backerName: name, anonymous: false, amount: amount, currency: currency, tier: tier, channel: .inPerson))
}

extension Scenario {
    /// Moves the clock on by 1 ms, then signs `body` by `author` at that author's next timestamp (or at `at`);
    /// the event is not added to `events`. Events made one after the other are thus ordered as made, whoever
    /// signs them; a test that wants a tie or an interleaving passes `at`.
    mutating func make(_ author: SigningKey, _ body: EventBody, at: HLC? = nil) -> Event {
        factory.tick()
        return factory.make(author, body, at: at)
    }

    /// The derived state of the scenario's events plus `extra`.
    func state(_ extra: [Event]) -> CommunityState { derive(events + extra) }

    /// The scenario campaign in the state of its events plus `extra`.
    func campaign(_ extra: [Event]) -> CampaignState? { state(extra).campaign(campaign) }

    func update(_ edit: (inout CampaignUpdated) -> Void) -> EventBody {
        var u = CampaignUpdated(campaign: campaign)
        edit(&u)
        return .campaignUpdated(u)
    }

    func revise(_ pledge: Event, _ edit: (inout PledgeRevised) -> Void) -> EventBody {
        var r = PledgeRevised(campaign: campaign, pledge: pledge.id)
        edit(&r)
        return .pledgeRevised(r)
    }

    func revise(_ pledge: Event, amount: Int64, currency: Currency = gbp) -> EventBody {
        revise(pledge) {
            $0.amount = amount
            $0.currency = currency
        }
    }

    func withdraw(_ pledge: Event) -> EventBody { .pledgeWithdrawn(PledgeRef(campaign: campaign, pledge: pledge.id)) }

    func collect(_ pledge: Event, _ amount: Int64, currency: Currency = gbp, method: PaymentMethod = .cash) -> EventBody {
        .pledgeCollected(PledgeCollected(campaign: campaign, pledge: pledge.id, amount: amount, currency: currency, method: method))
    }

    func reject(_ pledge: Event, _ reason: String = "Bounced transfer") -> EventBody {
        .pledgeRejected(PledgeRejected(campaign: campaign, pledge: pledge.id, reason: reason))
    }

    func tierLimit(_ limit: UInt32) -> EventBody {
        var u = TierUpdated(campaign: campaign, tier: tier)
        u.limit = limit
        return .tierUpdated(u)
    }

    var close: EventBody { .campaignClosed(CampaignRef(campaign: campaign)) }
    var cancel: EventBody { .campaignCancelled(CampaignCancelled(campaign: campaign, reason: "Pool sold")) }
}
