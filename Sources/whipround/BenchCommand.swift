import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure ingest, latency, size and memory (see docs/BENCHMARKS.md).")
    func run() throws { print("not yet") }
}
