import Synchronization

/// Admits connections up to a total and a per-address limit; a pure bookkeeping object shared by the listener.
public final class ConnectionLimiter: Sendable {
    /// Most connections in total.
    public let maxTotal: Int
    /// Most connections from one address.
    public let maxPerAddress: Int
    private let state = Mutex<[String: Int]>([:])

    /// A limiter with the given limits.
    public init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    /// Why a connection was refused.
    public enum Refusal: String, Sendable {
        case total = "too_many_connections"
        case perAddress = "too_many_from_address"
    }

    /// Takes a slot for `address`, or says why not. Every successful call needs one `release`.
    public func admit(_ address: String) -> Refusal? {
        state.withLock { counts in
            if counts.values.reduce(0, +) >= maxTotal { return .total }
            if counts[address, default: 0] >= maxPerAddress { return .perAddress }
            counts[address, default: 0] += 1
            return nil
        }
    }

    /// Gives back a slot taken by `admit`.
    public func release(_ address: String) {
        state.withLock { counts in
            guard let n = counts[address] else { return }
            counts[address] = n > 1 ? n - 1 : nil
        }
    }

    /// Connections now open.
    public var open: Int { state.withLock { $0.values.reduce(0, +) } }
}
