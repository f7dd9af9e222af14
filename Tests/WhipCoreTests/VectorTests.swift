import Foundation
import Testing
import WhipCore
import WhipCrypto

/// The test vectors of docs/PROTOCOL.md, produced by an independent implementation
/// (tools/vectors/gen_vectors.py) and checked here against the Swift one.
@Suite(.timeLimit(.minutes(10))) struct VectorTests {
    struct File: Decodable {
        let keys: [Key]
        let events: [Valid]
        let invalid: [Invalid]
        let digest: Digest
        let invites: [InviteVector]
        let parts: [PartVector]
    }

    /// A personal part of a version-2 pledge or revision (PROTOCOL.md §6.35).
    struct PartVector: Decodable {
        let event: String
        let eventID: String
        let slot: UInt64
        let salt: String
        let bytes: String
        let commitment: String
        let record: String
        let erased: Bool
        enum CodingKeys: String, CodingKey {
            case event, slot, salt, bytes, commitment, record, erased
            case eventID = "event_id"
        }
    }

    struct InviteVector: Decodable {
        let `case`: String
        let community: String
        let networkKey: String
        let communityName: String
        let hubs: [String]
        let map: String
        let checksum: String
        let text: String

        enum CodingKeys: String, CodingKey {
            case `case`, community, hubs, map, checksum, text
            case networkKey = "network_key"
            case communityName = "community_name"
        }
    }

    struct Key: Decodable {
        let name: String
        let seed: String
        let publicKey: String
        let wrk1: String
        let wrc1: String

        enum CodingKeys: String, CodingKey {
            case name, seed, wrk1, wrc1
            case publicKey = "public"
        }
    }

    struct Valid: Decodable {
        struct Stamp: Decodable {
            let wall: UInt64
            let counter: UInt32
        }

        let name: String
        let kind: UInt64
        let kindName: String
        let author: String
        let authorPublic: String
        let community: String
        let hlc: Stamp
        let payload: String
        let wire: String
        let id: String
        let signature: String

        enum CodingKeys: String, CodingKey {
            case name, kind, author, community, hlc, payload, wire, id, signature
            case kindName = "kind_name"
            case authorPublic = "author_public"
        }
    }

    struct Invalid: Decodable {
        let name: String
        let description: String
        let wire: String
        let error: String
    }

    struct Digest: Decodable {
        struct Partition: Decodable {
            let campaign: String
            let digest: String
        }

        let community: String
        let eventCount: Int
        let fingerprint: String
        let authority: String
        let partitions: [Partition]
        let digest: String

        enum CodingKeys: String, CodingKey {
            case community, fingerprint, authority, partitions, digest
            case eventCount = "event_count"
        }
    }

    static func load() throws -> File {
        let url = try #require(
            Bundle.module.url(forResource: "events", withExtension: "json", subdirectory: "Vectors"),
            "Vectors/events.json is missing from the test bundle")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    }

    static func raw(_ hex: String) throws -> [UInt8] {
        try #require(Hex.decode(hex), "not hex: \(hex.prefix(16))…")
    }

    static func signingKey(_ name: String, in file: File) throws -> SigningKey {
        let key = try #require(file.keys.first { $0.name == name }, "no key named \(name)")
        return try SigningKey(seed: try raw(key.seed))
    }

    @Test func keysAndPrintableForms() throws {
        let file = try Self.load()
        #expect(!file.keys.isEmpty)
        for k in file.keys {
            let sk = try SigningKey(seed: try Self.raw(k.seed))
            #expect(sk.publicKey.hex == k.publicKey, "public key of \(k.name)")
            #expect(KeyText.encode(sk.publicKey, as: .member) == k.wrk1, "wrk1 form of \(k.name)")
            #expect(KeyText.encode(sk.publicKey, as: .community) == k.wrc1, "wrc1 form of \(k.name)")
            #expect(try KeyText.decode(k.wrk1, as: .member) == sk.publicKey, "parsing wrk1 of \(k.name)")
            #expect(try KeyText.decode(k.wrc1, as: .community) == sk.publicKey, "parsing wrc1 of \(k.name)")
        }
    }

    @Test func validEventsDecodeVerifyAndReencode() throws {
        let file = try Self.load()
        for v in file.events {
            let wire = try Self.raw(v.wire)
            let event: Event
            do {
                event = try Event.decode(wire: wire)
            } catch {
                Issue.record("\(v.name): decoding failed with \(error.code): \(error.message)")
                continue
            }
            #expect(event.verifySignature(), "\(v.name): signature does not verify")
            #expect(event.id.hex == v.id, "\(v.name): id")
            #expect(Hex.encode(event.payload) == v.payload, "\(v.name): payload")
            #expect(Hex.encode(event.signature) == v.signature, "\(v.name): signature")
            #expect(event.wire == wire, "\(v.name): wire form re-encoded from the decoded event")
            #expect(event.kind.rawValue == v.kind && event.kind.name == v.kindName, "\(v.name): kind")
            #expect(event.author.hex == v.authorPublic, "\(v.name): author")
            #expect(event.community.hex == v.community, "\(v.name): community")
            #expect(event.hlc == HLC(wall: v.hlc.wall, counter: v.hlc.counter), "\(v.name): timestamp")
            #expect(EventID.of(payload: try Self.raw(v.payload)).hex == v.id, "\(v.name): id of the payload")

            // Signing the decoded body again with the same key and timestamp gives the same bytes.
            let key = try Self.signingKey(v.author, in: file)
            #expect(key.publicKey == event.author, "\(v.name): the named author's seed gives the author key")
            let again = Event.sign(community: event.community, author: key, hlc: event.hlc, body: event.body)
            #expect(Hex.encode(again.payload) == v.payload, "\(v.name): re-signed payload")
            #expect(Hex.encode(again.wire) == v.wire, "\(v.name): re-signed wire")
            #expect(again.id.hex == v.id, "\(v.name): re-signed id")
        }
    }

    @Test func vectorsCoverEveryKind() throws {
        let file = try Self.load()
        #expect(Set(file.events.map(\.kind)) == Set(EventKind.allCases.map(\.rawValue)))
        #expect(file.events.contains { $0.wire.count / 2 == EventLimits.maxEventBytes }, "a vector at exactly the size limit")
    }

    @Test func invalidVectorsAreRefusedWithTheirCode() throws {
        let file = try Self.load()
        #expect(file.invalid.count >= 10)
        for v in file.invalid {
            let wire = try Self.raw(v.wire)
            do {
                let event = try Event.decode(wire: wire)
                if v.error == "bad_signature" {
                    #expect(!event.verifySignature(), "\(v.name): the signature must not verify")
                } else {
                    Issue.record("\(v.name) (\(v.description)): decoded, expected \(v.error)")
                }
            } catch {
                #expect(error.code.rawValue == v.error, "\(v.name) (\(v.description)): got \(error.code): \(error.message)")
            }
        }
    }

    @Test func stateDigestOfTheVectorSet() throws {
        let file = try Self.load()
        let events = try file.events.map { try Event.decode(wire: try Self.raw($0.wire)) }
        let community = try #require(PublicKey(bytes: try Self.raw(file.digest.community)))
        let state = CommunityState(community: community, events: events)

        for (id, status) in state.statuses {
            #expect(status == .applied, "event \(id.hex.prefix(12)) was \(status.code)")
        }
        #expect(state.eventCount == file.digest.eventCount)
        #expect(Hex.encode(state.fingerprint.bytes) == file.digest.fingerprint, "fingerprint")
        #expect(Hex.encode(StateDigest.authority(state.authority)) == file.digest.authority, "authority digest")
        #expect(state.partitions.count == file.digest.partitions.count)
        for p in file.digest.partitions {
            let id = try #require(EventID(hex: p.campaign))
            let result = try #require(state.partitions[id], "no partition \(p.campaign.prefix(12))")
            #expect(Hex.encode(StateDigest.partition(result)) == p.digest, "partition \(p.campaign.prefix(12))")
        }
        #expect(Hex.encode(state.digest) == file.digest.digest, "community digest")

        // Any order and duplicates give the same digest.
        var rng = SystemRandomNumberGenerator()
        let shuffled = (events + events.prefix(5)).shuffled(using: &rng)
        #expect(CommunityState(community: community, events: shuffled).digest == state.digest)
    }

    /// Parts: each record decodes to its fields, opens its event's commitment, and the erasure in the set erases
    /// the slots the vector marks.
    @Test func partsOpenTheirCommitments() throws {
        let file = try Self.load()
        #expect(file.parts.count >= 3)
        let events = try file.events.map { try Event.decode(wire: try Self.raw($0.wire)) }
        let community = try #require(PublicKey(bytes: try Self.raw(file.digest.community)))
        let state = CommunityState(community: community, events: events)
        for v in file.parts {
            let record = try PartRecord.decode(try Self.raw(v.record))
            #expect(record.event.hex == v.eventID, "\(v.event): event")
            #expect(record.slot.rawValue == v.slot, "\(v.event): slot")
            #expect(record.salt.hex == v.salt, "\(v.event): salt")
            #expect(Hex.encode(record.bytes) == v.bytes, "\(v.event): bytes")
            #expect(record.commitment.hex == v.commitment, "\(v.event): commitment")
            #expect(Hex.encode(record.encoded()) == v.record, "\(v.event): re-encoded")
            let event = try #require(events.first { $0.id == record.event })
            let signed: Bytes32? =
                switch event.body {
                case .pledgeMadeV2(let b): b.commitments[Int(record.slot.rawValue)]
                case .pledgeRevisedV2(let b): b.name
                default: nil
                }
            #expect(signed == record.commitment, "\(v.event): the event signs this commitment")
            let pledge: EventID? =
                switch event.body {
                case .pledgeMadeV2: event.id
                case .pledgeRevisedV2(let b): b.pledge
                default: nil
                }
            let campaign = try #require(event.campaign)
            let pledgeID = try #require(pledge)
            let erased = try #require(state.partitions[campaign]?.campaign?.pledges[pledgeID]?.erased)
            #expect(erased.contains(record.slot) == v.erased, "\(v.event): erased")
        }
    }

    /// Invites (PROTOCOL.md §9.1): the independent implementation's text is what we print and parse, and
    /// the document quotes it byte for byte.
    @Test func invitesMatchTheIndependentImplementation() throws {
        let file = try Self.load()
        #expect(file.invites.count >= 2)
        let doc = try ProtocolDocument.text()
        for v in file.invites {
            let community = try #require(PublicKey(bytes: try Self.raw(v.community)))
            let invite = Invite(community: community, networkKey: try Self.raw(v.networkKey), name: v.communityName, hubs: v.hubs)
            #expect(invite.text == v.text, "\(v.case): text")
            let parsed = try Invite(text: v.text)
            #expect(parsed == invite, "\(v.case): parsed back")
            let body = try #require(KeyText.unbase32(String(v.text.dropFirst(4))))
            #expect(Hex.encode(Array(body.dropLast(4))) == v.map, "\(v.case): the CBOR map")
            #expect(Hex.encode(Array(body.suffix(4))) == v.checksum, "\(v.case): the checksum")
            #expect(doc.contains(v.text), "\(v.case): PROTOCOL.md §9.1 must quote this invite")
            #expect(doc.contains(v.map), "\(v.case): PROTOCOL.md §9.1 must show the map bytes")
        }
    }
}

/// The protocol document, read from the repository so its examples are checked against the code.
enum ProtocolDocument {
    static func text() throws -> String {
        // Tests/WhipCoreTests/VectorTests.swift → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
    }
}
