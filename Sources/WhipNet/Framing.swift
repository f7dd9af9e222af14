public import NIOCore
public import WhipCrypto

/// The family of `FrameError`.
public enum FrameFailure: ErrorFamily {
    public static let describesWithCode = false
}

/// Why a frame stream is broken (`frame.too_large`, `frame.empty` or `frame.truncated`). The connection is
/// closed; nothing from a broken frame is used.
public typealias FrameError = CodedError<FrameFailure>

/// The framing codes.
extension ErrorCode where Family == FrameFailure {
    /// A frame of length 0.
    public static let empty = Self("frame.empty")
    /// A frame over the limit.
    public static let tooLarge = Self("frame.too_large")
    /// The connection ended inside a frame.
    public static let truncated = Self("frame.truncated")
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
        guard length > 0 else { throw FrameError(code: .empty, message: "a frame of length 0") }
        guard Int(length) <= maxFrameBytes else {
            throw FrameError(code: .tooLarge, message: "a frame of \(length) bytes, over the \(maxFrameBytes)-byte limit")
        }
        guard buffer.readableBytes >= 2 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 2)
        return buffer.readSlice(length: Int(length))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 {
            throw FrameError(code: .truncated, message: "the connection ended \(buffer.readableBytes) byte(s) into a frame")
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
            throw FrameError(code: .tooLarge, message: "cannot send a frame of \(data.readableBytes) bytes")
        }
        out.writeInteger(UInt16(data.readableBytes))
        out.writeImmutableBuffer(data)
    }
}

package typealias FramedChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

/// Closes a channel when nothing has been read from it for the configured time.
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

/// Closes the connection when a frame that has begun to arrive is not complete within `timeout` of its first
/// byte, so a peer cannot hold a session (and its connection slot) open by trickling bytes, which would keep
/// the idle timer alive for ever. Sits before the frame decoder and follows the 2-byte lengths itself.
///
/// The clock only counts while we are reading: if the session has stopped reading (backpressure, a slow
/// commit), an expiry is put off, and the frame gets a fresh `timeout` once reading resumes.
public final class FrameTimeout: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// How long one frame may take to arrive.
    public let timeout: TimeAmount
    /// Length-prefix bytes of the current frame seen so far: 0 between frames, 1, or 2 once the body is due.
    private var headerSeen = 0
    private var lengthHigh: UInt8 = 0
    /// Body bytes of the current frame still to come.
    private var bodyLeft = 0
    private var timer: Scheduled<Void>?
    /// True between the end of a read and the next `read` request: the session is not asking for more.
    private var readHeld = false
    /// The timer ran out while reading was held; the frame gets a fresh timeout when reading resumes.
    private var expiredWhileHeld = false

    /// A handler that allows each frame `timeout` from its first byte to its last.
    public init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    private var midFrame: Bool { headerSeen > 0 }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        var startedHere = false
        while index < end {
            if headerSeen < 2 {
                let byte = buffer.getInteger(at: index, as: UInt8.self)!
                index += 1
                if headerSeen == 0 {
                    startedHere = true
                    lengthHigh = byte
                    headerSeen = 1
                } else {
                    bodyLeft = Int(lengthHigh) << 8 | Int(byte)
                    // An empty frame is the decoder's error to report; here it simply ends.
                    headerSeen = bodyLeft == 0 ? 0 : 2
                }
            } else {
                let n = min(end - index, bodyLeft)
                index += n
                bodyLeft -= n
                if bodyLeft == 0 { headerSeen = 0 }
            }
        }
        if !midFrame {
            stop()
        } else if startedHere {
            start(context)
        }
        context.fireChannelRead(data)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        readHeld = true
        context.fireChannelReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        readHeld = false
        if expiredWhileHeld {
            expiredWhileHeld = false
            if midFrame { start(context) }
        }
        context.read()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    private func start(_ context: ChannelHandlerContext) {
        timer?.cancel()
        expiredWhileHeld = false
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.timer = nil
            if self.readHeld {
                self.expiredWhileHeld = true
            } else {
                context.close(promise: nil)
            }
        }
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        expiredWhileHeld = false
    }
}

@available(*, unavailable)
extension FrameTimeout: Sendable {}

package enum PeerPipeline {
    /// Idle timeout, frame timeout, frame codec, and the async wrapper.
    package static func configure(_ channel: any NIOCore.Channel, _ s: SessionSettings) -> EventLoopFuture<FramedChannel> {
        channel.eventLoop.makeCompletedFuture {
            let ops = channel.pipeline.syncOperations
            // Read, not all: our own keep-alives must not keep a half-open connection (a peer that vanished
            // without a FIN) alive. A live peer sends at least a ping every keep-alive interval.
            try ops.addHandler(IdleStateHandler(readTimeout: .milliseconds(Int64(s.idleTimeout * 1000))))
            try ops.addHandler(CloseOnIdle())
            try ops.addHandler(FrameTimeout(timeout: .milliseconds(Int64(s.frameTimeout * 1000))))
            try ops.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: s.maxFrameBytes)))
            try ops.addHandler(MessageToByteHandler(FrameEncoder()))
            return try FramedChannel(wrappingChannelSynchronously: channel)
        }
    }
}
