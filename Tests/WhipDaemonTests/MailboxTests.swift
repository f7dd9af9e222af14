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

    @Test func aFullQueueHoldsTheReaderBackUntilFramesAreTaken() async throws {
        let box = Mailbox(capacity: 1_000)
        await box.put(frame(600))
        await box.put(frame(400))  // exactly full
        let third = Task {
            await box.put(frame(300))  // must wait
            return ContinuousClock.now
        }
        try await Task.sleep(for: .milliseconds(200))
        let released = ContinuousClock.now
        guard case .frame(let f) = await box.next() else {
            Issue.record("expected a frame")
            return
        }
        #expect(f.readableBytes == 600)
        let resumed = await third.value
        #expect(resumed >= released, "the reader went on before room was made")
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

    @Test func closingReleasesAWaitingReader() async {
        let box = Mailbox(capacity: 10)
        await box.put(frame(10))
        let waiting = Task { await box.put(frame(10)) }
        try? await Task.sleep(for: .milliseconds(50))
        box.close()
        await waiting.value  // returns: the frame is dropped, the reader is not stuck
    }
}
