import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import WhipDaemon
import WhipNet

@Suite(.timeLimit(.minutes(10))) struct FramingTests {
    func channel(max: Int = 65_535) throws -> EmbeddedChannel {
        let c = EmbeddedChannel()
        try c.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: max)))
        try c.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        return c
    }

    func bytes(_ b: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: b) }

    @Test func framesSplitAndJoinedAcrossReads() throws {
        let c = try channel()
        // Two frames, delivered one byte at a time.
        for b in [0, 3, 1, 2, 3, 0, 1, 9] as [UInt8] { try c.writeInbound(bytes([b])) }
        #expect(try c.readInbound(as: ByteBuffer.self) == bytes([1, 2, 3]))
        #expect(try c.readInbound(as: ByteBuffer.self) == bytes([9]))
        #expect(try c.readInbound(as: ByteBuffer.self) == nil)
        // And three frames in one read.
        try c.writeInbound(bytes([0, 1, 7, 0, 2, 8, 8, 0, 1, 9]))
        #expect(try c.readInbound(as: ByteBuffer.self) == bytes([7]))
        #expect(try c.readInbound(as: ByteBuffer.self) == bytes([8, 8]))
        #expect(try c.readInbound(as: ByteBuffer.self) == bytes([9]))
        _ = try c.finish()
    }

    @Test func outboundFramesGetALengthPrefix() throws {
        let c = try channel()
        try c.writeOutbound(bytes([5, 6, 7]))
        #expect(try c.readOutbound(as: ByteBuffer.self) == bytes([0, 3, 5, 6, 7]))
        #expect(throws: (any Error).self) { try c.writeOutbound(ByteBuffer(repeating: 0, count: 65_536)) }
        _ = try? c.finish()
    }

    @Test func tooLargeFrameIsAnErrorBeforeItsBodyArrives() throws {
        let c = try channel(max: 1_000)
        #expect(throws: FrameError(code: .tooLarge, message: "a frame of 1001 bytes, over the 1000-byte limit")) {
            try c.writeInbound(bytes([0x03, 0xE9]))
        }
        _ = try? c.finish()
    }

    @Test func emptyFrameIsAnError() throws {
        let c = try channel()
        #expect(throws: FrameError.self) { try c.writeInbound(bytes([0, 0])) }
        _ = try? c.finish()
    }

    @Test func truncatedFrameAtCloseIsAnError() throws {
        let c = try channel()
        try c.writeInbound(bytes([0, 5, 1, 2]))
        #expect(try c.readInbound(as: ByteBuffer.self) == nil)
        #expect(throws: FrameError.self) { _ = try c.finish() }
    }

    @Test func largestFrameIsAccepted() throws {
        let c = try channel()
        var b = ByteBuffer()
        b.writeInteger(UInt16(65_535))
        b.writeRepeatingByte(0xAB, count: 65_535)
        try c.writeInbound(b)
        #expect(try c.readInbound(as: ByteBuffer.self)?.readableBytes == 65_535)
        _ = try c.finish()
    }
}

extension FramingTests {
    /// The frame timeout: a frame must arrive whole within the timeout of its first byte, however the bytes are spread.
    @Suite(.timeLimit(.minutes(10))) struct FrameTimeoutTests {
        /// A connected channel with the frame timeout in front of the decoder, as `PeerPipeline.configure` builds it.
        func channel(timeout seconds: Int64 = 15) throws -> EmbeddedChannel {
            let c = EmbeddedChannel()
            try c.pipeline.syncOperations.addHandler(FrameTimeout(timeout: .seconds(seconds)))
            try c.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
            try c.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7878)).wait()
            #expect(c.isActive)
            return c
        }

        /// Delivers bytes as one socket read would: the read, its completion, then (auto-read) the next read request.
        func feed(_ c: EmbeddedChannel, _ b: [UInt8]) throws {
            try c.writeInbound(ByteBuffer(bytes: b))
            c.read()
        }

        func frames(_ c: EmbeddedChannel) throws -> [[UInt8]] {
            var out = [[UInt8]]()
            while let f = try c.readInbound(as: ByteBuffer.self) { out.append(Array(f.readableBytesView)) }
            return out
        }

        @Test func completeFramesNeverTripIt() throws {
            let c = try channel()
            // Whole frames, single and several per read, with long silences between them.
            for _ in 0..<5 {
                try feed(c, [0, 3, 1, 2, 3])
                c.embeddedEventLoop.advanceTime(by: .seconds(60))
                try feed(c, [0, 1, 7, 0, 2, 8, 8])
                c.embeddedEventLoop.advanceTime(by: .seconds(60))
            }
            #expect(c.isActive)
            #expect(try frames(c).count == 15)
            _ = try c.finish()
        }

        @Test func frameSplitAcrossReadsWithinTheLimitIsFine() throws {
            let c = try channel()
            // Each frame takes 10 s of a 15 s limit; the clock restarts with every frame.
            for _ in 0..<4 {
                try feed(c, [0, 4, 1])
                c.embeddedEventLoop.advanceTime(by: .seconds(5))
                try feed(c, [2, 3])
                c.embeddedEventLoop.advanceTime(by: .seconds(5))
                try feed(c, [4])
            }
            c.embeddedEventLoop.advanceTime(by: .seconds(60))
            #expect(c.isActive)
            #expect(try frames(c) == Array(repeating: [1, 2, 3, 4], count: 4))
            _ = try c.finish()
        }

        @Test func partialFramePendingTooLongClosesTheChannel() throws {
            let c = try channel()
            try feed(c, [0, 5, 1, 2])
            c.embeddedEventLoop.advanceTime(by: .milliseconds(14_900))
            #expect(c.isActive)
            c.embeddedEventLoop.advanceTime(by: .milliseconds(200))
            #expect(!c.isActive)
            #expect(try frames(c).isEmpty)
            _ = try? c.finish()
        }

        @Test func halfALengthPrefixIsAStartedFrame() throws {
            let c = try channel()
            try feed(c, [0])
            c.embeddedEventLoop.advanceTime(by: .seconds(16))
            #expect(!c.isActive)
            _ = try? c.finish()
        }

        @Test func frameStartedAfterACompleteOneInTheSameReadIsTimed() throws {
            let c = try channel()
            try feed(c, [0, 1, 9, 0, 3, 1])
            #expect(try frames(c) == [[9]])
            c.embeddedEventLoop.advanceTime(by: .seconds(16))
            #expect(!c.isActive)
            _ = try? c.finish()
        }

        @Test func tricklingSlowerThanTheLimitClosesTheChannel() throws {
            let c = try channel()
            // A 1,000-byte frame at a byte a second: never silent, but the frame is cut off at 15 s.
            var seconds = 0
            try feed(c, [0x03, 0xE8])
            while c.isActive && seconds < 100 {
                c.embeddedEventLoop.advanceTime(by: .seconds(1))
                seconds += 1
                if c.isActive { try feed(c, [0xAB]) }
            }
            #expect(seconds == 15)
            #expect(!c.isActive)
            #expect(try frames(c).isEmpty)
            _ = try? c.finish()
        }

        @Test func clockPausesWhileTheSessionIsNotReading() throws {
            let c = try channel(timeout: 2)
            // The read completes but no further read is requested: the session is busy (backpressure).
            try c.writeInbound(ByteBuffer(bytes: [0, 5, 1]))
            c.embeddedEventLoop.advanceTime(by: .seconds(30))
            #expect(c.isActive)
            // Reading resumes: the frame gets a fresh timeout, and is cut off when that runs out.
            c.read()
            c.embeddedEventLoop.advanceTime(by: .milliseconds(1_900))
            #expect(c.isActive)
            c.embeddedEventLoop.advanceTime(by: .milliseconds(200))
            #expect(!c.isActive)
            _ = try? c.finish()
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct ConnectionLimiterTests {
    final class Evictions: Sendable {
        let count = Mutex(0)
        func note() { count.withLock { $0 += 1 } }
    }

    func ticket(_ a: ConnectionLimiter.Admission) -> Int? {
        if case .admitted(let t, _) = a { return t }
        return nil
    }

    /// Per address: both pools together. Handshakes: a full pool evicts its oldest, so a newcomer always gets
    /// in. Sessions: a member past the handshake is promoted while there is a session slot, else refused.
    @Test func handshakePoolEvictsOldestAndSessionsHaveTheirOwnSlots() throws {
        let l = ConnectionLimiter(maxSessions: 1, maxHandshakes: 2, maxPerAddress: 2)
        let evicted = Evictions()
        let a = try #require(ticket(l.admit("10.0.0.1") { evicted.note() }))
        _ = try #require(ticket(l.admit("10.0.0.1") {}))
        #expect(l.admit("10.0.0.1") {} == .refused(.perAddress))
        // The pool is full: the next newcomer evicts the oldest (a), whose slot is given back at once.
        let c = try #require(ticket(l.admit("10.0.0.2") {}))
        #expect(evicted.count.withLock { $0 } == 1)
        #expect(l.handshaking == 2 && l.open == 2)
        #expect(!l.promote(a), "an evicted connection cannot become a session")
        l.release(a)
        #expect(l.open == 2, "releasing an evicted ticket changes nothing")
        // c proves itself a member and moves to the session pool, freeing its handshake slot.
        #expect(l.promote(c))
        #expect(l.sessions == 1 && l.handshaking == 1)
        let d = try #require(ticket(l.admit("10.0.0.3") {}))
        #expect(!l.promote(d), "every session slot is taken")
        l.release(c)
        #expect(l.promote(d))
        l.release(d)
        #expect(l.sessions == 0)
    }
}
