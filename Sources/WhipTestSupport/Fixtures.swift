import Synchronization
public import WhipCore
public import WhipCrypto

/// Deterministic keys for tests: the same seed always gives the same key.
public enum FixedKeys {
    /// A signing key from a one-byte label, e.g. `FixedKeys.key(1)`.
    public static func key(_ label: UInt8) -> SigningKey {
        try! SigningKey(seed: [UInt8](repeating: label, count: 32))
    }

    /// The community root key used by `Scenario`.
    public static let community = key(0xC0)
    /// The founder's node key.
    public static let founder = key(0xF0)
    /// An organiser.
    public static let organiser = key(0x0A)
    /// Two collectors.
    public static let collectorA = key(0x1A)
    public static let collectorB = key(0x1B)
    /// Someone with no role.
    public static let stranger = key(0x5E)
}

/// A clock the test moves by hand, in milliseconds since the epoch.
public final class ManualClock: Sendable {
    private let nowMs: Mutex<UInt64>

    /// Starts at `start` ms (default 2027-01-01T00:00:00Z).
    public init(start: UInt64 = 1_798_761_600_000) { nowMs = Mutex(start) }

    /// The current time.
    public var now: UInt64 { nowMs.withLock { $0 } }

    /// Moves the clock by `ms` (may be negative, to test clocks that step back).
    public func advance(_ ms: Int64) {
        nowMs.withLock { $0 = UInt64(Int64($0) + ms) }
    }
}

/// Builds signed events for one community, keeping a per-author hybrid logical clock.
public struct EventFactory {
    /// The community.
    public let community: SigningKey
    /// Wall clock in ms that new events are stamped from.
    public var now: UInt64
    private var last: [PublicKey: HLC] = [:]

    /// A factory for `community` starting at `now`.
    public init(community: SigningKey = FixedKeys.community, now: UInt64 = 1_798_761_600_000) {
        self.community = community
        self.now = now
    }

    /// Signs `body` by `author` at the next HLC for that author (or at `at`, if given).
    public mutating func make(_ author: SigningKey, _ body: EventBody, at: HLC? = nil) -> Event {
        let hlc = at ?? HLC.next(after: last[author.publicKey], now: now)
        if let prev = last[author.publicKey] { last[author.publicKey] = max(prev, hlc) } else { last[author.publicKey] = hlc }
        return Event.sign(community: community.publicKey, author: author, hlc: hlc, body: body)
    }

    /// Advances the wall clock.
    public mutating func tick(_ ms: UInt64 = 1) { now += ms }
}

/// A ready-made community: genesis, an organiser, two collectors, and a live GBP campaign with one limited tier.
public struct Scenario {
    public var factory: EventFactory
    public var events: [Event] = []
    public let campaign: EventID
    public let tier: EventID
    public static let gbp = Currency(code: "GBP")!

    /// Builds the base scenario; `tierLimit` is the limited tier's quantity.
    public init(tierLimit: UInt32 = 3, closes: UInt64 = 1_893_456_000_000) {
        var f = EventFactory()
        var evs: [Event] = []
        let k = FixedKeys.self
        evs.append(f.make(k.community, .communityCreated(CommunityCreated(name: "Elm Street", founder: k.founder.publicKey))))
        f.tick()
        evs.append(f.make(k.founder, .roleGranted(RoleGranted(member: k.organiser.publicKey, role: .organiser))))
        evs.append(f.make(k.founder, .roleGranted(RoleGranted(member: k.collectorA.publicKey, role: .collector))))
        evs.append(f.make(k.founder, .roleGranted(RoleGranted(member: k.collectorB.publicKey, role: .collector))))
        f.tick()
        let created = f.make(
            k.organiser,
            .campaignCreated(
                CampaignCreated(
                    title: "Reopen the lido", description: "", goal: 500_000, currency: Scenario.gbp, model: .allOrNothing,
                    opens: 0, closes: closes, timeZone: "Europe/London", organisers: [])))
        evs.append(created)
        f.tick()
        let tier = f.make(
            k.organiser, .tierAdded(TierAdded(campaign: created.id, title: "Lido T-shirt", minimum: 2_000, limit: tierLimit)))
        evs.append(tier)
        evs.append(f.make(k.organiser, .campaignPublished(CampaignRef(campaign: created.id))))
        f.tick()
        self.factory = f
        self.events = evs
        self.campaign = created.id
        self.tier = tier.id
    }

    /// A pledge body for this scenario's campaign.
    public func pledge(_ name: String, _ pence: Int64, tier: EventID? = nil, paid: PaymentMethod? = nil) -> EventBody {
        .pledgeMade(
            PledgeMade(
                campaign: campaign, backerName: name, anonymous: false, amount: pence, currency: Scenario.gbp, tier: tier,
                channel: .inPerson, paid: paid))
    }
}
