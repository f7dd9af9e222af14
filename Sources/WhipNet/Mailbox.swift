package import NIOCore
import Synchronization
package import WhipCore
package import WhipCrypto

/// Everything a session reacts to, funnelled into one queue so that one task owns the session's state
/// (including the Noise nonces) and handles inputs one at a time.
///
/// Frames from the peer are bounded by bytes: when `capacity` bytes are waiting, the reader stops pulling
/// from the socket, NIO stops reading, and TCP pushes back on the peer. Local notifications are coalesced
/// and bounded by count; past `maxPendingIDs` they collapse into one `overflow` (the session then
/// reconciles instead of announcing every id).
package final class Mailbox: Sendable {
    /// One input, in the order the session should handle it.
    package enum Item: Sendable {
        /// A frame from the peer.
        case frame(ByteBuffer)
        /// The peer's byte stream ended (with the error, if it broke).
        case ended((any Error)?)
        /// Events newly committed here that the peer may lack.
        case local([EventID], community: PublicKey)
        /// More local events arrived than fit; the session should reconcile rather than announce.
        case overflow
        /// Time for a backstop reconciliation.
        case reconcile
        /// Time to check the peer is still there.
        case keepAlive
        /// Time to send the announcements held back for a lazy peer.
        case flushAnnouncements
        /// Say goodbye and close.
        case shutdown
    }

    private struct State {
        var frames: [ByteBuffer] = []
        var head = 0
        var queuedBytes = 0
        var ended = false
        var endError: (any Error)?
        var local: [(PublicKey, [EventID])] = []
        var pendingIDs = 0
        var overflow = false
        var reconcile = false
        var keepAlive = false
        var flush = false
        var shutdown = false
        var closed = false
        var consumer: CheckedContinuation<Void, Never>?
        var producer: CheckedContinuation<Void, Never>?

        var hasFrameWork: Bool { shutdown || head < frames.count || ended }

        var hasWork: Bool {
            shutdown || head < frames.count || ended || !local.isEmpty || overflow || reconcile || keepAlive || flush
        }
    }

    /// Bytes of frames that may wait before the reader stops reading.
    let capacity: Int
    /// Local ids that may wait before they collapse into `overflow`.
    let maxPendingIDs: Int
    private let state = Mutex(State())

    package init(capacity: Int, maxPendingIDs: Int = 4_096) {
        self.capacity = capacity
        self.maxPendingIDs = maxPendingIDs
    }

    /// Queues a frame, waiting while the queue is full (that wait is the backpressure).
    func put(_ frame: ByteBuffer) async {
        while true {
            let admitted: Bool = state.withLock { s in
                if s.closed { return true }  // the session is gone: drop
                if s.queuedBytes > 0 && s.queuedBytes + frame.readableBytes > capacity { return false }
                s.frames.append(frame)
                s.queuedBytes += frame.readableBytes
                return true
            }
            if admitted {
                wakeConsumer()
                return
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if s.closed || s.queuedBytes == 0 || s.queuedBytes + frame.readableBytes <= capacity { return true }
                    s.producer = c
                    return false
                }
                if ready { c.resume() }
            }
        }
    }

    /// The peer's stream ended.
    func finish(_ error: (any Error)?) {
        state.withLock { s in
            s.ended = true
            s.endError = error
        }
        wakeConsumer()
    }

    /// Newly committed local events of `community`.
    func post(_ ids: [EventID], community: PublicKey) {
        guard !ids.isEmpty else { return }
        state.withLock { s in
            if s.overflow { return }
            if s.pendingIDs + ids.count > maxPendingIDs {
                s.local = []
                s.pendingIDs = 0
                s.overflow = true
            } else {
                s.local.append((community, ids))
                s.pendingIDs += ids.count
            }
        }
        wakeConsumer()
    }

    /// Asks for a backstop reconciliation.
    func requestReconcile() { set { $0.reconcile = true } }

    /// Asks for a keep-alive check.
    func requestKeepAlive() { set { $0.keepAlive = true } }

    /// Asks for the held-back announcements to be sent.
    func requestFlush() { set { $0.flush = true } }

    /// Asks the session to say goodbye and close.
    func requestShutdown() { set { $0.shutdown = true } }

    /// A reader is held back in `put`, waiting for room (for tests).
    var readerWaiting: Bool { state.withLock { $0.producer != nil } }

    /// The next input, waiting for one if none is queued.
    package func next() async -> Item { await next(framesOnly: false) }

    /// The next frame, end or shutdown; other inputs stay queued for later.
    func nextFrame() async -> Item { await next(framesOnly: true) }

    /// The next frame, end or shutdown if one is queued now; nil (without waiting) otherwise.
    func queuedFrame() -> Item? { take(framesOnly: true) }

    private func next(framesOnly: Bool) async -> Item {
        while true {
            if let item = take(framesOnly: framesOnly) { return item }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if framesOnly ? s.hasFrameWork : s.hasWork { return true }
                    s.consumer = c
                    return false
                }
                if ready { c.resume() }
            }
        }
    }

    /// The session is over: a waiting reader is released and later frames are dropped.
    func close() {
        let producer = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            s.frames = []
            s.head = 0
            s.queuedBytes = 0
            defer { s.producer = nil }
            return s.producer
        }
        producer?.resume()
    }

    private func take(framesOnly: Bool) -> Item? {
        let (item, producer) = state.withLock { s -> (Item?, CheckedContinuation<Void, Never>?) in
            if s.shutdown {
                s.shutdown = false
                return (.shutdown, nil)
            }
            if s.head < s.frames.count {
                let f = s.frames[s.head]
                s.head += 1
                s.queuedBytes -= f.readableBytes
                if s.head > 64 && s.head * 2 > s.frames.count {
                    s.frames.removeFirst(s.head)
                    s.head = 0
                }
                let p = s.producer
                s.producer = nil
                return (.frame(f), p)
            }
            if framesOnly {
                return (s.ended ? .ended(s.endError) : nil, nil)
            }
            if !s.local.isEmpty {
                let (community, ids) = s.local.removeFirst()
                s.pendingIDs -= ids.count
                return (.local(ids, community: community), nil)
            }
            if s.overflow {
                s.overflow = false
                return (.overflow, nil)
            }
            if s.ended {
                // Stays ended: every later call sees the end too.
                return (.ended(s.endError), nil)
            }
            if s.flush {
                s.flush = false
                return (.flushAnnouncements, nil)
            }
            if s.keepAlive {
                s.keepAlive = false
                return (.keepAlive, nil)
            }
            if s.reconcile {
                s.reconcile = false
                return (.reconcile, nil)
            }
            return (nil, nil)
        }
        producer?.resume()
        return item
    }

    private func set(_ change: (inout State) -> Void) {
        state.withLock { change(&$0) }
        wakeConsumer()
    }

    private func wakeConsumer() {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            defer { s.consumer = nil }
            return s.consumer
        }
        c?.resume()
    }
}
