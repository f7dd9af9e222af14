import Foundation
public import WhipCore
public import WhipCrypto
public import WhipStore

/// What a treasurer's node finds in a pledge's Gift Aid slot.
public enum DeclarationLookup: Equatable, Sendable {
    /// An opened declaration.
    case found(GiftAidDeclaration)
    /// An opened "no declaration" part: the backer made none.
    case declined
    /// No part (absent, an old-format pledge, or its part not received yet).
    case none
    /// A declaration sealed to other treasurers only.
    case sealedToOthers
    /// Erased by `personal.erased`.
    case erased
}

/// A pledge a Gift Aid claim leaves out, and why (only pledges whose declaration this node can read are listed).
public struct GiftAidSkip: Sendable, Equatable {
    public let pledge: EventID
    public let campaign: EventID
    public let reason: String
}

/// A pledge that counts for the Gift Aid Small Donations Scheme.
public struct SmallDonation: Sendable, Equatable {
    public let pledge: EventID
    public let campaign: EventID
    public let amount: Int64
    public let date: CivilDate
}

extension Node {
    /// HMRC's figures for the Gift Aid Small Donations Scheme (gov.uk, "Gift Aid Small Donations Scheme"; README cites).
    public enum SmallDonations {
        /// The largest single cash or contactless donation the scheme covers: £30 (since 6 April 2019).
        public static let maxDonation: Int64 = 3_000
        /// Small donations a charity may claim on in one tax year: £8,000.
        public static let maxPerTaxYear: Int64 = 800_000
        /// And no more than 10 times its Gift Aid donations in the same tax year (the matching rule).
        public static let matchingFactor: Int64 = 10
        /// The payment methods the scheme covers.
        public static let methods: Set<String> = ["cash", "contactless"]
    }

    /// The UK calendar date (Europe/London) of an instant: HMRC's dates are UK dates.
    public func ukDate(_ ms: UInt64) -> CivilDate {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Europe/London") ?? TimeZone(identifier: "UTC")!
        let d = cal.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(ms) / 1000))
        return CivilDate(year: d.year ?? 1970, month: d.month ?? 1, day: d.day ?? 1) ?? CivilDate(daysSinceEpoch: Int(ms / 86_400_000))
    }

    /// Parses a `YYYY-MM-DD` option.
    public static func civilDate(_ text: String, option: String) throws(WhipError) -> CivilDate {
        guard let d = CivilDate(iso: text) else {
            throw WhipError(.invalidArgument, "\(option) '\(text)' is not a date: write it as YYYY-MM-DD, e.g. 2027-03-31")
        }
        return d
    }

    /// The joined community with this id.
    public func communityInfo(_ id: PublicKey) throws(WhipError) -> CommunityInfo {
        guard let c = try store.communities().first(where: { $0.id == id }) else {
            throw WhipError(.notFound, "this node is not a member of community \(KeyText.encode(id, as: .community))")
        }
        return c
    }

    /// The community's HMRC recognition as a charity, or nil.
    public func charity(_ c: CommunityInfo) throws(WhipError) -> CharityRecognised? {
        try store.authority(community: c.id).currentCharity
    }

    /// The recognition, or a clear refusal: nothing offers Gift Aid until a community is recorded as a charity.
    public func requireCharity(_ c: CommunityInfo) throws(WhipError) -> CharityRecognised {
        guard let charity = try charity(c) else {
            if try store.authority(community: c.id).lastRecognition != nil {
                throw WhipError(
                    .rejected,
                    "'\(c.name)' is no longer recognised by HMRC as a charity (its recognition was withdrawn), so it cannot offer or claim Gift Aid; an admin records a new recognition with `whipround charity recognise`"
                )
            }
            throw WhipError(
                .rejected,
                "'\(c.name)' is not recorded as a charity recognised by HMRC, so it cannot offer or claim Gift Aid; an admin records it with `whipround charity recognise`"
            )
        }
        return charity
    }

    /// Whether this node's key may claim Gift Aid in the community now: a treasurer, or root.
    public func mayClaimGiftAid(community: PublicKey) throws(WhipError) -> Bool {
        let auth = try store.authority(community: community)
        let me = identity.publicKey
        return auth.isRoot(me) || auth.currentRoles(wall: now).contains(where: { $0.member == me && $0.role == .treasurer })
    }

    /// Members holding the treasurer role now.
    public func treasurers(_ c: CommunityInfo) throws(WhipError) -> [PublicKey] {
        try store.authority(community: c.id).currentRoles(wall: now).filter { $0.role == .treasurer }.map(\.member)
    }

    /// The Gift Aid declaration of a pledge, as far as this node can read it: its slot-2 part, opened with this
    /// node's key.
    public func giftAidDeclaration(pledge: EventID) throws(WhipError) -> DeclarationLookup {
        if try store.tombstones(pledge: pledge).contains(.giftAid) { return .erased }
        guard let part = try store.part(event: pledge, slot: .giftAid) else { return .none }
        guard let sealed = try? SealedPart.decode(part.bytes) else { return .sealedToOthers }
        guard let mine = sealed.boxes.first(where: { $0.recipient == identity.publicKey }) else { return .sealedToOthers }
        guard let padded = try? identity.openSealed(mine.ciphertext), let plain = SealedPart.unpad(padded) else {
            throw WhipError(.corrupt, "pledge \(pledge.hex.prefix(12))'s Gift Aid declaration is sealed to this node but cannot be opened")
        }
        do {
            switch try GiftAidPart.decode(plain) {
            case .declaration(let d): return .found(d)
            case .noDeclaration: return .declined
            }
        } catch {
            throw WhipError(.corrupt, "pledge \(pledge.hex.prefix(12))'s Gift Aid declaration is not valid: \(error.message)")
        }
    }

    /// The slot-2 part of a new version-2 pledge, sealed to the community's treasurers: the declaration `d`, or,
    /// without one, "no declaration" whenever the community is a recognised charity with a treasurer, so that
    /// nobody but a treasurer can tell the two apart (both padded to `SealedPart.largestPadded`). Nil (a dummy
    /// commitment) only when the community offers no Gift Aid. A declaration is refused unless it can be claimed.
    public func giftAidPart(_ d: GiftAidDeclaration?, community c: CommunityInfo) throws(WhipError) -> [UInt8]? {
        let charity = try d == nil ? charity(c) : requireCharity(c)
        let treasurers = try treasurers(c)
        guard let d else {
            guard charity != nil, !treasurers.isEmpty else { return nil }
            return try seal(.noDeclaration(claimKey: GiftAid.newClaimKey()), to: treasurers)
        }
        guard !treasurers.isEmpty else {
            throw WhipError(
                .rejected,
                "'\(c.name)' has no treasurer to seal the Gift Aid declaration to; an admin grants one with `community grant --role treasurer`")
        }
        do { try d.validate() } catch { throw WhipError(.invalidArgument, "the Gift Aid declaration: \(error.message)") }
        return try seal(.declaration(d), to: treasurers)
    }

    private func seal(_ part: GiftAidPart, to treasurers: [PublicKey]) throws(WhipError) -> [UInt8] {
        let sealed: SealedPart?
        do { sealed = try SealedPart.seal(part.encoded(), to: treasurers, minimumPadded: SealedPart.largestPadded) } catch {
            throw WhipError(.internalError, "cannot seal the Gift Aid declaration", cause: error)
        }
        guard let sealed else { throw WhipError(.invalidArgument, "the Gift Aid declaration is too long") }
        return sealed.encoded()
    }

    /// What this node knows of a campaign's Gift Aid: each pledge whose declaration it can open, with its tag and
    /// whether (and by which claim) it was claimed. Empty at a node that is not a treasurer.
    public func giftAidLedger(campaign: EventID) throws(WhipError) -> [EventID: (declaration: GiftAidDeclaration, claim: GiftAidClaimRow?)] {
        let claims = try store.giftAidClaims(campaign: campaign)
        var out: [EventID: (declaration: GiftAidDeclaration, claim: GiftAidClaimRow?)] = [:]
        for p in try store.pledges(campaign: campaign) where p.version == 2 {
            guard case .found(let d) = try giftAidDeclaration(pledge: p.id) else { continue }
            out[p.id] = (d, claims[d.tag])
        }
        return out
    }

    /// The Gift Aid notes a treasurer's node shows beside a pledge: when a claimed declaration must be kept until or
    /// is due for `retention_expired`, and a claimed pledge that was later withdrawn, rejected or refunded.
    public func giftAidNotes(campaign: CampaignRow) throws(WhipError) -> [EventID: [String: Any]] {
        let ledger = try giftAidLedger(campaign: campaign.id)
        // The last recognition's accounting year, also once it was withdrawn: claimed declarations are still kept.
        guard !ledger.isEmpty, let charity = try store.authority(community: campaign.community).lastRecognition else { return [:] }
        let today = CivilDate(utcMs: now)
        var out: [EventID: [String: Any]] = [:]
        for p in try store.pledges(campaign: campaign.id) {
            guard let (_, claim) = ledger[p.id] else { continue }
            var note: [String: Any] = ["declaration": true, "claimed": claim != nil]
            if let claim {
                let ends = charity.retentionEnds(lastDonation: CivilDate(utcMs: claim.at))
                note["claim"] = claim.claim.hex
                note["keep_until"] = ends.adding(days: -1).iso
                note["due_for_retention_expired"] = today >= ends
                if p.status != "active" || p.refundDue(in: campaign.standing(now: now)) != nil || p.collected.minor < p.amount.minor {
                    note["adjust"] = "claimed, now \(p.status == "active" ? "refunded" : p.status): adjust the next claim"
                }
            }
            out[p.id] = note
        }
        return out
    }

    /// Refuses to erase a Gift Aid declaration this node cannot show is free to go: only a treasurer (or root) may,
    /// and a claimed one is kept until 6 years after the end of its claim's accounting period (`under_retention`).
    public func checkGiftAidErasure(_ pledge: PledgeRow, of campaign: CampaignRow) throws(WhipError) {
        let auth = try store.authority(community: campaign.community)
        guard try mayClaimGiftAid(community: campaign.community) else {
            throw WhipError(
                .permissionDenied,
                "only a treasurer may erase a Gift Aid declaration: the treasurers keep it while HMRC requires (erase the name and contact with --slots name contact)"
            )
        }
        switch try giftAidDeclaration(pledge: pledge.id) {
        case .sealedToOthers:
            throw WhipError(
                .rejected,
                "this node cannot open pledge \(pledge.id.hex.prefix(12))'s Gift Aid declaration, so it cannot tell whether it must be kept")
        case .found(let d):
            guard let claim = try store.giftAidClaims(campaign: campaign.id)[d.tag], let charity = auth.lastRecognition else { return }
            let ends = charity.retentionEnds(lastDonation: CivilDate(utcMs: claim.at))
            guard CivilDate(utcMs: now) >= ends else {
                throw WhipError(
                    .rejected,
                    "under_retention: pledge \(pledge.id.hex.prefix(12))'s Gift Aid declaration was claimed and must be kept until \(ends.adding(days: -1).iso) (6 years after the end of its accounting period); erase the name and contact with --slots name contact"
                )
            }
        case .declined, .none, .erased: return
        }
    }

    /// Signs `giftaid.confirmed`: the written confirmation of the pledge's oral declaration was sent on `sent`.
    public func confirmGiftAid(_ pledge: PledgeRow, of campaign: CampaignRow, sent: CivilDate) throws(WhipError) -> Event {
        guard case .found(let d) = try giftAidDeclaration(pledge: pledge.id) else {
            throw WhipError(.rejected, "this node cannot open a Gift Aid declaration for pledge \(pledge.id.hex.prefix(12))")
        }
        guard d.oral else {
            throw WhipError(.rejected, "pledge \(pledge.id.hex.prefix(12))'s declaration was written, not oral: it needs no confirmation")
        }
        guard sent >= d.date else { throw WhipError(.invalidArgument, "--sent \(sent.iso) is before the declaration was made (\(d.date.iso))") }
        return try emit(campaign.community, .giftAidConfirmed(GiftAidConfirmed(campaign: campaign.id, tag: d.tag, sent: sent)))
    }

    /// The donations a treasurer may claim: collected pledges of GBP campaigns that closed funded (crowd plus match),
    /// not claimed yet (by tag), whose reward keeps within the donor-benefit limits, with a declaration this node can
    /// open, received between `from` and `to` (UK dates, inclusive). These are the checks the ledger cannot make,
    /// since it sees only tags (PROTOCOL.md §6.51); the node makes them before it signs.
    public func giftAidDonations(_ c: CommunityInfo, from: CivilDate, to: CivilDate) throws(WhipError) -> (
        donations: [GiftAidDonation], skipped: [GiftAidSkip]
    ) {
        var donations: [GiftAidDonation] = []
        var skipped: [GiftAidSkip] = []
        for campaign in try store.campaigns(community: c.id) where campaign.goal.currency.code == "GBP" {
            let standing = campaign.standing(now: now)
            guard standing == .closedFunded else {
                // Say why a declared pledge is left out, so an early claim does not just print nothing.
                guard standing != .draft else { continue }
                let why =
                    standing == .live
                    ? "'\(campaign.title)' is still live: claim once it has closed funded"
                    : "'\(campaign.title)' did not close funded (\(standing.rawValue)): no Gift Aid on it"
                for p in try store.pledges(campaign: campaign.id) where p.status == "active" {
                    if case .found = try giftAidDeclaration(pledge: p.id) {
                        skipped.append(GiftAidSkip(pledge: p.id, campaign: campaign.id, reason: why))
                    }
                }
                continue
            }
            let tiers = Dictionary(uniqueKeysWithValues: try store.tiers(campaign: campaign.id).map { ($0.id, $0) })
            let times = try store.collectionTimes(campaign: campaign.id)
            let claims = try store.giftAidClaims(campaign: campaign.id)
            let confirmations = try store.giftAidConfirmations(campaign: campaign.id)
            for p in try store.pledges(campaign: campaign.id) where p.status == "active" {
                guard case .found(let declaration) = try giftAidDeclaration(pledge: p.id), claims[declaration.tag] == nil else { continue }
                func skip(_ why: String) { skipped.append(GiftAidSkip(pledge: p.id, campaign: campaign.id, reason: why)) }
                guard p.collected.minor >= p.amount.minor, let at = times[p.id] else {
                    skip("its money has not all been received")
                    continue
                }
                let date = ukDate(at)
                guard date >= from, date <= to else { continue }
                if let t = p.tier {
                    let benefit = tiers[t]?.benefit?.minor
                    guard GiftAid.benefitAllowed(donation: p.amount.minor, benefit: benefit) else {
                        skip(
                            benefit == nil
                                ? "its reward's value is not stated (tier update --benefit)" : "its reward is worth more than the donor-benefit limit"
                        )
                        continue
                    }
                }
                donations.append(
                    GiftAidDonation(
                        pledge: p.id, campaign: campaign.id, amount: p.amount.minor, date: date, declaration: declaration,
                        confirmedLater: confirmations[declaration.tag]))
            }
        }
        return (donations, skipped)
    }

    /// Signs `giftaid.claimed` events for `donations` (grouped by campaign, at most `GiftAid.maxClaimTags` tags each).
    public func recordGiftAidClaim(_ c: CommunityInfo, donations: [GiftAidDonation]) throws(WhipError) -> [Event] {
        var out: [Event] = []
        let byCampaign = Dictionary(grouping: donations, by: \.campaign)
        for campaign in byCampaign.keys.sorted() {
            let tags = byCampaign[campaign]!.map(\.declaration.tag).sorted()
            var start = 0
            while start < tags.count {
                let chunk = Array(tags[start..<min(tags.count, start + GiftAid.maxClaimTags)])
                out.append(try emit(c.id, .giftAidClaimed(GiftAidClaimed(campaign: campaign, tags: chunk))))
                start += chunk.count
            }
        }
        return out
    }

    /// The Gift Aid Small Donations Scheme list: cash and contactless pledges of at most £30 of GBP campaigns that
    /// closed funded, received between `from` and `to`, with no Gift Aid declaration (an opened "no declaration" part,
    /// or no part at all).
    public func smallDonations(_ c: CommunityInfo, from: CivilDate, to: CivilDate) throws(WhipError) -> [SmallDonation] {
        var out: [SmallDonation] = []
        for campaign in try store.campaigns(community: c.id) where campaign.goal.currency.code == "GBP" {
            guard campaign.standing(now: now) == .closedFunded else { continue }
            let times = try store.collectionTimes(campaign: campaign.id)
            for p in try store.pledges(campaign: campaign.id)
            where p.status == "active" && SmallDonations.methods.contains(p.collectedMethod ?? "") && p.amount.minor <= SmallDonations.maxDonation
                && p.collected.minor >= p.amount.minor
            {
                guard let at = times[p.id] else { continue }
                let date = ukDate(at)
                guard date >= from, date <= to else { continue }
                let part = try giftAidDeclaration(pledge: p.id)
                guard part == .none || part == .declined else { continue }
                out.append(SmallDonation(pledge: p.id, campaign: campaign.id, amount: p.amount.minor, date: date))
            }
        }
        return out.sorted { ($0.date, $0.pledge) < ($1.date, $1.pledge) }
    }

    /// Gift Aid claimed (pence) per UK tax year, from the claims in this replica whose declarations this node can
    /// open, for the small-donations matching rule.
    public func giftAidClaimedByTaxYear(_ c: CommunityInfo) throws(WhipError) -> [Int: Int64] {
        var out: [Int: Int64] = [:]
        for campaign in try store.campaigns(community: c.id) where campaign.goal.currency.code == "GBP" {
            let ledger = try giftAidLedger(campaign: campaign.id)
            guard !ledger.isEmpty else { continue }
            let times = try store.collectionTimes(campaign: campaign.id)
            for p in try store.pledges(campaign: campaign.id) where ledger[p.id]?.claim != nil {
                let year = GiftAid.taxYearEnding(ukDate(times[p.id] ?? p.madeAt))
                out[year, default: 0] += p.amount.minor
            }
        }
        return out
    }
}

/// A Gift Aid claim worked out but not yet recorded: the schedule's rows, the donations they take, and what was
/// left out and why.
public struct GiftAidClaimDraft: Sendable {
    /// The schedule's rows, in HMRC's column order.
    public let rows: [GiftAidScheduleRow]
    /// The donations the rows take, which recording the claim marks as claimed.
    public let donations: [GiftAidDonation]
    /// Pledges left out: the pledge and the reason in words.
    public let skipped: [(pledge: EventID, reason: String)]
    /// The sum of the rows (pence).
    public var total: Int64 { rows.reduce(0) { $0 + $1.amount } }
}

extension Node {
    /// Works out a Gift Aid claim of community `c` for donations received `from`…`to` (UK dates, inclusive); refused
    /// unless the community is a recognised charity. Nothing is recorded: see `recordGiftAidClaim`.
    public func prepareGiftAidClaim(
        _ c: CommunityInfo, from: CivilDate, to: CivilDate, aggregate: Bool = true, description: String = "Small pledges"
    ) throws(WhipError) -> GiftAidClaimDraft {
        let charity = try requireCharity(c)
        guard from <= to else { throw WhipError(.invalidArgument, "the first day must not be after the last day") }
        guard description.count <= GiftAidSchedule.maxDescription, !description.isEmpty else {
            throw WhipError(.invalidArgument, "the description of added-together rows must be 1 to \(GiftAidSchedule.maxDescription) characters")
        }
        let found = try giftAidDonations(c, from: from, to: to)
        let built = GiftAidSchedule.rows(found.donations, charity: charity, today: ukDate(now), aggregate: aggregate, description: description)
        let donationOf = Dictionary(uniqueKeysWithValues: found.donations.map { ($0.pledge, $0) })
        let claimed = built.rows.flatMap(\.pledges).compactMap { donationOf[$0] }
        let skipped =
            found.skipped.map { (pledge: $0.pledge, reason: $0.reason) } + built.skipped.map { (pledge: $0.0.pledge, reason: $0.1.rawValue) }
        return GiftAidClaimDraft(rows: built.rows, donations: claimed, skipped: skipped)
    }
}
