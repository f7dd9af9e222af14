public import WhipCrypto

/// The full derived state of one community: a pure function of its set of events.
public struct CommunityState: Sendable {
    /// Roles and genesis.
    public let authority: Authority
    /// Each campaign partition's derivation, keyed by campaign id (including ids no valid campaign has).
    public let partitions: [EventID: CampaignLedger.Result]
    /// Number of distinct events.
    public let eventCount: Int
    /// Order-independent fingerprint of the event id set.
    public let fingerprint: EventSetFingerprint

    /// Derives the state from `events` (any order; duplicates ignored). Events of other communities are ignored.
    public init(community: PublicKey, events: [Event]) {
        var unique = [EventID: Event]()
        for e in events where e.community == community { unique[e.id] = e }
        var communityLevel = [Event]()
        var byCampaign = [EventID: [Event]]()
        var fp = EventSetFingerprint()
        for e in unique.values {
            fp.add(e.id)
            if Authority.isCommunityLevel(e.kind) {
                communityLevel.append(e)
            } else if let c = e.campaign {
                byCampaign[c, default: []].append(e)
            }
        }
        let authority = Authority(community: community, events: communityLevel)
        self.authority = authority
        self.partitions = byCampaign.mapValues { CampaignLedger.derive(id: $0[0].campaign!, events: $0, authority: authority) }
        self.eventCount = unique.count
        self.fingerprint = fp
    }

    /// Campaigns that exist.
    public var campaigns: [CampaignState] {
        partitions.values.compactMap(\.campaign).sorted { $0.id < $1.id }
    }

    /// Status of every event.
    public var statuses: [EventID: EventStatus] {
        var all = authority.statuses
        for r in partitions.values { all.merge(r.statuses) { a, _ in a } }
        return all
    }

    /// The state digest two replicas with the same events agree on.
    public var digest: [UInt8] {
        StateDigest.community(
            authority.community,
            authority: StateDigest.authority(authority),
            partitions: partitions.map { ($0.key, StateDigest.partition($0.value)) },
            eventCount: eventCount, fingerprint: fingerprint)
    }
}

/// A 256-bit little-endian sum mod 2^256: an order-independent, incremental hash of a set or multiset.
public struct Sum256: Equatable, Sendable {
    /// 32 bytes, little-endian.
    public private(set) var bytes = [UInt8](repeating: 0, count: 32)

    /// Zero.
    public init() {}

    /// Restores a stored sum.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Adds a 32-byte value.
    public mutating func add(_ v: [UInt8]) {
        var carry: UInt16 = 0
        for i in 0..<32 {
            let s = UInt16(bytes[i]) + UInt16(v[i]) + carry
            bytes[i] = UInt8(s & 0xff)
            carry = s >> 8
        }
    }

    /// Subtracts a 32-byte value.
    public mutating func subtract(_ v: [UInt8]) {
        var borrow: Int16 = 0
        for i in 0..<32 {
            var d = Int16(bytes[i]) - Int16(v[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            bytes[i] = UInt8(d)
        }
    }
}

/// The sum of all event ids: order-independent and incremental.
public struct EventSetFingerprint: Equatable, Sendable {
    /// The running sum.
    public private(set) var sum = Sum256()
    /// 32 bytes, little-endian.
    public var bytes: [UInt8] { sum.bytes }

    /// The empty set.
    public init() {}

    /// Restores a stored fingerprint.
    public init?(bytes: [UInt8]) {
        guard let s = Sum256(bytes: bytes) else { return nil }
        sum = s
    }

    /// Adds one id.
    public mutating func add(_ id: EventID) { sum.add(id.bytes) }
}

/// Incremental parts of a campaign partition's digest.
public struct PartitionSums: Equatable, Sendable {
    /// Sum of `StateDigest.pledge` over every pledge.
    public var pledges = Sum256()
    /// Sum of `StateDigest.status` over every event of the partition.
    public var statuses = Sum256()
    public var pledgeCount = 0
    public var statusCount = 0

    /// Empty sums.
    public init() {}
}

/// Canonical hashing of derived state, so replicas can compare with one string.
///
/// A partition's digest hashes the campaign's fields and tiers together with two sums of per-item
/// hashes (pledges, event statuses), so a store can update it without rereading every pledge.
public enum StateDigest {
    static func h(_ v: CBOR) -> [UInt8] { Blake2b.hash(v.encoded(), length: 32) }

    static func hlc(_ t: HLC) -> CBOR { .array([.unsigned(t.wall), .unsigned(UInt64(t.counter))]) }
    static func opt(_ s: String?) -> CBOR { s.map(CBOR.text) ?? .array([]) }
    static func opt(_ v: UInt64?) -> CBOR { v.map(CBOR.unsigned) ?? .array([]) }
    static func int(_ v: Int64) -> CBOR { v >= 0 ? .unsigned(UInt64(v)) : .negative(UInt64(-1 - v)) }

    /// Hash of one event's status.
    public static func status(_ id: EventID, _ s: EventStatus) -> [UInt8] {
        h(.array([.bytes(id.bytes), .text(s.code)]))
    }

    /// Hash of one pledge (its tier place is covered by the tier's counts, not here).
    ///
    /// A version-2 pledge hashes its commitments where a version-1 pledge hashes its name and anonymity (a
    /// 12-item array against 13), and never a part or which parts were erased: parts may be missing or erased
    /// on any replica without changing its digest.
    public static func pledge(_ p: PledgeState) -> [UInt8] {
        if let commitments = p.commitments {
            return h(
                .array(
                    [
                        .bytes(p.id.bytes), .bytes(p.author.bytes), hlc(p.madeAt), .array(commitments.map { .bytes($0.array) }),
                        int(p.amount), p.tier.map { .bytes($0.bytes) } ?? .array([]), .unsigned(p.channel.rawValue),
                        .text(p.status.rawValue), int(p.collected), p.collectedBy.map { .bytes($0.bytes) } ?? .array([]),
                        opt(p.collectedMethod?.rawValue), opt(p.rejectReason),
                    ]))
        }
        return h(
            .array(
                [
                    .bytes(p.id.bytes), .bytes(p.author.bytes), hlc(p.madeAt), .text(p.backerName), .bool(p.anonymous),
                    int(p.amount), p.tier.map { .bytes($0.bytes) } ?? .array([]), .unsigned(p.channel.rawValue),
                    .text(p.status.rawValue), int(p.collected), p.collectedBy.map { .bytes($0.bytes) } ?? .array([]),
                    opt(p.collectedMethod?.rawValue), opt(p.rejectReason),
                ]))
    }

    /// The sums of a complete derivation.
    public static func sums(_ r: CampaignLedger.Result) -> PartitionSums {
        var s = PartitionSums()
        for (id, st) in r.statuses { s.statuses.add(status(id, st)) }
        s.statusCount = r.statuses.count
        for p in r.campaign?.pledges.values ?? [:].values {
            s.pledges.add(pledge(p))
        }
        s.pledgeCount = r.campaign?.pledges.count ?? 0
        return s
    }

    /// Digest of one campaign partition from its campaign fields, tiers and sums.
    public static func partition(campaign c: CampaignState?, sums: PartitionSums) -> [UInt8] {
        var items: [CBOR] = [.bytes(sums.statuses.bytes), .unsigned(UInt64(sums.statusCount))]
        if let c {
            let tiers: [CBOR] = c.tiers.values.sorted { $0.id < $1.id }.map { t in
                .array(
                    [
                        .bytes(t.id.bytes), .text(t.title), opt(t.description), int(t.minimum), opt(t.limit.map(UInt64.init)),
                        .unsigned(UInt64(t.active)), .unsigned(UInt64(t.claimed)), .unsigned(UInt64(t.waitlisted)),
                    ] + (t.benefit.map { [.array([int($0)])] } ?? []))
            }
            items.append(
                .array(
                    [
                        .bytes(c.id.bytes), .bytes(c.createdBy.bytes), hlc(c.createdAt), .text(c.title), .text(c.description),
                        int(c.goal), .text(c.currency.code), .unsigned(c.model.rawValue), .unsigned(c.opens), .unsigned(c.closes),
                        .text(c.timeZone), .array(c.organisers.map { .bytes($0.bytes) }), .text(c.phase.rawValue),
                        opt(c.cancelReason), int(c.pledged), int(c.collected), .unsigned(UInt64(c.backers)), .bool(c.hasPledges),
                        .array(tiers), .bytes(sums.pledges.bytes), .unsigned(UInt64(sums.pledgeCount)),
                    ] + matches(c)))
        }
        return h(.array(items))
    }

    /// Digest of one complete campaign derivation.
    public static func partition(_ r: CampaignLedger.Result) -> [UInt8] {
        partition(campaign: r.campaign, sums: sums(r))
    }

    /// Digest of the community-level state: genesis and the role timeline.
    public static func authority(_ a: Authority) -> [UInt8] {
        let timeline: [CBOR] = a.timeline.sorted { ($0.key.member, $0.key.role.rawValue) < ($1.key.member, $1.key.role.rawValue) }
            .map { kv in
                .array([
                    .bytes(kv.key.member.bytes), .unsigned(kv.key.role.rawValue),
                    .array(kv.value.map { .array([.bytes($0.event.bytes), .bool($0.granted), opt($0.expires)]) }),
                ])
            }
        let statuses: CBOR = .array(a.statuses.sorted { $0.key < $1.key }.map { .array([.bytes($0.key.bytes), .text($0.value.code)]) })
        var items: [CBOR] = [
            a.genesis.map { .bytes($0.bytes) } ?? .array([]), opt(a.name),
            a.founder.map { .bytes($0.bytes) } ?? .array([]), .array(timeline), statuses,
        ]
        // Appended only once a charity.recognised (or a funder.budget) applies, so communities without one keep
        // their digest; the charity item is then present, empty if need be, so the budgets item has one place.
        if !a.charity.isEmpty || !a.budgets.isEmpty {
            items.append(
                .array(
                    a.charity.map { c in
                        guard let r = c.recognition else {
                            // A charity.withdrawn: two items, so it cannot be taken for a recognition.
                            return .array([.bytes(c.event.bytes), .text(c.withdrawal ?? "")])
                        }
                        return .array([
                            .bytes(c.event.bytes), .text(r.reference), .text(r.legalName), .unsigned(UInt64(r.yearEndMonth)),
                            .unsigned(UInt64(r.yearEndDay)),
                        ])
                    }))
        }
        if !a.budgets.isEmpty {
            items.append(
                .array(
                    a.budgets.map { b in
                        .array([.bytes(b.event.bytes), .bytes(b.funder.bytes), .text(b.budget.currency.code), int(b.budget.amount)])
                    }))
        }
        return h(.array(items))
    }

    /// Digest of a whole community from its parts.
    public static func community(
        _ id: PublicKey, authority: [UInt8], partitions: [(EventID, [UInt8])], eventCount: Int,
        fingerprint: EventSetFingerprint
    ) -> [UInt8] {
        h(
            .array([
                .bytes(id.bytes), .bytes(authority),
                .array(partitions.sorted { $0.0 < $1.0 }.map { .array([.bytes($0.0.bytes), .bytes($0.1)]) }),
                .unsigned(UInt64(eventCount)), .bytes(fingerprint.bytes),
            ]))
    }
}
