import Dispatch
import Foundation
public import Logging
import WhipCore
import WhipCrypto
import WhipDaemon
import WhipNet
import WhipNode
import WhipStore
import WhipSync

#if canImport(Glibc)
    import Glibc
#endif

extension Bench {
    /// What one run of a `whipround` command measured.
    public struct ChildRun: Sendable {
        /// Wall-clock seconds from spawn to exit, process start included.
        public let seconds: Double
        /// The child's peak resident set (its `VmHWM`), in bytes.
        public let peakRSS: Int
        /// Bytes the command wrote to standard output.
        public let outputBytes: Int
        /// Newline characters in that output.
        public let lines: Int
    }

    /// Runs `executable` with `arguments`, its standard output going to `outputPath`, and measures its time and peak memory.
    public static func measureChild(executable: String, arguments: [String], outputPath: String) throws -> ChildRun {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let start = DispatchTime.now().uptimeNanoseconds
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw WhipError(.io, "cannot start \(executable): \(String(cString: strerror(rc)))") }
        // Peak memory is the kernel's high-water mark (VmHWM) of the child's own address space, read every
        // 2 ms until it exits: wait4's ru_maxrss cannot be used, since a child spawned from this process starts
        // with this process's high-water mark. Only growth in the last 2 ms before exit could be missed.
        var status: Int32 = 0
        var peak = 0
        while true {
            if let hwm = highWaterMark(pid) { peak = max(peak, hwm) }
            let r = wait4(pid, &status, WNOHANG, nil)
            if r == pid { break }
            guard r == 0 || errno == EINTR else { throw WhipError(.io, "cannot wait for \(executable): \(String(cString: strerror(errno)))") }
            usleep(2_000)
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        // WIFEXITED and WEXITSTATUS are macros Swift cannot import.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw WhipError(.internalError, "whipround \(arguments.joined(separator: " ")) failed (wait status \(status))")
        }
        var lines = 0
        var bytes = 0
        if let h = FileHandle(forReadingAtPath: outputPath) {
            defer { try? h.close() }
            while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty {
                bytes += chunk.count
                lines += chunk.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
        }
        return ChildRun(seconds: elapsed, peakRSS: peak, outputBytes: bytes, lines: lines)
    }

    /// The peak resident set of a running process, in bytes (`VmHWM` in `/proc/PID/status`).
    static func highWaterMark(_ pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        return kb * 1024
    }

    /// Lists and exports a campaign of `count` pledges with the built binary, each command in its own process,
    /// and prints its time and peak memory beside `ingestRate`, the bulk-ingest rate of the same run.
    public static func listing(
        _ count: Int, executable: String, base: String, ingestRate: Double, logger: Logger, print out: (String) -> Void
    ) throws {
        let (node, community, campaign) = try setUp(base + "/list", logger: logger)
        let now = Dates.nowMs()
        var done = 0
        while done < count {
            let n = min(Node.importBatch, count - done)
            let batch = pledges(n, community: community.id, campaign: campaign, author: node.identity, start: now + 1_000 + UInt64(done / 4))
            let r = try node.store.ingest(batch, source: .bundle, now: now)
            guard r.accepted == n, r.notApplied.isEmpty else { throw WhipError(.internalError, "listing set-up: \(r)") }
            done += n
        }
        let data = ["--data", node.dir.path]
        let id = campaign.hex
        let commands: [(label: String, arguments: [String])] = [
            ("pledge list --json", ["pledge", "list", "--json", "--campaign", id] + data),
            ("pledge list", ["pledge", "list", "--campaign", id] + data),
            ("export", ["export", "--campaign", id] + data),
            ("export --organiser", ["export", "--organiser", "--campaign", id] + data),
            ("campaign show", ["campaign", "show", id] + data),
            ("campaign show --json", ["campaign", "show", "--json", id] + data),
        ]
        out(
            "bound: bulk ingest in this run: \(fmt(ingestRate)) events/s, so \(count) pledges ingest in \(String(format: "%.2f", Double(count) / ingestRate)) s"
        )
        for (label, arguments) in commands {
            let r = try measureChild(executable: executable, arguments: arguments, outputPath: base + "/list-output")
            out(
                "\(label) on a campaign of \(count) pledges: \(String(format: "%.2f", r.seconds)) s, peak RSS \(r.peakRSS / 1_048_576) MB"
                    + " (goal < 1 s, < 64 MB), \(r.outputBytes) bytes in \(r.lines) lines")
        }
        try? FileManager.default.removeItem(atPath: base + "/list-output")
    }
}
