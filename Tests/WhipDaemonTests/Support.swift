import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import WhipCore
import WhipDaemon
import WhipNet
import WhipNode

/// Runs `node` as a listening daemon (a `PeerListener` in its own `ServiceGroup`) on an ephemeral loopback
/// port for the duration of `body`, then shuts it down gracefully. Every wait is bounded, generously: on a
/// 2-core machine the test process's few cooperative threads can be busy with other suites for a while.
func serveForTest<T: Sendable>(
    _ node: Node, config: DaemonConfig, logger: Logger, _ body: (HostPort) async throws -> T
) async throws -> T {
    try await serveForTest(node, config: config, logger: logger) { address, _ in try await body(address) }
}

/// `serveForTest`, also handing `body` the listener's connection slots, so a test can wait until the listener
/// has admitted or released a connection instead of sleeping.
func serveForTest<T: Sendable>(
    _ node: Node, config: DaemonConfig, logger: Logger, _ body: (HostPort, ConnectionLimiter) async throws -> T
) async throws -> T {
    var config = config
    config.listen = HostPort(host: "127.0.0.1", port: 0)
    config.metricsListen = nil
    let port = Mutex<Int>(0)
    let listener = PeerListener(
        config: config, exchange: try Exchange(node: node, logger: logger), credentials: try NodeCredentials(node: node), logger: logger
    ) { p in port.withLock { $0 = p } }
    let group = ServiceGroup(services: [listener], logger: logger)
    let running = Task { try await group.run() }
    let start = ContinuousClock.now
    while port.withLock({ $0 }) == 0 {
        guard ContinuousClock.now - start < .seconds(60) else {
            await group.triggerGracefulShutdown()
            throw TimedOut(what: "the listener to bind")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    let result: T
    do {
        result = try await body(HostPort(host: "127.0.0.1", port: port.withLock { $0 }), listener.limiter)
    } catch {
        await group.triggerGracefulShutdown()
        _ = try? await within(60, "listener shutdown") { try await running.value }
        throw error
    }
    await group.triggerGracefulShutdown()
    try await within(60, "listener shutdown") { try await running.value }
    return result
}

/// Polls `condition` until it holds or `seconds` of real time pass; whether it holds.
func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try condition()
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Resumes a continuation once, from whichever of the work and the timer finishes first.
final class Once<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>
    init(_ c: CheckedContinuation<T, any Error>) { continuation = Mutex(c) }
    @discardableResult func resume(_ r: Result<T, any Error>) -> Bool {
        guard
            let c = continuation.withLock({ c in
                defer { c = nil }; return c
            })
        else { return false }
        c.resume(with: r)
        return true
    }
}

/// Runs `op`, giving up after `seconds` (the work is cancelled, and the caller never waits for it).
func within<T: Sendable>(_ seconds: Double, _ what: String, _ op: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let once = Once(c)
        let work = Task {
            do { once.resume(.success(try await op())) } catch { once.resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            if once.resume(.failure(TimedOut(what: what))) { work.cancel() }
        }
    }
}
