import Dispatch
import Foundation
import Synchronization
public import WhipCore
public import WhipCrypto

/// Threads of their own for the blocking work async code awaits: SQLite transactions (with their `fsync`) and
/// signature checks. Swift's cooperative pool has one thread per core, two on a hub's Raspberry Pi, shared by
/// every peer session and HTTP request; a thread held by a 20,000-event commit or a batch of verifications
/// would stall all of them.
enum Offload {
    /// Store reads, side by side (a `DatabasePool` reads concurrently).
    static let reads = DispatchQueue(label: "whipround.store.read", qos: .userInitiated, attributes: .concurrent)

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
    /// `check(_:community:)` on threads started for this batch (one per core), awaited: for async code, whose
    /// cooperative threads must neither do the work nor wait for it. Not on Dispatch's global pool, which
    /// on Linux also runs the timers that wake sleeping tasks: a batch holding every worker there for a second
    /// delayed every `Task.sleep` in the process by as much.
    public static func verify(_ wires: [[UInt8]], community: PublicKey? = nil) async -> [Result<Event, Admission>] {
        let n = wires.count
        let parts = min(System.coreCount, max(1, n / 256))
        guard parts > 1 else {
            return await withCheckedContinuation { c in
                Thread { c.resume(returning: check(wires, community: community, parallelism: 1)) }.start()
            }
        }
        let per = (n + parts - 1) / parts
        let done = Batch(parts: parts)
        return await withCheckedContinuation { c in
            for p in 0..<parts {
                Thread {
                    let part = Array(wires[(p * per)..<min(n, (p + 1) * per)])
                    if let all = done.finish(p, check(part, community: community, parallelism: 1)) { c.resume(returning: all) }
                }
                .start()
            }
        }
    }
}

/// The parts of one batch verified on separate threads; the last to finish gets the whole result.
private final class Batch: Sendable {
    private let results: Mutex<(parts: [[Result<Event, Admission>]], left: Int)>

    init(parts: Int) { results = Mutex((Array(repeating: [], count: parts), parts)) }

    func finish(_ part: Int, _ r: [Result<Event, Admission>]) -> [Result<Event, Admission>]? {
        results.withLock { s in
            s.parts[part] = r
            s.left -= 1
            return s.left == 0 ? s.parts.flatMap { $0 } : nil
        }
    }
}
