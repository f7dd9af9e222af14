public import WhipCrypto

/// What a new member needs to join a community: its id, network key, name and (optionally) hub addresses.
///
/// Text form: `wri1` + base32 of (CBOR map `{0: community id, 1: network key, 2: name, 3: [hub, …]}` || 4-byte checksum),
/// the checksum being the first 4 bytes of BLAKE2b-128("wri1" || map bytes).
public struct Invite: Equatable, Sendable {
    /// The community's id (its root public key).
    public var community: PublicKey
    /// The 32-byte key that admits peers to the gossip network.
    public var networkKey: [UInt8]
    /// The community's name.
    public var name: String
    /// `host:port` of hubs to sync with.
    public var hubs: [String]

    /// Creates an invite.
    public init(community: PublicKey, networkKey: [UInt8], name: String, hubs: [String] = []) {
        self.community = community
        self.networkKey = networkKey
        self.name = name
        self.hubs = hubs
    }

    static let prefix = "wri1"

    /// The copy-pasteable text form.
    public var text: String {
        var m: [(UInt64, CBOR)] = [(0, .bytes(community.bytes)), (1, .bytes(networkKey)), (2, .text(name))]
        if !hubs.isEmpty { m.append((3, .array(hubs.map(CBOR.text)))) }
        let body = CBOR.map(m).encoded()
        return Invite.prefix + KeyText.base32(body + Invite.checksum(body))
    }

    static func checksum(_ body: [UInt8]) -> [UInt8] {
        Array(Blake2b.hash(Array(prefix.utf8) + body, length: 16).prefix(4))
    }

    /// Parses the text form with a clear message on any damage.
    public init(text: String) throws(WhipError) {
        let t = text.trimmingSpaces.lowercased()
        func bad(_ why: String) -> WhipError { WhipError(.invalidArgument, "not a valid invite: \(why)") }
        guard t.hasPrefix(Invite.prefix) else { throw bad("an invite starts with \(Invite.prefix)") }
        guard let raw = KeyText.unbase32(String(t.dropFirst(Invite.prefix.count))), raw.count > 4 else {
            throw bad("it contains characters outside a-z, 2-7 or is cut short; copy it again whole")
        }
        let body = Array(raw.dropLast(4))
        guard Array(raw.suffix(4)) == Invite.checksum(body) else { throw bad("checksum mismatch: it was mistyped or cut; copy it again") }
        do {
            var f = try Fields(try CBOR.decode(body, maxDepth: 2), context: "invite")
            community = try f.required(0, "community").key("community")
            networkKey = try f.required(1, "network key").byteString("network key", count: 32)
            name = try f.required(2, "name").text("name", max: EventLimits.maxNameBytes)
            hubs = []
            if case .array(let items)? = f.optional(3) {
                for item in items { hubs.append(try item.text("hub", max: 255)) }
            }
            try f.finish()
        } catch {
            throw bad(error.message)
        }
    }
}
