import Foundation
import Logging
import Synchronization
import Testing
import WhipBench

/// The desk benchmark runs end to end on a small load: every POST recorded, every figure printed (the figures
/// themselves are measured in a release build and kept in docs/BENCHMARKS.md).
@Test(.timeLimit(.minutes(5))) func webBenchSmoke() async throws {
    let parent = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-webbench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: parent) }
    let lines = Mutex<[String]>([])
    try await WebBench.run(pledges: 40, desks: 4, parent: parent, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }) { line in
        lines.withLock { $0.append(line) }
    }
    let out = lines.withLock { $0 }
    #expect(!out.contains { $0.contains("FAILED") }, "\(out)")
    #expect(out.contains { $0.contains("HTTP API: 40 pledges from 4 desks") }, "\(out)")
    #expect(out.contains { $0.contains("over 40 pledges") }, "\(out)")
    #expect(out.contains { $0.contains("desk page weight") } && out.contains { $0.contains("memory: RSS") })
    let left = try FileManager.default.subpathsOfDirectory(atPath: parent)
    #expect(left.isEmpty, "the run left \(left) behind")
}

/// The page benchmark runs end to end on a small load: the console's list and, where Debian's wrk is installed (it
/// is in CI), the public page under load beside the fixed-string route.
@Test(.timeLimit(.minutes(5))) func pagesBenchSmoke() async throws {
    let parent = FileManager.default.temporaryDirectory.appendingPathComponent("whipround-pagesbench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: parent) }
    let lines = Mutex<[String]>([])
    try await PagesBench.run(
        listPledges: 300, pagePledges: 50, seconds: 1, connections: 4, parent: parent, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    ) { line in lines.withLock { $0.append(line) } }
    let out = lines.withLock { $0 }
    #expect(out.contains { $0.contains("console pledge list of 300 pledges, first page over HTTP") }, "\(out)")
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") {
        #expect(out.contains { $0.contains("public page of a campaign of 50 pledges") && $0.contains("% of the bound") }, "\(out)")
        #expect(out.contains { $0.contains(" 0 answers not 2xx") }, "\(out)")
    }
    let left = try FileManager.default.subpathsOfDirectory(atPath: parent)
    #expect(left.isEmpty, "the run left \(left) behind")
}
