import Foundation
public import WhipCore
import WhipCrypto
public import WhipStore

/// Pledge desks (issue 10): a volunteer's phone, paired with a one-time code, records pledges for one campaign,
/// signed by this node. Desks, codes, sessions and idempotency keys are this node's own; none of it is synced.
public enum Desk {
    /// How long a pairing code may wait to be used.
    public static let codeLifetimeMs: UInt64 = 30 * 60_000
    /// Characters of a pairing code (Crockford base32: 5 bits each, 60 bits in all).
    public static let codeLength = 12
    /// Longest desk name, in characters.
    public static let maxNameCharacters = 40
    /// Idempotency keys: 8 to 64 of `A-Z a-z 0-9 _ -`.
    public static let keyLengths = 8...64
    /// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or off a screen is hard to get wrong.
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A new random pairing code, `XXXX-XXXX-XXXX`.
    static func newCode() -> String {
        let bytes = Sodium.randomBytes(codeLength)
        let chars = bytes.map { alphabet[Int($0 & 31)] }
        return stride(from: 0, to: codeLength, by: 4).map { String(chars[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// The code as typed, normalised (upper case, no spaces or dashes, O read as 0, I and L as 1); nil if it cannot
    /// be one.
    static func normalise(_ typed: String) -> String? {
        var out = ""
        for c in typed.uppercased() {
            switch c {
            case " ", "-": continue
            case "O": out.append("0")
            case "I", "L": out.append("1")
            default:
                guard alphabet.contains(c) else { return nil }
                out.append(c)
            }
        }
        return out.count == codeLength ? out : nil
    }

    /// What is stored for a code or token: its BLAKE2b-256 hash, keyed by purpose.
    static func digest(_ secret: String, purpose: String) -> [UInt8] {
        Blake2b.hash(Array(secret.utf8), key: Array("whipround desk \(purpose)".utf8))
    }

    /// An instant as the node's local date and time, `2026-06-14 18:00`.
    public static func describe(_ ms: UInt64) -> String {
        Dates.localForm(ms, timeZone: TimeZone.current.identifier, midnightAsEndOfDay: false).replacingOccurrences(of: "T", with: " ")
    }

    /// A random URL-safe token for a form or cookie (24 bytes).
    public static func newToken() -> String { token(24) }

    /// A random URL-safe token of `bytes` bytes.
    static func token(_ bytes: Int) -> String {
        Data(Sodium.randomBytes(bytes)).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// Whether a desk takes pledges.
public enum DeskState: String, Sendable {
    case open, expired, closed
}

extension DeskRow {
    /// The desk's state at `now`.
    public func state(now: UInt64) -> DeskState {
        if closed != nil { return .closed }
        if let until, now >= until { return .expired }
        return .open
    }
}

/// A desk and a fresh one-time pairing code for it.
public struct DeskPairing: Sendable {
    /// The desk.
    public let desk: DeskRow
    /// The code, `XXXX-XXXX-XXXX`; shown once, stored only hashed.
    public let code: String
    /// When the code stops working (ms).
    public let codeExpires: UInt64
}

/// A paired phone's session: the cookie's token, its CSRF token and its desk.
public struct DeskSession: Sendable {
    /// The cookie value (stored only hashed).
    public let token: String
    /// The token every state-changing request must carry.
    public let csrf: String
    /// The desk.
    public let desk: DeskRow
}

/// A pledge as a desk takes it.
public struct DeskPledgeRequest: Sendable, Equatable {
    /// The phone's idempotency key.
    public var key: String
    /// The backer's name (required unless anonymous).
    public var name: String
    /// Hide the name in public views.
    public var anonymous = false
    /// The amount as typed, e.g. `12.50`.
    public var amount: String
    /// The tier's id in hex, or nil.
    public var tier: String?
    /// Money received now; nil when promised.
    public var paid: PaymentMethod?
    /// Contact details, sealed to the organisers.
    public var contact = Contact()
    /// The Gift Aid declaration, or nil.
    public var giftAid: GiftAidDeclaration?

    /// A request.
    public init(key: String, name: String, amount: String) {
        self.key = key
        self.name = name
        self.amount = amount
    }
}

/// A desk's pledge checked and sealed by `Node.prepareDeskPledge`, waiting to be signed and committed.
public struct PreparedDeskPledge: Sendable {
    /// The session that took it.
    public let session: DeskSession
    /// Its campaign.
    public let campaign: EventID
    let body: EventBody?
    let draft: DeskPledgeDraft?
    /// The pledge its idempotency key already recorded, if any: then there is nothing to commit.
    public let earlier: EventID?
}

/// What a desk is told after a pledge is recorded or undone.
public struct DeskReceipt: Sendable {
    /// The pledge.
    public let pledge: PledgeRow
    /// True when the idempotency key was used before: nothing new was recorded.
    public let duplicate: Bool
    /// The campaign after it.
    public let campaign: CampaignRow

    /// The short reference a backer is given: the pledge id's first 8 hex digits, `AB12-CD34`.
    public var reference: String {
        let h = pledge.id.hex.uppercased()
        return "\(h.prefix(4))-\(h.dropFirst(4).prefix(4))"
    }
}

extension Node {
    /// Opens a desk for a live campaign with a first pairing code; refused unless this node may record pledges in
    /// the campaign's community (a collector, organiser, admin or the founder).
    public func openDesk(campaign c: CampaignRow, name rawName: String, until: UInt64?) throws(WhipError) -> DeskPairing {
        let name = rawName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= Desk.maxNameCharacters, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw WhipError(.invalidArgument, "a desk name is 1 to \(Desk.maxNameCharacters) characters, e.g. \"Tombola stall\"")
        }
        try checkMayRecordPledges(c)
        guard c.standing(now: now) == .live else {
            throw WhipError(
                .rejected, "'\(c.title)' is not taking pledges (\(c.standing(now: now).rawValue)): a desk can only be opened for a live campaign")
        }
        if let until, until <= now { throw WhipError(.invalidArgument, "--until is already past") }
        let desk = DeskRow(
            id: Hex.encode(Sodium.randomBytes(16)), name: name, campaign: c.id, community: c.community, opened: now, until: until, closed: nil,
            pledges: 0)
        let code = Desk.newCode()
        let expires = now + Desk.codeLifetimeMs
        try store.insertDesk(desk, codeHash: Desk.digest(Desk.normalise(code)!, purpose: "code"), codeExpires: expires)
        return DeskPairing(desk: desk, code: code, codeExpires: expires)
    }

    /// A new one-time pairing code for another phone at an open desk.
    public func pairDesk(name: String) throws(WhipError) -> DeskPairing {
        let desk = try openDeskNamed(name)
        let code = Desk.newCode()
        let expires = now + Desk.codeLifetimeMs
        try store.insertDeskCode(desk: desk.id, codeHash: Desk.digest(Desk.normalise(code)!, purpose: "code"), expires: expires)
        return DeskPairing(desk: desk, code: code, codeExpires: expires)
    }

    /// Desks, newest first.
    public func desks(includeClosed: Bool = false) throws(WhipError) -> [DeskRow] {
        try store.desks(includeClosed: includeClosed)
    }

    /// Closes an open or expired desk: its phones' next request gets the "desk closed" page, and its name is free
    /// again (an expired desk takes no pledges but keeps its name until closed).
    @discardableResult
    public func closeDesk(name: String) throws(WhipError) -> DeskRow {
        let desk = try unclosedDeskNamed(name)
        try store.closeDesk(id: desk.id, now: now)
        guard let closed = try store.desk(id: desk.id) else { throw WhipError(.internalError, "the desk vanished while closing") }
        return closed
    }

    private func unclosedDeskNamed(_ name: String) throws(WhipError) -> DeskRow {
        guard let desk = try store.desk(named: name.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            let open = try store.desks(includeClosed: false).map(\.name)
            throw WhipError(
                .notFound, "no desk called '\(name)'" + (open.isEmpty ? " (no desk is open)" : "; open desks: \(open.joined(separator: ", "))"))
        }
        if desk.state(now: now) == .closed { throw WhipError(.rejected, "the desk '\(desk.name)' is closed") }
        return desk
    }

    private func openDeskNamed(_ name: String) throws(WhipError) -> DeskRow {
        let desk = try unclosedDeskNamed(name)
        switch desk.state(now: now) {
        case .open: return desk
        case .closed: throw WhipError(.rejected, "the desk '\(desk.name)' is closed")
        case .expired: throw WhipError(.rejected, "the desk '\(desk.name)' expired at \(Desk.describe(desk.until ?? 0))")
        }
    }

    /// Uses up a pairing code and starts a session for the phone that brought it; `permissionDenied` for a code that
    /// is wrong, used or expired (one message for all three, so a guesser learns nothing).
    public func redeemDeskCode(_ typed: String) throws(WhipError) -> DeskSession {
        let refused = WhipError(.permissionDenied, "this pairing code is not valid: it may be mistyped, used already or expired")
        guard let code = Desk.normalise(typed) else { throw refused }
        let token = Desk.token(32)
        let csrf = Desk.token(24)
        guard
            let id = try store.redeemDeskCode(
                codeHash: Desk.digest(code, purpose: "code"), now: now, tokenHash: Desk.digest(token, purpose: "session"), csrf: csrf),
            let desk = try store.desk(id: id)
        else { throw refused }
        guard desk.state(now: now) == .open else { throw refused }
        return DeskSession(token: token, csrf: csrf, desk: desk)
    }

    /// The session of a cookie token, refused with a message that says why (`desk.no_session`, closed, expired).
    public func deskSession(token: String) throws(WhipError) -> DeskSession {
        guard !token.isEmpty, token.count <= 64, let (id, csrf) = try store.deskSession(tokenHash: Desk.digest(token, purpose: "session")),
            let desk = try store.desk(id: id)
        else {
            throw WhipError(.notFound, "this phone is not paired with a desk: scan the desk's QR code or type its pairing code")
        }
        switch desk.state(now: now) {
        case .open: return DeskSession(token: token, csrf: csrf, desk: desk)
        case .closed: throw WhipError(.rejected, "the desk '\(desk.name)' was closed: it takes no more pledges")
        case .expired:
            throw WhipError(.rejected, "the desk '\(desk.name)' expired at \(Desk.describe(desk.until ?? 0)): it takes no more pledges")
        }
    }

    /// Records a pledge taken at a desk, signed by this node, with the desk's name sealed to the organisers in the
    /// contact part; a key already used returns the earlier pledge and records nothing.
    public func takeDeskPledge(_ s: DeskSession, _ r: DeskPledgeRequest) throws(WhipError) -> DeskReceipt {
        let prepared = try prepareDeskPledge(s, r)
        if let earlier = prepared.earlier { return try receipt(earlier, duplicate: true) }
        let (id, duplicate) = try commitDeskPledges([prepared])[0].get()
        return try receipt(id, duplicate: duplicate)
    }

    /// Checks a desk's pledge and seals its personal parts, ready for `commitDeskPledges`; reads only, so many can
    /// be prepared at once while the writer commits others.
    public func prepareDeskPledge(_ s: DeskSession, _ r: DeskPledgeRequest) throws(WhipError) -> PreparedDeskPledge {
        guard Desk.keyLengths.contains(r.key.count),
            r.key.unicodeScalars.allSatisfy({ ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" || $0 == "-" })
        else {
            throw WhipError(.invalidArgument, "key: an idempotency key is 8 to 64 letters, digits, _ or -")
        }
        // A resend of a pledge already recorded gets its receipt, even once the desk has closed.
        if let earlier = try store.deskPledge(desk: s.desk.id, key: r.key) {
            return PreparedDeskPledge(session: s, campaign: s.desk.campaign, body: nil, draft: nil, earlier: earlier)
        }
        guard let c = try store.campaign(s.desk.campaign) else { throw WhipError(.notFound, "the desk's campaign is not in this replica") }
        guard c.standing(now: now) == .live else {
            throw WhipError(.rejected, "'\(c.title)' is not taking pledges (\(c.standing(now: now).rawValue))")
        }
        let name = r.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty || r.anonymous else { throw WhipError(.invalidArgument, "name: give the backer's name, or tick anonymous") }
        let amount = try Money(parsing: r.amount, currency: c.goal.currency)
        guard amount.minor > 0 else { throw WhipError(.invalidArgument, "amount: must be more than zero") }
        var tier: EventID? = nil
        if let t = r.tier, !t.isEmpty {
            guard let id = EventID(hex: t), try store.tiers(campaign: c.id).contains(where: { $0.id == id }) else {
                throw WhipError(.invalidArgument, "tier: not a tier of '\(c.title)'")
            }
            tier = id
        }
        var contact = r.contact
        contact.desk = s.desk.name
        let giftPart: [UInt8]?
        if let d = r.giftAid {
            do { try d.validate() } catch { throw WhipError(.invalidArgument, "gift_aid: \(error.message)") }
            giftPart = try giftAidPart(d, community: try communityInfo(c.community))
        } else {
            giftPart = try giftAidPart(nil, community: try communityInfo(c.community))
        }
        let parts = try pledgeParts(name: name.isEmpty ? "Anonymous" : name, anonymous: r.anonymous, contact: contact, giftAid: giftPart, for: c)
        let body = EventBody.pledgeMadeV2(
            PledgeMadeV2(
                campaign: c.id, amount: amount.minor, currency: amount.currency, tier: tier, channel: .inPerson, paid: r.paid,
                commitments: parts.commitments))
        let draft = DeskPledgeDraft(
            community: c.community, after: body.references, parts: parts.drafts, mark: DeskMark(desk: s.desk.id, key: r.key, at: now))
        return PreparedDeskPledge(session: s, campaign: c.id, body: body, draft: draft, earlier: nil)
    }

    /// Signs and commits prepared desk pledges in one transaction (one durable sync for all), each bound to its
    /// idempotency key; one refused (its desk closed meanwhile, or the rules say no) leaves the others recorded.
    public func commitDeskPledges(_ batch: [PreparedDeskPledge]) throws(WhipError) -> [Result<(id: EventID, duplicate: Bool), WhipError>] {
        var results = [Result<(id: EventID, duplicate: Bool), WhipError>?](repeating: nil, count: batch.count)
        var pending: [(index: Int, body: EventBody, draft: DeskPledgeDraft)] = []
        for (i, p) in batch.enumerated() {
            if let earlier = p.earlier {
                results[i] = .success((earlier, true))
            } else if let body = p.body, let draft = p.draft {
                pending.append((i, body, draft))
            } else {
                results[i] = .failure(WhipError(.internalError, "a prepared desk pledge has nothing to commit"))
            }
        }
        if !pending.isEmpty {
            let identity = self.identity
            let committed = try store.appendDeskPledges(pending.map(\.draft), now: now, author: identity.publicKey) { i, hlc in
                Event.sign(community: pending[i].draft.community, author: identity, hlc: hlc, body: pending[i].body)
            }
            for (p, r) in zip(pending, committed) { results[p.index] = r }
        }
        return results.map { $0! }
    }

    /// The receipt for a desk's pledge: the pledge and its campaign as they stand now.
    public func deskReceipt(_ id: EventID, duplicate: Bool) throws(WhipError) -> DeskReceipt {
        try receipt(id, duplicate: duplicate)
    }

    /// Undoes the newest pledge this desk recorded that is still active, while the campaign is live: a withdrawal, or
    /// for a paid pledge (which the rules do not let anyone withdraw) a rejection, when this node may organise.
    public func undoLastDeskPledge(_ s: DeskSession) throws(WhipError) -> DeskReceipt {
        _ = try deskSession(token: s.token)
        for id in try store.deskPledges(desk: s.desk.id, limit: 50) {
            guard let p = try store.pledge(id), p.status == "active" else { continue }
            guard let c = try store.campaign(p.campaign), c.standing(now: now) == .live else {
                throw WhipError(.rejected, "the campaign is no longer live: its pledges cannot be undone here")
            }
            if p.collected.minor > 0 {
                // Money already taken cannot be withdrawn (PROTOCOL.md §7.3): an organiser rejects the pledge instead,
                // once the money is handed back.
                do {
                    try emit(
                        c.community,
                        .pledgeRejected(
                            PledgeRejected(campaign: c.id, pledge: p.id, reason: "undone at the desk '\(s.desk.name)': money handed back")))
                } catch  where error.code == .rejected {
                    throw WhipError(
                        .rejected,
                        "the last pledge was paid, so only an organiser can undo it: hand the money back and ask an organiser to reject pledge \(p.id.hex.prefix(12))",
                        cause: error)
                }
            } else {
                try emit(c.community, .pledgeWithdrawn(PledgeRef(campaign: c.id, pledge: p.id)))
            }
            return try receipt(id, duplicate: false)
        }
        throw WhipError(.notFound, "this desk has no pledge left to undo")
    }

    private func receipt(_ id: EventID, duplicate: Bool) throws(WhipError) -> DeskReceipt {
        guard let p = try store.pledge(id), let c = try store.campaign(p.campaign) else {
            throw WhipError(.internalError, "the pledge \(id.hex.prefix(12)) is not in the replica")
        }
        return DeskReceipt(pledge: p, duplicate: duplicate, campaign: c)
    }
}
