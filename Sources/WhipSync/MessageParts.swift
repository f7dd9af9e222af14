package import WhipCore

/// Joins the parts of a reconciliation message, refusing one longer than `Sync.maxMessageSize`.
package struct ReconcileAssembly {
    var bytes: [UInt8] = []

    package init() {}

    package mutating func add(_ part: [UInt8]) throws(WhipError) {
        guard bytes.count + part.count <= Sync.maxMessageSize else {
            throw WhipError(.rejected, "peer sent a reconciliation message over \(Sync.maxMessageSize) bytes")
        }
        bytes += part
    }

    package mutating func finish(_ last: [UInt8]) throws(WhipError) -> [UInt8] {
        try add(last)
        defer { bytes = [] }
        return bytes
    }
}

/// One stored event in wire form and the personal-part records that travel beside it (PROTOCOL.md §16).
public struct Shipment: Equatable, Sendable {
    /// The event's wire form.
    public var wire: [UInt8]
    /// Its part records (PROTOCOL.md §6.16), none for most kinds and for parts erased or never received.
    public var parts: [[UInt8]]

    /// An event and its parts.
    public init(wire: [UInt8], parts: [[UInt8]] = []) {
        self.wire = wire
        self.parts = parts
    }

    /// What it costs in an `events` message's budget: each byte string's length plus 4.
    var cost: Int { parts.reduce(wire.count + 4) { $0 + $1.count + 4 } }
}

/// Packs events, each with its parts, into `events` messages within a byte budget; an event never leaves its
/// parts behind, and one alone always makes a message, whatever its size.
package func eventMessages(_ shipments: [Shipment], budget: Int) -> [SessionMessage] {
    var out = [SessionMessage]()
    var wires = [[UInt8]]()
    var parts = [[UInt8]]()
    var size = 0
    for s in shipments {
        if size + s.cost > budget, !wires.isEmpty {
            out.append(.events(wires, parts: parts))
            wires = []
            parts = []
            size = 0
        }
        wires.append(s.wire)
        parts += s.parts
        size += s.cost
    }
    if !wires.isEmpty { out.append(.events(wires, parts: parts)) }
    return out
}
