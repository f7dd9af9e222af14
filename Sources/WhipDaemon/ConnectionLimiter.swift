import Synchronization

/// Admits connections in two pools, so that strangers cannot lock members out: connections still in their
/// handshake (unauthenticated, at most `maxHandshakes`, the oldest evicted to make room for a new one), and
/// sessions that completed the handshake as members (at most `maxSessions`). At most `maxPerAddress`
/// connections from one address, in both pools together. A pure bookkeeping object shared by the listener.
public final class ConnectionLimiter: Sendable {
    /// Most sessions past the handshake.
    public let maxSessions: Int
    /// Most connections still in their handshake.
    public let maxHandshakes: Int
    /// Most connections from one address, in either pool.
    public let maxPerAddress: Int

    private struct Pending {
        let address: String
        let evict: @Sendable () -> Void
    }
    private struct State {
        var perAddress: [String: Int] = [:]
        /// Connections in their handshake, by ticket; tickets grow, so the smallest is the oldest.
        var pending: [Int: Pending] = [:]
        var sessions: [Int: String] = [:]
        var next = 0
    }
    private let state = Mutex(State())

    /// A limiter with the given limits.
    public init(maxSessions: Int, maxHandshakes: Int, maxPerAddress: Int) {
        self.maxSessions = maxSessions
        self.maxHandshakes = maxHandshakes
        self.maxPerAddress = maxPerAddress
    }

    /// Why a connection was refused or closed.
    public enum Refusal: String, Sendable {
        /// Every session slot is taken (said in a `goodbye` after the handshake).
        case sessions = "too_many_sessions"
        /// The address has `maxPerAddress` connections open.
        case perAddress = "too_many_from_address"
        /// The oldest connection in its handshake, closed to make room for a new one.
        case evicted = "evicted_for_newer_handshake"
    }

    /// The result of `admit`.
    public enum Admission: Sendable, Equatable {
        /// Admitted to the handshake pool; `evicted` tells whether an older connection had to make room.
        case admitted(ticket: Int, evicted: Bool)
        case refused(Refusal)
    }

    /// Takes a handshake slot for `address`, evicting the oldest connection in its handshake when the pool is
    /// full (its `evict` runs, outside the lock). Every admitted ticket needs one `release`.
    public func admit(_ address: String, evict: @escaping @Sendable () -> Void) -> Admission {
        let (result, victim) = state.withLock { s -> (Admission, Pending?) in
            if s.perAddress[address, default: 0] >= maxPerAddress { return (.refused(.perAddress), nil) }
            var victim: Pending? = nil
            if s.pending.count >= maxHandshakes, let oldest = s.pending.keys.min() {
                victim = s.pending.removeValue(forKey: oldest)
                if let v = victim { Self.drop(v.address, &s) }
            }
            s.next += 1
            s.pending[s.next] = Pending(address: address, evict: evict)
            s.perAddress[address, default: 0] += 1
            return (.admitted(ticket: s.next, evicted: victim != nil), victim)
        }
        victim?.evict()
        return result
    }

    /// Moves a connection whose peer proved itself a member from the handshake pool to the session pool;
    /// false when every session slot is taken or the connection was evicted meanwhile.
    public func promote(_ ticket: Int) -> Bool {
        state.withLock { s in
            guard s.sessions.count < maxSessions, let p = s.pending.removeValue(forKey: ticket) else { return false }
            s.sessions[ticket] = p.address
            return true
        }
    }

    /// Gives back the slot of `ticket`, in whichever pool it is (nothing if it was evicted).
    public func release(_ ticket: Int) {
        state.withLock { s in
            if let p = s.pending.removeValue(forKey: ticket) {
                Self.drop(p.address, &s)
            } else if let a = s.sessions.removeValue(forKey: ticket) {
                Self.drop(a, &s)
            }
        }
    }

    private static func drop(_ address: String, _ s: inout State) {
        guard let n = s.perAddress[address] else { return }
        s.perAddress[address] = n > 1 ? n - 1 : nil
    }

    /// Connections now open, in both pools.
    public var open: Int { state.withLock { $0.pending.count + $0.sessions.count } }

    /// Connections now in their handshake.
    public var handshaking: Int { state.withLock { $0.pending.count } }

    /// Sessions now past the handshake.
    public var sessions: Int { state.withLock { $0.sessions.count } }
}
