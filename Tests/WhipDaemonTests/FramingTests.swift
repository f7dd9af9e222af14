import NIOCore
import NIOEmbedded
import Testing
import WhipDaemon

@Suite struct FramingTests {
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
        #expect(throws: FrameError(code: "frame.too_large", message: "a frame of 1001 bytes, over the 1000-byte limit")) {
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

@Suite struct ConnectionLimiterTests {
    @Test func totalAndPerAddressLimits() {
        let l = ConnectionLimiter(maxTotal: 3, maxPerAddress: 2)
        #expect(l.admit("10.0.0.1") == nil)
        #expect(l.admit("10.0.0.1") == nil)
        #expect(l.admit("10.0.0.1") == .perAddress)
        #expect(l.admit("10.0.0.2") == nil)
        #expect(l.admit("10.0.0.3") == .total)
        l.release("10.0.0.1")
        #expect(l.open == 2)
        #expect(l.admit("10.0.0.3") == nil)
        l.release("unknown")
        #expect(l.open == 3)
    }
}
