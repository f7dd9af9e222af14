public import WhipCore
public import WhipCrypto

/// One application message inside a Noise transport frame, after the handshake.
///
/// Encoding: a canonical CBOR array whose first element is the message type (PROTOCOL.md, wire protocol).
public enum SessionMessage: Equatable, Sendable {
    /// A reconciliation message (the initiator's or the responder's next round), or its last part.
    case reconcile([UInt8])
    /// A leading part of a reconciliation message too long for one frame; the rest follows, ending with `reconcile`.
    case reconcilePart([UInt8])
    /// Please send these events.
    case want([EventID])
    /// Events, each in wire form, and the personal-part records of events in this or an earlier `events`
    /// message (PROTOCOL.md §16); answered by `ack` once durably committed.
    case events([[UInt8]], parts: [[UInt8]] = [])
    /// The last `events` batch is committed: this many were new, this many already known, this many refused.
    case ack(accepted: Int, duplicates: Int, rejected: Int)
    /// New events exist with these ids (push notification; the peer pulls what it lacks with `want`).
    case announce([EventID])
    /// Keep-alive request and answer.
    case ping, pong
    /// A clean close, with a reason; nothing may follow it.
    case goodbye(String)
    /// The sender has finished its first sync and asks to be sent new events as they appear.
    case live

    /// Most ids in one `want` or `announce`.
    public static let maxIDs = 1_024
    /// Most bytes of a reconciliation message in one frame.
    public static let reconcilePartBytes = 60_000
    /// The largest personal-part record a receiver accepts in an `events` message: a part of
    /// `EventLimits.maxPartBytes` in its record `[bstr(32), uint, bstr(32), bstr]` (73 bytes of framing).
    public static let maxPartRecordBytes = EventLimits.maxPartBytes + 73
    /// Senders keep the sum of (length + 4) over the events and part records of one `events` message within
    /// this budget.
    public static let eventsBudgetBytes = 60_000
    /// Every receiver accepts frames up to at least this many bytes (PROTOCOL.md §14); no message a
    /// conforming sender builds needs more, so `limits.max_frame_bytes` may not go below it.
    public static let frameFloorBytes = 61_440

    /// A reconciliation message as the frames that carry it: `reconcilePart`s, then a final `reconcile`.
    public static func reconcileFrames(_ message: [UInt8]) -> [SessionMessage] {
        var out = [SessionMessage]()
        var start = 0
        while message.count - start > reconcilePartBytes {
            out.append(.reconcilePart(Array(message[start..<start + reconcilePartBytes])))
            start += reconcilePartBytes
        }
        out.append(.reconcile(Array(message[start...])))
        return out
    }

    /// The message's type number (its first CBOR element).
    public var type: UInt64 {
        switch self {
        case .reconcile: 1
        case .want: 2
        case .events: 3
        case .ack: 4
        case .announce: 5
        case .ping: 6
        case .pong: 7
        case .goodbye: 8
        case .live: 9
        case .reconcilePart: 10
        }
    }

    /// The message's bytes.
    public func encoded() -> [UInt8] {
        var items: [CBOR] = [.unsigned(type)]
        switch self {
        case .reconcile(let m), .reconcilePart(let m): items.append(.bytes(m))
        case .want(let ids), .announce(let ids): items.append(.array(ids.map { .bytes($0.bytes) }))
        case .events(let evs, let parts):
            items.append(.array(evs.map { .bytes($0) }))
            // An empty parts list is left out, so that `events([])`, the end of an answer, stays `82 03 80`.
            if !parts.isEmpty { items.append(.array(parts.map { .bytes($0) })) }
        case .ack(let a, let d, let r): items += [.unsigned(UInt64(a)), .unsigned(UInt64(d)), .unsigned(UInt64(r))]
        case .ping, .pong, .live: break
        case .goodbye(let reason): items.append(.text(reason))
        }
        return CBOR.array(items).encoded()
    }

    /// Decodes one message; anything malformed is an error, never a crash.
    public static func decode(_ bytes: [UInt8]) throws(SessionError) -> SessionMessage {
        let value: CBOR
        do { value = try CBOR.decode(bytes, maxDepth: 2) } catch { throw SessionError(.malformed, error.message) }
        guard case .array(let items) = value, case .unsigned(let type)? = items.first else {
            throw SessionError(.malformed, "a message is an array starting with its type")
        }
        let rest = Array(items.dropFirst())
        func ids(_ v: CBOR) throws(SessionError) -> [EventID] {
            guard case .array(let list) = v, list.count <= maxIDs else {
                throw SessionError(.malformed, "an id list holds at most \(maxIDs) ids")
            }
            var out = [EventID]()
            for item in list {
                guard case .bytes(let b) = item, let id = EventID(bytes: b) else { throw SessionError(.malformed, "an id is 32 bytes") }
                out.append(id)
            }
            return out
        }
        func count(_ v: CBOR) throws(SessionError) -> Int {
            guard case .unsigned(let n) = v, n <= UInt64(Int32.max) else { throw SessionError(.malformed, "a count is out of range") }
            return Int(n)
        }
        switch (type, rest.count) {
        case (1, 1):
            guard case .bytes(let m) = rest[0] else { break }
            return .reconcile(m)
        case (2, 1): return .want(try ids(rest[0]))
        case (3, 1), (3, 2):
            func list(_ v: CBOR, max: Int, what: String) throws(SessionError) -> [[UInt8]] {
                guard case .array(let items) = v else { throw SessionError(.malformed, "an events message holds lists of byte strings") }
                var out = [[UInt8]]()
                for item in items {
                    guard case .bytes(let b) = item, b.count <= max else {
                        throw SessionError(.malformed, "\(what) is a byte string of at most \(max) bytes")
                    }
                    out.append(b)
                }
                return out
            }
            let evs = try list(rest[0], max: EventLimits.maxEventBytes, what: "an event")
            guard rest.count == 2 else { return .events(evs) }
            let parts = try list(rest[1], max: maxPartRecordBytes, what: "a part record")
            guard !parts.isEmpty else { throw SessionError(.malformed, "an empty list of part records is left out, not sent") }
            return .events(evs, parts: parts)
        case (4, 3): return .ack(accepted: try count(rest[0]), duplicates: try count(rest[1]), rejected: try count(rest[2]))
        case (5, 1): return .announce(try ids(rest[0]))
        case (6, 0): return .ping
        case (7, 0): return .pong
        case (9, 0): return .live
        case (10, 1):
            guard case .bytes(let m) = rest[0] else { break }
            return .reconcilePart(m)
        case (8, 1):
            guard case .text(let t) = rest[0], t.utf8.count <= 500 else { break }
            return .goodbye(t)
        default:
            throw SessionError(.unknownType, "unknown message type \(type) with \(rest.count) field(s)")
        }
        throw SessionError(.malformed, "message type \(type) has a field of the wrong type")
    }
}

/// The family of `SessionError`.
public enum SessionFailure: ErrorFamily {
    public static let describesWithCode = true
}

/// Why a session broke (`session.malformed`, `session.unknown_type`).
public typealias SessionError = CodedError<SessionFailure>

/// The session message codes.
extension ErrorCode where Family == SessionFailure {
    /// A message that does not parse, or has a field of the wrong type.
    public static let malformed = Self("session.malformed")
    /// A message type this build does not know.
    public static let unknownType = Self("session.unknown_type")
}
