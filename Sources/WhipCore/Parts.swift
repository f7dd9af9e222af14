public import WhipCrypto

/// The personal parts of a version-2 pledge (PROTOCOL.md §6.35): stored beside the signed event, which signs only
/// a salted commitment to each, so that they can be erased without changing any id, signature or digest.
public enum PartSlot: UInt64, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// The public display name, UTF-8; absent for anonymous backers.
    case name = 0
    /// Contact details (and an anonymous backer's name), sealed to the campaign's organisers.
    case contact = 1
    /// The Gift Aid declaration, sealed to the community's treasurers.
    case giftAid = 2

    /// The word used in the CLI and JSON: `name`, `contact`, `gift-aid`.
    public var name: String {
        switch self {
        case .name: "name"
        case .contact: "contact"
        case .giftAid: "gift-aid"
        }
    }

    /// The slot named by `name`, or nil.
    public init?(name: String) {
        guard let s = PartSlot.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }

    public var description: String { name }
    public static func < (a: PartSlot, b: PartSlot) -> Bool { a.rawValue < b.rawValue }
}

/// Salted commitments to personal parts: `h = BLAKE2b-256(salt ‖ part)` with a random 32-byte salt.
public enum PartCommitment {
    /// The commitment to `bytes` under `salt`.
    public static func of(salt: Bytes32, bytes: [UInt8]) -> Bytes32 {
        Blake2b.hash32(salt.array + bytes)
    }

    /// A fresh random salt.
    public static func salt() -> Bytes32 {
        let r = Sodium.randomBytes(32)
        return Bytes32 { buf in buf.copyBytes(from: r) }
    }

    /// The commitment for an absent part: a fresh salt over the empty string, the salt then forgotten, so it
    /// cannot be told from a real one.
    public static func dummy() -> Bytes32 { of(salt: salt(), bytes: []) }
}

/// One personal part of an event, as stored and sent beside it.
public struct PartRecord: Hashable, Sendable {
    /// The event whose commitment it opens (a `pledge.made.v2`, or a `pledge.revised.v2` for a new name).
    public var event: EventID
    public var slot: PartSlot
    public var salt: Bytes32
    public var bytes: [UInt8]

    /// A part record.
    public init(event: EventID, slot: PartSlot, salt: Bytes32, bytes: [UInt8]) {
        self.event = event
        self.slot = slot
        self.salt = salt
        self.bytes = bytes
    }

    /// `BLAKE2b-256(salt ‖ bytes)`.
    public var commitment: Bytes32 { PartCommitment.of(salt: salt, bytes: bytes) }

    /// Canonical CBOR: `[bstr(32) event, uint slot, bstr(32) salt, bstr bytes]`.
    public func cbor() -> CBOR {
        .array([.bytes(event.bytes), .unsigned(slot.rawValue), .bytes(salt.array), .bytes(bytes)])
    }

    /// The encoded record.
    public func encoded() -> [UInt8] { cbor().encoded() }

    /// Decodes a record and checks its part's format for its slot (`validate`).
    public static func decode(_ value: CBOR) throws(DecodingError) -> PartRecord {
        guard case .array(let items) = value, items.count == 4 else {
            throw DecodingError(.badType, "a part record is [event, slot, salt, bytes]")
        }
        let r = PartRecord(
            event: try items[0].id("part event"), slot: try items[1].enumValue("part slot", PartSlot.self),
            salt: try items[2].bytes32("part salt"), bytes: try items[3].byteString("part", max: EventLimits.maxPartBytes))
        try r.validate()
        return r
    }

    /// Decodes an encoded record.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> PartRecord {
        try decode(try CBOR.decode(bytes))
    }

    /// Checks the part's format for its slot: a name is a valid backer name; a sealed part a canonical
    /// `SealedPart`. An empty part never travels (it is what a dummy commitment stands for).
    public func validate() throws(DecodingError) {
        guard bytes.count <= EventLimits.maxPartBytes else {
            throw DecodingError(.tooLong, "a part is longer than \(EventLimits.maxPartBytes) bytes")
        }
        switch slot {
        case .name:
            guard let s = String(validating: bytes, as: UTF8.self) else { throw DecodingError(.badUTF8, "a name part is not UTF-8") }
            _ = try CBOR.text(s).text("backer name", max: EventLimits.maxNameBytes)
        case .contact, .giftAid:
            _ = try SealedPart.decode(bytes)
        }
    }
}

/// A sealed part: one sealed box per recipient, canonical CBOR `[[recipient, box]…]` sorted by recipient.
///
/// The plaintext is padded (`pad`) before sealing so that the box's length shows only a 256-byte bucket, not
/// which fields were filled in.
public struct SealedPart: Equatable, Sendable {
    public var boxes: [SealedContact]

    /// Boxes, sorted by recipient.
    public init(boxes: [SealedContact]) { self.boxes = boxes.sorted { $0.recipient < $1.recipient } }

    /// The part bytes.
    public func encoded() -> [UInt8] {
        CBOR.array(boxes.map { .array([.bytes($0.recipient.bytes), .bytes($0.ciphertext)]) }).encoded()
    }

    /// Decodes and checks a sealed part: 1 to `EventLimits.maxOrganisers` boxes, sorted, none over
    /// `EventLimits.maxSealedContactBytes`.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> SealedPart {
        guard case .array(let items) = try CBOR.decode(bytes), !items.isEmpty, items.count <= EventLimits.maxOrganisers else {
            throw DecodingError(.badType, "a sealed part is a non-empty array of at most \(EventLimits.maxOrganisers) boxes")
        }
        var boxes = [SealedContact]()
        for item in items {
            guard case .array(let pair) = item, pair.count == 2 else { throw DecodingError(.badType, "sealed part entries are [recipient, box]") }
            boxes.append(
                SealedContact(
                    recipient: try pair[0].key("part recipient"),
                    ciphertext: try pair[1].byteString("sealed box", max: EventLimits.maxSealedContactBytes)))
        }
        guard zip(boxes, boxes.dropFirst()).allSatisfy({ $0.recipient < $1.recipient }) else {
            throw DecodingError(.nonCanonical, "sealed part boxes must be sorted by recipient, without duplicates")
        }
        return SealedPart(boxes: boxes)
    }

    /// Seals `plaintext`, padded (to at least `minimumPadded` bytes, a multiple of the padding block), to each
    /// recipient. Nil when the padded plaintext would not fit a box.
    public static func seal(_ plaintext: [UInt8], to recipients: [PublicKey], minimumPadded: Int = 0) throws(CryptoError) -> SealedPart? {
        guard var padded = pad(plaintext) else { return nil }
        if padded.count < minimumPadded { padded += [UInt8](repeating: 0, count: minimumPadded - padded.count) }
        var boxes = [SealedContact]()
        for r in Set(recipients).sorted() {
            boxes.append(SealedContact(recipient: r, ciphertext: try SealedBox.seal(padded, to: r)))
        }
        return SealedPart(boxes: boxes)
    }

    /// The largest padded plaintext: every Gift Aid part is padded to it, so that all have one size (PROTOCOL.md §6.52).
    public static var largestPadded: Int { maxPlaintext + 1 }

    /// The most plaintext bytes a sealed part holds.
    public static let maxPlaintext: Int = {
        let block = EventLimits.partPaddingBlock
        return (EventLimits.maxSealedContactBytes - SealedBox.overhead) / block * block - 1
    }()

    /// ISO/IEC 7816-4 padding: `0x80`, then zeros up to the next multiple of `EventLimits.partPaddingBlock`.
    public static func pad(_ plain: [UInt8]) -> [UInt8]? {
        guard plain.count <= maxPlaintext else { return nil }
        let block = EventLimits.partPaddingBlock
        var out = plain + [0x80]
        out += [UInt8](repeating: 0, count: (block - out.count % block) % block)
        return out
    }

    /// Removes `pad`'s padding; nil when it is not there.
    public static func unpad(_ padded: [UInt8]) -> [UInt8]? {
        guard let end = padded.lastIndex(where: { $0 != 0 }), padded[end] == 0x80 else { return nil }
        return Array(padded[..<end])
    }
}

/// A personal part made before its event is signed; `record(for:)` names the event once it is.
public struct PartDraft: Equatable, Sendable {
    public var slot: PartSlot
    public var salt: Bytes32
    public var bytes: [UInt8]

    /// A part with a fresh random salt.
    public init(slot: PartSlot, bytes: [UInt8], salt: Bytes32 = PartCommitment.salt()) {
        self.slot = slot
        self.salt = salt
        self.bytes = bytes
    }

    /// What the event signs.
    public var commitment: Bytes32 { PartCommitment.of(salt: salt, bytes: bytes) }

    /// The record of this part for the signed event `event`.
    public func record(for event: EventID) -> PartRecord { PartRecord(event: event, slot: slot, salt: salt, bytes: bytes) }
}

/// The parts of a new version-2 pledge and the commitments its event signs (a dummy for each absent part).
public struct PledgeParts: Sendable {
    /// The parts present, in slot order.
    public let drafts: [PartDraft]
    /// One commitment per slot, in slot order.
    public let commitments: [Bytes32]

    /// `name` is the public display name (nil for an anonymous backer, whose name goes inside `contact`);
    /// `contact` and `giftAid` are encoded `SealedPart`s.
    public init(name: String?, contact: [UInt8]?, giftAid: [UInt8]?) {
        var drafts: [PartDraft] = []
        if let name { drafts.append(PartDraft(slot: .name, bytes: Array(name.utf8))) }
        if let contact { drafts.append(PartDraft(slot: .contact, bytes: contact)) }
        if let giftAid { drafts.append(PartDraft(slot: .giftAid, bytes: giftAid)) }
        self.drafts = drafts
        commitments = PartSlot.allCases.map { slot in drafts.first { $0.slot == slot }?.commitment ?? PartCommitment.dummy() }
    }

    /// Checks every part's format, as a receiving node will.
    public func validate() throws(DecodingError) {
        for d in drafts { try d.record(for: EventID(Bytes32(littleEndianWords: 0, 0, 0, 0))).validate() }
    }
}
