public import Logging
public import WhipCore
public import WhipCrypto
public import WhipNode
import WhipNoise
public import WhipStore
public import WhipSync

/// The node's replica as the network sees it: the store plus, per community, the reconciliation index kept
/// in step with every commit, so a session never rescans the database.
public actor Replica {
    /// The node.
    public let node: Node
    let logger: Logger
    private var indexes: [PublicKey: MemorySyncStore] = [:]
    private var lastSeq: Int64 = 0

    /// Loads the reconciliation index of every joined community.
    public init(node: Node, logger: Logger) throws(WhipError) {
        self.node = node
        self.logger = logger
        let (keys, last) = try node.store.eventKeys(after: 0)
        for (community, group) in Dictionary(grouping: keys, by: \.community) {
            indexes[community] = MemorySyncStore(group.map { Replica.key($0.hlc, $0.id) })
        }
        lastSeq = last
    }

    /// Adds events other processes (the CLI, an import) stored since the last look.
    private func refresh() throws(WhipError) {
        let (keys, last) = try node.store.eventKeys(after: lastSeq)
        for k in keys { _ = indexes[k.community, default: MemorySyncStore()].insert(Replica.key(k.hlc, k.id)) }
        lastSeq = last
    }

    /// The reconciliation key of an event: timestamp = wall ms × 2^20 + min(counter, 2^20 − 1), so the
    /// reconciliation order follows the replay order and pulled events mostly arrive in it (which lets the
    /// store resume a campaign instead of replaying it).
    public static func key(_ hlc: HLC, _ id: EventID) -> EventKey {
        EventKey(timestamp: hlc.wall << 20 | UInt64(min(hlc.counter, (1 << 20) - 1)), id: id)
    }

    /// Communities and their network keys, for answering handshakes.
    public func communities() throws(WhipError) -> [(id: PublicKey, networkKey: [UInt8])] {
        try node.store.communities().map { (id: $0.id, networkKey: $0.networkKey) }
    }

    /// A snapshot of a community's reconciliation index.
    public func index(of community: PublicKey) throws(WhipError) -> MemorySyncStore {
        try refresh()
        return indexes[community] ?? MemorySyncStore()
    }

    /// Stored events of `community` among `ids`.
    public func events(of community: PublicKey, ids: [EventID]) throws(WhipError) -> [[UInt8]] {
        try node.store.rawEvents(community: community, ids: ids)
    }

    /// The ids among `ids` this node does not store.
    public func missing(_ ids: [EventID]) throws(WhipError) -> [EventID] {
        try node.store.missing(ids)
    }

    /// Verifies, validates and commits events a peer sent for `community`; events of any other community are
    /// refused (`wrong_community`), so a session for one community can never write into another.
    public func ingest(_ wires: [[UInt8]], community: PublicKey) throws(WhipError) -> IngestReport {
        var mine = [[UInt8]]()
        var foreign = 0
        for w in wires {
            if let e = try? Event.decode(wire: w), e.community != community {
                foreign += 1
            } else {
                mine.append(w)
            }
        }
        var report = try node.store.ingest(mine, source: .peer, now: node.now)
        if foreign > 0 { report.rejected["wrong_community", default: 0] += foreign }
        try refresh()
        return report
    }

    /// Whether `key` may sync `community`: its founder or root key, or a member holding a role. A community
    /// whose genesis has not arrived yet admits any holder of its network key (they are how it arrives).
    public func isMember(_ key: PublicKey, of community: PublicKey) throws(WhipError) -> Bool {
        guard let info = try node.store.communities().first(where: { $0.id == community }) else { return false }
        guard let founder = info.founder else { return true }
        if key == founder || key == community { return true }
        let now = node.now
        return try node.store.roles(community: community).contains { $0.member == key && $0.granted && ($0.expires.map { now < $0 } ?? true) }
    }
}
