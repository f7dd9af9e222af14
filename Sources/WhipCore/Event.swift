public import WhipCrypto

/// A signed, immutable event: the only way state changes in Whipround.
///
/// Wire form: CBOR array `[payload: bstr, signature: bstr(64)]`. The payload is the canonical CBOR map
/// `{0: version, 1: community, 2: author, 3: kind, 4: wall ms, 5: counter, 6: body}`; the id is
/// BLAKE2b-256 of the payload and the Ed25519 signature covers the payload (which includes the community).
public struct Event: Sendable, Hashable, CustomStringConvertible {
    /// The only event format version this build reads and writes.
    public static let version: UInt64 = 1

    /// BLAKE2b-256 of `payload`.
    public let id: EventID
    /// The community this event belongs to (its id is the community's public key).
    public let community: PublicKey
    /// Who signed it.
    public let author: PublicKey
    /// When, by the author's hybrid logical clock.
    public let hlc: HLC
    /// What it says.
    public let body: EventBody
    /// The canonical signed bytes.
    public let payload: [UInt8]
    /// Ed25519 signature over `payload`.
    public let signature: [UInt8]

    /// The event kind.
    public var kind: EventKind { body.kind }
    /// Position in the deterministic replay order.
    public var orderKey: OrderKey { OrderKey(hlc: hlc, author: author.bytes, id: id.bytes) }

    /// The campaign the event belongs to: its own id for `campaign.created`, else the referenced campaign.
    public var campaign: EventID? {
        if kind == .campaignCreated { return id }
        return body.referencedCampaign
    }

    /// Builds and signs an event.
    public static func sign(community: PublicKey, author: SigningKey, hlc: HLC, body: EventBody) -> Event {
        var m = MapBuilder()
        m.add(PayloadField.version, .unsigned(version))
        m.add(PayloadField.community, .bytes(community.bytes))
        m.add(PayloadField.author, .bytes(author.publicKey.bytes))
        m.add(PayloadField.kind, .unsigned(body.kind.rawValue))
        m.add(PayloadField.wall, .unsigned(hlc.wall))
        m.add(PayloadField.counter, .unsigned(UInt64(hlc.counter)))
        m.add(PayloadField.body, body.cbor())
        let payload = CBOR.map(m.pairs).encoded()
        return Event(
            id: .of(payload: payload), community: community, author: author.publicKey, hlc: hlc,
            body: body, payload: payload, signature: author.sign(payload))
    }

    private init(
        id: EventID, community: PublicKey, author: PublicKey, hlc: HLC, body: EventBody,
        payload: [UInt8], signature: [UInt8]
    ) {
        self.id = id
        self.community = community
        self.author = author
        self.hlc = hlc
        self.body = body
        self.payload = payload
        self.signature = signature
    }

    /// The event's bytes on the wire and on disk.
    public var wire: [UInt8] {
        CBOR.array([.bytes(payload), .bytes(signature)]).encoded()
    }

    /// Decodes wire bytes and checks everything that does not need other events, except the signature.
    public static func decode(wire: [UInt8]) throws(DecodingError) -> Event {
        guard wire.count <= EventLimits.maxEventBytes else {
            throw DecodingError(.tooLarge, "event is \(wire.count) bytes, over the \(EventLimits.maxEventBytes)-byte limit")
        }
        guard case .array(let outer) = try CBOR.decode(wire, maxDepth: 1), outer.count == 2 else {
            throw DecodingError(.badEnvelope, "an event is an array of [payload, signature]")
        }
        let payload = try outer[0].byteString("payload")
        let signature = try outer[1].byteString("signature", count: 64)
        var f = try Fields(try CBOR.decode(payload, maxDepth: 5), context: "event")
        let version = try f.required(PayloadField.version, "version").uint("version")
        guard version == Event.version else {
            throw DecodingError(.unknownVersion, "event version \(version) is not supported (this build reads version \(Event.version))")
        }
        let community = try f.required(PayloadField.community, "community").key("community")
        let author = try f.required(PayloadField.author, "author").key("author")
        let kindNumber = try f.required(PayloadField.kind, "kind").uint("kind")
        guard let kind = EventKind(rawValue: kindNumber) else {
            throw DecodingError(.unknownKind, "event kind \(kindNumber) is not known")
        }
        let wall = try f.required(PayloadField.wall, "wall").uint("wall")
        let counter = try f.required(PayloadField.counter, "counter").u32("counter")
        let body = try EventBody.decode(kind: kind, try f.required(PayloadField.body, "body"))
        try f.finish()
        return Event(
            id: .of(payload: payload), community: community, author: author,
            hlc: HLC(wall: wall, counter: counter), body: body, payload: payload, signature: signature)
    }

    /// Whether the signature is a valid Ed25519 signature of `payload` by `author`.
    public func verifySignature() -> Bool {
        author.verify(signature: signature, message: payload)
    }

    public static func == (a: Event, b: Event) -> Bool { a.id == b.id }
    public func hash(into h: inout Hasher) { h.combine(id) }
    public var description: String { "\(kind.name) \(id.hex.prefix(12)) by \(author.hex.prefix(12)) at \(hlc)" }
}

/// The field numbers of the signed payload map (PROTOCOL.md section 3.2), used by both `sign` and `decode`.
enum PayloadField: UInt64 {
    case version = 0, community = 1, author = 2, kind = 3, wall = 4, counter = 5, body = 6
}
