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

/// `Package.swift` declares the graph the imports really form: each source target depends on exactly the
/// modules its files import, so the documented layering cannot drift from the code.
@Suite(.timeLimit(.minutes(10))) struct ModuleGraphTests {
    static let root = TestHygieneTests.testsRoot.deletingLastPathComponent()

    /// Target name to the names in its `dependencies:` list (targets and products), from Package.swift's text.
    static func declared() throws -> [String: Set<String>] {
        let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        var result: [String: Set<String>] = [:]
        for chunk in text.components(separatedBy: ".target(").dropFirst() + text.components(separatedBy: ".executableTarget(").dropFirst() {
            let body = chunk.components(separatedBy: "swiftSettings").first ?? chunk
            let names = Self.quoted(body)
            guard let name = names.first, body.hasPrefix("name: \"") || body.contains("name: \"\(name)\"") else { continue }
            var deps = Set<String>()
            if let list = body.components(separatedBy: "dependencies: [").dropFirst().first {
                // Bare strings are targets; in `.product(name: "GRDB", package: "GRDB.swift")` only the name counts.
                let items = list.components(separatedBy: "]").first!.replacingOccurrences(of: "package: \"", with: "package: \"!")
                deps.formUnion(Self.quoted(items).filter { !$0.hasPrefix("!") })
            }
            result[name] = deps
        }
        return result
    }

    static func quoted(_ s: String) -> [String] {
        s.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    /// Modules a target's sources import (any access level, conditional imports included).
    static func imported(_ target: String) throws -> Set<String> {
        let dir = root.appendingPathComponent("Sources/\(target)")
        var result = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count,
                    words[..<i].allSatisfy({ ["public", "package", "internal", "@testable"].contains($0) })
                else { continue }
                result.insert(String(words[i + 1]))
            }
        }
        return result
    }

    @Test func packageDependenciesAreTheImports() throws {
        let declared = try Self.declared()
        let system: Set<String> = ["Foundation", "Dispatch", "Synchronization", "Glibc", "Musl", "Darwin", "Testing"]
        #expect(declared.count >= 11)
        for (target, deps) in declared {
            let imports = try Self.imported(target).subtracting(system)
            #expect(
                imports == deps,
                "\(target): imports but does not declare \(imports.subtracting(deps).sorted()); declares but does not import \(deps.subtracting(imports).sorted())"
            )
        }
    }
}
