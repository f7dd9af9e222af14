import Foundation
public import Logging
public import WhipCore
public import WhipCrypto
public import WhipStore

/// A backer's contact details, sealed to the campaign's organisers before they leave this node.
public struct Contact: Codable, Sendable, Equatable {
    /// An anonymous backer's name, sealed with the contact details of a version-2 pledge instead of being public.
    public var name: String?
    public var email: String?
    public var phone: String?
    public var address: String?
    /// The backer made a Gift Aid declaration.
    public var giftAid: Bool
    /// The pledge desk that took the pledge (issue 10). Sealed with the rest, so only organisers see it; a node of an
    /// earlier release ignores the unknown JSON key (PROTOCOL.md §6.35).
    public var desk: String?

    public init(
        name: String? = nil, email: String? = nil, phone: String? = nil, address: String? = nil, giftAid: Bool = false, desk: String? = nil
    ) {
        self.name = name
        self.email = email
        self.phone = phone
        self.address = address
        self.giftAid = giftAid
        self.desk = desk
    }

    /// True when nothing would be sealed.
    public var isEmpty: Bool { name == nil && email == nil && phone == nil && address == nil && !giftAid && desk == nil }
}

/// A Whipround node: its identity, data directory and replica, and every user operation.
public final class Node: Sendable {
    /// The data directory.
    public let dir: DataDir
    /// This node's signing identity.
    public let identity: SigningKey
    /// The replica.
    public let store: Store
    let logger: Logger
    let clock: @Sendable () -> UInt64

    /// The printable form of this node's public key.
    public var memberID: String { KeyText.encode(identity.publicKey, as: .member) }

    private init(dir: DataDir, identity: SigningKey, store: Store, logger: Logger, clock: @escaping @Sendable () -> UInt64) {
        self.dir = dir
        self.identity = identity
        self.store = store
        self.logger = logger
        self.clock = clock
    }

    /// Creates a node in `dir`: a new identity (0600) and an empty replica.
    ///
    /// With `newReplica`, keeps the identity already in `dir` and creates only an empty replica, in place of a
    /// `whipround.sqlite` that was lost; nothing else ever creates a replica.
    public static func initialise(
        dir: DataDir, name: String, newReplica: Bool = false, logger: Logger, clock: @escaping @Sendable () -> UInt64 = Dates.nowMs
    ) throws(WhipError) -> Node {
        let exists = try dir.check()
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= EventLimits.maxNameBytes else {
            throw WhipError(.invalidArgument, "the node name must be 1 to \(EventLimits.maxNameBytes) bytes")
        }
        try SafeText.checkName(trimmed, what: "the node name")
        let identity = exists ? try DataDir.fileType(dir.identityFile) : nil
        let database = exists ? try DataDir.fileType(dir.databaseFile) : nil
        let hasReplica = (database?.size ?? 0) > 0
        if newReplica {
            guard identity != nil else {
                throw WhipError(
                    .notFound, "\(dir.path) holds no identity.key to keep; restore it from your backup, or run `whipround init` without --new-replica"
                )
            }
            if hasReplica {
                throw WhipError(.alreadyExists, "\(dir.databaseFile) is still there; --new-replica only replaces a lost or empty one")
            }
            let key = try dir.readSecret(dir.identityFile)
            let store = try Store(path: dir.databaseFile, logger: logger)
            try store.setMeta("name", trimmed)
            logger.info("empty replica created", metadata: ["node.dir": "\(dir.path)"])
            return Node(dir: dir, identity: key, store: store, logger: logger, clock: clock)
        }
        if identity != nil {
            throw WhipError(.alreadyExists, "\(dir.path) already holds a node; use it as it is, or choose another --data directory")
        }
        if hasReplica {
            throw WhipError(
                .alreadyExists,
                "\(dir.path) holds a replica but its identity.key is missing: restore identity.key from your backup (the node's roles belong to it), or choose another --data directory for a new node"
            )
        }
        try dir.create()
        let key = SigningKey.generate()
        try dir.writeSecret(key.seed, to: dir.identityFile)
        let store = try Store(path: dir.databaseFile, logger: logger)
        try store.setMeta("name", trimmed)
        logger.info("node initialised", metadata: ["node.dir": "\(dir.path)"])
        return Node(dir: dir, identity: key, store: store, logger: logger, clock: clock)
    }

    /// Opens an existing node; read-only (reading commands only) when this user may not change its data.
    ///
    /// Never creates anything: a missing or empty replica is an error that says how to restore or rebuild it.
    public static func open(dir: DataDir, logger: Logger, clock: @escaping @Sendable () -> UInt64 = Dates.nowMs) throws(WhipError) -> Node {
        let create = "create one with `whipround init --data \(dir.path) --name \"My Hub\"`"
        guard try dir.check() else { throw WhipError(.notFound, "no node in \(dir.path) (no such directory); \(create)") }
        let database = try DataDir.fileType(dir.databaseFile)
        guard try DataDir.fileType(dir.identityFile) != nil else {
            if database != nil {
                throw WhipError(
                    .notFound,
                    "\(dir.identityFile) is missing but the replica is there: restore identity.key from your backup (the node's roles belong to it)")
            }
            throw WhipError(.notFound, "no node in \(dir.path); \(create)")
        }
        let rebuild =
            "restore it from your backup, or start an empty one with `whipround init --data \(dir.path) --new-replica` and rebuild it from a peer (`whipround sync`) or a bundle (`whipround bundle import`)"
        guard let database else { throw WhipError(.storage, "the replica \(dir.databaseFile) is missing: \(rebuild)") }
        guard database.type == S_IFREG else { throw WhipError(.storage, "\(dir.databaseFile) is not a file: \(rebuild)") }
        guard database.size > 0 else { throw WhipError(.storage, "the replica \(dir.databaseFile) is empty (0 bytes): \(rebuild)") }
        let key = try dir.readSecret(dir.identityFile)
        let readOnly = !dir.isWritable
        if readOnly { logger.info("data directory is not writable; opening the replica read-only", metadata: ["node.dir": "\(dir.path)"]) }
        let store = try Store(path: dir.databaseFile, logger: logger, readOnly: readOnly)
        let node = Node(dir: dir, identity: key, store: store, logger: logger, clock: clock)
        if !readOnly { try store.retryHeld(now: clock()) }
        return node
    }

    /// The node's display name.
    public var name: String { (try? store.meta("name")) ?? "" }

    // MARK: Communities

    /// Resolves `--community` (a wrc1 id or a name); nil means "the only one".
    public func community(_ selector: String?) throws(WhipError) -> CommunityInfo {
        let all = try store.communities()
        if let selector {
            let lower = selector.trimmingCharacters(in: .whitespaces).lowercased()
            if lower.hasPrefix("wrc1") {
                // A full id is wrc1 and 58 characters.
                if lower.count < 4 + 58 {
                    // A prefix, as for campaign ids: at least `minimumIDPrefix` characters after wrc1, matching one.
                    guard lower.count >= 4 + Node.minimumIDPrefix else {
                        throw WhipError(
                            .invalidArgument, "'\(selector)' is too short: give at least \(Node.minimumIDPrefix) characters after wrc1, or the name")
                    }
                    let matches = all.filter { KeyText.encode($0.id, as: .community).hasPrefix(lower) }
                    if matches.count == 1 { return matches[0] }
                    if matches.count > 1 {
                        throw WhipError(.invalidArgument, "'\(selector)' matches \(matches.count) communities; give more of the id")
                    }
                    throw WhipError(.notFound, "this node is not a member of a community \(selector)…; see `whipround community list`")
                }
                let id = try KeyText.decode(selector, as: .community)
                if let c = all.first(where: { $0.id == id }) { return c }
                throw WhipError(.notFound, "this node is not a member of \(selector); join it with `whipround community join INVITE`")
            }
            let named = all.filter { $0.name.lowercased() == selector.lowercased() }
            if named.count == 1 { return named[0] }
            if named.count > 1 { throw WhipError(.invalidArgument, "several communities are called '\(selector)'; pass the wrc1… id instead") }
            throw WhipError(.notFound, "no community called '\(selector)'; see `whipround community list`")
        }
        switch all.count {
        case 0: throw WhipError(.notFound, "this node belongs to no community yet; create one with `whipround community create NAME` or join one")
        case 1: return all[0]
        default: throw WhipError(.invalidArgument, "this node belongs to \(all.count) communities; say which with --community")
        }
    }

    /// Characters needed after `wrc1` for a community id prefix (as for campaign, tier and pledge ids).
    public static let minimumIDPrefix = 6

    /// Creates a community with its own root key and network key; this node is its founder.
    ///
    /// All or nothing: the name is checked before anything is written, the membership row and the genesis event
    /// are one transaction, and the root key file (written first, so a stored community never lacks its key)
    /// is removed again if that transaction fails.
    ///
    /// Refused when this node already belongs to a community of that name (names select communities on
    /// the command line), unless `allowDuplicateName`.
    public func createCommunity(name: String, allowDuplicateName: Bool = false) throws(WhipError) -> CommunityInfo {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= EventLimits.maxNameBytes else {
            throw WhipError(.invalidArgument, "a community name must be 1 to \(EventLimits.maxNameBytes) bytes")
        }
        try SafeText.checkName(trimmed, what: "the community name")
        if !allowDuplicateName, let same = try store.communities().first(where: { $0.name.lowercased() == trimmed.lowercased() }) {
            throw WhipError(
                .alreadyExists,
                "this node already belongs to a community called '\(same.name)' (\(KeyText.encode(same.id, as: .community))); "
                    + "choose another name, or pass --allow-duplicate-name and select communities by id")
        }
        let root = SigningKey.generate()
        let keyFile = dir.communityKeyFile(root.publicKey)
        try dir.writeSecret(root.seed, to: keyFile)
        do {
            _ = try store.createCommunity(id: root.publicKey, name: trimmed, networkKey: Sodium.randomBytes(32), now: clock()) { hlc in
                Event.sign(
                    community: root.publicKey, author: root, hlc: hlc,
                    body: .communityCreated(CommunityCreated(name: trimmed, founder: identity.publicKey)))
            }
        } catch {
            // The key was made a moment ago for this community alone, which was not stored: nothing refers to it.
            unlink(keyFile)
            throw error
        }
        logger.info("community created", metadata: ["community.id": "\(KeyText.encode(root.publicKey, as: .community))"])
        return try community(KeyText.encode(root.publicKey, as: .community))
    }

    /// The invite for a community this node belongs to.
    public func invite(_ c: CommunityInfo, hubs: [String] = []) -> Invite {
        Invite(community: c.id, networkKey: c.networkKey, name: c.name, hubs: Array(Set(c.hubs + hubs)).sorted())
    }

    /// Joins a community from an invite.
    public func join(_ invite: Invite) throws(WhipError) -> CommunityInfo {
        try store.joinCommunity(id: invite.community, name: invite.name, networkKey: invite.networkKey, hubs: invite.hubs, now: clock())
        for hub in invite.hubs { try store.addPeer(hub, source: "invite", now: clock()) }
        return try community(KeyText.encode(invite.community, as: .community))
    }

    /// Signs and stores a local event; refused (nothing stored) if the rules would reject it.
    @discardableResult
    public func emit(_ community: PublicKey, _ body: EventBody, parts: [PartDraft] = []) throws(WhipError) -> Event {
        try store.appendLocal(community: community, now: clock(), after: body.references, author: identity.publicKey, parts: parts) { hlc in
            Event.sign(community: community, author: identity, hlc: hlc, body: body)
        }
    }

    /// A warning when this node's clock disagrees with its data (it holds an event stamped more than
    /// `Store.maxFutureSkewMs` ahead of the clock), else nil. New events are stamped by the clock (PROTOCOL.md §8).
    public func clockWarning() throws(WhipError) -> String? {
        let now = clock()
        guard let d = try store.clockDisagreement(now: now) else { return nil }
        return "this node's clock says \(Dates.format(now, timeZone: "UTC")), but it holds an event stamped "
            + "\(Dates.format(d.newest, timeZone: "UTC")) (\(Dates.describe(durationMs: d.aheadMs)) later): "
            + "if the clock is wrong, set it; new events are stamped by the clock, and peers hold events stamped more than "
            + "10 minutes ahead of theirs"
    }

    /// Grants `role` to a member. Refused when `expires` is not in the future: a grant replaces the member's
    /// current one for that role, so it would swap a working role for an expired one.
    public func grant(_ c: CommunityInfo, member: PublicKey, role: Role, expires: UInt64?) throws(WhipError) -> Event {
        if let expires, expires <= clock() {
            throw WhipError(
                .invalidArgument,
                "that expiry (\(Dates.format(expires, timeZone: "UTC"))) has already passed: the \(role.name) role would be granted expired, "
                    + "replacing any it holds now; give a later date, or leave --until out for no expiry")
        }
        return try emit(c.id, .roleGranted(RoleGranted(member: member, role: role, expires: expires)))
    }

    /// Revokes `role` from a member; refused when the member does not hold it (granted and not revoked).
    public func revoke(_ c: CommunityInfo, member: PublicKey, role: Role) throws(WhipError) -> Event {
        guard try store.roles(community: c.id).contains(where: { $0.member == member && $0.role == role && $0.granted }) else {
            throw WhipError(
                .notFound,
                "\(KeyText.encode(member, as: .member)) does not hold the \(role.name) role in '\(c.name)', so there is nothing to revoke; "
                    + "see `whipround community roles`")
        }
        return try emit(c.id, .roleRevoked(RoleRevoked(member: member, role: role)))
    }

    // MARK: Campaigns

    /// The campaign named by an id or unique prefix.
    public func campaign(_ text: String) throws(WhipError) -> CampaignRow {
        let id = try store.resolve(text, in: "campaigns", what: "campaign")
        guard let c = try store.campaign(id) else { throw WhipError(.notFound, "no campaign \(text)") }
        return c
    }

    // MARK: Pledges

    /// Seals contact details to each of the campaign's organisers.
    public func seal(_ contact: Contact, for campaign: CampaignRow) throws(WhipError) -> [SealedContact] {
        guard !contact.isEmpty else { return [] }
        let plain: [UInt8]
        do { plain = Array(try JSONEncoder().encode(contact)) } catch { throw WhipError(.internalError, "cannot encode contact", cause: error) }
        guard plain.count + SealedBox.overhead <= EventLimits.maxSealedContactBytes else {
            throw WhipError(
                .invalidArgument, "contact details are too long (at most \(EventLimits.maxSealedContactBytes - SealedBox.overhead) bytes)")
        }
        var out = [SealedContact]()
        for organiser in campaign.organisers {
            do {
                out.append(SealedContact(recipient: organiser, ciphertext: try SealedBox.seal(plain, to: organiser)))
            } catch {
                throw WhipError(.internalError, "cannot seal contact details", cause: error)
            }
        }
        return out
    }

    /// Opens the contact details sealed to this node, if any (padded, as in a version-2 pledge's contact part, or not).
    public func openContact(_ sealed: [SealedContact]) -> Contact? {
        guard let mine = sealed.first(where: { $0.recipient == identity.publicKey }),
            let plain = try? identity.openSealed(mine.ciphertext)
        else { return nil }
        if let c = try? JSONDecoder().decode(Contact.self, from: Data(plain)) { return c }
        guard let unpadded = SealedPart.unpad(plain) else { return nil }
        return try? JSONDecoder().decode(Contact.self, from: Data(unpadded))
    }

    /// The parts of a new version-2 pledge: the public name (absent when `anonymous`: the name is then sealed with
    /// the contact details), the contact details sealed to the campaign's organisers, and `giftAid` (an encoded
    /// `SealedPart`, sealed to the treasurers by its maker).
    public func pledgeParts(
        name: String, anonymous: Bool, contact: Contact, giftAid: [UInt8]? = nil, for campaign: CampaignRow
    ) throws(WhipError) -> PledgeParts {
        var sealed = contact
        if anonymous { sealed.name = name }
        var contactPart: [UInt8]? = nil
        if !sealed.isEmpty {
            let plain: [UInt8]
            do { plain = Array(try JSONEncoder().encode(sealed)) } catch { throw WhipError(.internalError, "cannot encode contact", cause: error) }
            let part: SealedPart?
            do { part = try SealedPart.seal(plain, to: campaign.organisers) } catch {
                throw WhipError(.internalError, "cannot seal contact details", cause: error)
            }
            guard let part else {
                throw WhipError(.invalidArgument, "contact details are too long (at most \(SealedPart.maxPlaintext) bytes)")
            }
            contactPart = part.encoded()
        }
        let parts = PledgeParts(name: anonymous ? nil : name, contact: contactPart, giftAid: giftAid)
        do { try parts.validate() } catch { throw WhipError(.invalidArgument, "cannot record the pledge: \(error.message)") }
        return parts
    }

    /// Signs and stores a version-2 pledge with its parts in one transaction; refused (nothing stored) if the
    /// rules would reject it.
    @discardableResult
    public func recordPledge(
        _ campaign: CampaignRow, amount: Money, tier: EventID?, channel: Channel, paid: PaymentMethod?, parts: PledgeParts
    ) throws(WhipError) -> Event {
        try emit(
            campaign.community,
            .pledgeMadeV2(
                PledgeMadeV2(
                    campaign: campaign.id, amount: amount.minor, currency: amount.currency, tier: tier, channel: channel, paid: paid,
                    commitments: parts.commitments)),
            parts: parts.drafts)
    }

    /// Erases a version-2 pledge's personal parts on every node (`personal.erased`); refused unless this node may
    /// (an organiser of the campaign or an admin) and the pledge is version 2.
    @discardableResult
    public func erase(_ pledge: PledgeRow, of campaign: CampaignRow, reason: ErasureReason, slots: [PartSlot]) throws(WhipError) -> Event {
        guard pledge.version == 2 else {
            throw WhipError(
                .rejected,
                "pledge \(pledge.id.hex.prefix(12)) is in the old format, with the name inside its signed event: it cannot be erased "
                    + "(docs/PRIVACY.md)")
        }
        guard !slots.isEmpty else { throw WhipError(.invalidArgument, "name at least one part to erase: name, contact or gift-aid") }
        // Parts this node already erased are left out, so asking twice signs nothing new.
        let fresh = Set(slots).subtracting(pledge.erased).sorted()
        guard !fresh.isEmpty else {
            throw WhipError(
                .alreadyExists,
                "the \(Set(slots).sorted().map(\.name).joined(separator: ", ")) of pledge \(pledge.id.hex.prefix(12)) "
                    + "\(slots.count == 1 ? "was" : "were") already erased; nothing was signed")
        }
        // The declaration may have to be kept for HMRC: only a treasurer's node can tell, and it checks first.
        if fresh.contains(.giftAid) { try checkGiftAidErasure(pledge, of: campaign) }
        return try emit(
            campaign.community, .personalErased(PersonalErased(campaign: campaign.id, pledge: pledge.id, reason: reason, slots: fresh)))
    }

    /// The pledge named by an id or unique prefix.
    public func pledge(_ text: String) throws(WhipError) -> (PledgeRow, CampaignRow) {
        let id = try store.resolve(text, in: "pledges", what: "pledge")
        guard let p = try store.pledge(id), let c = try store.campaign(p.campaign) else { throw WhipError(.notFound, "no pledge \(text)") }
        return (p, c)
    }

    // MARK: Bundles

    /// A bundle of every stored event (optionally of one community).
    public func exportBundle(community: PublicKey?) throws(WhipError) -> (bytes: [UInt8], count: Int) {
        let events = try store.exportEvents(community: community)
        let parts = try store.exportParts(community: community)
        return (EventBundle.encode(events, parts: parts.map { $0.encoded() }), events.count)
    }

    /// Decodes part records from a bundle or a peer; those that do not decode are dropped and counted.
    package static func partRecords(_ bytes: [[UInt8]]) -> (records: [PartRecord], malformed: Int) {
        var records: [PartRecord] = []
        for b in bytes { if let r = try? PartRecord.decode(b) { records.append(r) } }
        return (records, bytes.count - records.count)
    }

    /// Stores a bundle's part records, after all its events (PROTOCOL.md §12).
    func importParts(_ bytes: [[UInt8]], into report: inout IngestReport) throws(WhipError) {
        guard !bytes.isEmpty else { return }
        let (records, malformed) = Node.partRecords(bytes)
        report.merge(try store.ingest([], parts: records, source: .bundle, now: clock()))
        if malformed > 0 { report.partsRefused[PartRefusal.malformed.rawValue, default: 0] += malformed }
    }

    /// Imports a bundle; a damaged bundle is refused whole.
    public func importBundle(_ bytes: [UInt8]) throws(WhipError) -> IngestReport {
        let (events, parts) = try EventBundle.decode(bytes)
        // Batches bound transaction size; each batch is one transaction.
        let batches = stride(from: 0, to: events.count, by: Node.importBatch).map { Array(events[$0..<min(events.count, $0 + Node.importBatch)]) }
        var report = try store.ingest(batches: batches, source: .bundle, now: clock())
        try importParts(parts, into: &report)
        return report
    }

    /// Imports a bundle file in batches without reading it all into memory; a damaged file is refused whole
    /// before any event is stored (the checksum is checked first), except that a read error part-way stops there.
    public func importBundle(path: String) throws(WhipError) -> IngestReport {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw WhipError(.notFound, "cannot read \(path): no such file or no permission")
        }
        defer { try? handle.close() }
        let size: Int
        do { size = Int(try handle.seekToEnd()) } catch { throw WhipError(.io, "cannot read \(path)", cause: error) }
        var reader = EventBundle.StreamReader(size: size) { offset, count in
            try handle.seek(toOffset: UInt64(offset))
            return [UInt8](try handle.read(upToCount: count) ?? Data())
        }
        try reader.verify()
        var report = IngestReport()
        // Two batches in flight: one verifying while the other commits.
        while true {
            let a = try reader.next(upTo: Node.importBatch)
            if a.isEmpty { break }
            let b = try reader.next(upTo: Node.importBatch)
            report.merge(try store.ingest(batches: b.isEmpty ? [a] : [a, b], source: .bundle, now: clock()))
        }
        while case let parts = try reader.nextParts(upTo: Node.importBatch), !parts.isEmpty { try importParts(parts, into: &report) }
        return report
    }

    /// Events per import transaction.
    public static let importBatch = 20_000

    /// A 32-byte secret kept in the data directory as `name` (mode 0600), created on first use.
    public func secret(named name: String) throws(WhipError) -> [UInt8] {
        let file = dir.path + "/" + name
        if !FileManager.default.fileExists(atPath: file) {
            do {
                try dir.writeSecret(Sodium.randomBytes(32), to: file)
            } catch  where error.code == .alreadyExists {
                // Created by another process meanwhile: read theirs.
            }
        }
        return try dir.readSecret(file).seed
    }

    /// Now, by this node's clock.
    public var now: UInt64 { clock() }
}
