import NIOCore
import WhipCore
import WhipNoise
import WhipSync

/// The session ended because this node is shutting down.
struct ShuttingDown: Error {}

/// The peer said goodbye before the exchange was over; `refused` when it did so instead of its first answer.
struct PeerLeft: Error {
    let reason: String
    var refused = false
}

/// One framed, encrypted conversation. A reader task moves frames from the socket into `mailbox`; the
/// session task is the only one that decrypts, encrypts or writes.
struct Link {
    let mailbox: Mailbox
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var transport: TransportState?
    let exchange: Exchange

    static let closed = WhipError(.io, "the peer closed the connection")

    /// The next frame, for the handshake and the initial sync (which handle nothing else); local
    /// notifications stay queued for the live phase.
    mutating func readFrame() async throws -> [UInt8] {
        switch await mailbox.nextFrame() {
        case .frame(let f):
            exchange.metrics.bytes(received: f.readableBytes + 2)
            return Array(f.readableBytesView)
        case .ended(let e): throw e ?? Link.closed
        default: throw ShuttingDown()
        }
    }

    /// Writes one frame: a session message of type `message`, or with nil a handshake message.
    func writeFrame(_ bytes: [UInt8], message: UInt64? = nil) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
        exchange.metrics.bytes(sent: bytes.count + 2, message: message)
    }

    mutating func send(_ m: SessionMessage) async throws {
        let frame = try transport!.encrypt(m.encoded())
        do {
            try await writeFrame(frame, message: m.type)
        } catch {
            // The peer may have said why before it closed: its goodbye is then still queued, unread.
            if let reason = await queuedGoodbye() { throw PeerLeft(reason: reason) }
            throw error
        }
    }

    /// After a failed write: the reason of a `goodbye` among the frames the peer sent before it closed, if
    /// there is one. Waits at most `patience` for them to arrive, and never for a peer that is still sending.
    mutating func queuedGoodbye(patience: Duration = .milliseconds(500)) async -> String? {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            switch mailbox.queuedFrame() {
            case .frame(let f):
                guard let m = try? SessionMessage.decode(try transport!.decrypt(Array(f.readableBytesView))) else { return nil }
                if case .goodbye(let reason) = m { return reason }
            case nil:
                try? await Task.sleep(for: .milliseconds(10))
            default:
                return nil  // the connection ended (or this node is stopping) with no goodbye queued
            }
        }
        return nil
    }

    /// After a refusing `goodbye`: reads and drops what the peer still sends until it closes the connection or
    /// `seconds` pass. Closing at once would cut the connection with the peer's next message unread (a reset,
    /// or an end the peer notices before it reads the goodbye), and the peer would never learn why.
    mutating func linger(_ seconds: Double, on channel: any NIOCore.Channel) async {
        let timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) { channel.close(promise: nil) }
        defer { timer.cancel() }
        while case .frame = await mailbox.nextFrame() {}
    }

    mutating func open(_ frame: ByteBuffer) throws -> SessionMessage {
        exchange.metrics.bytes(received: frame.readableBytes + 2)
        return try SessionMessage.decode(try transport!.decrypt(Array(frame.readableBytesView)))
    }

    /// The next message of a sequential phase (the first sync); a `goodbye` ends it with `PeerLeft`.
    mutating func receive() async throws -> SessionMessage {
        let frame = try await readFrame()
        let m = try SessionMessage.decode(try transport!.decrypt(frame))
        if case .goodbye(let reason) = m { throw PeerLeft(reason: reason) }
        return m
    }

    /// Sends a reconciliation message in as many frames as it needs.
    mutating func sendReconcile(_ message: [UInt8]) async throws {
        for m in SessionMessage.reconcileFrames(message) { try await send(m) }
    }

    /// Receives a whole reconciliation message (its parts, then its end); anything else breaks the protocol.
    mutating func receiveReconcile() async throws -> [UInt8] {
        var whole = ReconcileAssembly()
        while true {
            switch try await receive() {
            case .reconcilePart(let part): try whole.add(part)
            case .reconcile(let last): return try whole.finish(last)
            default: throw WhipError(.rejected, "peer broke the protocol: expected a reconciliation message")
            }
        }
    }

    /// Runs `body` with a link over `channel`, its reader and keep-alive tasks running alongside.
    static func with<T: Sendable>(
        _ channel: FramedChannel, exchange: Exchange, settings: SessionSettings, _ body: (inout Link) async throws -> T
    ) async throws -> T {
        try await channel.executeThenClose { inbound, outbound in
            let mailbox = Mailbox(capacity: settings.inboundQueueBytes)
            return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
                group.addTask {
                    do {
                        for try await frame in inbound { await mailbox.put(frame) }
                        mailbox.finish(nil)
                    } catch {
                        mailbox.finish(error)
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(Int64(settings.keepAlive * 1000)))
                        mailbox.requestKeepAlive()
                    }
                }
                defer {
                    mailbox.close()
                    group.cancelAll()
                }
                var link = Link(mailbox: mailbox, outbound: outbound, exchange: exchange)
                return try await body(&link)
            }
        }
    }
}
