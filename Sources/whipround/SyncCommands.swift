import ArgumentParser
import Foundation
import Logging
import WhipCore
import WhipNet
import WhipNode
import WhipStore

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Reconcile with one peer now (send what it lacks, fetch what we lack), then exit.")

    @OptionGroup var node: NodeOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Community name or wrc1… id (default: every community this node belongs to).") var community: String?
    @Argument(help: "The peer, HOST:PORT.") var peer: String

    func run() async throws {
        let address = try HostPort(parsing: peer)
        let logger = node.logger()
        let n = try node.open()
        let exchange = try Exchange(node: n, logger: logger)
        let credentials = try NodeCredentials(node: n)
        let targets = try community.map { (s: String) throws(WhipError) in [try n.community(s)] } ?? n.store.communities()
        guard !targets.isEmpty else { throw WhipError(.notFound, "this node belongs to no community yet; join one first") }
        let tty = isatty(STDERR_FILENO) == 1 && !output.json
        var results: [[String: Any]] = []
        for c in targets {
            let r: SyncReport
            do {
                r = try await PeerSession.syncOnce(
                    address: address, community: c.id, exchange: exchange, credentials: credentials, settings: SessionSettings(), logger: logger
                ) { p in
                    if tty { FileHandle.standardError.write(Data("\r\u{1B}[K\(p.bar(SafeText.printable(c.name)))".utf8)) }
                }
            } catch {
                if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                // A failure is noted only on a peer already listed: a mistyped address does not become one.
                if (try? n.store.peers().contains { $0.address == address.description }) == true {
                    let message = (error as? WhipError)?.message ?? "\(error)"
                    try? n.store.recordSync(address.description, now: n.now, peer: nil, error: message, source: "sync")
                }
                throw error
            }
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            // Listed from now on (source `sync`: shown by `status` and `peer list`, not dialled by `serve`).
            try n.store.recordSync(address.description, now: n.now, peer: r.peer, error: nil, source: "sync")
            let digest = try n.store.communities().first { $0.id == c.id }?.digest ?? ""
            results.append([
                "community": KeyText.encode(c.id, as: .community), "name": c.name, "peer": KeyText.encode(r.peer, as: .member),
                "sent": r.sent, "peer_accepted": r.peerAccepted, "received": r.received.accepted,
                "received_duplicates": r.received.duplicates, "received_rejected": r.received.rejected,
                "reconcile_messages": r.reconcileMessages, "digest": digest,
                "standing_changes": r.received.standingChanges.map(standingJSON),
            ])
            if !output.json {
                print("\(c.name): sent \(r.sent) (peer stored \(r.peerAccepted)), received \(r.received.accepted), digest \(digest)")
                for line in r.received.standingChanges.map(standingLine) { print(line) }
            }
        }
        if output.json { printJSON(["peer": address.description, "communities": results]) }
    }
}

struct PeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer", abstract: "Peers the daemon keeps in step with (besides those in the config file).",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a peer; a running `serve` picks it up within a reconcile interval.")
        @OptionGroup var node: NodeOptions
        @Argument(help: "HOST:PORT") var address: String
        func run() throws {
            let a = try HostPort(parsing: address)
            let n = try node.open()
            try n.store.addPeer(a.description, source: "cli", now: n.now)
            print("Added peer \(a).")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a peer.")
        @OptionGroup var node: NodeOptions
        @Argument(help: "HOST:PORT") var address: String
        func run() throws {
            let a = try HostPort(parsing: address)
            let n = try node.open()
            guard try n.store.removePeer(a.description) else { throw WhipError(.notFound, "\(a) is not a stored peer; see `whipround peer list`") }
            print("Removed peer \(a).")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List peers and when each was last in sync.")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            let n = try node.open()
            let rows = try n.store.peers()
            if output.json {
                printJSON(rows.map(peerJSON))
            } else {
                if rows.isEmpty { print("No peers yet: add one with `whipround peer add HOST:PORT`.") }
                for p in rows { print(peerLine(p)) }
            }
        }
    }
}

func peerJSON(_ p: PeerRow) -> [String: Any] {
    var d: [String: Any] = ["address": p.address, "source": p.source]
    if let t = p.lastSuccess { d["last_sync"] = Dates.format(t, timeZone: "UTC") }
    if let t = p.lastAttempt { d["last_attempt"] = Dates.format(t, timeZone: "UTC") }
    if let e = p.lastError { d["last_error"] = e }
    if let k = p.lastPeerID { d["peer_id"] = KeyText.encode(k, as: .member) }
    d["events_since_sync"] = p.storedSinceSync
    return d
}

func peerLine(_ p: PeerRow) -> String {
    let sync = p.lastSuccess.map { "last in sync \(Dates.format($0, timeZone: "UTC"))" } ?? "never synced"
    let since = p.lastSuccess == nil ? "\(p.storedSinceSync) event(s) here" : "\(p.storedSinceSync) event(s) stored since"
    let err = p.lastError.map { "; last error: \($0)" } ?? ""
    return "\(p.address) (\(p.source)): \(sync); \(since)\(err)"
}
