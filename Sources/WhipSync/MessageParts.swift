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

/// Splits events into `events` messages within a byte budget.
package func eventMessages(_ wires: [[UInt8]], budget: Int) -> [[[UInt8]]] {
    var out = [[[UInt8]]]()
    var current = [[UInt8]]()
    var size = 0
    for w in wires {
        if size + w.count + 4 > budget, !current.isEmpty {
            out.append(current)
            current = []
            size = 0
        }
        current.append(w)
        size += w.count + 4
    }
    if !current.isEmpty { out.append(current) }
    return out
}
