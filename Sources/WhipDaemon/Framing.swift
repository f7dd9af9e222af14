public import NIOCore

/// Why a frame stream is broken. The connection is closed; nothing from a broken frame is used.
public struct FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `frame.too_large`, `frame.empty` or `frame.truncated`.
    public let code: String
    /// What happened.
    public let message: String

    /// Creates a frame error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Splits a byte stream into frames: a 2-byte big-endian length (1...`maxFrameBytes`), then that many bytes.
///
/// Every Noise message (handshake or transport) travels in one frame, so 65,535 is also the largest
/// value the length can take.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// The largest frame accepted.
    public let maxFrameBytes: Int

    /// A decoder that refuses frames over `maxFrameBytes`.
    public init(maxFrameBytes: Int = 65_535) {
        precondition((1...65_535).contains(maxFrameBytes))
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return nil }
        guard length > 0 else { throw FrameError(code: "frame.empty", message: "a frame of length 0") }
        guard Int(length) <= maxFrameBytes else {
            throw FrameError(code: "frame.too_large", message: "a frame of \(length) bytes, over the \(maxFrameBytes)-byte limit")
        }
        guard buffer.readableBytes >= 2 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 2)
        return buffer.readSlice(length: Int(length))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 {
            throw FrameError(code: "frame.truncated", message: "the connection ended \(buffer.readableBytes) byte(s) into a frame")
        }
        return nil
    }
}

/// Writes each outbound buffer as one frame.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = ByteBuffer

    /// An encoder.
    public init() {}

    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        guard (1...65_535).contains(data.readableBytes) else {
            throw FrameError(code: "frame.too_large", message: "cannot send a frame of \(data.readableBytes) bytes")
        }
        out.writeInteger(UInt16(data.readableBytes))
        out.writeImmutableBuffer(data)
    }
}

typealias FramedChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

/// Closes a channel when it has been idle (no read and no write) for the configured time.
final class CloseOnIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

enum Wire {
    /// Frame codec, idle timeout, and the async wrapper.
    static func configure(_ channel: any NIOCore.Channel, _ s: SessionSettings) -> EventLoopFuture<FramedChannel> {
        channel.eventLoop.makeCompletedFuture {
            let ops = channel.pipeline.syncOperations
            try ops.addHandler(IdleStateHandler(allTimeout: .milliseconds(Int64(s.idleTimeout * 1000))))
            try ops.addHandler(CloseOnIdle())
            try ops.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: s.maxFrameBytes)))
            try ops.addHandler(MessageToByteHandler(FrameEncoder()))
            return try FramedChannel(wrappingChannelSynchronously: channel)
        }
    }
}
