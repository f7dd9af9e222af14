public import Foundation
import WhipCore
import WhipCrypto
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore
import WhipSync

/// Scratch space for benchmark runs, so no run leaves directories behind.
///
/// Every run works in `PARENT/run-PID-LABEL`, where PARENT is `bench --data DIR` or `$TMPDIR/whipround-bench`.
/// A run removes its own directory when it ends (also on SIGINT or SIGTERM, see `removeOnSignal`), and a run
/// that starts removes the directories of earlier runs whose process is gone (killed or crashed). Nothing
/// else under PARENT is touched, so `--data` may name any directory.
public enum BenchDirectory {
    /// The parent used without `--data`.
    public static var defaultParent: String { NSTemporaryDirectory() + "whipround-bench" }

    /// Creates a fresh run directory under `parent` (created if needed) after removing dead runs' directories.
    public static func make(parent: String, label: String) throws -> String {
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        removeStale(parent: parent)
        let dir = parent + "/run-\(getpid())-\(label)"
        if FileManager.default.fileExists(atPath: dir) { try FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        return dir
    }

    /// Removes `run-PID-…` directories under `parent` whose process no longer exists.
    public static func removeStale(parent: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for name in names {
            guard let pid = runPID(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: parent + "/" + name)
        }
    }

    /// The process id in a run directory's name, or nil if the name is not a run directory's.
    static func runPID(_ name: String) -> pid_t? {
        let parts = name.split(separator: "-", maxSplits: 2)
        guard parts.count == 3, parts[0] == "run", let pid = pid_t(parts[1]), pid > 0 else { return nil }
        return pid
    }

    /// On SIGINT or SIGTERM, removes this process's run directories under `parent` and exits (130 or 143).
    /// Returns the signal sources; keep them alive for the length of the run.
    public static func removeOnSignal(parent: String) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let mine = "run-\(getpid())-"
                // The run goes on writing while this removes its files: try again until the directory is gone.
                for _ in 0..<10 {
                    let left = ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter { $0.hasPrefix(mine) }
                    if left.isEmpty { break }
                    for name in left { try? FileManager.default.removeItem(atPath: parent + "/" + name) }
                }
                exit(128 + sig)
            }
            source.resume()
            return source
        }
    }
}
