import Foundation
import Testing

/// Rules every test file keeps, checked over the sources so that a new suite cannot forget them.
@Suite(.timeLimit(.minutes(10))) struct TestHygieneTests {
    static let testsRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    static func swiftFiles() throws -> [URL] {
        let walker = try #require(FileManager.default.enumerator(at: testsRoot, includingPropertiesForKeys: nil))
        return walker.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
    }

    /// A hung test must fail its run instead of stalling CI: every suite (or every free test) has a time limit.
    @Test func everySuiteHasATimeLimit() throws {
        let files = try Self.swiftFiles()
        #expect(files.count > 20)
        var offenders: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            guard text.contains("@Test") else { continue }
            let lines = text.split(separator: "\n").map { $0.drop { $0 == " " } }
            let suites = lines.filter { $0.hasPrefix("@Suite") }
            let suitesLimited = !suites.isEmpty && suites.allSatisfy { $0.contains(".timeLimit(") }
            let testsLimited = lines.filter { $0.hasPrefix("@Test") }.allSatisfy { $0.contains(".timeLimit(") }
            if !(suitesLimited || testsLimited) { offenders.append(file.lastPathComponent) }
        }
        #expect(offenders.isEmpty, "suites without a .timeLimit trait in: \(offenders.sorted().joined(separator: ", "))")
    }
}
