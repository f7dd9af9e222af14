import Prometheus

/// The daemon's Prometheus metrics, in a registry of its own.
///
/// Deliberately not bootstrapped into the global `MetricsSystem`: several daemons may run in one process
/// (tests do), and each must count only its own traffic. Thread-safe; every method is cheap (atomics, plus a
/// lock for a rejection reason not seen before).
public final class PeerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let peers: Gauge
    let receivedAccepted: Counter
    let receivedDuplicate: Counter
    let receivedRejected: Counter
    let eventsSent: Counter
    let bytesReceived: Counter
    /// Bytes sent, by session message type (`bytesSentHandshake` for the handshake's frames).
    let bytesSent: [UInt64: Counter]
    let bytesSentHandshake: Counter
    let reconcileRounds: Counter
    let handshakesOK: Counter
    let handshakesFailed: Counter
    let eventsStored: Gauge
    let eventsHeld: Gauge
    let peersConnected: Gauge

    // Computed: `MetricNameDescriptor` is not `Sendable`, so it cannot be a stored static.
    static var received: MetricNameDescriptor {
        descriptor("events_received", "total", "Events received from peers, by what the store did with them.")
    }
    static var rejected: MetricNameDescriptor {
        descriptor("events_rejected", "total", "Events received from peers and refused, by the store's reason code.")
    }
    static var handshakes: MetricNameDescriptor { descriptor("handshakes", "total", "Peer handshakes, by outcome.") }
    static var rejections: MetricNameDescriptor {
        descriptor("rejections", "", "Refused events on record in the replica (from peers, bundles and this node), by reason code.")
    }
    static var sent: MetricNameDescriptor {
        descriptor("bytes_sent", "total", "Bytes sent to peers (frames with their length prefix), by session message type.")
    }
    static var refusals: MetricNameDescriptor {
        descriptor("connections_refused", "total", "Incoming connections refused before a handshake, by reason.")
    }

    static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "whipround", metricName: name, unitName: unit, helpText: help)
    }

    /// A fresh set of metrics, all at zero.
    public init() {
        let r = registry
        peers = r.makeGauge(descriptor: Self.descriptor("peers", "", "Connected peer sessions."))
        receivedAccepted = r.makeCounter(descriptor: Self.received, labels: [("result", "accepted")])
        receivedDuplicate = r.makeCounter(descriptor: Self.received, labels: [("result", "duplicate")])
        receivedRejected = r.makeCounter(descriptor: Self.received, labels: [("result", "rejected")])
        eventsSent = r.makeCounter(descriptor: Self.descriptor("events_sent", "total", "Events sent to peers."))
        bytesReceived = r.makeCounter(descriptor: Self.descriptor("bytes_received", "total", "Bytes received from peers."))
        bytesSent = Dictionary(uniqueKeysWithValues: Self.messageTypes.map { ($0, r.makeCounter(descriptor: Self.sent, labels: [("type", $1)])) })
        bytesSentHandshake = r.makeCounter(descriptor: Self.sent, labels: [("type", "handshake")])
        reconcileRounds = r.makeCounter(descriptor: Self.descriptor("reconcile_rounds", "total", "Set-reconciliation rounds with peers."))
        handshakesOK = r.makeCounter(descriptor: Self.handshakes, labels: [("result", "ok")])
        handshakesFailed = r.makeCounter(descriptor: Self.handshakes, labels: [("result", "failed")])
        eventsStored = r.makeGauge(descriptor: Self.descriptor("events_stored", "", "Events stored in the replica, over every community."))
        eventsHeld = r.makeGauge(
            descriptor: Self.descriptor("events_held", "", "Events held because they are stamped too far ahead; admitted when their time comes."))
        peersConnected = r.makeGauge(descriptor: Self.descriptor("peers_connected", "", "Distinct peer members with a session now."))
    }

    /// Sets what is read from the replica at scrape time: events stored and held, refusals on record by
    /// reason code, and distinct peers connected.
    public func sample(stored: Int, held: Int, rejections: [String: Int], connectedPeers: Int) {
        eventsStored.set(Int64(stored))
        eventsHeld.set(Int64(held))
        peersConnected.set(Int64(connectedPeers))
        for (reason, count) in rejections {
            registry.makeGauge(descriptor: Self.rejections, labels: [("reason", reason)]).set(Int64(count))
        }
    }

    /// Counts a peer session that has just connected.
    public func peerConnected() { peers.increment() }

    /// Counts a peer session that has just ended.
    public func peerDisconnected() { peers.decrement() }

    /// Counts events received from a peer: stored, already held, and refused by reason code.
    public func received(accepted: Int, duplicates: Int, rejected: [String: Int]) {
        receivedAccepted.increment(by: Self.amount(accepted))
        receivedDuplicate.increment(by: Self.amount(duplicates))
        for (reason, count) in rejected where count > 0 {
            receivedRejected.increment(by: Self.amount(count))
            registry.makeCounter(descriptor: Self.rejected, labels: [("reason", reason)]).increment(by: Self.amount(count))
        }
    }

    /// Counts events sent to a peer.
    public func sent(events: Int) { eventsSent.increment(by: Self.amount(events)) }

    /// Counts bytes received from peers.
    public func bytes(received: Int) { bytesReceived.increment(by: Self.amount(received)) }

    /// Counts bytes sent to a peer in one frame: a session message of type `message` (`SessionMessage.type`),
    /// or with nil a handshake message.
    public func bytes(sent: Int, message: UInt64?) {
        guard let message else { return bytesSentHandshake.increment(by: Self.amount(sent)) }
        // Every type a session sends has its counter; an unknown one (a bug) is counted nowhere rather than trap.
        bytesSent[message]?.increment(by: Self.amount(sent))
    }

    /// The `type` label of each session message type (PROTOCOL.md §16).
    static let messageTypes: [(UInt64, String)] = [
        (1, "reconcile"), (2, "want"), (3, "events"), (4, "ack"), (5, "announce"), (6, "ping"), (7, "pong"), (8, "goodbye"), (9, "live"),
        (10, "reconcile_part"),
    ]

    /// Counts one set-reconciliation round.
    public func reconcileRound() { reconcileRounds.increment() }

    /// Counts a finished handshake, successful or not.
    public func handshake(ok: Bool) { (ok ? handshakesOK : handshakesFailed).increment() }

    /// Counts an incoming connection refused before its handshake, e.g. for a connection limit.
    public func refused(reason: String) {
        registry.makeCounter(descriptor: Self.refusals, labels: [("reason", reason)]).increment()
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4).
    public func render() -> String { registry.emitToString() }

    /// Counters only go up: a negative amount (a caller's bug) counts as zero rather than trapping.
    static func amount(_ n: Int) -> Int64 { Int64(max(0, n)) }
}
