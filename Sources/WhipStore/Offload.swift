import Dispatch
public import WhipCore
public import WhipCrypto

/// Threads of their own for the blocking work async code awaits: SQLite transactions (with their `fsync`) and
/// signature checks. Swift's cooperative pool has one thread per core, two on a hub's Raspberry Pi, shared by
/// every peer session and HTTP request; a thread held by a 20,000-event commit or a batch of verifications
/// would stall all of them.
enum Offload {
    /// Store reads, side by side (a `DatabasePool` reads concurrently).
    static let reads = DispatchQueue(label: "whipround.store.read", qos: .userInitiated, attributes: .concurrent)
    /// Signature checks; `Verifier.check` fans each batch out over every core from here.
    static let verification = DispatchQueue(label: "whipround.verify", qos: .userInitiated, attributes: .concurrent)

    /// Runs `work` on `queue` and returns its result, suspending the calling task (not blocking its thread).
    static func run<T: Sendable>(on queue: DispatchQueue, _ work: @escaping @Sendable () throws(WhipError) -> T) async throws(WhipError) -> T {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<T, WhipError>, Never>) in
            queue.async { c.resume(returning: Result(catching: work)) }
        }
        return try result.get()
    }
}

extension Store {
    /// Runs `body`, which reads, on the store's reading threads: how async code reads without holding a
    /// cooperative thread while SQLite works.
    public func reading<T: Sendable>(_ body: @escaping @Sendable (Store) throws(WhipError) -> T) async throws(WhipError) -> T {
        try await Offload.run(on: Offload.reads) { () throws(WhipError) -> T in try body(self) }
    }

    /// Runs `body`, which writes, on the store's writing thread, after the writes queued before it: how async
    /// code writes. Writes queue there as work items, not as threads waiting for SQLite's one writer.
    public func writing<T: Sendable>(_ body: @escaping @Sendable (Store) throws(WhipError) -> T) async throws(WhipError) -> T {
        try await Offload.run(on: writer) { () throws(WhipError) -> T in try body(self) }
    }
}

extension Verifier {
    /// `check(_:community:)` on the verification threads, awaited: for async code, whose cooperative threads
    /// must neither do the work nor wait for it.
    public static func verify(_ wires: [[UInt8]], community: PublicKey? = nil) async -> [Result<Event, Admission>] {
        await withCheckedContinuation { c in
            Offload.verification.async { c.resume(returning: check(wires, community: community)) }
        }
    }
}
