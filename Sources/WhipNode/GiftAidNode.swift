import Foundation
public import WhipCore
public import WhipCrypto
public import WhipStore

/// What a treasurer's node finds in a pledge's Gift Aid slot.
public enum DeclarationLookup: Equatable, Sendable {
    /// An opened declaration.
    case found(GiftAidDeclaration)
    /// No declaration (absent part, an old-format pledge, or its part not received yet).
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
            throw WhipError(
                .rejected,
                "'\(c.name)' is not recorded as a charity recognised by HMRC, so it cannot offer or claim Gift Aid; an admin records it with `whipround charity recognise`"
            )
        }
        return charity
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
        do { return .found(try GiftAidDeclaration.decode(plain)) } catch {
            throw WhipError(.corrupt, "pledge \(pledge.hex.prefix(12))'s Gift Aid declaration is not valid: \(error.message)")
        }
    }

    /// A declaration sealed to the community's treasurers: the bytes of a version-2 pledge's slot-2 part. Refused
    /// unless the community is a recognised charity with at least one treasurer.
    public func sealDeclaration(_ d: GiftAidDeclaration, community c: CommunityInfo) throws(WhipError) -> [UInt8] {
        _ = try requireCharity(c)
        let treasurers = try treasurers(c)
        guard !treasurers.isEmpty else {
            throw WhipError(
                .rejected,
                "'\(c.name)' has no treasurer to seal the Gift Aid declaration to; an admin grants one with `community grant --role treasurer`")
        }
        do { try d.validate() } catch { throw WhipError(.invalidArgument, "the Gift Aid declaration: \(error.message)") }
        let part: SealedPart?
        do { part = try SealedPart.seal(d.encoded(), to: treasurers) } catch {
            throw WhipError(.internalError, "cannot seal the Gift Aid declaration", cause: error)
        }
        guard let part else { throw WhipError(.invalidArgument, "the Gift Aid declaration is too long") }
        return part.encoded()
    }

    /// The donations a treasurer may claim: collected pledges of GBP campaigns of `c` that closed funded, not claimed
    /// yet, whose reward keeps within the donor-benefit limits, with a declaration this node can open, received
    /// between `from` and `to` (UK dates, inclusive).
    public func giftAidDonations(_ c: CommunityInfo, from: CivilDate, to: CivilDate) throws(WhipError) -> (
        donations: [GiftAidDonation], skipped: [GiftAidSkip]
    ) {
        var donations: [GiftAidDonation] = []
        var skipped: [GiftAidSkip] = []
        for campaign in try store.campaigns(community: c.id) where campaign.goal.currency.code == "GBP" {
            guard campaign.standing(now: now) == .closedFunded else { continue }
            let tiers = Dictionary(uniqueKeysWithValues: try store.tiers(campaign: campaign.id).map { ($0.id, $0) })
            let times = try store.collectionTimes(campaign: campaign.id)
            for p in try store.pledges(campaign: campaign.id) where p.status == "active" && p.giftAidClaim == nil {
                guard case .found(let declaration) = try giftAidDeclaration(pledge: p.id) else { continue }
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
                donations.append(GiftAidDonation(pledge: p.id, campaign: campaign.id, amount: p.amount.minor, date: date, declaration: declaration))
            }
        }
        return (donations, skipped)
    }

    /// Signs `giftaid.claimed` events for `pledges` (grouped by campaign, at most `GiftAid.maxClaimPledges` each).
    public func recordGiftAidClaim(_ c: CommunityInfo, pledges: [(pledge: EventID, campaign: EventID)]) throws(WhipError) -> [Event] {
        var out: [Event] = []
        let byCampaign = Dictionary(grouping: pledges, by: \.campaign)
        for campaign in byCampaign.keys.sorted() {
            let ids = byCampaign[campaign]!.map(\.pledge).sorted()
            var start = 0
            while start < ids.count {
                let chunk = Array(ids[start..<min(ids.count, start + GiftAid.maxClaimPledges)])
                out.append(try emit(c.id, .giftAidClaimed(GiftAidClaimed(campaign: campaign, pledges: chunk))))
                start += chunk.count
            }
        }
        return out
    }

    /// The Gift Aid Small Donations Scheme list: cash pledges of at most £30 of GBP campaigns that closed funded,
    /// received between `from` and `to`, with no Gift Aid declaration and not claimed under Gift Aid. (The scheme
    /// also covers contactless card payments; Whipround records only cash and transfer.)
    public func smallDonations(_ c: CommunityInfo, from: CivilDate, to: CivilDate) throws(WhipError) -> [SmallDonation] {
        var out: [SmallDonation] = []
        for campaign in try store.campaigns(community: c.id) where campaign.goal.currency.code == "GBP" {
            guard campaign.standing(now: now) == .closedFunded else { continue }
            let times = try store.collectionTimes(campaign: campaign.id)
            for p in try store.pledges(campaign: campaign.id)
            where p.status == "active" && p.giftAidClaim == nil && p.collectedMethod == "cash" && p.amount.minor <= SmallDonations.maxDonation
                && p.collected.minor >= p.amount.minor
            {
                guard let at = times[p.id] else { continue }
                let date = ukDate(at)
                guard date >= from, date <= to else { continue }
                guard try giftAidDeclaration(pledge: p.id) == .none else { continue }
                out.append(SmallDonation(pledge: p.id, campaign: campaign.id, amount: p.amount.minor, date: date))
            }
        }
        return out.sorted { ($0.date, $0.pledge) < ($1.date, $1.pledge) }
    }

    /// Gift Aid claimed (pence) per UK tax year, from the claims in this replica, for the small-donations matching rule.
    public func giftAidClaimedByTaxYear(_ c: CommunityInfo) throws(WhipError) -> [Int: Int64] {
        var out: [Int: Int64] = [:]
        for campaign in try store.campaigns(community: c.id) where campaign.goal.currency.code == "GBP" {
            let times = try store.collectionTimes(campaign: campaign.id)
            for p in try store.pledges(campaign: campaign.id) where p.giftAidClaim != nil {
                let year = GiftAid.taxYearEnding(ukDate(times[p.id] ?? p.madeAt))
                out[year, default: 0] += p.amount.minor
            }
        }
        return out
    }
}
