import NIOCore
import Synchronization
import Testing
import WhipCore
import WhipCrypto
import WhipDaemon

@testable import WhipNet

/// The per-peer inbound queue: bounded by bytes, with the reader held back (backpressure) rather than
/// frames dropped; local notifications coalesce and collapse into one overflow.
@Suite(.timeLimit(.minutes(10))) struct MailboxTests {
    let community = try! SigningKey(seed: [UInt8](repeating: 1, count: 32)).publicKey

    func frame(_ n: Int) -> ByteBuffer { ByteBuffer(bytes: [UInt8](repeating: 7, count: n)) }

    /// Waits (a bounded poll, not a sleep for timing) until `box` holds a reader back.
    func untilReaderWaits(_ box: Mailbox) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !box.readerWaiting {
            guard ContinuousClock.now < deadline else { throw TimedOut(what: "the reader to wait") }
            await Task.yield()
        }
    }

    @Test func aFullQueueHoldsTheReaderBackUntilFramesAreTaken() async throws {
        let box = Mailbox(capacity: 1_000)
        await box.put(frame(600))
        await box.put(frame(400))  // exactly full
        let done = Atomic<Bool>(false)
        let third = Task {
            await box.put(frame(300))  // must wait
            done.store(true, ordering: .sequentiallyConsistent)
        }
        try await untilReaderWaits(box)
        let wentOnEarly = done.load(ordering: .sequentiallyConsistent)
        #expect(!wentOnEarly, "the reader went on before room was made")
        guard case .frame(let f) = await box.next() else {
            Issue.record("expected a frame")
            return
        }
        #expect(f.readableBytes == 600)
        try await within(30, "the reader to go on") { await third.value }
        let wentOn = done.load(ordering: .sequentiallyConsistent)
        #expect(wentOn)
        for expected in [400, 300] {
            guard case .frame(let f) = await box.next() else {
                Issue.record("expected a frame")
                return
            }
            #expect(f.readableBytes == expected)  // in order, none lost
        }
    }

    @Test func aFrameLargerThanTheQueueStillGoesThroughAlone() async {
        let box = Mailbox(capacity: 100)
        await box.put(frame(5_000))
        guard case .frame(let f) = await box.next() else {
            Issue.record("expected a frame")
            return
        }
        #expect(f.readableBytes == 5_000)
    }

    @Test func localNotificationsCoalesceThenOverflow() async {
        let box = Mailbox(capacity: 1_000, maxPendingIDs: 3)
        let ids = (0..<4).map { EventID(bytes: [UInt8](repeating: UInt8($0), count: 32))! }
        box.post([ids[0], ids[1]], community: community)
        guard case .local(let got, _) = await box.next() else {
            Issue.record("expected local ids")
            return
        }
        #expect(got == [ids[0], ids[1]])
        box.post([ids[0], ids[1]], community: community)
        box.post([ids[2], ids[3]], community: community)  // past 3 waiting: collapses
        guard case .overflow = await box.next() else {
            Issue.record("expected an overflow")
            return
        }
    }

    @Test func shutdownComesFirstAndTheEndIsSticky() async {
        let box = Mailbox(capacity: 1_000)
        await box.put(frame(10))
        box.finish(nil)
        box.requestShutdown()
        guard case .shutdown = await box.next() else {
            Issue.record("expected shutdown first")
            return
        }
        guard case .frame = await box.next() else {
            Issue.record("expected the queued frame")
            return
        }
        for _ in 0..<2 {
            guard case .ended = await box.next() else {
                Issue.record("expected the end")
                return
            }
        }
    }

    @Test func closingReleasesAWaitingReader() async throws {
        let box = Mailbox(capacity: 10)
        await box.put(frame(10))
        let waiting = Task { await box.put(frame(11)) }
        try await untilReaderWaits(box)
        box.close()
        // Returns (bounded): the reader is not stuck; the frame is dropped, and so is the one queued before.
        try await within(30, "the waiting reader to be released") { await waiting.value }
        #expect(!box.readerWaiting)
        if case .frame(let f) = box.queuedFrame() { Issue.record("a frame of \(f.readableBytes) bytes outlived the close") }
    }
}
